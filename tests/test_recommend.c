/* test_recommend.c - the rightsizing rules as scenarios with known answers:
 * usage is fed minute by minute into a history, the engine is asked at
 * fixed times, and its changes are applied as the controller would. */
#include "testutil.h"
#include "decide/recommend.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GIB 1073741824.0
#define MIN 60.0
#define HOUR 3600.0
#define DAY 86400.0
#define L4_MIB 23034 /* NVIDIA-L4 as GPU feature discovery reports it */

typedef double (*usage_fn)(double t, double *sm);

typedef struct change {
    double t;
    gf_rec_action action;
    double from, to;
} change;

typedef struct sim {
    gf_history h;
    gf_hist_series *s;
    gf_rightsize_rule rule;
    gf_rec_input in;
    change changes[64];
    int n_changes;
    double min_rec; /* lowest fraction ever recommended */
} sim;

static void sim_init(sim *x, double fraction)
{
    memset(x, 0, sizeof *x);
    gf_error err;
    assert_int_equal(gf_history_init(&x->h, NULL, &err), GF_OK);
    x->s = gf_history_get(&x->h, "team/Deployment/llm", true);
    gf_rightsize_rule_defaults(&x->rule);
    x->in = (gf_rec_input){.ns = "team",
                           .kind = "Deployment",
                           .name = "llm",
                           .unit = GF_SHARE_FRACTION,
                           .fraction = fraction,
                           .devices = 1,
                           .gpu_memory_mib = L4_MIB,
                           .replicas = 2,
                           .container = "main"};
    x->min_rec = INFINITY;
}

static double current(const sim *x)
{
    return x->in.unit == GF_SHARE_FRACTION ? x->in.fraction : (double)x->in.memory_mib;
}

/* Feeds usage every minute from t0 to t1 and asks every `every` seconds
 * (every 0: after each sample); applies each change. */
static void run(sim *x, usage_fn f, double t0, double t1, double every)
{
    gf_error err;
    double next_ask = t0;
    for (double t = t0; t <= t1; t += MIN) {
        double sm = -1;
        double mem = f(t, &sm);
        if (mem >= 0)
            assert_int_equal(gf_history_add_to(&x->h, x->s, GF_SIG_MEMORY, t, mem, &err), GF_OK);
        if (sm >= 0)
            assert_int_equal(gf_history_add_to(&x->h, x->s, GF_SIG_SM, t, sm, &err), GF_OK);
        if (every > 0 && t < next_ask) continue;
        next_ask = t + every;
        gf_recommendation r;
        if (gf_recommend_one(&x->rule, &x->in, x->s, t, &r, &err))
            fail_msg("%s: %s", err.where, err.msg);
        if (r.recommended_fraction < x->min_rec) x->min_rec = r.recommended_fraction;
        if (r.action == GF_REC_UP || r.action == GF_REC_DOWN) {
            assert_true(x->n_changes < 64);
            x->changes[x->n_changes++] = (change){t, r.action, current(x), r.recommended};
            if (x->in.unit == GF_SHARE_FRACTION)
                x->in.fraction = r.recommended;
            else
                x->in.memory_mib = (int64_t)r.recommended;
            assert_int_equal(gf_hist_note_change(x->s, t, &err), GF_OK);
        }
    }
}

static void sim_free(sim *x)
{
    gf_history_free(&x->h);
}

/* --- scenarios ------------------------------------------------------------------ */

static double steady_2gib(double t, double *sm)
{
    (void)t;
    *sm = 0.05;
    return 2 * GIB;
}

/* Steady low use: nothing before a day of history; then one downsize by
 * maxStep, the next only after the cooldown, then it stays. */
static void test_steady_low_use_downsizes_once_after_window(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.5);
    run(&x, steady_2gib, 0, 3 * DAY, 5 * MIN);
    assert_int_equal(x.n_changes, 2);
    /* first: at the first ask with 24 h of history, by the 0.25 step limit */
    assert_true(x.changes[0].t >= DAY && x.changes[0].t < DAY + 5 * MIN);
    assert_int_equal(x.changes[0].action, GF_REC_DOWN);
    assert_true(fabs(x.changes[0].to - 0.25) < 1e-9);
    /* second: 6 h cooldown later, to 2 GiB x 1.10 (one margin on a confident
     * peak, singleMargin) = 0.0979 of an L4 -> 0.10 */
    assert_true(x.changes[1].t >= x.changes[0].t + 6 * HOUR &&
                x.changes[1].t < x.changes[0].t + 6 * HOUR + 5 * MIN);
    assert_true(fabs(x.changes[1].to - 0.10) < 1e-9);
    sim_free(&x);
}

static double ramp(double t, double *sm)
{
    *sm = 0.1;
    return 2 * GIB + 0.5 * GIB * (t / HOUR);
}

/* A memory ramp: the upsize comes on the very sample that crosses the
 * trigger (90% of 0.5 x 22.49 GiB), to the need x 1.15 rounded up. */
static void test_memory_ramp_upsizes_on_crossing_sample(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.5);
    run(&x, ramp, 0, 20 * HOUR, 0);
    assert_true(x.n_changes >= 1);
    double alloc = 0.5 * L4_MIB * 1048576.0;
    double trigger = 0.9 * alloc;
    /* the first minute sample at or above the trigger */
    double cross = -1;
    for (double t = 0;; t += MIN) {
        double sm;
        if (ramp(t, &sm) >= trigger) {
            cross = t;
            break;
        }
    }
    assert_int_equal(x.changes[0].action, GF_REC_UP);
    assert_true(fabs(x.changes[0].t - cross) < 1e-9);
    double sm;
    double want = ceil(ramp(cross, &sm) * 1.15 / (L4_MIB * 1048576.0) / 0.05 - 1e-9) * 0.05;
    assert_true(fabs(x.changes[0].to - want) < 1e-9);
    /* and it keeps up: every later change is an upsize, never a downsize */
    for (int i = 1; i < x.n_changes; i++)
        assert_int_equal(x.changes[i].action, GF_REC_UP);
    sim_free(&x);
}

static double oscillate(double t, double *sm)
{
    *sm = 0.1;
    return fmod(t, 4 * HOUR) < 2 * HOUR ? 3 * GIB : 10.5 * GIB;
}

/* Oscillating use across the trigger: one upsize, then no flapping for a
 * week (the 24 h peak never lets a downsize through). */
static void test_oscillation_does_not_flap(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.5);
    run(&x, oscillate, 0, 7 * DAY, 5 * MIN);
    assert_int_equal(x.n_changes, 1);
    assert_int_equal(x.changes[0].action, GF_REC_UP);
    assert_true(fabs(x.changes[0].to - 0.55) < 1e-9); /* 10.5 GiB x 1.15 = 0.537 -> 0.55 */
    sim_free(&x);
}

static double spike(double t, double *sm)
{
    *sm = 0.05;
    return (t >= 3 * HOUR && t < 3 * HOUR + MIN) ? 8 * GIB : 2 * GIB;
}

/* A one-minute spike of 8 GiB: no recommendation ever goes below
 * 8 GiB x 1.10 margin while the history holds it. */
static void test_spike_is_a_floor(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.5);
    run(&x, spike, 0, 5 * DAY, 5 * MIN);
    double floor_frac = 8 * GIB * 1.10 / (L4_MIB * 1048576.0);
    assert_true(x.min_rec >= floor_frac - 1e-9);
    assert_true(x.n_changes >= 1);
    assert_true(fabs(current(&x) - 0.4) < 1e-9); /* 0.391 rounded up to the step */
    sim_free(&x);
}

/* gpu-memory workloads keep their unit: MiB, in steps of memoryStepMiB. */
static void test_gpu_memory_unit_kept(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0);
    x.in.unit = GF_SHARE_MEMORY;
    x.in.memory_mib = 12288;
    run(&x, steady_2gib, 0, 3 * DAY, 5 * MIN);
    assert_true(x.n_changes >= 1);
    for (int i = 0; i < x.n_changes; i++) {
        assert_int_equal(x.changes[i].action, GF_REC_DOWN);
        assert_true(fmod(x.changes[i].to, 256) == 0);
    }
    /* 12288 - 0.25 x 23034 = 6529.5 -> 6656; then 2 GiB x 1.10 (one margin on
     * a confident peak) = 2252.8 -> 2304 */
    assert_true(x.changes[0].to == 6656);
    assert_true(x.in.memory_mib == 2304);
    sim_free(&x);
}

static double busy_sm(double t, double *sm)
{
    (void)t;
    *sm = 0.45;
    return 1 * GIB;
}

/* computeAware: SM share above the trigger x fraction upsizes even with
 * little memory; without computeAware the same use downsizes later. */
static void test_compute_aware(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.3);
    x.rule.compute_aware = true;
    run(&x, busy_sm, 0, 2 * HOUR, 5 * MIN);
    assert_int_equal(x.n_changes, 1);
    assert_int_equal(x.changes[0].action, GF_REC_UP);
    assert_true(fabs(x.changes[0].to - 0.55) < 1e-9); /* 0.45 x 1.15 = 0.5175 -> 0.55 */
    sim_free(&x);

    sim y;
    sim_init(&y, 0.3);
    run(&y, busy_sm, 0, 2 * DAY, 5 * MIN);
    assert_true(y.n_changes >= 1);
    assert_int_equal(y.changes[0].action, GF_REC_DOWN);
    sim_free(&y);
}

static void test_no_data_off_confidence_and_bad_input(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.5);
    gf_error err;
    gf_recommendation r;
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, NULL, 100, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_NODATA);
    assert_true(r.recommended == 0.5);
    gf_rightsize_rule off = x.rule;
    off.mode = GF_MODE_OFF;
    assert_int_equal(gf_recommend_one(&off, &x.in, x.s, 100, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_OFF);
    /* 12 h of a 24 h minimum history: confidence is coverage, the hours
     * 0 .. 12 (now's own included) of the last 24 with samples, 13/24; no
     * downsize yet */
    run(&x, steady_2gib, 0, 12 * HOUR, 12 * HOUR + 1);
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, 12 * HOUR, &r, &err), GF_OK);
    assert_true(fabs(r.confidence - 13.0 / 24) < 1e-9);
    assert_int_equal(r.action, GF_REC_KEEP);
    assert_non_null(strstr(r.reason, "too little history"));
    /* nonsense inputs */
    gf_rec_input bad = x.in;
    bad.fraction = 1.5;
    assert_int_equal(gf_recommend_one(&x.rule, &bad, x.s, 100, &r, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "not in (0, 1]"));
    bad = x.in;
    bad.gpu_memory_mib = 0;
    assert_int_equal(gf_recommend_one(&x.rule, &bad, x.s, 100, &r, &err), GF_EINPUT);
    bad = x.in;
    bad.devices = 0;
    assert_int_equal(gf_recommend_one(&x.rule, &bad, x.s, 100, &r, &err), GF_EINPUT);
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, NAN, &r, &err), GF_EINPUT);
    sim_free(&x);
}

/* Saving: (current - recommended) x devices x replicas, and the reason
 * names the rule and its figures. */
static void test_saving_and_reason(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.5);
    x.in.devices = 2;
    x.in.replicas = 3;
    run(&x, steady_2gib, 0, DAY, DAY + 1); /* feed only */
    gf_recommendation r;
    gf_error err;
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, DAY, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_DOWN);
    assert_true(fabs(r.gpus_saved - 0.25 * 2 * 3) < 1e-9);
    assert_non_null(strstr(r.reason, "peak memory 2.00 GiB over 1d"));
    assert_non_null(strstr(r.reason, "maxStep"));
    sim_free(&x);
}

/* Over a model: workloads found from pods, policy per namespace, history
 * by "namespace/Kind/name". */
static void test_model_and_policy(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err;
    assert_int_equal(gf_test_load(&m, &d, &err, "kai-small.json"), GF_OK);
    gf_history h;
    assert_int_equal(gf_history_init(&h, NULL, &err), GF_OK);
    gf_policy p;
    gf_policy_init(&p);
    gf_recommendations recs = {0};
    assert_int_equal(gf_recommend_model(&m, &h, &p, 1000, &recs, &err), GF_OK);
    assert_true(recs.n > 0);
    for (size_t i = 0; i < recs.n; i++) {
        assert_int_equal(recs.v[i].action, GF_REC_NODATA); /* empty history */
        assert_true(recs.v[i].in.kind && strcmp(recs.v[i].in.kind, "ReplicaSet") != 0);
    }
    /* usage for the first workload: a day of 1 GiB -> a downsize */
    char key[400];
    const gf_rec_input first = recs.v[0].in; /* recs is freed below */
    const gf_rec_input *in = &first;
    gf_recommend_key(in->ns, in->kind, in->name, key, sizeof key);
    for (double t = 0; t <= DAY; t += MIN)
        assert_int_equal(gf_history_add(&h, key, GF_SIG_MEMORY, t, 0.2 * GIB, &err), GF_OK);
    gf_vec_free(&recs);
    assert_int_equal(gf_recommend_model(&m, &h, &p, DAY, &recs, &err), GF_OK);
    assert_int_equal(recs.v[0].action, in->unit == GF_SHARE_FRACTION && in->fraction <= 0.1
                                           ? GF_REC_KEEP
                                           : GF_REC_DOWN);
    /* a rule turning the namespace off wins */
    gf_policy_rule *rule = gf_policy_add_rule(&p, "quiet");
    rule->set = GF_RF_BIT(GF_RF_MODE);
    rule->values.mode = GF_MODE_OFF;
    gf_vec_free(&recs);
    assert_int_equal(gf_recommend_model(&m, &h, &p, DAY, &recs, &err), GF_OK);
    for (size_t i = 0; i < recs.n; i++) {
        assert_int_equal(recs.v[i].action, GF_REC_OFF);
        assert_non_null(strstr(recs.v[i].policy, "quiet"));
    }
    gf_vec_free(&recs);
    gf_policy_free(&p);
    gf_history_free(&h);
    gf_diags_free(&d);
    gf_model_free(&m);
}

static double near_full(double t, double *sm)
{
    (void)t;
    *sm = 0.3;
    return 21.0 * GIB; /* of a 22.5 GiB L4: needs more than 0.95 with headroom */
}

/* Above maxFraction the answer is a whole GPU, never a gpu-fraction of 1 or
 * more (KAI's webhook refuses it: gpu_request_validator.go), and not the
 * largest fraction either, which would still run out of memory. */
static void test_above_max_fraction_is_a_whole_gpu(void **state)
{
    (void)state;
    for (int unit = 0; unit < 2; unit++) {
        sim x;
        sim_init(&x, 0.5);
        if (unit) {
            x.in.unit = GF_SHARE_MEMORY;
            x.in.memory_mib = 8192;
        }
        gf_error err;
        for (double t = 0; t <= 10 * MIN; t += MIN) {
            double sm;
            assert_int_equal(
                gf_history_add_to(&x.h, x.s, GF_SIG_MEMORY, t, near_full(t, &sm), &err), GF_OK);
        }
        gf_recommendation r;
        assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, 10 * MIN, &r, &err), GF_OK);
        assert_int_equal(r.action, GF_REC_WHOLE);
        assert_string_equal(gf_rec_action_name(r.action), "whole-gpu");
        assert_true(r.recommended_fraction == 1.0);
        assert_true(r.recommended == 1.0);
        assert_non_null(strstr(r.reason, "above maxFraction 0.95"));
        assert_non_null(strstr(r.reason, "a whole GPU (nvidia.com/gpu: 1"));
        /* it costs: half a GPU per replica more */
        assert_true(fabs(r.gpus_saved - (unit ? 8192.0 / L4_MIB - 1 : -0.5) * 2) < 1e-9);
        sim_free(&x);
    }
    /* just under maxFraction: still a fraction, and below 1 */
    sim x;
    sim_init(&x, 0.5);
    gf_error err;
    for (double t = 0; t <= 10 * MIN; t += MIN)
        assert_int_equal(gf_history_add_to(&x.h, x.s, GF_SIG_MEMORY, t, 18.0 * GIB, &err), GF_OK);
    gf_recommendation r;
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, 10 * MIN, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_UP);
    assert_true(gf_kai_fraction_ok(r.recommended));
    assert_true(r.recommended <= 0.95 + 1e-9);
    sim_free(&x);
}

/* --- decision-quality rules (issue 15) ------------------------------------------- */

#define L4_BYTES (L4_MIB * 1048576.0)

static double flat_92(double t, double *sm)
{
    (void)t;
    *sm = -1;
    return 0.92 * 0.5 * L4_BYTES; /* 92% of a 0.5 allocation, never more */
}

/* upsize.newPeak: a service flat at 92% of its allocation for days is not
 * raised (nearness is not new territory); the old trigger raises it at once. */
static void test_flat_near_allocation_not_upsized(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.5);
    assert_true(x.rule.upsize_new_peak); /* the default */
    run(&x, flat_92, 0, 3 * DAY, 5 * MIN);
    assert_int_equal(x.n_changes, 0);
    assert_true(fabs(current(&x) - 0.5) < 1e-9);
    sim_free(&x);

    sim y; /* the rule off: the trigger fires on the first sample */
    sim_init(&y, 0.5);
    y.rule.upsize_new_peak = false;
    run(&y, flat_92, 0, HOUR, 5 * MIN);
    assert_true(y.n_changes >= 1);
    assert_int_equal(y.changes[0].action, GF_REC_UP);
    assert_true(y.changes[0].t == 0);
    sim_free(&y);
}

/* 85% of 0.5 for a day (0.425 x 1.10 rounds to 0.5: kept), then +1% of the
 * allocation a minute: 90% at DAY + 5 min, 100% at DAY + 15 min */
static double climb(double t, double *sm)
{
    *sm = -1;
    double share = t < DAY ? 0.85 : 0.85 + 0.01 * (t - DAY) / MIN;
    return share * 0.5 * L4_BYTES;
}

/* 50% of 0.5, then at 2 d straight to 105% (an OOM) */
static double jump(double t, double *sm)
{
    *sm = -1;
    return (t < 2 * DAY ? 0.5 : 1.05) * 0.5 * L4_BYTES;
}

/* A climbing workload is upsized before it crosses its allocation; an OOM
 * (at or above the allocation) upsizes at once. */
static void test_climbing_upsized_before_crossing(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.5);
    x.rule.upsize_new_peak = true;
    run(&x, climb, 0, DAY + 30 * MIN, 0);
    assert_true(x.n_changes >= 1);
    assert_int_equal(x.changes[0].action, GF_REC_UP);
    /* in the band (90% at DAY + 5 min) and before 100% (DAY + 15 min) */
    assert_true(x.changes[0].t >= DAY + 5 * MIN && x.changes[0].t < DAY + 15 * MIN);
    sim_free(&x);

    sim y;
    sim_init(&y, 0.5);
    y.rule.upsize_new_peak = true;
    run(&y, jump, 0, 2 * DAY, 0);
    assert_true(y.n_changes >= 1);
    assert_int_equal(y.changes[y.n_changes - 1].action, GF_REC_UP);
    assert_true(y.changes[y.n_changes - 1].t == 2 * DAY);
    sim_free(&y);
}

/* Confidence is coverage: samples for 2 days, then none for 36 h is no data
 * (not zero use); a far-future now too; samples in half the hours of the
 * window are too little to downsize. */
static void test_coverage_not_time(void **state)
{
    (void)state;
    gf_error err;
    gf_recommendation r;
    sim x;
    sim_init(&x, 0.5);
    run(&x, steady_2gib, 0, 2 * DAY, 1e12); /* samples only: one ask at 0 */
    double silent = 2 * DAY + 36 * HOUR;
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, silent, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_NODATA);
    assert_true(r.confidence < 0.5);
    assert_non_null(strstr(r.reason, "no data"));
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, 400 * DAY, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_NODATA);
    assert_true(r.confidence == 0);
    /* the rule off: the old answer, a downsize on a silent window */
    gf_rightsize_rule old = x.rule;
    old.min_coverage = 0;
    assert_int_equal(gf_recommend_one(&old, &x.in, x.s, silent, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_DOWN);
    sim_free(&x);

    /* samples in every other hour for 2 days: coverage 1/2 < 0.8 */
    sim y;
    sim_init(&y, 0.5);
    for (double t = 0; t <= 2 * DAY; t += MIN)
        if (((int64_t)(t / HOUR)) % 2 == 0)
            assert_int_equal(gf_history_add_to(&y.h, y.s, GF_SIG_MEMORY, t, 2 * GIB, &err), GF_OK);
    assert_int_equal(gf_recommend_one(&y.rule, &y.in, y.s, 2 * DAY, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_KEEP);
    assert_true(fabs(r.confidence - 0.5) < 1e-9); /* hours 26, 28, .., 48: 12 of the last 24 */
    assert_non_null(strstr(r.reason, "downsize.minCoverage"));
    sim_free(&y);
}

/* daily peak 0.3 of a GPU for an hour at 12:00, 0.2 otherwise; with burst,
 * a weekly burst: days 1 and 8 peak at 0.5 */
static double daily(double t, bool burst)
{
    int64_t day = (int64_t)(t / DAY);
    double hour = fmod(t, DAY) / HOUR;
    double share = hour >= 12 && hour < 13 ? (burst && day % 7 == 1 ? 0.5 : 0.3) : 0.2;
    return share * L4_BYTES;
}
static double bursty(double t, double *sm)
{
    *sm = -1;
    return daily(t, true);
}
static double smooth(double t, double *sm)
{
    *sm = -1;
    return daily(t, false);
}

/* Burst reserve: with 3 days of history before any downsize (so the first
 * burst has been seen), a series with daily peaks of 0.3 and a weekly burst
 * to 0.5 waits for a week of history and is never downsized below the
 * burst; a smooth one is downsized at 3 days as before. */
static void test_burst_reserve(void **state)
{
    (void)state;
    sim x;
    sim_init(&x, 0.9);
    x.rule.min_history_s = (int64_t)(3 * DAY);
    run(&x, bursty, 0, 6 * DAY + 23 * HOUR, 30 * MIN);
    assert_int_equal(x.n_changes, 0);
    gf_error err;
    gf_recommendation r;
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, 6 * DAY + 23 * HOUR, &r, &err), GF_OK);
    assert_non_null(strstr(r.reason, "bursty"));
    run(&x, bursty, 6 * DAY + 23 * HOUR + MIN, 10 * DAY, 30 * MIN);
    assert_true(x.n_changes >= 1);
    assert_true(x.changes[0].t >= 7 * DAY);
    assert_true(x.min_rec >= 0.5); /* never below the burst */
    sim_free(&x);

    sim y;
    sim_init(&y, 0.9);
    y.rule.min_history_s = (int64_t)(3 * DAY);
    run(&y, smooth, 0, 4 * DAY, 30 * MIN);
    assert_true(y.n_changes >= 1);
    assert_int_equal(y.changes[0].action, GF_REC_DOWN);
    assert_true(y.changes[0].t < 3 * DAY + HOUR);
    sim_free(&y);
}

/* daily pattern: 2 GiB, except 1 GiB from 13:00 to 16:00 (the trough) */
static double troughy(double t, double *sm)
{
    *sm = -1;
    double hour = fmod(t, DAY) / HOUR;
    return hour >= 13 && hour < 16 ? 1 * GIB : 2 * GIB;
}

/* When to change: a downsize waits for changeWindow (02:00-05:00) and, with
 * downsize.atTrough, for the workload's trough; an upsize never waits. */
static void test_change_window_and_trough(void **state)
{
    (void)state;
    gf_error err;
    sim x;
    sim_init(&x, 0.5);
    x.rule.change_window_start_s = 2 * 3600;
    x.rule.change_window_end_s = 5 * 3600;
    run(&x, steady_2gib, 0, DAY + HOUR, 5 * MIN);
    assert_int_equal(x.n_changes, 0);
    gf_recommendation r;
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, DAY + HOUR, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_KEEP);
    assert_true(r.waits_window);
    assert_non_null(strstr(r.reason, "waiting for the change window 02:00-05:00"));
    run(&x, steady_2gib, DAY + HOUR + MIN, 2 * DAY, 5 * MIN);
    assert_true(x.n_changes >= 1);
    assert_true(x.changes[0].t >= DAY + 2 * HOUR && x.changes[0].t < DAY + 5 * HOUR);
    for (int i = 0; i < x.n_changes; i++)
        assert_true(fmod(x.changes[i].t, DAY) >= 2 * HOUR && fmod(x.changes[i].t, DAY) < 5 * HOUR);
    sim_free(&x);

    sim y; /* an OOM at 10:00 is not held for the window */
    sim_init(&y, 0.5);
    y.rule.change_window_start_s = 2 * 3600;
    y.rule.change_window_end_s = 5 * 3600;
    run(&y, jump, 0, 2 * DAY, 0);
    assert_true(y.n_changes >= 1);
    assert_int_equal(y.changes[y.n_changes - 1].action, GF_REC_UP);
    assert_true(y.changes[y.n_changes - 1].t == 2 * DAY);
    sim_free(&y);

    sim z; /* atTrough: the first downsize lands in 13:00-16:00 */
    sim_init(&z, 0.5);
    z.rule.at_trough = true;
    run(&z, troughy, 0, 3 * DAY, 5 * MIN);
    assert_true(z.n_changes >= 1);
    for (int i = 0; i < z.n_changes; i++) {
        assert_int_equal(z.changes[i].action, GF_REC_DOWN);
        assert_true(fmod(z.changes[i].t, DAY) >= 13 * HOUR &&
                    fmod(z.changes[i].t, DAY) < 16 * HOUR);
    }
    sim_free(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_low_use_downsizes_once_after_window),
        cmocka_unit_test(test_flat_near_allocation_not_upsized),
        cmocka_unit_test(test_climbing_upsized_before_crossing),
        cmocka_unit_test(test_coverage_not_time),
        cmocka_unit_test(test_burst_reserve),
        cmocka_unit_test(test_change_window_and_trough),
        cmocka_unit_test(test_memory_ramp_upsizes_on_crossing_sample),
        cmocka_unit_test(test_oscillation_does_not_flap),
        cmocka_unit_test(test_spike_is_a_floor),
        cmocka_unit_test(test_gpu_memory_unit_kept),
        cmocka_unit_test(test_compute_aware),
        cmocka_unit_test(test_no_data_off_confidence_and_bad_input),
        cmocka_unit_test(test_saving_and_reason),
        cmocka_unit_test(test_model_and_policy),
        cmocka_unit_test(test_above_max_fraction_is_a_whole_gpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
