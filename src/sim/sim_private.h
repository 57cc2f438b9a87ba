/* sim_private.h - what the simulator's step loop (sim.c) shares with its
 * accounting (sim_account.c): the simulated pods and services, the
 * simulator itself, and one policy's run. Not a public API. */
#ifndef GF_SIM_PRIVATE_H
#define GF_SIM_PRIVATE_H

#include "sim/sim.h"
#include "sim/sim_fairuse.h"

#include <stdbool.h>
#include <stdint.h>

#define MIB 1048576.0
/* harm over time: OOM kills, throttled, pending, resizes, moves (sim_account.c) */
#define GF_SIM_HARM_KINDS 5
#define EPS 1e-9

/* A simulated pod: W's pod of the same index. */
typedef struct spod {
    uint32_t service; /* GF_NONE: not a service pod */
    uint32_t salt;    /* replica number within its service */
    uint32_t pool;    /* W pool index it is placed in */
    bool gpu;         /* uses GPUs */
    bool placeable;   /* fits some node of an empty cluster */
    /* declared request */
    gf_share_kind share;
    double fraction;
    int64_t memory_mib;
    uint32_t whole, devices;
    /* placement in the cluster (GF_NONE: pending there) */
    uint32_t src_node;
    uint32_t src_first, src_n; /* into gf_sim.src_gpus */
} spod;

typedef struct service {
    gf_sim_service pub;
    char *key;         /* "namespace/Kind/name", the history key */
    uint32_t first, n; /* its pods: gf_sim.svc_pods[first .. first+n) */
    gf_rightsize_rule rule;
    bool rightsized_gpufrac, rightsized_vpa;
    bool converted_gpufrac;   /* whole GPUs: gpufrac may convert it (convert.fromWholeGpu) */
    const char *scheduler;    /* its first pod's schedulerName (borrowed from the model) */
    double engine_base_bytes; /* its pod's gpufrac.io/engine-base-memory, 0 when unsaid */
    uint32_t pool;
} service;

struct gf_sim {
    gf_sim_opts o;
    gf_model w;
    uint32_t n_src_nodes;
    bool *cordoned; /* per W node: unschedulable in the cluster */
    bool *spare;    /* per W node */
    GF_VEC(spod) pods;
    GF_VEC(uint32_t) src_gpus;
    GF_VEC(service) services;
    GF_VEC(gf_sim_service) pub; /* the public view of services */
    uint32_t *svc_pods;         /* service pods, grouped by service */
    uint32_t n_svc_pods;
    double *scales, *replicas;
    uint32_t n_steps;
    uint32_t *pool_max_gpus; /* per W pool: GPUs of its largest node */
    uint32_t gpu_nodes_src, gpus_src, spares;
    gf_sim_fairuse *fu; /* protection installed by gf_sim_new, NULL when off */
};

/* --- one policy's run --------------------------------------------------------------------- */

/* A clairvoyant baseline's planned allocation of service si from step on. */
typedef struct cv_change {
    uint32_t step, service;
    double fraction; /* unit FRACTION */
    int64_t mib;     /* unit MEMORY */
} cv_change;

/* gpufrac: a resize being watched for a stall, and what it replaced. */
typedef struct sim_watch {
    double since; /* the resize; < 0: nothing watched */
    gf_share_kind unit;
    double fraction;
    int64_t mib;
    bool stalled; /* stalled once: never resized again */
} sim_watch;

/* A pod's GPU request (what set_request writes). */
typedef struct sim_req {
    gf_share_kind share;
    double fraction;
    int64_t mib;
    uint32_t whole;
} sim_req;

typedef struct run {
    gf_sim *s;
    gf_model *w;
    const gf_demand *d;
    gf_sim_policy pol;
    gf_sim_result *res;
    gf_sim_report *rep;
    gf_pack_state *ps;
    double t;
    uint32_t step;
    /* per pod */
    gf_sim_pod_state *state;
    gf_placement *pl;
    double *ready_t;
    uint64_t *failed_epoch;    /* capacity epoch of the last failed placement, 0 = none */
    double *mem, *sm, *served; /* this step's demand per device; SM served */
    double *nvml;              /* memory the exporter sees per device (sim.h Engines) */
    double *kv_use;            /* preallocating: KV pool in use, 0..1 (NaN: not one) */
    double *kv_wait;           /* and requests waiting for KV blocks (a count) */
    double *kv_preempt;        /* and requests preempted per second */
    double *high_water;        /* high-water engines: peak need since the pod started */
    bool *starved;             /* preallocating: KV short this step */
    bool *oom;
    /* rollouts (sim.c, "rollouts"): per pod (replica) */
    bool *todo;                  /* still on its service's previous version, to be replaced */
    bool *has_old;               /* its previous pod still holds old_pl and serves (a surge) */
    gf_placement *old_pl;        /* that pod's placement */
    sim_req *old_req;            /* and its request */
    gf_sim_pod_state *new_state; /* scratch: the new pod's state while the old one serves */
    /* per node */
    bool *on;
    double *boot_until;
    uint64_t epoch;                /* bumped when capacity is freed or a node comes into service */
    uint32_t warm_steps;           /* steps before GPUs and nodes are measured */
    int64_t gpus_on, gpu_nodes_on; /* GPU nodes in service and their GPUs */
    bool *listed;                  /* per pod: in unsettled */
    GF_VEC(uint32_t) unsettled;    /* the pods not running, in the order they stopped */
    /* per service */
    gf_share_kind *unit;
    double *fraction;
    int64_t *mib;
    bool *oom_now;
    bool *rolling;       /* a rollout in progress */
    uint32_t *whole;     /* whole GPUs per pod now, 0 once on a fraction */
    sim_watch *watch;    /* gpufrac: the rollout of its last resize (NULL for others) */
    gf_demand_point *pt; /* this step's demand shared by each service's replicas */
    gf_history h;
    gf_hist_series **series;
    /* per GPU, this step: running service pods (CSR) */
    uint32_t *gpu_start, *gpu_pods;
    double *gpu_sm; /* SM demand sum */
    /* series accumulation */
    double *acc_alloc, *acc_gpus, *acc_use, *acc_top_alloc, *acc_top_use;
    uint32_t *acc_n;
    double *heat_sum;  /* [gpu * cols + col] */
    uint32_t *heat_on; /* steps in service */
    bool heat;
    /* the report's charts and per-workload table (sim_account.c) */
    double *gpu_use;                     /* per GPU, this step: the share its service pods used */
    double *heat_use_sum;                /* [gpu * cols + col] */
    double *acc_harm;                    /* [GF_SIM_HARM_KINDS * n_points]: harm per point */
    double harm_prev[GF_SIM_HARM_KINDS]; /* the counters at the end of the previous step */
    uint32_t count_from;                 /* first step counted (the cold start's end, else 0) */
    /* clairvoyant baselines: the plan, by step, and the next change due */
    GF_VEC(cv_change) cv;
    size_t cv_next;
    uint32_t hold_steps;   /* cold start: no rightsizing before this step */
    gf_sim_result at_hold; /* the counters when it ended, subtracted at the end */
} run;

/* Whether the engines turn d's memory into NVML memory (sim.h Engines):
 * opts.engines, on built-in and trace demand or a table marked as needs. */
static inline bool gf_sim_engines_apply(const gf_sim *s, const gf_demand *d)
{
    return s->o.engines && (d->kind != GF_DEMAND_TABLE || d->table_need);
}

/* Pod i is not (or no longer) running: the step loop looks after it. */
void gf_sim_unsettle(run *r, uint32_t i);

/* The service pods' demand this step, harm, samples. */
void gf_sim_serve(run *r);
/* The oracle: allocation = demand, no placement; GPUs and nodes as a fluid
 * bound per pool. */
void gf_sim_oracle_step(run *r, double *pool_need);
/* This step's GPUs, nodes, allocation and use into the result and series. */
void gf_sim_accumulate(run *r, const double *pool_need);

/* The report's charts and per-workload table: buffers for one policy's run
 * (before its first step), its harm at the end of each step, a workload
 * resized, the heat map's use of GPU g as row `row`, and the final
 * allocations and series (after the last step). Freed by gf_sim_charts_free. */
void gf_sim_charts_begin(run *r);
void gf_sim_charts_step_end(run *r);
void gf_sim_charts_resized(run *r, uint32_t si);
/* The heat map's GPUs: every GPU ever in service, or, when more than
 * max_rows were, the max_rows longest in service (ties: model order).
 * Returns a flag per model GPU (free() it), *rows how many are set; sets
 * report.heat_gpus. */
bool *gf_sim_charts_heat_pick(run *r, uint32_t max_rows, uint32_t *rows);
void gf_sim_charts_heat_row(run *r, size_t g, uint32_t row);
void gf_sim_charts_end(run *r);
void gf_sim_charts_free(run *r);

#endif
