/* standin.c - the stand-in Kubernetes API server (see standin.h).
 *
 * One mutex guards the whole state (objects, event log, faults, request
 * log); watch streams wait on a condition variable (monotonic clock) that
 * every write, compaction, drop and stop broadcasts. libmicrohttpd runs one
 * thread per connection, so a watch's content reader may block. Messages and
 * Status objects follow k8s.io/apimachinery's errors package wording, so
 * clients see what a real server would say. */
#include "standin.h"
#include "standin_rules.h"
#include "io/usage.h"
#include "util/sbuf.h"
#include "util/vec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_BODY_BYTES (16u << 20)

typedef struct resource {
    const char *kind, *api_version, *prefix, *plural, *group;
    bool namespaced;
} resource;

static const resource RES[] = {
    {"Pod", "v1", "/api/v1", "pods", "", true},
    {"Node", "v1", "/api/v1", "nodes", "", false},
    {"Event", "v1", "/api/v1", "events", "", true},
    {"ReplicaSet", "apps/v1", "/apis/apps/v1", "replicasets", "apps", true},
    {"Deployment", "apps/v1", "/apis/apps/v1", "deployments", "apps", true},
    {"StatefulSet", "apps/v1", "/apis/apps/v1", "statefulsets", "apps", true},
    {"DaemonSet", "apps/v1", "/apis/apps/v1", "daemonsets", "apps", true},
    {"Job", "batch/v1", "/apis/batch/v1", "jobs", "batch", true},
    {"PodDisruptionBudget", "policy/v1", "/apis/policy/v1", "poddisruptionbudgets", "policy", true},
    {"Lease", "coordination.k8s.io/v1", "/apis/coordination.k8s.io/v1", "leases",
     "coordination.k8s.io", true},
    /* kinds gpufrac does not model, held so that deploy/'s manifests can be
     * applied (kubectl apply --dry-run=client asks for each object) */
    {"Namespace", "v1", "/api/v1", "namespaces", "", false},
    {"ServiceAccount", "v1", "/api/v1", "serviceaccounts", "", true},
    {"Service", "v1", "/api/v1", "services", "", true},
    {"ConfigMap", "v1", "/api/v1", "configmaps", "", true},
    {"Secret", "v1", "/api/v1", "secrets", "", true},
    {"ClusterRole", "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1",
     "clusterroles", "rbac.authorization.k8s.io", false},
    {"ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1",
     "clusterrolebindings", "rbac.authorization.k8s.io", false},
    {"Role", "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1", "roles",
     "rbac.authorization.k8s.io", true},
    {"RoleBinding", "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1",
     "rolebindings", "rbac.authorization.k8s.io", true},
    {"NetworkPolicy", "networking.k8s.io/v1", "/apis/networking.k8s.io/v1", "networkpolicies",
     "networking.k8s.io", true},
    /* the Prometheus Operator's CRD, as a cluster with it installed serves it */
    {"ServiceMonitor", "monitoring.coreos.com/v1", "/apis/monitoring.coreos.com/v1",
     "servicemonitors", "monitoring.coreos.com", true},
    /* KAI's governance, as a cluster with KAI installed serves it */
    {"Queue", "scheduling.run.ai/v2", "/apis/scheduling.run.ai/v2", "queues", "scheduling.run.ai",
     false},
    {"PodGroup", "scheduling.run.ai/v2alpha2", "/apis/scheduling.run.ai/v2alpha2", "podgroups",
     "scheduling.run.ai", true},
    {"PriorityClass", "scheduling.k8s.io/v1", "/apis/scheduling.k8s.io/v1", "priorityclasses",
     "scheduling.k8s.io", false},
    {"SchedulingShard", "kai.scheduler/v1", "/apis/kai.scheduler/v1", "schedulingshards",
     "kai.scheduler", false},
};
#define NRES ((int)(sizeof RES / sizeof RES[0]))
#define RES_POD 0
#define RES_PDB 8

enum { EV_ADDED, EV_MODIFIED, EV_DELETED };
static const char *const EV_NAMES[] = {"ADDED", "MODIFIED", "DELETED"};

typedef struct event {
    uint64_t rv;
    int res;
    int type;
    json_t *obj; /* the state written (for DELETED: the last state, new resourceVersion) */
    json_t *old; /* the state before a MODIFIED, for selector transitions */
} event;

typedef struct fault {
    char method[16];
    char path[256];
    int watch, count, status, retry_after_s, delay_ms;
    bool drop;
} fault;

struct gf_standin {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    json_t *objs[NRES]; /* key ("ns/name" or "name") -> object */
    uint64_t rv, compacted_rv, uids;
    GF_VEC(event) events;
    GF_VEC(fault) faults;
    GF_VEC(char *) log; /* "METHOD path?query STATUS" */
    size_t window;
    int bookmark_ms, max_watch_s;
    unsigned drop_gen, expire_gen;
    bool stopping;
    bool silent; /* watches send nothing */
    int open_watches;
    char *token, *cert, *key;
    int port;
    char url[64];
};

/* --- small helpers ------------------------------------------------------------------------- */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits on the state's condition until the monotonic time until (seconds). */
static void wait_until(gf_standin *s, double until)
{
    struct timespec ts;
    ts.tv_sec = (time_t)until;
    ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void now_rfc3339(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int res_by_kind(const char *kind)
{
    for (int i = 0; kind && i < NRES; i++)
        if (!strcmp(RES[i].kind, kind)) return i;
    return -1;
}

/* "pods" or "deployments.apps", as the server names resources in messages. */
static void qualified(int r, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", RES[r].plural, RES[r].group[0] ? "." : "", RES[r].group);
}

static void make_key(int r, const char *ns, const char *name, char *buf, size_t n)
{
    if (RES[r].namespaced)
        snprintf(buf, n, "%s/%s", ns ? ns : "", name);
    else
        snprintf(buf, n, "%s", name);
}

static const char *meta_str(const json_t *obj, const char *field)
{
    const json_t *v = json_object_get(json_object_get(obj, "metadata"), field);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *meta_of(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, "metadata", m);
    }
    return m;
}

/* A metav1.Status failure. */
static json_t *status_obj(int code, const char *reason, const char *msg, int r, const char *name)
{
    json_t *st =
        json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                  "metadata", "status", "Failure", "message", msg, "reason", reason, "code", code);
    if (r >= 0 && name) {
        json_t *d = json_pack("{s:s, s:s}", "name", name, "kind", RES[r].plural);
        if (RES[r].group[0]) json_object_set_new(d, "group", json_string(RES[r].group));
        json_object_set_new(st, "details", d);
    }
    return st;
}

/* --- writes (the lock held) ------------------------------------------------------------------ */

static void record(gf_standin *s, int r, int type, json_t *obj, json_t *old)
{
    event e = {s->rv, r, type, json_incref(obj), json_incref(old)};
    gf_vec_push(&s->events, e);
    if (s->events.n > s->window) {
        size_t drop = s->events.n - s->window;
        for (size_t i = 0; i < drop; i++) {
            json_decref(s->events.v[i].obj);
            json_decref(s->events.v[i].old);
        }
        s->compacted_rv = s->events.v[drop - 1].rv;
        memmove(s->events.v, s->events.v + drop, (s->events.n - drop) * sizeof(event));
        s->events.n -= drop;
    }
    pthread_cond_broadcast(&s->cv);
}

/* Stores obj (consumed) under key as a write: the next resourceVersion, uid
 * and creationTimestamp kept from old (or made), generation moved on when the
 * spec changed. Returns the stored object (borrowed). */
static json_t *write_obj(gf_standin *s, int r, const char *key, json_t *obj)
{
    json_t *old = json_incref(json_object_get(s->objs[r], key));
    json_object_set_new(obj, "kind", json_string(RES[r].kind));
    json_object_set_new(obj, "apiVersion", json_string(RES[r].api_version));
    json_t *meta = meta_of(obj);
    char rv[32];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)++s->rv);
    json_object_set_new(meta, "resourceVersion", json_string(rv));
    if (old) {
        json_t *om = json_object_get(old, "metadata");
        json_object_set(meta, "uid", json_object_get(om, "uid"));
        json_object_set(meta, "creationTimestamp", json_object_get(om, "creationTimestamp"));
        json_int_t gen = json_integer_value(json_object_get(om, "generation"));
        if (!json_equal(json_object_get(old, "spec"), json_object_get(obj, "spec"))) gen++;
        json_object_set_new(meta, "generation", json_integer(gen ? gen : 1));
    } else {
        if (!json_is_string(json_object_get(meta, "uid"))) {
            char uid[64];
            snprintf(uid, sizeof uid, "5a1d0000-0000-4000-8000-%012llx",
                     (unsigned long long)++s->uids);
            json_object_set_new(meta, "uid", json_string(uid));
        }
        if (!json_is_string(json_object_get(meta, "creationTimestamp"))) {
            char now[32];
            now_rfc3339(now, sizeof now);
            json_object_set_new(meta, "creationTimestamp", json_string(now));
        }
        if (!json_is_integer(json_object_get(meta, "generation")))
            json_object_set_new(meta, "generation", json_integer(1));
    }
    json_object_set_new(s->objs[r], key, obj);
    record(s, r, old ? EV_MODIFIED : EV_ADDED, obj, old);
    json_decref(old);
    return obj;
}

static void delete_obj(gf_standin *s, int r, const char *key)
{
    json_t *obj = json_object_get(s->objs[r], key);
    if (!obj) return;
    json_t *last = json_deep_copy(obj);
    char rv[32];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)++s->rv);
    json_object_set_new(meta_of(last), "resourceVersion", json_string(rv));
    json_object_del(s->objs[r], key);
    record(s, r, EV_DELETED, last, NULL);
    json_decref(last);
}

/* Puts one object of a fixture or control request (create or replace). */
static gf_err put_one(gf_standin *s, json_t *obj, const char *default_kind, const char *where,
                      gf_error *err)
{
    const json_t *jk = json_object_get(obj, "kind");
    const char *kind = json_is_string(jk) ? json_string_value(jk) : default_kind;
    int r = res_by_kind(kind);
    if (r < 0)
        return gf_error_set(err, GF_EINPUT, where, "kind %s is not served by the stand-in",
                            kind ? kind : "(none)");
    const char *name = meta_str(obj, "name");
    if (!name || !*name) return gf_error_set(err, GF_EINPUT, where, "%s without a name", kind);
    json_t *copy = json_deep_copy(obj);
    if (RES[r].namespaced && !meta_str(copy, "namespace"))
        json_object_set_new(meta_of(copy), "namespace", json_string("default"));
    if (!RES[r].namespaced) json_object_del(meta_of(copy), "namespace");
    char key[600];
    make_key(r, meta_str(copy, "namespace"), name, key, sizeof key);
    write_obj(s, r, key, copy);
    return GF_OK;
}

/* An object, a List or a typed list. */
static gf_err put_json(gf_standin *s, json_t *root, const char *where, gf_error *err)
{
    if (!json_is_object(root))
        return gf_error_set(err, GF_EINPUT, where, "expected a Kubernetes object or List");
    const json_t *jk = json_object_get(root, "kind");
    const char *kind = json_is_string(jk) ? json_string_value(jk) : "";
    size_t kl = strlen(kind);
    if (kl >= 4 && !strcmp(kind + kl - 4, "List")) {
        char item_kind[64] = "";
        if (kl - 4 < sizeof item_kind) {
            memcpy(item_kind, kind, kl - 4);
            item_kind[kl - 4] = '\0';
        }
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(root, "items"), i, it)
        {
            char w[600];
            snprintf(w, sizeof w, "%s: items[%zu]", where, i);
            gf_err rc = put_one(s, it, item_kind[0] ? item_kind : NULL, w, err);
            if (rc) return rc;
        }
        return GF_OK;
    }
    return put_one(s, root, NULL, where, err);
}

/* --- the public in-process API --------------------------------------------------------------- */

gf_err gf_standin_put(gf_standin *s, const char *text, gf_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root) return gf_error_set(err, GF_EINPUT, "put", "invalid JSON: %s", jerr.text);
    pthread_mutex_lock(&s->mu);
    gf_err rc = put_json(s, root, "put", err);
    pthread_mutex_unlock(&s->mu);
    json_decref(root);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static gf_err load_file(gf_standin *s, const char *path, gf_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return gf_error_set(err, GF_EINPUT, path, "line %d: invalid JSON: %s", jerr.line,
                            jerr.text);
    pthread_mutex_lock(&s->mu);
    gf_err rc = put_json(s, root, path, err);
    pthread_mutex_unlock(&s->mu);
    json_decref(root);
    return rc;
}

gf_err gf_standin_load(gf_standin *s, const char *path, gf_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return gf_error_set(err, GF_EIO, path, "cannot read: %s", strerror(errno));
    if (!S_ISDIR(st.st_mode)) return load_file(s, path, err);
    DIR *dir = opendir(path);
    if (!dir) return gf_error_set(err, GF_EIO, path, "cannot open: %s", strerror(errno));
    GF_VEC(char *) names = {0};
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (n > 5 && !strcmp(de->d_name + n - 5, ".json")) {
            char *full = malloc(strlen(path) + n + 2);
            if (!full) abort();
            sprintf(full, "%s/%s", path, de->d_name);
            gf_vec_push(&names, full);
        }
    }
    closedir(dir);
    qsort(names.v, names.n, sizeof *names.v, cmp_names);
    gf_err rc = GF_OK;
    for (size_t i = 0; i < names.n; i++) {
        if (!rc) rc = load_file(s, names.v[i], err);
        free(names.v[i]);
    }
    gf_vec_free(&names);
    return rc;
}

gf_err gf_standin_remove(gf_standin *s, const char *kind, const char *ns, const char *name,
                         gf_error *err)
{
    int r = res_by_kind(kind);
    if (r < 0 || !name)
        return gf_error_set(err, GF_EUSAGE, "remove", "unknown kind %s", kind ? kind : "");
    char key[600];
    make_key(r, ns, name, key, sizeof key);
    pthread_mutex_lock(&s->mu);
    bool found = json_object_get(s->objs[r], key) != NULL;
    delete_obj(s, r, key);
    pthread_mutex_unlock(&s->mu);
    return found ? GF_OK : gf_error_set(err, GF_ENOTFOUND, "remove", "%s %s not found", kind, key);
}

char *gf_standin_get(gf_standin *s, const char *kind, const char *ns, const char *name)
{
    int r = res_by_kind(kind);
    if (r < 0 || !name) return NULL;
    char key[600];
    make_key(r, ns, name, key, sizeof key);
    pthread_mutex_lock(&s->mu);
    json_t *obj = json_object_get(s->objs[r], key);
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    pthread_mutex_unlock(&s->mu);
    return text;
}

uint64_t gf_standin_rv(gf_standin *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t rv = s->rv;
    pthread_mutex_unlock(&s->mu);
    return rv;
}

void gf_standin_compact(gf_standin *s, bool expire_open)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->events.n; i++) {
        json_decref(s->events.v[i].obj);
        json_decref(s->events.v[i].old);
    }
    s->events.n = 0;
    s->compacted_rv = s->rv;
    if (expire_open) s->expire_gen++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void gf_standin_drop_watches(gf_standin *s)
{
    pthread_mutex_lock(&s->mu);
    s->drop_gen++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void gf_standin_set_token(gf_standin *s, const char *token)
{
    pthread_mutex_lock(&s->mu);
    free(s->token);
    s->token = token ? strdup(token) : NULL;
    pthread_mutex_unlock(&s->mu);
}

void gf_standin_set_silent(gf_standin *s, bool silent)
{
    pthread_mutex_lock(&s->mu);
    s->silent = silent;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int gf_standin_open_watches(gf_standin *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->open_watches;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void gf_standin_add_fault(gf_standin *s, const gf_standin_fault *f)
{
    fault x = {0};
    snprintf(x.method, sizeof x.method, "%s", f->method ? f->method : "");
    snprintf(x.path, sizeof x.path, "%s", f->path ? f->path : "");
    x.watch = f->watch;
    x.count = f->count;
    x.status = f->status;
    x.retry_after_s = f->retry_after_s;
    x.delay_ms = f->delay_ms;
    x.drop = f->drop;
    pthread_mutex_lock(&s->mu);
    gf_vec_push(&s->faults, x);
    pthread_mutex_unlock(&s->mu);
}

size_t gf_standin_count(gf_standin *s, const char *method, const char *needle, int status)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->log.n; i++) {
        const char *line = s->log.v[i];
        if (method && (strncmp(line, method, strlen(method)) || line[strlen(method)] != ' '))
            continue;
        if (needle && !strstr(line, needle)) continue;
        if (status) {
            const char *sp = strrchr(line, ' ');
            if (!sp || atoi(sp + 1) != status) continue;
        }
        n++;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

int gf_standin_port(const gf_standin *s)
{
    return s->port;
}

const char *gf_standin_url(const gf_standin *s)
{
    return s->url;
}

/* --- HTTP plumbing ---------------------------------------------------------------------------- */

typedef struct reqctx {
    gf_sbuf body;
    bool too_big;
    int status; /* answered; 0 = none (dropped) */
    char line[1200];
} reqctx;

static enum MHD_Result send_json(reqctx *rq, struct MHD_Connection *c, int code, json_t *body,
                                 int retry_after_s)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    rq->status = code;
    return ret;
}

static enum MHD_Result send_status(reqctx *rq, struct MHD_Connection *c, int code,
                                   const char *reason, const char *msg, int r, const char *name)
{
    return send_json(rq, c, code, status_obj(code, reason, msg, r, name), 0);
}

static enum MHD_Result not_found(reqctx *rq, struct MHD_Connection *c, int r, const char *name)
{
    char q[128], msg[400];
    qualified(r, q, sizeof q);
    snprintf(msg, sizeof msg, "%s \"%s\" not found", q, name);
    return send_status(rq, c, 404, "NotFound", msg, r, name);
}

static enum MHD_Result conflict(reqctx *rq, struct MHD_Connection *c, int r, const char *name)
{
    char q[128], msg[600];
    qualified(r, q, sizeof q);
    snprintf(msg, sizeof msg,
             "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please "
             "apply your changes to the latest version and try again",
             q, name);
    return send_status(rq, c, 409, "Conflict", msg, r, name);
}

static const char *arg(struct MHD_Connection *c, const char *key)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static bool truthy(const char *v)
{
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true"));
}

/* The request body as a JSON object, or an answer already sent. */
static json_t *body_object(reqctx *rq, struct MHD_Connection *c, enum MHD_Result *ret)
{
    json_error_t jerr;
    json_t *o = rq->body.len ? json_loadb(rq->body.s, rq->body.len, 0, &jerr) : NULL;
    if (!json_is_object(o)) {
        char msg[300];
        snprintf(msg, sizeof msg, "couldn't get version/kind; json parse error: %s",
                 o ? "not an object" : (rq->body.len ? jerr.text : "empty body"));
        json_decref(o);
        *ret = send_status(rq, c, 400, "BadRequest", msg, -1, NULL);
        return NULL;
    }
    return o;
}

/* --- list ---------------------------------------------------------------------------------- */

static bool in_scope(int r, const char *ns, const gf_sel *sel, const json_t *obj)
{
    if (RES[r].namespaced && ns && *ns) {
        const char *ons = meta_str(obj, "namespace");
        if (!ons || strcmp(ons, ns)) return false;
    }
    return gf_sel_match(sel, obj);
}

/* The object as list items carry it: without kind and apiVersion. */
static json_t *as_item(const json_t *obj)
{
    json_t *c = json_deep_copy(obj);
    json_object_del(c, "kind");
    json_object_del(c, "apiVersion");
    return c;
}

/* Sorted keys of the objects of r (malloc'd array of borrowed keys). */
static const char **sorted_keys(gf_standin *s, int r, size_t *n)
{
    *n = json_object_size(s->objs[r]);
    const char **keys = malloc((*n ? *n : 1) * sizeof *keys);
    if (!keys) abort();
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(s->objs[r], k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, *n, sizeof *keys, cmp_names);
    return keys;
}

static void hex_encode(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s && o + 3 < n; s++)
        o += (size_t)snprintf(out + o, n - o, "%02x", (unsigned char)*s);
    out[o] = '\0';
}

static bool hex_decode(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; s[0] && s[1] && o + 1 < n; s += 2) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1) return false;
        out[o++] = (char)v;
    }
    out[o] = '\0';
    return !s[0];
}

static enum MHD_Result do_list(gf_standin *s, reqctx *rq, struct MHD_Connection *c, int r,
                               const char *ns, const gf_sel *sel)
{
    const char *limit_s = arg(c, "limit"), *cont = arg(c, "continue");
    long limit = limit_s ? strtol(limit_s, NULL, 10) : 0;
    uint64_t list_rv;
    char after[600] = "";
    pthread_mutex_lock(&s->mu);
    list_rv = s->rv;
    if (cont && *cont) {
        unsigned long long trv;
        int used = 0;
        if (sscanf(cont, "%llu:%n", &trv, &used) != 1 || used == 0 ||
            !hex_decode(cont + used, after, sizeof after)) {
            pthread_mutex_unlock(&s->mu);
            return send_status(rq, c, 400, "BadRequest", "invalid continue token", -1, NULL);
        }
        bool changed = trv < s->compacted_rv;
        for (size_t i = 0; i < s->events.n && !changed; i++)
            if (s->events.v[i].rv > trv && s->events.v[i].res == r) changed = true;
        if (changed) {
            pthread_mutex_unlock(&s->mu);
            return send_status(
                rq, c, 410, "Expired",
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter.",
                -1, NULL);
        }
        list_rv = trv;
    }
    size_t n;
    const char **keys = sorted_keys(s, r, &n);
    json_t *items = json_array();
    size_t remaining = 0;
    const char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if (after[0] && strcmp(keys[i], after) <= 0) continue;
        const json_t *obj = json_object_get(s->objs[r], keys[i]);
        if (!in_scope(r, ns, sel, obj)) continue;
        if (limit > 0 && (long)json_array_size(items) >= limit) {
            remaining++;
            continue;
        }
        json_array_append_new(items, as_item(obj));
        last = keys[i];
    }
    json_t *meta = json_object();
    char rv[32];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)list_rv);
    json_object_set_new(meta, "resourceVersion", json_string(rv));
    if (remaining && last) {
        char hex[1300], tok[1400];
        hex_encode(last, hex, sizeof hex);
        snprintf(tok, sizeof tok, "%llu:%s", (unsigned long long)list_rv, hex);
        json_object_set_new(meta, "continue", json_string(tok));
        json_object_set_new(meta, "remainingItemCount", json_integer((json_int_t)remaining));
    }
    free(keys);
    pthread_mutex_unlock(&s->mu);
    char list_kind[80];
    snprintf(list_kind, sizeof list_kind, "%sList", RES[r].kind);
    json_t *body = json_pack("{s:s, s:s, s:o, s:o}", "kind", list_kind, "apiVersion",
                             RES[r].api_version, "metadata", meta, "items", items);
    return send_json(rq, c, 200, body, 0);
}

/* --- watch --------------------------------------------------------------------------------- */

typedef struct watch {
    gf_standin *s;
    int res;
    char ns[256];
    gf_sel *sel;
    bool bookmarks, started, finished;
    char start_rv[32];
    uint64_t next_rv; /* every event up to this one has been considered */
    double deadline, last_sent;
    unsigned drop_gen, expire_gen;
    gf_sbuf out;
    size_t off;
} watch;

static void emit(watch *w, const char *type, json_t *obj)
{
    json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (text) {
        gf_sbuf_puts(&w->out, text);
        gf_sbuf_puts(&w->out, "\n");
        free(text);
    }
}

static void emit_gone(watch *w, uint64_t asked)
{
    char msg[200];
    snprintf(msg, sizeof msg, "too old resource version: %llu (%llu)", (unsigned long long)asked,
             (unsigned long long)w->s->compacted_rv + 1);
    json_t *st = status_obj(410, "Expired", msg, -1, NULL);
    emit(w, "ERROR", st);
    json_decref(st);
    w->finished = true;
}

static void emit_bookmark(watch *w)
{
    char rv[32];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)w->s->rv);
    json_t *o =
        json_pack("{s:s, s:s, s:{s:s, s:n}}", "kind", RES[w->res].kind, "apiVersion",
                  RES[w->res].api_version, "metadata", "resourceVersion", rv, "creationTimestamp");
    emit(w, "BOOKMARK", o);
    json_decref(o);
    w->next_rv = w->s->rv;
}

/* Events after next_rv, translated through the watch's scope: an object
 * that starts or stops matching is ADDED or DELETED for this watch. */
static void emit_events(watch *w)
{
    gf_standin *s = w->s;
    size_t lo = 0, hi = s->events.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->events.v[mid].rv <= w->next_rv)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < s->events.n; i++) {
        const event *e = &s->events.v[i];
        if (e->res != w->res) continue;
        bool now_in = in_scope(w->res, w->ns, w->sel, e->obj);
        if (e->type == EV_MODIFIED) {
            bool was_in = in_scope(w->res, w->ns, w->sel, e->old);
            if (was_in && now_in)
                emit(w, "MODIFIED", e->obj);
            else if (now_in)
                emit(w, "ADDED", e->obj);
            else if (was_in)
                emit(w, "DELETED", e->obj);
        } else if (now_in) {
            emit(w, EV_NAMES[e->type], e->obj);
        }
    }
    w->next_rv = s->rv;
}

static ssize_t copy_out(watch *w, char *buf, size_t max)
{
    size_t n = w->out.len - w->off;
    if (n > max) n = max;
    memcpy(buf, w->out.s + w->off, n);
    w->off += n;
    return (ssize_t)n;
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    watch *w = cls;
    gf_standin *s = w->s;
    if (w->off < w->out.len) return copy_out(w, buf, max);
    w->out.len = w->off = 0;
    if (w->finished) return MHD_CONTENT_READER_END_OF_STREAM;
    ssize_t end = 0;
    double bookmark_s = s->bookmark_ms / 1000.0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->stopping) {
            end = MHD_CONTENT_READER_END_OF_STREAM;
            break;
        }
        if (w->drop_gen != s->drop_gen) {
            end = MHD_CONTENT_READER_END_WITH_ERROR; /* a broken connection */
            break;
        }
        if (w->expire_gen != s->expire_gen) {
            emit_gone(w, w->next_rv);
            break;
        }
        if (s->silent) {
            double now = mono();
            if (now >= w->deadline) {
                end = MHD_CONTENT_READER_END_OF_STREAM;
                break;
            }
            wait_until(s, now + 0.05 < w->deadline ? now + 0.05 : w->deadline);
            continue;
        }
        if (!w->started) {
            w->started = true;
            if (!w->start_rv[0] || !strcmp(w->start_rv, "0")) {
                /* "get state and start at most recent": the objects as ADDED */
                size_t n;
                const char **keys = sorted_keys(s, w->res, &n);
                for (size_t i = 0; i < n; i++) {
                    json_t *obj = json_object_get(s->objs[w->res], keys[i]);
                    if (in_scope(w->res, w->ns, w->sel, obj)) emit(w, "ADDED", obj);
                }
                free(keys);
                w->next_rv = s->rv;
            } else {
                w->next_rv = strtoull(w->start_rv, NULL, 10);
            }
            if (w->out.len) break;
        }
        if (w->next_rv < s->compacted_rv) {
            emit_gone(w, w->next_rv);
            break;
        }
        emit_events(w);
        if (w->out.len) break;
        double now = mono();
        if (now >= w->deadline) {
            end = MHD_CONTENT_READER_END_OF_STREAM;
            break;
        }
        if (w->bookmarks && now - w->last_sent >= bookmark_s) {
            emit_bookmark(w);
            break;
        }
        double until = w->deadline;
        if (w->bookmarks && w->last_sent + bookmark_s < until) until = w->last_sent + bookmark_s;
        wait_until(s, until);
    }
    pthread_mutex_unlock(&s->mu);
    if (end) return end;
    w->last_sent = mono();
    return copy_out(w, buf, max);
}

static void watch_free(void *cls)
{
    watch *w = cls;
    pthread_mutex_lock(&w->s->mu);
    w->s->open_watches--;
    pthread_mutex_unlock(&w->s->mu);
    gf_sel_free(w->sel);
    gf_sbuf_free(&w->out);
    free(w);
}

static enum MHD_Result do_watch(gf_standin *s, reqctx *rq, struct MHD_Connection *c, int r,
                                const char *ns, gf_sel *sel)
{
    const char *rv = arg(c, "resourceVersion");
    const char *timeout = arg(c, "timeoutSeconds");
    if (rv && *rv && strspn(rv, "0123456789") != strlen(rv)) {
        gf_sel_free(sel);
        char msg[200];
        snprintf(msg, sizeof msg, "invalid resource version: %.100s", rv);
        return send_status(rq, c, 400, "BadRequest", msg, -1, NULL);
    }
    watch *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->s = s;
    w->res = r;
    snprintf(w->ns, sizeof w->ns, "%s", ns ? ns : "");
    w->sel = sel;
    w->bookmarks = truthy(arg(c, "allowWatchBookmarks"));
    snprintf(w->start_rv, sizeof w->start_rv, "%s", rv ? rv : "");
    long t = timeout ? strtol(timeout, NULL, 10) : 0;
    if (t <= 0 || t > s->max_watch_s) t = s->max_watch_s;
    w->last_sent = mono();
    w->deadline = w->last_sent + (double)t;
    pthread_mutex_lock(&s->mu);
    w->drop_gen = s->drop_gen;
    w->expire_gen = s->expire_gen;
    s->open_watches++;
    pthread_mutex_unlock(&s->mu);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, watch_read, w, watch_free);
    if (!resp) {
        watch_free(w);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    rq->status = 200;
    return ret;
}

/* --- create, update, patch, delete --------------------------------------------------------- */

static enum MHD_Result do_get(gf_standin *s, reqctx *rq, struct MHD_Connection *c, int r,
                              const char *ns, const char *name)
{
    char key[600];
    make_key(r, ns, name, key, sizeof key);
    pthread_mutex_lock(&s->mu);
    json_t *obj = json_object_get(s->objs[r], key);
    json_t *copy = obj ? json_deep_copy(obj) : NULL;
    pthread_mutex_unlock(&s->mu);
    if (!copy) return not_found(rq, c, r, name);
    return send_json(rq, c, 200, copy, 0);
}

/* The namespace of a body must be the URL's (or absent). */
static bool ns_mismatch(json_t *obj, int r, const char *ns)
{
    const char *ons = meta_str(obj, "namespace");
    return RES[r].namespaced && ons && *ons && strcmp(ons, ns);
}

static enum MHD_Result do_create(gf_standin *s, reqctx *rq, struct MHD_Connection *c, int r,
                                 const char *ns)
{
    enum MHD_Result ret;
    json_t *obj = body_object(rq, c, &ret);
    if (!obj) return ret;
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, RES[r].kind)) {
        char msg[300];
        snprintf(msg, sizeof msg, "the body kind %.60s does not match the URL's %s", kind,
                 RES[r].kind);
        json_decref(obj);
        return send_status(rq, c, 400, "BadRequest", msg, -1, NULL);
    }
    if (ns_mismatch(obj, r, ns)) {
        json_decref(obj);
        return send_status(rq, c, 400, "BadRequest",
                           "the namespace of the provided object does not match the namespace "
                           "sent on the request",
                           -1, NULL);
    }
    if (meta_str(obj, "resourceVersion")) {
        json_decref(obj);
        return send_status(rq, c, 422, "Invalid",
                           "metadata.resourceVersion: Invalid value: resourceVersion should not "
                           "be set on objects to be created",
                           -1, NULL);
    }
    json_t *meta = meta_of(obj);
    if (RES[r].namespaced) json_object_set_new(meta, "namespace", json_string(ns));
    pthread_mutex_lock(&s->mu);
    char name[300];
    const char *given = meta_str(obj, "name");
    const char *gen = meta_str(obj, "generateName");
    if (given && *given) {
        snprintf(name, sizeof name, "%s", given);
    } else if (gen && *gen) {
        static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
        unsigned long long x = s->rv * 2654435761ULL + 12345;
        snprintf(name, sizeof name, "%.200s", gen);
        size_t l = strlen(name);
        for (int i = 0; i < 5; i++, x /= 27)
            name[l + (size_t)i] = alnum[x % 27];
        name[l + 5] = '\0';
        json_object_set_new(meta, "name", json_string(name));
    } else {
        pthread_mutex_unlock(&s->mu);
        json_decref(obj);
        return send_status(rq, c, 422, "Invalid",
                           "metadata.name: Required value: name or generateName is required", -1,
                           NULL);
    }
    char key[600];
    make_key(r, ns, name, key, sizeof key);
    if (json_object_get(s->objs[r], key)) {
        pthread_mutex_unlock(&s->mu);
        json_decref(obj);
        char q[128], msg[500];
        qualified(r, q, sizeof q);
        snprintf(msg, sizeof msg, "%s \"%s\" already exists", q, name);
        return send_status(rq, c, 409, "AlreadyExists", msg, r, name);
    }
    json_object_del(meta, "uid"); /* the server assigns it */
    json_object_del(meta, "creationTimestamp");
    json_t *stored = write_obj(s, r, key, obj);
    json_t *copy = json_deep_copy(stored);
    pthread_mutex_unlock(&s->mu);
    return send_json(rq, c, 201, copy, 0);
}

static enum MHD_Result do_update(gf_standin *s, reqctx *rq, struct MHD_Connection *c, int r,
                                 const char *ns, const char *name)
{
    enum MHD_Result ret;
    json_t *obj = body_object(rq, c, &ret);
    if (!obj) return ret;
    const char *bname = meta_str(obj, "name");
    if (!bname || strcmp(bname, name) || ns_mismatch(obj, r, ns)) {
        char msg[600];
        snprintf(msg, sizeof msg,
                 "the name of the object (%.200s) does not match the name on the URL (%.200s)",
                 bname ? bname : "", name);
        json_decref(obj);
        return send_status(rq, c, 400, "BadRequest", msg, -1, NULL);
    }
    char key[600];
    make_key(r, ns, name, key, sizeof key);
    pthread_mutex_lock(&s->mu);
    json_t *cur = json_object_get(s->objs[r], key);
    if (!cur) {
        pthread_mutex_unlock(&s->mu);
        json_decref(obj);
        return not_found(rq, c, r, name);
    }
    const char *want = meta_str(obj, "resourceVersion");
    if (want && strcmp(want, meta_str(cur, "resourceVersion"))) {
        pthread_mutex_unlock(&s->mu);
        json_decref(obj);
        return conflict(rq, c, r, name);
    }
    if (RES[r].namespaced) json_object_set_new(meta_of(obj), "namespace", json_string(ns));
    json_t *stored = write_obj(s, r, key, obj);
    json_t *copy = json_deep_copy(stored);
    pthread_mutex_unlock(&s->mu);
    return send_json(rq, c, 200, copy, 0);
}

static enum MHD_Result do_patch(gf_standin *s, reqctx *rq, struct MHD_Connection *c, int r,
                                const char *ns, const char *name)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    size_t ctl = ct ? strcspn(ct, "; ") : 0;
    if (!ct || ctl != strlen("application/merge-patch+json") ||
        strncasecmp(ct, "application/merge-patch+json", ctl)) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "the body of the request was in an unknown format - accepted media types "
                 "include: application/merge-patch+json (the stand-in's only patch type; got "
                 "%.60s)",
                 ct ? ct : "none");
        return send_status(rq, c, 415, "UnsupportedMediaType", msg, -1, NULL);
    }
    enum MHD_Result ret;
    json_t *patch = body_object(rq, c, &ret);
    if (!patch) return ret;
    char key[600];
    make_key(r, ns, name, key, sizeof key);
    pthread_mutex_lock(&s->mu);
    json_t *cur = json_object_get(s->objs[r], key);
    if (!cur) {
        pthread_mutex_unlock(&s->mu);
        json_decref(patch);
        return not_found(rq, c, r, name);
    }
    /* preconditions ride in the patch's metadata (apimachinery's
     * optimistic concurrency): resourceVersion, uid */
    const char *want_rv = meta_str(patch, "resourceVersion");
    const char *want_uid = meta_str(patch, "uid");
    const char *uid = meta_str(cur, "uid");
    if ((want_rv && strcmp(want_rv, meta_str(cur, "resourceVersion"))) ||
        (want_uid && uid && strcmp(want_uid, uid))) {
        pthread_mutex_unlock(&s->mu);
        json_decref(patch);
        return conflict(rq, c, r, name);
    }
    json_t *next = gf_merge_patch(json_deep_copy(cur), patch);
    json_decref(patch);
    /* identity is not patchable: keep it */
    json_t *meta = meta_of(next);
    const char *keep[] = {"name",      "namespace", "uid", "creationTimestamp", "resourceVersion",
                          "generation"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get(json_object_get(cur, "metadata"), keep[i]);
        if (v)
            json_object_set(meta, keep[i], v);
        else
            json_object_del(meta, keep[i]);
    }
    json_object_set_new(next, "kind", json_string(RES[r].kind));
    json_object_set_new(next, "apiVersion", json_string(RES[r].api_version));
    json_t *copy;
    if (json_equal(next, cur)) { /* a no-op writes nothing */
        json_decref(next);
        copy = json_deep_copy(cur);
    } else {
        copy = json_deep_copy(write_obj(s, r, key, next));
    }
    pthread_mutex_unlock(&s->mu);
    return send_json(rq, c, 200, copy, 0);
}

static enum MHD_Result do_delete(gf_standin *s, reqctx *rq, struct MHD_Connection *c, int r,
                                 const char *ns, const char *name)
{
    char key[600];
    make_key(r, ns, name, key, sizeof key);
    pthread_mutex_lock(&s->mu);
    json_t *cur = json_object_get(s->objs[r], key);
    json_t *copy = cur ? json_deep_copy(cur) : NULL;
    if (cur) delete_obj(s, r, key);
    pthread_mutex_unlock(&s->mu);
    if (!copy) return not_found(rq, c, r, name);
    return send_json(rq, c, 200, copy, 0);
}

/* --- eviction (k8s pkg/registry/core/pod/storage/eviction.go) ------------------------------- */

static enum MHD_Result do_evict(gf_standin *s, reqctx *rq, struct MHD_Connection *c, const char *ns,
                                const char *name)
{
    enum MHD_Result ret;
    json_t *ev = body_object(rq, c, &ret);
    if (!ev) return ret;
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    const char *ename = meta_str(ev, "name");
    if (!kind || strcmp(kind, "Eviction") || !ename || strcmp(ename, name)) {
        json_decref(ev);
        return send_status(rq, c, 400, "BadRequest",
                           "name in URL does not match name in Eviction object", -1, NULL);
    }
    json_decref(ev);
    char key[600];
    make_key(RES_POD, ns, name, key, sizeof key);
    pthread_mutex_lock(&s->mu);
    json_t *pod = json_object_get(s->objs[RES_POD], key);
    if (!pod) {
        pthread_mutex_unlock(&s->mu);
        return not_found(rq, c, RES_POD, name);
    }
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    /* canIgnorePDB: finished, pending or already terminating pods */
    bool ignore_pdb = (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") ||
                                 !strcmp(phase, "Pending"))) ||
                      meta_str(pod, "deletionTimestamp");
    if (!ignore_pdb) {
        const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
        json_t *pdb = NULL;
        char pdb_key[600] = "";
        int matches = 0;
        const char *k;
        json_t *b;
        json_object_foreach(s->objs[RES_PDB], k, b)
        {
            const char *bns = meta_str(b, "namespace");
            if (!bns || strcmp(bns, ns)) continue;
            if (!gf_label_selector_match(json_object_get(json_object_get(b, "spec"), "selector"),
                                         labels))
                continue;
            matches++;
            pdb = b;
            snprintf(pdb_key, sizeof pdb_key, "%s", k);
        }
        if (matches > 1) {
            pthread_mutex_unlock(&s->mu);
            return send_status(rq, c, 500, "InternalError",
                               "This pod has more than one PodDisruptionBudget, which the "
                               "eviction subresource does not support.",
                               -1, NULL);
        }
        if (pdb) {
            json_t *st = json_object_get(pdb, "status");
            json_int_t allowed = json_integer_value(json_object_get(st, "disruptionsAllowed"));
            if (allowed <= 0) {
                char cause[400];
                snprintf(cause, sizeof cause,
                         "The disruption budget %s needs %lld healthy pods and has %lld currently",
                         meta_str(pdb, "name"),
                         (long long)json_integer_value(json_object_get(st, "desiredHealthy")),
                         (long long)json_integer_value(json_object_get(st, "currentHealthy")));
                pthread_mutex_unlock(&s->mu);
                json_t *body = status_obj(
                    429, "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.", -1, NULL);
                json_object_set_new(body, "details",
                                    json_pack("{s:[{s:s, s:s}]}", "causes", "type",
                                              "DisruptionBudget", "message", cause));
                return send_json(rq, c, 429, body, 0);
            }
            json_t *next = json_deep_copy(pdb);
            json_t *nst = json_object_get(next, "status");
            json_object_set_new(nst, "disruptionsAllowed", json_integer(allowed - 1));
            write_obj(s, RES_PDB, pdb_key, next);
        }
    }
    delete_obj(s, RES_POD, key);
    pthread_mutex_unlock(&s->mu);
    return send_json(rq, c, 201,
                     json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                               "metadata", "status", "Success", "code", 201),
                     0);
}

/* --- control endpoints --------------------------------------------------------------------- */

static enum MHD_Result control(gf_standin *s, reqctx *rq, struct MHD_Connection *c, const char *url,
                               const char *method)
{
    const char *what = url + strlen("/standin/");
    bool post = !strcmp(method, "POST");
    gf_error err = {0};
    if (post && !strcmp(what, "faults")) {
        enum MHD_Result ret;
        json_t *o = body_object(rq, c, &ret);
        if (!o) return ret;
        const json_t *w = json_object_get(o, "watch");
        gf_standin_fault f = {
            json_string_value(json_object_get(o, "method")),
            json_string_value(json_object_get(o, "path")),
            json_is_integer(w) ? (int)json_integer_value(w) : -1,
            (int)json_integer_value(json_object_get(o, "count")),
            (int)json_integer_value(json_object_get(o, "status")),
            (int)json_integer_value(json_object_get(o, "retryAfter")),
            (int)json_integer_value(json_object_get(o, "delayMs")),
            json_is_true(json_object_get(o, "drop")),
        };
        if (f.count <= 0) f.count = 1;
        gf_standin_add_fault(s, &f);
        json_decref(o);
        return send_json(rq, c, 200, json_pack("{s:b}", "ok", 1), 0);
    }
    if (post && !strcmp(what, "objects")) {
        enum MHD_Result ret;
        json_t *o = body_object(rq, c, &ret);
        if (!o) return ret;
        pthread_mutex_lock(&s->mu);
        gf_err rc = put_json(s, o, "body", &err);
        pthread_mutex_unlock(&s->mu);
        json_decref(o);
        if (rc) return send_json(rq, c, 400, json_pack("{s:s}", "error", err.msg), 0);
        return send_json(rq, c, 200, json_pack("{s:b}", "ok", 1), 0);
    }
    if (!strcmp(method, "DELETE") && !strncmp(what, "objects/", 8)) {
        char buf[800], *parts[3] = {0};
        snprintf(buf, sizeof buf, "%s", what + 8);
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(buf, "/", &save); t && n < 3; t = strtok_r(NULL, "/", &save))
            parts[n++] = t;
        gf_err rc = n == 3   ? gf_standin_remove(s, parts[0], parts[1], parts[2], &err)
                    : n == 2 ? gf_standin_remove(s, parts[0], NULL, parts[1], &err)
                             : gf_error_set(&err, GF_EUSAGE, NULL, "DELETE objects/KIND/[NS/]NAME");
        if (rc) return send_json(rq, c, 404, json_pack("{s:s}", "error", err.msg), 0);
        return send_json(rq, c, 200, json_pack("{s:b}", "ok", 1), 0);
    }
    if (post && !strcmp(what, "compact")) {
        gf_standin_compact(s, truthy(arg(c, "watches")));
        return send_json(rq, c, 200, json_pack("{s:b}", "ok", 1), 0);
    }
    if (post && !strcmp(what, "drop-watches")) {
        gf_standin_drop_watches(s);
        return send_json(rq, c, 200, json_pack("{s:b}", "ok", 1), 0);
    }
    if (!strcmp(method, "GET") && !strcmp(what, "requests")) {
        json_t *a = json_array();
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < s->log.n; i++)
            json_array_append_new(a, json_string(s->log.v[i]));
        pthread_mutex_unlock(&s->mu);
        return send_json(rq, c, 200, json_pack("{s:o}", "requests", a), 0);
    }
    return send_json(rq, c, 404, json_pack("{s:s}", "error", "no such control endpoint"), 0);
}

/* --- routing ---------------------------------------------------------------------------------- */

typedef struct route {
    int res;
    char ns[256], name[256], sub[64];
    bool has_ns, has_name, has_sub;
} route;

/* /api/v1/... or /apis/GROUP/VERSION/..., then [namespaces/NS/]PLURAL[/NAME[/SUB]]. */
static bool parse_route(const char *url, route *rt)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", url);
    char *seg[12];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t && n < 12; t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    char prefix[300];
    int i;
    if (n >= 2 && !strcmp(seg[0], "api")) {
        snprintf(prefix, sizeof prefix, "/api/%s", seg[1]);
        i = 2;
    } else if (n >= 3 && !strcmp(seg[0], "apis")) {
        snprintf(prefix, sizeof prefix, "/apis/%s/%s", seg[1], seg[2]);
        i = 3;
    } else {
        return false;
    }
    memset(rt, 0, sizeof *rt);
    if (n - i >= 3 && !strcmp(seg[i], "namespaces")) {
        snprintf(rt->ns, sizeof rt->ns, "%s", seg[i + 1]);
        rt->has_ns = true;
        i += 2;
    }
    if (i >= n) return false;
    rt->res = -1;
    for (int r = 0; r < NRES; r++)
        if (!strcmp(RES[r].prefix, prefix) && !strcmp(RES[r].plural, seg[i])) rt->res = r;
    if (rt->res < 0) return false;
    if (rt->has_ns && !RES[rt->res].namespaced) return false;
    if (i + 1 < n) {
        snprintf(rt->name, sizeof rt->name, "%s", seg[i + 1]);
        rt->has_name = true;
        if (RES[rt->res].namespaced && !rt->has_ns) return false;
    }
    if (i + 2 < n) {
        snprintf(rt->sub, sizeof rt->sub, "%s", seg[i + 2]);
        rt->has_sub = true;
    }
    return i + 3 >= n;
}

/* The first fault matching this request, used up by one (copied to *f). */
static bool take_fault(gf_standin *s, const char *method, const char *url, bool is_watch, fault *f)
{
    bool hit = false;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->faults.n && !hit; i++) {
        fault *x = &s->faults.v[i];
        if (x->count <= 0) continue;
        if (x->method[0] && strcmp(x->method, method)) continue;
        if (x->path[0] && !strstr(url, x->path)) continue;
        if (x->watch == 1 && !is_watch) continue;
        if (x->watch == 0 && is_watch) continue;
        x->count--;
        *f = *x;
        hit = true;
    }
    pthread_mutex_unlock(&s->mu);
    return hit;
}

static const char *reason_of(int code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 409:
        return "Conflict";
    case 410:
        return "Expired";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return "Unknown";
    }
}

/* --- discovery ------------------------------------------------------------------------------- */

/* The group/version of a resource prefix: "/api/v1" -> "v1", "/apis/apps/v1" -> "apps/v1". */
static const char *group_version_of(const char *prefix)
{
    return !strncmp(prefix, "/apis/", 6) ? prefix + 6 : prefix + 5;
}

/* One entry of an APIResourceList (Kubernetes API concepts, "Discovery API"). */
static json_t *resource_json(const resource *r)
{
    char singular[64];
    size_t i = 0;
    for (; r->kind[i] && i + 1 < sizeof singular; i++)
        singular[i] = (char)tolower((unsigned char)r->kind[i]);
    singular[i] = '\0';
    return json_pack("{s:s, s:s, s:b, s:s, s:[s,s,s,s,s,s,s]}", "name", r->plural, "singularName",
                     singular, "namespaced", r->namespaced, "kind", r->kind, "verbs", "create",
                     "delete", "get", "list", "patch", "update", "watch");
}

/* Legacy (unaggregated) discovery, the documents kubectl reads before it maps
 * a manifest's kind to a path: /api (APIVersions), /apis (APIGroupList),
 * /api/v1 and /apis/GROUP/VERSION (APIResourceList). NULL: not a discovery
 * path. Clients asking for aggregated discovery (apidiscovery.k8s.io/v2)
 * get these too and fall back, as they do against servers before 1.26. */
static json_t *discovery(gf_standin *s, const char *url)
{
    char path[300];
    snprintf(path, sizeof path, "%s", url);
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    if (!strcmp(path, "/api")) {
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", s->port);
        return json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                         "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                         addr);
    }
    if (!strcmp(path, "/apis")) {
        json_t *groups = json_array();
        for (int r = 0; r < NRES; r++) {
            if (!RES[r].group[0]) continue;
            bool seen = false;
            for (int q = 0; q < r && !seen; q++)
                seen = !strcmp(RES[q].group, RES[r].group);
            if (seen) continue;
            const char *gv = group_version_of(RES[r].prefix);
            const char *version = strchr(gv, '/') + 1;
            json_array_append_new(groups, json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name",
                                                    RES[r].group, "versions", "groupVersion", gv,
                                                    "version", version, "preferredVersion",
                                                    "groupVersion", gv, "version", version));
        }
        return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                         groups);
    }
    json_t *resources = NULL;
    for (int r = 0; r < NRES; r++) {
        if (strcmp(RES[r].prefix, path)) continue;
        if (!resources) resources = json_array();
        json_array_append_new(resources, resource_json(&RES[r]));
        if (r == RES_POD)
            json_array_append_new(resources,
                                  json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:[s]}", "name",
                                            "pods/eviction", "singularName", "", "namespaced", 1,
                                            "group", "policy", "version", "v1", "kind", "Eviction",
                                            "verbs", "create"));
    }
    if (!resources) return NULL;
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", group_version_of(path), "resources", resources);
}

/* --- service proxy -----------------------------------------------------------------------------
 */

typedef struct encoded_query {
    gf_sbuf *b;
} encoded_query;

static enum MHD_Result encode_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    encoded_query *q = cls;
    gf_sbuf_puts(q->b, q->b->len && strchr(q->b->s, '?') ? "&" : "?");
    gf_sbuf_append_urlencoded(q->b, key);
    if (value) {
        gf_sbuf_puts(q->b, "=");
        gf_sbuf_append_urlencoded(q->b, value);
    }
    return MHD_YES;
}

/* GET /api/v1/namespaces/NS/services/NAME[:PORT]/proxy[/REST]: the API
 * server's service proxy. The stand-in has no pods behind Services: it
 * forwards to the URL in the Service's annotation standin.gpufrac.io/proxy-to
 * (a test's Prometheus), 503 without one, 404 without the Service. */
static bool service_proxy(gf_standin *s, reqctx *rq, struct MHD_Connection *c, const char *url,
                          enum MHD_Result *ret)
{
    char ns[256], svc[256];
    int off = 0;
    if (sscanf(url, "/api/v1/namespaces/%255[^/]/services/%255[^/]/proxy%n", ns, svc, &off) != 2 ||
        !off)
        return false;
    const char *rest = url + off;
    svc[strcspn(svc, ":")] = '\0';
    char key[600];
    int r = res_by_kind("Service");
    make_key(r, ns, svc, key, sizeof key);
    pthread_mutex_lock(&s->mu);
    const json_t *obj = json_object_get(s->objs[r], key);
    const char *to = json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                        "standin.gpufrac.io/proxy-to"));
    char *target = to ? strdup(to) : NULL;
    bool exists = obj != NULL;
    pthread_mutex_unlock(&s->mu);
    if (!exists) {
        *ret = not_found(rq, c, r, svc);
        return true;
    }
    if (!target) {
        *ret = send_status(rq, c, 503, "ServiceUnavailable", "no endpoints available for service",
                           -1, NULL);
        return true;
    }
    gf_sbuf fwd = GF_SBUF_INIT, body = GF_SBUF_INIT;
    gf_sbuf_puts(&fwd, target);
    gf_sbuf_puts(&fwd, rest);
    encoded_query q = {&fwd};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, encode_arg, &q);
    gf_error err = {0};
    if (gf_prom_get(fwd.s, 64u << 20, &body, &err)) {
        *ret = send_status(rq, c, 503, "ServiceUnavailable", err.msg, -1, NULL);
    } else {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            body.len, body.s ? body.s : (char *)"", MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        rq->status = 200;
        *ret = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
    }
    gf_sbuf_free(&fwd);
    gf_sbuf_free(&body);
    free(target);
    return true;
}

static enum MHD_Result api(gf_standin *s, reqctx *rq, struct MHD_Connection *c, const char *url,
                           const char *method)
{
    if (!strcmp(url, "/version"))
        return send_json(rq, c, 200,
                         json_pack("{s:s, s:s, s:s}", "major", "1", "minor", "29", "gitVersion",
                                   "v1.29.0-gpufrac-standin"),
                         0);
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&s->mu);
    bool denied = s->token && (!auth || strncmp(auth, "Bearer ", 7) || strcmp(auth + 7, s->token));
    pthread_mutex_unlock(&s->mu);
    if (denied) return send_status(rq, c, 401, "Unauthorized", "Unauthorized", -1, NULL);
    bool is_watch = truthy(arg(c, "watch"));
    fault f;
    if (take_fault(s, method, url, is_watch, &f)) {
        if (f.delay_ms > 0) {
            pthread_mutex_lock(&s->mu);
            double until = mono() + f.delay_ms / 1000.0;
            while (!s->stopping && mono() < until)
                wait_until(s, until);
            pthread_mutex_unlock(&s->mu);
        }
        if (f.drop) {
            rq->status = 0;
            return MHD_NO; /* the connection closes without an answer */
        }
        if (f.status) {
            char msg[200];
            snprintf(msg, sizeof msg, "injected fault: HTTP %d", f.status);
            if (f.status == 429)
                snprintf(msg, sizeof msg,
                         "the server has received too many requests and has "
                         "asked us to try again later");
            return send_json(rq, c, f.status,
                             status_obj(f.status, reason_of(f.status), msg, -1, NULL),
                             f.retry_after_s);
        }
    }
    if (!strcmp(method, "GET")) {
        json_t *doc = discovery(s, url);
        if (doc) return send_json(rq, c, 200, doc, 0);
        enum MHD_Result proxied;
        if (service_proxy(s, rq, c, url, &proxied)) return proxied;
    }
    route rt;
    if (!parse_route(url, &rt))
        return send_status(rq, c, 404, "NotFound",
                           "the server could not find the requested resource", -1, NULL);
    int r = rt.res;
    if (!strcmp(method, "GET")) {
        if (rt.has_sub)
            return send_status(rq, c, 404, "NotFound",
                               "the server could not find the requested resource", -1, NULL);
        if (rt.has_name) return do_get(s, rq, c, r, rt.ns, rt.name);
        char why[300];
        gf_sel *sel =
            gf_sel_parse(arg(c, "labelSelector"), arg(c, "fieldSelector"), why, sizeof why);
        if (!sel) return send_status(rq, c, 400, "BadRequest", why, -1, NULL);
        if (is_watch) return do_watch(s, rq, c, r, rt.ns, sel);
        enum MHD_Result ret = do_list(s, rq, c, r, rt.ns, sel);
        gf_sel_free(sel);
        return ret;
    }
    if (!strcmp(method, "POST")) {
        if (r == RES_POD && rt.has_name && rt.has_sub && !strcmp(rt.sub, "eviction"))
            return do_evict(s, rq, c, rt.ns, rt.name);
        if (!rt.has_name) return do_create(s, rq, c, r, rt.ns);
    } else if (!strcmp(method, "PUT") && rt.has_name && !rt.has_sub) {
        return do_update(s, rq, c, r, rt.ns, rt.name);
    } else if (!strcmp(method, "PATCH") && rt.has_name && !rt.has_sub) {
        return do_patch(s, rq, c, r, rt.ns, rt.name);
    } else if (!strcmp(method, "DELETE") && rt.has_name && !rt.has_sub) {
        return do_delete(s, rq, c, r, rt.ns, rt.name);
    }
    return send_status(rq, c, 405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource", -1, NULL);
}

typedef struct query_text {
    char *buf;
    size_t n, o;
} query_text;

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    query_text *q = cls;
    int k =
        snprintf(q->buf + q->o, q->n - q->o, "%s%s=%s", q->o ? "&" : "?", key, value ? value : "");
    if (k > 0) q->o += (size_t)k;
    if (q->o >= q->n) q->o = q->n - 1;
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    gf_standin *s = cls;
    reqctx *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->body.len + *upload_size > MAX_BODY_BYTES)
            rq->too_big = true;
        else
            gf_sbuf_append(&rq->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    char q[900];
    query_text qt = {q, sizeof q, 0};
    q[0] = '\0';
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &qt);
    snprintf(rq->line, sizeof rq->line, "%s %.200s%s", method, url, q);
    enum MHD_Result ret;
    if (rq->too_big)
        ret = send_status(rq, c, 413, "RequestEntityTooLarge", "the request body is too large", -1,
                          NULL);
    else if (!strncmp(url, "/standin/", 9))
        ret = control(s, rq, c, url, method);
    else
        ret = api(s, rq, c, url, method);
    char *entry = malloc(strlen(rq->line) + 16);
    if (!entry) abort();
    sprintf(entry, "%s %d", rq->line, rq->status);
    pthread_mutex_lock(&s->mu);
    gf_vec_push(&s->log, entry);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    reqctx *rq = *con_cls;
    if (!rq) return;
    gf_sbuf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
}

/* --- start and stop ------------------------------------------------------------------------ */

gf_err gf_standin_start(gf_standin **out, const gf_standin_opts *o, gf_error *err)
{
    *out = NULL;
    gf_standin_opts def = {0};
    if (!o) o = &def;
    gf_standin *s = calloc(1, sizeof *s);
    if (!s) abort();
    curl_global_init(CURL_GLOBAL_DEFAULT); /* the service proxy's requests, from many threads */
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int r = 0; r < NRES; r++)
        s->objs[r] = json_object();
    s->window = o->window ? o->window : 1000;
    s->bookmark_ms = o->bookmark_ms > 0 ? o->bookmark_ms : 1000;
    s->max_watch_s = o->max_watch_s > 0 ? o->max_watch_s : 1800;
    s->token = o->token ? strdup(o->token) : NULL;
    bool tls = o->tls_cert_pem && o->tls_key_pem;
    if (tls) {
        s->cert = strdup(o->tls_cert_pem);
        s->key = strdup(o->tls_key_pem);
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (tls)
        s->d = MHD_start_daemon(flags | MHD_USE_TLS, (uint16_t)o->port, NULL, NULL, handler, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_HTTPS_MEM_KEY,
                                s->key, MHD_OPTION_HTTPS_MEM_CERT, s->cert, MHD_OPTION_END);
    else
        s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, handler, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->d) {
        gf_standin_stop(s);
        return gf_error_set(err, GF_EIO, "kube-standin", "cannot listen on 127.0.0.1:%d%s", o->port,
                            tls ? " with TLS (is libmicrohttpd built with GnuTLS?)" : "");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    snprintf(s->url, sizeof s->url, "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
    *out = s;
    return GF_OK;
}

void gf_standin_stop(gf_standin *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->d) MHD_stop_daemon(s->d);
    for (int r = 0; r < NRES; r++)
        json_decref(s->objs[r]);
    for (size_t i = 0; i < s->events.n; i++) {
        json_decref(s->events.v[i].obj);
        json_decref(s->events.v[i].old);
    }
    gf_vec_free(&s->events);
    gf_vec_free(&s->faults);
    for (size_t i = 0; i < s->log.n; i++)
        free(s->log.v[i]);
    gf_vec_free(&s->log);
    free(s->token);
    free(s->cert);
    free(s->key);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
