/* test_sim.c - the simulator (sim/sim.c): conservation of pods through
 * resizes and moves, the oracle as a lower bound, each harm counter on a
 * cluster built for it, the fair-use hook, determinism, demand from usage
 * samples, bad options, and the HTML report (io/report_html.c). */
#include "testutil.h"
#include "sim/gen.h"
#include "sim/sim.h"
#include "io/report_html.h"
#include "kjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR 3600.0
#define DAY 86400.0

/* a fractional Deployment pod on node in GPU group */
#define FRAC(name, dep, node, group, frac)                                                         \
    KJ_RUNNING(                                                                                    \
        name, node,                                                                                \
        KJ_OWNER("ReplicaSet", dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group      \
                                                  "\",\"app\":\"" dep "\",\"pod-template-hash\":"  \
                                                  "\"5d4c3b2a19\"},\"annotations\":{"              \
                                                  "\"gpu-fraction\":\"" frac "\"}",                \
        "{\"requests\":{\"cpu\":\"1\"}}")
/* the same, not scheduled yet */
#define PFRAC(name, dep, frac)                                                                     \
    KJ_PENDING(name,                                                                               \
               KJ_OWNER("ReplicaSet", dep "-5d4c3b2a19") ",\"labels\":{\"app\":\"" dep             \
                                                         "\",\"pod-template-hash\":"               \
                                                         "\"5d4c3b2a19\"},\"annotations\":{"       \
                                                         "\"gpu-fraction\":\"" frac "\"}",         \
               "", "{\"requests\":{\"cpu\":\"1\"}}")
#define L4(name, gpus) KJ_NODE(name, "NVIDIA-L4", "20000", gpus, "16", "", "")

/* Demand of service svc at step: memory and SM as fractions of one GPU. */
typedef void (*demand_fn)(uint32_t svc, uint32_t step, double *mem, double *sm);

typedef struct fx {
    gf_model m;
    gf_sim *sim;
    gf_demand d;
    gf_sim_report rep;
    gf_error err;
} fx;

static fx *setup(const char *json, gf_sim_opts *o)
{
    fx *f = test_calloc(1, sizeof *f);
    gf_model_init(&f->m);
    gf_demand_init(&f->d);
    gf_diags d;
    gf_diags_init(&d);
    if (gf_test_load_text(&f->m, &d, &f->err, json))
        fail_msg("load: %s: %s", f->err.where, f->err.msg);
    gf_diags_free(&d);
    o->check = true;
    if (gf_sim_new(&f->m, o, &f->sim, &f->err)) fail_msg("sim: %s: %s", f->err.where, f->err.msg);
    return f;
}

static void run_table(fx *f, demand_fn fn)
{
    gf_demand_opts o;
    gf_sim_demand_opts(f->sim, 0, &o);
    const gf_sim_service *sv;
    size_t n = gf_sim_services(f->sim, &sv);
    assert_int_equal(gf_demand_table_begin(&f->d, &o, n, o.n_steps, &f->err), GF_OK);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < o.n_steps; k++) {
            double mem, sm;
            fn(i, k, &mem, &sm);
            gf_demand_table_add(&f->d, i, k, mem, sm);
        }
    gf_demand_table_end(&f->d, NULL);
    if (gf_sim_run(f->sim, &f->d, &f->rep, &f->err))
        fail_msg("run: %s: %s", f->err.where, f->err.msg);
}

static void teardown(fx *f)
{
    gf_sim_report_free(&f->rep);
    gf_sim_free(f->sim);
    gf_demand_free(&f->d);
    gf_model_free(&f->m);
    test_free(f);
}

static gf_sim_opts short_opts(double hours, uint32_t policies)
{
    gf_sim_opts o;
    gf_sim_opts_default(&o);
    o.duration_s = hours * HOUR;
    o.policies = policies;
    return o;
}

#define P(x) (1u << (x))

/* --- harm counters ------------------------------------------------------------------ */

/* memory at 0.3 of the GPU for an hour, then 0.7: above the 0.5 allocation */
static void spike(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    *mem = step < 60 ? 0.3 : 0.7;
    *sm = 0.1;
}

/* A memory spike over the allocation: static OOMs again and again, gpufrac
 * upsizes at the first OOM (one resize, one restart, no further OOM),
 * vpa-style has no fast upsize and keeps OOMing. */
static void test_memory_spike_is_an_oom(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(3, P(GF_SIM_STATIC) | P(GF_SIM_VPA) | P(GF_SIM_GPUFRAC));
    fx *f = setup(KJ_LIST(L4("n1", "1") "," FRAC("svc-5d4c3b2a19-aaaaa", "svc", "n1", "g1", "0.5")),
                  &o);
    const gf_sim_service *sv;
    assert_int_equal(gf_sim_services(f->sim, &sv), 1);
    assert_string_equal(sv[0].name, "svc");
    assert_true(fabs(sv[0].fraction - 0.5) < 1e-9 && sv[0].pods == 1 && sv[0].placeable);
    run_table(f, spike);
    const gf_sim_result *st = &f->rep.policy[GF_SIM_STATIC], *gp = &f->rep.policy[GF_SIM_GPUFRAC],
                        *vp = &f->rep.policy[GF_SIM_VPA];
    /* OOM at minute 60, back after the 2 min restart, OOM again, ... */
    assert_true(st->ooms >= 30);
    assert_true(st->unavailable_min >= 60);
    assert_int_equal(st->resizes, 0);
    assert_int_equal(gp->ooms, 1);
    assert_int_equal(gp->upsizes, 1);
    assert_int_equal(gp->restarts_resize, 1);
    assert_true(vp->ooms == st->ooms && vp->resizes == 0);
    /* gpufrac reserved more after the spike, static stayed */
    assert_true(gp->gpu_hours_reserved > st->gpu_hours_reserved);
    assert_true(fabs(st->gpu_hours_reserved - 0.5 * 3) < 1e-6);
    teardown(f);
}

/* The same spike in a KAI queue with no room: the service is a Deployment's
 * (KAI's class inference: non-preemptible) and its queue's quota is what it
 * holds, so gpufrac's upsize would leave the new pod Pending
 * (decide/quota.h): it is not applied, counted and listed, and the OOMs go
 * on as for static. */
static void test_quota_blocks_upsize(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(3, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC));
    fx *f = setup(
        KJ_LIST(L4("n1", "1") "," FRAC(
            "svc-5d4c3b2a19-aaaaa", "svc", "n1", "g1",
            "0.5") ","
                   "{\"apiVersion\":\"scheduling.run.ai/v2\",\"kind\":\"Queue\",\"metadata\":{"
                   "\"name\":\"default-queue\"},\"spec\":{\"resources\":{\"gpu\":{\"quota\":0.5,"
                   "\"limit\":-1}}}}"),
        &o);
    run_table(f, spike);
    const gf_sim_result *st = &f->rep.policy[GF_SIM_STATIC], *gp = &f->rep.policy[GF_SIM_GPUFRAC];
    assert_int_equal(gp->upsizes, 0);
    assert_true(gp->quota_blocked >= 1);
    assert_int_equal(gp->n_blocked, 1);
    const gf_sim_blocked *b = &gp->blocked[0];
    assert_string_equal(b->queue, "default-queue");
    assert_non_null(strstr(b->name, "svc"));
    assert_true(fabs(b->quota_gpus - 0.5) < 1e-9 && fabs(b->allocated_gpus - 0.5) < 1e-9);
    assert_true(b->to_fraction > b->from_fraction);
    /* one surge pod: the new pod's whole fraction on top */
    assert_true(fabs(b->delta_gpus - b->to_fraction) < 1e-9);
    assert_true(gp->ooms > 1 && gp->ooms == st->ooms);
    assert_int_equal(st->quota_blocked, 0);
    teardown(f);
}

/* 0.1 of the GPU for 30 hours, then 0.45: below the declared 0.5, above
 * anything a day of 0.1 lets gpufrac downsize to */
static void quiet_then_busy(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    *mem = step < 30 * 60 ? 0.1 : 0.45;
    *sm = 0.1;
}

/* downsize.holdOneWay in a queue over its quota (0.5 held of 0.4): gpufrac
 * downsizes the quiet service, then its demand rises and KAI admits no
 * upsize back: it OOMs on (static, at 0.5, never does). With the setting
 * the downsize is held (counted), and no OOM follows. */
static void test_quota_one_way_downsize(void **state)
{
    (void)state;
    const char *json = KJ_LIST(L4("n1", "1") "," FRAC(
        "svc-5d4c3b2a19-aaaaa", "svc", "n1", "g1",
        "0.5") ","
               "{\"apiVersion\":\"scheduling.run.ai/v2\",\"kind\":\"Queue\",\"metadata\":{"
               "\"name\":\"default-queue\"},\"spec\":{\"resources\":{\"gpu\":{\"quota\":0.4,"
               "\"limit\":-1}}}}");
    gf_sim_opts o = short_opts(40, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC));
    fx *f = setup(json, &o);
    run_table(f, quiet_then_busy);
    const gf_sim_result *st = &f->rep.policy[GF_SIM_STATIC], *gp = &f->rep.policy[GF_SIM_GPUFRAC];
    assert_int_equal(st->ooms, 0);
    assert_true(gp->downsizes >= 1);
    assert_true(gp->quota_blocked >= 1); /* the way back refused */
    assert_true(gp->ooms > 10);
    assert_int_equal(gp->quota_held_downsizes, 0);
    teardown(f);

    gf_policy p;
    gf_policy_init(&p);
    p.defaults.hold_one_way = true;
    o = short_opts(40, P(GF_SIM_GPUFRAC));
    o.policy = &p;
    f = setup(json, &o);
    run_table(f, quiet_then_busy);
    gp = &f->rep.policy[GF_SIM_GPUFRAC];
    assert_int_equal(gp->downsizes, 0);
    assert_true(gp->quota_held_downsizes >= 1);
    assert_int_equal(gp->ooms, 0);
    teardown(f);
    gf_policy_free(&p);
}

static void low(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    (void)step;
    *mem = 0.1;
    *sm = 0.05;
}

/* Steady low use: after a day of history gpufrac downsizes, recreating
 * both replicas (two restarts per resize); no harm. */
static void test_downsize_restarts_pods(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(36, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC) | P(GF_SIM_ORACLE));
    fx *f = setup(KJ_LIST(L4("n1", "1") "," L4("n2", "1") ","                        //
                          FRAC("svc-5d4c3b2a19-aaaaa", "svc", "n1", "g1", "0.5") "," //
                          FRAC("svc-5d4c3b2a19-bbbbb", "svc", "n2", "g2", "0.5")),
                  &o);
    run_table(f, low);
    const gf_sim_result *gp = &f->rep.policy[GF_SIM_GPUFRAC];
    assert_true(gp->downsizes >= 1 && gp->upsizes == 0);
    assert_int_equal(gp->restarts_resize, 2 * gp->resizes);
    assert_int_equal(gp->ooms, 0);
    assert_true(gp->gpu_hours_reserved < f->rep.policy[GF_SIM_STATIC].gpu_hours_reserved);
    assert_true(gp->resizes_per_workload_day > 0 && gp->rightsized_workloads == 1);
    /* consolidation: the two half-empty GPUs end on one node */
    assert_true(f->rep.policy[GF_SIM_STATIC].nodes_drained >= 1);
    assert_true(f->rep.policy[GF_SIM_STATIC].nodes_mean < 1.2);
    assert_true(f->rep.policy[GF_SIM_ORACLE].gpu_hours_reserved <= gp->gpu_hours_reserved);
    teardown(f);
}

/* --- engine classes (sim.h Engines) ------------------------------------------------------- */

/* A fractional Deployment pod whose container runs image with args (JSON
 * array body), extra annotations ann (",\"k\":\"v\"" or ""). */
#define EPOD(name, dep, node, group, frac, ann, image, args)                                       \
    KJ_RUNNING(                                                                                    \
        name, node,                                                                                \
        KJ_OWNER("ReplicaSet", dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group      \
                                                  "\",\"app\":\"" dep "\",\"pod-template-hash\":"  \
                                                  "\"5d4c3b2a19\"},\"annotations\":{"              \
                                                  "\"gpu-fraction\":\"" frac "\"" ann "}",         \
        "{\"requests\":{\"cpu\":\"1\"}},\"image\":\"" image "\",\"args\":[" args "]")
#define VLLM_ARGS "\"--model\",\"m\",\"--gpu-memory-utilization=$(GPU_PORTION)\""
#define NO_RESIZE ",\"gpufrac.io/rightsize\":\"false\""

/* A table of needs (not NVML readings): the engines apply. */
static void run_needs(fx *f, demand_fn fn)
{
    gf_demand_opts o;
    gf_sim_demand_opts(f->sim, 0, &o);
    const gf_sim_service *sv;
    size_t n = gf_sim_services(f->sim, &sv);
    assert_int_equal(gf_demand_table_begin(&f->d, &o, n, o.n_steps, &f->err), GF_OK);
    f->d.table_need = true;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < o.n_steps; k++) {
            double mem, sm;
            fn(i, k, &mem, &sm);
            gf_demand_table_add(&f->d, i, k, mem, sm);
        }
    gf_demand_table_end(&f->d, NULL);
    if (gf_sim_run(f->sim, &f->d, &f->rep, &f->err))
        fail_msg("run: %s: %s", f->err.where, f->err.msg);
}

/* The memory gpufrac's history saw for service key: the newest 30 min's
 * mean and the all-time max, bytes. */
static void seen(const gf_history *h, const char *key, double now, double *mean, double *max)
{
    const gf_hist_series *hs = gf_history_find(h, key);
    assert_non_null(hs);
    assert_int_equal(gf_hist_mean(hs, GF_SIG_MEMORY, now, 1800, mean, NULL), GF_OK);
    *max = hs->track[GF_SIG_MEMORY].max_value;
}

#define GPU_BYTES (20000.0 * 1048576.0) /* L4() nodes: 20000 MiB */
/* equal within the table's float precision */
#define NEAR(a, b) (fabs((a) - (b)) < 1e-6 * GPU_BYTES)

/* A vLLM on $(GPU_PORTION) of a 0.5 fraction needing 0.3, then 0.6 for two
 * hours: NVML shows its cap, flat, whatever the load; the need above the
 * cap is a KV cache too small (requests wait: one spell, 120 pod-minutes),
 * not an OOM kill. The same demand on a generic server OOMs. */
static void need_spike(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    *mem = step < 60 ? 0.3 : 0.6;
    *sm = 0.1;
}

static void test_engine_preallocating(void **state)
{
    (void)state;
    gf_history h;
    gf_history_init(&h, NULL, NULL);
    gf_sim_opts o = short_opts(3, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC));
    o.keep_history = &h;
    o.engines = true;
    fx *f = setup(KJ_LIST(L4("n1", "1") "," EPOD("llm-5d4c3b2a19-aaaaa", "llm", "n1", "g1", "0.5",
                                                 NO_RESIZE, "vllm/vllm-openai:v0.11.0", VLLM_ARGS)),
                  &o);
    const gf_sim_service *sv;
    assert_int_equal(gf_sim_services(f->sim, &sv), 1);
    assert_int_equal(sv[0].engine.kind, GF_ENGINE_VLLM);
    assert_int_equal(sv[0].engine.memory, GF_MEM_PREALLOCATES);
    assert_true(fabs(sv[0].cap_ratio - 1) < 1e-9);
    run_needs(f, need_spike);
    const gf_sim_result *st = &f->rep.policy[GF_SIM_STATIC];
    assert_int_equal(st->ooms, 0);
    assert_true(fabs(st->kv_starved_min - 120) < 1e-9);
    assert_int_equal(st->preemptions, 1);
    assert_int_equal(f->rep.engine_services[GF_MEM_PREALLOCATES], 1);
    double mean, max;
    seen(&h, "t/Deployment/llm", f->rep.start_t + 3 * HOUR - 60, &mean, &max);
    assert_true(NEAR(max, 0.5 * GPU_BYTES) && NEAR(mean, max));
    teardown(f);
    gf_history_free(&h);

    /* the same need, a generic server: OOM kills, no KV accounting */
    o = short_opts(3, P(GF_SIM_STATIC));
    o.engines = true;
    f = setup(KJ_LIST(L4("n1", "1") "," EPOD("web-5d4c3b2a19-aaaaa", "web", "n1", "g1", "0.5",
                                             NO_RESIZE, "registry.example.com/serve:1", "")),
              &o);
    run_needs(f, need_spike);
    st = &f->rep.policy[GF_SIM_STATIC];
    assert_true(st->ooms >= 30);
    assert_true(st->kv_starved_min == 0 && st->preemptions == 0);
    teardown(f);
}

/* A vLLM needing 0.15 of its 0.5 (KV use 30%) while NVML shows its cap,
 * flat at the allocation, for a day and a half: gpufrac never upsizes it on
 * NVML memory (the flat cap is no reason), downsizes it once the window
 * has passed, and no request waits. */
static void kv_low(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    (void)step;
    *mem = 0.15;
    *sm = 0.05;
}

static void test_engine_not_upsized_on_nvml(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(36, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC));
    o.engines = true;
    fx *f = setup(KJ_LIST(L4("n1", "1") "," EPOD("llm-5d4c3b2a19-aaaaa", "llm", "n1", "g1", "0.5",
                                                 "", "vllm/vllm-openai:v0.11.0", VLLM_ARGS)),
                  &o);
    run_needs(f, kv_low);
    const gf_sim_result *gp = &f->rep.policy[GF_SIM_GPUFRAC];
    assert_int_equal(gp->nvml_flat_upsizes, 0);
    assert_int_equal(gp->upsizes, 0);
    assert_true(gp->downsizes >= 1);
    assert_true(gp->ooms == 0 && gp->kv_starved_min == 0);
    assert_true(gp->gpu_hours_reserved < f->rep.policy[GF_SIM_STATIC].gpu_hours_reserved);
    teardown(f);
}

/* The same vLLM whose need passes its cap after an hour: its own metrics
 * (KV full, requests waiting) reach the history, and gpufrac upsizes it on
 * them within minutes; static leaves it short for two hours. The node has a
 * second GPU for the rollout's surge pod (the default 25% of one replica
 * rounds up to one): the old pod serves, short, until the new one runs. */
static void test_engine_upsized_on_kv(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(3, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC));
    o.engines = true;
    fx *f = setup(KJ_LIST(L4("n1", "2") "," EPOD("llm-5d4c3b2a19-aaaaa", "llm", "n1", "g1", "0.5",
                                                 "", "vllm/vllm-openai:v0.11.0", VLLM_ARGS)),
                  &o);
    run_needs(f, need_spike);
    const gf_sim_result *gp = &f->rep.policy[GF_SIM_GPUFRAC], *st = &f->rep.policy[GF_SIM_STATIC];
    assert_true(gp->upsizes >= 1 && gp->nvml_flat_upsizes == 0);
    assert_int_equal(gp->ooms, 0);
    /* within minutes: what was short before, and the restart delay in
     * which the old pod serves, short, beside its new one (a surge; all at
     * once, it served nothing then) */
    assert_true(gp->kv_starved_min <= 10 + o.restart_s / 60.0);
    assert_true(fabs(st->kv_starved_min - 120) < 1e-9);
    teardown(f);
}

/* A caching allocator (TorchServe) needing 0.4 for an hour, then 0.1: NVML
 * keeps the high-water mark while the pod lives; a generic server's falls. */
static void need_drop(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    *mem = step < 60 ? 0.4 : 0.1;
    *sm = 0.05;
}

static void test_engine_high_water(void **state)
{
    (void)state;
    gf_history h;
    gf_history_init(&h, NULL, NULL);
    gf_sim_opts o = short_opts(3, P(GF_SIM_GPUFRAC));
    o.keep_history = &h;
    o.engines = true;
    fx *f = setup(
        KJ_LIST(L4("n1", "1") "," EPOD(
            "pt-5d4c3b2a19-aaaaa", "pt", "n1", "g1", "0.5", NO_RESIZE,
            "pytorch/torchserve:0.12.0-gpu",
            "\"torchserve\",\"--start\"") "," EPOD("web-5d4c3b2a19-aaaaa", "web", "n1", "g1", "0.5",
                                                   NO_RESIZE, "registry.example.com/serve:1", "")),
        &o);
    const gf_sim_service *sv;
    assert_int_equal(gf_sim_services(f->sim, &sv), 2);
    assert_int_equal(sv[0].engine.memory, GF_MEM_HIGH_WATER);
    assert_int_equal(sv[1].engine.memory, GF_MEM_FOLLOWS_LOAD);
    run_needs(f, need_drop);
    assert_int_equal(f->rep.policy[GF_SIM_GPUFRAC].ooms, 0);
    double now = f->rep.start_t + 3 * HOUR - 60, mean, max;
    seen(&h, "t/Deployment/pt", now, &mean, &max);
    assert_true(NEAR(max, 0.4 * GPU_BYTES) && NEAR(mean, max));
    seen(&h, "t/Deployment/web", now, &mean, &max);
    assert_true(NEAR(max, 0.4 * GPU_BYTES) && NEAR(mean, 0.1 * GPU_BYTES));
    teardown(f);
    gf_history_free(&h);
}

/* --- achievable bounds ------------------------------------------------------------------ */

/* 0.2 of the GPU for three hours but for one minute at 0.43 */
static void one_peak(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    *mem = step == 100 ? 0.43 : 0.2;
    *sm = 0.05;
}

/* clairvoyant-static knows the true peak: 0.43 rounded up to the default
 * step (0.05) is 0.45, held from the start, never changed, no OOM; static
 * keeps its 0.5; gpufrac OOMs at the peak it could not know. */
static void test_clairvoyant_static(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(3, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC) |
                                      P(GF_SIM_CLAIRVOYANT_STATIC) | P(GF_SIM_CLAIRVOYANT_DAILY));
    fx *f = setup(KJ_LIST(L4("n1", "1") "," FRAC("svc-5d4c3b2a19-aaaaa", "svc", "n1", "g1", "0.5")),
                  &o);
    run_table(f, one_peak);
    const gf_sim_result *cv = &f->rep.policy[GF_SIM_CLAIRVOYANT_STATIC],
                        *cd = &f->rep.policy[GF_SIM_CLAIRVOYANT_DAILY];
    assert_true(cv->ran && cd->ran);
    assert_int_equal(cv->ooms, 0);
    assert_int_equal(cv->resizes, 0);
    assert_int_equal(cv->restarts_resize, 0);
    assert_true(fabs(cv->gpu_hours_reserved - 0.45 * 3) < 1e-6);
    assert_true(fabs(f->rep.policy[GF_SIM_STATIC].gpu_hours_reserved - 0.5 * 3) < 1e-6);
    /* shorter than a day: daily is static */
    assert_true(fabs(cd->gpu_hours_reserved - cv->gpu_hours_reserved) < 1e-9);
    assert_int_equal(cd->resizes, 0);
    assert_int_equal(cv->rightsized_workloads, 1);
    teardown(f);
}

/* each day 0.125 from 02:00 to 04:00 (the trough), else the day's level:
 * 0.5 on day 0, 0.25 on days 1 and 2 (values a float table holds exactly) */
static void daily_levels(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    uint32_t day = step / 1440, minute = step % 1440;
    *mem = minute >= 120 && minute < 240 ? 0.125 : day == 0 ? 0.5 : 0.25;
    *sm = 0.05;
}

/* clairvoyant-daily re-sizes at day 1's trough (02:00) to the peak until
 * day 2's trough (0.25): one downsize, no OOM; day 2's window needs the same
 * 0.25: no change. clairvoyant-static holds the run's peak, 0.5. */
static void test_clairvoyant_daily(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(72, P(GF_SIM_CLAIRVOYANT_STATIC) | P(GF_SIM_CLAIRVOYANT_DAILY));
    o.consolidate_every_s = 0;
    fx *f = setup(KJ_LIST(L4("n1", "1") "," FRAC("svc-5d4c3b2a19-aaaaa", "svc", "n1", "g1", "0.5")),
                  &o);
    run_table(f, daily_levels);
    const gf_sim_result *cv = &f->rep.policy[GF_SIM_CLAIRVOYANT_STATIC],
                        *cd = &f->rep.policy[GF_SIM_CLAIRVOYANT_DAILY];
    assert_true(fabs(cv->gpu_hours_reserved - 0.5 * 72) < 1e-6);
    assert_int_equal(cv->resizes, 0);
    assert_int_equal(cd->resizes, 1);
    assert_int_equal(cd->downsizes, 1);
    assert_int_equal(cd->restarts_resize, 1);
    assert_int_equal(cd->ooms, 0);
    /* the step of day 1's trough is still accounted at 0.5, then 0.25; the
     * old pod (0.5) serves beside its new one until that runs (a rolling
     * update's surge: 25% of one replica rounds up to one), one more step */
    double want = 0.5 * (26 * 60 + 1) / 60.0 + 0.25 * (46 * 60 - 1) / 60.0 + 0.5 / 60.0;
    if (fabs(cd->gpu_hours_reserved - want) > 1e-6)
        fail_msg("clairvoyant-daily reserved %.6f GPU-h, want %.6f", cd->gpu_hours_reserved, want);
    assert_true(cd->resizes_per_workload_day > 0.3 && cd->resizes_per_workload_day < 0.34);
    teardown(f);
}

/* --- rollouts ---------------------------------------------------------------------------- */

#define RS_OF(dep)                                                                                 \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"" dep            \
    "-5d4c3b2a19\",\"namespace\":\"t\",\"uid\":\"rs-" dep                                          \
    "\"" KJ_OWNER("Deployment", dep) "},\"spec\":{\"replicas\":4}}"
#define DEPLOY(dep, strategy)                                                                      \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"" dep            \
    "\",\"namespace\":\"t\",\"uid\":\"d-" dep "\"},\"spec\":{\"replicas\":4" strategy "}}"

/* Per service and step of clairvoyant-daily's run: pods serving (running,
 * or an old pod serving beside its new one) and pods that exist. */
typedef struct roll_seen {
    const gf_sim *sim;
    uint32_t first[2], done[2];           /* first step with a surge; first after it with none */
    uint32_t min_serving[2], max_pods[2]; /* from the first surge to done */
} roll_seen;

static void watch_rollout(void *ctx, const gf_sim_step_view *v)
{
    roll_seen *c = ctx;
    if (v->policy != GF_SIM_CLAIRVOYANT_DAILY) return;
    uint32_t serving[2] = {0, 0}, pods[2] = {0, 0}, old[2] = {0, 0}, running[2] = {0, 0};
    for (uint32_t i = 0; i < v->n_pods; i++) {
        uint32_t sv = v->service[i];
        if (sv > 1) continue;
        pods[sv] += 1 + v->old_serving[i];
        old[sv] += v->old_serving[i];
        running[sv] += v->state[i] == GF_SIM_POD_RUNNING;
        serving[sv] += v->old_serving[i] || v->state[i] == GF_SIM_POD_RUNNING;
    }
    for (int sv = 0; sv < 2; sv++) {
        if (c->first[sv] == UINT32_MAX && (old[sv] || running[sv] < 4)) c->first[sv] = v->step;
        if (c->first[sv] == UINT32_MAX || c->done[sv] != UINT32_MAX) continue;
        if (!old[sv] && running[sv] == 4) {
            c->done[sv] = v->step;
            continue;
        }
        if (serving[sv] < c->min_serving[sv]) c->min_serving[sv] = serving[sv];
        if (pods[sv] > c->max_pods[sv]) c->max_pods[sv] = pods[sv];
    }
}

/* A resize rolled out as the owner does it: clairvoyant-daily downsizes two
 * 4-replica Deployments at day 1's trough. "surge" (maxSurge 1,
 * maxUnavailable 0) never has fewer than 4 pods serving nor more than 5,
 * one replica per restart delay: done in 4 of them. "web" has no strategy
 * (Kubernetes' 25% / 25%: surge 1, unavailable 1): two replicas at a time,
 * done in 2, never fewer than 3 serving. The surge's capacity is counted. */
static void test_rollout_surge(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(30, P(GF_SIM_CLAIRVOYANT_DAILY));
    o.consolidate_every_s = 0;
    roll_seen c = {.first = {UINT32_MAX, UINT32_MAX},
                   .done = {UINT32_MAX, UINT32_MAX},
                   .min_serving = {99, 99}};
    o.observe = watch_rollout;
    o.observe_ctx = &c;
    fx *f = setup(
        KJ_LIST(KJ_NODE("n1", "NVIDIA-L4", "20000", "8", "64", "", "") "," DEPLOY(
            "surge",
            ",\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{"
            "\"maxSurge\":1,\"maxUnavailable\":0}}") "," RS_OF("surge") "," DEPLOY("web",
                                                                                   "") "," RS_OF("w"
                                                                                                 "e"
                                                                                                 "b") "," //
                FRAC("surge-5d4c3b2a19-a", "surge", "n1", "g1", "0.5") "," //
                FRAC("surge-5d4c3b2a19-b", "surge", "n1", "g2", "0.5") "," //
                FRAC("surge-5d4c3b2a19-c", "surge", "n1", "g3", "0.5") "," //
                FRAC("surge-5d4c3b2a19-d", "surge", "n1", "g4", "0.5") "," //
                FRAC("web-5d4c3b2a19-a", "web", "n1", "g5", "0.5") ","     //
                FRAC("web-5d4c3b2a19-b", "web", "n1", "g6", "0.5") ","     //
                FRAC("web-5d4c3b2a19-c", "web", "n1", "g7", "0.5") ","     //
                FRAC("web-5d4c3b2a19-d", "web", "n1", "g8", "0.5")),
        &o);
    c.sim = f->sim;
    const gf_sim_service *sv;
    assert_int_equal(gf_sim_services(f->sim, &sv), 2);
    assert_string_equal(sv[0].name, "surge");
    run_table(f, daily_levels);
    const gf_sim_result *cd = &f->rep.policy[GF_SIM_CLAIRVOYANT_DAILY];
    assert_int_equal(cd->resizes, 2);
    uint32_t restart = (uint32_t)(o.restart_s / o.step_s);
    /* resized at day 1's trough (02:00), both at once */
    assert_int_equal(c.first[0], 26 * 60);
    assert_int_equal(c.first[1], 26 * 60);
    if (c.done[0] != c.first[0] + 4 * restart)
        fail_msg("surge: done at step %u, want %u", c.done[0], c.first[0] + 4 * restart);
    assert_int_equal(c.min_serving[0], 4);
    assert_int_equal(c.max_pods[0], 5);
    if (c.done[1] != c.first[1] + 2 * restart)
        fail_msg("web: done at step %u, want %u", c.done[1], c.first[1] + 2 * restart);
    assert_int_equal(c.min_serving[1], 3);
    assert_int_equal(c.max_pods[1], 5);
    assert_int_equal(cd->restarts_resize, 8);
    /* the surge: an old pod beside its new one, one at a time: "surge"'s
     * first from the step after the resize (a resize comes after the step's
     * service) until its new pod runs, the next three from the step the one
     * before ran: restart - 1 + 3 x restart steps; "web" surges one pod in
     * each of its two waves: restart - 1 + restart */
    double surge_min = (2 * (restart - 1) + 4 * restart) * o.step_s / 60.0;
    if (fabs(cd->surge_min - surge_min) > 1e-9)
        fail_msg("surge pod-minutes %.3f, want %.3f", cd->surge_min, surge_min);
    assert_true(cd->pending_min == 0);
    teardown(f);
}

/* the first step at which gpufrac's pod holds less than its declared 0.5 */
static void first_downsize(void *ctx, const gf_sim_step_view *v)
{
    uint32_t *first = ctx;
    if (v->policy == GF_SIM_GPUFRAC && *first == UINT32_MAX && v->gpu_allocated[0] < 0.49)
        *first = v->step;
}

/* Cold start: steady low use for 36 h with a 30 h warm-up: gpufrac, which
 * downsizes after a day of history, changes nothing during the warm-up and
 * downsizes once it ends; figures count from there (6 h of the run). */
static void test_cold_start(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(36, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC));
    o.cold_start_s = 30 * HOUR;
    o.consolidate_every_s = 0;
    uint32_t first = UINT32_MAX;
    o.observe = first_downsize;
    o.observe_ctx = &first;
    fx *f = setup(KJ_LIST(L4("n1", "1") "," FRAC("svc-5d4c3b2a19-aaaaa", "svc", "n1", "g1", "0.5")),
                  &o);
    run_table(f, low);
    const gf_sim_result *gp = &f->rep.policy[GF_SIM_GPUFRAC], *st = &f->rep.policy[GF_SIM_STATIC];
    assert_true(fabs(st->gpu_hours_reserved - 0.5 * 6) < 1e-6); /* the last 6 h only */
    assert_true(gp->downsizes >= 1);
    assert_true(gp->gpu_hours_reserved < st->gpu_hours_reserved);
    /* the first downsize came after the warm-up: during it, gpufrac held 0.5 */
    if (first < 30 * 60 || first == UINT32_MAX) fail_msg("first downsize at step %u", first);
    teardown(f);
    /* a cold start as long as the run is refused */
    gf_sim_opts bad = short_opts(36, P(GF_SIM_STATIC));
    bad.cold_start_s = 36 * HOUR;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err;
    assert_int_equal(gf_test_load_text(&m, &d, &err,
                                       KJ_LIST(L4("n1", "1") "," FRAC("svc-5d4c3b2a19-aaaaa", "svc",
                                                                      "n1", "g1", "0.5"))),
                     GF_OK);
    gf_sim *s = NULL;
    assert_int_equal(gf_sim_new(&m, &bad, &s, &err), GF_EUSAGE);
    assert_string_equal(err.where, "--warmup");
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* A running pod of Deployment dep holding one whole GPU, scheduled by KAI. */
#define WHOLE(name, dep, node)                                                                     \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\"" KJ_OWNER(          \
        "ReplicaSet", dep                                                                          \
        "-5d4c3b2a19") ",\"labels\":{\"app\":\"" dep "\",\"pod-template-hash\":\"5d4c3b2a19\"}},"  \
                       "\"spec\":{\"nodeName\":\"" node                                            \
                       "\",\"schedulerName\":\"kai-scheduler\",\"containers\":[{"                  \
                       "\"name\":\"c\",\"resources\":{\"limits\":{"                                \
                       "\"nvidia.com/gpu\":\"1\"},\"requests\":{\"cpu\":\"1\","                    \
                       "\"nvidia.com/gpu\":\"1\"}}}]},\"status\":{\"phase\":"                      \
                       "\"Running\"}}"

/* Whole-GPU pods at low use have demand; after minHistory gpufrac converts
 * the workload (one resize of both replicas), reserving less than static,
 * which keeps the whole GPUs; with convert.fromWholeGpu off it stays whole. */
static void test_whole_gpu_converted(void **state)
{
    (void)state;
    const char *json = KJ_LIST(L4("n1", "1") "," L4("n2", "1") ","            //
                               WHOLE("asr-5d4c3b2a19-aaaaa", "asr", "n1") "," //
                               WHOLE("asr-5d4c3b2a19-bbbbb", "asr", "n2"));
    gf_sim_opts o = short_opts(36, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC));
    fx *f = setup(json, &o);
    const gf_sim_service *sv;
    assert_int_equal(gf_sim_services(f->sim, &sv), 1);
    assert_string_equal(sv[0].name, "asr");
    assert_int_equal(sv[0].whole, 1);
    assert_int_equal(sv[0].pods, 2);
    assert_true(sv[0].fraction == 1.0);
    run_table(f, low);
    const gf_sim_result *st = &f->rep.policy[GF_SIM_STATIC], *gp = &f->rep.policy[GF_SIM_GPUFRAC];
    assert_int_equal(f->rep.whole_services, 1);
    assert_int_equal(st->conversions, 0);
    assert_true(fabs(st->gpu_hours_reserved - 2 * 36) < 1e-6); /* two whole GPUs throughout */
    assert_int_equal(gp->conversions, 1);
    assert_true(gp->resizes >= 1 && gp->restarts_resize >= 2);
    assert_int_equal(gp->ooms, 0);
    assert_true(gp->gpu_hours_reserved < st->gpu_hours_reserved - 10);
    teardown(f);

    gf_policy p;
    gf_policy_init(&p);
    p.defaults.convert_from_whole = GF_MODE_OFF;
    o = short_opts(36, P(GF_SIM_GPUFRAC));
    o.policy = &p;
    f = setup(json, &o);
    run_table(f, low);
    gp = &f->rep.policy[GF_SIM_GPUFRAC];
    assert_int_equal(gp->conversions, 0);
    assert_true(fabs(gp->gpu_hours_reserved - 2 * 36) < 1e-6);
    teardown(f);
    gf_policy_free(&p);
}

/* memory at 0.97 of the GPU: more than maxFraction (0.95) */
static void nearly_full(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)svc;
    (void)step;
    *mem = 0.97;
    *sm = 0.1;
}

/* A need above maxFraction: gpufrac moves the service to a whole GPU once
 * (KAI refuses gpu-fraction 1) and leaves it there; no upsize every
 * interval, no OOM after the first. */
static void test_whole_gpu_once(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(6, P(GF_SIM_GPUFRAC));
    o.consolidate_every_s = 0;
    fx *f = setup(KJ_LIST(L4("n1", "1") "," L4("n2", "1") "," FRAC("svc-5d4c3b2a19-aaaaa", "svc",
                                                                   "n1", "g1", "0.9")),
                  &o);
    run_table(f, nearly_full);
    const gf_sim_result *gp = &f->rep.policy[GF_SIM_GPUFRAC];
    if (gp->resizes != 1) fail_msg("%llu resizes, want 1", (unsigned long long)gp->resizes);
    assert_int_equal(gp->upsizes, 1);
    assert_int_equal(gp->ooms, 1);
    /* a whole GPU from then on: about 6 GPU-hours */
    assert_true(gp->gpu_hours_reserved > 5.8 && gp->gpu_hours_reserved <= 6.0 + 1e-9);
    teardown(f);
}

/* A pod that fits nowhere stays pending every minute; with a spare node it
 * is placed on one brought into service. */
static void test_pending_and_scale_up(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4("n1", "1") "," FRAC("a-5d4c3b2a19-aaaaa", "a", "n1", "g1",
                                       "0.75") "," PFRAC("b-5d4c3b2a19-bbbbb", "b", "0.75"));
    gf_sim_opts o = short_opts(2, P(GF_SIM_STATIC));
    o.spare_nodes = 0;
    fx *f = setup(json, &o);
    run_table(f, low);
    const gf_sim_result *st = &f->rep.policy[GF_SIM_STATIC];
    assert_true(fabs(st->pending_min - 120) < 1e-6);
    assert_true(st->nodes_peak == 1);
    teardown(f);

    o = short_opts(2, P(GF_SIM_STATIC) | P(GF_SIM_ONE_GPU));
    f = setup(json, &o);
    run_table(f, low);
    st = &f->rep.policy[GF_SIM_STATIC];
    assert_true(st->pending_min == 0);
    assert_true(st->nodes_peak == 2 && st->gpus_peak == 2);
    /* one GPU per container needs the spare too */
    assert_true(f->rep.policy[GF_SIM_ONE_GPU].gpus_peak == 2);
    assert_true(f->rep.policy[GF_SIM_ONE_GPU].gpu_hours_reserved > st->gpu_hours_reserved);
    teardown(f);
}

/* service 0 (a) at 0.3 of the GPU for an hour, then 0.6: over its 0.5;
 * service 1 (b) at 0.2 */
static void outgrow(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    *mem = svc == 1 ? 0.2 : step < 60 ? 0.3 : 0.6;
    *sm = 0.1;
}

/* A resize that stalls: a's upsize (at its first OOM) cannot be placed
 * next to b on the only GPU (no spare node): stallTimeout (10 min) later
 * the controller's rule reverts it to 0.5 (placed again) and resizes it no
 * more; onStall hold leaves it pending. */
static void test_resize_stalls(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4("n1", "1") "," FRAC("a-5d4c3b2a19-aaaaa", "a", "n1", "g1", "0.5") "," FRAC(
            "b-5d4c3b2a19-bbbbb", "b", "n1", "g1", "0.5"));
    for (int hold = 0; hold < 2; hold++) {
        gf_policy p;
        gf_policy_init(&p);
        p.defaults.mode = GF_MODE_AUTO;
        if (hold) p.defaults.on_stall = GF_STALL_HOLD;
        gf_sim_opts o = short_opts(3, P(GF_SIM_GPUFRAC));
        o.spare_nodes = 0;
        o.consolidate_every_s = 0;
        o.policy = &p;
        fx *f = setup(json, &o);
        run_table(f, outgrow);
        const gf_sim_result *g = &f->rep.policy[GF_SIM_GPUFRAC];
        assert_int_equal(g->stalls, 1);
        const gf_sim_stall *st = &g->stall_list[0];
        assert_int_equal(st->service, 0);
        assert_true(fabs(st->from - 0.5) < 1e-9);
        assert_true(st->to > 0.5);
        assert_true(st->t >= f->rep.start_t + HOUR + 600);
        if (!hold) {
            assert_true(st->reverted);
            assert_int_equal(g->resizes, 2);  /* the upsize and its revert, nothing more */
            assert_true(g->pending_min < 15); /* 10 min pending, then placed again */
            assert_true(g->ooms > 1);         /* back at 0.5 under 0.6 of demand */
            /* the report lists it */
            gf_report_meta meta = {"c", "builtin", "p.yaml", 0, "gpufrac test"};
            gf_sbuf b = GF_SBUF_INIT;
            gf_report_html(&b, &f->rep, &meta);
            assert_non_null(strstr(gf_sbuf_str(&b), "Resizes that stalled: 1</h2>"));
            assert_non_null(strstr(gf_sbuf_str(&b), "<td>t/a</td><td>0.50 &rarr; "));
            gf_sbuf_free(&b);
        } else {
            assert_false(st->reverted);
            assert_int_equal(g->resizes, 1);
            assert_true(g->pending_min > 100); /* left pending to the end */
        }
        teardown(f);
        gf_policy_free(&p);
    }
}

/* compute: service 0 at `a`, service 1 at `b` of the GPU's SMs */
static double sm_a, sm_b;
static void compute(uint32_t svc, uint32_t step, double *mem, double *sm)
{
    (void)step;
    *mem = 0.2;
    *sm = svc == 0 ? sm_a : sm_b;
}

/* Both above their 0.5 on a contended GPU: throttled. One within its
 * fraction: slowed by its neighbour. */
static void test_throttling_and_neighbours(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4("n1", "1") "," FRAC("a-5d4c3b2a19-aaaaa", "a", "n1", "g1", "0.5") "," FRAC(
            "b-5d4c3b2a19-bbbbb", "b", "n1", "g1", "0.5"));
    gf_sim_opts o = short_opts(1, P(GF_SIM_STATIC));
    sm_a = 0.8;
    sm_b = 0.8;
    fx *f = setup(json, &o);
    run_table(f, compute);
    assert_true(fabs(f->rep.policy[GF_SIM_STATIC].throttled_min - 120) < 1e-6);
    assert_true(f->rep.policy[GF_SIM_STATIC].neighbour_min == 0);
    teardown(f);

    sm_a = 0.3;
    sm_b = 0.9;
    f = setup(json, &o);
    run_table(f, compute);
    assert_true(fabs(f->rep.policy[GF_SIM_STATIC].throttled_min - 60) < 1e-6);
    assert_true(fabs(f->rep.policy[GF_SIM_STATIC].neighbour_min - 60) < 1e-6);
    /* served: 0.3/1.2 + 0.9/1.2 of an hour */
    assert_true(fabs(f->rep.policy[GF_SIM_STATIC].gpu_hours_used - (0.25 + 0.75)) < 1e-6);
    teardown(f);
}

typedef struct hook_seen {
    uint32_t calls, max_pods;
} hook_seen;

/* fair use: pods above their fraction get only their fraction */
static void cap_at_fraction(void *ctx, gf_sim_gpu_share *g)
{
    hook_seen *seen = ctx;
    seen->calls++;
    if (g->n > seen->max_pods) seen->max_pods = g->n;
    double left = 1;
    for (uint32_t k = 0; k < g->n; k++)
        if (g->sm_demand[k] <= g->alloc[k]) {
            g->sm_served[k] = g->sm_demand[k];
            left -= g->sm_demand[k];
        }
    for (uint32_t k = 0; k < g->n; k++)
        if (g->sm_demand[k] > g->alloc[k]) g->sm_served[k] = fmin(g->alloc[k], left);
}

static void test_fairuse_hook(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4("n1", "1") "," FRAC("a-5d4c3b2a19-aaaaa", "a", "n1", "g1", "0.5") "," FRAC(
            "b-5d4c3b2a19-bbbbb", "b", "n1", "g1", "0.5"));
    gf_sim_opts o = short_opts(1, P(GF_SIM_STATIC));
    hook_seen seen = {0, 0};
    o.fairuse = cap_at_fraction;
    o.fairuse_ctx = &seen;
    sm_a = 0.3;
    sm_b = 0.9;
    fx *f = setup(json, &o);
    run_table(f, compute);
    assert_int_equal(seen.calls, 60);
    assert_int_equal(seen.max_pods, 2);
    assert_true(f->rep.policy[GF_SIM_STATIC].neighbour_min == 0);
    assert_true(fabs(f->rep.policy[GF_SIM_STATIC].throttled_min - 60) < 1e-6);
    teardown(f);
}

/* --- a generated cluster --------------------------------------------------------------- */

typedef struct counts {
    const gf_sim *sim;
    uint32_t steps, bad;
    char first_bad[200];
} counts;

/* Every step: each service has all its pods, once; every placed pod sits on
 * a node in service, on GPUs of that node, and the packer's allocation per
 * GPU is the sum of the placements. */
static void count_pods(void *ctx, const gf_sim_step_view *v)
{
    counts *c = ctx;
    c->steps++;
    const gf_sim_service *sv;
    size_t ns = gf_sim_services(c->sim, &sv);
    const gf_model *w = gf_sim_model(c->sim);
    uint32_t *per = calloc(ns + 1, sizeof *per);
    double *sum = calloc(w->gpus.n + 1, sizeof *sum);
    bool *seen = calloc(w->pods.n + 1, sizeof *seen);
    for (uint32_t i = 0; i < v->n_pods; i++) {
        if (seen[v->pod[i]]) c->bad++;
        seen[v->pod[i]] = true;
        if (v->service[i] != GF_NONE) per[v->service[i]]++;
        if (v->old_serving[i]) { /* a rollout's old pod, beside its new one */
            const gf_placement *op = &v->old_placement[i];
            if (!v->node_in_service[op->node]) c->bad++;
            for (uint32_t k = 0; k < op->n_gpus; k++)
                sum[op->gpus[k]] += op->share;
        }
        if (v->state[i] == GF_SIM_POD_PENDING) continue;
        const gf_placement *pl = &v->placement[i];
        if (!v->node_in_service[pl->node]) {
            c->bad++;
            snprintf(c->first_bad, sizeof c->first_bad, "%s step %u: pod on a node out of service",
                     gf_sim_policy_name(v->policy), v->step);
        }
        for (uint32_t k = 0; k < pl->n_gpus; k++) {
            if (w->gpus.v[pl->gpus[k]].node != pl->node) c->bad++;
            sum[pl->gpus[k]] += pl->share;
        }
    }
    for (size_t s = 0; s < ns; s++)
        if (per[s] != sv[s].pods) {
            c->bad++;
            snprintf(c->first_bad, sizeof c->first_bad, "%s step %u: service %zu has %u of %u pods",
                     gf_sim_policy_name(v->policy), v->step, s, per[s], sv[s].pods);
        }
    for (size_t g = 0; g < w->gpus.n; g++)
        if (fabs(sum[g] - v->gpu_allocated[g]) > 1e-6) c->bad++;
    free(per);
    free(sum);
    free(seen);
}

static void gen(gf_model *m, uint32_t nodes, uint64_t seed)
{
    gf_gen_opts go;
    gf_gen_opts_default(&go);
    go.nodes = nodes;
    go.seed = seed;
    gf_model_init(m);
    gf_error err;
    if (gf_gen_cluster(m, &go, NULL, &err)) fail_msg("gen: %s", err.msg);
}

static gf_err run_builtin(const gf_model *m, gf_sim_opts *o, uint64_t seed, gf_sim_report *rep,
                          gf_sim **keep)
{
    gf_sim *s;
    gf_error err;
    if (gf_sim_new(m, o, &s, &err)) fail_msg("sim: %s: %s", err.where, err.msg);
    gf_demand d;
    gf_demand_init(&d);
    gf_demand_opts dopt;
    gf_sim_demand_opts(s, seed, &dopt);
    const gf_sim_service *sv;
    size_t n = gf_sim_services(s, &sv);
    assert_int_equal(gf_demand_builtin(&d, &dopt, gf_sim_scales(s), n, &err), GF_OK);
    gf_err rc = gf_sim_run(s, &d, rep, &err);
    if (rc) fail_msg("run: %s: %s", err.where, err.msg);
    gf_demand_free(&d);
    if (keep)
        *keep = s;
    else
        gf_sim_free(s);
    return rc;
}

/* No pod lost or duplicated across resizes, moves, OOM restarts and scale-
 * ups, under every placing policy, checked every step. */
static void test_conservation(void **state)
{
    (void)state;
    gf_model m;
    gen(&m, 16, 4);
    gf_sim_opts o = short_opts(28, GF_SIM_ALL_POLICIES & ~P(GF_SIM_ORACLE));
    o.step_s = 120;
    o.check = true;
    counts c = {0};
    o.observe = count_pods;
    o.observe_ctx = &c;
    gf_sim *s;
    gf_error err;
    assert_int_equal(gf_sim_new(&m, &o, &s, &err), GF_OK);
    c.sim = s;
    gf_demand d;
    gf_demand_init(&d);
    gf_demand_opts dopt;
    gf_sim_demand_opts(s, 4, &dopt);
    const gf_sim_service *sv;
    size_t n = gf_sim_services(s, &sv);
    assert_true(n > 3);
    assert_int_equal(gf_demand_builtin(&d, &dopt, gf_sim_scales(s), n, &err), GF_OK);
    gf_sim_report rep;
    gf_err rc = gf_sim_run(s, &d, &rep, &err);
    if (rc) fail_msg("%s: %s", err.where, err.msg);
    if (c.bad) fail_msg("%u violations; first: %s", c.bad, c.first_bad);
    assert_int_equal(c.steps, (GF_SIM_NPOLICIES - 1) * 28 * 30); /* all but the oracle */
    /* the run did what conservation must survive */
    const gf_sim_result *g = &rep.policy[GF_SIM_GPUFRAC];
    assert_true(g->resizes > 0 && g->moves > 0);
    assert_true(rep.policy[GF_SIM_STATIC].moves > 0);
    gf_sim_report_free(&rep);
    gf_demand_free(&d);
    gf_sim_free(s);
    gf_model_free(&m);
}

/* The oracle reserves no more than any policy, and needs no more GPUs. */
static void test_oracle_is_a_lower_bound(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        gf_model m;
        gen(&m, 16, seed);
        gf_sim_opts o = short_opts(28, GF_SIM_ALL_POLICIES);
        o.step_s = 120;
        gf_sim_report rep;
        run_builtin(&m, &o, seed, &rep, NULL);
        const gf_sim_result * or = &rep.policy[GF_SIM_ORACLE];
        assert_true(or->ran && or->gpu_hours_reserved > 0);
        for (int p = 0; p < GF_SIM_ORACLE; p++) {
            const gf_sim_result *x = &rep.policy[p];
            assert_true(x->ran);
            if (or->gpu_hours_reserved > x->gpu_hours_reserved)
                fail_msg("seed %llu: oracle %.1f > %s %.1f", (unsigned long long)seed,
                         or->gpu_hours_reserved, gf_sim_policy_name((gf_sim_policy)p),
                         x->gpu_hours_reserved);
            assert_true(or->gpus_mean <= x->gpus_mean);
        }
        /* and the expected order of the rest */
        assert_true(rep.policy[GF_SIM_ONE_GPU].gpu_hours_reserved >
                    rep.policy[GF_SIM_STATIC].gpu_hours_reserved);
        assert_int_equal(rep.policy[GF_SIM_ORACLE].ooms, 0);
        gf_sim_report_free(&rep);
        gf_model_free(&m);
    }
}

static bool same_result(const gf_sim_result *a, const gf_sim_result *b)
{
    return a->gpu_hours_reserved == b->gpu_hours_reserved &&
           a->gpu_hours_provisioned == b->gpu_hours_provisioned && a->ooms == b->ooms &&
           a->throttled_min == b->throttled_min && a->pending_min == b->pending_min &&
           a->resizes == b->resizes && a->moves == b->moves && a->gpus_mean == b->gpus_mean;
}

static void test_deterministic(void **state)
{
    (void)state;
    gf_model m;
    gen(&m, 10, 9);
    gf_sim_opts o = short_opts(26, GF_SIM_ALL_POLICIES);
    o.step_s = 300;
    gf_sim_report a, b, c;
    run_builtin(&m, &o, 9, &a, NULL);
    run_builtin(&m, &o, 9, &b, NULL);
    run_builtin(&m, &o, 10, &c, NULL);
    bool any_differs = false;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        assert_true(same_result(&a.policy[p], &b.policy[p]));
        any_differs |= !same_result(&a.policy[p], &c.policy[p]);
    }
    assert_true(any_differs);
    assert_int_equal(a.n_points, b.n_points);
    assert_memory_equal(a.use, b.use, a.n_points * sizeof(float));
    assert_memory_equal(a.heat, b.heat, (size_t)a.heat_rows * a.heat_cols);
    gf_sim_report_free(&a);
    gf_sim_report_free(&b);
    gf_sim_report_free(&c);
    gf_model_free(&m);
}

/* --- usage samples, bad input, report ------------------------------------------------------ */

static void test_demand_from_usage(void **state)
{
    (void)state;
    gf_sim_opts o = short_opts(2, P(GF_SIM_STATIC) | P(GF_SIM_GPUFRAC));
    fx *f = setup(KJ_LIST(L4("n1", "1") ","                                          //
                          FRAC("svc-5d4c3b2a19-aaaaa", "svc", "n1", "g1", "0.5") "," //
                          FRAC("other-5d4c3b2a19-bbbbb", "other", "n1", "g1", "0.25")),
                  &o);
    double t0 = 1795507230; /* not on a step: the table starts at the minute */
    gf_usage_sample v[] = {
        {t0, "t", "svc-5d4c3b2a19-aaaaa", "c", "", 10000.0 * 1048576 * 0.5, 0.2},      /* by name */
        {t0 + 60, "t", "svc-5d4c3b2a19-gone1", "c", "", 10000.0 * 1048576 * 0.9, 0.4}, /* prefix */
        {t0 + 120, "t", "nobody-1", "c", "", 1e9, 0.1},             /* no match */
        {t0 + 120, "x", "svc-5d4c3b2a19-aaaaa", "c", "", 1e9, 0.1}, /* other namespace */
    };
    size_t unmatched = 0, empty = 0;
    assert_int_equal(gf_sim_demand_from_usage(f->sim, v, 4, &f->d, &unmatched, &empty, &f->err),
                     GF_OK);
    assert_int_equal(unmatched, 2);
    assert_int_equal(empty, 1); /* "other" has no samples */
    assert_int_equal(f->d.table_steps, 2);
    double mem, sm;
    gf_demand_at(&f->d, 0, 0, 0, &mem, &sm);
    assert_true(fabs(mem - 0.25) < 1e-6 && fabs(sm - 0.2) < 1e-6); /* 20000 MiB GPUs */
    gf_demand_at(&f->d, 0, 0, 1, &mem, &sm);
    assert_true(fabs(mem - 0.45) < 1e-6);
    assert_int_equal(gf_sim_run(f->sim, &f->d, &f->rep, &f->err), GF_OK);
    assert_true(f->rep.start_t == floor(t0 / 60) * 60);
    /* nothing matches: an error naming the sample count */
    gf_demand d2;
    gf_demand_init(&d2);
    assert_int_equal(gf_sim_demand_from_usage(f->sim, v + 2, 2, &d2, NULL, NULL, &f->err),
                     GF_EINPUT);
    assert_non_null(strstr(f->err.msg, "none of the 2 samples"));
    gf_demand_free(&d2);
    teardown(f);
}

static void test_bad_options_and_input(void **state)
{
    (void)state;
    gf_model m;
    gen(&m, 6, 1);
    gf_sim *s = NULL;
    gf_error err;
    gf_sim_opts o;
    gf_sim_opts_default(&o);
    o.step_s = 0;
    assert_int_equal(gf_sim_new(&m, &o, &s, &err), GF_EUSAGE);
    assert_string_equal(err.where, "--step");
    gf_sim_opts_default(&o);
    o.duration_s = 400 * DAY;
    assert_int_equal(gf_sim_new(&m, &o, &s, &err), GF_EUSAGE);
    gf_sim_opts_default(&o);
    o.policies = 0;
    assert_int_equal(gf_sim_new(&m, &o, &s, &err), GF_EUSAGE);
    assert_null(s);
    /* demand that does not match */
    gf_sim_opts_default(&o);
    o.duration_s = HOUR;
    assert_int_equal(gf_sim_new(&m, &o, &s, &err), GF_OK);
    gf_demand d;
    gf_demand_init(&d);
    gf_demand_opts dopt;
    gf_sim_demand_opts(s, 1, &dopt);
    double one = 0.5;
    assert_int_equal(gf_demand_builtin(&d, &dopt, &one, 1, &err), GF_OK);
    gf_sim_report rep;
    assert_int_equal(gf_sim_run(s, &d, &rep, &err), GF_EUSAGE);
    assert_non_null(strstr(err.msg, "demand series"));
    gf_sim_report_free(&rep);
    gf_demand_free(&d);
    gf_sim_free(s);
    gf_sim_free(NULL);
    gf_sim_report_free(NULL);
    gf_model_free(&m);
    /* a cluster without GPUs, or without shares */
    gf_model_init(&m);
    gf_diags dg;
    gf_diags_init(&dg);
    assert_int_equal(gf_test_load_text(&m, &dg, &err,
                                       KJ_LIST(L4("n1", "1") "," KJ_RUNNING("p", "n1", "", "{}"))),
                     GF_OK);
    gf_sim_opts_default(&o);
    assert_int_equal(gf_sim_new(&m, &o, &s, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "no pods with a KAI GPU share"));
    gf_diags_free(&dg);
    gf_model_free(&m);
}

static void test_report_html(void **state)
{
    (void)state;
    gf_model m;
    gen(&m, 10, 2);
    gf_sim_opts o = short_opts(12, GF_SIM_ALL_POLICIES);
    o.step_s = 120;
    gf_sim_report rep;
    run_builtin(&m, &o, 2, &rep, NULL);
    assert_true(rep.n_points == 360 && rep.heat_rows > 0 && rep.n_top > 0);
    gf_report_meta meta = {"cluster <b>&\"x\"", "builtin", "p'olicy.yaml", 2, "gpufrac test"};
    gf_sbuf b = GF_SBUF_INIT;
    gf_report_html(&b, &rep, &meta);
    const char *h = gf_sbuf_str(&b);
    static const char *const want[] = {"<!DOCTYPE html>",
                                       "id=\"summary\"",
                                       "id=\"savings\"",
                                       "id=\"fleet-alloc\"",
                                       "id=\"fleet-gpus\"",
                                       "id=\"top-0\"",
                                       "id=\"heatmap-svg\"",
                                       "data-policy=\"gpufrac\"",
                                       "data-policy=\"oracle\"",
                                       "data-policy=\"one-gpu-per-container\"",
                                       "cluster &lt;b&gt;&amp;&quot;x&quot;",
                                       "p&#39;olicy.yaml",
                                       "</html>"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(h, want[i])) fail_msg("report lacks %s", want[i]);
    assert_null(strstr(h, "<b>"));
    assert_null(strstr(h, "<script"));
    /* nothing from outside: the only URL is SVG's namespace name */
    for (const char *u = strstr(h, "http"); u; u = strstr(u + 1, "http"))
        assert_true(!strncmp(u, "http://www.w3.org/2000/svg", 26));
    gf_error err;
    assert_int_equal(gf_report_html_write("/nonexistent/dir/r.html", &rep, &meta, &err), GF_EIO);
    assert_non_null(strstr(err.where, "/nonexistent/dir/r.html"));
    gf_sbuf_free(&b);
    gf_sim_report_free(&rep);
    gf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_spike_is_an_oom),
        cmocka_unit_test(test_quota_blocks_upsize),
        cmocka_unit_test(test_quota_one_way_downsize),
        cmocka_unit_test(test_engine_preallocating),
        cmocka_unit_test(test_engine_high_water),
        cmocka_unit_test(test_engine_not_upsized_on_nvml),
        cmocka_unit_test(test_engine_upsized_on_kv),
        cmocka_unit_test(test_downsize_restarts_pods),
        cmocka_unit_test(test_whole_gpu_converted),
        cmocka_unit_test(test_pending_and_scale_up),
        cmocka_unit_test(test_resize_stalls),
        cmocka_unit_test(test_throttling_and_neighbours),
        cmocka_unit_test(test_fairuse_hook),
        cmocka_unit_test(test_conservation),
        cmocka_unit_test(test_oracle_is_a_lower_bound),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_whole_gpu_once),
        cmocka_unit_test(test_clairvoyant_static),
        cmocka_unit_test(test_clairvoyant_daily),
        cmocka_unit_test(test_rollout_surge),
        cmocka_unit_test(test_cold_start),
        cmocka_unit_test(test_demand_from_usage),
        cmocka_unit_test(test_bad_options_and_input),
        cmocka_unit_test(test_report_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
