/* nvml.c - NVML loaded with dlopen, see nvml.h. */
#include "exporter/nvml.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_LIB "libnvidia-ml.so.1"

static const char *const call_names[GF_NVML_NCALLS] = {
    [GF_NVML_INIT] = "nvmlInit",
    [GF_NVML_DEVICE_COUNT] = "nvmlDeviceGetCount",
    [GF_NVML_HANDLE] = "nvmlDeviceGetHandleByIndex",
    [GF_NVML_UUID] = "nvmlDeviceGetUUID",
    [GF_NVML_NAME] = "nvmlDeviceGetName",
    [GF_NVML_MEMORY] = "nvmlDeviceGetMemoryInfo",
    [GF_NVML_UTILIZATION] = "nvmlDeviceGetUtilizationRates",
    [GF_NVML_COMPUTE_PROCS] = "nvmlDeviceGetComputeRunningProcesses",
    [GF_NVML_GRAPHICS_PROCS] = "nvmlDeviceGetGraphicsRunningProcesses",
    [GF_NVML_PROC_UTIL] = "nvmlDeviceGetProcessUtilization",
};

const char *gf_nvml_call_name(gf_nvml_call call)
{
    return (unsigned)call < GF_NVML_NCALLS ? call_names[call] : "?";
}

const char *gf_nvml_code_name(nvmlReturn_t r)
{
    switch (r) {
    case NVML_SUCCESS:
        return "SUCCESS";
    case NVML_ERROR_UNINITIALIZED:
        return "UNINITIALIZED";
    case NVML_ERROR_INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
    case NVML_ERROR_NOT_SUPPORTED:
        return "NOT_SUPPORTED";
    case NVML_ERROR_NO_PERMISSION:
        return "NO_PERMISSION";
    case NVML_ERROR_ALREADY_INITIALIZED:
        return "ALREADY_INITIALIZED";
    case NVML_ERROR_NOT_FOUND:
        return "NOT_FOUND";
    case NVML_ERROR_INSUFFICIENT_SIZE:
        return "INSUFFICIENT_SIZE";
    case NVML_ERROR_INSUFFICIENT_POWER:
        return "INSUFFICIENT_POWER";
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "DRIVER_NOT_LOADED";
    case NVML_ERROR_TIMEOUT:
        return "TIMEOUT";
    case NVML_ERROR_IRQ_ISSUE:
        return "IRQ_ISSUE";
    case NVML_ERROR_LIBRARY_NOT_FOUND:
        return "LIBRARY_NOT_FOUND";
    case NVML_ERROR_FUNCTION_NOT_FOUND:
        return "FUNCTION_NOT_FOUND";
    case NVML_ERROR_CORRUPTED_INFOROM:
        return "CORRUPTED_INFOROM";
    case NVML_ERROR_GPU_IS_LOST:
        return "GPU_IS_LOST";
    case NVML_ERROR_RESET_REQUIRED:
        return "RESET_REQUIRED";
    case NVML_ERROR_OPERATING_SYSTEM:
        return "OPERATING_SYSTEM";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        return "LIB_RM_VERSION_MISMATCH";
    case NVML_ERROR_IN_USE:
        return "IN_USE";
    case NVML_ERROR_MEMORY:
        return "MEMORY";
    case NVML_ERROR_NO_DATA:
        return "NO_DATA";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED:
        return "VGPU_ECC_NOT_SUPPORTED";
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
        return "INSUFFICIENT_RESOURCES";
    case NVML_ERROR_FREQ_NOT_SUPPORTED:
        return "FREQ_NOT_SUPPORTED";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
        return "ARGUMENT_VERSION_MISMATCH";
    case NVML_ERROR_DEPRECATED:
        return "DEPRECATED";
    case NVML_ERROR_NOT_READY:
        return "NOT_READY";
    case NVML_ERROR_GPU_NOT_FOUND:
        return "GPU_NOT_FOUND";
    case NVML_ERROR_INVALID_STATE:
        return "INVALID_STATE";
    case NVML_ERROR_UNKNOWN:
        return "UNKNOWN";
    }
    return "UNKNOWN_CODE";
}

const char *gf_nvml_describe(const gf_nvml *n, nvmlReturn_t r, char *buf, size_t len)
{
    const char *text = n && n->lib && n->error_string ? n->error_string(r) : NULL;
    if (text && *text)
        snprintf(buf, len, "%s (%s)", gf_nvml_code_name(r), text);
    else if (!strcmp(gf_nvml_code_name(r), "UNKNOWN_CODE"))
        snprintf(buf, len, "error %d", (int)r);
    else
        snprintf(buf, len, "%s", gf_nvml_code_name(r));
    /* a driver's text goes into logs: keep it on one line */
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20) *c = ' ';
    return buf;
}

/* Is name listed in the comma/space separated list? */
static bool listed(const char *list, const char *name)
{
    if (!list) return false;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        p += strspn(p, ", \t");
        size_t len = strcspn(p, ", \t");
        if (len == n && !strncmp(p, name, n)) return true;
        p += len;
    }
    return false;
}

/* dlsym of the first of names[] present and not disabled; *which gets its name. */
static void *resolve(void *lib, const char *disable, const char *const *names, const char **which)
{
    *which = NULL;
    for (; *names; names++) {
        if (listed(disable, *names)) continue;
        void *p = dlsym(lib, *names);
        if (p) {
            *which = *names;
            return p;
        }
    }
    return NULL;
}

/* ISO C forbids converting void * to a function pointer; POSIX requires it to
 * work for dlsym (the memcpy is the idiom that avoids -Wpedantic warnings). */
#define BIND(dst, ptr) memcpy(&(dst), &(ptr), sizeof(dst))

gf_err gf_nvml_open(gf_nvml *n, const char *path, const char *disable, gf_diags *d, gf_error *err)
{
    memset(n, 0, sizeof *n);
    const char *lib_path = path && *path ? path : DEFAULT_LIB;
    dlerror();
    n->lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!n->lib) {
        const char *why = dlerror();
        return gf_error_set(err, GF_EIO, lib_path,
                            "cannot load the NVML library: %s (is the NVIDIA driver installed "
                            "and the library visible here, e.g. through the nvidia runtime "
                            "class or NVIDIA_VISIBLE_DEVICES=all?)",
                            why ? why : "unknown reason");
    }

    static const char *const s_init[] = {"nvmlInit_v2", "nvmlInit", NULL};
    static const char *const s_shutdown[] = {"nvmlShutdown", NULL};
    static const char *const s_errstr[] = {"nvmlErrorString", NULL};
    static const char *const s_driver[] = {"nvmlSystemGetDriverVersion", NULL};
    static const char *const s_count[] = {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount", NULL};
    static const char *const s_handle[] = {"nvmlDeviceGetHandleByIndex_v2",
                                           "nvmlDeviceGetHandleByIndex", NULL};
    static const char *const s_uuid[] = {"nvmlDeviceGetUUID", NULL};
    static const char *const s_name[] = {"nvmlDeviceGetName", NULL};
    static const char *const s_mem2[] = {"nvmlDeviceGetMemoryInfo_v2", NULL};
    static const char *const s_mem1[] = {"nvmlDeviceGetMemoryInfo", NULL};
    static const char *const s_util[] = {"nvmlDeviceGetUtilizationRates", NULL};
    static const char *const s_cp2[] = {"nvmlDeviceGetComputeRunningProcesses_v3",
                                        "nvmlDeviceGetComputeRunningProcesses_v2", NULL};
    static const char *const s_cp1[] = {"nvmlDeviceGetComputeRunningProcesses", NULL};
    static const char *const s_gp2[] = {"nvmlDeviceGetGraphicsRunningProcesses_v3",
                                        "nvmlDeviceGetGraphicsRunningProcesses_v2", NULL};
    static const char *const s_gp1[] = {"nvmlDeviceGetGraphicsRunningProcesses", NULL};
    static const char *const s_putil[] = {"nvmlDeviceGetProcessUtilization", NULL};

    const char *unused;
    void *p;
    p = resolve(n->lib, disable, s_init, &n->symbol[GF_NVML_INIT]);
    BIND(n->init, p);
    p = resolve(n->lib, disable, s_shutdown, &unused);
    BIND(n->shutdown, p);
    p = resolve(n->lib, disable, s_errstr, &unused);
    BIND(n->error_string, p);
    p = resolve(n->lib, disable, s_driver, &unused);
    BIND(n->driver_version_fn, p);
    p = resolve(n->lib, disable, s_count, &n->symbol[GF_NVML_DEVICE_COUNT]);
    BIND(n->device_count, p);
    p = resolve(n->lib, disable, s_handle, &n->symbol[GF_NVML_HANDLE]);
    BIND(n->handle_by_index, p);
    p = resolve(n->lib, disable, s_uuid, &n->symbol[GF_NVML_UUID]);
    BIND(n->uuid, p);
    p = resolve(n->lib, disable, s_name, &n->symbol[GF_NVML_NAME]);
    BIND(n->name, p);
    p = resolve(n->lib, disable, s_mem2, &n->symbol[GF_NVML_MEMORY]);
    BIND(n->memory_v2, p);
    if (!n->memory_v2) {
        p = resolve(n->lib, disable, s_mem1, &n->symbol[GF_NVML_MEMORY]);
        BIND(n->memory_v1, p);
    }
    p = resolve(n->lib, disable, s_util, &n->symbol[GF_NVML_UTILIZATION]);
    BIND(n->utilization, p);
    p = resolve(n->lib, disable, s_cp2, &n->symbol[GF_NVML_COMPUTE_PROCS]);
    BIND(n->procs_v2[GF_NVML_COMPUTE], p);
    if (!p) {
        p = resolve(n->lib, disable, s_cp1, &n->symbol[GF_NVML_COMPUTE_PROCS]);
        BIND(n->procs_v1[GF_NVML_COMPUTE], p);
    }
    p = resolve(n->lib, disable, s_gp2, &n->symbol[GF_NVML_GRAPHICS_PROCS]);
    BIND(n->procs_v2[GF_NVML_GRAPHICS], p);
    if (!p) {
        p = resolve(n->lib, disable, s_gp1, &n->symbol[GF_NVML_GRAPHICS_PROCS]);
        BIND(n->procs_v1[GF_NVML_GRAPHICS], p);
    }
    p = resolve(n->lib, disable, s_putil, &n->symbol[GF_NVML_PROC_UTIL]);
    BIND(n->process_utilization, p);

    const char *missing = !n->init              ? "nvmlInit_v2 (or nvmlInit)"
                          : !n->shutdown        ? "nvmlShutdown"
                          : !n->device_count    ? "nvmlDeviceGetCount_v2 (or nvmlDeviceGetCount)"
                          : !n->handle_by_index ? "nvmlDeviceGetHandleByIndex_v2 (or "
                                                  "nvmlDeviceGetHandleByIndex)"
                          : !n->uuid            ? "nvmlDeviceGetUUID"
                                                : NULL;
    if (missing) {
        gf_error_set(err, GF_ENOTFOUND, lib_path,
                     "the library has no %s: not NVML, or an NVML too old for the exporter",
                     missing);
        dlclose(n->lib);
        memset(n, 0, sizeof *n);
        return GF_ENOTFOUND;
    }
    for (int c = 0; c < GF_NVML_NCALLS; c++)
        if (!n->symbol[c])
            gf_diag(d, lib_path, "no %s: the metrics it feeds are not published",
                    gf_nvml_call_name((gf_nvml_call)c));

    nvmlReturn_t r = n->init();
    if (r != NVML_SUCCESS) {
        char why[200];
        gf_nvml_describe(n, r, why, sizeof why);
        gf_error_set(err, GF_EIO, lib_path, "%s failed: %s", n->symbol[GF_NVML_INIT], why);
        dlclose(n->lib);
        memset(n, 0, sizeof *n);
        return GF_EIO;
    }
    n->initialized = true;
    if (n->driver_version_fn &&
        n->driver_version_fn(n->driver_version, sizeof n->driver_version) != NVML_SUCCESS)
        n->driver_version[0] = '\0';
    n->driver_version[sizeof n->driver_version - 1] = '\0';
    return GF_OK;
}

void gf_nvml_close(gf_nvml *n)
{
    if (!n || !n->lib) return;
    if (n->initialized && n->shutdown) n->shutdown();
    dlclose(n->lib);
    memset(n, 0, sizeof *n);
}

nvmlReturn_t gf_nvml_memory(const gf_nvml *n, nvmlDevice_t dev, unsigned long long *total,
                            unsigned long long *used)
{
    if (n->memory_v2) {
        nvmlMemory_v2_t m;
        memset(&m, 0, sizeof m);
        m.version = nvmlMemory_v2;
        nvmlReturn_t r = n->memory_v2(dev, &m);
        if (r == NVML_SUCCESS) {
            *total = m.total;
            *used = m.used;
        }
        return r;
    }
    if (n->memory_v1) {
        nvmlMemory_t m;
        memset(&m, 0, sizeof m);
        nvmlReturn_t r = n->memory_v1(dev, &m);
        if (r == NVML_SUCCESS) {
            *total = m.total;
            *used = m.used;
        }
        return r;
    }
    return NVML_ERROR_NOT_SUPPORTED;
}

nvmlReturn_t gf_nvml_processes(const gf_nvml *n, gf_nvml_procs which, nvmlDevice_t dev,
                               nvmlProcessInfo_v2_t *buf, unsigned *count)
{
    if (n->procs_v2[which]) return n->procs_v2[which](dev, count, *count ? buf : NULL);
    if (!n->procs_v1[which]) return NVML_ERROR_NOT_SUPPORTED;
    /* v1 entries (16 bytes) fit in the space of as many v2 entries (24):
     * fill the buffer as v1, then widen from the last entry down so that no
     * entry is overwritten before it is read. */
    unsigned cap = *count;
    nvmlReturn_t r =
        n->procs_v1[which](dev, count, cap ? (nvmlProcessInfo_v1_t *)(void *)buf : NULL);
    if (r != NVML_SUCCESS) return r;
    unsigned got = *count < cap ? *count : cap;
    for (unsigned i = got; i-- > 0;) {
        nvmlProcessInfo_v1_t v1;
        memcpy(&v1, (const char *)buf + (size_t)i * sizeof v1, sizeof v1);
        nvmlProcessInfo_v2_t v2 = {v1.pid, v1.usedGpuMemory, 0xFFFFFFFFu, 0xFFFFFFFFu};
        memcpy((char *)buf + (size_t)i * sizeof v2, &v2, sizeof v2);
    }
    return r;
}
