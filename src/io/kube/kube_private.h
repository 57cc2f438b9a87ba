/* kube_private.h - what kube.c (transport) shares with kube_resources.c,
 * kube_config.c and kube_cache.c: one transfer (a libcurl easy handle set up
 * for the API server, with its answer, Retry-After and, for watches, the
 * incremental event decoder), the blocking request with its retries, the
 * backoff rule and the answer -> error mapping. Not a public API. */
#ifndef GF_KUBE_PRIVATE_H
#define GF_KUBE_PRIVATE_H

#include "io/kube/kube.h"
#include "util/rng.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <time.h>

struct gf_kube {
    gf_kube_config cfg;     /* a deep copy */
    char server_shown[400]; /* cfg.server without user:password@, for messages */
    gf_kube_options opt;
    char component[64];
    char user_agent[96];
    /* the token file's content, re-read when its identity or mtime changes */
    char *file_token;
    struct stat file_token_st;
    bool file_token_stale;
    gf_rng rng;
    gf_kube_write_guard guard; /* gf_kube_set_write_guard */
    void *guard_ctx;
};

typedef struct gf_kube_xfer gf_kube_xfer;

/* A decoded watch event; object borrowed for the call. Non-zero stops. */
typedef int (*gf_kube_xfer_event_fn)(gf_kube_xfer *x, gf_kube_event_type type, json_t *object);

struct gf_kube_xfer {
    gf_kube *k;
    CURL *h;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    char method[8];
    char where[600]; /* "GET https://host/api/v1/pods" (no query), for messages */
    bool idempotent;
    bool eviction; /* 429 with a DisruptionBudget cause is an answer, not throttling */
    bool token_retried;
    char reason[64]; /* the Status reason of a failed answer */
    /* the answer (a watch's body only when its status is not 200) */
    gf_sbuf body;
    size_t max_body;
    bool too_big;
    double retry_after_s; /* -1: none */
    /* watch streaming: lines split as they arrive, each decoded and handed on */
    bool watch;
    bool status_checked, streaming; /* streaming: the answer is 200, events follow */
    gf_sbuf line;
    size_t max_line;
    gf_kube_xfer_event_fn on_event;
    void *user;
    bool stopped;     /* on_event asked to stop */
    bool gone;        /* an ERROR event with code 410 */
    bool bad;         /* an event that could not be decoded (bad_msg says why) */
    bool error_event; /* an ERROR event other than 410 (bad_msg holds its message) */
    char bad_msg[300];
    uint64_t events; /* events decoded */
};

double gf_kube_now(void); /* monotonic seconds */
void gf_kube_sleep(double seconds);

/* Sets up x for method on path (with its query). body NULL: none. watch:
 * stream the answer into on_event instead of collecting it, without the
 * request timeout (the caller sets one fitting timeoutSeconds). */
gf_err gf_kube_xfer_init(gf_kube_xfer *x, gf_kube *k, const char *method, const char *path,
                         const char *content_type, const char *body, bool watch, gf_error *err);
/* Clears the answer for another attempt; refreshes the token. */
gf_err gf_kube_xfer_rearm(gf_kube_xfer *x, gf_error *err);
void gf_kube_xfer_cleanup(gf_kube_xfer *x); /* accepts a zeroed x */
long gf_kube_xfer_status(gf_kube_xfer *x);

typedef enum gf_kube_outcome { GF_KUBE_DONE, GF_KUBE_RETRY, GF_KUBE_FAIL } gf_kube_outcome;

/* Classifies a finished transfer: DONE (2xx), RETRY (*delay_s set: the
 * backoff for attempt, at least Retry-After) or FAIL. *rc/err get the error
 * for RETRY and FAIL. */
gf_kube_outcome gf_kube_xfer_outcome(gf_kube_xfer *x, CURLcode cc, int attempt, double *delay_s,
                                     gf_err *rc, gf_error *err);

/* One blocking request with the retry loop (kube.c): the answer into
 * *reply (may be NULL); eviction: a 429 with a DisruptionBudget cause is an
 * answer, not throttling. The typed requests (kube_resources.c) use it. */
gf_err gf_kube_run(gf_kube *k, const char *method, const char *path, const char *content_type,
                   const char *body, bool eviction, gf_kube_reply *reply, gf_error *err);

/* One watch line: decodes it, notes 410s and ERRORs (x->gone,
 * x->error_event, x->bad with x->bad_msg), hands the event to x->on_event.
 * Non-zero: the watch ends. */
int gf_kube_xfer_watch_line(gf_kube_xfer *x, const char *line, size_t len);
/* A Retry-After header's value: seconds, or an HTTP-date (RFC 9110
 * 10.2.3) as seconds after now (0 when past); -1 when it is neither. */
double gf_kube_retry_after(const char *value, time_t now);
/* The error of a non-2xx answer with x->body: "HTTP 409 Conflict: <the
 * Status message>", control characters replaced; x->reason set. */
gf_err gf_kube_answer_error(gf_kube_xfer *x, long status, gf_err code, gf_error *err);
/* What a coordination.k8s.io/v1 Lease says (strings borrowed from lease):
 * holder ("" when none), duration (default_duration_s when absent or not
 * positive), transitions (0 when absent), acquireTime and resourceVersion
 * (NULL when absent). */
typedef struct gf_kube_lease_spec {
    const char *holder, *acquire_time, *rv;
    long long duration_s, transitions;
} gf_kube_lease_spec;
void gf_kube_lease_spec_of(const json_t *lease, long long default_duration_s,
                           gf_kube_lease_spec *out);
/* For the fuzzers (fuzz/fuzz_watch.c): what the cache does with one watch
 * line, or one list page, of kind, as if its transfer had brought it. A
 * line's result: non-zero when the watch would end; a page's: its error
 * (the list then starts over), or GF_OK (a last page replaces the store). */
int gf_kube_cache_feed_line(gf_kube_cache *c, gf_kube_kind kind, const char *line, size_t len);
gf_err gf_kube_cache_feed_page(gf_kube_cache *c, gf_kube_kind kind, const char *body, size_t len,
                               gf_error *err);
/* Exponential backoff with jitter for the attempt-th failure (1-based):
 * uniform in [d/2, d], d = min(base * 2^(attempt-1), max); never below
 * retry_after_s. */
double gf_kube_backoff(gf_kube *k, int attempt, double retry_after_s);

/* "/api/v1/namespaces/ns/pods/name/sub" into b; ns ignored for cluster-scoped
 * kinds, NULL/"" for all namespaces; name and sub may be NULL. */
void gf_kube_path(gf_sbuf *b, gf_kube_kind kind, const char *ns, const char *name, const char *sub);
/* "&key=value" (or "?key=value" first), value percent-encoded. */
void gf_kube_query(gf_sbuf *b, const char *key, const char *value);

/* Query parameters of a list (selectors). */
void gf_kube_list_query(gf_sbuf *b, const gf_kube_list_opts *o);
/* A list page's path: limit, selectors, continue (when not NULL). */
void gf_kube_list_path(gf_kube *k, gf_sbuf *path, gf_kube_kind kind, const gf_kube_list_opts *o,
                       const char *cont);
/* A watch's path: watch=1, resourceVersion (when not empty), bookmarks,
 * timeoutSeconds, selectors. */
void gf_kube_watch_path(gf_sbuf *path, gf_kube_kind kind, const gf_kube_list_opts *o,
                        const char *rv, int timeout_s);
/* Parses a list page: its items (kind and apiVersion completed) appended to
 * append_to (an array, or an object keyed by gf_kube_key_of); *rv its
 * resourceVersion, *cont its continue token or NULL (both malloc'd). */
gf_err gf_kube_list_page(const gf_sbuf *body, const char *where, gf_kube_kind kind,
                         json_t *append_to, char **rv, char **cont, gf_error *err);
/* Sets kind and apiVersion when absent (list items come without them). */
void gf_kube_complete_item(json_t *item, gf_kube_kind kind);
/* "namespace/name" (or "name" for cluster-scoped objects); false when the
 * object has no name or it does not fit. */
bool gf_kube_key_of(const json_t *obj, char *buf, size_t n);
/* metadata.resourceVersion, or NULL. */
const char *gf_kube_rv_of(const json_t *obj);

/* Secrets: overwrite then free. */
void gf_kube_wipe(void *p, size_t n);
void gf_kube_free_secret(char *s);

#endif
