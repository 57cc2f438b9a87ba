/* usage_fetch.c - fetching usage from Prometheus's HTTP API with libcurl,
 * see usage.h. The answer is returned as text for gf_usage_load_prom_json(),
 * so that a saved answer and a live one go through the same parser. */
#include "usage.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

gf_err gf_prom_get(const char *url, size_t max_bytes, gf_sbuf *out, gf_error *err)
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
    if (rc) {
        out->len = 0;
        if (out->s) out->s[0] = '\0';
    }
    return rc;
}

gf_err gf_prom_query_range(const char *base_url, const char *query, double start, double end,
                           double step_s, gf_sbuf *out, gf_error *err)
{
    if (!query || !*query) return gf_error_set(err, GF_EUSAGE, NULL, "empty PromQL query");
    if (!isfinite(start) || !isfinite(end) || start < 0 || end < start)
        return gf_error_set(err, GF_EUSAGE, NULL,
                            "bad time range %.3f..%.3f: expected 0 <= start <= end", start, end);
    if (!isfinite(step_s) || step_s <= 0)
        return gf_error_set(err, GF_EUSAGE, NULL, "bad step %g: expected seconds above 0", step_s);
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
    gf_sbuf_puts(&url, "/api/v1/query_range?query=");
    gf_sbuf_append_urlencoded(&url, query);
    /* Prometheus keeps milliseconds */
    gf_sbuf_printf(&url, "&start=%.3f&end=%.3f&step=%.3f", start, end, step_s);
    gf_err rc = gf_prom_get(url.s, GF_PROM_MAX_RESPONSE_BYTES, out, err);
    gf_sbuf_free(&url);
    return rc;
}

gf_err gf_prom_fetch_usage(const char *base_url, double start, double end, double step_s,
                           gf_usage *u, gf_diags *d, gf_error *err)
{
    static const struct {
        const char *metric;
        gf_usage_signal sig;
    } q[] = {{GF_USAGE_METRIC_MEMORY, GF_USAGE_MEMORY}, {GF_USAGE_METRIC_SM, GF_USAGE_SM}};
    gf_err rc = GF_OK;
    for (size_t i = 0; i < 2 && !rc; i++) {
        gf_sbuf b = GF_SBUF_INIT;
        char query[200];
        snprintf(query, sizeof query, "%s%s", q[i].metric, GF_USAGE_POD_SELECTOR);
        rc = gf_prom_query_range(base_url, query, start, end, step_s, &b, err);
        if (!rc)
            rc = gf_usage_load_prom_json(u, q[i].metric, gf_sbuf_str(&b), b.len, q[i].sig, d, err);
        gf_sbuf_free(&b);
    }
    return rc;
}
