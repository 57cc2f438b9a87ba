/* test_governance.c - KAI's Queues, PodGroups, PriorityClasses and
 * SchedulingShards read from snapshots, and each pod's queue, priority and
 * preemptibility as KAI computes them (model.c resolve_governance). */
#include "testutil.h"
#include "io/snapshot.h"

#include <stdio.h>
#include <string.h>

#define LIST(...) "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[" __VA_ARGS__ "]}"

static const gf_queue *queue_named(const gf_model *m, const char *name)
{
    for (size_t i = 0; i < m->queues.n; i++)
        if (!strcmp(m->queues.v[i].name, name)) return &m->queues.v[i];
    return NULL;
}

static const gf_pod *pod(const gf_model *m, const char *ns, const char *name)
{
    long i = gf_test_pod(m, ns, name);
    if (i < 0) fail_msg("no pod %s/%s", ns, name);
    return &m->pods.v[i];
}

/* kai-real's cluster with its governance.json (shapes from KAI's source:
 * tests/fixtures/kai-real/make.py). */
static void load_kai_real(gf_model *m, gf_diags *d, bool with_governance)
{
    static const char *files[] = {"nodes", "pods", "deployments", "replicasets", "statefulsets"};
    char paths[6][600];
    char *argv[6];
    int n = 0;
    for (int i = 0; i < 5; i++, n++) {
        snprintf(paths[n], sizeof paths[n], "%s", gf_test_fixture("kai-real/cluster/x.json"));
        char *slash = strrchr(paths[n], '/');
        snprintf(slash + 1, sizeof paths[n] - (size_t)(slash + 1 - paths[n]), "%s.json", files[i]);
        argv[n] = paths[n];
    }
    if (with_governance) {
        snprintf(paths[n], sizeof paths[n], "%s", gf_test_fixture("kai-real/governance.json"));
        argv[n] = paths[n];
        n++;
    }
    gf_error err = {0};
    gf_err rc = gf_snapshot_load_files(m, argv, n, d, &err);
    if (rc) fail_msg("%s: %s", err.where, err.msg);
}

/* The List `kubectl get queues,podgroups,priorityclasses,schedulingshards -A
 * -o json` prints loads like any snapshot file. */
static void test_read_kai_objects(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    load_kai_real(&m, &d, true);
    assert_int_equal(m.queues.n, 3);
    assert_int_equal(m.podgroups.n, 5);
    assert_int_equal(m.priority_classes.n, 4);
    assert_int_equal(m.shards.n, 1);
    for (int r = 0; r < GF_SKIP_COUNT; r++)
        if (r != GF_SKIP_KAI_ANNOTATION && r != GF_SKIP_NODE_MISSING)
            assert_int_equal(m.skipped[r], 0);
    const gf_queue *top = queue_named(&m, "departments"), *serving = queue_named(&m, "serving");
    assert_non_null(top);
    assert_non_null(serving);
    assert_null(top->parent);
    assert_int_equal(top->parent_idx, GF_NONE);
    assert_string_equal(serving->parent, "departments");
    assert_int_equal(serving->parent_idx, (uint32_t)(top - m.queues.v));
    assert_true(serving->gpu.quota == 2.5);
    assert_true(serving->gpu.limit == -1);
    assert_true(serving->cpu.quota == -1);
    assert_true(serving->has_status);
    assert_true(serving->alloc_np_gpu > 2.099 && serving->alloc_np_gpu < 2.101);
    assert_int_equal(serving->priority, 100); /* QueueSpec.Priority's default */
    assert_false(queue_named(&m, "search")->has_status);
    const gf_shard *sh = &m.shards.v[0];
    assert_string_equal(sh->partition_value, "inference");
    assert_int_equal(sh->gpu, GF_PLACE_BINPACK);
    /* the PodGroup's queue and class: inference (125) is non-preemptible */
    const gf_pod *chat = pod(&m, "serving", "chat-6d8f7c9b5d-k2m4x");
    assert_int_not_equal(chat->gov.podgroup, GF_NONE);
    assert_string_equal(m.podgroups.v[chat->gov.podgroup].name, "pg-chat-6d8f7c9b5d-k2m4x-k2m4x");
    assert_string_equal(chat->gov.queue, "serving");
    assert_int_equal(chat->gov.queue_idx, (uint32_t)(serving - m.queues.v));
    assert_int_equal(chat->gov.priority, 125);
    assert_false(chat->gov.preemptible);
    assert_int_equal(chat->gov.gang, 1);
    /* not KAI's PodGroup: a StatefulSet's pod gets the grouper's "train" */
    const gf_pod *nb = pod(&m, "ml-legacy", "notebook-0");
    assert_int_equal(nb->gov.podgroup, GF_NONE);
    assert_string_equal(nb->gov.queue, "default-queue");
    assert_int_equal(nb->gov.queue_idx, GF_NONE);
    assert_int_equal(nb->gov.priority, 50);
    assert_true(nb->gov.preemptible);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* Without PodGroups in the input, KAI's pod grouper's rules
 * (default_grouper.go, deployment_grouper.go). */
#define NODE "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"},\"status\":{}}"
#define DEPLOY(name, labels)                                                                       \
    "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\","            \
    "\"labels\":{" labels "}},\"spec\":{\"replicas\":1}}"
#define RS(name, dep)                                                                              \
    "{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\","            \
    "\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"" dep "\",\"controller\":true}]},"   \
    "\"spec\":{}}"
#define POD(name, owner_kind, owner, labels, spec)                                                 \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name                                             \
    "\",\"namespace\":\"t\",\"labels\":{" labels "},\"ownerReferences\":[{\"kind\":\"" owner_kind  \
    "\",\"name\":\"" owner "\","                                                                   \
    "\"controller\":true}]},\"spec\":{\"containers\":[{\"name\":\"c\"}]" spec "},"                 \
    "\"status\":{\"phase\":\"Pending\"}}"

static void test_grouper_fallback(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json = LIST(
        NODE ","
        /* a Deployment: class inference (125), non-preemptible; the top
         * owner's queue label before the pod's */
        DEPLOY("api", "\"kai.scheduler/queue\":\"owners\"") "," RS("api-5f", "api") "," POD(
            "api-5f-a", "ReplicaSet", "api-5f", "\"kai.scheduler/queue\":\"pods\"",
            ",\"priority\":0") ","
        /* the owner's preemptibility label wins over the class */
        DEPLOY("cheap", "\"kai.scheduler/preemptibility\":\"preemptible\"") "," RS(
            "cheap-1",
            "cheap") "," POD("cheap-1-a", "ReplicaSet", "cheap-1", "",
                             "") ","
                                 /* a Job: train (50), preemptible; queue from project + node pool
                                  */
                                 "{\"kind\":\"Job\",\"metadata\":{\"name\":\"j\",\"namespace\":"
                                 "\"t\"},\"spec\":{}}," POD(
                                     "j-a", "Job", "j",
                                     "\"project\":\"research\",\"kai.scheduler/"
                                     "node-pool\":\"a100\"",
                                     "") ","
                                         /* a label priorityClassName naming a class of the input */
                                         "{\"kind\":\"PriorityClass\",\"apiVersion\":\"scheduling."
                                         "k8s.io/v1\",\"metadata\":"
                                         "{\"name\":\"vip\"},\"value\":1000}," POD(
                                             "j-b", "Job", "j", "\"priorityClassName\":\"vip\"",
                                             ""));
    assert_int_equal(gf_test_load_text(&m, &d, &err, json), GF_OK);
    const gf_pod *api = pod(&m, "t", "api-5f-a");
    assert_string_equal(api->gov.queue, "owners");
    assert_int_equal(api->gov.priority, 125);
    assert_false(api->gov.preemptible);
    const gf_pod *cheap = pod(&m, "t", "cheap-1-a");
    assert_int_equal(cheap->gov.priority, 125);
    assert_true(cheap->gov.preemptible);
    assert_string_equal(cheap->gov.queue, "default-queue");
    const gf_pod *job = pod(&m, "t", "j-a");
    assert_string_equal(job->gov.queue, "research-a100");
    assert_int_equal(job->gov.priority, 50);
    assert_true(job->gov.preemptible);
    const gf_pod *vip = pod(&m, "t", "j-b");
    assert_int_equal(vip->gov.priority, 1000);
    assert_false(vip->gov.preemptible);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* One odd governance object: a warning naming it and its field, skipped,
 * counted; the rest of the input loads. */
typedef struct odd_case {
    const char *json, *warning;
} odd_case;

#define QUEUE_OK                                                                                   \
    "{\"apiVersion\":\"scheduling.run.ai/v2\",\"kind\":\"Queue\",\"metadata\":{\"name\":\"ok\"},"  \
    "\"spec\":{\"resources\":{\"gpu\":{\"quota\":1,\"limit\":-1}}}}"

static const odd_case odd_cases[] = {
    {LIST(QUEUE_OK ",{\"kind\":\"Queue\",\"metadata\":{\"name\":\"q\"},\"spec\":{\"resources\":"
                   "{\"gpu\":{\"quota\":\"lots\"}}}}"),
     "items[1].spec.resources.gpu.quota: Queue q: quota is a string, not a number of -1 "
     "(unlimited) or more; skipped"},
    {LIST(QUEUE_OK ",{\"kind\":\"Queue\",\"metadata\":{\"name\":\"q\"},\"spec\":{\"resources\":"
                   "{\"cpu\":{\"limit\":-5}}}}"),
     "items[1].spec.resources.cpu.limit: Queue q: limit is below -1"},
    {LIST(QUEUE_OK ",{\"kind\":\"Queue\",\"metadata\":{\"name\":\"q\"},\"spec\":{},\"status\":"
                   "{\"allocatedNonPreemptible\":{\"nvidia.com/gpu\":\"two\"}}}"),
     "items[1].status.allocatedNonPreemptible[\"nvidia.com/gpu\"]: Queue q: bad quantity \"two\""},
    {LIST(QUEUE_OK ",{\"kind\":\"PodGroup\",\"metadata\":{\"name\":\"g\",\"namespace\":\"t\"},"
                   "\"spec\":{\"preemptibility\":\"sometimes\"}}"),
     "items[1].spec.preemptibility: PodGroup t/g: preemptibility \"sometimes\": KAI accepts"},
    {LIST(QUEUE_OK ",{\"kind\":\"PriorityClass\",\"metadata\":{\"name\":\"c\"},\"value\":\"hi\"}"),
     "items[1].value: PriorityClass c: value is a string, not a 32-bit integer; skipped"},
    {LIST(QUEUE_OK ",{\"kind\":\"SchedulingShard\",\"metadata\":{\"name\":\"s\"},\"spec\":"
                   "{\"placementStrategy\":{\"gpu\":\"random\"}}}"),
     "items[1].spec.placementStrategy.gpu: SchedulingShard s: strategy \"random\": KAI accepts"},
};

static void test_odd_objects_skipped(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof odd_cases / sizeof odd_cases[0]; i++) {
        gf_model m;
        gf_model_init(&m);
        gf_diags d;
        gf_diags_init(&d);
        gf_error err = {0};
        gf_err rc = gf_test_load_text(&m, &d, &err, odd_cases[i].json);
        if (rc) fail_msg("case %zu: %s: %s", i, err.where, err.msg);
        if (!gf_test_diag_has(&d, odd_cases[i].warning)) {
            for (size_t k = 0; k < d.msgs.n; k++)
                print_message("  warning: %s\n", d.msgs.v[k]);
            fail_msg("case %zu: no warning like '%s'", i, odd_cases[i].warning);
        }
        assert_int_equal(m.skipped[GF_SKIP_KAI_OBJECT], 1);
        assert_int_equal(m.queues.n, 1); /* the good queue only */
        assert_string_equal(m.queues.v[0].name, "ok");
        assert_int_equal(m.podgroups.n + m.priority_classes.n + m.shards.n, 0);
        gf_diags_free(&d);
        gf_model_free(&m);
    }
}

/* Not what it claims to be: an error naming the place, exit 2 upstream. */
static void test_bad_objects(void **state)
{
    (void)state;
    static const struct {
        const char *json, *where, *msg;
    } cases[] = {
        {LIST("{\"kind\":\"Queue\",\"metadata\":[]}"), "items[0]", "expected an object"},
        {LIST("{\"kind\":\"PodGroup\",\"metadata\":{\"namespace\":\"t\"}}"), "items[0].metadata",
         "PodGroup without metadata.name"},
        {LIST("{\"kind\":\"Queue\",\"metadata\":{\"name\":\"q\"},\"spec\":{\"parentQueue\":7}}"),
         "items[0].spec.parentQueue", "Queue q: expected a string, got an integer"},
        {LIST("{\"kind\":\"PodGroup\",\"metadata\":{\"name\":\"g\"},\"spec\":{\"minMember\":-1}}"),
         "items[0].spec.minMember", "outside"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gf_model m;
        gf_model_init(&m);
        gf_error err = {0};
        assert_int_equal(gf_test_load_text(&m, NULL, &err, cases[i].json), GF_EINPUT);
        if (!strstr(err.where, cases[i].where) || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %s: %s", i, err.where, err.msg);
        gf_model_free(&m);
    }
}

/* A parent chain that loops is cut: walking up always ends. */
static void test_queue_cycle_cut(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_error err = {0};
    const char *json =
        LIST("{\"kind\":\"Queue\",\"metadata\":{\"name\":\"a\"},\"spec\":{\"parentQueue\":\"b\"}},"
             "{\"kind\":\"Queue\",\"metadata\":{\"name\":\"b\"},\"spec\":{\"parentQueue\":\"a\"}},"
             "{\"kind\":\"Queue\",\"metadata\":{\"name\":\"c\"},\"spec\":{\"parentQueue\":\"a\"}}");
    assert_int_equal(gf_test_load_text(&m, NULL, &err, json), GF_OK);
    for (size_t i = 0; i < m.queues.n; i++) {
        uint32_t at = (uint32_t)i;
        size_t steps = 0;
        while (at != GF_NONE && steps <= m.queues.n) {
            at = m.queues.v[at].parent_idx;
            steps++;
        }
        assert_int_equal(at, GF_NONE);
    }
    gf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_kai_objects),    cmocka_unit_test(test_grouper_fallback),
        cmocka_unit_test(test_odd_objects_skipped), cmocka_unit_test(test_bad_objects),
        cmocka_unit_test(test_queue_cycle_cut),
    };
    return cmocka_run_group_tests_name("governance", tests, NULL, NULL);
}
