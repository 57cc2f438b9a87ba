/* test_model.c - GPU grouping and totals (model/model.c). */
#include "testutil.h"
#include "io/snapshot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define EPS 1e-9

static const gf_gpu *gpu_of(const gf_model *m, const char *node, int index)
{
    size_t i;
    if (!gf_strmap_get(&m->node_by_name, node, &i)) return NULL;
    return &m->gpus.v[m->nodes.v[i].first_gpu + (uint32_t)index];
}

static int gpu_has_pod(const gf_model *m, const gf_gpu *g, const char *name)
{
    for (uint32_t j = 0; j < g->n_pods; j++)
        if (!strcmp(m->pods.v[m->gpu_pods.v[g->first_pod + j]].name, name)) return 1;
    return 0;
}

static void test_grouping_from_kai_labels(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(gf_test_load(&m, &d, &err, "kai-small.json"), GF_OK);

    /* reservation index 0 pins group 1f0e.. to device 0; two pods share it */
    const gf_gpu *g = gpu_of(&m, "gpu-l4-a", 0);
    assert_int_equal(g->state, GF_GPU_SHARED);
    assert_true(g->reserved);
    assert_string_equal(g->group, "1f0e4c52-9a6b-4f8e-b1d2-7c3e5a9d0b11");
    assert_int_equal(g->n_pods, 2);
    assert_true(gpu_has_pod(&m, g, "llm-chat-7d9f8b6c5d-x2lqf"));
    assert_true(gpu_has_pod(&m, g, "embedder-5f6c7d8e9a-p0d7z"));
    assert_true(fabs(g->allocated_fraction - 0.75) < EPS);
    assert_false(g->placement_inferred);

    /* gpu-memory counts memory-based: 11517 MiB of an L4 labelled 23034 MiB,
     * which KAI floors to 23000 (node_info.go getNodeGpuMemory) */
    g = gpu_of(&m, "gpu-l4-a", 1);
    assert_int_equal(g->n_pods, 1);
    assert_true(fabs(g->allocated_fraction - 11517.0 / 23000.0) < EPS);

    /* whole-GPU pods take the remaining devices */
    assert_int_equal(gpu_of(&m, "gpu-l4-a", 2)->state, GF_GPU_WHOLE);
    assert_int_equal(gpu_of(&m, "gpu-l4-a", 3)->state, GF_GPU_WHOLE);
    assert_true(fabs(gpu_of(&m, "gpu-l4-a", 3)->allocated_fraction - 1.0) < EPS);

    /* multi-device fraction: 0.3 on each of two GPUs */
    g = gpu_of(&m, "gpu-l4-b", 0);
    assert_true(fabs(g->allocated_fraction - 0.8) < EPS);
    assert_true(gpu_has_pod(&m, g, "reranker-9a8b7c6d5e-q4v1n"));
    g = gpu_of(&m, "gpu-l4-b", 1);
    assert_true(fabs(g->allocated_fraction - 0.3) < EPS);
    assert_true(gpu_has_pod(&m, g, "reranker-9a8b7c6d5e-q4v1n"));
    long rr = gf_test_pod(&m, "team-b", "reranker-9a8b7c6d5e-q4v1n");
    assert_int_equal(m.pods.v[rr].n_gpus, 2);

    /* the Succeeded pod with a stale group holds nothing */
    long old = gf_test_pod(&m, "team-a", "batch-old-28xq");
    assert_int_equal(m.pods.v[old].n_gpus, 0);

    /* no inference, no over-commit on a consistent snapshot */
    assert_false(gf_test_diag_has(&d, "inferred"));
    assert_false(gf_test_diag_has(&d, "over-committed"));

    gf_totals t;
    gf_model_totals(&m, GF_NONE, &t);
    assert_int_equal(t.gpus, 7);
    assert_int_equal(t.gpus_whole, 2);
    assert_int_equal(t.gpus_shared, 5);
    assert_int_equal(t.gpus_idle, 0);
    assert_int_equal(t.reservation_pods, 5);
    assert_int_equal(t.pods_sharing, 6);
    assert_int_equal(t.pods_whole, 2);
    assert_int_equal(t.pods_pending_gpu, 1);
    /* shared: 0.75 + 0.5 + 0.8 + 0.3 + 0.5 (T4) */
    assert_true(fabs(t.shared_allocated - (0.75 + 11517.0 / 23000.0 + 0.8 + 0.3 + 0.5)) < EPS);
    assert_true(fabs(t.stranded_free - (5 - t.shared_allocated)) < EPS);
    assert_true(fabs(t.allocated_gpus - (2 + t.shared_allocated)) < EPS);

    size_t inf;
    assert_true(gf_strmap_get(&m.pool_by_name, "inference", &inf));
    gf_model_totals(&m, (uint32_t)inf, &t);
    assert_int_equal(t.gpus, 6);
    assert_int_equal(t.nodes, 2);

    gf_diags_free(&d);
    gf_model_free(&m);
}

#define L4_NODE(name, n)                                                                           \
    "{\"kind\":\"Node\",\"metadata\":{\"name\":\"" name "\",\"labels\":{"                          \
    "\"nvidia.com/gpu.product\":\"NVIDIA-L4\",\"nvidia.com/gpu.memory\":\"23034\"}},"              \
    "\"status\":{\"allocatable\":{\"cpu\":\"32\",\"memory\":\"128Gi\",\"nvidia.com/gpu\":\"" n     \
    "\"}}}"
#define SHARED_POD(name, node, labels, ann)                                                        \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name                                             \
    "\",\"namespace\":\"t\",\"labels\":{" labels "},\"annotations\":{" ann                         \
    "}},\"spec\":{\"nodeName\":\"" node "\","                                                      \
    "\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Running\"}}"
#define LIST(...) "{\"kind\":\"List\",\"items\":[" __VA_ARGS__ "]}"

/* Pods without group labels (older KAI) are binpacked onto the fullest shared
 * GPU that fits, flagged as inferred. */
static void test_inferred_binpack(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json = LIST(
        L4_NODE("n1", "3") ",\n" SHARED_POD("a", "n1", "\"runai-gpu-group\":\"ga\"",
                                            "\"gpu-fraction\":\"0.6\"") ",\n"                 //
        SHARED_POD("b", "n1", "\"runai-gpu-group\":\"gb\"", "\"gpu-fraction\":\"0.2\"") ",\n" //
        SHARED_POD("c", "n1", "", "\"gpu-fraction\":\"0.3\""));
    assert_int_equal(gf_test_load_text(&m, &d, &err, json), GF_OK);
    /* ga (0.6) is the fullest GPU where 0.3 fits */
    const gf_gpu *ga = gpu_of(&m, "n1", 0);
    assert_string_equal(ga->group, "ga");
    assert_true(gpu_has_pod(&m, ga, "c"));
    assert_true(fabs(ga->allocated_fraction - 0.9) < EPS);
    assert_true(ga->placement_inferred);
    assert_false(gpu_of(&m, "n1", 1)->placement_inferred);
    assert_int_equal(gpu_of(&m, "n1", 2)->state, GF_GPU_IDLE);
    assert_true(gf_test_diag_has(&d, "pod t/c has 0 runai-gpu-group label(s) for 1 device(s)"));
    gf_diags_free(&d);
    gf_model_free(&m);
}

static void test_overcommit_warned_and_counted(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json =
        LIST(L4_NODE("n1", "1") ",\n" SHARED_POD("a", "n1", "\"runai-gpu-group\":\"g\"",
                                                 "\"gpu-fraction\":\"0.6\"") ",\n" //
             SHARED_POD("b", "n1", "\"runai-gpu-group\":\"g\"", "\"gpu-memory\":\"11500\""));
    assert_int_equal(gf_test_load_text(&m, &d, &err, json), GF_OK);
    /* 0.6 + 11500 MiB of 23000 (the label 23034 floored to 100 MiB) */
    assert_true(fabs(m.gpus.v[0].allocated_fraction - 1.1) < EPS);
    assert_true(gf_test_diag_has(&d, "over-committed: 1.100"));
    gf_totals t;
    gf_model_totals(&m, GF_NONE, &t);
    assert_int_equal(t.gpus_overcommitted, 1);
    /* capped at 1 per GPU in the totals: nothing stranded, nothing above 1 */
    assert_true(fabs(t.shared_allocated - 1.0) < EPS);
    assert_true(fabs(t.stranded_free) < EPS);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* Exact sums such as 0.1+0.2+0.7 are not over-committed. */
static void test_float_noise_not_overcommit(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json =
        LIST(L4_NODE("n1", "1") ",\n" SHARED_POD("a", "n1", "\"runai-gpu-group\":\"g\"",
                                                 "\"gpu-fraction\":\"0.1\"") ",\n"                //
             SHARED_POD("b", "n1", "\"runai-gpu-group\":\"g\"", "\"gpu-fraction\":\"0.2\"") ",\n" //
             SHARED_POD("c", "n1", "\"runai-gpu-group\":\"g\"", "\"gpu-fraction\":\"0.7\""));
    assert_int_equal(gf_test_load_text(&m, &d, &err, json), GF_OK);
    assert_false(gf_test_diag_has(&d, "over-committed"));
    gf_totals t;
    gf_model_totals(&m, GF_NONE, &t);
    assert_int_equal(t.gpus_overcommitted, 0);
    gf_diags_free(&d);
    gf_model_free(&m);
}

static void test_more_whole_gpus_than_node_has(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json = LIST(
        L4_NODE("n1", "1") ",\n"
                           "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"w\",\"namespace\":\"t\"},"
                           "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\","
                           "\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"2\"}}}]},"
                           "\"status\":{\"phase\":\"Running\"}}");
    assert_int_equal(gf_test_load_text(&m, &d, &err, json), GF_OK);
    assert_int_equal(m.gpus.v[0].state, GF_GPU_WHOLE);
    assert_true(gf_test_diag_has(&d, "requests 2 whole GPUs but node n1 has only 1"));
    gf_diags_free(&d);
    gf_model_free(&m);
}

static void test_gpu_memory_unknown_warned(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json =
        LIST("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"labels\":{"
             "\"nvidia.com/gpu.product\":\"Mystery-GPU\"}},\"status\":{\"allocatable\":"
             "{\"nvidia.com/gpu\":\"1\"}}},\n" //
             SHARED_POD("a", "n1", "\"runai-gpu-group\":\"g\"", "\"gpu-memory\":\"4096\""));
    assert_int_equal(gf_test_load_text(&m, &d, &err, json), GF_OK);
    /* KAI counts 100 MiB per GPU there (node_info.go DefaultGpuMemory): the
     * 4096 MiB pod does not fit; the warning comes once per node */
    assert_true(gf_test_diag_has(&d, "node n1 has no usable nvidia.com/gpu.memory label: KAI "
                                     "counts 100 MiB per GPU there"));
    assert_int_equal(m.nodes.v[0].gpu_memory_mib, 100);
    assert_false(m.nodes.v[0].gpu_memory_from_label);
    assert_int_equal(m.nodes.v[0].gpu_memory_display_mib, 0);
    assert_true(m.gpus.v[0].allocated_fraction > 40);
    size_t warned = 0;
    for (size_t i = 0; i < d.msgs.n; i++)
        warned += strstr(d.msgs.v[i], "no usable nvidia.com/gpu.memory") != NULL;
    assert_int_equal(warned, 1);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* The objects KAI writes (tests/fixtures/kai-real, see its README). */
static void load_kai_real(gf_model *m, gf_diags *d, bool odd)
{
    static const char *files[] = {"nodes", "pods", "deployments", "replicasets", "statefulsets"};
    char paths[6][512];
    char *argv[6];
    int n = 0;
    for (; n < 5; n++) {
        snprintf(paths[n], sizeof paths[n], "%s", gf_test_fixture(""));
        snprintf(paths[n] + strlen(paths[n]), sizeof paths[n] - strlen(paths[n]),
                 "kai-real/cluster/%s.json", files[n]);
        argv[n] = paths[n];
    }
    if (odd) {
        snprintf(paths[n], sizeof paths[n], "%skai-real/odd/pods.json", gf_test_fixture(""));
        argv[n] = paths[n];
        n++;
    }
    gf_error err = {0};
    if (gf_snapshot_load_files(m, argv, n, d, &err)) fail_msg("%s: %s", err.where, err.msg);
}

static void test_kai_real_objects(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    load_kai_real(&m, &d, false);
    /* reservation pods: by label app in the reservation namespace; the
     * annotation is the GPU's UUID (pod_patcher.go), the device's ID */
    const gf_gpu *g0 = gpu_of(&m, "gpu-h100-a", 0);
    assert_true(g0->reserved);
    assert_string_equal(g0->device_id, "GPU-8c7e4a01-7c1e-2b5d-0e3f-0000a11ce001");
    long rsv = gf_test_pod(&m, "kai-resource-reservation", "gpu-reservation-gpu-h100-a-q7x2k");
    assert_true(m.pods.v[rsv].is_reservation);
    assert_false(m.pods.v[rsv].is_kai); /* bound by nodeName, default-scheduler */
    /* the two-device fraction sits on the GPUs of both its prefixed groups */
    long rr = gf_test_pod(&m, "serving", "reranker-7f9c8d6b5a-p8r2t");
    const gf_pod *p = &m.pods.v[rr];
    assert_null(p->gpu_group);
    assert_int_equal(p->n_extra_groups, 2);
    assert_int_equal(p->n_gpus, 2);
    assert_string_equal(m.gpus.v[p->gpus[0]].device_id, "GPU-8c7e4a02-7c1e-2b5d-0e3f-0000a11ce002");
    assert_string_equal(m.gpus.v[p->gpus[1]].device_id, "GPU-8c7e4a03-7c1e-2b5d-0e3f-0000a11ce003");
    for (size_t i = 0; i < m.gpus.n; i++)
        assert_false(m.gpus.v[i].placement_inferred);
    /* the sidecar pod's share belongs to the named container */
    p = &m.pods.v[gf_test_pod(&m, "search", "rag-5b4a392817-z9y8x")];
    assert_string_equal(p->gpu_container, "server");
    assert_false(p->gpu_container_init);
    /* without the annotation: the first container */
    p = &m.pods.v[gf_test_pod(&m, "serving", "chat-6d8f7c9b5d-k2m4x")];
    assert_string_equal(p->gpu_container, "server");
    /* the other scheduler's pod: capacity, no share */
    p = &m.pods.v[gf_test_pod(&m, "ml-legacy", "notebook-0")];
    assert_false(p->is_kai);
    assert_true(p->foreign_share);
    assert_int_equal(p->share, GF_SHARE_NONE);
    assert_int_equal(p->gpu_whole, 1);
    assert_int_equal(gpu_of(&m, "gpu-l4-b", 1)->state, GF_GPU_WHOLE);
    /* nodes: label floored; no label 100 MiB; the count label before allocatable */
    size_t ni;
    assert_true(gf_strmap_get(&m.node_by_name, "gpu-h100-a", &ni));
    assert_int_equal(m.nodes.v[ni].gpu_memory_mib, 81500);
    assert_true(gf_strmap_get(&m.node_by_name, "gpu-l4-b", &ni));
    assert_int_equal(m.nodes.v[ni].gpu_memory_mib, 100);
    assert_int_equal(m.nodes.v[ni].gpu_count, 2);
    for (int r = 0; r < GF_SKIP_COUNT; r++)
        assert_int_equal(m.skipped[r], 0);
    gf_diags_free(&d);
    gf_model_free(&m);

    /* with the odd objects: both skipped, counted, the rest unchanged */
    gf_model_init(&m);
    gf_diags_init(&d);
    load_kai_real(&m, &d, true);
    assert_int_equal(m.skipped[GF_SKIP_KAI_ANNOTATION], 1);
    assert_int_equal(m.skipped[GF_SKIP_NODE_MISSING], 1);
    assert_int_equal(gf_test_pod(&m, "serving", "typo-0"), -1);
    assert_int_equal(gf_test_pod(&m, "serving", "orphan-0"), -1);
    assert_int_equal(m.pods.v[gf_test_pod(&m, "serving", "reranker-7f9c8d6b5a-p8r2t")].n_gpus, 2);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* A reservation pod is labelled app=<reservation app> in the reservation
 * namespace (both configurable); either alone is some other pod. */
static void test_reservation_recognised_by_label_and_namespace(void **state)
{
    (void)state;
#define RSV(ns, labels)                                                                            \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"r\",\"namespace\":\"" ns "\",\"labels\":{"         \
    "\"runai-gpu-group\":\"g\"" labels "},\"annotations\":{\"run.ai/reserve_for_gpu_index\":"      \
    "\"GPU-1234\"}},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"resources\":"  \
    "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]},\"status\":{\"phase\":\"Running\"}}"
    static const struct {
        const char *json;
        const char *ns, *app; /* configured names, NULL: KAI's defaults */
        bool reservation;
    } c[] = {
        {LIST(L4_NODE("n1", "1") "," RSV("kai-resource-reservation",
                                         ",\"app\":\"kai-resource-reservation\"")),
         NULL, NULL, true},
        {LIST(L4_NODE("n1", "1") "," RSV("kai-resource-reservation", "")), NULL, NULL, false},
        {LIST(L4_NODE("n1", "1") "," RSV("other", ",\"app\":\"kai-resource-reservation\"")), NULL,
         NULL, false},
        {LIST(L4_NODE("n1", "1") "," RSV("other", ",\"app\":\"rr\"")), "other", "rr", true},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        gf_model m;
        gf_model_init(&m);
        if (c[i].ns) m.kai.reservation_ns = c[i].ns;
        if (c[i].app) m.kai.reservation_app = c[i].app;
        gf_diags d;
        gf_diags_init(&d);
        gf_error err = {0};
        assert_int_equal(gf_test_load_text(&m, &d, &err, c[i].json), GF_OK);
        if (m.pods.v[0].is_reservation != c[i].reservation) fail_msg("case %zu", i);
        /* a reservation keeps the GPU shared and names it; otherwise a whole GPU */
        assert_int_equal(m.gpus.v[0].state, c[i].reservation ? GF_GPU_SHARED : GF_GPU_WHOLE);
        if (c[i].reservation) assert_string_equal(m.gpus.v[0].device_id, "GPU-1234");
        gf_diags_free(&d);
        gf_model_free(&m);
    }
#undef RSV
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouping_from_kai_labels),
        cmocka_unit_test(test_kai_real_objects),
        cmocka_unit_test(test_reservation_recognised_by_label_and_namespace),
        cmocka_unit_test(test_inferred_binpack),
        cmocka_unit_test(test_overcommit_warned_and_counted),
        cmocka_unit_test(test_float_noise_not_overcommit),
        cmocka_unit_test(test_more_whole_gpus_than_node_has),
        cmocka_unit_test(test_gpu_memory_unknown_warned),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
