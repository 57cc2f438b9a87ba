/* podlist.c - PodList JSON -> the exporter's pod index, see podlist.h.
 *
 * A walk over jansson's tree that keeps the JSON path of where it is, so
 * that every error names the input and the path (the same style as
 * io/snapshot_json.c, reduced to the fields the exporter reads). */
#include "exporter/podlist.h"
#include "io/jsonpath.h"
#include "model/kai.h"
#include "model/quantity.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEVICES 64 /* gpu-fraction-num-devices, as the snapshot loader allows */

typedef struct walk {
    gf_podlist *l;
    gf_diags *d;
    gf_error *err;
    const char *name;
    char path[512];
    size_t plen;
    char what[300]; /* "pod ns/name" once known */
} walk;

/* --- paths and messages -------------------------------------------------- */

static size_t push(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t push(walk *w, const char *fmt, ...)
{
    size_t saved = w->plen;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->path + w->plen, sizeof w->path - w->plen, fmt, ap);
    va_end(ap);
    if (n > 0) w->plen += (size_t)n;
    if (w->plen >= sizeof w->path) w->plen = sizeof w->path - 1;
    return saved;
}

static size_t push_key(walk *w, const char *key)
{
    return gf_path_push_key(w->path, sizeof w->path, &w->plen, key);
}

static size_t push_index(walk *w, size_t i)
{
    return push(w, "[%zu]", i);
}

static void pop(walk *w, size_t saved)
{
    w->plen = saved;
    w->path[saved] = '\0';
}

static void where(const walk *w, char *buf, size_t n)
{
    snprintf(buf, n, "%s: %s", w->name, w->plen ? w->path : "(top level)");
}

static gf_err fail(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static gf_err fail(walk *w, const char *fmt, ...)
{
    char msg[400], loc[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    where(w, loc, sizeof loc);
    if (w->what[0]) return gf_error_set(w->err, GF_EINPUT, loc, "%s: %s", w->what, msg);
    return gf_error_set(w->err, GF_EINPUT, loc, "%s", msg);
}

static void warn(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(walk *w, const char *fmt, ...)
{
    char msg[400], loc[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    where(w, loc, sizeof loc);
    gf_diag(w->d, loc, "%s: %s", w->what, msg);
}

/* --- typed access: absent or null -> *out NULL, wrong type -> error ------- */

static gf_err field(walk *w, const json_t *obj, const char *key, json_type type, const json_t **out)
{
    *out = NULL;
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) return GF_OK;
    if (json_typeof(v) != type) {
        static const char *const want[] = {"an object", "an array",  "a string",  "an integer",
                                           "a number",  "a boolean", "a boolean", "null"};
        size_t s = push_key(w, key);
        gf_err rc = fail(w, "expected %s, got %s", want[type], gf_json_type_name(v));
        pop(w, s);
        return rc;
    }
    *out = v;
    return GF_OK;
}

static gf_err get_str(walk *w, const json_t *obj, const char *key, const char **out)
{
    const json_t *v;
    gf_err rc = field(w, obj, key, JSON_STRING, &v);
    *out = v ? gf_arena_strndup(&w->l->arena, json_string_value(v), json_string_length(v)) : NULL;
    return rc;
}

/* A string map (labels, annotations): every value must be a string. */
static gf_err get_map(walk *w, const json_t *obj, const char *key, const json_t **out)
{
    gf_err rc = field(w, obj, key, JSON_OBJECT, out);
    if (rc || !*out) return rc;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)*out, k, v)
    {
        if (!json_is_string(v)) {
            size_t s = push_key(w, key);
            size_t s2 = push_key(w, k);
            rc = fail(w, "expected a string, got %s", gf_json_type_name(v));
            pop(w, s2);
            pop(w, s);
            return rc;
        }
    }
    return GF_OK;
}

static const char *map_get(const json_t *map, const char *key)
{
    const json_t *v = map ? json_object_get(map, key) : NULL;
    return v ? json_string_value(v) : NULL;
}

/* --- one pod ------------------------------------------------------------- */

/* nvidia.com/gpu of one container's limits (else requests). */
static gf_err whole_gpus(walk *w, const json_t *c, int64_t *out)
{
    *out = 0;
    const json_t *res;
    gf_err rc = field(w, c, "resources", JSON_OBJECT, &res);
    if (rc || !res) return rc;
    size_t s = push_key(w, "resources");
    static const char *const kinds[] = {"limits", "requests"};
    for (int k = 0; k < 2 && !rc && *out == 0; k++) {
        const json_t *map;
        if ((rc = field(w, res, kinds[k], JSON_OBJECT, &map)) || !map) continue;
        const json_t *q = json_object_get(map, GF_RES_GPU);
        if (!q || json_is_null(q)) continue;
        size_t s2 = push_key(w, kinds[k]);
        size_t s3 = push_key(w, GF_RES_GPU);
        const char *why = NULL;
        int64_t v = 0;
        if (json_is_integer(q))
            v = json_integer_value(q);
        else if (!json_is_string(q))
            rc = fail(w, "expected a quantity string, got %s", gf_json_type_name(q));
        else if (gf_quantity_value(json_string_value(q), &v, &why))
            rc = fail(w, "bad quantity \"%.60s\": %s", json_string_value(q), why);
        if (!rc && (v < 0 || v > 4096)) rc = fail(w, "%lld GPUs is out of range", (long long)v);
        if (!rc) *out = v;
        pop(w, s3);
        pop(w, s2);
    }
    pop(w, s);
    return rc;
}

static uint32_t add_container(walk *w, gf_pl_pod *p, const char *name, bool init)
{
    for (uint32_t i = 0; i < p->n_containers; i++)
        if (!strcmp(w->l->containers.v[p->first_container + i].name, name))
            return p->first_container + i;
    gf_pl_container c = {gf_arena_strdup(&w->l->arena, name), NULL, (uint32_t)w->l->pods.n, 0,
                         init};
    gf_vec_push(&w->l->containers, c);
    p->n_containers++;
    return (uint32_t)w->l->containers.n - 1;
}

static gf_err spec_containers(walk *w, const json_t *spec, const char *key, gf_pl_pod *p)
{
    const json_t *arr;
    gf_err rc = field(w, spec, key, JSON_ARRAY, &arr);
    if (rc || !arr) return rc;
    size_t s = push_key(w, key);
    for (size_t i = 0; i < json_array_size(arr) && !rc; i++) {
        const json_t *c = json_array_get(arr, i);
        size_t s2 = push_index(w, i);
        const char *name;
        int64_t gpus = 0;
        if (!json_is_object(c))
            rc = fail(w, "expected an object, got %s", gf_json_type_name(c));
        else if (!(rc = get_str(w, c, "name", &name)) && !name)
            rc = fail(w, "container without a name");
        else if (!rc && !(rc = whole_gpus(w, c, &gpus))) {
            /* the index first: adding may move the vector */
            uint32_t ci = add_container(w, p, name, strcmp(key, "containers") != 0);
            w->l->containers.v[ci].whole_gpus = gpus;
        }
        pop(w, s2);
    }
    pop(w, s);
    return rc;
}

static gf_err container_statuses(walk *w, const json_t *status, const char *key, gf_pl_pod *p)
{
    const json_t *arr;
    gf_err rc = field(w, status, key, JSON_ARRAY, &arr);
    if (rc || !arr) return rc;
    size_t s = push_key(w, key);
    for (size_t i = 0; i < json_array_size(arr) && !rc; i++) {
        const json_t *c = json_array_get(arr, i);
        size_t s2 = push_index(w, i);
        const char *name, *id;
        if (!json_is_object(c)) {
            rc = fail(w, "expected an object, got %s", gf_json_type_name(c));
        } else if (!(rc = get_str(w, c, "name", &name)) &&
                   !(rc = get_str(w, c, "containerID", &id)) && name && id && *id) {
            const char *sep = strstr(id, "://");
            const char *bare = sep ? sep + 3 : id;
            if (*bare) {
                uint32_t ci = add_container(w, p, name, strcmp(key, "containerStatuses") != 0);
                w->l->containers.v[ci].id = bare;
            }
        }
        pop(w, s2);
    }
    pop(w, s);
    return rc;
}

/* The KAI share from the annotations; a bad value costs only the allocation. */
static void kai_share(walk *w, gf_pl_pod *p, const json_t *ann)
{
    const char *frac = map_get(ann, GF_KAI_GPU_FRACTION);
    const char *mem = map_get(ann, GF_KAI_GPU_MEMORY);
    const char *ndev = map_get(ann, GF_KAI_NUM_DEVICES);
    const char *why = NULL;
    size_t s = push_key(w, "metadata");
    size_t s2 = push_key(w, "annotations");
    if (frac && mem) {
        warn(w, "both %s and %s are set (KAI accepts one); no allocation reported",
             GF_KAI_GPU_FRACTION, GF_KAI_GPU_MEMORY);
    } else if (frac) {
        size_t s3 = push_key(w, GF_KAI_GPU_FRACTION);
        if (gf_kai_parse_fraction(frac, &p->fraction, &why))
            warn(w, "%s \"%.60s\": %s; no allocation reported", GF_KAI_GPU_FRACTION, frac, why);
        else
            p->alloc = GF_ALLOC_FRACTION;
        pop(w, s3);
    } else if (mem) {
        size_t s3 = push_key(w, GF_KAI_GPU_MEMORY);
        if (gf_kai_parse_gpu_memory_mib(mem, &p->memory_mib, &why))
            warn(w, "%s \"%.60s\" (MiB): %s; no allocation reported", GF_KAI_GPU_MEMORY, mem, why);
        else
            p->alloc = GF_ALLOC_MEMORY;
        pop(w, s3);
    }
    p->devices = 1;
    if (ndev && p->alloc != GF_ALLOC_NONE) {
        size_t s3 = push_key(w, GF_KAI_NUM_DEVICES);
        int64_t v;
        if (gf_kai_parse_count(ndev, MAX_DEVICES, &v, &why)) {
            warn(w, "%s \"%.60s\": %s; no allocation reported", GF_KAI_NUM_DEVICES, ndev, why);
            p->alloc = GF_ALLOC_NONE;
        } else {
            p->devices = (uint32_t)v;
        }
        pop(w, s3);
    }
    pop(w, s2);
    pop(w, s);
}

/* runai-gpu-group and runai-gpu-group/<g> label values. */
static void gpu_groups(walk *w, gf_pl_pod *p, const json_t *labels)
{
    size_t n = 0, plen = strlen(GF_KAI_GPU_GROUP);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)labels, k, v)
    {
        if (!strncmp(k, GF_KAI_GPU_GROUP, plen) && (k[plen] == '\0' || k[plen] == '/')) n++;
    }
    if (!n) return;
    p->groups = gf_arena_alloc(&w->l->arena, n * sizeof *p->groups);
    json_object_foreach((json_t *)labels, k, v)
    {
        if (strncmp(k, GF_KAI_GPU_GROUP, plen) || (k[plen] != '\0' && k[plen] != '/')) continue;
        const char *g = json_string_value(v);
        bool dup = false;
        for (uint32_t i = 0; i < p->n_groups; i++)
            if (!strcmp(p->groups[i], g)) dup = true;
        if (!dup && *g) p->groups[p->n_groups++] = gf_arena_strdup(&w->l->arena, g);
        if (p->n_groups == GF_KAI_MAX_GROUPS + 1) break; /* bounded, as core/kai.h says */
    }
}

static gf_err load_pod(walk *w, const json_t *item)
{
    gf_podlist *l = w->l;
    gf_pl_pod p;
    memset(&p, 0, sizeof p);
    p.first_container = (uint32_t)l->containers.n;
    const json_t *meta, *spec, *status, *labels = NULL, *ann = NULL;
    gf_err rc;
    w->what[0] = '\0';
    if ((rc = field(w, item, "metadata", JSON_OBJECT, &meta))) return rc;
    if (!meta) return fail(w, "pod without metadata");
    size_t s = push_key(w, "metadata");
    if (!(rc = get_str(w, meta, "name", &p.name)) && !(rc = get_str(w, meta, "namespace", &p.ns)) &&
        !(rc = get_str(w, meta, "uid", &p.uid)) && !(rc = get_map(w, meta, "labels", &labels)))
        rc = get_map(w, meta, "annotations", &ann);
    if (!rc && (!p.name || !*p.name)) rc = fail(w, "pod without metadata.name");
    if (!rc && !p.ns) p.ns = "default";
    if (!rc) snprintf(w->what, sizeof w->what, "pod %.120s/%.120s", p.ns, p.name);
    if (!rc && (!p.uid || !*p.uid)) rc = fail(w, "no metadata.uid");
    pop(w, s);
    if (rc) return rc;

    if ((rc = field(w, item, "spec", JSON_OBJECT, &spec))) return rc;
    s = push_key(w, "spec");
    const char *scheduler = NULL;
    if (!(rc = get_str(w, spec, "nodeName", &p.node)) &&
        !(rc = get_str(w, spec, "schedulerName", &scheduler)) &&
        !(rc = spec_containers(w, spec, "initContainers", &p)))
        rc = spec_containers(w, spec, "containers", &p);
    pop(w, s);
    if (rc) return rc;

    if ((rc = field(w, item, "status", JSON_OBJECT, &status))) return rc;
    s = push_key(w, "status");
    if (!(rc = get_str(w, status, "phase", &p.phase)) &&
        !(rc = container_statuses(w, status, "initContainerStatuses", &p)) &&
        !(rc = container_statuses(w, status, "containerStatuses", &p)))
        rc = container_statuses(w, status, "ephemeralContainerStatuses", &p);
    pop(w, s);
    if (rc) return rc;

    /* KAI's rules, as in the snapshot reader (core/kai.h): a reservation pod
     * is labelled app=<reservation app> in the reservation namespace
     * (pod_info/utility_pods.go); only pods of KAI's scheduler carry KAI
     * shares (an absent schedulerName: hand-written JSON, read as KAI's) */
    const char *app = map_get(labels, GF_KAI_APP_LABEL);
    p.reservation =
        app && !strcmp(app, l->kai.reservation_app) && !strcmp(p.ns, l->kai.reservation_ns);
    bool is_kai = !scheduler || !strcmp(scheduler, l->kai.scheduler_name);
    const char *reserve = map_get(ann, GF_KAI_RESERVE_GPU_INDEX);
    if (p.reservation && reserve && *reserve) p.reserve_gpu = gf_arena_strdup(&l->arena, reserve);
    if (labels && (is_kai || p.reservation)) gpu_groups(w, &p, labels);
    if (!p.reservation && is_kai) kai_share(w, &p, ann);
    if (!is_kai) p.devices = 1;
    if (p.alloc == GF_ALLOC_NONE && !p.reservation)
        for (uint32_t i = 0; i < p.n_containers; i++)
            if (l->containers.v[p.first_container + i].whole_gpus > 0) p.alloc = GF_ALLOC_WHOLE;
    if (p.alloc == GF_ALLOC_FRACTION || p.alloc == GF_ALLOC_MEMORY) {
        /* KAI: the annotated container (init containers too), else the first
         * regular container (pkg/binder/common/gpu_access.go
         * GetFractionContainerRef) */
        const char *want = map_get(ann, GF_KAI_CONTAINER_NAME);
        if (want && *want) {
            p.alloc_container = gf_arena_strdup(&l->arena, want);
        } else {
            const json_t *cs = json_object_get(spec, "containers");
            const json_t *first = json_array_get(cs, 0);
            const json_t *nm = json_object_get(first, "name");
            if (json_is_string(nm))
                p.alloc_container = gf_arena_strdup(&l->arena, json_string_value(nm));
        }
    }

    uint32_t index = (uint32_t)l->pods.n;
    gf_vec_push(&l->pods, p);
    gf_strmap_put(&l->by_uid, l->pods.v[index].uid, index);
    /* a static pod's cgroup carries the kubelet's UID; the API's mirror pod
     * has another UID and names the kubelet's in this annotation */
    const char *mirror = map_get(ann, GF_ANN_CONFIG_MIRROR);
    if (mirror && *mirror) gf_strmap_put(&l->by_uid, gf_arena_strdup(&l->arena, mirror), index);
    for (uint32_t i = 0; i < p.n_containers; i++) {
        const gf_pl_container *c = &l->containers.v[p.first_container + i];
        if (c->id) gf_strmap_put(&l->by_container_id, c->id, p.first_container + i);
    }
    return GF_OK;
}

/* --- the list ------------------------------------------------------------ */

void gf_podlist_init(gf_podlist *l)
{
    memset(l, 0, sizeof *l);
    gf_arena_init(&l->arena);
    gf_strmap_init(&l->by_uid);
    gf_strmap_init(&l->by_container_id);
    gf_kai_names_default(&l->kai);
}

void gf_podlist_free(gf_podlist *l)
{
    if (!l) return;
    gf_vec_free(&l->pods);
    gf_vec_free(&l->containers);
    gf_strmap_free(&l->by_uid);
    gf_strmap_free(&l->by_container_id);
    gf_arena_free(&l->arena);
}

static gf_err load_item(walk *w, const json_t *item)
{
    if (!json_is_object(item))
        return fail(w, "expected an object, got %s", gf_json_type_name(item));
    const json_t *kind;
    gf_err rc = field(w, item, "kind", JSON_STRING, &kind);
    if (rc) return rc;
    if (kind && strcmp(json_string_value(kind), "Pod")) return GF_OK; /* a List of mixed kinds */
    return load_pod(w, item);
}

gf_err gf_podlist_parse(gf_podlist *l, const char *name, const char *json, size_t len, gf_diags *d,
                        gf_error *err)
{
    walk w;
    memset(&w, 0, sizeof w);
    w.l = l;
    w.d = d;
    w.err = err;
    w.name = name ? name : "pod list";
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char loc[600];
        snprintf(loc, sizeof loc, "%s:%d:%d", w.name, je.line, je.column);
        return gf_error_set(err, GF_EINPUT, loc, "not valid JSON: %s", je.text);
    }
    gf_err rc = GF_OK;
    if (!json_is_object(root)) {
        rc = fail(&w, "expected a PodList object, got %s", gf_json_type_name(root));
    } else {
        const json_t *items, *kind;
        if (!(rc = field(&w, root, "kind", JSON_STRING, &kind)) &&
            !(rc = field(&w, root, "items", JSON_ARRAY, &items))) {
            if (items) {
                size_t s = push_key(&w, "items");
                for (size_t i = 0; i < json_array_size(items) && !rc; i++) {
                    size_t s2 = push_index(&w, i);
                    rc = load_item(&w, json_array_get(items, i));
                    pop(&w, s2);
                }
                pop(&w, s);
            } else if (kind && !strcmp(json_string_value(kind), "Pod")) {
                rc = load_pod(&w, root);
            } else {
                rc = fail(&w, "neither a list with \"items\" nor a Pod");
            }
        }
    }
    json_decref(root);
    return rc;
}

const gf_pl_pod *gf_podlist_pod(const gf_podlist *l, const char *uid)
{
    size_t i;
    return l && uid && gf_strmap_get(&l->by_uid, uid, &i) ? &l->pods.v[i] : NULL;
}

const gf_pl_container *gf_podlist_container(const gf_podlist *l, const char *id)
{
    size_t i;
    return l && id && *id && gf_strmap_get(&l->by_container_id, id, &i) ? &l->containers.v[i]
                                                                        : NULL;
}
