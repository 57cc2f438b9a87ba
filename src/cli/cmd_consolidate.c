/* cmd_consolidate.c - `gpufrac consolidate`: which GPU nodes can be drained,
 * with the move plan. */
#include "cli/commands.h"
#include "decide/consolidate.h"
#include "cli/cli_common.h"
#include "io/policy_yaml.h"
#include "io/snapshot.h"
#include "util/xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USAGE "gpufrac consolidate [options] [SNAPSHOT...]"

static void help(FILE *f)
{
    fprintf(
        f,
        "usage: " USAGE "\n\n"
        "Finds GPU nodes whose pods fit elsewhere in their node pool, so the nodes can\n"
        "be drained and removed, and prints the move plan (pod -> node/GPU). Pods are\n"
        "re-placed with KAI's rules (pool, GPU model, CPU/memory, free fraction per\n"
        "GPU, multi-device fractions). Unowned pods, Job pods and pods annotated\n"
        "gpufrac.io/consolidate: \"false\" pin their node; PodDisruptionBudgets in the\n"
        "input (kubectl get pdb -A -o json) limit moves. KAI's objects in the input\n"
        "(podgroups, queues, priorityclasses, schedulingshards, topologies) add rules:\n"
        "a gang (PodGroup minMember > 1) moves whole or not at all, a non-preemptible\n"
        "pod moves by policy (--move-non-preemptible) and only while its queue is\n"
        "within quota, a required topology domain is kept, and pools whose\n"
        "SchedulingShard places by spread are not consolidated. A greedy pass tries nodes\n"
        "cheapest first (nodes that received moved pods stay candidates: what they\n"
        "received is re-placed, one move per pod to its final node; targets that\n"
        "stay are preferred), then reruns with perturbed orders keep the best plan.\n"
        "Each pool's line gives an upper bound on what can go, and \"optimal\" when\n"
        "the plan meets it or the exact search proved it.\n\n"
        "options:\n"
        "  -o, --output FORMAT        table (default), json, yaml, csv (a line a move)\n"
        "      --scorer NAME          re-placement scorer: binpack (default), spread,\n"
        "                             bestfit, fgd\n"
        "      --objective WHAT       maximise nodes (default), gpus or cost freed\n"
        "      --max-nodes N          drain at most N nodes\n"
        "      --max-moves-per-workload N  move at most N pods of one workload\n"
        "      --cost MODEL=W         cost weight per GPU of nvidia.com/gpu.product MODEL\n"
        "                             (default 1 per GPU); repeatable\n"
        "  -p, --pool NAME            only drain nodes of this node pool\n"
        "      --rounds N             improvement reruns after the first pass (default\n"
        "                             24; 0 = greedy pass only)\n"
        "      --budget SECONDS       wall-clock limit for planning; lifts the default\n"
        "                             limit of 40000 placement attempts in reruns\n"
        "      --exact                exact search (branch and bound) in pools with at\n"
        "                             most 30 candidate nodes: proves the optimum\n"
        "      --explain NODE         say why NODE can or cannot be drained: the rule\n"
        "                             that keeps each of its pods, which pod fits\n"
        "                             nowhere, and what each other node lacks\n"
        "      --move-non-preemptible MODE  replicated (default: when a PDB or another\n"
        "                             running replica keeps the service up), never,\n"
        "                             always\n"
        "      --policy FILE          policy YAML whose consolidation section applies\n"
        "                             (and its kai names)\n"
        "      --timings              print load and planning time to stderr\n"
        "  -q, --quiet                do not print warnings\n"
        "  -h, --help                 this text\n" GF_CLI_CLUSTER_HELP
        "Without SNAPSHOT the cluster is read through your kubeconfig; with -n or -l\n"
        "the other tenants of a GPU are not seen, so plans are only indicative.\n\n" GF_CLI_KAI_HELP
        "\n"
        "exit codes: 0 success, 1 runtime failure (cluster unreachable), 2 usage or\n"
        "input error\n");
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > UINT32_MAX || s[0] == '-') return false;
    *out = (uint32_t)v;
    return true;
}

static void print_table(const gf_model *m, const gf_consolidation *c, const gf_consolidate_opts *o)
{
    uint32_t gpu_nodes = 0;
    for (size_t i = 0; i < m->nodes.n; i++)
        gpu_nodes += m->nodes.v[i].gpu_count > 0;
    printf("Consolidation plan (re-placement: %s, objective: %s): drain %u of %u GPU nodes, free "
           "%u GPUs, cost saved %.2f, %zu pod moves\n",
           gf_scorer_name(o->scorer), gf_objective_name(o->objective), c->nodes_freed, gpu_nodes,
           c->gpus_freed, c->cost_saved, c->moves.n);
    for (size_t i = 0; i < c->pools.n; i++) {
        const gf_pool_bound *b = &c->pools.v[i];
        printf("  pool %s: drains %u of %u candidates (%u GPUs); at most %u can go (%u GPUs)%s\n",
               m->pools.v[b->pool], b->drained, b->candidates, b->gpus_drained, b->bound,
               b->gpus_bound,
               b->optimal       ? (b->exact_tried ? ", optimal (exact search)" : ", optimal")
               : b->exact_tried ? ", exact search stopped at its step limit"
                                : "");
    }
    for (uint32_t pool = 0; pool < m->pools.n; pool++) {
        bool header = false;
        for (size_t i = 0; i < c->drains.n; i++) {
            const gf_drain *d = &c->drains.v[i];
            const gf_node *n = &m->nodes.v[d->node];
            if (n->pool != pool) continue;
            if (!header) printf("POOL %s\n", m->pools.v[pool]);
            header = true;
            printf("  DRAIN %s  (%u x %s, cost %.2f)  %u moves\n", n->name, n->gpu_count,
                   n->gpu_product ? n->gpu_product : "?", d->cost_saved, d->n_moves);
            for (uint32_t k = 0; k < d->n_moves; k++) {
                const gf_move *mv = &c->moves.v[d->first_move + k];
                const gf_pod *p = &m->pods.v[mv->pod];
                const gf_node *to = &m->nodes.v[mv->to.node];
                printf("    %s/%s -> %s", p->ns, p->name, to->name);
                if (mv->to.n_gpus) {
                    printf(" GPU");
                    for (uint32_t g = 0; g < mv->to.n_gpus; g++)
                        printf("%s%d", g ? "," : " ", (int)m->gpus.v[mv->to.gpus[g]].index);
                    printf(" (%.2f)", mv->to.share);
                }
                putchar('\n');
            }
        }
    }
    if (c->kept.n) printf("KEPT\n");
    for (size_t i = 0; i < c->kept.n; i++) {
        const gf_node_verdict *v = &c->kept.v[i];
        printf("  %s: %s", m->nodes.v[v->node].name, v->reason);
        if (v->pod != GF_NONE) printf(" (%s/%s)", m->pods.v[v->pod].ns, m->pods.v[v->pod].name);
        printf("\n");
    }
}

static int print_explain(const gf_model *m, const gf_consolidation *c, const gf_consolidate_opts *o,
                         uint32_t node)
{
    const gf_node *n = &m->nodes.v[node];
    for (size_t i = 0; i < c->drains.n; i++) {
        const gf_drain *d = &c->drains.v[i];
        if (d->node != node) continue;
        printf("%s can be drained: %u pods move", n->name, d->n_moves);
        for (uint32_t k = 0; k < d->n_moves; k++) {
            const gf_move *mv = &c->moves.v[d->first_move + k];
            printf("%s %s/%s -> %s", k ? "," : ":", m->pods.v[mv->pod].ns, m->pods.v[mv->pod].name,
                   m->nodes.v[mv->to.node].name);
        }
        printf("\n");
        return 0;
    }
    const gf_node_verdict *v = NULL;
    for (size_t i = 0; i < c->kept.n; i++)
        if (c->kept.v[i].node == node) v = &c->kept.v[i];
    if (!v) {
        printf("%s is not a candidate: %s\n", n->name,
               n->gpu_count == 0 ? "it has no GPUs" : "it is outside the selected pool");
        return 0;
    }
    printf("%s cannot be drained: %s", n->name, v->reason);
    if (v->pod != GF_NONE) printf(" (%s/%s)", m->pods.v[v->pod].ns, m->pods.v[v->pod].name);
    printf("\n");
    bool header = false;
    for (size_t i = 0; c->pod_pin && i < m->pods.n; i++) {
        const gf_pod *q = &m->pods.v[i];
        if (q->node != node || !c->pod_pin[i]) continue;
        if (!header) printf("pods that cannot move:\n");
        header = true;
        printf("  %s/%s: %s\n", q->ns, q->name, c->pod_pin[i]);
    }
    if (v->pod == GF_NONE) return 0;
    const gf_pod *p = &m->pods.v[v->pod];
    gf_fit_reason *why = NULL;
    size_t nwhy = gf_consolidate_explain(m, c, o, v->pod, &why);
    if (nwhy) printf("where %s/%s could go, after the plan:\n", p->ns, p->name);
    for (size_t i = 0; i < nwhy; i++)
        printf("  %s: %s\n", m->nodes.v[why[i].node].name,
               why[i].why ? why[i].why : "fits (the pod could move here alone)");
    free(why);
    return 0;
}

/* One line per pod move of the plan. */
static void print_csv(const gf_model *m, const gf_consolidation *c)
{
    printf("pool,drain_node,namespace,pod,to_node,to_gpus,fraction\n");
    for (size_t i = 0; i < c->drains.n; i++) {
        const gf_drain *d = &c->drains.v[i];
        const gf_node *n = &m->nodes.v[d->node];
        for (uint32_t k = 0; k < d->n_moves; k++) {
            const gf_move *mv = &c->moves.v[d->first_move + k];
            const gf_pod *p = &m->pods.v[mv->pod];
            gf_cli_csv_field(stdout, m->pools.v[n->pool], false);
            gf_cli_csv_field(stdout, n->name, false);
            gf_cli_csv_field(stdout, p->ns, false);
            gf_cli_csv_field(stdout, p->name, false);
            gf_cli_csv_field(stdout, m->nodes.v[mv->to.node].name, false);
            for (uint32_t g = 0; g < mv->to.n_gpus; g++)
                printf("%s%d", g ? " " : "", (int)m->gpus.v[mv->to.gpus[g]].index);
            printf(",%.4f\n", mv->to.share);
        }
    }
}

static json_t *plan_json(const gf_model *m, const gf_consolidation *c, const gf_consolidate_opts *o)
{
    json_t *drains = json_array(), *kept = json_array(), *pools = json_array();
    for (size_t i = 0; i < c->pools.n; i++) {
        const gf_pool_bound *b = &c->pools.v[i];
        json_array_append_new(
            pools, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:b}", "pool", m->pools.v[b->pool],
                             "candidates", (json_int_t)b->candidates, "drained",
                             (json_int_t)b->drained, "bound", (json_int_t)b->bound, "gpus_drained",
                             (json_int_t)b->gpus_drained, "gpus_bound", (json_int_t)b->gpus_bound,
                             "optimal", b->optimal, "exact", b->exact_tried));
    }
    for (size_t i = 0; i < c->drains.n; i++) {
        const gf_drain *d = &c->drains.v[i];
        const gf_node *n = &m->nodes.v[d->node];
        json_t *moves = json_array();
        for (uint32_t k = 0; k < d->n_moves; k++) {
            const gf_move *mv = &c->moves.v[d->first_move + k];
            const gf_pod *p = &m->pods.v[mv->pod];
            json_t *gpus = json_array();
            for (uint32_t g = 0; g < mv->to.n_gpus; g++)
                json_array_append_new(gpus, json_integer(m->gpus.v[mv->to.gpus[g]].index));
            json_array_append_new(moves,
                                  json_pack("{s:s,s:s,s:s,s:o,s:f}", "namespace", p->ns, "pod",
                                            p->name, "to_node", m->nodes.v[mv->to.node].name,
                                            "to_gpus", gpus, "fraction", mv->to.share));
        }
        json_array_append_new(drains,
                              json_pack("{s:s,s:s,s:I,s:f,s:o}", "node", n->name, "pool",
                                        m->pools.v[n->pool], "gpus", (json_int_t)d->gpus_freed,
                                        "cost", d->cost_saved, "moves", moves));
    }
    /* per node: the pods kept there, each with its rule (one pass over the pods) */
    json_t **pinned_of = gf_xcalloc(m->nodes.n + 1, sizeof(json_t *));
    for (size_t k = 0; c->pod_pin && k < m->pods.n; k++) {
        const gf_pod *p = &m->pods.v[k];
        if (p->node == GF_NONE || !c->pod_pin[k]) continue;
        if (!pinned_of[p->node]) pinned_of[p->node] = json_array();
        json_array_append_new(
            pinned_of[p->node],
            json_pack("{s:s,s:s,s:s}", "namespace", p->ns, "name", p->name, "rule", c->pod_pin[k]));
    }
    for (size_t i = 0; i < c->kept.n; i++) {
        const gf_node_verdict *v = &c->kept.v[i];
        json_t *kv = json_pack("{s:s,s:s}", "node", m->nodes.v[v->node].name, "reason", v->reason);
        if (v->pod != GF_NONE)
            json_object_set_new(kv, "pod",
                                json_pack("{s:s,s:s}", "namespace", m->pods.v[v->pod].ns, "name",
                                          m->pods.v[v->pod].name));
        json_object_set_new(kv, "pinned", pinned_of[v->node] ? pinned_of[v->node] : json_array());
        pinned_of[v->node] = NULL;
        json_array_append_new(kept, kv);
    }
    for (size_t i = 0; i < m->nodes.n; i++) /* pods pinned on nodes not listed as kept */
        json_decref(pinned_of[i]);
    free(pinned_of);
    return json_pack("{s:s,s:s,s:I,s:I,s:f,s:I,s:I,s:o,s:o,s:o}", "scorer",
                     gf_scorer_name(o->scorer), "objective", gf_objective_name(o->objective),
                     "nodes_freed", (json_int_t)c->nodes_freed, "gpus_freed",
                     (json_int_t)c->gpus_freed, "cost_saved", c->cost_saved, "moves",
                     (json_int_t)c->moves.n, "rounds", (json_int_t)c->rounds, "pools", pools,
                     "drain", drains, "kept", kept);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static double cpu_s(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

int gf_cmd_consolidate(int argc, char **argv)
{
    enum {
        OPT_SCORER = 256,
        OPT_MAX_NODES,
        OPT_MAX_MOVES,
        OPT_COST,
        OPT_EXPLAIN,
        OPT_TIMINGS,
        OPT_OBJECTIVE,
        OPT_ROUNDS,
        OPT_BUDGET,
        OPT_EXACT,
        OPT_MOVE_NP,
        OPT_POLICY
    };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"scorer", required_argument, NULL, OPT_SCORER},
        {"max-nodes", required_argument, NULL, OPT_MAX_NODES},
        {"max-moves-per-workload", required_argument, NULL, OPT_MAX_MOVES},
        {"cost", required_argument, NULL, OPT_COST},
        {"pool", required_argument, NULL, 'p'},
        {"explain", required_argument, NULL, OPT_EXPLAIN},
        {"timings", no_argument, NULL, OPT_TIMINGS},
        {"objective", required_argument, NULL, OPT_OBJECTIVE},
        {"rounds", required_argument, NULL, OPT_ROUNDS},
        {"budget", required_argument, NULL, OPT_BUDGET},
        {"exact", no_argument, NULL, OPT_EXACT},
        {"move-non-preemptible", required_argument, NULL, OPT_MOVE_NP},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        GF_CLI_CLUSTER_OPTIONS,
        GF_CLI_KAI_OPTIONS,
        {NULL, 0, NULL, 0}};
    static const char shortopts[] = "o:p:qh" GF_CLI_CLUSTER_SHORT;
    gf_cli_cluster cl;
    gf_cli_cluster_init(&cl);
    gf_cli_format format = GF_OUT_TABLE;
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    GF_VEC(gf_cost_weight) costs = {0};
    bool quiet = false, timings = false, rounds_given = false;
    const char *pool_name = NULL, *explain = NULL, *policy_path = NULL;
    bool move_np_given = false;
    int c, rc_usage = -1;
    optind = 1;
    opterr = 0;
    gf_cli_kai kai = {0};
    while (rc_usage < 0 && (c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if (gf_cli_kai_option(&kai, c, optarg)) continue;
        if (gf_cli_cluster_option(&cl, "consolidate", c, optarg, &rc_usage)) continue;
        switch (c) {
        case 'o':
            if (!gf_cli_parse_format("consolidate", optarg,
                                     GF_OUT_TABLE | GF_OUT_JSON | GF_OUT_YAML | GF_OUT_CSV,
                                     &format))
                rc_usage = 2;
            break;
        case OPT_SCORER:
            if (gf_scorer_parse(optarg, &o.scorer)) {
                fprintf(stderr,
                        "gpufrac consolidate: unknown scorer '%s' "
                        "(binpack, spread, bestfit, fgd)\n",
                        optarg);
                rc_usage = 2;
            }
            break;
        case OPT_OBJECTIVE:
            if (gf_objective_parse(optarg, &o.objective)) {
                fprintf(stderr, "gpufrac consolidate: unknown objective '%s' (nodes, gpus, cost)\n",
                        optarg);
                rc_usage = 2;
            }
            break;
        case OPT_ROUNDS:
            rounds_given = true;
            if (!parse_u32(optarg, &o.max_rounds)) {
                fprintf(stderr,
                        "gpufrac consolidate: --rounds needs a non-negative integer, got '%s'\n",
                        optarg);
                rc_usage = 2;
            }
            break;
        case OPT_BUDGET: {
            char *end = NULL;
            double b = strtod(optarg, &end);
            if (!*optarg || !end || *end || !(b > 0 && b <= 3600)) {
                fprintf(stderr,
                        "gpufrac consolidate: --budget needs seconds in (0, 3600], got '%s'\n",
                        optarg);
                rc_usage = 2;
                break;
            }
            o.budget_s = b;
            o.max_attempts = 0;
            break;
        }
        case OPT_EXACT:
            o.exact = true;
            break;
        case OPT_MAX_NODES:
        case OPT_MAX_MOVES:
            if (!parse_u32(optarg, c == OPT_MAX_NODES ? &o.max_nodes : &o.max_moves_per_workload)) {
                fprintf(stderr,
                        "gpufrac consolidate: --%s needs a non-negative integer, got '%s'\n",
                        c == OPT_MAX_NODES ? "max-nodes" : "max-moves-per-workload", optarg);
                rc_usage = 2;
            }
            break;
        case OPT_COST: {
            char *eq = strrchr(optarg, '=');
            char *end = NULL;
            double w = eq ? strtod(eq + 1, &end) : -1;
            if (!eq || eq == optarg || !end || *end || !(w >= 0 && w < 1e9)) {
                fprintf(stderr,
                        "gpufrac consolidate: --cost needs MODEL=WEIGHT with a weight "
                        ">= 0, got '%s'\n",
                        optarg);
                rc_usage = 2;
                break;
            }
            *eq = '\0';
            gf_cost_weight cw = {optarg, w};
            gf_vec_push(&costs, cw);
            break;
        }
        case 'p':
            pool_name = optarg;
            break;
        case OPT_EXPLAIN:
            explain = optarg;
            break;
        case OPT_TIMINGS:
            timings = true;
            break;
        case OPT_MOVE_NP:
            if (!gf_move_np_parse(optarg, &o.move_non_preemptible)) {
                fprintf(stderr,
                        "gpufrac consolidate: --move-non-preemptible: unknown mode '%s' "
                        "(replicated, never, always)\n",
                        optarg);
                rc_usage = 2;
            }
            move_np_given = true;
            break;
        case OPT_POLICY:
            policy_path = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            help(stdout);
            rc_usage = 0;
            break;
        default:
            rc_usage = gf_cli_bad_option("consolidate", USAGE, shortopts, argc, argv);
            break;
        }
    }
    if (rc_usage >= 0) {
        gf_vec_free(&costs);
        gf_cli_cluster_free(&cl);
        return rc_usage;
    }
    if (o.budget_s > 0 && !rounds_given) o.max_rounds = UINT32_MAX; /* the budget decides */
    o.costs = costs.v;
    o.n_costs = costs.n;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_consolidation plan = {0};
    int exit_code = 0;
    double t0 = now_s(), c0 = cpu_s();
    gf_policy pol;
    gf_policy_init(&pol);
    gf_err rc = policy_path ? gf_policy_load_file(&pol, policy_path, &err) : GF_OK;
    if (!move_np_given) o.move_non_preemptible = pol.move_non_preemptible; /* the flag wins */
    gf_cli_kai_names(&kai, &pol.kai, &m.kai);
    if (!rc) rc = gf_cli_load_model(&cl, argv + optind, argc - optind, &m, &d, &err);
    double t1 = now_s(), c1 = cpu_s();
    if (!quiet) gf_cli_print_diags(&d, 20);
    if (!rc && pool_name) {
        size_t idx;
        if (!gf_strmap_get(&m.pool_by_name, pool_name, &idx))
            rc = gf_error_set(&err, GF_EUSAGE, NULL, "no node pool named '%s'", pool_name);
        else
            o.pool = (uint32_t)idx;
    }
    size_t explain_node = 0;
    if (!rc && explain && !gf_strmap_get(&m.node_by_name, explain, &explain_node))
        rc = gf_error_set(&err, GF_EUSAGE, NULL, "--explain: no node named '%s'", explain);
    if (!rc) rc = gf_consolidate(&m, &o, &plan, &err);
    if (!rc && timings)
        fprintf(stderr,
                "gpufrac consolidate: timings: load %.3f s (cpu %.3f s), plan %.3f s (cpu %.3f "
                "s), %u reruns, %llu placement attempts\n",
                t1 - t0, c1 - c0, now_s() - t1, cpu_s() - c1, plan.rounds,
                (unsigned long long)plan.attempts);
    if (!rc && explain) {
        exit_code = print_explain(&m, &plan, &o, (uint32_t)explain_node);
    } else if (rc) {
        char msg[1100];
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "gpufrac consolidate: %s\n", msg);
        exit_code = gf_err_exit_code(rc);
    } else if (format == GF_OUT_CSV) {
        print_csv(&m, &plan);
    } else if (format != GF_OUT_TABLE) {
        json_t *j = plan_json(&m, &plan, &o);
        exit_code = gf_cli_print_doc(j, format, 6);
        json_decref(j);
    } else {
        print_table(&m, &plan, &o);
    }
    if (fflush(stdout) != 0) exit_code = 1;
    gf_consolidation_free(&plan);
    gf_policy_free(&pol);
    gf_diags_free(&d);
    gf_model_free(&m);
    gf_vec_free(&costs);
    gf_cli_cluster_free(&cl);
    return exit_code;
}
