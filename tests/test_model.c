/* test_model.c - GPU grouping and totals (model/model.c). */
#include "testutil.h"

#include <math.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouping_from_kai_labels),
        cmocka_unit_test(test_inferred_binpack),
        cmocka_unit_test(test_overcommit_warned_and_counted),
        cmocka_unit_test(test_float_noise_not_overcommit),
        cmocka_unit_test(test_more_whole_gpus_than_node_has),
        cmocka_unit_test(test_gpu_memory_unknown_warned),
    };
    return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
