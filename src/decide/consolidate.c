/* consolidate.c - node drain planning, see consolidate.h for the rules, the
 * search (greedy pass, improvement reruns, exact branch and bound) and the
 * bound printed with the plan. */
#include "decide/consolidate.h"
#include "decide/govern.h"
#include "model/kai.h"
#include "util/rng.h"
#include "util/sbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void gf_consolidate_opts_default(gf_consolidate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scorer = GF_SCORE_BINPACK;
    o->objective = GF_OBJ_NODES;
    o->pool = GF_NONE;
    o->max_rounds = 24;
    o->max_attempts = 40000;
    o->seed = 1;
    o->exact_max_candidates = 30;
    o->exact_max_steps = 20000000;
}

const char *gf_objective_name(gf_objective o)
{
    static const char *names[] = {"nodes", "gpus", "cost"};
    return (unsigned)o <= GF_OBJ_COST ? names[o] : "?";
}

gf_err gf_objective_parse(const char *name, gf_objective *out)
{
    for (int i = 0; i <= GF_OBJ_COST; i++)
        if (!strcmp(name, gf_objective_name((gf_objective)i))) {
            *out = (gf_objective)i;
            return GF_OK;
        }
    return GF_EUSAGE;
}

void gf_consolidation_free(gf_consolidation *c)
{
    if (!c) return;
    gf_vec_free(&c->drains);
    gf_vec_free(&c->moves);
    gf_vec_free(&c->steps);
    gf_vec_free(&c->pools);
    gf_vec_free(&c->kept);
    gf_pack_state_free(c->state);
    free(c->drained);
    free(c->pod_pin);
    c->state = NULL;
    c->drained = NULL;
    c->pod_pin = NULL;
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
    uint32_t gpus;
    double primary; /* sorted on first, largest first: 0 for nodes, else what is saved */
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->primary != y->primary) return x->primary > y->primary ? -1 : 1;
    if (x->n_moves != y->n_moves) return x->n_moves < y->n_moves ? -1 : 1;
    if (x->prio_sum != y->prio_sum) return x->prio_sum < y->prio_sum ? -1 : 1;
    if (x->saving != y->saving) return x->saving > y->saving ? -1 : 1;
    return (x->node > y->node) - (x->node < y->node);
}

#define N_BUCKETS 256
/* second index level: the largest free fraction of one GPU on the node, in
 * sixteenths (16 = an idle GPU) */
#define N_LEVELS 17
/* the CPU index's second level: free CPU in steps of 1.25x from 64m (below:
 * class 0) to about 80 cores; on generated clusters nine in ten nodes a
 * CPU-only pod was tried on lacked its CPU */
#define N_CPU 34

typedef struct tier {
    uint32_t pool, gpus;
    int64_t gpu_memory_mib;
    uint8_t stay;
    uint32_t *head; /* N_BUCKETS x N_LEVELS; GF_NONE = empty */
} tier;

typedef struct ctx {
    const gf_model *m;
    const gf_consolidate_opts *o;
    gf_pack_state *s;
    gf_pack_state *s0;        /* the snapshot's allocation, for reruns */
    uint32_t *node_pod_start; /* CSR of active bound pods per node */
    uint32_t *node_pods;
    uint8_t *role;        /* per pod: classify() and governance(), computed once */
    const char **pin_why; /* per pod: why ROLE_PIN (static text) */
    /* KAI governance (see consolidate.h) */
    uint32_t *np_cap;       /* per pod: most moves of its workload (0 = no such limit) */
    uint32_t *gang_start;   /* per PodGroup: CSR into gang_pods (NULL: no gangs) */
    uint32_t *gang_pods;    /* active bound pods of gangs (minMember > 1) */
    uint32_t *mark, stamp;  /* per pod: stamp of the drain attempt that listed it */
    bool gangs;             /* some gang may move: no exact search */
    bool *spread_pool;      /* per pool: its shard places by spread */
    GF_VEC(uint32_t) cause; /* per work: the node whose drain made the move */
    uint32_t *pool_of;      /* per pod: pod_pool_lookup(), computed once; GF_NONE = no such pool */
    uint32_t **pool_nodes;  /* GPU-less nodes included: CPU-only pods may use them */
    uint32_t *pool_len;
    bool *skip;    /* drained, or being tried */
    uint8_t *stay; /* per node: 1 = not a candidate still to try (preferred target) */
    bool *is_cand;
    bool *received; /* legacy_greedy only */
    uint32_t *moves_of_workload;
    int32_t *pdb_left;
    uint32_t *pod_pdb_off, *pod_pdb; /* CSR: the PDBs selecting each pod */
    /* moves of the current pass: pod, original node, where it is now */
    GF_VEC(gf_move) work;
    uint32_t *move_of;               /* per pod: index into work, or GF_NONE */
    uint32_t *rhead, *rnext, *rprev; /* per node: the moves now on it (doubly linked) */
    GF_VEC(gf_move) steps;
    GF_VEC(uint32_t) drained;         /* this pass, in order */
    GF_VEC(gf_node_verdict) verdicts; /* this pass: candidates not drained */
    uint64_t attempts;
    uint64_t mismatches;
    /* gf_pack_node_allowed() depends only on the pod's constraints (tolerations,
     * selectors, GPU models, pool) and the node, never on capacity: pods with
     * the same constraints (all replicas of a workload, as a rule) share one
     * row of answers per node of their pool, computed on first use. */
    gf_arena sig_keys;
    gf_strmap sig_by_key;
    gf_sbuf key;                   /* scratch for keys */
    uint32_t *pod_sig;             /* per pod, GF_NONE until needed */
    GF_VEC(uint8_t *) sig_allowed; /* per signature and pool slot: 0 ?, 1 yes, 2 no */
    uint32_t *slot_of;             /* node -> its position in pool_nodes[pool] */
    /* binpack index: GPU nodes of one pool with one GPU count ("tier"), one
     * tier for nodes that stay and one for candidates still to try, in
     * buckets by free GPU ratio (free sum / GPUs) and by the largest free
     * fraction of one GPU, doubly linked, kept current as pods are taken off
     * and put on nodes; see best_binpack() */
    GF_VEC(tier) tiers;
    uint32_t *tier_of, *bucket_of, *next, *prev; /* per node; GF_NONE = not indexed */
    /* the same for CPU-only pods: every node of a pool in buckets by free
     * CPU ratio (free / allocatable), per stay flag, with the pool's CPU
     * extremes */
    uint32_t *cpu_head;                   /* (pool x 2 + stay) x N_BUCKETS x N_CPU */
    int64_t *pool_cpu_min, *pool_cpu_max; /* allocatable CPU, milli */
    uint32_t *cbucket_of, *cnext, *cprev;
    bool *indexed;
    /* Pods that fit nowhere as the first (largest) pod of a drain attempt,
     * by constraints and request: "key" -> the node then being tried. Free
     * capacity of the other nodes only shrinks as the plan grows (failed
     * attempts roll back to the committed plan), so later the same request
     * can only fit on that one node. Cleared for each pass. */
    gf_strmap nofit;
} ctx;

/* --- keys (no printf: built once per pod and per drain attempt) -------------- */

static void key_str(gf_sbuf *b, const char *s)
{
    gf_sbuf_puts(b, s ? s : "\x03");
    gf_sbuf_append(b, "\x01", 1);
}

static void key_u64(gf_sbuf *b, uint64_t v)
{
    char d[17];
    int n = 0;
    do {
        d[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    gf_sbuf_append(b, d, (size_t)n);
    gf_sbuf_append(b, "\x01", 1);
}

static void key_double(gf_sbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    key_u64(b, u);
}

/* The pod's scheduling constraints as a string (exact: equal strings give
 * equal gf_pack_node_allowed() answers on every node). */
static const char *constraint_key(ctx *c, const gf_pod *p, size_t pool)
{
    gf_sbuf *b = &c->key;
    b->len = 0;
    key_u64(b, pool);
    key_u64(b, p->gpu_whole > 0 || p->share != GF_SHARE_NONE);
    key_str(b, p->pool_selector);
    for (uint32_t i = 0; i < p->n_tolerations; i++) {
        const gf_toleration *t = &p->tolerations[i];
        gf_sbuf_append(b, "t", 1);
        key_str(b, t->key);
        key_str(b, t->op);
        key_str(b, t->value);
        key_str(b, t->effect);
    }
    for (uint32_t i = 0; i < p->node_selector.n; i++) {
        gf_sbuf_append(b, "s", 1);
        key_str(b, p->node_selector.items[i].key);
        key_str(b, p->node_selector.items[i].value);
    }
    for (uint32_t i = 0; i < p->n_gpu_models; i++) {
        gf_sbuf_append(b, "m", 1);
        key_str(b, p->gpu_models[i]);
    }
    if (gf_pack_topology_level(c->m, p, NULL) != -1) { /* its domain: its PodGroup and node */
        gf_sbuf_append(b, "d", 1);
        key_u64(b, p->gov.podgroup);
        key_u64(b, p->node);
    }
    return gf_sbuf_str(b);
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
            gf_strmap_put(&c->sig_by_key, gf_arena_strdup(&c->sig_keys, key), sig);
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

/* The pod's snapshot capacity as a placement, to give back or take again. */
static gf_placement original(const ctx *c, const gf_pod *p)
{
    gf_placement pl = {0};
    pl.node = p->node;
    pl.n_gpus = p->n_gpus < GF_PACK_MAX_DEVICES ? p->n_gpus : GF_PACK_MAX_DEVICES;
    if (pl.n_gpus) memcpy(pl.gpus, p->gpus, pl.n_gpus * sizeof(uint32_t));
    pl.share =
        p->share != GF_SHARE_NONE ? gf_pod_share_on(p, c->m->nodes.v[p->node].gpu_memory_mib) : 1.0;
    return pl;
}

/* Where the pod is in the current pass. */
static gf_placement now_at(const ctx *c, uint32_t pod)
{
    if (c->move_of[pod] != GF_NONE) return c->work.v[c->move_of[pod]].to;
    return original(c, &c->m->pods.v[pod]);
}

/* The node pool a pod is placed in: the one it selects, else the one it
 * runs in. False when it selects a pool that does not exist. */
static bool pod_pool_lookup(const ctx *c, const gf_pod *p, size_t *pool)
{
    *pool = p->node != GF_NONE ? c->m->nodes.v[p->node].pool : 0;
    return !p->pool_selector || gf_strmap_get(&c->m->pool_by_name, p->pool_selector, pool);
}

/* The same, from the per-pod answer computed once (GF_NONE: no such pool). */
static bool pod_pool(const ctx *c, const gf_pod *p, size_t *pool)
{
    *pool = c->pool_of[p - c->m->pods.v];
    return *pool != GF_NONE;
}

/* Constraints and request of a pod, as a key (scratch: valid until the next key). */
static const char *request_key(ctx *c, const gf_pod *p, size_t pool)
{
    size_t pi = (size_t)(p - c->m->pods.v);
    if (c->pod_sig[pi] == GF_NONE) (void)allowed_row(c, p, pool);
    gf_sbuf *b = &c->key;
    b->len = 0;
    key_u64(b, c->pod_sig[pi]);
    key_u64(b, (uint64_t)p->cpu_milli);
    key_u64(b, (uint64_t)p->memory_bytes);
    key_u64(b, p->gpu_whole);
    key_u64(b, (uint64_t)p->share);
    key_double(b, p->gpu_fraction);
    key_u64(b, (uint64_t)p->gpu_memory_mib);
    key_u64(b, p->gpu_devices);
    return gf_sbuf_str(b);
}

/* --- PDB index ---------------------------------------------------------------- */

/* The PDBs selecting each pod, as a CSR (pod_pdb_off has pods + 1 entries).
 * Each PDB is filed under its namespace and its first matchLabels pair (PDBs
 * without matchLabels under the namespace alone); a pod looks up its
 * namespace and each of its labels, and only the PDBs found there are
 * matched in full: pods x labels lookups instead of pods x PDBs. */
static void pdb_index(ctx *c)
{
    const gf_model *m = c->m;
    gf_strmap by_key;
    gf_strmap_init(&by_key);
    gf_arena keys;
    gf_arena_init(&keys);
    uint32_t *chain = gf_xmalloc((m->pdbs.n + 1) * sizeof(uint32_t));
    gf_sbuf *b = &c->key;
    gf_strmap has_ns, has_key; /* namespaces with PDBs; label keys PDBs are filed under */
    gf_strmap_init(&has_ns);
    gf_strmap_init(&has_key);
    for (size_t i = m->pdbs.n; i-- > 0;) {
        const gf_pdb *pdb = &m->pdbs.v[i];
        gf_strmap_put(&has_ns, pdb->ns, 0);
        if (pdb->match_labels.n) gf_strmap_put(&has_key, pdb->match_labels.items[0].key, 0);
        b->len = 0;
        key_str(b, pdb->ns);
        if (pdb->match_labels.n) {
            key_str(b, pdb->match_labels.items[0].key);
            key_str(b, pdb->match_labels.items[0].value);
        }
        size_t head = GF_NONE;
        gf_strmap_get(&by_key, gf_sbuf_str(b), &head);
        gf_strmap_put(&by_key, gf_arena_strdup(&keys, gf_sbuf_str(b)), i); /* keys are borrowed */
        chain[i] = (uint32_t)head;
    }
    c->pod_pdb_off = gf_xcalloc(m->pods.n + 2, sizeof(uint32_t));
    GF_VEC(uint32_t) list = {0};
    for (size_t i = 0; i < m->pods.n && m->pdbs.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        c->pod_pdb_off[i] = (uint32_t)list.n;
        for (uint32_t l = 0; l <= p->labels.n; l++) {
            if (l == 0 && !gf_strmap_get(&has_ns, p->ns, NULL)) break;
            if (l < p->labels.n && !gf_strmap_get(&has_key, p->labels.items[l].key, NULL)) continue;
            b->len = 0;
            key_str(b, p->ns);
            if (l < p->labels.n) {
                key_str(b, p->labels.items[l].key);
                key_str(b, p->labels.items[l].value);
            }
            size_t k;
            if (!gf_strmap_get(&by_key, gf_sbuf_str(b), &k)) continue;
            for (; k != GF_NONE; k = chain[k])
                if (gf_pdb_selects(&m->pdbs.v[k], p)) gf_vec_push(&list, (uint32_t)k);
        }
        if (c->o->check_index) { /* the brute-force answer: every PDB */
            size_t found = list.n - c->pod_pdb_off[i], want = 0;
            for (size_t k = 0; k < m->pdbs.n; k++)
                if (gf_pdb_selects(&m->pdbs.v[k], p)) {
                    bool listed = false;
                    for (size_t j = c->pod_pdb_off[i]; j < list.n; j++)
                        listed |= list.v[j] == k;
                    want++;
                    c->mismatches += !listed;
                }
            c->mismatches += found != want;
        }
    }
    c->pod_pdb_off[m->pods.n] = (uint32_t)list.n;
    if (!m->pdbs.n)
        for (size_t i = 0; i < m->pods.n; i++)
            c->pod_pdb_off[i] = 0;
    c->pod_pdb = list.v ? list.v : gf_xcalloc(1, sizeof(uint32_t));
    free(chain);
    gf_strmap_free(&has_ns);
    gf_strmap_free(&has_key);
    gf_strmap_free(&by_key);
    gf_arena_free(&keys);
}

/* --- binpack index ------------------------------------------------------------ */

static uint32_t bucket_for(const ctx *c, uint32_t node)
{
    double r = c->s->node_gpu_free[node] / c->m->nodes.v[node].gpu_count;
    if (!(r > 0)) return 0;
    uint32_t b = (uint32_t)(r * N_BUCKETS);
    return b < N_BUCKETS ? b : N_BUCKETS - 1;
}

/* Level of a free fraction f: floor(16 f + 1e-7), so that a GPU with
 * f + GF_PACK_EPS >= share has a level >= level_of(share - GF_PACK_EPS). */
static uint32_t level_of(double f)
{
    if (!(f > 0)) return 0;
    double l = floor(f * (N_LEVELS - 1) + 1e-7);
    return l < N_LEVELS - 1 ? (uint32_t)l : N_LEVELS - 1;
}

static uint32_t node_level(const ctx *c, uint32_t node)
{
    const gf_node *n = &c->m->nodes.v[node];
    double best = 0;
    for (uint32_t g = 0; g < n->gpu_count; g++)
        if (c->s->gpu_free[n->first_gpu + g] > best) best = c->s->gpu_free[n->first_gpu + g];
    return level_of(best);
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

static void link_at(ctx *c, uint32_t node, uint32_t slot)
{
    tier *t = &c->tiers.v[c->tier_of[node]];
    c->bucket_of[node] = slot;
    c->prev[node] = GF_NONE;
    c->next[node] = t->head[slot];
    if (t->head[slot] != GF_NONE) c->prev[t->head[slot]] = node;
    t->head[slot] = node;
}

static uint32_t slot_for(const ctx *c, uint32_t node)
{
    return bucket_for(c, node) * N_LEVELS + node_level(c, node);
}

/* CPU class of a free (or requested) CPU: how many of the thresholds (64m,
 * then 1.25 times the last, to about 80 cores) are at or below it, so a
 * node with free >= request has a class >= the request's. */
static uint32_t cpu_class(int64_t milli)
{
    static const int64_t t[N_CPU - 1] = {
        64,   80,    100,   125,   156,   195,   243,   303,   378,   472,   590,
        737,  921,   1151,  1438,  1797,  2246,  2807,  3508,  4385,  5481,  6851,
        8563, 10703, 13378, 16722, 20902, 26127, 32658, 40822, 51027, 63783, 79728};
    uint32_t lo = 0, hi = N_CPU - 1; /* first threshold above milli */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t[mid] <= milli)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The node's slot in the CPU index: bucket by free ratio, then class. */
static uint32_t cpu_bucket_for(const ctx *c, uint32_t node)
{
    int64_t total = c->m->nodes.v[node].cpu_milli;
    int64_t free_ = c->s->free_cpu_milli[node];
    double r = total > 0 ? (double)free_ / (double)total : 0;
    uint32_t b = r > 0 ? (uint32_t)(r * N_BUCKETS) : 0;
    if (b >= N_BUCKETS) b = N_BUCKETS - 1;
    return b * N_CPU + cpu_class(free_);
}

static uint32_t *cpu_list(ctx *c, uint32_t node)
{
    return &c->cpu_head[((size_t)c->m->nodes.v[node].pool * 2 + c->stay[node]) * N_BUCKETS * N_CPU];
}

static void cpu_unlink(ctx *c, uint32_t node)
{
    uint32_t *head = cpu_list(c, node);
    if (c->cprev[node] != GF_NONE)
        c->cnext[c->cprev[node]] = c->cnext[node];
    else
        head[c->cbucket_of[node]] = c->cnext[node];
    if (c->cnext[node] != GF_NONE) c->cprev[c->cnext[node]] = c->cprev[node];
}

static void cpu_link(ctx *c, uint32_t node)
{
    uint32_t *head = cpu_list(c, node);
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
    if (!c->cpu_head || !c->indexed[node]) return;
    if (cpu_bucket_for(c, node) != c->cbucket_of[node]) {
        cpu_unlink(c, node);
        cpu_link(c, node);
    }
    if (c->tier_of[node] == GF_NONE) return;
    uint32_t slot = slot_for(c, node);
    if (slot == c->bucket_of[node]) return;
    unlink_node(c, node);
    link_at(c, node, slot);
}

/* Drained for good: out of the index. */
static void unindex(ctx *c, uint32_t node)
{
    if (!c->cpu_head || !c->indexed[node]) return;
    cpu_unlink(c, node);
    if (c->tier_of[node] != GF_NONE) unlink_node(c, node);
    c->indexed[node] = false;
}

/* The node's drain failed (or it never was a candidate): a preferred target. */
static void set_stay(ctx *c, uint32_t node)
{
    if (c->stay[node]) return;
    if (!c->cpu_head || !c->indexed[node]) {
        c->stay[node] = 1;
        return;
    }
    cpu_unlink(c, node);
    if (c->tier_of[node] != GF_NONE) unlink_node(c, node);
    c->stay[node] = 1;
    cpu_link(c, node);
    if (c->tier_of[node] != GF_NONE) {
        c->tier_of[node] ^= 1; /* tiers come in pairs: open, stay */
        link_at(c, node, slot_for(c, node));
    }
}

static void index_free(ctx *c)
{
    free(c->cpu_head);
    free(c->pool_cpu_min);
    free(c->pool_cpu_max);
    free(c->cbucket_of);
    free(c->cnext);
    free(c->cprev);
    for (size_t t = 0; t < c->tiers.n; t++)
        free(c->tiers.v[t].head);
    gf_vec_free(&c->tiers);
    free(c->tier_of);
    free(c->bucket_of);
    free(c->next);
    free(c->prev);
    free(c->indexed);
    c->cpu_head = NULL;
    c->tier_of = NULL;
}

static void index_build(ctx *c)
{
    const gf_model *m = c->m;
    size_t nn = m->nodes.n;
    c->tier_of = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->bucket_of = gf_xcalloc(nn + 1, sizeof(uint32_t));
    c->next = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->prev = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->indexed = gf_xcalloc(nn + 1, sizeof(bool));
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        c->tier_of[i] = GF_NONE;
        c->indexed[i] = !c->skip[i];
        if (!n->gpu_count) continue;
        size_t t = 0;
        while (t < c->tiers.n &&
               !(c->tiers.v[t].pool == n->pool && c->tiers.v[t].gpus == n->gpu_count &&
                 c->tiers.v[t].gpu_memory_mib == n->gpu_memory_mib))
            t += 2;
        if (t == c->tiers.n) {
            for (uint8_t st = 0; st < 2; st++) {
                tier nt = {n->pool, n->gpu_count, n->gpu_memory_mib, st,
                           gf_xmalloc(N_BUCKETS * N_LEVELS * sizeof(uint32_t))};
                for (size_t b = 0; b < N_BUCKETS * N_LEVELS; b++)
                    nt.head[b] = GF_NONE;
                gf_vec_push(&c->tiers, nt);
            }
        }
        c->tier_of[i] = (uint32_t)t + c->stay[i];
    }
    size_t np = m->pools.n;
    c->cpu_head = gf_xmalloc((np * 2 * N_BUCKETS * N_CPU + 1) * sizeof(uint32_t));
    for (size_t b = 0; b < np * 2 * N_BUCKETS * N_CPU; b++)
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
    /* link in reverse so each bucket lists its nodes in index order */
    for (size_t i = nn; i-- > 0;) {
        if (!c->indexed[i]) continue;
        if (c->tier_of[i] != GF_NONE) link_at(c, (uint32_t)i, slot_for(c, (uint32_t)i));
        cpu_link(c, (uint32_t)i);
    }
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
 * GPUs over the node's (need) and one GPU with a free fraction of at least
 * its share (level); its score is at least (ratio - need), as
 * gf_pack_score_bound() says. Buckets are walked from the need upwards,
 * skipping levels below the pod's, and a tier stops at the first bucket
 * whose lower edge cannot beat the best found: the same answer as scanning
 * every node, with most nodes never looked at. want_stay: tiers of nodes
 * that stay (1), of candidates (0), both (-1). */
static void best_binpack(ctx *c, const gf_pod *p, size_t pool, const uint8_t *allowed,
                         int want_stay, bool *found, gf_placement *out)
{
    for (size_t t = 0; t < c->tiers.n; t++) {
        const tier *tr = &c->tiers.v[t];
        if (tr->pool != pool || (want_stay >= 0 && tr->stay != want_stay)) continue;
        double share = 1.0;
        uint32_t want = p->gpu_whole;
        if (p->share != GF_SHARE_NONE) {
            want = p->gpu_devices ? p->gpu_devices : 1;
            share = gf_pod_share_on(p, tr->gpu_memory_mib); /* the tier's nodes' GPUs */
        }
        if (want > tr->gpus) continue;
        double need = share > 0 ? share * want / tr->gpus : 0;
        uint32_t l0 = share > 0 ? level_of(share - GF_PACK_EPS) : 0;
        uint32_t b0 = need > 1e-9 ? (uint32_t)((need - 1e-9) * N_BUCKETS) : 0;
        for (uint32_t b = b0 < N_BUCKETS ? b0 : N_BUCKETS - 1; b < N_BUCKETS; b++) {
            double lo = (double)b / N_BUCKETS;
            if (*found && share > 0 && lo - need - 1e-9 > out->score + 1e-12) break;
            for (uint32_t l = l0; l < N_LEVELS; l++)
                for (uint32_t node = tr->head[b * N_LEVELS + l]; node != GF_NONE;
                     node = c->next[node])
                    consider(c, p, allowed, node, found, out);
        }
    }
}

/* Binpack for a CPU-only pod: its score is the node's free CPU ratio after
 * it, at least (ratio - cpu / the pool's smallest node); a node needs a
 * ratio of at least cpu / the pool's largest node and a CPU class of at
 * least the pod's. Walked like best_binpack(). */
static void best_binpack_cpu(ctx *c, const gf_pod *p, size_t pool, const uint8_t *allowed,
                             int want_stay, bool *found, gf_placement *out)
{
    if (c->pool_cpu_min[pool] <= 0) { /* a node without CPU: no bound, scan the pool */
        for (uint32_t i = 0; i < c->pool_len[pool]; i++) {
            uint32_t node = c->pool_nodes[pool][i];
            if (want_stay < 0 || c->stay[node] == want_stay)
                consider(c, p, allowed, node, found, out);
        }
        return;
    }
    double need_lo = (double)p->cpu_milli / (double)c->pool_cpu_max[pool];
    double need_hi = (double)p->cpu_milli / (double)c->pool_cpu_min[pool];
    uint32_t b0 = need_lo > 1e-9 ? (uint32_t)((need_lo - 1e-9) * N_BUCKETS) : 0;
    uint32_t k0 = cpu_class(p->cpu_milli);
    for (uint32_t b = b0 < N_BUCKETS ? b0 : N_BUCKETS - 1; b < N_BUCKETS; b++) {
        double lo = (double)b / N_BUCKETS;
        if (*found && lo - need_hi - 1e-9 > out->score + 1e-12) break;
        for (int st = 0; st < 2; st++) {
            if (want_stay >= 0 && st != want_stay) continue;
            const uint32_t *head = &c->cpu_head[(pool * 2 + (size_t)st) * N_BUCKETS * N_CPU];
            for (uint32_t k = k0; k < N_CPU; k++)
                for (uint32_t node = head[b * N_CPU + k]; node != GF_NONE; node = c->cnext[node])
                    consider(c, p, allowed, node, found, out);
        }
    }
}

/* Best node among those with stay == want_stay (-1: all). */
static bool best_among(ctx *c, const gf_pod *p, size_t pool, int want_stay, gf_placement *out)
{
    bool found = false;
    const uint8_t *allowed = allowed_row(c, p, pool);
    if (c->o->scorer == GF_SCORE_BINPACK) {
        if (p->gpu_whole || p->share != GF_SHARE_NONE)
            best_binpack(c, p, pool, allowed, want_stay, &found, out);
        else
            best_binpack_cpu(c, p, pool, allowed, want_stay, &found, out);
        return found;
    }
    for (uint32_t i = 0; i < c->pool_len[pool]; i++) {
        uint32_t node = c->pool_nodes[pool][i];
        if (want_stay < 0 || c->stay[node] == want_stay) consider(c, p, allowed, node, &found, out);
    }
    return found;
}

/* The answer of a scan of every node of the model with the full fit, for
 * check_index. */
static bool scan_among(ctx *c, const gf_pod *p, int want_stay, gf_placement *out)
{
    bool found = false;
    for (uint32_t n = 0; n < c->m->nodes.n; n++) {
        if (c->skip[n] || (want_stay >= 0 && c->stay[n] != want_stay)) continue;
        gf_placement cur;
        if (!gf_pack_fit_node(c->s, p, n, c->o->scorer, &cur, NULL)) continue;
        if (!found || better(&cur, out)) {
            *out = cur;
            found = true;
        }
    }
    return found;
}

static bool scan_best(ctx *c, const gf_pod *p, gf_placement *out)
{
    if (c->o->legacy_greedy) return scan_among(c, p, -1, out);
    return scan_among(c, p, 1, out) || scan_among(c, p, 0, out);
}

static void check_answer(ctx *c, const gf_pod *p, bool fits, const gf_placement *pl)
{
    if (!c->o->check_index) return;
    gf_placement want;
    bool ok = scan_best(c, p, &want);
    if (ok != fits || (ok && (want.node != pl->node || fabs(want.score - pl->score) > 1e-9)))
        c->mismatches++;
}

/* Where the pod goes: the best node that stays, else the best candidate
 * still to try (legacy_greedy: the best of all). */
static bool best_in_pool(ctx *c, const gf_pod *p, gf_placement *out)
{
    c->attempts++;
    size_t pool;
    bool fits = false;
    if (pod_pool(c, p, &pool)) {
        if (c->o->legacy_greedy)
            fits = best_among(c, p, pool, -1, out);
        else
            fits = best_among(c, p, pool, 1, out) || best_among(c, p, pool, 0, out);
    }
    check_answer(c, p, fits, out);
    return fits;
}

/* --- one greedy pass ------------------------------------------------------------ */

static void recv_link(ctx *c, uint32_t mi)
{
    uint32_t node = c->work.v[mi].to.node;
    c->rprev[mi] = GF_NONE;
    c->rnext[mi] = c->rhead[node];
    if (c->rhead[node] != GF_NONE) c->rprev[c->rhead[node]] = mi;
    c->rhead[node] = mi;
}

static void recv_unlink(ctx *c, uint32_t mi)
{
    uint32_t node = c->work.v[mi].to.node;
    if (c->rprev[mi] != GF_NONE)
        c->rnext[c->rprev[mi]] = c->rnext[mi];
    else
        c->rhead[node] = c->rnext[mi];
    if (c->rnext[mi] != GF_NONE) c->rprev[c->rnext[mi]] = c->rprev[mi];
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

/* PDBs and the per-workload limit allow moving the pod (for the first time)? */
static const char *limit_refuses(const ctx *c, uint32_t pod)
{
    const gf_pod *p = &c->m->pods.v[pod];
    if (p->workload != GF_NONE && c->o->max_moves_per_workload &&
        c->moves_of_workload[p->workload] + 1 > c->o->max_moves_per_workload)
        return "the workload's move limit would be exceeded";
    if (c->np_cap[pod] && c->moves_of_workload[p->workload] + 1 > c->np_cap[pod])
        return GF_GOV_NP_LAST;
    for (uint32_t k = c->pod_pdb_off[pod]; k < c->pod_pdb_off[pod + 1]; k++)
        if (c->pdb_left[c->pod_pdb[k]] <= 0)
            return "a PodDisruptionBudget allows no more disruptions";
    return NULL;
}

static void count_move(ctx *c, uint32_t pod, int sign)
{
    const gf_pod *p = &c->m->pods.v[pod];
    if (p->workload != GF_NONE) c->moves_of_workload[p->workload] += (uint32_t)sign;
    for (uint32_t k = c->pod_pdb_off[pod]; k < c->pod_pdb_off[pod + 1]; k++)
        c->pdb_left[c->pod_pdb[k]] -= sign;
}

/* Tries to drain one node: its own movable pods and the pods moved onto it
 * earlier in this pass are re-placed on the nodes left. On failure
 * everything is rolled back and *v says why. */
static bool try_drain(ctx *c, uint32_t node, gf_node_verdict *v)
{
    const gf_model *m = c->m;
    GF_VEC(keyed) order = {0};
    c->stamp++;
    for (uint32_t i = c->node_pod_start[node]; i < c->node_pod_start[node + 1]; i++) {
        uint32_t pod = c->node_pods[i];
        /* a gang's pod moved off earlier in this pass is listed where it is now */
        if (c->role[pod] == ROLE_MOVE && c->move_of[pod] == GF_NONE) {
            keyed k = {gpu_demand(m, &m->pods.v[pod]), pod};
            gf_vec_push(&order, k);
            c->mark[pod] = c->stamp;
        }
    }
    for (uint32_t mi = c->rhead[node]; mi != GF_NONE; mi = c->rnext[mi]) {
        keyed k = {gpu_demand(m, &m->pods.v[c->work.v[mi].pod]), c->work.v[mi].pod};
        gf_vec_push(&order, k);
        c->mark[c->work.v[mi].pod] = c->stamp;
    }
    /* a gang moves whole: its pods on other nodes are re-placed in this
     * attempt too (a gang that moved already moved whole) */
    bool mates = false;
    for (size_t i = 0; c->gang_start && i < order.n; i++) {
        uint32_t pod = order.v[i].pod, g = m->pods.v[pod].gov.podgroup;
        if (c->move_of[pod] != GF_NONE || g >= m->podgroups.n) continue;
        for (uint32_t k = c->gang_start[g]; k < c->gang_start[g + 1]; k++) {
            uint32_t mate = c->gang_pods[k];
            if (c->mark[mate] == c->stamp || c->move_of[mate] != GF_NONE) continue;
            c->mark[mate] = c->stamp;
            keyed km = {gpu_demand(m, &m->pods.v[mate]), mate};
            gf_vec_push(&order, km);
            mates = true;
        }
    }
    if (order.n) qsort(order.v, order.n, sizeof(keyed), cmp_keyed);
    size_t n = order.n;
    /* per pod: where it was (to restore), where it goes */
    gf_placement *was = gf_xmalloc((n + 1) * sizeof *was);
    gf_placement *to = gf_xmalloc((n + 1) * sizeof *to);
    c->skip[node] = true;
    for (size_t i = 0; i < n; i++) {
        was[i] = now_at(c, order.v[i].pod);
        gf_pack_remove(c->s, &m->pods.v[order.v[i].pod], &was[i]);
        if (was[i].node != node) touch(c, was[i].node); /* a gang's mate */
    }
    touch(c, node);
    size_t placed = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        uint32_t pod = order.v[i].pod;
        const gf_pod *p = &m->pods.v[pod];
        v->pod = pod;
        const char *refused = c->move_of[pod] == GF_NONE ? limit_refuses(c, pod) : NULL;
        if (refused) {
            v->reason = refused;
            ok = false;
            break;
        }
        size_t only = GF_NONE, pool;
        bool fits;
        /* nothing of this attempt placed yet: see nofit (not while a gang's
         * mates have given back capacity elsewhere) */
        if (i == 0 && !mates && pod_pool(c, p, &pool)) {
            const char *memo = request_key(c, p, pool);
            if (gf_strmap_get(&c->nofit, memo, &only)) {
                fits = false;
                if (!c->skip[only] && c->m->nodes.v[only].pool == pool)
                    consider(c, p, allowed_row(c, p, pool), (uint32_t)only, &fits, &to[i]);
                check_answer(c, p, fits, &to[i]);
            } else {
                fits = best_in_pool(c, p, &to[i]);
                if (!fits) gf_strmap_put(&c->nofit, gf_arena_strdup(&c->sig_keys, memo), node);
            }
        } else {
            fits = best_in_pool(c, p, &to[i]);
        }
        if (!fits) {
            v->reason = "a pod fits on no other node of its pool";
            ok = false;
            break;
        }
        gf_pack_apply(c->s, p, &to[i]);
        touch(c, to[i].node);
        placed++;
        if (c->move_of[pod] == GF_NONE) count_move(c, pod, 1);
    }
    if (!ok) { /* give back what was placed, retake what was there */
        for (size_t i = placed; i-- > 0;) {
            uint32_t pod = order.v[i].pod;
            gf_pack_remove(c->s, &m->pods.v[pod], &to[i]);
            touch(c, to[i].node);
            if (c->move_of[pod] == GF_NONE) count_move(c, pod, -1);
        }
        for (size_t i = 0; i < n; i++) {
            gf_pack_apply(c->s, &m->pods.v[order.v[i].pod], &was[i]);
            if (was[i].node != node) touch(c, was[i].node);
        }
        touch(c, node);
        c->skip[node] = false;
    } else {
        for (size_t i = 0; i < n; i++) {
            uint32_t pod = order.v[i].pod;
            gf_move step = {pod, was[i].node, to[i]};
            gf_vec_push(&c->steps, step);
            uint32_t mi = c->move_of[pod];
            if (mi == GF_NONE) {
                gf_move mv = {pod, was[i].node, to[i]};
                mi = (uint32_t)c->work.n;
                gf_vec_push(&c->work, mv);
                gf_vec_push(&c->cause, node);
                c->move_of[pod] = mi;
            } else {
                recv_unlink(c, mi);
                c->work.v[mi].to = to[i];
            }
            recv_link(c, mi);
            if (c->received) c->received[to[i].node] = true;
        }
        gf_vec_push(&c->drained, node);
        unindex(c, node);
    }
    free(was);
    free(to);
    gf_vec_free(&order);
    return ok;
}

/* Back to the snapshot's allocation, nothing drained. */
static void reset(ctx *c)
{
    const gf_model *m = c->m;
    size_t nn = m->nodes.n;
    memcpy(c->s->free_cpu_milli, c->s0->free_cpu_milli, (nn + 1) * sizeof(int64_t));
    memcpy(c->s->free_memory_bytes, c->s0->free_memory_bytes, (nn + 1) * sizeof(int64_t));
    memcpy(c->s->gpu_free, c->s0->gpu_free, (m->gpus.n + 1) * sizeof(double));
    memcpy(c->s->node_gpu_free, c->s0->node_gpu_free, (nn + 1) * sizeof(double));
    if (c->s->node_frag) memcpy(c->s->node_frag, c->s0->node_frag, (nn + 1) * sizeof(double));
    for (size_t i = 0; i < nn; i++) {
        c->skip[i] = false;
        c->stay[i] = !c->is_cand[i] || c->o->legacy_greedy;
        c->rhead[i] = GF_NONE;
        if (c->received) c->received[i] = false;
    }
    for (size_t i = 0; i < c->work.n; i++)
        c->move_of[c->work.v[i].pod] = GF_NONE;
    c->work.n = 0;
    c->cause.n = 0;
    c->steps.n = 0;
    c->drained.n = 0;
    c->verdicts.n = 0;
    memset(c->moves_of_workload, 0, (m->workloads.n + 1) * sizeof(uint32_t));
    for (size_t b = 0; b < m->pdbs.n; b++)
        c->pdb_left[b] = m->pdbs.v[b].disruptions_allowed;
    gf_strmap_free(&c->nofit);
    gf_strmap_init(&c->nofit);
    if (c->o->scorer == GF_SCORE_BINPACK) {
        index_free(c);
        index_build(c);
    }
}

typedef struct value {
    double objective;
    size_t moves;
} value;

static value pass_value(const ctx *c)
{
    value v = {0, c->work.n};
    for (size_t i = 0; i < c->drained.n; i++) {
        const gf_node *n = &c->m->nodes.v[c->drained.v[i]];
        v.objective += c->o->objective == GF_OBJ_NODES  ? 1
                       : c->o->objective == GF_OBJ_GPUS ? n->gpu_count
                                                        : node_saving(c, n);
    }
    return v;
}

static bool value_better(value a, value b)
{
    if (a.objective > b.objective + 1e-9) return true;
    return a.objective >= b.objective - 1e-9 && a.moves < b.moves;
}

/* One greedy pass over the candidates in order, from the snapshot. */
static void run_pass(ctx *c, const uint32_t *order, size_t n)
{
    reset(c);
    for (size_t i = 0; i < n; i++) {
        uint32_t node = order[i];
        gf_node_verdict v = {node, NULL, GF_NONE};
        if (c->o->max_nodes && c->drained.n >= c->o->max_nodes) {
            v.reason = "the plan already drains the maximum number of nodes";
        } else if (c->received && c->received[node]) {
            v.reason = "it receives pods moved earlier in this plan";
        } else if (try_drain(c, node, &v)) {
            continue;
        }
        set_stay(c, node);
        gf_vec_push(&c->verdicts, v);
    }
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Iterated greedy: a few candidates whose drain failed in the best order so
 * far move to its front, the pass reruns; better plans replace the best,
 * equal ones are walked on. Leaves the best pass's plan in c. */
static uint32_t improve(ctx *c, uint32_t *order, size_t n, double t_start)
{
    const gf_consolidate_opts *o = c->o;
    if (o->legacy_greedy || !o->max_rounds || n < 2) return 0;
    value best = pass_value(c);
    uint32_t *best_order = gf_xmalloc(n * sizeof(uint32_t));
    uint32_t *cur = gf_xmalloc(n * sizeof(uint32_t));
    uint32_t *failed = gf_xmalloc(n * sizeof(uint32_t));
    bool *front = gf_xcalloc(c->m->nodes.n + 1, sizeof(bool));
    memcpy(best_order, order, n * sizeof(uint32_t));
    memcpy(cur, order, n * sizeof(uint32_t));
    gf_rng rng;
    gf_rng_seed(&rng, o->seed);
    uint64_t attempts0 = c->attempts;
    uint32_t rounds = 0;
    bool last_is_best = true;
    size_t nfailed = 0;
    for (size_t i = 0; i < c->verdicts.n; i++)
        if (c->verdicts.v[i].pod != GF_NONE) failed[nfailed++] = c->verdicts.v[i].node;
    while (rounds < o->max_rounds && nfailed > 0) {
        /* a rerun costs about what the first pass did (attempts0): start it
         * only while reruns so far plus one more stay within the limit */
        if (o->max_attempts && (c->attempts - attempts0) + attempts0 > o->max_attempts) break;
        if (o->budget_s > 0 && mono_s() - t_start >= o->budget_s) break;
        rounds++;
        /* perturb: k failed candidates to the front, in random order */
        size_t k = 1 + (size_t)gf_rng_below(&rng, nfailed < 3 ? nfailed : 3);
        uint32_t *trial = order; /* reuse the caller's buffer */
        size_t t = 0;
        for (size_t j = 0; j < k; j++) {
            uint32_t pick = failed[gf_rng_below(&rng, nfailed)];
            if (front[pick]) continue;
            front[pick] = true;
            trial[t++] = pick;
        }
        for (size_t j = 0; j < n; j++)
            if (!front[cur[j]]) trial[t++] = cur[j];
        for (size_t j = 0; j < n; j++)
            front[trial[j]] = false;
        run_pass(c, trial, n);
        value v = pass_value(c);
        last_is_best = false;
        if (value_better(v, best) || v.objective >= best.objective - 1e-9) {
            memcpy(cur, trial, n * sizeof(uint32_t));
            nfailed = 0;
            for (size_t i = 0; i < c->verdicts.n; i++)
                if (c->verdicts.v[i].pod != GF_NONE) failed[nfailed++] = c->verdicts.v[i].node;
            if (value_better(v, best)) {
                best = v;
                memcpy(best_order, trial, n * sizeof(uint32_t));
                last_is_best = true;
            }
        }
    }
    if (!last_is_best) run_pass(c, best_order, n);
    memcpy(order, best_order, n * sizeof(uint32_t));
    free(best_order);
    free(cur);
    free(failed);
    free(front);
    return rounds;
}

/* --- bound ------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Most of the candidates that can leave while spare (capacity - need) stays
 * >= 0: the smallest first. Sorts caps. */
static uint32_t most_that_leave(int64_t *caps, size_t n, int64_t spare)
{
    if (n) qsort(caps, n, sizeof *caps, cmp_i64);
    uint32_t k = 0;
    for (size_t i = 0; i < n && caps[i] <= spare; i++) {
        spare -= caps[i];
        k++;
    }
    return k;
}

/* Per pool: every pod that stays in the pool (pinned or moved) needs its
 * GPU, CPU and memory on the nodes that stay; whole GPUs and shares above
 * one half each need a GPU of their own. */
static void pool_bound(ctx *c, uint32_t pool, gf_pool_bound *b)
{
    const gf_model *m = c->m;
    int64_t gpu_cap = 0, cpu_cap = 0, mem_cap = 0, cpu_need = 0, mem_need = 0;
    double share_sum = 0;
    int64_t own_gpus = 0; /* whole GPUs and shares > 1/2 */
    int64_t max_mem = 0;
    for (uint32_t i = 0; i < c->pool_len[pool]; i++) {
        const gf_node *n = &m->nodes.v[c->pool_nodes[pool][i]];
        if (n->gpu_memory_mib > max_mem) max_mem = n->gpu_memory_mib;
    }
    GF_VEC(int64_t) gpus = {0};
    GF_VEC(int64_t) cpus = {0};
    GF_VEC(int64_t) mems = {0};
    for (uint32_t i = 0; i < c->pool_len[pool]; i++) {
        uint32_t node = c->pool_nodes[pool][i];
        const gf_node *n = &m->nodes.v[node];
        gpu_cap += n->gpu_count;
        cpu_cap += n->cpu_milli;
        mem_cap += n->memory_bytes;
        if (c->is_cand[node]) {
            gf_vec_push(&gpus, (int64_t)n->gpu_count);
            gf_vec_push(&cpus, n->cpu_milli);
            gf_vec_push(&mems, n->memory_bytes);
        }
        for (uint32_t k = c->node_pod_start[node]; k < c->node_pod_start[node + 1]; k++) {
            const gf_pod *p = &m->pods.v[c->node_pods[k]];
            if (c->role[c->node_pods[k]] == ROLE_IGNORE) continue;
            cpu_need += p->cpu_milli;
            mem_need += p->memory_bytes;
            if (p->gpu_whole) {
                own_gpus += p->gpu_whole;
                share_sum += p->gpu_whole;
            } else if (p->share != GF_SHARE_NONE) {
                /* the smallest share it can take in this pool: on its largest GPUs */
                double s = gf_pod_share_on(p, max_mem);
                if (p->share == GF_SHARE_FRACTION) s = p->gpu_fraction;
                uint32_t dev = p->gpu_devices ? p->gpu_devices : 1;
                share_sum += s * dev;
                if (s > 0.5 + GF_PACK_EPS) own_gpus += dev;
            }
        }
    }
    int64_t gpu_need = (int64_t)ceil(share_sum - 1e-6);
    if (own_gpus > gpu_need) gpu_need = own_gpus;
    b->candidates = (uint32_t)gpus.n;
    uint32_t k = (uint32_t)gpus.n;
    uint32_t kg = most_that_leave(gpus.v, gpus.n, gpu_cap - gpu_need);
    uint32_t kc = most_that_leave(cpus.v, cpus.n, cpu_cap - cpu_need);
    uint32_t km = most_that_leave(mems.v, mems.n, mem_cap - mem_need);
    if (kg < k) k = kg;
    if (kc < k) k = kc;
    if (km < k) k = km;
    if (c->o->max_nodes && c->o->max_nodes < k) k = c->o->max_nodes;
    b->bound = k;
    /* GPUs: at most the spare GPUs, and at most the k largest candidates' */
    int64_t g = 0;
    for (size_t i = gpus.n; i-- > 0 && gpus.n - i <= k;)
        g += gpus.v[i];
    if (gpu_cap - gpu_need < g) g = gpu_cap - gpu_need;
    b->gpus_bound = g > 0 ? (uint32_t)g : 0;
    gf_vec_free(&gpus);
    gf_vec_free(&cpus);
    gf_vec_free(&mems);
}

/* --- exact search ------------------------------------------------------------ */

/* Most movable pods in a pool for the exact search: its recursion is one
 * frame (about 1 KiB) per pod. */
#define EXACT_MAX_PODS 2000

typedef GF_VEC(gf_move) move_vec;

typedef struct exact {
    ctx *c;
    uint32_t pool;
    gf_pack_state *s; /* own capacity: the snapshot's, minus what a check moves */
    const uint32_t *nodes;
    size_t n_nodes;
    bool *out;                    /* per node: in the set being checked */
    GF_VEC(uint32_t) pods;        /* to place, largest first */
    GF_VEC(uint8_t) same_as_prev; /* pods[i] asks exactly what pods[i - 1] asks */
    GF_VEC(gf_placement) assign;  /* per pods[i] */
    uint32_t *wl_used, *pdb_used; /* per workload / PDB: moves in the set */
    uint64_t steps, max_steps;
    bool aborted;
} exact;

static void exact_restore(exact *x)
{
    const gf_model *m = x->c->m;
    const gf_pack_state *s0 = x->c->s0;
    for (size_t i = 0; i < x->n_nodes; i++) {
        uint32_t node = x->nodes[i];
        const gf_node *n = &m->nodes.v[node];
        x->s->free_cpu_milli[node] = s0->free_cpu_milli[node];
        x->s->free_memory_bytes[node] = s0->free_memory_bytes[node];
        x->s->node_gpu_free[node] = s0->node_gpu_free[node];
        for (uint32_t g = 0; g < n->gpu_count; g++)
            x->s->gpu_free[n->first_gpu + g] = s0->gpu_free[n->first_gpu + g];
    }
}

static bool same_request(const ctx *c, const gf_pod *a, const gf_pod *b)
{
    return c->pod_sig[a - c->m->pods.v] == c->pod_sig[b - c->m->pods.v] &&
           a->cpu_milli == b->cpu_milli && a->memory_bytes == b->memory_bytes &&
           a->gpu_whole == b->gpu_whole && a->share == b->share &&
           a->gpu_fraction == b->gpu_fraction && a->gpu_memory_mib == b->gpu_memory_mib &&
           a->gpu_devices == b->gpu_devices;
}

static bool exact_place(exact *x, size_t i);

/* Chooses k more GPUs from free[start..] for pod i on pl->node; GPUs with
 * equal free fractions are interchangeable, so each multiset once. */
static bool exact_choose(exact *x, size_t i, gf_placement *pl, const gf_placement *gpus,
                         uint32_t start, uint32_t k)
{
    const gf_pod *p = &x->c->m->pods.v[x->pods.v[i]];
    if (k == 0) {
        gf_pack_apply(x->s, p, pl);
        x->assign.v[i] = *pl;
        if (exact_place(x, i + 1)) return true;
        gf_pack_remove(x->s, p, pl);
        return false;
    }
    for (uint32_t j = start; j + k <= gpus->n_gpus; j++) {
        if (j > start && x->s->gpu_free[gpus->gpus[j]] == x->s->gpu_free[gpus->gpus[j - 1]])
            continue;
        pl->gpus[pl->n_gpus++] = gpus->gpus[j];
        bool ok = exact_choose(x, i, pl, gpus, j + 1, k - 1);
        pl->n_gpus--;
        if (ok) return true;
        if (x->aborted) return false;
    }
    return false;
}

/* GPUs by free fraction, fullest first (a node has few: insertion sort) */
static void sort_by_free(uint32_t *gpus, uint32_t n, const double *free_)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t g = gpus[i], j = i;
        for (; j > 0 && free_[gpus[j - 1]] > free_[g]; j--)
            gpus[j] = gpus[j - 1];
        gpus[j] = g;
    }
}

/* Places pods[i..] on the nodes not in the set, every way there is. */
static bool exact_place(exact *x, size_t i)
{
    if (i == x->pods.n) return true;
    if (++x->steps > x->max_steps) {
        x->aborted = true;
        return false;
    }
    ctx *c = x->c;
    const gf_model *m = c->m;
    const gf_pod *p = &m->pods.v[x->pods.v[i]];
    const uint8_t *allowed = allowed_row(c, p, x->pool);
    size_t j0 = 0;
    if (i && x->same_as_prev.v[i]) /* identical pods go to nodes in order */
        j0 = c->slot_of[x->assign.v[i - 1].node];
    for (size_t j = j0; j < x->n_nodes; j++) {
        uint32_t node = x->nodes[j];
        if (x->out[node] || p->cpu_milli > x->s->free_cpu_milli[node] ||
            p->memory_bytes > x->s->free_memory_bytes[node])
            continue;
        uint8_t *a = (uint8_t *)&allowed[c->slot_of[node]];
        if (!*a) *a = gf_pack_node_allowed(m, p, node, NULL) ? 1 : 2;
        if (*a != 1) continue;
        gf_placement pl = {0};
        pl.node = node;
        if (!p->gpu_whole && p->share == GF_SHARE_NONE) {
            gf_pack_apply(x->s, p, &pl);
            x->assign.v[i] = pl;
            if (exact_place(x, i + 1)) return true;
            gf_pack_remove(x->s, p, &pl);
            if (x->aborted) return false;
            continue;
        }
        const gf_node *n = &m->nodes.v[node];
        double share = 1.0;
        uint32_t want = p->gpu_whole;
        if (p->share != GF_SHARE_NONE) {
            share = gf_pod_share_on(p, n->gpu_memory_mib);
            want = p->gpu_devices ? p->gpu_devices : 1;
            if (share <= 0 || share > 1.0 + GF_PACK_EPS) continue;
        }
        gf_placement fit = {0};
        for (uint32_t g = 0; g < n->gpu_count && fit.n_gpus < GF_PACK_MAX_DEVICES; g++)
            if (x->s->gpu_free[n->first_gpu + g] + GF_PACK_EPS >= share)
                fit.gpus[fit.n_gpus++] = n->first_gpu + g;
        if (fit.n_gpus < want || want > GF_PACK_MAX_DEVICES) continue;
        sort_by_free(fit.gpus, fit.n_gpus, x->s->gpu_free);
        pl.share = share;
        if (exact_choose(x, i, &pl, &fit, 0, want)) return true;
        if (x->aborted) return false;
    }
    return false;
}

/* Can every movable pod of the nodes with out[node] be re-placed? Fills
 * x->assign when it can. False also when the step limit ran out (then
 * x->aborted). */
static bool exact_feasible(exact *x)
{
    ctx *c = x->c;
    const gf_model *m = c->m;
    x->pods.n = 0;
    x->same_as_prev.n = 0;
    bool ok = true;
    GF_VEC(keyed) order = {0};
    for (size_t j = 0; j < x->n_nodes; j++) {
        uint32_t node = x->nodes[j];
        if (!x->out[node]) continue;
        for (uint32_t k = c->node_pod_start[node]; k < c->node_pod_start[node + 1]; k++) {
            const gf_pod *p = &m->pods.v[c->node_pods[k]];
            if (c->role[c->node_pods[k]] != ROLE_MOVE) continue;
            keyed kd = {gpu_demand(m, p), c->node_pods[k]};
            gf_vec_push(&order, kd);
        }
    }
    /* disruption limits depend on the set alone */
    for (size_t i = 0; i < order.n; i++) {
        const gf_pod *p = &m->pods.v[order.v[i].pod];
        if (p->workload != GF_NONE &&
            ++x->wl_used[p->workload] >
                (c->o->max_moves_per_workload ? c->o->max_moves_per_workload : UINT32_MAX))
            ok = false;
        if (c->np_cap[order.v[i].pod] && x->wl_used[p->workload] > c->np_cap[order.v[i].pod])
            ok = false;
        for (uint32_t k = c->pod_pdb_off[order.v[i].pod]; k < c->pod_pdb_off[order.v[i].pod + 1];
             k++)
            if ((int32_t)++x->pdb_used[c->pod_pdb[k]] >
                m->pdbs.v[c->pod_pdb[k]].disruptions_allowed)
                ok = false;
    }
    for (size_t i = 0; i < order.n; i++) {
        const gf_pod *p = &m->pods.v[order.v[i].pod];
        if (p->workload != GF_NONE) x->wl_used[p->workload] = 0;
        for (uint32_t k = c->pod_pdb_off[order.v[i].pod]; k < c->pod_pdb_off[order.v[i].pod + 1];
             k++)
            x->pdb_used[c->pod_pdb[k]] = 0;
    }
    if (order.n) qsort(order.v, order.n, sizeof(keyed), cmp_keyed);
    for (size_t i = 0; i < order.n && ok; i++) {
        const gf_pod *p = &m->pods.v[order.v[i].pod];
        (void)allowed_row(c, p, x->pool); /* assigns pod_sig */
        gf_vec_push(&x->pods, order.v[i].pod);
        uint8_t same = i > 0 && same_request(c, p, &m->pods.v[order.v[i - 1].pod]);
        gf_vec_push(&x->same_as_prev, same);
    }
    gf_vec_free(&order);
    if (!ok) return false;
    gf_vec_reserve(&x->assign, x->pods.n + 1);
    x->assign.n = x->pods.n;
    exact_restore(x);
    for (size_t i = 0; i < x->pods.n; i++) {
        gf_placement pl = original(c, &m->pods.v[x->pods.v[i]]);
        gf_pack_remove(x->s, &m->pods.v[x->pods.v[i]], &pl);
    }
    /* quick refusal: the summed demand must fit the summed free capacity */
    double gpu_need = 0, gpu_free = 0;
    int64_t cpu_need = 0, cpu_free = 0, mem_need = 0, mem_free = 0;
    for (size_t i = 0; i < x->pods.n; i++) {
        const gf_pod *p = &m->pods.v[x->pods.v[i]];
        cpu_need += p->cpu_milli;
        mem_need += p->memory_bytes;
        if (p->gpu_whole)
            gpu_need += p->gpu_whole;
        else if (p->share == GF_SHARE_FRACTION)
            gpu_need += p->gpu_fraction * (p->gpu_devices ? p->gpu_devices : 1);
    }
    for (size_t j = 0; j < x->n_nodes; j++) {
        uint32_t node = x->nodes[j];
        if (x->out[node] || m->nodes.v[node].unschedulable) continue;
        cpu_free += x->s->free_cpu_milli[node];
        mem_free += x->s->free_memory_bytes[node];
        gpu_free += x->s->node_gpu_free[node];
    }
    if (cpu_need > cpu_free || mem_need > mem_free || gpu_need > gpu_free + 1e-6) return false;
    return exact_place(x, 0);
}

typedef struct exact_set {
    const uint32_t *cands;
    const double *weight;
    size_t n;
    double bound; /* the pool's bound in objective units */
    double best;
    bool *cur, *best_set; /* per cands index */
    bool better;          /* best_set beats the greedy plan */
    uint32_t count, cap;  /* nodes in cur; most it may hold (0 = no limit) */
} exact_set;

/* Branch and bound over the candidates: take cands[k] or not. */
static void exact_bb(exact *x, exact_set *e, size_t k, double val, const double *suffix)
{
    if (x->aborted) return;
    double hi = val + suffix[k];
    if (hi > e->bound) hi = e->bound;
    if (hi <= e->best + 1e-9 || k == e->n) return;
    uint32_t node = e->cands[k];
    if (!e->cap || e->count < e->cap) {
        x->out[node] = true;
        e->cur[k] = true;
        if (exact_feasible(x)) {
            e->count++;
            if (val + e->weight[k] > e->best + 1e-9) {
                e->best = val + e->weight[k];
                memcpy(e->best_set, e->cur, e->n * sizeof(bool));
                e->better = true;
            }
            exact_bb(x, e, k + 1, val + e->weight[k], suffix);
            e->count--;
        }
        x->out[node] = false;
        e->cur[k] = false;
    }
    exact_bb(x, e, k + 1, val, suffix);
}

/* Runs the exact search on one pool; when it finds a better set than the
 * greedy plan's, *moves and *set get it (caller frees). Returns true when
 * the search completed (the result is optimal). */
static bool exact_pool(ctx *c, uint32_t pool, const cand *cands, size_t n, double greedy_value,
                       double bound, uint32_t cap, bool *found_better, move_vec *moves,
                       bool *set_out)
{
    const gf_model *m = c->m;
    exact x = {0};
    x.c = c;
    x.pool = pool;
    x.s = gf_pack_state_new(m);
    x.nodes = c->pool_nodes[pool];
    x.n_nodes = c->pool_len[pool];
    x.out = gf_xcalloc(m->nodes.n + 1, sizeof(bool));
    x.wl_used = gf_xcalloc(m->workloads.n + 1, sizeof(uint32_t));
    x.pdb_used = gf_xcalloc(m->pdbs.n + 1, sizeof(uint32_t));
    x.max_steps = c->o->exact_max_steps;
    uint32_t *ids = gf_xmalloc((n + 1) * sizeof(uint32_t));
    double *w = gf_xmalloc((n + 1) * sizeof(double));
    double *suffix = gf_xcalloc(n + 2, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        ids[i] = cands[i].node;
        w[i] = c->o->objective == GF_OBJ_NODES  ? 1
               : c->o->objective == GF_OBJ_GPUS ? cands[i].gpus
                                                : cands[i].saving;
    }
    for (size_t i = n; i-- > 0;)
        suffix[i] = suffix[i + 1] + w[i];
    exact_set e = {ids,
                   w,
                   n,
                   bound,
                   greedy_value,
                   gf_xcalloc(n + 1, sizeof(bool)),
                   gf_xcalloc(n + 1, sizeof(bool)),
                   false,
                   0,
                   cap};
    exact_bb(&x, &e, 0, 0, suffix);
    bool complete = !x.aborted;
    *found_better = e.better;
    if (e.better) {
        x.aborted = false;
        x.max_steps = UINT64_MAX; /* this set was found feasible: the search ends */
        x.steps = 0;
        for (size_t i = 0; i < n; i++) {
            x.out[ids[i]] = e.best_set[i];
            set_out[ids[i]] = e.best_set[i];
        }
        bool ok = exact_feasible(&x);
        for (size_t i = 0; ok && i < x.pods.n; i++) {
            gf_move mv = {x.pods.v[i], m->pods.v[x.pods.v[i]].node, x.assign.v[i]};
            gf_vec_push(moves, mv);
        }
        if (!ok) *found_better = false;
    }
    free(e.cur);
    free(e.best_set);
    free(ids);
    free(w);
    free(suffix);
    free(x.out);
    free(x.wl_used);
    free(x.pdb_used);
    gf_vec_free(&x.pods);
    gf_vec_free(&x.same_as_prev);
    gf_vec_free(&x.assign);
    gf_pack_state_free(x.s);
    return complete;
}

/* --- KAI governance ------------------------------------------------------------ */

/* KAI's rules on top of classify() (decide/govern.h): non-preemptible pods
 * and unknown topologies, then gangs, which one pinned member pins whole.
 * Needs the PDB index. */
static void governance(ctx *c)
{
    const gf_model *m = c->m;
    gf_gov_usage u;
    gf_gov_usage_init(&u, m);
    for (size_t i = 0; i < m->pods.n; i++) {
        if (c->role[i] != ROLE_MOVE) continue;
        bool has_pdb = c->pod_pdb_off[i + 1] > c->pod_pdb_off[i];
        const char *why =
            gf_gov_refuses(m, &u, c->o->move_non_preemptible, (uint32_t)i, has_pdb, &c->np_cap[i]);
        if (why) {
            c->role[i] = ROLE_PIN;
            c->pin_why[i] = why;
        }
    }
    gf_gov_usage_free(&u);
    /* gangs: the active bound pods of each PodGroup with minMember > 1 */
    size_t ng = m->podgroups.n;
    uint32_t *start = gf_xcalloc(ng + 2, sizeof(uint32_t));
    size_t members = 0;
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->gov.gang > 1 && p->gov.podgroup < ng && p->node != GF_NONE && gf_pod_active(p)) {
            start[p->gov.podgroup + 1]++;
            members++;
        }
    }
    if (!members) {
        free(start);
    } else {
        for (size_t g = 0; g < ng; g++)
            start[g + 1] += start[g];
        c->gang_start = start;
        c->gang_pods = gf_xmalloc((members + 1) * sizeof(uint32_t));
        uint32_t *fill = gf_xmalloc((ng + 1) * sizeof(uint32_t));
        memcpy(fill, start, (ng + 1) * sizeof(uint32_t));
        for (size_t i = 0; i < m->pods.n; i++) {
            const gf_pod *p = &m->pods.v[i];
            if (p->gov.gang > 1 && p->gov.podgroup < ng && p->node != GF_NONE && gf_pod_active(p))
                c->gang_pods[fill[p->gov.podgroup]++] = (uint32_t)i;
        }
        free(fill);
        for (size_t g = 0; g < ng; g++) {
            bool pinned = false;
            for (uint32_t k = start[g]; k < start[g + 1]; k++)
                pinned |= c->role[c->gang_pods[k]] != ROLE_MOVE;
            for (uint32_t k = start[g]; k < start[g + 1]; k++) {
                uint32_t pod = c->gang_pods[k];
                if (c->role[pod] != ROLE_MOVE) continue;
                if (pinned) {
                    c->role[pod] = ROLE_PIN;
                    c->pin_why[pod] = GF_GOV_GANG;
                } else {
                    c->gangs = true;
                }
            }
        }
    }
}

/* --- planning ------------------------------------------------------------------ */

static void ctx_build(ctx *c, const gf_model *m, const gf_consolidate_opts *o)
{
    c->m = m;
    c->o = o;
    c->s = gf_pack_state_new(m);
    if (o->scorer == GF_SCORE_FGD) {
        gf_task_class *cls;
        size_t n = gf_pack_classes_from_pods(m, &cls);
        gf_pack_set_classes(c->s, cls, n);
        free(cls);
    }
    c->s0 = gf_pack_state_new(m);
    if (c->s->node_frag) {
        c->s0->node_frag = gf_xmalloc((m->nodes.n + 1) * sizeof(double));
        memcpy(c->s0->node_frag, c->s->node_frag, (m->nodes.n + 1) * sizeof(double));
    }
    size_t nn = m->nodes.n;
    c->node_pod_start = gf_xcalloc(nn + 2, sizeof(uint32_t));
    c->node_pods = gf_xcalloc(m->pods.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++)
        if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
            c->node_pod_start[m->pods.v[i].node + 1]++;
    for (size_t i = 0; i < nn; i++)
        c->node_pod_start[i + 1] += c->node_pod_start[i];
    uint32_t *fill = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    memcpy(fill, c->node_pod_start, (nn + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++)
        if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
            c->node_pods[fill[m->pods.v[i].node]++] = (uint32_t)i;
    free(fill);
    c->role = gf_xcalloc(m->pods.n + 1, 1);
    c->pin_why = gf_xcalloc(m->pods.n + 1, sizeof(const char *));
    c->np_cap = gf_xcalloc(m->pods.n + 1, sizeof(uint32_t));
    c->mark = gf_xcalloc(m->pods.n + 1, sizeof(uint32_t));
    c->pool_of = gf_xmalloc((m->pods.n + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++) {
        const char *why = NULL;
        c->role[i] = (uint8_t)classify(m, &m->pods.v[i], &why);
        if (c->role[i] == ROLE_PIN) c->pin_why[i] = why;
        size_t pool;
        c->pool_of[i] = pod_pool_lookup(c, &m->pods.v[i], &pool) ? (uint32_t)pool : GF_NONE;
    }
    c->pool_nodes = gf_xcalloc(m->pools.n + 1, sizeof(uint32_t *));
    c->pool_len = gf_xcalloc(m->pools.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++)
        c->pool_len[m->nodes.v[i].pool]++;
    for (size_t p = 0; p < m->pools.n; p++) {
        c->pool_nodes[p] = gf_xmalloc((c->pool_len[p] + 1) * sizeof(uint32_t));
        c->pool_len[p] = 0;
    }
    c->slot_of = gf_xcalloc(nn + 1, sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++) {
        uint32_t p = m->nodes.v[i].pool;
        c->slot_of[i] = c->pool_len[p];
        c->pool_nodes[p][c->pool_len[p]++] = (uint32_t)i;
    }
    gf_arena_init(&c->sig_keys);
    gf_strmap_init(&c->sig_by_key);
    gf_strmap_init(&c->nofit);
    c->pod_sig = gf_xmalloc((m->pods.n + 1) * sizeof(uint32_t));
    memset(c->pod_sig, 0xff, (m->pods.n + 1) * sizeof(uint32_t)); /* GF_NONE */
    c->skip = gf_xcalloc(nn + 1, sizeof(bool));
    c->stay = gf_xcalloc(nn + 1, sizeof(uint8_t));
    c->is_cand = gf_xcalloc(nn + 1, sizeof(bool));
    if (o->legacy_greedy) c->received = gf_xcalloc(nn + 1, sizeof(bool));
    c->moves_of_workload = gf_xcalloc(m->workloads.n + 1, sizeof(uint32_t));
    c->pdb_left = gf_xcalloc(m->pdbs.n + 1, sizeof(int32_t));
    c->move_of = gf_xmalloc((m->pods.n + 1) * sizeof(uint32_t));
    memset(c->move_of, 0xff, (m->pods.n + 1) * sizeof(uint32_t));
    c->rhead = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    pdb_index(c);
    governance(c);
    c->spread_pool = gf_xcalloc(m->pools.n + 1, sizeof(bool));
    for (size_t p = 0; p < m->pools.n; p++) {
        const gf_shard *sh = gf_pack_pool_shard(m, m->pools.v[p]);
        c->spread_pool[p] = sh && (sh->gpu == GF_PLACE_SPREAD || sh->cpu == GF_PLACE_SPREAD);
    }
}

static void ctx_free(ctx *c)
{
    for (size_t i = 0; i < c->sig_allowed.n; i++)
        free(c->sig_allowed.v[i]);
    gf_vec_free(&c->sig_allowed);
    gf_strmap_free(&c->sig_by_key);
    gf_strmap_free(&c->nofit);
    gf_arena_free(&c->sig_keys);
    gf_sbuf_free(&c->key);
    free(c->pod_sig);
    free(c->slot_of);
    index_free(c);
    for (size_t p = 0; p < c->m->pools.n; p++)
        free(c->pool_nodes[p]);
    free(c->pool_nodes);
    free(c->pool_len);
    free(c->skip);
    free(c->stay);
    free(c->is_cand);
    free(c->received);
    free(c->moves_of_workload);
    free(c->pdb_left);
    free(c->pod_pdb_off);
    free(c->pod_pdb);
    free(c->node_pod_start);
    free(c->node_pods);
    free(c->role);
    free(c->pin_why);
    free(c->np_cap);
    free(c->mark);
    free(c->gang_start);
    free(c->gang_pods);
    free(c->spread_pool);
    gf_vec_free(&c->cause);
    free(c->pool_of);
    free(c->move_of);
    free(c->rhead);
    free(c->rnext);
    free(c->rprev);
    gf_vec_free(&c->work);
    gf_vec_free(&c->steps);
    gf_vec_free(&c->drained);
    gf_vec_free(&c->verdicts);
    gf_pack_state_free(c->s);
    gf_pack_state_free(c->s0);
}

/* Replaces the plan of c by moves (one per pod) draining the nodes in
 * drained_nodes, from the snapshot. */
static void install_plan(ctx *c, const gf_move *moves, size_t n_moves,
                         const uint32_t *drained_nodes, size_t n_drained)
{
    reset(c);
    for (size_t i = 0; i < n_drained; i++) {
        c->skip[drained_nodes[i]] = true;
        gf_vec_push(&c->drained, drained_nodes[i]);
    }
    for (size_t i = 0; i < n_moves; i++) {
        const gf_pod *p = &c->m->pods.v[moves[i].pod];
        gf_placement was = original(c, p);
        gf_pack_remove(c->s, p, &was);
        gf_pack_apply(c->s, p, &moves[i].to);
        c->move_of[moves[i].pod] = (uint32_t)c->work.n;
        gf_vec_push(&c->work, moves[i]);
        gf_vec_push(&c->cause, moves[i].from_node);
        gf_vec_push(&c->steps, moves[i]);
    }
}

gf_err gf_consolidate(const gf_model *m, const gf_consolidate_opts *o, gf_consolidation *out,
                      gf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!m->finalized)
        return gf_error_set(err, GF_EINTERNAL, NULL, "consolidate: model is not finalized");
    double t_start = mono_s();
    ctx c = {0};
    ctx_build(&c, m, o);
    size_t nn = m->nodes.n;

    /* candidates: GPU nodes whose pods are all movable or ignorable */
    GF_VEC(cand) cands = {0};
    GF_VEC(gf_node_verdict) pinned = {0};
    bool cross_pool = false; /* a movable pod selects another pool than its node's */
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        for (uint32_t k = c.node_pod_start[i]; k < c.node_pod_start[i + 1]; k++) {
            const gf_pod *p = &m->pods.v[c.node_pods[k]];
            size_t pool;
            if (c.role[c.node_pods[k]] == ROLE_MOVE && (!pod_pool(&c, p, &pool) || pool != n->pool))
                cross_pool = true;
        }
        if (n->gpu_count == 0 || (o->pool != GF_NONE && n->pool != o->pool) ||
            (o->only && !o->only[i]))
            continue;
        cand cd = {(uint32_t)i, 0, 0, node_saving(&c, n), n->gpu_count, 0};
        if (o->objective != GF_OBJ_NODES)
            cd.primary = o->objective == GF_OBJ_GPUS ? n->gpu_count : cd.saving;
        gf_node_verdict pin = {(uint32_t)i, NULL, GF_NONE};
        if (c.spread_pool[n->pool])
            pin.reason = "its node pool's SchedulingShard places by spread: KAI runs no "
                         "consolidation there";
        for (uint32_t k = c.node_pod_start[i]; k < c.node_pod_start[i + 1]; k++) {
            const gf_pod *p = &m->pods.v[c.node_pods[k]];
            pod_role r = (pod_role)c.role[c.node_pods[k]];
            if (r == ROLE_PIN && !pin.reason) {
                pin.reason = c.pin_why[c.node_pods[k]];
                pin.pod = c.node_pods[k];
            }
            if (r == ROLE_MOVE) {
                cd.n_moves++;
                cd.prio_sum += p->priority;
            }
        }
        if (pin.reason) {
            gf_vec_push(&pinned, pin);
        } else {
            gf_vec_push(&cands, cd);
            c.is_cand[i] = true;
        }
    }
    if (cands.n) qsort(cands.v, cands.n, sizeof(cand), cmp_cand);
    /* per move: links in the list of moves now on a node (a move per pod at most) */
    size_t movable = 0;
    for (size_t i = 0; i < cands.n; i++)
        movable += cands.v[i].n_moves;
    if (c.gang_start) /* a gang's mates may move from nodes that are no candidates */
        movable += c.gang_start[m->podgroups.n];
    c.rnext = gf_xmalloc((movable + 1) * sizeof(uint32_t));
    c.rprev = gf_xmalloc((movable + 1) * sizeof(uint32_t));
    gf_vec_reserve(&c.work, movable + 1);

    uint32_t *order = gf_xmalloc((cands.n + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < cands.n; i++)
        order[i] = cands.v[i].node;
    run_pass(&c, order, cands.n);
    out->rounds = improve(&c, order, cands.n, t_start);

    /* bounds, and the exact search where asked and useful */
    for (uint32_t pool = 0; pool < m->pools.n; pool++) {
        gf_pool_bound b = {0};
        b.pool = pool;
        pool_bound(&c, pool, &b);
        if (!b.candidates) continue;
        gf_vec_push(&out->pools, b);
    }
    for (size_t bi = 0; bi < out->pools.n; bi++) {
        gf_pool_bound *b = &out->pools.v[bi];
        double got = 0, elsewhere = 0;
        for (size_t i = 0; i < c.drained.n; i++) {
            const gf_node *n = &m->nodes.v[c.drained.v[i]];
            double w = o->objective == GF_OBJ_NODES  ? 1
                       : o->objective == GF_OBJ_GPUS ? n->gpu_count
                                                     : node_saving(&c, n);
            if (n->pool == b->pool)
                got += w;
            else
                elsewhere++;
        }
        double bound = o->objective == GF_OBJ_NODES  ? b->bound
                       : o->objective == GF_OBJ_GPUS ? b->gpus_bound
                                                     : INFINITY;
        if (!o->exact || cross_pool || c.gangs || got >= bound - 1e-9 ||
            b->candidates > o->exact_max_candidates)
            continue;
        GF_VEC(cand) pc = {0};
        size_t pool_moves = 0;
        for (size_t i = 0; i < cands.n; i++)
            if (m->nodes.v[cands.v[i].node].pool == b->pool) {
                gf_vec_push(&pc, cands.v[i]);
                pool_moves += cands.v[i].n_moves;
            }
        if (pool_moves > EXACT_MAX_PODS) { /* the search recurses once per pod */
            gf_vec_free(&pc);
            continue;
        }
        uint32_t cap = 0;
        if (o->max_nodes) cap = o->max_nodes > elsewhere ? o->max_nodes - (uint32_t)elsewhere : 0;
        bool better = false;
        move_vec xm = {0};
        bool *set = gf_xcalloc(nn + 1, sizeof(bool));
        b->exact_tried = true;
        if (!o->max_nodes || cap > 0)
            b->optimal = exact_pool(&c, b->pool, pc.v, pc.n, got, bound, cap, &better, &xm, set);
        if (better) { /* the greedy plan's other pools, this pool's exact set */
            GF_VEC(gf_move) all = {0};
            GF_VEC(uint32_t) dn = {0};
            for (size_t i = 0; i < c.work.n; i++)
                if (m->nodes.v[c.work.v[i].from_node].pool != b->pool)
                    gf_vec_push(&all, c.work.v[i]);
            for (size_t i = 0; i < xm.n; i++)
                gf_vec_push(&all, xm.v[i]);
            for (size_t i = 0; i < c.drained.n; i++)
                if (m->nodes.v[c.drained.v[i]].pool != b->pool) gf_vec_push(&dn, c.drained.v[i]);
            for (size_t i = 0; i < pc.n; i++)
                if (set[pc.v[i].node]) gf_vec_push(&dn, pc.v[i].node);
            GF_VEC(gf_node_verdict) keep = {0};
            for (size_t i = 0; i < c.verdicts.n; i++)
                if (m->nodes.v[c.verdicts.v[i].node].pool != b->pool)
                    gf_vec_push(&keep, c.verdicts.v[i]);
            for (size_t i = 0; i < pc.n; i++)
                if (!set[pc.v[i].node]) {
                    gf_node_verdict v = {
                        pc.v[i].node, "not in the largest drainable set (exact search)", GF_NONE};
                    gf_vec_push(&keep, v);
                }
            install_plan(&c, all.v, all.n, dn.v, dn.n);
            c.verdicts.n = 0;
            for (size_t i = 0; i < keep.n; i++)
                gf_vec_push(&c.verdicts, keep.v[i]);
            gf_vec_free(&all);
            gf_vec_free(&dn);
            gf_vec_free(&keep);
        }
        free(set);
        gf_vec_free(&xm);
        gf_vec_free(&pc);
    }

    /* the plan: drains in order, each with the final moves of its own pods */
    out->drained = gf_xcalloc(nn + 1, sizeof(bool));
    for (size_t i = 0; i < c.drained.n; i++)
        out->drained[c.drained.v[i]] = true;
    uint32_t *first = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    uint32_t *chain = gf_xmalloc((c.work.n + 1) * sizeof(uint32_t));
    memset(first, 0xff, (nn + 1) * sizeof(uint32_t));
    for (size_t i = c.work.n; i-- > 0;) { /* by the drain that made the move */
        chain[i] = first[c.cause.v[i]];
        first[c.cause.v[i]] = (uint32_t)i;
    }
    for (size_t i = 0; i < c.drained.n; i++) {
        uint32_t node = c.drained.v[i];
        const gf_node *n = &m->nodes.v[node];
        gf_drain d = {node, (uint32_t)out->moves.n, 0, n->gpu_count, node_saving(&c, n)};
        for (uint32_t k = first[node]; k != GF_NONE; k = chain[k]) {
            gf_vec_push(&out->moves, c.work.v[k]);
            d.n_moves++;
        }
        gf_vec_push(&out->drains, d);
        out->gpus_freed += d.gpus_freed;
        out->nodes_freed++;
        out->cost_saved += d.cost_saved;
    }
    free(first);
    free(chain);
    for (size_t i = 0; i < out->pools.n; i++) {
        gf_pool_bound *b = &out->pools.v[i];
        for (size_t k = 0; k < out->drains.n; k++)
            if (m->nodes.v[out->drains.v[k].node].pool == b->pool) {
                b->drained++;
                b->gpus_drained += out->drains.v[k].gpus_freed;
            }
        if (o->objective == GF_OBJ_NODES && b->drained >= b->bound) b->optimal = true;
        if (o->objective == GF_OBJ_GPUS && b->gpus_drained >= b->gpus_bound) b->optimal = true;
    }
    for (size_t i = 0; i < pinned.n; i++)
        gf_vec_push(&out->kept, pinned.v[i]);
    for (size_t i = 0; i < c.verdicts.n; i++)
        gf_vec_push(&out->kept, c.verdicts.v[i]);
    for (size_t i = 0; i < c.steps.n; i++)
        gf_vec_push(&out->steps, c.steps.v[i]);
    out->attempts = c.attempts;
    out->index_mismatches = c.mismatches;
    out->state = c.s;
    c.s = NULL;
    out->pod_pin = c.pin_why;
    c.pin_why = NULL;
    free(order);
    gf_vec_free(&cands);
    gf_vec_free(&pinned);
    ctx_free(&c);
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
