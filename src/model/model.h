/* model.h - the cluster as KAI Scheduler sees it: nodes, pods, workloads, GPUs.
 *
 * The model is pure data plus the rules that derive GPU sharing from it; it
 * never reads files. Adapters (src/io) fill nodes, pods and workloads with
 * gf_model_add_*(), then gf_model_finalize() resolves references (pod ->
 * node, pod -> owning workload) and groups pods onto physical GPUs:
 *   - a KAI reservation pod (label app=kai-resource-reservation in the
 *     reservation namespace, both configurable: m->kai; label
 *     runai-gpu-group=G, annotation run.ai/reserve_for_gpu_index=<GPU UUID>)
 *     holds one device of its node for group G; the UUID is kept as the
 *     device's opaque ID (gf_gpu.device_id), never parsed (a small integer
 *     that names a free device, as in KAI's own tests, picks that slot);
 *   - sharing pods share the GPU of each of their groups: the value of label
 *     runai-gpu-group (single device) and the values of labels
 *     runai-gpu-group/<g> (multi-device fractions carry only those, one per
 *     device); a pod with group labels sits on exactly those devices;
 *   - whole-GPU pods (nvidia.com/gpu requests) take whole free devices;
 *   - a bound sharing pod with fewer group labels than devices (older KAI)
 *     gets the rest on the fullest shared GPU with room, as KAI's binpack
 *     would, and the GPU is marked placement_inferred with a warning.
 * Only pods whose spec.schedulerName is KAI's (m->kai.scheduler_name) are
 * KAI workloads: other pods consume CPU, memory and whole GPUs, but their
 * gpu-fraction / gpu-memory annotations mean nothing to KAI and are not
 * read (share GF_SHARE_NONE, foreign_share set). A pod without the field
 * (hand-written JSON; the API server always sets it) is read as KAI's.
 * Allocation is memory-based like KAI's: gpu-fraction f counts f of the GPU,
 * gpu-memory M counts M / (the node's GPU memory as KAI counts it, see
 * gf_kai_node_gpu_memory_mib: 100 MiB per GPU without the label).
 *
 * One odd object never stops a load: a KAI pod whose sharing annotations
 * KAI would refuse, a pod bound to a node missing from the input, a sharing
 * pod on a node without GPUs are left out with one warning naming the object
 * and the field, and counted in m->skipped[reason].
 *
 * All strings and per-object arrays live in the model's arena and are freed
 * by gf_model_free(). Indices (uint32_t) refer into the model's vectors. */
#ifndef GF_MODEL_H
#define GF_MODEL_H

#include "util/arena.h"
#include "util/strmap.h"
#include "util/vec.h"
#include "model/err.h"
#include "model/kai.h"

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
    uint32_t gpu_count;      /* label nvidia.com/gpu.count, else allocatable nvidia.com/gpu */
    const char *gpu_product; /* label nvidia.com/gpu.product, or NULL */
    /* GPU memory per device as KAI counts it (gf_kai_node_gpu_memory_mib):
     * every fit and allocation uses this (0 on a node without GPUs or label) */
    int64_t gpu_memory_mib;
    bool gpu_memory_from_label;
    /* for display only: gpu_memory_mib when from the label, else the
     * product table's value (0 when unknown) */
    int64_t gpu_memory_display_mib;
    uint32_t pool; /* index into model pools; node-pool label (m->kai) */
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

/* KAI's governance objects (issue 12). Filled by the adapters like nodes and
 * pods; gf_model_finalize() resolves each pod's PodGroup, queue, priority and
 * preemptibility (gf_pod.gov). */

/* One resource of a Queue (pkg/apis/scheduling/v2/resources.go
 * QueueResource): GPU in fractions of a GPU, CPU in millicores, memory in
 * megabytes (10^6 bytes). Absent fields are 0, as in KAI's JSON. The
 * proportion plugin (pkg/scheduler/plugins/proportion/proportion.go
 * createQueueResourceAttrs) takes quota as the deserved share and limit as
 * the max allowed, unchanged: -1 (commonconstants.UnlimitedResourceQuantity)
 * is unlimited for both; quota 0 deserves nothing, so any non-preemptible
 * request is over quota (capacity_policy/quota_check.go); limit 0 allows
 * nothing (capacity_policy/max_allowed_check.go). */
typedef struct gf_queue_res {
    double quota, limit, over_quota_weight;
} gf_queue_res;

/* scheduling.run.ai/v2 Queue (pkg/apis/scheduling/v2/queue_types.go);
 * cluster-scoped. status allocated / allocatedNonPreemptible are in the
 * same units (GPU fractions, millicpus, megabytes). */
typedef struct gf_queue {
    const char *name, *origin;
    const char *parent; /* spec.parentQueue, NULL for a top queue */
    gf_queue_res gpu, cpu, memory;
    int32_t priority;               /* spec.priority, 100 when absent */
    double alloc_gpu, alloc_np_gpu; /* status.allocated / allocatedNonPreemptible nvidia.com/gpu */
    bool has_status;
    /* derived by finalize */
    uint32_t parent_idx; /* GF_NONE for a top queue or a parent not in the input */
} gf_queue;

typedef enum gf_preemptibility {
    GF_PREEMPT_UNSET,          /* PodGroup field empty: decided by priority */
    GF_PREEMPT_PREEMPTIBLE,    /* "preemptible" */
    GF_PREEMPT_NON_PREEMPTIBLE /* "non-preemptible" */
} gf_preemptibility;

/* scheduling.run.ai/v2alpha2 PodGroup (pkg/apis/scheduling/v2alpha2/
 * podgroup_types.go); namespaced; pods name theirs by annotation
 * pod-group-name. */
typedef struct gf_podgroup {
    const char *ns, *name, *origin;
    int32_t min_member; /* spec.minMember; a gang when > 1 */
    const char *queue;  /* spec.queue */
    const char *priority_class;
    gf_preemptibility preemptibility;
    const char *topology;        /* spec.topologyConstraint.topology, or NULL */
    const char *required_level;  /* spec.topologyConstraint.requiredTopologyLevel, or NULL */
    const char *preferred_level; /* spec.topologyConstraint.preferredTopologyLevel, or NULL */
    gf_owner_ref owner;          /* controller ownerReference */
} gf_podgroup;

/* scheduling.k8s.io/v1 PriorityClass. */
typedef struct gf_priority_class {
    const char *name, *origin;
    int32_t value;
} gf_priority_class;

typedef enum gf_placement_strategy {
    GF_PLACE_BINPACK, /* KAI's default */
    GF_PLACE_SPREAD
} gf_placement_strategy;

/* kai.scheduler/v1 SchedulingShard (pkg/apis/kai/v1/schedulingshard_types.go):
 * the nodes whose partition label (m->kai.pool_label) has value
 * partition_value; its GPU / CPU placement strategies. */
typedef struct gf_shard {
    const char *name, *origin;
    const char *partition_value; /* spec.partitionLabelValue; NULL/"" = nodes without the label */
    gf_placement_strategy gpu, cpu;
} gf_shard;

/* kai.scheduler/v1alpha1 Topology (pkg/apis/kai/v1alpha1/topology_types.go):
 * cluster-scoped; spec.levels from the top down (e.g. zone, block, rack,
 * hostname), each level a node label. A PodGroup's requiredTopologyLevel
 * names one of these labels; KAI's domain at that level is the values of
 * that level and every level above it (pkg/scheduler/plugins/topology/
 * common.go lowestCommonDomainID), and a node missing any level's label is
 * outside the topology (isNodePartOfTopology). */
typedef struct gf_topology {
    const char *name, *origin;
    const char **levels; /* node label keys, top level first */
    uint32_t n_levels;
} gf_topology;

/* A pod's governance as KAI computes it (derived by finalize). */
typedef struct gf_pod_gov {
    uint32_t podgroup;  /* index into m->podgroups, GF_NONE when not in the input */
    const char *queue;  /* PodGroup spec.queue, else the pod's queue label (KAI's grouper
                           takes the top owner's label first), else "default-queue" */
    uint32_t queue_idx; /* index into m->queues, GF_NONE when not in the input */
    int32_t priority;   /* PodGroup's priority class value, else pod spec.priority */
    bool preemptible;   /* pkg/common/podgroup/preemptible.go CalculatePreemptibility */
    int32_t gang;       /* PodGroup minMember (1 when none) */
} gf_pod_gov;

typedef struct gf_pod {
    const char *ns, *name, *uid;
    const char *origin;
    gf_kvs labels, annotations;
    gf_phase phase;
    bool terminating; /* metadata.deletionTimestamp set */
    double created_t; /* metadata.creationTimestamp, unix seconds; 0 when absent */
    /* status.conditions PodScheduled False, reason Unschedulable: what KAI
     * writes on a pod it cannot place (pkg/scheduler/cache/status_updater/
     * default_status_updater.go markTaskUnschedulable) */
    bool unschedulable;
    const char *node_name; /* spec.nodeName, NULL when unbound */
    const char *scheduler_name;
    const char *queue; /* queue label (m->kai.queue_label) */
    const char *priority_class;
    int32_t priority;
    int64_t cpu_milli; /* effective request: max(sum containers, max init) + overhead */
    int64_t memory_bytes;
    uint32_t gpu_whole;              /* nvidia.com/gpu requested */
    const char *gpu_whole_container; /* the first container requesting nvidia.com/gpu, or NULL */
    gf_share_kind share;
    double gpu_fraction;    /* GF_SHARE_FRACTION */
    int64_t gpu_memory_mib; /* GF_SHARE_MEMORY */
    uint32_t gpu_devices;   /* gpu-fraction-num-devices, 1 by default when sharing */
    /* gpu-fraction-container-name, or NULL: the first container
     * (pkg/binder/common/gpu_access.go GetFractionContainerRef: init
     * containers are searched first, then containers) */
    const char *gpu_container;
    bool gpu_container_init; /* gpu_container is an init container */
    /* The container that uses the GPU, as the pod spec declares it (for
     * engine detection, decide/engine.h): the share's container, else the
     * first requesting nvidia.com/gpu, else the first container. Its image,
     * command followed by args, and the env entries with a literal value
     * (valueFrom is skipped); NULL / 0 when absent. */
    const char *gpu_image;
    const char **gpu_argv;
    uint32_t gpu_argc;
    uint32_t gpu_cmd_n; /* the first gpu_cmd_n of gpu_argv are its command, the rest its args */
    const char *gpu_spec_container; /* that container's name (NULL when unnamed) */
    bool gpu_spec_init;             /* it is an init container */
    gf_kvs gpu_env;
    const char *gpu_group;     /* value of label runai-gpu-group, or NULL */
    const char **extra_groups; /* values of labels runai-gpu-group/<g>, other than gpu_group */
    uint32_t n_extra_groups;
    const char **gpu_models; /* allowed nvidia.com/gpu.product values (selector/affinity); */
    uint32_t n_gpu_models;   /* 0 = any */
    gf_kvs node_selector;
    gf_toleration *tolerations;
    uint32_t n_tolerations;
    const char *pool_selector; /* nodeSelector or label kai.scheduler/node-pool, or NULL */
    gf_owner_ref owner;        /* controller ownerReference as written */
    bool is_kai;               /* spec.schedulerName is KAI's (or absent) */
    bool foreign_share;        /* not KAI's, yet carries gpu-fraction/gpu-memory: ignored */
    bool is_reservation;       /* KAI reservation pod */
    const char *reserve_gpu;   /* run.ai/reserve_for_gpu_index: the GPU's UUID (opaque), or NULL */
    /* derived by finalize */
    uint32_t node;     /* GF_NONE when unbound */
    uint32_t workload; /* GF_NONE when unowned */
    uint32_t *gpus;    /* physical GPUs this pod holds (whole or shared) */
    uint32_t n_gpus;
    gf_pod_gov gov;
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
    gf_kvs labels;      /* metadata.labels (KAI's grouper reads the top owner's queue label) */
    gf_kvs template_annotations;
    int32_t replicas; /* spec.replicas, -1 when absent */
    /* Deployment spec.strategy: Recreate, or RollingUpdate's maxSurge (a
     * count, or a percentage of replicas when max_surge_percent); -1 when
     * absent (Kubernetes' default 25%) */
    bool recreate;
    bool max_surge_percent;
    int32_t max_surge;
    /* and maxUnavailable, the same way; -1 when absent (the default 25%) */
    bool max_unavailable_percent;
    int32_t max_unavailable;
    bool from_input; /* false: synthesised from a pod's ownerReference */
    bool inferred;   /* owner derived by the pod-template-hash convention */
    /* a ReplicaSet's status.conditions ReplicaFailure True, reason
     * FailedCreate (k8s.io/kubernetes pkg/controller/replicaset
     * replica_set_utils.go): its pods cannot be created (quota, admission);
     * the condition's message, or NULL */
    const char *failed_create;
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
    int32_t index; /* position on the node (display; not NVML's index) */
    /* the device's ID where KAI names it (a reservation pod's
     * run.ai/reserve_for_gpu_index: the GPU UUID the exporter labels UUID),
     * else NULL */
    const char *device_id;
    gf_gpu_state state;
    const char *group;         /* runai-gpu-group, NULL when not shared */
    bool reserved;             /* a KAI reservation pod holds it */
    bool placement_inferred;   /* a pod was put here without a group label */
    double allocated_fraction; /* 1.0 when whole; may exceed 1 (over-committed) */
    uint32_t first_pod;        /* members: model->gpu_pods[first_pod .. first_pod+n_pods) */
    uint32_t n_pods;           /* sharing / whole pods, reservation pods not counted */
} gf_gpu;

/* Why an object was left out of the model (gf_model.skipped). */
typedef enum gf_skip_reason {
    GF_SKIP_KAI_ANNOTATION, /* a KAI pod's sharing annotations KAI would refuse */
    GF_SKIP_NODE_MISSING,   /* an active pod bound to a node not in the input */
    GF_SKIP_NO_GPU_NODE,    /* a GPU pod bound to a node without GPUs */
    GF_SKIP_KAI_OBJECT, /* a Queue, PodGroup, PriorityClass or SchedulingShard KAI would refuse */
    GF_SKIP_COUNT
} gf_skip_reason;

/* "kai_annotation", "node_missing", "no_gpu_node" (metric label values). */
const char *gf_skip_reason_name(gf_skip_reason r);

typedef struct gf_model {
    gf_arena arena;
    gf_kai_names kai; /* KAI's configurable names; defaults from gf_model_init */
    uint32_t skipped[GF_SKIP_COUNT];
    GF_VEC(gf_node) nodes;
    GF_VEC(gf_pod) pods;
    GF_VEC(gf_workload) workloads;
    GF_VEC(gf_pdb) pdbs;
    GF_VEC(const char *) pools; /* pool names; pools.v[0] is "default" */
    GF_VEC(gf_queue) queues;
    GF_VEC(gf_podgroup) podgroups;
    GF_VEC(gf_priority_class) priority_classes;
    GF_VEC(gf_shard) shards;
    GF_VEC(gf_topology) topologies;
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

/* Resolves references and builds the per-GPU view. Never fails on one
 * object: an active pod bound to a node that is not in the input, or a GPU
 * pod bound to a node without GPUs, is removed from m->pods with a warning
 * (m->skipped counts it). Warnings: over-committed GPUs, inferred
 * placements, GPU nodes without the nvidia.com/gpu.memory label (once per
 * node). Returns GF_OK (the error is for invariants only). */
gf_err gf_model_finalize(gf_model *m, gf_diags *d, gf_error *err);

/* The top-level owner of a pod ("Deployment/team-a/llm" ...), resolving
 * ReplicaSet -> Deployment; NULL when unowned. Owned by the model. */
const gf_workload *gf_model_pod_workload(const gf_model *m, const gf_pod *p);

/* GPUs a bound pod holds as KAI's queues count them: whole GPUs plus its
 * share (memory-based for gpu-memory) times its devices; 0 when unbound. */
double gf_pod_gpus(const gf_model *m, const gf_pod *p);
/* GPUs allocated in queue q and its children (Queue status: "for all running
 * jobs in queue and child queues"), only non-preemptible pods' when
 * non_preemptible: KAI's own status figure when the Queue has one
 * (*from_status true), else summed over the model's bound active pods. */
double gf_queue_allocated_gpu(const gf_model *m, uint32_t q, bool non_preemptible,
                              bool *from_status);
/* True when queue q is `ancestor` or below it. */
bool gf_queue_within(const gf_model *m, uint32_t q, uint32_t ancestor);

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
