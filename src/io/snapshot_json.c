/* snapshot_json.c - kubectl/API-server JSON -> cluster model (see snapshot.h).
 *
 * A walk over jansson's tree that keeps the JSON path of where it is, so that
 * every error names file and path. Field meanings follow the Kubernetes API
 * (core/v1 Node and Pod, apps/v1 ReplicaSet/Deployment/StatefulSet) and KAI's
 * annotations (model/kai.h). */
#include "io/snapshot.h"
#include "io/input.h"
#include "io/jsonpath.h"
#include "io/usage.h"
#include "model/kai.h"
#include "model/quantity.h"
#include "util/sbuf.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef GF_VEC(const char *) strvec;

typedef struct walk {
    gf_model *m;
    gf_diags *d;
    gf_error *err;
    const char *file;
    char path[1024];
    size_t plen;
    char what[300]; /* "pod team-a/llm-0" once known, for messages */
} walk;

/* --- path bookkeeping ---------------------------------------------------- */

static size_t push_key(walk *w, const char *key)
{
    return gf_path_push_key(w->path, sizeof w->path, &w->plen, key);
}

static size_t push_index(walk *w, size_t i)
{
    return gf_path_push_index(w->path, sizeof w->path, &w->plen, i);
}

static void pop(walk *w, size_t saved)
{
    gf_path_pop(w->path, &w->plen, saved);
}

static const char *where(walk *w, char *buf, size_t n)
{
    snprintf(buf, n, "%s: %s", w->file, w->plen ? w->path : "(top level)");
    return buf;
}

static gf_err fail(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static gf_err fail(walk *w, const char *fmt, ...)
{
    char msg[512], loc[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w->what[0])
        return gf_error_set(w->err, GF_EINPUT, where(w, loc, sizeof loc), "%s: %s", w->what, msg);
    return gf_error_set(w->err, GF_EINPUT, where(w, loc, sizeof loc), "%s", msg);
}

static void warn(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(walk *w, const char *fmt, ...)
{
    char msg[512], loc[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gf_diag(w->d, where(w, loc, sizeof loc), "%s", msg);
}

/* --- typed field access -------------------------------------------------
 * Each getter returns GF_OK with *out NULL/unchanged when the field is absent
 * or null (Kubernetes omits empty fields), and an error when it has the wrong
 * type. */

static gf_err field(walk *w, const json_t *obj, const char *key, json_type type, const json_t **out)
{
    *out = NULL;
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) return GF_OK;
    bool ok = json_typeof(v) == type || (type == JSON_TRUE && json_is_boolean(v));
    if (!ok) {
        size_t s = push_key(w, key);
        static const char *want[] = {"an object", "an array",  "a string",  "an integer",
                                     "a number",  "a boolean", "a boolean", "null"};
        gf_err rc = fail(w, "expected %s, got %s", want[type], gf_json_type_name(v));
        pop(w, s);
        return rc;
    }
    *out = v;
    return GF_OK;
}

static gf_err get_obj(walk *w, const json_t *obj, const char *key, const json_t **out)
{
    return field(w, obj, key, JSON_OBJECT, out);
}

static gf_err get_arr(walk *w, const json_t *obj, const char *key, const json_t **out)
{
    return field(w, obj, key, JSON_ARRAY, out);
}

/* A string of the input into the arena; control characters (no valid
 * Kubernetes name or label has one, annotations may) escaped, so that no
 * table, message or log line built from the model prints them raw. */
static const char *text_copy(walk *w, const char *s, size_t n)
{
    if (!gf_has_control(s, n)) return gf_arena_strndup(&w->m->arena, s, n);
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_append_escaped(&b, s, n);
    const char *out = gf_arena_strndup(&w->m->arena, b.s, b.len);
    gf_sbuf_free(&b);
    return out;
}

static void gpu_container_spec(walk *w, const json_t *spec, gf_pod *p);

/* String field copied into the arena (text_copy); *out NULL when absent. */
static gf_err get_str(walk *w, const json_t *obj, const char *key, const char **out)
{
    const json_t *v;
    gf_err rc = field(w, obj, key, JSON_STRING, &v);
    *out = v ? text_copy(w, json_string_value(v), json_string_length(v)) : NULL;
    return rc;
}

static gf_err get_bool(walk *w, const json_t *obj, const char *key, bool *out)
{
    const json_t *v;
    gf_err rc = field(w, obj, key, JSON_TRUE, &v);
    *out = v ? json_is_true(v) : false;
    return rc;
}

static gf_err get_int(walk *w, const json_t *obj, const char *key, int64_t lo, int64_t hi,
                      bool *present, int64_t *out)
{
    const json_t *v;
    gf_err rc = field(w, obj, key, JSON_INTEGER, &v);
    *present = v != NULL;
    if (rc || !v) return rc;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        size_t s = push_key(w, key);
        rc = fail(w, "%lld is outside %lld..%lld", (long long)x, (long long)lo, (long long)hi);
        pop(w, s);
        return rc;
    }
    *out = x;
    return GF_OK;
}

/* A map of strings (labels, annotations, nodeSelector). */
static gf_err get_kvs(walk *w, const json_t *obj, const char *key, gf_kvs *out)
{
    out->items = NULL;
    out->n = 0;
    const json_t *map;
    gf_err rc = get_obj(w, obj, key, &map);
    if (rc || !map) return rc;
    size_t n = json_object_size(map);
    if (n == 0) return GF_OK;
    out->items = gf_arena_alloc(&w->m->arena, n * sizeof(gf_kv));
    size_t s = push_key(w, key);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)map, k, v)
    {
        if (!json_is_string(v)) {
            size_t s2 = push_key(w, k);
            rc = fail(w, "expected a string, got %s", gf_json_type_name(v));
            pop(w, s2);
            break;
        }
        out->items[out->n].key = text_copy(w, k, strlen(k));
        out->items[out->n].value = text_copy(w, json_string_value(v), json_string_length(v));
        out->n++;
    }
    pop(w, s);
    return rc;
}

/* A resource.Quantity inside a resource map, e.g. resources.requests.memory. */
static gf_err get_quantity(walk *w, const json_t *map, const char *key, bool milli, bool *present,
                           int64_t *out)
{
    *present = false;
    const json_t *v = map ? json_object_get(map, key) : NULL;
    if (!v || json_is_null(v)) return GF_OK;
    size_t s = push_key(w, key);
    gf_err rc = GF_OK;
    if (json_is_integer(v)) {
        /* the API always prints strings, but a number is a valid Quantity JSON */
        json_int_t x = json_integer_value(v);
        if (milli && (x > INT64_MAX / 1000 || x < INT64_MIN / 1000))
            rc = fail(w, "quantity %lld is too large", (long long)x);
        else
            *out = milli ? x * 1000 : x;
    } else if (json_is_string(v)) {
        const char *why = NULL;
        int64_t q = 0;
        if ((milli ? gf_quantity_milli : gf_quantity_value)(json_string_value(v), &q, &why))
            rc = fail(w, "bad quantity \"%s\": %s", json_string_value(v), why);
        else
            *out = q;
    } else {
        rc = fail(w, "expected a quantity string, got %s", gf_json_type_name(v));
    }
    if (rc == GF_OK && *out < 0)
        rc = fail(w, "negative quantity \"%s\"", json_is_string(v) ? json_string_value(v) : "");
    pop(w, s);
    if (rc == GF_OK) *present = true;
    return rc;
}

static const char *origin(walk *w)
{
    char buf[1400];
    return gf_arena_strdup(&w->m->arena, where(w, buf, sizeof buf));
}

/* metadata.ownerReferences: the controller reference (or the first one). */
static gf_err get_owner(walk *w, const json_t *meta, gf_owner_ref *owner)
{
    owner->kind = owner->name = NULL;
    const json_t *refs;
    gf_err rc = get_arr(w, meta, "ownerReferences", &refs);
    if (rc || !refs) return rc;
    size_t s = push_key(w, "ownerReferences");
    size_t i;
    const json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        size_t s2 = push_index(w, i);
        if (!json_is_object(ref)) {
            rc = fail(w, "expected an object, got %s", gf_json_type_name(ref));
        } else {
            const char *kind, *name;
            bool controller;
            if (!(rc = get_str(w, ref, "kind", &kind)) && !(rc = get_str(w, ref, "name", &name)) &&
                !(rc = get_bool(w, ref, "controller", &controller))) {
                if (!kind || !name)
                    rc = fail(w, "ownerReference without kind or name");
                else if (controller || !owner->kind) {
                    owner->kind = kind;
                    owner->name = name;
                }
            }
        }
        pop(w, s2);
        if (rc) break;
    }
    pop(w, s);
    return rc;
}

/* --- Node ------------------------------------------------------------------ */

static gf_err load_node(walk *w, const json_t *item)
{
    gf_node n = {0};
    const json_t *meta, *spec, *status, *alloc = NULL;
    gf_err rc;
    n.origin = origin(w);
    if ((rc = get_obj(w, item, "metadata", &meta))) return rc;
    size_t s = push_key(w, "metadata");
    rc = get_str(w, meta, "name", &n.name);
    if (!rc && !n.name) rc = fail(w, "node without metadata.name");
    if (!rc) {
        snprintf(w->what, sizeof w->what, "node %s", n.name);
        rc = get_kvs(w, meta, "labels", &n.labels);
    }
    pop(w, s);
    if (rc) return rc;

    if ((rc = get_obj(w, item, "spec", &spec))) return rc;
    s = push_key(w, "spec");
    rc = get_bool(w, spec, "unschedulable", &n.unschedulable);
    const json_t *taints = NULL;
    if (!rc) rc = get_arr(w, spec, "taints", &taints);
    if (!rc && taints && json_array_size(taints)) {
        size_t s2 = push_key(w, "taints");
        n.taints = gf_arena_alloc(&w->m->arena, json_array_size(taints) * sizeof(gf_taint));
        size_t i;
        const json_t *t;
        json_array_foreach(taints, i, t)
        {
            size_t s3 = push_index(w, i);
            gf_taint *tt = &n.taints[n.n_taints];
            if (!json_is_object(t))
                rc = fail(w, "expected an object, got %s", gf_json_type_name(t));
            if (!rc) rc = get_str(w, t, "key", &tt->key);
            if (!rc) rc = get_str(w, t, "value", &tt->value);
            if (!rc) rc = get_str(w, t, "effect", &tt->effect);
            if (!rc && !tt->key) rc = fail(w, "taint without key");
            pop(w, s3);
            if (rc) break;
            n.n_taints++;
        }
        pop(w, s2);
    }
    pop(w, s);
    if (rc) return rc;

    if ((rc = get_obj(w, item, "status", &status))) return rc;
    s = push_key(w, "status");
    rc = get_obj(w, status, "allocatable", &alloc);
    const char *section = "allocatable";
    if (!rc && !alloc) {
        rc = get_obj(w, status, "capacity", &alloc);
        section = "capacity";
    }
    bool present = false;
    int64_t gpus = 0;
    if (!rc && alloc) {
        size_t s2 = push_key(w, section);
        rc = get_quantity(w, alloc, "cpu", true, &present, &n.cpu_milli);
        if (!rc) rc = get_quantity(w, alloc, "memory", false, &present, &n.memory_bytes);
        if (!rc) rc = get_quantity(w, alloc, GF_RES_GPU, false, &present, &gpus);
        if (!rc && present && gpus > 4096)
            rc = fail(w, "%lld GPUs on one node is not plausible", (long long)gpus);
        pop(w, s2);
    }
    pop(w, s);
    if (rc) return rc;

    /* GPU facts as KAI's scheduler reads them
     * (pkg/scheduler/api/node_info/node_info.go): the nvidia.com/gpu.count
     * label before allocatable (GetNumberOfGPUsInNode; a label strconv.Atoi
     * refuses falls back to allocatable), the memory label per
     * getNodeGpuMemory (core/kai.h) */
    s = push_key(w, "metadata");
    size_t s2 = push_key(w, "labels");
    const char *why;
    const char *cnt = gf_kvs_get(&n.labels, GF_LABEL_GPU_COUNT);
    if (cnt) {
        size_t s3 = push_key(w, GF_LABEL_GPU_COUNT);
        int64_t v;
        if (!strcmp(cnt, "0"))
            gpus = 0;
        else if (gf_kai_parse_count(cnt, 4096, &v, &why))
            warn(w, "%s: GPU count \"%.60s\": %s; allocatable %s (%lld) used instead", w->what, cnt,
                 why, GF_RES_GPU, (long long)gpus);
        else
            gpus = v;
        pop(w, s3);
    }
    n.gpu_count = (uint32_t)gpus;
    n.gpu_product = gf_kvs_get(&n.labels, GF_LABEL_GPU_PRODUCT);
    const char *mem = gf_kvs_get(&n.labels, GF_LABEL_GPU_MEMORY);
    n.gpu_memory_mib = gf_kai_node_gpu_memory_mib(mem, &n.gpu_memory_from_label);
    if (!n.gpu_count && !n.gpu_memory_from_label) n.gpu_memory_mib = 0; /* no GPU to count */
    n.gpu_memory_display_mib =
        n.gpu_memory_from_label ? n.gpu_memory_mib : gf_kai_known_gpu_memory_mib(n.gpu_product);
    if (mem && !n.gpu_memory_from_label) {
        size_t s3 = push_key(w, GF_LABEL_GPU_MEMORY);
        warn(w, "%s: GPU memory \"%.60s\" is not an integer; KAI counts %d MiB per GPU", w->what,
             mem, GF_KAI_DEFAULT_GPU_MEMORY_MIB);
        pop(w, s3);
    }
    pop(w, s2);
    pop(w, s);
    const char *pool = gf_kvs_get(&n.labels, w->m->kai.node_pool_label);
    n.pool = gf_model_pool(w->m, pool && *pool ? pool : GF_KAI_DEFAULT_POOL);
    gf_model_add_node(w->m, &n, w->d);
    return GF_OK;
}

/* --- Pod ------------------------------------------------------------------- */

/* Sums requests of one container list; limits stand in for absent requests
 * (the API server defaults requests to limits). */
typedef struct requests {
    int64_t cpu_milli, memory_bytes, gpus;
    const char *gpu_container; /* the first container requesting nvidia.com/gpu */
} requests;

static gf_err container_requests(walk *w, const json_t *c, requests *r)
{
    const json_t *res, *req, *lim;
    gf_err rc = get_obj(w, c, "resources", &res);
    if (rc || !res) return rc;
    size_t s = push_key(w, "resources");
    if (!(rc = get_obj(w, res, "requests", &req))) rc = get_obj(w, res, "limits", &lim);
    static const char *names[] = {"cpu", "memory", GF_RES_GPU};
    int64_t *dst[] = {&r->cpu_milli, &r->memory_bytes, &r->gpus};
    for (int k = 0; k < 3 && !rc; k++) {
        bool present = false;
        int64_t v = 0;
        if (req) {
            size_t s2 = push_key(w, "requests");
            rc = get_quantity(w, req, names[k], k == 0, &present, &v);
            pop(w, s2);
        }
        if (!rc && !present && lim) {
            size_t s2 = push_key(w, "limits");
            rc = get_quantity(w, lim, names[k], k == 0, &present, &v);
            pop(w, s2);
        }
        if (!rc && present) {
            if (*dst[k] > INT64_MAX - v)
                rc = fail(w, "%s requests overflow", names[k]);
            else
                *dst[k] += v;
        }
    }
    pop(w, s);
    return rc;
}

static gf_err containers(walk *w, const json_t *spec, const char *key, bool init, requests *out)
{
    const json_t *arr;
    gf_err rc = get_arr(w, spec, key, &arr);
    if (rc || !arr) return rc;
    size_t s = push_key(w, key);
    size_t i;
    const json_t *c;
    json_array_foreach(arr, i, c)
    {
        size_t s2 = push_index(w, i);
        requests r = {0};
        if (!json_is_object(c))
            rc = fail(w, "expected an object, got %s", gf_json_type_name(c));
        else
            rc = container_requests(w, c, &r);
        pop(w, s2);
        if (rc) break;
        if (init) { /* init containers run one at a time: the max counts */
            if (r.cpu_milli > out->cpu_milli) out->cpu_milli = r.cpu_milli;
            if (r.memory_bytes > out->memory_bytes) out->memory_bytes = r.memory_bytes;
            if (r.gpus > out->gpus) out->gpus = r.gpus;
        } else {
            out->cpu_milli += r.cpu_milli;
            out->memory_bytes += r.memory_bytes;
            out->gpus += r.gpus;
            const json_t *name = json_object_get(c, "name");
            if (r.gpus > 0 && !out->gpu_container && json_is_string(name))
                out->gpu_container = gf_arena_strdup(&w->m->arena, json_string_value(name));
        }
    }
    pop(w, s);
    return rc;
}

/* Allowed nvidia.com/gpu.product values from required node affinity: the
 * union over nodeSelectorTerms (they are ORed) of `In` values, unless some
 * term does not constrain the product (then any model is allowed). */
static gf_err affinity_models(walk *w, const json_t *spec, strvec *models)
{
    const json_t *aff, *na, *req, *terms;
    gf_err rc = get_obj(w, spec, "affinity", &aff);
    if (rc || !aff) return rc;
    size_t s = push_key(w, "affinity");
    if (!(rc = get_obj(w, aff, "nodeAffinity", &na)) && na) {
        size_t s2 = push_key(w, "nodeAffinity");
        if (!(rc = get_obj(w, na, "requiredDuringSchedulingIgnoredDuringExecution", &req)) && req) {
            size_t s3 = push_key(w, "requiredDuringSchedulingIgnoredDuringExecution");
            if (!(rc = get_arr(w, req, "nodeSelectorTerms", &terms)) && terms) {
                size_t s4 = push_key(w, "nodeSelectorTerms");
                bool unconstrained = false;
                size_t i;
                const json_t *term;
                json_array_foreach(terms, i, term)
                {
                    size_t s5 = push_index(w, i);
                    const json_t *exprs = NULL;
                    bool found = false;
                    if (!json_is_object(term))
                        rc = fail(w, "expected an object, got %s", gf_json_type_name(term));
                    else
                        rc = get_arr(w, term, "matchExpressions", &exprs);
                    size_t j;
                    const json_t *e;
                    if (exprs) json_array_foreach(exprs, j, e)
                        {
                            if (rc) break;
                            const char *key = NULL, *op = NULL;
                            const json_t *vals = NULL;
                            size_t s6 = push_key(w, "matchExpressions");
                            size_t s7 = push_index(w, j);
                            if (!json_is_object(e))
                                rc = fail(w, "expected an object, got %s", gf_json_type_name(e));
                            if (!rc) rc = get_str(w, e, "key", &key);
                            if (!rc) rc = get_str(w, e, "operator", &op);
                            if (!rc) rc = get_arr(w, e, "values", &vals);
                            if (!rc && key && op && vals && !strcmp(key, GF_LABEL_GPU_PRODUCT) &&
                                !strcmp(op, "In")) {
                                found = true;
                                size_t k;
                                const json_t *v;
                                json_array_foreach(vals, k, v)
                                {
                                    if (!json_is_string(v)) {
                                        rc = fail(w, "values[%zu]: expected a string", k);
                                        break;
                                    }
                                    gf_vec_push(models, gf_arena_strdup(&w->m->arena,
                                                                        json_string_value(v)));
                                }
                            }
                            pop(w, s7);
                            pop(w, s6);
                        }
                    if (!found) unconstrained = true;
                    pop(w, s5);
                    if (rc) break;
                }
                if (unconstrained) models->n = 0;
                pop(w, s4);
            }
            pop(w, s3);
        }
        pop(w, s2);
    }
    pop(w, s);
    return rc;
}

static gf_err tolerations(walk *w, const json_t *spec, gf_pod *p)
{
    const json_t *arr;
    gf_err rc = get_arr(w, spec, "tolerations", &arr);
    if (rc || !arr || !json_array_size(arr)) return rc;
    size_t s = push_key(w, "tolerations");
    p->tolerations = gf_arena_alloc(&w->m->arena, json_array_size(arr) * sizeof(gf_toleration));
    size_t i;
    const json_t *t;
    json_array_foreach(arr, i, t)
    {
        size_t s2 = push_index(w, i);
        gf_toleration *tt = &p->tolerations[p->n_tolerations];
        if (!json_is_object(t)) rc = fail(w, "expected an object, got %s", gf_json_type_name(t));
        if (!rc) rc = get_str(w, t, "key", &tt->key);
        if (!rc) rc = get_str(w, t, "operator", &tt->op);
        if (!rc) rc = get_str(w, t, "value", &tt->value);
        if (!rc) rc = get_str(w, t, "effect", &tt->effect);
        pop(w, s2);
        if (rc) break;
        p->n_tolerations++;
    }
    pop(w, s);
    return rc;
}

static gf_phase parse_phase(const char *s)
{
    if (!s) return GF_PHASE_PENDING;
    if (!strcmp(s, "Running")) return GF_PHASE_RUNNING;
    if (!strcmp(s, "Succeeded")) return GF_PHASE_SUCCEEDED;
    if (!strcmp(s, "Failed")) return GF_PHASE_FAILED;
    if (!strcmp(s, "Pending")) return GF_PHASE_PENDING;
    return GF_PHASE_UNKNOWN;
}

/* One KAI pod left out: a warning at the current path naming the pod, the
 * field and why, counted in the model. Returns true (skipped). */
static bool skip_pod(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool skip_pod(walk *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(w, "%s: %s; pod skipped", w->what, msg);
    w->m->skipped[GF_SKIP_KAI_ANNOTATION]++;
    return true;
}

/* KAI's sharing annotations, each checked at its own path as KAI's webhook
 * checks them (pkg/binder/plugins/gpusharing/gpu-request/
 * gpu_request_validator.go ValidateGpuRequests). Only for KAI's pods: other
 * schedulers' pods keep no share (foreign_share notes the annotation).
 * Returns true when the pod must be skipped (already warned and counted). */
static bool pod_sharing(walk *w, gf_pod *p, bool whole_limit)
{
    bool skip = false;
    const char *why = NULL;
    const char *frac = gf_kvs_get(&p->annotations, GF_KAI_GPU_FRACTION);
    const char *mem = gf_kvs_get(&p->annotations, GF_KAI_GPU_MEMORY);
    const char *ndev = gf_kvs_get(&p->annotations, GF_KAI_NUM_DEVICES);
    p->gpu_devices = 0;
    if (p->is_reservation) return false;
    if (!p->is_kai) {
        p->foreign_share = frac || mem;
        return false;
    }
    size_t s = push_key(w, "metadata");
    size_t s2 = push_key(w, "annotations");
    if (frac && mem) {
        size_t s3 = push_key(w, GF_KAI_GPU_MEMORY);
        skip = skip_pod(w, "both %s and %s are set; KAI accepts one of them", GF_KAI_GPU_FRACTION,
                        GF_KAI_GPU_MEMORY);
        pop(w, s3);
    } else if (frac) {
        size_t s3 = push_key(w, GF_KAI_GPU_FRACTION);
        if (gf_kai_parse_fraction(frac, &p->gpu_fraction, &why))
            skip = skip_pod(w, "%s \"%.60s\": %s", GF_KAI_GPU_FRACTION, frac, why);
        else if (whole_limit)
            skip =
                skip_pod(w, "%s together with a whole %s limit", GF_KAI_GPU_FRACTION, GF_RES_GPU);
        p->share = GF_SHARE_FRACTION;
        pop(w, s3);
    } else if (mem) {
        size_t s3 = push_key(w, GF_KAI_GPU_MEMORY);
        if (gf_kai_parse_gpu_memory_mib(mem, &p->gpu_memory_mib, &why))
            skip = skip_pod(w, "%s \"%.60s\" (MiB): %s", GF_KAI_GPU_MEMORY, mem, why);
        else if (whole_limit)
            skip = skip_pod(w, "%s together with a whole %s limit", GF_KAI_GPU_MEMORY, GF_RES_GPU);
        p->share = GF_SHARE_MEMORY;
        pop(w, s3);
    }
    p->gpu_devices = p->share != GF_SHARE_NONE ? 1 : 0;
    if (!skip && ndev) {
        size_t s3 = push_key(w, GF_KAI_NUM_DEVICES);
        int64_t v;
        if (gf_kai_parse_count(ndev, GF_KAI_MAX_GROUPS, &v, &why))
            skip = skip_pod(w, "%s \"%.60s\": %s", GF_KAI_NUM_DEVICES, ndev, why);
        else if (p->share == GF_SHARE_NONE)
            warn(w, "%s: %s without %s or %s is ignored", w->what, GF_KAI_NUM_DEVICES,
                 GF_KAI_GPU_FRACTION, GF_KAI_GPU_MEMORY);
        else
            p->gpu_devices = (uint32_t)v;
        pop(w, s3);
    }
    pop(w, s2);
    pop(w, s);
    return skip;
}

/* metadata.creationTimestamp as unix seconds; 0 when absent. A value that
 * is not RFC 3339 is a warning naming the field and is read as absent. */
static gf_err get_created(walk *w, const json_t *meta, double *t)
{
    const char *v = NULL;
    *t = 0;
    gf_err rc = get_str(w, meta, "creationTimestamp", &v);
    if (rc || !v) return rc;
    char why[160];
    if (gf_usage_parse_time(v, t, why, sizeof why)) {
        size_t s = push_key(w, "creationTimestamp");
        warn(w, "%s: %s; read as absent", w->what, why);
        pop(w, s);
        *t = 0;
    }
    return GF_OK;
}

/* status.conditions: whether one of type `type` has status `status` and
 * reason `reason`; *message its message (or NULL). Entries that are not
 * objects with string fields are not such a condition. */
static bool has_condition(const json_t *status, const char *type, const char *st,
                          const char *reason, const char **message)
{
    const json_t *conds = json_object_get(status, "conditions"), *c;
    size_t i;
    if (!json_is_array(conds)) return false;
    json_array_foreach(conds, i, c)
    {
        const char *ct = json_string_value(json_object_get(c, "type"));
        const char *cs = json_string_value(json_object_get(c, "status"));
        const char *cr = json_string_value(json_object_get(c, "reason"));
        if (!ct || !cs || !cr || strcmp(ct, type) || strcmp(cs, st) || strcmp(cr, reason)) continue;
        if (message) *message = json_string_value(json_object_get(c, "message"));
        return true;
    }
    return false;
}

static gf_err load_pod(walk *w, const json_t *item)
{
    gf_pod p = {0};
    const json_t *meta, *spec, *status;
    gf_err rc;
    p.origin = origin(w);
    if ((rc = get_obj(w, item, "metadata", &meta))) return rc;
    size_t s = push_key(w, "metadata");
    const char *deletion = NULL;
    if (!(rc = get_str(w, meta, "name", &p.name)) && !(rc = get_str(w, meta, "namespace", &p.ns)) &&
        !(rc = get_str(w, meta, "uid", &p.uid)) &&
        !(rc = get_str(w, meta, "deletionTimestamp", &deletion))) {
        if (!p.name) rc = fail(w, "pod without metadata.name");
    }
    if (!rc) {
        if (!p.ns) p.ns = "default";
        snprintf(w->what, sizeof w->what, "pod %s/%s", p.ns, p.name);
        p.terminating = deletion != NULL;
        if (!(rc = get_kvs(w, meta, "labels", &p.labels)) &&
            !(rc = get_kvs(w, meta, "annotations", &p.annotations)) &&
            !(rc = get_owner(w, meta, &p.owner)))
            rc = get_created(w, meta, &p.created_t);
    }
    pop(w, s);
    if (rc) return rc;

    if ((rc = get_obj(w, item, "spec", &spec))) return rc;
    s = push_key(w, "spec");
    requests main = {0}, init = {0}, overhead = {0};
    strvec models = {0};
    int64_t prio = 0;
    bool present;
    if (!(rc = get_str(w, spec, "nodeName", &p.node_name)) &&
        !(rc = get_str(w, spec, "schedulerName", &p.scheduler_name)) &&
        !(rc = get_str(w, spec, "priorityClassName", &p.priority_class)) &&
        !(rc = get_int(w, spec, "priority", INT32_MIN, INT32_MAX, &present, &prio)) &&
        !(rc = get_kvs(w, spec, "nodeSelector", &p.node_selector)) &&
        !(rc = containers(w, spec, "containers", false, &main)) &&
        !(rc = containers(w, spec, "initContainers", true, &init)) &&
        !(rc = tolerations(w, spec, &p)))
        rc = affinity_models(w, spec, &models);
    if (!rc) {
        const json_t *ov;
        if (!(rc = get_obj(w, spec, "overhead", &ov)) && ov) {
            json_t *wrap = json_pack("{s:{s:O}}", "resources", "requests", ov);
            rc = container_requests(w, wrap, &overhead);
            json_decref(wrap);
        }
    }
    pop(w, s);
    if (rc) {
        gf_vec_free(&models);
        return rc;
    }
    p.priority = (int32_t)prio;
    p.cpu_milli =
        (main.cpu_milli > init.cpu_milli ? main.cpu_milli : init.cpu_milli) + overhead.cpu_milli;
    p.memory_bytes =
        (main.memory_bytes > init.memory_bytes ? main.memory_bytes : init.memory_bytes) +
        overhead.memory_bytes;
    int64_t gpus = main.gpus > init.gpus ? main.gpus : init.gpus;
    if (gpus > 4096) {
        gf_vec_free(&models);
        return fail(w, "requests %lld whole GPUs", (long long)gpus);
    }
    p.gpu_whole = (uint32_t)gpus;
    p.gpu_whole_container = main.gpu_container;

    /* GPU model constraint: nodeSelector, else required node affinity */
    const char *sel_model = gf_kvs_get(&p.node_selector, GF_LABEL_GPU_PRODUCT);
    if (sel_model) {
        models.n = 0;
        gf_vec_push(&models, sel_model);
    }
    if (models.n) {
        p.gpu_models = gf_arena_alloc(&w->m->arena, models.n * sizeof(char *));
        memcpy(p.gpu_models, models.v, models.n * sizeof(char *));
        p.n_gpu_models = (uint32_t)models.n;
    }
    gf_vec_free(&models);

    if ((rc = get_obj(w, item, "status", &status))) return rc;
    const char *phase = NULL;
    s = push_key(w, "status");
    rc = get_str(w, status, "phase", &phase);
    pop(w, s);
    if (rc) return rc;
    p.phase = parse_phase(phase);
    /* pkg/scheduler/cache/status_updater/default_status_updater.go
     * markTaskUnschedulable: KAI's condition on a pod it cannot place */
    p.unschedulable = has_condition(status, "PodScheduled", "False", "Unschedulable", NULL);

    /* KAI metadata; configurable names from w->m->kai */
    const gf_kai_names *kai = &w->m->kai;
    /* pkg/binder/controllers/pod_controller.go: KAI handles the pods whose
     * schedulerName is its own (an absent field: hand-written JSON, read as
     * KAI's; the API server always sets it) */
    p.is_kai = !p.scheduler_name || !strcmp(p.scheduler_name, kai->scheduler_name);
    p.queue = gf_kvs_get(&p.labels, kai->queue_label);
    /* pod_info/utility_pods.go IsResourceReservationTask: label app; the
     * binder creates them in its reservation namespace */
    const char *app = gf_kvs_get(&p.labels, GF_KAI_APP_LABEL);
    p.is_reservation =
        app && !strcmp(app, kai->reservation_app) && !strcmp(p.ns, kai->reservation_ns);
    if (p.is_reservation) {
        const char *dev = gf_kvs_get(&p.annotations, GF_KAI_RESERVE_GPU_INDEX);
        p.reserve_gpu = dev && *dev ? dev : NULL; /* the GPU's UUID: opaque */
    }
    p.pool_selector = gf_kvs_get(&p.node_selector, kai->node_pool_label);
    if (!p.pool_selector) p.pool_selector = gf_kvs_get(&p.labels, kai->node_pool_label);
    if (p.is_kai || p.is_reservation) {
        /* groups are label values (pkg/common/resources/gpu_sharing.go
         * GetGpuGroups); a multi-device fraction has only the prefixed ones */
        p.gpu_group = gf_kvs_get(&p.labels, GF_KAI_GPU_GROUP);
        if (p.gpu_group && !*p.gpu_group) p.gpu_group = NULL;
        size_t prefix = strlen(GF_KAI_GPU_GROUP "/");
        for (uint32_t i = 0; i < p.labels.n; i++)
            if (!strncmp(p.labels.items[i].key, GF_KAI_GPU_GROUP "/", prefix)) p.n_extra_groups++;
        if (p.n_extra_groups) {
            p.extra_groups = gf_arena_alloc(&w->m->arena, p.n_extra_groups * sizeof(char *));
            uint32_t k = 0;
            for (uint32_t i = 0; i < p.labels.n; i++) {
                const gf_kv *kv = &p.labels.items[i];
                if (strncmp(kv->key, GF_KAI_GPU_GROUP "/", prefix) || !*kv->value) continue;
                bool dup = p.gpu_group && !strcmp(p.gpu_group, kv->value);
                for (uint32_t j = 0; j < k && !dup; j++)
                    dup = !strcmp(p.extra_groups[j], kv->value);
                if (dup) continue;
                if (k == GF_KAI_MAX_GROUPS) { /* bounded: devices are at most that many */
                    warn(w, "%s: more than %d %s/<g> labels; the rest ignored", w->what,
                         GF_KAI_MAX_GROUPS, GF_KAI_GPU_GROUP);
                    break;
                }
                p.extra_groups[k++] = kv->value;
            }
            p.n_extra_groups = k;
        }
    }
    if (pod_sharing(w, &p, p.gpu_whole > 0)) return GF_OK; /* skipped, warned, counted */
    if (p.share != GF_SHARE_NONE) {
        /* the container that gets the share (pkg/binder/common/gpu_access.go
         * GetFractionContainerRef): the annotation's, init containers first,
         * else the first container */
        const char *want = gf_kvs_get(&p.annotations, GF_KAI_CONTAINER_NAME);
        const char *found = NULL, *first = NULL;
        static const char *lists[] = {"initContainers", "containers"};
        for (int l = 0; l < 2 && !found; l++) {
            const json_t *arr = json_object_get(spec, lists[l]);
            size_t i;
            const json_t *c;
            json_array_foreach(arr, i, c)
            {
                const json_t *nm = json_object_get(c, "name");
                if (!json_is_string(nm)) continue;
                if (l == 1 && !first) first = json_string_value(nm);
                if (want && !strcmp(want, json_string_value(nm))) {
                    found = json_string_value(nm);
                    p.gpu_container_init = l == 0;
                    break;
                }
            }
        }
        if (want && !found) {
            s = push_key(w, "metadata");
            size_t s2 = push_key(w, "annotations");
            size_t s3 = push_key(w, GF_KAI_CONTAINER_NAME);
            warn(w, "%s: %s \"%.60s\" names no container of the pod; KAI cannot bind it", w->what,
                 GF_KAI_CONTAINER_NAME, want);
            pop(w, s3);
            pop(w, s2);
            pop(w, s);
        }
        const char *name = found ? found : want ? want : first;
        p.gpu_container = name ? gf_arena_strdup(&w->m->arena, name) : NULL;
    }
    uint32_t ngroups = (p.gpu_group ? 1u : 0u) + p.n_extra_groups;
    if (ngroups > p.gpu_devices && p.share != GF_SHARE_NONE)
        warn(w, "%s: %u GPU groups but %s is %u", w->what, ngroups, GF_KAI_NUM_DEVICES,
             p.gpu_devices);
    if (p.share != GF_SHARE_NONE || p.gpu_whole) gpu_container_spec(w, spec, &p);
    gf_model_add_pod(w->m, &p, w->d);
    return GF_OK;
}

/* --- the GPU container, for engine detection ------------------------------------- */

static bool asks_whole_gpus(const json_t *c)
{
    const json_t *res = json_object_get(c, "resources");
    return json_object_get(json_object_get(res, "limits"), GF_RES_GPU) ||
           json_object_get(json_object_get(res, "requests"), GF_RES_GPU);
}

/* The container p's GPU work runs in (model.h gpu_image): its image,
 * command + args and literal env, copied (control characters escaped).
 * Entries of the wrong type are left out: the API server admits none. */
static void gpu_container_spec(walk *w, const json_t *spec, gf_pod *p)
{
    const json_t *pick = NULL;
    static const char *lists[] = {"initContainers", "containers"};
    for (int l = 0; l < 2 && !pick; l++) {
        const json_t *arr = json_object_get(spec, lists[l]);
        size_t i;
        const json_t *c;
        json_array_foreach(arr, i, c)
        {
            const json_t *nm = json_object_get(c, "name");
            bool named = p->gpu_container && json_is_string(nm) &&
                         !strcmp(json_string_value(nm), p->gpu_container);
            if (named || (!p->gpu_container && p->gpu_whole && l == 1 && asks_whole_gpus(c))) {
                pick = c;
                p->gpu_spec_init = l == 0;
                break;
            }
        }
    }
    if (!pick) pick = json_array_get(json_object_get(spec, "containers"), 0);
    if (!json_is_object(pick)) return;
    const json_t *cname = json_object_get(pick, "name");
    if (json_is_string(cname))
        p->gpu_spec_container = text_copy(w, json_string_value(cname), json_string_length(cname));
    const json_t *img = json_object_get(pick, "image");
    if (json_is_string(img))
        p->gpu_image = text_copy(w, json_string_value(img), json_string_length(img));
    const json_t *cmd = json_object_get(pick, "command"), *args = json_object_get(pick, "args");
    size_t n = json_array_size(cmd) + json_array_size(args);
    if (n && n < 100000) {
        p->gpu_argv = gf_arena_alloc(&w->m->arena, n * sizeof *p->gpu_argv);
        const json_t *parts[] = {cmd, args};
        for (int k = 0; k < 2; k++) {
            size_t i;
            const json_t *a;
            json_array_foreach(parts[k], i, a)
            {
                if (json_is_string(a))
                    p->gpu_argv[p->gpu_argc++] =
                        text_copy(w, json_string_value(a), json_string_length(a));
            }
            if (k == 0) p->gpu_cmd_n = p->gpu_argc;
        }
    }
    const json_t *env = json_object_get(pick, "env");
    size_t ne = json_array_size(env);
    if (ne && ne < 100000) {
        p->gpu_env.items = gf_arena_alloc(&w->m->arena, ne * sizeof(gf_kv));
        size_t i;
        const json_t *e;
        json_array_foreach(env, i, e)
        {
            const json_t *nm = json_object_get(e, "name"), *v = json_object_get(e, "value");
            if (!json_is_string(nm) || !json_is_string(v)) continue;
            gf_kv *kv = &p->gpu_env.items[p->gpu_env.n++];
            kv->key = text_copy(w, json_string_value(nm), json_string_length(nm));
            kv->value = text_copy(w, json_string_value(v), json_string_length(v));
        }
    }
}

/* --- workloads --------------------------------------------------------------- */

/* rollingUpdate's key (maxSurge, maxUnavailable), an IntOrString ("25%" or
 * 1), into *v (-1 when absent or refused, with a warning: the default). */
static void int_or_percent(walk *w, const json_t *ru, const char *key, int32_t *v_out,
                           bool *percent)
{
    const json_t *ms = json_object_get(ru, key);
    if (!ms || json_is_null(ms)) return;
    size_t s3 = push_key(w, key);
    const char *t = json_string_value(ms);
    char *end = NULL;
    long v = -1;
    if (json_is_integer(ms) && json_integer_value(ms) >= 0 && json_integer_value(ms) <= INT32_MAX) {
        v = (long)json_integer_value(ms);
    } else if (t) {
        errno = 0;
        v = strtol(t, &end, 10);
        if (errno || end == t || strcmp(end, "%") || v < 0 || v > 100000)
            v = -1;
        else
            *percent = true;
    }
    if (v < 0)
        warn(w, "%s: %s is not a count or a percentage; Kubernetes' default 25%% assumed", w->what,
             key);
    else
        *v_out = (int32_t)v;
    pop(w, s3);
}

/* Deployment spec.strategy (apps/v1): type Recreate, or RollingUpdate's
 * maxSurge, an IntOrString ("25%" or 1). A value the API server would refuse
 * is read as absent (the default) with a warning. */
static gf_err deployment_strategy(walk *w, const json_t *spec, gf_workload *wl)
{
    const json_t *st, *ru = NULL;
    gf_err rc = get_obj(w, spec, "strategy", &st);
    if (rc || !st) return rc;
    size_t s = push_key(w, "strategy");
    const char *type = NULL;
    if (!(rc = get_str(w, st, "type", &type))) rc = get_obj(w, st, "rollingUpdate", &ru);
    if (!rc && type && !strcmp(type, "Recreate")) wl->recreate = true;
    if (!rc && ru) {
        size_t s2 = push_key(w, "rollingUpdate");
        int_or_percent(w, ru, "maxSurge", &wl->max_surge, &wl->max_surge_percent);
        int_or_percent(w, ru, "maxUnavailable", &wl->max_unavailable, &wl->max_unavailable_percent);
        pop(w, s2);
    }
    pop(w, s);
    return rc;
}

static gf_err load_workload(walk *w, const json_t *item, const char *kind)
{
    gf_workload wl = {0};
    const json_t *meta, *spec, *tmpl, *tmeta;
    gf_err rc;
    wl.origin = origin(w);
    wl.kind = gf_arena_strdup(&w->m->arena, kind);
    wl.from_input = true;
    wl.replicas = -1;
    if ((rc = get_obj(w, item, "metadata", &meta))) return rc;
    size_t s = push_key(w, "metadata");
    if (!(rc = get_str(w, meta, "name", &wl.name)) &&
        !(rc = get_str(w, meta, "namespace", &wl.ns)) && !(rc = get_str(w, meta, "uid", &wl.uid))) {
        if (!wl.name) rc = fail(w, "%s without metadata.name", kind);
    }
    if (!rc) {
        if (!wl.ns) wl.ns = "default";
        snprintf(w->what, sizeof w->what, "%s %s/%s", kind, wl.ns, wl.name);
        if (!(rc = get_owner(w, meta, &wl.owner))) rc = get_kvs(w, meta, "labels", &wl.labels);
    }
    pop(w, s);
    if (rc) return rc;
    if ((rc = get_obj(w, item, "spec", &spec))) return rc;
    s = push_key(w, "spec");
    bool present;
    int64_t replicas = -1;
    rc = get_int(w, spec, "replicas", 0, INT32_MAX, &present, &replicas);
    wl.replicas = (int32_t)replicas;
    wl.max_surge = -1;
    wl.max_unavailable = -1;
    if (!rc && !strcmp(kind, "Deployment")) rc = deployment_strategy(w, spec, &wl);
    if (!rc) rc = get_obj(w, spec, "template", &tmpl);
    if (!rc && tmpl) {
        size_t s2 = push_key(w, "template");
        if (!(rc = get_obj(w, tmpl, "metadata", &tmeta)) && tmeta) {
            size_t s3 = push_key(w, "metadata");
            rc = get_kvs(w, tmeta, "annotations", &wl.template_annotations);
            pop(w, s3);
        }
        pop(w, s2);
    }
    pop(w, s);
    if (rc) return rc;
    /* k8s.io/kubernetes pkg/controller/replicaset/replica_set_utils.go
     * calculateStatus: ReplicaFailure True, reason FailedCreate, when the
     * controller cannot create the ReplicaSet's pods */
    const char *msg = NULL;
    if (!strcmp(kind, "ReplicaSet") &&
        has_condition(json_object_get(item, "status"), "ReplicaFailure", "True", "FailedCreate",
                      &msg))
        wl.failed_create = msg ? text_copy(w, msg, strlen(msg)) : "FailedCreate";
    gf_model_add_workload(w->m, &wl, w->d);
    return GF_OK;
}

/* --- PodDisruptionBudget (policy/v1) ------------------------------------------- */

static gf_err load_pdb(walk *w, const json_t *item)
{
    gf_pdb b = {0};
    const json_t *meta, *spec, *sel, *status;
    gf_err rc;
    b.origin = origin(w);
    if ((rc = get_obj(w, item, "metadata", &meta))) return rc;
    size_t s = push_key(w, "metadata");
    if (!(rc = get_str(w, meta, "name", &b.name)) && !(rc = get_str(w, meta, "namespace", &b.ns)) &&
        !b.name)
        rc = fail(w, "PodDisruptionBudget without metadata.name");
    pop(w, s);
    if (rc) return rc;
    if (!b.ns) b.ns = "default";
    snprintf(w->what, sizeof w->what, "PodDisruptionBudget %s/%s", b.ns, b.name);
    if ((rc = get_obj(w, item, "spec", &spec))) return rc;
    s = push_key(w, "spec");
    if (!(rc = get_obj(w, spec, "selector", &sel)) && sel) {
        size_t s2 = push_key(w, "selector");
        const json_t *exprs;
        rc = get_kvs(w, sel, "matchLabels", &b.match_labels);
        if (!rc && !(rc = get_arr(w, sel, "matchExpressions", &exprs)) && exprs &&
            json_array_size(exprs))
            warn(w, "%s: matchExpressions are not evaluated; only matchLabels select pods",
                 w->what);
        pop(w, s2);
    }
    pop(w, s);
    if (rc) return rc;
    if ((rc = get_obj(w, item, "status", &status))) return rc;
    s = push_key(w, "status");
    bool present;
    int64_t allowed = 0;
    rc = get_int(w, status, "disruptionsAllowed", 0, INT32_MAX, &present, &allowed);
    pop(w, s);
    if (rc) return rc;
    b.disruptions_allowed = (int32_t)allowed; /* absent: the controller has not allowed any yet */
    gf_vec_push(&w->m->pdbs, b);
    return GF_OK;
}

/* kai.scheduler/v1alpha1 Topology (pkg/apis/kai/v1alpha1/topology_types.go):
 * metadata.name and spec.levels[].nodeLabel, top level first. A Topology
 * without levels, or with a level without a label, is skipped with a
 * warning: a PodGroup that names it then pins its pods (decide/pack.h). */
static gf_err load_topology(walk *w, const json_t *item)
{
    gf_topology t = {0};
    const json_t *meta, *spec, *levels = NULL;
    gf_err rc;
    t.origin = origin(w);
    if ((rc = get_obj(w, item, "metadata", &meta))) return rc;
    size_t s = push_key(w, "metadata");
    if (!(rc = get_str(w, meta, "name", &t.name)) && !t.name)
        rc = fail(w, "Topology without metadata.name");
    pop(w, s);
    if (rc) return rc;
    snprintf(w->what, sizeof w->what, "Topology %s", t.name);
    if ((rc = get_obj(w, item, "spec", &spec))) return rc;
    s = push_key(w, "spec");
    if (!(rc = get_arr(w, spec, "levels", &levels)) && (!levels || !json_array_size(levels))) {
        warn(w, "%s: no levels; Topology skipped", w->what);
        pop(w, s);
        return GF_OK;
    }
    (void)push_key(w, "levels"); /* popped with spec */
    size_t n = rc ? 0 : json_array_size(levels);
    t.levels = gf_arena_alloc(&w->m->arena, (n + 1) * sizeof(const char *));
    for (size_t i = 0; i < n && !rc; i++) {
        size_t s3 = push_index(w, i);
        const json_t *lv = json_array_get(levels, i);
        const char *label = NULL;
        if (!json_is_object(lv))
            rc = fail(w, "expected an object, got %s", gf_json_type_name(lv));
        else if (!(rc = get_str(w, lv, "nodeLabel", &label)) && (!label || !*label)) {
            warn(w, "%s: a level without nodeLabel; Topology skipped", w->what);
            pop(w, s3);
            pop(w, s);
            return GF_OK;
        }
        if (!rc) t.levels[t.n_levels++] = label;
        pop(w, s3);
    }
    pop(w, s);
    if (rc) return rc;
    gf_vec_push(&w->m->topologies, t);
    w->m->finalized = false;
    return GF_OK;
}

/* --- KAI governance: Queue, PodGroup, PriorityClass, SchedulingShard -------------
 * Shapes: pkg/apis/scheduling/v2/queue_types.go and resources.go,
 * pkg/apis/scheduling/v2alpha2/podgroup_types.go, pkg/apis/kai/v1/
 * schedulingshard_types.go; PriorityClass is scheduling.k8s.io/v1. A field
 * KAI's API would refuse (a quota that is not a number, an unknown
 * preemptibility or strategy) leaves the object out with a warning naming
 * it and the field (GF_SKIP_KAI_OBJECT); a malformed object (metadata not an
 * object, no name) is an error like any other kind's. */

/* One odd governance object left out: a warning at the current path. */
static gf_err skip_object(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static gf_err skip_object(walk *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(w, "%s: %s; skipped", w->what, msg);
    w->m->skipped[GF_SKIP_KAI_OBJECT]++;
    return GF_OK;
}

/* metadata.name (and namespace when namespaced) of a governance object;
 * sets w->what to "<kind> [ns/]name". */
static gf_err gov_meta(walk *w, const json_t *item, const char *kind, bool namespaced,
                       const char **ns, const char **name, gf_owner_ref *owner, gf_kvs *labels)
{
    const json_t *meta;
    gf_err rc = get_obj(w, item, "metadata", &meta);
    if (rc) return rc;
    size_t s = push_key(w, "metadata");
    *name = NULL;
    if (ns) *ns = NULL;
    if (!(rc = get_str(w, meta, "name", name)) && !*name)
        rc = fail(w, "%s without metadata.name", kind);
    if (!rc && ns) rc = get_str(w, meta, "namespace", ns);
    if (!rc && owner) rc = get_owner(w, meta, owner);
    if (!rc && labels) rc = get_kvs(w, meta, "labels", labels);
    pop(w, s);
    if (rc) return rc;
    if (ns && !*ns) *ns = "default";
    if (namespaced)
        snprintf(w->what, sizeof w->what, "%s %s/%s", kind, *ns, *name);
    else
        snprintf(w->what, sizeof w->what, "%s %s", kind, *name);
    return GF_OK;
}

/* A QueueResource number (quota, limit, overQuotaWeight): JSON numbers in
 * KAI's CRD (float64). Returns false (warned, counted) when not a number. */
static bool queue_number(walk *w, const json_t *res, const char *key, double *out, bool *odd)
{
    const json_t *v = json_object_get(res, key);
    if (!v || json_is_null(v)) return true;
    size_t s = push_key(w, key);
    bool ok = json_is_number(v);
    if (ok) *out = json_number_value(v);
    if (ok && !(*out >= -1) && key[0] != 'o') ok = false; /* -1 = unlimited; less is not KAI's */
    if (!ok) {
        skip_object(w, "%s is %s, not a number of -1 (unlimited) or more", key,
                    json_is_number(v) ? "below -1" : gf_json_type_name(v));
        *odd = true;
    }
    pop(w, s);
    return ok;
}

/* status.allocated / allocatedNonPreemptible nvidia.com/gpu: a Quantity of
 * GPUs in fractions ("1500m", "1.5"). */
static bool queue_status_gpu(walk *w, const json_t *status, const char *key, double *out, bool *odd)
{
    const json_t *list = json_object_get(status, key);
    if (!list || json_is_null(list)) return true;
    size_t s = push_key(w, key);
    const json_t *v = json_is_object(list) ? json_object_get(list, GF_RES_GPU) : NULL;
    const char *why = NULL;
    int64_t milli = 0;
    bool ok = true;
    if (!json_is_object(list)) {
        skip_object(w, "%s is %s, not a resource list", key, gf_json_type_name(list));
        ok = false;
    } else if (v && !json_is_null(v)) {
        size_t s2 = push_key(w, GF_RES_GPU);
        if (!json_is_string(v) && !json_is_number(v)) {
            skip_object(w, "%s is %s, not a quantity", GF_RES_GPU, gf_json_type_name(v));
            ok = false;
        } else if (json_is_number(v)) {
            *out = json_number_value(v);
        } else if (gf_quantity_milli(json_string_value(v), &milli, &why)) {
            skip_object(w, "bad quantity \"%.60s\": %s", json_string_value(v), why);
            ok = false;
        } else {
            *out = milli / 1000.0;
        }
        pop(w, s2);
    }
    pop(w, s);
    if (!ok) *odd = true;
    return ok;
}

static gf_err load_queue(walk *w, const json_t *item)
{
    gf_queue q = {0};
    q.origin = origin(w);
    q.priority = 100; /* QueueSpec.Priority: "When not set, default is 100" */
    q.gpu.quota = q.cpu.quota = q.memory.quota = 0;
    gf_err rc = gov_meta(w, item, "Queue", false, NULL, &q.name, NULL, NULL);
    if (rc) return rc;
    const json_t *spec, *res = NULL, *status;
    if ((rc = get_obj(w, item, "spec", &spec))) return rc;
    size_t s = push_key(w, "spec");
    bool odd = false, present;
    int64_t prio = 100;
    if (!(rc = get_str(w, spec, "parentQueue", &q.parent)) &&
        !(rc = get_int(w, spec, "priority", INT32_MIN, INT32_MAX, &present, &prio)))
        rc = get_obj(w, spec, "resources", &res);
    if (!rc && q.parent && !*q.parent) q.parent = NULL;
    q.priority = (int32_t)prio;
    static const char *names[] = {"gpu", "cpu", "memory"};
    gf_queue_res *dst[] = {&q.gpu, &q.cpu, &q.memory};
    if (!rc && res) {
        size_t s2 = push_key(w, "resources");
        for (int k = 0; k < 3 && !rc && !odd; k++) {
            const json_t *r;
            if ((rc = get_obj(w, res, names[k], &r)) || !r) continue;
            size_t s3 = push_key(w, names[k]);
            if (queue_number(w, r, "quota", &dst[k]->quota, &odd) &&
                queue_number(w, r, "limit", &dst[k]->limit, &odd))
                queue_number(w, r, "overQuotaWeight", &dst[k]->over_quota_weight, &odd);
            pop(w, s3);
        }
        pop(w, s2);
    }
    pop(w, s);
    if (rc || odd) return rc;
    if ((rc = get_obj(w, item, "status", &status))) return rc;
    if (status) {
        s = push_key(w, "status");
        q.has_status = json_object_get(status, "allocated") != NULL ||
                       json_object_get(status, "allocatedNonPreemptible") != NULL;
        if (queue_status_gpu(w, status, "allocated", &q.alloc_gpu, &odd))
            queue_status_gpu(w, status, "allocatedNonPreemptible", &q.alloc_np_gpu, &odd);
        pop(w, s);
        if (odd) return GF_OK;
    }
    for (size_t i = 0; i < w->m->queues.n; i++)
        if (!strcmp(w->m->queues.v[i].name, q.name)) {
            warn(w, "%s already loaded from %s; duplicate skipped", w->what,
                 w->m->queues.v[i].origin);
            return GF_OK;
        }
    gf_vec_push(&w->m->queues, q);
    w->m->finalized = false;
    return GF_OK;
}

static gf_err load_podgroup(walk *w, const json_t *item)
{
    gf_podgroup g = {0};
    g.origin = origin(w);
    gf_err rc = gov_meta(w, item, "PodGroup", true, &g.ns, &g.name, &g.owner, NULL);
    if (rc) return rc;
    const json_t *spec, *topo = NULL;
    if ((rc = get_obj(w, item, "spec", &spec))) return rc;
    size_t s = push_key(w, "spec");
    bool present;
    int64_t min_member = 1;
    const char *pre = NULL;
    if (!(rc = get_int(w, spec, "minMember", 0, INT32_MAX, &present, &min_member)) &&
        !(rc = get_str(w, spec, "queue", &g.queue)) &&
        !(rc = get_str(w, spec, "priorityClassName", &g.priority_class)) &&
        !(rc = get_str(w, spec, "preemptibility", &pre)))
        rc = get_obj(w, spec, "topologyConstraint", &topo);
    if (!rc && topo) {
        size_t s2 = push_key(w, "topologyConstraint");
        if (!(rc = get_str(w, topo, "topology", &g.topology)) &&
            !(rc = get_str(w, topo, "requiredTopologyLevel", &g.required_level)))
            rc = get_str(w, topo, "preferredTopologyLevel", &g.preferred_level);
        pop(w, s2);
    }
    g.min_member = (int32_t)min_member;
    bool odd = false;
    /* v2alpha2.ParsePreemptibility: exactly these two, or empty */
    if (!rc && pre && *pre) {
        if (!strcmp(pre, "preemptible"))
            g.preemptibility = GF_PREEMPT_PREEMPTIBLE;
        else if (!strcmp(pre, "non-preemptible"))
            g.preemptibility = GF_PREEMPT_NON_PREEMPTIBLE;
        else {
            size_t s2 = push_key(w, "preemptibility");
            skip_object(w,
                        "preemptibility \"%.60s\": KAI accepts \"preemptible\" or "
                        "\"non-preemptible\"",
                        pre);
            pop(w, s2);
            odd = true;
        }
    }
    pop(w, s);
    if (rc || odd) return rc;
    gf_vec_push(&w->m->podgroups, g);
    w->m->finalized = false;
    return GF_OK;
}

static gf_err load_priority_class(walk *w, const json_t *item)
{
    gf_priority_class c = {0};
    c.origin = origin(w);
    gf_err rc = gov_meta(w, item, "PriorityClass", false, NULL, &c.name, NULL, NULL);
    if (rc) return rc;
    const json_t *v = json_object_get(item, "value");
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
        json_integer_value(v) > INT32_MAX) {
        size_t s = push_key(w, "value");
        skip_object(w, "value is %s, not a 32-bit integer", v ? gf_json_type_name(v) : "missing");
        pop(w, s);
        return GF_OK;
    }
    c.value = (int32_t)json_integer_value(v);
    gf_vec_push(&w->m->priority_classes, c);
    w->m->finalized = false;
    return GF_OK;
}

/* "binpack" (the default when empty) or "spread" (schedulingshard_types.go). */
static bool strategy(walk *w, const json_t *ps, const char *key, gf_placement_strategy *out)
{
    const json_t *v = json_object_get(ps, key);
    *out = GF_PLACE_BINPACK;
    if (!v || json_is_null(v)) return true;
    const char *t = json_string_value(v);
    if (t && (!*t || !strcmp(t, "binpack"))) return true;
    if (t && !strcmp(t, "spread")) {
        *out = GF_PLACE_SPREAD;
        return true;
    }
    size_t s = push_key(w, key);
    if (t)
        skip_object(w, "strategy \"%.60s\": KAI accepts \"binpack\" or \"spread\"", t);
    else
        skip_object(w, "strategy is %s, not a string", gf_json_type_name(v));
    pop(w, s);
    return false;
}

static gf_err load_shard(walk *w, const json_t *item)
{
    gf_shard sh = {0};
    sh.origin = origin(w);
    gf_err rc = gov_meta(w, item, "SchedulingShard", false, NULL, &sh.name, NULL, NULL);
    if (rc) return rc;
    const json_t *spec, *ps = NULL;
    if ((rc = get_obj(w, item, "spec", &spec))) return rc;
    size_t s = push_key(w, "spec");
    if (!(rc = get_str(w, spec, "partitionLabelValue", &sh.partition_value)))
        rc = get_obj(w, spec, "placementStrategy", &ps);
    bool ok = true;
    if (!rc && ps) {
        size_t s2 = push_key(w, "placementStrategy");
        ok = strategy(w, ps, "gpu", &sh.gpu) && strategy(w, ps, "cpu", &sh.cpu);
        pop(w, s2);
    }
    pop(w, s);
    if (rc || !ok) return rc;
    gf_vec_push(&w->m->shards, sh);
    w->m->finalized = false;
    return GF_OK;
}

/* --- top level ------------------------------------------------------------------ */

static gf_err load_object(walk *w, const json_t *item, const char *list_kind)
{
    w->what[0] = '\0';
    if (!json_is_object(item))
        return fail(w, "expected an object, got %s", gf_json_type_name(item));
    const char *kind = NULL;
    const json_t *k = json_object_get(item, "kind");
    if (k && !json_is_string(k)) {
        size_t s = push_key(w, "kind");
        gf_err rc = fail(w, "expected a string, got %s", gf_json_type_name(k));
        pop(w, s);
        return rc;
    }
    kind = k ? json_string_value(k) : list_kind;
    if (!kind || !*kind) return fail(w, "object without kind");
    if (!strcmp(kind, "Node")) return load_node(w, item);
    if (!strcmp(kind, "Pod")) return load_pod(w, item);
    if (!strcmp(kind, "PodDisruptionBudget")) return load_pdb(w, item);
    if (!strcmp(kind, "Queue")) return load_queue(w, item);
    if (!strcmp(kind, "PodGroup")) return load_podgroup(w, item);
    if (!strcmp(kind, "PriorityClass")) return load_priority_class(w, item);
    if (!strcmp(kind, "SchedulingShard")) return load_shard(w, item);
    if (!strcmp(kind, "Topology")) {
        const json_t *api = json_object_get(item, "apiVersion");
        if (!api || (json_is_string(api) && !strncmp(json_string_value(api), "kai.scheduler/", 14)))
            return load_topology(w, item);
    }
    static const char *workloads[] = {"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet",
                                      "Job"};
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (!strcmp(kind, workloads[i])) return load_workload(w, item, kind);
    warn(w, "kind %s is not used by gpufrac; skipped", kind);
    return GF_OK;
}

/* --- streaming a List ------------------------------------------------------------
 * A large List (10,000 nodes and 200,000 pods make a 100+ MB file) is read
 * item by item: jansson parses one item at a time (JSON_DISABLE_EOF_CHECK
 * stops after one value and says where), so memory holds the model and one
 * item's tree, never the tree of the whole file. Other top-level values are
 * small and parsed whole. Anything unexpected at the top level (not an object,
 * no items array, a duplicate key) goes to the whole-document path, which
 * reports errors exactly as before. */

#define JFLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

static size_t skip_ws(const char *b, size_t len, size_t i)
{
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

/* One JSON value at b[i..] parsed with jansson; *end is where it stops. */
static json_t *parse_at(const char *b, size_t len, size_t i, size_t *end, json_error_t *jerr)
{
    json_t *v = json_loadb(b + i, len - i, JFLAGS | JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, jerr);
    if (v) *end = i + jerr->position;
    return v;
}

/* End of the value starting at b[i] (structure only: strings, nesting), or 0. */
static size_t skip_value(const char *b, size_t len, size_t i)
{
    int depth = 0;
    for (; i < len; i++) {
        char c = b[i];
        if (c == '"') {
            for (i++; i < len && b[i] != '"'; i++)
                if (b[i] == '\\') i++;
            if (i >= len) return 0;
            if (depth == 0) return i + 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth < 0) return 0;
            if (depth == 0) return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
            return i;
        }
    }
    return depth == 0 ? i : 0;
}

/* "line L, column C" of byte offset off plus a jansson position inside a slice. */
static gf_err slice_error(gf_error *err, const char *name, const char *b, size_t off,
                          const json_error_t *jerr)
{
    int line = 1, col = 1;
    for (size_t k = 0; k < off; k++) {
        if (b[k] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int l = jerr->line <= 1 ? line : line + jerr->line - 1;
    int c = jerr->line <= 1 ? col + jerr->column - 1 : jerr->column;
    return gf_error_set(err, GF_EINPUT, name, "line %d, column %d: invalid JSON: %s", l, c,
                        jerr->text);
}

typedef enum { STREAM_DONE, STREAM_FALLBACK } stream_rc;

/* Streams a top-level object with an items array; *rc is the load's result
 * when STREAM_DONE. Nothing is added to the model before the top level is
 * known to be a List. */
static stream_rc load_stream(walk *w, const char *b, size_t len, gf_err *rc)
{
    size_t i = skip_ws(b, len, 0), items_at = 0;
    if (i >= len || b[i] != '{') return STREAM_FALLBACK;
    char kind[128] = "";
    bool have_kind = false;
    /* pass 1: top-level keys; values parsed, except items (located only) */
    i = skip_ws(b, len, i + 1);
    if (i < len && b[i] == '}') return STREAM_FALLBACK;
    for (;;) {
        json_error_t jerr;
        size_t end;
        json_t *key = i < len && b[i] == '"' ? parse_at(b, len, i, &end, &jerr) : NULL;
        if (!key) return STREAM_FALLBACK;
        bool is_items = !strcmp(json_string_value(key), "items");
        bool is_kind = !strcmp(json_string_value(key), "kind");
        json_decref(key);
        i = skip_ws(b, len, end);
        if (i >= len || b[i] != ':') return STREAM_FALLBACK;
        i = skip_ws(b, len, i + 1);
        if (is_items) {
            if (items_at || i >= len || b[i] != '[') return STREAM_FALLBACK;
            items_at = i;
            end = skip_value(b, len, i);
            if (!end) return STREAM_FALLBACK;
        } else {
            json_t *v = i < len ? parse_at(b, len, i, &end, &jerr) : NULL;
            if (!v) return STREAM_FALLBACK;
            if (is_kind) {
                if (have_kind || !json_is_string(v) || json_string_length(v) >= sizeof kind) {
                    json_decref(v);
                    return STREAM_FALLBACK;
                }
                snprintf(kind, sizeof kind, "%s", json_string_value(v));
                have_kind = true;
            }
            json_decref(v);
        }
        i = skip_ws(b, len, end);
        if (i < len && b[i] == ',') {
            i = skip_ws(b, len, i + 1);
            continue;
        }
        if (i < len && b[i] == '}') break;
        return STREAM_FALLBACK;
    }
    if (skip_ws(b, len, i + 1) != len) return STREAM_FALLBACK; /* trailing bytes */
    size_t kl = strlen(kind);
    if (!items_at || kl < 4 || strcmp(kind + kl - 4, "List") != 0) return STREAM_FALLBACK;

    /* pass 2: the items, one at a time */
    char item_kind[64] = "";
    if (kl > 4 && kl - 4 < sizeof item_kind) {
        memcpy(item_kind, kind, kl - 4);
        item_kind[kl - 4] = '\0';
    }
    i = skip_ws(b, len, items_at + 1);
    *rc = GF_OK;
    if (i < len && b[i] == ']') return STREAM_DONE;
    for (size_t n = 0;; n++) {
        json_error_t jerr;
        size_t end;
        json_t *item = parse_at(b, len, i, &end, &jerr);
        if (!item) {
            *rc = slice_error(w->err, w->file, b, i, &jerr);
            return STREAM_DONE;
        }
        size_t s = push_key(w, "items");
        push_index(w, n);
        *rc = load_object(w, item, item_kind[0] ? item_kind : NULL);
        pop(w, s);
        json_decref(item);
        if (*rc) return STREAM_DONE;
        i = skip_ws(b, len, end);
        if (i < len && b[i] == ',') {
            i = skip_ws(b, len, i + 1);
            continue;
        }
        if (i < len && b[i] == ']') return STREAM_DONE;
        /* cannot happen after skip_value() accepted the array; be safe */
        *rc = gf_error_set(w->err, GF_EINPUT, w->file, "items[%zu]: expected ',' or ']'", n);
        return STREAM_DONE;
    }
}

gf_err gf_snapshot_load_buffer(gf_model *m, const char *name, const char *buf, size_t len,
                               gf_diags *d, gf_error *err)
{
    walk w = {0};
    w.m = m;
    w.d = d;
    w.err = err;
    w.file = name;
    gf_err rc = GF_OK;
    if (load_stream(&w, buf, len, &rc) == STREAM_DONE) return rc;

    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JFLAGS, &jerr);
    if (!root)
        return gf_error_set(err, GF_EINPUT, name, "line %d, column %d: invalid JSON: %s", jerr.line,
                            jerr.column, jerr.text);
    if (!json_is_object(root)) {
        rc = fail(&w, "expected a Kubernetes object or List, got %s", gf_json_type_name(root));
        goto out;
    }
    const json_t *kind = json_object_get(root, "kind");
    const json_t *items = json_object_get(root, "items");
    const char *k = json_is_string(kind) ? json_string_value(kind) : NULL;
    size_t kl = k ? strlen(k) : 0;
    if (k && kl >= 4 && !strcmp(k + kl - 4, "List")) {
        if (!json_is_array(items)) {
            size_t s = push_key(&w, "items");
            rc = fail(&w, "a %s needs an items array", k);
            pop(&w, s);
            goto out;
        }
        /* "PodList" items carry no kind; "List" items must. */
        char item_kind[64] = "";
        if (kl > 4 && kl - 4 < sizeof item_kind) {
            memcpy(item_kind, k, kl - 4);
            item_kind[kl - 4] = '\0';
        }
        size_t i;
        const json_t *item;
        json_array_foreach(items, i, item)
        {
            size_t s = push_key(&w, "items");
            push_index(&w, i);
            rc = load_object(&w, item, item_kind[0] ? item_kind : NULL);
            pop(&w, s);
            if (rc) break;
        }
    } else {
        rc = load_object(&w, root, NULL);
    }
out:
    json_decref(root);
    return rc;
}

gf_err gf_snapshot_load_file(gf_model *m, const char *path, gf_diags *d, gf_error *err)
{
    bool is_stdin = !strcmp(path, "-");
    gf_sbuf b = GF_SBUF_INIT;
    gf_err rc = gf_input_read_capped(path, "snapshot", &b, err);
    if (!rc && b.len == 0)
        rc = gf_error_set(err, GF_EINPUT, is_stdin ? "(stdin)" : path, "empty input");
    else if (!rc)
        rc = gf_snapshot_load_buffer(m, is_stdin ? "(stdin)" : path, b.s, b.len, d, err);
    gf_sbuf_free(&b);
    return rc;
}

gf_err gf_snapshot_load_files(gf_model *m, char *const *paths, int npaths, gf_diags *d,
                              gf_error *err)
{
    for (int i = 0; i < npaths; i++) {
        gf_err rc = gf_snapshot_load_file(m, paths[i], d, err);
        if (rc) return rc;
    }
    return gf_model_finalize(m, d, err);
}
