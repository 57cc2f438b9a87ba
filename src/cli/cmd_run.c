/* cmd_run.c - `gpufrac run`: the controller. Parses options, wires the
 * Kubernetes backend (io/kube/controller_kube.h), the usage history file, leader
 * election (io/kube/elector.h) and the /metrics endpoint (io/http_server.h) to
 * the controller (decide/controller.h), then steps it every interval until a
 * signal (or once). Logs go to stderr, one line each, with a UTC time. */
#include "cli/commands.h"
#include "decide/controller.h"
#include "io/kube/controller_kube.h"
#include "io/kube/controller_metrics.h"
#include "io/kube/elector.h"
#include "cli/cli_common.h"
#include "io/history_sqlite.h"
#include "io/http_server.h"
#include "io/policy_yaml.h"
#include "io/promtext.h"
#include "util/sbuf.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LISTEN ":9403"
#define DEFAULT_HISTORY_DIR "/var/lib/gpufrac"
#define FALLBACK_HISTORY "./gpufrac-history.db"
#define DEFAULT_LEASE "gpufrac-controller"
#define SYNC_TIMEOUT_MS 30000
#define PUMP_MS 500

#define USAGE "gpufrac run [options] (--prometheus URL | --scrape)"

static void help(FILE *f)
{
    fprintf(
        f,
        "usage: gpufrac run [options] (--prometheus URL | --scrape)\n\n"
        "The controller: every interval it reads the cluster (a watch cache of the API server),\n"
        "adds the exporters' GPU usage to its history, and applies the rightsizing policy:\n"
        "mode recommend publishes recommendations (Events, the gpufrac.io/recommendation\n"
        "annotation, metrics), mode auto patches the owner's pod template (gpu-fraction or\n"
        "gpu-memory) with a gpufrac.io/last-change record in the same patch. Fair use (the\n"
        "policy's fairUse section) reports or acts on noisy neighbours; consolidation drains\n"
        "nodes whose pods fit elsewhere. Usage older than two intervals stops every action.\n"
        "See docs/controller.md.\n\n"
        "cluster:\n"
        "      --kubeconfig FILE   kubeconfig (default: in-cluster when KUBERNETES_SERVICE_HOST\n"
        "                          is set, else $KUBECONFIG's first file, else ~/.kube/config)\n"
        "      --context NAME      kubeconfig context (default: current-context)\n"
        "usage (one of):\n"
        "      --prometheus URL    query this Prometheus server for the exporter's metrics\n"
        "      --scrape            scrape the exporter pods (label\n"
        "                          " GF_EXPORTER_LABEL_KEY "=" GF_EXPORTER_LABEL_VALUE
        ") directly\n"
        "      --scrape-port PORT  their metrics port (default 9402)\n"
        "      --exporter-namespace NS  only pods in NS are scraped (default: the client's\n"
        "                          namespace)\n"
        "      --exporter-daemonset NAME  only pods this DaemonSet controls are scraped, and of\n"
        "                          each only samples of pods on its node "
        "(default " GF_EXPORTER_DAEMONSET ")\n"
        "policy and pacing:\n"
        "  -p, --policy FILE       rightsizing policy YAML (default: built-in, mode recommend)\n"
        "      --interval DURATION one iteration every DURATION (default 60s)\n"
        "      --max-actions-per-interval N\n"
        "                          disruptive actions (resizes, evictions) per iteration\n"
        "                          (default 3)\n"
        "      --consolidate-every DURATION\n"
        "                          plan a node drain this often (default: off)\n"
        "      --dry-run           decide and log, never write\n"
        "state:\n"
        "      --history FILE      SQLite usage history, saved every interval (default\n"
        "                          " DEFAULT_HISTORY_DIR "/history.db, or " FALLBACK_HISTORY
        " when that\n"
        "                          folder is not writable)\n"
        "      --backfill DURATION usage asked for when the history is empty or behind\n"
        "                          (default 8d: the longest window the history answers)\n"
        "leader election (coordination.k8s.io Lease; only the leader writes):\n"
        "      --leader-elect      on (default when running in a cluster)\n"
        "      --no-leader-elect   off (default outside a cluster)\n"
        "      --lease-name NAME   default " DEFAULT_LEASE "\n"
        "      --lease-namespace NS  default: the client's namespace\n"
        "      --lease-duration DURATION  default 15s\n"
        "endpoint:\n"
        "      --listen ADDR:PORT  serve /metrics, /healthz and /readyz (default " DEFAULT_LISTEN
        ";\n"
        "                          port 0: a free one; \"off\": none)\n"
        "  -1, --once              one iteration, then exit (with its exit code)\n"
        "  -h, --help              this text\n\n" GF_CLI_KAI_HELP "\n"
        "exit codes: 0 success (stopped by SIGTERM/SIGINT, or --once without failed writes);\n"
        "1 runtime failure (cluster unreachable; with --once: a failed write, or usage that\n"
        "could not be read, e.g. Prometheus down); 2 usage or input\n"
        "error (bad option, policy or kubeconfig)\n");
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
    char ts[32] = "";
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_list ap;
    va_start(ap, fmt);
    char line[2048], safe[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    gf_escape_controls(safe, sizeof safe, line); /* one log line, whatever the inputs held */
    fprintf(stderr, "%s gpufrac run: %s\n", ts, safe);
}

static void log_error(const char *what, const gf_error *e)
{
    char msg[1100];
    gf_error_format(e, msg, sizeof msg);
    logf_("%s: %s", what, msg);
}

/* The snapshot's warnings about one object (a pod skipped, a node without
 * the memory label) come every iteration: each is logged once, keyed by its
 * text without the list position, which moves as the cluster changes. At
 * most SEEN_MAX are remembered; then the memory starts over. */
#define SEEN_MAX 4096
static gf_strmap seen_warnings;
static gf_arena seen_arena;
static bool seen_ready;

static bool object_warning(const char *msg)
{
    return strstr(msg, "; pod skipped") || strstr(msg, "KAI counts 100 MiB per GPU there");
}

static bool seen_before(const char *msg)
{
    if (!seen_ready || seen_warnings.len >= SEEN_MAX) {
        if (seen_ready) {
            gf_strmap_free(&seen_warnings);
            gf_arena_free(&seen_arena);
        }
        gf_strmap_init(&seen_warnings);
        gf_arena_init(&seen_arena);
        seen_ready = true;
    }
    gf_sbuf key = GF_SBUF_INIT;
    for (const char *p = msg; *p;) {
        if (!strncmp(p, "items[", 6)) { /* items[123] -> items[] */
            gf_sbuf_append(&key, "items[", 6);
            for (p += 6; *p >= '0' && *p <= '9'; p++) {
            }
            continue;
        }
        gf_sbuf_append(&key, p++, 1);
    }
    bool old = gf_strmap_get(&seen_warnings, gf_sbuf_str(&key), NULL);
    if (!old) gf_strmap_put(&seen_warnings, gf_arena_strdup(&seen_arena, gf_sbuf_str(&key)), 1);
    gf_sbuf_free(&key);
    return old;
}

static void log_diags(gf_diags *d)
{
    for (size_t i = 0; i < d->msgs.n; i++)
        if (!object_warning(d->msgs.v[i]) || !seen_before(d->msgs.v[i])) logf_("%s", d->msgs.v[i]);
    gf_diags_free(d);
    gf_diags_init(d);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool parse_dur(const char *opt, const char *s, bool zero_ok, double *out)
{
    int64_t v = 0;
    const char *why = "must be positive";
    if (!gf_parse_duration(s, &v, &why) || (v <= 0 && !zero_ok)) {
        fprintf(stderr, "gpufrac run: %s '%s': %s\n", opt, s, why);
        return false;
    }
    *out = (double)v;
    return true;
}

static bool parse_uint(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "gpufrac run: %s '%s': expected a whole number in %ld..%ld\n", opt, s, lo,
                hi);
        return false;
    }
    *out = v;
    return true;
}

/* The history file: loaded when present; one that cannot be read is moved
 * aside (never lost, never trusted) and a new one started. */
static void load_history(gf_history *h, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        logf_("history %s: not there yet; starting empty", path);
        return;
    }
    gf_error err = {0};
    if (gf_history_load(h, path, &err) == GF_OK) {
        logf_("history %s: %zu workloads loaded", path, gf_history_count(h));
        return;
    }
    log_error("history", &err);
    char aside[4200];
    snprintf(aside, sizeof aside, "%s.unreadable-%lld", path, (long long)time(NULL));
    if (rename(path, aside) == 0)
        logf_("history %s moved aside to %s; starting empty", path, aside);
    else
        logf_("history %s: cannot move it aside (%s); starting empty, it will be replaced", path,
              strerror(errno));
}

typedef struct runner {
    gf_ctl ctl;
    gf_ctl_kube *kb;
    gf_elector *elector;
    gf_http_server *http;
    gf_ctl_process proc;
    const char *history_path;
} runner;

static void publish(runner *r)
{
    if (!r->http) return;
    if (r->elector) {
        gf_elector_status es;
        gf_elector_get_status(r->elector, &es);
        r->proc.leading = es.leading;
        r->proc.lease_errors = es.errors;
    }
    if (r->kb) {
        r->proc.have_cache = true;
        gf_ctl_kube_cache_stats(r->kb, &r->proc.cache);
        r->proc.cache_age_s = gf_ctl_kube_cache_age(r->kb);
        gf_ctl_kube_scrape_stats ss;
        gf_ctl_kube_scrape_stats_get(r->kb, &ss);
        r->proc.scrape_untrusted_pods = ss.untrusted_pods;
        r->proc.scrape_foreign_samples = ss.foreign_samples;
    }
    gf_sbuf b = GF_SBUF_INIT;
    gf_ctl_metrics_render(&r->ctl, &r->proc, &b);
    gf_http_publish(r->http, "/metrics", 200, GF_PROMTEXT_CONTENT_TYPE, gf_sbuf_str(&b), b.len);
    gf_sbuf_free(&b);
    static const char ok[] = "ok\n", wait[] = "not ready: the first iteration has not succeeded\n";
    if (r->proc.ready)
        gf_http_publish(r->http, "/readyz", 200, "text/plain; charset=utf-8", ok, sizeof ok - 1);
    else
        gf_http_publish(r->http, "/readyz", 503, "text/plain; charset=utf-8", wait,
                        sizeof wait - 1);
}

/* One iteration: returns 0, or 1 when it failed or a write failed. */
static int iterate(runner *r, const gf_ctl_backend *b)
{
    gf_diags log;
    gf_diags_init(&log);
    gf_error err = {0};
    uint32_t failed = 0;
    double t0 = mono();
    uint64_t usage_errors = r->ctl.stats.api_errors[GF_CTL_OP_USAGE];
    gf_err rc = gf_ctl_step(&r->ctl, b, wall(), &log, &failed, &err);
    r->ctl.stats.last_step_s = mono() - t0;
    log_diags(&log);
    int code = 0;
    if (rc) {
        log_error("iteration failed", &err);
        code = 1;
    } else {
        const gf_ctl_plan *p = &r->ctl.plan;
        size_t go = 0;
        for (size_t i = 0; i < p->actions.n; i++)
            go += p->actions.v[i].hold == GF_CTL_GO;
        char age[64] = "none";
        if (isfinite(p->staleness_s)) snprintf(age, sizeof age, "%.0f s old", p->staleness_s);
        logf_("iteration: %zu workloads, %zu actions (%zu allowed), %u failed, usage %s%s, "
              "%.2f s",
              p->recs.n, p->actions.n, go, failed, p->stale ? "stale: " : "", age,
              r->ctl.stats.last_step_s);
        r->proc.ready = true;
        /* usage that could not be read (Prometheus down) is a failed iteration
         * for --once's exit code, though the loop goes on holding */
        code = failed || r->ctl.stats.api_errors[GF_CTL_OP_USAGE] != usage_errors ? 1 : 0;
    }
    gf_error herr = {0};
    if (gf_history_save(r->ctl.h, r->history_path, &herr)) {
        gf_ctl_count_api_error(&r->ctl, GF_CTL_OP_HISTORY);
        log_error("history not saved", &herr);
        code = 1;
    }
    publish(r);
    return code;
}

int gf_cmd_run(int argc, char **argv)
{
    enum {
        OPT_KUBECONFIG = 256,
        OPT_CONTEXT,
        OPT_PROMETHEUS,
        OPT_SCRAPE,
        OPT_SCRAPE_PORT,
        OPT_INTERVAL,
        OPT_MAX_ACTIONS,
        OPT_CONSOLIDATE,
        OPT_DRY_RUN,
        OPT_HISTORY,
        OPT_BACKFILL,
        OPT_LEADER,
        OPT_NO_LEADER,
        OPT_LEASE_NAME,
        OPT_LEASE_NS,
        OPT_LEASE_DURATION,
        OPT_LISTEN,
        OPT_EXPORTER_NS,
        OPT_EXPORTER_DS
    };
    static const struct option opts[] = {
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"context", required_argument, NULL, OPT_CONTEXT},
        {"prometheus", required_argument, NULL, OPT_PROMETHEUS},
        {"scrape", no_argument, NULL, OPT_SCRAPE},
        {"scrape-port", required_argument, NULL, OPT_SCRAPE_PORT},
        {"exporter-namespace", required_argument, NULL, OPT_EXPORTER_NS},
        {"exporter-daemonset", required_argument, NULL, OPT_EXPORTER_DS},
        {"policy", required_argument, NULL, 'p'},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"max-actions-per-interval", required_argument, NULL, OPT_MAX_ACTIONS},
        {"consolidate-every", required_argument, NULL, OPT_CONSOLIDATE},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"backfill", required_argument, NULL, OPT_BACKFILL},
        {"leader-elect", no_argument, NULL, OPT_LEADER},
        {"no-leader-elect", no_argument, NULL, OPT_NO_LEADER},
        {"lease-name", required_argument, NULL, OPT_LEASE_NAME},
        {"lease-namespace", required_argument, NULL, OPT_LEASE_NS},
        {"lease-duration", required_argument, NULL, OPT_LEASE_DURATION},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"once", no_argument, NULL, '1'},
        {"help", no_argument, NULL, 'h'},
        GF_CLI_KAI_OPTIONS,
        {NULL, 0, NULL, 0}};
    const char *kubeconfig = NULL, *context = NULL, *prom = NULL, *policy_path = NULL;
    const char *history_path = NULL, *lease_name = DEFAULT_LEASE, *lease_ns = NULL;
    const char *listen = DEFAULT_LISTEN, *exporter_ns = NULL, *exporter_ds = NULL;
    bool scrape = false, once = false;
    int leader = -1; /* -1: by environment */
    long scrape_port = 9402, max_actions = 3;
    double lease_duration = 15;
    gf_ctl_config cfg;
    gf_ctl_config_default(&cfg);
    int c, usage_rc = -1;
    optind = 1;
    gf_cli_kai kai = {0};
    opterr = 0;
    while (usage_rc < 0 && (c = getopt_long(argc, argv, "p:1h", opts, NULL)) != -1) {
        if (gf_cli_kai_option(&kai, c, optarg)) continue;
        bool ok = true;
        switch (c) {
        case OPT_KUBECONFIG:
            kubeconfig = optarg;
            break;
        case OPT_CONTEXT:
            context = optarg;
            break;
        case OPT_PROMETHEUS:
            prom = optarg;
            break;
        case OPT_SCRAPE:
            scrape = true;
            break;
        case OPT_SCRAPE_PORT:
            ok = parse_uint("--scrape-port", optarg, 1, 65535, &scrape_port);
            break;
        case OPT_EXPORTER_NS:
            exporter_ns = optarg;
            break;
        case OPT_EXPORTER_DS:
            exporter_ds = optarg;
            break;
        case 'p':
            policy_path = optarg;
            break;
        case OPT_INTERVAL:
            ok = parse_dur("--interval", optarg, false, &cfg.interval_s);
            break;
        case OPT_MAX_ACTIONS:
            ok = parse_uint("--max-actions-per-interval", optarg, 0, 10000, &max_actions);
            break;
        case OPT_CONSOLIDATE:
            ok = parse_dur("--consolidate-every", optarg, false, &cfg.consolidate_every_s);
            break;
        case OPT_DRY_RUN:
            cfg.dry_run = true;
            break;
        case OPT_HISTORY:
            history_path = optarg;
            break;
        case OPT_BACKFILL:
            ok = parse_dur("--backfill", optarg, false, &cfg.backfill_s);
            break;
        case OPT_LEADER:
            leader = 1;
            break;
        case OPT_NO_LEADER:
            leader = 0;
            break;
        case OPT_LEASE_NAME:
            lease_name = optarg;
            break;
        case OPT_LEASE_NS:
            lease_ns = optarg;
            break;
        case OPT_LEASE_DURATION:
            ok = parse_dur("--lease-duration", optarg, false, &lease_duration);
            if (ok && (lease_duration < 2 || lease_duration > 3600)) {
                fprintf(stderr, "gpufrac run: --lease-duration '%s': expected 2s..1h\n", optarg);
                ok = false;
            }
            break;
        case OPT_LISTEN:
            listen = optarg;
            break;
        case '1':
            once = true;
            break;
        case 'h':
            help(stdout);
            usage_rc = 0;
            break;
        default:
            usage_rc = gf_cli_bad_option("run", USAGE, "p:1h", argc, argv);
            break;
        }
        if (!ok) usage_rc = 2;
    }
    if (usage_rc < 0 && optind < argc) {
        fprintf(stderr, "gpufrac run: unexpected argument '%s'\n", argv[optind]);
        usage_rc = 2;
    }
    if (usage_rc < 0 && !!prom == scrape) {
        fprintf(stderr, "gpufrac run: give one usage source: --prometheus URL or --scrape\n");
        usage_rc = 2;
    }
    if (usage_rc >= 0) return usage_rc;
    cfg.max_actions = (uint32_t)max_actions;
    bool in_cluster = getenv("KUBERNETES_SERVICE_HOST") && !kubeconfig;
    bool elect = leader < 0 ? in_cluster : leader == 1;
    if (!history_path)
        history_path = access(DEFAULT_HISTORY_DIR, W_OK) == 0 ? DEFAULT_HISTORY_DIR "/history.db"
                                                              : FALLBACK_HISTORY;

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int exit_code = 0;
    gf_error err = {0};
    gf_policy pol;
    gf_policy_init(&pol);
    gf_history h;
    gf_history_init(&h, NULL, &err);
    gf_kube_config kc;
    gf_kube_config_init(&kc);
    gf_kube *k = NULL;
    runner r;
    memset(&r, 0, sizeof r);
    r.history_path = history_path;
    r.proc.start_time = wall();
    r.proc.dry_run = cfg.dry_run;
    r.proc.leader_election = elect;
    r.proc.leading = !elect;
    gf_ctl_init(&r.ctl, &cfg, &pol, &h);
    gf_err rc = GF_OK;
    if (policy_path && (rc = gf_policy_load_file(&pol, policy_path, &err))) goto out;
    /* flags over the policy's kai: section; the loop reads them from the policy */
    gf_cli_kai_names(&kai, &pol.kai, &pol.kai);
    if ((rc = gf_kube_config_auto(&kc, kubeconfig, context, &err))) goto out;
    if ((rc = gf_kube_new(&k, &kc, NULL, &err))) goto out;
    if (kc.insecure) {
        /* honoured, as kubectl does, but never silently */
        logf_("warning: %s: insecure-skip-tls-verify is set: the API server's certificate is not "
              "checked, so anyone on the path can read the token and forge the cluster's state "
              "(set certificate-authority instead)",
              kc.origin);
        r.proc.insecure_tls = true;
    }
    load_history(&h, history_path);
    if (elect) {
        char identity[300];
        const char *pod = getenv("POD_NAME");
        if (pod && *pod) {
            snprintf(identity, sizeof identity, "%s", pod);
        } else {
            char host[256] = "gpufrac";
            gethostname(host, sizeof host - 1);
            snprintf(identity, sizeof identity, "%s_%ld", host, (long)getpid());
        }
        gf_kube_options eo;
        gf_kube_options_default(&eo);
        eo.request_timeout_ms = (long)(lease_duration * 1000 / 3);
        eo.connect_timeout_ms = eo.request_timeout_ms < 5000 ? eo.request_timeout_ms : 5000;
        eo.max_attempts = 1;
        gf_kube *ek = NULL;
        if ((rc = gf_kube_new(&ek, &kc, &eo, &err))) goto out;
        gf_elector_opts o = {lease_ns ? lease_ns : gf_kube_namespace(k), lease_name, identity,
                             (int)lease_duration};
        if ((rc = gf_elector_start(ek, &o, &r.elector, &err))) goto out;
        logf_("leader election: Lease %s/%s as %s (%.0f s)", o.ns, o.name, identity,
              lease_duration);
    }
    gf_ctl_kube_opts ko = {0};
    ko.prometheus_url = prom;
    ko.scrape = scrape;
    ko.scrape_port = (int)scrape_port;
    ko.step_s = cfg.interval_s;
    ko.elector = r.elector;
    ko.exporter_ns = exporter_ns;
    ko.exporter_ds = exporter_ds;
    r.proc.scrape = scrape;
    if ((rc = gf_ctl_kube_new(k, &ko, &r.kb, &err))) goto out;
    if (listen && *listen && strcmp(listen, "off")) {
        char bound[300];
        if ((rc = gf_http_start(listen, &r.http, bound, sizeof bound, &err))) goto out;
        static const char ok[] = "ok\n";
        gf_http_publish(r.http, "/healthz", 200, "text/plain; charset=utf-8", ok, sizeof ok - 1);
        publish(&r);
        logf_("serving http://%s/metrics, /healthz and /readyz", bound);
    }
    logf_("started: API server %s, usage from %s, interval %.0f s, history %s%s%s",
          gf_kube_server(k), scrape ? "the exporters' /metrics" : prom, cfg.interval_s,
          history_path, cfg.dry_run ? ", dry run" : "", once ? ", once" : "");

    gf_ctl_backend backend;
    gf_ctl_kube_backend(r.kb, &backend);
    gf_error serr = {0};
    if (gf_ctl_kube_sync(r.kb, SYNC_TIMEOUT_MS, &serr)) {
        gf_ctl_count_api_error(&r.ctl, GF_CTL_OP_WATCH);
        log_error("watch cache not synced", &serr);
        if (once) {
            err = serr;
            rc = serr.code ? serr.code : GF_EIO;
            goto out;
        }
    }
    if (once && r.elector) gf_elector_wait_first(r.elector, (int)(lease_duration * 1000));
    double next = mono();
    bool was_leading = r.proc.leading;
    char last_pump_error[1100] = "";
    while (!stop_requested) {
        if (mono() >= next) {
            if (gf_ctl_kube_synced(r.kb)) {
                int code = iterate(&r, &backend);
                if (once) {
                    exit_code = code;
                    break;
                }
            } else {
                logf_("waiting for the watch cache to list every kind");
            }
            next += cfg.interval_s;
            if (next < mono()) next = mono() + cfg.interval_s; /* overran: skip, not burst */
        }
        double left_ms = (next - mono()) * 1000;
        int wait_ms = left_ms < PUMP_MS ? (left_ms > 0 ? (int)left_ms : 0) : PUMP_MS;
        gf_error perr = {0};
        if (gf_ctl_kube_pump(r.kb, wait_ms, &perr)) {
            char msg[1100];
            gf_error_format(&perr, msg, sizeof msg);
            if (strcmp(msg, last_pump_error)) logf_("watch: %s (retrying)", msg);
            snprintf(last_pump_error, sizeof last_pump_error, "%s", msg);
        } else {
            last_pump_error[0] = '\0';
        }
        if (r.elector) {
            gf_elector_status es;
            gf_elector_get_status(r.elector, &es);
            if (es.leading != was_leading) {
                if (es.leading)
                    logf_("leading: this replica holds the Lease and writes");
                else
                    logf_("not leading (holder: %s%s%s): writes stop",
                          es.holder[0] ? es.holder : "none", es.last_error[0] ? "; " : "",
                          es.last_error);
                was_leading = es.leading;
                r.proc.leading = es.leading;
                publish(&r);
            }
        }
    }
    if (stop_requested) logf_("stopping on a signal");

out:
    if (rc) {
        char msg[1100];
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "gpufrac run: %s\n", msg);
        exit_code = gf_err_exit_code(rc);
    }
    gf_http_stop(r.http);
    gf_elector_stop(r.elector); /* gives the Lease up */
    if (r.ctl.have_model) {
        gf_error herr = {0};
        if (gf_history_save(&h, history_path, &herr)) log_error("history not saved", &herr);
    }
    gf_ctl_kube_free(r.kb);
    gf_ctl_free(&r.ctl);
    gf_kube_free(k);
    gf_kube_config_free(&kc);
    gf_history_free(&h);
    gf_policy_free(&pol);
    return exit_code;
}
