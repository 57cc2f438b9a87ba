/* cmd_top.c - `gpufrac top`: a live view of the shared GPUs, per node and
 * GPU: the pods sharing it, each pod's allocation against the memory and SM
 * it uses now, and the simple findings a reader acts on (a pod over its
 * memory allocation, a device nearly full). The cluster comes from the
 * cluster or SNAPSHOT files (cli_common.h); usage from the exporters'
 * /metrics (--exporter URL), Prometheus (--prometheus, or the cluster's) or
 * usage CSV files, re-read every --interval. On a terminal: keys s (sort:
 * node, used, allocation), f (only GPUs with findings), q (quit). --once
 * prints one frame and exits. */
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/model.h"
#include "io/promtext.h"
#include "io/usage.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define USAGE "gpufrac top [--once] [--interval SECONDS] [usage source] [SNAPSHOT...]"
#define GIB (1024.0 * 1024.0 * 1024.0)
#define OVERRUN_MARGIN 0.10 /* fairUse.memoryOverrunMargin's default (core/fairuse.h) */
#define DEVICE_FULL 0.95

static void help(FILE *f)
{
    fprintf(f,
            "usage: " USAGE "\n\n"
            "A live view of the shared GPUs: per node and GPU, the pods sharing it, each\n"
            "pod's KAI allocation against the GPU memory and SM it uses now, and findings:\n"
            "OVER (a pod uses more memory than its allocation + 10%%), FULL (the device's\n"
            "memory is 95%% used). Refreshed every --interval; keys: s sort (node, used,\n"
            "allocation), f only GPUs with findings, q quit.\n\n"
            "usage source (one of; default: the cluster's Prometheus when the cluster is read):\n"
            "      --exporter URL     an exporter's /metrics (repeatable), e.g.\n"
            "                         http://10.0.0.7:9402/metrics\n"
            "  -u, --usage FILE       usage CSV (repeatable; the latest sample per pod "
            "counts)\n" GF_CLI_PROM_HELP "options:\n"
            "      --once             print one frame to standard output and exit\n"
            "      --interval SECONDS refresh period (default 5)\n"
            "  -q, --quiet            do not print warnings\n"
            "  -h, --help             this text\n" GF_CLI_CLUSTER_HELP "\n"
            "exit codes: 0 success, 1 runtime failure (cluster or usage unreachable), 2 usage\n"
            "or input error\n");
}

/* What a pod uses now: its latest sample per container, summed. */
typedef struct pod_use {
    double memory_bytes, sm, t;
} pod_use;

typedef struct view {
    gf_model m;
    GF_VEC(pod_use) use; /* per model pod */
    size_t samples;
} view;

typedef enum sort_by { SORT_NODE, SORT_USED, SORT_ALLOC, SORT_COUNT } sort_by;
static const char *const SORT_NAMES[] = {"node", "used", "allocation"};

typedef struct opts {
    gf_cli_cluster *cl;
    gf_cli_prom *pr;
    char **paths;
    int npaths;
    GF_VEC(const char *) exporters, csvs;
    bool quiet;
} opts;

/* The pod index of ns/name, or -1 (linear: a view holds a few thousand pods). */
static long find_pod(const gf_model *m, const char *ns, const char *name)
{
    for (size_t i = 0; i < m->pods.n; i++)
        if (!strcmp(m->pods.v[i].ns, ns) && !strcmp(m->pods.v[i].name, name)) return (long)i;
    return -1;
}

/* Latest sample per pod and container, summed per pod. */
static void attach_usage(view *v, const gf_usage *u)
{
    gf_vec_free(&v->use);
    pod_use none = {NAN, NAN, -INFINITY};
    for (size_t i = 0; i < v->m.pods.n; i++)
        gf_vec_push(&v->use, none);
    /* per (pod, container): the newest sample of each signal */
    typedef struct latest {
        long pod;
        const char *container;
        double mt, m, st, s;
    } latest;
    GF_VEC(latest) l = {0};
    for (size_t k = 0; k < u->samples.n; k++) {
        const gf_usage_sample *s = &u->samples.v[k];
        long p = find_pod(&v->m, s->ns, s->pod);
        if (p < 0) continue;
        size_t j = 0;
        while (j < l.n && !(l.v[j].pod == p && l.v[j].container == s->container))
            j++;
        if (j == l.n) {
            latest z = {p, s->container, -INFINITY, NAN, -INFINITY, NAN};
            gf_vec_push(&l, z);
        }
        if (!isnan(s->memory_bytes) && s->t >= l.v[j].mt) {
            l.v[j].mt = s->t;
            l.v[j].m = s->memory_bytes;
        }
        if (!isnan(s->sm_util) && s->t >= l.v[j].st) {
            l.v[j].st = s->t;
            l.v[j].s = s->sm_util;
        }
    }
    for (size_t j = 0; j < l.n; j++) {
        pod_use *pu = &v->use.v[l.v[j].pod];
        if (!isnan(l.v[j].m))
            pu->memory_bytes = (isnan(pu->memory_bytes) ? 0 : pu->memory_bytes) + l.v[j].m;
        if (!isnan(l.v[j].s)) pu->sm = (isnan(pu->sm) ? 0 : pu->sm) + l.v[j].s;
        pu->t = fmax(pu->t, fmax(l.v[j].mt, l.v[j].st));
    }
    v->samples = u->samples.n;
    gf_vec_free(&l);
}

/* One refresh: the cluster, then usage, into v only when both were read
 * (a failed refresh leaves the last frame's view as it was). */
static gf_err refresh(opts *o, view *v, gf_diags *d, gf_error *err)
{
    view next;
    memset(&next, 0, sizeof next);
    gf_model_init(&next.m);
    gf_err rc = gf_cli_load_model(o->cl, o->paths, o->npaths, &next.m, d, err);
    gf_usage u;
    gf_usage_init(&u);
    double now = (double)time(NULL);
    for (size_t i = 0; !rc && i < o->csvs.n; i++)
        rc = gf_usage_load_csv(&u, o->csvs.v[i], err);
    if (!rc && o->exporters.n &&
        gf_promtext_scrape(o->exporters.v, o->exporters.n, 5000, 64u << 20, now, &u, NULL, d) ==
            o->exporters.n)
        rc = gf_error_set(err, GF_EIO, NULL, "no exporter answered (see the warnings)");
    if (!rc && (o->pr->url || o->pr->use_found))
        rc = gf_cli_prom_fetch(o->pr, o->cl, now - 120, now, 15, &u, d, err);
    if (!rc) attach_usage(&next, &u);
    gf_usage_free(&u);
    if (rc) {
        gf_vec_free(&next.use);
        gf_model_free(&next.m);
        return rc;
    }
    gf_vec_free(&v->use);
    gf_model_free(&v->m);
    *v = next;
    return GF_OK;
}

typedef struct gpu_row {
    uint32_t gpu;
    double used_bytes, alloc;
    bool finding;
} gpu_row;

static double gpu_used(const view *v, const gf_gpu *g, bool *any)
{
    double used = 0;
    *any = false;
    for (uint32_t j = 0; j < g->n_pods; j++) {
        uint32_t p = v->m.gpu_pods.v[g->first_pod + j];
        const gf_pod *pod = &v->m.pods.v[p];
        double mem = v->use.v[p].memory_bytes;
        if (isnan(mem)) continue;
        used += mem / (pod->n_gpus ? pod->n_gpus : 1); /* evenly across its GPUs */
        *any = true;
    }
    return used;
}

static sort_by g_sort;
static const view *g_view;

static int cmp_rows(const void *a, const void *b)
{
    const gpu_row *x = a, *y = b;
    double kx = 0, ky = 0;
    if (g_sort == SORT_USED) kx = x->used_bytes, ky = y->used_bytes;
    if (g_sort == SORT_ALLOC) kx = x->alloc, ky = y->alloc;
    if (kx != ky) return kx < ky ? 1 : -1; /* largest first */
    const gf_gpu *gx = &g_view->m.gpus.v[x->gpu], *gy = &g_view->m.gpus.v[y->gpu];
    int c = strcmp(g_view->m.nodes.v[gx->node].name, g_view->m.nodes.v[gy->node].name);
    return c ? c : gx->index - gy->index;
}

static void frame(const view *v, sort_by sort, bool only_findings, bool tty, FILE *out)
{
    GF_VEC(gpu_row) rows = {0};
    size_t overs = 0, fulls = 0, shared = 0;
    for (uint32_t i = 0; i < v->m.gpus.n; i++) {
        const gf_gpu *g = &v->m.gpus.v[i];
        if (g->state != GF_GPU_SHARED) continue;
        shared++;
        const gf_node *n = &v->m.nodes.v[g->node];
        bool any;
        gpu_row r = {i, gpu_used(v, g, &any), g->allocated_fraction, false};
        double cap = (double)n->gpu_memory_mib * 1024 * 1024;
        if (any && cap > 0 && r.used_bytes >= DEVICE_FULL * cap) r.finding = true, fulls++;
        for (uint32_t j = 0; j < g->n_pods; j++) {
            uint32_t p = v->m.gpu_pods.v[g->first_pod + j];
            double share = gf_pod_share_on(&v->m.pods.v[p], n->gpu_memory_mib);
            double mem = v->use.v[p].memory_bytes;
            if (!isnan(mem) && cap > 0 && mem > share * cap * (1 + OVERRUN_MARGIN))
                r.finding = true, overs++;
        }
        if (!only_findings || r.finding) gf_vec_push(&rows, r);
    }
    g_sort = sort;
    g_view = v;
    if (rows.n) qsort(rows.v, rows.n, sizeof rows.v[0], cmp_rows);
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%H:%M:%SZ", &tm);
    fprintf(out,
            "gpufrac top  %s  %zu shared GPUs, %zu pods over their memory, %zu GPUs full  "
            "sort: %s%s\n",
            ts, shared, overs, fulls, SORT_NAMES[sort], only_findings ? "  [findings only]" : "");
    fprintf(out, "%-20s %3s %6s %17s %5s  %-40s %7s %15s %5s\n", "NODE", "GPU", "ALLOC",
            "MEMORY USED", "SM", "POD", "ALLOC", "USED", "SM");
    for (size_t k = 0; k < rows.n; k++) {
        const gf_gpu *g = &v->m.gpus.v[rows.v[k].gpu];
        const gf_node *n = &v->m.nodes.v[g->node];
        double cap_gib = (double)n->gpu_memory_mib / 1024.0;
        double sm_sum = 0;
        bool any_sm = false;
        for (uint32_t j = 0; j < g->n_pods; j++) {
            uint32_t p = v->m.gpu_pods.v[g->first_pod + j];
            if (!isnan(v->use.v[p].sm)) sm_sum += v->use.v[p].sm, any_sm = true;
        }
        char used[32], sm[16];
        bool any;
        gpu_used(v, g, &any);
        if (any)
            snprintf(used, sizeof used, "%.1f/%.1f GiB", rows.v[k].used_bytes / GIB, cap_gib);
        else
            snprintf(used, sizeof used, "-/%.1f GiB", cap_gib);
        if (any_sm)
            snprintf(sm, sizeof sm, "%.0f%%", sm_sum * 100);
        else
            snprintf(sm, sizeof sm, "-");
        bool full = any && n->gpu_memory_mib > 0 &&
                    rows.v[k].used_bytes >= DEVICE_FULL * (double)n->gpu_memory_mib * 1024 * 1024;
        fprintf(out, "%-20.20s %3d %6.2f %17s %5s%s%s\n", n->name, (int)g->index,
                g->allocated_fraction, used, sm, full ? "  " : "",
                full ? (tty ? "\033[31mFULL\033[0m" : "FULL") : "");
        for (uint32_t j = 0; j < g->n_pods; j++) {
            uint32_t p = v->m.gpu_pods.v[g->first_pod + j];
            const gf_pod *pod = &v->m.pods.v[p];
            const pod_use *pu = &v->use.v[p];
            double share = gf_pod_share_on(pod, n->gpu_memory_mib);
            char name[300], pused[48], psm[16];
            snprintf(name, sizeof name, "%s/%s", pod->ns, pod->name);
            bool over = !isnan(pu->memory_bytes) &&
                        pu->memory_bytes > share * cap_gib * GIB * (1 + OVERRUN_MARGIN);
            if (isnan(pu->memory_bytes))
                snprintf(pused, sizeof pused, "no data");
            else
                snprintf(pused, sizeof pused, "%.1f GiB %3.0f%%", pu->memory_bytes / GIB,
                         share > 0 ? pu->memory_bytes / (share * cap_gib * GIB) * 100 : 0);
            if (isnan(pu->sm))
                snprintf(psm, sizeof psm, "-");
            else
                snprintf(psm, sizeof psm, "%.0f%%", pu->sm * 100);
            fprintf(out, "%-20s %3s %6s %17s %5s  %-40.40s %7.2f %15s %5s%s%s\n", "", "", "", "",
                    "", name, share, pused, psm, over ? "  " : "",
                    over ? (tty ? "\033[31mOVER\033[0m" : "OVER") : "");
        }
    }
    if (!rows.n) fprintf(out, "%s\n", only_findings ? "(no GPU with findings)" : "(no shared GPU)");
    gf_vec_free(&rows);
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int fail(const gf_error *err)
{
    char msg[1100];
    gf_error_format(err, msg, sizeof msg);
    fprintf(stderr, "gpufrac top: %s\n", msg);
    return gf_err_exit_code(err->code);
}

int gf_cmd_top(int argc, char **argv)
{
    enum { OPT_ONCE = 256, OPT_INTERVAL, OPT_EXPORTER };
    static const struct option lopts[] = {{"once", no_argument, NULL, OPT_ONCE},
                                          {"interval", required_argument, NULL, OPT_INTERVAL},
                                          {"exporter", required_argument, NULL, OPT_EXPORTER},
                                          {"usage", required_argument, NULL, 'u'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'},
                                          GF_CLI_CLUSTER_OPTIONS,
                                          GF_CLI_PROM_OPTIONS,
                                          {NULL, 0, NULL, 0}};
    static const char shortopts[] = "u:qh" GF_CLI_CLUSTER_SHORT;
    gf_cli_cluster cl;
    gf_cli_cluster_init(&cl);
    gf_cli_prom pr;
    gf_cli_prom_init(&pr);
    opts o = {&cl, &pr, NULL, 0, {0}, {0}, false};
    bool once = false;
    double interval = 5;
    int c, usage_rc = -1;
    optind = 1;
    opterr = 0;
    while (usage_rc < 0 && (c = getopt_long(argc, argv, shortopts, lopts, NULL)) != -1) {
        if (gf_cli_cluster_option(&cl, "top", c, optarg, &usage_rc) ||
            gf_cli_prom_option(&pr, "top", c, optarg, &usage_rc))
            continue;
        switch (c) {
        case OPT_ONCE:
            once = true;
            break;
        case OPT_INTERVAL: {
            char *end = NULL;
            interval = strtod(optarg, &end);
            if (!end || *end || !(interval >= 0.2 && interval <= 3600))
                usage_rc = gf_cli_usage_error("top", USAGE, "--interval '%s': seconds in 0.2..3600",
                                              optarg);
            break;
        }
        case OPT_EXPORTER:
            gf_vec_push(&o.exporters, optarg);
            break;
        case 'u':
            gf_vec_push(&o.csvs, optarg);
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            help(stdout);
            usage_rc = 0;
            break;
        default:
            usage_rc = gf_cli_bad_option("top", USAGE, shortopts, argc, argv);
            break;
        }
    }
    o.paths = argv + optind;
    o.npaths = argc - optind;
    view v;
    memset(&v, 0, sizeof v);
    gf_model_init(&v.m);
    gf_error err = {0};
    int exit_code = 0;
    if (usage_rc >= 0) {
        exit_code = usage_rc;
        goto out;
    }
    if (!o.exporters.n && !o.csvs.n && !pr.url) {
        if (o.npaths) {
            exit_code = gf_cli_usage_error("top", USAGE,
                                           "a usage source is needed with SNAPSHOT files: "
                                           "--exporter URL, --usage FILE or --prometheus URL");
            goto out;
        }
        if (gf_cli_prom_discover(&pr, &cl, &err)) {
            exit_code = fail(&err);
            goto out;
        }
    }
    gf_diags d;
    gf_diags_init(&d);
    gf_err rc = refresh(&o, &v, &d, &err);
    if (!o.quiet) gf_cli_print_diags(&d, 20);
    gf_diags_free(&d);
    if (rc) {
        exit_code = fail(&err);
        goto out;
    }
    bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (once || !tty) {
        frame(&v, SORT_NODE, false, false, stdout);
        if (fflush(stdout)) exit_code = 1;
        goto out;
    }
    /* the live view: raw keys, the screen redrawn every interval or key */
    struct termios saved, raw;
    tcgetattr(STDIN_FILENO, &saved);
    raw = saved;
    raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sort_by sort = SORT_NODE;
    bool only = false;
    char status[1200] = "";
    struct timespec last;
    clock_gettime(CLOCK_MONOTONIC, &last);
    while (!stop) {
        fputs("\033[H\033[2J", stdout);
        frame(&v, sort, only, gf_cli_color(stdout), stdout);
        printf("\n%s%skeys: s sort, f findings only, q quit\n", status, status[0] ? "\n" : "");
        fflush(stdout);
        struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double waited = (double)(t.tv_sec - last.tv_sec) + (t.tv_nsec - last.tv_nsec) / 1e9;
        int left_ms = (int)((interval - waited) * 1000);
        if (left_ms > 0 && poll(&pfd, 1, left_ms) > 0) {
            char k = 0;
            if (read(STDIN_FILENO, &k, 1) == 1) {
                if (k == 'q') break;
                if (k == 's') sort = (sort_by)((sort + 1) % SORT_COUNT);
                if (k == 'f') only = !only;
            }
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &last);
        gf_diags_init(&d);
        gf_error rerr = {0};
        if (refresh(&o, &v, &d, &rerr)) {
            char msg[1100];
            gf_error_format(&rerr, msg, sizeof msg);
            snprintf(status, sizeof status, "refresh failed: %s (showing the last frame)", msg);
        } else {
            status[0] = '\0';
        }
        gf_diags_free(&d);
    }
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
out:
    gf_vec_free(&v.use);
    gf_model_free(&v.m);
    gf_vec_free(&o.exporters);
    gf_vec_free(&o.csvs);
    gf_cli_cluster_free(&cl);
    gf_cli_prom_free(&pr);
    return exit_code;
}
