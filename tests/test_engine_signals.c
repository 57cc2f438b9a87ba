/* test_engine_signals.c - inference engines' own metrics on their way in
 * (io/usage.c: Prometheus answers by the engines' metric names, counters
 * into rates, the live queries; decide/recommend.c: into the history) and
 * the patch that moves an engine's cap with its fraction (io/kai_patch.c).
 * Answer shapes are Prometheus's (as in tests/fixtures/prom), series labels
 * the engines' (model_name, engine) plus those of Kubernetes service
 * discovery (namespace, pod, ...); tests/cli_engine_prometheus.sh runs the
 * same through a real Prometheus. */
#include "testutil.h"
#include "decide/recommend.h"
#include "io/kai_patch.h"
#include "io/usage.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VLLM_POD "chat-vllm-6b8f9c7d5e-q2x7k"
#define SD_LABELS                                                                                  \
    "\"namespace\":\"team-a\",\"pod\":\"" VLLM_POD "\",\"container\":\"vllm\",\"endpoint\":"       \
    "\"metrics\",\"instance\":\"10.244.1.40:8000\",\"job\":\"team-a/vllm\",\"service\":\"vllm\""

static gf_err load(gf_usage *u, const char *text, gf_usage_signal sig, gf_error *err)
{
    gf_diags d;
    gf_diags_init(&d);
    gf_err rc = gf_usage_load_prom_json(u, "prom.json", text, strlen(text), sig, &d, err);
    gf_diags_free(&d);
    return rc;
}

static void assert_has(const char *s, const char *needle)
{
    if (!strstr(s, needle)) fail_msg("'%s' lacks '%s'", s, needle);
}

static void test_by_name(void **state)
{
    (void)state;
    const char *text =
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
        "{\"metric\":{\"__name__\":\"vllm:kv_cache_usage_perc\"," SD_LABELS
        ",\"engine\":\"0\",\"model_name\":\"meta-llama/Llama-3.1-8B-Instruct\"},"
        "\"values\":[[1795507200,\"0.25\"],[1795507260,\"0.3125\"]]},"
        "{\"metric\":{\"__name__\":\"vllm:num_requests_waiting\"," SD_LABELS
        ",\"engine\":\"0\",\"model_name\":\"m\"},\"values\":[[1795507200,\"3\"]]},"
        "{\"metric\":{\"__name__\":\"sglang:token_usage\",\"namespace\":\"team-a\",\"pod\":\"sgl-"
        "0\","
        "\"model_name\":\"Qwen\",\"tp_rank\":\"0\"},\"values\":[[1795507200,\"0.9\"]]},"
        "{\"metric\":{\"__name__\":\"tgi_queue_size\",\"namespace\":\"team-b\",\"pod\":\"tgi-0\"},"
        "\"values\":[[1795507200,\"NaN\"],[1795507260,\"2\"]]},"
        "{\"metric\":{\"__name__\":\"vllm:num_preemptions_total\"," SD_LABELS
        ",\"engine\":\"0\",\"model_name\":\"m\"},"
        "\"values\":[[1795507200,\"10\"],[1795507260,\"16\"],[1795507320,\"16\"],"
        "[1795507380,\"3\"]]}]}}";
    gf_usage u;
    gf_usage_init(&u);
    gf_error err = {0};
    assert_int_equal(load(&u, text, GF_USAGE_BY_NAME, &err), GF_OK);
    assert_int_equal(u.samples.n, 0);
    /* kv 2, waiting 1, sglang kv 1, tgi 1 (one NaN), preempt 3 rates of 4 points */
    assert_int_equal(u.engine.n, 8);
    assert_int_equal(u.nan_skipped, 1);
    const gf_engine_sample *e = &u.engine.v[1];
    assert_string_equal(e->ns, "team-a");
    assert_string_equal(e->pod, VLLM_POD);
    assert_true(e->t == 1795507260 && e->kv_usage == 0.3125);
    assert_true(isnan(e->requests_waiting) && isnan(e->preempt_rate));
    assert_true(u.engine.v[2].requests_waiting == 3 && isnan(u.engine.v[2].kv_usage));
    assert_true(u.engine.v[3].kv_usage == 0.9);
    assert_string_equal(u.engine.v[4].pod, "tgi-0");
    assert_true(u.engine.v[4].requests_waiting == 2);
    /* 6 preemptions in a minute, none, then a restart: 3 since 0 */
    assert_true(fabs(u.engine.v[5].preempt_rate - 0.1) < 1e-12);
    assert_true(u.engine.v[5].t == 1795507260);
    assert_true(u.engine.v[6].preempt_rate == 0);
    assert_true(fabs(u.engine.v[7].preempt_rate - 0.05) < 1e-12);
    gf_usage_free(&u);
}

static void test_explicit_signals_and_errors(void **state)
{
    (void)state;
    /* what the live queries answer: aggregated per pod, no __name__ */
    const char *rate = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                       "{\"metric\":{\"namespace\":\"team-a\",\"pod\":\"" VLLM_POD "\"},"
                       "\"values\":[[1795507200,\"0.0166\"]]}]}}";
    gf_usage u;
    gf_usage_init(&u);
    gf_error err = {0};
    assert_int_equal(load(&u, rate, GF_USAGE_PREEMPT, &err), GF_OK);
    assert_int_equal(u.engine.n, 1);
    assert_true(u.engine.v[0].preempt_rate == 0.0166);
    assert_int_equal(load(&u, rate, GF_USAGE_KV, &err), GF_OK);
    assert_true(u.engine.v[1].kv_usage == 0.0166);
    assert_int_equal(load(&u, rate, GF_USAGE_WAITING, &err), GF_OK);
    assert_true(u.engine.v[2].requests_waiting == 0.0166);
    struct {
        const char *text;
        gf_usage_signal sig;
        const char *want;
    } bad[] = {
        /* a percentage is a unit mistake */
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
         "\"__name__\":\"vllm:kv_cache_usage_perc\",\"namespace\":\"a\",\"pod\":\"p\"},"
         "\"value\":[1795507200,\"30\"]}]}}",
         GF_USAGE_BY_NAME,
         "prom.json: data.result[0].value[1]: KV-cache use \"30\" is above 1 (KV-cache use is a "
         "share, 0..1; a percentage?)"},
        /* the pod labels of service discovery are needed */
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
         "\"__name__\":\"vllm:num_requests_waiting\",\"model_name\":\"m\"},"
         "\"value\":[1795507200,\"1\"]}]}}",
         GF_USAGE_BY_NAME, "no \"namespace\" label"},
        /* a raw counter read as a rate */
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
         "\"__name__\":\"vllm:num_preemptions_total\",\"namespace\":\"a\",\"pod\":\"p\"},"
         "\"value\":[1795507200,\"12\"]}]}}",
         GF_USAGE_PREEMPT,
         "series of vllm:num_preemptions_total in an answer read as preemptions per second"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
         "\"__name__\":\"vllm:num_requests_waiting\",\"namespace\":\"a\",\"pod\":\"p\"},"
         "\"value\":[1795507200,\"-1\"]}]}}",
         GF_USAGE_BY_NAME, "\"-1\" is negative"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
         "\"__name__\":\"vllm:num_requests_running\",\"namespace\":\"a\",\"pod\":\"p\"},"
         "\"value\":[1795507200,\"1\"]}]}}",
         GF_USAGE_BY_NAME, "__name__ \"vllm:num_requests_running\" is not a gpufrac usage metric"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gf_error e = {0};
        assert_int_equal(load(&u, bad[i].text, bad[i].sig, &e), GF_EINPUT);
        char msg[1200];
        gf_error_format(&e, msg, sizeof msg);
        assert_has(msg, bad[i].want);
    }
    gf_usage_free(&u);
}

/* TensorRT-LLM in Triton (tensorrtllm_backend README "Triton Metrics"): one
 * family per kind of gauge, the label says which; a raw answer of the whole
 * families, as Triton exposes them, gives the KV fraction and the waiting
 * requests and nothing of the block counts or the other request states. */
static void test_trtllm_by_label(void **state)
{
    (void)state;
#define TRT_LABELS                                                                                 \
    "\"namespace\":\"team-c\",\"pod\":\"trt-0\",\"model\":\"tensorrt_llm\",\"version\":\"1\""
    const char *text =
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
        "{\"metric\":{\"__name__\":\"nv_trt_llm_kv_cache_block_metrics\"," TRT_LABELS
        ",\"kv_cache_block_type\":\"fraction\"},\"values\":[[1795507200,\"0.4875\"]]},"
        "{\"metric\":{\"__name__\":\"nv_trt_llm_kv_cache_block_metrics\"," TRT_LABELS
        ",\"kv_cache_block_type\":\"max\"},\"values\":[[1795507200,\"6239\"]]},"
        "{\"metric\":{\"__name__\":\"nv_trt_llm_kv_cache_block_metrics\"," TRT_LABELS
        ",\"kv_cache_block_type\":\"used\"},\"values\":[[1795507200,\"3041\"]]},"
        "{\"metric\":{\"__name__\":\"nv_trt_llm_request_metrics\"," TRT_LABELS
        ",\"request_type\":\"waiting\"},\"values\":[[1795507200,\"4\"]]},"
        "{\"metric\":{\"__name__\":\"nv_trt_llm_request_metrics\"," TRT_LABELS
        ",\"request_type\":\"max\"},\"values\":[[1795507200,\"512\"]]}]}}";
    gf_usage u;
    gf_usage_init(&u);
    gf_error err = {0};
    if (load(&u, text, GF_USAGE_BY_NAME, &err)) fail_msg("%s: %s", err.where, err.msg);
    assert_int_equal(u.engine.n, 2);
    assert_string_equal(u.engine.v[0].pod, "trt-0");
    assert_true(u.engine.v[0].kv_usage == 0.4875 && isnan(u.engine.v[0].requests_waiting));
    assert_true(u.engine.v[1].requests_waiting == 4 && isnan(u.engine.v[1].kv_usage));
    /* read as one signal, another of the family's gauges is a selector mistake */
    const char *used = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                       "{\"metric\":{\"__name__\":\"nv_trt_llm_kv_cache_block_metrics\"," TRT_LABELS
                       ",\"kv_cache_block_type\":\"used\"},\"value\":[1795507200,\"3041\"]}]}}";
    gf_error e = {0};
    assert_int_equal(load(&u, used, GF_USAGE_KV, &e), GF_EINPUT);
    assert_has(e.msg, "series of nv_trt_llm_kv_cache_block_metrics in an answer read as KV-cache "
                      "use is not that signal");
    assert_has(e.where, "data.result[0].metric");
#undef TRT_LABELS
    gf_usage_free(&u);
}

static void test_live_queries(void **state)
{
    (void)state;
    char q[400];
    assert_true(gf_prom_engine_query(GF_USAGE_KV, 15, q, sizeof q));
    assert_string_equal(q,
                        "max by (namespace, pod) ({__name__=~\"vllm:kv_cache_usage_perc|"
                        "vllm:gpu_cache_usage_perc|sglang:token_usage|"
                        "nv_trt_llm_kv_cache_block_metrics\", kv_cache_block_type=~\"|fraction\", "
                        "namespace!=\"\"})");
    assert_true(gf_prom_engine_query(GF_USAGE_WAITING, 15, q, sizeof q));
    assert_string_equal(q, "sum by (namespace, pod) ({__name__=~\"vllm:num_requests_waiting|"
                           "sglang:num_queue_reqs|tgi_queue_size|nv_trt_llm_request_metrics\", "
                           "request_type=~\"|waiting\", namespace!=\"\"})");
    assert_true(gf_prom_engine_query(GF_USAGE_PREEMPT, 15, q, sizeof q));
    assert_has(q, "rate({__name__=~\"vllm:num_preemptions_total|"
                  "sglang:num_retracted_requests_total\", namespace!=\"\"}[300s])");
    /* a coarse step widens the rate window to a whole step */
    assert_true(gf_prom_engine_query(GF_USAGE_PREEMPT, 3600, q, sizeof q));
    assert_has(q, "[3600s]");
    assert_false(gf_prom_engine_query(GF_USAGE_MEMORY, 15, q, sizeof q));
}

static void test_ingest_engine(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(gf_test_load(&m, &d, &err, "engines/cluster.json"), GF_OK);
    gf_history h;
    assert_int_equal(gf_history_init(&h, NULL, &err), GF_OK);
    const gf_engine_sample s[] = {
        {1795507200, "team-a", VLLM_POD, 0.3, 0, NAN},
        {1795507260, "team-a", "chat-vllm-6b8f9c7d5e-zzzzz", 0.4, NAN, 0.5}, /* by its name */
        {1795507260, "team-x", "stray", 0.4, 1, 1},
        {1795507100, "team-a", VLLM_POD, 0.9, 9, 9}, /* before `after` */
    };
    gf_ingest_stats st;
    assert_int_equal(gf_recommend_ingest_engine(&m, &h, s, 4, 1795507150, &st, &err), GF_OK);
    assert_int_equal(st.added, 4);
    assert_int_equal(st.unmatched, 1);
    assert_int_equal(st.old, 1);
    assert_int_equal(st.by_name, 1);
    const gf_hist_series *x = gf_history_find(&h, "team-a/Deployment/chat-vllm");
    assert_non_null(x);
    assert_int_equal(x->track[GF_SIG_KV].samples, 2);
    assert_true(x->track[GF_SIG_KV].max_value == 0.4);
    assert_int_equal(x->track[GF_SIG_WAITING].samples, 1);
    assert_int_equal(x->track[GF_SIG_PREEMPT].samples, 1);
    assert_int_equal(x->track[GF_SIG_MEMORY].samples, 0);
    /* a value the history refuses names the pod */
    const gf_engine_sample bad = {1795507300, "team-a", VLLM_POD, 1.5, NAN, NAN};
    assert_int_equal(gf_recommend_ingest_engine(&m, &h, &bad, 1, 0, &st, &err), GF_EINPUT);
    assert_has(err.where, "engine sample of pod team-a/" VLLM_POD);
    assert_has(err.msg, "kv sample 1.5 is above 1");
    gf_history_free(&h);
    gf_model_free(&m);
    gf_diags_free(&d);
}

static char *patch_text(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static void test_cap_patch(void **state)
{
    (void)state;
    struct {
        const char *argv[8];
        uint32_t argc, cmd_n;
        const char *knob;
        double cap;
        const char *want;
    } cases[] = {
        /* vLLM's image: the flag and its value as two args */
        {{"--model", "m", "--gpu-memory-utilization", "0.9"},
         4,
         0,
         "--gpu-memory-utilization",
         0.35,
         "{\"args\":[\"--model\",\"m\",\"--gpu-memory-utilization\",\"0.35\"],\"name\":\"c\"}"},
        /* --flag=value, underscores as vLLM accepts them */
        {{"vllm", "serve", "m", "--gpu_memory_utilization=0.9"},
         4,
         2,
         "--gpu-memory-utilization",
         0.5,
         "{\"args\":[\"m\",\"--gpu_memory_utilization=0.5\"],\"name\":\"c\"}"},
        /* vLLM's Kubernetes guide: a shell script */
        {{"/bin/sh", "-c", "vllm serve m --gpu-memory-utilization 0.9 --port 8000"},
         3,
         3,
         "--gpu-memory-utilization",
         0.25,
         "{\"command\":[\"/bin/sh\",\"-c\",\"vllm serve m --gpu-memory-utilization 0.25 --port "
         "8000\"],\"name\":\"c\"}"},
        /* the flag in the command, its value the first arg */
        {{"python3", "-m", "sglang.launch_server", "--mem-fraction-static", "0.8", "--port"},
         6,
         4,
         "--mem-fraction-static",
         0.45,
         "{\"args\":[\"0.45\",\"--port\"],\"name\":\"c\"}"},
        /* a gpu-memory allocation's share, rounded down: never above it */
        {{"--cuda-memory-fraction", "1.0"},
         2,
         0,
         "--cuda-memory-fraction",
         5888.0 / 23034.0,
         "{\"args\":[\"--cuda-memory-fraction\",\"0.255\"],\"name\":\"c\"}"},
        /* a longer flag with the same start is not it */
        {{"--gpu-memory-utilization-x", "1", "--gpu-memory-utilization", "0.9"},
         4,
         0,
         "--gpu-memory-utilization",
         0.3,
         "{\"args\":[\"--gpu-memory-utilization-x\",\"1\",\"--gpu-memory-utilization\",\"0.3\"],"
         "\"name\":\"c\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gf_error err = {0};
        json_t *c = gf_kai_engine_cap_container("c", cases[i].knob, false, cases[i].argv,
                                                cases[i].argc, cases[i].cmd_n, cases[i].cap, &err);
        if (!c) fail_msg("case %zu: %s", i, err.msg);
        char *s = patch_text(c);
        if (strcmp(s, cases[i].want)) fail_msg("case %zu: %s", i, s);
        free(s);
    }
    /* TGI's variable: env merges by name */
    gf_error err = {0};
    char *s = patch_text(
        gf_kai_engine_cap_container("tgi", "CUDA_MEMORY_FRACTION", true, NULL, 0, 0, 0.3, &err));
    assert_string_equal(s, "{\"env\":[{\"name\":\"CUDA_MEMORY_FRACTION\",\"value\":\"0.3\"}],"
                           "\"name\":\"tgi\"}");
    free(s);
    /* no such flag, or no container: no patch, and why */
    const char *argv[] = {"--model", "m"};
    assert_null(
        gf_kai_engine_cap_container("c", "--gpu-memory-utilization", false, argv, 2, 0, 0.3, &err));
    assert_has(err.msg, "no --gpu-memory-utilization value in the container's command or args");
    assert_null(gf_kai_engine_cap_container(NULL, "--gpu-memory-utilization", false, argv, 2, 0,
                                            0.3, &err));
    /* the whole patch: annotation and container together */
    const char *a2[] = {"--gpu-memory-utilization", "0.5"};
    json_t *c = gf_kai_engine_cap_container("vllm", "--gpu-memory-utilization", false, a2, 2, 0,
                                            0.35, &err);
    s = patch_text(gf_kai_resize_with_cap_strategic("gpu-fraction", "0.35", false, c));
    assert_string_equal(s, "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gpu-"
                           "fraction\":\"0.35\"}},\"spec\":{\"containers\":[{\"args\":[\"--gpu-"
                           "memory-utilization\",\"0.35\"],\"name\":\"vllm\"}]}}}}");
    free(s);
}

/* The model keeps the GPU container as the template writes it, so the patch
 * can be made from it. */
static void test_model_keeps_the_container(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(gf_test_load(&m, &d, &err, "engines/cluster.json"), GF_OK);
    gf_policy p;
    gf_policy_init(&p);
    gf_history h;
    assert_int_equal(gf_history_init(&h, NULL, &err), GF_OK);
    gf_recommendations recs = {0};
    assert_int_equal(gf_recommend_model(&m, &h, &p, 1795507200, &recs, &err), GF_OK);
    bool seen = false;
    for (size_t i = 0; i < recs.n; i++) {
        const gf_rec_input *in = &recs.v[i].in;
        if (strcmp(in->name, "sgl")) continue;
        seen = true;
        assert_int_equal(in->engine.kind, GF_ENGINE_SGLANG);
        assert_int_equal(in->engine.cap_source, GF_CAP_FLAG);
        assert_string_equal(in->engine_container, "sglang");
        assert_false(in->engine_container_init);
        assert_int_equal(in->engine_cmd_n, 3);
        assert_int_equal(in->engine_argc, 11);
        assert_string_equal(in->engine_argv[5], "--mem-fraction-static=0.4");
    }
    assert_true(seen);
    gf_vec_free(&recs);
    gf_history_free(&h);
    gf_policy_free(&p);
    gf_model_free(&m);
    gf_diags_free(&d);
}

/* gpufrac.io/engine-base-memory on the pod: a quantity, or -1 when it is not one. */
static void test_base_annotation(void **state)
{
    (void)state;
    const char *values[] = {"14Gi", "lots", NULL};
    const double want[] = {14.0 * 1073741824.0, -1, 0};
    for (int i = 0; i < 3; i++) {
        json_error_t je;
        json_t *root = json_load_file(gf_test_fixture("engines/cluster.json"), 0, &je);
        assert_non_null(root);
        size_t k;
        json_t *it;
        json_array_foreach(json_object_get(root, "items"), k, it)
        {
            json_t *meta = json_object_get(it, "metadata");
            const char *name = json_string_value(json_object_get(meta, "name"));
            if (values[i] && !strcmp(json_string_value(json_object_get(it, "kind")), "Pod") &&
                !strncmp(name, "chat-vllm", 9))
                json_object_set_new(json_object_get(meta, "annotations"), GF_ENGINE_BASE_ANNOTATION,
                                    json_string(values[i]));
        }
        char *text = json_dumps(root, 0);
        json_decref(root);
        gf_model m;
        gf_model_init(&m);
        gf_diags d;
        gf_diags_init(&d);
        gf_error err = {0};
        assert_int_equal(gf_test_load_text(&m, &d, &err, text), GF_OK);
        free(text);
        gf_policy p;
        gf_policy_init(&p);
        gf_recommendations recs = {0};
        assert_int_equal(gf_recommend_model(&m, NULL, &p, 1795507200, &recs, &err), GF_OK);
        bool seen = false;
        for (size_t r = 0; r < recs.n; r++) {
            if (strcmp(recs.v[r].in.name, "chat-vllm")) continue;
            seen = true;
            assert_true(recs.v[r].in.engine_base_bytes == want[i]);
        }
        assert_true(seen);
        gf_vec_free(&recs);
        gf_policy_free(&p);
        gf_model_free(&m);
        gf_diags_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_name),
        cmocka_unit_test(test_explicit_signals_and_errors),
        cmocka_unit_test(test_trtllm_by_label),
        cmocka_unit_test(test_live_queries),
        cmocka_unit_test(test_ingest_engine),
        cmocka_unit_test(test_cap_patch),
        cmocka_unit_test(test_model_keeps_the_container),
        cmocka_unit_test(test_base_annotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
