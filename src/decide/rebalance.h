/* rebalance.h - relieving over-committed shared GPUs by moving pods.
 *
 * KAI places pods by allocation (memory-based fractions), but what pods
 * actually need shifts: memory grows past a fraction, compute demand comes
 * and goes. A GPU is over-committed when its pods' actual needs (memory
 * used or demanded as a share of the GPU's memory; SM share demanded or
 * used, gf_fair_need_memory / gf_fair_need_sm) add up to more than 1.0.
 *
 * A plan moves pods off over-committed GPUs (worst first) with the packing
 * engine (decide/pack.h: the same fit rules and scorer as KAI's binpack by
 * default), under one more rule: a target GPU's actual needs plus the moved
 * pod's must stay within 1.0 in memory and in compute, so a move never makes
 * another GPU over-committed. The search hides the GPUs that fail that rule
 * (and the pod's own) from the packing engine; when the engine's first
 * choice was hidden, the move says which GPU was rejected and why.
 *
 * Least disruption, per GPU: a single move that relieves the GPU beats
 * several; among those, the pod with the lowest priority moves (lower
 * priority yields), then the smallest allocation (less to restart), then
 * the lowest pod index. When no single move relieves the GPU, the pod
 * needing the most of the over-committed resource moves first and the
 * search repeats; if the GPU still cannot be relieved within the move limit
 * its moves are rolled back (moving pods without relieving anything only
 * disrupts). Moved pods are checked as the new pod starting while the old
 * one still runs (a rolling update surges first).
 *
 * Movable: active pods owned by a Deployment, ReplicaSet or StatefulSet,
 * not annotated gpufrac.io/consolidate: "false", whose PodDisruptionBudgets
 * allow a disruption, and not already moved in this plan (the same rules as
 * decide/consolidate.h). A move (an eviction) also follows KAI's
 * governance (decide/govern.h, gf_rebalance_evictable): never a gang's pod
 * alone, non-preemptible pods by the view's move_np, and a pod whose
 * PodGroup requires a topology domain only inside it (gf_pack_node_allowed).
 *
 * GPUs without usage in the state count with their allocation as need.
 * A multi-device pod's need is taken per device; it moves as a whole. SM
 * shares are taken as equal on GPUs of another model. Pure, deterministic. */
#ifndef GF_REBALANCE_H
#define GF_REBALANCE_H

#include "decide/govern.h"
#include "decide/gpustate.h"
#include "decide/pack.h"

/* Needs above 1.0 by more than this are over-committed (float noise). */
#define GF_REBALANCE_EPS 1e-9

typedef struct gf_rebalance_opts {
    gf_scorer scorer;   /* packing engine scorer; binpack by default */
    uint32_t max_moves; /* whole plan; 0 = no limit */
} gf_rebalance_opts;

void gf_rebalance_opts_default(gf_rebalance_opts *o);

/* The cluster as planning sees it: the allocation (a private copy of the
 * pack state, changed as moves are planned) and the actual needs per GPU. */
typedef struct gf_rebalance_view {
    const gf_model *m;
    const gf_fair_state *st;
    gf_pack_state *s;       /* owned */
    double *gpu_bytes;      /* per model GPU: its memory (0 = unknown) */
    double *mem_need;       /* per model GPU: memory needs / its memory */
    double *sm_need;        /* per model GPU: SM needs */
    uint32_t *state_gpu_of; /* per model GPU: index into st->gpus, GF_NONE when none */
    bool *moved;            /* per model pod: changed in this plan */
    int32_t *pdb_left;      /* per PDB: disruptions left */
    /* KAI governance of moves (decide/govern.h) */
    gf_move_np move_np;          /* GF_MOVE_NP_ALWAYS after init (gf_rebalance_evictable) */
    gf_gov_usage gov;            /* queues' non-preemptible use, running replicas */
    uint32_t *moved_of_workload; /* per workload: pods moved in this plan */
} gf_rebalance_view;

/* pack NULL: the model's current allocation. st may be NULL (needs =
 * allocations). GF_EINTERNAL when m is not finalized. Free with
 * gf_rebalance_view_free (accepts NULL) either way. */
gf_err gf_rebalance_view_init(gf_rebalance_view *v, const gf_model *m, const gf_pack_state *pack,
                              const gf_fair_state *st, gf_error *err);
void gf_rebalance_view_free(gf_rebalance_view *v);

/* True when the model GPU's needs are above 1.0 in memory or compute. */
bool gf_rebalance_overcommitted(const gf_rebalance_view *v, uint32_t gpu);

/* Can the model pod be moved or recreated now? false with *why (static). */
bool gf_rebalance_movable(const gf_rebalance_view *v, uint32_t pod, const char **why);

/* May the (movable) pod be evicted and re-created elsewhere under KAI's
 * governance? false with *why (static): a gang's pod, a non-preemptible pod
 * whose queue is over quota, or one the view's move_np keeps (decide/
 * govern.h). move_np is "always" after init: a fair-use or rebalance move
 * answers harm in progress on a contended GPU (an overrun that endangers
 * its mates, starvation), at most maxActionsPerHour, where consolidation
 * drains for cost and keeps a lone non-preemptible replica where it is.
 * Upsizes (a rolling update surges first) need only gf_rebalance_movable(). */
bool gf_rebalance_evictable(const gf_rebalance_view *v, uint32_t pod, const char **why);

/* What a pod needs and holds: per device, and where it runs now. */
typedef struct gf_rebalance_need {
    uint32_t pod;      /* model pod */
    double mem_bytes;  /* per device, the most over its devices */
    double sm;         /* per device, the most over its devices */
    gf_placement from; /* current GPUs (model indices) and allocated share */
    double from_mem[GF_PACK_MAX_DEVICES], from_sm[GF_PACK_MAX_DEVICES]; /* per from.gpus[k] */
} gf_rebalance_need;

/* From the state's entries of the pod (its model GPUs), else from the model
 * (need = allocation). False when the pod holds no GPU. */
bool gf_rebalance_need_of(const gf_rebalance_view *v, uint32_t pod, gf_rebalance_need *out);

/* The best place for spec (the pod as it would be recreated: the model pod,
 * or a copy with a new fraction) by the packing engine among GPUs whose
 * actual needs plus nd's stay within 1.0. The pod's current GPUs are
 * excluded unless may_stay (an upsize may land where the pod runs, if the
 * GPU holds the old and the new pod side by side). why[0..n) explains the
 * choice or the failure. The view's state is restored before returning. */
bool gf_rebalance_target(gf_rebalance_view *v, const gf_pod *spec, const gf_rebalance_need *nd,
                         bool may_stay, gf_scorer scorer, gf_placement *out, char *why, size_t n);

/* Plans the change: spec's new pod at to, the old one (old_spec at
 * nd->from) gone; needs, PDB budgets and the moved mark follow. */
void gf_rebalance_commit(gf_rebalance_view *v, const gf_pod *old_spec, const gf_pod *spec,
                         const gf_rebalance_need *nd, const gf_placement *to);
/* Undoes a commit with the same arguments. */
void gf_rebalance_uncommit(gf_rebalance_view *v, const gf_pod *old_spec, const gf_pod *spec,
                           const gf_rebalance_need *nd, const gf_placement *to);

typedef struct gf_rebalance_move {
    uint32_t pod;      /* model pod */
    uint32_t from_gpu; /* the model GPU it relieves */
    gf_placement to;
    double mem_need, sm_need; /* the pod's per-device needs: bytes, SM share */
    char why[400];            /* target and rejected targets */
} gf_rebalance_move;

typedef struct gf_rebalance_alt {
    uint32_t gpu; /* model GPU being relieved */
    uint32_t pod; /* model pod not moved */
    char why[240];
} gf_rebalance_alt;

typedef struct gf_rebalance_gpu {
    uint32_t gpu;                 /* model GPU */
    double mem_before, sm_before; /* needs as shares of the GPU */
    double mem_after, sm_after;
    bool relieved;
    uint32_t first_move, n_moves; /* into moves */
    uint32_t first_alt, n_alt;    /* into alternatives */
    char why[240];
} gf_rebalance_gpu;

typedef struct gf_rebalance {
    GF_VEC(gf_rebalance_gpu) gpus; /* each over-committed GPU, worst first */
    GF_VEC(gf_rebalance_move) moves;
    GF_VEC(gf_rebalance_alt) alternatives;
} gf_rebalance;

void gf_rebalance_free(gf_rebalance *r); /* accepts NULL; r is reusable */

/* Relieves one model GPU in v (moves committed in v), appending its verdict,
 * moves and rejected alternatives to out. max_moves 0 = no limit. True
 * when the GPU ends within 1.0. */
bool gf_rebalance_relieve(gf_rebalance_view *v, uint32_t gpu, gf_scorer scorer, uint32_t max_moves,
                          gf_rebalance *out);

/* The whole plan: every over-committed GPU of st (model GPUs), worst
 * excess first. pack NULL: the model's allocation. *out is reset first. */
gf_err gf_rebalance_plan(const gf_model *m, const gf_pack_state *pack, const gf_fair_state *st,
                         const gf_rebalance_opts *o, gf_rebalance *out, gf_error *err);

#endif
