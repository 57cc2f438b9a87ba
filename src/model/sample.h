/* sample.h - one usage observation of one pod on one GPU: the core's view of
 * what the exporter measures; and one observation of an inference engine's
 * own metrics (src/io/usage.h reads them from CSV files and
 * Prometheus answers; the recommender pools them per workload). */
#ifndef GF_SAMPLE_H
#define GF_SAMPLE_H

typedef struct gf_usage_sample {
    double t;              /* unix seconds */
    const char *ns, *pod;  /* never NULL or empty */
    const char *container; /* "" when the source does not say */
    const char *gpu_uuid;  /* "" when the source does not say */
    double memory_bytes;   /* NaN if absent */
    double sm_util;        /* share of one GPU's SMs, 0..1 per GPU; NaN if absent */
} gf_usage_sample;

/* One observation of an inference engine's own metrics for one pod (vLLM,
 * SGLang, TGI: src/io/usage.h GF_ENGINE_METRIC_* reads them from Prometheus,
 * joined to the pod by the namespace and pod labels of Kubernetes service
 * discovery). Each value NaN when the source does not say; the recommender
 * keeps them as the history's GF_SIG_KV, GF_SIG_WAITING, GF_SIG_PREEMPT. */
typedef struct gf_engine_sample {
    double t;                /* unix seconds */
    const char *ns, *pod;    /* never NULL or empty */
    double kv_usage;         /* share of the engine's KV cache in use, 0..1 */
    double requests_waiting; /* requests queued for a slot, not yet running */
    double preempt_rate;     /* requests preempted per second */
} gf_engine_sample;

#endif
