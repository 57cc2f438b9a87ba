/* sample.h - one usage observation of one pod on one GPU: the core's view of
 * what the exporter measures (src/io/usage.h reads them from CSV files and
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

#endif
