/* test_consolidate.c - drainable node sets, move plans and refusals. */
#include "testutil.h"
#include "decide/consolidate.h"
#include "kjson.h"

#include <math.h>
#include <string.h>

#define DEP(n)                                                                                     \
    KJ_OWNER("ReplicaSet", n "-5d4c3b2a19")                                                        \
    ",\"labels\":{\"pod-template-hash\":\"5d4c3b2a19\",\"app\":\"" n "\"}"
/* a fractional Deployment pod on node in group */
#define FRAC(name, dep, node, group, frac)                                                         \
    KJ_RUNNING(name, node,                                                                         \
               KJ_OWNER("ReplicaSet",                                                              \
                        dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group             \
                                           "\",\"app\":\"" dep                                     \
                                           "\",\"pod-template-hash\":\"5d4c3b2a19\"},"             \
                                           "\"annotations\":{\"gpu-fraction\":\"" frac "\"}",      \
               "{\"requests\":{\"cpu\":\"1\"}}")
#define L4(name, gpus) KJ_NODE(name, "NVIDIA-L4", "20000", gpus, "16", "", "")

typedef struct fx {
    gf_model m;
    gf_diags d;
    gf_error err;
    gf_consolidation plan;
} fx;

static fx *plan(const char *json, const gf_consolidate_opts *o)
{
    fx *f = test_calloc(1, sizeof *f);
    gf_model_init(&f->m);
    gf_diags_init(&f->d);
    if (gf_test_load_text(&f->m, &f->d, &f->err, json))
        fail_msg("load: %s: %s", f->err.where, f->err.msg);
    gf_consolidate_opts def;
    gf_consolidate_opts_default(&def);
    /* the fixtures' Deployment pods are non-preemptible as KAI's grouper
     * makes them (inference, 125), most single replicas: these tests are
     * about capacity and disruption limits; the governance rules are
     * test_consolidate_gov.c's */
    def.move_non_preemptible = GF_MOVE_NP_ALWAYS;
    assert_int_equal(gf_consolidate(&f->m, o ? o : &def, &f->plan, &f->err), GF_OK);
    return f;
}

static void unplan(fx *f)
{
    gf_consolidation_free(&f->plan);
    gf_diags_free(&f->d);
    gf_model_free(&f->m);
    test_free(f);
}

static const char *nname(const fx *f, uint32_t node)
{
    return f->m.nodes.v[node].name;
}

static bool drained(const fx *f, const char *node)
{
    for (size_t i = 0; i < f->plan.drains.n; i++)
        if (!strcmp(nname(f, f->plan.drains.v[i].node), node)) return true;
    return false;
}

static const char *kept_reason(const fx *f, const char *node)
{
    for (size_t i = 0; i < f->plan.kept.n; i++)
        if (!strcmp(nname(f, f->plan.kept.v[i].node), node)) return f->plan.kept.v[i].reason;
    return NULL;
}

static const gf_move *move_of(const fx *f, const char *pod)
{
    for (size_t i = 0; i < f->plan.moves.n; i++)
        if (!strcmp(f->m.pods.v[f->plan.moves.v[i].pod].name, pod)) return &f->plan.moves.v[i];
    return NULL;
}

/* 0.5 + 0.25 + 0.5 on three one-GPU nodes: the best is to free one node.
 * n1's 0.5 goes to the fullest GPU with room (n3); n2's 0.25 then fits
 * nowhere (n3 is full, n1 drained); n3's two pods fit nowhere either. The
 * bound (1.25 GPUs need two GPUs) says one: the plan is optimal. */
static void test_three_nodes_one_freed(void **state)
{
    (void)state;
    fx *f = plan(KJ_LIST(L4("n1", "1") "," L4("n2", "1") "," L4("n3", "1") "," //
                         FRAC("a", "svc-a", "n1", "g1", "0.5") ","             //
                         FRAC("b", "svc-b", "n2", "g2", "0.25") ","            //
                         FRAC("c", "svc-c", "n3", "g3", "0.5")),
                 NULL);
    assert_int_equal(f->plan.nodes_freed, 1);
    assert_int_equal(f->plan.gpus_freed, 1);
    assert_true(drained(f, "n1"));
    const gf_move *mv = move_of(f, "a");
    assert_non_null(mv);
    assert_string_equal(nname(f, mv->to.node), "n3");
    assert_true(fabs(mv->to.share - 0.5) < 1e-12);
    assert_string_equal(kept_reason(f, "n2"), "a pod fits on no other node of its pool");
    assert_string_equal(kept_reason(f, "n3"), "a pod fits on no other node of its pool");
    assert_true(fabs(f->plan.cost_saved - 1.0) < 1e-12);
    assert_int_equal(f->plan.pools.n, 1);
    assert_int_equal(f->plan.pools.v[0].bound, 1);
    assert_int_equal(f->plan.pools.v[0].drained, 1);
    assert_true(f->plan.pools.v[0].optimal);
    unplan(f);
}

/* Idle GPU nodes cost nothing to drain and come first. */
static void test_idle_node_first(void **state)
{
    (void)state;
    fx *f = plan(KJ_LIST(L4("busy", "1") "," L4("idle", "2") "," //
                         FRAC("a", "svc-a", "busy", "g1", "0.9")),
                 NULL);
    assert_int_equal(f->plan.drains.n, 1);
    assert_string_equal(nname(f, f->plan.drains.v[0].node), "idle");
    assert_int_equal(f->plan.drains.v[0].n_moves, 0);
    assert_int_equal(f->plan.gpus_freed, 2);
    assert_string_equal(kept_reason(f, "busy"), "a pod fits on no other node of its pool");
    unplan(f);
}

static void test_pins(void **state)
{
    (void)state;
    fx *f = plan(
        KJ_LIST(L4("bare", "1") "," L4("optout", "1") "," L4("job", "1") "," L4("room", "4") "," //
                KJ_RUNNING("unowned", "bare",
                           ",\"labels\":{\"runai-gpu-group\":\"g1\"},\"annotations\":{\"gpu-"
                           "fraction\":\"0.1\"}",
                           "{}") "," //
                KJ_RUNNING("quiet", "optout",
                           DEP("svc-q") ",\"annotations\":{\"gpu-fraction\":\"0.1\",\"gpufrac.io/"
                                        "consolidate\":\"false\"}",
                           "{}") "," //
                KJ_RUNNING("batch", "job",
                           KJ_OWNER("Job", "nightly") ",\"annotations\":{\"gpu-fraction\":\"0.1\"}",
                           "{}") "," //
                FRAC("r", "svc-r", "room", "g9", "0.1")),
        NULL);
    assert_string_equal(kept_reason(f, "bare"), "a pod has no controller to recreate it");
    assert_string_equal(kept_reason(f, "optout"),
                        "a pod opted out (gpufrac.io/consolidate: \"false\")");
    assert_string_equal(kept_reason(f, "job"), "a Job's pod would lose its progress");
    /* the only movable node has nowhere to go: every other node is pinned but
     * they still have room, so "room"'s pod moves there and the 4-GPU node is freed */
    assert_true(drained(f, "room"));
    assert_int_equal(f->plan.gpus_freed, 4);
    unplan(f);
}

static void test_pdb_and_move_limit(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4("a", "1") "," L4("b", "2") ","                                               //
                FRAC("w1", "web", "a", "g1", "0.2") "," FRAC("w2", "web", "a", "g1", "0.2") "," //
                FRAC("x", "other", "b", "g2",
                     "0.2") "," //
                            "{\"apiVersion\":\"policy/"
                            "v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":"
                            "\"web\",\"namespace\":\"t\"},\"spec\":{\"maxUnavailable\":1,"
                            "\"selector\":{\"matchLabels\":"
                            "{\"app\":\"web\"}}},\"status\":{\"disruptionsAllowed\":1,"
                            "\"currentHealthy\":2}}");
    /* b (1 move) is drained first; a, which received b's pod, stays a
     * candidate but its pods have nowhere to go */
    fx *f = plan(json, NULL);
    assert_int_equal(f->m.pdbs.n, 1);
    assert_true(drained(f, "b"));
    assert_string_equal(kept_reason(f, "a"), "a pod fits on no other node of its pool");
    unplan(f);

    /* without b's pod to move first, the PDB itself is the reason */
    const char *json2 =
        KJ_LIST(L4("a", "1") "," L4("b", "2") "," KJ_RUNNING("pin", "b", "", "{}") "," //
                FRAC("w1", "web", "a", "g1", "0.2") "," FRAC(
                    "w2", "web", "a", "g1",
                    "0.2") "," //
                           "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"web\","
                           "\"namespace\":\"t\"},"
                           "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}},\"status\":"
                           "{\"disruptionsAllowed\":1}}");
    f = plan(json2, NULL);
    assert_string_equal(kept_reason(f, "a"), "a PodDisruptionBudget allows no more disruptions");
    assert_int_equal(f->plan.moves.n, 0); /* the first, tentative move was rolled back */
    unplan(f);

    /* a per-workload move limit of 1 refuses the same node */
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.move_non_preemptible = GF_MOVE_NP_ALWAYS;
    o.max_moves_per_workload = 1;
    const char *json3 =
        KJ_LIST(L4("a", "1") "," L4("b", "2") "," KJ_RUNNING("pin", "b", "", "{}") "," //
                FRAC("w1", "web", "a", "g1", "0.2") "," FRAC("w2", "web", "a", "g1", "0.2"));
    f = plan(json3, &o);
    assert_string_equal(kept_reason(f, "a"), "the workload's move limit would be exceeded");
    unplan(f);
    o.max_moves_per_workload = 2;
    f = plan(json3, &o);
    assert_true(drained(f, "a"));
    assert_int_equal(f->plan.moves.n, 2);
    unplan(f);
}

/* The PDB index: a PDB with an empty selector selects every pod of its
 * namespace (policy/v1), one filed under its first label still finds pods
 * that carry more labels, and a PDB of another namespace selects nothing. */
static void test_pdb_index_shapes(void **state)
{
    (void)state;
#define PDB(name, ns, sel, allowed)                                                                \
    "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"" ns    \
    "\"},\"spec\":{\"selector\":" sel "},\"status\":{\"disruptionsAllowed\":" allowed "}}"
    /* empty selector, nothing allowed: a's pod is refused */
    fx *f = plan(KJ_LIST(L4("a", "1") "," L4("b", "2") "," KJ_RUNNING("pin", "b", "", "{}") "," //
                         FRAC("w1", "web", "a", "g1", "0.2") "," PDB("all", "t", "{}", "0")),
                 NULL);
    assert_string_equal(kept_reason(f, "a"), "a PodDisruptionBudget allows no more disruptions");
    unplan(f);
    /* two labels, the pod has both among others */
    f = plan(KJ_LIST(L4("a", "1") "," L4("b", "2") "," KJ_RUNNING("pin", "b", "", "{}") "," //
                     FRAC("w1", "web", "a", "g1", "0.2") ","                                //
                     PDB("two", "t",
                         "{\"matchLabels\":{\"pod-template-hash\":\"5d4c3b2a19\",\"app\":\"web\"}}",
                         "0")),
             NULL);
    assert_string_equal(kept_reason(f, "a"), "a PodDisruptionBudget allows no more disruptions");
    unplan(f);
    /* the same PDB in another namespace: a is drained */
    f = plan(KJ_LIST(L4("a", "1") "," L4("b", "2") "," KJ_RUNNING("pin", "b", "", "{}") "," //
                     FRAC("w1", "web", "a", "g1", "0.2") "," PDB("all", "other", "{}", "0")),
             NULL);
    assert_true(drained(f, "a"));
    unplan(f);
#undef PDB
}

/* Re-placement honours pools, GPU memory per GPU and whole GPUs. */
static void test_replacement_rules(void **state)
{
    (void)state;
    fx *f = plan(
        KJ_LIST(KJ_NODE("small", "NVIDIA-L4", "20000", "1", "16", "", "") "," //
                KJ_NODE("big", "NVIDIA-A100", "40000", "2", "16", "", "") "," //
                KJ_NODE("other-pool", "NVIDIA-L4", "20000", "8", "64",
                        ",\"kai.scheduler/node-pool\":\"batch\"", "") "," //
                KJ_RUNNING("mem", "small",
                           DEP("svc-m") ",\"annotations\":{\"gpu-memory\":\"12000\"}", "{}") "," //
                KJ_RUNNING("whole", "big", KJ_OWNER("StatefulSet", "trainer"),
                           "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}")),
        NULL);
    /* small (1 move, 1 GPU) is cheapest: 12000 MiB is 0.3 of a 40000 MiB A100 */
    assert_true(drained(f, "small"));
    const gf_move *mv = move_of(f, "mem");
    assert_string_equal(nname(f, mv->to.node), "big");
    assert_true(fabs(mv->to.share - 0.3) < 1e-12);
    /* the 8-GPU node of another pool never receives default-pool pods */
    for (size_t i = 0; i < f->plan.moves.n; i++)
        assert_string_not_equal(nname(f, f->plan.moves.v[i].to.node), "other-pool");
    /* other-pool is idle: drained itself */
    assert_true(drained(f, "other-pool"));
    unplan(f);
}

static void test_max_nodes_and_determinism(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4("n1", "1") "," L4("n2", "1") "," L4("n3", "1") "," L4("n4", "4") ","       //
                FRAC("a", "s1", "n1", "g1", "0.3") "," FRAC("b", "s2", "n2", "g2", "0.3") "," //
                FRAC("c", "s3", "n3", "g3", "0.3"));
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.move_non_preemptible = GF_MOVE_NP_ALWAYS;
    o.max_nodes = 1;
    fx *f = plan(json, &o);
    assert_int_equal(f->plan.nodes_freed, 1);
    unplan(f);
    fx *x = plan(json, NULL), *y = plan(json, NULL);
    assert_int_equal(x->plan.moves.n, y->plan.moves.n);
    for (size_t i = 0; i < x->plan.moves.n; i++) {
        assert_int_equal(x->plan.moves.v[i].pod, y->plan.moves.v[i].pod);
        assert_int_equal(x->plan.moves.v[i].to.node, y->plan.moves.v[i].to.node);
        assert_int_equal(x->plan.moves.v[i].to.gpus[0], y->plan.moves.v[i].to.gpus[0]);
    }
    /* n4 is idle (0 moves) and drained first; n1's a goes to the fullest GPU
     * with room (n2 and n3 tie, lowest index wins: n2); n2 now receives, so
     * is kept; n3's c joins a and b on n2 (0.9). Freed: n4, n1, n3. */
    assert_true(drained(x, "n4"));
    assert_int_equal(x->plan.nodes_freed, 3);
    unplan(x);
    unplan(y);
}

/* A fractional pod on node with cpu cores requested. */
#define CPUFRAC(name, dep, node, group, frac, cpu)                                                 \
    KJ_RUNNING(name, node,                                                                         \
               KJ_OWNER("ReplicaSet",                                                              \
                        dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group             \
                                           "\",\"app\":\"" dep "\"},"                              \
                                           "\"annotations\":{\"gpu-fraction\":\"" frac "\"}",      \
               "{\"requests\":{\"cpu\":\"" cpu "\"}}")

static size_t steps_of(const fx *f, const char *pod)
{
    size_t n = 0;
    for (size_t i = 0; i < f->plan.steps.n; i++)
        n += !strcmp(f->m.pods.v[f->plan.steps.v[i].pod].name, pod);
    return n;
}

/* The held-out shape: a's pod fits best (binpack) on r, the planner of
 * before then never drained r ("it receives pods"), though both pods fit on
 * the pinned 4-GPU node. Now targets that stay come first, and two go. */
static void test_receiver_must_be_drained(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4("a", "1") "," L4("r", "1") "," L4("c", "4") ","                        //
                KJ_RUNNING("pin", "c", "", "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}") "," //
                FRAC("pa", "svc-a", "a", "g1", "0.5") "," FRAC("pr", "svc-r", "r", "g2", "0.3"));
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.move_non_preemptible = GF_MOVE_NP_ALWAYS;
    o.legacy_greedy = true;
    fx *f = plan(json, &o);
    assert_int_equal(f->plan.nodes_freed, 1);
    assert_string_equal(kept_reason(f, "r"), "it receives pods moved earlier in this plan");
    unplan(f);
    /* the exact search, started from the plan of before, finds the two
     * and replaces the plan of the pool with its own */
    o.exact = true;
    f = plan(json, &o);
    assert_int_equal(f->plan.nodes_freed, 2);
    assert_true(drained(f, "a") && drained(f, "r"));
    assert_true(f->plan.pools.v[0].exact_tried && f->plan.pools.v[0].optimal);
    assert_string_equal(nname(f, move_of(f, "pa")->to.node), "c");
    assert_string_equal(nname(f, move_of(f, "pr")->to.node), "c");
    assert_int_equal(f->plan.moves.n, 2);
    assert_int_equal(f->plan.steps.n, 2);
    unplan(f);
    f = plan(json, NULL);
    assert_int_equal(f->plan.nodes_freed, 2);
    assert_true(drained(f, "a") && drained(f, "r"));
    assert_string_equal(nname(f, move_of(f, "pa")->to.node), "c");
    assert_string_equal(nname(f, move_of(f, "pr")->to.node), "c");
    assert_int_equal(f->plan.pools.v[0].bound, 2);
    assert_true(f->plan.pools.v[0].optimal);
    unplan(f);
}

/* No node stays, so a's 0.5 goes to r, the fullest with room; r is then
 * drained too: its own 0.3 and the 0.5 it received go to c. pa moves twice
 * while planning, and the plan has one move for it: a -> c. */
static void test_received_pods_replaced(void **state)
{
    (void)state;
    fx *f = plan(KJ_LIST(L4("a", "1") "," L4("r", "1") "," L4("c", "1") "," L4("d", "1") "," //
                         FRAC("pa", "s1", "a", "g1", "0.5") "," FRAC("pr", "s2", "r", "g2",
                                                                     "0.3") "," //
                         FRAC("c1", "s3", "c", "g3", "0.1") "," FRAC("c2", "s4", "c", "g3",
                                                                     "0.1") "," //
                         FRAC("d1", "s5", "d", "g4", "0.1") "," FRAC("d2", "s6", "d", "g4", "0.1")),
                 NULL);
    assert_true(drained(f, "a") && drained(f, "r"));
    const gf_move *mv = move_of(f, "pa");
    assert_string_equal(nname(f, mv->from_node), "a");
    assert_false(drained(f, nname(f, mv->to.node)));
    size_t n = 0;
    for (size_t i = 0; i < f->plan.moves.n; i++)
        n += !strcmp(f->m.pods.v[f->plan.moves.v[i].pod].name, "pa");
    assert_int_equal(n, 1);
    assert_int_equal(steps_of(f, "pa"), 2);
    assert_int_equal(f->plan.pools.v[0].bound, 2); /* 1.2 GPUs need two of the four */
    assert_true(f->plan.pools.v[0].optimal);
    unplan(f);
}

/* The bound is loose here: 27 of 48 cores are asked, so one node could go
 * by the sums, but no node has 9 cores free for another's pod. The exact
 * search proves that none can go. */
static void test_loose_bound_exact(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4("n1", "1") "," L4("n2", "1") "," L4("n3", "1") "," //
                CPUFRAC("a", "s1", "n1", "g1", "0.1", "9") "," CPUFRAC("b", "s2", "n2", "g2", "0.1",
                                                                       "9") "," //
                CPUFRAC("c", "s3", "n3", "g3", "0.1", "9"));
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.move_non_preemptible = GF_MOVE_NP_ALWAYS;
    fx *f = plan(json, &o);
    assert_int_equal(f->plan.nodes_freed, 0);
    assert_int_equal(f->plan.pools.v[0].bound, 1);
    assert_false(f->plan.pools.v[0].optimal);
    unplan(f);
    o.exact = true;
    f = plan(json, &o);
    assert_int_equal(f->plan.nodes_freed, 0);
    assert_true(f->plan.pools.v[0].exact_tried);
    assert_true(f->plan.pools.v[0].optimal);
    unplan(f);
}

/* Objective: one 4-GPU node holding 0.3 and two 1-GPU nodes with 0.6
 * each. Nodes: both small ones cannot go (0.6 + 0.6 > 1), so either the big
 * one (its pod onto a small one) or one small one (onto the big): one node
 * either way, the cheapest (1 move each, most saved first: the big one).
 * GPUs: the big one frees four. */
static void test_objective_gpus(void **state)
{
    (void)state;
    const char *json = KJ_LIST(L4("big", "4") "," L4("s1", "1") "," L4("s2", "1") "," //
                               FRAC("b", "sb", "big", "g1", "0.3") "," FRAC("x", "sx", "s1", "g2",
                                                                            "0.6") "," //
                               FRAC("y", "sy", "s2", "g3", "0.6"));
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.move_non_preemptible = GF_MOVE_NP_ALWAYS;
    o.objective = GF_OBJ_GPUS;
    fx *f = plan(json, &o);
    assert_true(drained(f, "big"));
    assert_int_equal(f->plan.gpus_freed, 4);
    assert_true(f->plan.pools.v[0].gpus_bound >= 4);
    unplan(f);
    o.exact = true;
    f = plan(json, &o);
    assert_int_equal(f->plan.gpus_freed, 4);
    assert_true(f->plan.pools.v[0].optimal);
    unplan(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_nodes_one_freed),
        cmocka_unit_test(test_idle_node_first),
        cmocka_unit_test(test_pins),
        cmocka_unit_test(test_pdb_and_move_limit),
        cmocka_unit_test(test_replacement_rules),
        cmocka_unit_test(test_max_nodes_and_determinism),
        cmocka_unit_test(test_receiver_must_be_drained),
        cmocka_unit_test(test_received_pods_replaced),
        cmocka_unit_test(test_loose_bound_exact),
        cmocka_unit_test(test_objective_gpus),
        cmocka_unit_test(test_pdb_index_shapes),
    };
    return cmocka_run_group_tests_name("consolidate", tests, NULL, NULL);
}
