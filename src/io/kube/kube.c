/* kube.c - the Kubernetes API client's transport (see kube.h): the client
 * and its authentication (tokens, token files), transfers, retries and
 * backoff, answers -> errors, and the blocking request every typed request
 * goes through. The typed requests (get, list, watch, merge patch, Events,
 * Evictions, Leases) are kube_resources.c, the watch cache kube_cache.c, the
 * configuration kube_config.c. */
#include "io/kube/kube_private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define GF_KUBE_VERSION "0.1.0"

/* --- errors --------------------------------------------------------------------------- */

const char *gf_kube_strerror(gf_err code)
{
    switch ((int)code) {
    case (int)GF_KUBE_ECONFLICT:
        return "conflict";
    case (int)GF_KUBE_EGONE:
        return "resource version expired";
    case (int)GF_KUBE_EPDB:
        return "disruption budget forbids";
    case (int)GF_KUBE_EAUTH:
        return "not authorized";
    case (int)GF_KUBE_ETHROTTLED:
        return "throttled";
    case (int)GF_KUBE_ELEASE:
        return "not leading long enough to write";
    default:
        return gf_strerror(code);
    }
}

/* --- kinds ---------------------------------------------------------------------------- */

static const gf_kube_resource resources[GF_KUBE_KIND_COUNT] = {
    [GF_KUBE_POD] = {"Pod", "v1", "/api/v1", "pods", true, false},
    [GF_KUBE_NODE] = {"Node", "v1", "/api/v1", "nodes", false, false},
    [GF_KUBE_REPLICASET] = {"ReplicaSet", "apps/v1", "/apis/apps/v1", "replicasets", true, false},
    [GF_KUBE_DEPLOYMENT] = {"Deployment", "apps/v1", "/apis/apps/v1", "deployments", true, false},
    [GF_KUBE_STATEFULSET] = {"StatefulSet", "apps/v1", "/apis/apps/v1", "statefulsets", true,
                             false},
    [GF_KUBE_DAEMONSET] = {"DaemonSet", "apps/v1", "/apis/apps/v1", "daemonsets", true, false},
    [GF_KUBE_JOB] = {"Job", "batch/v1", "/apis/batch/v1", "jobs", true, false},
    [GF_KUBE_PDB] = {"PodDisruptionBudget", "policy/v1", "/apis/policy/v1", "poddisruptionbudgets",
                     true, false},
    [GF_KUBE_LEASE] = {"Lease", "coordination.k8s.io/v1", "/apis/coordination.k8s.io/v1", "leases",
                       true, false},
    [GF_KUBE_EVENT] = {"Event", "v1", "/api/v1", "events", true, false},
    /* pkg/apis/scheduling/v2/queue_types.go (cluster-scoped),
     * v2alpha2/podgroup_types.go, pkg/apis/kai/v1/schedulingshard_types.go
     * (+kubebuilder:resource:scope=Cluster) */
    [GF_KUBE_QUEUE] = {"Queue", "scheduling.run.ai/v2", "/apis/scheduling.run.ai/v2", "queues",
                       false, true},
    [GF_KUBE_PODGROUP] = {"PodGroup", "scheduling.run.ai/v2alpha2",
                          "/apis/scheduling.run.ai/v2alpha2", "podgroups", true, true},
    [GF_KUBE_PRIORITYCLASS] = {"PriorityClass", "scheduling.k8s.io/v1",
                               "/apis/scheduling.k8s.io/v1", "priorityclasses", false, true},
    [GF_KUBE_SHARD] = {"SchedulingShard", "kai.scheduler/v1", "/apis/kai.scheduler/v1",
                       "schedulingshards", false, true},
};

const gf_kube_resource *gf_kube_resource_of(gf_kube_kind kind)
{
    return (unsigned)kind < GF_KUBE_KIND_COUNT ? &resources[kind] : NULL;
}

bool gf_kube_kind_from_name(const char *name, gf_kube_kind *kind)
{
    for (int i = 0; name && i < GF_KUBE_KIND_COUNT; i++)
        if (!strcmp(resources[i].kind, name)) {
            *kind = (gf_kube_kind)i;
            return true;
        }
    return false;
}

const char *gf_kube_event_type_name(gf_kube_event_type t)
{
    static const char *names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    return (unsigned)t < 5 ? names[t] : "?";
}

/* --- time ------------------------------------------------------------------------------ */

double gf_kube_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void gf_kube_sleep(double seconds)
{
    if (!(seconds > 0)) return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* --- options and the client --------------------------------------------------------------- */

void gf_kube_options_default(gf_kube_options *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 5000;
    o->request_timeout_ms = 30000;
    o->max_response_bytes = (size_t)64 << 20;
    o->max_event_bytes = (size_t)16 << 20;
    o->max_attempts = 5;
    o->max_conflict_retries = 5;
    o->backoff_base_s = 0.2;
    o->backoff_max_s = 30;
    o->max_retry_after_s = 60;
    o->watch_timeout_s = 300;
    o->list_page_size = 500;
    o->component = "gpufrac";
}

static char *dup_or_null(const char *s)
{
    return s ? gf_xstrdup(s) : NULL;
}

static void blob_copy(gf_kube_blob *to, const gf_kube_blob *from)
{
    to->data = NULL;
    to->len = 0;
    if (!from->data) return;
    to->data = gf_xmalloc(from->len);
    memcpy(to->data, from->data, from->len);
    to->len = from->len;
}

static gf_err check_readable(const gf_kube_config *c, const char *what, const char *path,
                             gf_error *err)
{
    if (!path || access(path, R_OK) == 0) return GF_OK;
    return gf_error_set(err, GF_EIO, c->origin[0] ? c->origin : NULL, "%s %s: cannot read: %s",
                        what, path, strerror(errno));
}

/* The token file's content, re-read when the file changed (a projected
 * ServiceAccount token is rotated in place, through a symlink swap). */
static gf_err file_token(gf_kube *k, const char **out, gf_error *err)
{
    struct stat st;
    const char *path = k->cfg.token_file;
    if (stat(path, &st) != 0)
        return gf_error_set(err, GF_EIO, path, "token file: cannot read: %s", strerror(errno));
    bool same = k->file_token && !k->file_token_stale && st.st_ino == k->file_token_st.st_ino &&
                st.st_dev == k->file_token_st.st_dev && st.st_size == k->file_token_st.st_size &&
                st.st_mtim.tv_sec == k->file_token_st.st_mtim.tv_sec &&
                st.st_mtim.tv_nsec == k->file_token_st.st_mtim.tv_nsec;
    if (!same) {
        FILE *f = fopen(path, "rb");
        if (!f)
            return gf_error_set(err, GF_EIO, path, "token file: cannot open: %s", strerror(errno));
        char buf[16384];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        bool more = fgetc(f) != EOF;
        fclose(f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                         buf[n - 1] == '\t'))
            n--;
        buf[n] = '\0';
        gf_err rc = GF_OK;
        if (more)
            rc = gf_error_set(err, GF_EINPUT, path, "token file: larger than %zu bytes",
                              sizeof buf - 1);
        else if (n == 0)
            rc = gf_error_set(err, GF_EINPUT, path, "token file: empty");
        else if (strlen(buf) != n || strpbrk(buf, "\r\n"))
            rc = gf_error_set(err, GF_EINPUT, path, "token file: holds more than one line");
        if (rc) {
            gf_kube_wipe(buf, sizeof buf);
            return rc;
        }
        gf_kube_free_secret(k->file_token);
        k->file_token = gf_xstrdup(buf);
        gf_kube_wipe(buf, sizeof buf);
        k->file_token_st = st;
        k->file_token_stale = false;
    }
    *out = k->file_token;
    return GF_OK;
}

gf_err gf_kube_new(gf_kube **out, const gf_kube_config *cfg, const gf_kube_options *opt,
                   gf_error *err)
{
    *out = NULL;
    if (!cfg->server || !*cfg->server)
        return gf_error_set(err, GF_EUSAGE, cfg->origin[0] ? cfg->origin : NULL,
                            "no API server URL");
    gf_err rc;
    if ((rc = check_readable(cfg, "certificate-authority", cfg->ca_file, err)) ||
        (rc = check_readable(cfg, "client-certificate", cfg->cert_file, err)) ||
        (rc = check_readable(cfg, "client-key", cfg->key_file, err)) ||
        (rc = check_readable(cfg, "token file", cfg->token_file, err)))
        return rc;
    static bool curl_ready;
    if (!curl_ready) {
        /* not thread-safe before libcurl 7.84 without this */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return gf_error_set(err, GF_EINTERNAL, NULL, "curl_global_init failed");
        curl_ready = true;
    }
    gf_kube *k = gf_xcalloc(1, sizeof *k);
    k->cfg.server = gf_xstrdup(cfg->server);
    /* "https://user:secret@host" must not reach a message */
    const char *host = strstr(cfg->server, "://");
    host = host ? host + 3 : cfg->server;
    const char *at = strchr(host, '@');
    if (at && at < host + strcspn(host, "/?#"))
        snprintf(k->server_shown, sizeof k->server_shown, "%.*s%.300s", (int)(host - cfg->server),
                 cfg->server, at + 1);
    else
        snprintf(k->server_shown, sizeof k->server_shown, "%.399s", cfg->server);
    k->cfg.insecure = cfg->insecure;
    k->cfg.ca_file = dup_or_null(cfg->ca_file);
    k->cfg.cert_file = dup_or_null(cfg->cert_file);
    k->cfg.key_file = dup_or_null(cfg->key_file);
    k->cfg.token = dup_or_null(cfg->token);
    k->cfg.token_file = dup_or_null(cfg->token_file);
    k->cfg.ns = gf_xstrdup(cfg->ns && *cfg->ns ? cfg->ns : "default");
    blob_copy(&k->cfg.ca_data, &cfg->ca_data);
    blob_copy(&k->cfg.cert_data, &cfg->cert_data);
    blob_copy(&k->cfg.key_data, &cfg->key_data);
    snprintf(k->cfg.origin, sizeof k->cfg.origin, "%s", cfg->origin);
    if (opt)
        k->opt = *opt;
    else
        gf_kube_options_default(&k->opt);
    if (k->opt.max_attempts < 1) k->opt.max_attempts = 1;
    if (k->opt.max_conflict_retries < 0) k->opt.max_conflict_retries = 0;
    if (k->opt.list_page_size == 0) k->opt.list_page_size = 500;
    if (k->opt.watch_timeout_s <= 0) k->opt.watch_timeout_s = 300;
    snprintf(k->component, sizeof k->component, "%s",
             k->opt.component && *k->opt.component ? k->opt.component : "gpufrac");
    k->opt.component = k->component;
    snprintf(k->user_agent, sizeof k->user_agent, "%s/" GF_KUBE_VERSION, k->component);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    gf_rng_seed(&k->rng,
                (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40));
    if (k->cfg.token_file) {
        const char *tok;
        gf_error e2;
        if ((rc = file_token(k, &tok, &e2))) {
            if (err) *err = e2;
            gf_kube_free(k);
            return rc;
        }
    }
    *out = k;
    return GF_OK;
}

void gf_kube_free(gf_kube *k)
{
    if (!k) return;
    gf_kube_config_free(&k->cfg);
    gf_kube_free_secret(k->file_token);
    free(k);
}

const char *gf_kube_server(const gf_kube *k)
{
    return k->server_shown;
}

const char *gf_kube_namespace(const gf_kube *k)
{
    return k->cfg.ns;
}

const gf_kube_options *gf_kube_get_options(const gf_kube *k)
{
    return &k->opt;
}

/* --- paths ----------------------------------------------------------------------------- */

void gf_kube_path(gf_sbuf *b, gf_kube_kind kind, const char *ns, const char *name, const char *sub)
{
    const gf_kube_resource *r = gf_kube_resource_of(kind);
    gf_sbuf_puts(b, r->prefix);
    if (r->namespaced && ns && *ns) {
        gf_sbuf_puts(b, "/namespaces/");
        gf_sbuf_append_urlencoded(b, ns);
    }
    gf_sbuf_puts(b, "/");
    gf_sbuf_puts(b, r->plural);
    if (name) {
        gf_sbuf_puts(b, "/");
        gf_sbuf_append_urlencoded(b, name);
        if (sub) {
            gf_sbuf_puts(b, "/");
            gf_sbuf_puts(b, sub);
        }
    }
}

void gf_kube_query(gf_sbuf *b, const char *key, const char *value)
{
    gf_sbuf_puts(b, b->s && strchr(b->s, '?') ? "&" : "?");
    gf_sbuf_puts(b, key);
    gf_sbuf_puts(b, "=");
    gf_sbuf_append_urlencoded(b, value);
}

/* --- transfers ---------------------------------------------------------------------------- */

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    gf_kube_xfer *x = user;
    size_t bytes = size * n;
    if (bytes >= 5 && !strncmp(data, "HTTP/", 5)) {
        x->retry_after_s = -1; /* a new answer */
        return bytes;
    }
    static const char name[] = "retry-after:";
    if (bytes > sizeof name - 1 && !strncasecmp(data, name, sizeof name - 1)) {
        char v[64];
        size_t len = bytes - (sizeof name - 1);
        if (len >= sizeof v) len = sizeof v - 1;
        memcpy(v, data + sizeof name - 1, len);
        v[len] = '\0';
        double secs = gf_kube_retry_after(v, time(NULL));
        if (secs >= 0) x->retry_after_s = secs;
    }
    return bytes;
}

double gf_kube_retry_after(const char *value, time_t now)
{
    char v[64];
    snprintf(v, sizeof v, "%s", value);
    char *s = v + strspn(v, " \t");
    s[strcspn(s, "\r\n")] = '\0';
    char *end;
    errno = 0;
    double secs = strtod(s, &end);
    if (s[0] >= '0' && s[0] <= '9' && end != s && *end == '\0' && errno == 0 && isfinite(secs))
        return secs;
    /* RFC 9110 10.2.3: an HTTP-date */
    time_t t = curl_getdate(s, NULL);
    if (t == -1) return -1;
    double d = difftime(t, now);
    return d > 0 ? d : 0;
}

/* Replaces control characters, so that a hostile answer cannot forge lines. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

/* One watch line: decodes it, notes 410s and ERRORs, hands it on. Returns
 * non-zero to end the transfer. */
int gf_kube_xfer_watch_line(gf_kube_xfer *x, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0) return 0;
    json_error_t jerr;
    json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *type = json_object_get(ev, "type");
    json_t *obj = json_object_get(ev, "object");
    static const char *names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    int t = -1;
    for (int i = 0; json_is_string(type) && i < 5; i++)
        if (!strcmp(json_string_value(type), names[i])) t = i;
    if (!ev) {
        snprintf(x->bad_msg, sizeof x->bad_msg, "watch event %llu: invalid JSON: %s",
                 (unsigned long long)x->events + 1, jerr.text);
    } else if (t < 0) {
        snprintf(x->bad_msg, sizeof x->bad_msg, "watch event %llu: unknown type %.40s",
                 (unsigned long long)x->events + 1,
                 json_is_string(type) ? json_string_value(type) : "(none)");
        sanitize(x->bad_msg);
    } else if (!json_is_object(obj)) {
        snprintf(x->bad_msg, sizeof x->bad_msg, "watch event %llu (%s): no object",
                 (unsigned long long)x->events + 1, names[t]);
    } else {
        x->events++;
        if (t == GF_KUBE_ERROR) {
            const json_t *code = json_object_get(obj, "code");
            const json_t *msg = json_object_get(obj, "message");
            if (json_is_integer(code) && json_integer_value(code) == 410) {
                x->gone = true;
            } else {
                x->error_event = true;
            }
            snprintf(x->bad_msg, sizeof x->bad_msg, "%s",
                     json_is_string(msg) ? json_string_value(msg) : "ERROR event");
            sanitize(x->bad_msg);
        }
        int stop = x->on_event ? x->on_event(x, (gf_kube_event_type)t, obj) : 0;
        json_decref(ev);
        if (stop) x->stopped = true;
        return stop || x->gone || x->error_event;
    }
    json_decref(ev);
    x->bad = true;
    return 1;
}

static size_t on_write(char *data, size_t size, size_t n, void *user)
{
    gf_kube_xfer *x = user;
    size_t bytes = size * n;
    if (x->watch && !x->status_checked) {
        long status = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        x->streaming = status == 200;
        x->status_checked = true;
    }
    if (!x->streaming) {
        if (bytes > x->max_body - x->body.len) {
            x->too_big = true;
            return 0; /* curl stops with CURLE_WRITE_ERROR */
        }
        gf_sbuf_append(&x->body, data, bytes);
        return bytes;
    }
    const char *p = data, *end = data + bytes;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (take > x->max_line - x->line.len) {
            x->too_big = true;
            return 0;
        }
        if (!nl) {
            gf_sbuf_append(&x->line, p, take);
            break;
        }
        int stop;
        if (x->line.len == 0) {
            stop = gf_kube_xfer_watch_line(x, p, take); /* the whole line is here: no copy */
        } else {
            gf_sbuf_append(&x->line, p, take);
            stop = gf_kube_xfer_watch_line(x, x->line.s, x->line.len);
            x->line.len = 0;
        }
        if (stop) return 0;
        p = nl + 1;
    }
    return bytes;
}

/* "GET https://host/path" without the query, for messages. */
static void set_where(gf_kube_xfer *x, const char *method, const char *server, const char *path)
{
    snprintf(x->where, sizeof x->where, "%s %.300s%.*s", method, server, (int)strcspn(path, "?#"),
             path);
}

static gf_err set_auth(gf_kube_xfer *x, gf_error *err)
{
    gf_kube *k = x->k;
    const char *tok = k->cfg.token;
    if (!tok && k->cfg.token_file) {
        gf_err rc = file_token(k, &tok, err);
        if (rc) return rc;
    }
    if (tok) {
        curl_easy_setopt(x->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(x->h, CURLOPT_XOAUTH2_BEARER, tok);
    }
    return GF_OK;
}

gf_err gf_kube_xfer_init(gf_kube_xfer *x, gf_kube *k, const char *method, const char *path,
                         const char *content_type, const char *body, bool watch, gf_error *err)
{
    memset(x, 0, sizeof *x);
    x->k = k;
    x->retry_after_s = -1;
    x->watch = watch;
    x->streaming = false;
    x->max_body = k->opt.max_response_bytes ? k->opt.max_response_bytes : (size_t)64 << 20;
    x->max_line = k->opt.max_event_bytes ? k->opt.max_event_bytes : (size_t)16 << 20;
    snprintf(x->method, sizeof x->method, "%s", method);
    x->idempotent = strcmp(method, "POST") != 0;
    set_where(x, method, k->server_shown, path);
    x->h = curl_easy_init();
    if (!x->h) return gf_error_set(err, GF_EINTERNAL, x->where, "curl_easy_init failed");
    CURL *h = x->h;
    gf_sbuf url = GF_SBUF_INIT;
    gf_sbuf_puts(&url, k->cfg.server);
    gf_sbuf_puts(&url, path);
    curl_easy_setopt(h, CURLOPT_URL, url.s);
    gf_sbuf_free(&url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, k->opt.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, watch ? 0L : k->opt.request_timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* the API server does not redirect */
#if LIBCURL_VERSION_NUM >= 0x075500                  /* 7.85.0 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_USERAGENT, k->user_agent);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (x->max_body && !watch)
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
    /* TLS: verification stays on unless the config says insecure */
    if (k->cfg.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (k->cfg.ca_data.data) {
        struct curl_blob b = {k->cfg.ca_data.data, k->cfg.ca_data.len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL); /* that CA only, as kubectl */
    } else if (k->cfg.ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, k->cfg.ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    if (k->cfg.cert_data.data) {
        struct curl_blob b = {k->cfg.cert_data.data, k->cfg.cert_data.len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (k->cfg.cert_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, k->cfg.cert_file);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (k->cfg.key_data.data) {
        struct curl_blob b = {k->cfg.key_data.data, k->cfg.key_data.len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (k->cfg.key_file) {
        curl_easy_setopt(h, CURLOPT_SSLKEY, k->cfg.key_file);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    x->headers = curl_slist_append(x->headers, "Accept: application/json");
    x->headers = curl_slist_append(x->headers, "Expect:");
    if (content_type) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        x->headers = curl_slist_append(x->headers, ct);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    if (body) curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
    if (strcmp(method, "GET") && strcmp(method, "POST"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    else if (!strcmp(method, "POST") && !body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    return set_auth(x, err);
}

gf_err gf_kube_xfer_rearm(gf_kube_xfer *x, gf_error *err)
{
    x->body.len = 0;
    if (x->body.s) x->body.s[0] = '\0';
    x->line.len = 0;
    x->too_big = x->stopped = x->gone = x->bad = x->error_event = false;
    x->status_checked = x->streaming = false;
    x->retry_after_s = -1;
    x->errbuf[0] = '\0';
    x->reason[0] = '\0';
    x->bad_msg[0] = '\0';
    return set_auth(x, err);
}

void gf_kube_xfer_cleanup(gf_kube_xfer *x)
{
    if (x->h) curl_easy_cleanup(x->h);
    curl_slist_free_all(x->headers);
    gf_sbuf_free(&x->body);
    gf_sbuf_free(&x->line);
    x->h = NULL;
    x->headers = NULL;
}

long gf_kube_xfer_status(gf_kube_xfer *x)
{
    long status = 0;
    if (x->h) curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

double gf_kube_backoff(gf_kube *k, int attempt, double retry_after_s)
{
    double d = k->opt.backoff_base_s > 0 ? k->opt.backoff_base_s : 0.2;
    double max = k->opt.backoff_max_s > 0 ? k->opt.backoff_max_s : 30;
    for (int i = 1; i < attempt && d < max; i++)
        d *= 2;
    if (d > max) d = max;
    d = d / 2 + gf_rng_unit(&k->rng) * d / 2; /* "equal jitter" */
    return retry_after_s > d ? retry_after_s : d;
}

static const char *status_text(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Request Entity Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

static gf_err code_of_status(long status)
{
    switch (status) {
    case 400:
    case 422:
        return GF_EINPUT;
    case 401:
    case 403:
        return GF_KUBE_EAUTH;
    case 404:
        return GF_ENOTFOUND;
    case 409:
        return GF_KUBE_ECONFLICT;
    case 410:
        return GF_KUBE_EGONE;
    case 429:
        return GF_KUBE_ETHROTTLED;
    default:
        return GF_EIO;
    }
}

/* True when a 429 answer is a Status with a DisruptionBudget cause (the
 * Eviction subresource's refusal, k8s.io/api/policy/v1 DisruptionBudgetCause). */
static bool disruption_budget_cause(const json_t *status, char *causes, size_t n)
{
    const json_t *list = json_object_get(json_object_get(status, "details"), "causes");
    bool found = false;
    size_t i, o = 0;
    const json_t *c;
    causes[0] = '\0';
    json_array_foreach(list, i, c)
    {
        const json_t *type = json_object_get(c, "type");
        const json_t *msg = json_object_get(c, "message");
        if (!json_is_string(type) || strcmp(json_string_value(type), "DisruptionBudget")) continue;
        found = true;
        if (json_is_string(msg) && o + 4 < n) {
            int k = snprintf(causes + o, n - o, "%s%s", o ? "; " : "", json_string_value(msg));
            if (k > 0) o += (size_t)k;
            if (o >= n) o = n - 1;
        }
    }
    return found;
}

/* The error of a non-2xx answer: "HTTP 409 Conflict: <Status message>". */
gf_err gf_kube_answer_error(gf_kube_xfer *x, long status, gf_err code, gf_error *err)
{
    char detail[400] = "";
    json_t *root = x->body.len ? json_loadb(x->body.s, x->body.len, 0, NULL) : NULL;
    const json_t *msg = json_object_get(root, "message");
    const json_t *reason = json_object_get(root, "reason");
    if (json_is_string(reason))
        snprintf(x->reason, sizeof x->reason, "%s", json_string_value(reason));
    if (json_is_string(msg)) {
        char causes[200];
        if (code == GF_KUBE_EPDB && disruption_budget_cause(root, causes, sizeof causes) &&
            causes[0])
            snprintf(detail, sizeof detail, "%s (%s)", json_string_value(msg), causes);
        else
            snprintf(detail, sizeof detail, "%s", json_string_value(msg));
    } else {
        size_t o = 0;
        for (size_t i = 0; i < x->body.len && i < 200 && o + 5 < sizeof detail; i++) {
            unsigned char ch = (unsigned char)x->body.s[i];
            if (ch < 0x20 || ch == 0x7f)
                o += (size_t)snprintf(detail + o, sizeof detail - o, "\\x%02x", ch);
            else
                detail[o++] = (char)ch;
        }
        detail[o] = '\0';
        if (!o) snprintf(detail, sizeof detail, "(empty body)");
    }
    sanitize(detail);
    sanitize(x->reason);
    json_decref(root);
    const char *text = status_text(status);
    return gf_error_set(err, code, x->where, "HTTP %ld%s%s: %s", status, text[0] ? " " : "", text,
                        detail);
}

static bool transient_curl_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return true;
    default:
        return false;
    }
}

gf_kube_outcome gf_kube_xfer_outcome(gf_kube_xfer *x, CURLcode cc, int attempt, double *delay_s,
                                     gf_err *rc, gf_error *err)
{
    gf_kube *k = x->k;
    *delay_s = 0;
    *rc = GF_OK;
    if (x->too_big) {
        *rc = gf_error_set(err, GF_EIO, x->where,
                           x->streaming ? "a watch event is larger than %zu bytes"
                                        : "the answer is larger than %zu bytes",
                           x->streaming ? x->max_line : x->max_body);
        return GF_KUBE_FAIL;
    }
    if (x->bad) {
        *rc = gf_error_set(err, GF_EIO, x->where, "%s", x->bad_msg);
        return GF_KUBE_FAIL;
    }
    if (x->gone) {
        *rc = gf_error_set(err, GF_KUBE_EGONE, x->where, "HTTP 410 Gone (ERROR event): %s",
                           x->bad_msg);
        snprintf(x->reason, sizeof x->reason, "Expired");
        return GF_KUBE_FAIL;
    }
    if (x->error_event) {
        *rc = gf_error_set(err, GF_EIO, x->where, "the watch sent an ERROR event: %s", x->bad_msg);
        return GF_KUBE_FAIL;
    }
    if (x->stopped) return GF_KUBE_DONE;
    bool retry = false;
    long status = 0;
    if (cc == CURLE_FILESIZE_EXCEEDED) {
        *rc =
            gf_error_set(err, GF_EIO, x->where, "the answer is larger than %zu bytes", x->max_body);
        return GF_KUBE_FAIL;
    } else if (cc != CURLE_OK) {
        *rc = gf_error_set(err, GF_EIO, x->where, "%s%s%s", curl_easy_strerror(cc),
                           x->errbuf[0] ? ": " : "", x->errbuf);
        /* a refused connection sent nothing: safe to repeat even a POST */
        retry = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                (x->idempotent && transient_curl_error(cc));
    } else {
        status = gf_kube_xfer_status(x);
        if (status >= 200 && status < 300) return GF_KUBE_DONE;
        if (status == 429 && x->eviction) {
            json_t *root = x->body.len ? json_loadb(x->body.s, x->body.len, 0, NULL) : NULL;
            char causes[8];
            bool pdb = disruption_budget_cause(root, causes, sizeof causes);
            json_decref(root);
            if (pdb) {
                *rc = gf_kube_answer_error(x, status, GF_KUBE_EPDB, err);
                return GF_KUBE_FAIL;
            }
        }
        *rc = gf_kube_answer_error(x, status, code_of_status(status), err);
        if (status == 429) {
            if (x->retry_after_s > k->opt.max_retry_after_s) {
                gf_error_set(err, GF_KUBE_ETHROTTLED, x->where,
                             "HTTP 429 Too Many Requests with Retry-After %.0f s, longer than the "
                             "%.0f s waited for",
                             x->retry_after_s, k->opt.max_retry_after_s);
                return GF_KUBE_FAIL;
            }
            retry = true;
        } else if (status == 500 || status == 502 || status == 503 || status == 504) {
            retry = x->idempotent;
        } else if (status == 401 && k->cfg.token_file && !x->token_retried) {
            /* the token file may have been rotated since it was read */
            k->file_token_stale = true;
            x->token_retried = true;
            if (attempt < k->opt.max_attempts) return GF_KUBE_RETRY;
        }
    }
    if (!retry || attempt >= k->opt.max_attempts) return GF_KUBE_FAIL;
    *delay_s = gf_kube_backoff(k, attempt, x->retry_after_s);
    return GF_KUBE_RETRY;
}

/* --- blocking requests ---------------------------------------------------------------------- */

static void reply_reset(gf_kube_reply *r)
{
    if (!r) return;
    r->status = 0;
    r->body.len = 0;
    if (r->body.s) r->body.s[0] = '\0';
    r->retry_after_s = -1;
    r->attempts = 0;
    r->reason[0] = '\0';
}

void gf_kube_reply_free(gf_kube_reply *r)
{
    if (!r) return;
    gf_sbuf_free(&r->body);
    memset(r, 0, sizeof *r);
}

void gf_kube_set_write_guard(gf_kube *k, gf_kube_write_guard fn, void *ctx)
{
    k->guard = fn;
    k->guard_ctx = ctx;
}

/* The write guard's check, just before an attempt is sent (see kube.h). */
static gf_err guard_write(gf_kube *k, gf_kube_xfer *x, const char *method, gf_error *err)
{
    if (!k->guard || !strcmp(method, "GET")) return GF_OK;
    double left = k->guard(k->guard_ctx);
    if (!(left >= GF_KUBE_MIN_WRITE_S))
        return gf_error_set(err, GF_KUBE_ELEASE, x->where,
                            "not sent: this replica may write for %.1f s more, less than the "
                            "%.0f s a write needs (its Lease is not renewed)",
                            left > 0 ? left : 0, GF_KUBE_MIN_WRITE_S);
    /* every attempt: an earlier one may have set a shorter limit */
    double limit_ms = (double)k->opt.request_timeout_ms;
    curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS,
                     (long)(left * 1000 < limit_ms ? left * 1000 : limit_ms));
    return GF_OK;
}

gf_err gf_kube_run(gf_kube *k, const char *method, const char *path, const char *content_type,
                   const char *body, bool eviction, gf_kube_reply *reply, gf_error *err)
{
    reply_reset(reply);
    gf_kube_xfer x;
    gf_err rc = gf_kube_xfer_init(&x, k, method, path, content_type, body, false, err);
    x.eviction = eviction;
    int attempt = 0;
    while (rc == GF_OK) {
        attempt++;
        if (attempt > 1 && (rc = gf_kube_xfer_rearm(&x, err))) break;
        if ((rc = guard_write(k, &x, method, err))) break;
        CURLcode cc = curl_easy_perform(x.h);
        double delay;
        gf_kube_outcome out = gf_kube_xfer_outcome(&x, cc, attempt, &delay, &rc, err);
        if (out != GF_KUBE_RETRY) break;
        rc = GF_OK;
        gf_kube_sleep(delay);
    }
    if (reply) {
        reply->status = x.h ? gf_kube_xfer_status(&x) : 0;
        gf_sbuf_free(&reply->body);
        reply->body = x.body;
        x.body = (gf_sbuf)GF_SBUF_INIT;
        reply->retry_after_s = x.retry_after_s;
        reply->attempts = attempt;
        snprintf(reply->reason, sizeof reply->reason, "%s", x.reason);
    }
    gf_kube_xfer_cleanup(&x);
    return rc;
}

gf_err gf_kube_request(gf_kube *k, const char *method, const char *path, const char *content_type,
                       const char *body, gf_kube_reply *reply, gf_error *err)
{
    if (!method || !path || path[0] != '/')
        return gf_error_set(err, GF_EUSAGE, NULL, "a request needs a method and a path from '/'");
    return gf_kube_run(k, method, path, content_type, body, false, reply, err);
}
