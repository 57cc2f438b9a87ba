/* consolidate.c - node drain planning, see consolidate.h for the rules and
 * what the greedy-with-rollback method guarantees. */
#include "decide/consolidate.h"
#include "util/sbuf.h"
#include "model/kai.h"

#include <stdlib.h>
#include <string.h>

void gf_consolidate_opts_default(gf_consolidate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scorer = GF_SCORE_BINPACK;
    o->pool = GF_NONE;
}

void gf_consolidation_free(gf_consolidation *c)
{
    if (!c) return;
    gf_vec_free(&c->drains);
    gf_vec_free(&c->moves);
    gf_vec_free(&c->kept);
    gf_pack_state_free(c->state);
    free(c->drained);
    c->state = NULL;
    c->drained = NULL;
}

typedef enum pod_role { ROLE_IGNORE, ROLE_MOVE, ROLE_PIN } pod_role;

static pod_role classify(const gf_model *m, const gf_pod *p, const char **why)
{
    if (!gf_pod_active(p) || p->is_reservation) return ROLE_IGNORE;
    const char *opt = gf_kvs_get(&p->annotations, GF_ANN_CONSOLIDATE);
    if (opt && !strcmp(opt, "false")) {
        *why = "a pod opted out (gpufrac.io/consolidate: \"false\")";
        return ROLE_PIN;
    }
    const gf_workload *w = gf_model_pod_workload(m, p);
    if (!w) {
        *why = "a pod has no controller to recreate it";
        return ROLE_PIN;
    }
    if (!strcmp(w->kind, "DaemonSet")) return ROLE_IGNORE;
    if (!strcmp(w->kind, "Job") || !strcmp(w->kind, "CronJob")) {
        *why = "a Job's pod would lose its progress";
        return ROLE_PIN;
    }
    if (!strcmp(w->kind, "Deployment") || !strcmp(w->kind, "ReplicaSet") ||
        !strcmp(w->kind, "StatefulSet"))
        return ROLE_MOVE;
    *why = "a pod's owner kind is not known to recreate it elsewhere";
    return ROLE_PIN;
}

static double gpu_demand(const gf_model *m, const gf_pod *p)
{
    if (p->gpu_whole) return p->gpu_whole;
    if (p->node == GF_NONE) return 0;
    return gf_pod_share_on(p, m->nodes.v[p->node].gpu_memory_mib) *
           (p->gpu_devices ? p->gpu_devices : 1);
}

typedef struct cand {
    uint32_t node;
    uint32_t n_moves;
    int64_t prio_sum;
    double saving;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->n_moves != y->n_moves) return x->n_moves < y->n_moves ? -1 : 1;
    if (x->prio_sum != y->prio_sum) return x->prio_sum < y->prio_sum ? -1 : 1;
    if (x->saving != y->saving) return x->saving > y->saving ? -1 : 1;
    return (x->node > y->node) - (x->node < y->node);
}

#define N_BUCKETS 256

typedef struct tier {
    uint32_t pool, gpus;
    int64_t gpu_memory_mib;
    uint32_t head[N_BUCKETS]; /* GF_NONE = empty */
} tier;

typedef struct ctx {
    const gf_model *m;
    const gf_consolidate_opts *o;
    gf_pack_state *s;
    uint32_t *node_pod_start; /* CSR of active bound pods per node */
    uint32_t *node_pods;
    uint32_t **pool_nodes; /* GPU-less nodes included: CPU-only pods may use them */
    uint32_t *pool_len;
    bool *skip; /* drained, or being tried */
    bool *received;
    uint32_t *moves_of_workload;
    int32_t *pdb_left;
    uint32_t *pod_pdb_off, *pod_pdb; /* CSR: the PDBs selecting each pod */
    /* gf_pack_node_allowed() depends only on the pod's constraints (tolerations,
     * selectors, GPU models, pool) and the node, never on capacity: pods with
     * the same constraints (all replicas of a workload, as a rule) share one
     * row of answers per node of their pool, computed on first use. */
    gf_arena sig_keys;
    gf_strmap sig_by_key;
    uint32_t *pod_sig;             /* per pod, GF_NONE until needed */
    GF_VEC(uint8_t *) sig_allowed; /* per signature and pool slot: 0 ?, 1 yes, 2 no */
    uint32_t *slot_of;             /* node -> its position in pool_nodes[pool] */
    /* binpack index: GPU nodes of one pool with one GPU count ("tier") in
     * buckets by free GPU ratio (free sum / GPUs), doubly linked, kept
     * current as pods are taken off and put on nodes; see best_binpack() */
    GF_VEC(tier) tiers;
    uint32_t *tier_of, *bucket_of, *next, *prev; /* per node; GF_NONE = not indexed */
    /* the same for CPU-only pods: every node of a pool in buckets by free
     * CPU ratio (free / allocatable), with the pool's CPU extremes */
    uint32_t *cpu_head;                   /* pool x N_BUCKETS */
    int64_t *pool_cpu_min, *pool_cpu_max; /* allocatable CPU, milli */
    uint32_t *cbucket_of, *cnext, *cprev;
    /* Pods that fit nowhere as the first (largest) pod of a drain attempt,
     * by constraints and request: "key" -> the node then being tried. Free
     * capacity of the other nodes only shrinks as the plan grows (failed
     * attempts roll back to the committed plan), so later the same request
     * can only fit on that one node. */
    gf_strmap nofit;
} ctx;

/* The pod's scheduling constraints as a string (exact: equal strings give
 * equal gf_pack_node_allowed() answers on every node). */
static const char *constraint_key(ctx *c, const gf_pod *p, size_t pool)
{
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_printf(&b, "%zu|%d|%s|", pool, p->gpu_whole > 0 || p->share != GF_SHARE_NONE,
                   p->pool_selector ? p->pool_selector : "\x01");
    for (uint32_t i = 0; i < p->n_tolerations; i++) {
        const gf_toleration *t = &p->tolerations[i];
        gf_sbuf_printf(&b, "t%s\x01%s\x01%s\x01%s\x02", t->key ? t->key : "\x03",
                       t->op ? t->op : "\x03", t->value ? t->value : "\x03",
                       t->effect ? t->effect : "\x03");
    }
    for (uint32_t i = 0; i < p->node_selector.n; i++)
        gf_sbuf_printf(&b, "s%s\x01%s\x02", p->node_selector.items[i].key,
                       p->node_selector.items[i].value);
    for (uint32_t i = 0; i < p->n_gpu_models; i++)
        gf_sbuf_printf(&b, "m%s\x02", p->gpu_models[i]);
    const char *key = gf_arena_strdup(&c->sig_keys, gf_sbuf_str(&b));
    gf_sbuf_free(&b);
    return key;
}

/* The allowed-row of the pod's constraint signature in pool pool. */
static uint8_t *allowed_row(ctx *c, const gf_pod *p, size_t pool)
{
    size_t pi = (size_t)(p - c->m->pods.v);
    if (c->pod_sig[pi] == GF_NONE) {
        const char *key = constraint_key(c, p, pool);
        size_t sig;
        if (!gf_strmap_get(&c->sig_by_key, key, &sig)) {
            sig = c->sig_allowed.n;
            gf_strmap_put(&c->sig_by_key, key, sig);
            gf_vec_push(&c->sig_allowed, gf_xcalloc(c->pool_len[pool] + 1, 1));
        }
        c->pod_sig[pi] = (uint32_t)sig;
    }
    return c->sig_allowed.v[c->pod_sig[pi]];
}

static double node_saving(const ctx *c, const gf_node *n)
{
    for (size_t i = 0; i < c->o->n_costs; i++)
        if (n->gpu_product && !strcmp(n->gpu_product, c->o->costs[i].gpu_product))
            return c->o->costs[i].per_gpu * n->gpu_count;
    return n->gpu_count;
}

/* The pod's current capacity as a placement, to give back or take again. */
static gf_placement current(const ctx *c, const gf_pod *p)
{
    gf_placement pl = {0};
    pl.node = p->node;
    pl.n_gpus = p->n_gpus < GF_PACK_MAX_DEVICES ? p->n_gpus : GF_PACK_MAX_DEVICES;
    if (pl.n_gpus) memcpy(pl.gpus, p->gpus, pl.n_gpus * sizeof(uint32_t));
    pl.share =
        p->share != GF_SHARE_NONE ? gf_pod_share_on(p, c->m->nodes.v[p->node].gpu_memory_mib) : 1.0;
    return pl;
}

/* The node pool a pod is placed in: the one it selects, else the one it
 * runs in. False when it selects a pool that does not exist. */
static bool pod_pool(const ctx *c, const gf_pod *p, size_t *pool)
{
    *pool = p->node != GF_NONE ? c->m->nodes.v[p->node].pool : 0;
    return !p->pool_selector || gf_strmap_get(&c->m->pool_by_name, p->pool_selector, pool);
}

/* Constraints and request of a pod, as a key (lives in sig_keys). */
static const char *request_key(ctx *c, const gf_pod *p, size_t pool)
{
    size_t pi = (size_t)(p - c->m->pods.v);
    if (c->pod_sig[pi] == GF_NONE) (void)allowed_row(c, p, pool);
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_printf(&b, "%u|%lld|%lld|%u|%d|%.17g|%lld|%u", c->pod_sig[pi], (long long)p->cpu_milli,
                   (long long)p->memory_bytes, p->gpu_whole, (int)p->share, p->gpu_fraction,
                   (long long)p->gpu_memory_mib, p->gpu_devices);
    const char *key = gf_arena_strdup(&c->sig_keys, gf_sbuf_str(&b));
    gf_sbuf_free(&b);
    return key;
}

/* The PDBs selecting each pod, as a CSR (pod_pdb_off has pods + 1 entries):
 * PDBs grouped by namespace first, so the cost is pods x PDBs per
 * namespace, not pods x PDBs. */
static void pdb_index(ctx *c)
{
    const gf_model *m = c->m;
    gf_strmap ns;
    gf_strmap_init(&ns);
    uint32_t *next = gf_xmalloc((m->pdbs.n + 1) * sizeof(uint32_t)); /* chain per namespace */
    for (size_t b = m->pdbs.n; b-- > 0;) {
        size_t head = GF_NONE;
        gf_strmap_get(&ns, m->pdbs.v[b].ns, &head);
        next[b] = (uint32_t)head;
        gf_strmap_put(&ns, m->pdbs.v[b].ns, b);
    }
    c->pod_pdb_off = gf_xcalloc(m->pods.n + 2, sizeof(uint32_t));
    GF_VEC(uint32_t) list = {0};
    for (size_t i = 0; i < m->pods.n; i++) {
        c->pod_pdb_off[i] = (uint32_t)list.n;
        size_t b;
        if (!m->pdbs.n || !gf_strmap_get(&ns, m->pods.v[i].ns, &b)) continue;
        for (; b != GF_NONE; b = next[b])
            if (gf_pdb_selects(&m->pdbs.v[b], &m->pods.v[i])) gf_vec_push(&list, (uint32_t)b);
    }
    c->pod_pdb_off[m->pods.n] = (uint32_t)list.n;
    c->pod_pdb = list.v ? list.v : gf_xcalloc(1, sizeof(uint32_t));
    free(next);
    gf_strmap_free(&ns);
}

/* --- binpack index ------------------------------------------------------------ */

static uint32_t bucket_for(const ctx *c, uint32_t node)
{
    double r = c->s->node_gpu_free[node] / c->m->nodes.v[node].gpu_count;
    if (!(r > 0)) return 0;
    uint32_t b = (uint32_t)(r * N_BUCKETS);
    return b < N_BUCKETS ? b : N_BUCKETS - 1;
}

static void unlink_node(ctx *c, uint32_t node)
{
    tier *t = &c->tiers.v[c->tier_of[node]];
    if (c->prev[node] != GF_NONE)
        c->next[c->prev[node]] = c->next[node];
    else
        t->head[c->bucket_of[node]] = c->next[node];
    if (c->next[node] != GF_NONE) c->prev[c->next[node]] = c->prev[node];
}

static void link_node(ctx *c, uint32_t node)
{
    tier *t = &c->tiers.v[c->tier_of[node]];
    uint32_t b = bucket_for(c, node);
    c->bucket_of[node] = b;
    c->prev[node] = GF_NONE;
    c->next[node] = t->head[b];
    if (t->head[b] != GF_NONE) c->prev[t->head[b]] = node;
    t->head[b] = node;
}

static uint32_t cpu_bucket_for(const ctx *c, uint32_t node)
{
    int64_t total = c->m->nodes.v[node].cpu_milli;
    double r = total > 0 ? (double)c->s->free_cpu_milli[node] / (double)total : 0;
    if (!(r > 0)) return 0;
    uint32_t b = (uint32_t)(r * N_BUCKETS);
    return b < N_BUCKETS ? b : N_BUCKETS - 1;
}

static void cpu_unlink(ctx *c, uint32_t node)
{
    uint32_t *head = &c->cpu_head[(size_t)c->m->nodes.v[node].pool * N_BUCKETS];
    if (c->cprev[node] != GF_NONE)
        c->cnext[c->cprev[node]] = c->cnext[node];
    else
        head[c->cbucket_of[node]] = c->cnext[node];
    if (c->cnext[node] != GF_NONE) c->cprev[c->cnext[node]] = c->cprev[node];
}

static void cpu_link(ctx *c, uint32_t node)
{
    uint32_t *head = &c->cpu_head[(size_t)c->m->nodes.v[node].pool * N_BUCKETS];
    uint32_t b = cpu_bucket_for(c, node);
    c->cbucket_of[node] = b;
    c->cprev[node] = GF_NONE;
    c->cnext[node] = head[b];
    if (head[b] != GF_NONE) c->cprev[head[b]] = node;
    head[b] = node;
}

/* After the node's free capacity changed. */
static void touch(ctx *c, uint32_t node)
{
    if (c->cpu_head && cpu_bucket_for(c, node) != c->cbucket_of[node]) {
        cpu_unlink(c, node);
        cpu_link(c, node);
    }
    if (!c->tier_of || c->tier_of[node] == GF_NONE) return;
    if (bucket_for(c, node) == c->bucket_of[node]) return;
    unlink_node(c, node);
    link_node(c, node);
}

static void index_build(ctx *c)
{
    const gf_model *m = c->m;
    size_t nn = m->nodes.n;
    c->tier_of = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->bucket_of = gf_xcalloc(nn + 1, sizeof(uint32_t));
    c->next = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->prev = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        c->tier_of[i] = GF_NONE;
        if (!n->gpu_count) continue;
        size_t t = 0;
        while (t < c->tiers.n &&
               !(c->tiers.v[t].pool == n->pool && c->tiers.v[t].gpus == n->gpu_count &&
                 c->tiers.v[t].gpu_memory_mib == n->gpu_memory_mib))
            t++;
        if (t == c->tiers.n) {
            tier nt = {n->pool, n->gpu_count, n->gpu_memory_mib, {0}};
            for (size_t b = 0; b < N_BUCKETS; b++)
                nt.head[b] = GF_NONE;
            gf_vec_push(&c->tiers, nt);
        }
        c->tier_of[i] = (uint32_t)t;
    }
    /* link in reverse so each bucket lists its nodes in index order */
    for (size_t i = nn; i-- > 0;)
        if (c->tier_of[i] != GF_NONE) link_node(c, (uint32_t)i);

    size_t np = m->pools.n;
    c->cpu_head = gf_xmalloc((np * N_BUCKETS + 1) * sizeof(uint32_t));
    for (size_t b = 0; b < np * N_BUCKETS; b++)
        c->cpu_head[b] = GF_NONE;
    c->pool_cpu_min = gf_xcalloc(np + 1, sizeof(int64_t));
    c->pool_cpu_max = gf_xcalloc(np + 1, sizeof(int64_t));
    c->cbucket_of = gf_xcalloc(nn + 1, sizeof(uint32_t));
    c->cnext = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->cprev = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        if (!c->pool_cpu_min[n->pool] || n->cpu_milli < c->pool_cpu_min[n->pool])
            c->pool_cpu_min[n->pool] = n->cpu_milli;
        if (n->cpu_milli > c->pool_cpu_max[n->pool]) c->pool_cpu_max[n->pool] = n->cpu_milli;
    }
    for (size_t i = nn; i-- > 0;)
        cpu_link(c, (uint32_t)i);
}

static void index_free(ctx *c)
{
    free(c->cpu_head);
    free(c->pool_cpu_min);
    free(c->pool_cpu_max);
    free(c->cbucket_of);
    free(c->cnext);
    free(c->cprev);
    gf_vec_free(&c->tiers);
    free(c->tier_of);
    free(c->bucket_of);
    free(c->next);
    free(c->prev);
}

/* Is cur a better placement than best? Lower score; ties within 1e-12 go to
 * the lower node index (what a scan in index order picks). */
static bool better(const gf_placement *cur, const gf_placement *best)
{
    if (cur->score < best->score - 1e-12) return true;
    return cur->score <= best->score + 1e-12 && cur->node < best->node;
}

/* Can a node whose score is at least bound still beat best? */
static bool may_beat(double bound, uint32_t node, const gf_placement *best)
{
    if (bound > best->score + 1e-12) return false;
    return bound < best->score - 1e-12 || node < best->node;
}

/* One candidate node: the cheap checks, then the full fit. */
static void consider(ctx *c, const gf_pod *p, const uint8_t *allowed_in, uint32_t node, bool *found,
                     gf_placement *out)
{
    uint8_t *allowed = (uint8_t *)allowed_in;
    const gf_pack_state *s = c->s;
    if (c->skip[node] || p->cpu_milli > s->free_cpu_milli[node] ||
        p->memory_bytes > s->free_memory_bytes[node])
        return;
    uint32_t i = c->slot_of[node];
    if (!allowed[i]) allowed[i] = gf_pack_node_allowed(c->m, p, node, NULL) ? 1 : 2;
    if (allowed[i] != 1) return;
    if (*found && !may_beat(gf_pack_score_bound(s, p, node, c->o->scorer), node, out)) return;
    gf_placement cur;
    if (!gf_pack_fit_capacity(s, p, node, c->o->scorer, &cur, NULL)) return;
    if (!*found || better(&cur, out)) {
        *out = cur;
        *found = true;
    }
}

/* Binpack for a GPU pod: a node needs a free ratio of at least the pod's
 * GPUs over the node's (need); its score is at least (ratio - need), as
 * gf_pack_score_bound() says. Buckets are
 * walked from the need upwards, and a tier stops at the first bucket whose
 * lower edge cannot beat the best found: the same answer as scanning every
 * node, with most nodes never looked at. */
static bool best_binpack(ctx *c, const gf_pod *p, size_t pool, const uint8_t *allowed,
                         gf_placement *out)
{
    bool found = false;
    for (size_t t = 0; t < c->tiers.n; t++) {
        const tier *tr = &c->tiers.v[t];
        if (tr->pool != pool) continue;
        double share = 1.0;
        uint32_t want = p->gpu_whole;
        if (p->share != GF_SHARE_NONE) {
            want = p->gpu_devices ? p->gpu_devices : 1;
            share = gf_pod_share_on(p, tr->gpu_memory_mib); /* the tier's nodes' GPUs */
        }
        if (want > tr->gpus) continue;
        double need = share > 0 ? share * want / tr->gpus : 0;
        uint32_t b0 = need > 1e-9 ? (uint32_t)((need - 1e-9) * N_BUCKETS) : 0;
        for (uint32_t b = b0 < N_BUCKETS ? b0 : N_BUCKETS - 1; b < N_BUCKETS; b++) {
            double lo = (double)b / N_BUCKETS;
            if (found && share > 0 && lo - need - 1e-9 > out->score + 1e-12) break;
            for (uint32_t node = tr->head[b]; node != GF_NONE; node = c->next[node])
                consider(c, p, allowed, node, &found, out);
        }
    }
    return found;
}

/* Binpack for a CPU-only pod: its score is the node's free CPU ratio after
 * it, at least (ratio - cpu / the pool's smallest node); a node needs a
 * ratio of at least cpu / the pool's largest node. Walked like
 * best_binpack(). */
static bool best_binpack_cpu(ctx *c, const gf_pod *p, size_t pool, const uint8_t *allowed,
                             gf_placement *out)
{
    bool found = false;
    if (c->pool_cpu_min[pool] <= 0) { /* a node without CPU: no bound, scan the pool */
        for (uint32_t i = 0; i < c->pool_len[pool]; i++)
            consider(c, p, allowed, c->pool_nodes[pool][i], &found, out);
        return found;
    }
    double need_lo = (double)p->cpu_milli / (double)c->pool_cpu_max[pool];
    double need_hi = (double)p->cpu_milli / (double)c->pool_cpu_min[pool];
    const uint32_t *head = &c->cpu_head[pool * N_BUCKETS];
    uint32_t b0 = need_lo > 1e-9 ? (uint32_t)((need_lo - 1e-9) * N_BUCKETS) : 0;
    for (uint32_t b = b0 < N_BUCKETS ? b0 : N_BUCKETS - 1; b < N_BUCKETS; b++) {
        double lo = (double)b / N_BUCKETS;
        if (found && lo - need_hi - 1e-9 > out->score + 1e-12) break;
        for (uint32_t node = head[b]; node != GF_NONE; node = c->cnext[node])
            consider(c, p, allowed, node, &found, out);
    }
    return found;
}

static bool best_in_pool(ctx *c, const gf_pod *p, gf_placement *out)
{
    size_t pool_idx;
    if (!pod_pool(c, p, &pool_idx)) return false;
    bool found = false;
    const uint8_t *allowed = allowed_row(c, p, pool_idx);
    if (c->o->scorer == GF_SCORE_BINPACK)
        return p->gpu_whole || p->share != GF_SHARE_NONE
                   ? best_binpack(c, p, pool_idx, allowed, out)
                   : best_binpack_cpu(c, p, pool_idx, allowed, out);
    for (uint32_t i = 0; i < c->pool_len[pool_idx]; i++)
        consider(c, p, allowed, c->pool_nodes[pool_idx][i], &found, out);
    return found;
}

typedef struct keyed {
    double demand;
    uint32_t pod;
} keyed;

/* largest GPU demand first (first-fit decreasing), then pod index */
static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->demand != y->demand) return x->demand > y->demand ? -1 : 1;
    return (x->pod > y->pod) - (x->pod < y->pod);
}

/* Tries to drain one node; on failure everything is rolled back. */
static bool try_drain(ctx *c, const cand *cd, gf_consolidation *out, gf_node_verdict *v)
{
    const gf_model *m = c->m;
    uint32_t node = cd->node;
    uint32_t begin = c->node_pod_start[node], end = c->node_pod_start[node + 1];
    GF_VEC(keyed) order = {0};
    for (uint32_t i = begin; i < end; i++) {
        const char *why;
        const gf_pod *p = &m->pods.v[c->node_pods[i]];
        if (classify(m, p, &why) == ROLE_MOVE) {
            keyed k = {gpu_demand(m, p), c->node_pods[i]};
            gf_vec_push(&order, k);
        }
    }
    if (order.n) qsort(order.v, order.n, sizeof(keyed), cmp_keyed);
    GF_VEC(uint32_t) pods = {0};
    for (size_t i = 0; i < order.n; i++)
        gf_vec_push(&pods, order.v[i].pod);
    gf_vec_free(&order);
    c->skip[node] = true;
    for (size_t i = 0; i < pods.n; i++) {
        gf_placement cur = current(c, &m->pods.v[pods.v[i]]);
        gf_pack_remove(c->s, &m->pods.v[pods.v[i]], &cur);
        touch(c, cur.node);
    }
    size_t first_move = out->moves.n;
    bool ok = true;
    for (size_t i = 0; i < pods.n && ok; i++) {
        const gf_pod *p = &m->pods.v[pods.v[i]];
        v->pod = pods.v[i];
        if (p->workload != GF_NONE && c->o->max_moves_per_workload &&
            c->moves_of_workload[p->workload] + 1 > c->o->max_moves_per_workload) {
            v->reason = "the workload's move limit would be exceeded";
            ok = false;
            break;
        }
        for (uint32_t k = c->pod_pdb_off[pods.v[i]]; k < c->pod_pdb_off[pods.v[i] + 1] && ok; k++) {
            if (c->pdb_left[c->pod_pdb[k]] <= 0) {
                v->reason = "a PodDisruptionBudget allows no more disruptions";
                ok = false;
            }
        }
        if (!ok) break;
        gf_move mv = {pods.v[i], node, {0}};
        const char *memo = NULL;
        size_t only = GF_NONE;
        bool fits;
        size_t pool;
        if (i == 0 && pod_pool(c, p, &pool)) { /* nothing of this attempt placed yet: see nofit */
            memo = request_key(c, p, pool);
            if (gf_strmap_get(&c->nofit, memo, &only)) {
                fits = false;
                if (!c->skip[only] && c->m->nodes.v[only].pool == pool)
                    consider(c, p, allowed_row(c, p, pool), (uint32_t)only, &fits, &mv.to);
            } else {
                fits = best_in_pool(c, p, &mv.to);
                if (!fits) gf_strmap_put(&c->nofit, memo, node);
            }
        } else {
            fits = best_in_pool(c, p, &mv.to);
        }
        if (!fits) {
            v->reason = "a pod fits on no other node of its pool";
            ok = false;
            break;
        }
        gf_pack_apply(c->s, p, &mv.to);
        touch(c, mv.to.node);
        gf_vec_push(&out->moves, mv);
        if (p->workload != GF_NONE) c->moves_of_workload[p->workload]++;
        for (uint32_t k = c->pod_pdb_off[pods.v[i]]; k < c->pod_pdb_off[pods.v[i] + 1]; k++)
            c->pdb_left[c->pod_pdb[k]]--;
    }
    if (!ok) { /* roll back moves made, then retake the original capacity */
        for (size_t i = out->moves.n; i-- > first_move;) {
            const gf_move *mv = &out->moves.v[i];
            const gf_pod *p = &m->pods.v[mv->pod];
            gf_pack_remove(c->s, p, &mv->to);
            touch(c, mv->to.node);
            if (p->workload != GF_NONE) c->moves_of_workload[p->workload]--;
            for (uint32_t k = c->pod_pdb_off[mv->pod]; k < c->pod_pdb_off[mv->pod + 1]; k++)
                c->pdb_left[c->pod_pdb[k]]++;
        }
        out->moves.n = first_move;
        for (size_t i = 0; i < pods.n; i++) {
            gf_placement cur = current(c, &m->pods.v[pods.v[i]]);
            gf_pack_apply(c->s, &m->pods.v[pods.v[i]], &cur);
            touch(c, cur.node);
        }
        c->skip[node] = false;
    } else {
        gf_drain d = {node, (uint32_t)first_move, (uint32_t)(out->moves.n - first_move),
                      m->nodes.v[node].gpu_count, cd->saving};
        gf_vec_push(&out->drains, d);
        for (size_t i = first_move; i < out->moves.n; i++)
            c->received[out->moves.v[i].to.node] = true;
        out->gpus_freed += d.gpus_freed;
        out->nodes_freed++;
        out->cost_saved += d.cost_saved;
    }
    gf_vec_free(&pods);
    return ok;
}

gf_err gf_consolidate(const gf_model *m, const gf_consolidate_opts *o, gf_consolidation *out,
                      gf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!m->finalized)
        return gf_error_set(err, GF_EINTERNAL, NULL, "consolidate: model is not finalized");
    ctx c = {0};
    c.m = m;
    c.o = o;
    c.s = gf_pack_state_new(m);
    if (o->scorer == GF_SCORE_FGD) {
        gf_task_class *cls;
        size_t n = gf_pack_classes_from_pods(m, &cls);
        gf_pack_set_classes(c.s, cls, n);
        free(cls);
    }
    size_t nn = m->nodes.n;
    c.node_pod_start = gf_xcalloc(nn + 2, sizeof(uint32_t));
    c.node_pods = gf_xcalloc(m->pods.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++)
        if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
            c.node_pod_start[m->pods.v[i].node + 1]++;
    for (size_t i = 0; i < nn; i++)
        c.node_pod_start[i + 1] += c.node_pod_start[i];
    {
        uint32_t *fill = gf_xmalloc((nn + 1) * sizeof(uint32_t));
        memcpy(fill, c.node_pod_start, (nn + 1) * sizeof(uint32_t));
        for (size_t i = 0; i < m->pods.n; i++)
            if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
                c.node_pods[fill[m->pods.v[i].node]++] = (uint32_t)i;
        free(fill);
    }
    c.pool_nodes = gf_xcalloc(m->pools.n + 1, sizeof(uint32_t *));
    c.pool_len = gf_xcalloc(m->pools.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++)
        c.pool_len[m->nodes.v[i].pool]++;
    for (size_t p = 0; p < m->pools.n; p++) {
        c.pool_nodes[p] = gf_xmalloc((c.pool_len[p] + 1) * sizeof(uint32_t));
        c.pool_len[p] = 0;
    }
    c.slot_of = gf_xcalloc(nn + 1, sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++) {
        uint32_t p = m->nodes.v[i].pool;
        c.slot_of[i] = c.pool_len[p];
        c.pool_nodes[p][c.pool_len[p]++] = (uint32_t)i;
    }
    if (o->scorer == GF_SCORE_BINPACK) index_build(&c);
    gf_arena_init(&c.sig_keys);
    gf_strmap_init(&c.sig_by_key);
    gf_strmap_init(&c.nofit);
    c.pod_sig = gf_xmalloc((m->pods.n + 1) * sizeof(uint32_t));
    memset(c.pod_sig, 0xff, (m->pods.n + 1) * sizeof(uint32_t)); /* GF_NONE */
    c.skip = gf_xcalloc(nn + 1, sizeof(bool));
    c.received = gf_xcalloc(nn + 1, sizeof(bool));
    c.moves_of_workload = gf_xcalloc(m->workloads.n + 1, sizeof(uint32_t));
    c.pdb_left = gf_xcalloc(m->pdbs.n + 1, sizeof(int32_t));
    for (size_t b = 0; b < m->pdbs.n; b++)
        c.pdb_left[b] = m->pdbs.v[b].disruptions_allowed;
    pdb_index(&c);

    /* candidates: GPU nodes whose pods are all movable or ignorable */
    GF_VEC(cand) cands = {0};
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        if (n->gpu_count == 0 || (o->pool != GF_NONE && n->pool != o->pool)) continue;
        cand cd = {(uint32_t)i, 0, 0, node_saving(&c, n)};
        gf_node_verdict pin = {(uint32_t)i, NULL, GF_NONE};
        for (uint32_t k = c.node_pod_start[i]; k < c.node_pod_start[i + 1]; k++) {
            const gf_pod *p = &m->pods.v[c.node_pods[k]];
            const char *why = NULL;
            pod_role r = classify(m, p, &why);
            if (r == ROLE_PIN && !pin.reason) {
                pin.reason = why;
                pin.pod = c.node_pods[k];
            }
            if (r == ROLE_MOVE) {
                cd.n_moves++;
                cd.prio_sum += p->priority;
            }
        }
        if (pin.reason)
            gf_vec_push(&out->kept, pin);
        else
            gf_vec_push(&cands, cd);
    }
    if (cands.n) qsort(cands.v, cands.n, sizeof(cand), cmp_cand);
    for (size_t i = 0; i < cands.n; i++) {
        gf_node_verdict v = {cands.v[i].node, NULL, GF_NONE};
        if (o->max_nodes && out->nodes_freed >= o->max_nodes) {
            v.reason = "the plan already drains the maximum number of nodes";
        } else if (c.received[cands.v[i].node]) {
            v.reason = "it receives pods moved earlier in this plan";
        } else if (try_drain(&c, &cands.v[i], out, &v)) {
            continue;
        }
        gf_vec_push(&out->kept, v);
    }
    gf_vec_free(&cands);
    for (size_t i = 0; i < c.sig_allowed.n; i++)
        free(c.sig_allowed.v[i]);
    gf_vec_free(&c.sig_allowed);
    gf_strmap_free(&c.sig_by_key);
    gf_strmap_free(&c.nofit);
    gf_arena_free(&c.sig_keys);
    free(c.pod_sig);
    free(c.slot_of);
    index_free(&c);
    for (size_t p = 0; p < m->pools.n; p++)
        free(c.pool_nodes[p]);
    free(c.pool_nodes);
    free(c.pool_len);
    out->drained = gf_xcalloc(nn + 1, sizeof(bool));
    for (size_t i = 0; i < out->drains.n; i++)
        out->drained[out->drains.v[i].node] = true;
    out->state = c.s;
    c.s = NULL;
    free(c.skip);
    free(c.received);
    free(c.moves_of_workload);
    free(c.pdb_left);
    free(c.pod_pdb_off);
    free(c.pod_pdb);
    free(c.node_pod_start);
    free(c.node_pods);
    gf_pack_state_free(c.s);
    return GF_OK;
}

size_t gf_consolidate_explain(const gf_model *m, const gf_consolidation *c,
                              const gf_consolidate_opts *o, uint32_t pod, gf_fit_reason **out)
{
    GF_VEC(gf_fit_reason) v = {0};
    const gf_pod *p = &m->pods.v[pod];
    for (size_t i = 0; i < m->nodes.n; i++) {
        if (i == p->node || c->drained[i]) continue;
        const char *why = NULL;
        if (!gf_pack_node_allowed(m, p, (uint32_t)i, &why) &&
            !strcmp(why, "node is in another node pool"))
            continue; /* other pools are never candidates: not worth listing */
        gf_placement pl;
        if (gf_pack_fit_node(c->state, p, (uint32_t)i, o->scorer, &pl, &why)) why = NULL;
        gf_fit_reason r = {(uint32_t)i, why};
        gf_vec_push(&v, r);
    }
    *out = v.v;
    return v.n;
}
