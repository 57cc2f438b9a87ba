/* pack.h - KAI-aware placement: fit rules and pluggable scorers.
 *
 * A gf_pack_state holds the free capacity of a finalized model (per node CPU
 * and memory, per GPU free fraction) and is changed by placing or removing
 * pods. Fit rules follow what KAI Scheduler and the kube-scheduler filters
 * check before binding:
 *   - node schedulable, taints with NoSchedule/NoExecute tolerated;
 *   - nodeSelector labels present (this covers kai.scheduler/node-pool and
 *     nvidia.com/gpu.product selectors), a required GPU model from affinity;
 *   - node pool: the pool the pod selects (kai.scheduler/node-pool label or
 *     nodeSelector, KAI's SchedulingShard partitioning); a pod selecting
 *     none stays in the pool it runs in, and a new pod goes to "default";
 *   - CPU and memory requests within the node's free allocatable;
 *   - whole-GPU pods need that many idle GPUs; a fractional pod needs
 *     gpu-fraction-num-devices distinct GPUs on one node each with a free
 *     (memory-based) fraction covering its share; gpu-memory pods need the
 *     node's GPU memory to be known;
 *   - a bound pod whose KAI PodGroup requires a topology level stays in its
 *     node's domain at that level (gf_pack_topology_level).
 * Scorers rank feasible (node, GPUs) choices:
 *   binpack - KAI's default: fullest node and fullest GPU first (gpupack);
 *   spread  - KAI's spread: emptiest first (gpuspread);
 *   bestfit - least weighted remaining CPU, memory and GPU after placement;
 *   fgd     - Fragmentation Gradient Descent (Weng et al., USENIX ATC'23):
 *             the choice that least increases the node's expected GPU
 *             fragmentation under the workload's request distribution. */
#ifndef GF_PACK_H
#define GF_PACK_H

#include "model/model.h"

#define GF_PACK_MAX_DEVICES 64
/* Free fractions within this of a request count as fitting (float noise). */
#define GF_PACK_EPS 1e-9

typedef enum gf_scorer {
    GF_SCORE_BINPACK,
    GF_SCORE_SPREAD,
    GF_SCORE_BESTFIT,
    GF_SCORE_FGD
} gf_scorer;

#define GF_SCORER_COUNT 4
const char *gf_scorer_name(gf_scorer s);
/* GF_OK and *out set for "binpack", "spread", "bestfit", "fgd". */
gf_err gf_scorer_parse(const char *name, gf_scorer *out);

/* One class of the workload distribution FGD scores against. */
typedef struct gf_task_class {
    int64_t cpu_milli, memory_bytes;
    uint32_t gpu_whole; /* whole GPUs, or */
    double gpu_share;   /* a fraction of one GPU (0 = CPU-only when gpu_whole = 0) */
    double weight;      /* popularity; weights need not sum to 1 */
    /* GPU models the task may use, as bits of gf_pack_model_bit() (0 = any):
     * on a node of another model the task cannot run, so all of the node's
     * free GPU is a fragment for it (FGD paper, Sec. 4; gpuspec traces) */
    uint64_t model_mask;
} gf_task_class;

/* FGD's classes as a node of one GPU model sees them: the classes that may
 * use the model, masks dropped and equal ones merged, and the weight of those
 * that may not (they see every free GPU of the node as a fragment). */
typedef struct gf_pack_model_classes {
    uint64_t bit; /* gf_pack_model_bit() of the model */
    gf_task_class *classes;
    size_t n;
    double excluded_weight;
} gf_pack_model_classes;

typedef struct gf_pack_state {
    const gf_model *m;
    int64_t *free_cpu_milli;    /* per node */
    int64_t *free_memory_bytes; /* per node */
    double *gpu_free;           /* per GPU: 1 - allocated fraction, >= 0 */
    double *node_gpu_free;      /* per node: sum of its GPUs' gpu_free (kept by apply/remove) */
    /* FGD only */
    gf_task_class *classes;
    size_t n_classes;
    double *node_frag;               /* cached expected fragmentation per node */
    gf_pack_model_classes *by_model; /* one per GPU model among the nodes */
    size_t n_by_model;
    uint32_t *node_model; /* per node: index into by_model */
    double class_weight;  /* sum of the classes' weights */
} gf_pack_state;

/* Free capacity from the model's current allocation: active bound pods'
 * requests (reservation pods included for CPU/memory; their GPU is the
 * shared GPU itself) and each GPU's allocated fraction. Free with
 * gf_pack_state_free(). */
gf_pack_state *gf_pack_state_new(const gf_model *m);
void gf_pack_state_free(gf_pack_state *s); /* accepts NULL */
/* The same with nothing placed: every node's full capacity. */
gf_pack_state *gf_pack_state_new_empty(const gf_model *m);

/* Sets FGD's workload distribution (copied). */
void gf_pack_set_classes(gf_pack_state *s, const gf_task_class *classes, size_t n);
/* The bit of a GPU model (nvidia.com/gpu.product) in class model masks: the
 * model's distinct node products numbered in node order, the first 62 with
 * bits 0..61, any further product bit 62; 0 for NULL (no GPUs or no label);
 * bit 63 for a product no node has. */
uint64_t gf_pack_model_bit(const gf_model *m, const char *product);
/* Builds classes from the model's GPU pods (active or not): identical
 * (cpu, memory, GPU request, allowed GPU models) tuples are merged with their
 * counts as weights.
 * Returns the number of classes; *out is malloc'd, caller frees. */
size_t gf_pack_classes_from_pods(const gf_model *m, gf_task_class **out);

typedef struct gf_placement {
    uint32_t node;
    uint32_t n_gpus;
    uint32_t gpus[GF_PACK_MAX_DEVICES]; /* model GPU indices */
    double share;                       /* fraction taken on each GPU (1 for whole) */
    double score;                       /* lower is better, scorer-specific */
} gf_placement;

/* Static constraints (no capacity): schedulable, taints, selectors, pool,
 * GPU model, the PodGroup's required topology domain. On false, *why (if not NULL) is a static
 * reason. */
bool gf_pack_node_allowed(const gf_model *m, const gf_pod *p, uint32_t node, const char **why);

/* KAI's governance in placement (issue 12). */
/* The SchedulingShard of the node pool named pool (the shard whose
 * partitionLabelValue is the pool; one without a value covers the default
 * pool), or NULL. */
const gf_shard *gf_pack_pool_shard(const gf_model *m, const char *pool);
/* The scorer to place p with when the caller asks for requested: where the
 * caller keeps KAI's default (binpack) and the pod's pool has a shard, the
 * shard's strategy (placementStrategy.gpu for GPU pods, .cpu for others;
 * pkg/apis/kai/v1/schedulingshard_types.go); else requested.
 * gf_pack_place() applies it. */
gf_scorer gf_pack_pool_scorer(const gf_model *m, const gf_pod *p, gf_scorer requested);
/* The topology level a bound pod's PodGroup requires: -1 none (or the pod
 * is unbound), -2 required but its Topology (or that level in it) is not in
 * the input, else the level's index in (*topo)->levels. gf_pack_node_allowed()
 * keeps such a pod inside its node's domain ("node is outside the pod's
 * required topology domain"), and off every other node when -2. */
int gf_pack_topology_level(const gf_model *m, const gf_pod *p, const gf_topology **topo);

/* Best GPUs for p on node under the scorer, given current free capacity.
 * False (with *why) when it does not fit. */
bool gf_pack_fit_node(const gf_pack_state *s, const gf_pod *p, uint32_t node, gf_scorer scorer,
                      gf_placement *out, const char **why);
/* The capacity half of gf_pack_fit_node (CPU, memory, GPUs, score), for
 * callers that already know gf_pack_node_allowed() holds for this pod's spec
 * and node (it depends on neither the state nor the pod's own placement). */
bool gf_pack_fit_capacity(const gf_pack_state *s, const gf_pod *p, uint32_t node, gf_scorer scorer,
                          gf_placement *out, const char **why);

/* A lower bound of the score gf_pack_fit_node() would give p on node under
 * the scorer, from the node's free GPU sum alone (-INFINITY when there is no
 * cheap bound, as for FGD). A node whose bound is not below the best score
 * found so far cannot win, so searches skip it without the full fit. */
double gf_pack_score_bound(const gf_pack_state *s, const gf_pod *p, uint32_t node, gf_scorer sc);

/* Best placement over all nodes, skipping nodes for which skip[node] is true
 * (skip may be NULL). Ties go to the lowest node index, so results are
 * deterministic. GF_ENOTFOUND when no node fits. */
gf_err gf_pack_place(const gf_pack_state *s, const gf_pod *p, gf_scorer scorer, const bool *skip,
                     gf_placement *out);

/* Take / give back the capacity of a placement. */
void gf_pack_apply(gf_pack_state *s, const gf_pod *p, const gf_placement *pl);
void gf_pack_remove(gf_pack_state *s, const gf_pod *p, const gf_placement *pl);

/* FGD's expected fragmentation of a node (in GPUs) under the state's classes. */
double gf_pack_node_fragmentation(const gf_pack_state *s, uint32_t node);

#endif
