/* test_engine.c - inference-engine detection (model/engine.c) on pods shaped
 * as the engines' own deployment docs write them (fixtures/engines), the
 * container the snapshot loader keeps for it, and the "configured to
 * overrun" finding. */
#include "testutil.h"
#include "model/engine.h"

#include <math.h>
#include <string.h>

static gf_model m;

static int setup(void **state)
{
    (void)state;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err;
    if (gf_test_load(&m, &d, &err, "engines/pods.json"))
        fail_msg("load: %s: %s", err.where, err.msg);
    gf_diags_free(&d);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gf_model_free(&m);
    return 0;
}

static const gf_pod *pod(const char *name)
{
    long i = gf_test_pod(&m, "serving", name);
    if (i < 0) fail_msg("no pod %s", name);
    return &m.pods.v[i];
}

static gf_engine_info detect(const char *name)
{
    gf_engine_info e;
    bool bad = true;
    gf_engine_detect(pod(name), &e, &bad);
    assert_false(bad);
    return e;
}

/* the loader keeps the GPU container's image, command + args, literal env */
static void test_container_kept(void **state)
{
    (void)state;
    const gf_pod *p = pod("tgi-0");
    assert_string_equal(p->gpu_image, "ghcr.io/huggingface/text-generation-inference:2.4.0");
    assert_int_equal(p->gpu_argc, 4);
    assert_string_equal(p->gpu_argv[1], "HuggingFaceH4/zephyr-7b-beta");
    assert_int_equal(p->gpu_env.n, 1); /* HF_TOKEN comes from a secret: skipped */
    assert_string_equal(gf_kvs_get(&p->gpu_env, "CUDA_MEMORY_FRACTION"), "0.5");
    /* the sidecar pod: the share's container, not the first one */
    p = pod("vllm-portion-0");
    assert_string_equal(p->gpu_container, "server");
    assert_string_equal(p->gpu_image, "vllm/vllm-openai:v0.6.3");
    /* a whole-GPU pod: the container that asks for nvidia.com/gpu */
    p = pod("trtllm-0");
    assert_string_equal(p->gpu_argv[0], "tritonserver");
}

static void test_vllm(void **state)
{
    (void)state;
    gf_engine_info e = detect("vllm-default-0"); /* sh -c "vllm serve ..." */
    assert_int_equal(e.kind, GF_ENGINE_VLLM);
    assert_int_equal(e.memory, GF_MEM_PREALLOCATES);
    assert_int_equal(e.cap_source, GF_CAP_DEFAULT);
    assert_true(fabs(e.cap - 0.9) < 1e-12);
    e = detect("vllm-flag-0");
    assert_int_equal(e.cap_source, GF_CAP_FLAG);
    assert_true(fabs(e.cap - 0.45) < 1e-12);
    e = detect("vllm-portion-0");
    assert_int_equal(e.cap_source, GF_CAP_GPU_PORTION);
    assert_true(isnan(e.cap));
}

static void test_other_engines(void **state)
{
    (void)state;
    gf_engine_info e = detect("sglang-0");
    assert_int_equal(e.kind, GF_ENGINE_SGLANG);
    assert_int_equal(e.cap_source, GF_CAP_FLAG);
    assert_true(fabs(e.cap - 0.8) < 1e-12);
    e = detect("tgi-0");
    assert_int_equal(e.kind, GF_ENGINE_TGI);
    assert_int_equal(e.cap_source, GF_CAP_ENV);
    assert_string_equal(e.knob, "CUDA_MEMORY_FRACTION");
    assert_true(fabs(e.cap - 0.5) < 1e-12);
    e = detect("tgi-default-0");
    assert_int_equal(e.cap_source, GF_CAP_DEFAULT);
    assert_true(fabs(e.cap - 1.0) < 1e-12);
    e = detect("trtllm-0");
    assert_int_equal(e.kind, GF_ENGINE_TRTLLM);
    assert_int_equal(e.memory, GF_MEM_PREALLOCATES);
    assert_int_equal(e.cap_source, GF_CAP_UNKNOWN);
    e = detect("torchserve-0");
    assert_int_equal(e.kind, GF_ENGINE_TORCHSERVE);
    assert_int_equal(e.memory, GF_MEM_HIGH_WATER);
    e = detect("embedder-0");
    assert_int_equal(e.kind, GF_ENGINE_GENERIC);
    assert_int_equal(e.memory, GF_MEM_FOLLOWS_LOAD);
    assert_int_equal(e.cap_source, GF_CAP_NONE);
}

/* gpufrac.io/engine names the engine (case-insensitive); an unknown name is
 * reported and detection decides */
static void test_annotation(void **state)
{
    (void)state;
    gf_engine_info e = detect("custom-0");
    assert_int_equal(e.kind, GF_ENGINE_SGLANG);
    assert_true(e.by_annotation);
    assert_int_equal(e.cap_source, GF_CAP_DEFAULT);
    gf_pod p = *pod("embedder-0");
    gf_kv kv = {GF_ENGINE_ANNOTATION, "llama.cpp"};
    p.annotations = (gf_kvs){&kv, 1};
    bool bad = false;
    gf_engine_detect(&p, &e, &bad);
    assert_true(bad);
    assert_int_equal(e.kind, GF_ENGINE_GENERIC);
    assert_false(e.by_annotation);
    gf_engine_kind k;
    assert_true(gf_engine_parse("TensorRT-LLM", &k) && k == GF_ENGINE_TRTLLM);
    assert_false(gf_engine_parse("vllm2", &k));
    assert_false(gf_engine_parse("", &k));
}

/* vLLM at its default 0.9 on a 0.5 fraction is configured to overrun, with
 * the exact fix; at a cap within the fraction, or following GPU_PORTION,
 * it is not; an engine without a cap never is */
static void test_overrun(void **state)
{
    (void)state;
    char msg[400];
    gf_engine_info e = detect("vllm-default-0");
    double f = gf_pod_share_on(pod("vllm-default-0"), 23000);
    assert_true(fabs(f - 0.5) < 1e-9);
    assert_true(gf_engine_overrun(&e, f, msg, sizeof msg));
    assert_non_null(strstr(msg, "--gpu-memory-utilization 0.9 (its default)"));
    assert_non_null(strstr(msg, "set --gpu-memory-utilization=$(GPU_PORTION) (or 0.50)"));
    e = detect("vllm-flag-0");
    assert_false(gf_engine_overrun(&e, 0.5, msg, sizeof msg));
    e = detect("vllm-portion-0");
    assert_false(gf_engine_overrun(&e, 0.5, msg, sizeof msg));
    e = detect("sglang-0"); /* 0.8 on 0.75 */
    assert_true(gf_engine_overrun(&e, 0.75, msg, sizeof msg));
    e = detect("tgi-default-0"); /* 1.0 on 0.25 */
    assert_true(gf_engine_overrun(&e, 0.25, msg, sizeof msg));
    assert_non_null(strstr(msg, "set --cuda-memory-fraction=$(GPU_PORTION) (or 0.25)"));
    e = detect("tgi-0"); /* 0.5 on 0.5 */
    assert_false(gf_engine_overrun(&e, 0.5, msg, sizeof msg));
    e = detect("torchserve-0");
    assert_false(gf_engine_overrun(&e, 0.05, msg, sizeof msg));
    e = detect("trtllm-0"); /* cap unknown: not judged */
    assert_false(gf_engine_overrun(&e, 0.5, msg, sizeof msg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_container_kept), cmocka_unit_test(test_vllm),
        cmocka_unit_test(test_other_engines),  cmocka_unit_test(test_annotation),
        cmocka_unit_test(test_overrun),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
