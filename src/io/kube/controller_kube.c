/* controller_kube.c - the controller's Kubernetes backend, see
 * controller_kube.h. */
#include "io/kube/controller_kube.h"
#include "io/kai_patch.h"
#include "io/convert_patch.h"
#include "io/promtext.h"
#include "io/usage.h"
#include "util/arena.h"
#include "util/strmap.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCRAPE_MAX_BYTES (16u << 20)
/* Prometheus answers at most 11000 points per series. */
#define PROM_MAX_POINTS 10000.0

typedef struct exporter_pod {
    char *key;  /* "ns/name" */
    char *url;  /* "http://IP:PORT/metrics" */
    char *node; /* spec.nodeName */
} exporter_pod;

struct gf_ctl_kube {
    gf_kube *k;
    gf_kube_cache *cache;
    gf_ctl_kube_opts o;
    char *prometheus_url;
    gf_usage usage; /* the last usage answer (the samples handed out) */
    GF_VEC(exporter_pod) exporters;
    char *exporter_ns, *exporter_ds;
    gf_ctl_kube_scrape_stats scrape_stats;
    bool stop_before_write;      /* GPUFRAC_TEST_STOP_BEFORE_WRITE: see k_may_write */
    char untrusted_example[600]; /* the last labelled pod refused, for the warning */
    size_t untrusted_reported;   /* scrape_stats.untrusted_pods when last warned */
    unsigned absent_warned;      /* optional kinds already said to be absent */
};

/* --- exporter discovery ---------------------------------------------------------------- */

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(json_object_get(o, a), b);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void forget_exporter(gf_ctl_kube *kb, const char *key)
{
    for (size_t i = 0; i < kb->exporters.n; i++) {
        if (strcmp(kb->exporters.v[i].key, key)) continue;
        free(kb->exporters.v[i].key);
        free(kb->exporters.v[i].url);
        free(kb->exporters.v[i].node);
        kb->exporters.v[i] = kb->exporters.v[--kb->exporters.n];
        return;
    }
}

/* The pod is in the exporters' namespace and its controller (the owner
 * reference with controller: true) is their DaemonSet. */
static bool owned_by_exporter_ds(const gf_ctl_kube *kb, const json_t *obj, const char *ns)
{
    if (strcmp(ns, kb->exporter_ns)) return false;
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    const json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        const json_t *ctl = json_object_get(ref, "controller");
        const json_t *kind = json_object_get(ref, "kind"), *name = json_object_get(ref, "name");
        const json_t *api = json_object_get(ref, "apiVersion");
        if (json_is_true(ctl) && json_is_string(kind) &&
            !strcmp(json_string_value(kind), "DaemonSet") && json_is_string(api) &&
            !strcmp(json_string_value(api), "apps/v1") && json_is_string(name) &&
            !strcmp(json_string_value(name), kb->exporter_ds))
            return true;
    }
    return false;
}

static void on_change(gf_kube_kind kind, gf_kube_event_type type, const json_t *obj, void *user)
{
    gf_ctl_kube *kb = user;
    if (kind != GF_KUBE_POD) return;
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *labels = json_object_get(meta, "labels");
    const json_t *app = json_object_get(labels, GF_EXPORTER_LABEL_KEY);
    if (!json_is_string(app) || strcmp(json_string_value(app), GF_EXPORTER_LABEL_VALUE)) return;
    const char *ns = str_at(obj, "metadata", "namespace"), *name = str_at(obj, "metadata", "name");
    if (!ns || !name) return;
    char key[600];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    forget_exporter(kb, key);
    if (type != GF_KUBE_DELETED && !owned_by_exporter_ds(kb, obj, ns)) {
        kb->scrape_stats.untrusted_pods++;
        snprintf(kb->untrusted_example, sizeof kb->untrusted_example, "%s", key);
        return;
    }
    const char *node = str_at(obj, "spec", "nodeName");
    const char *ip = str_at(obj, "status", "podIP");
    const char *phase = str_at(obj, "status", "phase");
    if (type == GF_KUBE_DELETED || !ip || !*ip || !phase || strcmp(phase, "Running") || !node ||
        !*node || json_object_get(meta, "deletionTimestamp"))
        return;
    char url[300];
    if (strchr(ip, ':'))
        snprintf(url, sizeof url, "http://[%s]:%d/metrics", ip, kb->o.scrape_port);
    else
        snprintf(url, sizeof url, "http://%s:%d/metrics", ip, kb->o.scrape_port);
    exporter_pod e = {gf_xstrdup(key), gf_xstrdup(url), gf_xstrdup(node)};
    gf_vec_push(&kb->exporters, e);
}

/* --- lifecycle ---------------------------------------------------------------------------- */

/* The write guard (kube.h) of a replica under leader election. */
static double lease_left(void *ctx)
{
    return gf_elector_write_time_left(ctx);
}

gf_err gf_ctl_kube_new(gf_kube *k, const gf_ctl_kube_opts *o, gf_ctl_kube **out, gf_error *err)
{
    *out = NULL;
    if (!o->scrape && (!o->prometheus_url || !*o->prometheus_url))
        return gf_error_set(err, GF_EUSAGE, NULL,
                            "usage needs a source: a Prometheus URL or the exporters' scrape");
    gf_ctl_kube *kb = gf_xcalloc(1, sizeof *kb);
    kb->k = k;
    kb->o = *o;
    if (kb->o.scrape_port <= 0) kb->o.scrape_port = 9402;
    if (kb->o.scrape_timeout_ms <= 0) kb->o.scrape_timeout_ms = 10000;
    if (!(kb->o.step_s > 0)) kb->o.step_s = 60;
    kb->prometheus_url = o->prometheus_url ? gf_xstrdup(o->prometheus_url) : NULL;
    kb->o.prometheus_url = kb->prometheus_url;
    kb->exporter_ns =
        gf_xstrdup(o->exporter_ns && *o->exporter_ns ? o->exporter_ns : gf_kube_namespace(k));
    kb->exporter_ds =
        gf_xstrdup(o->exporter_ds && *o->exporter_ds ? o->exporter_ds : GF_EXPORTER_DAEMONSET);
    kb->o.exporter_ns = kb->exporter_ns;
    kb->o.exporter_ds = kb->exporter_ds;
    gf_usage_init(&kb->usage);
    gf_kube_cache_opts co = {0};
    co.kinds = GF_KUBE_CACHE_DEFAULT_KINDS;
    co.on_change = on_change;
    co.user = kb;
    co.silence_s = o->watch_silence_s;
    if (o->elector) gf_kube_set_write_guard(k, lease_left, o->elector);
    const char *stop = getenv("GPUFRAC_TEST_STOP_BEFORE_WRITE");
    kb->stop_before_write = stop && !strcmp(stop, "1");
    if (!(kb->o.max_cache_age_s > 0)) kb->o.max_cache_age_s = GF_CTL_KUBE_MAX_CACHE_AGE_S;
    gf_err rc = gf_kube_cache_new(&kb->cache, k, &co, err);
    if (rc) {
        gf_ctl_kube_free(kb);
        return rc;
    }
    *out = kb;
    return GF_OK;
}

void gf_ctl_kube_free(gf_ctl_kube *kb)
{
    if (!kb) return;
    if (kb->o.elector) gf_kube_set_write_guard(kb->k, NULL, NULL);
    gf_kube_cache_free(kb->cache);
    gf_usage_free(&kb->usage);
    for (size_t i = 0; i < kb->exporters.n; i++) {
        free(kb->exporters.v[i].key);
        free(kb->exporters.v[i].url);
        free(kb->exporters.v[i].node);
    }
    gf_vec_free(&kb->exporters);
    free(kb->exporter_ns);
    free(kb->exporter_ds);
    free(kb->prometheus_url);
    free(kb);
}

gf_err gf_ctl_kube_sync(gf_ctl_kube *kb, int timeout_ms, gf_error *err)
{
    return gf_kube_cache_sync(kb->cache, timeout_ms, err);
}

gf_err gf_ctl_kube_pump(gf_ctl_kube *kb, int timeout_ms, gf_error *err)
{
    return gf_kube_cache_step(kb->cache, timeout_ms, err);
}

bool gf_ctl_kube_synced(const gf_ctl_kube *kb)
{
    return gf_kube_cache_synced(kb->cache);
}

void gf_ctl_kube_cache_stats(const gf_ctl_kube *kb, gf_kube_cache_stats *s)
{
    gf_kube_cache_get_stats(kb->cache, s);
}

double gf_ctl_kube_cache_age(const gf_ctl_kube *kb)
{
    return gf_kube_cache_age(kb->cache);
}

void gf_ctl_kube_scrape_stats_get(const gf_ctl_kube *kb, gf_ctl_kube_scrape_stats *s)
{
    *s = kb->scrape_stats;
}

/* --- snapshot ------------------------------------------------------------------------------- */

static const char *annotation(const json_t *obj, const char *key)
{
    const json_t *v =
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"), key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static gf_err k_snapshot(void *ctx, gf_model *m, gf_ctl_meta *meta, gf_diags *d, gf_error *err)
{
    gf_ctl_kube *kb = ctx;
    if (!gf_kube_cache_synced(kb->cache))
        return gf_error_set(err, GF_EIO, gf_kube_server(kb->k),
                            "the watch cache has not listed every kind yet");
    double age = gf_kube_cache_age(kb->cache);
    if (age > kb->o.max_cache_age_s)
        return gf_error_set(err, GF_EIO, gf_kube_server(kb->k),
                            "the watch cache is stale: nothing heard from the API server for "
                            "%.0f s (the limit is %.0f s); no decision and no write until it "
                            "answers again",
                            age, kb->o.max_cache_age_s);
    gf_err rc = gf_kube_cache_model(kb->cache, m, d, err);
    if (rc) return rc;
    /* KAI's governance kinds the cluster does not serve: said once, then
     * read on without them (no quota is known, nothing is blocked by one) */
    unsigned absent = gf_kube_cache_absent(kb->cache) & ~kb->absent_warned;
    for (int i = 0; absent && i < GF_KUBE_KIND_COUNT; i++) {
        if (!(absent & GF_KUBE_KIND_BIT(i))) continue;
        const gf_kube_resource *r = gf_kube_resource_of((gf_kube_kind)i);
        gf_diag(d, gf_kube_server(kb->k),
                "the cluster does not serve %s (%s: 404; KAI's CRD not installed?): read on "
                "without them",
                r->plural, r->api_version);
    }
    kb->absent_warned |= absent;
    meta->w = gf_arena_alloc(&m->arena, (m->workloads.n + 1) * sizeof *meta->w);
    for (size_t i = 0; i < m->workloads.n; i++) {
        const gf_workload *w = &m->workloads.v[i];
        gf_kube_kind kind;
        if (!w->from_input || !gf_kube_kind_from_name(w->kind, &kind)) continue;
        const json_t *obj = gf_kube_cache_get(kb->cache, kind, w->ns, w->name);
        if (!obj) continue;
        const char *rv = str_at(obj, "metadata", "resourceVersion");
        meta->w[i].resource_version = rv ? gf_arena_strdup(&m->arena, rv) : NULL;
        meta->w[i].last_change = gf_arena_strdup(&m->arena, annotation(obj, GF_ANN_LAST_CHANGE));
        meta->w[i].recommendation =
            gf_arena_strdup(&m->arena, annotation(obj, GF_ANN_RECOMMENDATION));
        meta->w[i].stalled = gf_arena_strdup(&m->arena, annotation(obj, GF_ANN_STALLED));
    }
    for (size_t i = 0; i < m->nodes.n && !meta->draining_node; i++) {
        const json_t *obj = gf_kube_cache_get(kb->cache, GF_KUBE_NODE, NULL, m->nodes.v[i].name);
        if (obj && annotation(obj, GF_ANN_DRAINING) && m->nodes.v[i].unschedulable)
            meta->draining_node = m->nodes.v[i].name;
    }
    return GF_OK;
}

/* --- usage ---------------------------------------------------------------------------------- */

/* Points on a grid of the step, strictly after `after` and at most `until`:
 * each query brings whole time slices, and no slice twice. */
static gf_err prom_range(gf_ctl_kube *kb, double after, double until, double step, gf_diags *d,
                         gf_error *err)
{
    double start = floor(after / step) * step + step, end = floor(until / step) * step;
    if (start > end) return GF_OK;
    return gf_prom_fetch_usage(kb->prometheus_url, start, end, step, &kb->usage, d, err);
}

/* Each exporter speaks for its own node only: a sample of a pod that is on
 * another node, or not in the cache, is dropped (a compromised or forged
 * exporter must not move another team's pods). Also warns about labelled
 * pods refused since the last scrape. */
static void keep_own_node_samples(gf_ctl_kube *kb, const gf_model *m, const size_t *starts,
                                  gf_diags *d)
{
    if (kb->scrape_stats.untrusted_pods > kb->untrusted_reported) {
        gf_diag(d, NULL,
                "scrape: %zu pods labelled " GF_EXPORTER_LABEL_KEY "=" GF_EXPORTER_LABEL_VALUE
                " are not scraped: not in namespace %s or not owned by DaemonSet %s (e.g. %s)",
                kb->scrape_stats.untrusted_pods - kb->untrusted_reported, kb->exporter_ns,
                kb->exporter_ds, kb->untrusted_example);
        kb->untrusted_reported = kb->scrape_stats.untrusted_pods;
    }
    gf_arena keys;
    gf_arena_init(&keys);
    gf_strmap node_of; /* "ns/pod" -> index of the pod */
    gf_strmap_init(&node_of);
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        size_t nl = strlen(p->ns), pl = strlen(p->name);
        char *k = gf_arena_alloc(&keys, nl + pl + 2);
        memcpy(k, p->ns, nl);
        k[nl] = '/';
        memcpy(k + nl + 1, p->name, pl + 1);
        gf_strmap_put(&node_of, k, i);
    }
    gf_usage_sample *v = kb->usage.samples.v;
    size_t out = 0;
    for (size_t e = 0; e < kb->exporters.n; e++) {
        size_t dropped = 0;
        char example[600] = "";
        for (size_t s = starts[e]; s < starts[e + 1]; s++) {
            char key[600];
            size_t at;
            snprintf(key, sizeof key, "%s/%s", v[s].ns, v[s].pod);
            const char *node = gf_strmap_get(&node_of, key, &at) ? m->pods.v[at].node_name : NULL;
            if (node && !strcmp(node, kb->exporters.v[e].node)) {
                v[out++] = v[s];
                continue;
            }
            if (!dropped++)
                gf_textf(example, sizeof example, "%s (%s)", key, node ? node : "not in the cache");
        }
        if (dropped) {
            kb->scrape_stats.foreign_samples += dropped;
            gf_diag(d, kb->exporters.v[e].url,
                    "scrape: %zu samples dropped: exporter %s on node %s reported pods that are "
                    "not on its node (e.g. %s)",
                    dropped, kb->exporters.v[e].key, kb->exporters.v[e].node, example);
        }
    }
    kb->usage.samples.n = out;
    gf_strmap_free(&node_of);
    gf_arena_free(&keys);
}

static gf_err k_usage(void *ctx, const gf_model *m, double since, double now,
                      const gf_usage_sample **out, size_t *n, gf_diags *d, gf_error *err)
{
    gf_ctl_kube *kb = ctx;
    gf_usage_free(&kb->usage);
    gf_usage_init(&kb->usage);
    *out = NULL;
    *n = 0;
    gf_err rc = GF_OK;
    if (kb->o.scrape) {
        if (!kb->exporters.n)
            return gf_error_set(err, GF_ENOTFOUND, NULL,
                                "no running exporter pod (label " GF_EXPORTER_LABEL_KEY
                                "=" GF_EXPORTER_LABEL_VALUE ") to scrape");
        const char **urls = gf_xcalloc(kb->exporters.n, sizeof *urls);
        size_t *starts = gf_xcalloc(kb->exporters.n + 1, sizeof *starts);
        for (size_t i = 0; i < kb->exporters.n; i++)
            urls[i] = kb->exporters.v[i].url;
        size_t failed = gf_promtext_scrape(urls, kb->exporters.n, kb->o.scrape_timeout_ms,
                                           SCRAPE_MAX_BYTES, now, &kb->usage, starts, d);
        if (failed == kb->exporters.n)
            rc = gf_error_set(err, GF_EIO, NULL, "none of the %zu exporters answered a scrape",
                              kb->exporters.n);
        else
            keep_own_node_samples(kb, m, starts, d);
        free(starts);
        free(urls);
    } else {
        /* the recent part at the loop's resolution; anything older (a first
         * backfill) coarser, within Prometheus's points per series */
        double step = kb->o.step_s, fine_from = since;
        if ((now - since) / step > PROM_MAX_POINTS) {
            fine_from = now - step * PROM_MAX_POINTS / 2;
            double coarse = ceil((fine_from - since) / PROM_MAX_POINTS);
            rc = prom_range(kb, since, fine_from, coarse > step ? coarse : step, d, err);
        }
        if (!rc) rc = prom_range(kb, fine_from, now, step, d, err);
    }
    if (rc) return rc;
    *out = kb->usage.samples.v;
    *n = kb->usage.samples.n;
    return GF_OK;
}

static void k_engine_usage(void *ctx, const gf_engine_sample **out, size_t *n)
{
    gf_ctl_kube *kb = ctx;
    *out = kb->usage.engine.v;
    *n = kb->usage.engine.n;
}

/* --- writes --------------------------------------------------------------------------------- */

static gf_ctl_result result_of(gf_err rc)
{
    if (rc == GF_OK) return GF_CTL_OK;
    if (rc == GF_KUBE_ECONFLICT) return GF_CTL_CONFLICT;
    if (rc == GF_KUBE_EPDB) return GF_CTL_REFUSED;
    if (rc == GF_ENOTFOUND) return GF_CTL_GONE;
    if (rc == GF_KUBE_ELEASE) return GF_CTL_NOT_LEADER;
    /* 400/422 (GF_EINPUT) and 401/403 (GF_KUBE_EAUTH): the same write would
     * be refused again; the controller backs off */
    if (rc == GF_EINPUT || rc == GF_KUBE_EAUTH) return GF_CTL_REJECTED;
    return GF_CTL_ERROR;
}

static gf_err kind_of(const gf_ctl_action *a, gf_kube_kind *kind, gf_error *err)
{
    if (!gf_kube_kind_from_name(a->target.kind, kind))
        return gf_error_set(err, GF_EINPUT, a->target.name, "cannot write a %s", a->target.kind);
    return GF_OK;
}

/* The resize: template annotation and record together; a revert of a
 * stalled rollout adds gpufrac.io/stalled to the same patch. */
static json_t *resize_patch(const gf_ctl_action *a)
{
    json_t *p = json_pack("{s:{s:{s:s, s:n}}, s:{s:{s:{s:{s:s}}}}}", "metadata", "annotations",
                          GF_ANN_LAST_CHANGE, a->last_change, GF_ANN_RECOMMENDATION, "spec",
                          "template", "metadata", "annotations", a->unit_key, a->to);
    if (p && a->stalled[0]) {
        json_t *ann = json_object_get(json_object_get(p, "metadata"), "annotations");
        json_t *v = json_string(a->stalled);
        if (!v) {
            json_decref(p);
            return NULL;
        }
        json_object_set_new(ann, GF_ANN_STALLED, v);
    }
    return p;
}

static bool same_value(const char *have, const char *want)
{
    char *e1, *e2;
    if (!have || !want) return false;
    double x = strtod(have, &e1), y = strtod(want, &e2);
    if (e1 == have || e2 == want || *e1 || *e2) return !strcmp(have, want);
    return fabs(x - y) < 1e-9;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* After a 409: the object as it is now decides. */
static gf_err recheck(const json_t *cur, json_t **patch, void *user, gf_error *err)
{
    const gf_ctl_action *a = user;
    *patch = NULL;
    const json_t *tmpl = json_object_get(json_object_get(cur, "spec"), "template");
    const json_t *v = json_object_get(
        json_object_get(json_object_get(tmpl, "metadata"), "annotations"), a->unit_key);
    const char *tv = json_is_string(v) ? json_string_value(v) : NULL;
    const char *last = annotation(cur, GF_ANN_LAST_CHANGE);
    if (same_value(tv, a->to) && same_text(last, a->last_change)) return GF_OK; /* ours, applied */
    if ((tv && !same_value(tv, a->from)) || !same_text(last, a->expect_last_change))
        return gf_error_set(err, GF_KUBE_ECONFLICT, a->target.name,
                            "%s %s/%s changed since the decision (%s %s, last change %s): not "
                            "retried",
                            a->target.kind, a->target.ns, a->target.name, a->unit_key,
                            tv ? tv : "unset", last ? last : "none");
    *patch = resize_patch(a);
    return *patch ? GF_OK : gf_error_set(err, GF_EINPUT, a->target.name, "bad patch text");
}

/* To whole GPUs: one JSON merge patch built from the object as the cache has
 * it (the template's container list with nvidia.com/gpu in the share's
 * container, the sharing annotations null; io/kai_patch.h), sent with the
 * decision's resourceVersion: a conflict is not retried, the next interval
 * decides again on the new object. */
static gf_err whole_gpu_resize(gf_ctl_kube *kb, gf_kube_kind kind, const gf_ctl_action *a,
                               gf_error *err)
{
    const json_t *obj = gf_kube_cache_get(kb->cache, kind, a->target.ns, a->target.name);
    if (!obj) return gf_error_set(err, GF_ENOTFOUND, a->target.name, "not in the watch cache");
    json_t *patch =
        gf_kai_whole_gpu_merge(obj, a->container, a->container_init, a->whole_gpus, err);
    if (!patch) return err ? err->code : GF_EINPUT;
    json_t *meta = json_pack("{s:{s:s, s:n}}", "annotations", GF_ANN_LAST_CHANGE, a->last_change,
                             GF_ANN_RECOMMENDATION);
    if (!meta) {
        json_decref(patch);
        return gf_error_set(err, GF_EINPUT, a->target.name, "bad patch text");
    }
    json_object_set_new(patch, "metadata", meta);
    gf_err rc = gf_kube_merge_patch(kb->k, kind, a->target.ns, a->target.name, patch,
                                    a->resource_version, NULL, err);
    json_decref(patch);
    return rc;
}

/* A share resize that moves the engine's cap (a->move_cap): one JSON merge
 * patch built from the object as the cache has it: the template's
 * annotation, and its container list with the engine's flag (or env
 * variable) set to the new cap, every other entry kept (io/kai_patch.h
 * gf_kai_resize_with_cap_merge: merge patches replace lists); the record
 * (and a stalled revert's mark) in the same patch. Sent with the decision's
 * resourceVersion: a conflict is not retried, the next interval decides
 * again on the new object (whose containers may have changed). */
static gf_err cap_resize(gf_ctl_kube *kb, gf_kube_kind kind, const gf_ctl_action *a, gf_error *err)
{
    const json_t *obj = gf_kube_cache_get(kb->cache, kind, a->target.ns, a->target.name);
    if (!obj) return gf_error_set(err, GF_ENOTFOUND, a->target.name, "not in the watch cache");
    json_t *patch = gf_kai_resize_with_cap_merge(obj, a->unit_key, a->to, a->cap_container,
                                                 a->cap_container_init, a->cap_knob, a->cap_env,
                                                 a->new_cap, err);
    if (!patch) return err ? err->code : GF_EINPUT;
    json_t *rec = resize_patch(a); /* the record, the stalled mark */
    json_t *meta = rec ? json_object_get(rec, "metadata") : NULL;
    if (!meta) {
        json_decref(rec);
        json_decref(patch);
        return gf_error_set(err, GF_EINPUT, a->target.name, "bad patch text");
    }
    json_object_set(patch, "metadata", meta);
    json_decref(rec);
    gf_err rc = gf_kube_merge_patch(kb->k, kind, a->target.ns, a->target.name, patch,
                                    a->resource_version, NULL, err);
    json_decref(patch);
    return rc;
}

/* Conversion, read-modify-write: a JSON merge patch replaces the containers
 * list whole, so it is rebuilt from the object read (and the PATCH is
 * preconditioned on that read's resourceVersion). The object as read
 * decides, as after a 409 for a resize: our record there -> applied;
 * another record than the one the decision saw, or a template that no
 * longer matches -> refused. */
static gf_err convert_fn(const json_t *cur, json_t **patch, void *user, gf_error *err)
{
    const gf_ctl_action *a = user;
    *patch = NULL;
    const char *last = annotation(cur, GF_ANN_LAST_CHANGE);
    if (same_text(last, a->last_change)) return GF_OK; /* ours, applied */
    if (!same_text(last, a->expect_last_change))
        return gf_error_set(err, GF_KUBE_ECONFLICT, a->target.name,
                            "%s %s/%s changed since the decision (last change %s): not retried",
                            a->target.kind, a->target.ns, a->target.name, last ? last : "none");
    gf_convert_change c = {a->gpu_container, a->unit_key, a->to, a->from_whole_gpus,
                           a->set_scheduler};
    json_t *tp = NULL;
    gf_err rc = gf_convert_patch_merge(cur, &c, &tp, err);
    if (rc == GF_EINPUT) rc = GF_KUBE_ECONFLICT; /* the template changed under the decision */
    if (rc || !tp) return rc;
    json_t *meta = json_pack("{s:{s:s, s:n}}", "annotations", GF_ANN_LAST_CHANGE, a->last_change,
                             GF_ANN_RECOMMENDATION);
    if (!meta) {
        json_decref(tp);
        return gf_error_set(err, GF_EINPUT, a->target.name, "bad patch text");
    }
    json_object_set_new(tp, "metadata", meta);
    *patch = tp;
    return GF_OK;
}

static gf_err k_resize(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    gf_ctl_kube *kb = ctx;
    gf_kube_kind kind;
    gf_err rc = kind_of(a, &kind, err);
    if (!rc && a->reason == GF_CTL_R_CONVERT) {
        rc = gf_kube_patch_retry(kb->k, kind, a->target.ns, a->target.name, convert_fn, (void *)a,
                                 NULL, err);
        *res = result_of(rc);
        return rc;
    }
    if (!rc && a->whole_gpus) {
        rc = whole_gpu_resize(kb, kind, a, err);
        *res = result_of(rc);
        return rc;
    }
    if (!rc && a->move_cap) {
        rc = cap_resize(kb, kind, a, err);
        *res = result_of(rc);
        return rc;
    }
    json_t *patch = rc ? NULL : resize_patch(a);
    if (!rc && !patch) rc = gf_error_set(err, GF_EINPUT, a->target.name, "bad patch text");
    if (!rc) {
        rc = gf_kube_merge_patch(kb->k, kind, a->target.ns, a->target.name, patch,
                                 a->resource_version, NULL, err);
        if (rc == GF_KUBE_ECONFLICT)
            rc = gf_kube_patch_retry(kb->k, kind, a->target.ns, a->target.name, recheck, (void *)a,
                                     NULL, err);
    }
    json_decref(patch);
    *res = result_of(rc);
    return rc;
}

static gf_err k_annotate(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    gf_ctl_kube *kb = ctx;
    gf_kube_kind kind;
    gf_err rc = kind_of(a, &kind, err);
    if (!rc) {
        json_t *value = a->recommendation[0] ? json_string(a->recommendation) : json_null();
        json_t *patch =
            json_pack("{s:{s:{s:o}}}", "metadata", "annotations", GF_ANN_RECOMMENDATION, value);
        rc = patch ? gf_kube_merge_patch(kb->k, kind, a->target.ns, a->target.name, patch, NULL,
                                         NULL, err)
                   : gf_error_set(err, GF_EINPUT, a->target.name,
                                  "the recommendation is not valid UTF-8");
        json_decref(patch);
    }
    *res = result_of(rc);
    return rc;
}

static gf_err k_event(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    gf_ctl_kube *kb = ctx;
    gf_kube_kind kind;
    gf_err rc = kind_of(a, &kind, err);
    if (!rc) {
        gf_kube_ref ref = {kind, a->target.ns, a->target.name, a->target.uid};
        rc = gf_kube_event(kb->k, &ref, a->warning, a->event_reason, a->message, err);
    }
    *res = result_of(rc);
    return rc;
}

static gf_err k_evict(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    gf_ctl_kube *kb = ctx;
    gf_err rc = gf_kube_evict(kb->k, a->target.ns, a->target.name, -1, err);
    *res = result_of(rc);
    return rc;
}

static gf_err k_cordon(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    gf_ctl_kube *kb = ctx;
    char when[32] = "?";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *patch = json_pack("{s:{s:b}, s:{s:{s:s}}}", "spec", "unschedulable", 1, "metadata",
                              "annotations", GF_ANN_DRAINING, when);
    gf_err rc =
        gf_kube_merge_patch(kb->k, GF_KUBE_NODE, NULL, a->target.name, patch, NULL, NULL, err);
    json_decref(patch);
    *res = result_of(rc);
    return rc;
}

static bool k_may_write(void *ctx)
{
    gf_ctl_kube *kb = ctx;
    bool ok = gf_elector_leading(kb->o.elector) &&
              gf_elector_write_time_left(kb->o.elector) >= GF_KUBE_MIN_WRITE_S;
    if (ok && kb->stop_before_write) {
        /* tests/cli_run.sh: a replica paused between "may I write" and the
         * request; the write guard must stop the request when it resumes */
        kb->stop_before_write = false;
        raise(SIGSTOP);
    }
    return ok;
}

void gf_ctl_kube_backend(gf_ctl_kube *kb, gf_ctl_backend *b)
{
    memset(b, 0, sizeof *b);
    b->ctx = kb;
    b->name = "kubernetes";
    b->snapshot = k_snapshot;
    b->usage = k_usage;
    b->engine_usage = k_engine_usage;
    b->resize = k_resize;
    b->annotate = k_annotate;
    b->event = k_event;
    b->evict = k_evict;
    b->cordon = k_cordon;
    b->may_write = k_may_write;
}
