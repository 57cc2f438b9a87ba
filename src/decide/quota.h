/* quota.h - KAI's queue quota for non-preemptible workloads: may an upsize
 * be written?
 *
 * KAI refuses to schedule a non-preemptible job whose queue, or any queue up
 * its parent chain, would hold more non-preemptible GPUs than its quota
 * (deserved share): Deserved < AllocatedNonPreemptible + requested is over
 * (pkg/scheduler/plugins/proportion/capacity_policy/quota_check.go,
 * resultsWithNonPreemptibleOverQuota / isAllocatedNonPreemptibleOverQuota;
 * quota -1 is unlimited, commonconstants.UnlimitedResourceQuantity). A
 * preemptible job may go over quota (it can be reclaimed). So an upsize of a
 * non-preemptible workload that its queues cannot fund would leave its new
 * pods Pending forever: it is not written, and is reported with the queue
 * and the numbers.
 *
 * The rollout's surge counts: a Deployment's new pods start before old ones
 * go (RollingUpdate maxSurge, Kubernetes' default 25% of replicas rounded
 * up), so while it rolls the queue holds R x new + S x old GPUs for R
 * replicas and S surge pods (new >= old), S x old more than the final
 * R x new. Recreate and StatefulSets replace pods in place: no surge.
 *
 * Allocated is the Queue's status.allocatedNonPreemptible (KAI's own figure,
 * queue and children) when the input has it, else summed from the model's
 * bound pods (model.h gf_queue_allocated_gpu). A workload whose queue is not
 * in the input, or that is preemptible, is never blocked here. Pure. */
#ifndef GF_QUOTA_H
#define GF_QUOTA_H

#include "model/model.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct gf_quota_check {
    bool blocked;
    uint32_t queue;             /* the queue over quota (the workload's or a parent), GF_NONE */
    double quota_gpus;          /* its GPU quota */
    double allocated_gpus;      /* its non-preemptible GPUs now */
    bool allocated_from_status; /* KAI's status figure, else summed from the pods */
    double delta_gpus;          /* what the upsize adds at its peak, surge included */
    int32_t surge_pods;         /* new pods that start before old ones go */
    uint32_t replicas;
} gf_quota_check;

/* Pods a rollout of w (replicas of them) starts before old ones go. */
int32_t gf_quota_surge_pods(const gf_workload *w, uint32_t replicas);

/* GPUs an upsize of R replicas from old_pod_gpus to new_pod_gpus adds at
 * its peak: R x (new - old) + S x old, S = gf_quota_surge_pods(). */
double gf_quota_delta(const gf_workload *w, uint32_t replicas, double old_pod_gpus,
                      double new_pod_gpus, int32_t *surge_pods);

/* The walk alone: queue q and its parents, delta GPUs more. alloc_np: each
 * queue's non-preemptible GPUs (its own and its children's) by queue index,
 * or NULL for the model's figure (gf_queue_allocated_gpu). Fills the
 * blocked fields of out; returns out->blocked. */
bool gf_quota_walk(const gf_model *m, uint32_t q, double delta, const double *alloc_np,
                   gf_quota_check *out);

/* Checks an upsize of workload wi from old_pod_gpus to new_pod_gpus per pod
 * (all its devices, in GPUs). Returns out->blocked. */
bool gf_quota_upsize(const gf_model *m, uint32_t wi, double old_pod_gpus, double new_pod_gpus,
                     gf_quota_check *out);

/* Several upsizes decided in one pass add up: a ledger starts from each
 * queue's non-preemptible GPUs now (as gf_quota_walk counts them) and
 * gf_quota_upsize_ledger() with charge charges each upsize it lets through
 * to its queue and every parent, so the next one is checked against what
 * the earlier ones will hold. Owns its arrays. */
typedef struct gf_quota_ledger {
    double *alloc;     /* by queue index */
    bool *from_status; /* the figure is the Queue's status */
    size_t n;
} gf_quota_ledger;

void gf_quota_ledger_init(gf_quota_ledger *l, const gf_model *m);
void gf_quota_ledger_free(gf_quota_ledger *l);
/* gf_quota_upsize() against the ledger; when not blocked and charge, the
 * upsize's GPUs are added to the ledger. */
bool gf_quota_upsize_ledger(const gf_model *m, gf_quota_ledger *l, uint32_t wi, double old_pod_gpus,
                            double new_pod_gpus, bool charge, gf_quota_check *out);

/* A downsize of workload wi from old_pod_gpus to new_pod_gpus per pod is a
 * one-way door when its queues could not fund the way back: once it is
 * done, an upsize back to old_pod_gpus adds R x (old - new) + S x new
 * (gf_quota_delta) to what the downsize leaves, so it is refused when the
 * queues hold now, plus S x new, more than a quota (for a StatefulSet, S =
 * 0: when a queue is over its quota now). Such a queue admits no upsize of
 * the workload later however its demand grows (KAI leaves the new pods
 * Pending), so a downsize below a later peak OOMs for good: measured in
 * docs/benchmarks.md (the built-in mix's seed 1); policy
 * downsize.holdOneWay holds such downsizes. Fills out as
 * gf_quota_upsize() does (delta_gpus: S x new); false for a preemptible
 * workload, one without a queue in the input, or anything but a downsize. */
bool gf_quota_downsize_one_way(const gf_model *m, uint32_t wi, double old_pod_gpus,
                               double new_pod_gpus, gf_quota_check *out);

/* The one-way test's figure: what an upsize of R replicas back from
 * new_pod_gpus adds over what the queues hold before the downsize,
 * S x new (S = gf_quota_surge_pods()); for callers with their own
 * allocations (the simulator), to give gf_quota_walk(). */
double gf_quota_way_back(const gf_workload *w, uint32_t replicas, double new_pod_gpus,
                         int32_t *surge_pods);

/* "downsize held: a one-way door: queue Q quota 2.50 GPUs, allocated 2.60
 * non-preemptible (from the pods): KAI would admit no upsize back" */
void gf_quota_one_way_text(const gf_model *m, const gf_quota_check *q, char *buf, size_t n);

/* "blocked by queue quota: queue Q (parent of ...) quota 2.50 GPUs,
 * allocated 2.10 non-preemptible (Queue status), +1.00 with the rollout's
 * surge (1 new pod before an old one goes)" into buf. */
void gf_quota_text(const gf_model *m, const gf_quota_check *q, char *buf, size_t n);

#endif
