/* test_rebalance.c - relieving over-committed GPUs: the least disruptive
 * move, never a move that over-commits another GPU by actual use, several
 * moves when one is not enough, roll back when nothing suffices, pods that
 * may not move, limits and determinism. */
#include "testutil.h"
#include "decide/rebalance.h"
#include "kjson.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GIB 1073741824.0

#define NODE(name, gpus) KJ_NODE(name, "NVIDIA-L4", "20480", gpus, "16", "", "")
/* a Deployment's fractional pod with a priority */
#define POD(name, node, group, frac, prio)                                                         \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\"" KJ_OWNER(          \
        "ReplicaSet", name "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group "\","        \
                                          "\"app\":\"" name "\",\"pod-template-hash\":"            \
                                          "\"5d4c3b2a19\"},\"annotations\":{\"gpu-fraction\":"     \
                                          "\"" frac "\"}},\"spec\":{\"nodeName\":\"" node          \
                                          "\",\"priority\":" prio ",\"containers\":[{\"name\":"    \
                                          "\"c\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}," \
                                          "\"status\":{\"phase\":\"Running\"}}"

typedef struct fx {
    gf_model m;
    gf_diags d;
    gf_fair_state st;
    gf_rebalance plan;
} fx;

static fx *setup(const char *json)
{
    fx *f = test_calloc(1, sizeof *f);
    gf_error err = {0};
    gf_model_init(&f->m);
    gf_diags_init(&f->d);
    if (gf_test_load_text(&f->m, &f->d, &err, json)) fail_msg("load: %s: %s", err.where, err.msg);
    gf_fair_state_init(&f->st);
    gf_fair_state_from_model(&f->m, &f->st);
    return f;
}

static void teardown(fx *f)
{
    gf_rebalance_free(&f->plan);
    gf_fair_state_free(&f->st);
    gf_diags_free(&f->d);
    gf_model_free(&f->m);
    test_free(f);
}

/* Memory (GiB) and SM demand of pod name. */
static void need(fx *f, const char *name, double mem_gib, double demand_sm)
{
    for (size_t i = 0; i < f->st.pods.n; i++) {
        gf_fair_pod *p = &f->st.pods.v[i];
        if (strcmp(p->name, name)) continue;
        p->memory_bytes = mem_gib * GIB;
        p->demand_sm = demand_sm;
        return;
    }
    fail_msg("no pod %s", name);
}

static void plan(fx *f, uint32_t max_moves)
{
    gf_rebalance_opts o;
    gf_rebalance_opts_default(&o);
    o.max_moves = max_moves;
    gf_error err = {0};
    if (gf_rebalance_plan(&f->m, NULL, &f->st, &o, &f->plan, &err)) fail_msg("plan: %s", err.msg);
}

static const char *pod_of(const fx *f, uint32_t pod)
{
    return f->m.pods.v[pod].name;
}

static const char *to_node(const fx *f, const gf_rebalance_move *mv)
{
    return f->m.nodes.v[mv->to.node].name;
}

static const char *alt_of(const fx *f, const char *pod)
{
    for (size_t i = 0; i < f->plan.alternatives.n; i++)
        if (!strcmp(pod_of(f, f->plan.alternatives.v[i].pod), pod))
            return f->plan.alternatives.v[i].why;
    return "(none)";
}

/* Replays the plan's moves on a fresh view: no GPU that received a pod may
 * end above 1.0 of actual use. */
static void assert_no_new_overcommit(const fx *f)
{
    gf_rebalance_view v;
    gf_error err = {0};
    assert_int_equal(gf_rebalance_view_init(&v, &f->m, NULL, &f->st, &err), GF_OK);
    for (size_t i = 0; i < f->plan.moves.n; i++) {
        const gf_rebalance_move *mv = &f->plan.moves.v[i];
        gf_rebalance_need nd;
        assert_true(gf_rebalance_need_of(&v, mv->pod, &nd));
        const gf_pod *p = &f->m.pods.v[mv->pod];
        gf_rebalance_commit(&v, p, p, &nd, &mv->to);
    }
    for (size_t i = 0; i < f->plan.moves.n; i++)
        for (uint32_t k = 0; k < f->plan.moves.v[i].to.n_gpus; k++) {
            uint32_t g = f->plan.moves.v[i].to.gpus[k];
            if (v.mem_need[g] > 1 + 1e-9 || v.sm_need[g] > 1 + 1e-9)
                fail_msg("GPU %u ends at memory %.3f, compute %.3f", g, v.mem_need[g],
                         v.sm_need[g]);
        }
    gf_rebalance_view_free(&v);
}

/* Any of three pods relieves the GPU alone: the lowest priority, then the
 * smallest allocation moves; the others are named with why not. */
static void test_least_disruptive(void **state)
{
    (void)state;
    fx *f = setup(
        KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," POD("a", "n1", "g1", "0.3", "10") "," POD(
            "b", "n1", "g1", "0.3", "0") "," POD("c", "n1", "g1", "0.2", "0")));
    need(f, "a", 4, 0.4);
    need(f, "b", 4, 0.4);
    need(f, "c", 3, 0.4);
    plan(f, 0);
    assert_int_equal(f->plan.gpus.n, 1);
    const gf_rebalance_gpu *g = &f->plan.gpus.v[0];
    assert_true(g->relieved);
    assert_true(fabs(g->sm_before - 1.2) < 1e-9);
    assert_true(fabs(g->sm_after - 0.8) < 1e-9);
    assert_int_equal(g->n_moves, 1);
    const gf_rebalance_move *mv = &f->plan.moves.v[0];
    assert_string_equal(pod_of(f, mv->pod), "c");
    assert_string_equal(to_node(f, mv), "n2");
    assert_non_null(strstr(g->why, "one move relieves it: t/c"));
    assert_string_equal(alt_of(f, "a"), "priority 10 is above t/c's 0 (the lower priority yields)");
    assert_string_equal(alt_of(f, "b"),
                        "its allocation 0.30 is larger than t/c's 0.20 (more to restart)");
    assert_non_null(strstr(mv->why, "n2 GPU 0 (free allocation 1.00; actual use after the move: "
                                    "memory 0.15, compute 0.40)"));
    assert_no_new_overcommit(f);
    teardown(f);
}

/* The packing engine would put the pod where allocation has room but actual
 * use does not: that GPU is rejected, and without another one nothing moves. */
static void test_never_overcommits_target(void **state)
{
    (void)state;
#define BUSY                                                                                       \
    NODE("n1", "1")                                                                                \
    "," NODE("n2", "1") "," NODE("n3", "1") "," POD("a", "n1", "g1", "0.5", "0") "," POD(          \
        "b", "n1", "g1", "0.5", "0") "," POD("c", "n2", "g2", "0.4", "0") "," POD("d", "n3", "g3", \
                                                                                  "0.1", "0")
    fx *f = setup(KJ_LIST(BUSY));
    need(f, "a", 6, 0.7);
    need(f, "b", 6, 0.6);
    need(f, "c", 4, 0.6);
    need(f, "d", 1, 0.8);
    plan(f, 0);
    assert_int_equal(f->plan.gpus.n, 1);
    assert_false(f->plan.gpus.v[0].relieved);
    assert_int_equal(f->plan.moves.n, 0);
    assert_non_null(strstr(f->plan.gpus.v[0].why, "no pod on it can move"));
    assert_non_null(strstr(alt_of(f, "a"),
                           "nowhere to go: no GPU with room for its allocation "
                           "stays within 1.0 of actual use (the packing engine's "
                           "choice, n2 GPU 0: actual compute use would reach 1.30"));
    teardown(f);

    f = setup(KJ_LIST(BUSY "," NODE("n4", "1")));
    need(f, "a", 6, 0.7);
    need(f, "b", 6, 0.6);
    need(f, "c", 4, 0.6);
    need(f, "d", 1, 0.8);
    plan(f, 0);
    assert_true(f->plan.gpus.v[0].relieved);
    assert_int_equal(f->plan.moves.n, 1);
    const gf_rebalance_move *mv = &f->plan.moves.v[0];
    assert_string_equal(pod_of(f, mv->pod), "a"); /* equal priority and size: the first */
    assert_string_equal(to_node(f, mv), "n4");
    assert_non_null(strstr(mv->why, "the packing engine's first choice, n2 GPU 0, was rejected: "
                                    "actual compute use would reach 1.30"));
    assert_string_equal(alt_of(f, "b"), "as disruptive as moving t/a, which comes first");
    assert_no_new_overcommit(f);
    teardown(f);
#undef BUSY
}

/* One move is not enough: two, the biggest users first; with room for only
 * one, nothing moves at all. */
static void test_several_moves_and_rollback(void **state)
{
    (void)state;
#define FOUR                                                                                       \
    NODE("n1", "1")                                                                                \
    "," POD("a", "n1", "g1", "0.25", "0") "," POD("b", "n1", "g1", "0.25", "0") "," POD(           \
        "c", "n1", "g1", "0.25", "0") "," POD("d", "n1", "g1", "0.25", "0")
    fx *f = setup(KJ_LIST(FOUR "," NODE("n2", "1")));
    need(f, "a", 2, 0.3);
    need(f, "b", 2, 0.45);
    need(f, "c", 2, 0.4);
    need(f, "d", 2, 0.45);
    plan(f, 0);
    const gf_rebalance_gpu *g = &f->plan.gpus.v[0];
    assert_true(g->relieved);
    assert_int_equal(g->n_moves, 2);
    /* 1.6: no single pod brings it to 1.0; b (0.45, first of the two largest) goes; at
     * 1.15 any of a, c, d relieves alone, and a is the least disruptive (first index) */
    assert_string_equal(pod_of(f, f->plan.moves.v[0].pod), "b");
    assert_string_equal(pod_of(f, f->plan.moves.v[1].pod), "a");
    assert_non_null(strstr(g->why, "no single move relieves it: 2 moves"));
    assert_no_new_overcommit(f);
    teardown(f);

    /* the only other GPU has room for one of them by actual use */
    f = setup(KJ_LIST(FOUR "," NODE("n2", "1") "," POD("x", "n2", "g2", "0.25", "0")));
    need(f, "a", 2, 0.3);
    need(f, "b", 2, 0.45);
    need(f, "c", 2, 0.4);
    need(f, "d", 2, 0.45);
    need(f, "x", 2, 0.5);
    plan(f, 0);
    g = &f->plan.gpus.v[0];
    assert_false(g->relieved);
    assert_int_equal(f->plan.moves.n, 0);
    assert_true(fabs(g->sm_after - g->sm_before) < 1e-9); /* rolled back */
    assert_non_null(strstr(g->why, "the pods that can move do not free enough"));
    assert_non_null(strstr(alt_of(f, "b"), "but the GPU could not be relieved"));
    assert_non_null(strstr(alt_of(f, "a"), "nowhere to go"));
    teardown(f);

    /* a move limit below what relief takes: nothing */
    f = setup(KJ_LIST(FOUR "," NODE("n2", "1")));
    need(f, "a", 2, 0.3);
    need(f, "b", 2, 0.45);
    need(f, "c", 2, 0.4);
    need(f, "d", 2, 0.45);
    plan(f, 1);
    assert_false(f->plan.gpus.v[0].relieved);
    assert_int_equal(f->plan.moves.n, 0);
    assert_non_null(strstr(f->plan.gpus.v[0].why, "within the move limit (1)"));
    teardown(f);
#undef FOUR
}

/* Pods that may not move say why; memory over-commit is relieved too. */
static void test_unmovable_and_memory(void **state)
{
    (void)state;
    fx *f = setup(KJ_LIST(
        NODE("n1", "1") "," NODE("n2", "1") "," KJ_RUNNING(
            "job", "n1",
            KJ_OWNER("Job", "nightly") ",\"labels\":{\"runai-gpu-group\":\"g1\"},"
                                       "\"annotations\":{\"gpu-fraction\":\"0.3\"}",
            "{}") "," KJ_SHARED("bare", "n1", "g1", "0.3", "") "," //
        KJ_RUNNING("quiet", "n1",
                   KJ_OWNER("ReplicaSet", "quiet-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":"
                                                              "\"g1\"},\"annotations\":{\"gpu-"
                                                              "fraction\":\"0.2\",\"gpufrac.io/"
                                                              "consolidate\":\"false\"}",
                   "{}") "," POD("web", "n1", "g1", "0.2",
                                 "0") "," //
                                      "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":"
                                      "\"web\",\"namespace\":\"t\"},"
                                      "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}},"
                                      "\"status\":"
                                      "{\"disruptionsAllowed\":0}}"));
    need(f, "job", 6, 0.4);
    need(f, "bare", 6, 0.4);
    need(f, "quiet", 4, 0.2);
    need(f, "web", 4, 0.2);
    plan(f, 0);
    assert_int_equal(f->plan.gpus.n, 1);
    assert_false(f->plan.gpus.v[0].relieved);
    assert_string_equal(alt_of(f, "job"), "not movable: a Job's pod would lose its progress");
    assert_string_equal(alt_of(f, "bare"), "not movable: it has no controller to recreate it");
    assert_string_equal(alt_of(f, "quiet"),
                        "not movable: it opted out of moves (gpufrac.io/consolidate: \"false\")");
    assert_string_equal(alt_of(f, "web"),
                        "not movable: a PodDisruptionBudget allows no more disruptions");
    teardown(f);

    /* memory: 11 + 10.5 GiB on 20 GiB */
    f = setup(KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," POD(
        "a", "n1", "g1", "0.5", "0") "," POD("b", "n1", "g1", "0.5", "0")));
    need(f, "a", 11, 0.3);
    need(f, "b", 10.5, 0.3);
    plan(f, 0);
    assert_true(f->plan.gpus.v[0].relieved);
    /* of 20400 MiB: the 20480 label floored as KAI does (node_info.go) */
    assert_true(fabs(f->plan.gpus.v[0].mem_before - 21.5 * 1024 / 20400) < 1e-9);
    assert_int_equal(f->plan.moves.n, 1);
    assert_string_equal(to_node(f, &f->plan.moves.v[0]), "n2");
    assert_no_new_overcommit(f);
    teardown(f);
}

/* Worst GPU first, a plan-wide move limit, the same plan every time, and
 * nothing to do on a healthy cluster. */
static void test_plan_order_and_limits(void **state)
{
    (void)state;
    const char *json = KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," NODE("n3", "2") "," POD(
        "a", "n1", "g1", "0.5", "0") "," POD("b", "n1", "g1", "0.5",
                                             "0") "," POD("c", "n2", "g2", "0.5",
                                                          "0") "," POD("d", "n2", "g2", "0.5",
                                                                       "0"));
    fx *f = setup(json);
    need(f, "a", 5, 0.6);
    need(f, "b", 5, 0.6); /* n1: 1.2 */
    need(f, "c", 5, 0.8);
    need(f, "d", 5, 0.6); /* n2: 1.4, worse */
    plan(f, 0);
    assert_int_equal(f->plan.gpus.n, 2);
    assert_string_equal(f->m.nodes.v[f->m.gpus.v[f->plan.gpus.v[0].gpu].node].name, "n2");
    assert_true(f->plan.gpus.v[0].relieved && f->plan.gpus.v[1].relieved);
    assert_int_equal(f->plan.moves.n, 2);
    assert_no_new_overcommit(f);
    char first[2][64];
    for (int i = 0; i < 2; i++)
        snprintf(first[i], sizeof first[i], "%s>%s", pod_of(f, f->plan.moves.v[i].pod),
                 to_node(f, &f->plan.moves.v[i]));
    gf_rebalance_free(&f->plan);
    plan(f, 0);
    for (int i = 0; i < 2; i++) {
        char again[64];
        snprintf(again, sizeof again, "%s>%s", pod_of(f, f->plan.moves.v[i].pod),
                 to_node(f, &f->plan.moves.v[i]));
        assert_string_equal(again, first[i]);
    }
    gf_rebalance_free(&f->plan);
    plan(f, 1);
    assert_int_equal(f->plan.moves.n, 1);
    assert_false(f->plan.gpus.v[1].relieved);
    assert_non_null(strstr(f->plan.gpus.v[1].why, "the plan already has the maximum number"));
    gf_rebalance_free(&f->plan);

    /* needs within 1.0, or no usage at all (allocations): nothing to do */
    need(f, "c", 5, 0.4);
    need(f, "d", 5, 0.4);
    need(f, "a", 5, 0.4);
    need(f, "b", 5, 0.4);
    plan(f, 0);
    assert_int_equal(f->plan.gpus.n, 0);
    gf_rebalance_free(&f->plan);
    gf_error err = {0};
    assert_int_equal(gf_rebalance_plan(&f->m, NULL, NULL, NULL, &f->plan, &err), GF_OK);
    assert_int_equal(f->plan.gpus.n, 0);
    teardown(f);
}

static void test_errors(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_rebalance r;
    gf_error err = {0};
    assert_int_equal(gf_rebalance_plan(&m, NULL, NULL, NULL, &r, &err), GF_EINTERNAL);
    assert_non_null(strstr(err.msg, "not finalized"));
    gf_rebalance_free(&r);
    gf_rebalance_free(NULL);
    gf_rebalance_view_free(NULL);
    gf_model_free(&m);

    fx *f = setup(KJ_LIST(NODE("n1", "1") "," POD("a", "n1", "g1", "0.5", "0")));
    fx *g = setup(KJ_LIST(NODE("n1", "1")));
    gf_pack_state *other = gf_pack_state_new(&g->m);
    assert_int_equal(gf_rebalance_plan(&f->m, other, NULL, NULL, &f->plan, &err), GF_EINTERNAL);
    gf_pack_state_free(other);
    /* a state whose GPUs do not list its pods in order */
    f->st.gpus.v[0].first_pod = 1;
    assert_int_equal(gf_rebalance_plan(&f->m, NULL, &f->st, NULL, &f->plan, &err), GF_EINTERNAL);
    f->st.gpus.v[0].first_pod = 0;
    /* relieving something that is not a GPU, or is fine */
    gf_rebalance_view v;
    assert_int_equal(gf_rebalance_view_init(&v, &f->m, NULL, &f->st, &err), GF_OK);
    assert_false(gf_rebalance_relieve(&v, 99, GF_SCORE_BINPACK, 0, &f->plan));
    assert_true(gf_rebalance_relieve(&v, 0, GF_SCORE_BINPACK, 0, &f->plan));
    assert_string_equal(f->plan.gpus.v[1].why, "not over-committed");
    const char *why = NULL;
    assert_false(gf_rebalance_movable(&v, 42, &why));
    assert_string_equal(why, "it is not in the cluster model");
    gf_rebalance_view_free(&v);
    teardown(g);
    teardown(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_least_disruptive),
        cmocka_unit_test(test_never_overcommits_target),
        cmocka_unit_test(test_several_moves_and_rollback),
        cmocka_unit_test(test_unmovable_and_memory),
        cmocka_unit_test(test_plan_order_and_limits),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
