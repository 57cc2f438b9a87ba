/* consolidate.h - which GPU nodes can be emptied, and the move plan.
 *
 * A node can be drained when every pod that must keep running on it can be
 * re-placed on the nodes that stay (same fit rules as the packing engine:
 * pool, GPU model, CPU/memory, per-GPU free fraction, multi-device
 * fractions). What must move, and what pins a node:
 *   - moved: active pods owned by a controller that recreates them
 *     (ReplicaSet/Deployment, StatefulSet);
 *   - left alone: DaemonSet pods (they run on every node anyway), KAI
 *     reservation pods (KAI removes them with their GPU group),
 *     Succeeded/Failed pods;
 *   - pin the node: unowned pods, Job pods (work would be lost), pods
 *     annotated gpufrac.io/consolidate: "false", pods whose
 *     PodDisruptionBudget allows fewer disruptions than the plan needs, and
 *     workloads that would exceed the per-workload move limit.
 *
 * Choosing a set of nodes (Karpenter's multi-node consolidation asks the
 * same question): candidates are tried once each, cheapest to drain first
 * (fewest pods to move, lowest priority, highest cost saved); a candidate is
 * kept when all its pods fit on the nodes not drained so far, otherwise
 * rolled back. Because draining only ever removes capacity, a candidate that
 * failed would fail again later, so the result is maximal: no further node
 * can be added to it under the same re-placement rules. That takes one
 * re-placement attempt per candidate instead of Karpenter's binary search
 * over prefixes of the candidate list, which re-simulates whole prefixes and
 * can only return a prefix. Nodes that received moved pods are not drained
 * later in the same plan (a pod is moved at most once). */
#ifndef GF_CONSOLIDATE_H
#define GF_CONSOLIDATE_H

#include "decide/pack.h"

typedef struct gf_cost_weight {
    const char *gpu_product; /* exact nvidia.com/gpu.product */
    double per_gpu;
} gf_cost_weight;

typedef struct gf_consolidate_opts {
    gf_scorer scorer;                /* re-placement scorer (default binpack) */
    uint32_t max_nodes;              /* drain at most this many nodes; 0 = no limit */
    uint32_t max_moves_per_workload; /* disruption limit per workload; 0 = no limit */
    const gf_cost_weight *costs;     /* per-GPU cost by model; others cost 1 per GPU */
    size_t n_costs;
    uint32_t pool; /* only drain nodes of this pool; GF_NONE = every pool */
} gf_consolidate_opts;

void gf_consolidate_opts_default(gf_consolidate_opts *o);

typedef struct gf_move {
    uint32_t pod;
    uint32_t from_node;
    gf_placement to;
} gf_move;

typedef struct gf_drain {
    uint32_t node;
    uint32_t first_move, n_moves; /* into gf_consolidation.moves */
    uint32_t gpus_freed;
    double cost_saved;
} gf_drain;

typedef struct gf_node_verdict {
    uint32_t node;
    const char *reason; /* static text */
    uint32_t pod;       /* the pod concerned, or GF_NONE */
} gf_node_verdict;

typedef struct gf_consolidation {
    GF_VEC(gf_drain) drains; /* in the order chosen */
    GF_VEC(gf_move) moves;
    GF_VEC(gf_node_verdict) kept; /* GPU nodes not drained, with why */
    uint32_t gpus_freed, nodes_freed;
    double cost_saved;
    /* capacity after the plan, for explanations */
    gf_pack_state *state;
    bool *drained; /* per node */
} gf_consolidation;

/* Plans consolidation on a finalized model. Free *out with
 * gf_consolidation_free(). */
gf_err gf_consolidate(const gf_model *m, const gf_consolidate_opts *o, gf_consolidation *out,
                      gf_error *err);
void gf_consolidation_free(gf_consolidation *c); /* accepts NULL */

typedef struct gf_fit_reason {
    uint32_t node;
    const char *why; /* static text */
} gf_fit_reason;

/* Why pod cannot go elsewhere after the plan: for every other node of the
 * pod's pool that is not drained, the reason it does not fit (nodes where it
 * would fit are listed with why = NULL). Returns the count; *out is
 * malloc'd, caller frees. */
size_t gf_consolidate_explain(const gf_model *m, const gf_consolidation *c,
                              const gf_consolidate_opts *o, uint32_t pod, gf_fit_reason **out);

#endif
