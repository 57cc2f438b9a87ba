/* recommend.h - the rightsizing engine: usage history + policy -> each
 * workload's KAI allocation.
 *
 * What KAI's numbers mean drives the rules: gpu-fraction f reserves f of each
 * of the pod's GPUs' *memory* (on gpu-fraction-num-devices devices), and
 * gpu-memory M reserves M MiB per device. KAI enforces neither memory nor
 * compute, so an allocation must cover peak GPU memory with margin and, with
 * computeAware, the workload's share of SM time too.
 *
 * Samples are per pod and per device (memory bytes used on one GPU, SM share
 * of one GPU), pooled per workload (all its pods) in one history series whose
 * key is gf_recommend_key(): "namespace/Kind/name". A recommendation is per
 * device, in the workload's own unit (fraction, or MiB for gpu-memory
 * workloads); the device count is kept.
 *
 * Rules (all settings from the policy, see policy.h):
 *   - upsize at once: when the memory peak over the upsize window reaches
 *     upsize.trigger x the allocation, or (computeAware) the SM share's mean
 *     over the upsize window stays above trigger x the fraction, recommend
 *     need x (1 + headroom), rounded up to the step; no history needed, no
 *     cooldown (a workload about to run out of memory does not wait).
 *     With upsize.newPeak (the default) memory in the trigger band upsizes only
 *     on new territory: a peak above the highest the history held since the
 *     last change (before the upsize window), or a least-squares line
 *     through the upsize window's minute peaks that reaches the allocation
 *     within the window; memory at or above the allocation upsizes at once,
 *     and the peak floor triggers an upsize only for a peak at or above it
 *     (a busy, stable service at 92% is not raised);
 *   - confidence is coverage: the share of the hours of the confidence
 *     window (the longer of minHistory and downsize.window) that hold
 *     samples; missing samples are no data, never zero use. With
 *     downsize.minCoverage > 0: no downsize below that coverage of the
 *     downsize window, and no sample within downsize.window is NODATA;
 *   - one margin (singleMargin, default): with peak P = max(window peak x
 *     burst reserve, observed peak), need = P x (1 + m), m = min(headroom,
 *     memoryMargin) when the peak is confident (coverage of the downsize
 *     window >= minCoverage), max(headroom, memoryMargin) when not; an
 *     upsize likewise sizes max(recent peak, observed peak) x (1 + m).
 *     Without it: max(window peak x reserve x (1 + headroom), observed
 *     peak x (1 + memoryMargin));
 *   - burst reserve (downsize.burstReserve): R = the highest daily peak /
 *     the median daily peak over the days the hour ring holds (>= 3 days of
 *     >= 12 sampled hours, else 1); R >= 1.2 is bursty: no downsize before
 *     7 days of history;
 *   - when to change: a downsize waits (action keep, waits_window, the
 *     reason "waiting for the change window 02:00-05:00 (UTC) ...") for
 *     changeWindow when set, else with downsize.atTrough for the daily
 *     trough (the 3 consecutive hours of the day, UTC, of lowest mean
 *     hourly peak; known once every hour of the day was seen); upsizes
 *     never wait;
 *   - downsize patiently: only with at least downsize.minHistory of samples,
 *     after the cooldown since the last change, within maxDisruptionsPerHour,
 *     when max(peak memory over the downsize window x (1 + headroom), the SM
 *     percentile x (1 + headroom) with computeAware) is below the allocation
 *     by at least minChange; one step takes at most maxStep;
 *   - never below the observed peak memory (the longest the history holds,
 *     8 days) x (1 + memoryMargin), whatever the rule;
 *   - bounds: minFraction..maxFraction (for gpu-memory workloads converted
 *     with the GPU's memory), fractions rounded up to step, MiB up to
 *     memoryStepMiB;
 *   - a workload that needs more than maxFraction (default 0.95; always
 *     below 1) gets a whole GPU: action whole-gpu, nvidia.com/gpu: devices in
 *     its container's limits and the sharing annotations removed. KAI's
 *     admission webhook refuses gpu-fraction 1 and more
 *     (pkg/binder/plugins/gpusharing/gpu-request/gpu_request_validator.go),
 *     so no recommendation is ever a fraction of 1 or more.
 * Rules by engine class (in.engine, model/engine.h; policy engine.*, and
 * engine.rules false gives every workload the generic rules). NVML
 * memory is what a process holds, not what it needs:
 *   - preallocating engines (vLLM, SGLang, TGI, TensorRT-LLM) hold their cap
 *     flat: NVML memory at the allocation is never by itself a reason to
 *     upsize, and the peak floor does not apply. With the engine's KV-cache
 *     use in the history (GF_SIG_KV): held = the memory it holds now (NVML
 *     peak over upsize.window, else its allocation), base = weights +
 *     runtime overhead (in.engine_base_bytes, else engine.baseShare x the
 *     most it ever held: weights do not shrink with the cap), pool = held -
 *     base; need = base + peak KV x pool x (1 + engine.kvMargin), the KV
 *     peak over downsize.window but only since the last change (the shares
 *     are of the pool it had then). Upsize
 *     when the KV peak over upsize.window reaches engine.kvFull AND requests
 *     waited (GF_SIG_WAITING >= 1) or were preempted (GF_SIG_PREEMPT > 0) in
 *     it: held x (1 + headroom) x (1 + kvMargin), at least base + pool x
 *     (1 + headroom). Downsize to the need over downsize.window (KV samples
 *     since the last change spanning all of it, at most minHistory), with
 *     the generic gates (minHistory, cooldown,
 *     maxDisruptionsPerHour, minChange, maxStep), only when no request
 *     waited or was preempted in the window. Without KV samples: the generic
 *     rules less the memory trigger and the floor (SM still counts). A
 *     resize of an engine whose cap is a literal flag or variable also sets
 *     it to the new fraction (move_cap; engine.moveCap) in the same patch
 *     (the controller's, and --patches'), so auto mode applies it;
 *   - caching allocators (TorchServe, Triton's PyTorch backends): the
 *     high-water mark (the all-time max the history holds) is the need: the
 *     floor is it x (1 + memoryMargin) and a downsize is judged against it;
 *   - generic: the rules above.
 *   - an upsize of a non-preemptible workload that would push its KAI queue
 *     (or a parent) past its GPU quota, the rollout's surge included, is
 *     flagged quota_blocked (decide/quota.h): reported, never written;
 *   - downsize.holdOneWay (default off): a downsize of a non-preemptible
 *     workload whose queues could not fund the way back
 *     (gf_quota_downsize_one_way: a queue over its quota) is held (action
 *     KEEP, quota_one_way, the reason says so): KAI would admit no upsize
 *     of it later, however its demand grows.
 * Each recommendation says which rule fired with which figures, a confidence
 * (coverage of the confidence window, 0..1) and the GPUs saved
 * (per device change x devices x replicas).
 *
 * Pure: no I/O, no clock (the caller passes now). */
#ifndef GF_RECOMMEND_H
#define GF_RECOMMEND_H

#include "decide/history.h"
#include "model/engine.h"
#include "model/model.h"
#include "decide/policy.h"
#include "decide/quota.h"
#include "model/sample.h"

#include <stddef.h>

/* The workload as the engine sees it. */
typedef struct gf_rec_input {
    const char *ns, *kind, *name;
    gf_share_kind unit;     /* GF_SHARE_FRACTION or GF_SHARE_MEMORY */
    double fraction;        /* current gpu-fraction (unit FRACTION) */
    int64_t memory_mib;     /* current gpu-memory (unit MEMORY) */
    uint32_t devices;       /* gpu-fraction-num-devices, >= 1 */
    int64_t gpu_memory_mib; /* memory of one of its GPUs (the smallest among its nodes
                               with an nvidia.com/gpu.memory label) */
    uint32_t replicas;      /* active pods holding the allocation */
    const char *container;  /* the container that gets the share (gf_pod.gpu_container) */
    bool container_init;    /* it is an init container */
    /* whole-GPU workloads (decide/convert.h): unit and devices are what a
     * conversion would give; current is one whole GPU per device */
    uint32_t whole_gpus;        /* nvidia.com/gpu per pod; 0 for a KAI share */
    const char *gpu_container;  /* the container holding the whole GPU(s), or NULL */
    const char *scheduler_name; /* its pods' spec.schedulerName, or NULL */
    /* what its GPU container runs (model/engine.h gf_engine_detect on its
     * first pod); all zero = generic, the rules that follow NVML memory */
    gf_engine_info engine;
    /* weights + runtime overhead of a preallocating engine, bytes per device,
     * when known (annotation gpufrac.io/engine-base-memory); 0 = unknown: the
     * policy's engine.baseShare of what it holds; -1 = the annotation is not
     * a positive quantity (the reason says so; baseShare is used) */
    double engine_base_bytes;
    /* that container as its pod template writes it (model.h gpu_argv,
     * gpu_cmd_n, gpu_spec_container), for the patch that moves the cap */
    const char *engine_container;
    bool engine_container_init;
    const char *const *engine_argv;
    uint32_t engine_argc, engine_cmd_n;
} gf_rec_input;

/* The pod annotation giving a preallocating engine's weights + runtime
 * overhead per device as a Kubernetes quantity ("14Gi"), e.g. from vLLM's
 * "Loading model weights took X GB" plus its profiled activation peak. */
#define GF_ENGINE_BASE_ANNOTATION "gpufrac.io/engine-base-memory"

/* The signal that decided a recommendation (gf_recommendation.decided_by). */
typedef enum gf_rec_signal {
    GF_RSIG_NONE = 0,   /* nothing fired (keep, no data, off) */
    GF_RSIG_MEMORY,     /* NVML memory peak against the allocation */
    GF_RSIG_SM,         /* SM share (computeAware) */
    GF_RSIG_PEAK_FLOOR, /* observed peak memory + memoryMargin */
    GF_RSIG_KV,         /* the engine's KV-cache use (with waiting / preempted requests) */
    GF_RSIG_HIGH_WATER  /* a caching allocator's all-time high-water mark */
} gf_rec_signal;

/* "none", "memory", "sm", "peak-floor", "kv-cache", "high-water". */
const char *gf_rec_signal_name(gf_rec_signal s);
/* The rules a workload gets: "preallocating" (vLLM, SGLang, TGI,
 * TensorRT-LLM), "caching-allocator" (TorchServe, Triton's PyTorch backends)
 * or "generic". */
const char *gf_rec_engine_class(const gf_engine_info *e);

typedef enum gf_rec_action {
    GF_REC_KEEP,       /* allocation fits use */
    GF_REC_UP,         /* upsize */
    GF_REC_DOWN,       /* downsize */
    GF_REC_NODATA,     /* no usage samples yet */
    GF_REC_OFF,        /* the policy leaves this workload alone */
    GF_REC_WHOLE,      /* needs more than maxFraction: a whole GPU per device, no sharing
                          (convert.toWholeGpu) */
    GF_REC_TO_FRACTION /* whole GPUs -> a KAI fraction per device (decide/convert.h) */
} gf_rec_action;
/* The fraction -> whole GPU answer by the name convert's code gives it. */
#define GF_REC_TO_WHOLE GF_REC_WHOLE

/* "keep", "upsize", "downsize", "no-data", "off", "whole-gpu", "to-fraction". */
const char *gf_rec_action_name(gf_rec_action a);

typedef struct gf_recommendation {
    gf_rec_input in;
    gf_rec_action action;
    gf_mode mode;            /* recommend: report; auto: the controller applies it */
    double recommended;      /* per device: fraction, or MiB for gpu-memory workloads;
                                whole-gpu: 1 (one whole GPU per device) */
    double current;          /* the same unit */
    double current_fraction; /* both as fractions of one GPU */
    double recommended_fraction;
    double confidence;        /* 0..1 */
    double gpus_saved;        /* (current - recommended) fraction x devices x replicas */
    double peak_memory_bytes; /* the floor's basis: observed peak memory */
    char reason[640];
    char policy[256];         /* which rule / annotation decided the settings */
    bool set_scheduler;       /* TO_FRACTION: also set schedulerName kai-scheduler */
    gf_rec_signal decided_by; /* the signal behind the action (or behind keeping it) */
    /* the cap moves with the fraction: a resize of a preallocating engine whose
     * cap is a literal flag or variable (in.engine.cap_source FLAG or ENV) and
     * engine.moveCap: set in.engine.knob to new_cap in the same patch */
    bool move_cap;
    double new_cap; /* the new cap, a share of the whole device (= recommended_fraction) */
    /* an upsize (UP, WHOLE) of a non-preemptible workload its KAI queue or a
     * parent cannot fund (decide/quota.h): recommended, never written; the
     * reason starts "blocked by queue quota" */
    bool quota_blocked;
    gf_quota_check quota;
    const char *quota_queue_name; /* the queue over quota (borrowed from the model) */
    /* a downsize held because its queues could not fund the way back
     * (gf_quota_downsize_one_way): action KEEP, quota says which queue */
    bool quota_one_way;
    /* a downsize held for the change window or the daily trough (action
     * KEEP, the reason starts "waiting for"): the controller's hold
     * GF_HOLD_CHANGE_WINDOW */
    bool waits_window;
    double waits_to; /* the downsize it waits to make, in the unit (recommended) */
} gf_recommendation;

/* "namespace/Kind/name" into buf (truncated to n). */
const char *gf_recommend_key(const char *ns, const char *kind, const char *name, char *buf,
                             size_t n);

/* Where a user sets the pods' KAI annotation for a workload whose top
 * owner gpufrac does not write (an operator's object: KServe
 * InferenceService, Knative Service, LeaderWorkerSet, Argo Rollout,
 * RayService / RayCluster): the object's kind and name (from the pods'
 * labels where the owner chain stops short of it) and the field; path NULL
 * for kinds it knows no field of (Job, DaemonSet, a bare ReplicaSet: their
 * own pod template). first: one of its pods (their labels name the
 * object where the owner chain stops short of it), or NULL. Strings
 * borrowed from the model or static. */
typedef struct gf_owner_target {
    const char *kind, *name;
    const char *path;
} gf_owner_target;

void gf_recommend_owner_target(const gf_workload *w, const gf_pod *first, gf_owner_target *out);

/* The pod annotation that holds an allocation in unit: "gpu-memory" for
 * GF_SHARE_MEMORY, else "gpu-fraction". */
const char *gf_recommend_unit_annotation(gf_share_kind unit);
/* v as that annotation writes it: MiB as a whole number, a fraction "%g". */
void gf_recommend_value_text(gf_share_kind unit, double v, char *buf, size_t n);

/* What r recommends as text: the annotation value ("0.35", "8192"), or
 * "nvidia.com/gpu: N" for whole-gpu (never a gpu-fraction of 1). */
void gf_recommend_target_text(const gf_recommendation *r, char *buf, size_t n);

/* One workload. s may be NULL (no history). GF_EINPUT for an input that
 * makes no sense (no unit, no GPU memory for a conversion, devices 0). */
gf_err gf_recommend_one(const gf_rightsize_rule *rule, const gf_rec_input *in,
                        const gf_hist_series *s, double now, gf_recommendation *out, gf_error *err);

/* A fraction of one GPU made valid for the workload in->unit: rounded up to
 * the step (or memoryStepMiB), within minFraction..maxFraction. Returns the
 * fraction; *value is it in the unit. */
double gf_recommend_quantise(const gf_rightsize_rule *rule, const gf_rec_input *in, double frac,
                             double *value);
/* Peak of a signal over the window before now (0 without samples; the
 * all-time peak when the rings cannot answer the window). */
double gf_recommend_peak(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s);

typedef GF_VEC(gf_recommendation) gf_recommendations;

/* Every workload of a finalized model whose active pods hold a KAI fraction
 * (gpu-fraction or gpu-memory), in workload order; unowned sharing pods are
 * skipped (nothing to patch). Settings from the policy per workload. Then
 * the whole-GPU workloads' conversions (gf_convert_model, decide/convert.h).
 * With the rule's convert.toWholeGpu not off, a workload whose need passes
 * maxFraction gets TO_WHOLE (one whole GPU per device) instead of staying at
 * the bound. */
gf_err gf_recommend_model(const gf_model *m, const gf_history *h, const gf_policy *p, double now,
                          gf_recommendations *out, gf_error *err);

/* What gf_recommend_ingest() did with the samples. */
typedef struct gf_ingest_stats {
    size_t added;     /* values added to the history (memory and SM count apart) */
    size_t old;       /* samples at or before the history's newest time: skipped */
    size_t unmatched; /* samples of pods that map to no workload: skipped */
    size_t by_name;   /* samples mapped by the pod-name convention, not the snapshot */
    const gf_usage_sample *first_unmatched; /* one unmatched sample (borrowed), or NULL */
} gf_ingest_stats;

/* Adds samples to the history, each under its workload's key. A pod is
 * found in the model (namespace/name), else by the controllers' naming
 * convention among the model's workloads of its namespace: a Deployment's
 * pods are <deployment>-<pod-template-hash>-<5 chars>, a ReplicaSet's
 * <replicaset>-<5 chars>, a StatefulSet's <statefulset>-<ordinal> (so the
 * history of pods that no longer exist still counts). Samples at or before
 * `after` are skipped as already ingested (pass -INFINITY to take all; the
 * CLI passes the newest time in a history it loaded, so that ingest is
 * idempotent when each run brings whole time slices). GF_EINPUT (naming the
 * pod and time) for a value the history refuses; nothing after it is
 * added. */
gf_err gf_recommend_ingest(const gf_model *m, gf_history *h, const gf_usage_sample *samples,
                           size_t n, double after, gf_ingest_stats *st, gf_error *err);

/* The engine samples of inference servers (model/sample.h): each value that
 * is not NaN goes to the series of the pod's workload, found as
 * gf_recommend_ingest() finds it, as GF_SIG_KV, GF_SIG_WAITING and
 * GF_SIG_PREEMPT. Samples of pods that map to no workload are counted, not
 * errors. */
gf_err gf_recommend_ingest_engine(const gf_model *m, gf_history *h, const gf_engine_sample *samples,
                                  size_t n, double after, gf_ingest_stats *st, gf_error *err);

/* Newest sample time in the history, -INFINITY when empty. */
double gf_history_newest(const gf_history *h);

#endif
