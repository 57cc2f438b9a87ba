/* test_fairuse.c - noisy-neighbour detection on constructed GPUs (each
 * finding, and no false alarm on well-behaved sharing or short bursts), the
 * tracker's windows, responses chosen by priority, queue and policy with
 * their rejected alternatives, rate limits, and the fairUse policy section
 * (decide/policy.h, io/policy_yaml.h). */
#include "testutil.h"
#include "decide/fairuse.h"
#include "io/policy_yaml.h"
#include "kjson.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GIB 1073741824.0
#define GPU_BYTES (20.0 * GIB)
#define H "apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\n"
#define EXAMPLE GF_FIXTURES "/../../examples/policy.yaml"

/* --- constructed GPUs (no model) ------------------------------------------------ */

static gf_fair_pod pod(const char *name, double fraction, double mem_gib, double sm)
{
    gf_fair_pod p = gf_fair_pod_blank("t", name, fraction);
    p.memory_bytes = isnan(mem_gib) ? NAN : mem_gib * GIB;
    p.sm_share = sm;
    return p;
}

static gf_fair_gpu gpu(const char *node, double sm_util)
{
    gf_fair_gpu g;
    memset(&g, 0, sizeof g);
    g.gpu = GF_NONE;
    g.node = node;
    g.memory_total_bytes = GPU_BYTES;
    g.memory_used_bytes = NAN;
    g.sm_util = sm_util;
    return g;
}

static gf_fair_policy policy(void)
{
    gf_fair_policy fp;
    gf_fair_policy_defaults(&fp);
    return fp;
}

static void detect(const gf_fair_policy *fp, const gf_fair_state *st, double now,
                   const gf_fair_tracker *tr, gf_fair_report *r)
{
    gf_error err = {0};
    if (gf_fair_detect(fp, st, now, tr, r, &err)) fail_msg("detect: %s", err.msg);
}

/* Observe at now, then detect. */
static void step(const gf_fair_policy *fp, gf_fair_state *st, double now, gf_fair_tracker *tr,
                 gf_fair_report *r)
{
    gf_error err = {0};
    if (gf_fair_tracker_observe(tr, fp, st, now, &err)) fail_msg("observe: %s", err.msg);
    detect(fp, st, now, tr, r);
}

static const gf_fair_finding *find(const gf_fair_report *r, gf_fair_kind kind)
{
    for (size_t i = 0; i < r->findings.n; i++)
        if (r->findings.v[i].kind == kind) return &r->findings.v[i];
    return NULL;
}

static const char *pname(const gf_fair_state *st, uint32_t i)
{
    return i == GF_NONE ? "(none)" : st->pods.v[i].name;
}

/* Two pods within their fractions, device busy but not saturated: nothing,
 * whether asked once or over many observations. */
static void test_well_behaved(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.5, 8, 0.45), pod("b", 0.5, 9.5, 0.45)};
    ps[1].demand_sm = 0.45;
    gf_fair_gpu g = gpu("n1", 0.9);
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    detect(&fp, &st, 1000, NULL, &r);
    assert_int_equal(r.findings.n, 0);
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    for (int i = 0; i < 30; i++) {
        step(&fp, &st, 1000 + 60.0 * i, &tr, &r);
        assert_int_equal(r.findings.n, 0);
    }
    /* a pod alone above its fraction in compute hurts nobody */
    gf_fair_state one;
    gf_fair_state_init(&one);
    gf_fair_pod solo = pod("solo", 0.25, 4, 1.0);
    gf_fair_state_add_gpu(&one, &g, &solo, 1);
    detect(&fp, &one, 1000, NULL, &r);
    assert_int_equal(r.findings.n, 0);
    gf_fair_report_free(&r);
    gf_fair_tracker_free(&tr);
    gf_fair_state_free(&st);
    gf_fair_state_free(&one);
}

/* 12 GiB on a 0.25 fraction of a 20 GiB GPU that is 97.5% used: critical at
 * once, and the device-full finding names the same offender. */
static void test_memory_overrun_critical(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.25, 12, NAN), pod("b", 0.5, 7.5, NAN)};
    gf_fair_gpu g = gpu("n1", NAN);
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    detect(&fp, &st, 1000, NULL, &r);
    assert_int_equal(r.findings.n, 2);
    const gf_fair_finding *f = &r.findings.v[0];
    assert_int_equal(f->kind, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(f->severity, GF_FAIR_CRITICAL);
    assert_string_equal(pname(&st, f->offender), "a");
    assert_true(fabs(f->amount - 7 * GIB) < 1);
    assert_true(fabs(f->allowed - 5 * GIB) < 1);
    assert_int_equal(f->n_affected, 1);
    assert_string_equal(pname(&st, r.affected.v[f->first_affected]), "b");
    assert_non_null(strstr(f->signal, "t/a uses 12.00 GiB, above its allocation 0.25 x 20.00 GiB"));
    assert_non_null(strstr(f->signal, "GPU-mates may run out of memory now"));
    assert_true(isnan(f->since_t));
    f = &r.findings.v[1];
    assert_int_equal(f->kind, GF_FAIR_DEVICE_MEMORY_FULL);
    assert_int_equal(f->severity, GF_FAIR_CRITICAL);
    assert_string_equal(pname(&st, f->offender), "a");
    assert_non_null(strstr(f->signal, "19.50 of 20.00 GiB used (98%)"));

    /* within the margin (5.4 GiB < 5 x 1.1): no overrun; device not full */
    st.pods.v[0].memory_bytes = 5.4 * GIB;
    detect(&fp, &st, 1000, NULL, &r);
    assert_int_equal(r.findings.n, 0);
    /* full device, everyone within allocation: a warning without offender */
    st.pods.v[0].memory_bytes = 5 * GIB;
    st.pods.v[1].memory_bytes = 9.8 * GIB;
    st.gpus.v[0].memory_used_bytes = 19.5 * GIB; /* the device counts more than the pods */
    detect(&fp, &st, 1000, NULL, &r);
    assert_int_equal(r.findings.n, 1);
    assert_int_equal(r.findings.v[0].kind, GF_FAIR_DEVICE_MEMORY_FULL);
    assert_int_equal(r.findings.v[0].severity, GF_FAIR_WARNING);
    assert_int_equal(r.findings.v[0].offender, GF_NONE);
    assert_int_equal(r.findings.v[0].n_affected, 2);
    assert_non_null(strstr(r.findings.v[0].signal, "every pod is within its allocation"));
    gf_fair_report_free(&r);
    gf_fair_state_free(&st);
}

/* An overrun on a roomy device is a warning once it has held hogWindow. */
static void test_memory_overrun_window(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.25, 8, NAN), pod("b", 0.5, 4, NAN)};
    gf_fair_gpu g = gpu("n1", NAN);
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    for (int i = 0; i < 5; i++) {
        step(&fp, &st, 1000 + 60.0 * i, &tr, &r);
        assert_int_equal(r.findings.n, 0);
    }
    step(&fp, &st, 1300, &tr, &r);
    assert_int_equal(r.findings.n, 1);
    assert_int_equal(r.findings.v[0].severity, GF_FAIR_WARNING);
    assert_true(r.findings.v[0].since_t == 1000);
    /* it drops below: the condition starts again */
    st.pods.v[0].memory_bytes = 5 * GIB;
    step(&fp, &st, 1360, &tr, &r);
    assert_int_equal(r.findings.n, 0);
    st.pods.v[0].memory_bytes = 8 * GIB;
    step(&fp, &st, 1420, &tr, &r);
    assert_int_equal(r.findings.n, 0);
    /* without a tracker or a since: no time to wait on, reported */
    detect(&fp, &st, 1420, NULL, &r);
    assert_int_equal(r.findings.n, 1);
    /* a since given by the caller is honoured */
    st.pods.v[0].memory_over_since = 1400;
    detect(&fp, &st, 1420, NULL, &r);
    assert_int_equal(r.findings.n, 0);
    st.pods.v[0].memory_over_since = 1000;
    detect(&fp, &st, 1420, NULL, &r);
    assert_int_equal(r.findings.n, 1);
    assert_true(r.findings.v[0].since_t == 1000);
    gf_fair_report_free(&r);
    gf_fair_tracker_free(&tr);
    gf_fair_state_free(&st);
}

/* a takes 0.8 of the SMs on a 0.25 fraction; b wants 0.5 and gets 0.15. */
static void test_compute_hog(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.25, 4, 0.8), pod("b", 0.5, 6, 0.15)};
    ps[1].demand_sm = 0.5;
    gf_fair_gpu g = gpu("n1", NAN);
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    for (int i = 0; i < 5; i++) {
        step(&fp, &st, 60.0 * i, &tr, &r);
        assert_int_equal(r.findings.n, 0); /* not yet for hogWindow (5m) */
    }
    step(&fp, &st, 300, &tr, &r);
    assert_int_equal(r.findings.n, 1);
    const gf_fair_finding *f = &r.findings.v[0];
    assert_int_equal(f->kind, GF_FAIR_COMPUTE_HOG);
    assert_string_equal(pname(&st, f->offender), "a");
    assert_true(f->since_t == 0);
    assert_true(fabs(f->amount - 0.55) < 1e-9);
    assert_int_equal(f->n_affected, 1);
    assert_string_equal(pname(&st, r.affected.v[f->first_affected]), "b");
    assert_non_null(strstr(f->signal, "t/a has had 0.80 of the GPU (fair share 0.25, its "
                                      "fraction) for 5m (hogWindow 5m) while t/b gets 0.15 of "
                                      "the 0.50 it is owed (demand 0.50)"));

    /* b gets what it asks for: no victim, no finding */
    st.pods.v[1].demand_sm = 0.15;
    step(&fp, &st, 360, &tr, &r);
    assert_int_equal(r.findings.n, 0);
    gf_fair_report_free(&r);
    gf_fair_tracker_free(&tr);
    gf_fair_state_free(&st);
}

/* Bursts shorter than the window never report, however often they come. */
static void test_short_bursts(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.25, 4, 0.2), pod("b", 0.5, 6, 0.5)};
    ps[1].demand_sm = 0.5;
    gf_fair_gpu g = gpu("n1", NAN);
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    for (int i = 0; i < 60; i++) {
        bool burst = i % 5 < 4; /* 4 minutes in 5: still shorter than the window */
        st.pods.v[0].sm_share = burst ? 0.9 : 0.2;
        st.pods.v[1].sm_share = burst ? 0.1 : 0.5;
        /* memory bursts past the allocation on a roomy device, too */
        st.pods.v[0].memory_bytes = (burst ? 9.0 : 4.0) * GIB;
        step(&fp, &st, 60.0 * i, &tr, &r);
        assert_int_equal(r.findings.n, 0);
    }
    gf_fair_report_free(&r);
    gf_fair_tracker_free(&tr);
    gf_fair_state_free(&st);
}

/* Without demand: a saturated device and a mate below its share; and the
 * window means of a caller without a tracker. */
static void test_compute_hog_saturated(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.25, 4, 0.8), pod("b", 0.5, 6, 0.15)};
    ps[0].sm_share_mean = 0.75;
    gf_fair_gpu g = gpu("n1", 1.0);
    g.window_s = 300;
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    detect(&fp, &st, 5000, NULL, &r);
    assert_int_equal(r.findings.n, 1);
    assert_int_equal(r.findings.v[0].kind, GF_FAIR_COMPUTE_HOG);
    assert_true(r.findings.v[0].since_t == 4700);
    assert_non_null(strstr(r.findings.v[0].signal, "mean 0.75 over 5m"));
    assert_non_null(strstr(r.findings.v[0].signal, "with the device's SMs saturated (100%)"));
    /* the window is shorter than hogWindow: not yet */
    st.gpus.v[0].window_s = 120;
    detect(&fp, &st, 5000, NULL, &r);
    assert_int_equal(r.findings.n, 0);
    /* over now, but the mean says it is a burst */
    st.gpus.v[0].window_s = 300;
    st.pods.v[0].sm_share_mean = 0.3;
    detect(&fp, &st, 5000, NULL, &r);
    assert_int_equal(r.findings.n, 0);
    /* device not saturated: b may simply want little */
    st.pods.v[0].sm_share_mean = 0.75;
    st.gpus.v[0].sm_util = 0.9;
    detect(&fp, &st, 5000, NULL, &r);
    assert_int_equal(r.findings.n, 0);
    gf_fair_report_free(&r);
    gf_fair_state_free(&st);
}

/* computeShare: equal entitles each of n pods to 1/n whatever its fraction. */
static void test_equal_share(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.1, 1, 0.45), pod("b", 0.9, 10, 0.45)};
    ps[1].demand_sm = 0.9;
    ps[0].sm_over_since = ps[1].starved_since = 0;
    gf_fair_gpu g = gpu("n1", NAN);
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    detect(&fp, &st, 600, NULL, &r);
    assert_int_equal(r.findings.n, 1);
    assert_int_equal(r.findings.v[0].kind, GF_FAIR_COMPUTE_HOG);
    fp.compute_share = GF_FAIR_SHARE_EQUAL;
    detect(&fp, &st, 600, NULL, &r);
    /* each gets its half: no hog; the demand still adds up to 1.35 */
    assert_int_equal(r.findings.n, 1);
    assert_int_equal(r.findings.v[0].kind, GF_FAIR_OVERCOMMIT_COMPUTE);
    /* an explicit entitlement beats the policy's share */
    fp.compute_share = GF_FAIR_SHARE_FRACTION;
    st.pods.v[0].sm_entitlement = 0.3;
    detect(&fp, &st, 600, NULL, &r);
    assert_int_equal(r.findings.v[0].kind, GF_FAIR_COMPUTE_HOG);
    assert_non_null(strstr(r.findings.v[0].signal, "fair share 0.30, its entitlement"));
    gf_fair_report_free(&r);
    gf_fair_state_free(&st);
}

/* Each pod within its fraction, but the needs add up to more than the GPU. */
static void test_overcommit(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.5, 9, 0.5), pod("b", 0.5, 9, 0.5)};
    ps[0].demand_sm = ps[1].demand_sm = 0.6;
    gf_fair_gpu g = gpu("n1", NAN);
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    detect(&fp, &st, 0, NULL, &r);
    assert_int_equal(r.findings.n, 1);
    const gf_fair_finding *f = &r.findings.v[0];
    assert_int_equal(f->kind, GF_FAIR_OVERCOMMIT_COMPUTE);
    assert_int_equal(f->offender, GF_NONE);
    assert_true(fabs(f->observed - 1.2) < 1e-9);
    assert_int_equal(f->n_affected, 2);
    /* with a tracker it has to hold the window */
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    step(&fp, &st, 0, &tr, &r);
    assert_int_equal(r.findings.n, 0);
    step(&fp, &st, 300, &tr, &r);
    assert_int_equal(r.findings.n, 1);

    /* memory: 10.8 GiB wanted each (within 0.5 x 20 x 1.1), 21.6 of 20 */
    st.pods.v[0].demand_sm = st.pods.v[1].demand_sm = NAN;
    st.pods.v[0].demand_memory_bytes = st.pods.v[1].demand_memory_bytes = 10.8 * GIB;
    detect(&fp, &st, 300, NULL, &r);
    assert_int_equal(r.findings.n, 1);
    f = &r.findings.v[0];
    assert_int_equal(f->kind, GF_FAIR_OVERCOMMIT_MEMORY);
    assert_int_equal(f->severity, GF_FAIR_CRITICAL);
    assert_true(fabs(f->observed - 1.08) < 1e-9);
    /* an overrun explains it instead: no over-commit finding besides */
    st.pods.v[0].demand_memory_bytes = 14 * GIB;
    st.pods.v[0].memory_bytes = 12 * GIB;
    detect(&fp, &st, 300, NULL, &r);
    assert_non_null(find(&r, GF_FAIR_MEMORY_OVERRUN));
    assert_null(find(&r, GF_FAIR_OVERCOMMIT_MEMORY));
    gf_fair_report_free(&r);
    gf_fair_tracker_free(&tr);
    gf_fair_state_free(&st);
}

static void test_mode_off_and_errors(void **state)
{
    (void)state;
    gf_fair_policy fp = policy();
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_pod ps[] = {pod("a", 0.25, 12, NAN), pod("b", 0.5, 7.5, NAN)};
    gf_fair_gpu g = gpu("n1", NAN);
    gf_fair_state_add_gpu(&st, &g, ps, 2);
    gf_fair_report r = {0};
    fp.mode = GF_FAIR_MODE_OFF;
    detect(&fp, &st, 0, NULL, &r);
    assert_int_equal(r.findings.n, 0);
    gf_error err = {0};
    assert_int_equal(gf_fair_step(&fp, &st, NULL, 0, NULL, &r, &err), GF_OK);
    assert_int_equal(r.findings.n, 0);
    /* invalid settings and times are errors, not crashes */
    fp = policy();
    fp.hog_window_s = 0;
    assert_int_equal(gf_fair_detect(&fp, &st, 0, NULL, &r, &err), GF_EINPUT);
    assert_string_equal(err.where, "hogWindow");
    fp = policy();
    assert_int_equal(gf_fair_detect(&fp, &st, NAN, NULL, &r, &err), GF_EINPUT);
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    assert_int_equal(gf_fair_tracker_observe(&tr, &fp, &st, 100, &err), GF_OK);
    assert_int_equal(gf_fair_tracker_observe(&tr, &fp, &st, 50, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "before the previous one"));
    /* a state whose GPU points past its pods */
    st.gpus.v[0].n_pods = 5;
    assert_int_equal(gf_fair_detect(&fp, &st, 0, NULL, &r, &err), GF_EINTERNAL);
    /* empty state, NaN and negative readings: no findings, no crash */
    gf_fair_state empty;
    gf_fair_state_init(&empty);
    assert_int_equal(gf_fair_step(&fp, &empty, NULL, 150, &tr, &r, &err), GF_OK);
    gf_fair_pod odd[] = {pod("x", NAN, -1, -3), pod("y", -0.5, NAN, INFINITY)};
    gf_fair_gpu og = gpu(NULL, -2);
    og.memory_total_bytes = NAN;
    gf_fair_state_add_gpu(&empty, &og, odd, 2);
    assert_int_equal(gf_fair_step(&fp, &empty, NULL, 200, &tr, &r, &err), GF_OK);
    assert_int_equal(r.findings.n, 0);
    gf_fair_report_free(&r);
    gf_fair_tracker_free(&tr);
    gf_fair_tracker_free(NULL);
    gf_fair_report_free(NULL);
    gf_fair_state_free(&st);
    gf_fair_state_free(&empty);
    gf_fair_state_free(NULL);
    assert_string_equal(gf_fair_kind_name(GF_FAIR_COMPUTE_HOG), "compute-hog");
    assert_string_equal(gf_fair_kind_name(GF_FAIR_KIND_COUNT), "?");
    assert_string_equal(gf_fair_action_name(GF_FAIR_ACT_MOVE), "move");
    assert_string_equal(gf_fair_severity_name(GF_FAIR_CRITICAL), "critical");
}

/* --- responses on a cluster -------------------------------------------------------- */

#define NODE(name, gpus) KJ_NODE(name, "NVIDIA-L4", "20480", gpus, "16", "", "")
/* a Deployment's fractional pod with a priority (its class's value, as admission
 * writes it) and a KAI queue */
#define POD(name, dep, node, group, frac, prio, queue)                                             \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\"" KJ_OWNER(          \
        "ReplicaSet", dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group "\","         \
                                         "\"kai.scheduler/queue\":\"" queue "\",\"app\":\"" dep    \
                                         "\",\"pod-template-hash\":\"5d4c3b2a19\"},"               \
                                         "\"annotations\":{\"gpu-fraction\":\"" frac "\"}},"       \
                                         "\"spec\":{\"nodeName\":\"" node "\",\"priority\":" prio  \
                                         ",\"priorityClassName\":\"prio" prio "\""                 \
                                         ",\"containers\":[{\"name\":\"c\",\"resources\":"         \
                                         "{\"requests\":{\"cpu\":\"1\"}}}]},"                      \
                                         "\"status\":{\"phase\":\"Running\"}}"

typedef struct fx {
    gf_model m;
    gf_diags d;
    gf_fair_state st;
    gf_fair_report r;
    gf_fair_policy fp;
    gf_fair_env env;
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
    gf_fair_policy_defaults(&f->fp);
    f->env.m = &f->m;
    return f;
}

static void teardown(fx *f)
{
    gf_fair_report_free(&f->r);
    gf_fair_state_free(&f->st);
    gf_diags_free(&f->d);
    gf_model_free(&f->m);
    test_free(f);
}

/* Sets usage of every entry of pod name. */
static void use(fx *f, const char *name, double mem_gib, double sm, double demand_sm)
{
    bool found = false;
    for (size_t i = 0; i < f->st.pods.n; i++) {
        gf_fair_pod *p = &f->st.pods.v[i];
        if (strcmp(p->name, name)) continue;
        p->memory_bytes = mem_gib * GIB;
        p->sm_share = sm;
        p->demand_sm = demand_sm;
        found = true;
    }
    if (!found) fail_msg("no pod %s in the state", name);
}

static void run(fx *f, double now, gf_fair_tracker *tr)
{
    gf_error err = {0};
    if (gf_fair_step(&f->fp, &f->st, &f->env, now, tr, &f->r, &err))
        fail_msg("step: %s: %s", err.where, err.msg);
}

static const gf_fair_response *response_to(const fx *f, gf_fair_kind kind)
{
    for (size_t i = 0; i < f->r.responses.n; i++)
        if (f->r.findings.v[f->r.responses.v[i].finding].kind == kind) return &f->r.responses.v[i];
    return NULL;
}

/* The alternatives of a response, joined with " | ". */
static const char *alts(const fx *f, const gf_fair_response *resp)
{
    static char buf[4096];
    size_t len = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < resp->n_alt && len < sizeof buf; i++) {
        int k = snprintf(buf + len, sizeof buf - len, "%s%s", i ? " | " : "",
                         f->r.alternatives.v[resp->first_alt + i].why);
        if (k > 0) len += (size_t)k;
    }
    return buf;
}

static const char *node_of(const fx *f, const gf_placement *pl)
{
    return f->m.nodes.v[pl->node].name;
}

#define TWO_NODES(pa, pb, qa, qb)                                                                  \
    KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," POD("a", "svc-a", "n1", "g1", "0.25", pa,      \
                                                        qa) "," POD("b", "svc-b", "n1", "g1",      \
                                                                    "0.5", pb, qb))

/* The offender has the lowest priority: it yields and is upsized. */
static void test_upsize_lowest_priority(void **state)
{
    (void)state;
    fx *f = setup(TWO_NODES("0", "100", "q1", "q1"));
    assert_int_equal(f->st.gpus.n, 1);
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    run(f, 1000, NULL);
    assert_int_equal(f->r.findings.n, 2);
    const gf_fair_response *resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_non_null(resp);
    assert_int_equal(resp->action, GF_FAIR_ACT_UPSIZE);
    assert_string_equal(pname(&f->st, resp->pod), "a");
    /* 12 / 20 = 0.6, + 10% = 0.66, rounded up to 0.70 */
    assert_true(fabs(resp->new_fraction - 0.70) < 1e-9);
    assert_string_equal(node_of(f, &resp->to), "n2");
    assert_false(resp->apply); /* mode report */
    assert_non_null(strstr(resp->rule, "the offender t/a has the lowest priority (0"));
    assert_non_null(strstr(resp->reason, "upsize t/a from 0.25 to 0.70"));
    assert_non_null(strstr(resp->reason, "not applied: fairUse.mode is report"));
    assert_non_null(strstr(alts(f, resp), "move t/b: its priority 100 is above the offender's 0"));
    /* the device-full finding is answered by the overrun's response */
    const gf_fair_response *full = response_to(f, GF_FAIR_DEVICE_MEMORY_FULL);
    assert_int_equal(full->action, GF_FAIR_ACT_REPORT);
    assert_non_null(strstr(full->rule, "the memory-overrun finding for t/a answers this one"));
    assert_int_equal(f->r.applied, 0);
    teardown(f);
}

/* An upsize KAI's queue cannot fund (both pods non-preemptible, the queue
 * full) is rejected with the numbers: nothing else is possible here (the
 * GPU-mate has the higher priority), so the answer is a report. */
static void test_upsize_blocked_by_queue_quota(void **state)
{
    (void)state;
    fx *f = setup(KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," POD(
        "a", "svc-a", "n1", "g1", "0.25", "100",
        "q1") "," POD("b", "svc-b", "n1", "g1", "0.5", "200",
                      "q1") ","
                            "{\"apiVersion\":\"scheduling.run.ai/"
                            "v2\",\"kind\":\"Queue\",\"metadata\":{\"name\":"
                            "\"q1\"},\"spec\":{\"resources\":{\"gpu\":{\"quota\":0.75,\"limit\":-1}"
                            "}}}"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    run(f, 1000, NULL);
    const gf_fair_response *resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_non_null(resp);
    assert_int_equal(resp->action, GF_FAIR_ACT_REPORT);
    assert_non_null(strstr(alts(f, resp), "upsize t/a: blocked by queue quota: queue q1 quota "
                                          "0.75 GPUs, allocated 0.75 non-preemptible"));
    teardown(f);
}

/* A GPU-mate with lower priority than the offender yields: it moves. */
static void test_move_lower_priority_victim(void **state)
{
    (void)state;
    fx *f = setup(TWO_NODES("0", "-10", "q1", "q1"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    f->fp.mode = GF_FAIR_MODE_ACT;
    run(f, 1000, NULL);
    const gf_fair_response *resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_MOVE);
    assert_string_equal(pname(&f->st, resp->pod), "b");
    assert_string_equal(node_of(f, &resp->to), "n2");
    assert_true(resp->apply);
    assert_int_equal(f->r.applied, 1);
    assert_non_null(strstr(resp->rule, "a GPU-mate has lower priority (-10) than the offender"));
    assert_non_null(strstr(alts(f, resp), "upsize t/a: its priority 0 is above a GPU-mate's -10"));
    teardown(f);
}

/* Who yields follows KAI's priority and queue (the PodGroup's class and
 * spec.queue: model.c resolve_governance), not the pods' spec.priority,
 * which are equal here: KAI's scheduler values a job by its PodGroup's
 * priorityClassName (pkg/scheduler/cache/cluster_info/cluster_info.go
 * getPodGroupPriority). */
#define POD_GROUPED(name, dep, node, frac)                                                         \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\"" KJ_OWNER(          \
        "ReplicaSet", dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"g1\","                \
                                         "\"kai.scheduler/queue\":\"label-queue\",\"app\":\"" dep  \
                                         "\",\"pod-template-hash\":\"5d4c3b2a19\"},"               \
                                         "\"annotations\":{\"gpu-fraction\":\"" frac "\","         \
                                         "\"pod-group-name\":\"pg-" name "\"}},"                   \
                                         "\"spec\":{\"nodeName\":\"" node "\",\"priority\":0,"     \
                                         "\"containers\":[{\"name\":\"c\"}]},"                     \
                                         "\"status\":{\"phase\":\"Running\"}}"
#define PODGROUP(name, cls, queue)                                                                 \
    "{\"apiVersion\":\"scheduling.run.ai/v2alpha2\",\"kind\":\"PodGroup\",\"metadata\":{"          \
    "\"name\":\"pg-" name "\",\"namespace\":\"t\"},\"spec\":{\"minMember\":1,\"queue\":\"" queue   \
    "\",\"priorityClassName\":\"" cls "\"}}"
#define GROUPED(cls_a, q_a, cls_b, q_b)                                                            \
    KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," POD_GROUPED(                                   \
        "a", "svc-a", "n1",                                                                        \
        "0.25") "," POD_GROUPED("b", "svc-b", "n1",                                                \
                                "0.5") "," PODGROUP("a", cls_a, q_a) "," PODGROUP("b", cls_b,      \
                                                                                  q_b))

static void test_kai_priority_and_queue(void **state)
{
    (void)state;
    /* the offender's PodGroup is train (50), its GPU-mate's inference (125) */
    fx *f = setup(GROUPED("train", "team-a", "inference", "team-a"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    run(f, 1000, NULL);
    const gf_fair_response *resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_non_null(resp);
    assert_int_equal(resp->action, GF_FAIR_ACT_UPSIZE);
    assert_non_null(strstr(resp->rule, "the offender t/a has the lowest priority (50, GPU-mates "
                                       "125 and up): it yields"));
    teardown(f);
    /* swapped: the GPU-mate is lower and moves */
    f = setup(GROUPED("inference", "team-a", "train", "team-a"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    run(f, 1000, NULL);
    resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_MOVE);
    assert_string_equal(pname(&f->st, resp->pod), "b");
    teardown(f);
    /* equal classes: the PodGroups' queues (not the pods' label) part them */
    f = setup(GROUPED("inference", "team-a", "inference", "team-b"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    f->fp.response = GF_FAIR_PREFER_MOVE_VICTIM;
    run(f, 1000, NULL);
    resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_UPSIZE);
    assert_non_null(strstr(alts(f, resp),
                           "at equal priority, queue team-b does not make way for queue team-a"));
    teardown(f);
}

/* Equal priority: the policy's response decides; another queue's pod does
 * not make way, so move-victim falls back to upsizing the offender. */
static void test_equal_priority_queues(void **state)
{
    (void)state;
    fx *f = setup(TWO_NODES("5", "5", "team-a", "team-b"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    f->fp.response = GF_FAIR_PREFER_MOVE_VICTIM;
    run(f, 1000, NULL);
    const gf_fair_response *resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_UPSIZE);
    assert_non_null(strstr(resp->rule, "equal priority (5): fairUse.response is move-victim"));
    assert_non_null(strstr(alts(f, resp),
                           "at equal priority, queue team-b does not make way for queue team-a"));
    teardown(f);

    f = setup(TWO_NODES("5", "5", "team-a", "team-a"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    f->fp.response = GF_FAIR_PREFER_MOVE_VICTIM;
    run(f, 1000, NULL);
    resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_MOVE);
    assert_string_equal(pname(&f->st, resp->pod), "b");
    assert_non_null(strstr(alts(f, resp), "upsize t/a: not needed, move t/b comes first"));
    teardown(f);

    /* alone on its GPU: upsized, nobody else to weigh */
    f = setup(KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," POD("a", "svc-a", "n1", "g1", "0.25",
                                                                  "5", "team-a")));
    use(f, "a", 8, NAN, NAN);
    run(f, 1000, NULL);
    assert_int_equal(f->r.findings.n, 1);
    resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_UPSIZE);
    assert_true(fabs(resp->new_fraction - 0.45) < 1e-9); /* 8/20 = 0.4, + 10% = 0.44 */
    assert_non_null(strstr(resp->rule, "t/a is alone on its GPU"));
    /* its own GPU holds the old 0.25 and the new 0.45 side by side: binpack keeps it there */
    assert_string_equal(node_of(f, &resp->to), "n1");
    teardown(f);

    /* the policy says report: nothing else is considered */
    f = setup(TWO_NODES("5", "5", "team-a", "team-a"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    f->fp.response = GF_FAIR_PREFER_REPORT;
    f->fp.mode = GF_FAIR_MODE_ACT;
    run(f, 1000, NULL);
    resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_REPORT);
    assert_string_equal(resp->rule, "fairUse.response is report");
    assert_int_equal(f->r.applied, 0);
    teardown(f);
}

/* Nowhere to go: report, naming every rejected alternative. */
static void test_no_room_reports(void **state)
{
    (void)state;
    fx *f =
        setup(KJ_LIST(NODE("n1", "1") "," POD("a", "svc-a", "n1", "g1", "0.25", "0", "q") "," POD(
            "b", "svc-b", "n1", "g1", "0.5", "100", "q")));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    run(f, 1000, NULL);
    const gf_fair_response *resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_REPORT);
    assert_non_null(strstr(resp->reason, "no response is possible"));
    const char *a = alts(f, resp);
    assert_non_null(strstr(a, "move t/b: its priority 100 is above the offender's 0"));
    assert_non_null(strstr(a, "upsize t/a: no GPU for fraction 0.70: no GPU in its node pool has "
                              "room for its allocation (0.70)"));
    teardown(f);

    /* an unowned offender cannot be recreated with a new fraction */
    f = setup(KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," KJ_SHARED(
        "a", "n1", "g1", "0.25", "") "," POD("b", "svc-b", "n1", "g1", "0.5", "100", "q")));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    run(f, 1000, NULL);
    resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_REPORT);
    assert_non_null(strstr(alts(f, resp), "upsize t/a: it has no controller to recreate it"));
    teardown(f);

    /* no model: responses are reports */
    f = setup(TWO_NODES("0", "100", "q", "q"));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    f->env.m = NULL;
    run(f, 1000, NULL);
    resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_REPORT);
    assert_non_null(strstr(alts(f, resp), "upsize t/a: no cluster model to place a new pod with"));
    teardown(f);
}

/* The packing engine's first choice is rejected by actual use there. */
static void test_target_actual_use(void **state)
{
    (void)state;
    fx *f = setup(KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," NODE("n3", "1") "," POD(
        "a", "svc-a", "n1", "g1", "0.25", "0", "q") "," POD("b", "svc-b", "n1", "g1", "0.5", "100",
                                                            "q") "," POD("c", "svc-c", "n2", "g2",
                                                                         "0.2", "0", "q")));
    use(f, "a", 12, 0.5, NAN);
    use(f, "b", 7.5, 0.3, NAN);
    use(f, "c", 3, 0.7, 0.7); /* alone on n2, within its memory, busy SMs */
    run(f, 1000, NULL);
    const gf_fair_response *resp = response_to(f, GF_FAIR_MEMORY_OVERRUN);
    assert_int_equal(resp->action, GF_FAIR_ACT_UPSIZE);
    assert_string_equal(node_of(f, &resp->to), "n3");
    assert_non_null(strstr(resp->reason, "the packing engine's first choice, n2 GPU 0, was "
                                         "rejected: actual compute use would reach 1.20"));
    teardown(f);
}

/* maxActionsPerHour over the cluster, and once per pod per hour. */
static void test_rate_limits(void **state)
{
    (void)state;
    fx *f = setup(KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," NODE("n3", "2") "," POD(
        "a", "svc-a", "n1", "g1", "0.25", "0", "q") "," POD("b", "svc-b", "n1", "g1", "0.5", "100",
                                                            "q") "," //
                          POD("c", "svc-c", "n2", "g2", "0.25", "0",
                              "q") "," POD("d", "svc-d", "n2", "g2", "0.5", "100", "q")));
    use(f, "a", 12, NAN, NAN);
    use(f, "b", 7.5, NAN, NAN);
    use(f, "c", 12, NAN, NAN);
    use(f, "d", 7.5, NAN, NAN);
    f->fp.mode = GF_FAIR_MODE_ACT;
    f->fp.max_actions_per_hour = 1;
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    run(f, 1000, &tr);
    assert_int_equal(f->r.applied, 1);
    uint32_t upsizes = 0, limited = 0;
    for (size_t i = 0; i < f->r.responses.n; i++) {
        const gf_fair_response *resp = &f->r.responses.v[i];
        if (resp->action != GF_FAIR_ACT_UPSIZE) continue;
        upsizes++;
        assert_string_equal(node_of(f, &resp->to), "n3"); /* both fit on n3's two GPUs */
        limited += strstr(resp->reason, "not applied: maxActionsPerHour (1) reached") != NULL;
    }
    assert_int_equal(upsizes, 2);
    assert_int_equal(limited, 1);
    assert_int_equal(gf_fair_tracker_actions_since(&tr, 1000, 3600), 1);
    /* within the hour the budget is spent; after it, the acted pod waits no more */
    f->fp.max_actions_per_hour = 10;
    run(f, 1060, &tr);
    uint32_t again = 0;
    for (size_t i = 0; i < f->r.responses.n; i++)
        again += strstr(f->r.responses.v[i].reason, "acted on less than an hour ago") != NULL;
    assert_int_equal(again, 1);
    assert_int_equal(f->r.applied, 1);
    /* env.actions_last_hour counts actions taken elsewhere */
    f->env.actions_last_hour = 10;
    run(f, 1120, &tr);
    assert_int_equal(f->r.applied, 0);
    gf_fair_tracker_free(&tr);
    teardown(f);
}

/* An over-committed GPU is relieved by the rebalancer's least disruptive move. */
static void test_overcommit_response(void **state)
{
    (void)state;
    fx *f = setup(KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," POD(
        "a", "svc-a", "n1", "g1", "0.5", "10", "q") "," POD("b", "svc-b", "n1", "g1", "0.5", "0",
                                                            "q")));
    use(f, "a", 6, 0.5, 0.6);
    use(f, "b", 6, 0.5, 0.6);
    run(f, 1000, NULL);
    assert_int_equal(f->r.findings.n, 1);
    const gf_fair_response *resp = response_to(f, GF_FAIR_OVERCOMMIT_COMPUTE);
    assert_int_equal(resp->action, GF_FAIR_ACT_MOVE);
    assert_string_equal(pname(&f->st, resp->pod), "b"); /* the lower priority */
    assert_string_equal(node_of(f, &resp->to), "n2");
    assert_non_null(strstr(resp->rule, "one move relieves it"));
    assert_non_null(strstr(alts(f, resp),
                           "move t/a: priority 10 is above t/b's 0 (the lower priority yields)"));
    teardown(f);
}

/* The moves that relieve one GPU are applied together or not at all. */
static void test_relief_moves_together(void **state)
{
    (void)state;
    const char *json = KJ_LIST(NODE("n1", "1") "," NODE("n2", "1") "," POD(
        "a", "svc-a", "n1", "g1", "0.25", "0",
        "q") "," POD("b", "svc-b", "n1", "g1", "0.25", "0",
                     "q") "," POD("c", "svc-c", "n1", "g1", "0.25", "0",
                                  "q") "," POD("d", "svc-d", "n1", "g1", "0.25", "0", "q"));
    fx *f = setup(json);
    use(f, "a", 2, NAN, 0.3);
    use(f, "b", 2, NAN, 0.45);
    use(f, "c", 2, NAN, 0.4);
    use(f, "d", 2, NAN, 0.45);
    f->fp.mode = GF_FAIR_MODE_ACT;
    f->fp.max_actions_per_hour = 1;
    run(f, 1000, NULL);
    assert_int_equal(f->r.findings.n, 1);
    assert_int_equal(f->r.responses.n, 2);
    assert_int_equal(f->r.applied, 0);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(f->r.responses.v[i].action, GF_FAIR_ACT_MOVE);
        assert_non_null(strstr(f->r.responses.v[i].reason,
                               "maxActionsPerHour (1) reached (the moves relieving this GPU go "
                               "together)"));
    }
    f->fp.max_actions_per_hour = 2;
    run(f, 1000, NULL);
    assert_int_equal(f->r.applied, 2);
    teardown(f);
}

/* A simulator's loop: the same step function, the tracker carrying time. */
static void test_step_loop(void **state)
{
    (void)state;
    fx *f = setup(TWO_NODES("0", "100", "q", "q"));
    f->fp.mode = GF_FAIR_MODE_ACT;
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    uint32_t applied = 0;
    double first_finding = NAN;
    for (int i = 0; i < 20; i++) {
        /* a hogs the SMs from minute 3 on, b wants half and starves */
        bool hog = i >= 3;
        use(f, "a", 4, hog ? 0.85 : 0.2, hog ? 1.0 : 0.2);
        use(f, "b", 8, hog ? 0.15 : 0.5, 0.5);
        run(f, 60.0 * i, &tr);
        if (f->r.findings.n && isnan(first_finding)) first_finding = 60.0 * i;
        applied += f->r.applied;
    }
    assert_true(first_finding == 480); /* from 180 on, for the 5 minute window */
    assert_int_equal(applied, 1);      /* then once per pod per hour */
    const gf_fair_response *resp = response_to(f, GF_FAIR_COMPUTE_HOG);
    assert_int_equal(resp->action, GF_FAIR_ACT_UPSIZE);
    /* SM need 1.0 + margin: above GF_FAIR_MAX_FRACTION a whole GPU, never
     * gpu-fraction 1 (KAI's webhook refuses it: gpu_request_validator.go) */
    assert_true(resp->whole_gpu);
    assert_true(fabs(resp->new_fraction - 1.0) < 1e-9);
    assert_non_null(strstr(resp->reason, "(a whole GPU, nvidia.com/gpu: 1, above 0.95)"));
    gf_fair_tracker_free(&tr);
    teardown(f);
}

/* What a simulator hands over per GPU and step: demand arrays. */
static void test_simulator_arrays(void **state)
{
    (void)state;
    fx *f = setup(TWO_NODES("0", "100", "q", "q"));
    gf_fair_state_free(&f->st);
    gf_fair_state_init(&f->st);
    uint32_t pods[2] = {(uint32_t)gf_test_pod(&f->m, "t", "a"),
                        (uint32_t)gf_test_pod(&f->m, "t", "b")};
    double alloc[2] = {0.25, 0.5}, sm[2] = {0.85, 0.5}, mem[2] = {0.2, 0.3};
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    for (int i = 0; i <= 5; i++) {
        gf_fair_state_free(&f->st);
        gf_fair_state_init(&f->st);
        uint32_t gi = gf_fair_state_add_demand_gpu(&f->st, &f->m, f->m.pods.v[pods[0]].gpus[0], 2,
                                                   pods, alloc, sm, mem, NULL);
        assert_int_equal(gi, 0);
        run(f, 60.0 * i, &tr);
    }
    const gf_fair_gpu *g = &f->st.gpus.v[0];
    assert_string_equal(g->node, "n1");
    /* the 20480 MiB label as KAI counts it: floored to 20400 MiB (node_info.go) */
    assert_true(fabs(g->memory_total_bytes - 20400 * 1048576.0) < 1);
    const gf_fair_pod *a = &f->st.pods.v[0], *b = &f->st.pods.v[1];
    assert_string_equal(a->name, "a");
    assert_int_equal(b->priority, 100);
    assert_string_equal(b->queue, "q");
    assert_true(fabs(a->memory_bytes - 0.2 * 20400 * 1048576.0) < 1);
    assert_true(fabs(a->sm_share - 0.85 / 1.35) < 1e-9); /* time-slicing by demand */
    assert_int_equal(f->r.findings.n, 1);
    assert_int_equal(f->r.findings.v[0].kind, GF_FAIR_COMPUTE_HOG);
    assert_true(f->r.findings.v[0].since_t == 0);
    gf_fair_tracker_free(&tr);

    /* the served shares if fair shares were enforced */
    double served[3];
    gf_fair_serve(&f->fp, 2, alloc, sm, served);
    assert_true(fabs(served[0] - 0.5) < 1e-9 && fabs(served[1] - 0.5) < 1e-9);
    double d2[2] = {0.3, 0.9}, f2[2] = {0.5, 0.5};
    gf_fair_serve(&f->fp, 2, f2, d2, served);
    assert_true(fabs(served[0] - 0.3) < 1e-9 && fabs(served[1] - 0.7) < 1e-9);
    double d3[3] = {0.9, 0.9, NAN}, f3[3] = {0.25, 0.5, 0.25};
    gf_fair_serve(&f->fp, 3, f3, d3, served);
    assert_true(fabs(served[0] - 1.0 / 3) < 1e-9 && fabs(served[1] - 2.0 / 3) < 1e-9);
    assert_true(served[2] == 0);
    f->fp.compute_share = GF_FAIR_SHARE_EQUAL;
    gf_fair_serve(&f->fp, 3, f3, d3, served);
    assert_true(fabs(served[0] - 0.5) < 1e-9 && fabs(served[1] - 0.5) < 1e-9);
    double z[2] = {0, 0};
    gf_fair_serve(&f->fp, 2, z, d2, served); /* no weights, no demand left unmet */
    assert_true(fabs(served[0] - 0.3) < 1e-9 && fabs(served[1] - 0.7) < 1e-9);
    teardown(f);
}

/* --- the fairUse policy section ------------------------------------------------------- */

static void test_policy_defaults_and_load(void **state)
{
    (void)state;
    gf_fair_policy fp;
    gf_fair_policy_defaults(&fp);
    assert_int_equal(fp.mode, GF_FAIR_MODE_REPORT);
    assert_true(fabs(fp.memory_overrun_margin - 0.10) < 1e-12);
    assert_int_equal(fp.hog_window_s, 300);
    assert_true(fabs(fp.starved_threshold - 0.8) < 1e-12);
    assert_true(fabs(fp.device_memory_full_ratio - 0.95) < 1e-12);
    assert_int_equal(fp.compute_share, GF_FAIR_SHARE_FRACTION);
    assert_int_equal(fp.response, GF_FAIR_PREFER_UPSIZE);
    assert_int_equal(fp.max_actions_per_hour, 2);
    assert_int_equal(gf_fair_policy_validate(&fp, NULL), GF_OK);
    assert_string_equal(gf_fair_field_key(GF_FF_HOG_WINDOW), "hogWindow");
    assert_string_equal(gf_fair_field_key(GF_FF_COUNT), "?");
    assert_string_equal(gf_fair_mode_name(GF_FAIR_MODE_ACT), "act");
    assert_string_equal(gf_fair_prefer_name(GF_FAIR_PREFER_MOVE_VICTIM), "move-victim");
    assert_string_equal(gf_fair_share_name(GF_FAIR_SHARE_EQUAL), "equal");
    gf_fair_mode m;
    assert_false(gf_fair_mode_parse("Act", &m));
    assert_false(gf_fair_mode_parse(NULL, &m));

    const char *yaml = H "fairUse:\n"
                         "  mode: act\n"
                         "  memoryOverrunMargin: 0.2\n"
                         "  hogWindow: 10m\n"
                         "  starvedThreshold: 0.7\n"
                         "  deviceMemoryFullRatio: 0.9\n"
                         "  computeShare: equal\n"
                         "  response: move-victim\n"
                         "  maxActionsPerHour: 4\n";
    gf_policy p;
    gf_policy_init(&p);
    assert_int_equal(p.fair_use.mode, GF_FAIR_MODE_REPORT);
    gf_error err = {0};
    if (gf_policy_load_buffer(&p, "t.yaml", yaml, strlen(yaml), &err))
        fail_msg("%s: %s", err.where, err.msg);
    assert_int_equal(p.fair_use.mode, GF_FAIR_MODE_ACT);
    assert_true(fabs(p.fair_use.memory_overrun_margin - 0.2) < 1e-12);
    assert_int_equal(p.fair_use.hog_window_s, 600);
    assert_true(fabs(p.fair_use.starved_threshold - 0.7) < 1e-12);
    assert_true(fabs(p.fair_use.device_memory_full_ratio - 0.9) < 1e-12);
    assert_int_equal(p.fair_use.compute_share, GF_FAIR_SHARE_EQUAL);
    assert_int_equal(p.fair_use.response, GF_FAIR_PREFER_MOVE_VICTIM);
    assert_int_equal(p.fair_use.max_actions_per_hour, 4);
    assert_int_equal(gf_policy_validate(&p, &err), GF_OK);
    /* validation through the core names the key */
    p.fair_use.starved_threshold = 0;
    assert_int_equal(gf_policy_validate(&p, &err), GF_EINPUT);
    assert_string_equal(err.where, "t.yaml: fairUse.starvedThreshold");
    assert_non_null(strstr(err.msg, "must be in (0, 1], got 0"));
    gf_policy_free(&p);

    /* an empty section, and the example */
    gf_policy_init(&p);
    const char *empty = H "fairUse:\n";
    assert_int_equal(gf_policy_load_buffer(&p, "t.yaml", empty, strlen(empty), &err), GF_OK);
    assert_int_equal(p.fair_use.hog_window_s, 300);
    assert_int_equal(gf_policy_load_file(&p, EXAMPLE, &err), GF_OK);
    gf_fair_policy_defaults(&fp);
    assert_int_equal(p.fair_use.mode, fp.mode);
    assert_int_equal(p.fair_use.hog_window_s, fp.hog_window_s);
    assert_int_equal(p.fair_use.response, fp.response);
    assert_int_equal(p.fair_use.max_actions_per_hour, fp.max_actions_per_hour);
    assert_true(p.fair_use.starved_threshold == fp.starved_threshold);
    gf_policy_free(&p);
}

typedef struct bad_case {
    const char *yaml, *where, *msg;
} bad_case;

static void test_policy_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {H "fairUse:\n  mode: fast\n", "t.yaml:4:9: fairUse.mode",
         "unknown mode \"fast\" (use off, report or act)"},
        {H "fairUse:\n  mode: [act]\n", "t.yaml:4:9: fairUse.mode",
         "expected mode (off, report or act), got a list"},
        {H "fairUse:\n  hogwindow: 5m\n", "t.yaml:4:3: fairUse.hogwindow",
         "unknown key \"hogwindow\" (known keys: mode, memoryOverrunMargin, hogWindow, "
         "starvedThreshold, deviceMemoryFullRatio, computeShare, response, maxActionsPerHour)"},
        {H "fairUse:\n  hogWindow: 2d\n", "t.yaml:4:14: fairUse.hogWindow",
         "must be more than 0s and at most 1d, got 2d"},
        {H "fairUse:\n  hogWindow: 0s\n", "t.yaml:4:14: fairUse.hogWindow",
         "must be more than 0s and at most 1d, got 0s"},
        {H "fairUse:\n  hogWindow: 300\n", "t.yaml:4:14: fairUse.hogWindow",
         "a number needs a unit"},
        {H "fairUse:\n  starvedThreshold: 1.5\n", "t.yaml:4:21: fairUse.starvedThreshold",
         "must be in (0, 1], got 1.5"},
        {H "fairUse:\n  deviceMemoryFullRatio: 0\n", "t.yaml:4:26: fairUse.deviceMemoryFullRatio",
         "must be in (0, 1], got 0"},
        {H "fairUse:\n  memoryOverrunMargin: -0.1\n", "t.yaml:4:24: fairUse.memoryOverrunMargin",
         "must be in [0, 10], got -0.1"},
        {H "fairUse:\n  memoryOverrunMargin: \"0.1\"\n", "t.yaml:4:24: fairUse.memoryOverrunMargin",
         "expected a number, got the quoted string"},
        {H "fairUse:\n  maxActionsPerHour: 5000\n", "t.yaml:4:22: fairUse.maxActionsPerHour",
         "must be in [0, 3600], got 5000"},
        {H "fairUse:\n  maxActionsPerHour: 1.5\n", "t.yaml:4:22: fairUse.maxActionsPerHour",
         "expected a whole number, got \"1.5\""},
        {H "fairUse:\n  response: evict\n", "t.yaml:4:13: fairUse.response",
         "unknown response \"evict\" (use upsize, move-victim or report)"},
        {H "fairUse:\n  computeShare: half\n", "t.yaml:4:17: fairUse.computeShare",
         "unknown compute share \"half\" (use fraction or equal)"},
        {H "fairUse:\n  mode: act\n  mode: off\n", "t.yaml:5:3: fairUse.mode",
         "duplicate key \"mode\" (first at line 4)"},
        {H "fairUse: [1]\n", "t.yaml:3:10: fairUse", "expected a mapping (key: value), got a list"},
        {H "fairUse: {}\nfairUse: {}\n", "t.yaml:4:1: fairUse", "duplicate key \"fairUse\""},
        {H "fairuse: {}\n", "t.yaml:3:1: fairuse", "fair-use settings go under fairUse"},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gf_policy p;
        gf_policy_init(&p);
        p.fair_use.max_actions_per_hour = 7; /* must survive a failed load */
        gf_error err = {0};
        gf_err rc = gf_policy_load_buffer(&p, "t.yaml", cases[i].yaml, strlen(cases[i].yaml), &err);
        if (rc != GF_EINPUT || strcmp(err.where, cases[i].where) ||
            !strstr(err.msg, cases[i].msg)) {
            print_error("case %zu: rc=%d where='%s' msg='%s'; wanted where='%s' msg~'%s'\n", i, rc,
                        err.where, err.msg, cases[i].where, cases[i].msg);
            failures++;
        }
        assert_int_equal(p.fair_use.max_actions_per_hour, 7);
        gf_policy_free(&p);
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_behaved),
        cmocka_unit_test(test_memory_overrun_critical),
        cmocka_unit_test(test_memory_overrun_window),
        cmocka_unit_test(test_compute_hog),
        cmocka_unit_test(test_short_bursts),
        cmocka_unit_test(test_compute_hog_saturated),
        cmocka_unit_test(test_equal_share),
        cmocka_unit_test(test_overcommit),
        cmocka_unit_test(test_mode_off_and_errors),
        cmocka_unit_test(test_upsize_lowest_priority),
        cmocka_unit_test(test_upsize_blocked_by_queue_quota),
        cmocka_unit_test(test_move_lower_priority_victim),
        cmocka_unit_test(test_equal_priority_queues),
        cmocka_unit_test(test_kai_priority_and_queue),
        cmocka_unit_test(test_no_room_reports),
        cmocka_unit_test(test_target_actual_use),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_overcommit_response),
        cmocka_unit_test(test_relief_moves_together),
        cmocka_unit_test(test_step_loop),
        cmocka_unit_test(test_simulator_arrays),
        cmocka_unit_test(test_policy_defaults_and_load),
        cmocka_unit_test(test_policy_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
