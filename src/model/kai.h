/* kai.h - what KAI Scheduler's pod and node metadata mean.
 *
 * Keys and semantics from NVIDIA/KAI-Scheduler (commit 72de64f; summarised in
 * shared/research/kai.md), each rule next to the file that defines it:
 *   pkg/common/constants/constants.go            the keys and default names
 *   pkg/binder/plugins/gpusharing/gpu-request/gpu_request_validator.go
 *                                                what the admission webhook accepts
 *   pkg/binder/binding/resourcereservation/resource_reservation.go
 *                                                reservation pods, GPU-group labels
 *   pkg/resourcereservation/patcher/pod_patcher.go  the device UUID annotation
 *   pkg/scheduler/api/node_info/node_info.go     a node's GPU memory and count
 *   pkg/scheduler/api/pod_info/utility_pods.go   how a reservation pod is recognised
 *   pkg/binder/common/gpu_access.go              the container that gets the share */
#ifndef GF_KAI_H
#define GF_KAI_H

#include "model/err.h"

#include <stdbool.h>
#include <stdint.h>

/* pod annotations */
#define GF_KAI_GPU_FRACTION "gpu-fraction"
#define GF_KAI_GPU_MEMORY "gpu-memory"
#define GF_KAI_NUM_DEVICES "gpu-fraction-num-devices"
#define GF_KAI_CONTAINER_NAME "gpu-fraction-container-name"
/* On a reservation pod: the UUID of the GPU it holds ("GPU-8c7e..."), written
 * by pkg/resourcereservation/patcher/pod_patcher.go PatchDeviceInfo; KAI's
 * own tests and older releases put an index there. An opaque device ID. */
#define GF_KAI_RESERVE_GPU_INDEX "run.ai/reserve_for_gpu_index"
/* pod labels */
#define GF_KAI_QUEUE "kai.scheduler/queue" /* default; configurable (gf_kai_names) */
/* pod annotation naming its PodGroup; the grouper's queue when no label
 * names one (pkg/podgrouper/.../defaultgrouper/default_grouper.go); the
 * priority at and above which a PodGroup is non-preemptible unless it says
 * otherwise (pkg/common/podgroup/preemptible.go) */
#define GF_KAI_POD_GROUP_NAME "pod-group-name"
#define GF_KAI_DEFAULT_QUEUE "default-queue"
#define GF_KAI_NON_PREEMPTIBLE_PRIORITY 100
/* labels the pod grouper reads on the top owner, then the pod
 * (pkg/podgrouper/podgrouper/plugins/constants/constants.go) */
#define GF_KAI_PRIORITY_LABEL "priorityClassName"
#define GF_KAI_PREEMPTIBILITY_LABEL "kai.scheduler/preemptibility"
#define GF_KAI_PROJECT_LABEL "project"
/* A single-device shared pod: runai-gpu-group=<g>. A multi-device fraction
 * (gpu-fraction-num-devices > 1) gets only runai-gpu-group/<g>=<g>, one per
 * device, and no plain label (resource_reservation.go updatePodGPUGroup);
 * the groups are the label *values* (pkg/common/resources/gpu_sharing.go
 * GetGpuGroups). */
#define GF_KAI_GPU_GROUP "runai-gpu-group"
#define GF_KAI_NODE_POOL "kai.scheduler/node-pool" /* node label; pods may select it too */
/* Reservation pods: label app=<app label> (default kai-resource-reservation,
 * pkg/scheduler/api/pod_info/utility_pods.go IsResourceReservationTask) in
 * the binder's reservation namespace (default kai-resource-reservation,
 * cmd/binder/app/options.go --resource-reservation-namespace). */
#define GF_KAI_APP_LABEL "app"
#define GF_KAI_RESERVATION_NS "kai-resource-reservation"
#define GF_KAI_RESERVATION_APP "kai-resource-reservation"
#define GF_KAI_SCHEDULER_NAME "kai-scheduler"
#define GF_KAI_DEFAULT_POOL "default"
/* A node without a usable nvidia.com/gpu.memory label counts this much per
 * GPU (node_info.go DefaultGpuMemory), so gpu-memory pods do not fit there. */
#define GF_KAI_DEFAULT_GPU_MEMORY_MIB 100
/* gpufrac reads at most this many devices of one multi-device fraction
 * (gpu-fraction-num-devices, runai-gpu-group/<g> labels): more than any node
 * has, and a bound on what one odd pod can cost. */
#define GF_KAI_MAX_GROUPS 64
/* resources and GPU feature discovery node labels */
#define GF_RES_GPU "nvidia.com/gpu"
#define GF_LABEL_GPU_COUNT "nvidia.com/gpu.count"
#define GF_LABEL_GPU_PRODUCT "nvidia.com/gpu.product"
#define GF_LABEL_GPU_MEMORY "nvidia.com/gpu.memory"
/* gpufrac's own opt-out annotation (used by consolidation and rightsizing) */
#define GF_ANN_CONSOLIDATE "gpufrac.io/consolidate"

/* The names KAI makes configurable, with KAI's defaults
 * (pkg/common/constants/constants.go DefaultSchedulerName, DefaultQueueLabel,
 * DefaultNodePoolLabelKey, DefaultResourceReservationName). Strings are
 * borrowed: whoever sets them keeps them alive as long as the user. */
typedef struct gf_kai_names {
    const char *scheduler_name;  /* spec.schedulerName of KAI's pods */
    const char *queue_label;     /* pod label naming the queue */
    const char *node_pool_label; /* node label naming the pool */
    const char *reservation_ns;  /* namespace of the reservation pods */
    const char *reservation_app; /* their label app=<this> */
} gf_kai_names;

/* KAI's defaults (static strings). */
void gf_kai_names_default(gf_kai_names *n);

/* gpu-fraction as KAI's admission webhook accepts it: strconv.ParseFloat and
 * 0 < f < 1 (gpu_request_validator.go validateGpuFractionAnnotation; a whole
 * GPU is nvidia.com/gpu: 1). NaN, infinities, white space, trailing junk and
 * out-of-range values are errors; *why is a static explanation. */
gf_err gf_kai_parse_fraction(const char *s, double *out, const char **why);
/* True when KAI would accept f as a gpu-fraction: 0 < f < 1. Every value
 * gpufrac writes into a gpu-fraction annotation must pass this. */
bool gf_kai_fraction_ok(double f);
/* gpu-memory: strconv.ParseUint, more than 0 (validateMemoryAnnotation):
 * decimal digits only, MiB. */
gf_err gf_kai_parse_gpu_memory_mib(const char *s, int64_t *out, const char **why);
/* gpu-fraction-num-devices: strconv.ParseUint, more than 0
 * (validateMultiFractionRequest); at most max. */
gf_err gf_kai_parse_count(const char *s, int64_t max, int64_t *out, const char **why);

/* A node's GPU memory per device as KAI's scheduler counts it (node_info.go
 * getNodeGpuMemory): the nvidia.com/gpu.memory label read with
 * strconv.ParseInt; a value of 1 TiB-in-MiB (1048576) or more is taken as
 * bytes and converted to MiB (GFD bug workaround); then floored to a multiple
 * of 100 MiB. A missing or unparsable label gives DefaultGpuMemory (100 MiB)
 * and *from_label false. A label KAI would turn into 0 or less (a value
 * under 100) also gives 100, with *from_label true: gpufrac never divides by
 * a zero GPU. label may be NULL. */
int64_t gf_kai_node_gpu_memory_mib(const char *label, bool *from_label);

/* Memory of one GPU of a model in MiB, for *display* on nodes without the
 * nvidia.com/gpu.memory label (KAI counts 100 MiB there, and so does every
 * fit decision of gpufrac); 0 when the model is not known. Values are the
 * ones GPU feature discovery reports for those products. */
int64_t gf_kai_known_gpu_memory_mib(const char *product);

#endif
