/* podsource.c - fetching and refreshing the node's pod list, see podsource.h. */
#include "exporter/podsource.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CONNECT_TIMEOUT_MS 5000L
#define TOTAL_TIMEOUT_MS 20000L
#define TOKEN_MAX 16384

static char *dup_or_null(const char *s)
{
    return s ? gf_xstrdup(s) : NULL;
}

static bool http_url(const char *u)
{
    return !strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8);
}

gf_err gf_podsrc_init(gf_podsrc *s, const gf_podsrc_config *cfg, gf_error *err)
{
    /* nothing in s is owned until the end: gf_podsrc_free is safe on failure */
    memset(s, 0, sizeof *s);
    s->last_attempt = s->last_success = -1;
    if (!(cfg->refresh_s > 0) || !(cfg->retry_s >= 0))
        return gf_error_set(err, GF_EUSAGE, NULL, "the pod list refresh period must be above 0");
    s->cfg.refresh_s = cfg->refresh_s;
    s->cfg.retry_s = cfg->retry_s;
    if (cfg->kind == GF_PODSRC_NONE) return GF_OK;
    if (!cfg->location || !*cfg->location)
        return gf_error_set(err, GF_EUSAGE, NULL, "no pod list location given");
    gf_sbuf url = GF_SBUF_INIT;
    if (cfg->kind != GF_PODSRC_FILE) {
        if (!http_url(cfg->location))
            return gf_error_set(err, GF_EUSAGE, cfg->location,
                                "the URL must start with https:// or http://");
        if (strpbrk(cfg->location, "?#"))
            return gf_error_set(err, GF_EUSAGE, cfg->location,
                                "give the base URL, without a query or fragment");
        size_t n = strlen(cfg->location);
        while (n > 0 && cfg->location[n - 1] == '/')
            n--;
        gf_sbuf_append(&url, cfg->location, n);
    }
    switch (cfg->kind) {
    case GF_PODSRC_FILE:
        gf_sbuf_puts(&url, cfg->location);
        break;
    case GF_PODSRC_KUBELET:
        gf_sbuf_puts(&url, "/pods");
        break;
    case GF_PODSRC_APISERVER:
        if (!cfg->node_name || !*cfg->node_name) {
            gf_sbuf_free(&url);
            return gf_error_set(err, GF_EUSAGE, NULL,
                                "the API server source needs the node name (--node-name or "
                                "NODE_NAME)");
        }
        gf_sbuf_puts(&url, "/api/v1/pods?fieldSelector=");
        gf_sbuf_append_urlencoded(&url, "spec.nodeName=");
        gf_sbuf_append_urlencoded(&url, cfg->node_name);
        break;
    case GF_PODSRC_NONE:
        break;
    }
    s->url = url.s; /* ownership moves */
    s->cfg = *cfg;
    s->cfg.location = dup_or_null(cfg->location);
    s->cfg.node_name = dup_or_null(cfg->node_name);
    s->cfg.token_file = dup_or_null(cfg->token_file);
    s->cfg.ca_file = dup_or_null(cfg->ca_file);
    return GF_OK;
}

void gf_podsrc_free(gf_podsrc *s)
{
    if (!s) return;
    if (s->cfg.kind != GF_PODSRC_NONE) {
        free((char *)s->cfg.location);
        free((char *)s->cfg.node_name);
        free((char *)s->cfg.token_file);
        free((char *)s->cfg.ca_file);
    }
    free(s->url);
    gf_podlist_free(s->list);
    free(s->list);
    memset(s, 0, sizeof *s);
}

bool gf_podsrc_due(const gf_podsrc *s, double now)
{
    if (s->cfg.kind == GF_PODSRC_NONE) return false;
    if (s->last_attempt < 0) return true;
    /* after a failure, retry at the retry pace rather than a full period */
    if (s->last_success < s->last_attempt) return now - s->last_attempt >= s->cfg.retry_s;
    return now - s->last_attempt >= s->cfg.refresh_s;
}

bool gf_podsrc_may_retry(const gf_podsrc *s, double now)
{
    return s->cfg.kind != GF_PODSRC_NONE &&
           (s->last_attempt < 0 || now - s->last_attempt >= s->cfg.retry_s);
}

/* --- reading ------------------------------------------------------------- */

static gf_err read_file(const char *path, size_t max, gf_sbuf *out, gf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return gf_error_set(err, GF_EIO, path, "cannot open: %s", strerror(errno));
    char buf[65536];
    size_t n;
    gf_err rc = GF_OK;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (out->len + n > max) {
            rc = gf_error_set(err, GF_EIO, path, "larger than %zu bytes", max);
            break;
        }
        gf_sbuf_append(out, buf, n);
    }
    if (!rc && ferror(f)) rc = gf_error_set(err, GF_EIO, path, "read error: %s", strerror(errno));
    fclose(f);
    return rc;
}

typedef struct sink {
    gf_sbuf *out;
    bool too_big;
} sink;

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
    sink *k = user;
    size_t bytes = size * n;
    if (bytes > GF_PODSRC_MAX_BYTES - k->out->len) {
        k->too_big = true;
        return 0;
    }
    gf_sbuf_append(k->out, data, bytes);
    return bytes;
}

/* The URL without its query, for messages. */
static void shown_url(const char *url, char *buf, size_t n)
{
    snprintf(buf, n, "%.*s", (int)strcspn(url, "?#"), url);
}

gf_err gf_podsrc_fetch(const gf_podsrc_config *cfg, const char *url, gf_sbuf *out, gf_error *err)
{
    char here[600];
    shown_url(url, here, sizeof here);
    out->len = 0;
    if (out->s) out->s[0] = '\0';
    gf_sbuf auth = GF_SBUF_INIT;
    if (cfg->token_file && *cfg->token_file) {
        gf_sbuf tok = GF_SBUF_INIT;
        gf_err rc = read_file(cfg->token_file, TOKEN_MAX, &tok, err);
        if (rc) {
            gf_sbuf_free(&tok);
            return rc;
        }
        size_t n = tok.len;
        while (n > 0 && (tok.s[n - 1] == '\n' || tok.s[n - 1] == '\r' || tok.s[n - 1] == ' '))
            n--;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)tok.s[i] < 0x21 || tok.s[i] == 0x7f) {
                gf_sbuf_free(&tok);
                return gf_error_set(err, GF_EINPUT, cfg->token_file,
                                    "the token holds white space or control characters");
            }
        gf_sbuf_puts(&auth, "Authorization: Bearer ");
        gf_sbuf_append(&auth, tok.s ? tok.s : "", n);
        gf_sbuf_free(&tok);
    }
    CURL *h = curl_easy_init();
    if (!h) {
        gf_sbuf_free(&auth);
        return gf_error_set(err, GF_EINTERNAL, here, "curl_easy_init failed");
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (auth.len) headers = curl_slist_append(headers, auth.s);
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    sink k = {out, false};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gpufrac-exporter");
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)GF_PODSRC_MAX_BYTES);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
    if (cfg->ca_file && *cfg->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    gf_err rc = GF_OK;
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (k.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        rc = gf_error_set(err, GF_EIO, here, "the answer is larger than %u bytes",
                          GF_PODSRC_MAX_BYTES);
    } else if (cc != CURLE_OK) {
        rc = gf_error_set(err, GF_EIO, here, "%s%s%s", curl_easy_strerror(cc),
                          errbuf[0] ? ": " : "", errbuf);
    } else if (status < 200 || status >= 300) {
        /* the start of the body, on one line */
        char detail[160];
        size_t o = 0;
        for (size_t i = 0; i < out->len && o + 1 < sizeof detail; i++) {
            unsigned char ch = (unsigned char)out->s[i];
            detail[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
        }
        detail[o] = '\0';
        const char *hint = status == 401   ? " (check the token file)"
                           : status == 403 ? " (the service account lacks the RBAC rule: pods "
                                             "list for the API server, nodes/proxy for the "
                                             "kubelet)"
                                           : "";
        rc = gf_error_set(err, GF_EIO, here, "HTTP %ld%s: %s", status, hint,
                          o ? detail : "(empty body)");
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    gf_sbuf_free(&auth);
    if (rc) {
        out->len = 0;
        if (out->s) out->s[0] = '\0';
    }
    return rc;
}

gf_err gf_podsrc_refresh(gf_podsrc *s, double now, gf_diags *d, gf_error *err)
{
    if (s->cfg.kind == GF_PODSRC_NONE) return GF_OK;
    s->last_attempt = now;
    s->refreshes++;
    gf_sbuf body = GF_SBUF_INIT;
    gf_err rc = s->cfg.kind == GF_PODSRC_FILE ? read_file(s->url, GF_PODSRC_MAX_BYTES, &body, err)
                                              : gf_podsrc_fetch(&s->cfg, s->url, &body, err);
    if (!rc) {
        char name[600];
        shown_url(s->url, name, sizeof name);
        gf_podlist *l = gf_xmalloc(sizeof *l);
        gf_podlist_init(l);
        if (s->cfg.kai.scheduler_name) l->kai.scheduler_name = s->cfg.kai.scheduler_name;
        if (s->cfg.kai.reservation_ns) l->kai.reservation_ns = s->cfg.kai.reservation_ns;
        if (s->cfg.kai.reservation_app) l->kai.reservation_app = s->cfg.kai.reservation_app;
        rc = gf_podlist_parse(l, name, body.s ? body.s : "", body.len, d, err);
        if (rc) {
            gf_podlist_free(l);
            free(l);
        } else {
            gf_podlist_free(s->list);
            free(s->list);
            s->list = l;
            s->last_success = now;
        }
    }
    gf_sbuf_free(&body);
    if (rc) s->errors++;
    return rc;
}
