/* nvml.h - NVML loaded at run time: dlopen, symbol resolution with
 * fall-backs to older symbol versions, and thin typed calls over them.
 *
 * The exporter must run (and say why it has no GPUs) on a node without the
 * driver, with a driver older or newer than the header it was written for,
 * and inside a container where the library may be absent; so NVML is never
 * linked, only opened (default "libnvidia-ml.so.1", the name the NVIDIA
 * container toolkit injects). The ABI subset is in nvml_abi.h.
 *
 * Required entry points (without them the library is unusable): nvmlInit,
 * nvmlShutdown, nvmlDeviceGetCount, nvmlDeviceGetHandleByIndex,
 * nvmlDeviceGetUUID. Every other one is optional; when absent, the metrics
 * it feeds are not published. Each call is tried newest version first
 * (nvmlInit_v2 -> nvmlInit, ..._v3 -> _v2 -> unversioned). */
#ifndef GF_NVML_H
#define GF_NVML_H

#include "model/err.h"
#include "exporter/nvml_abi.h"

#include <stdbool.h>

/* The NVML calls the exporter makes, as counted in
 * gpufrac_exporter_nvml_errors_total{call="..."}. */
typedef enum gf_nvml_call {
    GF_NVML_INIT = 0,
    GF_NVML_DEVICE_COUNT,
    GF_NVML_HANDLE,
    GF_NVML_UUID,
    GF_NVML_NAME,
    GF_NVML_MEMORY,
    GF_NVML_UTILIZATION,
    GF_NVML_COMPUTE_PROCS,
    GF_NVML_GRAPHICS_PROCS,
    GF_NVML_PROC_UTIL,
    GF_NVML_NCALLS
} gf_nvml_call;

/* Which list nvmlDeviceGet*RunningProcesses reads. */
typedef enum gf_nvml_procs { GF_NVML_COMPUTE = 0, GF_NVML_GRAPHICS = 1 } gf_nvml_procs;

typedef struct gf_nvml {
    void *lib; /* dlopen handle; NULL when closed */
    bool initialized;
    char driver_version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE]; /* "" if unknown */
    /* the symbol each call resolved to, NULL when absent (or disabled) */
    const char *symbol[GF_NVML_NCALLS];

    gf_nvmlInit_fn init;
    gf_nvmlShutdown_fn shutdown;
    gf_nvmlErrorString_fn error_string;
    gf_nvmlSystemGetDriverVersion_fn driver_version_fn;
    gf_nvmlDeviceGetCount_fn device_count;
    gf_nvmlDeviceGetHandleByIndex_fn handle_by_index;
    gf_nvmlDeviceGetString_fn uuid, name;
    gf_nvmlDeviceGetMemoryInfo_v2_fn memory_v2; /* preferred: reports reserved apart */
    gf_nvmlDeviceGetMemoryInfo_fn memory_v1;
    gf_nvmlDeviceGetUtilizationRates_fn utilization;
    gf_nvmlDeviceGetProcesses_v2_fn procs_v2[2]; /* _v3 or _v2, by gf_nvml_procs */
    gf_nvmlDeviceGetProcesses_v1_fn procs_v1[2]; /* unversioned, when no _v2/_v3 */
    gf_nvmlDeviceGetProcessUtilization_fn process_utilization;
} gf_nvml;

/* The call's function name without version suffix ("nvmlDeviceGetMemoryInfo"). */
const char *gf_nvml_call_name(gf_nvml_call call);
/* NVML's name for a return code without the NVML_ERROR_ prefix ("GPU_IS_LOST",
 * "SUCCESS"); "UNKNOWN_CODE" for codes this file does not know. Static. */
const char *gf_nvml_code_name(nvmlReturn_t r);
/* "GPU_IS_LOST (GPU is lost)": the name plus nvmlErrorString's text when the
 * library offers it. Written into buf. */
const char *gf_nvml_describe(const gf_nvml *n, nvmlReturn_t r, char *buf, size_t len);

/* Opens the library at path (NULL or "" = "libnvidia-ml.so.1"), resolves the
 * entry points and calls nvmlInit. `disable` (may be NULL) is a comma- or
 * space-separated list of symbol names to treat as absent: an operator's
 * switch to avoid a driver function that misbehaves, and how the tests
 * simulate older libraries. Optional entry points that are missing are
 * noted in d (may be NULL). On failure n is left closed and err says what:
 *   GF_EIO       the library cannot be loaded (dlerror's text), or nvmlInit
 *                failed (its code: DRIVER_NOT_LOADED, NO_PERMISSION, ...);
 *   GF_ENOTFOUND a required entry point is missing. */
gf_err gf_nvml_open(gf_nvml *n, const char *path, const char *disable, gf_diags *d, gf_error *err);
/* nvmlShutdown (if initialized) and dlclose. Accepts NULL and a zeroed or
 * already closed gf_nvml. */
void gf_nvml_close(gf_nvml *n);

/* Device memory in bytes: total and used (without the driver's reserved part
 * when nvmlDeviceGetMemoryInfo_v2 exists). NOT_SUPPORTED when neither entry
 * point exists. */
nvmlReturn_t gf_nvml_memory(const gf_nvml *n, nvmlDevice_t dev, unsigned long long *total,
                            unsigned long long *used);
/* nvmlDeviceGet{Compute,Graphics}RunningProcesses, newest version available,
 * filling v2 entries (the unversioned call's v1 entries are widened in
 * place; gpuInstanceId/computeInstanceId then read 0xFFFFFFFF). *count is
 * the capacity of buf on entry and what NVML says on return (the number
 * needed on NVML_ERROR_INSUFFICIENT_SIZE). NOT_SUPPORTED when absent. */
nvmlReturn_t gf_nvml_processes(const gf_nvml *n, gf_nvml_procs which, nvmlDevice_t dev,
                               nvmlProcessInfo_v2_t *buf, unsigned *count);

#endif
