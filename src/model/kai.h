/* kai.h - what KAI Scheduler's pod and node metadata mean.
 *
 * Keys and semantics from NVIDIA/KAI-Scheduler (docs/gpu-sharing/README.md,
 * pkg/common/constants/constants.go, pkg/binder/.../resource_reservation.go);
 * summarised in shared/research/kai.md. */
#ifndef GF_KAI_H
#define GF_KAI_H

#include "model/err.h"

#include <stdint.h>

/* pod annotations */
#define GF_KAI_GPU_FRACTION "gpu-fraction"
#define GF_KAI_GPU_MEMORY "gpu-memory"
#define GF_KAI_NUM_DEVICES "gpu-fraction-num-devices"
#define GF_KAI_CONTAINER_NAME "gpu-fraction-container-name"
#define GF_KAI_RESERVE_GPU_INDEX "run.ai/reserve_for_gpu_index"
/* pod labels */
#define GF_KAI_QUEUE "kai.scheduler/queue"
#define GF_KAI_GPU_GROUP "runai-gpu-group"         /* multi-device adds "runai-gpu-group/<g>" */
#define GF_KAI_NODE_POOL "kai.scheduler/node-pool" /* node label; pods may select it too */
#define GF_KAI_RESERVATION_NS "kai-resource-reservation"
#define GF_KAI_SCHEDULER_NAME "kai-scheduler"
#define GF_KAI_DEFAULT_POOL "default"
/* resources and GPU feature discovery node labels */
#define GF_RES_GPU "nvidia.com/gpu"
#define GF_LABEL_GPU_COUNT "nvidia.com/gpu.count"
#define GF_LABEL_GPU_PRODUCT "nvidia.com/gpu.product"
#define GF_LABEL_GPU_MEMORY "nvidia.com/gpu.memory"
/* gpufrac's own opt-out annotation (used by consolidation and rightsizing) */
#define GF_ANN_CONSOLIDATE "gpufrac.io/consolidate"

/* KAI parses gpu-fraction with strconv.ParseFloat and requires 0 < f <= 1.
 * NaN, infinities, trailing junk and out-of-range values are errors; *why is a
 * static explanation. */
gf_err gf_kai_parse_fraction(const char *s, double *out, const char **why);
/* gpu-memory: a positive integer number of MiB. */
gf_err gf_kai_parse_gpu_memory_mib(const char *s, int64_t *out, const char **why);
/* gpu-fraction-num-devices (and the GPU count label): a positive integer, at most max. */
gf_err gf_kai_parse_count(const char *s, int64_t max, int64_t *out, const char **why);

/* Memory of one GPU of a model in MiB, for nodes without the
 * nvidia.com/gpu.memory label; 0 when the model is not known. Values are the
 * ones GPU feature discovery reports for those products. */
int64_t gf_kai_known_gpu_memory_mib(const char *product);

#endif
