/* gpustate.h - the per-GPU state fair use and rebalancing look at: each
 * shared GPU with its pods, their allocated fractions and what they use or
 * demand (memory, SM share), as the exporter or a simulator sees it, and the
 * per-device need figures both derive from it.
 *
 * Shared by detection and responses (decide/fairuse.h) and by the move
 * planner (decide/rebalance.h), so neither includes the other for it.
 * Pure: no I/O. */
#ifndef GF_GPUSTATE_H
#define GF_GPUSTATE_H

#include "util/vec.h"
#include "model/model.h"

#include <stdbool.h>
#include <stdint.h>

#define GF_FAIR_MIB 1048576.0

/* One pod on one GPU. NaN means "not known" for every double except
 * fraction. */
typedef struct gf_fair_pod {
    const char *ns, *name; /* borrowed; for explanations */
    uint32_t pod;          /* model pod index; GF_NONE when not from a model */
    double fraction;       /* allocated fraction of this GPU (memory-based) */
    int32_t priority;
    const char *queue;          /* KAI queue, NULL when unknown */
    double memory_bytes;        /* GPU memory it uses now */
    double sm_share;            /* share of the GPU's SM time it gets now, 0..1 */
    double sm_share_mean;       /* mean of sm_share over the hog window */
    double demand_sm;           /* SM share it would use if it had the GPU alone */
    double demand_memory_bytes; /* memory it would allocate if it could */
    double sm_entitlement;      /* its fair SM share; NaN = by the policy's computeShare */
    /* since when conditions hold (unix seconds), for callers without a
     * tracker; NaN = unknown. The tracker overrides them. */
    double memory_over_since, sm_over_since, starved_since;
} gf_fair_pod;

typedef struct gf_fair_gpu {
    uint32_t gpu;     /* model GPU index; GF_NONE when not from a model */
    const char *node; /* borrowed */
    int32_t index;    /* device index on the node */
    double memory_total_bytes;
    double memory_used_bytes;   /* device reading; NaN = the sum of its pods' */
    double sm_util;             /* device SM utilisation 0..1; NaN = sum of pods' shares */
    double window_s;            /* history the pods' sm_share_mean covers; 0 = none */
    uint32_t first_pod, n_pods; /* its pods: state.pods.v[first_pod .. first_pod + n_pods) */
} gf_fair_gpu;

typedef struct gf_fair_state {
    GF_VEC(gf_fair_gpu) gpus;
    GF_VEC(gf_fair_pod) pods; /* grouped per GPU; a multi-device pod once per GPU */
} gf_fair_state;

void gf_fair_state_init(gf_fair_state *st);
void gf_fair_state_free(gf_fair_state *st); /* accepts NULL */
/* A pod with everything unknown (NaN) but the given fields. */
gf_fair_pod gf_fair_pod_blank(const char *ns, const char *name, double fraction);
/* Appends a GPU and then its pods (copied). Returns the GPU's index. */
uint32_t gf_fair_state_add_gpu(gf_fair_state *st, const gf_fair_gpu *g, const gf_fair_pod *pods,
                               uint32_t n_pods);
/* One entry per shared GPU of a finalized model with its active sharing pods
 * (reservation pods excluded): fraction from gf_pod_share_on, priority,
 * queue, names (borrowed from m); memory total from the node's GPU memory;
 * usage unknown. st must be initialised; entries are appended. */
void gf_fair_state_from_model(const gf_model *m, gf_fair_state *st);

/* One GPU of model m as a simulator sees it in a step, appended to st: the
 * pods (model indices) with their allocated fraction, SM demand and memory
 * demand (a share of this GPU's memory) and the SM share served (NULL: the
 * demand, capped so the sum is at most 1). Memory used is the demand (a
 * simulated pod holds what it asks for until it is killed); names,
 * priority and queue come from the model. */
uint32_t gf_fair_state_add_demand_gpu(gf_fair_state *st, const gf_model *m, uint32_t gpu,
                                      uint32_t n, const uint32_t *pods, const double *alloc,
                                      const double *sm_demand, const double *mem_demand,
                                      const double *sm_served);

/* The need figures detection and rebalancing use, per device: memory in
 * bytes (max of used and demanded; the allocation when both are unknown)
 * and SM share (demand, else window mean, else current, else the fraction). */
/* A usable share or amount: finite and not negative. */
bool gf_fair_valid_share(double x);

double gf_fair_need_memory(const gf_fair_pod *p, double memory_total_bytes);
double gf_fair_need_sm(const gf_fair_pod *p);

#endif
