/* sim.h - a trace-driven discrete-time simulator of a KAI cluster under
 * GPU-sharing policies: validate a rightsizing policy before automating it.
 *
 * A cluster (a finalized model: a snapshot, or gf_gen_cluster) and per-
 * service demand over time (demand.h) are replayed step by step (default one
 * minute) under several policies, on the same demand:
 *   one-gpu-per-container  every GPU pod holds whole GPUs (one per device);
 *   static                 fractions as declared, never changed;
 *   vpa-style              a percentile recommender as VPA's: p90 of the
 *                          usage history's memory + 15% margin, applied in
 *                          both directions once a day of history exists,
 *                          no fast upsize (see vpa_target in sim.c);
 *   gpufrac                the rightsizing policy given (gf_recommend_one
 *                          per workload, the code `gpufrac recommend` runs),
 *                          mode recommend simulated as auto: what automating
 *                          it would do; mode off leaves a workload alone;
 *   clairvoyant-static     each rightsized workload gets, for the whole
 *                          run, its own true peak need (memory; SM too
 *                          where its rule is computeAware), known in
 *                          advance, rounded as gpufrac rounds (the rule's
 *                          step, min and max fraction, MiB step); never
 *                          resized: the best a static guess can be;
 *   clairvoyant-daily      the same, re-sized once a day at the
 *                          workload's daily trough to the peak until the
 *                          next day's trough: the best a once-a-day
 *                          resizer can be (it pays the restarts);
 *   oracle                 allocation = demand at every step, no harm: a
 *                          fluid lower bound on reserved GPU-hours that no
 *                          system which restarts pods to resize can reach
 *                          (it places nothing).
 *
 * Each step, per policy:
 *   - pods that are due finish (re)starting; pending pods are retried with
 *     the packing engine (gf_pack_place, binpack by default); when no node
 *     in service fits, a node of the pod's pool and GPU model is brought in
 *     (cluster-autoscaler style: spare copies of the pool's largest node,
 *     ready after node_boot_s; pods wait on it as pending);
 *   - each running service pod's demand (memory and SM share per device) is
 *     compared with its allocation: memory above it is an OOM kill (the pod
 *     restarts, restart_s); SM share above its fraction on a contended GPU
 *     (the pods' SM demand there sums past 1) is a throttled minute; pods
 *     within their fraction slowed by such neighbours count apart (what
 *     fair-use protection, issue 8, addresses: see gf_sim_fairuse_fn);
 *   - usage is sampled as the exporter would (per pod per device: memory
 *     bytes, SM share actually served) into the policy's gf_history;
 *   - the recommender runs every recommend_every_s (and, for gpufrac, at
 *     once for a workload that was OOM-killed: the controller watches pod
 *     events); a resize recreates the workload's pods (KAI needs new pods
 *     for a new fraction): their old capacity is released, each new pod is
 *     placed by the packing engine and starts after restart_s;
 *   - every consolidate_every_s, gf_consolidate plans drains on the
 *     simulated cluster within the disruption budget; its moves are
 *     executed (the pods restart elsewhere) and drained nodes go out of
 *     service.
 * Harm: OOM kills, throttled minutes, pending minutes (not placed, or
 * waiting for a node), restarts caused by resizes and by moves, and for
 * preallocating engines the minutes their KV cache is short.
 *
 * Engines (opts.engines; model/engine.h, detected from each service's pod
 * spec as inspect does; built-in and trace demand, and a table marked
 * table_need: recorded usage is NVML memory already): the demand is what a pod needs (weights + KV
 * cache and activations); what the exporter sees of it depends on the engine class: generic NVML
 * memory = the need; preallocating   NVML memory = its cap, flat (cap_ratio x the fraction it
 *                   holds: $(GPU_PORTION) follows the fraction, a literal cap
 *                   is patched with it); a need above the cap is not an OOM
 *                   but a KV cache too small: requests wait and running ones
 *                   are preempted (kv_starved_min, preemptions); weights
 *                   above the cap, or a cap above the share, are OOM kills;
 *   high-water      NVML memory = the highest need since the pod started
 *                   (PyTorch's caching allocator): it falls only on a new
 *                   pod (a resize, a move, an OOM restart).
 *
 * Services are the workloads whose pods hold a KAI share (gpu-fraction or
 * gpu-memory); every other pod (whole-GPU, CPU-only) is placed and moved
 * too but has no demand. KAI reservation pods are implied by the shares.
 * Deterministic: the same cluster, demand and options give the same report.
 * Pure: no I/O, no clock (progress is reported through a callback). */
#ifndef GF_SIM_H
#define GF_SIM_H

#include "decide/consolidate.h"
#include "sim/demand.h"
#include "decide/history.h"
#include "decide/policy.h"
#include "model/engine.h"
#include "model/sample.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum gf_sim_policy {
    GF_SIM_ONE_GPU,
    GF_SIM_STATIC,
    GF_SIM_VPA,
    GF_SIM_GPUFRAC,
    GF_SIM_CLAIRVOYANT_STATIC,
    GF_SIM_CLAIRVOYANT_DAILY,
    GF_SIM_ORACLE,
    GF_SIM_NPOLICIES
} gf_sim_policy;

#define GF_SIM_ALL_POLICIES ((1u << GF_SIM_NPOLICIES) - 1u)

/* "one-gpu-per-container", "static", "vpa-style", "gpufrac", "clairvoyant-static",
 * "clairvoyant-daily", "oracle". */
const char *gf_sim_policy_name(gf_sim_policy p);

/* What a fair-use hook sees of one GPU with running service pods, each step.
 * sm_served comes filled with the default (time-slicing: every pod gets
 * demand / max(1, sum of demands)); the hook may rewrite it, e.g. to cap
 * pods above their fraction so that those within theirs are served in
 * full. Served values are clamped to [0, demand] and scaled down if their
 * sum passes 1. */
typedef struct gf_sim_gpu_share {
    gf_sim_policy policy;
    double t;            /* unix seconds */
    uint32_t gpu;        /* GPU index in the simulator's model (gf_sim_model) */
    uint32_t n;          /* pods running on it */
    const uint32_t *pod; /* their pod indices in that model */
    const double *alloc; /* fraction of this GPU each holds */
    const double *sm_demand;
    const double *mem_demand; /* fraction of this GPU's memory */
    double *sm_served;        /* in/out */
    uint32_t actions;         /* out: fair-use actions taken (counted in fairuse_actions) */
} gf_sim_gpu_share;

typedef void (*gf_sim_fairuse_fn)(void *ctx, gf_sim_gpu_share *g);

/* Fair-use protection when no hook is given (sim/sim_fairuse.h): the
 * fair-use engine watches every shared GPU and, for a compute hog that
 * starves a GPU-mate, enforces fair shares of compute there. */
typedef enum gf_sim_fair {
    GF_SIM_FAIR_POLICY = 0, /* as the policy's fairUse.mode: act protects, report/off do not */
    GF_SIM_FAIR_OFF,        /* plain time-slicing */
    GF_SIM_FAIR_ACT         /* protect, whatever the policy's mode */
} gf_sim_fair;

/* Read-only view of one policy's state after a step, for observers (tests
 * check conservation with it). */
typedef enum gf_sim_pod_state {
    GF_SIM_POD_RUNNING,
    GF_SIM_POD_STARTING, /* placed, (re)starting: new pod, OOM restart, move */
    GF_SIM_POD_WAITING,  /* placed on a node still booting: pending */
    GF_SIM_POD_PENDING   /* not placed */
} gf_sim_pod_state;

#define GF_SIM_MAX_KEPT 12

typedef struct gf_sim_step_view {
    gf_sim_policy policy;
    uint32_t step;
    double t;
    uint32_t n_pods;         /* the simulated pods (model pods index them) */
    const uint32_t *pod;     /* model pod index of each */
    const uint32_t *service; /* service index of each, GF_NONE for non-services */
    const gf_sim_pod_state *state;
    const gf_placement *placement; /* valid unless PENDING */
    const double *gpu_allocated;   /* per model GPU: allocated fraction (the packer's view) */
    const bool *node_in_service;   /* per model node */
    /* per pod: its previous pod still holds old_placement and serves while
     * the new one starts (a rolling update's surge) */
    const bool *old_serving;
    const gf_placement *old_placement; /* valid where old_serving */
} gf_sim_step_view;

typedef void (*gf_sim_observe_fn)(void *ctx, const gf_sim_step_view *v);
typedef void (*gf_sim_progress_fn)(void *ctx, gf_sim_policy p, double done);

typedef struct gf_sim_opts {
    double start_t;                 /* unix seconds of step 0 */
    double step_s;                  /* default 60 */
    double duration_s;              /* default 7 days */
    uint32_t policies;              /* bit mask of (1 << gf_sim_policy); default all */
    const gf_policy *policy;        /* gpufrac's; NULL = built-in defaults */
    gf_scorer scorer;               /* placement, default binpack */
    double restart_s;               /* a pod's (re)start until it serves, default 120 */
    double node_boot_s;             /* a new node until it takes pods, default 300 */
    double recommend_every_s;       /* default 300 (at least one step) */
    double consolidate_every_s;     /* default 3600; 0 = never */
    double warmup_s;                /* GPUs and nodes (peak, mean) are measured after this,
                                       once the cluster as found is consolidated: default 6 h
                                       (all of a run no longer than it) */
    double cold_start_s;            /* a rollout's cold start: before this, vpa-style and
                                       gpufrac collect history and change nothing, and every
                                       figure (GPU-hours, harm, actions; GPUs and nodes as for
                                       warmup_s, which it raises to itself) is counted from it
                                       on; default 0 (counted from the start) */
    uint32_t consolidate_max_nodes; /* drains per run, default 4 (0 = no limit) */
    uint32_t consolidate_max_moves; /* pod moves per workload per run, default 1 */
    double spare_nodes;             /* autoscaler: spare nodes per pool and GPU model, as a
                                       share of its nodes (rounded up), default 1.0 */
    uint32_t top_services;          /* report series for the largest services, default 6 */
    uint32_t max_points;            /* time-series points, default 2000 */
    uint32_t heat_columns;          /* heat-map time columns, default 168 */
    uint32_t heat_rows;             /* heat-map GPUs at most, default 160 */
    gf_sim_policy heat_policy;      /* whose GPUs the heat-map shows, default gpufrac */
    bool check;                     /* verify invariants each step (tests): GF_EINTERNAL */
    gf_sim_fairuse_fn fairuse;      /* NULL = time-slicing, or protection per fair_use */
    void *fairuse_ctx;
    gf_sim_fair fair_use;      /* without a hook: protection on or off (default: the policy's) */
    bool engines;              /* model the engines' memory (see Engines above); default off:
                                  every service's NVML memory is its need */
    bool engines_blind;        /* with engines: the recommender is not told them (a baseline:
                                  rightsizing on NVML memory, as before engine rules) */
    gf_sim_observe_fn observe; /* NULL = none */
    void *observe_ctx;
    gf_sim_progress_fn progress; /* called about 100 times per policy */
    void *progress_ctx;
    /* When not NULL: an initialised, empty history that receives the
     * gpufrac policy's usage history at the end of the run (keys
     * "namespace/Kind/name", as gpufrac recommend reads them), so that it can
     * be saved (SQLite) and recommended from like a real cluster's. */
    gf_history *keep_history;
} gf_sim_opts;

void gf_sim_opts_default(gf_sim_opts *o);

/* A simulated service: a workload whose pods hold a KAI share. */
typedef struct gf_sim_service {
    const char *ns, *kind, *name; /* kind NULL: an unowned pod (never resized) */
    uint32_t workload;            /* index in the simulator's model, GF_NONE when unowned */
    uint32_t pods;                /* replicas */
    gf_share_kind unit;           /* declared: GF_SHARE_FRACTION or GF_SHARE_MEMORY */
    double fraction;              /* declared per device (gpu-memory converted) */
    int64_t memory_mib;           /* declared gpu-memory */
    uint32_t devices;
    int64_t gpu_memory_mib; /* of its GPUs (its pool's) */
    bool placeable;         /* fits on some node of the cluster when empty */
    uint32_t whole;         /* whole GPUs per pod (nvidia.com/gpu), 0 for a KAI share: its
                               demand is drawn against one whole GPU per device */
    gf_engine_info engine;  /* of its first pod (model/engine.h gf_engine_detect) */
    double cap_ratio;       /* preallocating: cap / declared fraction (1: follows it) */
} gf_sim_service;

typedef struct gf_sim gf_sim;

/* Prepares a simulation of the finalized cluster (not changed; it may be
 * freed afterwards). GF_EUSAGE for options out of range (err names the
 * option), GF_EINPUT for a cluster without GPU nodes or services. Free with
 * gf_sim_free(). */
gf_err gf_sim_new(const gf_model *cluster, const gf_sim_opts *o, gf_sim **out, gf_error *err);
void gf_sim_free(gf_sim *s); /* accepts NULL */

/* The services, in order; demand series i drives service i. */
size_t gf_sim_services(const gf_sim *s, const gf_sim_service **out);
/* Declared allocation per device of each service (fraction of one GPU), for
 * gf_demand_builtin / gf_demand_trace: *out has gf_sim_services() entries,
 * owned by s. */
const double *gf_sim_scales(const gf_sim *s);
/* Replicas per service, for gf_demand_measure. Owned by s. */
const double *gf_sim_replicas(const gf_sim *s);
/* The demand options matching the simulation (start, step, steps). */
void gf_sim_demand_opts(const gf_sim *s, uint64_t seed, gf_demand_opts *o);
/* The simulator's model: the cluster plus spare nodes (read-only). */
const gf_model *gf_sim_model(const gf_sim *s);

/* A demand table from usage samples (what `gpufrac recommend --usage`
 * reads): each sample goes to the service of its pod (by namespace and name;
 * else the service whose workload name, followed by '-', starts the pod's
 * name, the longest), at step floor((t - start_t) / step_s) of a table that
 * starts at the earliest sample and covers the samples' span (repeated when
 * the simulation is longer). Memory bytes become a fraction of the
 * service's GPU. *unmatched counts samples of no service; *empty the
 * services without samples (they stay idle). GF_EINPUT when no sample
 * matches. The simulation's start time becomes the table's. */
gf_err gf_sim_demand_from_usage(gf_sim *s, const gf_usage_sample *v, size_t n, gf_demand *d,
                                size_t *unmatched, size_t *empty, gf_error *err);

/* --- results ------------------------------------------------------------------------ */

/* A gpufrac resize whose new pods could not all be placed within the
 * rule's stallTimeout (the controller's "rollout stalled", cause
 * pending_timeout): with onStall revert the previous allocation is restored,
 * and the service is not resized again either way. */
typedef struct gf_sim_stall {
    uint32_t service;   /* index (gf_sim_services) */
    char workload[160]; /* "namespace/name" */
    double t;           /* unix seconds it was found */
    double from, to;    /* the resize, fractions of one GPU per device */
    bool reverted;
} gf_sim_stall;

#define GF_SIM_MAX_STALLS 8 /* stalls listed; all are counted */
#define GF_SIM_MAX_BLOCKED 16

/* An upsize KAI's queue quota stopped (its first time). */
typedef struct gf_sim_blocked {
    uint32_t service;
    char name[200];  /* "namespace/Kind/name" */
    char queue[128]; /* the queue over quota */
    double t;        /* when */
    double quota_gpus, allocated_gpus, delta_gpus;
    double from_fraction, to_fraction; /* per device */
} gf_sim_blocked;
/* One service under one policy (the report's per-workload table), counted
 * like the policy's totals (from the cold start on). */
typedef struct gf_sim_svc_result {
    double gpu_hours_reserved; /* its pods' allocations held x time */
    uint64_t ooms;
    double throttled_min, pending_min; /* pod-minutes */
    uint32_t resizes;                  /* workload resizes applied */
    /* its allocation per pod at the end of the run */
    gf_share_kind unit; /* GF_SHARE_FRACTION or GF_SHARE_MEMORY */
    double fraction;    /* unit FRACTION; for MEMORY: memory_mib of its GPU */
    int64_t memory_mib; /* unit MEMORY */
    uint32_t whole;     /* whole GPUs per pod, 0 on a share */
} gf_sim_svc_result;

typedef struct gf_sim_result {
    bool ran;
    double gpu_hours_reserved;    /* services' allocations held (placed pods) x time */
    double gpu_hours_used;        /* services' demand served (max of memory, SM) x time */
    double gpu_hours_provisioned; /* GPUs of GPU nodes in service x time */
    double gpus_peak, gpus_mean;  /* GPUs of GPU nodes in service after the warm-up (oracle:
                                     a fluid bound) */
    double nodes_peak, nodes_mean;
    uint64_t ooms;              /* OOM kills */
    double throttled_min;       /* pod-minutes with SM demand above the fraction, contended */
    double neighbour_min;       /* pod-minutes within the fraction yet slowed by neighbours */
    double pending_min;         /* pod-minutes not placed or waiting for a node */
    double unavailable_min;     /* pod-minutes not serving (pending, starting, restarting) */
    double surge_min;           /* pod-minutes of rollouts' surge: a new pod created (placed
                                   or pending) while the old one still serves */
    double kv_starved_min;      /* preallocating engines: pod-minutes whose need passed the cap
                                   (KV cache short: requests wait, running ones are preempted) */
    uint64_t preemptions;       /* such spells begun (a pod's first short minute after one
                                   that was not) */
    uint64_t nvml_flat_upsizes; /* gpufrac upsizes of a preallocating engine decided by NVML
                                   memory (recommend.h decided_by memory or peak-floor) */
    uint64_t prealloc_upsizes, prealloc_downsizes; /* resizes of preallocating engines */
    uint64_t restarts_resize, restarts_move;
    uint64_t resizes, upsizes, downsizes; /* workload resizes applied */
    uint64_t moves, nodes_drained, nodes_added, consolidations;
    /* the hourly plans, counted from the cold start's end: drains planned,
     * not executed for the disruption budget (consolidate_max_nodes) or for
     * a rollout's old pod on the node, and the GPU nodes the planner kept
     * (node x plan), by its reason (consolidate.h gf_node_verdict) */
    uint64_t drains_planned, drains_capped, drains_rollout;
    struct {
        const char *reason; /* static text, NULL: unused */
        uint64_t nodes;
    } kept[GF_SIM_MAX_KEPT];
    uint64_t fairuse_actions;        /* fair-use actions (hooks' gf_sim_gpu_share.actions) */
    double resizes_per_workload_day; /* over rightsized workloads */
    uint32_t rightsized_workloads;
    uint32_t conversions; /* whole-GPU services moved onto a fraction (decide/convert.h) */
    uint32_t stalls;      /* gpufrac resizes that stalled (gf_sim_stall) */
    gf_sim_stall stall_list[GF_SIM_MAX_STALLS]; /* the first ones */
    /* upsizes of non-preemptible services their KAI queue (or a parent)
     * could not fund, the rollout's surge included (decide/quota.h): not
     * applied. quota_blocked counts attempts; blocked lists the first
     * GF_SIM_MAX_BLOCKED services, each once */
    uint64_t quota_blocked;
    /* gpufrac's downsizes held because the service's queues could not fund
     * the way back (decide/quota.h gf_quota_downsize_one_way), attempts */
    uint64_t quota_held_downsizes;
    uint32_t n_blocked;
    gf_sim_blocked blocked[GF_SIM_MAX_BLOCKED];
    /* time series, report.n_points each */
    float *alloc;     /* services' allocation held, GPUs */
    float *gpus;      /* GPUs in service */
    float *top_alloc; /* [top * n_points]: each top service's allocation, GPUs */
    /* harm over time, report.n_points each: the sum over the point's steps
     * (zero before the cold start ends), so each series sums to its total */
    float *harm_ooms;       /* OOM kills (ooms) */
    float *harm_throttled;  /* throttled pod-minutes (throttled_min) */
    float *harm_pending;    /* pending pod-minutes (pending_min) */
    float *harm_resizes;    /* workload resizes (resizes) */
    float *harm_moves;      /* consolidation moves (moves) */
    gf_sim_svc_result *svc; /* [report.services], in service order */
} gf_sim_result;

/* A service as the report names it, with its declared allocation. */
typedef struct gf_sim_svc_info {
    char *name; /* "namespace/name", owned */
    uint32_t pods, devices;
    gf_share_kind unit; /* declared */
    double fraction;    /* declared per device (gpu-memory converted) */
    int64_t memory_mib; /* declared gpu-memory */
    uint32_t whole;     /* declared whole GPUs per pod */
    double peak_need;   /* the largest demand of one pod on one device over the run (max of
                           memory and SM share), a fraction of the GPU */
    double peak_memory; /* the same, memory only */
} gf_sim_svc_info;

typedef struct gf_sim_report {
    double start_t, step_s, duration_s;
    uint32_t n_steps;
    uint32_t services, service_pods, gpu_nodes, gpus; /* the cluster at the start */
    uint32_t whole_services;     /* of services: holding whole GPUs at the start */
    uint32_t engine_services[3]; /* of services, by engine class (gf_engine_memory): generic,
                                    preallocating, high-water (all generic when the engines
                                    do not apply) */
    uint32_t spare_nodes;
    gf_demand_kind demand_kind;
    gf_demand_mix mix;
    gf_sim_result policy[GF_SIM_NPOLICIES];
    /* time series: point i covers steps [i*steps_per_point, (i+1)*steps_per_point) */
    uint32_t n_points, steps_per_point;
    float *use; /* services' demand, GPUs (the same for every policy) */
    uint32_t n_top;
    uint32_t *top;   /* service indices */
    char **top_name; /* "namespace/name", owned */
    float *top_use;  /* [top * n_points] */
    /* heat-map of heat_policy: rows GPUs, columns time; 0..100 = % of the
     * GPU allocated (mean over the column), 255 = not in service */
    gf_sim_policy heat_policy;
    uint32_t heat_rows, heat_cols, steps_per_col;
    uint32_t heat_gpus; /* GPUs ever in service: the rows are the first heat_rows of them */
    char **heat_label;  /* "node/GPU", owned */
    uint8_t *heat;      /* [row * heat_cols + col] */
    /* ... and the share of the GPU its pods used (served: the max of memory and SM per pod,
     * summed), 0..200 %, 255 where heat is */
    uint8_t *heat_use;    /* [row * heat_cols + col] */
    gf_sim_svc_info *svc; /* [services] */
} gf_sim_report;

/* One row of the per-workload table (the HTML report's, `simulate`'s text
 * and JSON): service si under `policy` (gpufrac when it ran, else the
 * first policy that ran other than the oracle) against static. */
typedef enum gf_sim_risk { GF_SIM_RISK_LOW, GF_SIM_RISK_MEDIUM, GF_SIM_RISK_HIGH } gf_sim_risk;

typedef struct gf_sim_workload_row {
    uint32_t service;
    gf_sim_policy policy;
    const gf_sim_svc_info *info;
    const gf_sim_svc_result *final; /* under policy */
    double final_share;             /* final allocation per device, a fraction of the GPU */
    double headroom;                /* final_share - info->peak_need */
    gf_sim_risk risk;               /* high: OOM kills, or the final allocation below the peak
                                       memory (the peak, back, is an OOM kill); medium:
                                       throttled minutes, or headroom under 0.05 (SM above the
                                       allocation is throttled, not killed); low: neither */
    bool has_static;
    double static_gpu_hours, saved_gpu_hours; /* static's reserved, and static's - policy's */
} gf_sim_workload_row;

/* "low", "medium", "high". */
const char *gf_sim_risk_name(gf_sim_risk r);
/* The table's policy, GF_SIM_NPOLICIES when none ran. */
gf_sim_policy gf_sim_workload_policy(const gf_sim_report *r);
void gf_sim_workload_row_get(const gf_sim_report *r, uint32_t si, gf_sim_workload_row *out);
/* The services by GPU-hours saved, largest first (then by index): *order
 * gets r->services indices, allocated, free() it. */
void gf_sim_workloads_by_saving(const gf_sim_report *r, uint32_t **order);

/* Runs every policy of the options on the demand (series i = service i).
 * GF_EUSAGE when the demand's series or steps do not match the simulation;
 * GF_EINTERNAL when opts.check finds a broken invariant (err says which).
 * Free the report with gf_sim_report_free() (also after an error). */
gf_err gf_sim_run(gf_sim *s, const gf_demand *d, gf_sim_report *out, gf_error *err);
void gf_sim_report_free(gf_sim_report *r); /* accepts NULL */

#endif
