/* demand.c - per-service GPU demand for the simulator, see demand.h. */
#include "sim/demand.h"
#include "util/rng.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400.0
#define TWO_PI 6.283185307179586
/* Smooth noise: values drawn at knots this far apart, interpolated. */
#define MEM_KNOT_S 1800.0
#define SM_KNOT_S 600.0
/* Relative noise amplitudes: memory is smooth (KV cache, allocator pools),
 * SM share jumps with the request mix. */
#define MEM_NOISE 0.03
#define MEM_POD_NOISE 0.01
#define SM_NOISE 0.10
#define SM_POD_NOISE 0.05
/* Services whose SM share per unit of load exceeds their memory's. */
#define COMPUTE_BOUND_SHARE 0.25
/* Trace-driven services: shares driven far below their allocation (idle)
 * and up to or past it (hot: their peak hour passes what they declared). */
#define TRACE_IDLE 0.1
#define TRACE_HOT 0.85
/* Loads above this are cut (a service cannot take more than its traffic). */
#define LOAD_CAP 1.6

/* Turning requests into GPU work (one GPU serving a mid-size LLM; the
 * figures only shape the curve, since the trace is normalised afterwards):
 * prefill runs at PREFILL_TOK_S prompt tokens a second, each request then
 * decodes at DECODE_TOK_S_PER_REQ tokens a second, and the GPU decodes
 * DECODE_TOK_S tokens a second over its whole batch. A request's KV cache
 * holds its prompt and the tokens generated so far. */
#define PREFILL_TOK_S 8000.0
#define DECODE_TOK_S 2000.0
#define DECODE_TOK_S_PER_REQ 40.0
#define MAX_DECODE_S 3600u

const char *gf_demand_kind_name(gf_demand_kind k)
{
    static const char *names[] = {"builtin", "trace", "table"};
    return (unsigned)k < 3 ? names[k] : "?";
}

const char *gf_demand_shape_name(gf_demand_shape s)
{
    static const char *names[GF_SHAPE_COUNT] = {"diurnal", "bursty", "step", "idle",
                                                "full",    "trace",  "table"};
    return (unsigned)s < GF_SHAPE_COUNT ? names[s] : "?";
}

/* --- request traces ------------------------------------------------------------------ */

void gf_request_trace_init(gf_request_trace *tr)
{
    memset(tr, 0, sizeof *tr);
}

void gf_request_trace_free(gf_request_trace *tr)
{
    if (!tr) return;
    free(tr->requests);
    free(tr->context_tokens);
    free(tr->generated_tokens);
    gf_request_trace_init(tr);
}

/* Moves the bins holding requests into new arrays covering
 * [new_start, new_start + new_seconds), which must include them. */
static void trace_resize(gf_request_trace *tr, double new_start, uint32_t new_seconds)
{
    uint32_t *req = gf_xcalloc(new_seconds, sizeof *req);
    double *ctx = gf_xcalloc(new_seconds, sizeof *ctx);
    double *gen = gf_xcalloc(new_seconds, sizeof *gen);
    if (tr->total_requests) {
        uint32_t to = (uint32_t)(tr->start_t + tr->first - new_start);
        uint32_t n = tr->last - tr->first + 1;
        memcpy(req + to, tr->requests + tr->first, n * sizeof *req);
        memcpy(ctx + to, tr->context_tokens + tr->first, n * sizeof *ctx);
        memcpy(gen + to, tr->generated_tokens + tr->first, n * sizeof *gen);
        tr->first = to;
        tr->last = to + n - 1;
    }
    free(tr->requests);
    free(tr->context_tokens);
    free(tr->generated_tokens);
    tr->requests = req;
    tr->context_tokens = ctx;
    tr->generated_tokens = gen;
    tr->start_t = new_start;
    tr->seconds = new_seconds;
}

gf_err gf_request_trace_add(gf_request_trace *tr, double t, double context_tokens,
                            double generated_tokens, gf_error *err)
{
    if (!isfinite(t) || t < 0)
        return gf_error_set(err, GF_EINPUT, NULL, "time %g is not a valid time", t);
    if (!(context_tokens >= 0 && context_tokens <= GF_TRACE_MAX_TOKENS) ||
        !(generated_tokens >= 0 && generated_tokens <= GF_TRACE_MAX_TOKENS))
        return gf_error_set(err, GF_EINPUT, NULL, "token counts %g and %g must be within 0..%.0f",
                            context_tokens, generated_tokens, GF_TRACE_MAX_TOKENS);
    double sec = floor(t);
    if (!tr->seconds) {
        trace_resize(tr, sec, 64);
    } else {
        double lo = fmin(tr->start_t + tr->first, sec), hi = fmax(tr->start_t + tr->last, sec);
        if (hi - lo + 1 > (double)GF_TRACE_MAX_SECONDS)
            return gf_error_set(err, GF_EINPUT, NULL,
                                "the trace would span more than %u days (%.0f s)",
                                GF_TRACE_MAX_SECONDS / 86400u, hi - lo + 1);
        if (sec < tr->start_t || sec >= tr->start_t + tr->seconds) {
            /* grow geometrically on the side that needs it */
            double need = hi - lo + 1;
            double cap = fmin((double)GF_TRACE_MAX_SECONDS, fmax(need, 2.0 * tr->seconds));
            double start = sec < tr->start_t ? hi + 1 - cap : lo;
            if (start < 0) start = 0;
            trace_resize(tr, start, (uint32_t)cap);
        }
    }
    uint32_t i = (uint32_t)(sec - tr->start_t);
    if (!tr->total_requests) {
        tr->first = tr->last = i;
    } else {
        if (i < tr->first) tr->first = i;
        if (i > tr->last) tr->last = i;
    }
    tr->requests[i]++;
    tr->context_tokens[i] += context_tokens;
    tr->generated_tokens[i] += generated_tokens;
    tr->total_requests++;
    return GF_OK;
}

/* --- noise ----------------------------------------------------------------------------- */

/* Uniform [0, 1) keyed by (seed, a, b): one util/rng.h stream per key. */
static double key_unit(uint64_t seed, uint64_t a, uint64_t b)
{
    gf_rng r;
    gf_rng_seed(&r, seed * 0x9E3779B97F4A7C15ULL + (a + 1) * 0xD1B54A32D192ED03ULL +
                        (b + 1) * 0x8CB92BA72F3D8DD7ULL);
    return gf_rng_unit(&r);
}

/* Smooth noise in [-1, 1]: values at knots `knot` seconds apart, joined by
 * smoothstep. */
static double smooth(uint64_t seed, uint64_t key, double t, double knot)
{
    double x = t / knot, k = floor(x), f = x - k;
    double a = key_unit(seed, key, (uint64_t)k) * 2 - 1;
    double b = key_unit(seed, key, (uint64_t)k + 1) * 2 - 1;
    f = f * f * (3 - 2 * f);
    return a + (b - a) * f;
}

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* --- shapes ------------------------------------------------------------------------------ */

void gf_demand_init(gf_demand *d)
{
    memset(d, 0, sizeof *d);
}

void gf_demand_free(gf_demand *d)
{
    if (!d) return;
    gf_vec_free(&d->series);
    gf_vec_free(&d->events);
    free(d->trace_sm);
    free(d->trace_kv);
    free(d->table_mem);
    free(d->table_sm);
    free(d->table_count);
    gf_demand_init(d);
}

static gf_err check_opts(const gf_demand_opts *o, gf_error *err)
{
    if (!(o->step_s >= 1 && o->step_s <= DAY_S))
        return gf_error_set(err, GF_EUSAGE, "demand", "step %g s is not within 1 s .. 1 d",
                            o->step_s);
    if (o->n_steps == 0)
        return gf_error_set(err, GF_EUSAGE, "demand", "at least one step is needed");
    if (!isfinite(o->start_t) || o->start_t < 0)
        return gf_error_set(err, GF_EUSAGE, "demand", "start time %g is not valid", o->start_t);
    return GF_OK;
}

static gf_err check_scales(const double *scales, size_t n, gf_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!(scales[i] > 0 && scales[i] <= 1))
            return gf_error_set(err, GF_EUSAGE, "demand",
                                "service %zu: declared allocation %g is not in (0, 1]", i,
                                scales[i]);
    return GF_OK;
}

/* 0 at the daily low, 1 at the peak (phase), sharpened; weekends scaled. */
static double daily_x(const gf_demand_series *s, double t)
{
    double day = floor(t / DAY_S);
    double tod = t - day * DAY_S;
    double x = 0.5 + 0.5 * cos(TWO_PI * (tod - s->phase_s) / DAY_S);
    x *= x;
    int64_t dow = ((int64_t)day + 3) % 7; /* 1970-01-01 was a Thursday; 0 = Monday */
    if (dow >= 5) x *= s->weekend;
    return x;
}

static double uniform(gf_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * gf_rng_unit(r);
}

/* Events of a series, sorted by t0, are events[first .. first+n). Index of
 * the last with t0 <= t, or -1. */
static long last_event(const gf_demand *d, const gf_demand_series *s, double t)
{
    long lo = 0, hi = (long)s->n_events - 1, ans = -1;
    const gf_demand_event *e = d->events.v + s->first_event;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (e[mid].t0 <= t) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

static double builtin_load(const gf_demand *d, const gf_demand_series *s, double t)
{
    double load = s->base + (s->peak - s->base) * daily_x(s, t);
    long e;
    switch (s->shape) {
    case GF_SHAPE_BURSTY:
        e = last_event(d, s, t);
        if (e >= 0) {
            const gf_demand_event *ev = &d->events.v[s->first_event + (uint32_t)e];
            if (t < ev->t1 && ev->level > load) load = ev->level;
        }
        break;
    case GF_SHAPE_STEP:
        e = last_event(d, s, t);
        if (e >= 0) load *= d->events.v[s->first_event + (uint32_t)e].level; /* cumulative */
        break;
    case GF_SHAPE_IDLE:
    case GF_SHAPE_FULL:
        load = s->base;
        break;
    default:
        break;
    }
    return load;
}

/* Draws one builtin service; events are appended to d->events. */
static gf_demand_series draw_series(gf_demand *d, uint64_t i, double scale)
{
    gf_rng r;
    gf_rng_seed(&r, d->o.seed * 0x2545F4914F6CDD1DULL + i * 0x9E3779B97F4A7C15ULL + 17);
    gf_demand_series s = {0};
    s.scale = scale;
    s.weekend = uniform(&r, 0.4, 0.8);
    s.phase_s = uniform(&r, 10.0, 17.0) * 3600.0;
    /* compute intensity: most services are memory-bound (their SM share
     * stays below their memory-based fraction); a third are compute-bound
     * (a small model doing a lot of work): their SM share can pass it */
    s.sm_per_load =
        gf_rng_unit(&r) < COMPUTE_BOUND_SHARE ? uniform(&r, 1.0, 1.8) : uniform(&r, 0.3, 0.9);
    s.weights = uniform(&r, 0.08, 0.35);
    s.first_event = (uint32_t)d->events.n;
    double u = gf_rng_unit(&r);
    /* shares: diurnal 40%, bursty 18%, step 14%, idle 16%, full 12% */
    s.shape = u < 0.40   ? GF_SHAPE_DIURNAL
              : u < 0.58 ? GF_SHAPE_BURSTY
              : u < 0.72 ? GF_SHAPE_STEP
              : u < 0.88 ? GF_SHAPE_IDLE
                         : GF_SHAPE_FULL;
    double t_begin = d->o.start_t, t_end = d->o.start_t + d->o.step_s * d->o.n_steps;
    switch (s.shape) {
    case GF_SHAPE_DIURNAL:
        s.base = uniform(&r, 0.04, 0.2);
        s.peak = uniform(&r, 0.25, 0.95);
        break;
    case GF_SHAPE_BURSTY: {
        s.base = uniform(&r, 0.03, 0.12);
        s.peak = uniform(&r, 0.15, 0.4);
        /* bursts: a Poisson process of 0.5..3 a day, 5..30 minutes each, to
         * 0.8..1 of the service's burst peak, 0.6..1.1 of its allocation */
        double rate = uniform(&r, 0.5, 3.0) / DAY_S;
        double burst_peak = uniform(&r, 0.6, 1.1);
        double t = t_begin;
        for (;;) {
            t += -log(1.0 - gf_rng_unit(&r)) / rate;
            if (t >= t_end) break;
            double len = uniform(&r, 300.0, 1800.0);
            gf_demand_event ev = {t, t + len, burst_peak * uniform(&r, 0.8, 1.0)};
            gf_vec_push(&d->events, ev);
            t += len;
        }
        break;
    }
    case GF_SHAPE_STEP: {
        s.base = uniform(&r, 0.05, 0.2);
        s.peak = uniform(&r, 0.2, 0.5);
        /* 1..3 level changes over the run: mostly up (a larger model, KV
         * cache growing with longer contexts), sometimes down */
        uint32_t n = 1 + (uint32_t)gf_rng_below(&r, 3);
        double times[3];
        for (uint32_t k = 0; k < n; k++)
            times[k] = uniform(&r, t_begin, t_end);
        for (uint32_t a = 1; a < n; a++)
            for (uint32_t b = a; b > 0 && times[b] < times[b - 1]; b--) {
                double x = times[b];
                times[b] = times[b - 1];
                times[b - 1] = x;
            }
        double level = 1.0;
        for (uint32_t k = 0; k < n; k++) {
            level *= gf_rng_unit(&r) < 0.75 ? uniform(&r, 1.2, 1.8) : uniform(&r, 0.5, 0.8);
            gf_demand_event ev = {times[k], INFINITY, level};
            gf_vec_push(&d->events, ev);
        }
        break;
    }
    case GF_SHAPE_IDLE:
        s.base = s.peak = uniform(&r, 0.0, 0.05);
        s.weights = uniform(&r, 0.05, 0.3);
        break;
    case GF_SHAPE_FULL:
        s.base = s.peak = uniform(&r, 0.86, 0.93);
        s.weights = uniform(&r, 0.5, 0.8);
        s.sm_per_load = uniform(&r, 0.85, 1.0);
        break;
    default:
        break;
    }
    s.n_events = (uint32_t)(d->events.n - s.first_event);
    return s;
}

gf_err gf_demand_builtin(gf_demand *d, const gf_demand_opts *o, const double *scales, size_t n,
                         gf_error *err)
{
    gf_err rc;
    if ((rc = check_opts(o, err)) || (rc = check_scales(scales, n, err))) return rc;
    gf_demand_free(d);
    d->kind = GF_DEMAND_BUILTIN;
    d->o = *o;
    for (size_t i = 0; i < n; i++) {
        gf_demand_series s = draw_series(d, i, scales[i]);
        gf_vec_push(&d->series, s);
    }
    return GF_OK;
}

/* --- trace ------------------------------------------------------------------------------ */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Divides v[0..n) by its 99th percentile. False when that is 0. */
static bool normalise(float *v, uint32_t n)
{
    float *tmp = gf_xmalloc(n * sizeof *tmp);
    memcpy(tmp, v, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_float);
    float p = tmp[(size_t)((n - 1) * 0.99)];
    free(tmp);
    if (!(p > 0)) return false;
    for (uint32_t i = 0; i < n; i++)
        v[i] /= p;
    return true;
}

gf_err gf_demand_trace(gf_demand *d, const gf_demand_opts *o, const gf_request_trace *tr,
                       const double *scales, size_t n, gf_error *err)
{
    gf_err rc;
    if ((rc = check_opts(o, err)) || (rc = check_scales(scales, n, err))) return rc;
    if (!tr->seconds || !tr->total_requests)
        return gf_error_set(err, GF_EINPUT, "demand", "the request trace holds no request");
    /* the trace runs from its first request to its last, then repeats */
    uint32_t len = tr->last - tr->first + 1;
    double *sm = gf_xcalloc(len, sizeof *sm), *kv = gf_xcalloc(len, sizeof *kv);
    for (uint32_t s = 0; s < len; s++) {
        uint32_t nreq = tr->requests[tr->first + s];
        if (!nreq) continue;
        double ctx = tr->context_tokens[tr->first + s], gen = tr->generated_tokens[tr->first + s];
        sm[s] += ctx / PREFILL_TOK_S;
        double per_req = gen / nreq / DECODE_TOK_S_PER_REQ;
        uint32_t dur = per_req < 1 ? 1 : per_req > MAX_DECODE_S ? MAX_DECODE_S : (uint32_t)per_req;
        for (uint32_t j = 0; j < dur; j++) {
            uint32_t k = (uint32_t)(((uint64_t)s + j) % len); /* the trace repeats */
            sm[k] += gen / dur / DECODE_TOK_S;
            kv[k] += ctx + gen * (j + 1) / dur;
        }
    }
    /* windows of one step: mean SM work, max KV */
    uint32_t w = (uint32_t)llround(o->step_s);
    if (w < 1) w = 1;
    if (w > len) w = len;
    float *wsm = gf_xmalloc(len * sizeof *wsm), *wkv = gf_xmalloc(len * sizeof *wkv);
    double sum = 0;
    for (uint32_t j = 0; j < w; j++)
        sum += sm[j % len];
    /* sliding max over the doubled array with a monotone deque */
    uint32_t *dq = gf_xmalloc((2 * (size_t)len + 1) * sizeof *dq);
    size_t head = 0, tail = 0;
    for (uint64_t j = 0; j < (uint64_t)len + w - 1; j++) {
        double v = kv[j % len];
        while (tail > head && kv[dq[tail - 1] % len] <= v)
            tail--;
        dq[tail++] = (uint32_t)j;
        if (j + 1 >= w) {
            uint64_t start = j + 1 - w;
            while (dq[head] < start)
                head++;
            if (start < len) wkv[start] = (float)kv[dq[head] % len];
        }
    }
    for (uint32_t s = 0; s < len; s++) {
        wsm[s] = (float)(sum / w);
        sum += sm[(s + w) % len] - sm[s];
        if (sum < 0) sum = 0;
    }
    free(dq);
    free(sm);
    free(kv);
    if (!normalise(wsm, len) || !normalise(wkv, len)) {
        free(wsm);
        free(wkv);
        return gf_error_set(err, GF_EINPUT, "demand",
                            "the request trace has no load (every token count is 0)");
    }
    gf_demand_free(d);
    d->kind = GF_DEMAND_TRACE;
    d->o = *o;
    d->trace_sm = wsm;
    d->trace_kv = wkv;
    d->trace_seconds = len;
    for (size_t i = 0; i < n; i++) {
        gf_rng r;
        gf_rng_seed(&r, o->seed * 0x2545F4914F6CDD1DULL + i * 0x9E3779B97F4A7C15ULL + 29);
        gf_demand_series s = {0};
        s.shape = GF_SHAPE_TRACE;
        s.scale = scales[i];
        s.weights = uniform(&r, 0.08, 0.35);
        s.weekend = uniform(&r, 0.4, 0.8);
        s.phase_s = uniform(&r, 10.0, 17.0) * 3600.0;
        s.sm_per_load =
            gf_rng_unit(&r) < COMPUTE_BOUND_SHARE ? uniform(&r, 1.0, 1.8) : uniform(&r, 0.3, 0.9);
        /* the trace is one busy hour: a night-time floor of the envelope */
        s.base = uniform(&r, 0.1, 0.4);
        s.peak = 1.0;
        s.trace_offset_s = floor(uniform(&r, 0, len));
        /* how hard the service is driven relative to what it declared:
         * mostly below its allocation, a few past it */
        double u = gf_rng_unit(&r);
        s.trace_scale = u < TRACE_IDLE  ? uniform(&r, 0.02, 0.1)
                        : u < TRACE_HOT ? uniform(&r, 0.3, 1.0)
                                        : uniform(&r, 1.0, 1.4);
        gf_vec_push(&d->series, s);
    }
    return GF_OK;
}

/* --- table ------------------------------------------------------------------------------- */

gf_err gf_demand_table_begin(gf_demand *d, const gf_demand_opts *o, size_t n, uint32_t table_steps,
                             gf_error *err)
{
    gf_err rc = check_opts(o, err);
    if (rc) return rc;
    if (table_steps < 1 || table_steps > o->n_steps)
        return gf_error_set(err, GF_EUSAGE, "demand", "table of %u steps for %u simulated",
                            table_steps, o->n_steps);
    if (n > 0 && (size_t)table_steps > SIZE_MAX / 8 / n)
        return gf_error_set(err, GF_EUSAGE, "demand", "table too large");
    gf_demand_free(d);
    d->kind = GF_DEMAND_TABLE;
    d->o = *o;
    d->table_steps = table_steps;
    size_t cells = n * table_steps;
    d->table_mem = gf_xcalloc(cells + 1, sizeof(float));
    d->table_sm = gf_xcalloc(cells + 1, sizeof(float));
    d->table_count = gf_xcalloc(cells + 1, sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        gf_demand_series s = {0};
        s.shape = GF_SHAPE_TABLE;
        gf_vec_push(&d->series, s);
    }
    return GF_OK;
}

void gf_demand_table_add(gf_demand *d, uint32_t series, uint32_t step, double mem, double sm)
{
    if (!d->table_count || series >= d->series.n || step >= d->table_steps) return;
    size_t c = (size_t)series * d->table_steps + step;
    mem = clamp01(isnan(mem) ? 0 : mem);
    sm = clamp01(isnan(sm) ? 0 : sm);
    if (mem > d->table_mem[c]) d->table_mem[c] = (float)mem;
    d->table_sm[c] += (float)sm;
    d->table_count[c]++;
}

void gf_demand_table_end(gf_demand *d, size_t *n_empty)
{
    size_t empty = 0;
    uint32_t ts = d->table_steps;
    for (size_t i = 0; d->table_count && i < d->series.n; i++) {
        float *mem = d->table_mem + i * ts, *sm = d->table_sm + i * ts;
        const uint32_t *cnt = d->table_count + i * ts;
        long first = -1;
        for (uint32_t k = 0; k < ts; k++) {
            if (cnt[k]) {
                sm[k] /= (float)cnt[k];
                if (first < 0) first = k;
            }
        }
        if (first < 0) {
            empty++;
            continue;
        }
        for (uint32_t k = 0; k < (uint32_t)first; k++) {
            mem[k] = mem[first];
            sm[k] = sm[first];
        }
        for (uint32_t k = (uint32_t)first + 1; k < ts; k++)
            if (!cnt[k]) {
                mem[k] = mem[k - 1];
                sm[k] = sm[k - 1];
            }
    }
    free(d->table_count);
    d->table_count = NULL;
    if (n_empty) *n_empty = empty;
}

/* --- sampling ------------------------------------------------------------------------------- */

void gf_demand_service(const gf_demand *d, uint32_t series, uint32_t step, gf_demand_point *p)
{
    memset(p, 0, sizeof *p);
    p->series = series;
    p->step = step;
    if (series >= d->series.n) {
        p->fixed = true;
        return;
    }
    const gf_demand_series *s = &d->series.v[series];
    if (d->kind == GF_DEMAND_TABLE) {
        p->fixed = true;
        if (!d->table_steps) return;
        size_t c = (size_t)series * d->table_steps + step % d->table_steps;
        p->mem = d->table_mem[c];
        p->sm = d->table_sm[c];
        return;
    }
    double t = d->o.start_t + (double)step * d->o.step_s;
    uint64_t seed = d->o.seed, key = (uint64_t)series * 4;
    double load_mem, load_sm;
    if (d->kind == GF_DEMAND_TRACE) {
        double env = s->base + (1 - s->base) * daily_x(s, t);
        uint32_t pos =
            (uint32_t)fmod(s->trace_offset_s + (double)step * d->o.step_s, d->trace_seconds);
        load_mem = d->trace_kv[pos] * s->trace_scale * env;
        load_sm = d->trace_sm[pos] * s->trace_scale * env;
    } else {
        load_mem = load_sm = builtin_load(d, s, t);
    }
    if (load_mem > LOAD_CAP) load_mem = LOAD_CAP;
    if (load_sm > LOAD_CAP) load_sm = LOAD_CAP;
    p->mem = s->weights + (1 - s->weights) * load_mem; /* relative, before noise */
    p->weights = s->weights;
    p->sm = load_sm * s->sm_per_load;
    p->mem_noise = MEM_NOISE * smooth(seed, key, t, MEM_KNOT_S);
    p->sm_noise = SM_NOISE * smooth(seed, key + 2, t, SM_KNOT_S);
    p->scale = s->scale;
    p->steady = s->shape == GF_SHAPE_FULL;
}

void gf_demand_pod(const gf_demand *d, const gf_demand_point *p, uint32_t salt, double *mem,
                   double *sm)
{
    if (p->fixed) {
        *mem = p->mem;
        *sm = p->sm;
        return;
    }
    /* the replica's own noise: one stream per (series, replica, step) */
    gf_rng r;
    gf_rng_seed(&r, d->o.seed * 0x9E3779B97F4A7C15ULL +
                        ((uint64_t)p->series + 1) * 0xD1B54A32D192ED03ULL +
                        ((uint64_t)salt + 1) * 0x8CB92BA72F3D8DD7ULL +
                        (uint64_t)p->step * 0xF1357AEA2E62A9C5ULL);
    double nm = 1 + p->mem_noise + MEM_POD_NOISE * (2 * gf_rng_unit(&r) - 1);
    double ns = 1 + p->sm_noise + SM_POD_NOISE * (2 * gf_rng_unit(&r) - 1);
    if (p->steady) nm = 1 + (nm - 1) * 0.5; /* model + a full KV pool: little swing */
    *mem = clamp01(p->mem * nm * p->scale);
    *sm = clamp01(p->sm * ns * p->scale);
}

void gf_demand_at(const gf_demand *d, uint32_t series, uint32_t salt, uint32_t step, double *mem,
                  double *sm)
{
    gf_demand_point p;
    gf_demand_service(d, series, step, &p);
    gf_demand_pod(d, &p, salt, mem, sm);
}

double gf_demand_scale(const gf_demand *d, uint32_t series)
{
    return series < d->series.n ? d->series.v[series].scale : 0;
}

/* --- mix ------------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct wv {
    double v, w;
} wv;

static int cmp_wv(const void *a, const void *b)
{
    const wv *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

void gf_demand_measure(const gf_demand *d, const double *weights, const double *scales,
                       uint32_t step_stride, gf_demand_mix *out)
{
    memset(out, 0, sizeof *out);
    if (step_stride < 1) step_stride = 1;
    uint32_t n_samples = (d->o.n_steps + step_stride - 1) / step_stride;
    double *use = gf_xmalloc((n_samples + 1) * sizeof *use);
    wv *means = gf_xmalloc((d->series.n + 1) * sizeof *means);
    size_t n_means = 0;
    double wsum = 0, full = 0, half = 0, over = 0, mean_sum = 0;
    for (size_t i = 0; i < d->series.n; i++) {
        double scale = d->series.v[i].scale;
        if (!(scale > 0) && scales) scale = scales[i];
        double w = weights ? weights[i] : 1;
        if (!(scale > 0) || !(w > 0)) continue;
        double sum = 0;
        bool exceeded = false;
        uint32_t k = 0;
        for (uint32_t step = 0; step < d->o.n_steps; step += step_stride) {
            double mem, sm;
            gf_demand_at(d, (uint32_t)i, 0, step, &mem, &sm);
            if (mem > scale + 1e-9) exceeded = true;
            use[k] = fmax(mem, sm) / scale;
            sum += use[k++];
        }
        if (!k) continue;
        qsort(use, k, sizeof *use, cmp_double);
        double p95 = use[(size_t)((k - 1) * 0.95)];
        double mean = sum / k;
        wsum += w;
        mean_sum += w * mean;
        if (p95 >= 0.9) full += w;
        if (mean < 0.5) half += w;
        if (exceeded) over += w;
        out->shape_share[d->series.v[i].shape] += w;
        means[n_means++] = (wv){mean, w};
    }
    if (wsum > 0) {
        out->full_share = full / wsum;
        out->under_half = half / wsum;
        out->over_share = over / wsum;
        out->mean_use = mean_sum / wsum;
        for (int s = 0; s < GF_SHAPE_COUNT; s++)
            out->shape_share[s] /= wsum;
        qsort(means, n_means, sizeof *means, cmp_wv);
        double acc = 0;
        for (size_t i = 0; i < n_means; i++) {
            acc += means[i].w;
            if (acc >= wsum / 2) {
                out->median_use = means[i].v;
                break;
            }
        }
    }
    out->containers = wsum;
    free(use);
    free(means);
}
