/* recommend.c - the rightsizing rules, see recommend.h. */
#include "decide/recommend.h"
#include "decide/convert.h"
#include "model/quantity.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB 1048576.0
#define GIB 1073741824.0

const char *gf_rec_action_name(gf_rec_action a)
{
    static const char *names[] = {"keep", "upsize",    "downsize",   "no-data",
                                  "off",  "whole-gpu", "to-fraction"};
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "?";
}

const char *gf_rec_signal_name(gf_rec_signal s)
{
    static const char *names[] = {"none", "memory", "sm", "peak-floor", "kv-cache", "high-water"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

const char *gf_rec_engine_class(const gf_engine_info *e)
{
    switch (e ? e->memory : GF_MEM_FOLLOWS_LOAD) {
    case GF_MEM_PREALLOCATES:
        return "preallocating";
    case GF_MEM_HIGH_WATER:
        return "caching-allocator";
    default:
        return "generic";
    }
}

const char *gf_recommend_key(const char *ns, const char *kind, const char *name, char *buf,
                             size_t n)
{
    snprintf(buf, n, "%s/%s/%s", ns ? ns : "", kind ? kind : "", name ? name : "");
    return buf;
}

/* The kinds and how their pods are owned:
 *  - KServe InferenceService (serving.kserve.io/v1beta1): raw deployment
 *    mode owns a Deployment; pods get spec.predictor.annotations
 *    (kserve pkg/apis/serving/v1beta1/component.go ComponentExtensionSpec
 *    Annotations, "added to the component pod");
 *  - Knative Service (serving.knative.dev/v1): Service -> Configuration ->
 *    Revision -> Deployment; the pods' label serving.knative.dev/service
 *    names the Service; spec.template.metadata.annotations;
 *  - LeaderWorkerSet (leaderworkerset.x-k8s.io/v1): owns the leaders'
 *    StatefulSet; a leader pod owns its group's workers' StatefulSet; all
 *    carry label leaderworkerset.sigs.k8s.io/name;
 *    spec.leaderWorkerTemplate.{leaderTemplate,workerTemplate}.metadata;
 *  - Argo Rollout (argoproj.io/v1alpha1): owns its ReplicaSets;
 *    spec.template.metadata.annotations;
 *  - RayService / RayCluster (ray.io/v1): a RayService owns RayClusters,
 *    which own their pods; spec.rayClusterConfig.workerGroupSpecs[].template
 *    (RayCluster: spec.workerGroupSpecs[].template, or headGroupSpec). */
void gf_recommend_owner_target(const gf_workload *w, const gf_pod *first, gf_owner_target *out)
{
    out->kind = w->kind;
    out->name = w->name;
    out->path = NULL;
    const char *lws = first ? gf_kvs_get(&first->labels, "leaderworkerset.sigs.k8s.io/name") : NULL;
    const char *ksvc = first ? gf_kvs_get(&first->labels, "serving.knative.dev/service") : NULL;
    if (lws) {
        out->kind = "LeaderWorkerSet";
        out->name = lws;
    } else if (ksvc && (!strcmp(w->kind, "Revision") || !strcmp(w->kind, "Configuration") ||
                        !strcmp(w->kind, "Service"))) {
        out->kind = "Service";
        out->name = ksvc;
    }
    const char *k = out->kind;
    if (!strcmp(k, "InferenceService"))
        out->path = "spec.predictor.annotations";
    else if (!strcmp(k, "Service"))
        out->path = "spec.template.metadata.annotations (Knative Service)";
    else if (!strcmp(k, "LeaderWorkerSet"))
        out->path = "spec.leaderWorkerTemplate.workerTemplate.metadata.annotations (and "
                    "leaderTemplate)";
    else if (!strcmp(k, "Rollout"))
        out->path = "spec.template.metadata.annotations (Argo Rollout)";
    else if (!strcmp(k, "RayService"))
        out->path = "spec.rayClusterConfig.workerGroupSpecs[].template.metadata.annotations (or "
                    "headGroupSpec)";
    else if (!strcmp(k, "RayCluster"))
        out->path = "spec.workerGroupSpecs[].template.metadata.annotations (or headGroupSpec; a "
                    "RayService's: spec.rayClusterConfig)";
}

const char *gf_recommend_unit_annotation(gf_share_kind unit)
{
    return unit == GF_SHARE_MEMORY ? "gpu-memory" : "gpu-fraction";
}

void gf_recommend_value_text(gf_share_kind unit, double v, char *buf, size_t n)
{
    if (unit == GF_SHARE_MEMORY)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%g", v);
}

void gf_recommend_target_text(const gf_recommendation *r, char *buf, size_t n)
{
    if (r->action == GF_REC_WHOLE)
        snprintf(buf, n, "%s: %u", GF_RES_GPU, r->in.devices ? r->in.devices : 1);
    else
        gf_recommend_value_text(r->in.unit, r->recommended, buf, n);
}

/* --- units ------------------------------------------------------------------- */

typedef struct unit_ctx {
    const gf_rightsize_rule *r;
    const gf_rec_input *in;
    double gpu_bytes; /* one GPU's memory */
} unit_ctx;

/* A fraction of one GPU made valid for the workload: rounded up to the step
 * (fractions) or to memoryStepMiB (gpu-memory), within the bounds. Returns
 * the fraction; *value is it in the workload's unit. */
static double quantise(const unit_ctx *u, double frac, double *value)
{
    const gf_rightsize_rule *r = u->r;
    if (frac < r->min_fraction) frac = r->min_fraction;
    if (u->in->unit == GF_SHARE_MEMORY) {
        double mib = frac * (double)u->in->gpu_memory_mib;
        double step = (double)r->memory_step_mib;
        mib = ceil(mib / step - 1e-9) * step;
        double max_mib = floor(r->max_fraction * (double)u->in->gpu_memory_mib);
        if (mib > max_mib) mib = max_mib;
        *value = mib;
        return mib / (double)u->in->gpu_memory_mib;
    }
    frac = ceil(frac / r->step - 1e-9) * r->step;
    if (frac > r->max_fraction) frac = r->max_fraction;
    frac = round(frac * 1e6) / 1e6; /* 0.35000000000000003 -> 0.35 */
    /* never a gpu-fraction KAI refuses (gpu_request_validator.go: 0 < f < 1),
     * whatever the step's rounding made of maxFraction */
    while (!gf_kai_fraction_ok(frac) && frac >= 1.0)
        frac = round((frac - r->step) * 1e6) / 1e6;
    *value = frac;
    return frac;
}

double gf_recommend_quantise(const gf_rightsize_rule *rule, const gf_rec_input *in, double frac,
                             double *value)
{
    unit_ctx u = {rule, in, (double)in->gpu_memory_mib * MIB};
    return quantise(&u, frac, value);
}

static double gib(double bytes)
{
    return bytes / GIB;
}

/* Peak over a window; ENOTFOUND -> 0; a window the rings cannot answer (now
 * long after the samples) -> the all-time max, which is never lower. */
static double peak(const gf_hist_series *s, gf_hist_signal sig, double now, double window)
{
    double v = 0;
    gf_error e;
    gf_err rc = gf_hist_peak(s, sig, now, window, &v, &e);
    if (rc == GF_OK) return v;
    if (rc == GF_ENOTFOUND) return 0;
    return s->track[sig].samples ? s->track[sig].max_value : 0;
}

double gf_recommend_peak(const gf_hist_series *s, gf_hist_signal sig, double now, double window_s)
{
    return s ? peak(s, sig, now, window_s) : 0;
}

static const char *dur(double s, char *buf, size_t n)
{
    return gf_format_duration((int64_t)s, buf, n);
}

static void set_result(const unit_ctx *u, gf_recommendation *out, gf_rec_action a, double frac)
{
    double value;
    double q = quantise(u, frac, &value);
    out->action = a;
    out->recommended_fraction = q;
    out->recommended = value;
}

/* More than maxFraction is needed: one whole GPU per device. */
static void set_whole(const gf_rightsize_rule *rule, gf_recommendation *out, double need)
{
    out->action = GF_REC_WHOLE;
    out->recommended = 1.0;
    out->recommended_fraction = 1.0;
    size_t l = strlen(out->reason);
    snprintf(out->reason + l, sizeof out->reason - l,
             "; above maxFraction %.2f (%.3f needed): a whole GPU (%s: %u in the container's "
             "limits, sharing annotations removed; convert.toWholeGpu)",
             rule->max_fraction, need, "nvidia.com/gpu", out->in.devices);
}

static void keep(gf_recommendation *out)
{
    out->action = GF_REC_KEEP;
    out->recommended = out->current;
    out->recommended_fraction = out->current_fraction;
}

/* The downsize gates every class shares: enough history (span), the
 * cooldown since the last change, maxDisruptionsPerHour. False with the
 * reason written when one holds the allocation. */
static bool downsize_allowed(const gf_rightsize_rule *rule, const gf_hist_series *s, double now,
                             double span, gf_recommendation *out)
{
    char d1[32], d2[32];
    if (span < (double)rule->min_history_s) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation covers use; too little history to downsize (%s of %s)",
                 dur(floor(span), d1, sizeof d1), dur((double)rule->min_history_s, d2, sizeof d2));
        return false;
    }
    if (s->last_change_t >= 0 && now - s->last_change_t < (double)rule->cooldown_s) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation covers use; cooldown: last change %s ago (cooldown %s)",
                 dur(floor(now - s->last_change_t), d1, sizeof d1),
                 dur((double)rule->cooldown_s, d2, sizeof d2));
        return false;
    }
    if (rule->max_disruptions_per_hour >= 0 &&
        gf_hist_changes_since(s, now - 3600) >= (uint32_t)rule->max_disruptions_per_hour) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation covers use; %d change(s) in the last hour already "
                 "(maxDisruptionsPerHour)",
                 rule->max_disruptions_per_hour);
        return false;
    }
    return true;
}

/* Appends printf text to out->reason. */
static void reason_add(gf_recommendation *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reason_add(gf_recommendation *out, const char *fmt, ...)
{
    size_t l = strlen(out->reason);
    if (l + 1 >= sizeof out->reason) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason + l, sizeof out->reason - l, fmt, ap);
    va_end(ap);
}

/* An upsize to need (a fraction of one GPU): a whole GPU past maxFraction
 * (convert.toWholeGpu), or keep when the rounding gives nothing more. */
static void finish_upsize(const gf_rightsize_rule *rule, const unit_ctx *u, double need,
                          gf_recommendation *out)
{
    const double cur = out->current_fraction;
    set_result(u, out, GF_REC_UP, need);
    if (need > rule->max_fraction + 1e-9 && rule->convert_to_whole != GF_MODE_OFF) {
        set_whole(rule, out, need); /* convert.toWholeGpu: its mode caps the rule's */
        if (rule->convert_to_whole < out->mode) out->mode = rule->convert_to_whole;
    } else if (out->recommended_fraction <= cur + 1e-9) { /* rounding keeps it */
        keep(out);
        if (need > rule->max_fraction + 1e-9)
            reason_add(out,
                       "; above maxFraction %.2f: consider a whole GPU (convert.toWholeGpu is off)",
                       rule->max_fraction);
    }
}

/* A downsize to target (quantised tq), at most maxStep; keep when rounding
 * eats the step. Returns whether it stayed a downsize; *limited when
 * maxStep cut it. */
static bool finish_downsize(const gf_rightsize_rule *rule, const unit_ctx *u, double tq,
                            gf_recommendation *out, bool *limited)
{
    const double cur = out->current_fraction;
    double step_floor = cur - rule->max_down_step;
    *limited = tq < step_floor - 1e-9;
    set_result(u, out, GF_REC_DOWN, *limited ? step_floor : tq);
    if (out->recommended_fraction >= cur - 1e-9) {
        keep(out);
        snprintf(out->reason, sizeof out->reason,
                 "allocation fits: a smaller step than the rounding allows");
        return false;
    }
    return true;
}

/* The window before now for a preallocating engine's KV samples: at most
 * window_s, and only the minutes after the last change (its KV shares are
 * of the pool the engine had then). 0 when no whole minute has passed. */
static double since_change(const gf_hist_series *s, double now, double window_s)
{
    if (s->last_change_t < 0) return window_s;
    double after = (floor(s->last_change_t / 60) + 1) * 60; /* the next minute slot */
    double w = now - after;
    return w < window_s ? (w > 0 ? w : 0) : window_s;
}

/* --- decision-quality rules (issue 15; recommend.h) ------------------------------ */

/* A series is bursty when its highest daily peak passes the typical (median)
 * daily peak by this much: its downsize waits for a week of history. */
#define BURSTY_RATIO 1.2
#define BURSTY_HISTORY_S (7 * 86400.0)
/* the daily trough: this many consecutive hours of lowest mean use */
#define TROUGH_HOURS 3

/* The track that says whether samples arrive: the one with the newest sample. */
static gf_hist_signal newest_signal(const gf_hist_series *s)
{
    gf_hist_signal best = GF_SIG_MEMORY;
    double t = -1;
    for (int k = 0; k < GF_HIST_NSIGNALS; k++)
        if (s->track[k].samples && s->track[k].last_t > t) {
            t = s->track[k].last_t;
            best = (gf_hist_signal)k;
        }
    return best;
}

/* The window confidence is measured over: the longer of minHistory and
 * downsize.window (at most the 8 days the hour ring holds). */
static double confidence_window(const gf_rightsize_rule *rule)
{
    double w = fmax((double)rule->min_history_s, (double)rule->downsize_window_s);
    return w > 0 ? w : 3600;
}

/* Highest memory in the history since t0 and before t1: whole hour slots
 * before t1's hour, then the minute slots of t1's hour before t1's minute
 * (so the upsize window's own samples are never in it). False when none. */
static bool peak_before(const gf_hist_series *s, double t0, double t1, double *out)
{
    int64_t h1 = (int64_t)floor(t1 / 3600), h0 = (int64_t)floor(fmax(t0, 0) / 3600);
    if (h1 - h0 > GF_HIST_HOUR_SLOTS) h0 = h1 - GF_HIST_HOUR_SLOTS;
    bool any = false;
    double best = 0, v, mean;
    for (int64_t h = h0; h < h1; h++)
        if (gf_hist_hour_slot(s, GF_SIG_MEMORY, h, &v) && (!any || v > best)) {
            best = v;
            any = true;
        }
    int64_t m1 = (int64_t)floor(t1 / 60), m0 = h1 * 60;
    int64_t mt0 = (int64_t)floor(fmax(t0, 0) / 60);
    if (mt0 > m0) m0 = mt0;
    for (int64_t m = m0; m < m1; m++)
        if (gf_hist_minute_slot(s, GF_SIG_MEMORY, m, &v, &mean) && (!any || v > best)) {
            best = v;
            any = true;
        }
    *out = best;
    return any;
}

/* Memory at now + window_s by a least-squares line through the minute peaks
 * of the last window_s (at most an hour); false with fewer than 3 minutes. */
static bool trend_ahead(const gf_hist_series *s, double now, double window_s, double *out)
{
    double w = fmin(window_s, GF_HIST_MINUTE_WINDOW_S);
    int64_t m1 = (int64_t)floor(now / 60), m0 = (int64_t)floor((now - w) / 60);
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, v, mean;
    for (int64_t m = m0; m <= m1; m++) {
        if (!gf_hist_minute_slot(s, GF_SIG_MEMORY, m, &v, &mean)) continue;
        double x = (double)(m - m1) * 60;
        n++;
        sx += x;
        sy += v;
        sxx += x * x;
        sxy += x * v;
    }
    double d = n * sxx - sx * sx;
    if (n < 3 || !(d > 0)) return false;
    double slope = (n * sxy - sx * sy) / d, icept = (sy - slope * sx) / n;
    *out = icept + slope * (now - (double)m1 * 60 + window_s);
    return true;
}

/* The burst reserve: highest daily peak / median daily peak over the days
 * the hour ring holds (24 h blocks ending at now's hour, each with at least
 * 12 hours of samples), >= 1; 1 with fewer than 3 such days. */
static double burst_reserve(const gf_hist_series *s, double now)
{
    double peaks[GF_HIST_HOUR_SLOTS / 24];
    int nd = 0;
    int64_t last = (int64_t)floor(now / 3600);
    for (int d = 0; d < GF_HIST_HOUR_SLOTS / 24; d++) {
        double best = 0, v;
        int hours = 0;
        for (int k = 0; k < 24; k++)
            if (gf_hist_hour_slot(s, GF_SIG_MEMORY, last - 24 * d - k, &v)) {
                hours++;
                best = fmax(best, v);
            }
        if (hours >= 12) peaks[nd++] = best;
    }
    if (nd < 3) return 1;
    double hi = 0;
    for (int i = 0; i < nd; i++)
        hi = fmax(hi, peaks[i]);
    for (int i = 1; i < nd; i++) /* insertion sort: at most 8 */
        for (int j = i; j > 0 && peaks[j - 1] > peaks[j]; j--) {
            double t = peaks[j];
            peaks[j] = peaks[j - 1];
            peaks[j - 1] = t;
        }
    double med = nd % 2 ? peaks[nd / 2] : (peaks[nd / 2 - 1] + peaks[nd / 2]) / 2;
    return med > 0 ? fmax(1, hi / med) : 1;
}

/* The daily trough: the TROUGH_HOURS consecutive hours of the day (UTC) with
 * the lowest mean hourly peak over the hour ring; false until every hour of
 * the day has been seen. *start_h is its first hour. */
static bool daily_trough(const gf_hist_series *s, double now, int *start_h)
{
    double sum[24] = {0};
    int cnt[24] = {0};
    int64_t last = (int64_t)floor(now / 3600);
    double v;
    for (int64_t k = 0; k < GF_HIST_HOUR_SLOTS; k++)
        if (gf_hist_hour_slot(s, GF_SIG_MEMORY, last - k, &v)) {
            int h = (int)((last - k) % 24);
            sum[h] += v;
            cnt[h]++;
        }
    for (int h = 0; h < 24; h++)
        if (!cnt[h]) return false;
    double best = INFINITY;
    for (int h = 0; h < 24; h++) {
        double m = 0;
        for (int k = 0; k < TROUGH_HOURS; k++)
            m += sum[(h + k) % 24] / cnt[(h + k) % 24];
        if (m < best - 1e-12) {
            best = m;
            *start_h = h;
        }
    }
    return true;
}

/* Whether now (UTC seconds of the day) is within [start, end), which may wrap. */
static bool in_day_window(double now, int32_t start, int32_t end)
{
    double t = fmod(now, 86400.0);
    return start < end ? t >= start && t < end : t >= start || t < end;
}

/* When to change: a downsize waits for the policy's changeWindow, else (at_trough)
 * for the workload's daily trough. True (with the reason rewritten to say
 * what it waits for) when the downsize must wait. */
static bool downsize_waits(const gf_rightsize_rule *rule, const gf_hist_series *s, double now,
                           gf_recommendation *out)
{
    int32_t a, b;
    const char *what;
    if (rule->change_window_start_s >= 0) {
        a = rule->change_window_start_s;
        b = rule->change_window_end_s;
        what = "the change window";
    } else {
        int h = 0;
        if (!rule->at_trough || !daily_trough(s, now, &h)) return false;
        a = h * 3600;
        b = ((h + TROUGH_HOURS) % 24) * 3600;
        what = "the workload's daily trough";
    }
    if (in_day_window(now, a, b)) return false;
    char why[sizeof out->reason];
    snprintf(why, sizeof why, "%s", out->reason);
    double to = out->recommended;
    char tv[32];
    gf_recommend_value_text(out->in.unit, to, tv, sizeof tv);
    keep(out);
    out->waits_window = true;
    out->waits_to = to;
    snprintf(out->reason, sizeof out->reason,
             "waiting for %s %02d:%02d-%02d:%02d (UTC) to downsize to %s: ", what, a / 3600,
             a % 3600 / 60, b / 3600, b % 3600 / 60, tv);
    reason_add(out, "%s", why);
    return true;
}

/* upsize.newPeak: memory in the trigger band counts only on new territory:
 * at or above the allocation (an OOM does not wait), a new peak above the
 * highest the history held since the last change (before the upsize
 * window), or a least-squares trend over the upsize window that crosses the
 * allocation within it. A workload in the band with no earlier history at
 * this allocation is judged by the trend alone. */
static bool new_territory(const gf_rightsize_rule *rule, const gf_hist_series *s, double now,
                          double mem_recent, double alloc_bytes, const char **why, double *prior,
                          double *ahead)
{
    if (mem_recent >= alloc_bytes) {
        *why = "oom";
        return true;
    }
    double up_window = (double)rule->upsize_window_s;
    double since = s->last_change_t >= 0 ? s->last_change_t : 0;
    if (peak_before(s, since, now - up_window, prior) && mem_recent > *prior * (1 + 1e-9)) {
        *why = "new-peak";
        return true;
    }
    if (trend_ahead(s, now, up_window, ahead) && *ahead >= alloc_bytes) {
        *why = "trend";
        return true;
    }
    return false;
}

/* Preallocating engine with its KV-cache use in the history (recommend.h).
 * NVML memory is its cap: it sizes the KV pool, never the need. */
static void prealloc_rules(const gf_rightsize_rule *rule, const unit_ctx *u,
                           const gf_hist_series *s, double now, gf_recommendation *out)
{
    const gf_rec_input *in = u->in;
    const double cur = out->current_fraction, gpu = u->gpu_bytes;
    const double h = 1 + rule->headroom, km = 1 + rule->engine_kv_margin;
    char d1[32], d2[32];
    const char *eng = gf_engine_name(in->engine.kind);
    /* what it holds now (its cap as NVML sees it, else its allocation), and
     * its weights + overhead: given, else baseShare of the most it ever held
     * (weights do not shrink with the cap, so not of what it holds now) */
    const gf_hist_track *mt = &s->track[GF_SIG_MEMORY];
    double held = peak(s, GF_SIG_MEMORY, now, (double)rule->upsize_window_s);
    if (!(held > 0)) held = cur * gpu;
    double held_max = mt->samples ? fmax(mt->max_value, held) : held;
    double base =
        in->engine_base_bytes > 0 ? in->engine_base_bytes : rule->engine_base_share * held_max;
    if (base > held) base = held;
    double pool = held - base;
    out->decided_by = GF_RSIG_KV;

    /* upsize: KV full AND requests waiting or preempted (either alone is not
     * memory starvation: a full cache that keeps up, or a queue from load) */
    double up_window = (double)rule->upsize_window_s;
    double up_w = since_change(s, now, up_window);
    double kv_up = up_w > 0 ? peak(s, GF_SIG_KV, now, up_w) : 0;
    double wait_up = up_w > 0 ? peak(s, GF_SIG_WAITING, now, up_w) : 0;
    double pre_up = up_w > 0 ? peak(s, GF_SIG_PREEMPT, now, up_w) : 0;
    if (kv_up >= rule->engine_kv_full && (wait_up >= 1 || pre_up > 0)) {
        /* a full cache with requests waiting says it is short, not by how
         * much: headroom on the pool alone is a small step when base is a
         * share of the most it ever held (the pool shrinks with each
         * downsize), and each step is a rollout while requests wait; so at
         * least what it holds x (1 + headroom) x (1 + kvMargin)
         * (bench/engines.sh: KV-short minutes, docs/benchmarks.md) */
        double need = fmax(base + pool * h, held * h * km) / gpu;
        snprintf(out->reason, sizeof out->reason,
                 "%s KV cache %.0f%% full over the last %s (engine.kvFull %.0f%%) with %.0f "
                 "request(s) waiting, %.3g preempted/s: the %.2f GiB it holds x %.2f x %.2f "
                 "(kvMargin; at least base %.2f GiB + KV pool %.2f GiB x %.2f) -> %.3f of a GPU",
                 eng, 100 * kv_up, dur(up_window, d1, sizeof d1), 100 * rule->engine_kv_full,
                 wait_up, pre_up, gib(held), h, km, gib(base), gib(pool), h, need);
        finish_upsize(rule, u, need, out);
        return;
    }
    const gf_hist_track *kt = &s->track[GF_SIG_KV];
    double span = now > kt->first_t ? now - kt->first_t : 0;
    if (!downsize_allowed(rule, s, now, span, out)) {
        reason_add(out, " (%s KV cache %.0f%% at most over the last %s)", eng, 100 * kv_up,
                   dur(up_window, d1, sizeof d1));
        return;
    }
    double win = since_change(s, now, (double)rule->downsize_window_s);
    if (!(win > 0)) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation kept: no %s KV-cache sample since the last change yet", eng);
        return;
    }
    /* the KV peak is of the pool since the last change only: a window
     * shorter than downsize.window (the cooldown after a change) misses the
     * day's peak and downsizes into it */
    double full = fmin((double)rule->downsize_window_s, (double)rule->min_history_s);
    if (win + 60 < full) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation kept: %s KV-cache samples since the last change span %s, less than "
                 "downsize.window %s",
                 eng, dur(win, d1, sizeof d1), dur(full, d2, sizeof d2));
        return;
    }
    double kv_win = peak(s, GF_SIG_KV, now, win);
    double wait_win = peak(s, GF_SIG_WAITING, now, win);
    double pre_win = peak(s, GF_SIG_PREEMPT, now, win);
    if (wait_win >= 1 || pre_win > 0) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation kept: %s had requests waiting (%.0f) or preempted (%.3g/s) over the "
                 "last %s, KV cache peak %.0f%%",
                 eng, wait_win, pre_win, dur(win, d1, sizeof d1), 100 * kv_win);
        return;
    }
    double need = (base + kv_win * pool * km) / gpu;
    double value;
    double tq = quantise(u, need, &value);
    if (cur - tq < rule->min_change - 1e-9) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation fits: %s KV cache peak %.0f%% over %s needs %.3f of a GPU, less than "
                 "minChange %.2f below %.3f",
                 eng, 100 * kv_win, dur(win, d1, sizeof d1), tq, rule->min_change, cur);
        return;
    }
    bool limited = false;
    if (!finish_downsize(rule, u, tq, out, &limited)) return;
    snprintf(out->reason, sizeof out->reason,
             "%s KV cache peak %.0f%% over %s: base %.2f GiB + %.0f%% of the %.2f GiB KV pool x "
             "%.2f -> %.3f of a GPU (NVML memory %.2f GiB is the engine's cap, not its need)",
             eng, 100 * kv_win, dur(win, d1, sizeof d1), gib(base), 100 * kv_win, gib(pool), km, tq,
             gib(held));
    if (limited) reason_add(out, "; step limited to maxStep %.2f", rule->max_down_step);
    out->gpus_saved = (cur - out->recommended_fraction) * in->devices * in->replicas;
}

/* The cap moves with the fraction: a resize of a preallocating engine whose
 * cap is a literal flag or variable sets it to the new fraction in the same
 * patch; one left at its default is told to follow $(GPU_PORTION). */
static void engine_cap(const gf_rightsize_rule *rule, gf_recommendation *out)
{
    const gf_engine_info *e = &out->in.engine;
    if (!rule->engine_rules || e->memory != GF_MEM_PREALLOCATES || !e->knob) return;
    if (out->action != GF_REC_UP && out->action != GF_REC_DOWN) return;
    if (e->cap_source == GF_CAP_FLAG || e->cap_source == GF_CAP_ENV) {
        if (!rule->engine_move_cap) {
            reason_add(out, "; %s %g stays (engine.moveCap is off): set it to %.2f", e->knob,
                       e->cap, out->recommended_fraction);
            return;
        }
        out->move_cap = true;
        out->new_cap = out->recommended_fraction;
        reason_add(out, "; %s %g -> %.2f with it", e->knob, e->cap, out->new_cap);
        /* the mode stays: the controller writes the annotation and the cap in
         * one patch (io/kai_patch.h gf_kai_resize_with_cap_merge), as
         * --patches prints them */
    } else if (e->cap_source == GF_CAP_DEFAULT) {
        reason_add(out, "; set %s=$(GPU_PORTION) so the engine's cap follows the fraction",
                   e->knob);
    }
}

gf_err gf_recommend_one(const gf_rightsize_rule *rule, const gf_rec_input *in,
                        const gf_hist_series *s, double now, gf_recommendation *out, gf_error *err)
{
    memset(out, 0, sizeof *out);
    out->in = *in;
    out->mode = rule->mode;
    char key[400];
    gf_recommend_key(in->ns, in->kind, in->name, key, sizeof key);
    if (in->devices < 1)
        return gf_error_set(err, GF_EINPUT, key, "gpu-fraction-num-devices must be at least 1");
    if (in->gpu_memory_mib <= 0)
        return gf_error_set(err, GF_EINPUT, key,
                            "the GPU memory of the workload's nodes is not known");
    if (!isfinite(now) || now < 0)
        return gf_error_set(err, GF_EINPUT, key, "time %g is not valid", now);
    if (in->unit == GF_SHARE_FRACTION) {
        if (!(in->fraction > 0 && in->fraction <= 1))
            return gf_error_set(err, GF_EINPUT, key, "gpu-fraction %g is not in (0, 1]",
                                in->fraction);
        out->current = in->fraction;
        out->current_fraction = in->fraction;
    } else if (in->unit == GF_SHARE_MEMORY) {
        if (in->memory_mib <= 0)
            return gf_error_set(err, GF_EINPUT, key, "gpu-memory %lld MiB is not positive",
                                (long long)in->memory_mib);
        out->current = (double)in->memory_mib;
        out->current_fraction = (double)in->memory_mib / (double)in->gpu_memory_mib;
    } else {
        return gf_error_set(err, GF_EINPUT, key, "the workload holds no KAI GPU share");
    }
    unit_ctx u = {rule, in, (double)in->gpu_memory_mib * MIB};
    const double cur = out->current_fraction;
    const double alloc_bytes = cur * u.gpu_bytes;
    keep(out);

    if (rule->mode == GF_MODE_OFF) {
        out->action = GF_REC_OFF;
        snprintf(out->reason, sizeof out->reason, "rightsizing is off for this workload");
        return GF_OK;
    }
    const gf_hist_track *mt = s ? &s->track[GF_SIG_MEMORY] : NULL;
    const gf_hist_track *st = s ? &s->track[GF_SIG_SM] : NULL;
    const gf_hist_track *kt = s ? &s->track[GF_SIG_KV] : NULL;
    if (!s || (mt->samples == 0 && st->samples == 0 && kt->samples == 0)) {
        out->action = GF_REC_NODATA;
        snprintf(out->reason, sizeof out->reason, "no usage samples yet");
        return GF_OK;
    }
    double first = INFINITY;
    for (int k = 0; k < GF_HIST_NSIGNALS; k++)
        if (s->track[k].samples && s->track[k].first_t < first) first = s->track[k].first_t;
    double span = now > first ? now - first : 0;
    /* confidence is coverage, not time: the share of the confidence window
     * (the longer of minHistory and downsize.window) that holds samples */
    const gf_hist_signal live = newest_signal(s);
    const double down_win_s = (double)rule->downsize_window_s;
    out->confidence = gf_hist_coverage(s, live, now, confidence_window(rule));
    const double cov_win = gf_hist_coverage(s, live, now, down_win_s);
    if (rule->min_coverage > 0 && cov_win <= 0 && now - s->track[live].last_t > down_win_s) {
        char d0[32], d2[32];
        out->action = GF_REC_NODATA;
        snprintf(out->reason, sizeof out->reason,
                 "no data: no samples in the last %s (the newest is %s old); missing samples "
                 "are not zero use",
                 dur(down_win_s, d0, sizeof d0),
                 dur(floor(now - s->track[live].last_t), d2, sizeof d2));
        return GF_OK;
    }
    /* one margin on a confident peak (enough coverage of the downsize
     * window): the smaller of headroom and memoryMargin; the larger where not */
    const bool confident = cov_win >= rule->min_coverage;
    const double one_margin = confident ? fmin(rule->headroom, rule->memory_margin)
                                        : fmax(rule->headroom, rule->memory_margin);

    /* engine.rules false: every workload is generic */
    const gf_engine_memory cls = rule->engine_rules ? in->engine.memory : GF_MEM_FOLLOWS_LOAD;
    if (cls == GF_MEM_PREALLOCATES && kt->samples) {
        prealloc_rules(rule, &u, s, now, out);
        if (in->engine_base_bytes < 0) /* an odd annotation: said, and the policy's share used */
            reason_add(out, "; annotation %s is not a positive quantity: engine.baseShare used",
                       GF_ENGINE_BASE_ANNOTATION);
        engine_cap(rule, out);
        return GF_OK;
    }

    char d1[32];
    /* the floor: observed peak memory (as far back as the history holds) + margin;
     * a caching allocator's need is its high-water mark, the all-time max; a
     * preallocating engine's peak is its cap, no floor */
    double peak_all = peak(s, GF_SIG_MEMORY, now, GF_HIST_HOUR_WINDOW_S);
    if (cls == GF_MEM_HIGH_WATER && mt->samples) peak_all = fmax(peak_all, mt->max_value);
    out->peak_memory_bytes = peak_all;
    double floor_frac =
        cls == GF_MEM_PREALLOCATES ? 0 : peak_all * (1 + rule->memory_margin) / u.gpu_bytes;
    double h = 1 + rule->headroom;

    /* --- upsize at once ---------------------------------------------------- */
    double up_window = (double)rule->upsize_window_s;
    double mem_recent = peak(s, GF_SIG_MEMORY, now, up_window);
    double sm_recent = 0;
    bool sm_known = false;
    if (rule->compute_aware && st->samples) {
        gf_error e;
        double w = up_window < GF_HIST_MINUTE_WINDOW_S ? up_window : GF_HIST_MINUTE_WINDOW_S;
        sm_known = gf_hist_mean(s, GF_SIG_SM, now, w, &sm_recent, &e) == GF_OK;
    }
    /* NVML memory at a preallocating engine's cap is never by itself a reason to upsize */
    bool up_mem = cls != GF_MEM_PREALLOCATES && mt->samples &&
                  mem_recent >= rule->upsize_trigger * alloc_bytes;
    const char *territory = NULL; /* upsize.newPeak: why the band counts */
    double prior = 0, ahead = 0;
    if (up_mem && rule->upsize_new_peak)
        up_mem = new_territory(rule, s, now, mem_recent, alloc_bytes, &territory, &prior, &ahead);
    bool up_sm = sm_known && sm_recent >= rule->upsize_trigger * cur;
    /* upsize.newPeak: the floor bounds downsizes; as an upsize trigger it
     * counts only for a peak at or above the allocation (a peak x margin
     * over it is nearness, not new territory) */
    bool up_floor =
        floor_frac > cur + 1e-9 &&
        (!rule->upsize_new_peak || cls == GF_MEM_PREALLOCATES || peak_all >= alloc_bytes);
    if (up_mem || up_sm || up_floor) {
        double need = cls == GF_MEM_PREALLOCATES ? floor_frac
                      : rule->single_margin
                          ? fmax(mem_recent, peak_all) * (1 + one_margin) / u.gpu_bytes
                          : fmax(mem_recent * h / u.gpu_bytes, floor_frac);
        if (sm_known) need = fmax(need, sm_recent * h);
        if (up_mem) {
            snprintf(out->reason, sizeof out->reason,
                     "memory peak %.2f GiB over the last %s is %.0f%% of the %.2f GiB "
                     "allocation (trigger %.0f%%)",
                     gib(mem_recent), dur(up_window, d1, sizeof d1), 100 * mem_recent / alloc_bytes,
                     gib(alloc_bytes), 100 * rule->upsize_trigger);
            if (territory && !strcmp(territory, "new-peak"))
                reason_add(out, ", a new peak (the highest since the last change was %.2f GiB)",
                           gib(prior));
            else if (territory && !strcmp(territory, "trend"))
                reason_add(out, ", climbing: %.2f GiB expected in %s", gib(ahead),
                           dur(up_window, d1, sizeof d1));
            else if (territory)
                reason_add(out, ", at or above the allocation");
        } else if (up_sm)
            snprintf(out->reason, sizeof out->reason,
                     "SM share %.2f of a GPU over the last %s is %.0f%% of the fraction "
                     "(trigger %.0f%%)",
                     sm_recent, dur(up_window, d1, sizeof d1), 100 * sm_recent / cur,
                     100 * rule->upsize_trigger);
        else
            snprintf(out->reason, sizeof out->reason,
                     "%s memory %.2f GiB + %.0f%% margin exceeds the %.2f GiB allocation",
                     cls == GF_MEM_HIGH_WATER ? "high-water" : "observed peak", gib(peak_all),
                     100 * rule->memory_margin, gib(alloc_bytes));
        out->decided_by = up_mem                     ? GF_RSIG_MEMORY
                          : up_sm                    ? GF_RSIG_SM
                          : cls == GF_MEM_HIGH_WATER ? GF_RSIG_HIGH_WATER
                                                     : GF_RSIG_PEAK_FLOOR;
        reason_add(out, "; needs %.3f of a GPU with headroom and margin", need);
        finish_upsize(rule, &u, need, out);
        out->gpus_saved = (cur - out->recommended_fraction) * in->devices * in->replicas;
        engine_cap(rule, out);
        return GF_OK;
    }

    /* --- downsize patiently ------------------------------------------------------ */
    out->decided_by = cls == GF_MEM_HIGH_WATER ? GF_RSIG_HIGH_WATER : GF_RSIG_MEMORY;
    if (!downsize_allowed(rule, s, now, span, out)) {
        if (cls == GF_MEM_PREALLOCATES)
            reason_add(out,
                       " (%s preallocates: its NVML memory is its cap, not its need; no "
                       "KV-cache metrics seen)",
                       gf_engine_name(in->engine.kind));
        return GF_OK;
    }
    char d2[32];
    if (rule->min_coverage > 0 && cov_win < rule->min_coverage) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation kept: samples cover %.0f%% of the last %s, too little to downsize "
                 "(downsize.minCoverage %.0f%%; missing samples are no data, not zero use)",
                 100 * cov_win, dur(down_win_s, d1, sizeof d1), 100 * rule->min_coverage);
        return GF_OK;
    }
    /* bursty series: the window's peak x the burst reserve, and a week of history */
    double reserve = rule->burst_reserve && cls != GF_MEM_PREALLOCATES ? burst_reserve(s, now) : 1;
    if (reserve >= BURSTY_RATIO && span < BURSTY_HISTORY_S) {
        snprintf(out->reason, sizeof out->reason,
                 "allocation kept: bursty (highest daily peak %.2fx the typical one): a downsize "
                 "waits for %s of history (%s so far; downsize.burstReserve)",
                 reserve, dur(BURSTY_HISTORY_S, d1, sizeof d1), dur(floor(span), d2, sizeof d2));
        return GF_OK;
    }
    double win = (double)rule->downsize_window_s;
    double mem_win = peak(s, GF_SIG_MEMORY, now, win);
    /* a caching allocator's memory only falls on a new pod: judged against its high-water mark */
    double mem_basis = cls == GF_MEM_HIGH_WATER ? fmax(mem_win, peak_all) : mem_win;
    double target = rule->single_margin && cls != GF_MEM_PREALLOCATES
                        ? fmax(mem_basis * reserve, peak_all) * (1 + one_margin) / u.gpu_bytes
                        : fmax(mem_basis * reserve * h / u.gpu_bytes, floor_frac);
    double sm_p = 0;
    if (rule->compute_aware && st->samples) {
        gf_error e;
        if (gf_hist_percentile(s, GF_SIG_SM, rule->downsize_percentile_sm, &sm_p, &e) == GF_OK &&
            sm_p * h > target) {
            target = sm_p * h;
            out->decided_by = GF_RSIG_SM;
        }
    }
    double value;
    double tq = quantise(&u, target, &value);
    const char *basis = cls == GF_MEM_HIGH_WATER ? "high-water memory" : "peak memory";
    if (cur - tq < rule->min_change - 1e-9) {
        if (cls == GF_MEM_PREALLOCATES)
            snprintf(out->reason, sizeof out->reason,
                     "allocation kept: %s preallocates: its NVML memory (%.2f GiB over %s) is its "
                     "cap, not its need, and no KV-cache metrics seen",
                     gf_engine_name(in->engine.kind), gib(mem_basis), dur(win, d1, sizeof d1));
        else
            snprintf(out->reason, sizeof out->reason,
                     "allocation fits: needs %.3f of a GPU (%s %.2f GiB over %s x %.2f), "
                     "less than minChange %.2f below %.3f",
                     tq, basis, gib(mem_basis), dur(win, d1, sizeof d1), h, rule->min_change, cur);
        return GF_OK;
    }
    bool limited = false;
    if (!finish_downsize(rule, &u, tq, out, &limited)) return GF_OK;
    if (rule->single_margin && cls != GF_MEM_PREALLOCATES)
        snprintf(out->reason, sizeof out->reason,
                 "%s %.2f GiB over %s x %.2f (one margin, %s peak)", basis, gib(mem_basis),
                 dur(win, d1, sizeof d1), 1 + one_margin,
                 confident ? "confident" : "not confident");
    else
        snprintf(out->reason, sizeof out->reason, "%s %.2f GiB over %s x %.2f headroom", basis,
                 gib(mem_basis), dur(win, d1, sizeof d1), h);
    if (rule->compute_aware)
        reason_add(out, ", SM p%.0f %.3f x %.2f", 100 * rule->downsize_percentile_sm, sm_p, h);
    if (cls == GF_MEM_PREALLOCATES)
        reason_add(out, " -> %.3f of a GPU (the engine holds no more than that)", tq);
    else
        reason_add(out, " -> %.3f of a GPU (floor: %s %.2f GiB + %.0f%%)", tq,
                   cls == GF_MEM_HIGH_WATER ? "high-water" : "peak", gib(peak_all),
                   100 * rule->memory_margin);
    if (reserve > 1 + 1e-9) reason_add(out, "; burst reserve %.2f", reserve);
    if (limited) reason_add(out, "; step limited to maxStep %.2f", rule->max_down_step);
    if (downsize_waits(rule, s, now, out)) return GF_OK;
    out->gpus_saved = (cur - out->recommended_fraction) * in->devices * in->replicas;
    engine_cap(rule, out);
    return GF_OK;
}

/* --- over a model ------------------------------------------------------------------- */

typedef struct agg {
    bool any;
    gf_rec_input in;
    const gf_pod *first;
} agg;

/* "<why>; <the rule's reason>", cut to fit. */
static void reason_prefix(gf_recommendation *r, const char *why)
{
    size_t n = strlen(why);
    if (n + 2 < sizeof r->reason) {
        memmove(r->reason + n + 2, r->reason, sizeof r->reason - n - 2);
        r->reason[sizeof r->reason - 1] = '\0';
        memcpy(r->reason, why, n);
        memcpy(r->reason + n, "; ", 2);
    }
}

/* An upsize its KAI queues cannot fund (decide/quota.h): flagged, the
 * reason says so first. The upsizes let through are charged to the ledger:
 * two that each fit but together pass the quota are not both recommended
 * (the earlier workload in the input keeps its upsize). */
static void quota_check(const gf_model *m, gf_quota_ledger *ledger, uint32_t wi,
                        gf_recommendation *r)
{
    if (r->action != GF_REC_UP && r->action != GF_REC_WHOLE) return;
    double devices = r->in.devices ? r->in.devices : 1;
    double to = r->action == GF_REC_WHOLE ? 1.0 : r->recommended_fraction;
    if (!gf_quota_upsize_ledger(m, ledger, wi, r->current_fraction * devices, to * devices, true,
                                &r->quota))
        return;
    r->quota_blocked = true;
    r->quota_queue_name = m->queues.v[r->quota.queue].name;
    char why[sizeof r->reason];
    gf_quota_text(m, &r->quota, why, sizeof why);
    reason_prefix(r, why);
}

/* downsize.holdOneWay: a downsize its KAI queues could not take back
 * (decide/quota.h gf_quota_downsize_one_way): held, the allocation kept. */
static void one_way_check(const gf_model *m, const gf_rightsize_rule *rule, uint32_t wi,
                          gf_recommendation *r)
{
    if (!rule->hold_one_way) return;
    bool waits = r->action == GF_REC_KEEP && r->waits_window; /* the downsize it waits for */
    if (r->action != GF_REC_DOWN && !waits) return;
    double devices = r->in.devices ? r->in.devices : 1;
    double to = r->recommended_fraction;
    if (waits)
        to = r->in.unit == GF_SHARE_MEMORY && r->in.gpu_memory_mib > 0
                 ? r->waits_to / (double)r->in.gpu_memory_mib
                 : r->waits_to;
    gf_quota_check q;
    if (!gf_quota_downsize_one_way(m, wi, r->current_fraction * devices, to * devices, &q)) return;
    r->waits_window = false;
    char why[sizeof r->reason];
    gf_quota_one_way_text(m, &q, why, sizeof why);
    reason_prefix(r, why);
    r->action = GF_REC_KEEP;
    r->recommended = r->current;
    r->recommended_fraction = r->current_fraction;
    r->gpus_saved = 0;
    r->move_cap = false;
    r->quota_one_way = true;
    r->quota = q;
    r->quota_queue_name = m->queues.v[q.queue].name;
}

gf_err gf_recommend_model(const gf_model *m, const gf_history *h, const gf_policy *p, double now,
                          gf_recommendations *out, gf_error *err)
{
    if (!m->finalized)
        return gf_error_set(err, GF_EINTERNAL, NULL, "recommend: model is not finalized");
    agg *a = gf_xcalloc(m->workloads.n + 1, sizeof(agg));
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *pod = &m->pods.v[i];
        if (!gf_pod_active(pod) || pod->is_reservation || pod->share == GF_SHARE_NONE) continue;
        const gf_workload *w = gf_model_pod_workload(m, pod);
        if (!w) continue;
        agg *g = &a[w - m->workloads.v];
        if (!g->any) {
            g->any = true;
            g->first = pod;
            g->in.ns = w->ns;
            g->in.kind = w->kind;
            g->in.name = w->name;
            g->in.unit = pod->share;
            g->in.container = pod->gpu_container;
            g->in.container_init = pod->gpu_container_init;
            gf_engine_detect(pod, &g->in.engine, NULL);
            g->in.engine_container = pod->gpu_spec_container;
            g->in.engine_container_init = pod->gpu_spec_init;
            g->in.engine_argv = pod->gpu_argv;
            g->in.engine_argc = pod->gpu_argc;
            g->in.engine_cmd_n = pod->gpu_cmd_n;
            const char *base = gf_kvs_get(&pod->annotations, GF_ENGINE_BASE_ANNOTATION);
            int64_t bytes = 0;
            const char *why = NULL;
            if (base && gf_quantity_value(base, &bytes, &why) == GF_OK && bytes > 0)
                g->in.engine_base_bytes = (double)bytes;
            else if (base)
                g->in.engine_base_bytes = -1; /* given, not a positive quantity */
        }
        /* pods of one workload may differ mid-rollout: size for the largest */
        if (pod->share == GF_SHARE_FRACTION && pod->gpu_fraction > g->in.fraction)
            g->in.fraction = pod->gpu_fraction;
        if (pod->share == GF_SHARE_MEMORY && pod->gpu_memory_mib > g->in.memory_mib)
            g->in.memory_mib = pod->gpu_memory_mib;
        if (pod->gpu_devices > g->in.devices) g->in.devices = pod->gpu_devices;
        /* sizing needs the GPU's real memory: a node without the label, where
         * KAI counts 100 MiB per GPU, says nothing about it */
        if (pod->node != GF_NONE && m->nodes.v[pod->node].gpu_memory_from_label) {
            int64_t mem = m->nodes.v[pod->node].gpu_memory_mib;
            if (mem > 0 && (g->in.gpu_memory_mib == 0 || mem < g->in.gpu_memory_mib))
                g->in.gpu_memory_mib = mem;
        }
        g->in.replicas++;
    }
    gf_err rc = GF_OK;
    gf_quota_ledger ledger;
    gf_quota_ledger_init(&ledger, m);
    for (size_t wi = 0; wi < m->workloads.n && !rc; wi++) {
        agg *g = &a[wi];
        if (!g->any) continue;
        const gf_workload *w = &m->workloads.v[wi];
        /* a workload mixing gpu-fraction and gpu-memory pods: its first pod's unit */
        if (g->in.unit == GF_SHARE_FRACTION && g->in.fraction <= 0) g->in.unit = GF_SHARE_MEMORY;
        if (g->in.unit == GF_SHARE_MEMORY && g->in.memory_mib <= 0) g->in.unit = GF_SHARE_FRACTION;
        gf_policy_subject subj;
        gf_policy_subject_with_pod(m, (uint32_t)wi, g->first, &subj);
        gf_policy_decision dec;
        gf_policy_resolve(p, &subj, &dec);
        char key[400];
        gf_recommend_key(w->ns, w->kind, w->name, key, sizeof key);
        gf_recommendation r;
        if (g->in.gpu_memory_mib <= 0) { /* no pod bound to a GPU node yet */
            memset(&r, 0, sizeof r);
            r.in = g->in;
            r.mode = dec.rule.mode;
            r.action = dec.rule.mode == GF_MODE_OFF ? GF_REC_OFF : GF_REC_NODATA;
            r.current = g->in.unit == GF_SHARE_MEMORY ? (double)g->in.memory_mib : g->in.fraction;
            r.recommended = r.current;
            snprintf(r.reason, sizeof r.reason,
                     "no pod is bound to a node with an nvidia.com/gpu.memory label");
        } else {
            rc = gf_recommend_one(&dec.rule, &g->in, h ? gf_history_find(h, key) : NULL, now, &r,
                                  err);
        }
        snprintf(r.policy, sizeof r.policy, "%s", dec.reason);
        if (!rc) quota_check(m, &ledger, (uint32_t)wi, &r);
        if (!rc) one_way_check(m, &dec.rule, (uint32_t)wi, &r);
        if (!rc) gf_vec_push(out, r);
    }
    gf_quota_ledger_free(&ledger);
    free(a);
    if (!rc) rc = gf_convert_model(m, h, p, now, out, err);
    return rc;
}

/* --- ingest --------------------------------------------------------------------------- */

double gf_history_newest(const gf_history *h)
{
    double t = -INFINITY;
    for (size_t i = 0; i < gf_history_count(h); i++) {
        const gf_hist_series *s = gf_history_at(h, i);
        for (int k = 0; k < GF_HIST_NSIGNALS; k++)
            if (s->track[k].samples && s->track[k].last_t > t) t = s->track[k].last_t;
    }
    return t;
}

/* Top-level workload (Deployment over ReplicaSet) of a workload index. */
static const gf_workload *top(const gf_model *m, const gf_workload *w)
{
    if (w && w->owner.kind) {
        char key[600];
        size_t i;
        snprintf(key, sizeof key, "%s/%s/%s", w->owner.kind, w->ns, w->owner.name);
        if (gf_strmap_get(&m->workload_by_key, key, &i)) return &m->workloads.v[i];
    }
    return w;
}

static const gf_workload *find_wl(const gf_model *m, const char *kind, const char *ns,
                                  const char *name, size_t name_len)
{
    char key[600];
    size_t i;
    int n = snprintf(key, sizeof key, "%s/%s/%.*s", kind, ns, (int)name_len, name);
    if (n < 0 || (size_t)n >= sizeof key) return NULL;
    return gf_strmap_get(&m->workload_by_key, key, &i) ? top(m, &m->workloads.v[i]) : NULL;
}

/* <name>-<suffix>: the length of <name> when the last dash-separated part
 * passes ok(), else 0. */
static size_t strip_suffix(const char *s, size_t len, bool (*ok)(const char *, size_t))
{
    for (size_t i = len; i-- > 0;)
        if (s[i] == '-') return i > 0 && ok(s + i + 1, len - i - 1) ? i : 0;
    return 0;
}

static bool alnum_part(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) return false;
    return true;
}

static bool digits_part(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static const gf_workload *by_convention(const gf_model *m, const char *ns, const char *pod)
{
    size_t len = strlen(pod);
    size_t rs = strip_suffix(pod, len, alnum_part); /* <rs>-<5> */
    if (rs) {
        const gf_workload *w = find_wl(m, "ReplicaSet", ns, pod, rs);
        if (w) return w;
        size_t dep = strip_suffix(pod, rs, alnum_part); /* <dep>-<hash> */
        if (dep && (w = find_wl(m, "Deployment", ns, pod, dep))) return w;
    }
    size_t sts = strip_suffix(pod, len, digits_part);
    return sts ? find_wl(m, "StatefulSet", ns, pod, sts) : NULL;
}

/* pod "ns/name" -> its workload's series (or none), resolved once per pod */
typedef struct pod_map {
    const gf_model *m;
    gf_history *h;
    gf_arena keys;
    gf_strmap pods, seen;
    GF_VEC(gf_hist_series *) series;
} pod_map;

static void pod_map_init(pod_map *pm, const gf_model *m, gf_history *h)
{
    memset(pm, 0, sizeof *pm);
    pm->m = m;
    pm->h = h;
    gf_arena_init(&pm->keys);
    gf_strmap_init(&pm->pods);
    gf_strmap_init(&pm->seen);
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        char k[600];
        snprintf(k, sizeof k, "%s/%s", p->ns, p->name);
        gf_strmap_put(&pm->pods, gf_arena_strdup(&pm->keys, k), i);
    }
}

static void pod_map_free(pod_map *pm)
{
    gf_vec_free(&pm->series);
    gf_strmap_free(&pm->seen);
    gf_strmap_free(&pm->pods);
    gf_arena_free(&pm->keys);
}

/* The series of pod ns/pod's workload (created when new), NULL when the pod
 * maps to none; *by_name when found by the naming convention. */
static gf_hist_series *pod_map_get(pod_map *pm, const char *ns, const char *pod, bool *by_name)
{
    const gf_model *m = pm->m;
    char k[600];
    snprintf(k, sizeof k, "%s/%s", ns, pod);
    size_t si;
    if (!gf_strmap_get(&pm->seen, k, &si)) {
        const gf_workload *w = NULL;
        size_t pi;
        bool named = false;
        if (gf_strmap_get(&pm->pods, k, &pi)) {
            w = gf_model_pod_workload(m, &m->pods.v[pi]);
        } else {
            w = by_convention(m, ns, pod);
            named = w != NULL;
        }
        gf_hist_series *s = NULL;
        if (w) {
            char key[400];
            gf_recommend_key(w->ns, w->kind, w->name, key, sizeof key);
            s = gf_history_get(pm->h, key, true);
        }
        si = pm->series.n | (named ? (size_t)1 << 62 : 0);
        gf_vec_push(&pm->series, s);
        gf_strmap_put(&pm->seen, gf_arena_strdup(&pm->keys, k), si);
    }
    *by_name = (si >> 62) & 1;
    return pm->series.v[si & (((size_t)1 << 62) - 1)];
}

gf_err gf_recommend_ingest(const gf_model *m, gf_history *h, const gf_usage_sample *samples,
                           size_t n, double after, gf_ingest_stats *st, gf_error *err)
{
    memset(st, 0, sizeof *st);
    pod_map pm;
    pod_map_init(&pm, m, h);
    gf_err rc = GF_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const gf_usage_sample *x = &samples[i];
        if (x->t <= after) {
            st->old++;
            continue;
        }
        bool by_name = false;
        gf_hist_series *s = pod_map_get(&pm, x->ns, x->pod, &by_name);
        if (!s) {
            st->unmatched++;
            if (!st->first_unmatched) st->first_unmatched = x;
            continue;
        }
        st->by_name += by_name;
        if (x->memory_bytes == x->memory_bytes) { /* not NaN */
            rc = gf_history_add_to(h, s, GF_SIG_MEMORY, x->t, x->memory_bytes, err);
            st->added += !rc;
        }
        if (!rc && x->sm_util == x->sm_util) {
            rc = gf_history_add_to(h, s, GF_SIG_SM, x->t, x->sm_util, err);
            st->added += !rc;
        }
        if (rc && err)
            snprintf(err->where, sizeof err->where, "sample of pod %.200s/%.200s at %.3f", x->ns,
                     x->pod, x->t);
    }
    pod_map_free(&pm);
    return rc;
}

gf_err gf_recommend_ingest_engine(const gf_model *m, gf_history *h, const gf_engine_sample *samples,
                                  size_t n, double after, gf_ingest_stats *st, gf_error *err)
{
    memset(st, 0, sizeof *st);
    pod_map pm;
    pod_map_init(&pm, m, h);
    gf_err rc = GF_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const gf_engine_sample *x = &samples[i];
        if (x->t <= after) {
            st->old++;
            continue;
        }
        bool by_name = false;
        gf_hist_series *s = pod_map_get(&pm, x->ns, x->pod, &by_name);
        if (!s) {
            st->unmatched++;
            continue;
        }
        st->by_name += by_name;
        const struct {
            gf_hist_signal sig;
            double v;
        } vals[] = {{GF_SIG_KV, x->kv_usage},
                    {GF_SIG_WAITING, x->requests_waiting},
                    {GF_SIG_PREEMPT, x->preempt_rate}};
        for (size_t k = 0; k < sizeof vals / sizeof vals[0] && !rc; k++) {
            if (vals[k].v != vals[k].v) continue; /* NaN: not said */
            rc = gf_history_add_to(h, s, vals[k].sig, x->t, vals[k].v, err);
            st->added += !rc;
        }
        if (rc && err)
            snprintf(err->where, sizeof err->where, "engine sample of pod %.200s/%.200s at %.3f",
                     x->ns, x->pod, x->t);
    }
    pod_map_free(&pm);
    return rc;
}
