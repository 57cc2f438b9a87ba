/* test_pack.c - fit rules and scorer choices on small hand-made clusters. */
#include "testutil.h"
#include "decide/pack.h"
#include "kjson.h"

#include <math.h>
#include <string.h>

#define LIST KJ_LIST
#define NODE(name, product, gpus, cpu, labels, spec)                                               \
    KJ_NODE(name, product, "20000", gpus, cpu, labels, spec)
#define SHARED(name, node, group, frac) KJ_SHARED(name, node, group, frac, "")
#define PENDING KJ_PENDING

typedef struct fx {
    gf_model m;
    gf_diags d;
    gf_error err;
    gf_pack_state *s;
} fx;

static fx *load(const char *json)
{
    fx *f = test_calloc(1, sizeof *f);
    gf_model_init(&f->m);
    gf_diags_init(&f->d);
    gf_err rc = gf_test_load_text(&f->m, &f->d, &f->err, json);
    if (rc) fail_msg("load: %s: %s", f->err.where, f->err.msg);
    f->s = gf_pack_state_new(&f->m);
    return f;
}

static void unload(fx *f)
{
    gf_pack_state_free(f->s);
    gf_diags_free(&f->d);
    gf_model_free(&f->m);
    test_free(f);
}

static const gf_pod *pod(const fx *f, const char *name)
{
    long i = gf_test_pod(&f->m, "t", name);
    assert_true(i >= 0);
    return &f->m.pods.v[i];
}

static const char *node_name(const fx *f, uint32_t node)
{
    return f->m.nodes.v[node].name;
}

static int local_gpu(const fx *f, uint32_t gpu)
{
    return f->m.gpus.v[gpu].index;
}

/* --- fit rules ------------------------------------------------------------ */

static void test_fit_rules(void **state)
{
    (void)state;
    fx *f = load(
        LIST(NODE("l4", "NVIDIA-L4", "2", "8", "", "") ",\n"                              //
             NODE("a10", "NVIDIA-A10", "1", "8", "", "") ",\n"                            //
             NODE("cordoned", "NVIDIA-L4", "4", "64", "", "\"unschedulable\":true") ",\n" //
             NODE("tainted", "NVIDIA-L4", "4", "64", "",
                  "\"taints\":[{\"key\":\"dedicated\",\"value\":\"ml\",\"effect\":"
                  "\"NoSchedule\"}]") ",\n" //
             NODE("pooled", "NVIDIA-L4", "4", "64", ",\"kai.scheduler/node-pool\":\"batch\"",
                  "") ",\n"                                                                   //
             SHARED("s1", "l4", "g1", "0.7") ",\n"                                            //
             PENDING("frac04", ",\"annotations\":{\"gpu-fraction\":\"0.4\"}", "", "{}") ",\n" //
             PENDING("frac03", ",\"annotations\":{\"gpu-fraction\":\"0.3\"}", "", "{}") ",\n" //
             PENDING("mem", ",\"annotations\":{\"gpu-memory\":\"12000\"}", "", "{}") ",\n"    //
             PENDING("two",
                     ",\"annotations\":{\"gpu-fraction\":\"0.5\",\"gpu-fraction-num-devices\":"
                     "\"2\"}",
                     "", "{}") ",\n"                                                    //
             PENDING("whole2", "", "", "{\"limits\":{\"nvidia.com/gpu\":\"2\"}}") ",\n" //
             PENDING("bigcpu", ",\"annotations\":{\"gpu-fraction\":\"0.1\"}", "",
                     "{\"requests\":{\"cpu\":\"7500m\"}}") ",\n" //
             PENDING("a10only", ",\"annotations\":{\"gpu-fraction\":\"0.1\"}",
                     ",\"nodeSelector\":{\"nvidia.com/gpu.product\":\"NVIDIA-A10\"}",
                     "{}") ",\n" //
             PENDING("tolerant", ",\"annotations\":{\"gpu-fraction\":\"0.1\"}",
                     ",\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\","
                     "\"value\":\"ml\",\"effect\":\"NoSchedule\"}]",
                     "{}") ",\n" //
             PENDING("batch",
                     ",\"labels\":{\"kai.scheduler/"
                     "node-pool\":\"batch\"},\"annotations\":{\"gpu-fraction\":\"0.1\"}",
                     "", "{}")));
    gf_placement pl;
    const char *why = NULL;
    uint32_t l4 = 0, a10 = 1, cordoned = 2, tainted = 3, pooled = 4;

    /* l4: GPU0 has 0.3 free, GPU1 idle */
    assert_true(gf_pack_fit_node(f->s, pod(f, "frac03"), l4, GF_SCORE_BINPACK, &pl, &why));
    assert_int_equal(local_gpu(f, pl.gpus[0]), 0); /* fullest GPU that fits */
    assert_true(gf_pack_fit_node(f->s, pod(f, "frac04"), l4, GF_SCORE_BINPACK, &pl, &why));
    assert_int_equal(local_gpu(f, pl.gpus[0]), 1); /* 0.4 does not fit in 0.3 */
    /* gpu-memory counts against the node's GPU memory: 12000/20000 = 0.6 */
    assert_true(gf_pack_fit_node(f->s, pod(f, "mem"), l4, GF_SCORE_BINPACK, &pl, &why));
    assert_true(fabs(pl.share - 0.6) < 1e-12);
    /* two devices of 0.5 on one node: l4 has only one GPU with >= 0.5 */
    assert_false(gf_pack_fit_node(f->s, pod(f, "two"), l4, GF_SCORE_BINPACK, &pl, &why));
    assert_string_equal(why, "no GPU on the node has a large enough free fraction");
    assert_false(gf_pack_fit_node(f->s, pod(f, "whole2"), l4, GF_SCORE_BINPACK, &pl, &why));
    assert_string_equal(why, "not enough idle GPUs");
    assert_false(gf_pack_fit_node(f->s, pod(f, "bigcpu"), l4, GF_SCORE_BINPACK, &pl, &why));
    assert_string_equal(why, "not enough free CPU"); /* 8 - 1 (s1) < 7.5 */
    assert_false(gf_pack_fit_node(f->s, pod(f, "a10only"), l4, GF_SCORE_BINPACK, &pl, &why));
    assert_string_equal(why, "node does not match the pod's nodeSelector");
    assert_true(gf_pack_fit_node(f->s, pod(f, "a10only"), a10, GF_SCORE_BINPACK, &pl, &why));
    assert_false(gf_pack_fit_node(f->s, pod(f, "frac03"), cordoned, GF_SCORE_BINPACK, &pl, &why));
    assert_string_equal(why, "node is unschedulable (cordoned)");
    assert_false(gf_pack_fit_node(f->s, pod(f, "frac03"), tainted, GF_SCORE_BINPACK, &pl, &why));
    assert_string_equal(why, "node has a taint the pod does not tolerate");
    assert_true(gf_pack_fit_node(f->s, pod(f, "tolerant"), tainted, GF_SCORE_BINPACK, &pl, &why));
    assert_false(gf_pack_fit_node(f->s, pod(f, "frac03"), pooled, GF_SCORE_BINPACK, &pl, &why));
    assert_string_equal(why, "node is in another node pool");
    assert_true(gf_pack_fit_node(f->s, pod(f, "batch"), pooled, GF_SCORE_BINPACK, &pl, &why));
    assert_false(gf_pack_fit_node(f->s, pod(f, "batch"), l4, GF_SCORE_BINPACK, &pl, &why));
    /* the two-device pod fits on the 4-GPU pooled node only if in that pool: nowhere */
    assert_int_equal(gf_pack_place(f->s, pod(f, "two"), GF_SCORE_BINPACK, NULL, &pl), GF_ENOTFOUND);
    unload(f);
}

static void test_apply_and_remove(void **state)
{
    (void)state;
    fx *f = load(LIST(NODE("n", "NVIDIA-L4", "1", "8", "", "") ",\n" //
                      PENDING("p", ",\"annotations\":{\"gpu-fraction\":\"0.6\"}", "",
                              "{\"requests\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}")));
    gf_placement pl;
    const gf_pod *p = pod(f, "p");
    assert_int_equal(gf_pack_place(f->s, p, GF_SCORE_BINPACK, NULL, &pl), GF_OK);
    gf_pack_apply(f->s, p, &pl);
    assert_true(fabs(f->s->gpu_free[0] - 0.4) < 1e-12);
    assert_int_equal(f->s->free_cpu_milli[0], 6000);
    /* a second copy no longer fits */
    assert_int_equal(gf_pack_place(f->s, p, GF_SCORE_BINPACK, NULL, &pl), GF_ENOTFOUND);
    assert_int_equal(gf_pack_place(f->s, p, GF_SCORE_BINPACK, NULL, &pl), GF_ENOTFOUND);
    gf_placement first = {0};
    first.node = 0;
    first.n_gpus = 1;
    first.gpus[0] = 0;
    first.share = 0.6;
    gf_pack_remove(f->s, p, &first);
    assert_true(fabs(f->s->gpu_free[0] - 1.0) < 1e-12);
    assert_int_equal(f->s->free_cpu_milli[0], 8000);
    unload(f);
}

/* --- scorers: known answers ------------------------------------------------ */

/* Node "busy" has one GPU with 0.7 free; node "idle" one idle GPU. */
#define TWO_NODES                                                                                  \
    NODE("busy", "NVIDIA-L4", "1", "16", "", "")                                                   \
    ",\n"                                                  /**/                                    \
        NODE("idle", "NVIDIA-L4", "1", "16", "", "") ",\n" /**/                                    \
        SHARED("s1", "busy", "g1", "0.3") ",\n"            /**/                                    \
        PENDING("p", ",\"annotations\":{\"gpu-fraction\":\"0.3\"}", "", "{}")

static void test_binpack_and_spread(void **state)
{
    (void)state;
    fx *f = load(LIST(TWO_NODES));
    gf_placement pl;
    assert_int_equal(gf_pack_place(f->s, pod(f, "p"), GF_SCORE_BINPACK, NULL, &pl), GF_OK);
    assert_string_equal(node_name(f, pl.node), "busy");
    assert_int_equal(gf_pack_place(f->s, pod(f, "p"), GF_SCORE_SPREAD, NULL, &pl), GF_OK);
    assert_string_equal(node_name(f, pl.node), "idle");
    assert_int_equal(gf_pack_place(f->s, pod(f, "p"), GF_SCORE_BESTFIT, NULL, &pl), GF_OK);
    assert_string_equal(node_name(f, pl.node), "busy");
    /* skip mask */
    bool skip[2] = {true, false};
    assert_int_equal(gf_pack_place(f->s, pod(f, "p"), GF_SCORE_BINPACK, skip, &pl), GF_OK);
    assert_string_equal(node_name(f, pl.node), "idle");
    unload(f);
}

/* With a workload of 0.6-GPU tasks, putting 0.3 on the busy GPU (0.7 free)
 * leaves 0.4 that no task can use (+0.4 fragmentation), while the idle GPU
 * keeps 0.7 free, which still fits a 0.6 task (+0). FGD picks the idle node;
 * binpack the busy one (test above). */
static void test_fgd_avoids_fragment(void **state)
{
    (void)state;
    fx *f = load(LIST(TWO_NODES));
    gf_task_class cls[] = {{0, 0, 0, 0.6, 1.0, 0}};
    gf_pack_set_classes(f->s, cls, 1);
    assert_true(fabs(gf_pack_node_fragmentation(f->s, 0) - 0.0) < 1e-12);
    gf_placement pl;
    assert_int_equal(gf_pack_place(f->s, pod(f, "p"), GF_SCORE_FGD, NULL, &pl), GF_OK);
    assert_string_equal(node_name(f, pl.node), "idle");
    assert_true(fabs(pl.score - 0.0) < 1e-12);
    const char *why;
    assert_true(gf_pack_fit_node(f->s, pod(f, "p"), 0, GF_SCORE_FGD, &pl, &why));
    assert_true(fabs(pl.score - 0.4) < 1e-12);

    /* with 0.3-sized tasks instead, the busy GPU's 0.4 remainder is still
     * useful and packing it is preferred (the idle GPU would keep 0.7: fine
     * too, so both deltas are 0 and the tie goes to the lower index) */
    gf_task_class small[] = {{0, 0, 0, 0.3, 1.0, 0}};
    gf_pack_set_classes(f->s, small, 1);
    assert_int_equal(gf_pack_place(f->s, pod(f, "p"), GF_SCORE_FGD, NULL, &pl), GF_OK);
    assert_string_equal(node_name(f, pl.node), "busy");
    unload(f);
}

/* FGD's measure on one node by hand: GPUs free [0.2, 1.0]; classes:
 * 50% 0.5-GPU tasks (0.2 is a fragment), 25% whole-GPU tasks (0.2 is a
 * fragment), 25% CPU-only tasks (all 1.2 free counts): 0.5*0.2 + 0.25*0.2 +
 * 0.25*1.2 = 0.45. A 2-GPU task cannot run: add a class, all 1.2 counts. */
static void test_fgd_measure(void **state)
{
    (void)state;
    fx *f = load(LIST(NODE("n", "NVIDIA-L4", "2", "16", "", "") ",\n" //
                      SHARED("s1", "n", "g1", "0.8")));
    gf_task_class cls[] = {{0, 0, 0, 0.5, 2.0, 0}, {0, 0, 1, 0, 1.0, 0}, {0, 0, 0, 0, 1.0, 0}};
    gf_pack_set_classes(f->s, cls, 3);
    assert_true(fabs(gf_pack_node_fragmentation(f->s, 0) - 0.45) < 1e-9);
    gf_task_class more[] = {
        {0, 0, 0, 0.5, 2.0, 0}, {0, 0, 1, 0, 1.0, 0}, {0, 0, 0, 0, 1.0, 0}, {0, 0, 2, 0, 4.0, 0}};
    gf_pack_set_classes(f->s, more, 4);
    /* (2*0.2 + 1*0.2 + 1*1.2 + 4*1.2) / 8 = 6.6 / 8 */
    assert_true(fabs(gf_pack_node_fragmentation(f->s, 0) - 6.6 / 8) < 1e-9);
    /* a CPU-heavy class that cannot fit the node's CPU sees all free GPU */
    gf_task_class cpu[] = {{32000, 0, 0, 0.5, 1.0, 0}};
    gf_pack_set_classes(f->s, cpu, 1);
    assert_true(fabs(gf_pack_node_fragmentation(f->s, 0) - 1.2) < 1e-9);
    unload(f);
}

static void test_classes_from_pods(void **state)
{
    (void)state;
    fx *f = load(LIST(NODE("n", "NVIDIA-L4", "2", "16", "", "") ",\n" //
                      SHARED("a", "n", "g1", "0.25") ",\n"            //
                      SHARED("b", "n", "g1", "0.25") ",\n"            //
                      SHARED("c", "n", "g2", "0.5")));
    gf_task_class *cls = NULL;
    size_t n = gf_pack_classes_from_pods(&f->m, &cls);
    assert_int_equal(n, 2);
    assert_true(cls[0].gpu_share == 0.25 && cls[0].weight == 2.0);
    assert_true(cls[1].gpu_share == 0.5 && cls[1].weight == 1.0);
    free(cls);
    unload(f);
}

/* A task class that needs a GPU model sees every free GPU of a node of
 * another model as a fragment (it cannot run there); on its own model the
 * usual rule holds. Classes from pods carry the model from their selector. */
static void test_fgd_model_classes(void **state)
{
    (void)state;
    fx *f = load(LIST(NODE("l4", "NVIDIA-L4", "1", "16", "", "") ",\n" //
                      NODE("t4", "Tesla-T4", "1", "16", "", "") ",\n"  //
                      SHARED("a", "l4", "g1", "0.3") ",\n"             //
                      SHARED("b", "t4", "g2", "0.3")));
    uint64_t l4 = gf_pack_model_bit(&f->m, "NVIDIA-L4"), t4 = gf_pack_model_bit(&f->m, "Tesla-T4");
    assert_true(l4 && t4 && l4 != t4);
    assert_int_equal(gf_pack_model_bit(&f->m, NULL), 0);
    assert_int_equal(gf_pack_model_bit(&f->m, "H100"), (uint64_t)1 << 63);
    gf_task_class cls[] = {{0, 0, 0, 0.5, 1.0, 0}};
    cls[0].model_mask = l4;
    gf_pack_set_classes(f->s, cls, 1);
    assert_true(fabs(gf_pack_node_fragmentation(f->s, 0) - 0.0) < 1e-9); /* 0.7 free fits 0.5 */
    assert_true(fabs(gf_pack_node_fragmentation(f->s, 1) - 0.7) < 1e-9); /* T4: all of it */
    cls[0].model_mask = 0;
    gf_pack_set_classes(f->s, cls, 1);
    assert_true(fabs(gf_pack_node_fragmentation(f->s, 1) - 0.0) < 1e-9);
    unload(f);

    f = load(
        LIST(NODE("l4", "NVIDIA-L4", "1", "16", "", "") ",\n" //
             NODE("t4", "Tesla-T4", "1", "16", "", "") ",\n"  //
             PENDING("p", ",\"annotations\":{\"gpu-fraction\":\"0.5\"}",
                     ",\"nodeSelector\":{\"nvidia.com/gpu.product\":\"Tesla-T4\"}", "{}") ",\n" //
             PENDING("q", ",\"annotations\":{\"gpu-fraction\":\"0.5\"}", "", "{}")));
    gf_task_class *out = NULL;
    size_t n = gf_pack_classes_from_pods(&f->m, &out);
    assert_int_equal(n, 2); /* same request, different models: two classes */
    assert_int_equal(out[0].model_mask, 0);
    assert_int_equal(out[1].model_mask, gf_pack_model_bit(&f->m, "Tesla-T4"));
    free(out);
    unload(f);
}

static void test_scorer_names(void **state)
{
    (void)state;
    gf_scorer s;
    for (int i = 0; i < GF_SCORER_COUNT; i++) {
        assert_int_equal(gf_scorer_parse(gf_scorer_name((gf_scorer)i), &s), GF_OK);
        assert_int_equal(s, i);
    }
    assert_int_equal(gf_scorer_parse("random", &s), GF_EUSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_rules),          cmocka_unit_test(test_apply_and_remove),
        cmocka_unit_test(test_binpack_and_spread), cmocka_unit_test(test_fgd_avoids_fragment),
        cmocka_unit_test(test_fgd_measure),        cmocka_unit_test(test_classes_from_pods),
        cmocka_unit_test(test_scorer_names),       cmocka_unit_test(test_fgd_model_classes),
    };
    return cmocka_run_group_tests_name("pack", tests, NULL, NULL);
}
