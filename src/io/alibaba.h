/* alibaba.h - Alibaba's GPU-sharing cluster trace -> cluster model.
 *
 * The trace (alibaba/clusterdata, cluster-trace-gpu-v2023; Weng et al.,
 * "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
 * Fragmentation Gradient Descent", USENIX ATC'23) describes a heterogeneous
 * cluster in two kinds of CSV file:
 *   openb_node_list_*.csv  sn,cpu_milli,memory_mib,gpu,model
 *   openb_pod_list_*.csv   name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,
 *                          qos,pod_phase,creation_time,deletion_time,scheduled_time
 *                          (the multigpuNN variants stop after gpu_milli)
 *
 * Nodes become gf_nodes in pool "default" with the GPU feature discovery
 * labels nvidia.com/gpu.product (the trace's model code, e.g. "V100M32"),
 * .count and .memory. Pods become unbound, Pending gf_pods in namespace
 * "alibaba" for KAI Scheduler, expressed as KAI would see them:
 *   num_gpu >= 1, gpu_milli 1000  -> num_gpu whole GPUs (nvidia.com/gpu)
 *   num_gpu >= 1, gpu_milli < 1000 -> annotation gpu-fraction = gpu_milli/1000
 *                                    (num_gpu > 1: gpu-fraction-num-devices)
 *   num_gpu 0                     -> CPU-only pod (skipped unless asked for)
 *   gpu_spec "A|B"                -> gpu_models {A, B} (the nodes' products)
 * The trace's own facts are kept for replay: label alibaba.com/qos, and
 * annotations alibaba.com/pod-phase, alibaba.com/creation-time,
 * alibaba.com/deletion-time, alibaba.com/scheduled-time (seconds from the
 * trace's start; absent when the trace leaves them empty).
 *
 * Errors are GF_EINPUT naming the file, line and column:
 *   pods.csv:12: column gpu_milli: value '1500' is above 1000
 * On error the model keeps the rows read before the bad one; discard it.
 * Strings live in m->arena. */
#ifndef GF_ALIBABA_H
#define GF_ALIBABA_H

#include "model/model.h"

#include <stdbool.h>
#include <stddef.h>

#define GF_ALIBABA_NAMESPACE "alibaba"
#define GF_ALIBABA_QOS "alibaba.com/qos"
#define GF_ALIBABA_POD_PHASE "alibaba.com/pod-phase"
#define GF_ALIBABA_CREATION_TIME "alibaba.com/creation-time"
#define GF_ALIBABA_DELETION_TIME "alibaba.com/deletion-time"
#define GF_ALIBABA_SCHEDULED_TIME "alibaba.com/scheduled-time"

typedef struct gf_alibaba_opts {
    bool include_cpu_only; /* also add pods with num_gpu 0 */
} gf_alibaba_opts;

/* Memory of one GPU of a trace model code in MiB ("V100M32" -> 32768), or 0
 * when the code is not one of the trace's. */
int64_t gf_alibaba_gpu_memory_mib(const char *model);

/* Node list; path "-" reads standard input. */
gf_err gf_alibaba_load_nodes(gf_model *m, const char *path, gf_diags *d, gf_error *err);
/* name is used in messages. buf need not be NUL-terminated. */
gf_err gf_alibaba_load_nodes_buffer(gf_model *m, const char *name, const char *buf, size_t len,
                                    gf_diags *d, gf_error *err);

/* Pod list; o may be NULL (defaults: all fields false). Load the nodes first:
 * gpu_spec models that no loaded node has are reported as warnings (once per
 * model, with the number of pods naming it); with no GPU nodes loaded the
 * check is skipped. */
gf_err gf_alibaba_load_pods(gf_model *m, const char *path, const gf_alibaba_opts *o, gf_diags *d,
                            gf_error *err);
gf_err gf_alibaba_load_pods_buffer(gf_model *m, const char *name, const char *buf, size_t len,
                                   const gf_alibaba_opts *o, gf_diags *d, gf_error *err);

#endif
