/* kube_resources.c - the Kubernetes API client's typed requests (see
 * kube.h): get, list (paged) and watch, merge patch and its conflict retry,
 * Events, Evictions and leader election Leases, all through gf_kube_run
 * (kube.c). */
#include "io/kube/kube_private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* MicroTime ("2006-01-02T15:04:05.000000Z") of the wall clock, or Time
 * (whole seconds) when micro is false. */
static void wall_time(char *buf, size_t n, bool micro)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (micro)
        snprintf(buf, n, "%s.%06ldZ", base, ts.tv_nsec / 1000);
    else
        snprintf(buf, n, "%sZ", base);
}

/* The answer as a JSON object. */
static gf_err parse_object(const gf_kube_reply *r, const char *where, json_t **out, gf_error *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(r->body.s ? r->body.s : "", r->body.len, 0, &jerr);
    if (!o)
        return gf_error_set(err, GF_EIO, where, "the answer is not JSON: line %d: %s", jerr.line,
                            jerr.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return gf_error_set(err, GF_EIO, where, "the answer is not a JSON object");
    }
    *out = o;
    return GF_OK;
}

static void where_of(gf_kube *k, const char *method, const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "%s %.300s%.*s", method, k->server_shown, (int)strcspn(path, "?"), path);
}

static gf_err check_name(gf_kube_kind kind, const char *ns, const char *name, gf_error *err)
{
    const gf_kube_resource *r = gf_kube_resource_of(kind);
    if (!r) return gf_error_set(err, GF_EUSAGE, NULL, "unknown kind %d", (int)kind);
    if (!name || !*name) return gf_error_set(err, GF_EUSAGE, NULL, "%s without a name", r->kind);
    if (r->namespaced && (!ns || !*ns))
        return gf_error_set(err, GF_EUSAGE, NULL, "%s %s without a namespace", r->kind, name);
    return GF_OK;
}

gf_err gf_kube_get(gf_kube *k, gf_kube_kind kind, const char *ns, const char *name, json_t **obj,
                   gf_error *err)
{
    *obj = NULL;
    gf_err rc = check_name(kind, ns, name, err);
    if (rc) return rc;
    gf_sbuf path = GF_SBUF_INIT;
    gf_kube_path(&path, kind, ns, name, NULL);
    gf_kube_reply r = {0};
    rc = gf_kube_run(k, "GET", path.s, NULL, NULL, false, &r, err);
    if (!rc) {
        char where[600];
        where_of(k, "GET", path.s, where, sizeof where);
        rc = parse_object(&r, where, obj, err);
    }
    gf_kube_reply_free(&r);
    gf_sbuf_free(&path);
    return rc;
}

/* Sets kind and apiVersion of a list item (the API server leaves them out). */
void gf_kube_complete_item(json_t *item, gf_kube_kind kind)
{
    const gf_kube_resource *r = gf_kube_resource_of(kind);
    if (!json_is_string(json_object_get(item, "kind")))
        json_object_set_new(item, "kind", json_string(r->kind));
    if (!json_is_string(json_object_get(item, "apiVersion")))
        json_object_set_new(item, "apiVersion", json_string(r->api_version));
}

void gf_kube_list_query(gf_sbuf *b, const gf_kube_list_opts *o)
{
    if (o && o->label_selector && *o->label_selector)
        gf_kube_query(b, "labelSelector", o->label_selector);
    if (o && o->field_selector && *o->field_selector)
        gf_kube_query(b, "fieldSelector", o->field_selector);
}

void gf_kube_list_path(gf_kube *k, gf_sbuf *path, gf_kube_kind kind, const gf_kube_list_opts *o,
                       const char *cont)
{
    gf_kube_path(path, kind, o ? o->ns : NULL, NULL, NULL);
    char limit[32];
    snprintf(limit, sizeof limit, "%u", k->opt.list_page_size);
    gf_kube_query(path, "limit", limit);
    gf_kube_list_query(path, o);
    if (cont) gf_kube_query(path, "continue", cont);
}

gf_err gf_kube_list_page(const gf_sbuf *body, const char *where, gf_kube_kind kind,
                         json_t *append_to, char **rv, char **cont, gf_error *err)
{
    *rv = *cont = NULL;
    json_error_t jerr;
    json_t *page = json_loadb(body->s ? body->s : "", body->len, 0, &jerr);
    if (!json_is_object(page)) {
        json_decref(page);
        return gf_error_set(err, GF_EIO, where, "the answer is not a JSON object%s%s",
                            page ? "" : ": ", page ? "" : jerr.text);
    }
    json_t *its = json_object_get(page, "items");
    const json_t *meta = json_object_get(page, "metadata");
    const json_t *prv = json_object_get(meta, "resourceVersion");
    const json_t *pcont = json_object_get(meta, "continue");
    gf_err rc = GF_OK;
    if (its && !json_is_array(its) && !json_is_null(its))
        rc = gf_error_set(err, GF_EIO, where, "the list's items is not an array");
    else if (!json_is_string(prv) || !json_string_length(prv))
        rc = gf_error_set(err, GF_EIO, where, "the list has no metadata.resourceVersion");
    if (!rc) {
        size_t i;
        json_t *it;
        json_array_foreach(its, i, it)
        {
            if (!json_is_object(it)) continue;
            gf_kube_complete_item(it, kind);
            if (json_is_array(append_to)) {
                json_array_append(append_to, it);
            } else {
                char key[600];
                if (gf_kube_key_of(it, key, sizeof key)) json_object_set(append_to, key, it);
            }
        }
        *rv = gf_xstrdup(json_string_value(prv));
        if (json_is_string(pcont) && json_string_length(pcont))
            *cont = gf_xstrdup(json_string_value(pcont));
    }
    json_decref(page);
    return rc;
}

bool gf_kube_key_of(const json_t *obj, char *buf, size_t n)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *name = json_object_get(meta, "name");
    const json_t *ns = json_object_get(meta, "namespace");
    if (!json_is_string(name) || !json_string_length(name)) return false;
    int k = json_is_string(ns) && json_string_length(ns)
                ? snprintf(buf, n, "%s/%s", json_string_value(ns), json_string_value(name))
                : snprintf(buf, n, "%s", json_string_value(name));
    return k > 0 && (size_t)k < n;
}

gf_err gf_kube_list(gf_kube *k, gf_kube_kind kind, const gf_kube_list_opts *o, json_t **items,
                    char **rv, gf_error *err)
{
    *items = NULL;
    if (rv) *rv = NULL;
    if (!gf_kube_resource_of(kind))
        return gf_error_set(err, GF_EUSAGE, NULL, "unknown kind %d", (int)kind);
    json_t *all = json_array();
    char *cont = NULL, *list_rv = NULL;
    bool restarted = false;
    gf_err rc = GF_OK;
    for (;;) {
        gf_sbuf path = GF_SBUF_INIT;
        gf_kube_list_path(k, &path, kind, o, cont);
        gf_kube_reply r = {0};
        rc = gf_kube_run(k, "GET", path.s, NULL, NULL, false, &r, err);
        if (rc == GF_KUBE_EGONE && cont && !restarted) {
            /* the continue token expired: start over, once */
            restarted = true;
            json_array_clear(all);
            free(cont);
            free(list_rv);
            cont = list_rv = NULL;
            gf_sbuf_free(&path);
            gf_kube_reply_free(&r);
            continue;
        }
        char where[600], *page_rv = NULL;
        where_of(k, "GET", path.s, where, sizeof where);
        free(cont);
        cont = NULL;
        if (!rc) rc = gf_kube_list_page(&r.body, where, kind, all, &page_rv, &cont, err);
        gf_kube_reply_free(&r);
        gf_sbuf_free(&path);
        if (!list_rv) /* every page is of the first page's snapshot */
            list_rv = page_rv;
        else
            free(page_rv);
        if (rc || !cont) break;
    }
    free(cont);
    if (rc) {
        json_decref(all);
        free(list_rv);
        return rc;
    }
    *items = all;
    if (rv)
        *rv = list_rv;
    else
        free(list_rv);
    return GF_OK;
}

/* --- watch ------------------------------------------------------------------------------------ */

typedef struct watch_user {
    gf_kube_watch_fn fn;
    void *user;
    gf_kube_kind kind;
} watch_user;

static int deliver(gf_kube_xfer *x, gf_kube_event_type type, json_t *object)
{
    watch_user *w = x->user;
    if (type != GF_KUBE_ERROR) gf_kube_complete_item(object, w->kind);
    return w->fn ? w->fn(type, object, w->user) : 0;
}

/* "?watch=1&resourceVersion=..&allowWatchBookmarks=true&timeoutSeconds=N" */
void gf_kube_watch_path(gf_sbuf *path, gf_kube_kind kind, const gf_kube_list_opts *o,
                        const char *rv, int timeout_s)
{
    gf_kube_path(path, kind, o ? o->ns : NULL, NULL, NULL);
    gf_kube_query(path, "watch", "1");
    if (rv && *rv) gf_kube_query(path, "resourceVersion", rv);
    gf_kube_query(path, "allowWatchBookmarks", "true");
    char t[32];
    snprintf(t, sizeof t, "%d", timeout_s);
    gf_kube_query(path, "timeoutSeconds", t);
    gf_kube_list_query(path, o);
}

gf_err gf_kube_watch(gf_kube *k, gf_kube_kind kind, const gf_kube_list_opts *o, const char *rv,
                     int timeout_s, gf_kube_watch_fn fn, void *user, gf_error *err)
{
    if (!gf_kube_resource_of(kind))
        return gf_error_set(err, GF_EUSAGE, NULL, "unknown kind %d", (int)kind);
    if (timeout_s <= 0) timeout_s = k->opt.watch_timeout_s;
    gf_sbuf path = GF_SBUF_INIT;
    gf_kube_watch_path(&path, kind, o, rv, timeout_s);
    gf_kube_xfer x;
    watch_user wu = {fn, user, kind};
    gf_err rc = gf_kube_xfer_init(&x, k, "GET", path.s, NULL, NULL, true, err);
    gf_sbuf_free(&path);
    if (!rc) {
        x.on_event = deliver;
        x.user = &wu;
        /* a connection silent past the server's own timeout is dead */
        curl_easy_setopt(x.h, CURLOPT_TIMEOUT_MS, ((long)timeout_s + 30) * 1000L);
        CURLcode cc = curl_easy_perform(x.h);
        double delay;
        /* attempt = max: no retry here */
        gf_kube_outcome out = gf_kube_xfer_outcome(&x, cc, k->opt.max_attempts, &delay, &rc, err);
        if (out == GF_KUBE_DONE) {
            rc = GF_OK;
        } else if (rc == GF_OK) {
            rc = GF_EIO;
        }
    }
    gf_kube_xfer_cleanup(&x);
    return rc;
}

/* --- patch ---------------------------------------------------------------------------------- */

gf_err gf_kube_merge_patch(gf_kube *k, gf_kube_kind kind, const char *ns, const char *name,
                           const json_t *patch, const char *rv, json_t **result, gf_error *err)
{
    if (result) *result = NULL;
    gf_err rc = check_name(kind, ns, name, err);
    if (rc) return rc;
    if (!json_is_object(patch))
        return gf_error_set(err, GF_EUSAGE, NULL, "a merge patch is a JSON object");
    json_t *p = json_deep_copy(patch);
    if (rv) {
        json_t *meta = json_object_get(p, "metadata");
        if (!json_is_object(meta)) {
            meta = json_object();
            json_object_set_new(p, "metadata", meta);
        }
        json_object_set_new(meta, "resourceVersion", json_string(rv));
    }
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (!text) return gf_error_set(err, GF_EINTERNAL, NULL, "cannot encode the patch");
    gf_sbuf path = GF_SBUF_INIT;
    gf_kube_path(&path, kind, ns, name, NULL);
    gf_kube_reply r = {0};
    rc = gf_kube_run(k, "PATCH", path.s, "application/merge-patch+json", text, false, &r, err);
    if (!rc && result) {
        char where[600];
        where_of(k, "PATCH", path.s, where, sizeof where);
        rc = parse_object(&r, where, result, err);
    }
    free(text);
    gf_kube_reply_free(&r);
    gf_sbuf_free(&path);
    return rc;
}

const char *gf_kube_rv_of(const json_t *obj)
{
    const json_t *v = json_object_get(json_object_get(obj, "metadata"), "resourceVersion");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

gf_err gf_kube_patch_retry(gf_kube *k, gf_kube_kind kind, const char *ns, const char *name,
                           gf_kube_patch_fn fn, void *user, json_t **result, gf_error *err)
{
    if (result) *result = NULL;
    int tries = k->opt.max_conflict_retries + 1;
    gf_err rc = GF_OK;
    for (int i = 0; i < tries; i++) {
        json_t *cur = NULL, *patch = NULL;
        if ((rc = gf_kube_get(k, kind, ns, name, &cur, err))) return rc;
        const char *rv = gf_kube_rv_of(cur);
        if (!rv) {
            json_decref(cur);
            return gf_error_set(err, GF_EIO, name, "the object read has no resourceVersion");
        }
        if ((rc = fn(cur, &patch, user, err))) {
            json_decref(cur);
            return rc;
        }
        if (!patch) { /* nothing to change */
            if (result)
                *result = cur;
            else
                json_decref(cur);
            return GF_OK;
        }
        rc = gf_kube_merge_patch(k, kind, ns, name, patch, rv, result, err);
        json_decref(patch);
        json_decref(cur);
        if (rc != GF_KUBE_ECONFLICT) return rc;
    }
    char where[300];
    snprintf(where, sizeof where, "%s %s%s%s", gf_kube_resource_of(kind)->kind,
             ns && gf_kube_resource_of(kind)->namespaced ? ns : "",
             ns && gf_kube_resource_of(kind)->namespaced ? "/" : "", name);
    return gf_error_set(err, GF_KUBE_ECONFLICT, where,
                        "still changed by others after %d attempts (409 Conflict each time)",
                        tries);
}

/* --- Events and Evictions ------------------------------------------------------------------ */

/* At most n bytes of s, not cutting a UTF-8 sequence. */
static json_t *utf8_prefix(const char *s, size_t n)
{
    size_t len = strlen(s);
    if (len > n) {
        len = n;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    return json_stringn(s, len); /* NULL when s is not UTF-8 */
}

gf_err gf_kube_event(gf_kube *k, const gf_kube_ref *about, bool warning, const char *reason,
                     const char *message, gf_error *err)
{
    const gf_kube_resource *r = gf_kube_resource_of(about->kind);
    gf_err rc = check_name(about->kind, about->ns, about->name, err);
    if (rc) return rc;
    if (!reason || !*reason || strlen(reason) > 128)
        return gf_error_set(err, GF_EUSAGE, NULL, "an Event needs a reason of 1..128 characters");
    const char *ns = r->namespaced ? about->ns : "default";
    char now[64], name[300], host[256] = "";
    wall_time(now, sizeof now, false);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* client-go's recorder names Events "<object>.<unix nanoseconds in hex>" */
    snprintf(name, sizeof name, "%.200s.%llx", about->name,
             (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    json_t *msg = utf8_prefix(message ? message : "", 1024);
    json_t *rsn = json_string(reason);
    if (!msg || !rsn) {
        json_decref(msg);
        json_decref(rsn);
        return gf_error_set(err, GF_EUSAGE, NULL, "an Event's reason and message must be UTF-8");
    }
    json_t *involved = json_pack("{s:s, s:s, s:s}", "apiVersion", r->api_version, "kind", r->kind,
                                 "name", about->name);
    if (r->namespaced) json_object_set_new(involved, "namespace", json_string(about->ns));
    if (about->uid && *about->uid) json_object_set_new(involved, "uid", json_string(about->uid));
    json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:o, s:s, s:{s:s}, s:s, s:s, "
                           "s:i, s:s, s:s}",
                           "apiVersion", "v1", "kind", "Event", "metadata", "name", name,
                           "namespace", ns, "involvedObject", involved, "reason", rsn, "message",
                           msg, "type", warning ? "Warning" : "Normal", "source", "component",
                           k->component, "firstTimestamp", now, "lastTimestamp", now, "count", 1,
                           "reportingComponent", k->component, "reportingInstance", host);
    char *body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!body) return gf_error_set(err, GF_EINTERNAL, NULL, "cannot encode the Event");
    gf_sbuf path = GF_SBUF_INIT;
    gf_kube_path(&path, GF_KUBE_EVENT, ns, NULL, NULL);
    rc = gf_kube_run(k, "POST", path.s, "application/json", body, false, NULL, err);
    free(body);
    gf_sbuf_free(&path);
    return rc;
}

gf_err gf_kube_evict(gf_kube *k, const char *ns, const char *name, int grace_period_s,
                     gf_error *err)
{
    gf_err rc = check_name(GF_KUBE_POD, ns, name, err);
    if (rc) return rc;
    json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "policy/v1", "kind",
                           "Eviction", "metadata", "name", name, "namespace", ns);
    if (!ev) return gf_error_set(err, GF_EUSAGE, NULL, "pod names must be UTF-8");
    if (grace_period_s >= 0)
        json_object_set_new(ev, "deleteOptions",
                            json_pack("{s:i}", "gracePeriodSeconds", grace_period_s));
    char *body = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    gf_sbuf path = GF_SBUF_INIT;
    gf_kube_path(&path, GF_KUBE_POD, ns, name, "eviction");
    rc = gf_kube_run(k, "POST", path.s, "application/json", body, true, NULL, err);
    free(body);
    gf_sbuf_free(&path);
    return rc;
}

/* --- leader election ------------------------------------------------------------------------ */

void gf_kube_leader_init(gf_kube_leader *l, const char *ns, const char *name, const char *identity,
                         int lease_duration_s)
{
    memset(l, 0, sizeof *l);
    l->ns = gf_xstrdup(ns ? ns : "default");
    l->name = gf_xstrdup(name ? name : "gpufrac");
    l->identity = gf_xstrdup(identity ? identity : "");
    l->lease_duration_s = lease_duration_s > 0 ? lease_duration_s : 15;
}

void gf_kube_leader_free(gf_kube_leader *l)
{
    if (!l) return;
    free(l->ns);
    free(l->name);
    free(l->identity);
    memset(l, 0, sizeof *l);
}

/* The Lease body for holder (with resourceVersion rv when not NULL). */
static char *lease_body(const gf_kube_leader *l, const char *holder, int duration_s,
                        const char *acquire, const char *renew, long long transitions,
                        const char *rv)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s, s:s, s:I}}", "apiVersion",
                          "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", l->name,
                          "namespace", l->ns, "spec", "holderIdentity", holder,
                          "leaseDurationSeconds", duration_s, "acquireTime", acquire, "renewTime",
                          renew, "leaseTransitions", (json_int_t)transitions);
    if (!o) return NULL;
    if (rv) json_object_set_new(json_object_get(o, "metadata"), "resourceVersion", json_string(rv));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void lease_path(gf_sbuf *p, const gf_kube_leader *l, bool with_name)
{
    gf_kube_path(p, GF_KUBE_LEASE, l->ns, with_name ? l->name : NULL, NULL);
}

/* After a failed attempt: still leading only while the last renewal is fresh. */
static void leader_failed(gf_kube_leader *l, double now)
{
    if (l->leading && now - l->renewed_at >= l->lease_duration_s) l->leading = false;
}

void gf_kube_lease_spec_of(const json_t *lease, long long default_duration_s,
                           gf_kube_lease_spec *out)
{
    const json_t *spec = json_object_get(lease, "spec");
    const json_t *jh = json_object_get(spec, "holderIdentity");
    const json_t *jd = json_object_get(spec, "leaseDurationSeconds");
    const json_t *jt = json_object_get(spec, "leaseTransitions");
    const json_t *ja = json_object_get(spec, "acquireTime");
    out->holder = json_is_string(jh) ? json_string_value(jh) : "";
    out->duration_s = json_is_integer(jd) && json_integer_value(jd) > 0
                          ? (long long)json_integer_value(jd)
                          : default_duration_s;
    out->transitions = json_is_integer(jt) ? (long long)json_integer_value(jt) : 0;
    out->acquire_time = json_is_string(ja) ? json_string_value(ja) : NULL;
    out->rv = gf_kube_rv_of(lease);
}

gf_err gf_kube_leader_try(gf_kube *k, gf_kube_leader *l, bool *leading, gf_error *err)
{
    double now = gf_kube_now();
    char wall[64];
    wall_time(wall, sizeof wall, true);
    if (!l->identity[0]) {
        *leading = false;
        return gf_error_set(err, GF_EUSAGE, NULL, "leader election needs an identity");
    }
    json_t *cur = NULL;
    gf_err rc = gf_kube_get(k, GF_KUBE_LEASE, l->ns, l->name, &cur, err);
    gf_sbuf path = GF_SBUF_INIT;
    if (rc == GF_ENOTFOUND) {
        char *body = lease_body(l, l->identity, l->lease_duration_s, wall, wall, 0, NULL);
        lease_path(&path, l, false);
        gf_kube_reply r = {0};
        rc = body ? gf_kube_run(k, "POST", path.s, "application/json", body, false, &r, err)
                  : gf_error_set(err, GF_EUSAGE, NULL, "identity and names must be UTF-8");
        free(body);
        if (rc == GF_OK) {
            json_t *made = NULL;
            if (parse_object(&r, l->name, &made, NULL) == GF_OK && gf_kube_rv_of(made))
                snprintf(l->observed_rv, sizeof l->observed_rv, "%s", gf_kube_rv_of(made));
            json_decref(made);
            snprintf(l->holder, sizeof l->holder, "%s", l->identity);
            l->observed_at = l->renewed_at = now;
            l->transitions = 0;
            l->leading = true;
        } else if (rc == GF_KUBE_ECONFLICT) { /* AlreadyExists: another candidate was first */
            l->leading = false;
            rc = GF_OK;
        } else {
            leader_failed(l, now);
        }
        gf_kube_reply_free(&r);
        gf_sbuf_free(&path);
        *leading = l->leading;
        return rc;
    }
    if (rc) {
        leader_failed(l, now);
        *leading = l->leading;
        return rc;
    }
    gf_kube_lease_spec ls;
    gf_kube_lease_spec_of(cur, l->lease_duration_s, &ls);
    const char *holder = ls.holder, *rv = ls.rv;
    long long their_duration = ls.duration_s, transitions = ls.transitions;
    if (!rv) {
        json_decref(cur);
        leader_failed(l, now);
        *leading = l->leading;
        return gf_error_set(err, GF_EIO, l->name, "the Lease has no resourceVersion");
    }
    if (strcmp(rv, l->observed_rv)) { /* it changed since we last looked */
        snprintf(l->observed_rv, sizeof l->observed_rv, "%s", rv);
        snprintf(l->holder, sizeof l->holder, "%s", holder);
        l->observed_at = now;
        l->transitions = transitions;
    }
    bool ours = !strcmp(holder, l->identity);
    if (holder[0] && !ours && l->observed_at + (double)their_duration > now) {
        /* a live lease of another: never taken */
        json_decref(cur);
        l->leading = false;
        *leading = false;
        return GF_OK;
    }
    const char *acquire =
        ours && ls.acquire_time ? ls.acquire_time : wall; /* kept while renewing */
    char *body = lease_body(l, l->identity, l->lease_duration_s, acquire, wall,
                            ours ? transitions : transitions + 1, rv);
    json_decref(cur);
    lease_path(&path, l, true);
    gf_kube_reply r = {0};
    rc = body ? gf_kube_run(k, "PUT", path.s, "application/json", body, false, &r, err)
              : gf_error_set(err, GF_EUSAGE, NULL, "identity and names must be UTF-8");
    free(body);
    if (rc == GF_OK) {
        json_t *made = NULL;
        if (parse_object(&r, l->name, &made, NULL) == GF_OK && gf_kube_rv_of(made))
            snprintf(l->observed_rv, sizeof l->observed_rv, "%s", gf_kube_rv_of(made));
        json_decref(made);
        if (!ours) l->transitions = transitions + 1;
        snprintf(l->holder, sizeof l->holder, "%s", l->identity);
        l->observed_at = l->renewed_at = now;
        l->leading = true;
    } else if (rc == GF_KUBE_ECONFLICT) {
        /* someone else updated it first: they won this round */
        l->leading = false;
        l->observed_rv[0] = '\0';
        rc = GF_OK;
    } else {
        leader_failed(l, now);
    }
    gf_kube_reply_free(&r);
    gf_sbuf_free(&path);
    *leading = l->leading;
    return rc;
}

gf_err gf_kube_leader_release(gf_kube *k, gf_kube_leader *l, gf_error *err)
{
    if (!l->leading) return GF_OK;
    json_t *cur = NULL;
    gf_err rc = gf_kube_get(k, GF_KUBE_LEASE, l->ns, l->name, &cur, err);
    if (rc) return rc;
    const json_t *jh = json_object_get(json_object_get(cur, "spec"), "holderIdentity");
    const json_t *jt = json_object_get(json_object_get(cur, "spec"), "leaseTransitions");
    const char *rv = gf_kube_rv_of(cur);
    if (!json_is_string(jh) || strcmp(json_string_value(jh), l->identity) || !rv) {
        json_decref(cur);
        l->leading = false;
        return GF_OK;
    }
    char wall[64];
    wall_time(wall, sizeof wall, true);
    char *body = lease_body(l, "", 1, wall, wall,
                            json_is_integer(jt) ? (long long)json_integer_value(jt) : 0, rv);
    json_decref(cur);
    gf_sbuf path = GF_SBUF_INIT;
    lease_path(&path, l, true);
    rc = gf_kube_run(k, "PUT", path.s, "application/json", body, false, NULL, err);
    free(body);
    gf_sbuf_free(&path);
    if (rc == GF_KUBE_ECONFLICT) rc = GF_OK; /* changed meanwhile: not ours to release */
    l->leading = false;
    return rc;
}
