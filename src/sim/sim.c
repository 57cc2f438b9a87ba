/* sim.c - the discrete-time simulator, see sim.h.
 *
 * The simulator works on a private copy of the cluster, its working model
 * W: the cluster's nodes followed by spare nodes (copies of each pool's
 * largest node, cordoned while out of service), every active pod except KAI
 * reservation pods (W's pod i is simulated pod i), workloads and PDBs. W is
 * finalized with every pod unbound; the simulator then owns placement: it
 * keeps a gf_pack_state and per-pod placements, and writes each pod's
 * request fields (gpu-fraction, gpu-memory, whole GPUs) when a policy
 * changes them. Before each consolidation it writes the derived placement
 * fields (pod node and GPUs, each GPU's allocated fraction and state) the
 * way gf_model_finalize would derive them from the bindings, so that
 * gf_consolidate plans on the simulated cluster. Nodes out of service are
 * marked unschedulable in W: the packing engine and the planner then leave
 * them alone, as they would a cordoned node. */
#include "sim/sim_private.h"
#include "decide/convert.h"
#include "decide/recommend.h"
#include "model/quantity.h"
#include "sim/sim_fairuse.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400.0
#define MAX_SPARE_NODES 100000u
/* VPA's recommender: target = p90 of usage + 15% margin (recommender flags
 * --target-memory-percentile=0.9, --recommendation-margin-fraction=0.15);
 * its bounds widen with little history, so nothing is evicted before about
 * a day of samples. */
#define VPA_PERCENTILE 0.9
#define VPA_MARGIN 0.15
#define VPA_MIN_HISTORY_S DAY_S

const char *gf_sim_policy_name(gf_sim_policy p)
{
    static const char *names[GF_SIM_NPOLICIES] = {
        "one-gpu-per-container", "static", "vpa-style", "gpufrac", "clairvoyant-static",
        "clairvoyant-daily",     "oracle"};
    return (unsigned)p < GF_SIM_NPOLICIES ? names[p] : "?";
}

void gf_sim_opts_default(gf_sim_opts *o)
{
    memset(o, 0, sizeof *o);
    o->start_t = GF_DEMAND_DEFAULT_START_T;
    o->step_s = 60;
    o->duration_s = 7 * DAY_S;
    o->policies = GF_SIM_ALL_POLICIES;
    o->scorer = GF_SCORE_BINPACK;
    o->restart_s = 120;
    o->node_boot_s = 300;
    o->recommend_every_s = 300;
    o->consolidate_every_s = 3600;
    o->warmup_s = 6 * 3600;
    o->consolidate_max_nodes = 4;
    o->consolidate_max_moves = 0;
    o->spare_nodes = 1.0;
    o->top_services = 6;
    o->max_points = 2000;
    o->heat_columns = 168;
    o->heat_rows = 160;
    o->heat_policy = GF_SIM_GPUFRAC;
}

/* The simulated pods and services, the simulator and one policy's run:
 * sim_private.h; the accounting of harm and savings: sim_account.c. */

/* --- copying the cluster into W ----------------------------------------------------------- */

static const char *dup(gf_model *w, const char *s)
{
    return gf_arena_strdup(&w->arena, s);
}

static gf_kvs dup_kvs(gf_model *w, const gf_kvs *k)
{
    gf_kvs out = {NULL, k->n};
    if (!k->n) return out;
    out.items = gf_arena_alloc(&w->arena, k->n * sizeof(gf_kv));
    for (uint32_t i = 0; i < k->n; i++) {
        out.items[i].key = dup(w, k->items[i].key);
        out.items[i].value = dup(w, k->items[i].value);
    }
    return out;
}

static const char **dup_strs(gf_model *w, const char *const *v, uint32_t n)
{
    if (!n) return NULL;
    const char **out = gf_arena_alloc(&w->arena, n * sizeof(char *));
    for (uint32_t i = 0; i < n; i++)
        out[i] = dup(w, v[i]);
    return out;
}

static gf_owner_ref dup_owner(gf_model *w, gf_owner_ref r)
{
    gf_owner_ref o = {dup(w, r.kind), dup(w, r.name)};
    return o;
}

static uint32_t copy_node(gf_model *w, const gf_model *c, const gf_node *n, const char *name,
                          bool unschedulable)
{
    gf_node x = *n;
    x.name = dup(w, name);
    x.origin = dup(w, n->origin);
    x.labels = dup_kvs(w, &n->labels);
    x.gpu_product = dup(w, n->gpu_product);
    x.pool = gf_model_pool(w, c->pools.v[n->pool]);
    x.unschedulable = unschedulable;
    if (n->n_taints) {
        x.taints = gf_arena_alloc(&w->arena, n->n_taints * sizeof(gf_taint));
        for (uint32_t i = 0; i < n->n_taints; i++) {
            x.taints[i].key = dup(w, n->taints[i].key);
            x.taints[i].value = dup(w, n->taints[i].value);
            x.taints[i].effect = dup(w, n->taints[i].effect);
        }
    }
    return gf_model_add_node(w, &x, NULL);
}

static uint32_t copy_pod(gf_model *w, const gf_model *c, const gf_pod *p)
{
    gf_pod x = *p;
    x.ns = dup(w, p->ns);
    x.name = dup(w, p->name);
    x.uid = dup(w, p->uid);
    x.origin = dup(w, p->origin);
    x.labels = dup_kvs(w, &p->labels);
    x.annotations = dup_kvs(w, &p->annotations);
    x.scheduler_name = dup(w, p->scheduler_name);
    x.queue = dup(w, p->queue);
    x.priority_class = dup(w, p->priority_class);
    x.gpu_container = dup(w, p->gpu_container);
    x.gpu_image = dup(w, p->gpu_image);
    x.gpu_spec_container = dup(w, p->gpu_spec_container);
    x.gpu_argv = dup_strs(w, p->gpu_argv, p->gpu_argc);
    x.gpu_env = dup_kvs(w, &p->gpu_env);
    x.gpu_whole_container = dup(w, p->gpu_whole_container);
    x.gpu_models = dup_strs(w, p->gpu_models, p->n_gpu_models);
    x.node_selector = dup_kvs(w, &p->node_selector);
    x.owner = dup_owner(w, p->owner);
    if (p->n_tolerations) {
        x.tolerations = gf_arena_alloc(&w->arena, p->n_tolerations * sizeof(gf_toleration));
        for (uint32_t i = 0; i < p->n_tolerations; i++) {
            const gf_toleration *t = &p->tolerations[i];
            x.tolerations[i] =
                (gf_toleration){dup(w, t->key), dup(w, t->op), dup(w, t->value), dup(w, t->effect)};
        }
    }
    /* a pod that selects no pool stays in the one it runs in */
    x.pool_selector = p->pool_selector     ? dup(w, p->pool_selector)
                      : p->node != GF_NONE ? dup(w, c->pools.v[c->nodes.v[p->node].pool])
                                           : NULL;
    /* unbound: the simulator places it */
    x.node_name = NULL;
    x.phase = GF_PHASE_PENDING;
    x.terminating = false;
    x.gpu_group = NULL;
    x.extra_groups = NULL;
    x.n_extra_groups = 0;
    return gf_model_add_pod(w, &x, NULL);
}

static void copy_workload(gf_model *w, const gf_workload *k)
{
    gf_workload x = *k;
    x.kind = dup(w, k->kind);
    x.ns = dup(w, k->ns);
    x.name = dup(w, k->name);
    x.uid = dup(w, k->uid);
    x.origin = dup(w, k->origin);
    x.owner = dup_owner(w, k->owner);
    x.labels = dup_kvs(w, &k->labels);
    x.template_annotations = dup_kvs(w, &k->template_annotations);
    gf_model_add_workload(w, &x, NULL);
}

/* KAI's governance objects, strings into w's arena (model.h). */
static void copy_governance(gf_model *w, const gf_model *c)
{
    for (size_t i = 0; i < c->queues.n; i++) {
        gf_queue q = c->queues.v[i];
        q.name = dup(w, q.name);
        q.origin = dup(w, q.origin);
        q.parent = dup(w, q.parent);
        gf_vec_push(&w->queues, q);
    }
    for (size_t i = 0; i < c->podgroups.n; i++) {
        gf_podgroup g = c->podgroups.v[i];
        g.ns = dup(w, g.ns);
        g.name = dup(w, g.name);
        g.origin = dup(w, g.origin);
        g.queue = dup(w, g.queue);
        g.priority_class = dup(w, g.priority_class);
        g.topology = dup(w, g.topology);
        g.required_level = dup(w, g.required_level);
        g.preferred_level = dup(w, g.preferred_level);
        g.owner = dup_owner(w, g.owner);
        gf_vec_push(&w->podgroups, g);
    }
    for (size_t i = 0; i < c->priority_classes.n; i++) {
        gf_priority_class pc = c->priority_classes.v[i];
        pc.name = dup(w, pc.name);
        pc.origin = dup(w, pc.origin);
        gf_vec_push(&w->priority_classes, pc);
    }
    for (size_t i = 0; i < c->shards.n; i++) {
        gf_shard sh = c->shards.v[i];
        sh.name = dup(w, sh.name);
        sh.origin = dup(w, sh.origin);
        sh.partition_value = dup(w, sh.partition_value);
        gf_vec_push(&w->shards, sh);
    }
}

static void copy_pdb(gf_model *w, const gf_pdb *b)
{
    gf_pdb x = *b;
    x.ns = dup(w, b->ns);
    x.name = dup(w, b->name);
    x.origin = dup(w, b->origin);
    x.match_labels = dup_kvs(w, &b->match_labels);
    gf_vec_push(&w->pdbs, x);
}

static bool uses_gpu(const gf_pod *p)
{
    return p->share != GF_SHARE_NONE || p->gpu_whole > 0;
}

/* Spare nodes: per pool and GPU model, copies of its largest node. */
static void add_spares(gf_sim *s, const gf_model *c)
{
    size_t nn = c->nodes.n;
    bool *done = gf_xcalloc(nn + 1, sizeof(bool));
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &c->nodes.v[i];
        if (done[i] || n->gpu_count == 0) continue;
        uint32_t count = 0, best = (uint32_t)i;
        for (size_t j = i; j < nn; j++) {
            const gf_node *m = &c->nodes.v[j];
            if (m->gpu_count == 0 || m->pool != n->pool || m->gpu_memory_mib != n->gpu_memory_mib ||
                (m->gpu_product == NULL) != (n->gpu_product == NULL) ||
                (m->gpu_product && strcmp(m->gpu_product, n->gpu_product)))
                continue;
            done[j] = true;
            count++;
            if (m->gpu_count > c->nodes.v[best].gpu_count ||
                (c->nodes.v[best].unschedulable && !m->unschedulable))
                best = (uint32_t)j;
        }
        uint32_t want = (uint32_t)ceil(count * s->o.spare_nodes - 1e-9);
        for (uint32_t k = 0; k < want && s->spares < MAX_SPARE_NODES; k++) {
            char name[300];
            snprintf(name, sizeof name, "%.250s-spare-%u", c->nodes.v[best].name, k + 1);
            if (copy_node(&s->w, c, &c->nodes.v[best], name, true) != GF_NONE) s->spares++;
        }
    }
    free(done);
}

static gf_err check_opts(const gf_sim_opts *o, gf_error *err)
{
    if (!(o->step_s >= 1 && o->step_s <= 3600))
        return gf_error_set(err, GF_EUSAGE, "--step", "%g s is not within 1s .. 1h", o->step_s);
    if (!(o->duration_s >= o->step_s && o->duration_s <= 366 * DAY_S))
        return gf_error_set(err, GF_EUSAGE, "--days",
                            "duration %g s is not within one step .. 366 days", o->duration_s);
    if (o->duration_s / o->step_s > 2e7)
        return gf_error_set(err, GF_EUSAGE, "--step", "%.0f steps are too many (at most 2e7)",
                            o->duration_s / o->step_s);
    if (!isfinite(o->start_t) || o->start_t < 0 || o->start_t > 1e11)
        return gf_error_set(err, GF_EUSAGE, "start", "start time %g is not valid", o->start_t);
    if (!(o->policies & GF_SIM_ALL_POLICIES) || (o->policies & ~GF_SIM_ALL_POLICIES))
        return gf_error_set(err, GF_EUSAGE, "policies", "policy mask %#x selects none",
                            o->policies);
    if (!(o->restart_s >= 0 && o->restart_s <= DAY_S) ||
        !(o->node_boot_s >= 0 && o->node_boot_s <= DAY_S))
        return gf_error_set(err, GF_EUSAGE, "restart", "restart and boot times must be 0 .. 1 d");
    if (!(o->recommend_every_s >= 0 && o->recommend_every_s <= 30 * DAY_S) ||
        !(o->consolidate_every_s >= 0 && o->consolidate_every_s <= 30 * DAY_S))
        return gf_error_set(err, GF_EUSAGE, "schedule",
                            "recommend and consolidate intervals must be 0 .. 30 d");
    if (!(o->warmup_s >= 0 && o->warmup_s <= 30 * DAY_S))
        return gf_error_set(err, GF_EUSAGE, "warmup", "warm-up %g s is not 0 .. 30 d", o->warmup_s);
    if (!(o->cold_start_s >= 0 && o->cold_start_s < o->duration_s))
        return gf_error_set(err, GF_EUSAGE, "--warmup",
                            "cold start %g s is not 0 .. less than the run (%g s)", o->cold_start_s,
                            o->duration_s);
    if (!(o->spare_nodes >= 0 && o->spare_nodes <= 16))
        return gf_error_set(err, GF_EUSAGE, "spare", "spare node share %g is not 0 .. 16",
                            o->spare_nodes);
    if ((unsigned)o->fair_use > GF_SIM_FAIR_ACT)
        return gf_error_set(err, GF_EUSAGE, "--fair-use", "unknown fair-use setting %d",
                            (int)o->fair_use);
    if ((unsigned)o->heat_policy >= GF_SIM_NPOLICIES || (unsigned)o->scorer >= GF_SCORER_COUNT)
        return gf_error_set(err, GF_EUSAGE, "policy", "unknown heat-map policy or scorer");
    if (o->max_points < 2 || o->max_points > 1000000 || o->heat_columns < 1 ||
        o->heat_columns > 10000 || o->heat_rows > 100000 || o->top_services > 1000)
        return gf_error_set(err, GF_EUSAGE, "report", "report sizes out of range");
    return GF_OK;
}

/* The request a simulated pod makes when its service is at (unit, fraction,
 * mib) or, with whole, whole GPUs. */
static void set_request(gf_pod *p, gf_share_kind unit, double fraction, int64_t mib, uint32_t whole)
{
    if (whole) {
        p->share = GF_SHARE_NONE;
        p->gpu_whole = whole;
        p->gpu_fraction = 0;
        p->gpu_memory_mib = 0;
        return;
    }
    p->gpu_whole = 0;
    p->share = unit;
    p->gpu_fraction = unit == GF_SHARE_FRACTION ? fraction : 0;
    p->gpu_memory_mib = unit == GF_SHARE_MEMORY ? mib : 0;
}

static void declared_request(const gf_sim *s, uint32_t i)
{
    const spod *sp = &s->pods.v[i];
    gf_pod *p = &s->w.pods.v[i];
    if (!sp->gpu) return;
    if (sp->whole)
        set_request(p, GF_SHARE_NONE, 0, 0, sp->whole);
    else
        set_request(p, sp->share, sp->fraction, sp->memory_mib, 0);
}

/* Does pod i fit some node of an empty cluster (spares in service)? */
static bool fits_empty(gf_sim *s, gf_pack_state *empty, uint32_t i)
{
    const gf_pod *p = &s->w.pods.v[i];
    for (size_t n = 0; n < s->w.nodes.n; n++) {
        gf_placement pl;
        if (gf_pack_fit_node(empty, p, (uint32_t)n, GF_SCORE_BINPACK, &pl, NULL)) return true;
    }
    return false;
}

gf_err gf_sim_new(const gf_model *c, const gf_sim_opts *o, gf_sim **out, gf_error *err)
{
    *out = NULL;
    gf_err rc = check_opts(o, err);
    if (rc) return rc;
    if (!c->finalized)
        return gf_error_set(err, GF_EINTERNAL, NULL, "simulate: the cluster is not finalized");
    gf_sim *s = gf_xcalloc(1, sizeof *s);
    s->o = *o;
    s->n_steps = (uint32_t)ceil(o->duration_s / o->step_s - 1e-9);
    gf_model_init(&s->w);
    gf_model *w = &s->w;
    for (size_t i = 0; i < c->pools.n; i++)
        gf_model_pool(w, c->pools.v[i]);
    for (size_t i = 0; i < c->nodes.n; i++) {
        const gf_node *n = &c->nodes.v[i];
        copy_node(w, c, n, n->name, n->unschedulable);
        if (n->gpu_count) {
            s->gpu_nodes_src++;
            s->gpus_src += n->gpu_count;
        }
    }
    s->n_src_nodes = (uint32_t)w->nodes.n;
    add_spares(s, c);
    /* pods: every active one but KAI's reservation pods */
    for (size_t i = 0; i < c->pods.n; i++) {
        const gf_pod *p = &c->pods.v[i];
        if (!gf_pod_active(p) || p->is_reservation) continue;
        spod sp = {0};
        sp.service = GF_NONE;
        sp.gpu = uses_gpu(p);
        sp.share = p->share;
        sp.fraction = p->gpu_fraction;
        sp.memory_mib = p->gpu_memory_mib;
        sp.whole = p->share == GF_SHARE_NONE ? p->gpu_whole : 0;
        sp.devices = p->share != GF_SHARE_NONE ? (p->gpu_devices ? p->gpu_devices : 1) : 0;
        sp.src_node = p->node;
        sp.src_first = (uint32_t)s->src_gpus.n;
        uint32_t want = sp.whole ? sp.whole : sp.devices;
        if (p->node != GF_NONE && sp.gpu && p->n_gpus != want) sp.src_node = GF_NONE;
        if (p->node != GF_NONE && sp.gpu && sp.src_node != GF_NONE)
            for (uint32_t k = 0; k < p->n_gpus; k++)
                gf_vec_push(&s->src_gpus, p->gpus[k]); /* same indices in W: nodes in order */
        sp.src_n = (uint32_t)s->src_gpus.n - sp.src_first;
        if (copy_pod(w, c, p) == GF_NONE) { /* a duplicate the cluster kept out already */
            s->src_gpus.n = sp.src_first;
            continue;
        }
        gf_vec_push(&s->pods, sp);
    }
    for (size_t i = 0; i < c->workloads.n; i++)
        copy_workload(w, &c->workloads.v[i]);
    for (size_t i = 0; i < c->pdbs.n; i++)
        copy_pdb(w, &c->pdbs.v[i]);
    copy_governance(w, c);
    gf_diags d;
    gf_diags_init(&d);
    rc = gf_model_finalize(w, &d, err);
    gf_diags_free(&d);
    if (rc) {
        gf_sim_free(s);
        return rc;
    }
    /* per-pod GPU lists for the derived fields, pools */
    for (size_t i = 0; i < w->pods.n; i++) {
        gf_pod *p = &w->pods.v[i];
        spod *sp = &s->pods.v[i];
        uint32_t cap = sp->whole > sp->devices ? sp->whole : sp->devices;
        if (cap < 1) cap = 1;
        if (cap > GF_PACK_MAX_DEVICES) cap = GF_PACK_MAX_DEVICES;
        p->gpus = gf_arena_alloc(&w->arena, cap * sizeof(uint32_t));
        p->n_gpus = 0;
        size_t pool = 0;
        if (p->pool_selector) gf_strmap_get(&w->pool_by_name, p->pool_selector, &pool);
        sp->pool = (uint32_t)pool;
    }
    s->cordoned = gf_xcalloc(w->nodes.n + 1, sizeof(bool));
    s->spare = gf_xcalloc(w->nodes.n + 1, sizeof(bool));
    s->pool_max_gpus = gf_xcalloc(w->pools.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < w->nodes.n; i++) {
        s->spare[i] = i >= s->n_src_nodes;
        s->cordoned[i] = !s->spare[i] && w->nodes.v[i].unschedulable;
        uint32_t pool = w->nodes.v[i].pool;
        if (w->nodes.v[i].gpu_count > s->pool_max_gpus[pool])
            s->pool_max_gpus[pool] = w->nodes.v[i].gpu_count;
    }
    /* placeable: every node but cordoned ones in service */
    for (size_t i = 0; i < w->nodes.n; i++)
        w->nodes.v[i].unschedulable = s->cordoned[i];
    gf_pack_state *empty = gf_pack_state_new_empty(w);
    for (size_t i = 0; i < s->pods.n; i++) /* a pod where it runs is placeable there */
        s->pods.v[i].placeable =
            s->pods.v[i].src_node != GF_NONE || fits_empty(s, empty, (uint32_t)i);
    gf_pack_state_free(empty);
    for (size_t i = 0; i < w->nodes.n; i++)
        w->nodes.v[i].unschedulable = s->cordoned[i] || s->spare[i];

    /* services: sharing pods, and owned whole-GPU pods, grouped by their
     * top-level workload; a whole-GPU service's demand is drawn against one
     * whole GPU per device, so that converting it is measured */
    uint32_t *svc_of_wl = gf_xmalloc((w->workloads.n + 1) * sizeof(uint32_t));
    memset(svc_of_wl, 0xff, (w->workloads.n + 1) * sizeof(uint32_t));
    gf_policy builtin;
    gf_policy_init(&builtin);
    const gf_policy *pol = o->policy ? o->policy : &builtin;
    for (size_t i = 0; i < w->pods.n; i++) {
        const gf_pod *p = &w->pods.v[i];
        spod *sp = &s->pods.v[i];
        const gf_workload *wl = gf_model_pod_workload(w, p);
        bool whole = p->share == GF_SHARE_NONE && p->gpu_whole > 0 && wl;
        if (p->share == GF_SHARE_NONE && !whole) continue;
        uint32_t wi = wl ? (uint32_t)(wl - w->workloads.v) : GF_NONE;
        uint32_t si = wi != GF_NONE ? svc_of_wl[wi] : GF_NONE;
        if (si == GF_NONE) {
            service sv = {0};
            sv.pub.ns = p->ns;
            sv.pub.kind = wl ? wl->kind : NULL;
            sv.pub.name = wl ? wl->name : p->name;
            sv.pub.workload = wi;
            sv.pub.unit = whole ? GF_SHARE_FRACTION : p->share;
            sv.pub.whole = whole ? p->gpu_whole : 0;
            si = (uint32_t)s->services.n;
            gf_vec_push(&s->services, sv);
            if (wi != GF_NONE) svc_of_wl[wi] = si;
        }
        service *sv = &s->services.v[si];
        sp->service = si;
        sp->salt = sv->pub.pods++;
        if (whole) { /* one whole GPU per device; mixed mid-rollout: the largest */
            sp->devices = p->gpu_whole;
            sp->fraction = 1;
            if (p->gpu_whole > sv->pub.whole && sv->pub.whole) sv->pub.whole = p->gpu_whole;
            if (sv->pub.fraction < 1) sv->pub.fraction = 1;
        } else {
            sv->pub.whole = 0; /* a workload with a share is a sharing one */
        }
        if (sp->devices > sv->pub.devices) sv->pub.devices = sp->devices;
        if (p->share == GF_SHARE_FRACTION && sp->fraction > sv->pub.fraction)
            sv->pub.fraction = sp->fraction;
        if (p->share == GF_SHARE_MEMORY && sp->memory_mib > sv->pub.memory_mib)
            sv->pub.memory_mib = sp->memory_mib;
        if (sp->placeable) sv->pub.placeable = true;
        int64_t mem = sp->src_node != GF_NONE ? w->nodes.v[sp->src_node].gpu_memory_mib : 0;
        if (mem <= 0) /* the smallest GPU of the nodes it may use */
            for (size_t n = 0; n < w->nodes.n; n++) {
                const gf_node *nd = &w->nodes.v[n];
                bool was = nd->unschedulable;
                w->nodes.v[n].unschedulable = s->cordoned[n];
                bool ok = nd->gpu_memory_mib > 0 && gf_pack_node_allowed(w, p, (uint32_t)n, NULL);
                w->nodes.v[n].unschedulable = was;
                if (ok && (mem <= 0 || nd->gpu_memory_mib < mem)) mem = nd->gpu_memory_mib;
            }
        if (mem > 0 && (sv->pub.gpu_memory_mib <= 0 || mem < sv->pub.gpu_memory_mib))
            sv->pub.gpu_memory_mib = mem;
        sv->pool = sp->pool;
    }
    free(svc_of_wl);
    /* pods of each service, the rule, declared fraction */
    s->svc_pods = gf_xmalloc((s->pods.n + 1) * sizeof(uint32_t));
    uint32_t k = 0;
    for (size_t si = 0; si < s->services.n; si++) { /* counting sort by service */
        s->services.v[si].first = k;
        k += s->services.v[si].pub.pods;
    }
    s->n_svc_pods = k;
    for (size_t i = 0; i < s->pods.n; i++)
        if (s->pods.v[i].service != GF_NONE) {
            service *sv = &s->services.v[s->pods.v[i].service];
            s->svc_pods[sv->first + sv->n++] = (uint32_t)i;
        }
    for (size_t si = 0; si < s->services.n; si++) {
        service *sv = &s->services.v[si];
        /* pods of one workload may differ mid-rollout: one unit, the largest size */
        if (sv->pub.unit == GF_SHARE_FRACTION && sv->pub.fraction <= 0)
            sv->pub.unit = GF_SHARE_MEMORY;
        if (sv->pub.unit == GF_SHARE_MEMORY && sv->pub.memory_mib <= 0)
            sv->pub.unit = GF_SHARE_FRACTION;
        if (sv->pub.unit == GF_SHARE_FRACTION)
            sv->pub.fraction = sv->pub.fraction > 1 ? 1 : sv->pub.fraction;
        else if (sv->pub.gpu_memory_mib > 0)
            sv->pub.fraction = fmin(1.0, (double)sv->pub.memory_mib / sv->pub.gpu_memory_mib);
        else
            sv->pub.fraction = 1.0;
        for (uint32_t j = 0; j < sv->n; j++) {
            spod *sp = &s->pods.v[s->svc_pods[sv->first + j]];
            sp->share = sv->pub.unit;
            sp->fraction = sv->pub.fraction;
            sp->memory_mib = sv->pub.memory_mib;
            sp->devices = sv->pub.devices ? sv->pub.devices : 1;
        }
        char key[600];
        gf_recommend_key(sv->pub.ns, sv->pub.kind ? sv->pub.kind : "Pod", sv->pub.name, key,
                         sizeof key);
        sv->key = gf_xstrdup(key);
        gf_policy_decision dec;
        gf_rightsize_rule_defaults(&dec.rule);
        if (sv->pub.workload != GF_NONE) {
            gf_policy_subject subj;
            /* a pod of the service (active in the input) for labels and annotation */
            gf_policy_subject_with_pod(w, sv->pub.workload,
                                       sv->n ? &w->pods.v[s->svc_pods[sv->first]] : NULL, &subj);
            gf_policy_resolve(pol, &subj, &dec);
        }
        sv->rule = dec.rule;
        bool sized = sv->pub.workload != GF_NONE && sv->pub.gpu_memory_mib > 0 && sv->pub.placeable;
        sv->rightsized_vpa = sized;
        sv->rightsized_gpufrac = sized && dec.rule.mode != GF_MODE_OFF;
        /* conversion: its own mode; only controllers whose template can be
         * patched (the controller's kind hold) */
        sv->converted_gpufrac =
            sv->rightsized_gpufrac && sv->pub.whole && dec.rule.convert_from_whole != GF_MODE_OFF &&
            sv->pub.kind &&
            (!strcmp(sv->pub.kind, "Deployment") || !strcmp(sv->pub.kind, "StatefulSet"));
        if (sv->pub.whole) sv->rightsized_gpufrac = sv->converted_gpufrac;
        const gf_pod *p0 = sv->n ? &w->pods.v[s->svc_pods[sv->first]] : NULL;
        sv->scheduler = p0 ? p0->scheduler_name : NULL;
        /* its engine, as inspect and the controller find it */
        memset(&sv->pub.engine, 0, sizeof sv->pub.engine);
        sv->pub.engine.memory = GF_MEM_FOLLOWS_LOAD;
        if (p0 && !sv->pub.whole) gf_engine_detect(p0, &sv->pub.engine, NULL);
        sv->pub.cap_ratio = 1;
        if (sv->pub.engine.memory == GF_MEM_PREALLOCATES && isfinite(sv->pub.engine.cap) &&
            sv->pub.fraction > 0)
            sv->pub.cap_ratio = sv->pub.engine.cap / sv->pub.fraction;
        /* weights + overhead, as the pod may say (recommend.h GF_ENGINE_BASE_ANNOTATION) */
        const char *base = p0 ? gf_kvs_get(&p0->annotations, GF_ENGINE_BASE_ANNOTATION) : NULL;
        int64_t base_bytes = 0;
        const char *why = NULL;
        if (base && gf_quantity_value(base, &base_bytes, &why) == GF_OK && base_bytes > 0)
            sv->engine_base_bytes = (double)base_bytes;
    }
    gf_policy_free(&builtin);
    for (size_t i = 0; i < s->pods.n; i++)
        declared_request(s, (uint32_t)i);
    if (!s->gpus_src) {
        gf_error_set(err, GF_EINPUT, "cluster", "the cluster has no GPU nodes to simulate");
        gf_sim_free(s);
        return GF_EINPUT;
    }
    if (!s->services.n) {
        gf_error_set(err, GF_EINPUT, "cluster",
                     "the cluster has no pods with a KAI GPU share (gpu-fraction or "
                     "gpu-memory): nothing to rightsize");
        gf_sim_free(s);
        return GF_EINPUT;
    }
    s->scales = gf_xcalloc(s->services.n, sizeof(double));
    s->replicas = gf_xcalloc(s->services.n, sizeof(double));
    for (size_t i = 0; i < s->services.n; i++) {
        s->scales[i] = s->services.v[i].pub.fraction;
        s->replicas[i] = s->services.v[i].pub.pods;
        gf_vec_push(&s->pub, s->services.v[i].pub);
    }
    gf_fair_policy fp;
    if (o->policy)
        fp = o->policy->fair_use;
    else
        gf_fair_policy_defaults(&fp);
    bool protect = o->fair_use == GF_SIM_FAIR_ACT ||
                   (o->fair_use == GF_SIM_FAIR_POLICY && fp.mode == GF_FAIR_MODE_ACT);
    if (!o->fairuse && protect) {
        fp.mode = GF_FAIR_MODE_ACT;
        s->fu = gf_sim_fairuse_new(&fp, &s->w);
        s->o.fairuse = gf_sim_fairuse_hook;
        s->o.fairuse_ctx = s->fu;
    }
    *out = s;
    return GF_OK;
}

void gf_sim_free(gf_sim *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->services.n; i++)
        free(s->services.v[i].key);
    gf_vec_free(&s->services);
    gf_vec_free(&s->pub);
    gf_vec_free(&s->pods);
    gf_vec_free(&s->src_gpus);
    free(s->svc_pods);
    free(s->scales);
    free(s->replicas);
    free(s->cordoned);
    free(s->spare);
    free(s->pool_max_gpus);
    gf_sim_fairuse_free(s->fu);
    gf_model_free(&s->w);
    free(s);
}

size_t gf_sim_services(const gf_sim *s, const gf_sim_service **out)
{
    *out = s->pub.v;
    return s->pub.n;
}

const double *gf_sim_scales(const gf_sim *s)
{
    return s->scales;
}

const double *gf_sim_replicas(const gf_sim *s)
{
    return s->replicas;
}

void gf_sim_demand_opts(const gf_sim *s, uint64_t seed, gf_demand_opts *o)
{
    o->start_t = s->o.start_t;
    o->step_s = s->o.step_s;
    o->n_steps = s->n_steps;
    o->seed = seed;
}

const gf_model *gf_sim_model(const gf_sim *s)
{
    return &s->w;
}

/* --- demand from usage samples ------------------------------------------------------------- */

gf_err gf_sim_demand_from_usage(gf_sim *s, const gf_usage_sample *v, size_t n, gf_demand *d,
                                size_t *unmatched, size_t *empty, gf_error *err)
{
    gf_arena keys;
    gf_arena_init(&keys);
    gf_strmap by_pod, by_wl;
    gf_strmap_init(&by_pod);
    gf_strmap_init(&by_wl);
    char k[700];
    for (size_t i = 0; i < s->pods.n; i++) {
        if (s->pods.v[i].service == GF_NONE) continue;
        snprintf(k, sizeof k, "%s/%s", s->w.pods.v[i].ns, s->w.pods.v[i].name);
        gf_strmap_put(&by_pod, gf_arena_strdup(&keys, k), s->pods.v[i].service);
    }
    for (size_t i = 0; i < s->services.n; i++) {
        const gf_sim_service *sv = &s->services.v[i].pub;
        if (sv->workload == GF_NONE) continue;
        snprintf(k, sizeof k, "%s/%s", sv->ns, sv->name);
        gf_strmap_put(&by_wl, gf_arena_strdup(&keys, k), i);
    }
    uint32_t *svc = gf_xmalloc((n + 1) * sizeof(uint32_t));
    double tmin = INFINITY, tmax = -INFINITY;
    size_t miss = 0;
    for (size_t i = 0; i < n; i++) {
        const gf_usage_sample *x = &v[i];
        size_t si = GF_NONE;
        int len = snprintf(k, sizeof k, "%s/%s", x->ns, x->pod);
        if (len < 0 || (size_t)len >= sizeof k || !gf_strmap_get(&by_pod, k, &si)) {
            si = GF_NONE;
            /* <workload>-<anything>: try the longest prefix ending before a '-' */
            size_t ns_len = strlen(x->ns) + 1;
            for (size_t e = len > 0 && (size_t)len < sizeof k ? (size_t)len : 0; e > ns_len; e--)
                if (k[e - 1] == '-') {
                    k[e - 1] = '\0';
                    if (gf_strmap_get(&by_wl, k, &si)) break;
                    si = GF_NONE;
                }
        }
        svc[i] = (uint32_t)si;
        if (si == GF_NONE) {
            miss++;
            continue;
        }
        if (x->t < tmin) tmin = x->t;
        if (x->t > tmax) tmax = x->t;
    }
    gf_err rc = GF_OK;
    if (!isfinite(tmin)) {
        rc = gf_error_set(err, GF_EINPUT, "usage",
                          "none of the %zu samples is of a pod of the cluster's GPU services "
                          "(match by namespace and pod name)",
                          n);
    } else {
        double step = s->o.step_s;
        s->o.start_t = floor(tmin / step) * step;
        double span = floor((tmax - s->o.start_t) / step) + 1;
        uint32_t steps = span < s->n_steps ? (uint32_t)span : s->n_steps;
        gf_demand_opts o;
        gf_sim_demand_opts(s, 0, &o);
        rc = gf_demand_table_begin(d, &o, s->services.n, steps, err);
        for (size_t i = 0; !rc && i < n; i++) {
            if (svc[i] == GF_NONE) continue;
            const gf_usage_sample *x = &v[i];
            double at = floor((x->t - s->o.start_t) / step);
            if (at < 0 || at >= steps) continue;
            const gf_sim_service *sv = &s->services.v[svc[i]].pub;
            double gpu_bytes = (sv->gpu_memory_mib > 0 ? sv->gpu_memory_mib : 1024) * MIB;
            gf_demand_table_add(d, svc[i], (uint32_t)at, x->memory_bytes / gpu_bytes, x->sm_util);
        }
        if (!rc) gf_demand_table_end(d, empty);
    }
    if (unmatched) *unmatched = miss;
    free(svc);
    gf_strmap_free(&by_pod);
    gf_strmap_free(&by_wl);
    gf_arena_free(&keys);
    return rc;
}

/* --- one policy's run --------------------------------------------------------------------- */

static gf_pod *wpod(run *r, uint32_t i)
{
    return &r->w->pods.v[i];
}

static void set_node(run *r, uint32_t node, bool on)
{
    const gf_node *n = &r->w->nodes.v[node];
    if (r->on[node] != on && n->gpu_count) {
        r->gpu_nodes_on += on ? 1 : -1;
        r->gpus_on += on ? (int64_t)n->gpu_count : -(int64_t)n->gpu_count;
    }
    r->on[node] = on;
    r->w->nodes.v[node].unschedulable = !on || r->s->cordoned[node];
}

/* Pod i is not (or no longer) running: the step loop looks after it. */
void gf_sim_unsettle(run *r, uint32_t i)
{
    if (r->listed[i]) return;
    r->listed[i] = true;
    gf_vec_push(&r->unsettled, i);
}

static void take(run *r, uint32_t i, const gf_placement *pl, bool at_start)
{
    gf_pack_apply(r->ps, wpod(r, i), pl);
    r->pl[i] = *pl;
    wpod(r, i)->node = pl->node;
    r->failed_epoch[i] = 0;
    if (at_start) {
        r->state[i] = GF_SIM_POD_RUNNING;
        r->ready_t[i] = r->t;
    } else if (r->boot_until[pl->node] > r->t) {
        r->state[i] = GF_SIM_POD_WAITING;
        r->ready_t[i] = r->boot_until[pl->node] + r->s->o.restart_s;
        gf_sim_unsettle(r, i);
    } else {
        r->state[i] = GF_SIM_POD_STARTING;
        r->ready_t[i] = r->t + r->s->o.restart_s;
        gf_sim_unsettle(r, i);
    }
}

static void release(run *r, uint32_t i)
{
    if (r->state[i] == GF_SIM_POD_PENDING) return;
    gf_pack_remove(r->ps, wpod(r, i), &r->pl[i]);
    r->state[i] = GF_SIM_POD_PENDING;
    wpod(r, i)->node = GF_NONE;
    r->epoch++;
    gf_sim_unsettle(r, i);
}

/* Places pod i: on a node in service, else on one brought into service. */
static bool place(run *r, uint32_t i, bool at_start)
{
    gf_sim *s = r->s;
    if (!s->pods.v[i].placeable) return false;
    if (r->failed_epoch[i] && r->failed_epoch[i] == r->epoch) return false; /* nothing freed */
    gf_pod *p = wpod(r, i);
    gf_placement pl;
    if (gf_pack_place(r->ps, p, s->o.scorer, NULL, &pl) == GF_OK) {
        take(r, i, &pl, at_start);
        return true;
    }
    /* autoscaler: the first node out of service that takes it */
    for (size_t n = 0; n < r->w->nodes.n; n++) {
        if (r->on[n] || s->cordoned[n]) continue;
        r->w->nodes.v[n].unschedulable = false;
        bool ok = gf_pack_fit_node(r->ps, p, (uint32_t)n, s->o.scorer, &pl, NULL);
        r->w->nodes.v[n].unschedulable = true;
        if (!ok) continue;
        set_node(r, (uint32_t)n, true);
        r->boot_until[n] = at_start ? r->t : r->t + s->o.node_boot_s;
        r->res->nodes_added += !at_start;
        r->epoch++;
        take(r, i, &pl, at_start);
        return true;
    }
    r->failed_epoch[i] = r->epoch;
    return false;
}

/* Pod i at its place in the cluster, if that still holds it. */
static bool place_at_source(run *r, uint32_t i)
{
    const spod *sp = &r->s->pods.v[i];
    if (sp->src_node == GF_NONE) return false;
    gf_pod *p = wpod(r, i);
    const gf_node *n = &r->w->nodes.v[sp->src_node];
    gf_placement pl = {0};
    pl.node = sp->src_node;
    if (p->cpu_milli > r->ps->free_cpu_milli[pl.node] ||
        p->memory_bytes > r->ps->free_memory_bytes[pl.node])
        return false;
    if (sp->gpu) {
        pl.share = p->share != GF_SHARE_NONE ? gf_pod_share_on(p, n->gpu_memory_mib) : 1.0;
        if (!(pl.share > 0) || sp->src_n > GF_PACK_MAX_DEVICES) return false;
        pl.n_gpus = sp->src_n;
        for (uint32_t k = 0; k < sp->src_n; k++) {
            pl.gpus[k] = r->s->src_gpus.v[sp->src_first + k];
            if (r->ps->gpu_free[pl.gpus[k]] + GF_PACK_EPS < pl.share) return false;
        }
    }
    take(r, i, &pl, true);
    return true;
}

typedef struct order_key {
    double demand;
    uint32_t pod;
} order_key;

static int cmp_order(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->demand != y->demand) return x->demand > y->demand ? -1 : 1;
    return (x->pod > y->pod) - (x->pod < y->pod);
}

/* GPUs a pod asks for, to order placements largest first. */
static double request_gpus(const run *r, uint32_t i)
{
    const gf_pod *p = &r->w->pods.v[i];
    const spod *sp = &r->s->pods.v[i];
    if (p->gpu_whole) return p->gpu_whole;
    return sp->gpu ? sp->fraction * sp->devices : 0;
}

static bool clairvoyant(gf_sim_policy p)
{
    return p == GF_SIM_CLAIRVOYANT_STATIC || p == GF_SIM_CLAIRVOYANT_DAILY;
}

/* The state at step 0: every pod where it runs (unless the policy changes
 * its request), then the rest, largest first, on nodes brought in as
 * needed. */
static void initial_placement(run *r)
{
    gf_sim *s = r->s;
    size_t np = s->pods.n;
    for (size_t i = 0; i < r->w->nodes.n; i++) {
        set_node(r, (uint32_t)i, !s->spare[i]);
        r->boot_until[i] = -INFINITY;
    }
    for (size_t g = 0; g < r->w->gpus.n; g++) {
        r->w->gpus.v[g].allocated_fraction = 0;
        r->w->gpus.v[g].state = GF_GPU_IDLE;
    }
    for (size_t i = 0; i < np; i++) {
        declared_request(s, (uint32_t)i);
        const spod *sp = &s->pods.v[i];
        if (r->pol == GF_SIM_ONE_GPU && sp->gpu && !sp->whole)
            set_request(wpod(r, (uint32_t)i), GF_SHARE_NONE, 0, 0, sp->devices);
        if (clairvoyant(r->pol) && sp->service != GF_NONE && !r->whole[sp->service]) {
            /* sized from the start (a whole-GPU service it converts: a share per device) */
            set_request(wpod(r, (uint32_t)i), r->unit[sp->service], r->fraction[sp->service],
                        r->mib[sp->service], 0);
            wpod(r, (uint32_t)i)->gpu_devices = sp->devices;
        }
        r->state[i] = GF_SIM_POD_PENDING;
        wpod(r, (uint32_t)i)->node = GF_NONE;
        wpod(r, (uint32_t)i)->phase = GF_PHASE_PENDING;
    }
    r->ps = gf_pack_state_new_empty(r->w);
    bool replace_all = r->pol == GF_SIM_ONE_GPU;
    order_key *ord = gf_xmalloc((np + 1) * sizeof *ord);
    size_t n = 0;
    for (size_t i = 0; i < np; i++) {
        const spod *sp = &s->pods.v[i];
        /* whole-GPU and CPU pods keep their place under every policy */
        bool keep = !replace_all || !sp->gpu || sp->whole;
        if (keep && place_at_source(r, (uint32_t)i)) continue;
        ord[n++] = (order_key){request_gpus(r, (uint32_t)i), (uint32_t)i};
    }
    qsort(ord, n, sizeof *ord, cmp_order);
    for (size_t k = 0; k < n; k++)
        place(r, ord[k].pod, true);
    free(ord);
    for (size_t i = 0; i < np; i++) /* what did not fit waits */
        if (r->state[i] != GF_SIM_POD_RUNNING) gf_sim_unsettle(r, (uint32_t)i);
}

static void abandon_new(run *r, uint32_t i);
static void roll_advance(run *r, uint32_t si);

/* Applies a new allocation to service si: a share (whole 0) or whole GPUs
 * per pod; its pods are replaced as its owner's rollout does it. */
static void resize_to(run *r, uint32_t si, gf_share_kind unit, double fraction, int64_t mib,
                      uint32_t whole, bool up)
{
    gf_sim *s = r->s;
    const service *sv = &s->services.v[si];
    if (r->watch && !whole && !r->whole[si]) {
        /* a share resize: its rollout is watched (the controller's stall detection) */
        r->watch[si] = (sim_watch){r->t, r->unit[si], r->fraction[si], r->mib[si], false};
    }
    r->unit[si] = unit;
    r->fraction[si] = fraction;
    r->mib[si] = mib;
    r->whole[si] = whole;
    for (uint32_t k = 0; k < sv->n; k++) { /* a rollout in progress is superseded */
        uint32_t i = s->svc_pods[sv->first + k];
        if (r->has_old[i]) abandon_new(r, i);
        r->todo[i] = true;
    }
    r->rolling[si] = true;
    r->res->resizes++;
    if (up)
        r->res->upsizes++;
    else
        r->res->downsizes++;
    roll_advance(r, si);
    gf_sim_charts_resized(r, si);
    if (r->series && r->series[si]) gf_hist_note_change(r->series[si], r->t, NULL);
}

static void resize(run *r, uint32_t si, gf_share_kind unit, double fraction, int64_t mib, bool up)
{
    resize_to(r, si, unit, fraction, mib, 0, up);
}

/* --- rollouts ------------------------------------------------------------------------------ */

/* How the owner replaces a service's pods (a resize needs new pods):
 * - a Deployment's RollingUpdate: at most replicas + maxSurge pods, at
 *   least replicas - maxUnavailable serving; maxSurge rounds up,
 *   maxUnavailable down, both 0 is read as maxUnavailable 1, defaults
 *   25% / 25% (k8s.io/kubernetes pkg/controller/deployment/util
 *   deployment_util.go ResolveFenceposts; apps/v1 DeploymentStrategy);
 * - a StatefulSet's RollingUpdate: one pod at a time from the highest
 *   ordinal, the next once the last is running (pkg/controller/statefulset
 *   stateful_set_control.go; the partition is ignored);
 * - a Recreate Deployment, and anything else: every pod at once.
 * A new pod beside an old one (a surge) is placed as any pod is (it may
 * bring a node in or wait pending); the old one holds its capacity and
 * serves until the new one runs. */
typedef struct rollout {
    uint32_t surge, unavailable;
    bool reverse; /* the highest ordinal first */
} rollout;

static uint32_t scaled(int32_t v, bool percent, uint32_t n, bool round_up)
{
    if (v < 0) { /* absent: 25% */
        v = 25;
        percent = true;
    }
    if (!percent) return (uint32_t)v;
    double x = v / 100.0 * n;
    return (uint32_t)(round_up ? ceil(x - 1e-9) : floor(x + 1e-9));
}

static rollout rollout_of(const run *r, uint32_t si)
{
    const gf_sim *s = r->s;
    const service *sv = &s->services.v[si];
    rollout ro = {0, sv->n, false};
    const gf_workload *wl = gf_model_pod_workload(&s->w, &s->w.pods.v[s->svc_pods[sv->first]]);
    if (!wl || !wl->kind) return ro;
    if (!strcmp(wl->kind, "StatefulSet")) return (rollout){0, 1, true};
    if (strcmp(wl->kind, "Deployment") || wl->recreate) return ro;
    ro.surge = scaled(wl->max_surge, wl->max_surge_percent, sv->n, true);
    ro.unavailable = scaled(wl->max_unavailable, wl->max_unavailable_percent, sv->n, false);
    if (ro.surge == 0 && ro.unavailable == 0) ro.unavailable = 1;
    return ro;
}

static void req_of(const gf_pod *p, sim_req *q)
{
    *q = (sim_req){p->share, p->gpu_fraction, p->gpu_memory_mib, p->gpu_whole};
}

/* Replica i's new pod, at its service's allocation now. */
static void new_pod(run *r, uint32_t si, uint32_t i)
{
    set_request(wpod(r, i), r->unit[si], r->fraction[si], r->mib[si], r->whole[si]);
    wpod(r, i)->gpu_devices = r->s->pods.v[i].devices;
    r->failed_epoch[i] = 0;
    r->todo[i] = false;
    r->res->restarts_resize++;
    place(r, i, false);
}

/* Its old pod goes, then the new one is created. */
static void replace_now(run *r, uint32_t si, uint32_t i)
{
    release(r, i);
    new_pod(r, si, i);
}

/* The new pod is created beside the old one, which keeps serving. */
static void replace_surge(run *r, uint32_t si, uint32_t i)
{
    r->old_pl[i] = r->pl[i];
    req_of(wpod(r, i), &r->old_req[i]);
    r->has_old[i] = true;
    r->state[i] = GF_SIM_POD_PENDING;
    wpod(r, i)->node = GF_NONE;
    gf_sim_unsettle(r, i);
    new_pod(r, si, i);
}

/* The new pod runs: the old one goes (a rollout's cpu and memory requests
 * are unchanged: a resize changes the GPU request only). */
static void retire_old(run *r, uint32_t i)
{
    gf_pack_remove(r->ps, wpod(r, i), &r->old_pl[i]);
    r->has_old[i] = false;
    r->high_water[i] = 0;
    r->starved[i] = false;
    r->epoch++;
}

/* A rollout superseded: the new pod not yet running goes, the old one stays. */
static void abandon_new(run *r, uint32_t i)
{
    if (r->state[i] != GF_SIM_POD_PENDING) {
        gf_pack_remove(r->ps, wpod(r, i), &r->pl[i]);
        r->epoch++;
    }
    const sim_req *q = &r->old_req[i];
    set_request(wpod(r, i), q->share, q->fraction, q->mib, q->whole);
    r->pl[i] = r->old_pl[i];
    wpod(r, i)->node = r->pl[i].node;
    r->state[i] = GF_SIM_POD_RUNNING; /* the step loop unlists it */
    r->has_old[i] = false;
}

/* One step of service si's rollout: old pods whose new pod runs go; then
 * as many replicas are replaced as its strategy allows. */
static void roll_advance(run *r, uint32_t si)
{
    const gf_sim *s = r->s;
    const service *sv = &s->services.v[si];
    rollout ro = rollout_of(r, si);
    uint32_t n = sv->n, pods = 0, serving = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = s->svc_pods[sv->first + k];
        if (r->has_old[i] && r->state[i] == GF_SIM_POD_RUNNING) retire_old(r, i);
        pods += 1 + r->has_old[i];
        serving += r->has_old[i] || r->state[i] == GF_SIM_POD_RUNNING;
    }
    if (ro.surge == 0 && ro.unavailable >= n) { /* all at once: every old pod goes first */
        for (uint32_t k = 0; k < n; k++)
            if (r->todo[s->svc_pods[sv->first + k]]) release(r, s->svc_pods[sv->first + k]);
    }
    bool left = false;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = s->svc_pods[sv->first + (ro.reverse ? n - 1 - k : k)];
        if (r->todo[i]) {
            if (r->state[i] != GF_SIM_POD_RUNNING) { /* not serving anyway */
                replace_now(r, si, i);
            } else if (pods < n + ro.surge) {
                replace_surge(r, si, i);
                pods++;
            } else if (serving + ro.unavailable > n) {
                replace_now(r, si, i);
                serving--;
            }
        }
        left = left || r->todo[i] || r->has_old[i];
    }
    r->rolling[si] = left;
}

/* The step's service: an old pod still serving while its replacement
 * starts is what serves that replica (its placement, its demand, its harm;
 * an OOM kill of it is counted, and it serves on). */
static void serve(run *r)
{
    size_t np = r->s->pods.n;
    double dt_min = r->s->o.step_s / 60.0;
    for (size_t i = 0; i < np; i++) {
        if (!r->has_old[i]) continue;
        gf_placement t = r->pl[i];
        r->pl[i] = r->old_pl[i];
        r->old_pl[i] = t;
        r->new_state[i] = r->state[i];
        r->state[i] = GF_SIM_POD_RUNNING;
        r->res->surge_min += dt_min;
    }
    gf_sim_serve(r);
    for (size_t i = 0; i < np; i++) {
        if (!r->has_old[i]) continue;
        gf_placement t = r->pl[i];
        r->pl[i] = r->old_pl[i];
        r->old_pl[i] = t;
        r->state[i] = r->new_state[i];
    }
}

/* --- rightsizing ----------------------------------------------------------------------------- */

static double round_step(double frac, double step, double lo, double hi)
{
    if (frac < lo) frac = lo;
    frac = ceil(frac / step - 1e-9) * step;
    if (frac > hi) frac = hi;
    return round(frac * 1e6) / 1e6;
}

/* VPA-style target for service si (fraction of one GPU), or -1 when VPA
 * would not act yet. */
static double vpa_target(run *r, uint32_t si)
{
    const service *sv = &r->s->services.v[si];
    const gf_hist_series *hs = r->series[si];
    gf_rightsize_rule def; /* VPA knows nothing of gpufrac's policy: the default bounds */
    gf_rightsize_rule_defaults(&def);
    const gf_hist_track *mt = &hs->track[GF_SIG_MEMORY];
    if (!mt->samples || r->t - mt->first_t < VPA_MIN_HISTORY_S) return -1;
    double p90;
    if (gf_hist_percentile(hs, GF_SIG_MEMORY, VPA_PERCENTILE, &p90, NULL) != GF_OK) return -1;
    double frac = p90 * (1 + VPA_MARGIN) / (sv->pub.gpu_memory_mib * MIB);
    return round_step(frac, def.step, def.min_fraction, fmin(1.0, def.max_fraction));
}

/* gpufrac's conversion of whole-GPU service si (decide/convert.h), the
 * recommend mode simulated as if automated like rightsizing. */
static void convert(run *r, uint32_t si)
{
    const service *sv = &r->s->services.v[si];
    gf_rec_input in = {.ns = sv->pub.ns,
                       .kind = sv->pub.kind,
                       .name = sv->pub.name,
                       .unit = GF_SHARE_FRACTION,
                       .devices = r->whole[si],
                       .gpu_memory_mib = sv->pub.gpu_memory_mib,
                       .replicas = sv->n,
                       .whole_gpus = r->whole[si],
                       .gpu_container = "main",
                       .scheduler_name = sv->scheduler};
    gf_recommendation rec;
    if (gf_convert_one(&sv->rule, GF_MODE_AUTO, &in, r->series[si], r->t, &rec, NULL) != GF_OK ||
        rec.action != GF_REC_TO_FRACTION)
        return;
    r->whole[si] = 0;
    r->res->conversions++;
    if (rec.in.unit == GF_SHARE_MEMORY)
        resize(r, si, GF_SHARE_MEMORY, 0, (int64_t)rec.recommended, false);
    else
        resize(r, si, GF_SHARE_FRACTION, rec.recommended, 0, false);
    if (r->watch) r->watch[si].since = -1; /* no share to go back to: not watched */
}

/* Service si's GPUs per pod now (all devices). */
static double pod_gpus_now(const run *r, uint32_t si)
{
    const service *sv = &r->s->services.v[si];
    if (r->whole[si]) return r->whole[si];
    double f = r->unit[si] == GF_SHARE_MEMORY ? (double)r->mib[si] / (double)sv->pub.gpu_memory_mib
                                              : r->fraction[si];
    return f * (sv->pub.devices ? sv->pub.devices : 1);
}

/* Non-preemptible GPUs per queue and its parents (by queue index, the
 * caller frees): the services as they stand now, other pods as the
 * cluster had them. */
static double *queue_alloc(const run *r)
{
    const gf_sim *s = r->s;
    const gf_model *w = &s->w;
    double *alloc = gf_xcalloc(w->queues.n + 1, sizeof(double));
    bool *in_service = gf_xcalloc(w->pods.n + 1, sizeof(bool));
    for (uint32_t sj = 0; sj < s->services.n; sj++) {
        const service *o = &s->services.v[sj];
        for (uint32_t k = 0; k < o->n; k++)
            in_service[s->svc_pods[o->first + k]] = true;
        const gf_pod *p = &w->pods.v[s->svc_pods[o->first]];
        if (p->gov.preemptible) continue;
        double g = pod_gpus_now(r, sj) * o->n;
        for (uint32_t q = p->gov.queue_idx, n = 0; q != GF_NONE && n <= w->queues.n; n++) {
            alloc[q] += g;
            q = w->queues.v[q].parent_idx;
        }
    }
    for (size_t i = 0; i < w->pods.n; i++) {
        const gf_pod *p = &w->pods.v[i];
        if (in_service[i] || p->gov.preemptible || !gf_pod_active(p)) continue;
        double g = p->share == GF_SHARE_NONE ? p->gpu_whole : 0; /* not a service: whole GPUs */
        for (uint32_t q = p->gov.queue_idx, n = 0; q != GF_NONE && n <= w->queues.n; n++) {
            alloc[q] += g;
            q = w->queues.v[q].parent_idx;
        }
    }
    free(in_service);
    return alloc;
}

/* The non-preemptible representative pod of service si in a queue, else NULL. */
static const gf_pod *quota_pod(const run *r, uint32_t si)
{
    const gf_model *w = &r->s->w;
    if (!w->queues.n) return NULL;
    const gf_pod *rep = &w->pods.v[r->s->svc_pods[r->s->services.v[si].first]];
    return rep->gov.preemptible || rep->gov.queue_idx == GF_NONE ? NULL : rep;
}

/* A downsize of service si to to_pod GPUs per pod its queues could not take
 * back (decide/quota.h gf_quota_downsize_one_way, on the simulated
 * allocations): held, counted. */
static bool quota_one_way(run *r, uint32_t si, double to_pod)
{
    const gf_pod *rep = quota_pod(r, si);
    if (!rep || !(to_pod < pod_gpus_now(r, si))) return false;
    const gf_model *w = &r->s->w;
    const service *sv = &r->s->services.v[si];
    double *alloc = queue_alloc(r);
    gf_quota_check qc;
    double back = gf_quota_way_back(gf_model_pod_workload(w, rep), sv->n, to_pod, NULL);
    bool held = gf_quota_walk(w, rep->gov.queue_idx, back, alloc, &qc);
    free(alloc);
    if (held) r->res->quota_held_downsizes++;
    return held;
}

/* KAI's queue quota (decide/quota.h) on the simulated allocations: may
 * non-preemptible service si go to to_pod GPUs per pod? A blocked upsize is
 * counted and listed (its service once), and not applied. */
static bool quota_blocks(run *r, uint32_t si, double to_pod)
{
    const gf_sim *s = r->s;
    const gf_model *w = &s->w;
    const gf_pod *rep = quota_pod(r, si);
    if (!rep) return false;
    const service *sv = &s->services.v[si];
    double from_pod = pod_gpus_now(r, si);
    if (!(to_pod > from_pod)) return false;
    double *alloc = queue_alloc(r);
    const gf_workload *wl = gf_model_pod_workload(w, rep);
    gf_quota_check qc;
    memset(&qc, 0, sizeof qc);
    double delta = gf_quota_delta(wl, sv->n, from_pod, to_pod, &qc.surge_pods);
    bool blocked = gf_quota_walk(w, rep->gov.queue_idx, delta, alloc, &qc);
    free(alloc);
    if (!blocked) return false;
    r->res->quota_blocked++;
    bool listed = false;
    for (uint32_t i = 0; i < r->res->n_blocked && !listed; i++)
        listed = r->res->blocked[i].service == si;
    if (!listed && r->res->n_blocked < GF_SIM_MAX_BLOCKED) {
        double dev = sv->pub.devices ? sv->pub.devices : 1;
        gf_sim_blocked *b = &r->res->blocked[r->res->n_blocked++];
        memset(b, 0, sizeof *b);
        b->service = si;
        snprintf(b->name, sizeof b->name, "%s", sv->key);
        snprintf(b->queue, sizeof b->queue, "%s", w->queues.v[qc.queue].name);
        b->t = r->t;
        b->quota_gpus = qc.quota_gpus;
        b->allocated_gpus = qc.allocated_gpus;
        b->delta_gpus = qc.delta_gpus;
        b->from_fraction = from_pod / dev;
        b->to_fraction = to_pod / dev;
    }
    return true;
}

static void rightsize(run *r, bool scheduled)
{
    gf_sim *s = r->s;
    for (uint32_t si = 0; si < s->services.n; si++) {
        const service *sv = &s->services.v[si];
        double cur = r->unit[si] == GF_SHARE_MEMORY
                         ? (double)r->mib[si] / (double)sv->pub.gpu_memory_mib
                         : r->fraction[si];
        if (r->whole[si]) { /* whole GPUs: only gpufrac's conversion touches them */
            if (r->pol == GF_SIM_GPUFRAC && scheduled && sv->converted_gpufrac) convert(r, si);
            continue;
        }
        if (r->pol == GF_SIM_VPA) {
            if (!scheduled || !sv->rightsized_vpa) continue;
            double target = vpa_target(r, si);
            gf_rightsize_rule def;
            gf_rightsize_rule_defaults(&def);
            if (target < 0 || fabs(target - cur) < def.min_change - 1e-9) continue;
            int64_t mib = 0;
            if (r->unit[si] == GF_SHARE_MEMORY) {
                double step = (double)def.memory_step_mib;
                mib = (int64_t)(ceil(target * sv->pub.gpu_memory_mib / step - 1e-9) * step);
                if (mib > sv->pub.gpu_memory_mib) mib = sv->pub.gpu_memory_mib;
                if (mib == r->mib[si]) continue;
            }
            resize(r, si, r->unit[si], target, mib, target > cur);
            continue;
        }
        if (!sv->rightsized_gpufrac || (!scheduled && !r->oom_now[si])) continue;
        if (r->watch && r->watch[si].stalled) continue; /* its rollout stalled */
        gf_rec_input in = {.ns = sv->pub.ns,
                           .kind = sv->pub.kind,
                           .name = sv->pub.name,
                           .unit = r->unit[si],
                           .fraction = r->fraction[si],
                           .memory_mib = r->mib[si],
                           .devices = sv->pub.devices,
                           .gpu_memory_mib = sv->pub.gpu_memory_mib,
                           .replicas = sv->n};
        if (gf_sim_engines_apply(s, r->d) && !s->o.engines_blind) { /* as the live path */
            in.engine = sv->pub.engine;
            in.engine_base_bytes = sv->engine_base_bytes;
        }
        gf_recommendation rec;
        gf_rightsize_rule rule = sv->rule;
        rule.mode = GF_MODE_AUTO; /* recommend mode simulated as if automated */
        if (gf_recommend_one(&rule, &in, r->series[si], r->t, &rec, NULL) != GF_OK) continue;
        double dev = sv->pub.devices ? sv->pub.devices : 1;
        if (rec.action == GF_REC_WHOLE && quota_blocks(r, si, dev)) continue;
        if (rec.action == GF_REC_UP && quota_blocks(r, si, rec.recommended_fraction * dev))
            continue;
        if (rec.action == GF_REC_WHOLE) { /* whole GPUs, one per device, no share */
            resize_to(r, si, r->unit[si], r->fraction[si], r->mib[si], sv->pub.devices, true);
            continue;
        }
        if (rec.action != GF_REC_UP && rec.action != GF_REC_DOWN) continue;
        if (rec.action == GF_REC_DOWN && rule.hold_one_way &&
            quota_one_way(r, si, rec.recommended_fraction * dev))
            continue;
        /* an upsize of a preallocating engine decided by NVML memory (flat
         * at its cap whatever the load) rather than by its KV cache */
        if (rec.action == GF_REC_UP && sv->pub.engine.memory == GF_MEM_PREALLOCATES &&
            gf_sim_engines_apply(s, r->d) &&
            (rec.decided_by == GF_RSIG_MEMORY || rec.decided_by == GF_RSIG_PEAK_FLOOR))
            r->res->nvml_flat_upsizes++;
        if (sv->pub.engine.memory == GF_MEM_PREALLOCATES && gf_sim_engines_apply(s, r->d)) {
            if (rec.action == GF_REC_UP)
                r->res->prealloc_upsizes++;
            else
                r->res->prealloc_downsizes++;
        }
        if (r->unit[si] == GF_SHARE_MEMORY)
            resize(r, si, GF_SHARE_MEMORY, 0, (int64_t)rec.recommended, rec.action == GF_REC_UP);
        else
            resize(r, si, GF_SHARE_FRACTION, rec.recommended, 0, rec.action == GF_REC_UP);
    }
}

/* The controller's stall rule on gpufrac's resizes (decide/controller.h,
 * cause pending_timeout): a service whose new pods are not all placed
 * stallTimeout after its resize stalls; onStall revert restores the
 * allocation it replaced, and it is resized no more. */
static void watch_stalls(run *r)
{
    gf_sim *s = r->s;
    for (uint32_t si = 0; si < s->services.n; si++) {
        sim_watch *w = &r->watch[si];
        if (w->since < 0 || w->stalled) continue;
        const service *sv = &s->services.v[si];
        bool pending = false;
        for (uint32_t k = 0; k < sv->n && !pending; k++)
            pending = r->state[s->svc_pods[sv->first + k]] == GF_SIM_POD_PENDING;
        if (!pending) {
            w->since = -1; /* rolled out */
            continue;
        }
        if (r->t - w->since < (double)sv->rule.stall_timeout_s) continue;
        double gm = (double)sv->pub.gpu_memory_mib;
        double to = r->unit[si] == GF_SHARE_MEMORY ? (double)r->mib[si] / gm : r->fraction[si];
        double from = w->unit == GF_SHARE_MEMORY ? (double)w->mib / gm : w->fraction;
        bool revert = sv->rule.on_stall == GF_STALL_REVERT;
        gf_sim_stall st = {si, "", r->t, from, to, revert};
        snprintf(st.workload, sizeof st.workload, "%s/%s", sv->pub.ns, sv->pub.name);
        if (r->res->stalls < GF_SIM_MAX_STALLS) r->res->stall_list[r->res->stalls] = st;
        r->res->stalls++;
        sim_watch prev = *w;
        if (revert) resize(r, si, prev.unit, prev.fraction, prev.mib, from > to);
        r->watch[si] = (sim_watch){-1, prev.unit, prev.fraction, prev.mib, true};
    }
}

/* --- clairvoyant baselines ------------------------------------------------------------------ */

/* Service si's true need at step k, per device as a fraction of one GPU:
 * the largest of its replicas' memory demand (and SM demand where its rule
 * is computeAware or the service holds whole GPUs, as gpufrac would size
 * it), noise included. */
static double true_need(const run *r, uint32_t si, uint32_t k)
{
    const gf_sim *s = r->s;
    const service *sv = &s->services.v[si];
    gf_demand_point pt;
    gf_demand_service(r->d, si, k, &pt);
    double need = 0;
    for (uint32_t j = 0; j < sv->n; j++) {
        double mem, sm;
        gf_demand_pod(r->d, &pt, s->pods.v[s->svc_pods[sv->first + j]].salt, &mem, &sm);
        /* SM counts where the rule is computeAware, and always for a whole-GPU
         * service, as gpufrac's conversion sizes it (decide/convert.h) */
        double x = sv->rule.compute_aware || sv->pub.whole ? fmax(mem, sm) : mem;
        if (x > need) need = x;
    }
    return need;
}

static void cv_plan_add(run *r, uint32_t si, uint32_t step, double need)
{
    const service *sv = &r->s->services.v[si];
    double value;
    gf_rec_input in = {.unit = r->unit[si], .gpu_memory_mib = sv->pub.gpu_memory_mib};
    double frac = gf_recommend_quantise(&sv->rule, &in, need, &value);
    cv_change c = {step, si, r->unit[si] == GF_SHARE_MEMORY ? 0 : frac,
                   r->unit[si] == GF_SHARE_MEMORY ? (int64_t)value : 0};
    gf_vec_push(&r->cv, c);
}

static int cmp_cv(const void *a, const void *b)
{
    const cv_change *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return (x->service > y->service) - (x->service < y->service);
}

/* The clairvoyant plan: for each workload gpufrac rightsizes, its peak need
 * over the run (static), or once a day at its daily trough (the step of
 * least need in each day from the start) the peak until the next day's
 * trough (daily; the first window runs from step 0). Step-0 entries become
 * the initial allocation. */
static void cv_plan(run *r)
{
    gf_sim *s = r->s;
    uint32_t n = s->n_steps;
    uint32_t per_day = (uint32_t)(DAY_S / s->o.step_s);
    if (per_day < 1) per_day = 1;
    double *need = gf_xcalloc(n + 1, sizeof *need);
    uint32_t *trough = gf_xcalloc(n / per_day + 2, sizeof *trough);
    for (uint32_t si = 0; si < s->services.n; si++) {
        const service *sv = &s->services.v[si];
        if (!sv->rightsized_gpufrac) continue;
        for (uint32_t k = 0; k < n; k++)
            need[k] = true_need(r, si, k);
        if (r->whole[si]) {
            /* a whole-GPU service: converted to a share per device from the
             * start when its peak fits maxFractionForConversion, as gpufrac's
             * conversion would; else it keeps its whole GPUs */
            double peak = 0;
            for (uint32_t k = 0; k < n; k++)
                peak = fmax(peak, need[k]);
            if (!sv->converted_gpufrac || peak > sv->rule.convert_max_fraction) continue;
            r->whole[si] = 0;
            r->unit[si] = GF_SHARE_FRACTION;
        }
        if (r->pol == GF_SIM_CLAIRVOYANT_STATIC) {
            double peak = 0;
            for (uint32_t k = 0; k < n; k++)
                peak = fmax(peak, need[k]);
            cv_plan_add(r, si, 0, peak);
            continue;
        }
        uint32_t days = 0; /* resize points: step 0, then each later day's trough */
        trough[days++] = 0;
        for (uint32_t d0 = per_day; d0 < n; d0 += per_day) {
            uint32_t best = d0;
            for (uint32_t k = d0; k < n && k < d0 + per_day; k++)
                if (need[k] < need[best]) best = k;
            trough[days++] = best;
        }
        for (uint32_t d = 0; d < days; d++) {
            uint32_t end = d + 1 < days ? trough[d + 1] : n;
            double peak = 0;
            for (uint32_t k = trough[d]; k < end; k++)
                peak = fmax(peak, need[k]);
            cv_plan_add(r, si, trough[d], peak);
        }
    }
    free(need);
    free(trough);
    if (r->cv.n) qsort(r->cv.v, r->cv.n, sizeof *r->cv.v, cmp_cv);
    for (r->cv_next = 0; r->cv_next < r->cv.n && r->cv.v[r->cv_next].step == 0; r->cv_next++) {
        const cv_change *c = &r->cv.v[r->cv_next];
        r->fraction[c->service] = c->fraction;
        r->mib[c->service] = c->mib;
    }
}

/* This step's planned changes (a change to the allocation it has already
 * is no change). */
static void cv_apply(run *r)
{
    for (; r->cv_next < r->cv.n && r->cv.v[r->cv_next].step == r->step; r->cv_next++) {
        const cv_change *c = &r->cv.v[r->cv_next];
        uint32_t si = c->service;
        bool mem = r->unit[si] == GF_SHARE_MEMORY;
        if (mem ? c->mib == r->mib[si] : fabs(c->fraction - r->fraction[si]) < 1e-9) continue;
        bool up = mem ? c->mib > r->mib[si] : c->fraction > r->fraction[si];
        resize(r, si, r->unit[si], c->fraction, c->mib, up);
    }
}

/* Cold start: what the counters held when it ended is taken off, so that
 * every figure covers the steady state. Peaks and means of GPUs and nodes
 * already start there (warm_steps). */
static void subtract_cold_start(gf_sim_result *x, const gf_sim_result *b)
{
    x->gpu_hours_reserved -= b->gpu_hours_reserved;
    x->gpu_hours_used -= b->gpu_hours_used;
    x->gpu_hours_provisioned -= b->gpu_hours_provisioned;
    x->ooms -= b->ooms;
    x->throttled_min -= b->throttled_min;
    x->neighbour_min -= b->neighbour_min;
    x->pending_min -= b->pending_min;
    x->unavailable_min -= b->unavailable_min;
    x->surge_min -= b->surge_min;
    x->kv_starved_min -= b->kv_starved_min;
    x->preemptions -= b->preemptions;
    x->nvml_flat_upsizes -= b->nvml_flat_upsizes;
    x->prealloc_upsizes -= b->prealloc_upsizes;
    x->prealloc_downsizes -= b->prealloc_downsizes;
    x->restarts_resize -= b->restarts_resize;
    x->restarts_move -= b->restarts_move;
    x->resizes -= b->resizes;
    x->upsizes -= b->upsizes;
    x->downsizes -= b->downsizes;
    x->moves -= b->moves;
    x->nodes_drained -= b->nodes_drained;
    x->nodes_added -= b->nodes_added;
    x->consolidations -= b->consolidations;
    x->fairuse_actions -= b->fairuse_actions;
}

/* --- consolidation -----------------------------------------------------------------------------
 */

/* W's derived placement fields from the simulation's state (what
 * gf_model_finalize would derive from these bindings). */
static void sync_model(run *r)
{
    gf_model *w = r->w;
    for (size_t g = 0; g < w->gpus.n; g++) {
        double a = 1.0 - r->ps->gpu_free[g];
        w->gpus.v[g].allocated_fraction = a > 0 ? a : 0;
        w->gpus.v[g].state = a > EPS ? GF_GPU_SHARED : GF_GPU_IDLE;
    }
    for (size_t i = 0; i < w->pods.n; i++) {
        gf_pod *p = &w->pods.v[i];
        if (r->state[i] == GF_SIM_POD_PENDING) {
            p->node = GF_NONE;
            p->node_name = NULL;
            p->phase = GF_PHASE_PENDING;
            p->n_gpus = 0;
            continue;
        }
        const gf_placement *pl = &r->pl[i];
        p->node = pl->node;
        p->node_name = w->nodes.v[pl->node].name;
        p->phase = GF_PHASE_RUNNING;
        p->n_gpus = pl->n_gpus;
        memcpy(p->gpus, pl->gpus, pl->n_gpus * sizeof(uint32_t));
        if (p->gpu_whole)
            for (uint32_t k = 0; k < pl->n_gpus; k++)
                w->gpus.v[pl->gpus[k]].state = GF_GPU_WHOLE;
    }
}

static gf_err consolidate(run *r, gf_error *err)
{
    gf_sim *s = r->s;
    sync_model(r);
    gf_consolidate_opts co;
    gf_consolidate_opts_default(&co);
    co.scorer = s->o.scorer;
    co.max_moves_per_workload = s->o.consolidate_max_moves;
    gf_consolidation c;
    gf_err rc = gf_consolidate(r->w, &co, &c, err);
    if (rc) {
        gf_consolidation_free(&c);
        return rc;
    }
    r->res->consolidations++;
    bool counted = r->step >= r->count_from;
    for (size_t k = 0; k < c.kept.n && counted; k++) { /* why nodes stay */
        const char *why = c.kept.v[k].reason ? c.kept.v[k].reason : "(none)";
        for (int j = 0; j < GF_SIM_MAX_KEPT; j++) {
            if (r->res->kept[j].reason && strcmp(r->res->kept[j].reason, why)) continue;
            r->res->kept[j].reason = why;
            r->res->kept[j].nodes++;
            break;
        }
    }
    uint32_t drained = 0;
    for (size_t k = 0; k < c.drains.n; k++) {
        const gf_drain *dr = &c.drains.v[k];
        if (!r->on[dr->node]) continue; /* out of service already */
        r->res->drains_planned += counted;
        bool old_here = false; /* a rollout's old pod serves there: not drained now */
        for (size_t i = 0; i < r->w->pods.n && !old_here; i++)
            old_here = r->has_old[i] && r->old_pl[i].node == dr->node;
        if (old_here) {
            r->res->drains_rollout += counted;
            continue;
        }
        if (s->o.consolidate_max_nodes && drained >= s->o.consolidate_max_nodes) {
            r->res->drains_capped += counted;
            continue;
        }
        for (uint32_t j = 0; j < dr->n_moves; j++) {
            const gf_move *mv = &c.moves.v[dr->first_move + j];
            uint32_t i = mv->pod;
            gf_pack_remove(r->ps, wpod(r, i), &r->pl[i]);
            take(r, i, &mv->to, false); /* recreated there: (re)starts */
            r->res->moves++;
            r->res->restarts_move++;
        }
        set_node(r, dr->node, false);
        drained++;
        r->res->nodes_drained++;
        r->epoch++;
    }
    gf_consolidation_free(&c);
    return GF_OK;
}

/* --- a step --------------------------------------------------------------------------- */

/* Invariant check: capacity held equals the placements; nothing placed on a
 * node out of service but pods that need no moving (DaemonSets). */
static gf_err check(run *r, gf_error *err)
{
    gf_model *w = r->w;
    double *sum = gf_xcalloc(w->gpus.n + 1, sizeof(double));
    int64_t *cpu = gf_xcalloc(w->nodes.n + 1, sizeof(int64_t));
    gf_err rc = GF_OK;
    for (size_t i = 0; i < w->pods.n && !rc; i++) {
        if (r->has_old[i]) { /* the old pod of a surge holds its place too */
            for (uint32_t k = 0; k < r->old_pl[i].n_gpus; k++)
                sum[r->old_pl[i].gpus[k]] += r->old_pl[i].share;
            cpu[r->old_pl[i].node] += w->pods.v[i].cpu_milli;
        }
        if (r->state[i] == GF_SIM_POD_PENDING) continue;
        const gf_placement *pl = &r->pl[i];
        const gf_pod *p = &w->pods.v[i];
        uint32_t want = p->gpu_whole                ? p->gpu_whole
                        : p->share != GF_SHARE_NONE ? (p->gpu_devices ? p->gpu_devices : 1)
                                                    : 0;
        if (pl->n_gpus != want || pl->node >= w->nodes.n)
            rc = gf_error_set(
                err, GF_EINTERNAL, "simulate", "%s step %u: pod %s/%s holds %u GPUs, wants %u",
                gf_sim_policy_name(r->pol), r->step, p->ns, p->name, pl->n_gpus, want);
        for (uint32_t k = 0; k < pl->n_gpus && !rc; k++) {
            if (w->gpus.v[pl->gpus[k]].node != pl->node)
                rc = gf_error_set(err, GF_EINTERNAL, "simulate",
                                  "%s step %u: pod %s/%s: GPU %u not on its node",
                                  gf_sim_policy_name(r->pol), r->step, p->ns, p->name, pl->gpus[k]);
            sum[pl->gpus[k]] += pl->share;
        }
        cpu[pl->node] += p->cpu_milli;
    }
    for (size_t g = 0; g < w->gpus.n && !rc; g++)
        if (fabs(sum[g] - (1.0 - r->ps->gpu_free[g])) > 1e-6)
            rc = gf_error_set(err, GF_EINTERNAL, "simulate",
                              "%s step %u: GPU %zu: placements hold %.6f, the packer %.6f",
                              gf_sim_policy_name(r->pol), r->step, g, sum[g],
                              1.0 - r->ps->gpu_free[g]);
    for (size_t n = 0; n < w->nodes.n && !rc; n++)
        if (cpu[n] != w->nodes.v[n].cpu_milli - r->ps->free_cpu_milli[n])
            rc = gf_error_set(err, GF_EINTERNAL, "simulate",
                              "%s step %u: node %s: CPU held %lld, the packer %lld",
                              gf_sim_policy_name(r->pol), r->step, w->nodes.v[n].name,
                              (long long)cpu[n],
                              (long long)(w->nodes.v[n].cpu_milli - r->ps->free_cpu_milli[n]));
    free(sum);
    free(cpu);
    return rc;
}

static void observe(run *r)
{
    gf_sim *s = r->s;
    if (!s->o.observe) return;
    size_t np = s->pods.n;
    uint32_t *pod = gf_xmalloc((np + 1) * sizeof(uint32_t));
    uint32_t *svc = gf_xmalloc((np + 1) * sizeof(uint32_t));
    double *ga = gf_xmalloc((r->w->gpus.n + 1) * sizeof(double));
    for (size_t i = 0; i < np; i++) {
        pod[i] = (uint32_t)i;
        svc[i] = s->pods.v[i].service;
    }
    for (size_t g = 0; g < r->w->gpus.n; g++)
        ga[g] = 1.0 - r->ps->gpu_free[g];
    gf_sim_step_view v = {r->pol,   r->step, r->t, (uint32_t)np, pod,        svc,
                          r->state, r->pl,   ga,   r->on,        r->has_old, r->old_pl};
    s->o.observe(s->o.observe_ctx, &v);
    free(pod);
    free(svc);
    free(ga);
}

static uint32_t every(double interval_s, double step_s)
{
    if (interval_s <= 0) return 0;
    double k = round(interval_s / step_s);
    return k < 1 ? 1 : (uint32_t)k;
}

static void run_free(run *r)
{
    gf_pack_state_free(r->ps);
    free(r->state);
    free(r->pl);
    free(r->ready_t);
    free(r->failed_epoch);
    free(r->mem);
    free(r->sm);
    free(r->served);
    free(r->nvml);
    free(r->kv_use);
    free(r->high_water);
    free(r->starved);
    free(r->kv_wait);
    free(r->kv_preempt);
    free(r->oom);
    free(r->todo);
    free(r->has_old);
    free(r->old_pl);
    free(r->old_req);
    free(r->new_state);
    free(r->rolling);
    free(r->on);
    free(r->boot_until);
    free(r->unit);
    free(r->fraction);
    free(r->mib);
    free(r->oom_now);
    free(r->whole);
    free(r->watch);
    free(r->pt);
    free(r->listed);
    gf_vec_free(&r->unsettled);
    if (r->series) gf_history_free(&r->h);
    free(r->series);
    free(r->gpu_start);
    free(r->gpu_pods);
    free(r->gpu_sm);
    free(r->acc_alloc);
    free(r->acc_gpus);
    free(r->acc_use);
    free(r->acc_top_alloc);
    free(r->acc_top_use);
    free(r->acc_n);
    free(r->heat_sum);
    free(r->heat_on);
    gf_sim_charts_free(r);
    gf_vec_free(&r->cv);
}

static gf_err run_policy(gf_sim *s, const gf_demand *d, gf_sim_policy pol, gf_sim_report *rep,
                         gf_error *err)
{
    run r = {0};
    r.s = s;
    r.w = &s->w;
    r.d = d;
    r.pol = pol;
    r.rep = rep;
    r.res = &rep->policy[pol];
    r.t = s->o.start_t;
    r.epoch = 1;
    r.warm_steps = (uint32_t)(fmax(s->o.warmup_s, s->o.cold_start_s) / s->o.step_s);
    if (r.warm_steps >= s->n_steps) r.warm_steps = 0; /* too short: measure it all */
    r.hold_steps = (uint32_t)(s->o.cold_start_s / s->o.step_s);
    size_t np = s->pods.n, nn = s->w.nodes.n, ng = s->w.gpus.n, ns = s->services.n;
    r.state = gf_xcalloc(np + 1, sizeof *r.state);
    r.pl = gf_xcalloc(np + 1, sizeof *r.pl);
    r.ready_t = gf_xcalloc(np + 1, sizeof *r.ready_t);
    r.failed_epoch = gf_xcalloc(np + 1, sizeof *r.failed_epoch);
    r.mem = gf_xcalloc(np + 1, sizeof *r.mem);
    r.sm = gf_xcalloc(np + 1, sizeof *r.sm);
    r.served = gf_xcalloc(np + 1, sizeof *r.served);
    r.nvml = gf_xcalloc(np + 1, sizeof *r.nvml);
    r.kv_use = gf_xcalloc(np + 1, sizeof *r.kv_use);
    r.high_water = gf_xcalloc(np + 1, sizeof *r.high_water);
    r.starved = gf_xcalloc(np + 1, sizeof *r.starved);
    r.kv_wait = gf_xcalloc(np + 1, sizeof *r.kv_wait);
    r.kv_preempt = gf_xcalloc(np + 1, sizeof *r.kv_preempt);
    r.oom = gf_xcalloc(np + 1, sizeof *r.oom);
    r.todo = gf_xcalloc(np + 1, sizeof *r.todo);
    r.has_old = gf_xcalloc(np + 1, sizeof *r.has_old);
    r.old_pl = gf_xcalloc(np + 1, sizeof *r.old_pl);
    r.old_req = gf_xcalloc(np + 1, sizeof *r.old_req);
    r.new_state = gf_xcalloc(np + 1, sizeof *r.new_state);
    r.rolling = gf_xcalloc(ns + 1, sizeof *r.rolling);
    r.on = gf_xcalloc(nn + 1, sizeof *r.on);
    r.boot_until = gf_xcalloc(nn + 1, sizeof *r.boot_until);
    r.unit = gf_xcalloc(ns + 1, sizeof *r.unit);
    r.fraction = gf_xcalloc(ns + 1, sizeof *r.fraction);
    r.mib = gf_xcalloc(ns + 1, sizeof *r.mib);
    r.oom_now = gf_xcalloc(ns + 1, sizeof *r.oom_now);
    r.whole = gf_xcalloc(ns + 1, sizeof *r.whole);
    if (pol == GF_SIM_GPUFRAC) {
        r.watch = gf_xcalloc(ns + 1, sizeof *r.watch);
        for (size_t si = 0; si < ns; si++)
            r.watch[si].since = -1;
    }
    r.pt = gf_xcalloc(ns + 1, sizeof *r.pt);
    r.listed = gf_xcalloc(np + 1, sizeof *r.listed);
    r.gpu_start = gf_xcalloc(ng + 2, sizeof *r.gpu_start);
    size_t slots = 1;
    for (size_t i = 0; i < np; i++)
        slots += s->pods.v[i].service != GF_NONE ? s->pods.v[i].devices : 0;
    r.gpu_pods = gf_xcalloc(slots, sizeof *r.gpu_pods);
    r.gpu_sm = gf_xcalloc(ng + 1, sizeof *r.gpu_sm);
    r.acc_alloc = gf_xcalloc(rep->n_points, sizeof(double));
    r.acc_gpus = gf_xcalloc(rep->n_points, sizeof(double));
    r.acc_use = gf_xcalloc(rep->n_points, sizeof(double));
    r.acc_n = gf_xcalloc(rep->n_points, sizeof(uint32_t));
    r.acc_top_alloc = gf_xcalloc((size_t)rep->n_top * rep->n_points + 1, sizeof(double));
    r.acc_top_use = gf_xcalloc((size_t)rep->n_top * rep->n_points + 1, sizeof(double));
    r.heat = pol == rep->heat_policy;
    if (r.heat) {
        r.heat_sum = gf_xcalloc(ng * rep->heat_cols + 1, sizeof(double));
        r.heat_on = gf_xcalloc(ng * rep->heat_cols + 1, sizeof(uint32_t));
    }
    for (size_t si = 0; si < ns; si++) {
        const service *sv = &s->services.v[si];
        r.unit[si] = sv->pub.unit;
        r.fraction[si] = sv->pub.unit == GF_SHARE_FRACTION ? sv->pub.fraction : 0;
        r.mib[si] = sv->pub.memory_mib;
        r.whole[si] = pol == GF_SIM_ONE_GPU ? 0 : sv->pub.whole;
    }
    if (pol == GF_SIM_VPA || pol == GF_SIM_GPUFRAC) {
        gf_history_init(&r.h, NULL, NULL);
        r.series = gf_xcalloc(ns + 1, sizeof *r.series);
        for (size_t si = 0; si < ns; si++)
            r.series[si] = gf_history_get(&r.h, s->services.v[si].key, true);
    }
    if (clairvoyant(pol)) cv_plan(&r);
    gf_sim_charts_begin(&r);
    double *pool_need = gf_xcalloc(s->w.pools.n + 1, sizeof(double));
    gf_err rc = GF_OK;
    if (pol != GF_SIM_ORACLE) initial_placement(&r);
    uint32_t rec_every = every(s->o.recommend_every_s, s->o.step_s);
    uint32_t con_every = every(s->o.consolidate_every_s, s->o.step_s);
    uint32_t progress_every = s->n_steps / 100 ? s->n_steps / 100 : 1;
    for (uint32_t k = 0; k < s->n_steps && !rc; k++) {
        r.step = k;
        r.t = s->o.start_t + k * s->o.step_s;
        if (r.hold_steps && k == r.hold_steps) r.at_hold = *r.res;
        if (pol == GF_SIM_ORACLE) {
            gf_sim_oracle_step(&r, pool_need);
            gf_sim_accumulate(&r, pool_need);
        } else {
            /* due pods start serving; pending ones are retried (in the order
             * they stopped running) */
            size_t keep = 0;
            for (size_t u = 0; u < r.unsettled.n; u++) {
                uint32_t i = r.unsettled.v[u];
                if (r.state[i] == GF_SIM_POD_WAITING && r.boot_until[r.pl[i].node] <= r.t)
                    r.state[i] = GF_SIM_POD_STARTING;
                if (r.state[i] == GF_SIM_POD_STARTING && r.ready_t[i] <= r.t)
                    r.state[i] = GF_SIM_POD_RUNNING;
                if (r.state[i] == GF_SIM_POD_PENDING) place(&r, i, false);
                if (r.state[i] == GF_SIM_POD_RUNNING)
                    r.listed[i] = false;
                else
                    r.unsettled.v[keep++] = i;
            }
            r.unsettled.n = keep;
            for (uint32_t si = 0; si < ns; si++)
                if (r.rolling[si]) roll_advance(&r, si);
            serve(&r);
            gf_sim_accumulate(&r, pool_need);
            if (r.watch) watch_stalls(&r);
            if ((pol == GF_SIM_VPA || pol == GF_SIM_GPUFRAC) && k >= r.hold_steps)
                rightsize(&r, rec_every && k % rec_every == 0);
            if (clairvoyant(pol)) cv_apply(&r);
            if (con_every && k > 0 && k % con_every == 0) rc = consolidate(&r, err);
            if (!rc && s->o.check) rc = check(&r, err);
            if (!rc) observe(&r);
        }
        gf_sim_charts_step_end(&r);
        if (s->o.progress && (k % progress_every == 0 || k + 1 == s->n_steps))
            s->o.progress(s->o.progress_ctx, pol, (double)(k + 1) / s->n_steps);
    }
    free(pool_need);
    gf_sim_result *res = r.res;
    res->ran = rc == GF_OK;
    if (r.hold_steps && r.hold_steps < s->n_steps) subtract_cold_start(res, &r.at_hold);
    res->gpus_mean /= s->n_steps - r.warm_steps;
    res->nodes_mean /= s->n_steps - r.warm_steps;
    uint32_t sized = 0;
    for (size_t si = 0; si < ns; si++)
        sized += pol == GF_SIM_VPA                           ? s->services.v[si].rightsized_vpa
                 : pol == GF_SIM_GPUFRAC || clairvoyant(pol) ? s->services.v[si].rightsized_gpufrac
                                                             : 0;
    res->rightsized_workloads = sized;
    double days =
        (s->n_steps - (r.hold_steps < s->n_steps ? r.hold_steps : 0)) * s->o.step_s / DAY_S;
    res->resizes_per_workload_day = sized ? res->resizes / (sized * days) : 0;
    uint32_t npt = rep->n_points;
    res->alloc = gf_xcalloc(npt, sizeof(float));
    res->gpus = gf_xcalloc(npt, sizeof(float));
    res->top_alloc = gf_xcalloc((size_t)rep->n_top * npt + 1, sizeof(float));
    for (uint32_t p = 0; p < npt; p++) {
        double n = r.acc_n[p] ? r.acc_n[p] : 1;
        res->alloc[p] = (float)(r.acc_alloc[p] / n);
        res->gpus[p] = (float)(r.acc_gpus[p] / n);
        rep->use[p] = (float)(r.acc_use[p] / n);
        for (uint32_t k = 0; k < rep->n_top; k++) {
            size_t c = (size_t)k * npt + p;
            res->top_alloc[c] = (float)(r.acc_top_alloc[c] / n);
            rep->top_use[c] = (float)(r.acc_top_use[c] / n);
        }
    }
    if (r.heat && rc == GF_OK) {
        /* rows: the GPUs that were ever in service (at most heat_rows of them: those
         * longest in service), in model order */
        uint32_t cols = rep->heat_cols, rows = 0;
        bool *shown = gf_sim_charts_heat_pick(&r, s->o.heat_rows, &rows);
        rep->heat_rows = rows;
        rep->heat = gf_xcalloc((size_t)rows * cols + 1, 1);
        rep->heat_label = gf_xcalloc(rows + 1, sizeof(char *));
        uint32_t row = 0;
        for (size_t g = 0; g < ng && row < rows; g++) {
            if (!shown[g]) continue;
            const gf_gpu *gp = &s->w.gpus.v[g];
            char label[320];
            snprintf(label, sizeof label, "%.300s/%d", s->w.nodes.v[gp->node].name, (int)gp->index);
            rep->heat_label[row] = gf_xstrdup(label);
            for (uint32_t c = 0; c < cols; c++) {
                uint32_t on = r.heat_on[g * cols + c];
                uint32_t in_col = rep->steps_per_col;
                if (c == cols - 1 && s->n_steps % rep->steps_per_col)
                    in_col = s->n_steps % rep->steps_per_col;
                double v = on ? 100.0 * r.heat_sum[g * cols + c] / on : 0;
                rep->heat[(size_t)row * cols + c] =
                    on * 2 < in_col ? 255 : (uint8_t)(v > 100 ? 100 : v + 0.5);
            }
            gf_sim_charts_heat_row(&r, g, row);
            row++;
        }
        free(shown);
    }
    gf_sim_charts_end(&r);
    if (!rc && pol == GF_SIM_GPUFRAC && s->o.keep_history && r.series) {
        gf_history_free(s->o.keep_history); /* hand the history over */
        *s->o.keep_history = r.h;
        free(r.series);
        r.series = NULL;
    }
    run_free(&r);
    return rc;
}

/* --- the report ------------------------------------------------------------------------------- */

typedef struct top_key {
    double size;
    uint32_t svc;
} top_key;

static int cmp_top(const void *a, const void *b)
{
    const top_key *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return (x->svc > y->svc) - (x->svc < y->svc);
}

gf_err gf_sim_run(gf_sim *s, const gf_demand *d, gf_sim_report *out, gf_error *err)
{
    memset(out, 0, sizeof *out);
    gf_sim_fairuse_reset(s->fu);
    if (d->series.n != s->services.n)
        return gf_error_set(err, GF_EUSAGE, "demand", "%zu demand series for %zu services",
                            d->series.n, s->services.n);
    if (d->o.n_steps < s->n_steps || fabs(d->o.step_s - s->o.step_s) > 1e-9)
        return gf_error_set(err, GF_EUSAGE, "demand",
                            "the demand covers %u steps of %g s; the simulation %u of %g s",
                            d->o.n_steps, d->o.step_s, s->n_steps, s->o.step_s);
    out->start_t = s->o.start_t;
    out->step_s = s->o.step_s;
    out->n_steps = s->n_steps;
    out->duration_s = s->n_steps * s->o.step_s;
    out->services = (uint32_t)s->services.n;
    out->gpu_nodes = s->gpu_nodes_src;
    out->gpus = s->gpus_src;
    out->spare_nodes = s->spares;
    out->demand_kind = d->kind;
    for (size_t i = 0; i < s->services.n; i++) {
        out->service_pods += s->services.v[i].n;
        out->whole_services += s->services.v[i].pub.whole > 0;
        gf_engine_memory em = s->services.v[i].pub.engine.memory;
        out->engine_services[!gf_sim_engines_apply(s, d) || (unsigned)em > 2 ? 0 : em]++;
    }
    gf_demand_measure(d, s->replicas, s->scales, s->n_steps > 20000 ? 10 : 1, &out->mix);
    out->steps_per_point = (s->n_steps + s->o.max_points - 1) / s->o.max_points;
    out->n_points = (s->n_steps + out->steps_per_point - 1) / out->steps_per_point;
    out->use = gf_xcalloc(out->n_points, sizeof(float));
    out->steps_per_col = (s->n_steps + s->o.heat_columns - 1) / s->o.heat_columns;
    out->heat_cols = (s->n_steps + out->steps_per_col - 1) / out->steps_per_col;
    out->heat_policy = s->o.heat_policy;
    if (!(s->o.policies & (1u << out->heat_policy)))
        for (int p = 0; p < GF_SIM_NPOLICIES; p++)
            if (p != GF_SIM_ORACLE && (s->o.policies & (1u << p))) {
                out->heat_policy = (gf_sim_policy)p;
                break;
            }
    /* the largest services by declared GPUs */
    top_key *tk = gf_xmalloc((s->services.n + 1) * sizeof *tk);
    for (size_t i = 0; i < s->services.n; i++) {
        const service *sv = &s->services.v[i];
        tk[i] = (top_key){sv->pub.fraction * sv->pub.devices * sv->n, (uint32_t)i};
    }
    qsort(tk, s->services.n, sizeof *tk, cmp_top);
    out->n_top = s->o.top_services < s->services.n ? s->o.top_services : (uint32_t)s->services.n;
    out->top = gf_xcalloc(out->n_top + 1, sizeof(uint32_t));
    out->top_name = gf_xcalloc(out->n_top + 1, sizeof(char *));
    out->top_use = gf_xcalloc((size_t)out->n_top * out->n_points + 1, sizeof(float));
    for (uint32_t k = 0; k < out->n_top; k++) {
        out->top[k] = tk[k].svc;
        const gf_sim_service *sv = &s->services.v[tk[k].svc].pub;
        char name[600];
        snprintf(name, sizeof name, "%s/%s", sv->ns, sv->name);
        out->top_name[k] = gf_xstrdup(name);
    }
    free(tk);
    out->svc = gf_xcalloc(s->services.n + 1, sizeof *out->svc);
    for (size_t i = 0; i < s->services.n; i++) {
        const gf_sim_service *sv = &s->services.v[i].pub;
        gf_sim_svc_info *x = &out->svc[i];
        char name[600];
        snprintf(name, sizeof name, "%s/%s", sv->ns, sv->name);
        x->name = gf_xstrdup(name);
        x->pods = sv->pods;
        x->devices = sv->devices;
        x->unit = sv->unit;
        x->fraction = sv->fraction;
        x->memory_mib = sv->memory_mib;
        x->whole = sv->whole;
    }
    gf_err rc = GF_OK;
    for (int p = 0; p < GF_SIM_NPOLICIES && !rc; p++)
        if (s->o.policies & (1u << p)) rc = run_policy(s, d, (gf_sim_policy)p, out, err);
    return rc;
}
