/* test_sim_fairuse.c - fair-use protection in the simulator
 * (sim/sim_fairuse.c): "a noisy pod joins a shared GPU" with protection off
 * and on, the policy's fairUse.mode and the override, no action on the
 * built-in mix of well-behaved services, determinism. */
#include "testutil.h"
#include "sim/gen.h"
#include "sim/sim.h"
#include "kjson.h"

#include <math.h>
#include <string.h>

#define HOUR 3600.0
#define P(x) (1u << (x))

#define FRAC(name, dep, node, group, frac)                                                         \
    KJ_RUNNING(                                                                                    \
        name, node,                                                                                \
        KJ_OWNER("ReplicaSet", dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group      \
                                                  "\",\"app\":\"" dep "\",\"pod-template-hash\":"  \
                                                  "\"5d4c3b2a19\"},\"annotations\":{"              \
                                                  "\"gpu-fraction\":\"" frac "\"}",                \
        "{\"requests\":{\"cpu\":\"1\"}}")
#define L4(name, gpus) KJ_NODE(name, "NVIDIA-L4", "20000", gpus, "16", "", "")

/* n1's GPU: the noisy service (0.25) with a (0.25) and b (0.5); n2's GPU: c
 * and d (0.5 each), all well-behaved. */
static const char *cluster_json(void)
{
    return KJ_LIST(L4("n1", "1") "," L4("n2", "1") "," FRAC(
        "noisy-5d4c3b2a19-nnnnn", "noisy", "n1", "g1",
        "0.25") "," FRAC("a-5d4c3b2a19-aaaaa", "a", "n1", "g1",
                         "0.25") "," FRAC("b-5d4c3b2a19-bbbbb", "b", "n1", "g1",
                                          "0.5") "," FRAC("c-5d4c3b2a19-ccccc", "c", "n2", "g2",
                                                          "0.5") "," FRAC("d-5d4c3b2a19-ddddd", "d",
                                                                          "n2", "g2", "0.5"));
}

#define JOIN_STEP 60u /* the noisy service starts its load after an hour */

/* Demand per service name: each within its fraction, except noisy from
 * JOIN_STEP: 0.9 of the SMs on a 0.25 share. Memory within every share. */
static void demand_of(const char *name, uint32_t step, double *mem, double *sm)
{
    *mem = 0.2;
    if (!strcmp(name, "noisy"))
        *sm = step < JOIN_STEP ? 0.05 : 0.9;
    else if (!strcmp(name, "a"))
        *sm = 0.2;
    else if (!strcmp(name, "b"))
        *sm = 0.4, *mem = 0.3;
    else
        *sm = 0.3;
}

typedef struct scenario {
    gf_model m;
    gf_sim *sim;
    gf_demand d;
    gf_sim_report rep;
} scenario;

static void run_scenario(scenario *sc, gf_sim_opts *o)
{
    gf_error err;
    gf_diags dg;
    gf_diags_init(&dg);
    gf_model_init(&sc->m);
    gf_demand_init(&sc->d);
    if (gf_test_load_text(&sc->m, &dg, &err, cluster_json()))
        fail_msg("load: %s: %s", err.where, err.msg);
    gf_diags_free(&dg);
    o->check = true;
    if (gf_sim_new(&sc->m, o, &sc->sim, &err)) fail_msg("sim: %s: %s", err.where, err.msg);
    gf_demand_opts dopt;
    gf_sim_demand_opts(sc->sim, 0, &dopt);
    const gf_sim_service *sv;
    size_t n = gf_sim_services(sc->sim, &sv);
    assert_int_equal(n, 5);
    assert_int_equal(gf_demand_table_begin(&sc->d, &dopt, n, dopt.n_steps, &err), GF_OK);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < dopt.n_steps; k++) {
            double mem, sm;
            demand_of(sv[i].name, k, &mem, &sm);
            gf_demand_table_add(&sc->d, i, k, mem, sm);
        }
    gf_demand_table_end(&sc->d, NULL);
    if (gf_sim_run(sc->sim, &sc->d, &sc->rep, &err)) fail_msg("run: %s: %s", err.where, err.msg);
}

static void scenario_free(scenario *sc)
{
    gf_sim_report_free(&sc->rep);
    gf_sim_free(sc->sim);
    gf_demand_free(&sc->d);
    gf_model_free(&sc->m);
}

static gf_sim_opts opts(gf_sim_fair fair)
{
    gf_sim_opts o;
    gf_sim_opts_default(&o);
    o.duration_s = 3 * HOUR;
    o.policies = P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC);
    o.consolidate_every_s = 0;
    o.fair_use = fair;
    return o;
}

static void test_noisy_pod_joins(void **state)
{
    (void)state;
    scenario off, on;
    memset(&off, 0, sizeof off);
    memset(&on, 0, sizeof on);
    gf_sim_opts o = opts(GF_SIM_FAIR_OFF);
    run_scenario(&off, &o);
    o = opts(GF_SIM_FAIR_ACT);
    run_scenario(&on, &o);
    const gf_sim_result *s0 = &off.rep.policy[GF_SIM_STATIC], *s1 = &on.rep.policy[GF_SIM_STATIC];
    /* off: a and b are slowed every minute from the join: 2 pods x 120 min;
     * the noisy pod is throttled as long */
    assert_true(fabs(s0->neighbour_min - 240) < 1e-6);
    assert_true(fabs(s0->throttled_min - 120) < 1e-6);
    assert_int_equal(s0->fairuse_actions, 0);
    /* on: the hog is found after hogWindow (5 min) and held to its fair
     * share; its neighbours are served in full from then on */
    assert_int_equal(s1->fairuse_actions, 1);
    assert_true(s1->neighbour_min >= 8 && s1->neighbour_min <= 14);
    assert_true(fabs(s1->throttled_min - 120) < 1e-6); /* the hog still wants more than it gets */
    assert_true(s1->ooms == s0->ooms);
    /* the noisy pod served 0.4 (what a and b leave), not 0.6: less SM work served */
    assert_true(s1->gpu_hours_used <= s0->gpu_hours_used + 1e-9);
    const gf_sim_result *g0 = &off.rep.policy[GF_SIM_GPUFRAC], *g1 = &on.rep.policy[GF_SIM_GPUFRAC];
    assert_true(g1->neighbour_min < g0->neighbour_min);
    assert_true(g1->fairuse_actions >= 1);
    scenario_free(&off);
    scenario_free(&on);
}

/* The policy's fairUse.mode decides unless overridden; report protects
 * nothing. */
static void test_policy_mode(void **state)
{
    (void)state;
    gf_policy pol;
    gf_policy_init(&pol);
    pol.fair_use.mode = GF_FAIR_MODE_ACT;
    scenario a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    gf_sim_opts o = opts(GF_SIM_FAIR_POLICY);
    o.policy = &pol;
    run_scenario(&a, &o);
    assert_int_equal(a.rep.policy[GF_SIM_STATIC].fairuse_actions, 1);
    o.fair_use = GF_SIM_FAIR_OFF;
    run_scenario(&b, &o);
    assert_int_equal(b.rep.policy[GF_SIM_STATIC].fairuse_actions, 0);
    pol.fair_use.mode = GF_FAIR_MODE_REPORT;
    o.fair_use = GF_SIM_FAIR_POLICY;
    run_scenario(&c, &o);
    assert_int_equal(c.rep.policy[GF_SIM_STATIC].fairuse_actions, 0);
    assert_true(fabs(c.rep.policy[GF_SIM_STATIC].neighbour_min - 240) < 1e-6);
    /* maxActionsPerHour 0: nothing may be done */
    pol.fair_use.mode = GF_FAIR_MODE_ACT;
    pol.fair_use.max_actions_per_hour = 0;
    scenario d;
    memset(&d, 0, sizeof d);
    run_scenario(&d, &o);
    assert_int_equal(d.rep.policy[GF_SIM_STATIC].fairuse_actions, 0);
    scenario_free(&a);
    scenario_free(&b);
    scenario_free(&c);
    scenario_free(&d);
    gf_policy_free(&pol);
    o.fair_use = (gf_sim_fair)7;
    gf_sim *s = NULL;
    gf_error err;
    gf_model m;
    gf_model_init(&m);
    gf_diags dg;
    gf_diags_init(&dg);
    assert_int_equal(gf_test_load_text(&m, &dg, &err, cluster_json()), GF_OK);
    assert_int_equal(gf_sim_new(&m, &o, &s, &err), GF_EUSAGE);
    assert_null(s);
    gf_diags_free(&dg);
    gf_model_free(&m);
}

static bool same(const gf_sim_result *a, const gf_sim_result *b)
{
    return a->neighbour_min == b->neighbour_min && a->throttled_min == b->throttled_min &&
           a->ooms == b->ooms && a->fairuse_actions == b->fairuse_actions &&
           a->gpu_hours_used == b->gpu_hours_used && a->resizes == b->resizes;
}

/* The same run twice (on the same simulation, and on a new one) gives the
 * same result: the protection's state is reset per run. */
static void test_deterministic(void **state)
{
    (void)state;
    scenario a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    gf_sim_opts o = opts(GF_SIM_FAIR_ACT);
    run_scenario(&a, &o);
    run_scenario(&b, &o);
    gf_sim_report again;
    gf_error err;
    assert_int_equal(gf_sim_run(a.sim, &a.d, &again, &err), GF_OK);
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        assert_true(same(&a.rep.policy[p], &b.rep.policy[p]));
        assert_true(same(&a.rep.policy[p], &again.policy[p]));
    }
    gf_sim_report_free(&again);
    scenario_free(&a);
    scenario_free(&b);
}

/* The built-in mix of well-behaved services: protection finds nobody to
 * act on, and changes nothing. */
static void test_builtin_mix_no_false_alarm(void **state)
{
    (void)state;
    gf_gen_opts go;
    gf_gen_opts_default(&go);
    go.nodes = 20;
    go.seed = 3;
    gf_model m;
    gf_model_init(&m);
    gf_error err;
    if (gf_gen_cluster(&m, &go, NULL, &err)) fail_msg("gen: %s", err.msg);
    gf_sim_report rep[2];
    for (int k = 0; k < 2; k++) {
        gf_sim_opts o;
        gf_sim_opts_default(&o);
        o.duration_s = 24 * HOUR;
        o.policies = P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC);
        o.fair_use = k ? GF_SIM_FAIR_ACT : GF_SIM_FAIR_OFF;
        gf_sim *s;
        if (gf_sim_new(&m, &o, &s, &err)) fail_msg("sim: %s", err.msg);
        gf_demand d;
        gf_demand_init(&d);
        gf_demand_opts dopt;
        gf_sim_demand_opts(s, 3, &dopt);
        const gf_sim_service *sv;
        size_t n = gf_sim_services(s, &sv);
        assert_int_equal(gf_demand_builtin(&d, &dopt, gf_sim_scales(s), n, &err), GF_OK);
        assert_int_equal(gf_sim_run(s, &d, &rep[k], &err), GF_OK);
        gf_demand_free(&d);
        gf_sim_free(s);
    }
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        assert_int_equal(rep[1].policy[p].fairuse_actions, 0);
        assert_true(same(&rep[0].policy[p], &rep[1].policy[p]));
    }
    gf_sim_report_free(&rep[0]);
    gf_sim_report_free(&rep[1]);
    gf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noisy_pod_joins),
        cmocka_unit_test(test_policy_mode),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_builtin_mix_no_false_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
