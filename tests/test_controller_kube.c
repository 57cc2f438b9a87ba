/* test_controller_kube.c - the controller's Kubernetes backend
 * (io/kube/controller_kube.h) against the stand-in API server (tests/standin)
 * holding tests/fixtures/controller/cluster: the snapshot and the
 * annotations it reads back, the resize patch and what a 409 leads to (our
 * own change already applied: success; someone else's change: refused, not
 * overwritten), recommendation annotations, Events, evictions under a
 * PodDisruptionBudget, cordons, exporter discovery and scrape; the leader
 * elector with two candidates; and the /metrics page. */
#include "testutil.h"
#include "io/kube/controller_kube.h"
#include "io/kube/controller_metrics.h"
#include "io/kube/elector.h"
#include "io/http_server.h"
#include "io/policy_yaml.h"
#include "io/promtext.h"
#include "standin/standin.h"
#include "util/version.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN "gf-ctl-kube-token"
#define CHAT "team-a", "chat"

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static gf_standin *standin(void)
{
    gf_standin_opts o = {0};
    o.token = TOKEN;
    o.bookmark_ms = 100;
    gf_standin *s;
    gf_error err = {0};
    if (gf_standin_start(&s, &o, &err)) fail_msg("stand-in: %s", err.msg);
    if (gf_standin_load(s, GF_FIXTURES "/controller/cluster", &err))
        fail_msg("fixtures: %s: %s", err.where, err.msg);
    return s;
}

static gf_kube *client_for(gf_standin *s)
{
    gf_kube_config c;
    gf_kube_config_init(&c);
    c.server = gf_xstrdup(gf_standin_url(s));
    c.token = gf_xstrdup(TOKEN);
    gf_kube_options o;
    gf_kube_options_default(&o);
    o.backoff_base_s = 0.01;
    o.backoff_max_s = 0.05;
    gf_kube *k;
    gf_error err = {0};
    if (gf_kube_new(&k, &c, &o, &err)) fail_msg("client: %s", err.msg);
    gf_kube_config_free(&c);
    return k;
}

typedef struct env {
    gf_standin *s;
    gf_kube *k;
    gf_ctl_kube *kb;
    gf_ctl_backend b;
} env;

static void env_up(env *e, const gf_ctl_kube_opts *o)
{
    e->s = standin();
    e->k = client_for(e->s);
    gf_ctl_kube_opts def = {"http://127.0.0.1:9", false, 0, 0, 60, NULL, NULL, NULL, 0, 0};
    gf_error err = {0};
    if (gf_ctl_kube_new(e->k, o ? o : &def, &e->kb, &err)) fail_msg("backend: %s", err.msg);
    gf_ctl_kube_backend(e->kb, &e->b);
    if (gf_ctl_kube_sync(e->kb, 10000, &err)) fail_msg("sync: %s", err.msg);
}

static void env_down(env *e)
{
    gf_ctl_kube_free(e->kb);
    gf_kube_free(e->k);
    gf_standin_stop(e->s);
}

/* Steps the cache until it has seen the stand-in's last write (a workload
 * at its resourceVersion, or a draining node). */
static void catch_up(env *e)
{
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)gf_standin_rv(e->s));
    gf_error err = {0};
    for (int i = 0; i < 100; i++) {
        gf_ctl_kube_pump(e->kb, 50, &err);
        bool seen = false;
        gf_model m;
        gf_model_init(&m);
        gf_ctl_meta meta = {0};
        gf_diags d;
        gf_diags_init(&d);
        if (!e->b.snapshot(e->b.ctx, &m, &meta, &d, &err)) {
            seen = meta.draining_node != NULL;
            for (size_t w = 0; w < m.workloads.n && !seen; w++)
                seen = meta.w[w].resource_version && !strcmp(meta.w[w].resource_version, want);
        }
        gf_model_free(&m);
        gf_diags_free(&d);
        if (seen) return;
    }
}

static char *get_obj(env *e, const char *kind, const char *ns, const char *name)
{
    char *s = gf_standin_get(e->s, kind, ns, name);
    if (!s) fail_msg("no %s %s/%s", kind, ns ? ns : "", name);
    return s;
}

static json_t *get_json(env *e, const char *kind, const char *ns, const char *name)
{
    char *s = get_obj(e, kind, ns, name);
    json_t *o = json_loads(s, 0, NULL);
    free(s);
    return o;
}

static const char *tmpl_value(json_t *o)
{
    return json_string_value(json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "metadata"),
            "annotations"),
        "gpu-fraction"));
}

static const char *meta_ann(json_t *o, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(o, "metadata"), "annotations"), key));
}

/* A resize action for chat as the decision step would make it. */
static gf_ctl_action chat_resize(const gf_model *m, const gf_ctl_meta *meta, const char *to)
{
    gf_ctl_action a;
    memset(&a, 0, sizeof a);
    a.kind = GF_CTL_RESIZE;
    size_t w;
    assert_true(gf_strmap_get(&m->workload_by_key, "Deployment/team-a/chat", &w));
    a.workload = (uint32_t)w;
    a.target = (gf_ctl_target){"Deployment", "team-a", "chat", m->workloads.v[w].uid};
    a.resource_version = meta->w[w].resource_version;
    a.expect_last_change = meta->w[w].last_change;
    a.unit_key = "gpu-fraction";
    snprintf(a.from, sizeof a.from, "0.5");
    snprintf(a.to, sizeof a.to, "%s", to);
    gf_ctl_format_last_change(1795700000, "gpu-fraction", "0.5", to, "upsize", "test",
                              a.last_change, sizeof a.last_change);
    snprintf(a.event_reason, sizeof a.event_reason, "GPUAllocationUpsized");
    snprintf(a.message, sizeof a.message, "upsize chat");
    return a;
}

static void snapshot(env *e, gf_model *m, gf_ctl_meta *meta)
{
    gf_model_init(m);
    memset(meta, 0, sizeof *meta);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    if (e->b.snapshot(e->b.ctx, m, meta, &d, &err)) fail_msg("snapshot: %s", err.msg);
    gf_diags_free(&d);
}

/* A cache that has heard nothing (a silent API server) for longer than
 * max_cache_age_s gives no snapshot, so the step holds and writes nothing;
 * when the server speaks again, snapshots resume. */
static void test_stale_cache_holds(void **state)
{
    (void)state;
    gf_ctl_kube_opts o = {"http://127.0.0.1:9", false, 0, 0, 60, NULL, NULL, NULL, 1.0, 2.0};
    env e;
    env_up(&e, &o);
    gf_model m;
    gf_ctl_meta meta;
    snapshot(&e, &m, &meta); /* fresh: fine */
    gf_model_free(&m);
    gf_standin_set_silent(e.s, true);
    gf_error err = {0};
    gf_diags d;
    gf_diags_init(&d);
    gf_err rc = GF_OK;
    for (int i = 0; i < 400 && rc == GF_OK; i++) { /* at most 20 s of 50 ms rounds */
        gf_ctl_kube_pump(e.kb, 50, &err);
        gf_model_init(&m);
        rc = e.b.snapshot(e.b.ctx, &m, &meta, &d, &err);
        gf_model_free(&m);
    }
    assert_int_equal(rc, GF_EIO);
    assert_non_null(strstr(err.msg, "the watch cache is stale: nothing heard from the API server"));
    assert_true(gf_ctl_kube_cache_age(e.kb) > 2.0);
    gf_kube_cache_stats st;
    gf_ctl_kube_cache_stats(e.kb, &st);
    assert_true(st.silent_restarts >= 1); /* the watchdog tried first */
    gf_standin_set_silent(e.s, false);
    for (int i = 0; i < 400 && rc != GF_OK; i++) {
        gf_ctl_kube_pump(e.kb, 50, &err);
        gf_model_init(&m);
        rc = e.b.snapshot(e.b.ctx, &m, &meta, &d, &err);
        gf_model_free(&m);
    }
    assert_int_equal(rc, GF_OK);
    gf_diags_free(&d);
    env_down(&e);
}

/* A cluster without KAI's Queue CRD (404): the controller syncs, reads on
 * without queues and says so once, not every iteration. */
static void test_absent_kai_kinds_said_once(void **state)
{
    (void)state;
    env e;
    e.s = standin();
    gf_standin_fault f = {"GET", "/apis/scheduling.run.ai/v2/queues", -1, 100000, 404, 0, 0, false};
    gf_standin_add_fault(e.s, &f);
    e.k = client_for(e.s);
    gf_ctl_kube_opts def = {"http://127.0.0.1:9", false, 0, 0, 60, NULL, NULL, NULL, 0, 0};
    gf_error err = {0};
    if (gf_ctl_kube_new(e.k, &def, &e.kb, &err)) fail_msg("backend: %s", err.msg);
    gf_ctl_kube_backend(e.kb, &e.b);
    if (gf_ctl_kube_sync(e.kb, 10000, &err)) fail_msg("sync: %s", err.msg);
    for (int i = 0; i < 2; i++) {
        gf_model m;
        gf_model_init(&m);
        gf_ctl_meta meta = {0};
        gf_diags d;
        gf_diags_init(&d);
        if (e.b.snapshot(e.b.ctx, &m, &meta, &d, &err))
            fail_msg("snapshot: %s: %s", err.where, err.msg);
        assert_true(m.nodes.n > 0);
        assert_int_equal(m.queues.n, 0);
        size_t said = 0;
        for (size_t k = 0; k < d.msgs.n; k++)
            said += strstr(d.msgs.v[k], "the cluster does not serve queues "
                                        "(scheduling.run.ai/v2: 404") != NULL;
        assert_int_equal(said, i == 0 ? 1 : 0);
        gf_diags_free(&d);
        gf_model_free(&m);
    }
    env_down(&e);
}

static void test_snapshot_and_resize(void **state)
{
    (void)state;
    env e;
    env_up(&e, NULL);
    gf_model m;
    gf_ctl_meta meta;
    snapshot(&e, &m, &meta);
    assert_int_equal(m.nodes.n, 2);
    size_t w;
    assert_true(gf_strmap_get(&m.workload_by_key, "Deployment/team-a/chat", &w));
    assert_non_null(meta.w[w].resource_version);
    assert_null(meta.w[w].last_change);
    assert_null(meta.draining_node);
    /* the patch: template value, record, one request */
    gf_ctl_action a = chat_resize(&m, &meta, "0.55");
    gf_ctl_result res = GF_CTL_ERROR;
    gf_error err = {0};
    assert_int_equal(e.b.resize(e.b.ctx, &a, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_OK);
    json_t *o = get_json(&e, "Deployment", CHAT);
    assert_string_equal(tmpl_value(o), "0.55");
    assert_string_equal(meta_ann(o, GF_ANN_LAST_CHANGE), a.last_change);
    json_decref(o);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/chat", 200), 1);
    /* sent again with the old resourceVersion (a retry after a lost answer):
     * 409, and the re-read finds our own change: success, no second write */
    assert_int_equal(e.b.resize(e.b.ctx, &a, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_OK);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/chat", 409), 1);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/chat", 200), 1);
    /* the snapshot reads the record back */
    catch_up(&e);
    gf_model m2;
    gf_ctl_meta meta2;
    snapshot(&e, &m2, &meta2);
    assert_true(gf_strmap_get(&m2.workload_by_key, "Deployment/team-a/chat", &w));
    assert_string_equal(meta2.w[w].last_change, a.last_change);
    gf_model_free(&m2);
    gf_model_free(&m);
    env_down(&e);
}

/* A decision made on 0.5 meets a template someone set to 0.7 meanwhile: the
 * patch is refused (409), the re-read shows the other change, nothing is
 * overwritten. A change elsewhere in the object is retried over. */
static void test_conflicts(void **state)
{
    (void)state;
    env e;
    env_up(&e, NULL);
    gf_model m;
    gf_ctl_meta meta;
    snapshot(&e, &m, &meta);
    gf_ctl_action a = chat_resize(&m, &meta, "0.55");
    json_t *o = get_json(&e, "Deployment", CHAT);
    json_object_set_new(
        json_object_get(
            json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "metadata"),
            "annotations"),
        "gpu-fraction", json_string("0.7"));
    char *text = json_dumps(o, 0);
    gf_error err = {0};
    assert_int_equal(gf_standin_put(e.s, text, &err), GF_OK);
    free(text);
    gf_ctl_result res = GF_CTL_OK;
    assert_int_equal(e.b.resize(e.b.ctx, &a, &res, &err), GF_KUBE_ECONFLICT);
    assert_int_equal(res, GF_CTL_CONFLICT);
    assert_non_null(strstr(err.msg, "changed since the decision (gpu-fraction 0.7"));
    json_t *now = get_json(&e, "Deployment", CHAT);
    assert_string_equal(tmpl_value(now), "0.7");
    assert_null(meta_ann(now, GF_ANN_LAST_CHANGE));
    json_decref(now);
    /* back to 0.5 but with a label changed: the template still holds 0.5, retried */
    json_object_set_new(
        json_object_get(
            json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "metadata"),
            "annotations"),
        "gpu-fraction", json_string("0.5"));
    json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"), "team",
                        json_string("x"));
    text = json_dumps(o, 0);
    assert_int_equal(gf_standin_put(e.s, text, &err), GF_OK);
    free(text);
    json_decref(o);
    assert_int_equal(e.b.resize(e.b.ctx, &a, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_OK);
    now = get_json(&e, "Deployment", CHAT);
    assert_string_equal(tmpl_value(now), "0.55");
    json_decref(now);
    /* another replica recorded a change meanwhile: refused */
    gf_ctl_action b = chat_resize(&m, &meta, "0.6");
    snprintf(b.from, sizeof b.from, "0.55");
    assert_int_equal(e.b.resize(e.b.ctx, &b, &res, &err), GF_KUBE_ECONFLICT);
    /* a workload that is gone */
    gf_ctl_action c = a;
    c.target.name = "nope";
    assert_int_not_equal(e.b.resize(e.b.ctx, &c, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_GONE);
    gf_model_free(&m);
    env_down(&e);
}

/* Conversion of a whole-GPU Deployment: one merge patch (annotation,
 * nvidia.com/gpu removed from the GPU container, the other container and
 * fields kept, the record); the same action again, from this backend or
 * from a fresh one after a restart, writes nothing more. */
static void test_convert_once_and_restart(void **state)
{
    (void)state;
    env e;
    env_up(&e, NULL);
    gf_error err = {0};
    assert_int_equal(
        gf_standin_put(
            e.s,
            "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
            "\"whisper\",\"namespace\":\"team-a\",\"uid\":\"uid-whisper\"},\"spec\":{"
            "\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"whisper\"}},\"template\":{"
            "\"metadata\":{\"labels\":{\"app\":\"whisper\"}},\"spec\":{\"schedulerName\":"
            "\"kai-scheduler\",\"containers\":[{\"name\":\"sidecar\",\"image\":\"s:1\"},{"
            "\"name\":\"model\",\"image\":\"m:1\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":"
            "\"1\"},\"requests\":{\"cpu\":\"2\",\"nvidia.com/gpu\":\"1\"}}}]}}}}",
            &err),
        GF_OK);
    catch_up(&e);
    gf_model m;
    gf_ctl_meta meta;
    snapshot(&e, &m, &meta);
    size_t w;
    assert_true(gf_strmap_get(&m.workload_by_key, "Deployment/team-a/whisper", &w));
    gf_ctl_action a;
    memset(&a, 0, sizeof a);
    a.kind = GF_CTL_RESIZE;
    a.reason = GF_CTL_R_CONVERT;
    a.workload = (uint32_t)w;
    a.target = (gf_ctl_target){"Deployment", "team-a", "whisper", "uid-whisper"};
    a.resource_version = meta.w[w].resource_version;
    a.expect_last_change = meta.w[w].last_change;
    a.unit_key = "gpu-fraction";
    snprintf(a.to, sizeof a.to, "0.25");
    a.gpu_container = "model";
    a.from_whole_gpus = 1;
    a.convert_mode = GF_MODE_AUTO;
    gf_ctl_format_last_change(1795700000, "gpu-fraction", "nvidia.com/gpu=1", "0.25", "convert",
                              "test", a.last_change, sizeof a.last_change);
    gf_ctl_result res = GF_CTL_ERROR;
    assert_int_equal(e.b.resize(e.b.ctx, &a, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_OK);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/whisper", 200), 1);
    json_t *o = get_json(&e, "Deployment", "team-a", "whisper");
    assert_string_equal(tmpl_value(o), "0.25");
    assert_string_equal(meta_ann(o, GF_ANN_LAST_CHANGE), a.last_change);
    json_t *spec = json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "schedulerName")), "kai-scheduler");
    json_t *cs = json_object_get(spec, "containers");
    assert_int_equal(json_array_size(cs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cs, 0), "image")), "s:1");
    json_t *model = json_array_get(cs, 1);
    assert_string_equal(json_string_value(json_object_get(model, "image")), "m:1");
    json_t *res_obj = json_object_get(model, "resources");
    assert_null(json_object_get(json_object_get(res_obj, "limits"), "nvidia.com/gpu"));
    assert_null(json_object_get(json_object_get(res_obj, "requests"), "nvidia.com/gpu"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res_obj, "requests"), "cpu")), "2");
    json_decref(o);
    /* again (an answer lost): the object read shows our record, no write */
    assert_int_equal(e.b.resize(e.b.ctx, &a, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_OK);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/whisper", 200), 1);
    /* restart mid-way: a fresh backend on the same server sees the record
     * and the converted template, and the stale action writes nothing */
    gf_ctl_kube_free(e.kb);
    gf_ctl_kube_opts def = {"http://127.0.0.1:9", false, 0, 0, 60, NULL, NULL, NULL, 0, 0};
    if (gf_ctl_kube_new(e.k, &def, &e.kb, &err)) fail_msg("backend: %s", err.msg);
    gf_ctl_kube_backend(e.kb, &e.b);
    if (gf_ctl_kube_sync(e.kb, 10000, &err)) fail_msg("sync: %s", err.msg);
    catch_up(&e);
    gf_model m2;
    gf_ctl_meta meta2;
    snapshot(&e, &m2, &meta2);
    assert_true(gf_strmap_get(&m2.workload_by_key, "Deployment/team-a/whisper", &w));
    assert_string_equal(meta2.w[w].last_change, a.last_change);
    assert_string_equal(gf_kvs_get(&m2.workloads.v[w].template_annotations, "gpu-fraction"),
                        "0.25");
    assert_int_equal(e.b.resize(e.b.ctx, &a, &res, &err), GF_OK);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/whisper", 200), 1);
    /* someone else changed the record since: refused, not overwritten */
    gf_ctl_action b = a;
    b.expect_last_change = NULL;
    snprintf(b.last_change, sizeof b.last_change, "2026-11-26T14:00:00Z other");
    assert_int_equal(e.b.resize(e.b.ctx, &b, &res, &err), GF_KUBE_ECONFLICT);
    assert_int_equal(res, GF_CTL_CONFLICT);
    gf_model_free(&m2);
    gf_model_free(&m);
    env_down(&e);
}

/* A vLLM Deployment at gpu-fraction 0.5 with --gpu-memory-utilization=0.9,
 * downsized to 0.3 with its cap moved (the action as decide/controller.c
 * makes it from a move_cap recommendation): one PATCH carrying the fraction
 * and the flag at the new cap; the other args, the other container, env and
 * fields as they were. The $(GPU_PORTION) form follows the fraction by
 * itself: its resize is the annotation alone, the args untouched. An env
 * cap (TGI's CUDA_MEMORY_FRACTION) is set in its entry, the others kept. */
static void put_engine(env *e, const char *name, const char *image, const char *vllm_args,
                       const char *vllm_env)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"team-a\",\"uid\":\"uid-%s\"},\"spec\":{\"replicas\":1,\"selector\":"
             "{\"matchLabels\":{\"app\":\"%s\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":"
             "\"%s\"},\"annotations\":{\"gpu-fraction\":\"0.5\"}},\"spec\":{\"schedulerName\":"
             "\"kai-scheduler\",\"containers\":[{\"name\":\"proxy\",\"image\":\"envoy:1\","
             "\"args\":[\"--gpu-memory-utilization=0.9\",\"--port\",\"8080\"],\"env\":[{\"name\":"
             "\"MODE\",\"value\":\"edge\"}]},{\"name\":\"server\",\"image\":\"%s\",\"args\":[%s],"
             "\"env\":[%s],\"resources\":{\"requests\":{\"cpu\":\"4\"}}}]}}}}",
             name, name, name, name, image, vllm_args, vllm_env);
    gf_error err = {0};
    assert_int_equal(gf_standin_put(e->s, text, &err), GF_OK);
}

static gf_ctl_action engine_resize(const gf_model *m, const gf_ctl_meta *meta, const char *name,
                                   const char *knob, bool env_var)
{
    char key[128];
    snprintf(key, sizeof key, "Deployment/team-a/%s", name);
    size_t w;
    assert_true(gf_strmap_get(&m->workload_by_key, key, &w));
    gf_ctl_action a;
    memset(&a, 0, sizeof a);
    a.kind = GF_CTL_RESIZE;
    a.reason = GF_CTL_R_DOWNSIZE;
    a.workload = (uint32_t)w;
    a.target =
        (gf_ctl_target){"Deployment", "team-a", m->workloads.v[w].name, m->workloads.v[w].uid};
    a.resource_version = meta->w[w].resource_version;
    a.expect_last_change = meta->w[w].last_change;
    a.unit_key = "gpu-fraction";
    snprintf(a.from, sizeof a.from, "0.5");
    snprintf(a.to, sizeof a.to, "0.3");
    gf_ctl_format_last_change(1795700000, "gpu-fraction", "0.5", "0.3", "downsize", "test",
                              a.last_change, sizeof a.last_change);
    if (knob) {
        a.move_cap = true;
        a.cap_env = env_var;
        a.new_cap = 0.3;
        a.cap_knob = knob;
        a.cap_container = "server";
    }
    return a;
}

static json_t *container_of(json_t *o, size_t i)
{
    json_t *spec = json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "spec");
    return json_array_get(json_object_get(spec, "containers"), i);
}

static void assert_strings(const json_t *arr, const char *const *want, size_t n)
{
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(arr, i)), want[i]);
}

static void test_cap_moves_with_fraction(void **state)
{
    (void)state;
    env e;
    env_up(&e, NULL);
    put_engine(&e, "chat-vllm", "vllm/vllm-openai:v0.11.0",
               "\"--model\",\"meta-llama/Llama-3.1-8B-Instruct\",\"--gpu-memory-utilization=0.9\","
               "\"--max-model-len\",\"8192\"",
               "{\"name\":\"HF_HOME\",\"value\":\"/cache\"}");
    put_engine(&e, "chat-portion", "vllm/vllm-openai:v0.11.0",
               "\"--model\",\"m\",\"--gpu-memory-utilization=$(GPU_PORTION)\"",
               "{\"name\":\"HF_HOME\",\"value\":\"/cache\"}");
    put_engine(&e, "chat-tgi", "ghcr.io/huggingface/text-generation-inference:3.0",
               "\"--model-id\",\"m\"",
               "{\"name\":\"HF_HOME\",\"value\":\"/cache\"},{\"name\":\"CUDA_MEMORY_FRACTION\","
               "\"value\":\"0.9\"}");
    catch_up(&e);
    gf_model m;
    gf_ctl_meta meta;
    snapshot(&e, &m, &meta);
    gf_error err = {0};
    gf_ctl_result res = GF_CTL_ERROR;

    gf_ctl_action a = engine_resize(&m, &meta, "chat-vllm", "--gpu-memory-utilization", false);
    assert_int_equal(e.b.resize(e.b.ctx, &a, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_OK);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/chat-vllm", 200), 1);
    json_t *o = get_json(&e, "Deployment", "team-a", "chat-vllm");
    assert_string_equal(tmpl_value(o), "0.3");
    assert_string_equal(meta_ann(o, GF_ANN_LAST_CHANGE), a.last_change);
    json_t *proxy = container_of(o, 0), *server = container_of(o, 1);
    static const char *const proxy_args[] = {"--gpu-memory-utilization=0.9", "--port", "8080"};
    assert_strings(json_object_get(proxy, "args"), proxy_args, 3);
    assert_string_equal(json_string_value(json_object_get(proxy, "image")), "envoy:1");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(proxy, "env"), 0), "value")),
                        "edge");
    static const char *const vllm_args[] = {"--model", "meta-llama/Llama-3.1-8B-Instruct",
                                            "--gpu-memory-utilization=0.3", "--max-model-len",
                                            "8192"};
    assert_strings(json_object_get(server, "args"), vllm_args, 5);
    assert_null(json_object_get(server, "command"));
    assert_int_equal(json_array_size(json_object_get(server, "env")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(server, "env"), 0), "value")),
                        "/cache");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(server, "resources"), "requests"), "cpu")),
        "4");
    json_decref(o);

    /* $(GPU_PORTION): no move_cap (recommend.c engine_cap), the annotation alone */
    gf_ctl_action b = engine_resize(&m, &meta, "chat-portion", NULL, false);
    assert_int_equal(e.b.resize(e.b.ctx, &b, &res, &err), GF_OK);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/chat-portion", 200), 1);
    o = get_json(&e, "Deployment", "team-a", "chat-portion");
    assert_string_equal(tmpl_value(o), "0.3");
    static const char *const portion_args[] = {"--model", "m",
                                               "--gpu-memory-utilization=$(GPU_PORTION)"};
    assert_strings(json_object_get(container_of(o, 1), "args"), portion_args, 3);
    json_decref(o);

    /* TGI's variable: its entry set, HF_HOME kept, the args as they were */
    gf_ctl_action c = engine_resize(&m, &meta, "chat-tgi", "CUDA_MEMORY_FRACTION", true);
    assert_int_equal(e.b.resize(e.b.ctx, &c, &res, &err), GF_OK);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/chat-tgi", 200), 1);
    o = get_json(&e, "Deployment", "team-a", "chat-tgi");
    assert_string_equal(tmpl_value(o), "0.3");
    json_t *tenv = json_object_get(container_of(o, 1), "env");
    assert_int_equal(json_array_size(tenv), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tenv, 0), "value")),
                        "/cache");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tenv, 1), "name")),
                        "CUDA_MEMORY_FRACTION");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tenv, 1), "value")),
                        "0.3");
    static const char *const tgi_args[] = {"--model-id", "m"};
    assert_strings(json_object_get(container_of(o, 1), "args"), tgi_args, 2);
    json_decref(o);

    /* a flag the container does not hold: refused, nothing written */
    gf_ctl_action d = engine_resize(&m, &meta, "chat-tgi", "--cuda-memory-fraction", false);
    d.resource_version = NULL;
    assert_int_not_equal(e.b.resize(e.b.ctx, &d, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_REJECTED);
    assert_non_null(strstr(err.msg, "--cuda-memory-fraction"));
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/chat-tgi", 200), 1);
    gf_model_free(&m);
    env_down(&e);
}

static void test_annotate_event_evict_cordon(void **state)
{
    (void)state;
    env e;
    env_up(&e, NULL);
    gf_model m;
    gf_ctl_meta meta;
    snapshot(&e, &m, &meta);
    gf_ctl_action a;
    memset(&a, 0, sizeof a);
    a.kind = GF_CTL_RECOMMEND;
    a.target = (gf_ctl_target){"Deployment", "team-a", "embed", NULL};
    snprintf(a.recommendation, sizeof a.recommendation, "gpu-fraction 0.5 -> 0.25 (downsize): x");
    snprintf(a.event_reason, sizeof a.event_reason, "GPUAllocationRecommended");
    snprintf(a.message, sizeof a.message, "recommend embed");
    gf_ctl_result res = GF_CTL_ERROR;
    gf_error err = {0};
    assert_int_equal(e.b.annotate(e.b.ctx, &a, &res, &err), GF_OK);
    json_t *o = get_json(&e, "Deployment", "team-a", "embed");
    assert_string_equal(meta_ann(o, GF_ANN_RECOMMENDATION), a.recommendation);
    json_decref(o);
    assert_int_equal(e.b.event(e.b.ctx, &a, &res, &err), GF_OK);
    assert_int_equal(gf_standin_count(e.s, "POST", "/namespaces/team-a/events", 201), 1);
    a.recommendation[0] = '\0'; /* removed */
    assert_int_equal(e.b.annotate(e.b.ctx, &a, &res, &err), GF_OK);
    o = get_json(&e, "Deployment", "team-a", "embed");
    assert_null(meta_ann(o, GF_ANN_RECOMMENDATION));
    json_decref(o);

    /* eviction: refused by a PodDisruptionBudget, then allowed */
    const char *pdb =
        "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{"
        "\"name\":\"embed\",\"namespace\":\"team-a\"},\"spec\":{\"minAvailable\":1,"
        "\"selector\":{\"matchLabels\":{\"app\":\"embed\"}}},\"status\":{"
        "\"disruptionsAllowed\":0,\"currentHealthy\":1,\"desiredHealthy\":1}}";
    assert_int_equal(gf_standin_put(e.s, pdb, &err), GF_OK);
    gf_ctl_action ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = GF_CTL_EVICT;
    ev.target = (gf_ctl_target){"Pod", "team-a", "embed-5f6c7d8e9a-p0d7z", NULL};
    assert_int_equal(e.b.evict(e.b.ctx, &ev, &res, &err), GF_KUBE_EPDB);
    assert_int_equal(res, GF_CTL_REFUSED);
    assert_int_equal(gf_standin_remove(e.s, "PodDisruptionBudget", "team-a", "embed", &err), GF_OK);
    assert_int_equal(e.b.evict(e.b.ctx, &ev, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_OK);
    char *gone = gf_standin_get(e.s, "Pod", "team-a", "embed-5f6c7d8e9a-p0d7z");
    assert_null(gone);
    assert_int_not_equal(e.b.evict(e.b.ctx, &ev, &res, &err), GF_OK);
    assert_int_equal(res, GF_CTL_GONE);

    /* cordon: unschedulable and annotated; the snapshot names the node */
    gf_ctl_action co;
    memset(&co, 0, sizeof co);
    co.kind = GF_CTL_CORDON;
    co.target = (gf_ctl_target){"Node", NULL, "gpu-l4-b", NULL};
    assert_int_equal(e.b.cordon(e.b.ctx, &co, &res, &err), GF_OK);
    o = get_json(&e, "Node", NULL, "gpu-l4-b");
    assert_true(json_is_true(json_object_get(json_object_get(o, "spec"), "unschedulable")));
    assert_non_null(meta_ann(o, GF_ANN_DRAINING));
    json_decref(o);
    catch_up(&e);
    gf_model m2;
    gf_ctl_meta meta2;
    snapshot(&e, &m2, &meta2);
    assert_non_null(meta2.draining_node);
    assert_string_equal(meta2.draining_node, "gpu-l4-b");
    /* an Event about a node (cluster-scoped) */
    snprintf(co.event_reason, sizeof co.event_reason, "GPUNodeDraining");
    snprintf(co.message, sizeof co.message, "drain");
    assert_int_equal(e.b.event(e.b.ctx, &co, &res, &err), GF_OK);
    gf_model_free(&m2);
    gf_model_free(&m);
    env_down(&e);
}

/* An exporter pod (by its label, Running, with a pod IP) is scraped on the
 * scrape port; none: an error naming the label. */
static void test_scrape_discovery(void **state)
{
    (void)state;
    gf_http_server *h = NULL;
    char bound[100];
    gf_error err = {0};
    assert_int_equal(gf_http_start("127.0.0.1:0", &h, bound, sizeof bound, &err), GF_OK);
    /* the exporter of gpu-l4-a speaks for its own pod, and also (forged or
     * confused) for team-x's pod on gpu-l4-b and a pod the cluster lacks */
    const char *text = GF_USAGE_METRIC_MEMORY
        "{namespace=\"team-a\",pod=\"chat-7d9f8b6c5d-x2lqf\",container=\"server\"} "
        "1e9\n" GF_USAGE_METRIC_MEMORY "{namespace=\"team-x\",pod=\"legacy-6b7c8d9e0f-mm3rt\","
        "container=\"c\"} 2e10\n" GF_USAGE_METRIC_MEMORY
        "{namespace=\"team-x\",pod=\"nosuch\",container=\"c\"} 2e10\n";
    gf_http_publish(h, "/metrics", 200, GF_PROMTEXT_CONTENT_TYPE, text, strlen(text));
    int port = atoi(strrchr(bound, ':') + 1);
    /* a forged exporter: same label and owner, another namespace, its own
     * address (127.0.0.2, the same port) and a sample of a pod on its node */
    char forged_listen[64];
    snprintf(forged_listen, sizeof forged_listen, "127.0.0.2:%d", port);
    gf_http_server *forged = NULL;
    assert_int_equal(gf_http_start(forged_listen, &forged, NULL, 0, &err), GF_OK);
    const char *forged_text = GF_USAGE_METRIC_MEMORY
        "{namespace=\"team-a\",pod=\"embed-5f6c7d8e9a-p0d7z\",container=\"c\"} 3e10\n";
    gf_http_publish(forged, "/metrics", 200, GF_PROMTEXT_CONTENT_TYPE, forged_text,
                    strlen(forged_text));
    gf_ctl_kube_opts o = {NULL, true, port, 2000, 60, NULL, "gpufrac", NULL, 0, 0};
    env e;
    env_up(&e, &o);
    gf_model m;
    gf_ctl_meta meta;
    snapshot(&e, &m, &meta);
    const gf_usage_sample *s = NULL;
    size_t n = 9;
    gf_diags d;
    gf_diags_init(&d);
    assert_int_equal(e.b.usage(e.b.ctx, &m, 0, 1000, &s, &n, &d, &err), GF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "app.kubernetes.io/name=gpufrac-exporter"));
#define EXPORTER_POD(NS, NAME, OWNER, IP)                                                          \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" NAME                       \
    "\",\"namespace\":\"" NS                                                                       \
    "\",\"labels\":{\"app.kubernetes.io/name\":\"gpufrac-exporter\"},\"ownerReferences\":[{"       \
    "\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"name\":\"" OWNER                          \
    "\",\"controller\":true,"                                                                      \
    "\"uid\":\"u1\"}]},\"spec\":{\"nodeName\":\"gpu-l4-a\",\"containers\":[{\"name\":"             \
    "\"exporter\"}]},"                                                                             \
    "\"status\":{\"phase\":\"Running\",\"podIP\":\"" IP "\"}}"
    /* forged first: in another namespace, or not the DaemonSet's */
    assert_int_equal(gf_standin_put(e.s,
                                    EXPORTER_POD("team-x", "gpufrac-exporter-forged",
                                                 "gpufrac-exporter", "127.0.0.2"),
                                    &err),
                     GF_OK);
    assert_int_equal(gf_standin_put(e.s,
                                    EXPORTER_POD("gpufrac", "gpufrac-exporter-impostor",
                                                 "other-daemonset", "127.0.0.2"),
                                    &err),
                     GF_OK);
    gf_ctl_kube_scrape_stats ss = {0};
    for (int i = 0; i < 200 && ss.untrusted_pods < 2; i++) {
        gf_ctl_kube_pump(e.kb, 50, &err);
        gf_ctl_kube_scrape_stats_get(e.kb, &ss);
    }
    assert_int_equal(ss.untrusted_pods, 2);
    assert_int_equal(e.b.usage(e.b.ctx, &m, 0, 1000, &s, &n, &d, &err), GF_ENOTFOUND);
    assert_int_equal(gf_standin_put(e.s,
                                    EXPORTER_POD("gpufrac", "gpufrac-exporter-abcde",
                                                 "gpufrac-exporter", "127.0.0.1"),
                                    &err),
                     GF_OK);
    gf_err rc = GF_ENOTFOUND;
    for (int i = 0; i < 100 && rc == GF_ENOTFOUND; i++) {
        gf_ctl_kube_pump(e.kb, 50, &err);
        rc = e.b.usage(e.b.ctx, &m, 0, 1000, &s, &n, &d, &err);
    }
    assert_int_equal(rc, GF_OK);
    /* only its own node's pod; the other two dropped, counted and named */
    assert_int_equal(n, 1);
    assert_string_equal(s[0].pod, "chat-7d9f8b6c5d-x2lqf");
    assert_true(s[0].memory_bytes == 1e9);
    assert_true(s[0].t == 1000);
    gf_ctl_kube_scrape_stats_get(e.kb, &ss);
    assert_int_equal(ss.foreign_samples, 2);
    assert_true(gf_test_diag_has(&d, "scrape: 2 samples dropped: exporter "
                                     "gpufrac/gpufrac-exporter-abcde on node gpu-l4-a reported "
                                     "pods that are not on its node (e.g. "
                                     "team-x/legacy-6b7c8d9e0f-mm3rt (gpu-l4-b))"));
    assert_true(gf_test_diag_has(&d, "2 pods labelled app.kubernetes.io/name=gpufrac-exporter "
                                     "are not scraped: not in namespace gpufrac or not owned by "
                                     "DaemonSet gpufrac-exporter"));
    /* the exporter's answer fails: every exporter failed is an error */
    gf_http_publish(h, "/metrics", 500, "text/plain", "x", 1);
    assert_int_equal(e.b.usage(e.b.ctx, &m, 0, 1000, &s, &n, &d, &err), GF_EIO);
    assert_true(gf_test_diag_has(&d, "scrape: HTTP 500"));
    /* gone: forgotten */
    assert_int_equal(gf_standin_remove(e.s, "Pod", "gpufrac", "gpufrac-exporter-abcde", &err),
                     GF_OK);
    rc = GF_EIO;
    for (int i = 0; i < 100 && rc != GF_ENOTFOUND; i++) {
        gf_ctl_kube_pump(e.kb, 50, &err);
        rc = e.b.usage(e.b.ctx, &m, 0, 1000, &s, &n, &d, &err);
    }
    assert_int_equal(rc, GF_ENOTFOUND);
    gf_diags_free(&d);
    gf_model_free(&m);
    env_down(&e);
    gf_http_stop(h);
    gf_http_stop(forged);
}

/* Two candidates: one leads; once it steps down (released), the other. */
/* Per-workload staleness through the stand-in: the exporter's samples of
 * embed stopped ten minutes ago while chat's keep coming; both need an
 * upsize by their numbers (1.25e10 bytes, over their allocation: an upsize
 * under any upsize rule). chat is resized; embed is held (stale), not
 * decided on old data, not even as a recommendation. */
static void test_workload_stale_held(void **state)
{
    (void)state;
    const double now = 1795700000;
    gf_http_server *h = NULL;
    char bound[100], text[1024];
    gf_error err = {0};
    assert_int_equal(gf_http_start("127.0.0.1:0", &h, bound, sizeof bound, &err), GF_OK);
    snprintf(text, sizeof text,
             GF_USAGE_METRIC_MEMORY "{namespace=\"team-a\",pod=\"chat-7d9f8b6c5d-x2lqf\","
                                    "container=\"server\"} 1.25e10 %.0f\n" GF_USAGE_METRIC_MEMORY
                                    "{namespace=\"team-a\",pod=\"embed-5f6c7d8e9a-p0d7z\","
                                    "container=\"server\"} 1.25e10 %.0f\n",
             now * 1000, (now - 600) * 1000);
    gf_http_publish(h, "/metrics", 200, GF_PROMTEXT_CONTENT_TYPE, text, strlen(text));
    int port = atoi(strrchr(bound, ':') + 1);
    gf_ctl_kube_opts o = {NULL, true, port, 2000, 60, NULL, "gpufrac", NULL, 0, 0};
    env e;
    env_up(&e, &o);
    assert_int_equal(gf_standin_put(e.s,
                                    EXPORTER_POD("gpufrac", "gpufrac-exporter-abcde",
                                                 "gpufrac-exporter", "127.0.0.1"),
                                    &err),
                     GF_OK);
    gf_model m;
    gf_ctl_meta meta;
    const gf_usage_sample *s = NULL;
    size_t n = 0;
    gf_diags d;
    gf_diags_init(&d);
    gf_err rc = GF_ENOTFOUND;
    for (int i = 0; i < 200 && rc == GF_ENOTFOUND; i++) { /* until the exporter is seen */
        gf_ctl_kube_pump(e.kb, 50, &err);
        snapshot(&e, &m, &meta);
        rc = e.b.usage(e.b.ctx, &m, 0, now, &s, &n, &d, &err);
        gf_model_free(&m);
    }
    assert_int_equal(rc, GF_OK);
    assert_int_equal(n, 2);
    gf_policy p;
    gf_policy_init(&p);
    static const char pol[] = "apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\n"
                              "defaults: {mode: auto}\n";
    assert_int_equal(gf_policy_load_buffer(&p, "p.yaml", pol, sizeof pol - 1, &err), GF_OK);
    gf_history hist;
    gf_history_init(&hist, NULL, &err);
    gf_ctl c;
    gf_ctl_init(&c, NULL, &p, &hist);
    gf_diags log;
    gf_diags_init(&log);
    assert_int_equal(gf_ctl_step(&c, &e.b, now, &log, NULL, &err), GF_OK);
    assert_false(c.plan.stale); /* chat's samples are fresh */
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/chat", 200), 1);
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/embed", 0), 0);
    /* its old peak would upsize it too: held, not even published */
    assert_true(gf_test_diag_has(&log, "hold stale: recommend team-a/Deployment/embed"));
    assert_int_equal(gf_standin_count(e.s, "PATCH", "/deployments/embed", 0), 0);
    gf_diags_free(&log);
    gf_ctl_free(&c);
    gf_history_free(&hist);
    gf_policy_free(&p);
    gf_diags_free(&d);
    env_down(&e);
    gf_http_stop(h);
}

static void test_elector(void **state)
{
    (void)state;
    gf_standin *s = standin();
    gf_elector *a = NULL, *b = NULL;
    gf_error err = {0};
    gf_elector_opts oa = {"gpufrac", "lease", "alpha", 2};
    gf_elector_opts ob = {"gpufrac", "lease", "beta", 2};
    assert_int_equal(gf_elector_start(client_for(s), &oa, &a, &err), GF_OK);
    gf_elector_wait_first(a, 5000);
    assert_true(gf_elector_leading(a));
    assert_int_equal(gf_elector_start(client_for(s), &ob, &b, &err), GF_OK);
    gf_elector_wait_first(b, 5000);
    msleep(800);
    assert_false(gf_elector_leading(b));
    gf_elector_status st;
    gf_elector_get_status(b, &st);
    assert_string_equal(st.holder, "alpha");
    assert_true(st.attempts >= 1);
    gf_elector_stop(a); /* released: beta need not wait the full duration */
    bool led = false;
    for (int i = 0; i < 50 && !led; i++) {
        msleep(100);
        led = gf_elector_leading(b);
    }
    assert_true(led);
    gf_elector_stop(b);
    char *lease = gf_standin_get(s, "Lease", "gpufrac", "lease");
    assert_non_null(lease);
    assert_non_null(strstr(lease, "\"holderIdentity\":\"\""));
    free(lease);
    /* bad options: refused, the client freed */
    gf_elector_opts bad = {"gpufrac", "", "x", 2};
    assert_int_equal(gf_elector_start(client_for(s), &bad, &a, &err), GF_EUSAGE);
    assert_null(a);
    assert_true(gf_elector_leading(NULL)); /* no election: always */
    gf_elector_stop(NULL);
    gf_standin_stop(s);
}

/* The /metrics page after a step: every family with HELP and TYPE, the
 * recommendation gauges per workload. */
static void test_metrics_page(void **state)
{
    (void)state;
    env e;
    env_up(&e, NULL);
    gf_policy p;
    gf_policy_init(&p);
    gf_history h;
    gf_error err = {0};
    gf_history_init(&h, NULL, &err);
    gf_ctl c;
    gf_ctl_init(&c, NULL, &p, &h);
    gf_diags log;
    gf_diags_init(&log);
    /* usage fails (nothing listens on the Prometheus URL): a stale step */
    assert_int_equal(gf_ctl_step(&c, &e.b, 1795700000, &log, NULL, &err), GF_OK);
    assert_true(c.plan.stale);
    gf_ctl_process proc = {true, true, true, false, 1795690000, false, {0},
                           0,    2,    true, false, 0,          0};
    gf_sbuf out = GF_SBUF_INIT;
    gf_ctl_metrics_render(&c, &proc, &out);
    const char *t = gf_sbuf_str(&out);
    static const char *want[] = {
        "# TYPE gpufrac_controller_decisions_total counter\n",
        "gpufrac_controller_api_errors_total{op=\"usage\"} 1\n",
        "gpufrac_controller_api_errors_total{op=\"lease\"} 2\n",
        "gpufrac_controller_steps_total{result=\"stale\"} 1\n",
        "gpufrac_controller_usage_staleness_seconds +Inf\n",
        "gpufrac_controller_usage_stale 1\n",
        "gpufrac_controller_leader 1\n",
        "gpufrac_controller_build_info{version=\"" GF_VERSION "\"} 1\n",
        "gpufrac_controller_kube_insecure_tls 1\n",
        "gpufrac_controller_ready 1\n",
        "gpufrac_controller_last_success_timestamp_seconds 1795700000\n",
        "gpufrac_controller_fairuse_findings{kind=\"memory-overrun\",severity=\"critical\"} 0\n",
        "gpufrac_current_fraction{namespace=\"team-a\",workload=\"chat\",kind=\"Deployment\"} "
        "0.5\n",
        "gpufrac_recommendation_fraction{namespace=\"team-a\",workload=\"embed\",kind="
        "\"Deployment\"} "
        "0.5\n",
        "# TYPE gpufrac_recommendation_confidence gauge\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(t, want[i])) fail_msg("missing: %s\n---\n%s", want[i], t);
    /* the watch cache's and the scrape's own figures */
    proc.have_cache = true;
    proc.cache.silent_restarts = 3;
    proc.cache_age_s = 12.5;
    proc.scrape = true;
    proc.scrape_untrusted_pods = 2;
    proc.scrape_foreign_samples = 7;
    out.len = 0;
    gf_ctl_metrics_render(&c, &proc, &out);
    t = gf_sbuf_str(&out);
    static const char *want2[] = {
        "gpufrac_controller_watch_silent_restarts_total 3\n",
        "# TYPE gpufrac_controller_watch_cache_age_seconds gauge\n",
        "gpufrac_controller_watch_cache_age_seconds 12.5\n",
        "gpufrac_controller_scrape_untrusted_pods_total 2\n",
        "gpufrac_controller_scrape_dropped_samples_total 7\n",
    };
    for (size_t i = 0; i < sizeof want2 / sizeof *want2; i++)
        if (!strstr(t, want2[i])) fail_msg("missing: %s\n---\n%s", want2[i], t);
    gf_sbuf_free(&out);
    gf_diags_free(&log);
    gf_ctl_free(&c);
    gf_history_free(&h);
    gf_policy_free(&p);
    env_down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_cache_holds),
        cmocka_unit_test(test_snapshot_and_resize),
        cmocka_unit_test(test_absent_kai_kinds_said_once),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_convert_once_and_restart),
        cmocka_unit_test(test_cap_moves_with_fraction),
        cmocka_unit_test(test_annotate_event_evict_cordon),
        cmocka_unit_test(test_scrape_discovery),
        cmocka_unit_test(test_workload_stale_held),
        cmocka_unit_test(test_elector),
        cmocka_unit_test(test_metrics_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
