/* nvml_abi.h - the subset of NVIDIA's NVML C ABI that gpufrac-exporter uses,
 * declared here because the exporter is built without NVIDIA's headers or
 * packages and loads libnvidia-ml.so.1 with dlopen at run time.
 *
 * Everything below is copied by meaning from nvml.h of NVML API version 13
 * (as vendored in NVIDIA/go-nvml pkg/nvml/nvml.h): return codes, struct
 * layouts and the signatures of the versioned entry points. The struct sizes
 * are checked with static assertions against the sizes that header states,
 * so a typo in a field breaks the build instead of reading garbage.
 * tests/fake_nvml/fake_nvml.c implements the same functions for the tests. */
#ifndef GF_NVML_ABI_H
#define GF_NVML_ABI_H

#include <stddef.h>

/* nvmlReturn_t: NVML's return codes (nvml.h "nvmlReturn_enum"). */
typedef enum nvmlReturn_enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_UNKNOWN = 999
} nvmlReturn_t;

/* An opaque device handle. */
typedef struct nvmlDevice_st *nvmlDevice_t;

/* Buffer sizes (nvml.h): the v2 sizes fit every current driver. */
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80

/* usedGpuMemory when the driver cannot say (e.g. Windows WDDM). */
#define NVML_VALUE_NOT_AVAILABLE (~0ULL)

/* Versioned structs carry sizeof | version << 24 in their first field. */
#define NVML_STRUCT_VERSION(data, ver)                                                             \
    (unsigned int)(sizeof(nvml##data##_v##ver##_t) | ((unsigned int)(ver) << 24U))

typedef struct nvmlUtilization_st {
    unsigned int gpu;    /* % of the last sample period with a kernel running */
    unsigned int memory; /* % of it with device memory read or written */
} nvmlUtilization_t;

typedef struct nvmlMemory_st {
    unsigned long long total, free, used; /* bytes; v1 `used` includes reserved memory */
} nvmlMemory_t;

typedef struct nvmlMemory_v2_st {
    unsigned int version; /* nvmlMemory_v2 */
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
#define nvmlMemory_v2 NVML_STRUCT_VERSION(Memory, 2)

/* nvmlDeviceGetComputeRunningProcesses (no suffix) fills v1 entries; the
 * _v2 and _v3 entry points fill v2 entries (nvmlProcessInfo_t). */
typedef struct nvmlProcessInfo_v1_st {
    unsigned int pid;
    unsigned long long usedGpuMemory; /* bytes, or NVML_VALUE_NOT_AVAILABLE */
} nvmlProcessInfo_v1_t;

typedef struct nvmlProcessInfo_v2_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;     /* 0xFFFFFFFF unless MIG */
    unsigned int computeInstanceId; /* 0xFFFFFFFF unless MIG */
} nvmlProcessInfo_v2_t;

typedef struct nvmlProcessUtilizationSample_st {
    unsigned int pid;
    unsigned long long timeStamp; /* CPU timestamp in microseconds */
    unsigned int smUtil;          /* SM (3D/compute) utilisation, % */
    unsigned int memUtil;
    unsigned int encUtil;
    unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

_Static_assert(sizeof(nvmlUtilization_t) == 8, "nvmlUtilization_t ABI size");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t ABI size");
_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t ABI size");
_Static_assert(offsetof(nvmlMemory_v2_t, total) == 8, "nvmlMemory_v2_t total offset");
_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t ABI size");
_Static_assert(sizeof(nvmlProcessInfo_v2_t) == 24, "nvmlProcessInfo_v2_t ABI size");
_Static_assert(offsetof(nvmlProcessInfo_v2_t, usedGpuMemory) == 8, "usedGpuMemory offset");
_Static_assert(sizeof(nvmlProcessUtilizationSample_t) == 32, "process sample ABI size");
_Static_assert(offsetof(nvmlProcessUtilizationSample_t, smUtil) == 16, "smUtil offset");

/* Entry points, by the exported symbol each type is used for. */
typedef nvmlReturn_t (*gf_nvmlInit_fn)(void);     /* nvmlInit_v2, nvmlInit */
typedef nvmlReturn_t (*gf_nvmlShutdown_fn)(void); /* nvmlShutdown */
typedef const char *(*gf_nvmlErrorString_fn)(nvmlReturn_t result);
typedef nvmlReturn_t (*gf_nvmlSystemGetDriverVersion_fn)(char *version, unsigned int length);
/* nvmlDeviceGetCount_v2, nvmlDeviceGetCount */
typedef nvmlReturn_t (*gf_nvmlDeviceGetCount_fn)(unsigned int *deviceCount);
/* nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetHandleByIndex */
typedef nvmlReturn_t (*gf_nvmlDeviceGetHandleByIndex_fn)(unsigned int index, nvmlDevice_t *device);
/* nvmlDeviceGetUUID, nvmlDeviceGetName */
typedef nvmlReturn_t (*gf_nvmlDeviceGetString_fn)(nvmlDevice_t device, char *buf,
                                                  unsigned int length);
typedef nvmlReturn_t (*gf_nvmlDeviceGetMemoryInfo_fn)(nvmlDevice_t device, nvmlMemory_t *memory);
typedef nvmlReturn_t (*gf_nvmlDeviceGetMemoryInfo_v2_fn)(nvmlDevice_t device,
                                                         nvmlMemory_v2_t *memory);
typedef nvmlReturn_t (*gf_nvmlDeviceGetUtilizationRates_fn)(nvmlDevice_t device,
                                                            nvmlUtilization_t *utilization);
/* nvmlDeviceGet{Compute,Graphics}RunningProcesses_v3 and _v2 */
typedef nvmlReturn_t (*gf_nvmlDeviceGetProcesses_v2_fn)(nvmlDevice_t device,
                                                        unsigned int *infoCount,
                                                        nvmlProcessInfo_v2_t *infos);
/* nvmlDeviceGet{Compute,Graphics}RunningProcesses (v1 entries) */
typedef nvmlReturn_t (*gf_nvmlDeviceGetProcesses_v1_fn)(nvmlDevice_t device,
                                                        unsigned int *infoCount,
                                                        nvmlProcessInfo_v1_t *infos);
typedef nvmlReturn_t (*gf_nvmlDeviceGetProcessUtilization_fn)(
    nvmlDevice_t device, nvmlProcessUtilizationSample_t *utilization,
    unsigned int *processSamplesCount, unsigned long long lastSeenTimeStamp);

#endif
