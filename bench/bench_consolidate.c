/* bench_consolidate.c - drain quality of the consolidation search on
 * generated KAI clusters, side by side in one run:
 *   legacy     the greedy of before (no re-draining of receivers, no target
 *              preference, no reruns: legacy_greedy)
 *   search     the default search (greedy pass, preference for targets that
 *              stay, 24 reruns)
 *   karpenter  Karpenter's multi-node consolidation over the same packer:
 *              binary search for the longest drainable prefix of the
 *              candidates (fewest pods first), then single-node passes
 *              adding each further candidate that still drains
 *   exact      the exact search (small clusters only)
 *
 *   bench_consolidate small SEEDS    6, 8, 10, 12 nodes x 3 generator settings x SEEDS
 *   bench_consolidate mid SEEDS      50, 100, 200 nodes x 3 settings x SEEDS, against the bound
 *   bench_consolidate plan NODES RUNS ROUNDS
 *                                    planning alone on gen-snapshot's cluster (8 GPUs per
 *                                    node, seed 1): "nodes median_s min_s max_s
 *                                    median_cpu_s drained bound tried", tried = nodes
 *                                    looked at per placement attempt;
 *                                    ROUNDS "legacy" for the greedy of before
 *
 * Prints per method: nodes drained in total, cases at the proven optimum
 * (small) or at the bound (mid), cases 1 and 2+ short, planning seconds. */
#include "decide/consolidate.h"
#include "sim/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* CPU time of this (single-threaded) process: on a shared machine it varies
 * less than wall time */
static double cpu_s(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static uint32_t drain_count(const gf_model *m, const gf_consolidate_opts *o, const bool *only)
{
    gf_consolidate_opts p = *o;
    p.only = only;
    gf_consolidation c;
    gf_error err = {0};
    if (gf_consolidate(m, &p, &c, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    uint32_t n = c.nodes_freed;
    gf_consolidation_free(&c);
    return n;
}

static const gf_model *sort_m;
static uint32_t *sort_pods;
static int cmp_node(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (sort_pods[x] != sort_pods[y]) return sort_pods[x] < sort_pods[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* Karpenter-style: longest drainable prefix by binary search, then
 * single-node passes. */
static uint32_t karpenter(const gf_model *m)
{
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.max_rounds = 0;
    gf_consolidation c;
    gf_error err = {0};
    if (gf_consolidate(m, &o, &c, &err)) exit(1);
    /* candidates: drained, or kept for a reason other than a pin */
    size_t nn = m->nodes.n;
    uint32_t *cand = calloc(nn + 1, sizeof(uint32_t));
    size_t n = 0;
    for (size_t i = 0; i < c.drains.n; i++)
        cand[n++] = c.drains.v[i].node;
    for (size_t i = 0; i < c.kept.n; i++)
        if (!strcmp(c.kept.v[i].reason, "a pod fits on no other node of its pool") ||
            !strstr(c.kept.v[i].reason, "pod"))
            cand[n++] = c.kept.v[i].node;
    gf_consolidation_free(&c);
    sort_pods = calloc(nn + 1, sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++)
        if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
            sort_pods[m->pods.v[i].node]++;
    sort_m = m;
    qsort(cand, n, sizeof(uint32_t), cmp_node);
    bool *only = calloc(nn + 1, sizeof(bool));
    size_t lo = 0, hi = n; /* largest k with the first k drainable */
    while (lo < hi) {
        size_t k = (lo + hi + 1) / 2;
        memset(only, 0, nn + 1);
        for (size_t i = 0; i < k; i++)
            only[cand[i]] = true;
        if (drain_count(m, &o, only) == k)
            lo = k;
        else
            hi = k - 1;
    }
    memset(only, 0, nn + 1);
    for (size_t i = 0; i < lo; i++)
        only[cand[i]] = true;
    uint32_t have = (uint32_t)lo;
    for (size_t i = lo; i < n; i++) {
        only[cand[i]] = true;
        if (drain_count(m, &o, only) == have + 1)
            have++;
        else
            only[cand[i]] = false;
    }
    free(only);
    free(cand);
    free(sort_pods);
    return have;
}

typedef struct tally {
    const char *name;
    uint64_t drained, at_ref, short1, short2;
    double seconds;
} tally;

static void add(tally *t, uint32_t got, uint32_t ref, double s)
{
    t->drained += got;
    t->at_ref += got >= ref;
    t->short1 += got + 1 == ref;
    t->short2 += got + 2 <= ref;
    t->seconds += s;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int plan_only(uint32_t nodes, int runs, const char *rounds)
{
    gf_model m;
    gf_model_init(&m);
    gf_gen_opts go;
    gf_gen_opts_default(&go);
    go.nodes = nodes;
    go.gpus_per_node = 8;
    go.seed = 1;
    gf_error err = {0};
    if (gf_gen_cluster(&m, &go, NULL, &err)) return 1;
    double *t = calloc((size_t)runs + 1, sizeof(double));
    double *tc = calloc((size_t)runs + 1, sizeof(double));
    uint32_t drained = 0, bound = 0;
    double tried = 0; /* nodes looked at per placement attempt */
    for (int r = 0; r < runs; r++) {
        gf_consolidate_opts o;
        gf_consolidate_opts_default(&o);
        o.legacy_greedy = !strcmp(rounds, "legacy");
        o.max_rounds = (uint32_t)atoi(rounds);
        gf_consolidation c;
        double t0 = now_s(), c0 = cpu_s();
        if (gf_consolidate(&m, &o, &c, &err)) return 1;
        t[r] = now_s() - t0;
        tc[r] = cpu_s() - c0;
        drained = c.nodes_freed;
        tried = c.attempts ? (double)c.nodes_tried / (double)c.attempts : 0;
        bound = 0;
        for (size_t i = 0; i < c.pools.n; i++)
            bound += c.pools.v[i].bound;
        gf_consolidation_free(&c);
    }
    qsort(t, (size_t)runs, sizeof(double), cmp_d);
    qsort(tc, (size_t)runs, sizeof(double), cmp_d);
    double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
    double medc = runs % 2 ? tc[runs / 2] : (tc[runs / 2 - 1] + tc[runs / 2]) / 2;
    printf("%u %.4f %.4f %.4f %.4f %u %u %.2f\n", nodes, med, t[0], t[runs - 1], medc, drained,
           bound, tried);
    free(t);
    free(tc);
    gf_model_free(&m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "plan"))
        return plan_only((uint32_t)atoi(argv[2]), atoi(argv[3]), argv[4]);
    if (argc < 3 || (strcmp(argv[1], "small") && strcmp(argv[1], "mid"))) {
        fprintf(stderr, "usage: bench_consolidate small|mid SEEDS\n");
        return 2;
    }
    bool small = !strcmp(argv[1], "small");
    /* MID_EXACT=1: mid clusters against the exact search (pools of at most
     * 30 candidates; larger pools keep the search's plan) */
    bool mid_exact = !small && getenv("MID_EXACT") && !strcmp(getenv("MID_EXACT"), "1");
    int seeds = atoi(argv[2]);
    static const uint32_t small_sizes[] = {6, 8, 10, 12}, mid_sizes[] = {50, 100, 200};
    const uint32_t *sizes = small ? small_sizes : mid_sizes;
    size_t n_sizes = small ? 4 : 3;
    /* generator settings: (GPUs per node, fill) */
    static const uint32_t gpn[] = {0, 1, 2};
    static const double fill[] = {0.6, 0.5, 0.7};
    tally t[4] = {{"legacy", 0, 0, 0, 0, 0},
                  {"search", 0, 0, 0, 0, 0},
                  {"karpenter", 0, 0, 0, 0, 0},
                  {small       ? "exact"
                   : mid_exact ? "best"
                               : "bound",
                   0, 0, 0, 0, 0}};
    uint64_t cases = 0, unproven = 0, drainable = 0;
    for (size_t si = 0; si < n_sizes; si++)
        for (size_t g = 0; g < 3; g++)
            for (int seed = 1; seed <= seeds; seed++) {
                gf_model m;
                gf_model_init(&m);
                gf_gen_opts go;
                gf_gen_opts_default(&go);
                go.nodes = sizes[si];
                go.seed = (uint64_t)seed;
                go.gpus_per_node = gpn[g];
                go.fill = fill[g];
                go.cpu_pods_per_node = getenv("CPU_PODS") ? (uint32_t)atoi(getenv("CPU_PODS")) : 3;
                gf_error err = {0};
                if (gf_gen_cluster(&m, &go, NULL, &err)) return 1;
                gf_consolidate_opts o;
                gf_consolidate_opts_default(&o);
                double t0 = now_s();
                gf_consolidation ref;
                if (small || mid_exact) o.exact = true;
                if (gf_consolidate(&m, &o, &ref, &err)) return 1;
                double t_ref = now_s() - t0;
                uint32_t refn = ref.nodes_freed;
                if (!small && !mid_exact) {
                    refn = 0;
                    for (size_t i = 0; i < ref.pools.n; i++)
                        refn += ref.pools.v[i].bound;
                }
                for (size_t i = 0; i < ref.pools.n; i++)
                    unproven += (small || mid_exact) && !ref.pools.v[i].optimal;
                gf_consolidation_free(&ref);
                o.exact = false;
                t0 = now_s();
                o.legacy_greedy = true;
                uint32_t legacy = drain_count(&m, &o, NULL);
                double t1 = now_s();
                o.legacy_greedy = false;
                uint32_t search = drain_count(&m, &o, NULL);
                double t2 = now_s();
                uint32_t karp = karpenter(&m);
                double t3 = now_s();
                add(&t[0], legacy, refn, t1 - t0);
                add(&t[1], search, refn, t2 - t1);
                add(&t[2], karp, refn, t3 - t2);
                add(&t[3], refn, refn, small ? t_ref : 0);
                drainable += refn;
                cases++;
                gf_model_free(&m);
            }
    printf("%s clusters: %llu cases (%s nodes x 3 generator settings x %d seeds); reference: %s, "
           "%llu nodes in total%s\n",
           small ? "small" : "mid", (unsigned long long)cases, small ? "6/8/10/12" : "50/100/200",
           seeds,
           small       ? "exact optimum"
           : mid_exact ? "best known (exact search; its plan where it stopped at its step limit)"
                       : "upper bound",
           (unsigned long long)drainable, small && unproven ? " (some pools not proven)" : "");
    printf("%-10s %8s %8s %8s %8s %10s\n", "method", "drained",
           small       ? "optimal"
           : mid_exact ? "at_best"
                       : "at_bound",
           "short_1", "short_2+", "seconds");
    for (int i = 0; i < 4; i++)
        printf("%-10s %8llu %8llu %8llu %8llu %10.3f\n", t[i].name,
               (unsigned long long)t[i].drained, (unsigned long long)t[i].at_ref,
               (unsigned long long)t[i].short1, (unsigned long long)t[i].short2, t[i].seconds);
    if (unproven)
        printf("pools where the exact search hit its step limit: %llu\n",
               (unsigned long long)unproven);
    return 0;
}
