/* collect.h - one scrape of the node: GPUs and their processes from NVML,
 * each process mapped to its pod and container, summed per container and
 * joined with the pod's KAI allocation.
 *
 * What is measured, per GPU:
 *   memory total/used (nvmlDeviceGetMemoryInfo_v2, else v1), SM utilisation
 *   (nvmlDeviceGetUtilizationRates: % of the last sample period in which a
 *   kernel ran);
 * per process (summed per pod container):
 *   memory: usedGpuMemory from the compute and graphics process lists (a
 *   process in both counts once, at its larger figure);
 *   SM: smUtil of nvmlDeviceGetProcessUtilization. The driver keeps a
 *   buffer of samples; each scrape asks only for those newer than the
 *   newest it saw on that device (its lastSeenTimeStamp) and keeps the
 *   latest sample per PID. The driver only reports processes that were
 *   busy, so a known process without a new sample was idle: 0.
 * Allocation (model/kai.h): gpu-fraction f holds f of each device's memory;
 * gpu-memory M holds M MiB, i.e. M MiB / device memory; nvidia.com/gpu holds
 * whole devices. Ratios compare the pod's use of a device (all its
 * containers) with what it holds there.
 *
 * Processes that map to no pod are kept, summed per GPU and reason:
 *   "host"        the cgroup is not a Kubernetes pod's (a host process or a
 *                 non-Kubernetes container);
 *   "unknown_pod" a pod cgroup whose UID the pod list does not have;
 *   "no_process"  /proc/<pid> cannot be read: the process exited, or the
 *                 exporter does not see the host's PIDs (hostPID, /proc mount).
 *
 * Failures never fail the scrape: a failed NVML call is counted per call
 * (nvml_errors) and its readings become NaN; a GPU that is lost in the
 * middle (GPU_IS_LOST, NOT_FOUND) is left out of this scrape; without NVML
 * (no library, no driver) there are no GPUs and nvml_up is false, and the
 * collector tries to open it again every nvml_retry_s seconds.
 *
 * gf_collect is not thread-safe: callers serialise it (the HTTP server holds
 * a mutex). With async_pods a thread of the collector's own fetches the pod
 * list; gf_collector_free stops it (waiting for a fetch in flight, at most
 * the source's timeout). */
#ifndef GF_COLLECT_H
#define GF_COLLECT_H

#include "model/err.h"
#include "exporter/nvml.h"
#include "exporter/podsource.h"
#include "util/vec.h"

#include <stdbool.h>
#include <stdint.h>

/* Why a process is not attributed to a pod (label unattributed="..."). */
#define GF_UNATTR_HOST "host"
#define GF_UNATTR_UNKNOWN_POD "unknown_pod"
#define GF_UNATTR_NO_PROCESS "no_process"
#define GF_UNATTRIBUTED_POD "unattributed" /* the pod label of those series */

/* How often a cached PID -> pod mapping is checked against the process's
 * start time (a reused PID is another process). */
#define GF_PID_REVALIDATE_S 60.0

typedef void (*gf_collect_log_fn)(void *ctx, const char *msg);

typedef struct gf_collect_config {
    const char *proc_root;    /* NULL: "/proc" */
    const char *node_name;    /* NULL: pods of every node in the list count */
    const char *nvml_lib;     /* NULL: "libnvidia-ml.so.1" */
    const char *nvml_disable; /* symbols to treat as absent, see gf_nvml_open */
    gf_podsrc_config pods;
    double nvml_retry_s;   /* <= 0: 30 */
    bool async_pods;       /* fetch the pod list in a thread (servers): a scrape never
                            * waits for the API; a pod first seen is attributed by the
                            * scrape after the fetch it triggers. Otherwise fetches
                            * happen within gf_collect. */
    bool verbose;          /* also log every pod-list refresh and the NVML symbols */
    gf_collect_log_fn log; /* may be NULL; repeated messages are logged once */
    void *log_ctx;
} gf_collect_config;

typedef struct gf_gpu_reading {
    unsigned index; /* NVML index */
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    char model[NVML_DEVICE_NAME_V2_BUFFER_SIZE];  /* "" when unknown */
    double memory_total_bytes, memory_used_bytes; /* NaN: the read failed */
    double sm_util;                               /* 0..1; NaN: the read failed */
    bool has_memory, has_sm;                      /* false: the driver offers no such reading */
    bool has_proc_memory, has_proc_sm;            /* per-process readings published */
    bool proc_memory_failed, proc_sm_failed;      /* ... but this scrape's read failed */
} gf_gpu_reading;

typedef struct gf_pod_series {
    uint32_t gpu; /* index into gf_scrape.gpus */
    const char *ns, *pod, *container;
    const char *unattributed; /* NULL, or a GF_UNATTR_* reason */
    double memory_bytes;      /* NaN: unknown */
    double sm_util;           /* share of one GPU's SMs, 0..1; NaN: unknown */
    uint32_t processes;
    bool allocated; /* the pod's allocation on this GPU is reported on this series */
    double alloc_fraction, alloc_memory_bytes;
    double memory_used_ratio, sm_used_ratio; /* pod's use on the GPU / allocation */
} gf_pod_series;

/* The strings of a scrape (labels, driver version) are borrowed from the
 * collector: valid until its next gf_collect or gf_collector_free. */
typedef struct gf_scrape {
    GF_VEC(gf_gpu_reading) gpus;
    GF_VEC(gf_pod_series) series; /* ordered by GPU, then pod */
    bool nvml_up;
    const char *driver_version; /* "" when unknown */
    double duration_s;          /* wall time of the collection */
    uint64_t nvml_errors[GF_NVML_NCALLS];
    uint64_t pod_refreshes, pod_errors;
    bool have_pod_list;
    size_t pods; /* in the current pod list */
} gf_scrape;

void gf_scrape_init(gf_scrape *s);
void gf_scrape_free(gf_scrape *s); /* accepts NULL; reusable after gf_scrape_init */

typedef struct gf_collector gf_collector;

/* Copies cfg, opens NVML (a failure is logged and retried later, not
 * returned) and loads the pod list once. Errors: GF_EUSAGE for a bad pod
 * source configuration; GF_EINPUT/GF_EIO when a --pods-file cannot be read
 * or parsed at start (a file that is wrong now will be wrong later; HTTP
 * sources only log, since the API may come up after the exporter). */
gf_err gf_collector_new(const gf_collect_config *cfg, gf_collector **out, gf_error *err);
void gf_collector_free(gf_collector *c); /* accepts NULL */

/* Collects one scrape into out (reset first). Never fails. */
void gf_collect(gf_collector *c, gf_scrape *out);

/* The open NVML library (for tests and logs); NULL while NVML is down. */
const gf_nvml *gf_collector_nvml(const gf_collector *c);
/* Why NVML is down ("" when up). */
const char *gf_collector_nvml_error(const gf_collector *c);

#endif
