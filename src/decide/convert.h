/* convert.h - whole GPUs onto KAI fractions: the one-GPU-per-container
 * pattern, where most inference containers holding a whole GPU
 * (nvidia.com/gpu: n) use a small part of it.
 *
 * For a workload whose pods hold n whole GPUs each, with at least the rule's
 * convert.minHistory of usage (samples are per pod and per device, pooled
 * per workload under gf_recommend_key(), as for rightsizing), the need per
 * device is, with the rightsizing margins and floors:
 *   max(peak memory over downsize.window x (1 + headroom),
 *       observed peak memory x (1 + memoryMargin),
 *       SM percentile (downsize.percentile) x (1 + headroom))
 * SM counts whatever computeAware says: the workload had the GPU's compute
 * to itself, and sharing takes that away. Quantised like a rightsizing
 * (bounds.step, or bounds.memoryStepMiB with convert.unit memory); a need
 * above convert.maxFractionForConversion keeps the whole GPU. The answer is
 * gpu-fraction (or gpu-memory MiB) per device and gpu-fraction-num-devices n
 * for n > 1; it frees (1 - fraction) x n x replicas GPUs.
 *
 * KAI handles only pods whose spec.schedulerName is kai-scheduler, and
 * rejects a fraction together with whole GPUs (NVIDIA/KAI-Scheduler
 * pkg/binder/plugins/gpusharing/gpu-request/gpu_request_validator.go), so a
 * conversion removes nvidia.com/gpu from the container; a workload scheduled by another scheduler
 * converts only when convert.setScheduler allows gpufrac to set it (set_scheduler).
 *
 * The mode is convert.fromWholeGpu; off when the workload's resolved
 * rightsizing mode is off (a rule's mode off, the opt-out annotation
 * gpufrac.io/rightsize, an opt-in policy without it), and lowered (never
 * raised) by the annotation's mode.
 *
 * Pure: no I/O, no clock. Names: gf_convert_*. */
#ifndef GF_CONVERT_H
#define GF_CONVERT_H

#include "decide/history.h"
#include "decide/policy.h"
#include "decide/recommend.h"
#include "model/model.h"

/* The container of a whole-GPU pod that holds its GPUs: the first container
 * requesting nvidia.com/gpu; NULL when not known. One place, so that the
 * KAI gpu-fraction-container-name rule can be followed here. */
const char *gf_convert_gpu_container(const gf_pod *p);

/* One whole-GPU workload: in->whole_gpus >= 1, in->gpu_memory_mib > 0; the
 * unit is taken from the rule (convert.unit). mode is the resolved
 * conversion mode. s may be NULL (no history). GF_EINPUT for an input that
 * makes no sense. */
gf_err gf_convert_one(const gf_rightsize_rule *rule, gf_mode mode, const gf_rec_input *in,
                      const gf_hist_series *s, double now, gf_recommendation *out, gf_error *err);

/* Appends to out a recommendation for every workload of a finalized model
 * whose active pods hold whole GPUs (reservation pods and unowned pods
 * skipped), in workload order. */
gf_err gf_convert_model(const gf_model *m, const gf_history *h, const gf_policy *p, double now,
                        gf_recommendations *out, gf_error *err);

#endif
