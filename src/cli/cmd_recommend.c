/* cmd_recommend.c - `gpufrac recommend`: KAI allocations from observed use.
 *
 * Snapshot (workloads and their current gpu-fraction / gpu-memory) + usage
 * (CSV files, saved Prometheus answers, or a live Prometheus) + policy ->
 * recommendations, as a table, JSON, or merge patches for kubectl. With
 * --history the usage history lives in a SQLite file across runs. */
#include "cli/commands.h"
#include "decide/recommend.h"
#include "io/convert_patch.h"
#include "io/history_sqlite.h"
#include "io/policy_yaml.h"
#include "io/snapshot.h"
#include "io/usage.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: gpufrac recommend [options] SNAPSHOT...\n\n"
            "Recommends each workload's KAI GPU allocation (gpu-fraction, or gpu-memory in MiB)\n"
            "from its observed GPU use: upsize at once when use nears the allocation, downsize\n"
            "only after sustained low use, never below observed peak memory plus margin.\n"
            "SNAPSHOT is `kubectl get nodes,deploy,rs,sts,pods -A -o json` output: it gives the\n"
            "workloads, their current allocation and their GPUs' memory.\n\n"
            "usage input (any number, any mix):\n"
            "  -u, --usage FILE       CSV: timestamp,namespace,pod,container,gpu_uuid,\n"
            "                         memory_bytes,sm_util (unix seconds or RFC 3339; sm_util\n"
            "                         a share of one GPU, 0..1)\n"
            "      --prom-file FILE   a saved Prometheus /api/v1/query_range (or /query) answer\n"
            "                         for gpufrac_pod_gpu_memory_used_bytes or\n"
            "                         gpufrac_pod_gpu_sm_utilization_ratio\n"
            "      --prometheus URL   query a Prometheus server for both metrics over --range\n"
            "      --range DURATION   how far back --prometheus looks (default 1d; e.g. 8d, 6h)\n"
            "      --step DURATION    resolution of the query (default: range / 10000, >= 15s)\n\n"
            "options:\n"
            "  -p, --policy FILE      rightsizing policy (YAML, see examples/policy.yaml);\n"
            "                         default: built-in defaults, mode recommend\n"
            "      --history DB       SQLite usage history: loaded if it exists, new samples\n"
            "                         added (those after its newest time), saved back\n"
            "      --now TIME         evaluate at TIME (unix seconds or RFC 3339); default: the\n"
            "                         newest sample, else the current time\n"
            "  -o, --output FORMAT    table (default) or json\n"
            "      --patches          print a `kubectl patch` merge patch per workload to change\n"
            "                         (its pod template's gpu-fraction / gpu-memory annotation);\n"
            "                         whole-GPU workloads moving onto a fraction: a strategic\n"
            "                         merge patch adding the annotation and removing\n"
            "                         nvidia.com/gpu from the container (policy convert)\n"
            "  -a, --all              also list workloads to keep (table)\n"
            "  -q, --quiet            do not print warnings\n"
            "  -h, --help             this text\n\n"
            "exit codes: 0 success, 1 runtime failure (history file, Prometheus), 2 usage or\n"
            "input error\n");
}

static int fail(const gf_error *err)
{
    char msg[1100];
    gf_error_format(err, msg, sizeof msg);
    fprintf(stderr, "gpufrac recommend: %s\n", msg);
    return gf_err_exit_code(err->code);
}

static gf_err read_file(const char *path, gf_sbuf *b, gf_error *err)
{
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) return gf_error_set(err, GF_EIO, path, "cannot open: %s", strerror(errno));
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        gf_sbuf_append(b, chunk, n);
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (bad) return gf_error_set(err, GF_EIO, path, "read failed");
    return GF_OK;
}

static const char *unit_annotation(const gf_recommendation *r)
{
    return gf_recommend_unit_annotation(r->in.unit);
}

static void value_text(const gf_recommendation *r, double v, char *buf, size_t n)
{
    gf_recommend_value_text(r->in.unit, v, buf, n);
}

static bool changes(const gf_recommendation *r)
{
    return r->action == GF_REC_UP || r->action == GF_REC_DOWN || r->action == GF_REC_TO_FRACTION ||
           r->action == GF_REC_TO_WHOLE;
}

static void print_table(const gf_recommendations *recs, bool all)
{
    double saved = 0;
    size_t up = 0, down = 0, conv = 0, whole = 0;
    printf("%-44s %-12s %9s %11s %-8s %4s %9s  %s\n", "WORKLOAD", "UNIT", "CURRENT", "RECOMMENDED",
           "ACTION", "CONF", "GPU SAVED", "REASON");
    for (size_t i = 0; i < recs->n; i++) {
        const gf_recommendation *r = &recs->v[i];
        saved += r->gpus_saved;
        up += r->action == GF_REC_UP;
        down += r->action == GF_REC_DOWN;
        conv += r->action == GF_REC_TO_FRACTION;
        whole += r->in.whole_gpus > 0;
        if (!all && !changes(r)) continue;
        char wl[300], cur[32], rec[32];
        snprintf(wl, sizeof wl, "%s/%s/%s", r->in.ns, r->in.kind, r->in.name);
        value_text(r, r->current, cur, sizeof cur);
        value_text(r, r->recommended, rec, sizeof rec);
        if (r->in.whole_gpus)
            snprintf(cur, sizeof cur, "%u GPU%s", r->in.whole_gpus,
                     r->in.whole_gpus > 1 ? "s" : "");
        if (r->action == GF_REC_TO_WHOLE)
            snprintf(rec, sizeof rec, "%u GPU%s", r->in.devices, r->in.devices > 1 ? "s" : "");
        printf("%-44s %-12s %9s %11s %-8s %4.2f %9.3f  %s\n", wl,
               r->in.unit == GF_SHARE_MEMORY ? "gpu-mem MiB" : "gpu-fraction", cur, rec,
               gf_rec_action_name(r->action), r->confidence, r->gpus_saved, r->reason);
    }
    printf("%zu workloads: %zu upsize, %zu downsize, %zu of %zu whole-GPU workloads to a fraction; "
           "GPUs saved %.3f\n",
           recs->n, up, down, conv, whole, saved);
}

static json_t *rec_json(const gf_recommendation *r)
{
    char wl[300];
    snprintf(wl, sizeof wl, "%s/%s", r->in.ns, r->in.name);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:i, s:i, s:f, s:f, "
        "s:f, s:s, s:s}",
        "workload", wl, "kind", r->in.kind, "unit", unit_annotation(r), "action",
        gf_rec_action_name(r->action), "mode", gf_mode_name(r->mode), "current", r->current,
        "recommended", r->recommended, "current_fraction", r->current_fraction,
        "recommended_fraction", r->recommended_fraction, "devices", (int)r->in.devices, "replicas",
        (int)r->in.replicas, "confidence", r->confidence, "gpus_saved", r->gpus_saved,
        "peak_memory_bytes", r->peak_memory_bytes, "reason", r->reason, "policy", r->policy);
    json_object_set_new(o, "whole_gpus", json_integer(r->in.whole_gpus));
    if (r->action == GF_REC_TO_FRACTION)
        json_object_set_new(o, "set_scheduler", json_boolean(r->set_scheduler));
    return o;
}

/* kubectl resource name of a controller kind. */
static const char *resource(const char *kind)
{
    if (!strcmp(kind, "Deployment")) return "deployment";
    if (!strcmp(kind, "StatefulSet")) return "statefulset";
    if (!strcmp(kind, "ReplicaSet")) return "replicaset";
    if (!strcmp(kind, "DaemonSet")) return "daemonset";
    if (!strcmp(kind, "Job")) return "job";
    return NULL;
}

/* Single-quoted for a POSIX shell. */
static void shell_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

static void print_kubectl(const gf_recommendation *r, const char *res, const char *type,
                          const char *body);

/* whole GPUs -> a fraction: one strategic merge patch of the pod template
 * (kubectl's default type: containers merge by name, null removes a key,
 * as in a JSON merge patch, which would replace the containers list). */
static void print_conversion(const gf_recommendation *r, const char *res)
{
    if (!r->in.gpu_container) {
        printf("# %s/%s/%s: to a fraction, but the container holding the GPU is not known: "
               "no patch\n",
               r->in.ns, r->in.kind, r->in.name);
        return;
    }
    char val[32];
    gf_convert_change c;
    gf_convert_change_of(r, val, sizeof val, &c);
    json_t *patch = gf_convert_patch_strategic(&c);
    char *body = patch ? json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(patch);
    printf("# %s/%s/%s: %u whole GPU%s -> %s %s%s (frees %.2f GPUs)\n", r->in.ns, r->in.kind,
           r->in.name, r->in.whole_gpus, r->in.whole_gpus > 1 ? "s" : "", unit_annotation(r), val,
           r->set_scheduler ? ", schedulerName kai-scheduler" : "", r->gpus_saved);
    print_kubectl(r, res, "strategic", body);
    free(body);
}

static int print_patches(const gf_recommendations *recs)
{
    size_t n = 0;
    for (size_t i = 0; i < recs->n; i++) {
        const gf_recommendation *r = &recs->v[i];
        if (!changes(r)) continue;
        const char *res = resource(r->in.kind);
        if (!res) continue;
        if (r->action == GF_REC_TO_FRACTION) {
            print_conversion(r, res);
            n++;
            continue;
        }
        if (r->action == GF_REC_TO_WHOLE) {
            /* the patch to nvidia.com/gpu comes with the KAI-fidelity rule */
            printf("# %s/%s/%s: needs a whole GPU per device (%s at maxFraction): set "
                   "nvidia.com/gpu and remove %s\n",
                   r->in.ns, r->in.kind, r->in.name, unit_annotation(r), unit_annotation(r));
            n++;
            continue;
        }
        char val[32];
        value_text(r, r->recommended, val, sizeof val);
        /* JSON merge patch (RFC 7386) of the pod template's annotations */
        json_t *patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata",
                                  "annotations", unit_annotation(r), val);
        char *body = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(patch);
        char cur[32];
        value_text(r, r->current, cur, sizeof cur);
        printf("# %s/%s/%s: %s %s -> %s (%s)\n", r->in.ns, r->in.kind, r->in.name,
               unit_annotation(r), cur, val, gf_rec_action_name(r->action));
        print_kubectl(r, res, "merge", body);
        free(body);
        n++;
    }
    if (!n) printf("# nothing to change\n");
    return 0;
}

static void print_kubectl(const gf_recommendation *r, const char *res, const char *type,
                          const char *body)
{
    printf("kubectl patch %s ", res);
    shell_quote(stdout, r->in.name);
    printf(" -n ");
    shell_quote(stdout, r->in.ns);
    printf(" --type %s -p ", type);
    shell_quote(stdout, body ? body : "{}");
    putchar('\n');
}

static gf_err parse_dur(const char *opt, const char *s, double *out, gf_error *err)
{
    int64_t v = 0;
    const char *why = "must be positive";
    if (!gf_parse_duration(s, &v, &why) || v <= 0)
        return gf_error_set(err, GF_EUSAGE, opt, "'%s': %s", s, why);
    *out = (double)v;
    return GF_OK;
}

int gf_cmd_recommend(int argc, char **argv)
{
    enum {
        OPT_PROM_FILE = 256,
        OPT_PROMETHEUS,
        OPT_RANGE,
        OPT_STEP,
        OPT_HISTORY,
        OPT_NOW,
        OPT_PATCHES
    };
    static const struct option opts[] = {{"usage", required_argument, NULL, 'u'},
                                         {"prom-file", required_argument, NULL, OPT_PROM_FILE},
                                         {"prometheus", required_argument, NULL, OPT_PROMETHEUS},
                                         {"range", required_argument, NULL, OPT_RANGE},
                                         {"step", required_argument, NULL, OPT_STEP},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"history", required_argument, NULL, OPT_HISTORY},
                                         {"now", required_argument, NULL, OPT_NOW},
                                         {"output", required_argument, NULL, 'o'},
                                         {"patches", no_argument, NULL, OPT_PATCHES},
                                         {"all", no_argument, NULL, 'a'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    GF_VEC(const char *) csvs = {0}, proms = {0};
    const char *policy_path = NULL, *history_path = NULL, *prom_url = NULL, *now_text = NULL;
    const char *range_text = "1d", *step_text = NULL;
    bool json = false, patches = false, all = false, quiet = false;
    int c, usage_rc = -1;
    optind = 1;
    while (usage_rc < 0 && (c = getopt_long(argc, argv, "u:p:o:aqh", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            gf_vec_push(&csvs, optarg);
            break;
        case OPT_PROM_FILE:
            gf_vec_push(&proms, optarg);
            break;
        case OPT_PROMETHEUS:
            prom_url = optarg;
            break;
        case OPT_RANGE:
            range_text = optarg;
            break;
        case OPT_STEP:
            step_text = optarg;
            break;
        case 'p':
            policy_path = optarg;
            break;
        case OPT_HISTORY:
            history_path = optarg;
            break;
        case OPT_NOW:
            now_text = optarg;
            break;
        case 'o':
            if (!strcmp(optarg, "json")) {
                json = true;
            } else if (strcmp(optarg, "table") != 0) {
                fprintf(stderr, "gpufrac recommend: --output '%s': use table or json\n", optarg);
                usage_rc = 2;
            }
            break;
        case OPT_PATCHES:
            patches = true;
            break;
        case 'a':
            all = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            help(stdout);
            usage_rc = 0;
            break;
        default:
            help(stderr);
            usage_rc = 2;
            break;
        }
    }
    if (usage_rc < 0 && optind >= argc) {
        fprintf(stderr, "gpufrac recommend: a SNAPSHOT is needed (the workloads to size)\n\n");
        help(stderr);
        usage_rc = 2;
    }
    if (usage_rc >= 0) {
        gf_vec_free(&csvs);
        gf_vec_free(&proms);
        return usage_rc;
    }

    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_policy pol;
    gf_policy_init(&pol);
    gf_history h;
    gf_usage u;
    gf_usage_init(&u);
    gf_recommendations recs = {0};
    int exit_code = 0;
    gf_err rc = gf_history_init(&h, NULL, &err);
    double range = 0, step = 0, now = NAN;
    if (!rc) rc = parse_dur("--range", range_text, &range, &err);
    if (!rc && step_text) rc = parse_dur("--step", step_text, &step, &err);
    if (!rc && now_text) {
        char why[200];
        if (gf_usage_parse_time(now_text, &now, why, sizeof why))
            rc = gf_error_set(&err, GF_EUSAGE, "--now", "'%s': %s", now_text, why);
    }
    if (!rc) rc = gf_snapshot_load_files(&m, argv + optind, argc - optind, &d, &err);
    if (!rc && policy_path) rc = gf_policy_load_file(&pol, policy_path, &err);
    if (!rc && history_path) {
        struct stat st;
        if (stat(history_path, &st) == 0) rc = gf_history_load(&h, history_path, &err);
    }
    for (size_t i = 0; !rc && i < csvs.n; i++)
        rc = gf_usage_load_csv(&u, csvs.v[i], &err);
    for (size_t i = 0; !rc && i < proms.n; i++) {
        gf_sbuf b = GF_SBUF_INIT;
        rc = read_file(proms.v[i], &b, &err);
        if (!rc)
            rc = gf_usage_load_prom_json(&u, proms.v[i], gf_sbuf_str(&b), b.len, GF_USAGE_BY_NAME,
                                         &d, &err);
        gf_sbuf_free(&b);
    }
    if (!rc && prom_url) {
        double end = isnan(now) ? (double)time(NULL) : now;
        if (step <= 0) step = fmax(15, ceil(range / 10000));
        rc = gf_prom_fetch_usage(prom_url, end - range, end, step, &u, &d, &err);
    }
    gf_ingest_stats ist = {0};
    if (!rc) {
        double after = history_path ? gf_history_newest(&h) : -INFINITY;
        rc = gf_recommend_ingest(&m, &h, u.samples.v, u.samples.n, after, &ist, &err);
    }
    if (!rc && isnan(now)) {
        now = gf_history_newest(&h);
        if (!isfinite(now)) now = (double)time(NULL);
    }
    if (!rc && ist.unmatched)
        gf_diag(&d, NULL,
                "%zu samples of pods that match no workload in the snapshot were skipped "
                "(e.g. %s/%s)",
                ist.unmatched, ist.first_unmatched->ns, ist.first_unmatched->pod);
    if (!rc && ist.old)
        gf_diag(&d, history_path, "%zu samples at or before the history's newest time skipped",
                ist.old);
    if (!quiet) gf_cli_print_diags(&d, 20);
    if (!rc) rc = gf_recommend_model(&m, &h, &pol, now, &recs, &err);
    if (!rc && history_path) rc = gf_history_save(&h, history_path, &err);
    if (rc) {
        exit_code = fail(&err);
    } else if (patches) {
        exit_code = print_patches(&recs);
    } else if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < recs.n; i++)
            json_array_append_new(arr, rec_json(&recs.v[i]));
        json_t *o = json_pack("{s:f, s:o, s:{s:I, s:I, s:I}}", "now", now, "recommendations", arr,
                              "samples", "added", (json_int_t)ist.added, "unmatched",
                              (json_int_t)ist.unmatched, "skipped_old", (json_int_t)ist.old);
        if (json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10))) exit_code = 1;
        fputc('\n', stdout);
        json_decref(o);
    } else {
        print_table(&recs, all);
    }
    if (fflush(stdout) != 0) exit_code = 1;
    gf_vec_free(&recs);
    gf_usage_free(&u);
    gf_history_free(&h);
    gf_policy_free(&pol);
    gf_diags_free(&d);
    gf_model_free(&m);
    gf_vec_free(&csvs);
    gf_vec_free(&proms);
    return exit_code;
}
