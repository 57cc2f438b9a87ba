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
 * KAI's governance (issue 12; the rule texts are gf_consolidation.pod_pin):
 *   - gangs: the pods of one PodGroup with minMember > 1 move together or
 *     not at all: draining a node with a gang's pod re-places every pod of
 *     the gang in the same attempt (mates on other nodes are re-created too,
 *     each within the disruption limits; their moves are listed under the
 *     drain that caused them), and one member that cannot move pins them
 *     all (KAI evicts a gang below minMember whole: pkg/scheduler/actions/
 *     stalegangeviction);
 *   - non-preemptible pods (pkg/common/podgroup/preemptible.go): by
 *     opts.move_non_preemptible (policy consolidation.moveNonPreemptible);
 *     the default moves one when a PDB selects it or while its workload
 *     keeps another running replica; and only while its queue and every
 *     parent are within their quota for non-preemptible use, as KAI admits
 *     the re-created pod only then (pkg/scheduler/plugins/proportion/
 *     capacity_policy/quota_check.go isAllocatedNonPreemptibleOverQuota; the
 *     controller evicts before the replacement exists, so a move adds no
 *     surge to the queue);
 *   - topology: a pod whose PodGroup requires a topology level is re-placed
 *     inside its node's domain only (gf_pack_node_allowed), and stays where
 *     it is when that Topology is not in the input;
 *   - shards: nodes of a pool whose SchedulingShard places GPUs or CPUs by
 *     spread are never drained: KAI disables its consolidation action there
 *     (pkg/apis/kai/v1/schedulingshard_types.go, isConsolidationEnabled).
 *
 * Choosing the set of nodes and every pod's final node together (Karpenter's
 * multi-node consolidation asks the same question):
 *   1. greedy pass: candidates are tried once each in order (objective
 *      "nodes": fewest pods to move, lowest priority, highest cost saved
 *      first; "gpus"/"cost": most saved first); a candidate is kept when all
 *      pods now on it fit on the nodes not drained so far, else rolled back.
 *      Pods now on it include pods moved there earlier in this plan: a node
 *      that received pods stays a candidate, and its received pods are
 *      re-placed, so each pod still has one move in the plan, from its
 *      original node to its final one. Targets that will stay are preferred:
 *      a pod goes to the best node (under the scorer) among nodes that are
 *      not candidates (pinned, CPU-only, outside the pool) or whose drain
 *      failed, and only when none fits to a node still to be tried.
 *   2. improvement (iterated greedy): the candidate order is perturbed (a
 *      few candidates whose drain failed move to the front) and the pass is
 *      rerun from the start; the best plan by the objective (ties: fewer
 *      moves) is kept. Bounded by rounds, by placement attempts (both
 *      deterministic) and, optionally, by wall-clock time.
 *   3. exact (opts.exact, pools with at most exact_max_candidates
 *      candidates and 2000 pods to move, when no movable pod selects
 *      another pool than its node's and none belongs to a gang): branch and bound over drain sets
 * (a superset of an infeasible set is infeasible) with a complete re-placement search per set
 * (every node and distinct GPU choice, capacity pruning); proves the optimum or says it could not
 * within its step limit. Its plan then replaces the pool's greedy plan. Per pool the plan carries
 * an upper bound on the nodes that can go: pods of the pool need at least their summed GPU (and one
 * GPU per share above one half), CPU and memory on the nodes that stay, so at most the k smallest
 * candidates can leave in each dimension. */
#ifndef GF_CONSOLIDATE_H
#define GF_CONSOLIDATE_H

#include "decide/pack.h"
#include "decide/policy.h"

typedef struct gf_cost_weight {
    const char *gpu_product; /* exact nvidia.com/gpu.product */
    double per_gpu;
} gf_cost_weight;

typedef enum gf_objective {
    GF_OBJ_NODES, /* most nodes drained (default) */
    GF_OBJ_GPUS,  /* most GPUs freed */
    GF_OBJ_COST   /* most cost saved (gf_cost_weight) */
} gf_objective;

const char *gf_objective_name(gf_objective o);
/* GF_OK and *out set for "nodes", "gpus", "cost". */
gf_err gf_objective_parse(const char *name, gf_objective *out);

typedef struct gf_consolidate_opts {
    gf_scorer scorer;                /* re-placement scorer (default binpack) */
    gf_objective objective;          /* what the search maximises (default nodes) */
    uint32_t max_nodes;              /* drain at most this many nodes; 0 = no limit */
    uint32_t max_moves_per_workload; /* disruption limit per workload; 0 = no limit */
    const gf_cost_weight *costs;     /* per-GPU cost by model; others cost 1 per GPU */
    size_t n_costs;
    uint32_t pool; /* only drain nodes of this pool; GF_NONE = every pool */
    /* improvement phase: stops at whichever limit comes first */
    uint32_t max_rounds; /* greedy reruns after the first pass (default 24; 0 = none) */
    /* pod placement attempts in reruns, a rerun counted as costing what the
     * first pass did (default 40000; 0 = no limit) */
    uint64_t max_attempts;
    double budget_s; /* wall-clock seconds for the whole planning (0 = no time limit) */
    uint64_t seed;   /* perturbation seed (default 1) */
    /* exact search for small pools */
    bool exact;
    uint32_t exact_max_candidates; /* default 30 */
    uint64_t exact_max_steps;      /* search steps per pool (default 20000000) */
    /* the planner before this search (no re-draining of receivers, no target
     * preference, no improvement), kept as a baseline for benchmarks */
    bool legacy_greedy;
    /* candidate nodes: NULL = every GPU node; else only nodes with only[node] */
    const bool *only;
    /* check every index answer against a brute-force scan (tests; slow) */
    bool check_index;
    /* which non-preemptible pods may move (default GF_MOVE_NP_REPLICATED) */
    gf_move_np move_non_preemptible;
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

/* Per pool: what the plan achieves against what is possible at most. */
typedef struct gf_pool_bound {
    uint32_t pool;
    uint32_t candidates;   /* GPU nodes nothing pins */
    uint32_t drained;      /* by the plan */
    uint32_t bound;        /* upper bound on nodes that can be drained */
    uint32_t gpus_drained; /* GPUs freed by the plan */
    uint32_t gpus_bound;   /* upper bound on GPUs freed */
    bool exact_tried;      /* the exact search ran on this pool */
    bool optimal;          /* proven: drained == bound, or the exact search completed */
} gf_pool_bound;

typedef struct gf_consolidation {
    GF_VEC(gf_drain) drains; /* in the order chosen */
    GF_VEC(gf_move) moves;   /* one per pod: original node -> final node */
    /* every capacity change of the chosen plan in the order the planner made
     * it (a pod re-placed from a node that received it appears twice; the
     * last is its final move); replaying these from the snapshot's
     * allocation reproduces the plan's capacity */
    GF_VEC(gf_move) steps;
    GF_VEC(gf_pool_bound) pools;  /* pools with GPU nodes */
    uint32_t rounds;              /* improvement reruns made */
    uint64_t attempts;            /* pod placement attempts made */
    uint64_t index_mismatches;    /* check_index: fast answers that differ from a scan */
    uint64_t nodes_tried;         /* nodes the index answers looked at (the cost of a placement) */
    GF_VEC(gf_node_verdict) kept; /* GPU nodes not drained, with why */
    uint32_t gpus_freed, nodes_freed;
    double cost_saved;
    /* capacity after the plan, for explanations */
    gf_pack_state *state;
    bool *drained; /* per node */
    /* per pod: the rule that keeps it (and so its node) where it is, static
     * text, or NULL for pods that may move or are left alone */
    const char **pod_pin;
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
