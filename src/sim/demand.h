/* demand.h - what each simulated GPU service asks of its GPU over time.
 *
 * The simulator (sim.h) drives a cluster with per-service demand: for every
 * service (series) and time step, the GPU memory and the share of the SMs
 * one pod of the service would use on each of its devices, both as
 * fractions of one GPU. Three sources:
 *   - builtin: a generator of inference services (gf_demand_builtin):
 *     diurnal load, bursts, step changes (a model reload, KV-cache growth),
 *     idle services and a few always-full ones. Levels are relative to each
 *     service's declared allocation (`scale`: what its owner sized it to),
 *     so that a declared 0.25 of a GPU that is "full" uses about 0.25;
 *   - trace: request arrivals (gf_request_trace, e.g. the Azure LLM
 *     inference trace read by io/azure_trace.h) turned into per-second load
 *     (SM work of prefill and decode, KV-cache tokens resident) and laid
 *     onto every service with its own offset into the trace, scale and
 *     daily envelope (gf_demand_trace);
 *   - table: absolute values per series and step, e.g. from the usage CSV
 *     `gpufrac recommend --usage` reads (gf_demand_table_*).
 * Memory is modelled as weights held whatever the load plus a load-driven
 * part (KV cache, activations); SM share follows load.
 *
 * Everything is a pure function of the seed, the series and the step
 * (util/rng.h streams keyed by them), so every policy of a simulation sees
 * the same demand, and a seed gives the same numbers on every platform.
 * No I/O. */
#ifndef GF_DEMAND_H
#define GF_DEMAND_H

#include "util/vec.h"
#include "model/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 2023-11-13T00:00:00Z, a Monday: the builtin and trace demand's time 0 (the
 * Azure trace was taken that week). */
#define GF_DEMAND_DEFAULT_START_T 1699833600.0
/* Longest request trace accepted, in seconds (memory: 20 bytes a second). */
#define GF_TRACE_MAX_SECONDS (31u * 86400u)
/* Largest token count of one request accepted. */
#define GF_TRACE_MAX_TOKENS 100000000.0

/* --- request traces --------------------------------------------------------------- */

/* Requests binned per second from start_t. */
typedef struct gf_request_trace {
    double start_t;           /* unix seconds of bin 0 (whole seconds) */
    uint32_t seconds;         /* bins allocated (room to grow: may pass the last request) */
    uint32_t first, last;     /* the first and last bins holding a request */
    uint32_t *requests;       /* arrivals in each second */
    double *context_tokens;   /* prompt tokens of those arrivals */
    double *generated_tokens; /* output tokens of those arrivals */
    uint64_t total_requests;
} gf_request_trace;

void gf_request_trace_init(gf_request_trace *tr);
void gf_request_trace_free(gf_request_trace *tr); /* accepts NULL; reusable after init */
/* Adds one request arriving at t (unix seconds) with its token counts.
 * Arrivals may come in any order. GF_EINPUT (message only: the caller knows
 * where) for a time that is not finite or negative, token counts that are
 * negative or above GF_TRACE_MAX_TOKENS, or a span past GF_TRACE_MAX_SECONDS. */
gf_err gf_request_trace_add(gf_request_trace *tr, double t, double context_tokens,
                            double generated_tokens, gf_error *err);

/* --- demand ----------------------------------------------------------------------- */

typedef enum gf_demand_kind { GF_DEMAND_BUILTIN, GF_DEMAND_TRACE, GF_DEMAND_TABLE } gf_demand_kind;

/* "builtin", "trace", "table". */
const char *gf_demand_kind_name(gf_demand_kind k);

typedef enum gf_demand_shape {
    GF_SHAPE_DIURNAL, /* daily cycle: low at night, peak in the day, quieter weekends */
    GF_SHAPE_BURSTY,  /* low daily cycle with bursts to (or past) the allocation */
    GF_SHAPE_STEP,    /* daily cycle whose level steps up or down (model reload, KV growth) */
    GF_SHAPE_IDLE,    /* model loaded, almost no requests */
    GF_SHAPE_FULL,    /* always busy, at its allocation */
    GF_SHAPE_TRACE,   /* request trace with a daily envelope */
    GF_SHAPE_TABLE,   /* given values */
    GF_SHAPE_COUNT
} gf_demand_shape;

/* "diurnal", "bursty", "step", "idle", "full", "trace", "table". */
const char *gf_demand_shape_name(gf_demand_shape s);

/* A burst (level for t0 <= t < t1) or a step (level multiplies the load from
 * t0 on; t1 is +infinity). */
typedef struct gf_demand_event {
    double t0, t1;
    double level;
} gf_demand_event;

/* One service. Load levels are relative to scale. */
typedef struct gf_demand_series {
    gf_demand_shape shape;
    double scale;       /* fraction of one GPU per device the levels are relative to */
    double weights;     /* memory held whatever the load, relative to scale */
    double base, peak;  /* load at the daily low and high */
    double phase_s;     /* time of day of the daily peak, seconds */
    double weekend;     /* weekend share of the weekday's daily swing */
    double sm_per_load; /* SM share per unit of load */
    uint32_t first_event, n_events;
    double trace_offset_s; /* trace: where in the trace this service starts */
    double trace_scale;    /* trace: load multiplier */
} gf_demand_series;

typedef struct gf_demand_opts {
    double start_t;   /* unix seconds of step 0 */
    double step_s;    /* seconds per step, > 0 */
    uint32_t n_steps; /* steps simulated */
    uint64_t seed;
} gf_demand_opts;

typedef struct gf_demand {
    gf_demand_kind kind;
    gf_demand_opts o;
    GF_VEC(gf_demand_series) series;
    GF_VEC(gf_demand_event) events;
    /* trace: per start second, the load of the step-long window starting
     * there (wrapping around): SM work as a mean, KV tokens as a max, both
     * relative to the trace's 99th percentile window */
    float *trace_sm, *trace_kv;
    uint32_t trace_seconds;
    /* table: absolute per-device fractions, [series * table_steps + step];
     * the simulation repeats the table when it runs longer */
    float *table_mem, *table_sm;
    uint32_t *table_count; /* samples per cell while being filled; NULL after end */
    uint32_t table_steps;
    /* table: the values are what the pods need (a scenario), not NVML
     * readings (recorded usage, the default): the simulator then applies
     * each service's engine class to them (sim.h Engines) */
    bool table_need;
} gf_demand;

void gf_demand_init(gf_demand *d);
void gf_demand_free(gf_demand *d); /* accepts NULL; reusable after init */

/* Builtin mix for n services whose declared allocations (fraction of one
 * GPU per device) are scales[0..n). Shapes are drawn per service: 40%
 * diurnal, 18% bursty, 14% step, 16% idle, 12% full (docs/simulator.md gives
 * the measured mix). GF_EUSAGE for bad options or a scale outside (0, 1]. */
gf_err gf_demand_builtin(gf_demand *d, const gf_demand_opts *o, const double *scales, size_t n,
                         gf_error *err);

/* Every service driven by the request trace (at least one request), each
 * with a random offset into it, a scale of its declared allocation and a
 * daily envelope. The trace repeats when the simulation is longer. */
gf_err gf_demand_trace(gf_demand *d, const gf_demand_opts *o, const gf_request_trace *tr,
                       const double *scales, size_t n, gf_error *err);

/* A table for n series of table_steps steps (1 .. o->n_steps): begin, add
 * samples (absolute per-device fractions: memory 0..1, SM 0..1; a step's
 * memory is the max of its samples, its SM the mean), end. end fills steps
 * without samples from the nearest earlier one (else the first later one);
 * a series without any sample stays 0 and is counted in *n_empty. */
gf_err gf_demand_table_begin(gf_demand *d, const gf_demand_opts *o, size_t n, uint32_t table_steps,
                             gf_error *err);
void gf_demand_table_add(gf_demand *d, uint32_t series, uint32_t step, double mem, double sm);
void gf_demand_table_end(gf_demand *d, size_t *n_empty);

/* Demand of one pod of a series at a step: memory and SM as fractions of
 * one GPU, each device. salt distinguishes the replicas (small independent
 * noise each); both outputs are in [0, 1]. */
void gf_demand_at(const gf_demand *d, uint32_t series, uint32_t salt, uint32_t step, double *mem,
                  double *sm);

/* The same in two halves, for callers that ask for every replica of a
 * service at once: what the replicas share (computed once per service and
 * step), then each replica's value. gf_demand_at() is the two in a row. */
typedef struct gf_demand_point {
    uint32_t series, step;
    bool fixed;                 /* table (or unknown series): mem and sm are final */
    bool steady;                /* an always-full service: half the memory noise */
    double mem, sm;             /* relative to scale before noise (fixed: absolute) */
    double weights;             /* of mem: held whatever the load (relative; 0 when fixed) */
    double mem_noise, sm_noise; /* the service's share of the noise */
    double scale;
} gf_demand_point;

void gf_demand_service(const gf_demand *d, uint32_t series, uint32_t step, gf_demand_point *p);
void gf_demand_pod(const gf_demand *d, const gf_demand_point *p, uint32_t salt, double *mem,
                   double *sm);

/* Declared allocation of a series (its scale), 0 for table series. */
double gf_demand_scale(const gf_demand *d, uint32_t series);

/* What the mix looks like, per container. A container's use at a step is
 * max(memory, SM) over its declared allocation; it "uses its full GPU" when
 * its 95th-percentile use is at least 0.9 (its GPU as sized: the whole GPU
 * of a one-GPU-per-container world, a fraction here). weights (may be NULL:
 * 1 each) count containers per series. */
typedef struct gf_demand_mix {
    double full_share; /* containers using their full GPU */
    double median_use; /* median of the containers' mean use */
    double under_half; /* containers whose mean use is below 0.5 */
    double mean_use;   /* mean of the containers' mean use */
    double over_share; /* containers whose demand ever exceeds the allocation */
    double shape_share[GF_SHAPE_COUNT];
    double containers; /* sum of weights */
} gf_demand_mix;

/* Over every step_stride-th step (1 = all). Table series without a scale are
 * measured against scales (may be NULL: skipped). */
void gf_demand_measure(const gf_demand *d, const double *weights, const double *scales,
                       uint32_t step_stride, gf_demand_mix *out);

#endif
