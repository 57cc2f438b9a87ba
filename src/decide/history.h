/* history.h - per-workload GPU usage history in memory that grows with the
 * number of workloads, not the number of samples.
 *
 * A gf_history maps a caller-built key ("namespace/Deployment/name/container")
 * to a gf_hist_series. Each series keeps, per signal (GPU memory bytes, SM
 * share, and an inference engine's own KV-cache use, waiting requests and
 * preemption rate, see gf_hist_signal):
 *   - a decaying histogram as VPA implements it (kubernetes/autoscaler
 *     vertical-pod-autoscaler/pkg/recommender/util/{histogram,
 *     decaying_histogram,histogram_options}.go): exponential buckets, bucket n
 *     is first*ratio^n wide and starts at first*(ratio^n-1)/(ratio-1); a
 *     sample at t weighs 2^((t - ref_t)/half_life); ref_t is an integer
 *     multiple of the half-life, moved forward (all weights rescaled) when an
 *     exponent would pass 100; a bucket lighter than 1e-4 counts as empty;
 *     percentile(p) is the upper edge of the bucket where the cumulative
 *     weight reaches p*total (the start of the last bucket if it lands there);
 *   - exact peaks: a ring of 1-minute slots (max, sum, count) and a ring of
 *     1-hour slots (max), plus the all-time max and its time;
 *   - first/last sample time and sample count;
 * and, for the recommender, the last applied change, the times of the last
 * 16 changes and the allocation last seen.
 *
 * Times are seconds since the Unix epoch (doubles, 0 <= t <= GF_HIST_MAX_T).
 * Samples may arrive out of order: one older than the newest by less than a
 * ring's span goes into its slot; an older one reaches the histogram, the
 * counters and the all-time max only.
 *
 * Nothing here does I/O; src/io/history_sqlite.h saves and loads. */
#ifndef GF_HISTORY_H
#define GF_HISTORY_H

#include "util/arena.h"
#include "util/strmap.h"
#include "util/vec.h"
#include "model/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The engine signals (2..4) come from the inference server's own metrics
 * (model/sample.h gf_engine_sample, src/io/usage.h GF_ENGINE_METRIC_*): a
 * preallocating engine's NVML memory is flat at its cap, so what it needs is
 * seen only there. A workload that exports none of them has empty tracks. */
typedef enum gf_hist_signal {
    GF_SIG_MEMORY = 0,  /* GPU memory of one pod's GPU container, bytes, summed over its devices */
    GF_SIG_SM = 1,      /* SM utilisation as a share of one GPU, 0 .. devices */
    GF_SIG_KV = 2,      /* KV-cache use, share of the engine's KV pool, 0..1 (vLLM
                           kv_cache_usage_perc, SGLang token_usage) */
    GF_SIG_WAITING = 3, /* requests waiting for a slot (queued, not running), a count */
    GF_SIG_PREEMPT = 4, /* requests preempted (KV evicted) per second */
    GF_HIST_NSIGNALS = 5
} gf_hist_signal;

/* Signals a history saved by an older gpufrac holds (memory, sm): loading
 * such a file leaves the engine tracks empty (io/history_sqlite.h). */
#define GF_HIST_NSIGNALS_V1 2

/* "memory" / "sm" / "kv" / "waiting" / "preempt" ("?" when out of range). */
const char *gf_hist_signal_name(gf_hist_signal sig);

/* The largest value a signal accepts (GF_HIST_*_LIMIT); 0 when out of range. */
double gf_hist_signal_limit(gf_hist_signal sig);

/* Histogram layouts (fixed: changing them invalidates saved history, as it
 * does VPA's checkpoints). n_buckets = ceil(log_ratio(max*(ratio-1)/first + 1)) + 1,
 * VPA's NewExponentialHistogramOptions. */
#define GF_HIST_RATIO 1.05
#define GF_HIST_MEMORY_FIRST 1048576.0     /* 1 MiB */
#define GF_HIST_MEMORY_MAX 1099511627776.0 /* 1 TiB */
#define GF_HIST_MEMORY_BUCKETS 224
#define GF_HIST_SM_FIRST 0.001 /* share of one GPU */
#define GF_HIST_SM_MAX 64.0
#define GF_HIST_SM_BUCKETS 167
#define GF_HIST_KV_FIRST 0.001 /* share of the KV pool */
#define GF_HIST_KV_MAX 1.0
#define GF_HIST_KV_BUCKETS 82
#define GF_HIST_WAITING_FIRST 1.0 /* bucket 0 is "none waiting" */
#define GF_HIST_WAITING_MAX 1e6
#define GF_HIST_WAITING_BUCKETS 223
#define GF_HIST_PREEMPT_FIRST 0.001 /* per second */
#define GF_HIST_PREEMPT_MAX 1000.0
#define GF_HIST_PREEMPT_BUCKETS 223
#define GF_HIST_MAX_BUCKETS GF_HIST_MEMORY_BUCKETS
#define GF_HIST_EPSILON 1e-4           /* VPA: 0.001 * minSampleWeight */
#define GF_HIST_MAX_DECAY_EXPONENT 100 /* VPA maxDecayExponent */

/* Accepted sample values. */
#define GF_HIST_MEMORY_LIMIT 1125899906842624.0 /* 2^50 bytes */
#define GF_HIST_SM_LIMIT 64.0
#define GF_HIST_KV_LIMIT 1.0
#define GF_HIST_WAITING_LIMIT 1e9 /* requests */
#define GF_HIST_PREEMPT_LIMIT 1e6 /* per second */
#define GF_HIST_MAX_T 1e12        /* seconds; keeps slot numbers far from int64 overflow */

/* Rings. 64 minute slots cover any window up to 60 min whatever its
 * alignment (61 slots), 193 hour slots any window up to 8 days. */
#define GF_HIST_MINUTE_SLOTS 64
#define GF_HIST_HOUR_SLOTS 193
#define GF_HIST_MINUTE_WINDOW_S 3600.0 /* longest window the minute ring answers */
#define GF_HIST_HOUR_WINDOW_S 691200.0 /* 8 days, longest window the hour ring answers */
#define GF_HIST_CHANGE_SLOTS 16

#define GF_HIST_DEFAULT_HALF_LIFE_S 86400.0 /* VPA's 24 h */
#define GF_HIST_MIN_HALF_LIFE_S 1.0
#define GF_HIST_MAX_HALF_LIFE_S 3.2e9 /* ~100 years */

typedef struct gf_hist_layout {
    double first_bucket; /* width of bucket 0 */
    double ratio;        /* each bucket this much wider than the one before */
    double max_value;    /* the last bucket starts at or above this */
    uint32_t n_buckets;
} gf_hist_layout;

/* The layout of a signal's histogram (NULL when sig is out of range). */
const gf_hist_layout *gf_hist_layout_of(gf_hist_signal sig);
/* Start of bucket b: 0 for b = 0, else first*(ratio^b - 1)/(ratio - 1). */
double gf_hist_bucket_start(gf_hist_signal sig, uint32_t b);

typedef struct gf_hist_minute {
    double max, sum; /* of the samples in this minute; valid when count > 0 */
    uint32_t count;
} gf_hist_minute;

/* One signal of one series. Slot numbers are floor(t/60) and floor(t/3600);
 * slot s lives at index s % SLOTS while head - SLOTS < s <= head. */
typedef struct gf_hist_track {
    /* decaying histogram; its weights are in the series (gf_hist_weights) */
    double ref_t; /* reference time, an integer multiple of the half-life */
    double total_weight;
    uint32_t min_bucket; /* first non-empty bucket, else n_buckets - 1 */
    uint32_t max_bucket; /* last non-empty bucket, else 0 */
    /* counters; all 0 while samples == 0 */
    uint64_t samples;
    double first_t, last_t;  /* earliest and latest sample time */
    double max_value, max_t; /* all-time max and when it was first seen */
    /* rings; heads are -1 while empty */
    int64_t minute_head;
    int64_t hour_head;
    gf_hist_minute minute[GF_HIST_MINUTE_SLOTS];
    double hour_max[GF_HIST_HOUR_SLOTS]; /* -1 = no sample in that hour */
} gf_hist_track;

typedef struct gf_hist_series {
    const char *key; /* owned by the history */
    gf_hist_track track[GF_HIST_NSIGNALS];
    double memory_weights[GF_HIST_MEMORY_BUCKETS];
    double sm_weights[GF_HIST_SM_BUCKETS];
    double kv_weights[GF_HIST_KV_BUCKETS];
    double waiting_weights[GF_HIST_WAITING_BUCKETS];
    double preempt_weights[GF_HIST_PREEMPT_BUCKETS];
    /* recommender bookkeeping */
    double last_change_t; /* last applied change, -1 = never */
    /* the last GF_HIST_CHANGE_SLOTS change times; change i (0-based, in the
     * order noted) is change_t[i % GF_HIST_CHANGE_SLOTS] */
    double change_t[GF_HIST_CHANGE_SLOTS];
    uint64_t n_changes;    /* changes ever noted */
    double alloc_fraction; /* allocation last seen, GPU fraction; -1 = never */
} gf_hist_series;

/* The histogram weights of one signal (n = layout's n_buckets); NULL when sig
 * is out of range. */
double *gf_hist_weights(gf_hist_series *s, gf_hist_signal sig);
const double *gf_hist_weights_const(const gf_hist_series *s, gf_hist_signal sig);

typedef struct gf_history_opts {
    double half_life_s; /* histogram decay half-life, default 24 h */
} gf_history_opts;

typedef struct gf_history {
    double half_life_s;
    gf_arena keys;                   /* key strings */
    gf_strmap by_key;                /* key -> index into series */
    GF_VEC(gf_hist_series *) series; /* insertion order; each allocated on its own */
    /* bucket starts per signal, from gf_hist_bucket_start (start[n] = +inf) */
    double bucket_start[GF_HIST_NSIGNALS][GF_HIST_MAX_BUCKETS + 1];
    double inv_log_ratio[GF_HIST_NSIGNALS]; /* 1 / ln(ratio), for finding buckets */
    double memo_t, memo_ref_t, memo_factor; /* last decay factor computed */
} gf_history;

void gf_history_opts_default(gf_history_opts *o);

/* opts NULL = defaults. GF_EINPUT when the half-life is not within
 * [GF_HIST_MIN_HALF_LIFE_S, GF_HIST_MAX_HALF_LIFE_S]; h is usable (with the
 * default half-life) and must be freed either way. */
gf_err gf_history_init(gf_history *h, const gf_history_opts *opts, gf_error *err);
/* Frees every series and key. Accepts NULL. A gf_history may be moved by
 * value (struct assignment): nothing points into the struct itself. */
void gf_history_free(gf_history *h);

/* The series for key; with create, a new empty series is added when absent.
 * NULL when absent (and !create) or key is NULL. The pointer stays valid
 * until gf_history_free, whatever is added later. */
gf_hist_series *gf_history_get(gf_history *h, const char *key, bool create);
const gf_hist_series *gf_history_find(const gf_history *h, const char *key);

/* Adds a sample to the series for key (created when new). GF_EINPUT, with
 * where = key and a message naming the value, for an unknown signal, a time
 * that is not finite or outside [0, GF_HIST_MAX_T], a value that is NaN,
 * infinite, negative, above 2^50 bytes (memory), 64 (SM), 1 (KV), 1e9
 * (waiting) or 1e6 per second (preemptions); nothing
 * changes then (no series is created). */
gf_err gf_history_add(gf_history *h, const char *key, gf_hist_signal sig, double t, double value,
                      gf_error *err);
/* The same for a series of h the caller already holds (no key lookup). */
gf_err gf_history_add_to(gf_history *h, gf_hist_series *s, gf_hist_signal sig, double t,
                         double value, gf_error *err);

/* Series in insertion order: gf_history_at(h, i) for i < gf_history_count(h). */
size_t gf_history_count(const gf_history *h);
gf_hist_series *gf_history_at(const gf_history *h, size_t i);

/* Bytes held: the struct, every series, keys, map and index. */
size_t gf_history_bytes(const gf_history *h);

/* Queries. GF_OK with *out set; GF_ENOTFOUND (err untouched, *out = 0) when
 * no sample counts; GF_EINPUT for a bad signal, time, window or percentile.
 *
 * Windows are [now - window_s, now] widened to whole slots: every sample in a
 * slot that overlaps the window counts (including later ones in now's slot).
 * Peak: minute slots up to 60 min, hour slots up to 8 days; a longer window
 * is answered only when it holds every sample (the all-time max). A window
 * whose slots have already been reused (now far behind the newest sample) is
 * GF_EINPUT. Mean: minute slots, window_s <= 3600. */
gf_err gf_hist_peak(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s,
                    double *out, gf_error *err);
gf_err gf_hist_mean(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s,
                    double *out, gf_error *err);
/* p in [0, 1]; VPA semantics (upper edge of the bucket reaching p*total). */
gf_err gf_hist_percentile(const gf_hist_series *s, gf_hist_signal sig, double p, double *out,
                          gf_error *err);

/* Slot reads for rules that need the shape of a series, not one figure
 * (decide/recommend.c: new peaks, trends, coverage, daily peaks, troughs).
 * Slot numbers as in gf_hist_track: floor(t/60), floor(t/3600). False when
 * the ring does not hold the slot (not reached yet, or reused) or no sample
 * fell in it: missing data is "no data", never zero. */
bool gf_hist_hour_slot(const gf_hist_series *s, gf_hist_signal sig, int64_t hour, double *max);
bool gf_hist_minute_slot(const gf_hist_series *s, gf_hist_signal sig, int64_t minute, double *max,
                         double *mean);
/* Coverage: the share of the whole hours of [now - window_s, now] (at most
 * 8 days, now's own hour included) that hold a sample of sig, 0..1. 0 for a
 * bad signal or window, or when now is past the ring's reach. */
double gf_hist_coverage(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s);

/* Recommender bookkeeping. note_change records a change applied at t (valid
 * time, else GF_EINPUT); changes_since counts the remembered changes (at most
 * GF_HIST_CHANGE_SLOTS) at or after t. set_alloc takes a fraction in
 * [0, 64]. */
gf_err gf_hist_note_change(gf_hist_series *s, double t, gf_error *err);
uint32_t gf_hist_changes_since(const gf_hist_series *s, double t);
gf_err gf_hist_set_alloc(gf_hist_series *s, double fraction, gf_error *err);

/* Checks every invariant the queries rely on (ranges, ring heads, bucket
 * bounds, finite non-negative weights), for data read back from a file.
 * GF_EINPUT naming the series key and the field. */
gf_err gf_hist_series_check(const gf_history *h, const gf_hist_series *s, gf_error *err);

#endif
