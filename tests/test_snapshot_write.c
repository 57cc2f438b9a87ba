/* test_snapshot_write.c - model -> kubectl JSON -> model gives the same model. */
#include "testutil.h"
#include "io/alibaba.h"
#include "io/snapshot.h"
#include "io/snapshot_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

/* Writes m and returns the text (malloc'd). */
static char *write_text(const gf_model *m, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    gf_error err = {0};
    assert_int_equal(gf_snapshot_write(m, f, &err), GF_OK);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void kvs_equal(const gf_kvs *a, const gf_kvs *b)
{
    assert_int_equal(a->n, b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        const char *v = gf_kvs_get(b, a->items[i].key);
        assert_non_null(v);
        assert_string_equal(v, a->items[i].value);
    }
}

static void str_equal(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static const char *wl_key(const gf_model *m, uint32_t w, char *buf, size_t n)
{
    if (w == GF_NONE) return "-";
    const gf_workload *x = &m->workloads.v[w];
    snprintf(buf, n, "%s/%s/%s", x->kind, x->ns, x->name);
    return buf;
}

/* Every field the loader reads, and everything finalize derives from them. */
static void models_equal(const gf_model *a, const gf_model *b)
{
    assert_int_equal(a->nodes.n, b->nodes.n);
    for (size_t i = 0; i < a->nodes.n; i++) {
        const gf_node *x = &a->nodes.v[i], *y = &b->nodes.v[i];
        assert_string_equal(x->name, y->name);
        kvs_equal(&x->labels, &y->labels);
        assert_int_equal(x->cpu_milli, y->cpu_milli);
        assert_int_equal(x->memory_bytes, y->memory_bytes);
        assert_int_equal(x->gpu_count, y->gpu_count);
        str_equal(x->gpu_product, y->gpu_product);
        assert_int_equal(x->gpu_memory_mib, y->gpu_memory_mib);
        assert_string_equal(a->pools.v[x->pool], b->pools.v[y->pool]);
        assert_int_equal(x->n_taints, y->n_taints);
        for (uint32_t t = 0; t < x->n_taints; t++) {
            str_equal(x->taints[t].key, y->taints[t].key);
            str_equal(x->taints[t].value, y->taints[t].value);
            str_equal(x->taints[t].effect, y->taints[t].effect);
        }
        assert_int_equal(x->unschedulable, y->unschedulable);
        assert_int_equal(x->first_gpu, y->first_gpu);
    }
    assert_int_equal(a->pods.n, b->pods.n);
    for (size_t i = 0; i < a->pods.n; i++) {
        const gf_pod *x = &a->pods.v[i], *y = &b->pods.v[i];
        char k1[600], k2[600];
        assert_string_equal(x->ns, y->ns);
        assert_string_equal(x->name, y->name);
        str_equal(x->uid, y->uid);
        kvs_equal(&x->labels, &y->labels);
        kvs_equal(&x->annotations, &y->annotations);
        assert_int_equal(x->phase, y->phase);
        assert_int_equal(x->terminating, y->terminating);
        str_equal(x->node_name, y->node_name);
        str_equal(x->scheduler_name, y->scheduler_name);
        str_equal(x->queue, y->queue);
        str_equal(x->priority_class, y->priority_class);
        assert_int_equal(x->priority, y->priority);
        assert_int_equal(x->cpu_milli, y->cpu_milli);
        assert_int_equal(x->memory_bytes, y->memory_bytes);
        assert_int_equal(x->gpu_whole, y->gpu_whole);
        assert_int_equal(x->share, y->share);
        assert_true(x->gpu_fraction == y->gpu_fraction);
        assert_int_equal(x->gpu_memory_mib, y->gpu_memory_mib);
        assert_int_equal(x->gpu_devices, y->gpu_devices);
        /* a share goes to the first container when the annotation names none
         * (gpu_access.go): the reader says which one that is */
        if (x->gpu_container || y->share == GF_SHARE_NONE)
            str_equal(x->gpu_container, y->gpu_container);
        else
            assert_non_null(y->gpu_container);
        str_equal(x->gpu_group, y->gpu_group);
        assert_int_equal(x->n_extra_groups, y->n_extra_groups);
        assert_int_equal(x->n_gpu_models, y->n_gpu_models);
        for (uint32_t g = 0; g < x->n_gpu_models; g++)
            assert_string_equal(x->gpu_models[g], y->gpu_models[g]);
        kvs_equal(&x->node_selector, &y->node_selector);
        assert_int_equal(x->n_tolerations, y->n_tolerations);
        for (uint32_t t = 0; t < x->n_tolerations; t++) {
            str_equal(x->tolerations[t].key, y->tolerations[t].key);
            str_equal(x->tolerations[t].op, y->tolerations[t].op);
            str_equal(x->tolerations[t].value, y->tolerations[t].value);
            str_equal(x->tolerations[t].effect, y->tolerations[t].effect);
        }
        str_equal(x->pool_selector, y->pool_selector);
        str_equal(x->owner.kind, y->owner.kind);
        str_equal(x->owner.name, y->owner.name);
        assert_int_equal(x->is_reservation, y->is_reservation);
        str_equal(x->reserve_gpu, y->reserve_gpu);
        assert_int_equal(x->node, y->node);
        assert_string_equal(wl_key(a, x->workload, k1, sizeof k1),
                            wl_key(b, y->workload, k2, sizeof k2));
        assert_int_equal(x->n_gpus, y->n_gpus);
        for (uint32_t g = 0; g < x->n_gpus; g++)
            assert_int_equal(x->gpus[g], y->gpus[g]);
    }
    size_t wa = 0, wb = 0;
    for (size_t i = 0; i < a->workloads.n; i++)
        wa += a->workloads.v[i].from_input;
    for (size_t i = 0; i < b->workloads.n; i++)
        wb += b->workloads.v[i].from_input;
    assert_int_equal(wa, wb);
    assert_int_equal(a->pdbs.n, b->pdbs.n);
    for (size_t i = 0; i < a->pdbs.n; i++) {
        assert_string_equal(a->pdbs.v[i].name, b->pdbs.v[i].name);
        kvs_equal(&a->pdbs.v[i].match_labels, &b->pdbs.v[i].match_labels);
        assert_int_equal(a->pdbs.v[i].disruptions_allowed, b->pdbs.v[i].disruptions_allowed);
    }
    assert_int_equal(a->gpus.n, b->gpus.n);
    for (size_t i = 0; i < a->gpus.n; i++) {
        const gf_gpu *x = &a->gpus.v[i], *y = &b->gpus.v[i];
        assert_int_equal(x->state, y->state);
        str_equal(x->group, y->group);
        assert_int_equal(x->reserved, y->reserved);
        assert_true(x->allocated_fraction == y->allocated_fraction);
        assert_int_equal(x->n_pods, y->n_pods);
    }
    /* KAI's governance and what each pod derives from it */
    assert_int_equal(a->queues.n, b->queues.n);
    for (size_t i = 0; i < a->queues.n; i++) {
        const gf_queue *x = &a->queues.v[i], *y = &b->queues.v[i];
        assert_string_equal(x->name, y->name);
        str_equal(x->parent, y->parent);
        assert_true(x->gpu.quota == y->gpu.quota && x->gpu.limit == y->gpu.limit);
        assert_int_equal(x->has_status, y->has_status);
        assert_true(fabs(x->alloc_np_gpu - y->alloc_np_gpu) < 1e-3);
        assert_int_equal(x->parent_idx, y->parent_idx);
    }
    assert_int_equal(a->podgroups.n, b->podgroups.n);
    assert_int_equal(a->priority_classes.n, b->priority_classes.n);
    assert_int_equal(a->shards.n, b->shards.n);
    for (size_t i = 0; i < a->pods.n; i++) {
        const gf_pod_gov *x = &a->pods.v[i].gov, *y = &b->pods.v[i].gov;
        assert_string_equal(x->queue, y->queue);
        assert_int_equal(x->queue_idx, y->queue_idx);
        assert_int_equal(x->podgroup, y->podgroup);
        assert_int_equal(x->priority, y->priority);
        assert_int_equal(x->preemptible, y->preemptible);
        assert_int_equal(x->gang, y->gang);
    }
    gf_totals ta, tb;
    gf_model_totals(a, GF_NONE, &ta);
    gf_model_totals(b, GF_NONE, &tb);
    assert_memory_equal(&ta, &tb, sizeof ta);
}

/* Writes m, loads the text back into a fresh model, compares; then checks
 * that writing the reloaded model gives the same bytes. */
static void round_trip(const gf_model *m)
{
    size_t len, len2;
    char *text = write_text(m, &len);
    gf_model b;
    gf_model_init(&b);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_err rc = gf_snapshot_load_buffer(&b, "written.json", text, len, &d, &err);
    if (!rc) rc = gf_model_finalize(&b, &d, &err);
    if (rc) fail_msg("reload: %s: %s", err.where, err.msg);
    models_equal(m, &b);
    char *again = write_text(&b, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(text, again, len);
    free(again);
    free(text);
    gf_diags_free(&d);
    gf_model_free(&b);
}

static void test_kai_fixture_round_trip(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(gf_test_load(&m, &d, &err, "kai-small.json"), GF_OK);
    assert_true(m.pods.n > 15 && m.workloads.n > 3); /* a fixture with substance */
    round_trip(&m);
    gf_diags_free(&d);
    gf_model_free(&m);
}

static void test_alibaba_round_trip(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    char nodes[1024], pods[1024];
    snprintf(nodes, sizeof nodes, "%s", gf_test_fixture("alibaba/nodes.csv"));
    snprintf(pods, sizeof pods, "%s", gf_test_fixture("alibaba/pods_gpuspec.csv"));
    gf_alibaba_opts o = {.include_cpu_only = true};
    assert_int_equal(gf_alibaba_load_nodes(&m, nodes, &d, &err), GF_OK);
    assert_int_equal(gf_alibaba_load_pods(&m, pods, &o, &d, &err), GF_OK);
    assert_int_equal(gf_model_finalize(&m, &d, &err), GF_OK);
    bool constrained = false;
    for (size_t i = 0; i < m.pods.n; i++)
        constrained |= m.pods.v[i].n_gpu_models > 0;
    assert_true(constrained); /* gpu_spec becomes required node affinity */
    round_trip(&m);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* Objects with every optional part: taints, tolerations, affinity with two
 * models, init containers (folded), terminating, priorities, PDB, unicode. */
static const char *const RICH =
    "{\"kind\":\"List\",\"items\":["
    "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"labels\":{\"nvidia.com/gpu.product\":"
    "\"NVIDIA-L4\",\"kai.scheduler/node-pool\":\"p\\u00e9\"}},\"spec\":{\"unschedulable\":true,"
    "\"taints\":[{\"key\":\"nvidia.com/gpu\",\"effect\":\"NoSchedule\"},{\"key\":\"k\",\"value\":"
    "\"v\",\"effect\":\"NoExecute\"}]},\"status\":{\"allocatable\":{\"cpu\":\"7500m\",\"memory\":"
    "\"31Gi\",\"nvidia.com/gpu\":\"2\"}}},"
    "{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"web-7d\",\"namespace\":\"a\",\"uid\":\"u1\","
    "\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"web\",\"controller\":true}]},"
    "\"spec\":{\"replicas\":2,\"template\":{\"metadata\":{\"annotations\":{\"gpufrac.io/"
    "consolidate\":\"false\"}}}}},"
    "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"pdb\",\"namespace\":\"a\"},"
    "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}},\"status\":"
    "{\"disruptionsAllowed\":1}},"
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-7d-x\",\"namespace\":\"a\",\"uid\":\"p1\","
    "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{\"app\":\"web\","
    "\"runai-gpu-group\":\"g1\"},\"annotations\":{\"gpu-fraction\":\"0.5\","
    "\"gpu-fraction-container-name\":\"srv\"},\"ownerReferences\":[{\"kind\":\"ReplicaSet\","
    "\"name\":\"web-7d\",\"controller\":true}]},\"spec\":{\"nodeName\":\"n1\",\"schedulerName\":"
    "\"kai-scheduler\",\"priority\":100,\"priorityClassName\":\"high\",\"nodeSelector\":"
    "{\"kai.scheduler/node-pool\":\"p\\u00e9\"},\"tolerations\":[{\"key\":\"nvidia.com/gpu\","
    "\"operator\":\"Exists\",\"effect\":\"NoSchedule\"},{\"operator\":\"Exists\"}],"
    "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
    "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"nvidia.com/gpu.product\","
    "\"operator\":\"In\",\"values\":[\"NVIDIA-L4\",\"Tesla-T4\"]}]}]}}},"
    "\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"2\"}}}],"
    "\"containers\":[{\"name\":\"srv\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":"
    "\"1Gi\"}}},{\"name\":\"side\",\"resources\":{\"limits\":{\"cpu\":\"100m\",\"memory\":"
    "\"64Mi\"}}}]},\"status\":{\"phase\":\"Running\"}},"
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"whole\",\"namespace\":\"a\"},\"spec\":"
    "{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":"
    "{\"nvidia.com/gpu\":1}}}]},\"status\":{\"phase\":\"Unknown\"}}"
    "]}";

/* kai-real's cluster with its governance.json: Queues, PodGroups,
 * PriorityClasses, a SchedulingShard written and read back alike. */
static void test_governance_round_trip(void **state)
{
    (void)state;
    static const char *files[] = {"nodes", "pods", "deployments", "replicasets", "statefulsets"};
    char paths[6][600];
    char *argv[6];
    for (int i = 0; i < 5; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/kai-real/cluster/%s.json", GF_FIXTURES, files[i]);
        argv[i] = paths[i];
    }
    snprintf(paths[5], sizeof paths[5], "%s/kai-real/governance.json", GF_FIXTURES);
    argv[5] = paths[5];
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    if (gf_snapshot_load_files(&m, argv, 6, &d, &err)) fail_msg("%s: %s", err.where, err.msg);
    assert_int_equal(m.queues.n, 3);
    round_trip(&m);
    gf_diags_free(&d);
    gf_model_free(&m);
}

static void test_rich_round_trip(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_err rc = gf_test_load_text(&m, &d, &err, RICH);
    if (rc) fail_msg("%s: %s", err.where, err.msg);
    long p = gf_test_pod(&m, "a", "web-7d-x");
    assert_true(p >= 0);
    assert_int_equal(m.pods.v[p].cpu_milli, 2000); /* init container dominates */
    assert_int_equal(m.pods.v[p].n_gpu_models, 2);
    round_trip(&m);
    gf_diags_free(&d);
    gf_model_free(&m);
}

static void test_write_failure(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(gf_test_load(&m, &d, &err, "kai-small.json"), GF_OK);
    FILE *f = fopen("/dev/full", "w");
    if (!f) skip();
    setvbuf(f, NULL, _IONBF, 0); /* fail at the first write, not at fclose */
    assert_int_equal(gf_snapshot_write(&m, f, &err), GF_EIO);
    assert_non_null(strstr(err.msg, "write failed"));
    fclose(f);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* A name that is not UTF-8 (possible from CSV input) is an error, not a
 * silently missing field. */
static void test_not_utf8(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_node n = {0};
    n.name = gf_arena_strdup(&m.arena, "bad\xff");
    n.pool = gf_model_pool(&m, "default");
    gf_model_add_node(&m, &n, NULL);
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    gf_error err = {0};
    assert_int_equal(gf_snapshot_write(&m, f, &err), GF_EINTERNAL);
    assert_non_null(strstr(err.msg, "UTF-8"));
    fclose(f);
    free(buf);
    gf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kai_fixture_round_trip), cmocka_unit_test(test_alibaba_round_trip),
        cmocka_unit_test(test_rich_round_trip),        cmocka_unit_test(test_governance_round_trip),
        cmocka_unit_test(test_write_failure),          cmocka_unit_test(test_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
