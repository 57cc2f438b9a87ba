/* test_snapshot.c - loading kubectl JSON into the model: good and bad input. */
#include "testutil.h"
#include "util/sbuf.h"
#include "io/snapshot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fx {
    gf_model m;
    gf_diags d;
    gf_error err;
} fx;

static int setup(void **state)
{
    fx *f = test_calloc(1, sizeof *f);
    gf_model_init(&f->m);
    gf_diags_init(&f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    gf_model_free(&f->m);
    gf_diags_free(&f->d);
    test_free(f);
    return 0;
}

static const gf_node *node_named(const gf_model *m, const char *name)
{
    size_t i;
    if (!gf_strmap_get(&m->node_by_name, name, &i)) return NULL;
    return &m->nodes.v[i];
}

static const gf_pod *pod_named(const gf_model *m, const char *ns, const char *name)
{
    long i = gf_test_pod(m, ns, name);
    return i < 0 ? NULL : &m->pods.v[i];
}

static void test_list_nodes(void **state)
{
    fx *f = *state;
    assert_int_equal(gf_test_load(&f->m, &f->d, &f->err, "kai-small.json"), GF_OK);
    assert_int_equal(f->m.nodes.n, 4);
    const gf_node *n = node_named(&f->m, "gpu-l4-a");
    assert_non_null(n);
    assert_int_equal(n->cpu_milli, 31850);
    assert_int_equal(n->memory_bytes, 128801200LL * 1024);
    assert_int_equal(n->gpu_count, 4);
    assert_string_equal(n->gpu_product, "NVIDIA-L4");
    assert_int_equal(n->gpu_memory_mib, 23000); /* label 23034, floored as KAI does */
    assert_true(n->gpu_memory_from_label);
    assert_string_equal(f->m.pools.v[n->pool], "inference");
    const gf_node *t4 = node_named(&f->m, "gpu-t4-a");
    assert_string_equal(f->m.pools.v[t4->pool], "default");
    assert_int_equal(t4->n_taints, 1);
    assert_string_equal(t4->taints[0].key, "nvidia.com/gpu");
    assert_string_equal(t4->taints[0].effect, "NoSchedule");
    const gf_node *cpu = node_named(&f->m, "cpu-a");
    assert_int_equal(cpu->gpu_count, 0);
    assert_null(cpu->gpu_product);
    /* the Service was skipped with a warning naming where it was */
    assert_true(gf_test_diag_has(&f->d, "items[22]: kind Service is not used"));
}

static void test_list_pods(void **state)
{
    fx *f = *state;
    assert_int_equal(gf_test_load(&f->m, &f->d, &f->err, "kai-small.json"), GF_OK);
    const gf_pod *p = pod_named(&f->m, "team-a", "llm-chat-7d9f8b6c5d-x2lqf");
    assert_non_null(p);
    assert_int_equal(p->share, GF_SHARE_FRACTION);
    assert_true(p->gpu_fraction == 0.5);
    assert_int_equal(p->gpu_devices, 1);
    assert_string_equal(p->gpu_group, "1f0e4c52-9a6b-4f8e-b1d2-7c3e5a9d0b11");
    assert_string_equal(p->queue, "team-a");
    assert_string_equal(p->scheduler_name, "kai-scheduler");
    assert_int_equal(p->phase, GF_PHASE_RUNNING);
    assert_int_equal(p->cpu_milli, 2000);
    assert_int_equal(p->memory_bytes, 8LL << 30);
    assert_int_equal(p->n_tolerations, 2);
    /* ReplicaSet in the input -> its Deployment */
    const gf_workload *w = gf_model_pod_workload(&f->m, p);
    assert_non_null(w);
    assert_string_equal(w->kind, "Deployment");
    assert_string_equal(w->name, "llm-chat");
    assert_false(w->inferred);

    /* ReplicaSet not in the input -> Deployment by the pod-template-hash convention */
    p = pod_named(&f->m, "team-a", "embedder-5f6c7d8e9a-p0d7z");
    w = gf_model_pod_workload(&f->m, p);
    assert_string_equal(w->kind, "Deployment");
    assert_string_equal(w->name, "embedder");
    assert_true(w->inferred);

    p = pod_named(&f->m, "team-b", "ocr-6b7c8d9e0f-mm3rt");
    assert_int_equal(p->share, GF_SHARE_MEMORY);
    assert_int_equal(p->gpu_memory_mib, 11517);

    p = pod_named(&f->m, "team-b", "reranker-9a8b7c6d5e-q4v1n");
    assert_int_equal(p->gpu_devices, 2);
    assert_int_equal(p->n_extra_groups, 1);
    assert_string_equal(p->extra_groups[0], "4d9f2a35-7e6d-4f8c-a04b-5d3e9c8f1a44");

    /* limits stand in for absent requests */
    p = pod_named(&f->m, "team-c", "train-1");
    assert_int_equal(p->cpu_milli, 8000);
    assert_int_equal(p->gpu_whole, 1);
    assert_int_equal(p->priority, 1000);
    assert_string_equal(p->priority_class, "train-high");
    w = gf_model_pod_workload(&f->m, p);
    assert_string_equal(w->kind, "StatefulSet");

    p = pod_named(&f->m, "team-a", "llm-big-8c7d6e5f4a-a1b2c");
    assert_int_equal(p->phase, GF_PHASE_PENDING);
    assert_null(p->node_name);
    assert_int_equal(p->node, GF_NONE);
    assert_int_equal(p->n_gpu_models, 2);
    assert_string_equal(p->gpu_models[0], "NVIDIA-L4");
    assert_string_equal(p->gpu_models[1], "NVIDIA-A10");

    p = pod_named(&f->m, "kai-resource-reservation", "gpu-reservation-gpu-l4-a-2a7d9");
    assert_non_null(p);
    assert_true(p->is_reservation);
    assert_string_equal(p->reserve_gpu, "1"); /* opaque: KAI writes the GPU UUID */

    p = pod_named(&f->m, "team-a", "debug-shell");
    assert_null(gf_model_pod_workload(&f->m, p));
}

/* The same objects as typed lists from the API server (items without kind),
 * pods before nodes, give the same GPU view. */
static void test_typed_lists_and_several_files(void **state)
{
    fx *f = *state;
    char pods[4096], nodes[4096];
    snprintf(pods, sizeof pods, "%s", gf_test_fixture("kai-small-pods.json"));
    snprintf(nodes, sizeof nodes, "%s", gf_test_fixture("kai-small-nodes.json"));
    char *paths[] = {pods, nodes};
    assert_int_equal(gf_snapshot_load_files(&f->m, paths, 2, &f->d, &f->err), GF_OK);

    gf_model ref;
    gf_model_init(&ref);
    assert_int_equal(gf_test_load(&ref, NULL, &f->err, "kai-small.json"), GF_OK);
    assert_int_equal(f->m.gpus.n, ref.gpus.n);
    for (size_t i = 0; i < ref.gpus.n; i++) {
        assert_int_equal(f->m.gpus.v[i].state, ref.gpus.v[i].state);
        assert_true(f->m.gpus.v[i].allocated_fraction == ref.gpus.v[i].allocated_fraction);
        assert_int_equal(f->m.gpus.v[i].n_pods, ref.gpus.v[i].n_pods);
    }
    gf_totals a, b;
    gf_model_totals(&f->m, GF_NONE, &a);
    gf_model_totals(&ref, GF_NONE, &b);
    assert_memory_equal(&a, &b, sizeof a);
    gf_model_free(&ref);
}

static void test_single_object(void **state)
{
    fx *f = *state;
    const char *json = "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\","
                       "\"labels\":{\"nvidia.com/gpu.count\":\"2\",\"nvidia.com/gpu.product\":"
                       "\"NVIDIA-A10\"}},\"status\":{\"capacity\":{\"cpu\":\"16\",\"memory\":"
                       "\"64Gi\"}}}";
    assert_int_equal(gf_test_load_text(&f->m, &f->d, &f->err, json), GF_OK);
    assert_int_equal(f->m.nodes.n, 1);
    /* no allocatable: capacity; no nvidia.com/gpu resource: the GFD count label */
    assert_int_equal(f->m.nodes.v[0].cpu_milli, 16000);
    assert_int_equal(f->m.nodes.v[0].gpu_count, 2);
    /* no memory label: KAI counts 100 MiB per GPU; the product table only
     * fills the display */
    assert_int_equal(f->m.nodes.v[0].gpu_memory_mib, 100);
    assert_int_equal(f->m.nodes.v[0].gpu_memory_display_mib, 23028);
    assert_false(f->m.nodes.v[0].gpu_memory_from_label);
}

static void test_duplicates_skipped(void **state)
{
    fx *f = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s", gf_test_fixture("kai-small.json"));
    char *paths[] = {path, path};
    assert_int_equal(gf_snapshot_load_files(&f->m, paths, 2, &f->d, &f->err), GF_OK);
    assert_int_equal(f->m.nodes.n, 4);
    assert_true(gf_test_diag_has(&f->d, "node gpu-l4-a already loaded from"));
    assert_true(gf_test_diag_has(&f->d, "duplicate skipped"));
}

/* --- bad input --------------------------------------------------------- */

typedef struct bad_case {
    const char *json;
    const char *where; /* substring of err.where */
    const char *msg;   /* substring of err.msg */
} bad_case;

#define NODE_OK                                                                                    \
    "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"labels\":{\"nvidia.com/gpu.memory\":"      \
    "\"23034\"}},\"status\":{\"allocatable\":{\"cpu\":\"8\",\"memory\":\"32Gi\","                  \
    "\"nvidia.com/gpu\":\"2\"}}}"
#define LIST(...) "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[" __VA_ARGS__ "]}"
#define POD(meta, spec)                                                                            \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\",\"namespace\":\"ns1\"" meta "},"              \
    "\"spec\":{\"containers\":[{\"name\":\"c\"" spec "}]},\"status\":{\"phase\":\"Running\"}}"

static const bad_case bad_cases[] = {
    {"{\"kind\":\"List\",\"items\":[{\"kind\":\"Node\",", "inline.json", "invalid JSON"},
    {"", "inline.json", "invalid JSON"},
    {"[1,2]", "(top level)", "expected a Kubernetes object or List, got an array"},
    {"{\"kind\":\"List\"}", "items", "needs an items array"},
    {LIST("42"), "items[0]", "expected an object, got an integer"},
    {LIST("{\"metadata\":{}}"), "items[0]", "object without kind"},
    {LIST("{\"kind\":\"Node\",\"metadata\":{\"labels\":[]}}"), "items[0].metadata",
     "node without metadata.name"},
    {LIST("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\",\"labels\":[]}}"),
     "items[0].metadata.labels", "expected an object, got an array"},
    {LIST("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":1}}}"),
     "items[0].metadata.labels.a", "expected a string, got an integer"},
    {LIST("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"},\"status\":{\"allocatable\":"
          "{\"memory\":\"-1Gi\"}}}"),
     "items[0].status.allocatable.memory", "negative quantity"},
    {LIST("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"},\"status\":{\"allocatable\":"
          "{\"cpu\":\"4 cores\"}}}"),
     "items[0].status.allocatable.cpu", "bad quantity \"4 cores\""},
    {LIST(NODE_OK ", " POD("", ",\"resources\":{\"requests\":{\"memory\":\"-2Gi\"}}")),
     "items[1].spec.containers[0].resources.requests.memory", "pod ns1/p1: negative quantity"},
    {LIST(NODE_OK ", " POD("", ",\"resources\":{\"requests\":{\"memory\":\"1Gb\"}}")),
     "spec.containers[0].resources.requests.memory", "bad quantity \"1Gb\""},
    {LIST(NODE_OK ", " POD("", ",\"resources\":{\"limits\":{\"cpu\":true}}")),
     "spec.containers[0].resources.limits.cpu", "expected a quantity string, got a boolean"},
    {LIST(NODE_OK ", " POD(",\"ownerReferences\":[{\"kind\":\"ReplicaSet\"}]", "")),
     "items[1].metadata.ownerReferences[0]", "ownerReference without kind or name"},
    {LIST("{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"spec\":{\"replicas\":-3}}"),
     "items[0].spec.replicas", "-3 is outside"},
};

/* One odd object inside a good snapshot: skipped with one warning naming it
 * and the field, counted by reason, and the load goes on (the rest of the
 * snapshot is there: node n1 and, when given, pod ok). */
typedef struct skip_case {
    const char *json;
    const char *warning; /* substring of the one warning */
    gf_skip_reason reason;
} skip_case;

#define POD_OK                                                                                     \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"ok\",\"namespace\":\"ns1\",\"annotations\":"       \
    "{\"gpu-fraction\":\"0.5\"}},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\"}]}" \
    ","                                                                                            \
    "\"status\":{\"phase\":\"Running\"}}"

static const skip_case skip_cases[] = {
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-fraction\":\"1.5\"}", "") ", " POD_OK),
     "items[1].metadata.annotations[\"gpu-fraction\"]: pod ns1/p1: gpu-fraction \"1.5\": must be "
     "below 1",
     GF_SKIP_KAI_ANNOTATION},
    /* the webhook refuses 1.0 (gpu_request_validator.go) */
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-fraction\":\"1\"}", "") ", " POD_OK),
     "pod ns1/p1: gpu-fraction \"1\": must be below 1", GF_SKIP_KAI_ANNOTATION},
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-fraction\":\"NaN\"}", "") ", " POD_OK),
     "annotations[\"gpu-fraction\"]: pod ns1/p1: gpu-fraction \"NaN\": not a finite number",
     GF_SKIP_KAI_ANNOTATION},
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-fraction\":\"0\"}", "") ", " POD_OK),
     "annotations[\"gpu-fraction\"]: pod ns1/p1: gpu-fraction \"0\": must be above 0",
     GF_SKIP_KAI_ANNOTATION},
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-memory\":\"-512\"}", "") ", " POD_OK),
     "annotations[\"gpu-memory\"]: pod ns1/p1: gpu-memory \"-512\" (MiB): must be positive",
     GF_SKIP_KAI_ANNOTATION},
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-memory\":\"4Gi\"}", "") ", " POD_OK),
     "annotations[\"gpu-memory\"]: pod ns1/p1: gpu-memory \"4Gi\" (MiB): not an integer",
     GF_SKIP_KAI_ANNOTATION},
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-fraction\":\"0.5\",\"gpu-memory\":\"100\"}",
                           "") ", " POD_OK),
     "items[1].metadata.annotations[\"gpu-memory\"]: pod ns1/p1: both gpu-fraction and gpu-memory",
     GF_SKIP_KAI_ANNOTATION},
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-fraction\":\"0.5\","
                           "\"gpu-fraction-num-devices\":\"0\"}",
                           "") ", " POD_OK),
     "annotations[\"gpu-fraction-num-devices\"]: pod ns1/p1: gpu-fraction-num-devices \"0\": must "
     "be positive",
     GF_SKIP_KAI_ANNOTATION},
    {LIST(NODE_OK ", " POD(",\"annotations\":{\"gpu-fraction\":\"0.5\"}",
                           ",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}") ", " POD_OK),
     "annotations[\"gpu-fraction\"]: pod ns1/p1: gpu-fraction together with a whole nvidia.com/gpu "
     "limit",
     GF_SKIP_KAI_ANNOTATION},
    {LIST(NODE_OK ", {\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"x\"},\"spec\":"
                  "{\"nodeName\":\"ghost\"},\"status\":{\"phase\":\"Running\"}}, " POD_OK),
     "items[1]: spec.nodeName: pod x/p is bound to node ghost, which is not in the input; pod "
     "skipped",
     GF_SKIP_NODE_MISSING},
    {LIST(NODE_OK
          ", {\"kind\":\"Node\",\"metadata\":{\"name\":\"c1\"}}, "
          "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"x\",\"labels\":"
          "{\"runai-gpu-group\":\"g\"},\"annotations\":{\"gpu-fraction\":\"0.5\"}},\"spec\":"
          "{\"nodeName\":\"c1\"},\"status\":{\"phase\":\"Running\"}}, " POD_OK),
     "items[2]: spec.nodeName: pod x/p uses GPUs but its node c1 has none", GF_SKIP_NO_GPU_NODE},
};

/* A node label KAI cannot read is KAI's default, with a warning: no error. */
static void test_odd_node_labels(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json = LIST(
        "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\",\"labels\":{\"nvidia.com/gpu.memory\":"
        "\"lots\",\"nvidia.com/gpu.count\":\"two\"}},\"status\":{\"allocatable\":"
        "{\"nvidia.com/gpu\":\"2\"}}}");
    assert_int_equal(gf_test_load_text(&m, &d, &err, json), GF_OK);
    assert_int_equal(m.nodes.v[0].gpu_memory_mib, 100);
    assert_int_equal(m.nodes.v[0].gpu_count, 2);
    assert_true(gf_test_diag_has(&d, "items[0].metadata.labels[\"nvidia.com/gpu.memory\"]: node n: "
                                     "GPU memory \"lots\" is not an integer; KAI counts 100 MiB"));
    assert_true(gf_test_diag_has(&d, "items[0].metadata.labels[\"nvidia.com/gpu.count\"]: node n: "
                                     "GPU count \"two\": not an integer; allocatable"));
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* One pod's group labels are read up to GF_KAI_MAX_GROUPS, with a warning:
 * bounded work whatever one object holds. */
static void test_group_labels_bounded(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_puts(&b, LIST(NODE_OK));
    b.len -= 2; /* reopen the items array */
    gf_sbuf_puts(&b,
                 ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"t\","
                 "\"annotations\":{\"gpu-fraction\":\"0.5\",\"gpu-fraction-num-devices\":\"2\"},"
                 "\"labels\":{");
    for (int i = 0; i < 1000; i++)
        gf_sbuf_printf(&b, "%s\"runai-gpu-group/g%d\":\"g%d\"", i ? "," : "", i, i);
    gf_sbuf_puts(&b, "}},\"spec\":{\"containers\":[{\"name\":\"c\"}]},"
                     "\"status\":{\"phase\":\"Pending\"}}]}");
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(gf_test_load_text(&m, &d, &err, gf_sbuf_str(&b)), GF_OK);
    assert_int_equal(m.pods.v[0].n_extra_groups, GF_KAI_MAX_GROUPS);
    assert_true(gf_test_diag_has(&d, "more than 64 runai-gpu-group/<g> labels; the rest ignored"));
    gf_diags_free(&d);
    gf_model_free(&m);
    gf_sbuf_free(&b);
}

static void test_odd_object_skipped(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof skip_cases / sizeof skip_cases[0]; i++) {
        gf_model m;
        gf_model_init(&m);
        gf_diags d;
        gf_diags_init(&d);
        gf_error err = {0};
        gf_err rc = gf_test_load_text(&m, &d, &err, skip_cases[i].json);
        if (rc != GF_OK) fail_msg("case %zu: rc=%d %s: %s", i, rc, err.where, err.msg);
        size_t hits = 0;
        for (size_t k = 0; k < d.msgs.n; k++)
            hits += strstr(d.msgs.v[k], skip_cases[i].warning) != NULL;
        if (hits != 1) {
            for (size_t k = 0; k < d.msgs.n; k++)
                print_message("  warning: %s\n", d.msgs.v[k]);
            fail_msg("case %zu: %zu warnings like '%s'", i, hits, skip_cases[i].warning);
        }
        for (int r = 0; r < GF_SKIP_COUNT; r++)
            assert_int_equal(m.skipped[r], r == (int)skip_cases[i].reason ? 1 : 0);
        /* the odd pod is gone, the good one is there and placed */
        assert_int_equal(gf_test_pod(&m, "ns1", "p1"), -1);
        assert_int_equal(gf_test_pod(&m, "x", "p"), -1);
        long ok = gf_test_pod(&m, "ns1", "ok");
        assert_true(ok >= 0);
        assert_int_equal(m.pods.v[ok].n_gpus, 1);
        assert_true(m.finalized);
        gf_diags_free(&d);
        gf_model_free(&m);
    }
}

/* What the stall rule reads (decide/controller.c detect_stalls): a pod's
 * creationTimestamp and KAI's PodScheduled/Unschedulable condition, a
 * ReplicaSet's ReplicaFailure/FailedCreate; a timestamp that is not RFC
 * 3339 is a warning naming the field, read as absent, the pod kept. */
static void test_status_conditions(void **state)
{
    (void)state;
    const char *json =
        "{\"kind\":\"List\",\"items\":["
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\","
        "\"creationTimestamp\":\"2026-11-26T13:00:00Z\"},\"spec\":{\"containers\":[]},"
        "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
        "\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":\"no room\"}]}},"
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\",\"namespace\":\"n\","
        "\"creationTimestamp\":\"yesterday\"},\"spec\":{\"containers\":[]},"
        "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
        "\"status\":\"False\",\"reason\":\"BindingError\"},7,{\"type\":3}]}},"
        "{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"r\",\"namespace\":\"n\"},\"spec\":{},"
        "\"status\":{\"conditions\":[{\"type\":\"ReplicaFailure\",\"status\":\"True\","
        "\"reason\":\"FailedCreate\",\"message\":\"exceeded quota\"}]}},"
        "{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},\"spec\":{},"
        "\"status\":{\"conditions\":[{\"type\":\"ReplicaFailure\",\"status\":\"False\","
        "\"reason\":\"FailedCreate\"}]}}]}";
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    if (gf_test_load_text(&m, &d, &err, json)) fail_msg("load: %s: %s", err.where, err.msg);
    const gf_pod *a = pod_named(&m, "n", "a"), *b = pod_named(&m, "n", "b");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a->unschedulable);
    assert_true(fabs(a->created_t - 1795698000.0) < 1e-6); /* 2026-11-26T13:00:00Z */
    assert_false(b->unschedulable);
    assert_true(b->created_t == 0);
    assert_true(gf_test_diag_has(&d, "metadata.creationTimestamp"));
    assert_true(gf_test_diag_has(&d, "pod n/b"));
    size_t r, q;
    assert_true(gf_strmap_get(&m.workload_by_key, "ReplicaSet/n/r", &r));
    assert_true(gf_strmap_get(&m.workload_by_key, "ReplicaSet/n/q", &q));
    assert_string_equal(m.workloads.v[r].failed_create, "exceeded quota");
    assert_null(m.workloads.v[q].failed_create);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* Deployment spec.strategy: maxSurge and maxUnavailable as a percentage or
 * a count; a value the API server would refuse is read as absent (-1, the
 * default 25%) with a warning naming the key; Recreate. */
static void test_deployment_strategy(void **state)
{
    (void)state;
    const char *json =
        "{\"kind\":\"List\",\"items\":["
        "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{"
        "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"50%\","
        "\"maxUnavailable\":2}}}},"
        "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"},\"spec\":{"
        "\"strategy\":{\"rollingUpdate\":{\"maxUnavailable\":\"x\"}}}},"
        "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"c\",\"namespace\":\"n\"},\"spec\":{"
        "\"strategy\":{\"type\":\"Recreate\"}}}]}";
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    if (gf_test_load_text(&m, &d, &err, json)) fail_msg("load: %s: %s", err.where, err.msg);
    size_t a, b, c;
    assert_true(gf_strmap_get(&m.workload_by_key, "Deployment/n/a", &a));
    assert_true(gf_strmap_get(&m.workload_by_key, "Deployment/n/b", &b));
    assert_true(gf_strmap_get(&m.workload_by_key, "Deployment/n/c", &c));
    const gf_workload *wa = &m.workloads.v[a], *wb = &m.workloads.v[b], *wc = &m.workloads.v[c];
    assert_true(wa->max_surge == 50 && wa->max_surge_percent);
    assert_true(wa->max_unavailable == 2 && !wa->max_unavailable_percent);
    assert_true(wb->max_surge == -1 && wb->max_unavailable == -1);
    assert_true(gf_test_diag_has(&d, "maxUnavailable is not a count or a percentage"));
    assert_true(wc->recreate && wc->max_unavailable == -1);
    gf_diags_free(&d);
    gf_model_free(&m);
}

static void test_bad_input(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        gf_model m;
        gf_model_init(&m);
        gf_diags d;
        gf_diags_init(&d);
        gf_error err = {0};
        gf_err rc = gf_test_load_text(&m, &d, &err, bad_cases[i].json);
        if (rc != GF_EINPUT || !strstr(err.where, bad_cases[i].where) ||
            !strstr(err.msg, bad_cases[i].msg))
            fail_msg("case %zu: rc=%d where='%s' msg='%s'; wanted where~'%s' msg~'%s'", i, rc,
                     err.where, err.msg, bad_cases[i].where, bad_cases[i].msg);
        gf_diags_free(&d);
        gf_model_free(&m);
    }
}

static void test_files_missing_and_empty(void **state)
{
    fx *f = *state;
    char *missing[] = {"/nonexistent/snap.json"};
    assert_int_equal(gf_snapshot_load_files(&f->m, missing, 1, &f->d, &f->err), GF_EIO);
    assert_string_equal(f->err.where, "/nonexistent/snap.json");
    assert_non_null(strstr(f->err.msg, "cannot open"));

    char path[] = "/tmp/gf_test_emptyXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char *empty[] = {path};
    assert_int_equal(gf_snapshot_load_files(&f->m, empty, 1, &f->d, &f->err), GF_EINPUT);
    assert_non_null(strstr(f->err.msg, "empty input"));
    unlink(path);
}

/* A truncated real snapshot fails with a line number, never a crash; every
 * prefix length is tried on a small real file. */
static void test_truncated_prefixes(void **state)
{
    (void)state;
    FILE *fp = fopen(gf_test_fixture("kai-small-nodes.json"), "rb");
    assert_non_null(fp);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_true(n > 1000 && n < sizeof buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    for (size_t len = 0; len < n; len += 7) {
        gf_model m;
        gf_model_init(&m);
        gf_error err = {0};
        gf_err rc = gf_snapshot_load_buffer(&m, "trunc.json", buf, len, NULL, &err);
        assert_int_equal(rc, GF_EINPUT);
        assert_non_null(strstr(err.msg, "invalid JSON"));
        gf_model_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_typed_lists_and_several_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_skipped, setup, teardown),
        cmocka_unit_test(test_status_conditions),
        cmocka_unit_test(test_deployment_strategy),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_odd_object_skipped),
        cmocka_unit_test(test_group_labels_bounded),
        cmocka_unit_test(test_odd_node_labels),
        cmocka_unit_test_setup_teardown(test_files_missing_and_empty, setup, teardown),
        cmocka_unit_test(test_truncated_prefixes),
    };
    return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
