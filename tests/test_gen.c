/* test_gen.c - the synthetic cluster generator (sim/gen.c): the cluster is
 * consistent with KAI's rules, reproducible, and survives write -> load. */
#include "testutil.h"
#include "sim/gen.h"
#include "model/engine.h"
#include "model/kai.h"
#include "io/snapshot.h"
#include "io/snapshot_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6 /* the model's over-commit slack */

static void gen_ok(gf_model *m, uint32_t nodes, uint64_t seed, double fill)
{
    gf_gen_opts o;
    gf_gen_opts_default(&o);
    o.nodes = nodes;
    o.seed = seed;
    o.fill = fill;
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_model_init(m);
    gf_err rc = gf_gen_cluster(m, &o, &d, &err);
    if (rc) fail_msg("gen: %s: %s", err.where, err.msg);
    if (d.msgs.n) fail_msg("gen: %zu warnings, first: %s", d.msgs.n, d.msgs.v[0]);
    assert_true(m->finalized);
    gf_diags_free(&d);
}

/* The List JSON of m, malloc'd; *len its size. */
static char *write_buf(const gf_model *m, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    gf_error err = {0};
    assert_int_equal(gf_snapshot_write(m, f, &err), GF_OK);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static bool pod_has_group(const gf_pod *p, const char *group)
{
    if (p->gpu_group && !strcmp(p->gpu_group, group)) return true;
    for (uint32_t i = 0; i < p->n_extra_groups; i++)
        if (!strcmp(p->extra_groups[i], group)) return true;
    return false;
}

static bool tolerates_gpu_taint(const gf_pod *p)
{
    for (uint32_t i = 0; i < p->n_tolerations; i++)
        if (p->tolerations[i].key && !strcmp(p->tolerations[i].key, GF_RES_GPU)) return true;
    return false;
}

static uint32_t pool_named(const gf_model *m, const char *name)
{
    size_t i;
    assert_true(gf_strmap_get(&m->pool_by_name, name, &i));
    return (uint32_t)i;
}

/* What a generated cluster must hold: KAI-consistent placement, capacity
 * respected, and each kind of object the brief asks for. */
static void test_invariants(void **state)
{
    (void)state;
    gf_model m;
    gen_ok(&m, 1000, 1, 0.6);
    assert_int_equal(m.nodes.n, 1000);

    /* GPUs: never over-committed, always grouped by KAI's labels */
    for (size_t i = 0; i < m.gpus.n; i++) {
        const gf_gpu *g = &m.gpus.v[i];
        assert_true(g->allocated_fraction <= 1.0 + EPS);
        assert_false(g->placement_inferred);
        if (g->state == GF_GPU_SHARED) {
            assert_true(g->reserved);
            assert_non_null(g->group);
            assert_true(g->n_pods >= 1); /* no reservation without a sharing pod */
        }
        if (g->state == GF_GPU_WHOLE) assert_int_equal(g->n_pods, 1);
    }

    /* pods: placement, capacity, owners */
    int64_t *cpu = calloc(m.nodes.n, sizeof *cpu), *mem = calloc(m.nodes.n, sizeof *mem);
    size_t multi = 0, memory = 0, fraction = 0, whole = 0, pending = 0, unowned = 0, opted_out = 0,
           sts = 0, deploy = 0, cpu_only = 0;
    for (size_t i = 0; i < m.pods.n; i++) {
        const gf_pod *p = &m.pods.v[i];
        assert_true(gf_pod_active(p));
        if (p->node != GF_NONE) {
            const gf_node *n = &m.nodes.v[p->node];
            cpu[p->node] += p->cpu_milli;
            mem[p->node] += p->memory_bytes;
            if (n->n_taints) assert_true(tolerates_gpu_taint(p));
            if (p->pool_selector && !p->is_reservation)
                assert_string_equal(m.pools.v[n->pool], p->pool_selector);
            if (!p->pool_selector && (p->share != GF_SHARE_NONE || p->gpu_whole) &&
                !p->is_reservation)
                assert_int_equal(n->pool, 0); /* default pool */
            for (uint32_t k = 0; k < p->n_gpu_models; k++)
                assert_string_equal(p->gpu_models[k], n->gpu_product);
        }
        if (p->is_reservation) {
            assert_string_equal(p->ns, GF_KAI_RESERVATION_NS);
            assert_int_equal(p->n_gpus, 0);
            assert_non_null(p->node_name);
            continue;
        }
        if (p->node == GF_NONE) {
            assert_int_equal(p->phase, GF_PHASE_PENDING);
            assert_null(p->gpu_group);
            assert_int_equal(p->n_gpus, 0);
            assert_true(p->share != GF_SHARE_NONE || p->gpu_whole);
            pending++;
        } else if (p->share != GF_SHARE_NONE) {
            /* every bound sharing pod holds its devices, on GPUs of its groups */
            assert_int_equal(p->n_gpus, p->gpu_devices);
            /* one group label per device; a multi-device fraction has only
             * the prefixed runai-gpu-group/<g> ones (resource_reservation.go) */
            assert_int_equal((p->gpu_group ? 1 : 0) + p->n_extra_groups, p->gpu_devices);
            if (p->gpu_devices > 1) assert_null(p->gpu_group);
            for (uint32_t k = 0; k < p->n_gpus; k++) {
                const gf_gpu *g = &m.gpus.v[p->gpus[k]];
                assert_int_equal(g->state, GF_GPU_SHARED);
                assert_int_equal(g->node, p->node);
                assert_true(pod_has_group(p, g->group));
            }
        } else if (p->gpu_whole) {
            assert_int_equal(p->n_gpus, p->gpu_whole);
            for (uint32_t k = 0; k < p->n_gpus; k++)
                assert_int_equal(m.gpus.v[p->gpus[k]].state, GF_GPU_WHOLE);
        } else {
            cpu_only++;
        }
        if (p->n_gpus) assert_string_equal(p->scheduler_name, GF_KAI_SCHEDULER_NAME);
        multi += p->gpu_devices > 1;
        memory += p->share == GF_SHARE_MEMORY;
        fraction += p->share == GF_SHARE_FRACTION;
        whole += p->gpu_whole > 0;
        const char *c = gf_kvs_get(&p->annotations, GF_ANN_CONSOLIDATE);
        opted_out += c && !strcmp(c, "false");
        const gf_workload *w = gf_model_pod_workload(&m, p);
        if (!w) {
            assert_null(p->owner.kind);
            unowned++;
            continue;
        }
        assert_true(w->from_input);
        assert_false(w->inferred);
        if (!strcmp(w->kind, "Deployment")) {
            assert_string_equal(p->owner.kind, "ReplicaSet");
            assert_non_null(gf_kvs_get(&p->labels, "pod-template-hash"));
            deploy++;
        } else {
            assert_string_equal(w->kind, "StatefulSet");
            sts++;
        }
    }
    for (size_t i = 0; i < m.nodes.n; i++) {
        assert_true(cpu[i] <= m.nodes.v[i].cpu_milli);
        assert_true(mem[i] <= m.nodes.v[i].memory_bytes);
    }
    free(cpu);
    free(mem);
    assert_true(multi > 0 && memory > 0 && fraction > 0 && whole > 0 && pending > 0);
    assert_true(unowned > 0 && opted_out > 0 && sts > 0 && deploy > 0 && cpu_only > 0);
    assert_true(fraction > memory && fraction > whole); /* fractions dominate */

    /* nodes: GFD labels agree with the model's facts; each shape occurs */
    size_t tainted = 0, cordoned = 0, cpu_nodes = 0, by_count[9] = {0};
    for (size_t i = 0; i < m.nodes.n; i++) {
        const gf_node *n = &m.nodes.v[i];
        tainted += n->n_taints > 0;
        cordoned += n->unschedulable;
        assert_true(n->gpu_count <= 8);
        by_count[n->gpu_count]++;
        if (!n->gpu_count) {
            cpu_nodes++;
            continue;
        }
        char buf[32];
        snprintf(buf, sizeof buf, "%u", n->gpu_count);
        assert_string_equal(gf_kvs_get(&n->labels, GF_LABEL_GPU_COUNT), buf);
        assert_string_equal(gf_kvs_get(&n->labels, GF_LABEL_GPU_PRODUCT), n->gpu_product);
        int64_t known = gf_kai_known_gpu_memory_mib(n->gpu_product);
        assert_int_equal(n->gpu_memory_mib, known - known % 100); /* as KAI floors the label */
    }
    assert_true(tainted > 0 && cordoned > 0 && cpu_nodes > 0);
    assert_true(by_count[1] && by_count[2] && by_count[4] && by_count[8]);
    for (size_t i = 3; i < 8; i++)
        if (i != 4) assert_int_equal(by_count[i], 0);

    /* workloads: replicas count their pods; old ReplicaSets are scaled to 0 */
    uint32_t *pods_of = calloc(m.workloads.n, sizeof *pods_of);
    for (size_t i = 0; i < m.pods.n; i++)
        if (m.pods.v[i].workload != GF_NONE) pods_of[m.pods.v[i].workload]++;
    size_t old_rs = 0;
    for (size_t i = 0; i < m.workloads.n; i++) {
        const gf_workload *w = &m.workloads.v[i];
        assert_true(w->from_input);
        if (!strcmp(w->kind, "ReplicaSet")) {
            old_rs += w->replicas == 0;
            continue;
        }
        assert_int_equal(w->replicas, pods_of[i]);
    }
    free(pods_of);
    assert_true(old_rs > 0);

    /* PDBs select the pods of their workload */
    assert_true(m.pdbs.n > 0);
    for (size_t i = 0; i < m.pdbs.n; i++) {
        size_t selected = 0;
        for (size_t j = 0; j < m.pods.n; j++)
            selected += gf_pdb_selects(&m.pdbs.v[i], &m.pods.v[j]);
        assert_true(selected >= 2);
        assert_true(m.pdbs.v[i].disruptions_allowed >= 0 &&
                    (size_t)m.pdbs.v[i].disruptions_allowed < selected);
    }

    /* totals: one reservation per shared GPU; allocation near the target */
    gf_totals t;
    gf_model_totals(&m, GF_NONE, &t);
    assert_int_equal(t.gpus_overcommitted, 0);
    assert_int_equal(t.reservation_pods, t.gpus_shared);
    assert_int_equal(t.pods_pending_gpu, pending);
    assert_true(fabs(t.allocated_gpus / t.gpus - 0.6) < 0.05);
    const char *pools[] = {"default", "training-a100", "inference-l4", "inference-t4"};
    for (size_t i = 0; i < 4; i++) {
        gf_model_totals(&m, pool_named(&m, pools[i]), &t);
        assert_true(t.gpus > 0 && t.pods_sharing + t.pods_whole > 0);
    }
    gf_model_free(&m);
}

/* fill 0 leaves every GPU idle; fill 1 packs nearly all of them */
static void test_fill_extremes(void **state)
{
    (void)state;
    gf_model m;
    gf_totals t;
    gen_ok(&m, 200, 3, 0.0);
    gf_model_totals(&m, GF_NONE, &t);
    assert_true(t.gpus > 0);
    assert_int_equal(t.gpus_idle, t.gpus);
    assert_int_equal(t.pods_sharing + t.pods_whole + t.pods_pending_gpu + t.reservation_pods, 0);
    assert_true(t.pods > 0); /* CPU-only services still run */
    gf_model_free(&m);

    gen_ok(&m, 200, 3, 1.0);
    gf_model_totals(&m, GF_NONE, &t);
    assert_true(t.allocated_gpus / t.gpus > 0.9);
    assert_int_equal(t.gpus_overcommitted, 0);
    gf_model_free(&m);
}

/* tiny clusters (one node, possibly CPU-only) are still consistent */
static void test_tiny(void **state)
{
    (void)state;
    for (uint64_t seed = 0; seed < 40; seed++) {
        gf_model m;
        gen_ok(&m, 1, seed, 0.6);
        assert_int_equal(m.nodes.n, 1);
        gf_model_free(&m);
    }
}

static void test_deterministic(void **state)
{
    (void)state;
    gf_model a, b, c;
    gen_ok(&a, 300, 42, 0.6);
    gen_ok(&b, 300, 42, 0.6);
    gen_ok(&c, 300, 43, 0.6);
    size_t la, lb, lc;
    char *ja = write_buf(&a, &la), *jb = write_buf(&b, &lb), *jc = write_buf(&c, &lc);
    assert_true(la > 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ja, jb, la);
    assert_true(la != lc || memcmp(ja, jc, la) != 0);
    free(ja);
    free(jb);
    free(jc);
    gf_model_free(&a);
    gf_model_free(&b);
    gf_model_free(&c);
}

static void assert_totals_equal(const gf_totals *x, const gf_totals *y)
{
    assert_int_equal(x->nodes, y->nodes);
    assert_int_equal(x->gpu_nodes, y->gpu_nodes);
    assert_int_equal(x->gpus, y->gpus);
    assert_int_equal(x->gpus_whole, y->gpus_whole);
    assert_int_equal(x->gpus_shared, y->gpus_shared);
    assert_int_equal(x->gpus_idle, y->gpus_idle);
    assert_int_equal(x->gpus_overcommitted, y->gpus_overcommitted);
    /* same shares summed in the same order: bit-identical */
    assert_true(x->shared_allocated == y->shared_allocated);
    assert_true(x->stranded_free == y->stranded_free);
    assert_true(x->allocated_gpus == y->allocated_gpus);
    assert_int_equal(x->pods, y->pods);
    assert_int_equal(x->pods_sharing, y->pods_sharing);
    assert_int_equal(x->pods_whole, y->pods_whole);
    assert_int_equal(x->pods_pending_gpu, y->pods_pending_gpu);
    assert_int_equal(x->reservation_pods, y->reservation_pods);
}

/* write -> load gives the same cluster: totals, per-pod GPUs, owners, and the
 * same bytes when written again */
static void test_round_trip(void **state)
{
    (void)state;
    gf_model a;
    gen_ok(&a, 500, 7, 0.7);
    size_t len;
    char *json = write_buf(&a, &len);

    gf_model b;
    gf_model_init(&b);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_err rc = gf_snapshot_load_buffer(&b, "gen.json", json, len, &d, &err);
    if (!rc) rc = gf_model_finalize(&b, &d, &err);
    if (rc) fail_msg("load: %s: %s", err.where, err.msg);
    if (d.msgs.n) fail_msg("load: %zu warnings, first: %s", d.msgs.n, d.msgs.v[0]);

    assert_int_equal(a.nodes.n, b.nodes.n);
    assert_int_equal(a.pods.n, b.pods.n);
    assert_int_equal(a.workloads.n, b.workloads.n);
    assert_int_equal(a.pdbs.n, b.pdbs.n);
    assert_int_equal(a.gpus.n, b.gpus.n);
    assert_int_equal(a.pools.n, b.pools.n);
    gf_totals ta, tb;
    for (uint32_t pool = 0; pool < a.pools.n; pool++) {
        assert_string_equal(a.pools.v[pool], b.pools.v[pool]);
        gf_model_totals(&a, pool, &ta);
        gf_model_totals(&b, pool, &tb);
        assert_totals_equal(&ta, &tb);
    }
    gf_model_totals(&a, GF_NONE, &ta);
    gf_model_totals(&b, GF_NONE, &tb);
    assert_totals_equal(&ta, &tb);
    for (size_t i = 0; i < a.pods.n; i++) {
        const gf_pod *p = &a.pods.v[i], *q = &b.pods.v[i];
        assert_string_equal(p->ns, q->ns);
        assert_string_equal(p->name, q->name);
        assert_int_equal(p->node, q->node);
        assert_int_equal(p->workload, q->workload);
        assert_int_equal(p->phase, q->phase);
        assert_int_equal(p->is_reservation, q->is_reservation);
        if (p->reserve_gpu || q->reserve_gpu) assert_string_equal(p->reserve_gpu, q->reserve_gpu);
        assert_int_equal(p->share, q->share);
        assert_int_equal(p->gpu_devices, q->gpu_devices);
        assert_int_equal(p->gpu_whole, q->gpu_whole);
        assert_int_equal(p->n_extra_groups, q->n_extra_groups);
        assert_int_equal(p->n_tolerations, q->n_tolerations);
        assert_int_equal(p->n_gpu_models, q->n_gpu_models);
        assert_true((p->queue == NULL) == (q->queue == NULL));
        if (p->queue) assert_string_equal(p->queue, q->queue);
        assert_true((p->pool_selector == NULL) == (q->pool_selector == NULL));
        if (p->pool_selector) assert_string_equal(p->pool_selector, q->pool_selector);
        assert_true(p->gpu_fraction == q->gpu_fraction);
        assert_int_equal(p->gpu_memory_mib, q->gpu_memory_mib);
        assert_int_equal(p->cpu_milli, q->cpu_milli);
        assert_int_equal(p->memory_bytes, q->memory_bytes);
        assert_int_equal(p->n_gpus, q->n_gpus);
        /* the GPU container as engine detection reads it */
        assert_true((p->gpu_image == NULL) == (q->gpu_image == NULL));
        if (p->gpu_image) assert_string_equal(p->gpu_image, q->gpu_image);
        assert_int_equal(p->gpu_argc, q->gpu_argc);
        for (uint32_t k = 0; k < p->gpu_argc; k++)
            assert_string_equal(p->gpu_argv[k], q->gpu_argv[k]);
        for (uint32_t k = 0; k < p->n_gpus; k++)
            assert_int_equal(p->gpus[k], q->gpus[k]);
    }
    for (size_t i = 0; i < a.gpus.n; i++)
        assert_true(a.gpus.v[i].allocated_fraction == b.gpus.v[i].allocated_fraction);

    size_t len2;
    char *json2 = write_buf(&b, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(json, json2, len);

    free(json);
    free(json2);
    gf_diags_free(&d);
    gf_model_free(&a);
    gf_model_free(&b);
}

/* The inference servers of the GPU workloads with a share, as engine
 * detection finds them from the pod spec: the shares gen.c set_engine
 * declares (45% preallocating among inference gpu-fraction services, 25%
 * caching allocators), within sampling slack; preallocating caps are
 * $(GPU_PORTION) or the fraction itself, never above it. */
static void test_engines(void **state)
{
    (void)state;
    gf_model m;
    gen_ok(&m, 2000, 3, 0.6);
    uint32_t n = 0, by[3] = {0}, portion = 0;
    for (size_t w = 0; w < m.workloads.n; w++) {
        const gf_pod *p = NULL;
        for (size_t i = 0; i < m.pods.n && !p; i++)
            if (m.pods.v[i].workload == w && m.pods.v[i].share == GF_SHARE_FRACTION &&
                (!m.pods.v[i].pool_selector || strncmp(m.pods.v[i].pool_selector, "training", 8)))
                p = &m.pods.v[i];
        if (!p) continue;
        gf_engine_info e;
        gf_engine_detect(p, &e, NULL);
        n++;
        by[e.memory]++;
        if (e.memory != GF_MEM_PREALLOCATES) continue;
        assert_true(e.cap_source == GF_CAP_GPU_PORTION || e.cap_source == GF_CAP_FLAG);
        if (e.cap_source == GF_CAP_GPU_PORTION)
            portion++;
        else
            assert_true(fabs(e.cap - p->gpu_fraction) < 1e-9);
    }
    assert_true(n >= 200);
    double pre = (double)by[GF_MEM_PREALLOCATES] / n, hw = (double)by[GF_MEM_HIGH_WATER] / n;
    if (!(pre > 0.35 && pre < 0.55 && hw > 0.17 && hw < 0.33))
        fail_msg("%u services: %.2f preallocating, %.2f high-water", n, pre, hw);
    assert_true(portion > by[GF_MEM_PREALLOCATES] / 2);
    gf_model_free(&m);
}

static void expect_usage(const gf_gen_opts *o, const char *needle)
{
    gf_model m;
    gf_model_init(&m);
    gf_error err = {0};
    assert_int_equal(gf_gen_cluster(&m, o, NULL, &err), GF_EUSAGE);
    if (!strstr(err.msg, needle)) fail_msg("'%s' does not say '%s'", err.msg, needle);
    assert_int_equal(m.nodes.n + m.pods.n, 0);
    gf_model_free(&m);
}

static void test_bad_options(void **state)
{
    (void)state;
    gf_gen_opts o;
    gf_gen_opts_default(&o);
    o.nodes = 0;
    expect_usage(&o, "nodes 0 is outside 1..1000000");
    o.nodes = GF_GEN_MAX_NODES + 1;
    expect_usage(&o, "nodes 1000001");
    gf_gen_opts_default(&o);
    o.fill = 1.5;
    expect_usage(&o, "fill 1.5 is outside 0..1");
    o.fill = -0.1;
    expect_usage(&o, "fill");
    o.fill = NAN;
    expect_usage(&o, "fill");
    gf_gen_opts_default(&o);
    o.pending_share = 2;
    expect_usage(&o, "pending");
    gf_gen_opts_default(&o);
    o.cpu_pods_per_node = 101;
    expect_usage(&o, "CPU-only pods");

    /* only into an empty model */
    gf_model m;
    gen_ok(&m, 2, 1, 0.5);
    gf_error err = {0};
    gf_gen_opts_default(&o);
    assert_int_equal(gf_gen_cluster(&m, &o, NULL, &err), GF_EUSAGE);
    assert_non_null(strstr(err.msg, "already holds objects"));
    assert_int_equal(m.nodes.n, 2);
    gf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invariants), cmocka_unit_test(test_fill_extremes),
        cmocka_unit_test(test_tiny),       cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_engines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
