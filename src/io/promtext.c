/* promtext.c - the exporters' text format read for usage, and a parallel
 * scrape, see promtext.h. */
#include "io/promtext.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 3000L

typedef struct cursor {
    const char *p, *end;
} cursor;

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static void skip_blanks(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* A label value after its opening quote, unescaped into out (truncated to
 * n - 1); false when the closing quote is missing or an escape is bad. */
static bool label_value(cursor *c, char *out, size_t n)
{
    size_t o = 0;
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if (ch == '\\') {
            if (c->p >= c->end) return false;
            char e = *c->p++;
            ch = e == 'n' ? '\n' : e == '\\' ? '\\' : e == '"' ? '"' : 0;
            if (!ch) return false;
        }
        if (o + 1 < n) out[o++] = ch;
    }
    out[o] = '\0';
    if (c->p >= c->end) return false;
    c->p++;
    return true;
}

typedef struct labels {
    char ns[256], pod[256], container[256], gpu_uuid[128];
} labels;

static gf_err bad_line(gf_error *err, const char *name, size_t line, const char *why)
{
    char where[600];
    snprintf(where, sizeof where, "%s:%zu", name, line);
    return gf_error_set(err, GF_EINPUT, where, "%s", why);
}

gf_err gf_promtext_load_usage(gf_usage *u, const char *name, const char *buf, size_t len, double t,
                              size_t *skipped, gf_error *err)
{
    const size_t mem_len = strlen(GF_USAGE_METRIC_MEMORY), sm_len = strlen(GF_USAGE_METRIC_SM);
    size_t line = 0, skip = 0;
    const char *p = buf, *end = buf + len;
    gf_err rc = GF_OK;
    while (p < end && !rc) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        cursor c = {p, eol};
        p = eol < end ? eol + 1 : end;
        line++;
        if (c.end > c.p && c.end[-1] == '\r') c.end--;
        skip_blanks(&c);
        if (c.p >= c.end || *c.p == '#') continue;
        const char *n0 = c.p;
        if (!name_start(*c.p)) {
            rc = bad_line(err, name, line, "expected a metric name");
            break;
        }
        while (c.p < c.end && name_char(*c.p))
            c.p++;
        size_t nl = (size_t)(c.p - n0);
        bool mem = nl == mem_len && !memcmp(n0, GF_USAGE_METRIC_MEMORY, nl);
        bool sm = nl == sm_len && !memcmp(n0, GF_USAGE_METRIC_SM, nl);
        if (!mem && !sm) continue;
        labels lb;
        memset(&lb, 0, sizeof lb);
        skip_blanks(&c); /* "name {...}" is allowed, as Prometheus reads it */
        if (c.p < c.end && *c.p == '{') {
            c.p++;
            for (;;) {
                skip_blanks(&c);
                if (c.p < c.end && *c.p == '}') {
                    c.p++;
                    break;
                }
                const char *l0 = c.p;
                while (c.p < c.end && name_char(*c.p))
                    c.p++;
                size_t ll = (size_t)(c.p - l0);
                skip_blanks(&c);
                if (!ll || c.p + 1 >= c.end || *c.p != '=' || c.p[1] != '"') {
                    rc = bad_line(err, name, line, "bad label: expected name=\"value\"");
                    break;
                }
                c.p += 2;
                char value[256];
                if (!label_value(&c, value, sizeof value)) {
                    rc = bad_line(err, name, line, "label value without its closing quote");
                    break;
                }
                char *dst = NULL;
                size_t dn = 0;
                if (ll == 9 && !memcmp(l0, "namespace", 9)) dst = lb.ns, dn = sizeof lb.ns;
                if (ll == 3 && !memcmp(l0, "pod", 3)) dst = lb.pod, dn = sizeof lb.pod;
                if (ll == 9 && !memcmp(l0, "container", 9))
                    dst = lb.container, dn = sizeof lb.container;
                if (ll == 8 && !memcmp(l0, "gpu_uuid", 8))
                    dst = lb.gpu_uuid, dn = sizeof lb.gpu_uuid;
                if (dst) snprintf(dst, dn, "%s", value);
                skip_blanks(&c);
                if (c.p < c.end && *c.p == ',') {
                    c.p++;
                    continue;
                }
                if (c.p < c.end && *c.p == '}') {
                    c.p++;
                    break;
                }
                rc = bad_line(err, name, line, "expected ',' or '}' after a label");
                break;
            }
            if (rc) break;
        }
        skip_blanks(&c);
        if (c.p >= c.end) {
            rc = bad_line(err, name, line, "expected a value after the metric");
            break;
        }
        char tok[64];
        const char *v0 = c.p;
        while (c.p < c.end && *c.p != ' ' && *c.p != '\t')
            c.p++;
        snprintf(tok, sizeof tok, "%.*s", (int)(c.p - v0), v0);
        skip_blanks(&c);
        double ts = t;
        if (c.p < c.end) {
            char tsb[32], *te;
            snprintf(tsb, sizeof tsb, "%.*s", (int)(c.end - c.p), c.p);
            errno = 0;
            long long ms = strtoll(tsb, &te, 10);
            bool overflow = errno == ERANGE;
            while (*te == ' ' || *te == '\t')
                te++;
            if (te == tsb || *te) {
                rc = bad_line(err, name, line, "the timestamp is not whole milliseconds");
                break;
            }
            /* found by fuzz_promtext: an overflowing or negative timestamp
             * made a sample at a time no other reader accepts */
            ts = (double)ms / 1000.0;
            if (overflow || !(ts >= 0 && ts <= GF_USAGE_MAX_TIME_S)) {
                char why[120];
                snprintf(why, sizeof why, "the timestamp %.31s ms is outside 0..%.0f s", tsb,
                         (double)GF_USAGE_MAX_TIME_S);
                rc = bad_line(err, name, line, why);
                break;
            }
        }
        if (!strcmp(tok, "NaN")) {
            skip++;
            continue;
        }
        char *ve;
        double v = strtod(tok, &ve);
        if (!tok[0] || *ve || !isfinite(v)) {
            char why[120];
            snprintf(why, sizeof why, "value \"%.60s\" is not a finite number", tok);
            rc = bad_line(err, name, line, why);
            break;
        }
        double limit = mem ? GF_USAGE_MAX_MEMORY_BYTES : GF_USAGE_MAX_SM_UTIL;
        if (v < 0 || v > limit) {
            char why[120];
            snprintf(why, sizeof why, "%s %g is outside 0..%g", mem ? "memory" : "SM share", v,
                     limit);
            rc = bad_line(err, name, line, why);
            break;
        }
        if (!lb.ns[0] || !lb.pod[0]) {
            skip++;
            continue;
        }
        gf_usage_sample s;
        s.t = ts;
        s.ns = gf_usage_intern(u, lb.ns);
        s.pod = gf_usage_intern(u, lb.pod);
        s.container = gf_usage_intern(u, lb.container);
        s.gpu_uuid = gf_usage_intern(u, lb.gpu_uuid);
        s.memory_bytes = mem ? v : NAN;
        s.sm_util = sm ? v : NAN;
        gf_vec_push(&u->samples, s);
    }
    if (skipped) *skipped += skip;
    return rc;
}

/* --- writing ---------------------------------------------------------------------------- */

void gf_promtext_escape_label(gf_sbuf *out, const char *v)
{
    const char *run = v;
    for (const char *p = v;; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (!esc && *p) continue;
        gf_sbuf_append(out, run, (size_t)(p - run));
        if (!*p) break;
        gf_sbuf_append(out, esc, 2);
        run = p + 1;
    }
}

void gf_promtext_format_value(gf_sbuf *out, double v)
{
    char buf[40];
    if (isnan(v)) {
        gf_sbuf_append(out, "NaN", 3);
        return;
    }
    if (isinf(v)) {
        gf_sbuf_puts(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) { /* an integer below 2^53 */
        /* the common case (bytes, counters): digits without printf */
        unsigned long long u = (unsigned long long)fabs(v);
        char *p = buf + sizeof buf;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0) *--p = '-';
        gf_sbuf_append(out, p, (size_t)(buf + sizeof buf - p));
        return;
    }
    if (fabs(v) < 1e9) {
        /* at most 6 decimals (percentages, fractions, bytes times a
         * fraction): r / 1e6 is correctly rounded, so when it equals v the
         * decimal r * 10^-6 reads back as v exactly; printed without printf */
        double r = nearbyint(v * 1e6);
        if (r / 1e6 == v) {
            unsigned long long u = (unsigned long long)fabs(r);
            unsigned long long ip = u / 1000000, fp = u % 1000000;
            char *p = buf + sizeof buf;
            if (fp) {
                int digits = 6;
                while (fp % 10 == 0) {
                    fp /= 10;
                    digits--;
                }
                while (digits-- > 0) {
                    *--p = (char)('0' + fp % 10);
                    fp /= 10;
                }
                *--p = '.';
            }
            do {
                *--p = (char)('0' + ip % 10);
                ip /= 10;
            } while (ip);
            if (v < 0) *--p = '-';
            gf_sbuf_append(out, p, (size_t)(buf + sizeof buf - p));
            return;
        }
    }
    /* 15 significant digits when they read back as v (0.4, not
     * 0.40000000000000002), else 17, which always do; %.16g is skipped as
     * it rarely helps and costs a third conversion */
    int n = snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v) n = snprintf(buf, sizeof buf, "%.17g", v);
    gf_sbuf_append(out, buf, (size_t)n);
}

void gf_promtext_family(gf_sbuf *out, const char *name, const char *type, const char *help)
{
    gf_sbuf_printf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            gf_sbuf_puts(out, "\\\\");
        else if (*p == '\n')
            gf_sbuf_puts(out, "\\n");
        else
            gf_sbuf_append(out, p, 1);
    }
    gf_sbuf_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* --- the scrape ---------------------------------------------------------------------- */

typedef struct transfer {
    CURL *h;
    gf_sbuf body;
    size_t max_bytes;
    bool too_big;
    CURLcode result;
    bool done;
    char errbuf[CURL_ERROR_SIZE];
} transfer;

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
    transfer *x = user;
    size_t bytes = size * n;
    if (bytes > x->max_bytes - x->body.len) {
        x->too_big = true;
        return 0;
    }
    gf_sbuf_append(&x->body, data, bytes);
    return bytes;
}

size_t gf_promtext_scrape(const char *const *urls, size_t n, long timeout_ms, size_t max_bytes,
                          double t, gf_usage *u, size_t *starts, gf_diags *d)
{
    if (starts)
        for (size_t i = 0; i <= n; i++)
            starts[i] = u->samples.n;
    if (!n) return 0;
    CURLM *multi = curl_multi_init();
    if (!multi) {
        gf_diag(d, NULL, "scrape: curl_multi_init failed");
        return n;
    }
    transfer *xs = gf_xcalloc(n, sizeof *xs);
    for (size_t i = 0; i < n; i++) {
        transfer *x = &xs[i];
        x->max_bytes = max_bytes;
        x->result = CURLE_FAILED_INIT;
        x->h = curl_easy_init();
        if (!x->h) {
            x->done = true;
            continue;
        }
        curl_easy_setopt(x->h, CURLOPT_URL, urls[i]);
        curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->errbuf);
        curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS,
                         timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS);
        curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(x->h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
        curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
        curl_easy_setopt(x->h, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(x->h, CURLOPT_USERAGENT, "gpufrac");
        curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
        curl_multi_add_handle(multi, x->h);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(multi, &running) != CURLM_OK) break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            transfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (x) {
                x->result = msg->data.result;
                x->done = true;
            }
        }
        if (running && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK) break;
    }
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        transfer *x = &xs[i];
        if (starts) starts[i] = u->samples.n;
        long status = 0;
        if (x->h) curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        if (!x->done || x->result != CURLE_OK || status != 200) {
            failed++;
            if (x->too_big)
                gf_diag(d, urls[i], "scrape: the answer is larger than %zu bytes", max_bytes);
            else if (x->done && x->result == CURLE_OK)
                gf_diag(d, urls[i], "scrape: HTTP %ld", status);
            else
                gf_diag(d, urls[i], "scrape: %s%s%s", curl_easy_strerror(x->result),
                        x->errbuf[0] ? ": " : "", x->errbuf);
        } else {
            gf_error e = {0};
            size_t before = u->samples.n;
            if (gf_promtext_load_usage(u, urls[i], gf_sbuf_str(&x->body), x->body.len, t, NULL,
                                       &e)) {
                u->samples.n = before; /* all of an endpoint or none of it */
                failed++;
                char m[1100];
                gf_error_format(&e, m, sizeof m);
                gf_diag(d, NULL, "scrape: %s", m);
            }
        }
        if (x->h) {
            curl_multi_remove_handle(multi, x->h);
            curl_easy_cleanup(x->h);
        }
        gf_sbuf_free(&x->body);
    }
    if (starts) starts[n] = u->samples.n;
    free(xs);
    curl_multi_cleanup(multi);
    return failed;
}
