/* usage_fetch.c - fetching usage from Prometheus's HTTP API with libcurl,
 * see usage.h. The answer is returned as text for gf_usage_load_prom_json(),
 * so that a saved answer and a live one go through the same parser. */
#include "io/usage.h"

#include "util/arena.h"
#include "util/strmap.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 5000L
#define TOTAL_TIMEOUT_MS 60000L
#define MAX_REDIRECTS 5

typedef struct sink {
    gf_sbuf *out;
    size_t max_bytes;
    bool too_big;
} sink;

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
    sink *s = user;
    size_t bytes = size * n;
    if (bytes > s->max_bytes - s->out->len) {
        s->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    gf_sbuf_append(s->out, data, bytes);
    return bytes;
}

/* url for messages: without password, query or fragment. */
static void url_for_messages(const char *url, char *buf, size_t n)
{
    CURLU *h = curl_url();
    char *shown = NULL;
    if (h && !curl_url_set(h, CURLUPART_URL, url, 0)) {
        curl_url_set(h, CURLUPART_PASSWORD, NULL, 0);
        curl_url_set(h, CURLUPART_QUERY, NULL, 0);
        curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0);
        curl_url_get(h, CURLUPART_URL, &shown, 0);
    }
    if (shown) {
        snprintf(buf, n, "%s", shown);
    } else {
        /* unparsable: show up to the query, there is no password to hide */
        snprintf(buf, n, "%.*s", (int)strcspn(url, "?#@"), url);
    }
    curl_free(shown);
    curl_url_cleanup(h);
}

/* scheme://host:port of url into buf; false when url does not parse. */
static bool origin_of(const char *url, char *buf, size_t n)
{
    CURLU *h = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    bool ok = h && !curl_url_set(h, CURLUPART_URL, url, 0) &&
              !curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) &&
              !curl_url_get(h, CURLUPART_HOST, &host, 0) &&
              !curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (ok) {
        snprintf(buf, n, "%s://%s:%s", scheme, host, port);
        for (char *p = buf; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(h);
    return ok;
}

static bool http_scheme(const char *url)
{
    return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

/* The message of a non-2xx answer: Prometheus's errorType and error when the
 * body is its JSON, else the start of the body. */
void gf_prom_error_text(const gf_sbuf *body, char *buf, size_t n)
{
    json_t *root = body->len ? json_loadb(body->s, body->len, 0, NULL) : NULL;
    const json_t *type = json_object_get(root, "errorType");
    const json_t *msg = json_object_get(root, "error");
    if (json_is_string(msg)) {
        snprintf(buf, n, "%s: %s", json_is_string(type) ? json_string_value(type) : "error",
                 json_string_value(msg));
        for (char *c = buf; *c; c++) /* no forged lines from a hostile answer */
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
    } else {
        size_t o = 0;
        for (size_t i = 0; i < body->len && i < 200 && o + 5 < n; i++) {
            unsigned char ch = (unsigned char)body->s[i];
            if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
            if (ch < 0x20 || ch == 0x7f)
                o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
            else
                buf[o++] = (char)ch;
        }
        while (o > 0 && buf[o - 1] == ' ')
            o--;
        buf[o] = '\0';
        if (!o) snprintf(buf, n, "(empty body)");
    }
    json_decref(root);
}

bool gf_prom_header_valid(const char *header, char *why, size_t n)
{
    const char *colon = header ? strchr(header, ':') : NULL;
    if (!colon || colon == header) {
        snprintf(why, n, "expected 'Name: value'");
        return false;
    }
    for (const char *c = header; c < colon; c++)
        if (!strchr("!#$%&'*+-.^_`|~", *c) && !isalnum((unsigned char)*c)) {
            snprintf(why, n, "the name '%.*s' has a character a header name cannot have",
                     (int)(colon - header), header);
            return false;
        }
    if (strpbrk(header, "\r\n")) {
        snprintf(why, n, "a header cannot hold a line break");
        return false;
    }
    return true;
}

/* The first line of a secret file, into out (cleared and overwritten by the
 * caller after use). Messages name the file, never its contents. */
static gf_err read_secret(const char *path, const char *what, gf_sbuf *out, gf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return gf_error_set(err, GF_EIO, path, "cannot read the %s: %s", what, strerror(errno));
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool bad = ferror(f) != 0, more = !bad && n == sizeof buf - 1 && fgetc(f) != EOF;
    fclose(f);
    if (bad) return gf_error_set(err, GF_EIO, path, "cannot read the %s", what);
    if (more) return gf_error_set(err, GF_EINPUT, path, "the %s is longer than 4 KiB", what);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    gf_sbuf_puts(out, buf);
    memset(buf, 0, sizeof buf);
    if (!out->len) return gf_error_set(err, GF_EINPUT, path, "the %s is empty", what);
    return GF_OK;
}

static void wipe(gf_sbuf *b)
{
    if (b->s) memset(b->s, 0, b->cap);
    gf_sbuf_free(b);
}

gf_err gf_prom_get(const char *url, size_t max_bytes, gf_sbuf *out, gf_error *err)
{
    return gf_prom_get_auth(url, NULL, max_bytes, out, err);
}

gf_err gf_prom_get_auth(const char *url, const gf_prom_auth *auth, size_t max_bytes, gf_sbuf *out,
                        gf_error *err)
{
    char where[512], origin[512], here[512], detail[600];
    out->len = 0;
    if (out->s) out->s[0] = '\0';
    if (!url || !*url) return gf_error_set(err, GF_EUSAGE, NULL, "no Prometheus URL given");
    url_for_messages(url, where, sizeof where);
    if (!http_scheme(url))
        return gf_error_set(err, GF_EUSAGE, where, "the URL must start with http:// or https://");
    if (!origin_of(url, origin, sizeof origin))
        return gf_error_set(err, GF_EUSAGE, where, "not a valid URL");
    CURL *h = curl_easy_init();
    if (!h) return gf_error_set(err, GF_EINTERNAL, where, "curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE];
    sink s = {out, max_bytes, false};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* followed below, same origin only */
#if LIBCURL_VERSION_NUM >= 0x075500                  /* 7.85.0 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* Prometheus gzips when asked */
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gpufrac");
    if (max_bytes > 0) curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);

    gf_err rc = GF_OK;
    struct curl_slist *headers = NULL;
    gf_sbuf secret = GF_SBUF_INIT, line = GF_SBUF_INIT;
    for (size_t i = 0; auth && !rc && i < auth->n_headers; i++) {
        if (!gf_prom_header_valid(auth->headers[i], detail, sizeof detail))
            rc = gf_error_set(err, GF_EUSAGE, "--prometheus-header", "%s", detail);
        else
            headers = curl_slist_append(headers, auth->headers[i]);
    }
    if (!rc && auth && auth->bearer_token_file) {
        rc = read_secret(auth->bearer_token_file, "bearer token", &secret, err);
        if (!rc) {
            gf_sbuf_printf(&line, "Authorization: Bearer %s", secret.s);
            headers = curl_slist_append(headers, line.s);
        }
        wipe(&secret);
        wipe(&line);
    }
    if (!rc && auth && auth->basic_auth_file) {
        rc = read_secret(auth->basic_auth_file, "basic auth (USER:PASSWORD)", &secret, err);
        if (!rc && !strchr(secret.s, ':'))
            rc = gf_error_set(err, GF_EINPUT, auth->basic_auth_file,
                              "expected one line USER:PASSWORD");
        if (!rc) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_USERPWD, secret.s); /* libcurl copies it */
        }
        wipe(&secret);
    }
    if (!rc && auth && auth->ca_file) {
        if (access(auth->ca_file, R_OK))
            rc = gf_error_set(err, GF_EIO, auth->ca_file, "cannot read the CA file: %s",
                              strerror(errno));
        else
            curl_easy_setopt(h, CURLOPT_CAINFO, auth->ca_file);
    }
    if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (rc) {
        curl_slist_free_all(headers);
        curl_easy_cleanup(h);
        return rc;
    }
    char *next = gf_xstrdup(url);
    for (int hops = 0;; hops++) {
        out->len = 0;
        if (out->s) out->s[0] = '\0';
        errbuf[0] = '\0';
        s.too_big = false;
        curl_easy_setopt(h, CURLOPT_URL, next);
        url_for_messages(next, here, sizeof here);
        CURLcode cc = curl_easy_perform(h);
        if (s.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
            rc = gf_error_set(err, GF_EIO, here,
                              "the answer is larger than %zu bytes; ask for a shorter range, a "
                              "longer step or fewer series",
                              max_bytes);
            break;
        }
        if (cc != CURLE_OK) {
            rc = gf_error_set(err, GF_EIO, here, "%s%s%s", curl_easy_strerror(cc),
                              errbuf[0] ? ": " : "", errbuf);
            break;
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) break;
        if (status >= 300 && status < 400) {
            char *loc = NULL, to[512];
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
            if (!loc) {
                rc = gf_error_set(err, GF_EIO, here, "HTTP %ld without a Location", status);
                break;
            }
            url_for_messages(loc, to, sizeof to);
            if (!origin_of(loc, detail, sizeof detail) || strcmp(detail, origin)) {
                rc = gf_error_set(err, GF_EIO, here,
                                  "HTTP %ld redirects to another host (%s); not followed, give "
                                  "that URL instead",
                                  status, to);
                break;
            }
            if (hops + 1 > MAX_REDIRECTS) {
                rc = gf_error_set(err, GF_EIO, here, "more than %d redirects", MAX_REDIRECTS);
                break;
            }
            free(next);
            next = gf_xstrdup(loc);
            continue;
        }
        gf_prom_error_text(out, detail, sizeof detail);
        rc = gf_error_set(err, status >= 400 && status < 500 ? GF_EINPUT : GF_EIO, here,
                          "HTTP %ld: %s", status, detail);
        break;
    }
    free(next);
    curl_easy_cleanup(h);
    for (struct curl_slist *l = headers; l; l = l->next) /* the bearer token */
        memset(l->data, 0, strlen(l->data));
    curl_slist_free_all(headers);
    if (rc) {
        out->len = 0;
        if (out->s) out->s[0] = '\0';
    }
    return rc;
}

gf_err gf_prom_query_range(const char *base_url, const char *query, double start, double end,
                           double step_s, gf_sbuf *out, gf_error *err)
{
    return gf_prom_query_range_auth(base_url, NULL, query, start, end, step_s, out, err);
}

static gf_err check_range(const char *query, double start, double end, double step_s, gf_error *err)
{
    if (!query || !*query) return gf_error_set(err, GF_EUSAGE, NULL, "empty PromQL query");
    if (!isfinite(start) || !isfinite(end) || start < 0 || end < start)
        return gf_error_set(err, GF_EUSAGE, NULL,
                            "bad time range %.3f..%.3f: expected 0 <= start <= end", start, end);
    if (!isfinite(step_s) || step_s <= 0)
        return gf_error_set(err, GF_EUSAGE, NULL, "bad step %g: expected seconds above 0", step_s);
    return GF_OK;
}

void gf_prom_range_path(gf_sbuf *out, const char *query, double start, double end, double step_s)
{
    gf_sbuf_puts(out, "/api/v1/query_range?query=");
    gf_sbuf_append_urlencoded(out, query);
    /* Prometheus keeps milliseconds */
    gf_sbuf_printf(out, "&start=%.3f&end=%.3f&step=%.3f", start, end, step_s);
}

gf_err gf_prom_query_range_auth(const char *base_url, const gf_prom_auth *auth, const char *query,
                                double start, double end, double step_s, gf_sbuf *out,
                                gf_error *err)
{
    gf_err rc = check_range(query, start, end, step_s, err);
    if (rc) return rc;
    if (!base_url || !*base_url)
        return gf_error_set(err, GF_EUSAGE, NULL, "no Prometheus URL given");
    if (strpbrk(base_url, "?#"))
        return gf_error_set(err, GF_EUSAGE, NULL,
                            "the Prometheus base URL must not carry a query or fragment");
    gf_sbuf url = GF_SBUF_INIT;
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    gf_sbuf_append(&url, base_url, n);
    gf_prom_range_path(&url, query, start, end, step_s);
    rc = gf_prom_get_auth(url.s, auth, GF_PROM_MAX_RESPONSE_BYTES, out, err);
    gf_sbuf_free(&url);
    return rc;
}

typedef struct direct {
    const char *base_url;
    const gf_prom_auth *auth;
} direct;

static gf_err direct_range(void *ctx, const char *query, double start, double end, double step_s,
                           gf_sbuf *out, gf_error *err)
{
    const direct *x = ctx;
    return gf_prom_query_range_auth(x->base_url, x->auth, query, start, end, step_s, out, err);
}

gf_err gf_prom_fetch_usage(const char *base_url, double start, double end, double step_s,
                           gf_usage *u, gf_diags *d, gf_error *err)
{
    return gf_prom_fetch_usage_auth(base_url, NULL, start, end, step_s, u, d, err);
}

gf_err gf_prom_fetch_usage_auth(const char *base_url, const gf_prom_auth *auth, double start,
                                double end, double step_s, gf_usage *u, gf_diags *d, gf_error *err)
{
    direct x = {base_url, auth};
    return gf_prom_fetch_usage_via(direct_range, &x, start, end, step_s, u, d, err);
}

/* --- sample times -------------------------------------------------------------------
 * A range query answers at every step with the latest sample at or before
 * it, up to Prometheus's lookback (5 minutes) after the last one: an exporter
 * that died two minutes ago still has "current" values. So each value query
 * is paired with timestamp(QUERY) over the same grid, whose values are the
 * times of the samples actually used; a value whose sample was already
 * reported at an earlier step is dropped, and every value kept carries its
 * sample's own time. Staleness is then measured from real samples. */

typedef struct ts_series {
    GF_VEC(double) step; /* grid times */
    GF_VEC(double) real; /* the sample time used at that step */
} ts_series;

typedef struct ts_index {
    gf_arena keys;    /* the map's keys */
    gf_strmap by_key; /* "ns\x1fpod\x1fcontainer\x1fgpu" -> index in series */
    GF_VEC(ts_series) series;
    gf_sbuf key;
} ts_index;

static const char *series_key(gf_sbuf *b, const char *ns, const char *pod, const char *container,
                              const char *gpu)
{
    b->len = 0;
    gf_sbuf_printf(b, "%s\x1f%s\x1f%s\x1f%s", ns, pod, container, gpu);
    return gf_sbuf_str(b);
}

static const char *label(const json_t *metric, const char *name)
{
    const char *v = json_string_value(json_object_get(metric, name));
    return v ? v : "";
}

static void ts_free(ts_index *x)
{
    for (size_t i = 0; i < x->series.n; i++) {
        gf_vec_free(&x->series.v[i].step);
        gf_vec_free(&x->series.v[i].real);
    }
    gf_vec_free(&x->series);
    gf_strmap_free(&x->by_key);
    gf_arena_free(&x->keys);
    gf_sbuf_free(&x->key);
}

/* The timestamp() answer into x; false when it is not the matrix expected. */
static bool ts_load(ts_index *x, const gf_sbuf *body)
{
    json_t *root = json_loadb(body->s ? body->s : "", body->len, 0, NULL);
    const json_t *result = json_object_get(json_object_get(root, "data"), "result");
    bool ok = json_is_array(result);
    size_t i;
    const json_t *series;
    json_array_foreach(result, i, series)
    {
        const json_t *metric = json_object_get(series, "metric");
        const json_t *values = json_object_get(series, "values");
        if (!json_is_array(values)) continue;
        const char *key = series_key(&x->key, label(metric, "namespace"), label(metric, "pod"),
                                     label(metric, "container"), label(metric, "gpu_uuid"));
        size_t at;
        if (!gf_strmap_get(&x->by_key, key, &at)) {
            at = x->series.n;
            ts_series empty = {{0}, {0}};
            gf_vec_push(&x->series, empty);
            gf_strmap_put(&x->by_key, gf_arena_strdup(&x->keys, key), at);
        }
        ts_series *s = &x->series.v[at];
        size_t j;
        const json_t *pt;
        json_array_foreach(values, j, pt)
        {
            double step = json_number_value(json_array_get(pt, 0));
            const char *v = json_string_value(json_array_get(pt, 1));
            char *end = NULL;
            double real = v ? strtod(v, &end) : NAN;
            if (!v || end == v || !isfinite(real)) continue;
            gf_vec_push(&s->step, step);
            gf_vec_push(&s->real, real);
        }
    }
    json_decref(root);
    return ok;
}

/* The sample time used at grid time t of series s, or NAN. */
static double ts_real(const ts_series *s, double t)
{
    size_t lo = 0, hi = s->step.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->step.v[mid] < t - 0.0005)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->step.n && fabs(s->step.v[lo] - t) < 0.0005 ? s->real.v[lo] : NAN;
}

/* Samples [from, u->samples.n) to their own times, repeats dropped. Samples
 * of series or steps the timestamp answer lacks are kept as they are. */
static size_t ts_apply(ts_index *x, gf_usage *u, size_t from)
{
    size_t kept = from, dropped = 0;
    const gf_usage_sample *prev = NULL; /* the last sample kept, of the series before */
    double last_real = NAN;
    for (size_t i = from; i < u->samples.n; i++) {
        gf_usage_sample s = u->samples.v[i];
        const char *key = series_key(&x->key, s.ns, s.pod, s.container, s.gpu_uuid);
        size_t at;
        double real = gf_strmap_get(&x->by_key, key, &at) ? ts_real(&x->series.v[at], s.t) : NAN;
        /* the loader keeps each series' points together and in time order;
         * names are interned, so equal names are equal pointers */
        bool same_series = prev && prev->ns == s.ns && prev->pod == s.pod &&
                           prev->container == s.container && prev->gpu_uuid == s.gpu_uuid;
        if (!isnan(real)) {
            if (same_series && real == last_real) {
                dropped++;
                continue;
            }
            s.t = real;
            last_real = real;
        } else {
            last_real = NAN;
        }
        u->samples.v[kept] = s;
        prev = &u->samples.v[kept++];
    }
    u->samples.n = kept;
    return dropped;
}

bool gf_prom_engine_query(gf_usage_signal sig, double step_s, char *buf, size_t n)
{
    /* the pod labels of Kubernetes service discovery join these to pods; an
     * engine runs one series per model (and per data-parallel engine) */
    switch (sig) {
    /* TensorRT-LLM's families say what each gauge measures in a label
     * (usage.h): `label=~"|value"` keeps its one gauge and every series of
     * the other engines, which have no such label */
    case GF_USAGE_KV:
        snprintf(buf, n,
                 "max by (namespace, pod) ({__name__=~\"%s|%s|%s|%s\", %s=~\"|%s\", "
                 "namespace!=\"\"})",
                 GF_ENGINE_METRIC_KV, GF_ENGINE_METRIC_KV_OLD, GF_ENGINE_METRIC_KV_SGLANG,
                 GF_ENGINE_METRIC_KV_TRTLLM, GF_ENGINE_LABEL_KV_TRTLLM, GF_ENGINE_VALUE_KV_TRTLLM);
        return true;
    case GF_USAGE_WAITING:
        snprintf(buf, n,
                 "sum by (namespace, pod) ({__name__=~\"%s|%s|%s|%s\", %s=~\"|%s\", "
                 "namespace!=\"\"})",
                 GF_ENGINE_METRIC_WAITING, GF_ENGINE_METRIC_WAITING_SGLANG,
                 GF_ENGINE_METRIC_WAITING_TGI, GF_ENGINE_METRIC_WAITING_TRTLLM,
                 GF_ENGINE_LABEL_WAITING_TRTLLM, GF_ENGINE_VALUE_WAITING_TRTLLM);
        return true;
    case GF_USAGE_PREEMPT: {
        /* rate() needs two points in its window: at least 5 minutes, and a
         * whole step so that no preemption falls between steps */
        long window = step_s > 300 ? (long)ceil(step_s) : 300;
        snprintf(buf, n,
                 "sum by (namespace, pod) (rate({__name__=~\"%s|%s\", namespace!=\"\"}[%lds]))",
                 GF_ENGINE_METRIC_PREEMPT, GF_ENGINE_METRIC_PREEMPT_SGLANG, window);
        return true;
    }
    default:
        return false;
    }
}

/* The engine metrics into u->engine. Missing metrics are no samples; a
 * query that fails is a diagnostic: the engine rules then have nothing to
 * go on and the generic ones apply. */
static void fetch_engine(gf_prom_range_fn range, void *ctx, double start, double end, double step_s,
                         gf_usage *u, gf_diags *d)
{
    static const gf_usage_signal sigs[] = {GF_USAGE_KV, GF_USAGE_WAITING, GF_USAGE_PREEMPT};
    static const char *names[] = {"engine KV-cache use", "engine requests waiting",
                                  "engine preemptions"};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        char query[400];
        gf_prom_engine_query(sigs[i], step_s, query, sizeof query);
        gf_sbuf b = GF_SBUF_INIT;
        gf_error e = {0};
        size_t before = u->engine.n;
        gf_err rc = range(ctx, query, start, end, step_s, &b, &e);
        if (!rc) rc = gf_usage_load_prom_json(u, names[i], gf_sbuf_str(&b), b.len, sigs[i], d, &e);
        if (rc) {
            u->engine.n = before; /* all of one query or none of it */
            char msg[1100];
            gf_error_format(&e, msg, sizeof msg);
            gf_diag(d, names[i], "not read (%s): the engine rules have no %s", msg, names[i]);
        }
        gf_sbuf_free(&b);
    }
}

gf_err gf_prom_fetch_usage_via(gf_prom_range_fn range, void *ctx, double start, double end,
                               double step_s, gf_usage *u, gf_diags *d, gf_error *err)
{
    static const struct {
        const char *metric;
        gf_usage_signal sig;
    } q[] = {{GF_USAGE_METRIC_MEMORY, GF_USAGE_MEMORY}, {GF_USAGE_METRIC_SM, GF_USAGE_SM}};
    gf_err rc = GF_OK;
    for (size_t i = 0; i < 2 && !rc; i++) {
        gf_sbuf b = GF_SBUF_INIT;
        char query[200], tquery[220];
        snprintf(query, sizeof query, "%s%s", q[i].metric, GF_USAGE_POD_SELECTOR);
        snprintf(tquery, sizeof tquery, "timestamp(%s)", query);
        size_t from = u->samples.n;
        rc = check_range(query, start, end, step_s, err);
        if (!rc) rc = range(ctx, query, start, end, step_s, &b, err);
        if (!rc)
            rc = gf_usage_load_prom_json(u, q[i].metric, gf_sbuf_str(&b), b.len, q[i].sig, d, err);
        if (!rc) {
            gf_error terr = {0};
            ts_index x;
            memset(&x, 0, sizeof x);
            gf_arena_init(&x.keys);
            gf_strmap_init(&x.by_key);
            if (range(ctx, tquery, start, end, step_s, &b, &terr) || !ts_load(&x, &b)) {
                char msg[1100];
                gf_error_format(&terr, msg, sizeof msg);
                gf_diag(d, q[i].metric,
                        "the samples' own times could not be read (%s): times are Prometheus's "
                        "steps, and a series that stopped looks current for up to 5 minutes",
                        terr.msg[0] ? msg : "not a matrix");
            } else {
                ts_apply(&x, u, from);
            }
            ts_free(&x);
        }
        gf_sbuf_free(&b);
    }
    if (!rc) fetch_engine(range, ctx, start, end, step_s, u, d);
    return rc;
}
