/* engine.h - which inference engine a GPU container runs, and how it holds
 * GPU memory: detected from the pod spec (image, command + args, literal
 * env; model.h gpu_image/gpu_argv/gpu_env), or named by the pod annotation
 * gpufrac.io/engine.
 *
 * Why it matters: NVML shows what a process holds, not what it needs.
 *   - preallocating engines (vLLM, SGLang, TGI, TensorRT-LLM) take their
 *     memory cap at start and hold it flat whatever the load: their cap is
 *     a share of the whole device's memory (vLLM --gpu-memory-utilization,
 *     default 0.9; SGLang --mem-fraction-static, default chosen by SGLang
 *     from the GPU; TGI --cuda-memory-fraction / CUDA_MEMORY_FRACTION,
 *     default 1.0; TensorRT-LLM's kv_cache_free_gpu_mem_fraction lives in
 *     the model repository, not the pod spec: unknown here);
 *   - caching allocators (PyTorch-based servers: TorchServe, Triton's
 *     Python/PyTorch backends) keep their high-water mark until the process
 *     ends;
 *   - everything else is taken to follow its load.
 * KAI enforces no memory limit: it injects GPU_PORTION into the fraction
 * container (pkg/binder/common/gpu_access.go) so that an engine can size
 * itself, e.g. --gpu-memory-utilization=$(GPU_PORTION), which Kubernetes
 * expands from the container's environment.
 * Facts: ../shared/research/engines.md and each engine's documentation.
 * Pure: no I/O. */
#ifndef GF_ENGINE_H
#define GF_ENGINE_H

#include "model/model.h"

#include <stdbool.h>
#include <stddef.h>

/* The pod annotation that names the engine, overriding detection. */
#define GF_ENGINE_ANNOTATION "gpufrac.io/engine"

typedef enum gf_engine_kind {
    GF_ENGINE_GENERIC,
    GF_ENGINE_VLLM,
    GF_ENGINE_SGLANG,
    GF_ENGINE_TGI,
    GF_ENGINE_TRTLLM,
    GF_ENGINE_TRITON,
    GF_ENGINE_TORCHSERVE,
    GF_ENGINE_COUNT
} gf_engine_kind;

typedef enum gf_engine_memory {
    GF_MEM_FOLLOWS_LOAD, /* generic: NVML memory is the need */
    GF_MEM_PREALLOCATES, /* holds its cap from start to exit */
    GF_MEM_HIGH_WATER    /* caching allocator: holds its peak until restart */
} gf_engine_memory;

typedef enum gf_engine_cap_source {
    GF_CAP_NONE,        /* the engine takes no cap (generic, caching allocators) */
    GF_CAP_FLAG,        /* a literal flag value */
    GF_CAP_ENV,         /* a literal environment variable */
    GF_CAP_GPU_PORTION, /* $(GPU_PORTION): follows the KAI fraction */
    GF_CAP_DEFAULT,     /* the engine's documented default (cap NaN when it has none fixed) */
    GF_CAP_UNKNOWN      /* set outside the pod spec (a model repository), or unparsable */
} gf_engine_cap_source;

typedef struct gf_engine_info {
    gf_engine_kind kind;
    gf_engine_memory memory;
    gf_engine_cap_source cap_source;
    double cap;       /* share of the whole device's memory the engine takes; NaN unknown */
    const char *knob; /* the flag or variable that sets it ("--gpu-memory-utilization"), or NULL */
    bool by_annotation;
} gf_engine_info;

/* "generic", "vllm", "sglang", "tgi", "tensorrt-llm", "triton", "torchserve". */
const char *gf_engine_name(gf_engine_kind k);
/* The kind for a name as above (case-insensitive); false when unknown. */
bool gf_engine_parse(const char *name, gf_engine_kind *out);
/* "follows-load", "preallocates", "high-water". */
const char *gf_engine_memory_name(gf_engine_memory m);
/* "none", "flag", "env", "gpu-portion", "default", "unknown". */
const char *gf_engine_cap_source_name(gf_engine_cap_source s);

/* What pod p's GPU container runs. An annotation gpufrac.io/engine with an
 * unknown name is ignored (detection decides) and *bad_annotation set, so
 * the caller can warn; bad_annotation may be NULL. */
void gf_engine_detect(const gf_pod *p, gf_engine_info *out, bool *bad_annotation);

/* Configured to overrun: a preallocating engine whose cap (a share of the
 * whole device) exceeds the fraction it holds, so it will take its
 * GPU-mates' memory before it serves a request. True with a one-line
 * finding and the exact fix in msg (e.g. "vllm --gpu-memory-utilization
 * 0.9 (default) takes 0.90 of the GPU but holds 0.50: set
 * --gpu-memory-utilization=$(GPU_PORTION) (or 0.50)"). fraction is the
 * pod's allocation per device (gf_pod_share_on). */
bool gf_engine_overrun(const gf_engine_info *e, double fraction, char *msg, size_t n);

#endif
