/* cmd_simulate.c - `gpufrac simulate`: replay a cluster under GPU-sharing
 * policies with synthetic, trace-driven or recorded demand, and compare
 * savings with harm (sim/sim.h); optionally an HTML report. */
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "sim/gen.h"
#include "decide/policy.h"
#include "sim/sim.h"
#include "io/azure_trace.h"
#include "io/history_sqlite.h"
#include "io/policy_yaml.h"
#include "io/report_html.h"
#include "io/snapshot.h"
#include "io/snapshot_write.h"
#include "io/usage.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define USAGE "gpufrac simulate [options]"

static void help(FILE *f)
{
    fprintf(f,
            "usage: gpufrac simulate [options]\n\n"
            "Replays a KAI cluster for days under GPU-sharing policies, on the same demand,\n"
            "and compares what each reserves with the harm it causes: validate a rightsizing\n"
            "policy before automating it. Policies: one-gpu-per-container (whole GPUs),\n"
            "static (fractions as declared), vpa-style (p90 + 15%%, no fast upsize),\n"
            "gpufrac (the policy given; recommend mode simulated as auto), the achievable\n"
            "bounds clairvoyant-static (each workload at its true peak need, known in\n"
            "advance, never resized) and clairvoyant-daily (re-sized once a day at its\n"
            "trough to that day's peak), and oracle (allocation = demand every minute: a\n"
            "fluid bound no system that restarts pods to resize can reach). Each step,\n"
            "usage is sampled as the\n"
            "exporter would, resizes recreate pods (restart delay), pods are placed with\n"
            "KAI's binpack, nodes are consolidated hourly and added when pods are pending.\n\n"
            "cluster (default: --nodes 50):\n"
            "  -c, --cluster FILE     kubectl JSON snapshot (repeatable); pods must carry KAI\n"
            "                         shares (gpu-fraction / gpu-memory); --cluster kube reads\n"
            "                         the cluster itself (--kubeconfig FILE, --context NAME;\n"
            "                         default $KUBECONFIG or ~/.kube/config, in a pod its\n"
            "                         service account)\n"
            "      --nodes N          a generated cluster of N nodes (gen-snapshot's)\n"
            "      --chat-quota S     the generated 'chat' queue's GPU quota, S x the GPUs its\n"
            "                         non-preemptible pods hold (default 0.9: below use, so\n"
            "                         its upsizes hit KAI's quota; 1.5 funds it as the others)\n\n"
            "demand (default builtin):\n"
            "  -d, --demand SOURCE    builtin: inference services (diurnal, bursty, step\n"
            "                         changes, idle, always full)\n"
            "                         azure:PATH: request arrivals of the Azure LLM inference\n"
            "                         trace (TIMESTAMP,ContextTokens,GeneratedTokens) laid\n"
            "                         onto every service with its own offset and scale\n"
            "                         csv:PATH: recorded usage, the CSV `gpufrac recommend\n"
            "                         --usage` reads (needs --cluster with those pods)\n\n"
            "options:\n"
            "  -p, --policy FILE      gpufrac's rightsizing policy (YAML); default built-in\n"
            "      --policies LIST    comma-separated subset of the policies to run\n"
            "      --days N           simulated days (default 7; decimals allowed), after the\n"
            "                         warm-up\n"
            "      --warmup DURATION  cold start first (e.g. 3d): history is collected and\n"
            "                         nothing is resized, as a rollout in recommend mode;\n"
            "                         every figure counts from its end (default 0)\n"
            "      --step DURATION    time step (default 1m)\n"
            "      --consolidate-every DURATION  how often every policy's cluster is\n"
            "                         consolidated (default 1h; 0s: never)\n"
            "      --consolidate-max-nodes N     nodes drained at most per consolidation\n"
            "                         (default 4; 0: no limit)\n"
            "  -s, --seed S           demand and generated cluster seed (default 1)\n"
            "      --scorer NAME      placement: binpack (default), spread, bestfit, fgd\n"
            "  -r, --report FILE      write a self-contained HTML report\n"
            "      --history FILE     save the gpufrac policy's usage history (SQLite) at the end\n"
            "      --snapshot FILE    write the cluster simulated, as declared before the runs\n"
            "                         (kubectl JSON): with --history, `gpufrac recommend\n"
            "                         --history FILE SNAPSHOT` recommends from the simulated\n"
            "                         use as it would from a real cluster's\n"
            "      --fair-use MODE    fair-use protection: act (the fair-use engine enforces\n"
            "                         fair compute shares on a GPU where it finds a compute\n"
            "                         hog), off or report (plain time-slicing); default: the\n"
            "                         policy's fairUse.mode\n"
            "      --engines          model the inference engines found in each service's pod\n"
            "                         spec: a preallocating server (vLLM, SGLang, TGI) shows\n"
            "                         its memory cap flat in NVML and, when its need passes\n"
            "                         the cap, makes requests wait (KV cache short) instead of\n"
            "                         OOMing; a PyTorch caching allocator shows its high-water\n"
            "                         mark until a new pod; default: NVML memory = need.\n"
            "                         --engines=blind: the same, the recommender not told\n"
            "                         the engines (rightsizing on NVML memory: a baseline)\n"
            "  -o, --output FORMAT    table (default), json, yaml, csv (a line a policy)\n"
            "  -q, --quiet            no progress bar, no warnings\n"
            "  -h, --help             this text\n\n" GF_CLI_KAI_HELP "\n"
            "A progress bar goes to standard error when it is a terminal.\n"
            "exit codes: 0 success, 1 runtime failure, 2 usage or input error\n");
}

static int fail(const gf_error *err)
{
    char msg[1100];
    gf_error_format(err, msg, sizeof msg);
    fprintf(stderr, "gpufrac simulate: %s\n", msg);
    return gf_err_exit_code(err->code);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gpufrac simulate: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see gpufrac simulate --help)\n");
    va_end(ap);
    return 2;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || s[0] == '+' || v > max) return false;
    *out = v;
    return true;
}

typedef struct progress {
    bool on;
    int last;
    int policy;     /* the policy being simulated, -1 before the first */
    double start_s; /* when it started (monotonic) */
} progress;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A bar with the share done and the time left for this policy (from its
 * pace so far), on standard error when it is a terminal. */
static void show_progress(void *ctx, gf_sim_policy p, double done)
{
    progress *pr = ctx;
    if (!pr->on) return;
    if ((int)p != pr->policy) {
        pr->policy = (int)p;
        pr->start_s = mono_s();
        pr->last = -1;
    }
    int pct = (int)(done * 100);
    if (pct == pr->last) return;
    pr->last = pct;
    int bar = pct * 30 / 100;
    char eta[32] = "";
    double spent = mono_s() - pr->start_s;
    if (done > 0.02 && done < 1)
        snprintf(eta, sizeof eta, "  ETA %.0f s ", spent / done * (1 - done));
    fprintf(stderr, "\r%-22s [%.*s%*s] %3d%%%-14s", gf_sim_policy_name(p), bar,
            "##############################", 30 - bar, "", pct, eta);
    if (done >= 1) fprintf(stderr, "\n");
    fflush(stderr);
}

static void print_workloads(const gf_sim_report *r);

static void print_table(const gf_sim_report *r, const char *cluster, const char *demand,
                        uint64_t seed)
{
    char d1[32];
    printf("Simulated %.4g days at %s steps: %s; %u GPU services (%u pods), %s demand, seed "
           "%llu\n",
           r->duration_s / 86400, gf_format_duration((int64_t)r->step_s, d1, sizeof d1), cluster,
           r->services, r->service_pods, demand, (unsigned long long)seed);
    printf("Demand mix: %.0f%% of containers use their full GPU (as sized), median use %.2f of "
           "the allocation, %.0f%% under half; %.0f%% exceed their allocation at some point\n\n",
           100 * r->mix.full_share, r->mix.median_use, 100 * r->mix.under_half,
           100 * r->mix.over_share);
    const gf_sim_result *base = r->policy[GF_SIM_STATIC].ran ? &r->policy[GF_SIM_STATIC] : NULL;
    printf("%-22s %9s %7s %11s %11s %6s %9s %9s %8s %8s %8s\n", "POLICY", "GPU-HOURS", "VS-STAT",
           "GPUS", "NODES", "OOMS", "THROTTLE", "PENDING", "RESTART", "RESIZE", "SAVED");
    printf("%-22s %9s %7s %11s %11s %6s %9s %9s %8s %8s %8s\n", "", "reserved", "", "peak/mean",
           "peak/mean", "", "pod-min", "pod-min", "pods", "/wl/day", "GPU-h");
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        const gf_sim_result *x = &r->policy[p];
        if (!x->ran) continue;
        char vs[16] = "-", gpus[32], nodes[32], saved[24] = "-";
        if (base && base->gpu_hours_reserved > 0)
            snprintf(vs, sizeof vs, "%+.0f%%",
                     100 * (x->gpu_hours_reserved / base->gpu_hours_reserved - 1));
        snprintf(gpus, sizeof gpus, "%.0f/%.1f", x->gpus_peak, x->gpus_mean);
        snprintf(nodes, sizeof nodes, "%.0f/%.1f", x->nodes_peak, x->nodes_mean);
        if (base)
            snprintf(saved, sizeof saved, "%.0f",
                     base->gpu_hours_provisioned - x->gpu_hours_provisioned);
        char resize[16] = "-";
        if (p == GF_SIM_VPA || p == GF_SIM_GPUFRAC || p == GF_SIM_CLAIRVOYANT_DAILY)
            snprintf(resize, sizeof resize, "%.2f", x->resizes_per_workload_day);
        printf("%-22s %9.1f %7s %11s %11s %6llu %9.0f %9.0f %8llu %8s %8s\n",
               gf_sim_policy_name((gf_sim_policy)p), x->gpu_hours_reserved, vs, gpus, nodes,
               (unsigned long long)x->ooms, x->throttled_min, x->pending_min,
               (unsigned long long)(x->restarts_resize + x->restarts_move), resize, saved);
    }
    printf("\nNeighbours slowed within their fraction (pod-min) / fair-use actions:");
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (r->policy[p].ran && p != GF_SIM_ONE_GPU && p != GF_SIM_ORACLE)
            printf(" %s %.0f/%llu", gf_sim_policy_name((gf_sim_policy)p),
                   r->policy[p].neighbour_min, (unsigned long long)r->policy[p].fairuse_actions);
    printf("\n");
    if (r->engine_services[GF_MEM_PREALLOCATES] || r->engine_services[GF_MEM_HIGH_WATER]) {
        printf("Engines: %u preallocating (vLLM-like), %u caching-allocator, %u generic services. "
               "KV cache short (pod-min) / preemption spells / upsizes on NVML memory alone:",
               r->engine_services[GF_MEM_PREALLOCATES], r->engine_services[GF_MEM_HIGH_WATER],
               r->engine_services[GF_MEM_FOLLOWS_LOAD]);
        for (int p = 0; p < GF_SIM_NPOLICIES; p++)
            if (r->policy[p].ran && p != GF_SIM_ORACLE)
                printf(" %s %.0f/%llu/%llu", gf_sim_policy_name((gf_sim_policy)p),
                       r->policy[p].kv_starved_min, (unsigned long long)r->policy[p].preemptions,
                       (unsigned long long)r->policy[p].nvml_flat_upsizes);
        printf("\n");
    }
    if (r->whole_services && r->policy[GF_SIM_GPUFRAC].ran)
        printf("Whole-GPU services (nvidia.com/gpu) moved onto a fraction by gpufrac: %u of %u\n",
               r->policy[GF_SIM_GPUFRAC].conversions, r->whole_services);
    const gf_sim_result *g = &r->policy[GF_SIM_GPUFRAC];
    if (g->ran && g->stalls) {
        printf("gpufrac resizes that stalled (new pods not placed within stallTimeout): %u\n",
               g->stalls);
        for (uint32_t k = 0; k < g->stalls && k < GF_SIM_MAX_STALLS; k++) {
            const gf_sim_stall *st = &g->stall_list[k];
            char when[32] = "?";
            gf_format_duration((int64_t)(st->t - r->start_t), when, sizeof when);
            printf("  %s: %.2f -> %.2f of a GPU, stalled at +%s: %s\n", st->workload, st->from,
                   st->to, when, st->reverted ? "reverted" : "held");
        }
    }
    if (g->ran && g->quota_blocked) {
        printf("Upsizes blocked by KAI queue quota (non-preemptible, surge included; not applied): "
               "%llu, %u service%s:\n",
               (unsigned long long)g->quota_blocked, g->n_blocked, g->n_blocked == 1 ? "" : "s");
        for (uint32_t i = 0; i < g->n_blocked; i++) {
            const gf_sim_blocked *b = &g->blocked[i];
            printf("  %s  %.2f -> %.2f  queue %s quota %.2f, allocated %.2f, +%.2f  (first at "
                   "hour %.1f)\n",
                   b->name, b->from_fraction, b->to_fraction, b->queue, b->quota_gpus,
                   b->allocated_gpus, b->delta_gpus, (b->t - r->start_t) / 3600.0);
        }
    }
    printf("\nGPU-HOURS: the services' allocations held. clairvoyant-*: the best a static / "
           "daily\nsizing can do (true peaks known in advance); oracle: a fluid bound (allocation "
           "=\ndemand each step, nothing placed), not achievable. GPUS, NODES: GPU nodes in "
           "service after\nconsolidation, from hour 6 (oracle: a fluid bound). THROTTLE: SM demand "
           "above "
           "the fraction\non a contended GPU. PENDING: unplaced or waiting for a node. RESTART: "
           "pods recreated by\nresizes and moves. SAVED: GPU-hours of GPU nodes in service "
           "below static.\n");
    print_workloads(r);
}

/* One line per policy that ran: the table's figures, unrounded. */
static void print_csv(const gf_sim_report *r)
{
    printf("policy,gpu_hours_reserved,oom_kills,throttled_min,pending_min,restarts_resize,"
           "restarts_move,neighbour_min,fairuse_actions,kv_starved_min,preemptions\n");
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        const gf_sim_result *x = &r->policy[p];
        if (!x->ran) continue;
        printf("%s,%.4f,%llu,%.1f,%.1f,%llu,%llu,%.1f,%llu,%.1f,%llu\n",
               gf_sim_policy_name((gf_sim_policy)p), x->gpu_hours_reserved,
               (unsigned long long)x->ooms, x->throttled_min, x->pending_min,
               (unsigned long long)x->restarts_resize, (unsigned long long)x->restarts_move,
               x->neighbour_min, (unsigned long long)x->fairuse_actions, x->kv_starved_min,
               (unsigned long long)x->preemptions);
    }
}

static json_t *result_json(const gf_sim_result *x, gf_sim_policy p)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(gf_sim_policy_name(p)));
    json_object_set_new(o, "gpu_hours_reserved", json_real(x->gpu_hours_reserved));
    json_object_set_new(o, "gpu_hours_used", json_real(x->gpu_hours_used));
    json_object_set_new(o, "gpu_hours_provisioned", json_real(x->gpu_hours_provisioned));
    json_object_set_new(o, "gpus",
                        json_pack("{s:f, s:f}", "peak", x->gpus_peak, "mean", x->gpus_mean));
    json_object_set_new(o, "nodes",
                        json_pack("{s:f, s:f}", "peak", x->nodes_peak, "mean", x->nodes_mean));
    json_object_set_new(
        o, "harm",
        json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "ooms", (json_int_t)x->ooms,
                  "throttled_minutes", x->throttled_min, "neighbour_slowed_minutes",
                  x->neighbour_min, "pending_minutes", x->pending_min, "unavailable_minutes",
                  x->unavailable_min, "surge_pod_minutes", x->surge_min, "restarts_resize",
                  (json_int_t)x->restarts_resize, "restarts_move", (json_int_t)x->restarts_move));
    json_t *kept = json_object();
    for (int j = 0; j < GF_SIM_MAX_KEPT && x->kept[j].reason; j++)
        json_object_set_new(kept, x->kept[j].reason, json_integer((json_int_t)x->kept[j].nodes));
    json_object_set_new(o, "consolidation",
                        json_pack("{s:I, s:I, s:I, s:o}", "drains_planned",
                                  (json_int_t)x->drains_planned, "drains_capped",
                                  (json_int_t)x->drains_capped, "drains_rollout",
                                  (json_int_t)x->drains_rollout, "kept_node_plans", kept));
    json_object_set_new(o, "actions",
                        json_pack("{s:I, s:I, s:I, s:f, s:i, s:I, s:I, s:I, s:I, s:I}", "resizes",
                                  (json_int_t)x->resizes, "upsizes", (json_int_t)x->upsizes,
                                  "downsizes", (json_int_t)x->downsizes, "resizes_per_workload_day",
                                  x->resizes_per_workload_day, "rightsized_workloads",
                                  (int)x->rightsized_workloads, "moves", (json_int_t)x->moves,
                                  "nodes_drained", (json_int_t)x->nodes_drained, "nodes_added",
                                  (json_int_t)x->nodes_added, "consolidations",
                                  (json_int_t)x->consolidations, "fairuse_actions",
                                  (json_int_t)x->fairuse_actions));
    json_object_set_new(json_object_get(o, "actions"), "conversions", json_integer(x->conversions));
    if (p == GF_SIM_GPUFRAC) {
        json_t *list = json_array();
        for (uint32_t k = 0; k < x->stalls && k < GF_SIM_MAX_STALLS; k++) {
            const gf_sim_stall *st = &x->stall_list[k];
            json_array_append_new(list, json_pack("{s:s, s:f, s:f, s:f, s:b}", "workload",
                                                  st->workload, "t", st->t, "from", st->from, "to",
                                                  st->to, "reverted", st->reverted));
        }
        json_object_set_new(o, "stalls",
                            json_pack("{s:i, s:o}", "count", (int)x->stalls, "first", list));
    }
    json_t *blocked = json_array();
    for (uint32_t i = 0; i < x->n_blocked; i++) {
        const gf_sim_blocked *b = &x->blocked[i];
        json_array_append_new(
            blocked, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "service", b->name,
                               "queue", b->queue, "t", b->t, "quota_gpus", b->quota_gpus,
                               "allocated_gpus", b->allocated_gpus, "delta_gpus", b->delta_gpus,
                               "from_fraction", b->from_fraction, "to_fraction", b->to_fraction));
    }
    json_object_set_new(o, "quota_blocked",
                        json_pack("{s:I, s:I, s:o}", "upsizes", (json_int_t)x->quota_blocked,
                                  "downsizes_held", (json_int_t)x->quota_held_downsizes, "services",
                                  blocked));
    json_t *harm = json_object_get(o, "harm");
    json_object_set_new(harm, "kv_starved_minutes", json_real(x->kv_starved_min));
    json_object_set_new(harm, "preemptions", json_integer((json_int_t)x->preemptions));
    json_object_set_new(json_object_get(o, "actions"), "nvml_only_upsizes",
                        json_integer((json_int_t)x->nvml_flat_upsizes));
    json_object_set_new(json_object_get(o, "actions"), "preallocating_upsizes",
                        json_integer((json_int_t)x->prealloc_upsizes));
    json_object_set_new(json_object_get(o, "actions"), "preallocating_downsizes",
                        json_integer((json_int_t)x->prealloc_downsizes));
    return o;
}

static json_t *alloc_json(gf_share_kind unit, double fraction, int64_t mib, uint32_t whole)
{
    if (whole) return json_pack("{s:s, s:i}", "unit", "whole-gpu", "gpus", (int)whole);
    if (unit == GF_SHARE_MEMORY)
        return json_pack("{s:s, s:I, s:f}", "unit", "gpu-memory", "mib", (json_int_t)mib,
                         "fraction", fraction);
    return json_pack("{s:s, s:f}", "unit", "gpu-fraction", "fraction", fraction);
}

/* The per-workload table (the report's #workloads), every workload, by saving. */
static json_t *workloads_json(const gf_sim_report *r)
{
    json_t *a = json_array();
    if (gf_sim_workload_policy(r) == GF_SIM_NPOLICIES || !r->svc) return a;
    uint32_t *order;
    gf_sim_workloads_by_saving(r, &order);
    for (uint32_t k = 0; k < r->services; k++) {
        gf_sim_workload_row w;
        gf_sim_workload_row_get(r, order[k], &w);
        const gf_sim_svc_info *in = w.info;
        const gf_sim_svc_result *x = w.final;
        json_t *o =
            json_pack("{s:s, s:s, s:i, s:i, s:o, s:o, s:f, s:f, s:s, s:{s:I, s:f, s:f}, s:i, s:f}",
                      "name", in->name, "policy", gf_sim_policy_name(w.policy), "pods",
                      (int)in->pods, "devices", (int)in->devices, "declared",
                      alloc_json(in->unit, in->fraction, in->memory_mib, in->whole), "final",
                      alloc_json(x->unit, x->fraction, x->memory_mib, x->whole), "peak_use",
                      in->peak_need, "headroom", w.headroom, "risk", gf_sim_risk_name(w.risk),
                      "harm", "ooms", (json_int_t)x->ooms, "throttled_minutes", x->throttled_min,
                      "pending_minutes", x->pending_min, "resizes", (int)x->resizes,
                      "gpu_hours_reserved", x->gpu_hours_reserved);
        json_object_set_new(o, "peak_memory", json_real(in->peak_memory));
        if (w.has_static) {
            json_object_set_new(o, "static_gpu_hours_reserved", json_real(w.static_gpu_hours));
            json_object_set_new(o, "saved_gpu_hours", json_real(w.saved_gpu_hours));
        }
        json_array_append_new(a, o);
    }
    free(order);
    return a;
}

#define TEXT_WORKLOADS 10 /* rows of the text table; -o json has them all */

static void print_workloads(const gf_sim_report *r)
{
    gf_sim_policy tp = gf_sim_workload_policy(r);
    if (tp == GF_SIM_NPOLICIES || !r->svc || !r->services) return;
    uint32_t *order;
    gf_sim_workloads_by_saving(r, &order);
    uint32_t n = r->services < TEXT_WORKLOADS ? r->services : TEXT_WORKLOADS;
    printf("\nPer workload under %s (%s%u of %u, by GPU-hours saved; all in -o json):\n",
           gf_sim_policy_name(tp), n < r->services ? "the top " : "", n, r->services);
    printf("%-40s %8s %6s %8s %6s %5s %9s %8s\n", "WORKLOAD", "FINAL", "PEAK", "HEADROOM", "RISK",
           "OOMS", "THROTTLE", "SAVED");
    for (uint32_t k = 0; k < n; k++) {
        gf_sim_workload_row w;
        gf_sim_workload_row_get(r, order[k], &w);
        char fin[32], saved[24] = "-";
        if (w.final->whole)
            snprintf(fin, sizeof fin, "%ugpu", w.final->whole);
        else if (w.final->unit == GF_SHARE_MEMORY)
            snprintf(fin, sizeof fin, "%lldMi", (long long)w.final->memory_mib);
        else
            snprintf(fin, sizeof fin, "%.2f", w.final->fraction);
        if (w.has_static) snprintf(saved, sizeof saved, "%.1f", w.saved_gpu_hours);
        printf("%-40.40s %8s %6.2f %+8.2f %6s %5llu %9.0f %8s\n", w.info->name, fin,
               w.info->peak_need, w.headroom, gf_sim_risk_name(w.risk),
               (unsigned long long)w.final->ooms, w.final->throttled_min, saved);
    }
    free(order);
}

static int print_json(const gf_sim_report *r, const char *cluster, const char *demand,
                      uint64_t seed, gf_cli_format format)
{
    json_t *pols = json_array();
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (r->policy[p].ran)
            json_array_append_new(pols, result_json(&r->policy[p], (gf_sim_policy)p));
    json_t *shapes = json_object();
    for (int s = 0; s < GF_SHAPE_COUNT; s++)
        if (r->mix.shape_share[s] > 0)
            json_object_set_new(shapes, gf_demand_shape_name((gf_demand_shape)s),
                                json_real(r->mix.shape_share[s]));
    json_t *o =
        json_pack("{s:{s:s, s:s, s:I, s:f, s:f, s:f, s:i, s:i, s:i, s:i, s:i, s:i}, "
                  "s:{s:f, s:f, s:f, s:f, s:f, s:o}, s:o}",
                  "simulation", "cluster", cluster, "demand", demand, "seed", (json_int_t)seed,
                  "start", r->start_t, "step_seconds", r->step_s, "days", r->duration_s / 86400,
                  "steps", (int)r->n_steps, "gpu_nodes", (int)r->gpu_nodes, "gpus", (int)r->gpus,
                  "spare_nodes", (int)r->spare_nodes, "services", (int)r->services, "service_pods",
                  (int)r->service_pods, "demand_mix", "full_share", r->mix.full_share, "median_use",
                  r->mix.median_use, "under_half", r->mix.under_half, "mean_use", r->mix.mean_use,
                  "over_share", r->mix.over_share, "shapes", shapes, "policies", pols);
    json_object_set_new(json_object_get(o, "simulation"), "whole_gpu_services",
                        json_integer(r->whole_services));
    json_object_set_new(o, "workloads", workloads_json(r));
    json_object_set_new(json_object_get(o, "demand_mix"), "engines",
                        json_pack("{s:i, s:i, s:i}", "generic",
                                  (int)r->engine_services[GF_MEM_FOLLOWS_LOAD], "preallocating",
                                  (int)r->engine_services[GF_MEM_PREALLOCATES], "high_water",
                                  (int)r->engine_services[GF_MEM_HIGH_WATER]));
    int rc = gf_cli_print_doc(o, format, 10);
    json_decref(o);
    return rc;
}

static gf_err parse_policies(const char *s, uint32_t *mask, gf_error *err)
{
    *mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int p = 0;
        while (p < GF_SIM_NPOLICIES && strcmp(tok, gf_sim_policy_name((gf_sim_policy)p)))
            p++;
        if (p == GF_SIM_NPOLICIES)
            return gf_error_set(err, GF_EUSAGE, "--policies",
                                "unknown policy '%s' (one-gpu-per-container, static, vpa-style, "
                                "gpufrac, clairvoyant-static, clairvoyant-daily, oracle)",
                                tok);
        *mask |= 1u << p;
    }
    if (!*mask) return gf_error_set(err, GF_EUSAGE, "--policies", "no policy named");
    return GF_OK;
}

/* The simulated cluster as kubectl JSON; the file only when it is whole. */
static gf_err write_snapshot(const gf_model *m, const char *path, gf_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return gf_error_set(err, GF_EIO, path, "cannot create: %s", strerror(errno));
    gf_err rc = gf_snapshot_write(m, f, err);
    if (fclose(f) != 0 && !rc)
        rc = gf_error_set(err, GF_EIO, path, "write failed: %s", strerror(errno));
    if (rc) {
        if (!err->where[0]) snprintf(err->where, sizeof err->where, "%s", path);
        remove(path);
    }
    return rc;
}

/* A duration option's value in [lo, hi] seconds, else a usage error naming
 * the flag, the value and why (range: the bounds as the user writes them). */
static gf_err duration_opt(const char *flag, const char *text, int64_t lo, int64_t hi,
                           const char *range, int64_t *out, gf_error *err)
{
    const char *why = NULL;
    if (gf_parse_duration(text, out, &why) && *out >= lo && *out <= hi) return GF_OK;
    if (why) return gf_error_set(err, GF_EUSAGE, flag, "'%s': %s", text, why);
    return gf_error_set(err, GF_EUSAGE, flag, "'%s': expected a duration from %s", text, range);
}

int gf_cmd_simulate(int argc, char **argv)
{
    enum {
        OPT_POLICIES = 256,
        OPT_DAYS,
        OPT_STEP,
        OPT_SCORER,
        OPT_HISTORY,
        OPT_SNAPSHOT,
        OPT_FAIR_USE,
        OPT_WARMUP,
        OPT_ENGINES,
        OPT_CHAT_QUOTA,
        OPT_CON_EVERY,
        OPT_CON_MAX
    };
    static const struct option opts[] = {
        {"cluster", required_argument, NULL, 'c'},
        {"nodes", required_argument, NULL, 'n'},
        {"demand", required_argument, NULL, 'd'},
        {"policy", required_argument, NULL, 'p'},
        {"policies", required_argument, NULL, OPT_POLICIES},
        {"days", required_argument, NULL, OPT_DAYS},
        {"step", required_argument, NULL, OPT_STEP},
        {"seed", required_argument, NULL, 's'},
        {"scorer", required_argument, NULL, OPT_SCORER},
        {"report", required_argument, NULL, 'r'},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
        {"fair-use", required_argument, NULL, OPT_FAIR_USE},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"engines", optional_argument, NULL, OPT_ENGINES},
        {"chat-quota", required_argument, NULL, OPT_CHAT_QUOTA},
        {"consolidate-every", required_argument, NULL, OPT_CON_EVERY},
        {"consolidate-max-nodes", required_argument, NULL, OPT_CON_MAX},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        GF_CLI_KAI_OPTIONS,
        {"kubeconfig", required_argument, NULL, GF_OPT_KUBECONFIG},
        {"context", required_argument, NULL, GF_OPT_CONTEXT},
        {NULL, 0, NULL, 0}};
    GF_VEC(char *) clusters = {0};
    gf_cli_cluster cl;
    gf_cli_cluster_init(&cl);
    bool live = false;
    const char *demand = "builtin", *policy_path = NULL, *report_path = NULL;
    const char *history_path = NULL, *snapshot_path = NULL;
    const char *policies_text = NULL, *days_text = "7", *step_text = "1m", *scorer_text = NULL,
               *warmup_text = NULL, *con_every_text = NULL;
    uint64_t nodes = 0, seed = 1, con_max = 4;
    double chat_quota = 0.9;
    bool quiet = false;
    gf_cli_format format = GF_OUT_TABLE;
    gf_sim_fair fair_use = GF_SIM_FAIR_POLICY;
    bool engines = false, engines_blind = false;
    int c, usage_rc = -1;
    optind = 1;
    gf_cli_kai kai = {0};
    opterr = 0;
    while (usage_rc < 0 && (c = getopt_long(argc, argv, "c:d:p:s:r:o:qh", opts, NULL)) != -1) {
        if (gf_cli_kai_option(&kai, c, optarg)) continue;
        if (c == GF_OPT_KUBECONFIG || c == GF_OPT_CONTEXT) {
            gf_cli_cluster_option(&cl, "simulate", c, optarg, &usage_rc);
            continue;
        }
        switch (c) {
        case 'c':
            if (!strcmp(optarg, "kube"))
                live = true;
            else
                gf_vec_push(&clusters, optarg);
            break;
        case 'n':
            if (!parse_u64(optarg, GF_GEN_MAX_NODES, &nodes) || nodes == 0)
                usage_rc = usage_error("--nodes '%s': expected a node count of at least 1", optarg);
            break;
        case OPT_CHAT_QUOTA: {
            char *end;
            errno = 0;
            chat_quota = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(chat_quota >= 0 && chat_quota <= 10))
                usage_rc = usage_error("--chat-quota '%s': expected a share of 0 .. 10", optarg);
            break;
        }
        case 'd':
            demand = optarg;
            break;
        case 'p':
            policy_path = optarg;
            break;
        case OPT_POLICIES:
            policies_text = optarg;
            break;
        case OPT_DAYS:
            days_text = optarg;
            break;
        case OPT_STEP:
            step_text = optarg;
            break;
        case OPT_WARMUP:
            warmup_text = optarg;
            break;
        case OPT_CON_EVERY:
            con_every_text = optarg;
            break;
        case OPT_CON_MAX:
            if (!parse_u64(optarg, 100000, &con_max))
                usage_rc = usage_error(
                    "--consolidate-max-nodes '%s': expected a node count of 0 .. 100000", optarg);
            break;
        case 's':
            if (!parse_u64(optarg, UINT64_MAX, &seed))
                usage_rc = usage_error("--seed '%s': expected a non-negative integer", optarg);
            break;
        case OPT_SCORER:
            scorer_text = optarg;
            break;
        case 'r':
            report_path = optarg;
            break;
        case OPT_HISTORY:
            history_path = optarg;
            break;
        case OPT_SNAPSHOT:
            snapshot_path = optarg;
            break;
        case OPT_ENGINES:
            engines = true;
            if (optarg && !strcmp(optarg, "blind"))
                engines_blind = true;
            else if (optarg)
                usage_rc = usage_error("--engines=%s: use --engines or --engines=blind", optarg);
            break;
        case OPT_FAIR_USE:
            if (!strcmp(optarg, "act"))
                fair_use = GF_SIM_FAIR_ACT;
            else if (!strcmp(optarg, "off") || !strcmp(optarg, "report"))
                fair_use = GF_SIM_FAIR_OFF;
            else
                usage_rc = usage_error("--fair-use '%s': use off, report or act", optarg);
            break;
        case 'o':
            if (!gf_cli_parse_format("simulate", optarg,
                                     GF_OUT_TABLE | GF_OUT_JSON | GF_OUT_YAML | GF_OUT_CSV,
                                     &format))
                usage_rc = 2;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            help(stdout);
            usage_rc = 0;
            break;
        default:
            usage_rc = gf_cli_bad_option("simulate", USAGE, "c:d:p:s:r:o:qh", argc, argv);
            break;
        }
    }
    if (usage_rc < 0 && optind < argc)
        usage_rc =
            usage_error("unexpected argument '%s' (the cluster goes with --cluster)", argv[optind]);
    if (usage_rc < 0 && (clusters.n || live) && nodes)
        usage_rc = usage_error("%s", "--cluster and --nodes exclude each other");
    if (usage_rc < 0 && clusters.n && live)
        usage_rc = usage_error("%s", "--cluster kube reads the cluster: give it without files");
    if (usage_rc < 0 && !live && (cl.kubeconfig || cl.context))
        usage_rc = usage_error("%s", "--kubeconfig and --context go with --cluster kube");
    if (usage_rc >= 0) {
        gf_vec_free(&clusters);
        gf_cli_cluster_free(&cl);
        return usage_rc;
    }

    gf_error err = {0};
    gf_err rc = GF_OK;
    gf_sim_opts so;
    gf_sim_opts_default(&so);
    /* options */
    char *end;
    errno = 0;
    double days = strtod(days_text, &end);
    if (!*days_text || *end || errno || !(days > 0 && days <= 366))
        rc = gf_error_set(&err, GF_EUSAGE, "--days", "'%s': expected a number of days in (0, 366]",
                          days_text);
    int64_t step = 0;
    if (!rc) rc = duration_opt("--step", step_text, 1, 3600, "1s to 1h", &step, &err);
    int64_t warmup = 0;
    if (!rc && warmup_text)
        rc = duration_opt("--warmup", warmup_text, 0, 30 * 86400, "0 to 30d", &warmup, &err);
    int64_t con_every = 3600;
    if (!rc && con_every_text)
        rc = duration_opt("--consolidate-every", con_every_text, 0, 30 * 86400, "0 to 30d",
                          &con_every, &err);
    if (!rc && policies_text) rc = parse_policies(policies_text, &so.policies, &err);
    if (!rc && scorer_text && gf_scorer_parse(scorer_text, &so.scorer))
        rc = gf_error_set(&err, GF_EUSAGE, "--scorer", "'%s': use binpack, spread, bestfit or fgd",
                          scorer_text);
    enum { D_BUILTIN, D_AZURE, D_CSV } dkind = D_BUILTIN;
    const char *dpath = NULL;
    if (!rc) {
        if (!strcmp(demand, "builtin")) {
            dkind = D_BUILTIN;
        } else if (!strncmp(demand, "azure:", 6) && demand[6]) {
            dkind = D_AZURE;
            dpath = demand + 6;
        } else if (!strncmp(demand, "csv:", 4) && demand[4]) {
            dkind = D_CSV;
            dpath = demand + 4;
        } else {
            rc = gf_error_set(&err, GF_EUSAGE, "--demand",
                              "'%s': use builtin, azure:PATH or csv:PATH", demand);
        }
    }
    if (!rc && dkind == D_CSV && !clusters.n && !live)
        rc = gf_error_set(&err, GF_EUSAGE, "--demand",
                          "csv demand names pods: give the cluster they ran in with --cluster");
    so.duration_s = days * 86400 + (double)warmup;
    so.cold_start_s = (double)warmup;
    so.step_s = (double)step;
    so.consolidate_every_s = (double)con_every;
    so.consolidate_max_nodes = (uint32_t)con_max;

    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_policy pol;
    gf_policy_init(&pol);
    gf_request_trace tr;
    gf_request_trace_init(&tr);
    gf_usage u;
    gf_usage_init(&u);
    gf_demand dem;
    gf_demand_init(&dem);
    gf_sim *sim = NULL;
    gf_sim_report rep;
    memset(&rep, 0, sizeof rep);
    char cluster_desc[600];
    if (!rc && policy_path) rc = gf_policy_load_file(&pol, policy_path, &err);
    gf_cli_kai_names(&kai, &pol.kai, &m.kai);
    if (!rc && live) {
        rc = gf_cli_load_model(&cl, NULL, 0, &m, &d, &err);
        snprintf(cluster_desc, sizeof cluster_desc, "%.500s", cl.origin);
    } else if (!rc && clusters.n) {
        rc = gf_snapshot_load_files(&m, clusters.v, (int)clusters.n, &d, &err);
        snprintf(cluster_desc, sizeof cluster_desc, "%s%s", clusters.v[0],
                 clusters.n > 1 ? " (and more)" : "");
    } else if (!rc) {
        gf_gen_opts go;
        gf_gen_opts_default(&go);
        go.nodes = nodes ? (uint32_t)nodes : 50;
        go.seed = seed;
        go.chat_quota_share = chat_quota;
        rc = gf_gen_cluster(&m, &go, &d, &err);
        snprintf(cluster_desc, sizeof cluster_desc, "generated cluster of %u nodes (seed %llu)",
                 go.nodes, (unsigned long long)seed);
    }
    if (!rc && dkind == D_AZURE) rc = gf_azure_trace_load(&tr, dpath, &err);
    if (!rc && dkind == D_CSV) rc = gf_usage_load_csv(&u, dpath, &err);
    if (!quiet) gf_cli_print_diags(&d, 20);
    progress pr = {!quiet && isatty(fileno(stderr)), -1, -1, 0};
    so.policy = policy_path ? &pol : NULL;
    so.fair_use = fair_use;
    so.engines = engines;
    so.engines_blind = engines_blind;
    so.progress = show_progress;
    so.progress_ctx = &pr;
    gf_history kept;
    bool have_kept = false;
    if (!rc && history_path) {
        rc = gf_history_init(&kept, NULL, &err);
        have_kept = true;
        so.keep_history = &kept;
    }
    if (!rc) rc = gf_sim_new(&m, &so, &sim, &err);
    if (!rc) {
        gf_demand_opts dopt;
        gf_sim_demand_opts(sim, seed, &dopt);
        const gf_sim_service *svc;
        size_t nsvc = gf_sim_services(sim, &svc);
        if (dkind == D_BUILTIN) {
            rc = gf_demand_builtin(&dem, &dopt, gf_sim_scales(sim), nsvc, &err);
        } else if (dkind == D_AZURE) {
            rc = gf_demand_trace(&dem, &dopt, &tr, gf_sim_scales(sim), nsvc, &err);
            if (rc && err.where[0] == 'd') snprintf(err.where, sizeof err.where, "%s", dpath);
        } else {
            size_t unmatched = 0, empty = 0;
            rc = gf_sim_demand_from_usage(sim, u.samples.v, u.samples.n, &dem, &unmatched, &empty,
                                          &err);
            if (rc && !strcmp(err.where, "usage"))
                snprintf(err.where, sizeof err.where, "%s", dpath);
            if (!rc && !quiet && unmatched)
                fprintf(stderr,
                        "gpufrac simulate: warning: %s: %zu samples of pods outside the "
                        "cluster's GPU services skipped\n",
                        dpath, unmatched);
            if (!rc && !quiet && empty)
                fprintf(stderr,
                        "gpufrac simulate: warning: %s: %zu of %zu services have no samples: "
                        "simulated idle\n",
                        dpath, empty, nsvc);
        }
    }
    if (!rc) rc = gf_sim_run(sim, &dem, &rep, &err);
    if (!rc && history_path && !rep.policy[GF_SIM_GPUFRAC].ran)
        rc =
            gf_error_set(&err, GF_EUSAGE, "--history", "needs the gpufrac policy among --policies");
    if (!rc && history_path) rc = gf_history_save(&kept, history_path, &err);
    /* the cluster the runs started from, as declared (generated, loaded or
     * read live): its pods' KAI GPU groups and reservation pods agree with
     * their nodes. The simulator's own model would not do: its pods keep the
     * labels they were copied with while the last policy's run moved them,
     * and it holds the spare nodes no real cluster has. */
    if (!rc && snapshot_path) rc = write_snapshot(&m, snapshot_path, &err);
    int exit_code = 0;
    char demand_desc[600];
    snprintf(demand_desc, sizeof demand_desc, "%s", demand);
    if (rc) {
        exit_code = fail(&err);
    } else {
        if (report_path) {
            gf_report_meta meta = {cluster_desc, demand_desc, policy_path, seed, "gpufrac 0.1.0"};
            gf_err wrc = gf_report_html_write(report_path, &rep, &meta, &err);
            if (wrc) exit_code = fail(&err);
        }
        if (!exit_code) {
            if (format == GF_OUT_CSV)
                print_csv(&rep);
            else if (format != GF_OUT_TABLE)
                exit_code = print_json(&rep, cluster_desc, demand_desc, seed, format);
            else
                print_table(&rep, cluster_desc, demand_desc, seed);
        }
    }
    if (fflush(stdout) != 0) exit_code = 1;
    gf_sim_report_free(&rep);
    gf_sim_free(sim);
    if (have_kept) gf_history_free(&kept);
    gf_demand_free(&dem);
    gf_usage_free(&u);
    gf_request_trace_free(&tr);
    gf_policy_free(&pol);
    gf_diags_free(&d);
    gf_model_free(&m);
    gf_vec_free(&clusters);
    gf_cli_cluster_free(&cl);
    return exit_code;
}
