/* cmd_inspect.c - `gpufrac inspect`: GPUs, their sharing pods and
 * fragmentation, per pool and node, from kubectl JSON snapshots or the
 * cluster itself. */
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "model/engine.h"
#include "model/model.h"
#include "io/snapshot.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define USAGE "gpufrac inspect [-o table|json|yaml|csv] [--summary] [--pool NAME] [SNAPSHOT...]"

static void help(FILE *f)
{
    fprintf(f, "usage: " USAGE "\n\n"
               "Reads the cluster (no SNAPSHOT: through your kubeconfig, as kubectl does), or\n"
               "Kubernetes objects printed by `kubectl get nodes,pods -A -o json` (several\n"
               "files may be given; ReplicaSets/Deployments/StatefulSets are used to resolve\n"
               "owners; '-' reads standard input) and shows, per node pool and\n"
               "node, each GPU with the pods sharing it, its allocated and free fraction\n"
               "(memory-based, as KAI Scheduler counts it), and totals: GPUs held whole,\n"
               "shared and idle, and fragmentation (free fractions stranded on partially\n"
               "used shared GPUs).\n\n"
               "options:\n"
               "  -o, --output FORMAT  table (default), json, yaml, or csv (one line per GPU)\n"
               "  -s, --summary        totals per pool and cluster only, no per-node lines\n"
               "  -p, --pool NAME      only this node pool\n"
               "  -q, --quiet          do not print warnings\n"
               "  -h, --help           this text\n" GF_CLI_CLUSTER_HELP "\n" GF_CLI_KAI_HELP "\n"
               "exit codes: 0 success, 1 runtime failure (cluster unreachable), 2 usage or\n"
               "input error\n");
}

static void pod_label(const gf_model *m, const gf_pod *p, const gf_node *n, char *buf, size_t len)
{
    gf_engine_info e;
    gf_engine_detect(p, &e, NULL);
    char eng[40] = "";
    if (e.kind != GF_ENGINE_GENERIC) snprintf(eng, sizeof eng, " [%s]", gf_engine_name(e.kind));
    if (p->share == GF_SHARE_FRACTION)
        snprintf(buf, len, "%s/%s %.2f%s", p->ns, p->name, p->gpu_fraction, eng);
    else if (p->share == GF_SHARE_MEMORY)
        snprintf(buf, len, "%s/%s %.2f (%lld MiB)%s", p->ns, p->name,
                 gf_pod_share_on(p, n->gpu_memory_mib), (long long)p->gpu_memory_mib, eng);
    else
        snprintf(buf, len, "%s/%s%s", p->ns, p->name, eng);
    (void)m;
}

static void print_totals(const char *label, const gf_totals *t)
{
    double frag = t->gpus_shared ? t->stranded_free / t->gpus_shared * 100.0 : 0.0;
    printf("%s: %u nodes (%u with GPUs), %u GPUs: %u whole, %u shared, %u idle", label, t->nodes,
           t->gpu_nodes, t->gpus, t->gpus_whole, t->gpus_shared, t->gpus_idle);
    if (t->gpus_overcommitted) printf(", %u over-committed", t->gpus_overcommitted);
    printf("\n  allocated %.2f of %u GPUs (%.1f%%); stranded free on shared GPUs %.2f GPU "
           "(%.1f%% of shared)\n",
           t->allocated_gpus, t->gpus, t->gpus ? t->allocated_gpus / t->gpus * 100.0 : 0.0,
           t->stranded_free, frag);
    printf("  pods: %u using GPUs (%u sharing, %u whole), %u pending for a GPU, %u KAI "
           "reservation pods\n",
           t->pods_sharing + t->pods_whole, t->pods_sharing, t->pods_whole, t->pods_pending_gpu,
           t->reservation_pods);
}

static void print_table(const gf_model *m, uint32_t only_pool, bool summary)
{
    char buf[512];
    for (uint32_t pool = 0; pool < m->pools.n; pool++) {
        if (only_pool != GF_NONE && pool != only_pool) continue;
        gf_totals t;
        gf_model_totals(m, pool, &t);
        if (t.nodes == 0 && t.pods == 0) continue;
        snprintf(buf, sizeof buf, "POOL %s", m->pools.v[pool]);
        print_totals(buf, &t);
        if (summary) continue;
        for (size_t i = 0; i < m->nodes.n; i++) {
            const gf_node *n = &m->nodes.v[i];
            if (n->pool != pool || n->gpu_count == 0) continue;
            char mem[160];
            if (n->gpu_memory_from_label)
                snprintf(mem, sizeof mem, "%lld MiB/GPU", (long long)n->gpu_memory_mib);
            else if (n->gpu_memory_display_mib > 0) /* the product table: display only */
                snprintf(mem, sizeof mem,
                         "%lld MiB/GPU as KAI counts it (no %s label; the model "
                         "has %lld MiB)",
                         (long long)n->gpu_memory_mib, GF_LABEL_GPU_MEMORY,
                         (long long)n->gpu_memory_display_mib);
            else
                snprintf(mem, sizeof mem, "%lld MiB/GPU as KAI counts it (no %s label)",
                         (long long)n->gpu_memory_mib, GF_LABEL_GPU_MEMORY);
            printf("  NODE %s  %s  %s  %u GPUs%s%s\n", n->name,
                   n->gpu_product ? n->gpu_product : "(model unknown)", mem, n->gpu_count,
                   n->unschedulable ? "  [unschedulable]" : "", n->n_taints ? "  [tainted]" : "");
            for (uint32_t k = 0; k < n->gpu_count; k++) {
                const gf_gpu *g = &m->gpus.v[n->first_gpu + k];
                double free_frac = g->allocated_fraction >= 1.0 ? 0.0 : 1.0 - g->allocated_fraction;
                printf("    GPU %-2d %-6s alloc %.2f free %.2f", (int)g->index,
                       gf_gpu_state_name(g->state), g->allocated_fraction, free_frac);
                if (g->group) printf("  group %s", g->group);
                if (g->device_id) printf("  device %s", g->device_id);
                if (g->placement_inferred) printf("  (inferred)");
                for (uint32_t j = 0; j < g->n_pods; j++) {
                    const gf_pod *p = &m->pods.v[m->gpu_pods.v[g->first_pod + j]];
                    pod_label(m, p, n, buf, sizeof buf);
                    printf("%s%s", j ? ", " : "  ", buf);
                }
                printf("\n");
            }
        }
    }
    if (only_pool == GF_NONE) {
        gf_totals t;
        gf_model_totals(m, GF_NONE, &t);
        print_totals("CLUSTER", &t);
    }
}

static void print_csv(const gf_model *m, uint32_t only_pool)
{
    char buf[64];
    printf("pool,node,gpu_product,gpu_memory_mib,gpu,state,allocated_fraction,free_fraction,"
           "group,pods\n");
    for (size_t i = 0; i < m->nodes.n; i++) {
        const gf_node *n = &m->nodes.v[i];
        if ((only_pool != GF_NONE && n->pool != only_pool) || n->gpu_count == 0) continue;
        for (uint32_t k = 0; k < n->gpu_count; k++) {
            const gf_gpu *g = &m->gpus.v[n->first_gpu + k];
            gf_cli_csv_field(stdout, m->pools.v[n->pool], false);
            gf_cli_csv_field(stdout, n->name, false);
            gf_cli_csv_field(stdout, n->gpu_product ? n->gpu_product : "", false);
            printf("%lld,%d,%s,%.4f,%.4f,", (long long)n->gpu_memory_mib, (int)g->index,
                   gf_gpu_state_name(g->state), g->allocated_fraction,
                   g->allocated_fraction >= 1.0 ? 0.0 : 1.0 - g->allocated_fraction);
            gf_cli_csv_field(stdout, g->group ? g->group : "", false);
            gf_sbuf pods = GF_SBUF_INIT;
            for (uint32_t j = 0; j < g->n_pods; j++) {
                const gf_pod *p = &m->pods.v[m->gpu_pods.v[g->first_pod + j]];
                snprintf(buf, sizeof buf, "%s", j ? " " : "");
                gf_sbuf_printf(&pods, "%s%s/%s", buf, p->ns, p->name);
            }
            gf_cli_csv_field(stdout, gf_sbuf_str(&pods), true);
            gf_sbuf_free(&pods);
        }
    }
}

static json_t *totals_json(const gf_totals *t)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I}", "nodes",
                     (json_int_t)t->nodes, "gpu_nodes", (json_int_t)t->gpu_nodes, "gpus",
                     (json_int_t)t->gpus, "gpus_whole", (json_int_t)t->gpus_whole, "gpus_shared",
                     (json_int_t)t->gpus_shared, "gpus_idle", (json_int_t)t->gpus_idle,
                     "gpus_overcommitted", (json_int_t)t->gpus_overcommitted, "allocated_gpus",
                     t->allocated_gpus, "shared_allocated", t->shared_allocated, "stranded_free",
                     t->stranded_free, "pods_sharing", (json_int_t)t->pods_sharing, "pods_whole",
                     (json_int_t)t->pods_whole, "pods_pending_gpu", (json_int_t)t->pods_pending_gpu,
                     "reservation_pods", (json_int_t)t->reservation_pods, "pods",
                     (json_int_t)t->pods);
}

static json_t *pod_json(const gf_model *m, const gf_pod *p, const gf_node *n)
{
    json_t *o = json_pack("{s:s,s:s}", "namespace", p->ns, "name", p->name);
    const gf_workload *w = gf_model_pod_workload(m, p);
    if (w)
        json_object_set_new(o, "workload",
                            json_pack("{s:s,s:s}", "kind", w->kind, "name", w->name));
    if (p->share != GF_SHARE_NONE) {
        json_object_set_new(o, "fraction",
                            json_real(gf_pod_share_on(p, n ? n->gpu_memory_mib : 0)));
        if (p->share == GF_SHARE_MEMORY)
            json_object_set_new(o, "gpu_memory_mib", json_integer(p->gpu_memory_mib));
    } else if (p->gpu_whole) {
        json_object_set_new(o, "whole_gpus", json_integer(p->gpu_whole));
    }
    gf_engine_info e;
    gf_engine_detect(p, &e, NULL);
    json_t *je = json_pack("{s:s,s:s,s:s}", "name", gf_engine_name(e.kind), "memory",
                           gf_engine_memory_name(e.memory), "cap_source",
                           gf_engine_cap_source_name(e.cap_source));
    if (isfinite(e.cap)) json_object_set_new(je, "cap", json_real(e.cap));
    if (e.knob) json_object_set_new(je, "knob", json_string(e.knob));
    char msg[400];
    if (p->share != GF_SHARE_NONE && n &&
        gf_engine_overrun(&e, gf_pod_share_on(p, n->gpu_memory_mib), msg, sizeof msg))
        json_object_set_new(je, "overrun", json_string(msg));
    json_object_set_new(o, "engine", je);
    return o;
}

/* --- KAI governance: queues with quota and allocation, each GPU workload's
 * queue, priority and preemptibility (model.c resolve_governance) --------- */

static bool has_governance(const gf_model *m)
{
    return m->queues.n || m->podgroups.n || m->priority_classes.n || m->shards.n;
}

/* GPU pods, one per workload (its first pod stands for it). */
static bool first_of_workload(const gf_model *m, size_t i)
{
    const gf_pod *p = &m->pods.v[i];
    if (p->is_reservation || !gf_pod_active(p) || (p->share == GF_SHARE_NONE && !p->gpu_whole))
        return false;
    for (size_t j = 0; j < i && p->workload != GF_NONE; j++) {
        const gf_pod *o = &m->pods.v[j];
        if (o->workload == p->workload && !o->is_reservation && gf_pod_active(o) &&
            (o->share != GF_SHARE_NONE || o->gpu_whole))
            return false;
    }
    return true;
}

static const char *limit_text(double v, char *buf, size_t n)
{
    if (v == -1)
        snprintf(buf, n, "unlimited");
    else
        snprintf(buf, n, "%.2f", v);
    return buf;
}

static void print_governance(const gf_model *m)
{
    if (!has_governance(m)) return;
    char a[32], b[32];
    if (m->queues.n) printf("\nKAI queues (GPUs; allocated: non-preemptible / all):\n");
    for (size_t i = 0; i < m->queues.n; i++) {
        const gf_queue *q = &m->queues.v[i];
        bool st;
        double np = gf_queue_allocated_gpu(m, (uint32_t)i, true, &st);
        double all = gf_queue_allocated_gpu(m, (uint32_t)i, false, &st);
        printf("  QUEUE %s%s%s  quota %s  limit %s  allocated %.2f / %.2f%s\n", q->name,
               q->parent ? "  parent " : "", q->parent ? q->parent : "",
               limit_text(q->gpu.quota, a, sizeof a), limit_text(q->gpu.limit, b, sizeof b), np,
               all, st ? " (Queue status)" : " (from the pods)");
    }
    printf("\nKAI governance per GPU workload:\n");
    for (size_t i = 0; i < m->pods.n; i++) {
        if (!first_of_workload(m, i)) continue;
        const gf_pod *p = &m->pods.v[i];
        const gf_workload *w = gf_model_pod_workload(m, p);
        printf("  %s/%s  queue %s%s  priority %d  %s  podgroup %s\n", p->ns, w ? w->name : p->name,
               p->gov.queue,
               p->gov.queue_idx == GF_NONE && m->queues.n ? " (not in the input)" : "",
               (int)p->gov.priority, p->gov.preemptible ? "preemptible" : "non-preemptible",
               p->gov.podgroup != GF_NONE ? m->podgroups.v[p->gov.podgroup].name
                                          : "(none in the input)");
    }
}

static json_t *governance_json(const gf_model *m)
{
    json_t *queues = json_array(), *wls = json_array();
    for (size_t i = 0; i < m->queues.n; i++) {
        const gf_queue *q = &m->queues.v[i];
        bool st;
        double np = gf_queue_allocated_gpu(m, (uint32_t)i, true, &st);
        double all = gf_queue_allocated_gpu(m, (uint32_t)i, false, &st);
        json_array_append_new(queues,
                              json_pack("{s:s,s:s?,s:f,s:f,s:f,s:f,s:b}", "name", q->name, "parent",
                                        q->parent, "gpu_quota", q->gpu.quota, "gpu_limit",
                                        q->gpu.limit, "allocated_non_preemptible_gpus", np,
                                        "allocated_gpus", all, "from_queue_status", st));
    }
    for (size_t i = 0; i < m->pods.n; i++) {
        if (!first_of_workload(m, i)) continue;
        const gf_pod *p = &m->pods.v[i];
        const gf_workload *w = gf_model_pod_workload(m, p);
        json_array_append_new(
            wls, json_pack("{s:s,s:s,s:s?,s:s,s:b,s:i,s:b,s:s?,s:i}", "namespace", p->ns, "name",
                           w ? w->name : p->name, "kind", w ? w->kind : "Pod", "queue",
                           p->gov.queue, "queue_in_input", p->gov.queue_idx != GF_NONE, "priority",
                           (int)p->gov.priority, "preemptible", p->gov.preemptible, "podgroup",
                           p->gov.podgroup != GF_NONE ? m->podgroups.v[p->gov.podgroup].name : NULL,
                           "gang", (int)p->gov.gang));
    }
    return json_pack("{s:o,s:o}", "queues", queues, "workloads", wls);
}

static json_t *model_json(const gf_model *m, uint32_t only_pool, bool summary)
{
    json_t *pools = json_array();
    for (uint32_t pool = 0; pool < m->pools.n; pool++) {
        if (only_pool != GF_NONE && pool != only_pool) continue;
        gf_totals t;
        gf_model_totals(m, pool, &t);
        if (t.nodes == 0 && t.pods == 0) continue;
        json_t *jp = json_pack("{s:s,s:o}", "name", m->pools.v[pool], "totals", totals_json(&t));
        json_array_append_new(pools, jp);
        if (summary) continue;
        json_t *nodes = json_array();
        json_object_set_new(jp, "nodes", nodes);
        for (size_t i = 0; i < m->nodes.n; i++) {
            const gf_node *n = &m->nodes.v[i];
            if (n->pool != pool || n->gpu_count == 0) continue;
            json_t *gpus = json_array();
            json_t *jn =
                json_pack("{s:s,s:s?,s:I,s:b,s:b,s:b,s:o}", "name", n->name, "gpu_product",
                          n->gpu_product, "gpu_memory_mib", (json_int_t)n->gpu_memory_mib,
                          "gpu_memory_from_label", n->gpu_memory_from_label, "unschedulable",
                          n->unschedulable, "tainted", n->n_taints > 0, "gpus", gpus);
            if (!n->gpu_memory_from_label && n->gpu_memory_display_mib > 0)
                json_object_set_new(jn, "gpu_memory_product_mib",
                                    json_integer(n->gpu_memory_display_mib));
            json_array_append_new(nodes, jn);
            for (uint32_t k = 0; k < n->gpu_count; k++) {
                const gf_gpu *g = &m->gpus.v[n->first_gpu + k];
                json_t *pods = json_array();
                for (uint32_t j = 0; j < g->n_pods; j++)
                    json_array_append_new(
                        pods, pod_json(m, &m->pods.v[m->gpu_pods.v[g->first_pod + j]], n));
                double free_frac = g->allocated_fraction >= 1.0 ? 0.0 : 1.0 - g->allocated_fraction;
                json_array_append_new(
                    gpus,
                    json_pack("{s:i,s:s,s:s?,s:s?,s:b,s:b,s:f,s:f,s:o}", "index", (int)g->index,
                              "state", gf_gpu_state_name(g->state), "group", g->group, "device_id",
                              g->device_id, "reserved", g->reserved, "placement_inferred",
                              g->placement_inferred, "allocated_fraction", g->allocated_fraction,
                              "free_fraction", free_frac, "pods", pods));
            }
        }
    }
    json_t *pending = json_array();
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (!gf_pod_active(p) || p->node != GF_NONE || p->is_reservation) continue;
        if (p->share == GF_SHARE_NONE && !p->gpu_whole) continue;
        json_array_append_new(pending, pod_json(m, p, NULL));
    }
    gf_totals t;
    gf_model_totals(m, GF_NONE, &t);
    json_t *out = json_pack("{s:o,s:o,s:o}", "pools", pools, "totals", totals_json(&t),
                            "pending_gpu_pods", pending);
    if (has_governance(m)) json_object_set_new(out, "kai_governance", governance_json(m));
    return out;
}

int gf_cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"summary", no_argument, NULL, 's'},
                                         {"pool", required_argument, NULL, 'p'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         GF_CLI_CLUSTER_OPTIONS,
                                         GF_CLI_KAI_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    static const char shortopts[] = "o:sp:qh" GF_CLI_CLUSTER_SHORT;
    gf_cli_format format = GF_OUT_TABLE;
    bool summary = false, quiet = false;
    const char *pool_name = NULL;
    gf_cli_cluster cl;
    gf_cli_cluster_init(&cl);
    int c, usage_rc = -1;
    optind = 1;
    gf_cli_kai kai = {0};
    opterr = 0;
    while (usage_rc < 0 && (c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if (gf_cli_kai_option(&kai, c, optarg)) continue;
        if (gf_cli_cluster_option(&cl, "inspect", c, optarg, &usage_rc)) continue;
        switch (c) {
        case 'o':
            if (!gf_cli_parse_format("inspect", optarg,
                                     GF_OUT_TABLE | GF_OUT_JSON | GF_OUT_YAML | GF_OUT_CSV,
                                     &format))
                usage_rc = 2;
            break;
        case 's':
            summary = true;
            break;
        case 'p':
            pool_name = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            help(stdout);
            usage_rc = 0;
            break;
        default:
            usage_rc = gf_cli_bad_option("inspect", USAGE, shortopts, argc, argv);
            break;
        }
    }
    if (usage_rc >= 0) {
        gf_cli_cluster_free(&cl);
        return usage_rc;
    }
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_cli_kai_names(&kai, NULL, &m.kai);
    gf_err rc = gf_cli_load_model(&cl, argv + optind, argc - optind, &m, &d, &err);
    if (!quiet) gf_cli_print_diags(&d, 20);
    int exit_code = 0;
    if (rc) {
        char msg[1100];
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "gpufrac inspect: %s\n", msg);
        exit_code = gf_err_exit_code(rc);
        goto out;
    }
    uint32_t pool = GF_NONE;
    if (pool_name) {
        size_t idx;
        if (!gf_strmap_get(&m.pool_by_name, pool_name, &idx)) {
            fprintf(stderr, "gpufrac inspect: no node pool named '%s'\n", pool_name);
            exit_code = 2;
            goto out;
        }
        pool = (uint32_t)idx;
    }
    if (format == GF_OUT_JSON || format == GF_OUT_YAML) {
        json_t *j = model_json(&m, pool, summary);
        exit_code = gf_cli_print_doc(j, format, 6);
        json_decref(j);
    } else if (format == GF_OUT_CSV) {
        print_csv(&m, pool);
    } else {
        print_table(&m, pool, summary);
        gf_cli_print_overruns(&m, pool);
        if (!summary) print_governance(&m);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "gpufrac inspect: writing output failed\n");
        exit_code = 1;
    }
out:
    gf_diags_free(&d);
    gf_model_free(&m);
    gf_cli_cluster_free(&cl);
    return exit_code;
}
