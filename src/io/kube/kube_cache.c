/* kube_cache.c - the watch-based cache of API objects (see kube.h), after
 * client-go's reflector: list, then watch from the list's resourceVersion,
 * relist on 410, resume a watch from the last resourceVersion seen.
 *
 * Every kind's list or watch is one transfer on a single libcurl multi
 * handle; gf_kube_cache_step() polls them all, so the whole cache runs in the
 * caller's thread. Watch events are applied as their lines arrive (inside
 * curl_multi_perform), list pages when they are complete. */
#include "io/snapshot.h"
#include "io/kube/kube_private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum phase { PHASE_LIST, PHASE_WATCH } phase;

typedef struct kstate {
    gf_kube_cache *c;
    gf_kube_kind kind;
    bool enabled;
    bool synced;       /* listed at least once */
    bool absent;       /* an optional kind the server answered 404 for: held empty */
    bool busy;         /* a transfer is in flight */
    phase next;        /* what the next (or current) transfer is */
    double next_at;    /* monotonic time it may start */
    int failures;      /* consecutive failures, for the backoff */
    json_t *store;     /* "namespace/name" -> object */
    json_t *fresh;     /* a list being assembled, page by page */
    char *cont;        /* its continue token */
    char list_rv[64];  /* its first page's resourceVersion */
    char rv[64];       /* where the store is */
    double started_at; /* of the current transfer */
    double heard_at;   /* the last event, bookmark or complete list; 0: never */
    gf_kube_xfer x;
} kstate;

struct gf_kube_cache {
    gf_kube *k;
    CURLM *multi;
    kstate ks[GF_KUBE_KIND_COUNT];
    char *ns;
    gf_kube_cache_fn on_change;
    void *user;
    uint64_t generation;
    gf_kube_cache_stats stats;
    double silence_s;
    /* the first failure of the current step */
    bool failed;
    gf_err failed_rc;
    gf_error failed_err;
};

static void note_failure(gf_kube_cache *c, gf_err rc, const gf_error *e)
{
    c->stats.failures++;
    if (c->failed) return;
    c->failed = true;
    c->failed_rc = rc;
    c->failed_err = *e;
}

gf_err gf_kube_cache_new(gf_kube_cache **out, gf_kube *k, const gf_kube_cache_opts *o,
                         gf_error *err)
{
    *out = NULL;
    unsigned kinds = o && o->kinds ? o->kinds : GF_KUBE_CACHE_DEFAULT_KINDS;
    if (kinds >> GF_KUBE_KIND_COUNT)
        return gf_error_set(err, GF_EUSAGE, NULL, "unknown kinds in the mask 0x%x", kinds);
    gf_kube_cache *c = gf_xcalloc(1, sizeof *c);
    c->k = k;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return gf_error_set(err, GF_EINTERNAL, NULL, "curl_multi_init failed");
    }
    c->ns = o && o->ns && *o->ns ? gf_xstrdup(o->ns) : NULL;
    c->on_change = o ? o->on_change : NULL;
    c->user = o ? o->user : NULL;
    c->silence_s = o && o->silence_s > 0 ? o->silence_s : GF_KUBE_WATCH_SILENCE_S;
    double now = gf_kube_now();
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++) {
        kstate *s = &c->ks[i];
        s->c = c;
        s->kind = (gf_kube_kind)i;
        s->enabled = (kinds & GF_KUBE_KIND_BIT(i)) != 0;
        s->store = json_object();
        s->next = PHASE_LIST;
        s->next_at = now;
    }
    *out = c;
    return GF_OK;
}

static void stop_transfer(kstate *s)
{
    if (!s->busy) return;
    curl_multi_remove_handle(s->c->multi, s->x.h);
    gf_kube_xfer_cleanup(&s->x);
    s->busy = false;
}

void gf_kube_cache_free(gf_kube_cache *c)
{
    if (!c) return;
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++) {
        kstate *s = &c->ks[i];
        stop_transfer(s);
        json_decref(s->store);
        json_decref(s->fresh);
        free(s->cont);
    }
    curl_multi_cleanup(c->multi);
    free(c->ns);
    free(c);
}

/* --- applying changes ------------------------------------------------------------------ */

static void changed(kstate *s, gf_kube_event_type type, const json_t *obj)
{
    s->c->generation++;
    if (s->c->on_change) s->c->on_change(s->kind, type, obj, s->c->user);
}

static void set_rv(kstate *s, const char *rv)
{
    if (rv && *rv) snprintf(s->rv, sizeof s->rv, "%s", rv);
}

/* A watch event (inside curl_multi_perform). */
static int on_event(gf_kube_xfer *x, gf_kube_event_type type, json_t *obj)
{
    kstate *s = x->user;
    if (type == GF_KUBE_ERROR) return 0; /* the transfer notes it and ends */
    s->heard_at = gf_kube_now();
    const char *rv = gf_kube_rv_of(obj);
    if (type == GF_KUBE_BOOKMARK) {
        /* only metadata.resourceVersion means anything in a bookmark */
        set_rv(s, rv);
        s->c->stats.bookmarks++;
        return 0;
    }
    char key[600];
    if (!gf_kube_key_of(obj, key, sizeof key)) {
        x->bad = true;
        snprintf(x->bad_msg, sizeof x->bad_msg, "watch event %llu (%s): no metadata.name",
                 (unsigned long long)x->events, gf_kube_event_type_name(type));
        return 1;
    }
    gf_kube_complete_item(obj, s->kind);
    if (type == GF_KUBE_DELETED)
        json_object_del(s->store, key);
    else
        json_object_set(s->store, key, obj);
    set_rv(s, rv);
    s->c->stats.events++;
    changed(s, type, obj);
    return 0;
}

/* The list is complete: it replaces the store, the difference reported as
 * events (client-go's DeltaFIFO Replace). */
static void replace_store(kstate *s)
{
    const char *key;
    json_t *obj, *old;
    json_object_foreach(s->fresh, key, obj)
    {
        old = json_object_get(s->store, key);
        if (!old) {
            changed(s, GF_KUBE_ADDED, obj);
        } else {
            const char *a = gf_kube_rv_of(old), *b = gf_kube_rv_of(obj);
            if (!a || !b || strcmp(a, b)) changed(s, GF_KUBE_MODIFIED, obj);
        }
    }
    json_object_foreach(s->store, key, old)
    {
        if (!json_object_get(s->fresh, key)) changed(s, GF_KUBE_DELETED, old);
    }
    json_decref(s->store);
    s->store = s->fresh;
    s->fresh = NULL;
    snprintf(s->rv, sizeof s->rv, "%s", s->list_rv);
    s->synced = true;
    s->heard_at = gf_kube_now();
    s->c->stats.lists++;
}

/* --- transfers -------------------------------------------------------------------------- */

static void schedule(kstate *s, phase next, double delay_s)
{
    s->next = next;
    s->next_at = gf_kube_now() + delay_s;
}

static void fail_and_retry(kstate *s, phase next, gf_err rc, const gf_error *e)
{
    s->failures++;
    note_failure(s->c, rc, e);
    schedule(s, next, gf_kube_backoff(s->c->k, s->failures, s->x.retry_after_s));
}

static void start(kstate *s)
{
    gf_kube_cache *c = s->c;
    gf_kube *k = c->k;
    gf_sbuf path = GF_SBUF_INIT;
    gf_kube_list_opts o = {c->ns, NULL, NULL};
    int timeout_s = 0;
    if (s->next == PHASE_LIST) {
        if (!s->fresh) {
            s->fresh = json_object();
            s->list_rv[0] = '\0';
        }
        gf_kube_list_path(k, &path, s->kind, &o, s->cont);
    } else {
        /* client-go spreads watch ends: timeoutSeconds in [t, 2t) */
        int t = k->opt.watch_timeout_s;
        timeout_s = t + (int)(gf_rng_unit(&k->rng) * t);
        gf_kube_watch_path(&path, s->kind, &o, s->rv, timeout_s);
    }
    gf_error e;
    gf_err rc = gf_kube_xfer_init(&s->x, k, "GET", path.s, NULL, NULL, s->next == PHASE_WATCH, &e);
    gf_sbuf_free(&path);
    if (rc) {
        gf_kube_xfer_cleanup(&s->x);
        fail_and_retry(s, s->next, rc, &e);
        return;
    }
    if (s->next == PHASE_WATCH) {
        s->x.on_event = on_event;
        s->x.user = s;
        /* a connection silent past the server's own timeout is dead */
        curl_easy_setopt(s->x.h, CURLOPT_TIMEOUT_MS, ((long)timeout_s + 30) * 1000L);
        c->stats.watches++;
    }
    curl_easy_setopt(s->x.h, CURLOPT_PRIVATE, (void *)s);
    if (curl_multi_add_handle(c->multi, s->x.h) != CURLM_OK) {
        gf_kube_xfer_cleanup(&s->x);
        gf_error_set(&e, GF_EINTERNAL, s->x.where, "curl_multi_add_handle failed");
        fail_and_retry(s, s->next, GF_EINTERNAL, &e);
        return;
    }
    s->busy = true;
    s->started_at = gf_kube_now();
}

/* A list page has come: its items join the list being assembled; the last
 * one replaces the store. */
static gf_err take_page(kstate *s, const gf_sbuf *body, const char *where, gf_error *e)
{
    if (!s->fresh) {
        s->fresh = json_object();
        s->list_rv[0] = '\0';
    }
    char *rv = NULL, *cont = NULL;
    gf_err rc = gf_kube_list_page(body, where, s->kind, s->fresh, &rv, &cont, e);
    if (!rc) {
        if (!s->list_rv[0]) snprintf(s->list_rv, sizeof s->list_rv, "%s", rv ? rv : "");
        free(s->cont);
        s->cont = cont;
        cont = NULL;
        if (s->cont) {
            schedule(s, PHASE_LIST, 0); /* the next page */
        } else {
            replace_store(s);
            s->failures = 0;
            schedule(s, PHASE_WATCH, 0);
        }
    }
    free(rv);
    free(cont);
    return rc;
}

static void drop_list(kstate *s)
{
    json_decref(s->fresh);
    s->fresh = NULL;
    free(s->cont);
    s->cont = NULL;
}

static void list_done(kstate *s, CURLcode cc)
{
    gf_error e;
    gf_err rc;
    double delay;
    gf_kube_outcome out = gf_kube_xfer_outcome(&s->x, cc, 1, &delay, &rc, &e);
    if (out == GF_KUBE_DONE && !(rc = take_page(s, &s->x.body, s->x.where, &e))) {
        s->absent = false;
        return;
    }
    if (rc == GF_ENOTFOUND && gf_kube_resource_of(s->kind)->optional) {
        /* not served (KAI's CRDs not installed): an empty kind, not a
         * failure; asked again now and then, in case it is installed later */
        drop_list(s);
        s->fresh = json_object();
        s->list_rv[0] = '\0';
        replace_store(s);
        s->absent = true;
        s->failures = 0;
        schedule(s, PHASE_LIST, GF_KUBE_ABSENT_RELIST_S);
        return;
    }
    /* any failure starts the list over; an expired continue token at once */
    bool expired_page = rc == GF_KUBE_EGONE && s->cont;
    drop_list(s);
    if (expired_page) {
        schedule(s, PHASE_LIST, 0);
        return;
    }
    fail_and_retry(s, PHASE_LIST, rc, &e);
}

static void watch_done(kstate *s, CURLcode cc)
{
    gf_error e;
    gf_err rc;
    double delay;
    bool got_events = s->x.events > 0;
    gf_kube_outcome out = gf_kube_xfer_outcome(&s->x, cc, 1, &delay, &rc, &e);
    if (rc == GF_KUBE_EGONE) {
        /* 410: the resourceVersion was compacted away; list again */
        s->c->stats.relists_gone++;
        schedule(s, PHASE_LIST, 0);
        return;
    }
    if (out == GF_KUBE_DONE) {
        /* the server ended the watch (timeoutSeconds): resume at once, unless
         * it keeps ending them empty and fast */
        if (!got_events && gf_kube_now() - s->started_at < 1.0) {
            s->failures++;
            schedule(s, PHASE_WATCH, gf_kube_backoff(s->c->k, s->failures, -1));
        } else {
            s->failures = 0;
            schedule(s, PHASE_WATCH, 0);
        }
        return;
    }
    if (s->x.bad || s->x.too_big) {
        /* an event was lost: only a list makes the store whole again */
        fail_and_retry(s, PHASE_LIST, rc, &e);
        return;
    }
    if (got_events) s->failures = 0; /* it worked for a while: a fresh backoff */
    fail_and_retry(s, PHASE_WATCH, rc, &e);
}

static void collect(gf_kube_cache *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        kstate *s = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (!s) continue;
        CURLcode cc = msg->data.result;
        curl_multi_remove_handle(c->multi, s->x.h);
        s->busy = false;
        if (s->next == PHASE_LIST)
            list_done(s, cc);
        else
            watch_done(s, cc);
        gf_kube_xfer_cleanup(&s->x);
    }
}

/* The watchdog: a watch silent past silence_s (not even a bookmark) is
 * dropped and resumed from its resourceVersion; counted as a failure. */
static void restart_silent(gf_kube_cache *c, double now)
{
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++) {
        kstate *s = &c->ks[i];
        if (!s->enabled || !s->busy || s->next != PHASE_WATCH) continue;
        double since = s->heard_at > s->started_at ? s->heard_at : s->started_at;
        if (now - since <= c->silence_s) continue;
        gf_error e;
        gf_error_set(&e, GF_EIO, s->x.where,
                     "the watch brought neither an event nor a bookmark for %.0f s; started "
                     "again from resourceVersion %s",
                     now - since, s->rv[0] ? s->rv : "(none)");
        stop_transfer(s);
        c->stats.silent_restarts++;
        note_failure(c, GF_EIO, &e);
        s->next = PHASE_WATCH;
        s->next_at = now; /* in this very step */
    }
}

double gf_kube_cache_age(const gf_kube_cache *c)
{
    double oldest = -1;
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++) {
        const kstate *s = &c->ks[i];
        if (!s->enabled || s->absent) continue;
        if (!s->synced || s->heard_at <= 0) return INFINITY;
        if (oldest < 0 || s->heard_at < oldest) oldest = s->heard_at;
    }
    return oldest < 0 ? 0 : gf_kube_now() - oldest;
}

gf_err gf_kube_cache_step(gf_kube_cache *c, int timeout_ms, gf_error *err)
{
    c->failed = false;
    double now = gf_kube_now();
    restart_silent(c, now);
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++) {
        kstate *s = &c->ks[i];
        if (s->enabled && !s->busy && now >= s->next_at) start(s);
    }
    int running = 0;
    curl_multi_perform(c->multi, &running);
    collect(c);
    /* wait for traffic, or until the next retry falls due */
    now = gf_kube_now();
    double wait_ms = timeout_ms > 0 ? timeout_ms : 0;
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++) {
        kstate *s = &c->ks[i];
        if (!s->enabled) continue;
        /* a retry falling due, or a watch reaching its silence limit */
        double at = s->next_at;
        if (s->busy && s->next == PHASE_WATCH)
            at = (s->heard_at > s->started_at ? s->heard_at : s->started_at) + c->silence_s;
        else if (s->busy)
            continue;
        double due = (at - now) * 1000;
        if (due < wait_ms) wait_ms = due > 0 ? due : 0;
    }
    if (wait_ms > 0) curl_multi_poll(c->multi, NULL, 0, (int)(wait_ms + 0.999), NULL);
    curl_multi_perform(c->multi, &running);
    collect(c);
    if (!c->failed) return GF_OK;
    if (err) *err = c->failed_err;
    return c->failed_rc;
}

unsigned gf_kube_cache_absent(const gf_kube_cache *c)
{
    unsigned kinds = 0;
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++)
        if (c->ks[i].enabled && c->ks[i].absent) kinds |= GF_KUBE_KIND_BIT(i);
    return kinds;
}

bool gf_kube_cache_synced(const gf_kube_cache *c)
{
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++)
        if (c->ks[i].enabled && !c->ks[i].synced) return false;
    return true;
}

gf_err gf_kube_cache_sync(gf_kube_cache *c, int timeout_ms, gf_error *err)
{
    double deadline = gf_kube_now() + timeout_ms / 1000.0;
    gf_err last = GF_OK;
    gf_error last_err = {0};
    while (!gf_kube_cache_synced(c)) {
        double left_ms = (deadline - gf_kube_now()) * 1000;
        if (left_ms <= 0) {
            if (last) {
                if (err) *err = last_err;
                return last;
            }
            return gf_error_set(err, GF_EIO, gf_kube_server(c->k),
                                "the cache did not sync within %d ms", timeout_ms);
        }
        gf_error e;
        gf_err rc = gf_kube_cache_step(c, left_ms < 100 ? (int)left_ms + 1 : 100, &e);
        if (rc) {
            last = rc;
            last_err = e;
            if (rc == GF_KUBE_EAUTH || rc == GF_ENOTFOUND) {
                if (err) *err = e;
                return rc;
            }
        }
    }
    return GF_OK;
}

uint64_t gf_kube_cache_generation(const gf_kube_cache *c)
{
    return c->generation;
}

const char *gf_kube_cache_rv(const gf_kube_cache *c, gf_kube_kind kind)
{
    return (unsigned)kind < GF_KUBE_KIND_COUNT ? c->ks[kind].rv : "";
}

size_t gf_kube_cache_count(const gf_kube_cache *c, gf_kube_kind kind)
{
    return (unsigned)kind < GF_KUBE_KIND_COUNT ? json_object_size(c->ks[kind].store) : 0;
}

const json_t *gf_kube_cache_get(const gf_kube_cache *c, gf_kube_kind kind, const char *ns,
                                const char *name)
{
    const gf_kube_resource *r = gf_kube_resource_of(kind);
    if (!r || !name) return NULL;
    char key[600];
    if (r->namespaced)
        snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name);
    else
        snprintf(key, sizeof key, "%s", name);
    return json_object_get(c->ks[kind].store, key);
}

void gf_kube_cache_get_stats(const gf_kube_cache *c, gf_kube_cache_stats *s)
{
    *s = c->stats;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

gf_err gf_kube_cache_write_list(const gf_kube_cache *c, gf_sbuf *out, gf_error *err)
{
    json_t *items = json_array();
    for (int i = 0; i < GF_KUBE_KIND_COUNT; i++) {
        const kstate *s = &c->ks[i];
        if (!s->enabled) continue;
        size_t n = json_object_size(s->store), j = 0;
        if (!n) continue;
        const char **keys = gf_xmalloc(n * sizeof *keys);
        const char *key;
        json_t *obj;
        json_object_foreach(s->store, key, obj)
        {
            keys[j++] = key;
        }
        qsort(keys, n, sizeof *keys, cmp_str);
        for (j = 0; j < n; j++)
            json_array_append(items, json_object_get(s->store, keys[j]));
        free(keys);
    }
    json_t *list = json_pack("{s:s, s:s, s:{s:s}, s:o}", "apiVersion", "v1", "kind", "List",
                             "metadata", "resourceVersion", "", "items", items);
    char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    if (!text) return gf_error_set(err, GF_EINTERNAL, NULL, "cannot encode the cache as a List");
    out->len = 0;
    gf_sbuf_puts(out, text);
    free(text);
    return GF_OK;
}

gf_err gf_kube_cache_model(const gf_kube_cache *c, gf_model *m, gf_diags *d, gf_error *err)
{
    gf_sbuf b = GF_SBUF_INIT;
    gf_err rc = gf_kube_cache_write_list(c, &b, err);
    if (!rc) {
        char name[400];
        snprintf(name, sizeof name, "cluster %.300s", gf_kube_server(c->k));
        rc = gf_snapshot_load_buffer(m, name, b.s, b.len, d, err);
    }
    gf_sbuf_free(&b);
    if (!rc) rc = gf_model_finalize(m, d, err);
    return rc;
}

/* --- the fuzzers' way in (kube_private.h) --------------------------------------------------- */

int gf_kube_cache_feed_line(gf_kube_cache *c, gf_kube_kind kind, const char *line, size_t len)
{
    kstate *s = &c->ks[kind];
    s->x.on_event = on_event;
    s->x.user = s;
    return gf_kube_xfer_watch_line(&s->x, line, len);
}

gf_err gf_kube_cache_feed_page(gf_kube_cache *c, gf_kube_kind kind, const char *body, size_t len,
                               gf_error *err)
{
    kstate *s = &c->ks[kind];
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_append(&b, body, len);
    gf_err rc = take_page(s, &b, "list page", err);
    if (rc) drop_list(s);
    gf_sbuf_free(&b);
    return rc;
}
