/* usage.c - GPU usage samples from CSV and Prometheus JSON, see usage.h. */
#include "io/usage.h"
#include "io/jsonpath.h"
#include "io/csv.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* JSON's own view of a value's type: integers and reals are both numbers
 * (Prometheus answers write times as either). */
static const char *type_name(const json_t *j)
{
    return json_is_integer(j) ? "a number" : gf_json_type_name(j);
}

/* --- the set ---------------------------------------------------------------- */

void gf_usage_init(gf_usage *u)
{
    memset(u, 0, sizeof *u);
    gf_arena_init(&u->arena);
    gf_strmap_init(&u->name_index);
}

void gf_usage_free(gf_usage *u)
{
    if (!u) return;
    gf_vec_free(&u->samples);
    gf_vec_free(&u->engine);
    gf_vec_free(&u->names);
    gf_strmap_free(&u->name_index);
    gf_arena_free(&u->arena);
    u->nan_skipped = 0;
}

const char *gf_usage_intern(gf_usage *u, const char *s)
{
    size_t i;
    if (!*s) return "";
    if (gf_strmap_get(&u->name_index, s, &i)) return u->names.v[i];
    const char *copy = gf_arena_strdup(&u->arena, s);
    gf_strmap_put(&u->name_index, copy, u->names.n);
    gf_vec_push(&u->names, copy);
    return copy;
}

/* --- numbers and times -------------------------------------------------------- */

/* Plain decimal number: [+-]digits[.digits][e[+-]digits], at least one digit
 * before or after the point. No spaces, hex, "nan" or "inf" (strtod would
 * take them). */
static bool parse_decimal(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (!digits) return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p) return false;
    *out = strtod(s, NULL);
    return true;
}

/* Range check of a parsed value of a signal; false with why. */
static bool check_value(gf_usage_signal sig, double v, char *why, size_t n)
{
    if (isnan(v) || isinf(v)) {
        snprintf(why, n, "is not a finite number");
        return false;
    }
    if (v < 0) {
        snprintf(why, n, "is negative");
        return false;
    }
    if (sig == GF_USAGE_MEMORY && v > GF_USAGE_MAX_MEMORY_BYTES) {
        snprintf(why, n, "is above 2^50 bytes (1 PiB): not a GPU's memory");
        return false;
    }
    if (sig == GF_USAGE_SM && v > GF_USAGE_MAX_SM_UTIL) {
        snprintf(why, n, "is above %g (sm_util is a share of one GPU, 0..1; a percentage?)",
                 GF_USAGE_MAX_SM_UTIL);
        return false;
    }
    if (sig == GF_USAGE_KV && v > 1) {
        snprintf(why, n, "is above 1 (KV-cache use is a share, 0..1; a percentage?)");
        return false;
    }
    if (sig == GF_USAGE_WAITING && v > GF_USAGE_MAX_WAITING) {
        snprintf(why, n, "is above %g requests", GF_USAGE_MAX_WAITING);
        return false;
    }
    if (sig == GF_USAGE_PREEMPT && v > GF_USAGE_MAX_PREEMPT_RATE) {
        snprintf(why, n, "is above %g per second", GF_USAGE_MAX_PREEMPT_RATE);
        return false;
    }
    return true;
}

static bool check_time(double t, char *why, size_t n)
{
    if (isnan(t) || isinf(t)) {
        snprintf(why, n, "is not a finite number");
        return false;
    }
    if (t < 0) {
        snprintf(why, n, "is before 1970");
        return false;
    }
    if (t > GF_USAGE_MAX_TIME_S) {
        if (t >= 1e11 && t / 1000 <= GF_USAGE_MAX_TIME_S)
            snprintf(why, n, "is after the year 9999 (milliseconds? expected seconds)");
        else
            snprintf(why, n, "is after the year 9999");
        return false;
    }
    return true;
}

/* n decimal digits at s into *v; false if any is not a digit. */
static bool digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", days_from_civil). */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* RFC 3339 section 5.6 date-time. */
static bool parse_rfc3339(const char *s, double *t, char *why, size_t n)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    size_t len = strlen(s);
    if (len < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec)) {
        snprintf(why, n, "expected unix seconds or RFC 3339 like 2026-11-24T10:00:00Z");
        return false;
    }
    const char *p = s + 19;
    double frac = 0;
    if (*p == '.') {
        const char *f = ++p;
        double scale = 0.1;
        while (*p >= '0' && *p <= '9') {
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
        if (p == f) {
            snprintf(why, n, "no digits after the decimal point of the seconds");
            return false;
        }
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om)) {
            snprintf(why, n, "bad UTC offset: expected +hh:mm or -hh:mm");
            return false;
        }
        p += 6;
    } else {
        snprintf(why, n, "no time zone: expected Z or +hh:mm/-hh:mm after the seconds");
        return false;
    }
    if (*p) {
        snprintf(why, n, "unexpected characters after the time zone");
        return false;
    }
    if (mo < 1 || mo > 12) {
        snprintf(why, n, "month %d is not 1..12", mo);
        return false;
    }
    if (d < 1 || d > days_in_month(y, mo)) {
        snprintf(why, n, "day %d is not in %04d-%02d (1..%d)", d, y, mo, days_in_month(y, mo));
        return false;
    }
    if (h > 23 || mi > 59 || sec > 60) {
        snprintf(why, n, "time %02d:%02d:%02d is not a time of day", h, mi, sec);
        return false;
    }
    if (oh > 23 || om > 59) {
        snprintf(why, n, "UTC offset %02d:%02d is out of range", oh, om);
        return false;
    }
    double base = (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600.0 + mi * 60.0 -
                  sign * (oh * 3600.0 + om * 60.0);
    if (sec == 60) {
        /* RFC 3339 5.7: a leap second is 23:59:60 UTC, whatever the local offset */
        double minute_of_day = fmod(fmod(base, 86400.0) + 86400.0, 86400.0);
        if (minute_of_day != 23 * 3600.0 + 59 * 60.0) {
            snprintf(why, n, "second 60 is only valid for a leap second at 23:59:60 UTC");
            return false;
        }
    }
    *t = base + sec + frac;
    return true;
}

gf_err gf_usage_parse_time(const char *s, double *t, char *why, size_t why_n)
{
    double v;
    bool looks_unix = true;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '+')) looks_unix = false;
    /* "2026-11-24..." has '-' after digits: a date, not a number */
    if (looks_unix && *s && strchr(s + 1, '-')) looks_unix = false;
    if (looks_unix) {
        const char *p = s;
        if (*p == '-' || *p == '+') p++;
        const char *q = p;
        while (*q >= '0' && *q <= '9')
            q++;
        bool ok = q > p;
        if (ok && *q == '.') {
            const char *f = ++q;
            while (*q >= '0' && *q <= '9')
                q++;
            ok = q > f;
        }
        if (!ok || *q) {
            snprintf(why, why_n, "expected unix seconds or RFC 3339 like 2026-11-24T10:00:00Z");
            return GF_EINPUT;
        }
        v = strtod(s, NULL);
    } else if (!parse_rfc3339(s, &v, why, why_n)) {
        return GF_EINPUT;
    }
    if (!check_time(v, why, why_n)) return GF_EINPUT;
    *t = v;
    return GF_OK;
}

/* --- CSV ------------------------------------------------------------------------ */

enum { C_TS, C_NS, C_POD, C_CONTAINER, C_UUID, C_MEM, C_SM, N_COLUMNS };

static const char *const usage_columns[N_COLUMNS] = {
    "timestamp", "namespace", "pod", "container", "gpu_uuid", "memory_bytes", "sm_util"};

/* "nan", "-Inf", "infinity" in any case, as pandas, numpy or C may print them. */
static bool names_non_finite(const char *s)
{
    char low[16];
    size_t n = 0;
    if (*s == '+' || *s == '-') s++;
    for (; *s && n + 1 < sizeof low; s++)
        low[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    low[n] = '\0';
    return !*s && (!strcmp(low, "nan") || !strcmp(low, "inf") || !strcmp(low, "infinity"));
}

/* An optional value column: empty -> NaN. */
static gf_err csv_value(const gf_csv *c, size_t col, gf_usage_signal sig, double *out,
                        gf_error *err)
{
    const char *s = gf_csv_field(c, col);
    char why[160];
    *out = NAN;
    if (!*s) return GF_OK;
    double v;
    if (!parse_decimal(s, &v)) {
        if (names_non_finite(s))
            return gf_csv_bad_value(c, col, err,
                                    "is not a finite number (leave the field empty when there "
                                    "is no reading)");
        return gf_csv_bad_value(c, col, err, "is not a number");
    }
    if (!check_value(sig, v, why, sizeof why)) return gf_csv_bad_value(c, col, err, "%s", why);
    *out = v;
    return GF_OK;
}

static gf_err csv_row(gf_usage *u, const gf_csv *c, gf_error *err)
{
    gf_usage_sample s;
    char why[160];
    if (gf_usage_parse_time(gf_csv_field(c, C_TS), &s.t, why, sizeof why))
        return gf_csv_bad_value(c, C_TS, err, "is not a valid time: %s", why);
    if (!*gf_csv_field(c, C_NS))
        return gf_csv_bad_value(c, C_NS, err, "is empty; every sample needs a namespace");
    if (!*gf_csv_field(c, C_POD))
        return gf_csv_bad_value(c, C_POD, err, "is empty; every sample needs a pod");
    gf_err rc;
    if ((rc = csv_value(c, C_MEM, GF_USAGE_MEMORY, &s.memory_bytes, err)) ||
        (rc = csv_value(c, C_SM, GF_USAGE_SM, &s.sm_util, err)))
        return rc;
    if (isnan(s.memory_bytes) && isnan(s.sm_util))
        return gf_csv_bad_value(c, C_SM, err,
                                "is empty and so is memory_bytes: the row has no reading");
    s.ns = gf_usage_intern(u, gf_csv_field(c, C_NS));
    s.pod = gf_usage_intern(u, gf_csv_field(c, C_POD));
    s.container = gf_usage_intern(u, gf_csv_field(c, C_CONTAINER));
    s.gpu_uuid = gf_usage_intern(u, gf_csv_field(c, C_UUID));
    gf_vec_push(&u->samples, s);
    return GF_OK;
}

static gf_err load_csv(gf_usage *u, gf_csv *c, gf_error *err)
{
    gf_err rc = gf_csv_header(c, usage_columns, N_COLUMNS, N_COLUMNS, err);
    if (rc) return rc;
    while ((rc = gf_csv_next(c, err)) == GF_OK)
        if ((rc = csv_row(u, c, err))) return rc;
    return rc == GF_ENOTFOUND ? GF_OK : rc;
}

gf_err gf_usage_load_csv_buffer(gf_usage *u, const char *name, const char *buf, size_t len,
                                gf_error *err)
{
    gf_csv c;
    gf_csv_init(&c, name, buf, len);
    gf_err rc = load_csv(u, &c, err);
    gf_csv_free(&c);
    return rc;
}

gf_err gf_usage_load_csv(gf_usage *u, const char *path, gf_error *err)
{
    gf_csv c;
    gf_err rc = gf_csv_open_file(&c, path, err);
    if (!rc) rc = load_csv(u, &c, err);
    gf_csv_free(&c);
    return rc;
}

/* --- Prometheus JSON --------------------------------------------------------------- */

typedef struct prom {
    gf_usage *u;
    gf_diags *d;
    gf_error *err;
    const char *name;
    gf_usage_signal signal;
} prom;

/* s quoted for a message: escaped and shortened, so that a hostile value can
 * neither forge lines nor fill the message. */
static void quote(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; s[i] && o + 8 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i == 60) {
            o += (size_t)snprintf(buf + o, n - o, "...");
            break;
        }
        if (ch == '"' || ch == '\\')
            o += (size_t)snprintf(buf + o, n - o, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        else
            buf[o++] = (char)ch;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

/* Prometheus's own text (error, warnings) for a message: control bytes
 * become spaces, so that an answer cannot forge lines in the output. */
static const char *plain(const json_t *j, const char *fallback, char *buf, size_t n)
{
    if (!json_is_string(j)) return fallback;
    snprintf(buf, n, "%s", json_string_value(j));
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
    return buf;
}

static gf_err fail(prom *p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static gf_err fail(prom *p, const char *path, const char *fmt, ...)
{
    char msg[512], where[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(where, sizeof where, "%s: %s", p->name, path && *path ? path : "(top level)");
    return gf_error_set(p->err, GF_EINPUT, where, "%s", msg);
}

/* Member key of obj (at path) of the given type; NULL and an error when absent
 * or of another type. */
static const json_t *member(prom *p, const json_t *obj, const char *path, const char *key,
                            json_type type, gf_err *rc)
{
    static const char *want[] = {"an object", "an array",  "a string",  "a number",
                                 "a number",  "a boolean", "a boolean", "null"};
    char at[300];
    snprintf(at, sizeof at, "%s%s%s", path, *path ? "." : "", key);
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        *rc = fail(p, path, "no \"%s\" member: not a Prometheus API answer", key);
        return NULL;
    }
    if (json_typeof(v) != type) {
        *rc = fail(p, at, "expected %s, got %s", want[type], type_name(v));
        return NULL;
    }
    return v;
}

/* The gf_usage_signal a series stands for by its metric name (and, for a
 * family whose label says what it measures, that label: TensorRT-LLM's
 * usage.h), or -1; -2 for a series of such a family with another label
 * value (one of its other gauges: no signal). *counter when the metric is
 * a counter whose rate is the signal. */
static int signal_of_name(const char *name, const json_t *metric, bool *counter)
{
    static const struct {
        const char *name;
        gf_usage_signal sig;
        bool counter;
        const char *label, *value; /* NULL: the name alone decides */
    } names[] = {
        {GF_USAGE_METRIC_MEMORY, GF_USAGE_MEMORY, false, NULL, NULL},
        {GF_USAGE_METRIC_SM, GF_USAGE_SM, false, NULL, NULL},
        {GF_ENGINE_METRIC_KV, GF_USAGE_KV, false, NULL, NULL},
        {GF_ENGINE_METRIC_KV_OLD, GF_USAGE_KV, false, NULL, NULL},
        {GF_ENGINE_METRIC_KV_SGLANG, GF_USAGE_KV, false, NULL, NULL},
        {GF_ENGINE_METRIC_WAITING, GF_USAGE_WAITING, false, NULL, NULL},
        {GF_ENGINE_METRIC_WAITING_SGLANG, GF_USAGE_WAITING, false, NULL, NULL},
        {GF_ENGINE_METRIC_WAITING_TGI, GF_USAGE_WAITING, false, NULL, NULL},
        {GF_ENGINE_METRIC_PREEMPT, GF_USAGE_PREEMPT, true, NULL, NULL},
        {GF_ENGINE_METRIC_PREEMPT_SGLANG, GF_USAGE_PREEMPT, true, NULL, NULL},
        {GF_ENGINE_METRIC_KV_TRTLLM, GF_USAGE_KV, false, GF_ENGINE_LABEL_KV_TRTLLM,
         GF_ENGINE_VALUE_KV_TRTLLM},
        {GF_ENGINE_METRIC_WAITING_TRTLLM, GF_USAGE_WAITING, false, GF_ENGINE_LABEL_WAITING_TRTLLM,
         GF_ENGINE_VALUE_WAITING_TRTLLM},
    };
    *counter = false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name)) continue;
        if (names[i].label) {
            const json_t *v = json_object_get(metric, names[i].label);
            if (!json_is_string(v) || strcmp(json_string_value(v), names[i].value)) return -2;
        }
        *counter = names[i].counter;
        return names[i].sig;
    }
    return -1;
}

static const char *signal_metric(gf_usage_signal s)
{
    switch (s) {
    case GF_USAGE_MEMORY:
        return GF_USAGE_METRIC_MEMORY;
    case GF_USAGE_SM:
        return GF_USAGE_METRIC_SM;
    case GF_USAGE_KV:
        return "KV-cache use";
    case GF_USAGE_WAITING:
        return "requests waiting";
    case GF_USAGE_PREEMPT:
        return "preemptions per second";
    default:
        return "?";
    }
}

static bool engine_signal(gf_usage_signal s)
{
    return s == GF_USAGE_KV || s == GF_USAGE_WAITING || s == GF_USAGE_PREEMPT;
}

/* A counter's previous point in its series, for its rate. */
typedef struct counter_state {
    bool is_counter, have;
    double t, v;
} counter_state;

/* One [timestamp, "value"] pair at path. */
static gf_err point(prom *p, const json_t *pair, const char *path, gf_usage_signal sig,
                    const gf_usage_sample *labels, counter_state *cs)
{
    char at[300], why[160], shown[200];
    if (!json_is_array(pair) || json_array_size(pair) != 2)
        return fail(p, path, "expected a [timestamp, \"value\"] pair, got %s",
                    json_is_array(pair) ? "an array of another length" : type_name(pair));
    const json_t *jt = json_array_get(pair, 0), *jv = json_array_get(pair, 1);
    snprintf(at, sizeof at, "%s[0]", path);
    if (!json_is_number(jt))
        return fail(p, at, "expected a timestamp number, got %s", type_name(jt));
    double t = json_number_value(jt);
    if (!check_time(t, why, sizeof why)) return fail(p, at, "timestamp %.17g %s", t, why);
    snprintf(at, sizeof at, "%s[1]", path);
    if (!json_is_string(jv)) return fail(p, at, "expected a value string, got %s", type_name(jv));
    const char *s = json_string_value(jv);
    double v;
    if (!strcmp(s, "NaN")) {
        p->u->nan_skipped++;
        return GF_OK;
    }
    quote(s, shown, sizeof shown);
    if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf"))
        return fail(p, at, "%s is not a usage value (a division by zero in the query?)", shown);
    if (!parse_decimal(s, &v)) return fail(p, at, "%s is not a number", shown);
    if (cs->is_counter) {
        /* a counter: its rate since the previous point (after a reset, the
         * new count since 0); the first point gives none */
        if (v < 0) return fail(p, at, "counter %s is negative", shown);
        bool have = cs->have && t > cs->t;
        double prev_t = cs->t, prev_v = cs->v;
        cs->have = true;
        cs->t = t;
        cs->v = v;
        if (!have) return GF_OK;
        v = (v >= prev_v ? v - prev_v : v) / (t - prev_t);
    }
    if (!check_value(sig, v, why, sizeof why))
        return fail(p, at, "%s %s %s",
                    sig == GF_USAGE_MEMORY ? "memory"
                    : sig == GF_USAGE_SM   ? "SM utilization"
                                           : signal_metric(sig),
                    shown, why);
    if (engine_signal(sig)) {
        gf_engine_sample e = {t, labels->ns, labels->pod, NAN, NAN, NAN};
        if (sig == GF_USAGE_KV) e.kv_usage = v;
        if (sig == GF_USAGE_WAITING) e.requests_waiting = v;
        if (sig == GF_USAGE_PREEMPT) e.preempt_rate = v;
        gf_vec_push(&p->u->engine, e);
        return GF_OK;
    }
    gf_usage_sample smp = *labels;
    smp.t = t;
    smp.memory_bytes = sig == GF_USAGE_MEMORY ? v : NAN;
    smp.sm_util = sig == GF_USAGE_SM ? v : NAN;
    gf_vec_push(&p->u->samples, smp);
    return GF_OK;
}

/* Label key of the metric object at path: "" when absent; error when not a
 * string, or when required and absent or empty. */
static gf_err label(prom *p, const json_t *metric, const char *path, const char *key, bool required,
                    const char **out)
{
    const json_t *v = json_object_get(metric, key);
    *out = "";
    if (v && !json_is_string(v)) {
        char at[300];
        snprintf(at, sizeof at, "%s.%s", path, key);
        return fail(p, at, "expected a label value string, got %s", type_name(v));
    }
    if (v) *out = json_string_value(v);
    if (required && !**out)
        return fail(p, path,
                    "no \"%s\" label: usage needs namespace and pod (keep them in the query's "
                    "by/without clause)",
                    key);
    return GF_OK;
}

static gf_err series(prom *p, const json_t *sr, size_t i, bool matrix)
{
    char path[128], at[200];
    gf_err rc = GF_OK;
    snprintf(path, sizeof path, "data.result[%zu]", i);
    if (!json_is_object(sr)) return fail(p, path, "expected an object, got %s", type_name(sr));
    const json_t *metric = member(p, sr, path, "metric", JSON_OBJECT, &rc);
    if (!metric) return rc;
    snprintf(at, sizeof at, "%s.metric", path);
    const char *name, *ns, *pod, *container, *uuid;
    if ((rc = label(p, metric, at, "__name__", false, &name)) ||
        (rc = label(p, metric, at, "namespace", true, &ns)) ||
        (rc = label(p, metric, at, "pod", true, &pod)) ||
        (rc = label(p, metric, at, "container", false, &container)) ||
        (rc = label(p, metric, at, "gpu_uuid", false, &uuid)))
        return rc;
    gf_usage_signal sig = p->signal;
    bool counter = false;
    int named = *name ? signal_of_name(name, metric, &counter) : -1;
    if (named == -2) {
        /* one of an engine family's other gauges (TensorRT-LLM's block
         * counts, its other request states): not a signal */
        if (sig == GF_USAGE_BY_NAME) return GF_OK;
        return fail(p, at, "series of %s in an answer read as %s is not that signal (usage.h)",
                    name, signal_metric(sig));
    }
    if (sig == GF_USAGE_BY_NAME) {
        if (named < 0) {
            char shown[200];
            quote(name, shown, sizeof shown);
            return fail(p, at,
                        "%s%s is not a gpufrac usage metric (%s or %s) nor an engine metric "
                        "(%s, %s, %s, ...); say which signal the query measures",
                        *name ? "__name__ " : "no __name__ label", *name ? shown : "",
                        GF_USAGE_METRIC_MEMORY, GF_USAGE_METRIC_SM, GF_ENGINE_METRIC_KV,
                        GF_ENGINE_METRIC_WAITING, GF_ENGINE_METRIC_PREEMPT);
        }
        sig = (gf_usage_signal)named;
    } else if (named >= 0 && ((gf_usage_signal)named != sig || counter)) {
        /* a raw counter in an answer read as its rate is a selector mistake too */
        return fail(p, at, "series of %s in an answer read as %s", name, signal_metric(sig));
    }
    counter_state cs = {counter && p->signal == GF_USAGE_BY_NAME, false, 0, 0};
    gf_usage_sample labels = {0};
    labels.ns = gf_usage_intern(p->u, ns);
    labels.pod = gf_usage_intern(p->u, pod);
    labels.container = gf_usage_intern(p->u, container);
    labels.gpu_uuid = gf_usage_intern(p->u, uuid);
    if (!matrix) {
        const json_t *pair = member(p, sr, path, "value", JSON_ARRAY, &rc);
        if (!pair) return rc;
        snprintf(at, sizeof at, "%s.value", path);
        return point(p, pair, at, sig, &labels, &cs);
    }
    if (!json_object_get(sr, "values") && json_object_get(sr, "histograms"))
        return fail(p, path, "native histogram samples are not usage values");
    const json_t *values = member(p, sr, path, "values", JSON_ARRAY, &rc);
    if (!values) return rc;
    size_t k;
    const json_t *pair;
    json_array_foreach(values, k, pair)
    {
        snprintf(at, sizeof at, "%s.values[%zu]", path, k);
        if ((rc = point(p, pair, at, sig, &labels, &cs))) return rc;
    }
    return GF_OK;
}

static void warnings(prom *p, const json_t *root)
{
    const json_t *w = json_object_get(root, "warnings");
    if (!json_is_array(w)) return;
    size_t i;
    const json_t *v;
    json_array_foreach(w, i, v)
    {
        char where[300];
        snprintf(where, sizeof where, "%s: warnings[%zu]", p->name, i);
        char text[400];
        gf_diag(p->d, where, "Prometheus warns: %s", plain(v, "(not a string)", text, sizeof text));
    }
}

static gf_err load_prom(prom *p, const json_t *root)
{
    gf_err rc = GF_OK;
    if (!json_is_object(root))
        return fail(p, "", "expected an object, got %s: not a Prometheus API answer",
                    type_name(root));
    warnings(p, root);
    const json_t *status = member(p, root, "", "status", JSON_STRING, &rc);
    if (!status) return rc;
    const char *st = json_string_value(status);
    if (!strcmp(st, "error")) {
        const json_t *type = json_object_get(root, "errorType");
        const json_t *msg = json_object_get(root, "error");
        char t[100], m[400];
        return gf_error_set(p->err, GF_EINPUT, p->name, "Prometheus answered an error: %s: %s",
                            plain(type, "(no errorType)", t, sizeof t),
                            plain(msg, "(no error message)", m, sizeof m));
    }
    if (strcmp(st, "success")) {
        char shown[200];
        quote(st, shown, sizeof shown);
        return fail(p, "status", "%s is neither \"success\" nor \"error\"", shown);
    }
    const json_t *data = member(p, root, "", "data", JSON_OBJECT, &rc);
    if (!data) return rc;
    const json_t *type = member(p, data, "data", "resultType", JSON_STRING, &rc);
    if (!type) return rc;
    const char *rt = json_string_value(type);
    bool matrix = !strcmp(rt, "matrix");
    if (!matrix && strcmp(rt, "vector")) {
        char shown[200];
        quote(rt, shown, sizeof shown);
        return fail(p, "data.resultType",
                    "%s: expected \"matrix\" or \"vector\" (a query that keeps the namespace "
                    "and pod labels)",
                    shown);
    }
    const json_t *result = member(p, data, "data", "result", JSON_ARRAY, &rc);
    if (!result) return rc;
    size_t i;
    const json_t *sr;
    json_array_foreach(result, i, sr)
    {
        if ((rc = series(p, sr, i, matrix))) return rc;
    }
    return GF_OK;
}

gf_err gf_usage_load_prom_json(gf_usage *u, const char *name, const char *buf, size_t len,
                               gf_usage_signal signal, gf_diags *d, gf_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return gf_error_set(err, GF_EINPUT, name, "line %d, column %d: invalid JSON: %s", jerr.line,
                            jerr.column, jerr.text);
    prom p = {u, d, err, name, signal};
    gf_err rc = load_prom(&p, root);
    json_decref(root);
    return rc;
}
