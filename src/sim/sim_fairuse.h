/* sim_fairuse.h - fair-use protection in the simulator: a gf_sim_fairuse_fn
 * driven by the fair-use engine (decide/fairuse.h).
 *
 * Each step, for every shared GPU whose pods' SM demand sums past 1 (the
 * only case where time-slicing starves anyone), the GPU is observed as the
 * exporter would see it under plain time-slicing (gf_fair_state_add_demand_gpu)
 * and gf_fair_step runs with a tracker of its own, so a condition has to hold
 * for fairUse.hogWindow. In mode act, a compute-hog finding is answered by
 * enforcing fair shares of compute on that GPU (gf_fair_serve: MPS
 * active-thread or HAMi core limits, which KAI itself does not set); the
 * limits stay for the rest of the run. Each such enforcement is one fair-use
 * action, within fairUse.maxActionsPerHour over the whole simulated cluster
 * (per simulated policy). Memory overruns cannot be seen here: a simulated
 * pod above its memory allocation is OOM-killed before the hook runs.
 *
 * State is kept per simulated policy and per GPU; gf_sim_fairuse_reset
 * clears it (gf_sim_run does before each run). Deterministic. */
#ifndef GF_SIM_FAIRUSE_H
#define GF_SIM_FAIRUSE_H

#include "model/model.h"
#include "decide/policy.h"
#include "sim/sim.h"

typedef struct gf_sim_fairuse gf_sim_fairuse;

/* A protection context for the GPUs of model m (the simulator's model,
 * gf_sim_model; borrowed, it must outlive the context). fp is copied.
 * Free with gf_sim_fairuse_free(). */
gf_sim_fairuse *gf_sim_fairuse_new(const gf_fair_policy *fp, const gf_model *m);
void gf_sim_fairuse_free(gf_sim_fairuse *f); /* accepts NULL */
/* Forgets trackers, limits and the action ledger. */
void gf_sim_fairuse_reset(gf_sim_fairuse *f);
/* The hook (ctx: a gf_sim_fairuse). Sets g->actions. */
void gf_sim_fairuse_hook(void *ctx, gf_sim_gpu_share *g);

#endif
