/* exporter_main.c - gpufrac-exporter: parses options, starts the collector
 * and the HTTP server (or prints one scrape), and waits for a signal. */
#include "exporter/collect.h"
#include "exporter/httpd.h"
#include "exporter/metrics.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LISTEN ":9402"
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static void help(FILE *f)
{
    fprintf(f,
            "usage: gpufrac-exporter [OPTIONS]\n\n"
            "Sharing-aware GPU exporter for Kubernetes nodes: per GPU and per pod container,\n"
            "GPU memory and SM use from NVML, joined with the pod's KAI Scheduler allocation\n"
            "(gpu-fraction / gpu-memory), as Prometheus metrics. Runs as a DaemonSet with\n"
            "hostPID (NVML reports host PIDs); see docs/exporter.md.\n\n"
            "options:\n"
            "  --listen ADDR:PORT     serve /metrics and /healthz here (default " DEFAULT_LISTEN
            ";\n"
            "                         \":PORT\" = every address, port 0 = any free port)\n"
            "  --once                 print one scrape to standard output and exit\n"
            "  --node-name NAME       this node (default: $NODE_NAME); needed by --apiserver-url\n"
            "  --proc-root DIR        the host's /proc (default /proc; /host/proc in the "
            "DaemonSet)\n"
            "  --nvml-lib PATH        NVML library (default: $GPUFRAC_NVML_LIB, else "
            "libnvidia-ml.so.1)\n"
            "  --nvml-disable SYMS    NVML functions to treat as absent, comma-separated\n"
            "                         (default: $GPUFRAC_NVML_DISABLE), e.g.\n"
            "                         nvmlDeviceGetProcessUtilization\n"
            "pod list (one of; without one every pod process is reported unattributed):\n"
            "  --pods-file FILE       a PodList JSON file (kubectl get pods -o json)\n"
            "  --kubelet-url URL      the kubelet, e.g. https://$(HOST_IP):10250 (GET /pods;\n"
            "                         RBAC nodes/pods, nodes/proxy before Kubernetes 1.33)\n"
            "  --apiserver-url URL    the API server, e.g. https://kubernetes.default.svc\n"
            "                         (GET /api/v1/pods?fieldSelector=spec.nodeName=NODE; RBAC\n"
            "                         pods list)\n"
            "  --token-file FILE      bearer token (default: the service account's, if present)\n"
            "  --ca-file FILE         CA bundle for TLS (default: the service account's, if "
            "present)\n"
            "  --kubelet-insecure     do not verify the server's TLS certificate (kubelet\n"
            "                         serving certificates are often self-signed)\n"
            "  --pods-refresh SECS    re-fetch the pod list this often (default 30); an "
            "unknown\n"
            "                         pod triggers a fetch at once, at most every 5 s\n"
            "  --min-interval SECS    serve the previous scrape to requests within SECS of it\n"
            "                         (default 1)\n"
            "  --scheduler-name NAME  KAI's schedulerName (default kai-scheduler): only its\n"
            "                         pods' gpu-fraction / gpu-memory are KAI shares\n"
            "  --reservation-namespace NS, --reservation-app-label V\n"
            "                         KAI's reservation pods: label app=V in NS (both\n"
            "                         default kai-resource-reservation)\n"
            "  -v, --verbose          log NVML symbols and every pod-list refresh\n"
            "  -h, --help             this text\n"
            "      --version          the version\n\n"
            "exit codes: 0 success; 1 runtime failure (cannot listen, cannot read --pods-file;\n"
            "with --once: NVML down or the pod list failed, the metrics are printed all the\n"
            "same); 2 usage or input error (bad option, a --pods-file that is no pod list)\n");
}

static void log_line(void *ctx, const char *msg)
{
    (void)ctx;
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s gpufrac-exporter: %s\n", ts, msg);
}

static bool parse_seconds(const char *opt, const char *s, double lo, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > 86400) {
        fprintf(stderr, "gpufrac-exporter: %s: \"%s\" is not a number of seconds in %g..86400\n",
                opt, s, lo);
        return false;
    }
    *out = v;
    return true;
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static const char *if_exists(const char *path)
{
    return access(path, R_OK) == 0 ? path : NULL;
}

int main(int argc, char **argv)
{
    enum {
        O_LISTEN = 256,
        O_ONCE,
        O_NODE,
        O_PROC,
        O_NVML_LIB,
        O_NVML_DISABLE,
        O_PODS_FILE,
        O_KUBELET,
        O_APISERVER,
        O_TOKEN,
        O_CA,
        O_INSECURE,
        O_REFRESH,
        O_MIN_INTERVAL,
        O_VERSION,
        O_SCHEDULER,
        O_RSV_NS,
        O_RSV_APP
    };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"once", no_argument, NULL, O_ONCE},
        {"node-name", required_argument, NULL, O_NODE},
        {"proc-root", required_argument, NULL, O_PROC},
        {"nvml-lib", required_argument, NULL, O_NVML_LIB},
        {"nvml-disable", required_argument, NULL, O_NVML_DISABLE},
        {"pods-file", required_argument, NULL, O_PODS_FILE},
        {"kubelet-url", required_argument, NULL, O_KUBELET},
        {"apiserver-url", required_argument, NULL, O_APISERVER},
        {"token-file", required_argument, NULL, O_TOKEN},
        {"ca-file", required_argument, NULL, O_CA},
        {"kubelet-insecure", no_argument, NULL, O_INSECURE},
        {"pods-refresh", required_argument, NULL, O_REFRESH},
        {"min-interval", required_argument, NULL, O_MIN_INTERVAL},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {"scheduler-name", required_argument, NULL, O_SCHEDULER},
        {"reservation-namespace", required_argument, NULL, O_RSV_NS},
        {"reservation-app-label", required_argument, NULL, O_RSV_APP},
        {NULL, 0, NULL, 0},
    };
    const char *listen = DEFAULT_LISTEN;
    bool once = false, verbose = false;
    double min_interval = 1.0;
    gf_collect_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.node_name = env_or("NODE_NAME", NULL);
    cfg.nvml_lib = env_or("GPUFRAC_NVML_LIB", NULL);
    cfg.nvml_disable = env_or("GPUFRAC_NVML_DISABLE", NULL);
    cfg.pods.refresh_s = 30;
    cfg.pods.retry_s = 5;
    const char *token = NULL, *ca = NULL;
    int sources = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            listen = optarg;
            break;
        case O_ONCE:
            once = true;
            break;
        case O_NODE:
            cfg.node_name = optarg;
            break;
        case O_PROC:
            cfg.proc_root = optarg;
            break;
        case O_NVML_LIB:
            cfg.nvml_lib = optarg;
            break;
        case O_NVML_DISABLE:
            cfg.nvml_disable = optarg;
            break;
        case O_PODS_FILE:
        case O_KUBELET:
        case O_APISERVER:
            sources++;
            cfg.pods.kind = c == O_PODS_FILE ? GF_PODSRC_FILE
                            : c == O_KUBELET ? GF_PODSRC_KUBELET
                                             : GF_PODSRC_APISERVER;
            cfg.pods.location = optarg;
            break;
        case O_TOKEN:
            token = optarg;
            break;
        case O_SCHEDULER: /* KAI's configurable names (core/kai.h) */
            cfg.pods.kai.scheduler_name = optarg;
            break;
        case O_RSV_NS:
            cfg.pods.kai.reservation_ns = optarg;
            break;
        case O_RSV_APP:
            cfg.pods.kai.reservation_app = optarg;
            break;
        case O_CA:
            ca = optarg;
            break;
        case O_INSECURE:
            cfg.pods.insecure = true;
            break;
        case O_REFRESH:
            if (!parse_seconds("--pods-refresh", optarg, 1, &cfg.pods.refresh_s)) return 2;
            break;
        case O_MIN_INTERVAL:
            if (!parse_seconds("--min-interval", optarg, 0, &min_interval)) return 2;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            help(stdout);
            return 0;
        case O_VERSION:
            printf("gpufrac-exporter %s\n", GF_EXPORTER_VERSION);
            return 0;
        case ':':
            fprintf(stderr, "gpufrac-exporter: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "gpufrac-exporter: unknown option '%s' (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gpufrac-exporter: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (sources > 1) {
        fprintf(stderr, "gpufrac-exporter: give one of --pods-file, --kubelet-url and "
                        "--apiserver-url\n");
        return 2;
    }
    if (cfg.pods.kind == GF_PODSRC_KUBELET || cfg.pods.kind == GF_PODSRC_APISERVER) {
        cfg.pods.token_file = token ? token : if_exists(SA_DIR "/token");
        cfg.pods.ca_file = ca ? ca : if_exists(SA_DIR "/ca.crt");
    } else if (token || ca || cfg.pods.insecure) {
        fprintf(stderr, "gpufrac-exporter: --token-file, --ca-file and --kubelet-insecure go "
                        "with --kubelet-url or --apiserver-url\n");
        return 2;
    }
    char host[256];
    unsigned port;
    gf_error err = {0};
    char msg[1200];
    if (!once && gf_httpd_parse_listen(listen, host, sizeof host, &port, &err)) {
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "gpufrac-exporter: %s\n", msg);
        return 2;
    }
    cfg.log = log_line;
    cfg.verbose = verbose;
    cfg.async_pods = !once; /* a server never lets a slow API hold up a scrape */

    /* libcurl (and its TLS library) only for HTTP sources: it costs ~1 MB */
    bool http = cfg.pods.kind == GF_PODSRC_KUBELET || cfg.pods.kind == GF_PODSRC_APISERVER;
    if (http) curl_global_init(CURL_GLOBAL_DEFAULT);
    /* signals are taken by sigwait below; block them before any thread starts */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (!once) pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    gf_collector *col = NULL;
    gf_err rc = gf_collector_new(&cfg, &col, &err);
    if (rc) {
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "gpufrac-exporter: %s\n", msg);
        if (http) curl_global_cleanup();
        return gf_err_exit_code(rc);
    }
    int status = 0;
    if (once) {
        gf_scrape s;
        gf_scrape_init(&s);
        gf_collect(col, &s);
        gf_sbuf out = GF_SBUF_INIT;
        gf_metrics_render(&s, &out);
        fwrite(gf_sbuf_str(&out), 1, out.len, stdout);
        if (fflush(stdout) || ferror(stdout)) {
            fprintf(stderr, "gpufrac-exporter: cannot write the metrics: %s\n", strerror(errno));
            status = 1;
        }
        if (!s.nvml_up || s.pod_errors) status = 1;
        gf_sbuf_free(&out);
        gf_scrape_free(&s);
    } else {
        gf_httpd *h = NULL;
        char bound[300];
        rc = gf_httpd_start(listen, col, min_interval, &h, bound, sizeof bound, &err);
        if (rc) {
            gf_error_format(&err, msg, sizeof msg);
            fprintf(stderr, "gpufrac-exporter: %s\n", msg);
            status = 1;
        } else {
            snprintf(msg, sizeof msg, "listening on http://%s/metrics", bound);
            log_line(NULL, msg);
            int sig = 0;
            sigwait(&stop, &sig);
            snprintf(msg, sizeof msg, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            log_line(NULL, msg);
            gf_httpd_stop(h);
        }
    }
    gf_collector_free(col);
    if (http) curl_global_cleanup();
    return status;
}
