/* test_convert.c - whole GPUs onto KAI fractions (decide/convert.c), the
 * toWholeGpu graduation (decide/recommend.c) and the conversion's patches
 * (io/convert_patch.c). */
#include "testutil.h"
#include "decide/convert.h"
#include "io/convert_patch.h"
#include "kjson.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN 60.0
#define HOUR 3600.0
#define DAY 86400.0
#define L4_MIB 23034
#define L4_BYTES (23034.0 * 1048576.0)
#define EPS 1e-9

/* A running pod of a Deployment (by the pod-template-hash convention) with a
 * sidecar and a "model" container holding gpus whole GPUs. */
#define WHOLE(dep, pod, sched, gpus, meta)                                                         \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" dep "-5f6c7d8e9a-" pod                           \
    "\",\"namespace\":\"t\",\"labels\":{\"pod-template-hash\":\"5f6c7d8e9a\"}" KJ_OWNER(           \
        "ReplicaSet", dep "-5f6c7d8e9a") meta                                                      \
        "},"                                                                                       \
        "\"spec\":{\"nodeName\":\"n1\",\"schedulerName\":\"" sched "\",\"containers\":["           \
        "{\"name\":\"sidecar\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}},"                  \
        "{\"name\":\"model\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"" gpus "\"},"         \
        "\"requests\":{\"cpu\":\"2\",\"nvidia.com/gpu\":\"" gpus "\"}}}]},"                        \
        "\"status\":{\"phase\":\"Running\"}}"

/* clang-format off */
static const char *const cluster = KJ_LIST(
    KJ_NODE("n1", "NVIDIA-L4", "23034", "8", "64", "", "") ","
    WHOLE("chat", "aaaaa", "kai-scheduler", "1", "") ","
    WHOLE("chat", "bbbbb", "kai-scheduler", "1", "") ","
    WHOLE("busy", "aaaaa", "kai-scheduler", "1", "") ","
    WHOLE("multi", "aaaaa", "kai-scheduler", "2", "") ","
    WHOLE("other", "aaaaa", "default-scheduler", "1", "") ","
    WHOLE("quiet", "aaaaa", "kai-scheduler", "1",
          ",\"annotations\":{\"gpufrac.io/rightsize\":\"off\"}") ","
    WHOLE("young", "aaaaa", "kai-scheduler", "1", ""));
/* clang-format on */

typedef struct fixture {
    gf_model m;
    gf_history h;
    gf_policy p;
    gf_recommendations recs;
} fixture;

/* A constant use per minute over [t0, t1]: memory as a share of one L4, SM share. */
static void use(gf_history *h, const char *name, double t0, double t1, double mem, double sm)
{
    char key[200];
    gf_recommend_key("t", "Deployment", name, key, sizeof key);
    gf_error err;
    for (double t = t0; t <= t1; t += MIN) {
        assert_int_equal(gf_history_add(h, key, GF_SIG_MEMORY, t, mem * L4_BYTES, &err), GF_OK);
        assert_int_equal(gf_history_add(h, key, GF_SIG_SM, t, sm, &err), GF_OK);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err;
    gf_model_init(&f->m);
    if (gf_test_load_text(&f->m, &d, &err, cluster) != GF_OK) {
        fprintf(stderr, "%s: %s\n", err.where, err.msg);
        return -1;
    }
    gf_diags_free(&d);
    if (gf_history_init(&f->h, NULL, &err) != GF_OK) return -1;
    use(&f->h, "chat", 0, 2 * DAY, 0.20, 0.20);  /* 20% of its GPU */
    use(&f->h, "busy", 0, 2 * DAY, 0.30, 0.90);  /* 90% of its compute */
    use(&f->h, "multi", 0, 2 * DAY, 0.10, 0.10); /* per device, on each of 2 */
    use(&f->h, "other", 0, 2 * DAY, 0.20, 0.20);
    use(&f->h, "quiet", 0, 2 * DAY, 0.20, 0.20);
    use(&f->h, "young", 1.5 * DAY, 2 * DAY, 0.20, 0.20); /* 12 h: less than minHistory 1d */
    gf_policy_init(&f->p);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gf_vec_free(&f->recs);
    gf_policy_free(&f->p);
    gf_history_free(&f->h);
    gf_model_free(&f->m);
    free(f);
    return 0;
}

static const gf_recommendation *rec(fixture *f, const char *name)
{
    for (size_t i = 0; i < f->recs.n; i++)
        if (!strcmp(f->recs.v[i].in.name, name)) return &f->recs.v[i];
    for (size_t i = 0; i < f->recs.n; i++)
        print_message("have %s/%s\n", f->recs.v[i].in.kind, f->recs.v[i].in.name);
    fail_msg("no recommendation for %s", name);
    return NULL;
}

static void recommend(fixture *f)
{
    gf_error err;
    f->recs.n = 0;
    assert_int_equal(gf_recommend_model(&f->m, &f->h, &f->p, 2 * DAY, &f->recs, &err), GF_OK);
}

/* 20% use: a quarter of a GPU, three quarters of each of its 2 replicas freed. */
static void test_low_use_converts(void **state)
{
    fixture *f = *state;
    recommend(f);
    const gf_recommendation *r = rec(f, "chat");
    assert_int_equal(r->action, GF_REC_TO_FRACTION);
    assert_int_equal(r->mode, GF_MODE_RECOMMEND);
    assert_int_equal(r->in.whole_gpus, 1);
    assert_int_equal(r->in.devices, 1);
    assert_int_equal(r->in.replicas, 2);
    assert_int_equal(r->in.unit, GF_SHARE_FRACTION);
    assert_string_equal(r->in.gpu_container, "model"); /* the first holding a GPU */
    assert_true(fabs(r->recommended - 0.25) < EPS);    /* 0.20 x 1.15 up to the step */
    assert_true(fabs(r->gpus_saved - 1.5) < EPS);
    assert_false(r->set_scheduler);
    assert_non_null(strstr(r->reason, "frees 1.50 GPUs"));

    /* n GPUs per pod: a fraction of each and gpu-fraction-num-devices */
    r = rec(f, "multi");
    assert_int_equal(r->action, GF_REC_TO_FRACTION);
    assert_int_equal(r->in.devices, 2);
    assert_true(fabs(r->recommended - 0.15) < EPS);
    assert_true(fabs(r->gpus_saved - 1.7) < EPS);

    /* the policy asks for MiB: gpu-memory, rounded up to memoryStepMiB */
    f->p.defaults.convert_unit = GF_SHARE_MEMORY;
    recommend(f);
    r = rec(f, "chat");
    assert_int_equal(r->action, GF_REC_TO_FRACTION);
    assert_int_equal(r->in.unit, GF_SHARE_MEMORY);
    /* the need is the SM p95 as the history's histogram answers it, x 1.15 */
    double p95;
    gf_error err;
    assert_int_equal(gf_hist_percentile(gf_history_find(&f->h, "t/Deployment/chat"), GF_SIG_SM,
                                        0.95, &p95, &err),
                     GF_OK);
    double need = fmax(0.23, p95 * 1.15) * L4_MIB;
    assert_true(fabs(r->recommended - ceil(need / 256) * 256) < EPS);
    assert_true(fmod(r->recommended, 256) == 0);
}

/* 90% of its compute: keeps its GPU. */
static void test_high_use_keeps_gpu(void **state)
{
    fixture *f = *state;
    recommend(f);
    const gf_recommendation *r = rec(f, "busy");
    assert_int_equal(r->action, GF_REC_KEEP);
    assert_true(r->recommended_fraction == 1);
    assert_true(r->gpus_saved == 0);
    assert_non_null(strstr(r->reason, "above maxFractionForConversion 0.75"));
}

/* mode, opt-out, minimum history, scheduler */
static void test_policy_and_history(void **state)
{
    fixture *f = *state;
    recommend(f);
    assert_int_equal(rec(f, "quiet")->action, GF_REC_OFF); /* gpufrac.io/rightsize=off */
    const gf_recommendation *r = rec(f, "young");
    assert_int_equal(r->action, GF_REC_KEEP);
    assert_non_null(strstr(r->reason, "too little history to convert a whole GPU (12h of 1d)"));
    assert_true(fabs(r->confidence - 0.5) < 1e-6);
    /* not KAI's: only with setScheduler, which then sets it */
    r = rec(f, "other");
    assert_int_equal(r->action, GF_REC_KEEP);
    assert_non_null(strstr(r->reason, "scheduled by default-scheduler"));
    f->p.defaults.convert_set_scheduler = true;
    recommend(f);
    r = rec(f, "other");
    assert_int_equal(r->action, GF_REC_TO_FRACTION);
    assert_true(r->set_scheduler);
    assert_false(rec(f, "chat")->set_scheduler);
    /* the rule's own minimum history */
    f->p.defaults.convert_min_history_s = (int64_t)(6 * HOUR);
    recommend(f);
    assert_int_equal(rec(f, "young")->action, GF_REC_TO_FRACTION);
    /* mode: auto is carried, off stops it */
    f->p.defaults.convert_from_whole = GF_MODE_AUTO;
    recommend(f);
    assert_int_equal(rec(f, "chat")->mode, GF_MODE_AUTO);
    assert_int_equal(rec(f, "quiet")->action, GF_REC_OFF);
    f->p.defaults.convert_from_whole = GF_MODE_OFF;
    recommend(f);
    for (size_t i = 0; i < f->recs.n; i++)
        if (f->recs.v[i].in.whole_gpus) assert_int_equal(f->recs.v[i].action, GF_REC_OFF);
    /* rightsizing mode off leaves the workload alone too */
    f->p.defaults.convert_from_whole = GF_MODE_RECOMMEND;
    f->p.defaults.mode = GF_MODE_OFF;
    recommend(f);
    assert_int_equal(rec(f, "chat")->action, GF_REC_OFF);
}

/* The patches: kubectl's strategic form and the controller's merge form. */
static void test_patches(void **state)
{
    fixture *f = *state;
    recommend(f);
    char val[32];
    gf_convert_change c;
    gf_convert_change_of(rec(f, "multi"), val, sizeof val, &c);
    json_t *p = gf_convert_patch_strategic(&c);
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        s, "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gpu-fraction\":\"0.15\","
           "\"gpu-fraction-num-devices\":\"2\"}},\"spec\":{\"containers\":[{\"name\":\"model\","
           "\"resources\":{\"limits\":{\"nvidia.com/gpu\":null},\"requests\":{\"nvidia.com/gpu\":"
           "null}}}]}}}}");
    free(s);
    json_decref(p);

    /* the merge form rewrites the whole list from the object read */
    gf_convert_change_of(rec(f, "chat"), val, sizeof val, &c);
    c.set_scheduler = true;
    json_error_t je;
    json_t *cur = json_loads(
        "{\"metadata\":{\"name\":\"chat\"},\"spec\":{\"template\":{\"metadata\":{\"labels\":"
        "{\"app\":\"chat\"}},\"spec\":{\"containers\":[{\"name\":\"sidecar\",\"image\":\"s\"},"
        "{\"name\":\"model\",\"image\":\"m\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"},"
        "\"requests\":{\"cpu\":\"2\",\"nvidia.com/gpu\":\"1\"}}}]}}}}",
        0, &je);
    assert_non_null(cur);
    gf_error err;
    assert_int_equal(gf_convert_patch_merge(cur, &c, &p, &err), GF_OK);
    s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        s, "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gpu-fraction\":\"0.25\"}},"
           "\"spec\":{\"containers\":[{\"image\":\"s\",\"name\":\"sidecar\"},{\"image\":\"m\","
           "\"name\":\"model\",\"resources\":{\"limits\":{},\"requests\":{\"cpu\":\"2\"}}}],"
           "\"schedulerName\":\"kai-scheduler\"}}}}");
    free(s);
    json_decref(p);
    /* applied already: nothing to patch */
    json_t *tmpl = json_object_get(json_object_get(cur, "spec"), "template");
    json_object_set_new(json_object_get(tmpl, "metadata"), "annotations",
                        json_pack("{s:s}", "gpu-fraction", "0.25"));
    json_t *model = json_array_get(json_object_get(json_object_get(tmpl, "spec"), "containers"), 1);
    json_object_del(json_object_get(json_object_get(model, "resources"), "limits"),
                    "nvidia.com/gpu");
    json_object_del(json_object_get(json_object_get(model, "resources"), "requests"),
                    "nvidia.com/gpu");
    assert_int_equal(gf_convert_patch_merge(cur, &c, &p, &err), GF_OK);
    assert_null(p);
    /* no such container: an error naming it */
    c.container = "gone";
    assert_int_equal(gf_convert_patch_merge(cur, &c, &p, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "no container \"gone\""));
    json_decref(cur);
}

/* toWholeGpu: a fractional workload whose need passes maxFraction. */
static void test_fraction_graduates_to_whole(void **state)
{
    (void)state;
    gf_history h;
    gf_error err;
    assert_int_equal(gf_history_init(&h, NULL, &err), GF_OK);
    /* 0.8 of the GPU for a day, then a new peak of 0.88 (98% of 0.9) over
     * the last five minutes: an upsize past maxFraction (upsize.newPeak) */
    use(&h, "big", 0, DAY - 6 * MIN, 0.8, 0.5);
    use(&h, "big", DAY - 5 * MIN, DAY, 0.88, 0.5);
    gf_rightsize_rule rule;
    gf_rightsize_rule_defaults(&rule);
    rule.max_fraction = 0.9;
    gf_rec_input in = {.ns = "t",
                       .kind = "Deployment",
                       .name = "big",
                       .unit = GF_SHARE_FRACTION,
                       .fraction = 0.9,
                       .devices = 1,
                       .gpu_memory_mib = L4_MIB,
                       .replicas = 3};
    gf_recommendation r;
    const gf_hist_series *s = gf_history_find(&h, "t/Deployment/big");
    assert_int_equal(gf_recommend_one(&rule, &in, s, DAY, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_TO_WHOLE);
    assert_int_equal(r.mode, GF_MODE_RECOMMEND);
    assert_true(r.recommended_fraction == 1);
    assert_true(fabs(r.gpus_saved - (0.9 - 1) * 3) < EPS); /* costs 0.1 x 3 */
    assert_non_null(strstr(r.reason, "convert.toWholeGpu"));
    rule.convert_to_whole = GF_MODE_OFF; /* stays at the bound */
    assert_int_equal(gf_recommend_one(&rule, &in, s, DAY, &r, &err), GF_OK);
    assert_int_equal(r.action, GF_REC_KEEP);
    assert_non_null(strstr(r.reason, "consider a whole GPU"));
    gf_history_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_low_use_converts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_high_use_keeps_gpu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patches, setup, teardown),
        cmocka_unit_test(test_fraction_graduates_to_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
