/* pack.c - placement engine, see pack.h for the fit rules and scorers. */
#include "decide/pack.h"
#include "model/kai.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *gf_scorer_name(gf_scorer s)
{
    static const char *names[] = {"binpack", "spread", "bestfit", "fgd"};
    return (unsigned)s < GF_SCORER_COUNT ? names[s] : "?";
}

gf_err gf_scorer_parse(const char *name, gf_scorer *out)
{
    for (int i = 0; i < GF_SCORER_COUNT; i++)
        if (!strcmp(name, gf_scorer_name((gf_scorer)i))) {
            *out = (gf_scorer)i;
            return GF_OK;
        }
    return GF_EUSAGE;
}

static bool uses_gpu(const gf_pod *p)
{
    return p->share != GF_SHARE_NONE || p->gpu_whole > 0;
}

/* node_gpu_free[node] = sum of its GPUs' free fractions */
static void sum_node(gf_pack_state *s, uint32_t node)
{
    const gf_node *n = &s->m->nodes.v[node];
    double sum = 0;
    for (uint32_t g = 0; g < n->gpu_count; g++)
        sum += s->gpu_free[n->first_gpu + g];
    s->node_gpu_free[node] = sum;
}

gf_pack_state *gf_pack_state_new(const gf_model *m)
{
    gf_pack_state *s = gf_xcalloc(1, sizeof *s);
    s->m = m;
    s->free_cpu_milli = gf_xcalloc(m->nodes.n + 1, sizeof(int64_t));
    s->free_memory_bytes = gf_xcalloc(m->nodes.n + 1, sizeof(int64_t));
    s->gpu_free = gf_xcalloc(m->gpus.n + 1, sizeof(double));
    for (size_t i = 0; i < m->nodes.n; i++) {
        s->free_cpu_milli[i] = m->nodes.v[i].cpu_milli;
        s->free_memory_bytes[i] = m->nodes.v[i].memory_bytes;
    }
    for (size_t i = 0; i < m->gpus.n; i++) {
        double f = 1.0 - m->gpus.v[i].allocated_fraction;
        s->gpu_free[i] = f > 0 ? f : 0;
        /* a reserved shared GPU with nobody on it yet still is not idle for whole-GPU pods */
        if (m->gpus.v[i].state == GF_GPU_SHARED && s->gpu_free[i] >= 1.0)
            s->gpu_free[i] = 1.0 - GF_PACK_EPS * 10;
    }
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->node == GF_NONE || !gf_pod_active(p)) continue;
        s->free_cpu_milli[p->node] -= p->cpu_milli;
        s->free_memory_bytes[p->node] -= p->memory_bytes;
    }
    s->node_gpu_free = gf_xcalloc(m->nodes.n + 1, sizeof(double));
    for (size_t i = 0; i < m->nodes.n; i++)
        sum_node(s, (uint32_t)i);
    return s;
}

gf_pack_state *gf_pack_state_new_empty(const gf_model *m)
{
    gf_pack_state *s = gf_pack_state_new(m);
    for (size_t i = 0; i < m->nodes.n; i++) {
        s->free_cpu_milli[i] = m->nodes.v[i].cpu_milli;
        s->free_memory_bytes[i] = m->nodes.v[i].memory_bytes;
    }
    for (size_t g = 0; g < m->gpus.n; g++)
        s->gpu_free[g] = 1.0;
    for (size_t i = 0; i < m->nodes.n; i++)
        sum_node(s, (uint32_t)i);
    return s;
}

void gf_pack_state_free(gf_pack_state *s)
{
    if (!s) return;
    free(s->free_cpu_milli);
    free(s->free_memory_bytes);
    free(s->gpu_free);
    free(s->node_gpu_free);
    free(s->classes);
    free(s->node_frag);
    for (size_t i = 0; i < s->n_by_model; i++)
        free(s->by_model[i].classes);
    free(s->by_model);
    free(s->node_model);
    free(s);
}

/* --- FGD ---------------------------------------------------------------------
 * Fragmentation of a node for one task class, from the FGD paper (Sec. 4) and
 * its simulator (alibaba/open-gpu-share, frag_utils.go):
 *   - the task cannot run on the node (CPU/memory short, or no GPUs that can
 *     hold it): every free GPU fraction on the node is a fragment;
 *   - it can run: the free fraction of each GPU that alone cannot hold the
 *     task's per-GPU demand (its share, or 1 for whole-GPU tasks) is a
 *     fragment;
 *   - a CPU-only task never uses GPUs: all free GPU fractions count.
 * The node's expected fragmentation is the weighted mean over classes. */

typedef struct frag_view {
    int64_t cpu, mem;
    const double *free;
    uint32_t n;
    const gf_pack_model_classes *cls; /* the classes as the node's GPU model sees them */
} frag_view;

static double frag_for_demand(const frag_view *v, uint32_t whole, double share, double *total,
                              bool *gpu_ok)
{
    double t = 0, frag = 0;
    uint32_t fitting = 0;
    double per_gpu = whole ? 1.0 : share;
    for (uint32_t g = 0; g < v->n; g++) {
        double f = v->free[g];
        t += f;
        if (f + GF_PACK_EPS >= per_gpu)
            fitting++;
        else
            frag += f;
    }
    *total = t;
    *gpu_ok = whole ? fitting >= whole : fitting >= 1;
    return frag;
}

static double frag_view_eval(const gf_pack_state *s, const frag_view *v)
{
    if (v->n == 0 || s->n_classes == 0 || !v->cls) return 0;
    double sum = 0;
    /* classes are sorted by demand so the per-GPU pass runs once per demand */
    uint32_t last_whole = UINT32_MAX;
    double last_share = -1, q3 = 0, total = 0;
    bool gpu_ok = false;
    for (size_t i = 0; i < v->cls->n; i++) {
        const gf_task_class *c = &v->cls->classes[i];
        if (c->gpu_whole == 0 && c->gpu_share <= 0) {
            if (last_whole != 0 || last_share != 0) {
                frag_for_demand(v, 0, 0, &total, &gpu_ok);
                last_whole = 0;
                last_share = 0;
            }
            sum += c->weight * total;
            continue;
        }
        if (c->gpu_whole != last_whole || c->gpu_share != last_share) {
            q3 = frag_for_demand(v, c->gpu_whole, c->gpu_share, &total, &gpu_ok);
            last_whole = c->gpu_whole;
            last_share = c->gpu_share;
        }
        bool fits = gpu_ok && c->cpu_milli <= v->cpu && c->memory_bytes <= v->mem;
        sum += c->weight * (fits ? q3 : total);
    }
    if (v->cls->excluded_weight > 0) { /* classes that cannot use this model: all free GPU */
        double all = 0;
        for (uint32_t g = 0; g < v->n; g++)
            all += v->free[g];
        sum += v->cls->excluded_weight * all;
    }
    return s->class_weight > 0 ? sum / s->class_weight : 0;
}

static const gf_pack_model_classes *node_classes(const gf_pack_state *s, uint32_t node)
{
    return s->node_model ? &s->by_model[s->node_model[node]] : NULL;
}

static frag_view node_view(const gf_pack_state *s, uint32_t node)
{
    const gf_node *n = &s->m->nodes.v[node];
    frag_view v = {s->free_cpu_milli[node], s->free_memory_bytes[node], s->gpu_free + n->first_gpu,
                   n->gpu_count, node_classes(s, node)};
    return v;
}

double gf_pack_node_fragmentation(const gf_pack_state *s, uint32_t node)
{
    frag_view v = node_view(s, node);
    return frag_view_eval(s, &v);
}

static int cmp_class(const void *a, const void *b)
{
    const gf_task_class *x = a, *y = b;
    if (x->gpu_whole != y->gpu_whole) return x->gpu_whole < y->gpu_whole ? -1 : 1;
    if (x->gpu_share != y->gpu_share) return x->gpu_share < y->gpu_share ? -1 : 1;
    if (x->cpu_milli != y->cpu_milli) return x->cpu_milli < y->cpu_milli ? -1 : 1;
    if (x->memory_bytes != y->memory_bytes) return x->memory_bytes < y->memory_bytes ? -1 : 1;
    return (x->model_mask > y->model_mask) - (x->model_mask < y->model_mask);
}

/* Distinct node GPU products, numbered in node order (see gf_pack_model_bit). */
static void model_numbers(const gf_model *m, gf_strmap *num)
{
    gf_strmap_init(num);
    for (size_t i = 0; i < m->nodes.n; i++) {
        const char *p = m->nodes.v[i].gpu_product;
        if (p && !gf_strmap_get(num, p, NULL)) gf_strmap_put(num, p, num->len);
    }
}

static uint64_t bit_of(const gf_strmap *num, const char *product)
{
    size_t k;
    if (!product) return 0;
    if (!gf_strmap_get(num, product, &k)) return (uint64_t)1 << 63;
    return (uint64_t)1 << (k < 62 ? k : 62);
}

uint64_t gf_pack_model_bit(const gf_model *m, const char *product)
{
    gf_strmap num;
    model_numbers(m, &num);
    uint64_t b = bit_of(&num, product);
    gf_strmap_free(&num);
    return b;
}

void gf_pack_set_classes(gf_pack_state *s, const gf_task_class *classes, size_t n)
{
    free(s->classes);
    s->classes = gf_xmalloc((n ? n : 1) * sizeof *classes);
    if (n) memcpy(s->classes, classes, n * sizeof *classes);
    s->n_classes = n;
    if (n) qsort(s->classes, n, sizeof *classes, cmp_class);
    s->class_weight = 0;
    for (size_t i = 0; i < n; i++)
        s->class_weight += s->classes[i].weight;
    /* per GPU model of the nodes: its class list */
    for (size_t i = 0; i < s->n_by_model; i++)
        free(s->by_model[i].classes);
    free(s->by_model);
    free(s->node_model);
    s->by_model = NULL;
    s->n_by_model = 0;
    s->node_model = gf_xcalloc(s->m->nodes.n + 1, sizeof(uint32_t));
    GF_VEC(gf_pack_model_classes) lists = {0};
    gf_strmap num;
    model_numbers(s->m, &num);
    for (size_t i = 0; i < s->m->nodes.n; i++) {
        uint64_t bit = bit_of(&num, s->m->nodes.v[i].gpu_product);
        size_t k = 0;
        while (k < lists.n && lists.v[k].bit != bit)
            k++;
        if (k == lists.n) {
            gf_pack_model_classes mc = {bit, gf_xmalloc((n ? n : 1) * sizeof *classes), 0, 0};
            for (size_t j = 0; j < n; j++) {
                const gf_task_class *c = &s->classes[j];
                if (c->model_mask && !(c->model_mask & bit)) {
                    mc.excluded_weight += c->weight;
                    continue;
                }
                gf_task_class *last = mc.n ? &mc.classes[mc.n - 1] : NULL;
                if (last && last->gpu_whole == c->gpu_whole && last->gpu_share == c->gpu_share &&
                    last->cpu_milli == c->cpu_milli && last->memory_bytes == c->memory_bytes) {
                    last->weight += c->weight; /* sorted: equal requests are adjacent */
                } else {
                    mc.classes[mc.n] = *c;
                    mc.classes[mc.n++].model_mask = 0;
                }
            }
            gf_vec_push(&lists, mc);
        }
        s->node_model[i] = (uint32_t)k;
    }
    gf_strmap_free(&num);
    s->by_model = lists.v;
    s->n_by_model = lists.n;
    free(s->node_frag);
    s->node_frag = gf_xcalloc(s->m->nodes.n + 1, sizeof(double));
    for (size_t i = 0; i < s->m->nodes.n; i++)
        s->node_frag[i] = gf_pack_node_fragmentation(s, (uint32_t)i);
}

size_t gf_pack_classes_from_pods(const gf_model *m, gf_task_class **out)
{
    GF_VEC(gf_task_class) v = {0};
    gf_strmap num;
    model_numbers(m, &num);
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->is_reservation) continue;
        gf_task_class c = {p->cpu_milli, p->memory_bytes, p->gpu_whole, 0, 1, 0};
        for (uint32_t k = 0; k < p->n_gpu_models; k++)
            c.model_mask |= bit_of(&num, p->gpu_models[k]);
        if (p->share == GF_SHARE_FRACTION) c.gpu_share = p->gpu_fraction;
        if (p->share == GF_SHARE_MEMORY) continue; /* share depends on the GPU; not a class */
        gf_vec_push(&v, c);
    }
    gf_strmap_free(&num);
    if (v.n) qsort(v.v, v.n, sizeof *v.v, cmp_class);
    size_t k = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (k && cmp_class(&v.v[k - 1], &v.v[i]) == 0)
            v.v[k - 1].weight += 1;
        else
            v.v[k++] = v.v[i];
    }
    *out = v.v;
    return k;
}

/* --- static constraints ---------------------------------------------------- */

/* The pool the pod selects; else the one it runs in now; else default. */
static const char *pod_pool_name(const gf_model *m, const gf_pod *p)
{
    return p->pool_selector     ? p->pool_selector
           : p->node != GF_NONE ? m->pools.v[m->nodes.v[p->node].pool]
                                : GF_KAI_DEFAULT_POOL;
}

const gf_shard *gf_pack_pool_shard(const gf_model *m, const char *pool)
{
    for (size_t i = 0; i < m->shards.n; i++) {
        const char *v = m->shards.v[i].partition_value;
        if (v && *v ? !strcmp(v, pool) : !strcmp(pool, GF_KAI_DEFAULT_POOL)) return &m->shards.v[i];
    }
    return NULL;
}

gf_scorer gf_pack_pool_scorer(const gf_model *m, const gf_pod *p, gf_scorer requested)
{
    if (requested != GF_SCORE_BINPACK || !m->shards.n) return requested;
    const gf_shard *sh = gf_pack_pool_shard(m, pod_pool_name(m, p));
    if (!sh) return requested;
    gf_placement_strategy st = uses_gpu(p) ? sh->gpu : sh->cpu;
    return st == GF_PLACE_SPREAD ? GF_SCORE_SPREAD : GF_SCORE_BINPACK;
}

int gf_pack_topology_level(const gf_model *m, const gf_pod *p, const gf_topology **topo)
{
    if (p->node == GF_NONE || p->gov.podgroup >= m->podgroups.n) return -1;
    const gf_podgroup *pg = &m->podgroups.v[p->gov.podgroup];
    if (!pg->required_level || !*pg->required_level) return -1;
    for (size_t i = 0; pg->topology && i < m->topologies.n; i++) {
        const gf_topology *t = &m->topologies.v[i];
        if (strcmp(t->name, pg->topology)) continue;
        for (uint32_t l = 0; l < t->n_levels; l++)
            if (!strcmp(t->levels[l], pg->required_level)) {
                if (topo) *topo = t;
                return (int)l;
            }
        break;
    }
    return -2;
}

/* A bound pod whose PodGroup requires a topology level stays in its node's
 * domain at that level: the same values of that level's label and of every
 * level above it, on a node that has every level's label
 * (pkg/scheduler/plugins/topology/common.go lowestCommonDomainID,
 * isNodePartOfTopology). Unknown Topology: no other node qualifies. */
static bool in_topology_domain(const gf_model *m, const gf_pod *p, const gf_node *n,
                               const char **why)
{
    const gf_topology *t = NULL;
    int level = gf_pack_topology_level(m, p, &t);
    if (level == -1) return true;
    const gf_node *cur = &m->nodes.v[p->node];
    if (level == -2) {
        if (n == cur) return true;
        *why = "the pod's PodGroup requires a topology domain whose Topology is not in the input";
        return false;
    }
    for (uint32_t l = 0; l < t->n_levels; l++) {
        const char *have = gf_kvs_get(&n->labels, t->levels[l]);
        const char *want = gf_kvs_get(&cur->labels, t->levels[l]);
        if (!have || (l <= (uint32_t)level && (!want || strcmp(have, want)))) {
            *why = "node is outside the pod's required topology domain";
            return false;
        }
    }
    return true;
}

/* Kubernetes toleration matching (k8s.io/api/core/v1 Toleration.ToleratesTaint). */
static bool tolerates(const gf_pod *p, const gf_taint *t)
{
    for (uint32_t i = 0; i < p->n_tolerations; i++) {
        const gf_toleration *o = &p->tolerations[i];
        if (o->effect && *o->effect && (!t->effect || strcmp(o->effect, t->effect))) continue;
        if (o->key && *o->key && strcmp(o->key, t->key)) continue;
        if (o->op && !strcmp(o->op, "Exists")) return true;
        if (!o->key || !*o->key) continue; /* empty key needs Exists */
        const char *tv = t->value ? t->value : "";
        const char *ov = o->value ? o->value : "";
        if (!strcmp(tv, ov)) return true;
    }
    return false;
}

bool gf_pack_node_allowed(const gf_model *m, const gf_pod *p, uint32_t node, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    const gf_node *n = &m->nodes.v[node];
    if (n->unschedulable) {
        *why = "node is unschedulable (cordoned)";
        return false;
    }
    for (uint32_t i = 0; i < n->n_taints; i++) {
        const gf_taint *t = &n->taints[i];
        if (t->effect && !strcmp(t->effect, "PreferNoSchedule")) continue;
        if (!tolerates(p, t)) {
            *why = "node has a taint the pod does not tolerate";
            return false;
        }
    }
    if (strcmp(m->pools.v[n->pool], pod_pool_name(m, p)) != 0) {
        *why = "node is in another node pool";
        return false;
    }
    for (uint32_t i = 0; i < p->node_selector.n; i++) {
        const gf_kv *kv = &p->node_selector.items[i];
        const char *have = gf_kvs_get(&n->labels, kv->key);
        if (!have || strcmp(have, kv->value)) {
            *why = "node does not match the pod's nodeSelector";
            return false;
        }
    }
    if (p->n_gpu_models) {
        bool ok = false;
        for (uint32_t i = 0; i < p->n_gpu_models && !ok; i++)
            ok = n->gpu_product && !strcmp(n->gpu_product, p->gpu_models[i]);
        if (!ok) {
            *why = "node's GPU model is not one the pod allows";
            return false;
        }
    }
    if (uses_gpu(p) && n->gpu_count == 0) {
        *why = "node has no GPUs";
        return false;
    }
    return in_topology_domain(m, p, n, why);
}

/* --- capacity fit and scoring ------------------------------------------------ */

typedef struct cand {
    uint32_t gpu; /* model GPU index */
    double free;
} cand;

static int cmp_cand_fullest(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->free != y->free) return x->free < y->free ? -1 : 1;
    return (x->gpu > y->gpu) - (x->gpu < y->gpu);
}

static int cmp_cand_emptiest(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->free != y->free) return x->free > y->free ? -1 : 1;
    return (x->gpu > y->gpu) - (x->gpu < y->gpu);
}

/* Node-level score after placing (lower is better). */
static double node_score(const gf_pack_state *s, const gf_pod *p, uint32_t node, gf_scorer sc,
                         const gf_placement *pl)
{
    const gf_node *n = &s->m->nodes.v[node];
    double gpu_free_after = 0;
    for (uint32_t g = 0; g < n->gpu_count; g++)
        gpu_free_after += s->gpu_free[n->first_gpu + g];
    gpu_free_after -= pl->share * pl->n_gpus;
    double gpu_ratio_free = n->gpu_count ? gpu_free_after / n->gpu_count : 0;
    double cpu_ratio_free =
        n->cpu_milli > 0 ? (double)(s->free_cpu_milli[node] - p->cpu_milli) / n->cpu_milli : 0;
    double mem_ratio_free =
        n->memory_bytes > 0
            ? (double)(s->free_memory_bytes[node] - p->memory_bytes) / (double)n->memory_bytes
            : 0;
    switch (sc) {
    case GF_SCORE_BINPACK: /* KAI nodeplacement binpack: most allocated GPU, then CPU */
        return uses_gpu(p) ? gpu_ratio_free + 1e-3 * cpu_ratio_free : cpu_ratio_free;
    case GF_SCORE_SPREAD:
        return uses_gpu(p) ? -(gpu_ratio_free + 1e-3 * cpu_ratio_free) : -cpu_ratio_free;
    case GF_SCORE_BESTFIT: /* least remaining resources, dimensions weighted equally */
        return (gpu_ratio_free + cpu_ratio_free + mem_ratio_free) / 3.0;
    case GF_SCORE_FGD:
        break;
    }
    return 0;
}

/* FGD: increase of the node's expected fragmentation if pl is applied. */
static double fgd_delta(const gf_pack_state *s, const gf_pod *p, uint32_t node,
                        const gf_placement *pl)
{
    const gf_node *n = &s->m->nodes.v[node];
    double freev[GF_PACK_MAX_DEVICES * 2];
    uint32_t cnt = n->gpu_count < GF_PACK_MAX_DEVICES * 2 ? n->gpu_count : GF_PACK_MAX_DEVICES * 2;
    memcpy(freev, s->gpu_free + n->first_gpu, cnt * sizeof(double));
    for (uint32_t k = 0; k < pl->n_gpus; k++) {
        uint32_t local = pl->gpus[k] - n->first_gpu;
        if (local < cnt) freev[local] -= pl->share;
    }
    frag_view v = {s->free_cpu_milli[node] - p->cpu_milli,
                   s->free_memory_bytes[node] - p->memory_bytes, freev, cnt, node_classes(s, node)};
    double before = s->node_frag ? s->node_frag[node] : gf_pack_node_fragmentation(s, node);
    return frag_view_eval(s, &v) - before;
}

bool gf_pack_fit_node(const gf_pack_state *s, const gf_pod *p, uint32_t node, gf_scorer scorer,
                      gf_placement *out, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    if (!gf_pack_node_allowed(s->m, p, node, why)) return false;
    return gf_pack_fit_capacity(s, p, node, scorer, out, why);
}

bool gf_pack_fit_capacity(const gf_pack_state *s, const gf_pod *p, uint32_t node, gf_scorer scorer,
                          gf_placement *out, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    const gf_model *m = s->m;
    const gf_node *n = &m->nodes.v[node];
    if (p->cpu_milli > s->free_cpu_milli[node]) {
        *why = "not enough free CPU";
        return false;
    }
    if (p->memory_bytes > s->free_memory_bytes[node]) {
        *why = "not enough free memory";
        return false;
    }
    out->node = node;
    out->n_gpus = 0;
    out->share = 0;
    out->score = 0;
    if (!uses_gpu(p)) {
        out->score = scorer == GF_SCORE_FGD ? fgd_delta(s, p, node, out)
                                            : node_score(s, p, node, scorer, out);
        return true;
    }
    uint32_t want;
    double share;
    if (p->share != GF_SHARE_NONE) {
        share = gf_pod_share_on(p, n->gpu_memory_mib);
        if (share <= 0) {
            *why = "node's GPU memory is unknown, so a gpu-memory request cannot be sized";
            return false;
        }
        if (share > 1.0 + GF_PACK_EPS) {
            *why = "gpu-memory request is larger than one GPU of this node";
            return false;
        }
        want = p->gpu_devices ? p->gpu_devices : 1;
    } else {
        share = 1.0;
        want = p->gpu_whole;
    }
    if (want > GF_PACK_MAX_DEVICES || want > n->gpu_count) {
        *why = "node has fewer GPUs than the pod needs";
        return false;
    }
    cand c[GF_PACK_MAX_DEVICES * 2];
    uint32_t nc = 0;
    for (uint32_t g = 0; g < n->gpu_count && nc < GF_PACK_MAX_DEVICES * 2; g++) {
        double f = s->gpu_free[n->first_gpu + g];
        if (f + GF_PACK_EPS >= share) c[nc++] = (cand){n->first_gpu + g, f};
    }
    if (nc < want) {
        *why = p->share != GF_SHARE_NONE ? "no GPU on the node has a large enough free fraction"
                                         : "not enough idle GPUs";
        return false;
    }
    out->share = share;
    out->n_gpus = want;
    if (scorer == GF_SCORE_FGD) {
        /* try each distinct free level as the fullest GPU taken; choices among
         * GPUs with equal free fractions are equivalent for fragmentation */
        qsort(c, nc, sizeof *c, cmp_cand_fullest);
        double best = INFINITY;
        uint32_t best_start = 0;
        for (uint32_t st = 0; st + want <= nc; st++) {
            if (st && c[st].free == c[st - 1].free) continue;
            gf_placement t = *out;
            for (uint32_t k = 0; k < want; k++)
                t.gpus[k] = c[st + k].gpu;
            double d = fgd_delta(s, p, node, &t);
            if (d < best - 1e-12) {
                best = d;
                best_start = st;
            }
        }
        for (uint32_t k = 0; k < want; k++)
            out->gpus[k] = c[best_start + k].gpu;
        out->score = best;
        return true;
    }
    qsort(c, nc, sizeof *c, scorer == GF_SCORE_SPREAD ? cmp_cand_emptiest : cmp_cand_fullest);
    for (uint32_t k = 0; k < want; k++)
        out->gpus[k] = c[k].gpu;
    out->score = node_score(s, p, node, scorer, out);
    return true;
}

double gf_pack_score_bound(const gf_pack_state *s, const gf_pod *p, uint32_t node, gf_scorer sc)
{
    const gf_node *n = &s->m->nodes.v[node];
    if (sc == GF_SCORE_FGD) return -INFINITY;
    if (!uses_gpu(p)) {
        if (sc == GF_SCORE_BESTFIT || n->cpu_milli <= 0) return -INFINITY;
        double cpu = (double)(s->free_cpu_milli[node] - p->cpu_milli) / n->cpu_milli;
        return sc == GF_SCORE_BINPACK ? cpu : -cpu;
    }
    if (n->gpu_count == 0) return -INFINITY;
    double share = 1.0;
    uint32_t want = p->gpu_whole;
    if (p->share != GF_SHARE_NONE) {
        share = gf_pod_share_on(p, n->gpu_memory_mib);
        want = p->gpu_devices ? p->gpu_devices : 1;
        if (share <= 0) return -INFINITY;
    }
    /* score = ratio + 1e-3 x (a CPU ratio in [0, 1]) for binpack, the
     * negation for spread, (ratio + two ratios >= 0) / 3 for bestfit; the
     * cached sum may differ from node_score()'s in the last bits, hence the
     * slack that keeps the bound below the score */
    double ratio = (s->node_gpu_free[node] - share * want) / n->gpu_count - 1e-9;
    switch (sc) {
    case GF_SCORE_BINPACK:
        return ratio;
    case GF_SCORE_SPREAD:
        return -(ratio + 1e-3);
    case GF_SCORE_BESTFIT:
        return ratio / 3.0;
    case GF_SCORE_FGD:
        break;
    }
    return -INFINITY;
}

gf_err gf_pack_place(const gf_pack_state *s, const gf_pod *p, gf_scorer scorer, const bool *skip,
                     gf_placement *out)
{
    bool found = false;
    gf_placement cur;
    scorer = gf_pack_pool_scorer(s->m, p, scorer);
    for (size_t i = 0; i < s->m->nodes.n; i++) {
        if (skip && skip[i]) continue;
        if (found && gf_pack_score_bound(s, p, (uint32_t)i, scorer) >= out->score - 1e-12) continue;
        if (!gf_pack_fit_node(s, p, (uint32_t)i, scorer, &cur, NULL)) continue;
        if (!found || cur.score < out->score - 1e-12) {
            *out = cur;
            found = true;
        }
    }
    return found ? GF_OK : GF_ENOTFOUND;
}

static void change(gf_pack_state *s, const gf_pod *p, const gf_placement *pl, double sign)
{
    s->free_cpu_milli[pl->node] -= (int64_t)sign * p->cpu_milli;
    s->free_memory_bytes[pl->node] -= (int64_t)sign * p->memory_bytes;
    for (uint32_t k = 0; k < pl->n_gpus; k++) {
        double *f = &s->gpu_free[pl->gpus[k]];
        *f -= sign * pl->share;
        if (*f < 0 && *f > -GF_PACK_EPS) *f = 0;
        if (*f > 1 && *f < 1 + GF_PACK_EPS) *f = 1;
    }
    if (pl->n_gpus) sum_node(s, pl->node);
    if (s->node_frag) s->node_frag[pl->node] = gf_pack_node_fragmentation(s, pl->node);
}

void gf_pack_apply(gf_pack_state *s, const gf_pod *p, const gf_placement *pl)
{
    change(s, p, pl, 1.0);
}

void gf_pack_remove(gf_pack_state *s, const gf_pod *p, const gf_placement *pl)
{
    change(s, p, pl, -1.0);
}
