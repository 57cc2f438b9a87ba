/* test_recommend_engine.c - the rightsizing rules by engine class
 * (decide/recommend.h): a preallocating engine (vLLM) whose NVML memory is
 * flat at its cap, sized from its own KV-cache use, waiting requests and
 * preemptions; a caching allocator judged against its high-water mark; the
 * cap that moves with the fraction. Usage is fed minute by minute into a
 * history and the engine asked at fixed times, its changes applied as the
 * controller would, with the engine's memory and KV share following them. */
#include "testutil.h"
#include "decide/recommend.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GIB 1073741824.0
#define MIN 60.0
#define HOUR 3600.0
#define DAY 86400.0
#define L4_MIB 23034
#define L4_BYTES (23034.0 * 1048576.0)
#define T0 1795507200.0

typedef struct engine_sim {
    gf_history h;
    gf_hist_series *s;
    gf_rightsize_rule rule;
    gf_rec_input in;
    int ups, downs;
    double first_down_t, first_down_to;
    gf_recommendation last;
    /* the served load: KV tokens as a share of the first pool, waiting and
     * preempted requests (functions of the minute) */
    double true_base;  /* weights + overhead, share of the GPU */
    double kv_tokens;  /* KV use in units of the first pool */
    double first_pool; /* the pool at the start, share of the GPU */
    double (*waiting)(double t);
    double (*preempt)(double t);
    bool no_kv;                 /* the engine exports no KV metric (TGI, or not scraped) */
    double (*tokens)(double t); /* kv_tokens by the minute, when set */
    bool wait_when_short;       /* requests wait while the KV need passes the pool */
    int short_min;              /* minutes the KV need passed the pool */
} engine_sim;

static double none(double t)
{
    (void)t;
    return 0;
}

static const gf_engine_info vllm_flag = {
    GF_ENGINE_VLLM, GF_MEM_PREALLOCATES, GF_CAP_FLAG, 0.5, "--gpu-memory-utilization", false};

static void esim_init(engine_sim *x, double fraction, const gf_engine_info *e)
{
    memset(x, 0, sizeof *x);
    gf_error err;
    assert_int_equal(gf_history_init(&x->h, NULL, &err), GF_OK);
    x->s = gf_history_get(&x->h, "team/Deployment/chat", true);
    gf_rightsize_rule_defaults(&x->rule);
    x->in = (gf_rec_input){.ns = "team",
                           .kind = "Deployment",
                           .name = "chat",
                           .unit = GF_SHARE_FRACTION,
                           .fraction = fraction,
                           .devices = 1,
                           .gpu_memory_mib = L4_MIB,
                           .replicas = 1,
                           .container = "vllm"};
    x->in.engine = *e;
    x->true_base = 0.2;
    x->first_pool = 0.95 * fraction - x->true_base;
    x->kv_tokens = 0.3;
    x->waiting = none;
    x->preempt = none;
    x->first_down_t = -1;
}

/* What the engine holds: 95% of its allocation, flat, whatever the load
 * (its cap moves with the fraction); its KV share of the pool it has now. */
static void feed(engine_sim *x, double t)
{
    gf_error err;
    double held = 0.95 * x->in.fraction;
    double pool = held - x->true_base;
    double tokens = x->tokens ? x->tokens(t) : x->kv_tokens;
    double kv = fmin(1.0, tokens * x->first_pool / pool);
    bool short_now = tokens * x->first_pool > pool + 1e-9;
    x->short_min += short_now;
    assert_int_equal(gf_history_add_to(&x->h, x->s, GF_SIG_MEMORY, t, held * L4_BYTES, &err),
                     GF_OK);
    if (!x->no_kv) assert_int_equal(gf_history_add_to(&x->h, x->s, GF_SIG_KV, t, kv, &err), GF_OK);
    double waiting = x->wait_when_short && short_now ? fmax(5, x->waiting(t)) : x->waiting(t);
    assert_int_equal(gf_history_add_to(&x->h, x->s, GF_SIG_WAITING, t, waiting, &err), GF_OK);
    assert_int_equal(gf_history_add_to(&x->h, x->s, GF_SIG_PREEMPT, t, x->preempt(t), &err), GF_OK);
}

/* Feeds every minute over [t0, t1], asks every `every` seconds, applies
 * each change. */
static void erun(engine_sim *x, double t0, double t1, double every)
{
    gf_error err;
    double next = t0;
    for (double t = t0; t <= t1; t += MIN) {
        feed(x, t);
        if (t < next) continue;
        next = t + every;
        gf_recommendation *r = &x->last;
        if (gf_recommend_one(&x->rule, &x->in, x->s, t, r, &err))
            fail_msg("%s: %s", err.where, err.msg);
        if (r->action == GF_REC_UP) x->ups++;
        if (r->action == GF_REC_DOWN) {
            if (!x->downs) x->first_down_t = t, x->first_down_to = r->recommended;
            x->downs++;
        }
        if (r->action == GF_REC_UP || r->action == GF_REC_DOWN) {
            x->in.fraction = r->recommended;
            if (r->move_cap) x->in.engine.cap = r->new_cap;
            assert_int_equal(gf_hist_note_change(x->s, t, &err), GF_OK);
        }
    }
}

static void esim_free(engine_sim *x)
{
    gf_history_free(&x->h);
}

static void assert_has(const char *s, const char *needle)
{
    if (!strstr(s, needle)) fail_msg("'%s' lacks '%s'", s, needle);
}

/* The done-when of issue 14: a vLLM whose NVML memory is flat at 95% of its
 * allocation while KV use is 30% is not upsized, and is downsized after
 * the window, its cap moving with the fraction; then it stays. */
static void test_vllm_flat_nvml_low_kv(void **state)
{
    (void)state;
    engine_sim x;
    esim_init(&x, 0.5, &vllm_flag);
    erun(&x, T0, T0 + DAY - 10 * MIN, 5 * MIN);
    assert_int_equal(x.ups, 0);
    assert_int_equal(x.downs, 0);
    assert_int_equal(x.last.action, GF_REC_KEEP);
    assert_int_equal(x.last.decided_by, GF_RSIG_KV);
    assert_has(x.last.reason, "too little history");
    /* after a day of history: base 0.5 x 0.475 + 30% of the 0.2375 pool x 1.2
     * = 0.323 -> 0.35 */
    erun(&x, T0 + DAY - 5 * MIN, T0 + DAY + 30 * MIN, 5 * MIN);
    assert_int_equal(x.ups, 0);
    assert_int_equal(x.downs, 1);
    assert_true(x.first_down_t >= T0 + DAY && x.first_down_t <= T0 + DAY + 5 * MIN);
    assert_true(fabs(x.first_down_to - 0.35) < 1e-9);
    assert_true(fabs(x.in.engine.cap - 0.35) < 1e-9); /* the cap moved with it */
    /* three more days: the same tokens in the smaller pool fit; no flapping */
    erun(&x, T0 + DAY + 31 * MIN, T0 + 4 * DAY, 30 * MIN);
    assert_int_equal(x.ups, 0);
    assert_int_equal(x.downs, 1);
    assert_int_equal(x.last.action, GF_REC_KEEP);
    esim_free(&x);
}

/* The same NVML picture read by the generic rules is the ratchet the
 * engine rules exist to stop: 95% of the allocation passes the trigger. */
static void test_generic_rules_ratchet_on_the_same_data(void **state)
{
    (void)state;
    engine_sim x;
    gf_engine_info generic = {0};
    esim_init(&x, 0.5, &generic);
    x.rule.upsize_new_peak =
        false; /* the nearness trigger this shows (newPeak would not ratchet) */
    erun(&x, T0, T0 + 2 * HOUR, 5 * MIN);
    assert_true(x.ups >= 3);
    assert_true(x.in.fraction > 0.8);
    esim_free(&x);
    /* a vLLM under a policy with engine.rules false is read the same way */
    esim_init(&x, 0.5, &vllm_flag);
    x.rule.engine_rules = false;
    x.rule.upsize_new_peak = false;
    erun(&x, T0, T0 + 2 * HOUR, 5 * MIN);
    assert_true(x.ups >= 3);
    assert_false(x.last.move_cap);
    esim_free(&x);
}

/* A preallocating engine without KV metrics: NVML memory at the cap never
 * upsizes it by itself. */
static void test_prealloc_without_kv_is_not_upsized(void **state)
{
    (void)state;
    engine_sim x;
    esim_init(&x, 0.5, &vllm_flag);
    x.no_kv = true;
    erun(&x, T0, T0 + 2 * DAY, 10 * MIN);
    assert_int_equal(x.ups, 0);
    assert_int_equal(x.downs, 0);
    assert_int_equal(x.last.action, GF_REC_KEEP);
    assert_has(x.last.reason, "no KV-cache metrics seen");
    esim_free(&x);
}

static double busy_waiting(double t)
{
    return t >= T0 + 2 * HOUR ? 3 : 0;
}

static double busy_preempt(double t)
{
    return t >= T0 + 2 * HOUR ? 0.2 : 0;
}

static double queue_always(double t)
{
    (void)t;
    return 12;
}

/* Upsize needs both: KV near full AND requests waiting or preempted. */
static void test_upsize_needs_full_kv_and_starved_requests(void **state)
{
    (void)state;
    /* full, no one waiting: the cache is used well, nothing is short */
    engine_sim x;
    esim_init(&x, 0.5, &vllm_flag);
    x.kv_tokens = 0.97;
    erun(&x, T0, T0 + 4 * HOUR, 5 * MIN);
    assert_int_equal(x.ups, 0);
    esim_free(&x);
    /* a queue with room in the cache: load, not memory */
    esim_init(&x, 0.5, &vllm_flag);
    x.kv_tokens = 0.5;
    x.waiting = queue_always;
    erun(&x, T0, T0 + 4 * HOUR, 5 * MIN);
    assert_int_equal(x.ups, 0);
    esim_free(&x);
    /* full with requests waiting: what it holds x headroom x kvMargin,
     * 0.475 x 1.15 x 1.2 = 0.656 -> 0.7 (more than base 0.2375 + the pool
     * 0.2375 x 1.15 = 0.511) */
    esim_init(&x, 0.5, &vllm_flag);
    x.kv_tokens = 0.97;
    x.waiting = busy_waiting;
    erun(&x, T0, T0 + 2 * HOUR + 10 * MIN, 5 * MIN);
    assert_int_equal(x.ups, 1);
    assert_true(fabs(x.in.fraction - 0.7) < 1e-9);
    assert_true(fabs(x.in.engine.cap - 0.7) < 1e-9);
    esim_free(&x);
    /* full with preemptions */
    esim_init(&x, 0.5, &vllm_flag);
    x.kv_tokens = 0.97;
    x.preempt = busy_preempt;
    erun(&x, T0, T0 + 2 * HOUR + 10 * MIN, 5 * MIN);
    assert_int_equal(x.ups, 1);
    esim_free(&x);
    /* what it says */
    esim_init(&x, 0.5, &vllm_flag);
    x.kv_tokens = 0.97;
    x.preempt = busy_preempt;
    for (double t = T0; t <= T0 + 2 * HOUR + 10 * MIN; t += MIN)
        feed(&x, t);
    gf_recommendation r;
    gf_error err;
    assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, T0 + 2 * HOUR + 10 * MIN, &r, &err),
                     GF_OK);
    assert_int_equal(r.action, GF_REC_UP);
    assert_int_equal(r.decided_by, GF_RSIG_KV);
    assert_has(r.reason, "KV cache 97% full");
    assert_has(r.reason, "0.2 preempted/s");
    assert_has(r.reason, "--gpu-memory-utilization 0.5 -> 0.70 with it");
    esim_free(&x);
}

/* KV-short harm (bench/engines.sh): an engine downsized from 0.6 to 0.35
 * whose weights are 0.1 of the GPU (less than baseShare x the 0.57 it once
 * held) needs 0.35 of KV now, more than its pool (0.2325): full, requests
 * waiting. Headroom on the estimated pool alone (base 0.285 + 0.0475 x 1.15
 * = 0.34) rounds back to 0.35 and never ends the shortage; what it holds x
 * 1.15 x 1.2 = 0.459 -> 0.5 does in one upsize. */
static void test_starved_engine_recovers_in_one_upsize(void **state)
{
    (void)state;
    engine_sim x;
    esim_init(&x, 0.6, &vllm_flag);
    x.true_base = 0.1;
    x.first_pool = 0.95 * 0.6 - 0.1;
    x.kv_tokens = 0.35 / x.first_pool;
    x.wait_when_short = true;
    erun(&x, T0, T0 + 2 * HOUR, 5 * MIN);
    assert_int_equal(x.ups + x.downs, 0);
    assert_int_equal(x.short_min, 0);
    /* a downsize (made on a quieter day) */
    gf_error err;
    x.in.fraction = 0.35;
    x.in.engine.cap = 0.35;
    assert_int_equal(gf_hist_note_change(x.s, T0 + 2 * HOUR, &err), GF_OK);
    erun(&x, T0 + 2 * HOUR + MIN, T0 + 5 * HOUR, 5 * MIN);
    assert_int_equal(x.ups, 1);
    assert_true(fabs(x.in.fraction - 0.5) < 1e-9);
    assert_true(0.95 * x.in.fraction - x.true_base >= 0.35); /* the need fits */
    /* short from the downsize until the first ask that sees it (upsize.window 5m) */
    if (x.short_min > 10) fail_msg("short for %d min", x.short_min);
    esim_free(&x);
}

/* The KV peak that sizes a downsize is of the pool since the last change:
 * a window cut short by the change (the cooldown, 6h) misses the day's
 * peak. A vLLM at 0.5 whose weights are 0.3 of the GPU (more than baseShare
 * x 0.475), KV at 30% of its pool and 60% for one hour a day, is downsized
 * once on a full day (to 0.45) and then stays; on the 6 quiet hours after
 * that change it would go to 0.35, where not even its quiet load fits. */
static double busy_hour(double t)
{
    double h = fmod(t - T0, DAY) / HOUR;
    return h >= 20 && h < 21 ? 0.6 : 0.3;
}

static void test_downsize_waits_a_full_window_after_a_change(void **state)
{
    (void)state;
    engine_sim x;
    esim_init(&x, 0.5, &vllm_flag);
    x.true_base = 0.3;
    x.first_pool = 0.95 * 0.5 - 0.3;
    x.tokens = busy_hour;
    x.wait_when_short = true;
    erun(&x, T0, T0 + 4 * DAY, 10 * MIN);
    assert_int_equal(x.downs, 1);
    assert_true(fabs(x.first_down_to - 0.45) < 1e-9);
    assert_int_equal(x.short_min, 0);
    assert_int_equal(x.ups, 0);
    esim_free(&x);
}

static double one_burst(double t)
{
    return t >= T0 + DAY + 2 * HOUR && t < T0 + DAY + 2 * HOUR + MIN ? 2 : 0;
}

/* Requests that waited within the window hold a downsize back. */
static void test_waiting_in_window_blocks_downsize(void **state)
{
    (void)state;
    engine_sim x;
    esim_init(&x, 0.5, &vllm_flag);
    x.waiting = one_burst;
    erun(&x, T0, T0 + 2 * DAY, 10 * MIN);
    assert_int_equal(x.ups, 0);
    /* the first ask with a day of history is before the burst: it downsizes */
    assert_int_equal(x.downs, 1);
    esim_free(&x);
    esim_init(&x, 0.5, &vllm_flag);
    x.waiting = one_burst;
    x.rule.min_history_s = (int64_t)(DAY + 3 * HOUR);
    erun(&x, T0, T0 + DAY + 20 * HOUR, 10 * MIN);
    assert_int_equal(x.downs, 0);
    assert_int_equal(x.last.action, GF_REC_KEEP);
    assert_has(x.last.reason, "had requests waiting (2)");
    esim_free(&x);
}

/* engine.baseShare and the annotation's base: a larger base keeps more. */
static void test_base_share_and_annotation(void **state)
{
    (void)state;
    engine_sim x;
    esim_init(&x, 0.5, &vllm_flag);
    x.rule.engine_base_share = 0.8; /* 0.38 + 0.3 x 0.095 x 1.2 = 0.414 -> 0.45 */
    erun(&x, T0, T0 + DAY + 5 * MIN, 5 * MIN);
    assert_int_equal(x.downs, 1);
    assert_true(fabs(x.first_down_to - 0.45) < 1e-9);
    esim_free(&x);
    esim_init(&x, 0.5, &vllm_flag);
    x.in.engine_base_bytes = 0.1 * L4_BYTES; /* 0.1 + 0.3 x 0.375 x 1.2 = 0.235 -> 0.25 */
    erun(&x, T0, T0 + DAY + 5 * MIN, 5 * MIN);
    assert_int_equal(x.downs, 1);
    assert_true(fabs(x.first_down_to - 0.25) < 1e-9);
    esim_free(&x);
    /* an annotation that is not a quantity: said, and baseShare used (0.35) */
    esim_init(&x, 0.5, &vllm_flag);
    x.in.engine_base_bytes = -1;
    erun(&x, T0, T0 + DAY + 5 * MIN, 5 * MIN);
    assert_int_equal(x.downs, 1);
    assert_true(fabs(x.first_down_to - 0.35) < 1e-9);
    assert_has(x.last.reason,
               "annotation gpufrac.io/engine-base-memory is not a positive quantity");
    esim_free(&x);
}

static double spike_then_low(double t)
{
    return t < T0 + HOUR ? 18 * GIB : 4 * GIB;
}

/* A caching allocator keeps its high-water mark: its need is the all-time
 * max, after the 8-day rings have forgotten it too. */
static void test_caching_allocator_high_water(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        gf_history h;
        gf_error err;
        assert_int_equal(gf_history_init(&h, NULL, &err), GF_OK);
        gf_hist_series *s = gf_history_get(&h, "team/Deployment/ts", true);
        for (double t = T0; t <= T0 + 10 * DAY; t += 10 * MIN)
            assert_int_equal(gf_history_add_to(&h, s, GF_SIG_MEMORY, t, spike_then_low(t), &err),
                             GF_OK);
        gf_rightsize_rule rule;
        gf_rightsize_rule_defaults(&rule);
        gf_rec_input in = {.ns = "team",
                           .kind = "Deployment",
                           .name = "ts",
                           .unit = GF_SHARE_FRACTION,
                           .fraction = 0.9,
                           .devices = 1,
                           .gpu_memory_mib = L4_MIB,
                           .replicas = 1};
        if (k == 1) {
            in.engine.kind = GF_ENGINE_TORCHSERVE;
            in.engine.memory = GF_MEM_HIGH_WATER;
        }
        gf_recommendation r;
        assert_int_equal(gf_recommend_one(&rule, &in, s, T0 + 10 * DAY, &r, &err), GF_OK);
        if (k == 0) { /* generic: the spike is 10 days old, out of the rings */
            assert_int_equal(r.action, GF_REC_DOWN);
            assert_true(r.recommended < 0.9 - 0.2);
            assert_int_equal(r.decided_by, GF_RSIG_MEMORY);
        } else { /* 18 GiB x 1.1 = 0.880 of an L4 -> 0.9: kept */
            assert_int_equal(r.action, GF_REC_KEEP);
            assert_int_equal(r.decided_by, GF_RSIG_HIGH_WATER);
            assert_has(r.reason, "high-water memory 18.00 GiB");
            assert_true(fabs(r.peak_memory_bytes - 18 * GIB) < 1);
        }
        gf_history_free(&h);
    }
}

/* The cap moves with the fraction only when it is a literal the patch can
 * set and the policy lets it; an engine at its default is told to follow
 * $(GPU_PORTION). */
static void test_cap_moves_with_the_fraction(void **state)
{
    (void)state;
    const struct {
        gf_engine_info e;
        bool move_cap;
        bool policy_moves;
        const char *reason;
    } cases[] = {
        {vllm_flag, true, true, "--gpu-memory-utilization 0.5 -> 0.35 with it"},
        {vllm_flag, false, false, "--gpu-memory-utilization 0.5 stays (engine.moveCap is off)"},
        {{GF_ENGINE_TGI, GF_MEM_PREALLOCATES, GF_CAP_ENV, 0.5, "CUDA_MEMORY_FRACTION", false},
         true,
         true,
         "CUDA_MEMORY_FRACTION 0.5 -> 0.35 with it"},
        {{GF_ENGINE_VLLM, GF_MEM_PREALLOCATES, GF_CAP_DEFAULT, 0.9, "--gpu-memory-utilization",
          false},
         false,
         true,
         "set --gpu-memory-utilization=$(GPU_PORTION) so the engine's cap follows"},
        {{GF_ENGINE_VLLM, GF_MEM_PREALLOCATES, GF_CAP_GPU_PORTION, NAN, "--gpu-memory-utilization",
          false},
         false,
         true,
         "KV cache peak 30%"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        engine_sim x;
        esim_init(&x, 0.5, &cases[i].e);
        x.rule.engine_move_cap = cases[i].policy_moves;
        x.rule.mode = GF_MODE_AUTO;
        for (double t = T0; t <= T0 + DAY; t += MIN)
            feed(&x, t);
        gf_recommendation r;
        gf_error err;
        assert_int_equal(gf_recommend_one(&x.rule, &x.in, x.s, T0 + DAY, &r, &err), GF_OK);
        assert_int_equal(r.action, GF_REC_DOWN);
        assert_true(fabs(r.recommended - 0.35) < 1e-9);
        if (r.move_cap != cases[i].move_cap) fail_msg("case %zu: move_cap %d", i, r.move_cap);
        if (r.move_cap) assert_true(fabs(r.new_cap - 0.35) < 1e-9);
        /* the controller writes the cap with the annotation (io/kai_patch.h
         * gf_kai_resize_with_cap_merge): auto mode stays auto */
        assert_int_equal(r.mode, GF_MODE_AUTO);
        if (strstr(r.reason, "recommend only")) fail_msg("case %zu: %s", i, r.reason);
        assert_has(r.reason, cases[i].reason);
        esim_free(&x);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(gf_rec_signal_name(GF_RSIG_KV), "kv-cache");
    assert_string_equal(gf_rec_signal_name(GF_RSIG_HIGH_WATER), "high-water");
    assert_string_equal(gf_rec_signal_name((gf_rec_signal)99), "?");
    assert_string_equal(gf_rec_engine_class(&vllm_flag), "preallocating");
    gf_engine_info ts = {GF_ENGINE_TORCHSERVE, GF_MEM_HIGH_WATER, GF_CAP_NONE, NAN, NULL, false};
    assert_string_equal(gf_rec_engine_class(&ts), "caching-allocator");
    gf_engine_info g = {0};
    assert_string_equal(gf_rec_engine_class(&g), "generic");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vllm_flat_nvml_low_kv),
        cmocka_unit_test(test_starved_engine_recovers_in_one_upsize),
        cmocka_unit_test(test_downsize_waits_a_full_window_after_a_change),
        cmocka_unit_test(test_generic_rules_ratchet_on_the_same_data),
        cmocka_unit_test(test_prealloc_without_kv_is_not_upsized),
        cmocka_unit_test(test_upsize_needs_full_kv_and_starved_requests),
        cmocka_unit_test(test_waiting_in_window_blocks_downsize),
        cmocka_unit_test(test_base_share_and_annotation),
        cmocka_unit_test(test_caching_allocator_high_water),
        cmocka_unit_test(test_cap_moves_with_the_fraction),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
