/* convert_patch.h - the pod-template patch that moves a whole-GPU workload
 * onto a KAI fraction (decide/convert.h): the gpu-fraction (or gpu-memory)
 * annotation, gpu-fraction-num-devices for more than one device,
 * nvidia.com/gpu removed from the GPU container's requests and limits (KAI
 * rejects a fraction together with whole GPUs:
 * pkg/binder/plugins/gpusharing/gpu-request/gpu_request_validator.go), and
 * schedulerName kai-scheduler when asked.
 *
 * Two forms, because a JSON merge patch (RFC 7386) replaces a list whole:
 *   - strategic: what a user gives `kubectl patch` (containers merge by
 *     name; null removes a key);
 *   - merge: built from the object as read, with the whole containers list
 *     rewritten, for the controller's application/merge-patch+json PATCH,
 *     preconditioned on the resourceVersion read. */
#ifndef GF_CONVERT_PATCH_H
#define GF_CONVERT_PATCH_H

#include "decide/recommend.h"
#include "model/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gf_convert_change {
    const char *container; /* the container holding the GPUs */
    const char *unit_key;  /* "gpu-fraction" or "gpu-memory" */
    const char *value;     /* its value, as the annotation writes it */
    uint32_t devices;      /* whole GPUs per pod before: gpu-fraction-num-devices when > 1 */
    bool set_scheduler;    /* also set spec.schedulerName: kai-scheduler */
} gf_convert_change;

/* The change of a TO_FRACTION recommendation; value text written into buf. */
void gf_convert_change_of(const gf_recommendation *r, char *buf, size_t n, gf_convert_change *c);

/* {"spec":{"template":...}} as a strategic merge patch; new reference. */
json_t *gf_convert_patch_strategic(const gf_convert_change *c);

/* From the object as read (a Deployment or StatefulSet): *patch gets
 * {"spec":{"template":...}} as a JSON merge patch, or NULL when the template
 * already carries the change (the value, and no nvidia.com/gpu on the
 * container). GF_EINPUT (naming the object) when the template has no
 * containers or no container of that name. */
gf_err gf_convert_patch_merge(const json_t *current, const gf_convert_change *c, json_t **patch,
                              gf_error *err);

#endif
