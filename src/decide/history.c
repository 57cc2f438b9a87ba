/* history.c - per-workload usage history, see history.h. */
#include "decide/history.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__)
#define GF_PREFETCH(p) __builtin_prefetch(p, 1)
#else
#define GF_PREFETCH(p) ((void)(p))
#endif

static const gf_hist_layout layouts[GF_HIST_NSIGNALS] = {
    {GF_HIST_MEMORY_FIRST, GF_HIST_RATIO, GF_HIST_MEMORY_MAX, GF_HIST_MEMORY_BUCKETS},
    {GF_HIST_SM_FIRST, GF_HIST_RATIO, GF_HIST_SM_MAX, GF_HIST_SM_BUCKETS},
    {GF_HIST_KV_FIRST, GF_HIST_RATIO, GF_HIST_KV_MAX, GF_HIST_KV_BUCKETS},
    {GF_HIST_WAITING_FIRST, GF_HIST_RATIO, GF_HIST_WAITING_MAX, GF_HIST_WAITING_BUCKETS},
    {GF_HIST_PREEMPT_FIRST, GF_HIST_RATIO, GF_HIST_PREEMPT_MAX, GF_HIST_PREEMPT_BUCKETS},
};

static const double limits[GF_HIST_NSIGNALS] = {GF_HIST_MEMORY_LIMIT, GF_HIST_SM_LIMIT,
                                                GF_HIST_KV_LIMIT, GF_HIST_WAITING_LIMIT,
                                                GF_HIST_PREEMPT_LIMIT};

static bool signal_ok(gf_hist_signal sig)
{
    return (int)sig >= 0 && sig < GF_HIST_NSIGNALS;
}

const char *gf_hist_signal_name(gf_hist_signal sig)
{
    switch (sig) {
    case GF_SIG_MEMORY:
        return "memory";
    case GF_SIG_SM:
        return "sm";
    case GF_SIG_KV:
        return "kv";
    case GF_SIG_WAITING:
        return "waiting";
    case GF_SIG_PREEMPT:
        return "preempt";
    default:
        return "?";
    }
}

double gf_hist_signal_limit(gf_hist_signal sig)
{
    return signal_ok(sig) ? limits[sig] : 0.0;
}

const gf_hist_layout *gf_hist_layout_of(gf_hist_signal sig)
{
    return signal_ok(sig) ? &layouts[sig] : NULL;
}

double gf_hist_bucket_start(gf_hist_signal sig, uint32_t b)
{
    if (!signal_ok(sig) || b == 0) return 0.0;
    const gf_hist_layout *l = &layouts[sig];
    /* VPA exponentialHistogramOptions.GetBucketStart */
    return l->first_bucket * (pow(l->ratio, (double)b) - 1.0) / (l->ratio - 1.0);
}

double *gf_hist_weights(gf_hist_series *s, gf_hist_signal sig)
{
    switch (sig) {
    case GF_SIG_MEMORY:
        return s->memory_weights;
    case GF_SIG_SM:
        return s->sm_weights;
    case GF_SIG_KV:
        return s->kv_weights;
    case GF_SIG_WAITING:
        return s->waiting_weights;
    case GF_SIG_PREEMPT:
        return s->preempt_weights;
    default:
        return NULL;
    }
}

const double *gf_hist_weights_const(const gf_hist_series *s, gf_hist_signal sig)
{
    return gf_hist_weights((gf_hist_series *)s, sig);
}

/* ---- the container ---- */

void gf_history_opts_default(gf_history_opts *o)
{
    o->half_life_s = GF_HIST_DEFAULT_HALF_LIFE_S;
}

gf_err gf_history_init(gf_history *h, const gf_history_opts *opts, gf_error *err)
{
    memset(h, 0, sizeof *h);
    h->half_life_s = GF_HIST_DEFAULT_HALF_LIFE_S;
    h->memo_t = NAN; /* never equal: the first add computes */
    gf_arena_init(&h->keys);
    gf_strmap_init(&h->by_key);
    for (int sig = 0; sig < GF_HIST_NSIGNALS; sig++) {
        uint32_t n = layouts[sig].n_buckets;
        h->inv_log_ratio[sig] = 1.0 / log(layouts[sig].ratio);
        for (uint32_t b = 0; b < n; b++)
            h->bucket_start[sig][b] = gf_hist_bucket_start((gf_hist_signal)sig, b);
        for (uint32_t b = n; b <= GF_HIST_MAX_BUCKETS; b++)
            h->bucket_start[sig][b] = INFINITY;
    }
    if (opts) {
        double hl = opts->half_life_s;
        if (!(hl >= GF_HIST_MIN_HALF_LIFE_S && hl <= GF_HIST_MAX_HALF_LIFE_S))
            return gf_error_set(err, GF_EINPUT, "history options",
                                "half-life %g s is not within [%g, %g] s", hl,
                                GF_HIST_MIN_HALF_LIFE_S, GF_HIST_MAX_HALF_LIFE_S);
        h->half_life_s = hl;
    }
    return GF_OK;
}

void gf_history_free(gf_history *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->series.n; i++)
        free(h->series.v[i]);
    gf_vec_free(&h->series);
    gf_strmap_free(&h->by_key);
    gf_arena_free(&h->keys);
}

static void track_init(gf_hist_track *tr, uint32_t n_buckets)
{
    memset(tr, 0, sizeof *tr);
    tr->min_bucket = n_buckets - 1; /* VPA NewHistogram */
    tr->max_bucket = 0;
    tr->minute_head = -1;
    tr->hour_head = -1;
    for (int i = 0; i < GF_HIST_HOUR_SLOTS; i++)
        tr->hour_max[i] = -1.0;
}

gf_hist_series *gf_history_get(gf_history *h, const char *key, bool create)
{
    if (!key) return NULL;
    size_t idx;
    if (gf_strmap_get(&h->by_key, key, &idx)) return h->series.v[idx];
    if (!create) return NULL;
    gf_hist_series *s = gf_xcalloc(1, sizeof *s);
    s->key = gf_arena_strdup(&h->keys, key);
    for (int sig = 0; sig < GF_HIST_NSIGNALS; sig++)
        track_init(&s->track[sig], layouts[sig].n_buckets);
    s->last_change_t = -1.0;
    s->alloc_fraction = -1.0;
    gf_vec_push(&h->series, s);
    gf_strmap_put(&h->by_key, s->key, h->series.n - 1);
    return s;
}

const gf_hist_series *gf_history_find(const gf_history *h, const char *key)
{
    size_t idx;
    if (!key || !gf_strmap_get(&h->by_key, key, &idx)) return NULL;
    return h->series.v[idx];
}

size_t gf_history_count(const gf_history *h)
{
    return h->series.n;
}

gf_hist_series *gf_history_at(const gf_history *h, size_t i)
{
    return i < h->series.n ? h->series.v[i] : NULL;
}

size_t gf_history_bytes(const gf_history *h)
{
    return sizeof *h + h->series.cap * sizeof *h->series.v + h->series.n * sizeof(gf_hist_series) +
           h->keys.bytes_used + h->by_key.cap * sizeof *h->by_key.slots;
}

/* ---- validation ---- */

static bool time_ok(double t)
{
    return t >= 0.0 && t <= GF_HIST_MAX_T; /* false for NaN */
}

static gf_err check_time(double t, const char *where, const char *what, gf_error *err)
{
    if (time_ok(t)) return GF_OK;
    return gf_error_set(err, GF_EINPUT, where, "%s %.15g is not a time in [0, %g] s", what, t,
                        GF_HIST_MAX_T);
}

static gf_err check_value(gf_hist_signal sig, double v, const char *where, gf_error *err)
{
    const char *name = gf_hist_signal_name(sig);
    if (isnan(v) || isinf(v))
        return gf_error_set(err, GF_EINPUT, where, "%s sample %.15g is not a finite number", name,
                            v);
    if (v < 0.0) return gf_error_set(err, GF_EINPUT, where, "%s sample %.15g is negative", name, v);
    if (sig == GF_SIG_MEMORY && v > GF_HIST_MEMORY_LIMIT)
        return gf_error_set(err, GF_EINPUT, where,
                            "memory sample %.0f bytes is above the limit 2^50 (%.0f) bytes", v,
                            GF_HIST_MEMORY_LIMIT);
    if (sig == GF_SIG_SM && v > GF_HIST_SM_LIMIT)
        return gf_error_set(err, GF_EINPUT, where,
                            "sm sample %.15g is above %g (the share of one GPU, times devices)", v,
                            GF_HIST_SM_LIMIT);
    if (sig == GF_SIG_KV && v > GF_HIST_KV_LIMIT)
        return gf_error_set(err, GF_EINPUT, where,
                            "kv sample %.15g is above 1 (the share of the KV cache in use; a "
                            "percentage?)",
                            v);
    if (v > limits[sig])
        return gf_error_set(err, GF_EINPUT, where, "%s sample %.15g is above the limit %g", name, v,
                            limits[sig]);
    return GF_OK;
}

static gf_err check_sample(gf_hist_signal sig, double t, double v, const char *where, gf_error *err)
{
    if (!signal_ok(sig)) return gf_error_set(err, GF_EINPUT, where, "unknown signal %d", (int)sig);
    gf_err rc = check_time(t, where, "sample time", err);
    if (rc) return rc;
    return check_value(sig, v, where, err);
}

/* ---- the decaying histogram (VPA util/histogram.go, decaying_histogram.go) ---- */

/* Bucket of v: VPA's floor(log(v*(ratio-1)/first + 1) / log(ratio)), then
 * nudged so it agrees exactly with the bucket starts (log may be off by one
 * ulp at a boundary). */
static uint32_t find_bucket(const gf_history *h, gf_hist_signal sig, double v)
{
    const gf_hist_layout *l = &layouts[sig];
    if (v < l->first_bucket) return 0;
    double x = log(v * (l->ratio - 1.0) / l->first_bucket + 1.0) * h->inv_log_ratio[sig];
    uint32_t last = l->n_buckets - 1;
    uint32_t b = x < (double)last ? (uint32_t)x : last;
    const double *start = h->bucket_start[sig];
    if (b < last && v >= start[b + 1])
        b++;
    else if (b > 0 && v < start[b])
        b--;
    return b;
}

static void update_min_max(gf_hist_track *tr, const double *w, uint32_t n)
{
    uint32_t last = n - 1;
    while (w[tr->min_bucket] < GF_HIST_EPSILON && tr->min_bucket < last)
        tr->min_bucket++;
    while (w[tr->max_bucket] < GF_HIST_EPSILON && tr->max_bucket > 0)
        tr->max_bucket--;
}

/* VPA shiftReferenceTimestamp: the new reference is t rounded to a multiple
 * of the half-life; every weight is scaled by 2^(old - new)/half_life. VPA
 * scales buckets min..max only; we scale all of them, so weights below
 * epsilon outside that range decay too. */
static void shift_reference(gf_hist_track *tr, double *w, uint32_t n, double hl, double t)
{
    double new_ref = floor(t / hl + 0.5) * hl;
    double e = floor((tr->ref_t - new_ref) / hl + 0.5);
    if (e < -2100.0) e = -2100.0; /* 2^-2100 is 0 already */
    double f = ldexp(1.0, (int)e);
    for (uint32_t b = 0; b < n; b++)
        w[b] *= f;
    tr->total_weight *= f;
    tr->ref_t = new_ref;
    update_min_max(tr, w, n);
}

/* 2^((t - ref_t)/half_life). Samples of one scrape share t and, nearly
 * always, ref_t, so the last answer is kept (h is the only mutable state an
 * add touches besides the series). */
static double decay_factor(gf_history *h, double t, double ref_t)
{
    if (t != h->memo_t || ref_t != h->memo_ref_t) {
        h->memo_t = t;
        h->memo_ref_t = ref_t;
        h->memo_factor = exp2((t - ref_t) / h->half_life_s);
    }
    return h->memo_factor;
}

static void hist_add(gf_history *h, gf_hist_track *tr, double *w, gf_hist_signal sig, double t,
                     uint32_t b)
{
    uint32_t n = layouts[sig].n_buckets;
    double hl = h->half_life_s;
    if (t > tr->ref_t + hl * GF_HIST_MAX_DECAY_EXPONENT) shift_reference(tr, w, n, hl, t);
    double weight = decay_factor(h, t, tr->ref_t);
    w[b] += weight;
    tr->total_weight += weight;
    if (b < tr->min_bucket && w[b] >= GF_HIST_EPSILON) tr->min_bucket = b;
    if (b > tr->max_bucket && w[b] >= GF_HIST_EPSILON) tr->max_bucket = b;
}

/* ---- rings ---- */

static void minute_add(gf_hist_track *tr, int64_t m, double v)
{
    if (m > tr->minute_head) {
        if (tr->minute_head >= 0) {
            int64_t end = m - tr->minute_head > GF_HIST_MINUTE_SLOTS
                              ? tr->minute_head + GF_HIST_MINUTE_SLOTS
                              : m;
            for (int64_t s = tr->minute_head + 1; s <= end; s++)
                memset(&tr->minute[s % GF_HIST_MINUTE_SLOTS], 0, sizeof(gf_hist_minute));
        }
        tr->minute_head = m;
    } else if (m <= tr->minute_head - GF_HIST_MINUTE_SLOTS) {
        return; /* older than the ring */
    }
    gf_hist_minute *slot = &tr->minute[m % GF_HIST_MINUTE_SLOTS];
    if (slot->count == 0 || v > slot->max) slot->max = v;
    slot->sum += v;
    slot->count++;
}

static void hour_add(gf_hist_track *tr, int64_t hr, double v)
{
    if (hr > tr->hour_head) {
        if (tr->hour_head >= 0) {
            int64_t end =
                hr - tr->hour_head > GF_HIST_HOUR_SLOTS ? tr->hour_head + GF_HIST_HOUR_SLOTS : hr;
            for (int64_t s = tr->hour_head + 1; s <= end; s++)
                tr->hour_max[s % GF_HIST_HOUR_SLOTS] = -1.0;
        }
        tr->hour_head = hr;
    } else if (hr <= tr->hour_head - GF_HIST_HOUR_SLOTS) {
        return;
    }
    double *slot = &tr->hour_max[hr % GF_HIST_HOUR_SLOTS];
    if (v > *slot) *slot = v;
}

gf_err gf_history_add_to(gf_history *h, gf_hist_series *s, gf_hist_signal sig, double t,
                         double value, gf_error *err)
{
    if (!s) return gf_error_set(err, GF_EINPUT, "history", "series is NULL");
    gf_err rc = check_sample(sig, t, value, s->key, err);
    if (rc) return rc;
    gf_hist_track *tr = &s->track[sig];
    double *w = gf_hist_weights(s, sig);
    /* with many series every line touched here is a cache miss: find the
     * addresses first and ask for them all at once */
    GF_PREFETCH(tr);
    GF_PREFETCH((const char *)tr + 64);
    uint32_t b = find_bucket(h, sig, value);
    int64_t minute = (int64_t)floor(t / 60.0), hour = (int64_t)floor(t / 3600.0);
    GF_PREFETCH(&w[b]);
    GF_PREFETCH(&tr->minute[minute % GF_HIST_MINUTE_SLOTS]);
    GF_PREFETCH(&tr->hour_max[hour % GF_HIST_HOUR_SLOTS]);
    hist_add(h, tr, w, sig, t, b);
    if (tr->samples == 0) {
        tr->first_t = tr->last_t = t;
        tr->max_value = value;
        tr->max_t = t;
    } else {
        if (t < tr->first_t) tr->first_t = t;
        if (t > tr->last_t) tr->last_t = t;
        if (value > tr->max_value || (value == tr->max_value && t < tr->max_t)) {
            tr->max_value = value;
            tr->max_t = t;
        }
    }
    tr->samples++;
    minute_add(tr, minute, value);
    hour_add(tr, hour, value);
    return GF_OK;
}

gf_err gf_history_add(gf_history *h, const char *key, gf_hist_signal sig, double t, double value,
                      gf_error *err)
{
    if (!key) return gf_error_set(err, GF_EINPUT, "history", "series key is NULL");
    gf_err rc = check_sample(sig, t, value, key, err);
    if (rc) return rc;
    return gf_history_add_to(h, gf_history_get(h, key, true), sig, t, value, err);
}

/* ---- queries ---- */

static gf_err check_query(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s,
                          gf_error *err)
{
    if (!signal_ok(sig)) return gf_error_set(err, GF_EINPUT, s->key, "unknown signal %d", (int)sig);
    gf_err rc = check_time(now, s->key, "query time", err);
    if (rc) return rc;
    if (!(window_s > 0.0 && window_s <= GF_HIST_MAX_T))
        return gf_error_set(err, GF_EINPUT, s->key, "window %.15g s is not a positive duration",
                            window_s);
    return GF_OK;
}

/* The slots [*lo, *hi] of a ring (slot_s long, nslots of them, newest head)
 * that overlap [now - window_s, now] and are still held. GF_EINPUT when some
 * overlapping slot was already reused while samples may have been in it. */
static gf_err ring_range(const gf_hist_series *s, const gf_hist_track *tr, int64_t head,
                         int64_t nslots, double slot_s, double now, double window_s, int64_t *lo,
                         int64_t *hi, gf_error *err)
{
    int64_t first = (int64_t)floor((now - window_s) / slot_s);
    int64_t last = (int64_t)floor(now / slot_s);
    int64_t oldest = head - nslots + 1; /* oldest slot still held */
    if (first < oldest) {
        int64_t lost_end = last < oldest - 1 ? last : oldest - 1;
        if (tr->first_t < (double)(lost_end + 1) * slot_s)
            return gf_error_set(err, GF_EINPUT, s->key,
                                "window [%.15g, %.15g] s reaches %s slots already reused (newest "
                                "sample at %.15g s)",
                                now - window_s, now, slot_s == 60.0 ? "minute" : "hour",
                                tr->last_t);
        first = oldest;
    }
    if (first < 0) first = 0;
    *lo = first;
    *hi = last < head ? last : head;
    return GF_OK;
}

gf_err gf_hist_peak(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s,
                    double *out, gf_error *err)
{
    *out = 0.0;
    gf_err rc = check_query(s, sig, now, window_s, err);
    if (rc) return rc;
    const gf_hist_track *tr = &s->track[sig];
    if (tr->samples == 0) return GF_ENOTFOUND;
    if (window_s > GF_HIST_HOUR_WINDOW_S) {
        /* only the all-time max can answer, and only when the window holds every sample */
        if (now - window_s <= tr->first_t && now >= tr->last_t) {
            *out = tr->max_value;
            return GF_OK;
        }
        return gf_error_set(err, GF_EINPUT, s->key,
                            "window %.15g s is longer than the hour ring's %g s and does not hold "
                            "every sample (%.15g .. %.15g s)",
                            window_s, GF_HIST_HOUR_WINDOW_S, tr->first_t, tr->last_t);
    }
    int64_t lo = 0, hi = -1;
    bool found = false;
    double peak = 0.0;
    if (window_s <= GF_HIST_MINUTE_WINDOW_S) {
        rc = ring_range(s, tr, tr->minute_head, GF_HIST_MINUTE_SLOTS, 60.0, now, window_s, &lo, &hi,
                        err);
        if (rc) return rc;
        for (int64_t m = lo; m <= hi; m++) {
            const gf_hist_minute *slot = &tr->minute[m % GF_HIST_MINUTE_SLOTS];
            if (slot->count && (!found || slot->max > peak)) peak = slot->max, found = true;
        }
    } else {
        rc = ring_range(s, tr, tr->hour_head, GF_HIST_HOUR_SLOTS, 3600.0, now, window_s, &lo, &hi,
                        err);
        if (rc) return rc;
        for (int64_t x = lo; x <= hi; x++) {
            double v = tr->hour_max[x % GF_HIST_HOUR_SLOTS];
            if (v >= 0.0 && (!found || v > peak)) peak = v, found = true;
        }
    }
    if (!found) return GF_ENOTFOUND;
    *out = peak;
    return GF_OK;
}

gf_err gf_hist_mean(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s,
                    double *out, gf_error *err)
{
    *out = 0.0;
    gf_err rc = check_query(s, sig, now, window_s, err);
    if (rc) return rc;
    if (window_s > GF_HIST_MINUTE_WINDOW_S)
        return gf_error_set(err, GF_EINPUT, s->key,
                            "mean window %.15g s is longer than the minute ring's %g s", window_s,
                            GF_HIST_MINUTE_WINDOW_S);
    const gf_hist_track *tr = &s->track[sig];
    if (tr->samples == 0) return GF_ENOTFOUND;
    int64_t lo = 0, hi = -1;
    rc = ring_range(s, tr, tr->minute_head, GF_HIST_MINUTE_SLOTS, 60.0, now, window_s, &lo, &hi,
                    err);
    if (rc) return rc;
    double sum = 0.0;
    uint64_t count = 0;
    for (int64_t m = lo; m <= hi; m++) {
        const gf_hist_minute *slot = &tr->minute[m % GF_HIST_MINUTE_SLOTS];
        sum += slot->sum;
        count += slot->count;
    }
    if (count == 0) return GF_ENOTFOUND;
    *out = sum / (double)count;
    return GF_OK;
}

gf_err gf_hist_percentile(const gf_hist_series *s, gf_hist_signal sig, double p, double *out,
                          gf_error *err)
{
    *out = 0.0;
    if (!signal_ok(sig)) return gf_error_set(err, GF_EINPUT, s->key, "unknown signal %d", (int)sig);
    if (!(p >= 0.0 && p <= 1.0))
        return gf_error_set(err, GF_EINPUT, s->key, "percentile %g is not within [0, 1]", p);
    const gf_hist_track *tr = &s->track[sig];
    const double *w = gf_hist_weights_const(s, sig);
    uint32_t n = layouts[sig].n_buckets;
    if (w[tr->min_bucket] < GF_HIST_EPSILON) return GF_ENOTFOUND; /* VPA IsEmpty */
    double partial = 0.0, threshold = p * tr->total_weight;
    uint32_t b = tr->min_bucket;
    for (; b < tr->max_bucket; b++) {
        partial += w[b];
        if (partial >= threshold) break;
    }
    /* the upper edge, or the start of the last bucket (it has no upper edge) */
    *out = gf_hist_bucket_start(sig, b < n - 1 ? b + 1 : b);
    return GF_OK;
}

/* ---- recommender bookkeeping ---- */

gf_err gf_hist_note_change(gf_hist_series *s, double t, gf_error *err)
{
    gf_err rc = check_time(t, s->key, "change time", err);
    if (rc) return rc;
    s->change_t[s->n_changes % GF_HIST_CHANGE_SLOTS] = t;
    s->n_changes++;
    if (t > s->last_change_t) s->last_change_t = t;
    return GF_OK;
}

uint32_t gf_hist_changes_since(const gf_hist_series *s, double t)
{
    uint64_t held = s->n_changes < GF_HIST_CHANGE_SLOTS ? s->n_changes : GF_HIST_CHANGE_SLOTS;
    uint32_t n = 0;
    for (uint64_t i = 0; i < held; i++)
        if (s->change_t[i] >= t) n++;
    return n;
}

gf_err gf_hist_set_alloc(gf_hist_series *s, double fraction, gf_error *err)
{
    if (!(fraction >= 0.0 && fraction <= GF_HIST_SM_LIMIT))
        return gf_error_set(err, GF_EINPUT, s->key,
                            "allocation %g is not a GPU fraction in [0, %g]", fraction,
                            GF_HIST_SM_LIMIT);
    s->alloc_fraction = fraction;
    return GF_OK;
}

/* ---- invariants ---- */

static bool finite_nonneg(double x)
{
    return x >= 0.0 && x <= 1.7976931348623157e308; /* false for NaN, inf */
}

static gf_err bad(const gf_hist_series *s, gf_error *err, const char *sig, const char *field,
                  double v)
{
    return gf_error_set(err, GF_EINPUT, s->key, "%s%s%s %.15g is out of range", sig,
                        *sig ? " " : "", field, v);
}

static gf_err check_track(const gf_hist_series *s, gf_hist_signal sig, gf_error *err)
{
    const gf_hist_track *tr = &s->track[sig];
    const char *name = gf_hist_signal_name(sig);
    uint32_t n = layouts[sig].n_buckets;
    const double *w = gf_hist_weights_const(s, sig);
    double limit = limits[sig];
    if (tr->min_bucket >= n) return bad(s, err, name, "min_bucket", tr->min_bucket);
    if (tr->max_bucket >= n) return bad(s, err, name, "max_bucket", tr->max_bucket);
    if (!finite_nonneg(tr->total_weight))
        return bad(s, err, name, "total_weight", tr->total_weight);
    if (!(tr->ref_t >= 0.0 && tr->ref_t <= 2 * GF_HIST_MAX_T))
        return bad(s, err, name, "ref_t", tr->ref_t);
    for (uint32_t b = 0; b < n; b++)
        if (!finite_nonneg(w[b])) return bad(s, err, name, "bucket weight", w[b]);
    if (tr->samples == 0) {
        if (tr->minute_head != -1 || tr->hour_head != -1)
            return gf_error_set(err, GF_EINPUT, s->key, "%s: ring heads set without samples", name);
        return GF_OK;
    }
    if (!time_ok(tr->first_t)) return bad(s, err, name, "first_t", tr->first_t);
    if (!time_ok(tr->last_t) || tr->last_t < tr->first_t)
        return bad(s, err, name, "last_t", tr->last_t);
    if (!(tr->max_value >= 0.0 && tr->max_value <= limit))
        return bad(s, err, name, "max_value", tr->max_value);
    if (!(tr->max_t >= tr->first_t && tr->max_t <= tr->last_t))
        return bad(s, err, name, "max_t", tr->max_t);
    int64_t mh = (int64_t)floor(tr->last_t / 60.0), hh = (int64_t)floor(tr->last_t / 3600.0);
    if (tr->minute_head != mh) return bad(s, err, name, "minute_head", (double)tr->minute_head);
    if (tr->hour_head != hh) return bad(s, err, name, "hour_head", (double)tr->hour_head);
    for (int i = 0; i < GF_HIST_MINUTE_SLOTS; i++) {
        const gf_hist_minute *m = &tr->minute[i];
        if (m->count == 0) {
            /* an empty slot is all zeros: the next sample adds to it */
            if (m->max != 0.0 || m->sum != 0.0)
                return bad(s, err, name, "empty minute sum", m->sum);
            continue;
        }
        if (!(m->max >= 0.0 && m->max <= limit)) return bad(s, err, name, "minute max", m->max);
        if (!finite_nonneg(m->sum)) return bad(s, err, name, "minute sum", m->sum);
    }
    for (int i = 0; i < GF_HIST_HOUR_SLOTS; i++) {
        double v = tr->hour_max[i];
        if (!(v == -1.0 || (v >= 0.0 && v <= limit))) return bad(s, err, name, "hour max", v);
    }
    return GF_OK;
}

gf_err gf_hist_series_check(const gf_history *h, const gf_hist_series *s, gf_error *err)
{
    (void)h;
    for (int sig = 0; sig < GF_HIST_NSIGNALS; sig++) {
        gf_err rc = check_track(s, (gf_hist_signal)sig, err);
        if (rc) return rc;
    }
    if (!(s->last_change_t == -1.0 || time_ok(s->last_change_t)))
        return bad(s, err, "", "last_change_t", s->last_change_t);
    uint64_t held = s->n_changes < GF_HIST_CHANGE_SLOTS ? s->n_changes : GF_HIST_CHANGE_SLOTS;
    for (uint64_t i = 0; i < held; i++)
        if (!time_ok(s->change_t[i])) return bad(s, err, "", "change time", s->change_t[i]);
    if (!(s->alloc_fraction == -1.0 ||
          (s->alloc_fraction >= 0.0 && s->alloc_fraction <= GF_HIST_SM_LIMIT)))
        return bad(s, err, "", "alloc_fraction", s->alloc_fraction);
    return GF_OK;
}

bool gf_hist_hour_slot(const gf_hist_series *s, gf_hist_signal sig, int64_t hour, double *max)
{
    if (!s || (unsigned)sig >= GF_HIST_NSIGNALS) return false;
    const gf_hist_track *tr = &s->track[sig];
    if (tr->hour_head < 0 || hour > tr->hour_head || hour <= tr->hour_head - GF_HIST_HOUR_SLOTS ||
        hour < 0)
        return false;
    double v = tr->hour_max[hour % GF_HIST_HOUR_SLOTS];
    if (v < 0) return false;
    *max = v;
    return true;
}

bool gf_hist_minute_slot(const gf_hist_series *s, gf_hist_signal sig, int64_t minute, double *max,
                         double *mean)
{
    if (!s || (unsigned)sig >= GF_HIST_NSIGNALS) return false;
    const gf_hist_track *tr = &s->track[sig];
    if (tr->minute_head < 0 || minute > tr->minute_head ||
        minute <= tr->minute_head - GF_HIST_MINUTE_SLOTS || minute < 0)
        return false;
    const gf_hist_minute *m = &tr->minute[minute % GF_HIST_MINUTE_SLOTS];
    if (m->count == 0) return false;
    *max = m->max;
    *mean = m->sum / m->count;
    return true;
}

double gf_hist_coverage(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s)
{
    if (!s || (unsigned)sig >= GF_HIST_NSIGNALS || !(window_s > 0) || !isfinite(now) || now < 0)
        return 0;
    double w = window_s < GF_HIST_HOUR_WINDOW_S ? window_s : GF_HIST_HOUR_WINDOW_S;
    int64_t n = (int64_t)ceil(w / 3600 - 1e-9);
    if (n < 1) n = 1;
    int64_t last = (int64_t)floor(now / 3600);
    int64_t covered = 0;
    double v;
    for (int64_t k = 0; k < n; k++)
        if (gf_hist_hour_slot(s, sig, last - k, &v)) covered++;
    return (double)covered / (double)n;
}
