/* test_consolidate_oracle.c - the planner's fast paths (constraint cache,
 * score bounds, binpack bucket index with its largest-free-GPU level, no-fit
 * memo, PDB index by label) against brute force on generated clusters:
 *   - with check_index the planner asks a scan of every node (gf_pack_fit_node
 *     on each, with the same preference for nodes that stay) for every
 *     placement and matches every pod against every PDB, and counts the
 *     answers that differ: there must be none;
 *   - the plan's steps, replayed from the snapshot on a fresh state, must fit
 *     one by one and end with nothing over-committed, one move per pod to a
 *     node that stays, and no movable pod left on a drained node;
 *   - the greedy of before (legacy_greedy: every move lands where
 *     gf_pack_place() over every node puts it) is replayed move by move. */
#include "testutil.h"
#include "decide/consolidate.h"
#include "sim/gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static gf_placement current(const gf_model *m, const gf_pod *p)
{
    gf_placement pl = {0};
    pl.node = p->node;
    pl.n_gpus = p->n_gpus < GF_PACK_MAX_DEVICES ? p->n_gpus : GF_PACK_MAX_DEVICES;
    for (uint32_t k = 0; k < pl.n_gpus; k++)
        pl.gpus[k] = p->gpus[k];
    pl.share =
        p->share != GF_SHARE_NONE ? gf_pod_share_on(p, m->nodes.v[p->node].gpu_memory_mib) : 1.0;
    return pl;
}

/* Replays the steps of c on a fresh state; returns the number checked. */
static size_t replay_steps(const gf_model *m, const gf_consolidation *c)
{
    gf_pack_state *s = gf_pack_state_new(m);
    gf_placement *at = calloc(m->pods.n + 1, sizeof *at);
    bool *moved = calloc(m->pods.n + 1, sizeof(bool));
    for (size_t i = 0; i < c->steps.n; i++) {
        const gf_move *st = &c->steps.v[i];
        const gf_pod *p = &m->pods.v[st->pod];
        gf_placement was = moved[st->pod] ? at[st->pod] : current(m, p);
        assert_int_equal(was.node, st->from_node);
        gf_pack_remove(s, p, &was);
        assert_true(s->free_cpu_milli[st->to.node] >= p->cpu_milli);
        assert_true(s->free_memory_bytes[st->to.node] >= p->memory_bytes);
        assert_true(gf_pack_node_allowed(m, p, st->to.node, NULL));
        for (uint32_t k = 0; k < st->to.n_gpus; k++) {
            assert_int_equal(m->gpus.v[st->to.gpus[k]].node, st->to.node);
            assert_true(s->gpu_free[st->to.gpus[k]] + 1e-9 >= st->to.share);
        }
        gf_pack_apply(s, p, &st->to);
        at[st->pod] = st->to;
        moved[st->pod] = true;
    }
    /* one move per pod, to where its last step put it, on a node that stays */
    size_t n_moved = 0;
    for (size_t i = 0; i < m->pods.n; i++)
        n_moved += moved[i];
    assert_int_equal(n_moved, c->moves.n);
    for (size_t i = 0; i < c->moves.n; i++) {
        const gf_move *mv = &c->moves.v[i];
        assert_true(moved[mv->pod]);
        assert_int_equal(at[mv->pod].node, mv->to.node);
        assert_int_equal(mv->from_node, m->pods.v[mv->pod].node);
        assert_true(c->drained[mv->from_node]);
        assert_false(c->drained[mv->to.node]);
    }
    for (size_t g = 0; g < m->gpus.n; g++)
        assert_true(s->gpu_free[g] > -1e-9);
    for (size_t n = 0; n < m->nodes.n; n++) {
        assert_true(s->free_cpu_milli[n] >= 0 || c->drained[n]);
        assert_true(s->free_memory_bytes[n] >= 0 || c->drained[n]);
    }
    /* pods of an owner that recreates them leave drained nodes */
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->node == GF_NONE || !c->drained[p->node] || !gf_pod_active(p) || p->is_reservation)
            continue;
        const gf_workload *w = gf_model_pod_workload(m, p);
        if (w && strcmp(w->kind, "DaemonSet")) assert_true(moved[i]);
    }
    free(at);
    free(moved);
    gf_pack_state_free(s);
    return c->steps.n;
}

/* Replays a legacy_greedy plan on a fresh state; returns the number of moves checked. */
static size_t replay(const gf_model *m, const gf_consolidation *c, gf_scorer sc)
{
    gf_pack_state *s = gf_pack_state_new(m);
    if (sc == GF_SCORE_FGD) { /* the planner's workload distribution */
        gf_task_class *cls;
        size_t n = gf_pack_classes_from_pods(m, &cls);
        gf_pack_set_classes(s, cls, n);
        free(cls);
    }
    bool *skip = calloc(m->nodes.n + 1, sizeof(bool));
    size_t checked = 0;
    for (size_t d = 0; d < c->drains.n; d++) {
        const gf_drain *dr = &c->drains.v[d];
        skip[dr->node] = true;
        for (uint32_t k = 0; k < dr->n_moves; k++) {
            const gf_move *mv = &c->moves.v[dr->first_move + k];
            gf_placement cur = current(m, &m->pods.v[mv->pod]);
            gf_pack_remove(s, &m->pods.v[mv->pod], &cur);
        }
        for (uint32_t k = 0; k < dr->n_moves; k++) {
            const gf_move *mv = &c->moves.v[dr->first_move + k];
            const gf_pod *p = &m->pods.v[mv->pod];
            gf_placement want;
            assert_int_equal(gf_pack_place(s, p, sc, skip, &want), GF_OK);
            gf_placement again;
            assert_true(gf_pack_fit_node(s, p, mv->to.node, sc, &again, NULL));
            if (want.node != mv->to.node)
                fail_msg("pod %s/%s: plan puts it on %s (score %.15g), a full scan on %s "
                         "(score %.15g)",
                         p->ns, p->name, m->nodes.v[mv->to.node].name, mv->to.score,
                         m->nodes.v[want.node].name, want.score);
            assert_true(fabs(want.score - mv->to.score) < 1e-9);
            gf_pack_apply(s, p, &mv->to);
            checked++;
        }
    }
    /* after the plan nothing is over-committed */
    for (size_t g = 0; g < m->gpus.n; g++)
        assert_true(s->gpu_free[g] > -1e-9);
    for (size_t n = 0; n < m->nodes.n; n++) {
        assert_true(s->free_cpu_milli[n] >= 0 || skip[n]);
        assert_true(s->free_memory_bytes[n] >= 0 || skip[n]);
    }
    free(skip);
    gf_pack_state_free(s);
    return checked;
}

static void run_opts(uint64_t seed, uint32_t nodes, uint32_t gpus_per_node, gf_scorer sc,
                     bool legacy, uint32_t rounds)
{
    gf_model m;
    gf_model_init(&m);
    gf_gen_opts g;
    gf_gen_opts_default(&g);
    g.nodes = nodes;
    g.seed = seed;
    g.gpus_per_node = gpus_per_node;
    gf_error err = {0};
    assert_int_equal(gf_gen_cluster(&m, &g, NULL, &err), GF_OK);
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.scorer = sc;
    o.legacy_greedy = legacy;
    o.max_rounds = rounds;
    o.check_index = true;
    gf_consolidation c;
    assert_int_equal(gf_consolidate(&m, &o, &c, &err), GF_OK);
    assert_true(c.nodes_freed > 0); /* generated clusters at 60% leave room */
    if (c.index_mismatches)
        fail_msg("seed %llu, %u nodes, %s: %llu index answers differ from a full scan",
                 (unsigned long long)seed, nodes, gf_scorer_name(sc),
                 (unsigned long long)c.index_mismatches);
    if (legacy) {
        size_t checked = replay(&m, &c, sc);
        assert_int_equal(checked, c.moves.n);
    }
    assert_true(replay_steps(&m, &c) >= c.moves.n);
    gf_consolidation_free(&c);
    gf_model_free(&m);
}

static void run(uint64_t seed, uint32_t nodes, uint32_t gpus_per_node, gf_scorer sc)
{
    run_opts(seed, nodes, gpus_per_node, sc, true, 0);
    run_opts(seed, nodes, gpus_per_node, sc, false, 0);
    run_opts(seed, nodes, gpus_per_node, sc, false, 3);
}

static void test_binpack_matches_full_scan(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++)
        run(seed, 150, 0, GF_SCORE_BINPACK);
    run(7, 120, 8, GF_SCORE_BINPACK);
    run(8, 120, 2, GF_SCORE_BINPACK);
}

static void test_other_scorers_match_full_scan(void **state)
{
    (void)state;
    run(3, 100, 0, GF_SCORE_SPREAD);
    run(4, 100, 0, GF_SCORE_BESTFIT);
    run(5, 60, 4, GF_SCORE_FGD);
}

/* Small generated clusters, many seeds: the exact search's plan must be
 * feasible (replayed), at least as good as the greedy search's (which is
 * feasible too, so an exact answer below it would be wrong), within the
 * bound, and the greedy search must reach the proven optimum in the large
 * majority of cases and never be more than one node short. */
static void test_small_clusters_against_exact(void **state)
{
    (void)state;
    uint32_t cases = 0, optimal = 0, proven = 0, greedy_total = 0, exact_total = 0;
    uint32_t exact_better = 0; /* cases where the exact search replaced a legacy plan */
    for (uint64_t seed = 1; seed <= 10; seed++) {
        for (uint32_t shape = 0; shape < 3; shape++) {
            gf_model m;
            gf_model_init(&m);
            gf_gen_opts g;
            gf_gen_opts_default(&g);
            g.nodes = 6 + 3 * shape;
            g.seed = seed;
            g.gpus_per_node = shape == 0 ? 1 : shape == 1 ? 2 : 0;
            g.cpu_pods_per_node = 3;
            gf_error err = {0};
            assert_int_equal(gf_gen_cluster(&m, &g, NULL, &err), GF_OK);
            gf_consolidate_opts o;
            gf_consolidate_opts_default(&o);
            gf_consolidation h, x;
            assert_int_equal(gf_consolidate(&m, &o, &h, &err), GF_OK);
            o.exact = true;
            assert_int_equal(gf_consolidate(&m, &o, &x, &err), GF_OK);
            replay_steps(&m, &x);
            bool all_proven = true;
            for (size_t i = 0; i < x.pools.n; i++) {
                assert_true(x.pools.v[i].drained <= x.pools.v[i].bound);
                all_proven &= x.pools.v[i].optimal;
            }
            assert_true(x.nodes_freed >= h.nodes_freed);
            assert_true(x.nodes_freed <= h.nodes_freed + 1);
            /* from the greedy of before, which falls short more often, the
             * exact search must reach the same optimum with its own plan */
            gf_consolidation lx, lg;
            o.legacy_greedy = true;
            assert_int_equal(gf_consolidate(&m, &o, &lx, &err), GF_OK);
            replay_steps(&m, &lx);
            if (all_proven) assert_int_equal(lx.nodes_freed, x.nodes_freed);
            o.exact = false;
            assert_int_equal(gf_consolidate(&m, &o, &lg, &err), GF_OK);
            exact_better += lx.nodes_freed > lg.nodes_freed;
            gf_consolidation_free(&lx);
            gf_consolidation_free(&lg);
            cases++;
            proven += all_proven;
            optimal += all_proven && x.nodes_freed == h.nodes_freed;
            greedy_total += h.nodes_freed;
            exact_total += x.nodes_freed;
            gf_consolidation_free(&h);
            gf_consolidation_free(&x);
            gf_model_free(&m);
        }
    }
    print_message("small clusters: %u cases, %u proven, greedy optimal in %u, nodes %u vs %u; "
                  "exact improved the greedy of before in %u\n",
                  cases, proven, optimal, greedy_total, exact_total, exact_better);
    assert_true(exact_better > 0); /* the plan-replacing path ran */
    assert_true(proven * 10 >= cases * 9);
    assert_true(optimal * 10 >= proven * 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binpack_matches_full_scan),
        cmocka_unit_test(test_other_scorers_match_full_scan),
        cmocka_unit_test(test_small_clusters_against_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
