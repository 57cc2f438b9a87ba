/* kai_patch.h - the patches gpufrac writes to a workload's pod template, in
 * the only shapes KAI accepts.
 *
 * A share is the pod template's gpu-fraction or gpu-memory annotation. KAI's
 * admission webhook (NVIDIA/KAI-Scheduler
 * pkg/binder/plugins/gpusharing/gpu-request/gpu_request_validator.go)
 * refuses gpu-fraction <= 0 or >= 1, gpu-memory that is not a positive
 * integer, and a share together with an nvidia.com/gpu limit. So a workload
 * that needs more than the policy's largest fraction gets a whole GPU: in
 * ONE patch, nvidia.com/gpu: N in the limits of the container that held the
 * share (gpu-fraction-container-name, else the first container:
 * pkg/binder/common/gpu_access.go GetFractionContainerRef) and every sharing
 * annotation removed (gpu-fraction, gpu-memory, gpu-fraction-num-devices,
 * gpu-fraction-container-name; null in the patch).
 *
 * Two encodings of that change:
 *   - a strategic merge patch (kubectl --type strategic), where containers
 *     merge by name: for the printed `kubectl patch` lines;
 *   - a JSON merge patch (RFC 7386) built from the object as it is now,
 *     carrying the whole container list (merge patches replace lists), for
 *     the controller, which sends it with the object's resourceVersion. */
#ifndef GF_KAI_PATCH_H
#define GF_KAI_PATCH_H

#include "model/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The whole-GPU change as a strategic merge patch of a Deployment,
 * StatefulSet, ... (spec.template). container: the container's name (NULL:
 * GF_EINPUT), init: it is an init container; gpus >= 1. New reference. */
json_t *gf_kai_whole_gpu_strategic(const char *container, bool init, uint32_t gpus);

/* The same change as a JSON merge patch of the workload object obj (a
 * Deployment, StatefulSet, ... as the API server returns it): the template's
 * sharing annotations null, and its container list with nvidia.com/gpu: gpus
 * in the limits (and the requests, when they name nvidia.com/gpu) of the
 * container named container (NULL: the first). Extra members of the patch
 * may be merged in by the caller. NULL with err set when the template has no
 * such container. New reference. */
json_t *gf_kai_whole_gpu_merge(const json_t *obj, const char *container, bool init, uint32_t gpus,
                               gf_error *err);

/* --- the cap moves with the fraction ---------------------------------------
 * A preallocating inference engine takes a share of the whole device
 * (vLLM --gpu-memory-utilization, SGLang --mem-fraction-static, TGI
 * --cuda-memory-fraction / CUDA_MEMORY_FRACTION; model/engine.h); KAI
 * enforces no memory limit, so a resize of such a workload must move that
 * cap too, in the same patch, or the new pod takes its old share. */

/* The cap value as the patch writes it: cap rounded down to 0.001 (never
 * above the new allocation), "%g" ("0.35"). */
void gf_kai_cap_text(double cap, char *buf, size_t n);

/* The container entry of a strategic merge patch (containers merge by name)
 * that sets the engine's cap to cap: {"name": container, "args": [...]}
 * (and/or "command", whichever holds the flag; strategic merge replaces
 * these lists whole, so every other entry is kept as argv has it), or, for
 * a variable (env true), {"name": container, "env": [{"name": knob,
 * "value": "0.35"}]} (env merges by name). argv: the container's command
 * (the first cmd_n) then args, as the pod template writes them; a flag
 * inside one entry (a shell's `-c` script) is rewritten in place. NULL with
 * err set when container is NULL or the flag is not found. New reference. */
json_t *gf_kai_engine_cap_container(const char *container, const char *knob, bool env,
                                    const char *const *argv, uint32_t argc, uint32_t cmd_n,
                                    double cap, gf_error *err);

/* The resize of a share (annotation = "gpu-fraction" or "gpu-memory",
 * value its new text) with the cap moved: one strategic merge patch of the
 * pod template carrying both, container_entry from
 * gf_kai_engine_cap_container (stolen). init: the container is an init
 * container. New reference. */
json_t *gf_kai_resize_with_cap_strategic(const char *annotation, const char *value, bool init,
                                         json_t *container_entry);

/* The same change as a JSON merge patch of the workload object obj (as the
 * API server returns it), for the controller: the template's annotation set
 * to value, and its whole container list (merge patches replace lists)
 * copied from obj with the cap of the container named container moved to
 * cap: its flag rewritten in command/args as gf_kai_engine_cap_container
 * does (every other entry, container and field kept), or, env true, its
 * env entry knob set to the value (added when absent, valueFrom dropped;
 * the other entries kept). The caller merges in the metadata it records.
 * NULL with err set when the template has no such container or the flag is
 * not in its command or args. New reference. */
json_t *gf_kai_resize_with_cap_merge(const json_t *obj, const char *annotation, const char *value,
                                     const char *container, bool init, const char *knob, bool env,
                                     double cap, gf_error *err);

#endif
