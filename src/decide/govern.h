/* govern.h - KAI's governance rules for planners that move pods
 * (decide/consolidate.h drains, decide/rebalance.h and fair-use moves).
 *
 * A move here is an eviction: the controller evicts the pod and its
 * controller re-creates it, so nothing surges and the pod is down until the
 * replacement runs. What may move, besides the owner rules of each planner:
 *   - gangs: a pod of a PodGroup with minMember > 1 (gf_pod_gov.gang) moves
 *     only with its whole gang (KAI evicts a gang that falls below
 *     minMember: pkg/scheduler/actions/stalegangeviction); planners that
 *     move one pod at a time refuse it;
 *   - non-preemptible pods (pkg/common/podgroup/preemptible.go): by policy
 *     consolidation.moveNonPreemptible (decide/policy.h gf_move_np); under
 *     the default, one moves when a PodDisruptionBudget selects it (its
 *     disruptionsAllowed then limits the moves) or while its workload keeps
 *     another running replica;
 *   - and a non-preemptible pod moves only while its queue and every parent
 *     are within quota for non-preemptible use: KAI admits a
 *     non-preemptible job only while quota >= allocatedNonPreemptible + its
 *     request, quota -1 unlimited, up the parent chain (pkg/scheduler/
 *     plugins/proportion/capacity_policy/quota_check.go
 *     isAllocatedNonPreemptibleOverQuota). The evicted pod gives back what
 *     its replacement asks, so the replacement is admitted exactly when the
 *     queue's use is within quota now (GPUs: decide/quota.h gf_quota_walk
 *     with nothing more asked; CPU and memory the same way here).
 * Pure; no I/O. */
#ifndef GF_GOVERN_H
#define GF_GOVERN_H

#include "decide/policy.h"
#include "model/model.h"

/* What governance needs from the snapshot, computed once per plan. */
typedef struct gf_gov_usage {
    /* per queue: non-preemptible use of its own and its children's bound
     * pods (GPUs, millicores, megabytes as KAI counts memory); GPU is at
     * least the queue's status.allocatedNonPreemptible (a partial snapshot
     * may miss pods) */
    double *np_gpu, *np_cpu, *np_mem;
    bool *over_quota;  /* per queue: it or a parent is over quota */
    uint32_t *running; /* per workload (gf_pod.workload): running pods */
} gf_gov_usage;

/* Fills *u for a finalized model; free with gf_gov_usage_free(). */
void gf_gov_usage_init(gf_gov_usage *u, const gf_model *m);
void gf_gov_usage_free(gf_gov_usage *u); /* accepts NULL */

/* The rule that keeps the (movable by owner) pod where it is, as static
 * text, or NULL. has_pdb: a PodDisruptionBudget selects the pod. When the
 * pod may move only while its workload keeps a running replica, *cap (may
 * be NULL) is set to how many of the workload's pods a plan may move
 * (running - 1), else to 0 (no such limit). Gangs are not judged here. */
const char *gf_gov_refuses(const gf_model *m, const gf_gov_usage *u, gf_move_np mode, uint32_t pod,
                           bool has_pdb, uint32_t *cap);

/* Static texts of the rules, for callers and tests. */
#define GF_GOV_NP_NEVER "a non-preemptible pod (KAI priority >= 100) and moveNonPreemptible: never"
#define GF_GOV_NP_SINGLE                                                                           \
    "a non-preemptible pod is its workload's only running replica and no PodDisruptionBudget "     \
    "covers it (moveNonPreemptible: replicated)"
#define GF_GOV_NP_QUOTA                                                                            \
    "a non-preemptible pod's queue (or a parent) is over its quota: KAI would not admit the "      \
    "re-created pod"
#define GF_GOV_NP_LAST                                                                             \
    "moving it would leave its non-preemptible workload without a running replica "                \
    "(moveNonPreemptible: replicated)"
#define GF_GOV_GANG                                                                                \
    "a pod of a gang (PodGroup minMember > 1) with a member that cannot move: a gang moves whole " \
    "or not at all"
#define GF_GOV_GANG_ALONE                                                                          \
    "a pod of a gang (PodGroup minMember > 1): a gang moves whole, not pod by pod"

#endif
