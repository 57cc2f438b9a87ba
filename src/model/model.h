/* model.h - the cluster as KAI Scheduler sees it: nodes, pods, workloads, GPUs.
 *
 * The model is pure data plus the rules that derive GPU sharing from it; it
 * never reads files. Adapters (src/io) fill nodes, pods and workloads with
 * gf_model_add_*(), then gf_model_finalize() resolves references (pod ->
 * node, pod -> owning workload) and groups pods onto physical GPUs:
 *   - a KAI reservation pod (namespace kai-resource-reservation, label
 *     runai-gpu-group=G, annotation run.ai/reserve_for_gpu_index=I) pins
 *     group G to device I of its node;
 *   - sharing pods with label runai-gpu-group=G share that GPU; multi-device
 *     fractions add labels runai-gpu-group/<g>=<g> for their further GPUs;
 *   - whole-GPU pods (nvidia.com/gpu requests) take whole free devices;
 *   - a bound sharing pod without a group label (older KAI) is put on the
 *     fullest shared GPU with room, as KAI's binpack would, and the GPU is
 *     marked placement_inferred with a warning.
 * Allocation is memory-based like KAI's: gpu-fraction f counts f of the GPU,
 * gpu-memory M counts M / (GPU memory in MiB).
 *
 * All strings and per-object arrays live in the model's arena and are freed
 * by gf_model_free(). Indices (uint32_t) refer into the model's vectors. */
#ifndef GF_MODEL_H
#define GF_MODEL_H

#include "util/arena.h"
#include "util/strmap.h"
#include "util/vec.h"
#include "model/err.h"

#include <stdbool.h>
#include <stdint.h>

#define GF_NONE UINT32_MAX

typedef struct gf_kv {
    const char *key, *value;
} gf_kv;

typedef struct gf_kvs {
    gf_kv *items;
    uint32_t n;
} gf_kvs;

/* Value for key, or NULL. */
const char *gf_kvs_get(const gf_kvs *kvs, const char *key);

typedef struct gf_taint {
    const char *key, *value, *effect; /* value may be NULL */
} gf_taint;

typedef struct gf_toleration {
    const char *key, *op, *value, *effect; /* NULL = empty in the API object */
} gf_toleration;

typedef struct gf_node {
    const char *name;
    const char *origin; /* "file: items[i]" for messages */
    gf_kvs labels;
    int64_t cpu_milli;       /* allocatable */
    int64_t memory_bytes;    /* allocatable */
    uint32_t gpu_count;      /* allocatable nvidia.com/gpu, else label nvidia.com/gpu.count */
    const char *gpu_product; /* label nvidia.com/gpu.product, or NULL */
    int64_t gpu_memory_mib;  /* label nvidia.com/gpu.memory, else known per product, else 0 */
    bool gpu_memory_from_label;
    uint32_t pool; /* index into model pools; label kai.scheduler/node-pool */
    gf_taint *taints;
    uint32_t n_taints;
    bool unschedulable;
    /* derived by finalize */
    uint32_t first_gpu; /* this node's GPUs are gpus[first_gpu .. first_gpu+gpu_count) */
} gf_node;

typedef enum gf_phase {
    GF_PHASE_PENDING,
    GF_PHASE_RUNNING,
    GF_PHASE_SUCCEEDED,
    GF_PHASE_FAILED,
    GF_PHASE_UNKNOWN
} gf_phase;

const char *gf_phase_name(gf_phase p);

typedef enum gf_share_kind {
    GF_SHARE_NONE,     /* no sharing annotation */
    GF_SHARE_FRACTION, /* gpu-fraction */
    GF_SHARE_MEMORY    /* gpu-memory (MiB) */
} gf_share_kind;

typedef struct gf_owner_ref {
    const char *kind, *name; /* NULL kind = none */
} gf_owner_ref;

typedef struct gf_pod {
    const char *ns, *name, *uid;
    const char *origin;
    gf_kvs labels, annotations;
    gf_phase phase;
    bool terminating;      /* metadata.deletionTimestamp set */
    const char *node_name; /* spec.nodeName, NULL when unbound */
    const char *scheduler_name;
    const char *queue; /* label kai.scheduler/queue */
    const char *priority_class;
    int32_t priority;
    int64_t cpu_milli; /* effective request: max(sum containers, max init) + overhead */
    int64_t memory_bytes;
    uint32_t gpu_whole;              /* nvidia.com/gpu requested */
    const char *gpu_whole_container; /* the first container requesting nvidia.com/gpu, or NULL */
    gf_share_kind share;
    double gpu_fraction;       /* GF_SHARE_FRACTION */
    int64_t gpu_memory_mib;    /* GF_SHARE_MEMORY */
    uint32_t gpu_devices;      /* gpu-fraction-num-devices, 1 by default when sharing */
    const char *gpu_container; /* gpu-fraction-container-name, or NULL (first container) */
    const char *gpu_group;     /* label runai-gpu-group */
    const char **extra_groups; /* from labels runai-gpu-group/<g> */
    uint32_t n_extra_groups;
    const char **gpu_models; /* allowed nvidia.com/gpu.product values (selector/affinity); */
    uint32_t n_gpu_models;   /* 0 = any */
    gf_kvs node_selector;
    gf_toleration *tolerations;
    uint32_t n_tolerations;
    const char *pool_selector; /* nodeSelector or label kai.scheduler/node-pool, or NULL */
    gf_owner_ref owner;        /* controller ownerReference as written */
    bool is_reservation;       /* KAI reservation pod */
    int32_t reserve_gpu_index; /* run.ai/reserve_for_gpu_index, -1 if absent */
    /* derived by finalize */
    uint32_t node;     /* GF_NONE when unbound */
    uint32_t workload; /* GF_NONE when unowned */
    uint32_t *gpus;    /* physical GPUs this pod holds (whole or shared) */
    uint32_t n_gpus;
} gf_pod;

/* True while the pod holds its resources (pending, running or unknown). */
bool gf_pod_active(const gf_pod *p);
/* Fraction of one GPU this pod takes on each of its devices, given the GPU
 * memory of the node (memory-based, like KAI); 0 if not sharing or unknown. */
double gf_pod_share_on(const gf_pod *p, int64_t gpu_memory_mib);

typedef struct gf_workload {
    const char *kind, *ns, *name, *uid;
    const char *origin;
    gf_owner_ref owner; /* e.g. ReplicaSet -> Deployment */
    gf_kvs template_annotations;
    int32_t replicas; /* spec.replicas, -1 when absent */
    bool from_input;  /* false: synthesised from a pod's ownerReference */
    bool inferred;    /* owner derived by the pod-template-hash convention */
} gf_workload;

/* A PodDisruptionBudget (policy/v1): pods in its namespace matching every
 * selector label; status.disruptionsAllowed is how many may be evicted now. */
typedef struct gf_pdb {
    const char *ns, *name;
    const char *origin;
    gf_kvs match_labels;
    int32_t disruptions_allowed;
} gf_pdb;

/* True if the PDB's selector selects the pod. */
bool gf_pdb_selects(const gf_pdb *b, const gf_pod *p);

typedef enum gf_gpu_state {
    GF_GPU_IDLE,  /* nothing allocated */
    GF_GPU_WHOLE, /* one pod holds it whole */
    GF_GPU_SHARED /* one or more fractional pods (or a reservation with none yet) */
} gf_gpu_state;

const char *gf_gpu_state_name(gf_gpu_state s);

typedef struct gf_gpu {
    uint32_t node;
    int32_t index; /* device index on the node */
    gf_gpu_state state;
    const char *group;         /* runai-gpu-group, NULL when not shared */
    bool reserved;             /* a KAI reservation pod holds it */
    bool placement_inferred;   /* a pod was put here without a group label */
    double allocated_fraction; /* 1.0 when whole; may exceed 1 (over-committed) */
    uint32_t first_pod;        /* members: model->gpu_pods[first_pod .. first_pod+n_pods) */
    uint32_t n_pods;           /* sharing / whole pods, reservation pods not counted */
} gf_gpu;

typedef struct gf_model {
    gf_arena arena;
    GF_VEC(gf_node) nodes;
    GF_VEC(gf_pod) pods;
    GF_VEC(gf_workload) workloads;
    GF_VEC(gf_pdb) pdbs;
    GF_VEC(const char *) pools; /* pool names; pools.v[0] is "default" */
    /* derived by finalize */
    GF_VEC(gf_gpu) gpus;
    GF_VEC(uint32_t) gpu_pods; /* pod indices, grouped per GPU */
    gf_strmap node_by_name;
    gf_strmap workload_by_key; /* "kind/ns/name" */
    gf_strmap pool_by_name;
    bool finalized;
} gf_model;

void gf_model_init(gf_model *m);
void gf_model_free(gf_model *m); /* accepts NULL */

/* Returns the pool index for name, adding it when new. */
uint32_t gf_model_pool(gf_model *m, const char *name);

/* Add objects; strings must already live in m->arena. Duplicates (same node
 * name; same pod namespace/name; same workload kind/namespace/name) are
 * skipped with a warning naming both origins. Return the index, or GF_NONE
 * for a skipped duplicate. */
uint32_t gf_model_add_node(gf_model *m, const gf_node *n, gf_diags *d);
uint32_t gf_model_add_pod(gf_model *m, const gf_pod *p, gf_diags *d);
uint32_t gf_model_add_workload(gf_model *m, const gf_workload *w, gf_diags *d);

/* Resolves references and builds the per-GPU view. Errors (GF_EINPUT, with
 * the object's origin): an active pod bound to a node that is not in the
 * input; a bound sharing pod on a node without GPUs; a GPU-group whose index
 * is outside the node's devices. Warnings: over-committed GPUs, inferred
 * placements, GPU memory taken from the product table. */
gf_err gf_model_finalize(gf_model *m, gf_diags *d, gf_error *err);

/* The top-level owner of a pod ("Deployment/team-a/llm" ...), resolving
 * ReplicaSet -> Deployment; NULL when unowned. Owned by the model. */
const gf_workload *gf_model_pod_workload(const gf_model *m, const gf_pod *p);

typedef struct gf_totals {
    uint32_t nodes, gpu_nodes, gpus;
    uint32_t gpus_whole, gpus_shared, gpus_idle, gpus_overcommitted;
    double shared_allocated; /* sum of allocated fractions on shared GPUs (capped at 1 each) */
    double stranded_free;    /* free fractions left on partially used shared GPUs */
    double allocated_gpus;   /* gpus_whole + shared_allocated */
    /* active pods, reservation pods excluded; sharing/whole count bound pods only */
    uint32_t pods, pods_sharing, pods_whole, pods_pending_gpu, reservation_pods;
} gf_totals;

/* Totals over one pool, or the whole cluster with pool == GF_NONE. */
void gf_model_totals(const gf_model *m, uint32_t pool, gf_totals *t);

#endif
