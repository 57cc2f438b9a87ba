/* test_quota.c - KAI's queue quota for non-preemptible upsizes
 * (decide/quota.h): the parent chain, -1 and 0, preemptible workloads, the
 * rollout's surge, KAI's status figure or the pods' sum. */
#include "testutil.h"
#include "decide/quota.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LIST(...) "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[" __VA_ARGS__ "]}"
#define NODE                                                                                       \
    "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\",\"labels\":{\"nvidia.com/gpu.memory\":"       \
    "\"40000\"}},\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"8\"}}}"
#define QUEUE(name, parent, quota, status)                                                         \
    "{\"apiVersion\":\"scheduling.run.ai/v2\",\"kind\":\"Queue\",\"metadata\":{\"name\":\"" name   \
    "\"},\"spec\":{\"parentQueue\":\"" parent "\",\"resources\":{\"gpu\":{\"quota\":" quota        \
    ",\"limit\":-1,\"overQuotaWeight\":1}}}" status "}"
/* a Deployment with `replicas` pods of fraction f in queue q (KAI's
 * Deployment default: class inference, non-preemptible) */
#define DEPLOY(name, replicas, strategy)                                                           \
    "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\"},"           \
    "\"spec\":{\"replicas\":" replicas strategy "}}"
#define POD(name, dep, q, f, labels)                                                               \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\",\"labels\":{"       \
    "\"kai.scheduler/queue\":\"" q "\"" labels "},\"annotations\":{\"gpu-fraction\":\"" f "\"},"   \
    "\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"" dep "\",\"controller\":true}]},"   \
    "\"spec\":{\"nodeName\":\"n\",\"containers\":[{\"name\":\"c\"}]},"                             \
    "\"status\":{\"phase\":\"Running\"}}"

static void load(gf_model *m, const char *json)
{
    gf_model_init(m);
    gf_error err = {0};
    if (gf_test_load_text(m, NULL, &err, json)) fail_msg("%s: %s", err.where, err.msg);
}

static uint32_t wl(const gf_model *m, const char *name)
{
    for (size_t i = 0; i < m->workloads.n; i++)
        if (!strcmp(m->workloads.v[i].name, name)) return (uint32_t)i;
    fail_msg("no workload %s", name);
    return GF_NONE;
}

static void test_surge_pods(void **state)
{
    (void)state;
    gf_workload w = {0};
    w.kind = "Deployment";
    w.max_surge = -1; /* Kubernetes' default 25%, rounded up */
    assert_int_equal(gf_quota_surge_pods(&w, 1), 1);
    assert_int_equal(gf_quota_surge_pods(&w, 4), 1);
    assert_int_equal(gf_quota_surge_pods(&w, 5), 2);
    w.max_surge = 50;
    w.max_surge_percent = true;
    assert_int_equal(gf_quota_surge_pods(&w, 3), 2);
    w.max_surge_percent = false;
    w.max_surge = 0;
    assert_int_equal(gf_quota_surge_pods(&w, 3), 0);
    w.max_surge = 10; /* never more than the replicas */
    assert_int_equal(gf_quota_surge_pods(&w, 3), 3);
    w.recreate = true; /* old pods go first */
    assert_int_equal(gf_quota_surge_pods(&w, 3), 0);
    w.recreate = false;
    w.kind = "StatefulSet"; /* one pod replaced at a time, in place */
    assert_int_equal(gf_quota_surge_pods(&w, 3), 0);
}

/* The strategy as a snapshot says it. */
static void test_strategy_read(void **state)
{
    (void)state;
    gf_model m;
    load(&m,
         LIST(DEPLOY(
             "a", "4",
             ",\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
             "{\"maxSurge\":\"50%\",\"maxUnavailable\":0}}") "," DEPLOY("b", "4",
                                                                        ",\"strategy\":{"
                                                                        "\"rollingUpdate"
                                                                        "\":{"
                                                                        "\"maxSurge\":3}"
                                                                        "}") "," DEPLOY("c", "4",
                                                                                        ",\"strateg"
                                                                                        "y\":"
                                                                                        "{\"type\":"
                                                                                        "\"Recreate"
                                                                                        "\"}")));
    assert_int_equal(gf_quota_surge_pods(&m.workloads.v[wl(&m, "a")], 4), 2);
    assert_int_equal(gf_quota_surge_pods(&m.workloads.v[wl(&m, "b")], 4), 3);
    assert_int_equal(gf_quota_surge_pods(&m.workloads.v[wl(&m, "c")], 4), 0);
    gf_model_free(&m);
}

/* KAI's rule: Deserved < AllocatedNonPreemptible + requested is over, up
 * the parent chain; -1 is unlimited. */
static void test_parent_chain(void **state)
{
    (void)state;
    gf_model m;
    /* leaf unlimited, parent 2.0 with 1.45 held: +0.6 passes the parent */
    load(&m,
         LIST(NODE "," QUEUE("top", "", "2", "") "," QUEUE("leaf", "top", "-1", "") "," DEPLOY(
             "api", "1", "") "," POD("api-0", "api", "leaf", "0.5",
                                     "") "," DEPLOY("other", "1", "") "," POD("other-0", "other",
                                                                              "top", "0.95", "")));
    uint32_t api = wl(&m, "api");
    gf_quota_check q;
    /* 0.5 -> 0.6 with one surge pod: the new pod (0.6) runs beside the old */
    assert_true(gf_quota_upsize(&m, api, 0.5, 0.6, &q));
    assert_string_equal(m.queues.v[q.queue].name, "top");
    assert_true(fabs(q.allocated_gpus - 1.45) < 1e-9);
    assert_false(q.allocated_from_status);
    assert_true(fabs(q.delta_gpus - 0.6) < 1e-9);
    assert_int_equal(q.surge_pods, 1);
    char text[400];
    gf_quota_text(&m, &q, text, sizeof text);
    assert_non_null(strstr(text, "blocked by queue quota: queue top quota 2.00 GPUs, allocated "
                                 "1.45 non-preemptible (summed from the pods), +0.60 with the "
                                 "rollout's surge (1 new pod before old ones go)"));
    /* 0.5 -> 0.55 adds 0.55 at the peak: 2.00 exactly, not over (KAI:
     * Deserved < allocated + requested) */
    assert_false(gf_quota_upsize(&m, api, 0.5, 0.55, &q));
    /* a downsize is never blocked */
    assert_false(gf_quota_upsize(&m, api, 0.5, 0.4, &q));
    gf_model_free(&m);
}

/* The ledger: upsizes let through add up, up the parent chain; a check
 * without charge leaves it as it was. */
static void test_ledger_adds_up(void **state)
{
    (void)state;
    gf_model m;
    /* top 2.0 holds 1.0 (0.5 in each leaf): each +0.55 fits alone, not both */
    load(&m, LIST(NODE "," QUEUE("top", "", "2", "") "," QUEUE("a", "top", "-1", "") "," QUEUE(
                 "b", "top", "-1",
                 "") "," DEPLOY("x", "1", "") "," POD("x-0", "x", "a", "0.5",
                                                      "") "," DEPLOY("y", "1",
                                                                     "") "," POD("y-0", "y", "b",
                                                                                 "0.5", "")));
    uint32_t x = wl(&m, "x"), y = wl(&m, "y");
    gf_quota_ledger l;
    gf_quota_ledger_init(&l, &m);
    gf_quota_check q;
    assert_false(gf_quota_upsize_ledger(&m, &l, x, 0.5, 0.55, false, &q)); /* not charged */
    assert_false(gf_quota_upsize_ledger(&m, &l, y, 0.5, 0.55, true, &q));  /* charged */
    assert_true(gf_quota_upsize_ledger(&m, &l, x, 0.5, 0.55, true, &q));
    assert_string_equal(m.queues.v[q.queue].name, "top");
    assert_true(fabs(q.allocated_gpus - 1.55) < 1e-9);
    /* the model's own check knows nothing of the ledger */
    assert_false(gf_quota_upsize(&m, x, 0.5, 0.55, &q));
    gf_quota_ledger_free(&l);
    gf_model_free(&m);
}

/* The surge makes the difference: without it +0.1 would fit. */
static void test_surge_counts(void **state)
{
    (void)state;
    gf_model m;
    load(&m, LIST(NODE "," QUEUE("q", "", "1.0", "") "," DEPLOY("api", "1", "") "," POD(
                 "api-0", "api", "q", "0.5", "")));
    gf_quota_check q;
    assert_true(gf_quota_upsize(&m, wl(&m, "api"), 0.5, 0.6, &q)); /* 0.5 + 0.6 > 1 */
    gf_model_free(&m);
    load(&m, LIST(NODE "," QUEUE("q", "", "1.0", "") "," DEPLOY(
                 "api", "1", ",\"strategy\":{\"type\":\"Recreate\"}") "," POD("api-0", "api", "q",
                                                                              "0.5", "")));
    assert_false(gf_quota_upsize(&m, wl(&m, "api"), 0.5, 0.6, &q)); /* 0.6 <= 1 */
    gf_model_free(&m);
}

/* Quota 0 deserves nothing: any non-preemptible upsize is over; a
 * preemptible workload may go over quota (KAI can reclaim it). */
static void test_zero_quota_and_preemptible(void **state)
{
    (void)state;
    gf_model m;
    load(&m, LIST(NODE "," QUEUE("q", "", "0", "") "," DEPLOY("api", "1", "") "," POD(
                 "api-0", "api", "q", "0.1",
                 "") "," DEPLOY("batch", "1",
                                "") "," POD("batch-0", "batch", "q", "0.1",
                                            ",\"kai.scheduler/preemptibility\":\"preemptible\"")));
    gf_quota_check q;
    assert_true(gf_quota_upsize(&m, wl(&m, "api"), 0.1, 0.2, &q));
    assert_false(gf_quota_upsize(&m, wl(&m, "batch"), 0.1, 0.9, &q));
    gf_model_free(&m);
}

/* KAI's own figure (status.allocatedNonPreemptible) wins over the pods';
 * a queue not in the input blocks nothing. */
static void test_status_figure(void **state)
{
    (void)state;
    gf_model m;
    load(
        &m,
        LIST(NODE "," QUEUE(
            "q", "", "3",
            ",\"status\":{\"allocated\":{\"nvidia.com/gpu\":"
            "\"2900m\"},\"allocatedNonPreemptible\":{"
            "\"nvidia.com/gpu\":\"2900m\"}}") "," DEPLOY("api", "1",
                                                         "") "," POD("api-0", "api", "q", "0.5",
                                                                     "") "," DEPLOY("lost", "1",
                                                                                    "") "," POD("lo"
                                                                                                "st"
                                                                                                "-"
                                                                                                "0",
                                                                                                "lo"
                                                                                                "s"
                                                                                                "t",
                                                                                                "no"
                                                                                                "wh"
                                                                                                "er"
                                                                                                "e",
                                                                                                "0."
                                                                                                "5",
                                                                                                "")));
    gf_quota_check q;
    assert_true(gf_quota_upsize(&m, wl(&m, "api"), 0.5, 0.55, &q)); /* 2.9 + 0.55 > 3 */
    assert_true(q.allocated_from_status);
    assert_true(fabs(q.allocated_gpus - 2.9) < 1e-9);
    assert_false(gf_quota_upsize(&m, wl(&m, "lost"), 0.5, 0.9, &q));
    gf_model_free(&m);
}

/* downsize.holdOneWay's test: a downsize is a one-way door when the queue
 * could not fund the way back, R x (old - new) + S x new over what the
 * downsize leaves = S x new over what the queue holds now. */
static void test_downsize_one_way(void **state)
{
    (void)state;
    gf_model m;
    gf_quota_check q;
    /* quota 1.0, two pods of 0.5 (1.0 held), surge 1: 1.0 + 0.3 > 1.0 */
    load(&m, LIST(NODE "," QUEUE("q", "", "1.0", "") "," DEPLOY("api", "2", "") "," POD(
                 "api-0", "api", "q", "0.5", "") "," POD("api-1", "api", "q", "0.5", "")));
    assert_true(gf_quota_downsize_one_way(&m, wl(&m, "api"), 0.5, 0.3, &q));
    assert_true(q.blocked);
    assert_int_equal(q.surge_pods, 1);
    assert_true(fabs(q.delta_gpus - 0.3) < 1e-9);
    assert_true(fabs(q.allocated_gpus - 1.0) < 1e-9);
    char text[300];
    gf_quota_one_way_text(&m, &q, text, sizeof text);
    assert_non_null(strstr(text, "downsize held: a one-way door: queue q quota 1.00 GPUs"));
    assert_false(gf_quota_downsize_one_way(&m, wl(&m, "api"), 0.3, 0.5, &q)); /* an upsize */
    gf_model_free(&m);
    /* quota 1.5: 1.0 + 0.3 fits, the way back is open; Recreate (no surge):
     * at its quota the way back is open, over it not */
    static const struct {
        const char *json;
        bool one_way;
    } cases[] = {
        {LIST(NODE "," QUEUE("q", "", "1.5", "") "," DEPLOY("api", "2", "") "," POD(
             "api-0", "api", "q", "0.5", "") "," POD("api-1", "api", "q", "0.5", "")),
         false},
        {LIST(NODE "," QUEUE("q", "", "1.0", "") "," DEPLOY(
             "api", "2",
             ",\"strategy\":{\"type\":\"Recreate\"}") "," POD("api-0", "api", "q", "0.5",
                                                              "") "," POD("api-1", "api", "q",
                                                                          "0.5", "")),
         false},
        {LIST(NODE "," QUEUE("q", "", "0.9", "") "," DEPLOY(
             "api", "2",
             ",\"strategy\":{\"type\":\"Recreate\"}") "," POD("api-0", "api", "q", "0.5",
                                                              "") "," POD("api-1", "api", "q",
                                                                          "0.5", "")),
         true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        load(&m, cases[k].json);
        assert_int_equal(gf_quota_downsize_one_way(&m, wl(&m, "api"), 0.5, 0.3, &q),
                         cases[k].one_way);
        gf_model_free(&m);
    }
    /* a preemptible workload may go over quota: never a one-way door */
    load(&m,
         LIST(NODE "," QUEUE("q", "", "0", "") "," DEPLOY("batch", "1", "") "," POD(
             "batch-0", "batch", "q", "0.5", ",\"kai.scheduler/preemptibility\":\"preemptible\"")));
    assert_false(gf_quota_downsize_one_way(&m, wl(&m, "batch"), 0.5, 0.3, &q));
    gf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_surge_pods),    cmocka_unit_test(test_strategy_read),
        cmocka_unit_test(test_parent_chain),  cmocka_unit_test(test_ledger_adds_up),
        cmocka_unit_test(test_surge_counts),  cmocka_unit_test(test_zero_quota_and_preemptible),
        cmocka_unit_test(test_status_figure), cmocka_unit_test(test_downsize_one_way),
    };
    return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
