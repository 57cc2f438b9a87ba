/* inflate.h - the FGD paper's packing evaluation ("workload inflation").
 *
 * Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads
 * with Fragmentation Gradient Descent", USENIX ATC'23, Sec. 6.1: starting
 * from an empty cluster, keep submitting tasks drawn at random from the
 * trace's task list, place each with the scheduler under test (a task that
 * fits nowhere fails and is dropped), until the GPU requested by arrived
 * tasks reaches a multiple of the cluster's GPU capacity. The figures are the
 * GPU allocation ratio (allocated / total GPUs) and unallocated GPUs then.
 * Runs on the model's nodes; the model's (pending) GPU and CPU pods are the
 * task list, sampled with replacement. */
#ifndef GF_INFLATE_H
#define GF_INFLATE_H

#include "decide/pack.h"

typedef struct gf_inflate_opts {
    gf_scorer scorer;
    uint64_t seed;
    double arrive_until; /* stop when arrived GPU request >= this x total GPUs (paper: 1.3) */
    double report_at;    /* also snapshot the figures when arrivals reach this x total (1.0) */
} gf_inflate_opts;

typedef struct gf_inflate_point {
    double arrived_gpus;   /* GPU requested by tasks arrived so far */
    double allocated_gpus; /* GPU held by placed tasks */
    double unallocated_gpus;
    double allocation_ratio;
    uint32_t arrived, placed, failed;
} gf_inflate_point;

typedef struct gf_inflate_result {
    double total_gpus;
    gf_inflate_point at_report; /* when arrivals crossed report_at */
    gf_inflate_point at_end;    /* when arrivals crossed arrive_until */
    /* ceil of the GPU requested by tasks placed by the end: no packing can
     * hold them on fewer GPUs */
    double lower_bound_gpus;
} gf_inflate_result;

/* GF_EINPUT when the model has no GPUs or no GPU tasks. */
gf_err gf_inflate(const gf_model *m, const gf_inflate_opts *o, gf_inflate_result *out,
                  gf_error *err);

#endif
