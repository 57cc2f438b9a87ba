/* consolidate_int.h - what the consolidate_*.c files share; not a public
 * header (consolidate.h is). The planner is split by concern:
 *   consolidate.c         options, pod roles, governance, candidates, the plan
 *                         and the public entry points;
 *   consolidate_index.c   constraint rows, the PDB index and the bucket indexes
 *                         (free GPU ratio x largest free GPU; free CPU);
 *   consolidate_search.c  the greedy pass, drain attempts, the reruns;
 *   consolidate_exact.c   the bound and the exact branch and bound.
 * All state of one planning call is in one ctx. */
#ifndef GF_DECIDE_CONSOLIDATE_INT_H
#define GF_DECIDE_CONSOLIDATE_INT_H

#include "decide/consolidate.h"
#include "util/sbuf.h"

typedef enum pod_role { ROLE_IGNORE, ROLE_MOVE, ROLE_PIN } pod_role;

typedef struct cand {
    uint32_t node;
    uint32_t n_moves;
    int64_t prio_sum;
    double saving;
    uint32_t gpus;
    double primary; /* sorted on first, largest first: 0 for nodes, else what is saved */
} cand;

#define N_BUCKETS 256
/* second index level: without an idle GPU, the largest free fraction of one
 * GPU on the node in 32nds (0..31); with k idle GPUs, 31 + k (at most 63, so
 * a bucket's non-empty levels fit a 64-bit mask). A pod of w whole GPUs needs
 * level 31 + w, a share s level_of(s): the nodes below are never looked at.
 * (Sixteenths and one level for every node with an idle GPU had 6.3 nodes
 * tried per placement at 10k nodes, 15.6 at 30k.) */
#define N_FRAC 32
#define N_LEVELS 64
/* the CPU index's second level: free CPU in steps of 1.25x from 64m (below:
 * class 0) to about 80 cores; on generated clusters nine in ten nodes a
 * CPU-only pod was tried on lacked its CPU */
#define N_CPU 34

typedef struct tier {
    uint32_t pool, gpus;
    int64_t gpu_memory_mib;
    uint8_t stay;
    uint32_t *head; /* N_BUCKETS x N_LEVELS; GF_NONE = empty */
    uint64_t *mask; /* per bucket: bit l set = head[bucket x N_LEVELS + l] not empty */
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
    uint64_t tried; /* consider() calls: nodes the placements looked at */
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

typedef struct keyed {
    double demand;
    uint32_t pod;
} keyed;

/* --- exact search ------------------------------------------------------------ */

/* Most movable pods in a pool for the exact search: its recursion is one
 * frame (about 1 KiB) per pod. */
#define EXACT_MAX_PODS 2000

typedef GF_VEC(gf_move) move_vec;

/* --- consolidate.c ---------------------------------------------------------- */

/* GPUs a pod asks for (its share times its devices; whole GPUs), the sort key
 * of the pods of a drain (largest first) */
double gf_cons_gpu_demand(const gf_model *m, const gf_pod *p);
/* what draining the node saves: its GPUs priced by opts.costs (else 1 each) */
double gf_cons_node_saving(const ctx *c, const gf_node *n);
/* The pod's snapshot capacity as a placement, to give back or take again. */
gf_placement gf_cons_original(const ctx *c, const gf_pod *p);

/* The node pool a pod is placed in, from the per-pod answer computed once
 * (false: it selects a pool that does not exist). */
static inline bool gf_cons_pod_pool(const ctx *c, const gf_pod *p, size_t *pool)
{
    *pool = c->pool_of[p - c->m->pods.v];
    return *pool != GF_NONE;
}

/* --- consolidate_index.c ---------------------------------------------------- */

/* The allowed-row of the pod's constraint signature in pool pool (per node
 * slot of the pool: 0 not yet asked, 1 allowed, 2 not). */
uint8_t *gf_cons_allowed_row(ctx *c, const gf_pod *p, size_t pool);
/* Constraints and request of a pod, as a key (scratch: valid until the next key). */
const char *gf_cons_request_key(ctx *c, const gf_pod *p, size_t pool);
/* The PDBs selecting each pod: c->pod_pdb_off / c->pod_pdb. */
void gf_cons_pdb_index(ctx *c);
/* The bucket indexes: built from c->s for the nodes not skipped, freed;
 * gf_cons_touch() after a node's free capacity changed, gf_cons_unindex() when it is drained
 * for good, gf_cons_set_stay() when it becomes a preferred target. */
void gf_cons_index_build(ctx *c);
void gf_cons_index_free(ctx *c);
void gf_cons_touch(ctx *c, uint32_t node);
void gf_cons_unindex(ctx *c, uint32_t node);
void gf_cons_set_stay(ctx *c, uint32_t node);
/* One node for pod p: kept in *out when it fits and beats *out (*found). */
void gf_cons_consider(ctx *c, const gf_pod *p, const uint8_t *allowed, uint32_t node, bool *found,
                      gf_placement *out);
/* Where the pod goes: the best node that stays, else the best candidate
 * still to try (legacy_greedy: the best of all). Counts an attempt. */
bool gf_cons_best_in_pool(ctx *c, const gf_pod *p, gf_placement *out);
/* check_index: counts a mismatch when (fits, pl) is not what a scan gives. */
void gf_cons_check_answer(ctx *c, const gf_pod *p, bool fits, const gf_placement *pl);

/* --- consolidate_search.c --------------------------------------------------- */

/* largest GPU demand first (first-fit decreasing), then pod index */
int gf_cons_cmp_keyed(const void *a, const void *b);
/* Back to the snapshot's allocation, nothing drained. */
void gf_cons_reset(ctx *c);
/* One greedy pass over the candidates in order, from the snapshot. */
void gf_cons_run_pass(ctx *c, const uint32_t *order, size_t n);
/* The reruns; leaves the best pass's plan in c and its order in order.
 * Returns the rounds run. */
uint32_t gf_cons_improve(ctx *c, uint32_t *order, size_t n, double t_start);
double gf_cons_mono_s(void);

/* --- consolidate_exact.c ---------------------------------------------------- */

/* The pool's bound: most nodes (and GPUs) any plan could drain. */
void gf_cons_pool_bound(ctx *c, uint32_t pool, gf_pool_bound *b);
/* The exact search on one pool; when it finds a better set than the greedy
 * plan's, *moves and set_out get it. True when it completed (optimal). */
bool gf_cons_exact_pool(ctx *c, uint32_t pool, const cand *cands, size_t n, double greedy_value,
                        double bound, uint32_t cap, bool *found_better, move_vec *moves,
                        bool *set_out);

#endif
