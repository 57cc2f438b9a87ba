/* cmd_recommend.c - `gpufrac recommend`: KAI allocations from observed use.
 *
 * Snapshot (workloads and their current gpu-fraction / gpu-memory) + usage
 * (CSV files, saved Prometheus answers, or a live Prometheus) + policy ->
 * recommendations, as a table, JSON, or merge patches for kubectl. With
 * --history the usage history lives in a SQLite file across runs. */
#include "cli/commands.h"
#include "decide/recommend.h"
#include "cli/cli_common.h"
#include "io/convert_patch.h"
#include "io/history_sqlite.h"
#include "io/kai_patch.h"
#include "io/input.h"
#include "io/policy_yaml.h"
#include "io/snapshot.h"
#include "io/usage.h"
#include "util/arena.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define USAGE "gpufrac recommend [options] [SNAPSHOT...]"

static void help(FILE *f)
{
    fprintf(f,
            "usage: " USAGE "\n\n"
            "Recommends each workload's KAI GPU allocation (gpu-fraction, or gpu-memory in MiB)\n"
            "from its observed GPU use: upsize at once when use nears the allocation, downsize\n"
            "only after sustained low use, never below observed peak memory plus margin.\n"
            "The workloads, their current allocation and their GPUs' memory come from the\n"
            "cluster (no SNAPSHOT: through your kubeconfig), or from SNAPSHOT files, output\n"
            "of `kubectl get nodes,deploy,rs,sts,pods -A -o json`. Reading the cluster with\n"
            "no usage input given, usage comes from the cluster's Prometheus (found by its\n"
            "Service, see --prometheus).\n\n"
            "usage input (any number, any mix):\n"
            "  -u, --usage FILE       CSV: timestamp,namespace,pod,container,gpu_uuid,\n"
            "                         memory_bytes,sm_util (unix seconds or RFC 3339; sm_util\n"
            "                         a share of one GPU, 0..1)\n"
            "      --prom-file FILE   a saved Prometheus /api/v1/query_range (or /query) answer\n"
            "                         for gpufrac_pod_gpu_memory_used_bytes or\n"
            "                         gpufrac_pod_gpu_sm_utilization_ratio, or an inference\n"
            "                         engine's own metric (vllm:kv_cache_usage_perc,\n"
            "                         vllm:num_requests_waiting, vllm:num_preemptions_total,\n"
            "                         sglang:token_usage, sglang:num_queue_reqs, tgi_queue_size,\n"
            "                         ...; src/io/usage.h)\n" GF_CLI_PROM_HELP
            "      --range DURATION   how far back Prometheus is asked (default 1d; e.g. 8d, 6h)\n"
            "      --step DURATION    resolution of the query (default: range / 10000, >= 15s)\n\n"
            "options:\n"
            "  -p, --policy FILE      rightsizing policy (YAML, see examples/policy.yaml);\n"
            "                         default: built-in defaults, mode recommend\n"
            "      --history DB       SQLite usage history: loaded if it exists, new samples\n"
            "                         added (those after its newest time), saved back\n"
            "      --now TIME         evaluate at TIME (unix seconds or RFC 3339); default: the\n"
            "                         newest sample, else the current time\n"
            "  -o, --output FORMAT    table (default), json, yaml or csv\n"
            "      --patches          print a `kubectl patch` merge patch per workload to change\n"
            "                         (its pod template's gpu-fraction / gpu-memory annotation);\n"
            "                         whole-GPU workloads moving onto a fraction: a strategic\n"
            "                         merge patch adding the annotation and removing\n"
            "                         nvidia.com/gpu from the container (policy convert)\n"
            "  -a, --all              also list workloads to keep (table)\n"
            "  -q, --quiet            do not print warnings\n"
            "  -h, --help             this text\n" GF_CLI_CLUSTER_HELP "\n" GF_CLI_KAI_HELP "\n"
            "A workload without usage samples is listed as \"no-data\" (also without --all)\n"
            "and counted in the summary.\n\n"
            "exit codes: 0 success, 1 runtime failure (cluster, history file, Prometheus),\n"
            "2 usage or input error, 3 no usage at all: no workload had a sample, so nothing\n"
            "was recommended (check the exporter, the Prometheus URL and --range)\n");
}

static int fail(const gf_error *err)
{
    char msg[1100];
    gf_error_format(err, msg, sizeof msg);
    fprintf(stderr, "gpufrac recommend: %s\n", msg);
    return gf_err_exit_code(err->code);
}

static const char *unit_annotation(const gf_recommendation *r)
{
    return gf_recommend_unit_annotation(r->in.unit);
}

static void value_text(const gf_recommendation *r, double v, char *buf, size_t n)
{
    gf_recommend_value_text(r->in.unit, v, buf, n);
}

/* The recommended value: "nvidia.com/gpu: N" for a whole GPU, never a
 * fraction of 1. */
static void rec_text(const gf_recommendation *r, char *buf, size_t n)
{
    gf_recommend_target_text(r, buf, n);
}

static bool changes(const gf_recommendation *r)
{
    return r->action == GF_REC_UP || r->action == GF_REC_DOWN || r->action == GF_REC_WHOLE ||
           r->action == GF_REC_TO_FRACTION;
}

/* The ACTION column's colour on a terminal (cli_common.h: gf_cli_color). */
static const char *action_color(gf_rec_action a)
{
    switch (a) {
    case GF_REC_UP:
        return "\033[33m"; /* yellow: more GPU */
    case GF_REC_DOWN:
    case GF_REC_TO_FRACTION:
        return "\033[32m"; /* green: GPU saved */
    case GF_REC_NODATA:
        return "\033[2m"; /* dim */
    default:
        return "";
    }
}

static void print_table(const gf_recommendations *recs, bool all)
{
    bool color = gf_cli_color(stdout);
    double saved = 0;
    size_t up = 0, down = 0, whole = 0, nodata = 0, conv = 0, held_whole = 0, quota = 0,
           one_way = 0;
    printf("%-44s %-12s %9s %11s %-8s %4s %9s  %s\n", "WORKLOAD", "UNIT", "CURRENT", "RECOMMENDED",
           "ACTION", "CONF", "GPU SAVED", "REASON");
    for (size_t i = 0; i < recs->n; i++) {
        const gf_recommendation *r = &recs->v[i];
        saved += r->gpus_saved;
        up += r->action == GF_REC_UP;
        down += r->action == GF_REC_DOWN;
        whole += r->action == GF_REC_WHOLE;
        nodata += r->action == GF_REC_NODATA;
        conv += r->action == GF_REC_TO_FRACTION;
        held_whole += r->in.whole_gpus > 0;
        quota += r->quota_blocked;
        one_way += r->quota_one_way;
        if (!all && !changes(r) && r->action != GF_REC_NODATA) continue;
        char wl[300], cur[32], rec[32];
        snprintf(wl, sizeof wl, "%s/%s/%s", r->in.ns, r->in.kind, r->in.name);
        value_text(r, r->current, cur, sizeof cur);
        rec_text(r, rec, sizeof rec);
        if (r->in.whole_gpus)
            snprintf(cur, sizeof cur, "%u GPU%s", r->in.whole_gpus,
                     r->in.whole_gpus > 1 ? "s" : "");
        const char *on = color ? action_color(r->action) : "";
        /* an engine's rules and the signal that decided, before the reason */
        char tag[96] = "";
        if (r->in.engine.kind != GF_ENGINE_GENERIC && r->decided_by != GF_RSIG_NONE)
            snprintf(tag, sizeof tag, "[%s, %s: %s] ", gf_engine_name(r->in.engine.kind),
                     gf_rec_engine_class(&r->in.engine), gf_rec_signal_name(r->decided_by));
        printf("%-44s %-12s %9s %11s %s%-8s%s %4.2f %9.3f  %s%s\n", wl,
               r->in.unit == GF_SHARE_MEMORY ? "gpu-mem MiB" : "gpu-fraction", cur, rec, on,
               gf_rec_action_name(r->action), *on ? "\033[0m" : "", r->confidence, r->gpus_saved,
               tag, r->reason);
    }
    printf("%zu workloads: %zu upsize, %zu downsize, %zu to a whole GPU, %zu of %zu whole-GPU "
           "workloads to a fraction, %zu no data; GPUs saved %.3f\n",
           recs->n, up, down, whole, conv, held_whole, nodata, saved);
    if (quota)
        printf("%zu upsize%s blocked by queue quota (KAI would leave the new pods Pending): not "
               "written\n",
               quota, quota == 1 ? "" : "s");
    if (one_way)
        printf("%zu downsize%s held (downsize.holdOneWay): the queue could not fund the way back; "
               "--all lists them\n",
               one_way, one_way == 1 ? "" : "s");
}

static void print_csv(const gf_recommendations *recs)
{
    printf("namespace,kind,name,unit,current,recommended,action,mode,confidence,gpus_saved,"
           "peak_memory_bytes,reason\n");
    for (size_t i = 0; i < recs->n; i++) {
        const gf_recommendation *r = &recs->v[i];
        char cur[32], rec[32];
        value_text(r, r->current, cur, sizeof cur);
        rec_text(r, rec, sizeof rec);
        gf_cli_csv_field(stdout, r->in.ns, false);
        gf_cli_csv_field(stdout, r->in.kind, false);
        gf_cli_csv_field(stdout, r->in.name, false);
        printf("%s,%s,%s,%s,%s,%.2f,%.4f,", unit_annotation(r), cur, rec,
               gf_rec_action_name(r->action), gf_mode_name(r->mode), r->confidence, r->gpus_saved);
        if (isfinite(r->peak_memory_bytes)) printf("%.0f", r->peak_memory_bytes);
        putchar(',');
        gf_cli_csv_field(stdout, r->reason, true);
    }
}

/* No workload (that the policy does not leave alone) had a sample. */
static bool no_usage_at_all(const gf_recommendations *recs)
{
    size_t considered = 0;
    for (size_t i = 0; i < recs->n; i++) {
        if (recs->v[i].action == GF_REC_OFF) continue;
        considered++;
        if (recs->v[i].action != GF_REC_NODATA) return false;
    }
    return considered > 0;
}

/* The newest sample of the workload in the history (NAN: none). */
static double newest_sample(const gf_history *h, const gf_recommendation *r)
{
    char key[600];
    const gf_hist_series *s =
        gf_history_find(h, gf_recommend_key(r->in.ns, r->in.kind, r->in.name, key, sizeof key));
    double t = NAN;
    for (int sig = 0; s && sig < GF_HIST_NSIGNALS; sig++)
        if (s->track[sig].samples && !(s->track[sig].last_t <= t)) t = s->track[sig].last_t;
    return t;
}

/* Staleness from the samples' own times (usage_fetch keeps Prometheus's
 * lookback repeats out): workloads, and GPU nodes, whose newest sample is
 * older than limit_s at now, as warnings. A node's exporter that stopped
 * shows as every one of its GPU pods going quiet. */
static void warn_stale(const gf_model *m, const gf_history *h, const gf_usage *u,
                       const gf_recommendations *recs, double now, double limit_s, gf_diags *d)
{
    size_t stale = 0;
    const gf_recommendation *first = NULL;
    double first_age = 0;
    for (size_t i = 0; i < recs->n; i++) {
        double t = newest_sample(h, &recs->v[i]);
        if (isnan(t) || now - t <= limit_s) continue;
        if (!stale++) first = &recs->v[i], first_age = now - t;
    }
    if (stale) {
        char age[32];
        gf_format_duration((int64_t)first_age, age, sizeof age);
        gf_diag(d, NULL,
                "%zu workloads' newest usage sample is older than %.0f s (e.g. %s/%s/%s: %s "
                "old): their exporters may have stopped; recommendations use what there is",
                stale, limit_s, first->in.ns, first->in.kind, first->in.name, age);
    }
    if (!u->samples.n) return;
    /* newest sample per node, through a pod -> node map (one pass each) */
    gf_arena keys;
    gf_arena_init(&keys);
    gf_strmap pod_node;
    gf_strmap_init(&pod_node);
    double *newest = calloc(m->nodes.n ? m->nodes.n : 1, sizeof *newest);
    bool *gpu_pods = calloc(m->nodes.n ? m->nodes.n : 1, sizeof *gpu_pods);
    if (!newest || !gpu_pods) abort();
    char key[600];
    for (size_t p = 0; p < m->pods.n; p++) {
        const gf_pod *pod = &m->pods.v[p];
        if (pod->node == GF_NONE || !gf_pod_active(pod)) continue;
        if (pod->share != GF_SHARE_NONE || pod->gpu_whole) gpu_pods[pod->node] = true;
        snprintf(key, sizeof key, "%s/%s", pod->ns, pod->name);
        gf_strmap_put(&pod_node, gf_arena_strdup(&keys, key), pod->node);
    }
    for (size_t i = 0; i < m->nodes.n; i++)
        newest[i] = -INFINITY;
    for (size_t k = 0; k < u->samples.n; k++) {
        const gf_usage_sample *s = &u->samples.v[k];
        size_t node;
        snprintf(key, sizeof key, "%s/%s", s->ns, s->pod);
        if (gf_strmap_get(&pod_node, key, &node) && s->t > newest[node]) newest[node] = s->t;
    }
    for (size_t i = 0; i < m->nodes.n; i++) {
        if (!gpu_pods[i] || !isfinite(newest[i]) || now - newest[i] <= limit_s) continue;
        char age[32];
        gf_format_duration((int64_t)(now - newest[i]), age, sizeof age);
        gf_diag(d, NULL,
                "node %s: the newest usage sample of its GPU pods is %s old (its exporter may "
                "be down)",
                m->nodes.v[i].name, age);
    }
    free(newest);
    free(gpu_pods);
    gf_strmap_free(&pod_node);
    gf_arena_free(&keys);
}

static json_t *rec_json(const gf_recommendation *r, const gf_history *h, double now)
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
    if (r->action == GF_REC_WHOLE) {
        /* not a share: whole GPUs per pod, the sharing annotations removed */
        json_object_set_new(o, "recommended_unit", json_string(GF_RES_GPU));
        json_object_set_new(o, "recommended", json_integer(r->in.devices));
    }
    double newest = newest_sample(h, r);
    json_object_set_new(o, "newest_sample", isnan(newest) ? json_null() : json_real(newest));
    json_object_set_new(o, "sample_age_seconds",
                        isnan(newest) ? json_null() : json_real(now - newest));
    json_object_set_new(o, "whole_gpus", json_integer(r->in.whole_gpus));
    /* which rules applied and which signal decided (decide/recommend.h) */
    json_t *eng = json_pack("{s:s, s:s, s:s, s:s}", "name", gf_engine_name(r->in.engine.kind),
                            "class", gf_rec_engine_class(&r->in.engine), "memory",
                            gf_engine_memory_name(r->in.engine.memory), "cap_source",
                            gf_engine_cap_source_name(r->in.engine.cap_source));
    json_object_set_new(eng, "cap",
                        isfinite(r->in.engine.cap) && r->in.engine.memory == GF_MEM_PREALLOCATES
                            ? json_real(r->in.engine.cap)
                            : json_null());
    if (r->move_cap) {
        json_object_set_new(eng, "knob", json_string(r->in.engine.knob));
        json_object_set_new(eng, "new_cap", json_real(r->new_cap));
    }
    json_object_set_new(o, "engine", eng);
    json_object_set_new(o, "decided_by", json_string(gf_rec_signal_name(r->decided_by)));
    json_object_set_new(o, "blocked_by_queue_quota", json_boolean(r->quota_blocked));
    json_object_set_new(o, "downsize_held_by_queue_quota", json_boolean(r->quota_one_way));
    if (r->quota_blocked || r->quota_one_way)
        json_object_set_new(
            o, "queue_quota",
            json_pack("{s:s, s:f, s:f, s:s, s:f, s:i, s:i}", "queue",
                      r->quota.queue != GF_NONE && r->quota_queue_name ? r->quota_queue_name : "",
                      "quota_gpus", r->quota.quota_gpus, "allocated_gpus", r->quota.allocated_gpus,
                      "allocated_from", r->quota.allocated_from_status ? "queue-status" : "pods",
                      "delta_gpus", r->quota.delta_gpus, "surge_pods", (int)r->quota.surge_pods,
                      "replicas", (int)r->quota.replicas));
    if (r->action == GF_REC_TO_FRACTION)
        json_object_set_new(o, "set_scheduler", json_boolean(r->set_scheduler));
    if (r->in.whole_gpus && r->action != GF_REC_TO_FRACTION) {
        /* stays on whole GPUs: no share to write, the count is the allocation */
        json_object_set_new(o, "unit", json_string(GF_RES_GPU));
        json_object_set_new(o, "current", json_integer(r->in.whole_gpus));
        json_object_set_new(o, "recommended", json_integer(r->in.whole_gpus));
    }
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

/* A workload owned by an operator's object (KServe, Knative, LWS, Argo,
 * Ray): no patch of what the operator would put back; the field to set. */
static bool print_owner(const gf_model *m, const uint32_t *first_pod, const gf_recommendation *r)
{
    char key[600], cur[32], val[32];
    size_t w;
    snprintf(key, sizeof key, "%s/%s/%s", r->in.kind, r->in.ns, r->in.name);
    if (!gf_strmap_get(&m->workload_by_key, key, &w)) return false;
    gf_owner_target ot;
    uint32_t fp = first_pod[w];
    gf_recommend_owner_target(&m->workloads.v[w], fp != GF_NONE ? &m->pods.v[fp] : NULL, &ot);
    if (!ot.path) return false;
    value_text(r, r->current, cur, sizeof cur);
    value_text(r, r->recommended, val, sizeof val);
    printf("# %s/%s/%s: %s %s -> %s (%s): recommend-only: set %s in %s of %s %s/%s\n", r->in.ns,
           r->in.kind, r->in.name, unit_annotation(r), cur, val, gf_rec_action_name(r->action),
           unit_annotation(r), ot.path, ot.kind, r->in.ns, ot.name);
    return true;
}

static int print_patches(const gf_model *m, const gf_recommendations *recs)
{
    size_t n = 0;
    /* each workload's first pod, for operators' objects named by pod labels */
    uint32_t *first_pod = gf_xmalloc((m->workloads.n + 1) * sizeof *first_pod);
    for (size_t w = 0; w < m->workloads.n; w++)
        first_pod[w] = GF_NONE;
    for (size_t i = m->pods.n; i-- > 0;) {
        const gf_workload *w = gf_model_pod_workload(m, &m->pods.v[i]);
        if (w) first_pod[w - m->workloads.v] = (uint32_t)i;
    }
    for (size_t i = 0; i < recs->n; i++) {
        const gf_recommendation *r = &recs->v[i];
        if (!changes(r)) continue;
        const char *res = resource(r->in.kind);
        if (r->quota_blocked) {
            printf("# %s/%s/%s: %s: no patch\n", r->in.ns, r->in.kind, r->in.name, r->reason);
            continue;
        }
        if (!res) {
            n += print_owner(m, first_pod, r);
            continue;
        }
        if (r->action == GF_REC_TO_FRACTION) {
            print_conversion(r, res);
            n++;
            continue;
        }
        char val[32], cur[32];
        value_text(r, r->current, cur, sizeof cur);
        json_t *patch;
        const char *type = "merge";
        if (r->action == GF_REC_WHOLE) {
            /* one strategic merge patch (containers merge by name): the
             * container's nvidia.com/gpu limit and no sharing annotation
             * (io/kai_patch.h) */
            snprintf(val, sizeof val, "%s: %u", GF_RES_GPU, r->in.devices);
            patch =
                gf_kai_whole_gpu_strategic(r->in.container, r->in.container_init, r->in.devices);
            type = "strategic";
            if (!patch) {
                printf("# %s/%s/%s: %s %s -> whole GPU: the container is not known; patch it by "
                       "hand\n",
                       r->in.ns, r->in.kind, r->in.name, unit_annotation(r), cur);
                continue;
            }
        } else if (r->move_cap) {
            /* the engine's cap moves with the fraction: one strategic merge
             * patch with the annotation and the container's flag
             * (io/kai_patch.h) */
            value_text(r, r->recommended, val, sizeof val);
            const gf_engine_info *e = &r->in.engine;
            gf_error perr = {0};
            json_t *c = gf_kai_engine_cap_container(
                r->in.engine_container, e->knob, e->cap_source == GF_CAP_ENV, r->in.engine_argv,
                r->in.engine_argc, r->in.engine_cmd_n, r->new_cap, &perr);
            if (!c) {
                printf("# %s/%s/%s: %s %s -> %s, but %s (%s) could not be moved with it: set it "
                       "by hand\n",
                       r->in.ns, r->in.kind, r->in.name, unit_annotation(r), cur, val, e->knob,
                       perr.msg);
                patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata",
                                  "annotations", unit_annotation(r), val);
            } else {
                patch = gf_kai_resize_with_cap_strategic(unit_annotation(r), val,
                                                         r->in.engine_container_init, c);
                type = "strategic";
                char capv[32];
                gf_kai_cap_text(r->new_cap, capv, sizeof capv);
                printf("# %s/%s/%s: %s %g -> %s with the fraction\n", r->in.ns, r->in.kind,
                       r->in.name, e->knob, e->cap, capv);
            }
        } else {
            value_text(r, r->recommended, val, sizeof val);
            /* JSON merge patch (RFC 7386) of the pod template's annotations */
            patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata",
                              "annotations", unit_annotation(r), val);
        }
        char *body = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(patch);
        printf("# %s/%s/%s: %s %s -> %s (%s)\n", r->in.ns, r->in.kind, r->in.name,
               unit_annotation(r), cur, val, gf_rec_action_name(r->action));
        print_kubectl(r, res, type, body);
        free(body);
        n++;
    }
    free(first_pod);
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
    enum { OPT_PROM_FILE = 256, OPT_RANGE, OPT_STEP, OPT_HISTORY, OPT_NOW, OPT_PATCHES };
    static const struct option opts[] = {{"usage", required_argument, NULL, 'u'},
                                         {"prom-file", required_argument, NULL, OPT_PROM_FILE},
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
                                         GF_CLI_CLUSTER_OPTIONS,
                                         GF_CLI_PROM_OPTIONS,
                                         GF_CLI_KAI_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    static const char shortopts[] = "u:p:o:aqh" GF_CLI_CLUSTER_SHORT;
    GF_VEC(const char *) csvs = {0}, proms = {0};
    const char *policy_path = NULL, *history_path = NULL, *now_text = NULL;
    const char *range_text = "1d", *step_text = NULL;
    bool patches = false, all = false, quiet = false;
    gf_cli_format format = GF_OUT_TABLE;
    gf_cli_cluster cl;
    gf_cli_cluster_init(&cl);
    gf_cli_prom pr;
    gf_cli_prom_init(&pr);
    int c, usage_rc = -1;
    optind = 1;
    gf_cli_kai kai = {0};
    opterr = 0;
    while (usage_rc < 0 && (c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if (gf_cli_kai_option(&kai, c, optarg)) continue;
        if (gf_cli_cluster_option(&cl, "recommend", c, optarg, &usage_rc) ||
            gf_cli_prom_option(&pr, "recommend", c, optarg, &usage_rc))
            continue;
        switch (c) {
        case 'u':
            gf_vec_push(&csvs, optarg);
            break;
        case OPT_PROM_FILE:
            gf_vec_push(&proms, optarg);
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
            if (!gf_cli_parse_format("recommend", optarg,
                                     GF_OUT_TABLE | GF_OUT_JSON | GF_OUT_YAML | GF_OUT_CSV,
                                     &format))
                usage_rc = 2;
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
            usage_rc = gf_cli_bad_option("recommend", USAGE, shortopts, argc, argv);
            break;
        }
    }
    if (usage_rc < 0 && !pr.url && gf_cli_prom_has_auth(&pr) && optind < argc)
        usage_rc = gf_cli_usage_error("recommend", USAGE,
                                      "Prometheus credentials given without --prometheus URL");
    if (usage_rc >= 0) {
        gf_vec_free(&csvs);
        gf_vec_free(&proms);
        gf_cli_cluster_free(&cl);
        gf_cli_prom_free(&pr);
        return usage_rc;
    }
    bool from_cluster = optind >= argc;
    /* reading the cluster with no usage input: its own Prometheus */
    bool discover = from_cluster && !pr.url && !csvs.n && !proms.n && !history_path;

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
    /* the policy first: its kai: section names what the snapshot means */
    if (!rc && policy_path) rc = gf_policy_load_file(&pol, policy_path, &err);
    gf_cli_kai_names(&kai, &pol.kai, &m.kai);
    if (!rc) rc = gf_cli_load_model(&cl, argv + optind, argc - optind, &m, &d, &err);
    if (!rc && discover) rc = gf_cli_prom_discover(&pr, &cl, &err);
    if (!rc && history_path) {
        struct stat st;
        if (stat(history_path, &st) == 0) rc = gf_history_load(&h, history_path, &err);
    }
    for (size_t i = 0; !rc && i < csvs.n; i++)
        rc = gf_usage_load_csv(&u, csvs.v[i], &err);
    for (size_t i = 0; !rc && i < proms.n; i++) {
        gf_sbuf b = GF_SBUF_INIT;
        rc = gf_input_read_capped(proms.v[i], "Prometheus answer", &b, &err);
        if (!rc)
            rc = gf_usage_load_prom_json(&u, proms.v[i], gf_sbuf_str(&b), b.len, GF_USAGE_BY_NAME,
                                         &d, &err);
        gf_sbuf_free(&b);
    }
    if (!rc && (pr.url || pr.use_found)) {
        double end = isnan(now) ? (double)time(NULL) : now;
        if (step <= 0) step = fmax(15, ceil(range / 10000));
        rc = gf_cli_prom_fetch(&pr, &cl, end - range, end, step, &u, &d, &err);
    }
    gf_ingest_stats ist = {0}, eng = {0};
    if (!rc) {
        double after = history_path ? gf_history_newest(&h) : -INFINITY;
        rc = gf_recommend_ingest(&m, &h, u.samples.v, u.samples.n, after, &ist, &err);
        /* the engines' own metrics (vLLM, SGLang, TGI), when there are any */
        if (!rc) rc = gf_recommend_ingest_engine(&m, &h, u.engine.v, u.engine.n, after, &eng, &err);
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
    if (!rc) rc = gf_recommend_model(&m, &h, &pol, now, &recs, &err);
    /* staleness against the clock only for live usage, not for recordings */
    bool live = (pr.url || pr.use_found) && !now_text;
    double age_ref = live ? (double)time(NULL) : now;
    if (!rc && live) warn_stale(&m, &h, &u, &recs, age_ref, fmax(600, 3 * step), &d);
    if (!quiet) gf_cli_print_diags(&d, 20);
    if (!rc && history_path) rc = gf_history_save(&h, history_path, &err);
    if (rc) {
        exit_code = fail(&err);
    } else if (patches) {
        exit_code = print_patches(&m, &recs);
    } else if (format == GF_OUT_JSON || format == GF_OUT_YAML) {
        json_t *arr = json_array();
        size_t nodata = 0;
        for (size_t i = 0; i < recs.n; i++) {
            json_array_append_new(arr, rec_json(&recs.v[i], &h, age_ref));
            nodata += recs.v[i].action == GF_REC_NODATA;
        }
        json_t *o =
            json_pack("{s:f, s:o, s:{s:I, s:I, s:I}, s:{s:I, s:I}}", "now", now, "recommendations",
                      arr, "samples", "added", (json_int_t)ist.added, "unmatched",
                      (json_int_t)ist.unmatched, "skipped_old", (json_int_t)ist.old, "summary",
                      "workloads", (json_int_t)recs.n, "no_data", (json_int_t)nodata);
        json_object_set_new(json_object_get(o, "samples"), "engine_added",
                            json_integer((json_int_t)eng.added));
        exit_code = gf_cli_print_doc(o, format, 10);
        json_decref(o);
    } else if (format == GF_OUT_CSV) {
        print_csv(&recs);
    } else {
        print_table(&recs, all);
    }
    if (!rc && !exit_code && no_usage_at_all(&recs)) {
        fprintf(stderr,
                "gpufrac recommend: no usage at all: none of the %zu workloads had a sample, so "
                "nothing was recommended (check the exporter, the Prometheus URL and --range)\n",
                recs.n);
        exit_code = 3;
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
    gf_cli_cluster_free(&cl);
    gf_cli_prom_free(&pr);
    return exit_code;
}
