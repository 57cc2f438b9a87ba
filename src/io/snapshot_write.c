/* snapshot_write.c - cluster model -> kubectl List JSON (see snapshot_write.h).
 *
 * Each item is built as a jansson tree, dumped on its own line and freed, so
 * memory stays at one object whatever the size of the cluster. */
#include "io/snapshot_write.h"
#include "model/kai.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

/* --- small builders (jansson's *_new steals the reference) ------------------ */

/* Set when a string cannot be encoded (not UTF-8): jansson then returns NULL
 * and the field would silently go missing; emit() turns it into an error. */
static _Thread_local bool enc_bad;

static json_t *jstr(const char *v)
{
    json_t *j = json_string(v);
    if (!j) {
        enc_bad = true;
        j = json_string("");
    }
    return j;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v) json_object_set_new(o, k, jstr(v));
}

static json_t *kvs_obj(const gf_kvs *kvs)
{
    json_t *o = json_object();
    for (uint32_t i = 0; i < kvs->n; i++)
        if (json_object_set_new(o, kvs->items[i].key, jstr(kvs->items[i].value))) enc_bad = true;
    return o;
}

static json_t *qty_milli(int64_t milli)
{
    char buf[32];
    if (milli % 1000 == 0)
        snprintf(buf, sizeof buf, "%" PRId64, milli / 1000);
    else
        snprintf(buf, sizeof buf, "%" PRId64 "m", milli);
    return json_string(buf);
}

static json_t *qty(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return json_string(buf);
}

static const char *api_version(const char *kind)
{
    if (!strcmp(kind, "Job")) return "batch/v1";
    if (!strcmp(kind, "PodDisruptionBudget")) return "policy/v1";
    if (!strcmp(kind, "Node") || !strcmp(kind, "Pod")) return "v1";
    return "apps/v1";
}

static json_t *metadata(const char *ns, const char *name, const char *uid, const gf_owner_ref *o)
{
    json_t *meta = json_object();
    set_str(meta, "name", name);
    set_str(meta, "namespace", ns);
    set_str(meta, "uid", uid);
    if (o && o->kind) {
        json_t *ref = json_pack("{s:s, s:s, s:s, s:b}", "apiVersion", api_version(o->kind), "kind",
                                o->kind, "name", o->name, "controller", 1);
        json_object_set_new(meta, "ownerReferences", json_pack("[o]", ref));
    }
    return meta;
}

/* --- objects ---------------------------------------------------------------------- */

static json_t *node_json(const gf_node *n)
{
    json_t *meta = metadata(NULL, n->name, NULL, NULL);
    json_object_set_new(meta, "labels", kvs_obj(&n->labels));
    json_t *spec = json_object();
    if (n->unschedulable) json_object_set_new(spec, "unschedulable", json_true());
    if (n->n_taints) {
        json_t *ts = json_array();
        for (uint32_t i = 0; i < n->n_taints; i++) {
            json_t *t = json_object();
            set_str(t, "key", n->taints[i].key);
            set_str(t, "value", n->taints[i].value);
            set_str(t, "effect", n->taints[i].effect);
            json_array_append_new(ts, t);
        }
        json_object_set_new(spec, "taints", ts);
    }
    json_t *alloc = json_object();
    json_object_set_new(alloc, "cpu", qty_milli(n->cpu_milli));
    json_object_set_new(alloc, "memory", qty(n->memory_bytes));
    if (n->gpu_count) json_object_set_new(alloc, GF_RES_GPU, qty(n->gpu_count));
    return json_pack("{s:s, s:s, s:o, s:o, s:{s:o}}", "apiVersion", "v1", "kind", "Node",
                     "metadata", meta, "spec", spec, "status", "allocatable", alloc);
}

static json_t *workload_json(const gf_workload *w)
{
    json_t *spec = json_object();
    if (w->replicas >= 0) json_object_set_new(spec, "replicas", json_integer(w->replicas));
    if (w->template_annotations.n)
        json_object_set_new(
            spec, "template",
            json_pack("{s:{s:o}}", "metadata", "annotations", kvs_obj(&w->template_annotations)));
    bool deployment = !strcmp(w->kind, "Deployment");
    if (deployment && w->recreate) {
        json_object_set_new(spec, "strategy", json_pack("{s:s}", "type", "Recreate"));
    } else if (deployment && (w->max_surge >= 0 || w->max_unavailable >= 0)) {
        json_t *ru = json_object();
        char pct[24];
        if (w->max_surge >= 0) {
            snprintf(pct, sizeof pct, "%d%%", (int)w->max_surge);
            json_object_set_new(ru, "maxSurge",
                                w->max_surge_percent ? json_string(pct)
                                                     : json_integer(w->max_surge));
        }
        if (w->max_unavailable >= 0) {
            snprintf(pct, sizeof pct, "%d%%", (int)w->max_unavailable);
            json_object_set_new(ru, "maxUnavailable",
                                w->max_unavailable_percent ? json_string(pct)
                                                           : json_integer(w->max_unavailable));
        }
        json_object_set_new(spec, "strategy", json_pack("{s:o}", "rollingUpdate", ru));
    }
    json_t *meta = metadata(w->ns, w->name, w->uid, &w->owner);
    if (w->labels.n) json_object_set_new(meta, "labels", kvs_obj(&w->labels));
    return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", api_version(w->kind), "kind", w->kind,
                     "metadata", meta, "spec", spec);
}

static json_t *pdb_json(const gf_pdb *b)
{
    return json_pack("{s:s, s:s, s:o, s:{s:{s:o}}, s:{s:i}}", "apiVersion", "policy/v1", "kind",
                     "PodDisruptionBudget", "metadata", metadata(b->ns, b->name, NULL, NULL),
                     "spec", "selector", "matchLabels", kvs_obj(&b->match_labels), "status",
                     "disruptionsAllowed", (int)b->disruptions_allowed);
}

/* KAI's governance objects in their own shapes (snapshot_json.c reads
 * them): GPU figures as JSON numbers, status GPUs as milli-quantities. */
static json_t *queue_res(const gf_queue_res *r)
{
    return json_pack("{s:f, s:f, s:f}", "quota", r->quota, "limit", r->limit, "overQuotaWeight",
                     r->over_quota_weight);
}

static json_t *queue_json(const gf_queue *q)
{
    json_t *spec =
        json_pack("{s:i, s:{s:o, s:o, s:o}}", "priority", (int)q->priority, "resources", "gpu",
                  queue_res(&q->gpu), "cpu", queue_res(&q->cpu), "memory", queue_res(&q->memory));
    if (q->parent) set_str(spec, "parentQueue", q->parent);
    json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "scheduling.run.ai/v2", "kind",
                          "Queue", "metadata", metadata(NULL, q->name, NULL, NULL), "spec", spec);
    if (q->has_status)
        json_object_set_new(o, "status",
                            json_pack("{s:{s:o}, s:{s:o}}", "allocated", GF_RES_GPU,
                                      qty_milli((int64_t)llround(q->alloc_gpu * 1000)),
                                      "allocatedNonPreemptible", GF_RES_GPU,
                                      qty_milli((int64_t)llround(q->alloc_np_gpu * 1000))));
    return o;
}

static json_t *podgroup_json(const gf_podgroup *g)
{
    json_t *spec = json_pack("{s:i}", "minMember", (int)g->min_member);
    if (g->queue) set_str(spec, "queue", g->queue);
    if (g->priority_class) set_str(spec, "priorityClassName", g->priority_class);
    if (g->preemptibility != GF_PREEMPT_UNSET)
        set_str(spec, "preemptibility",
                g->preemptibility == GF_PREEMPT_PREEMPTIBLE ? "preemptible" : "non-preemptible");
    if (g->topology || g->required_level || g->preferred_level) {
        json_t *t = json_object();
        if (g->topology) set_str(t, "topology", g->topology);
        if (g->required_level) set_str(t, "requiredTopologyLevel", g->required_level);
        if (g->preferred_level) set_str(t, "preferredTopologyLevel", g->preferred_level);
        json_object_set_new(spec, "topologyConstraint", t);
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "scheduling.run.ai/v2alpha2", "kind",
                     "PodGroup", "metadata", metadata(g->ns, g->name, NULL, &g->owner), "spec",
                     spec);
}

static json_t *priority_class_json(const gf_priority_class *c)
{
    return json_pack("{s:s, s:s, s:o, s:i}", "apiVersion", "scheduling.k8s.io/v1", "kind",
                     "PriorityClass", "metadata", metadata(NULL, c->name, NULL, NULL), "value",
                     (int)c->value);
}

static json_t *shard_json(const gf_shard *sh)
{
    json_t *spec = json_pack("{s:{s:s, s:s}}", "placementStrategy", "gpu",
                             sh->gpu == GF_PLACE_SPREAD ? "spread" : "binpack", "cpu",
                             sh->cpu == GF_PLACE_SPREAD ? "spread" : "binpack");
    if (sh->partition_value) set_str(spec, "partitionLabelValue", sh->partition_value);
    return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "kai.scheduler/v1", "kind",
                     "SchedulingShard", "metadata", metadata(NULL, sh->name, NULL, NULL), "spec",
                     spec);
}

static json_t *pod_json(const gf_pod *p)
{
    json_t *meta = metadata(p->ns, p->name, p->uid, &p->owner);
    if (p->labels.n) json_object_set_new(meta, "labels", kvs_obj(&p->labels));
    if (p->annotations.n) json_object_set_new(meta, "annotations", kvs_obj(&p->annotations));
    if (p->terminating) set_str(meta, "deletionTimestamp", "1970-01-01T00:00:00Z");

    json_t *req = json_object();
    if (p->cpu_milli) json_object_set_new(req, "cpu", qty_milli(p->cpu_milli));
    if (p->memory_bytes) json_object_set_new(req, "memory", qty(p->memory_bytes));
    if (p->gpu_whole) json_object_set_new(req, GF_RES_GPU, qty(p->gpu_whole));
    json_t *res = json_object();
    json_object_set_new(res, "requests", req);
    if (p->gpu_whole) /* extended resources need limits equal to requests */
        json_object_set_new(res, "limits", json_pack("{s:o}", GF_RES_GPU, qty(p->gpu_whole)));
    json_t *container = json_pack("{s:s, s:o}", "name",
                                  p->gpu_container ? p->gpu_container : "main", "resources", res);
    /* what engine detection reads back (model.h gpu_image, gpu_argv: command, then args) */
    set_str(container, "image", p->gpu_image);
    uint32_t ncmd = p->gpu_cmd_n < p->gpu_argc ? p->gpu_cmd_n : p->gpu_argc;
    for (int part = 0; part < 2; part++) {
        uint32_t from = part ? ncmd : 0, to = part ? p->gpu_argc : ncmd;
        if (from == to) continue;
        json_t *words = json_array();
        for (uint32_t i = from; i < to; i++)
            json_array_append_new(words, json_string(p->gpu_argv[i]));
        json_object_set_new(container, part ? "args" : "command", words);
    }
    if (p->gpu_env.n) {
        json_t *env = json_array();
        for (uint32_t i = 0; i < p->gpu_env.n; i++)
            json_array_append_new(env, json_pack("{s:s, s:s}", "name", p->gpu_env.items[i].key,
                                                 "value", p->gpu_env.items[i].value));
        json_object_set_new(container, "env", env);
    }

    json_t *spec = json_object();
    json_object_set_new(spec, "containers", json_pack("[o]", container));
    set_str(spec, "nodeName", p->node_name);
    set_str(spec, "schedulerName", p->scheduler_name);
    set_str(spec, "priorityClassName", p->priority_class);
    if (p->priority) json_object_set_new(spec, "priority", json_integer(p->priority));
    if (p->node_selector.n) json_object_set_new(spec, "nodeSelector", kvs_obj(&p->node_selector));
    if (p->n_tolerations) {
        json_t *ts = json_array();
        for (uint32_t i = 0; i < p->n_tolerations; i++) {
            const gf_toleration *t = &p->tolerations[i];
            json_t *o = json_object();
            set_str(o, "key", t->key);
            set_str(o, "operator", t->op);
            set_str(o, "value", t->value);
            set_str(o, "effect", t->effect);
            json_array_append_new(ts, o);
        }
        json_object_set_new(spec, "tolerations", ts);
    }
    /* a GPU model constraint that the nodeSelector does not already state */
    if (p->n_gpu_models && !gf_kvs_get(&p->node_selector, GF_LABEL_GPU_PRODUCT)) {
        json_t *vals = json_array();
        for (uint32_t i = 0; i < p->n_gpu_models; i++)
            json_array_append_new(vals, jstr(p->gpu_models[i]));
        json_t *expr = json_pack("{s:s, s:s, s:o}", "key", GF_LABEL_GPU_PRODUCT, "operator", "In",
                                 "values", vals);
        json_object_set_new(spec, "affinity",
                            json_pack("{s:{s:{s:[{s:[o]}]}}}", "nodeAffinity",
                                      "requiredDuringSchedulingIgnoredDuringExecution",
                                      "nodeSelectorTerms", "matchExpressions", expr));
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:{s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata",
                     meta, "spec", spec, "status", "phase", gf_phase_name(p->phase));
}

/* --- the document ------------------------------------------------------------------ */

typedef struct out {
    FILE *f;
    bool first;
    gf_error *err;
} out;

static gf_err emit(out *o, json_t *item, const char *what, const char *name)
{
    if (!item || enc_bad) {
        json_decref(item);
        return gf_error_set(o->err, GF_EINTERNAL, NULL,
                            "%s %s: a name or value is not valid UTF-8 and cannot be written as "
                            "JSON",
                            what, name ? name : "(unnamed)");
    }
    int rc = fputs(o->first ? "\n" : ",\n", o->f) < 0 ? -1 : json_dumpf(item, o->f, JSON_COMPACT);
    json_decref(item);
    o->first = false;
    if (rc < 0 || ferror(o->f))
        return gf_error_set(o->err, GF_EIO, NULL, "write failed: %s", strerror(errno));
    return GF_OK;
}

gf_err gf_snapshot_write(const gf_model *m, FILE *f, gf_error *err)
{
    out o = {f, true, err};
    enc_bad = false;
    gf_err rc = GF_OK;
    if (fputs("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[", f) < 0)
        return gf_error_set(err, GF_EIO, NULL, "write failed: %s", strerror(errno));
    for (size_t i = 0; i < m->nodes.n && !rc; i++)
        rc = emit(&o, node_json(&m->nodes.v[i]), "node", m->nodes.v[i].name);
    for (size_t i = 0; i < m->workloads.n && !rc; i++)
        if (m->workloads.v[i].from_input)
            rc = emit(&o, workload_json(&m->workloads.v[i]), m->workloads.v[i].kind,
                      m->workloads.v[i].name);
    for (size_t i = 0; i < m->pdbs.n && !rc; i++)
        rc = emit(&o, pdb_json(&m->pdbs.v[i]), "PodDisruptionBudget", m->pdbs.v[i].name);
    for (size_t i = 0; i < m->queues.n && !rc; i++)
        rc = emit(&o, queue_json(&m->queues.v[i]), "Queue", m->queues.v[i].name);
    for (size_t i = 0; i < m->priority_classes.n && !rc; i++)
        rc = emit(&o, priority_class_json(&m->priority_classes.v[i]), "PriorityClass",
                  m->priority_classes.v[i].name);
    for (size_t i = 0; i < m->podgroups.n && !rc; i++)
        rc = emit(&o, podgroup_json(&m->podgroups.v[i]), "PodGroup", m->podgroups.v[i].name);
    for (size_t i = 0; i < m->shards.n && !rc; i++)
        rc = emit(&o, shard_json(&m->shards.v[i]), "SchedulingShard", m->shards.v[i].name);
    for (size_t i = 0; i < m->pods.n && !rc; i++)
        rc = emit(&o, pod_json(&m->pods.v[i]), "pod", m->pods.v[i].name);
    if (!rc && fputs("\n],\"metadata\":{\"resourceVersion\":\"\"}}\n", f) < 0)
        rc = gf_error_set(err, GF_EIO, NULL, "write failed: %s", strerror(errno));
    return rc;
}
