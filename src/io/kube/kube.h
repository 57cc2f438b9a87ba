/* kube.h - a Kubernetes API client: configuration (kubeconfig or the
 * in-cluster service account), requests (get, paginated list, streaming
 * watch, merge patch with a resourceVersion precondition, Events, Evictions,
 * Leases for leader election) and a watch-based cache ("informer") of the
 * objects gpufrac models. libcurl + jansson; see docs/kube-client.md.
 *
 * Threading: a gf_kube and everything made from it belong to one thread at a
 * time. The cache is driven by gf_kube_cache_step() (libcurl's multi
 * interface: every list and watch of the cache shares one poll), so a
 * controller's decision loop is a plain single-threaded loop.
 *
 * Contract followed (Kubernetes API concepts, "Efficient detection of
 * changes" and "Resource versions"; client-go's reflector and leaderelection):
 *   - list, remember the list's metadata.resourceVersion, watch from it;
 *   - a watch answers 410 Gone, or streams an ERROR event holding a Status
 *     with code 410 (reason "Expired"), when that version has been compacted:
 *     the caller must list again;
 *   - BOOKMARK events only move the resourceVersion on;
 *   - an update or patch carrying metadata.resourceVersion fails with 409
 *     Conflict when the object changed since: re-read and retry;
 *   - 429 Too Many Requests carries Retry-After seconds; except on the
 *     Eviction subresource, where 429 with a "DisruptionBudget" cause means a
 *     PodDisruptionBudget forbids the eviction now.
 * Secrets (tokens, keys) never appear in messages. */
#ifndef GF_KUBE_H
#define GF_KUBE_H

#include "model/err.h"
#include "model/model.h"
#include "util/sbuf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- errors -------------------------------------------------------------------
 * Answers a caller acts on differently, as gf_err values below the core's
 * range (err.h), so they travel through every function returning gf_err.
 * gf_kube_strerror() names them (and the core's codes); gf_err_exit_code()
 * gives 1 for all of them. 404 is GF_ENOTFOUND, 400/422 GF_EINPUT, other
 * failures (network, 5xx, bad answers) GF_EIO. */
#define GF_KUBE_ECONFLICT ((gf_err)-20) /* 409: stale resourceVersion, or already exists */
#define GF_KUBE_EGONE ((gf_err)-21)     /* 410: resourceVersion too old: list again */
#define GF_KUBE_EPDB ((gf_err)-22)      /* eviction refused: a PodDisruptionBudget forbids it now */
#define GF_KUBE_EAUTH ((gf_err)-23)     /* 401 Unauthorized or 403 Forbidden */
#define GF_KUBE_ETHROTTLED ((gf_err)-24) /* still 429 (or Retry-After too long) after retries */
#define GF_KUBE_ELEASE ((gf_err)-25)     /* a write not sent: the write guard's time ran out */

const char *gf_kube_strerror(gf_err code);

/* --- configuration --------------------------------------------------------------- */

typedef struct gf_kube_blob {
    unsigned char *data; /* owned; decoded from a *-data field (PEM text) */
    size_t len;
} gf_kube_blob;

typedef struct gf_kube_config {
    char *server;           /* "https://10.0.0.1:6443", no trailing '/' */
    bool insecure;          /* insecure-skip-tls-verify: no server certificate check */
    char *ca_file;          /* certificate-authority, absolute path, or NULL */
    gf_kube_blob ca_data;   /* certificate-authority-data */
    char *cert_file;        /* client-certificate */
    gf_kube_blob cert_data; /* client-certificate-data */
    char *key_file;         /* client-key */
    gf_kube_blob key_data;  /* client-key-data (secret) */
    char *token;            /* user token (secret), or NULL */
    char *token_file;       /* tokenFile / service account token: re-read when it changes */
    char *ns;               /* the context's namespace; "default" when unset */
    char origin[600];       /* for messages: "kubeconfig /root/.kube/config, context prod" */
} gf_kube_config;

void gf_kube_config_init(gf_kube_config *c);
/* Frees and overwrites the secrets; accepts NULL; c is reusable after init. */
void gf_kube_config_free(gf_kube_config *c);

/* Parses kubeconfig YAML (kind: Config). name is used in messages; relative
 * file paths in it are resolved against base_dir (the kubeconfig's folder, as
 * kubectl does; NULL: the current directory). context NULL: current-context.
 * Reads no files. Supported: clusters[].cluster.{server,
 * certificate-authority(-data), insecure-skip-tls-verify},
 * users[].user.{token, tokenFile, client-certificate(-data),
 * client-key(-data)}, contexts[].context.{cluster, user, namespace}; users
 * with exec/auth-provider/username are refused with a message that says so.
 * Errors (GF_EINPUT) name the place: "config:12:5: users[0].user.token: ..."
 * or "config: context \"prod\" names cluster \"c\", which is not in clusters".
 * On error c is left empty. */
gf_err gf_kube_config_parse(gf_kube_config *c, const char *name, const char *text, size_t len,
                            const char *base_dir, const char *context, gf_error *err);

/* Reads a kubeconfig file. path NULL: the first file of $KUBECONFIG (a
 * colon-separated list is not merged as kubectl does: only its first entry is
 * read), else $HOME/.kube/config. */
gf_err gf_kube_config_load_file(gf_kube_config *c, const char *path, const char *context,
                                gf_error *err);

/* In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, and
 * dir/token (re-read when it changes: projected tokens rotate), dir/ca.crt,
 * dir/namespace. dir NULL: /var/run/secrets/kubernetes.io/serviceaccount. */
gf_err gf_kube_config_in_cluster(gf_kube_config *c, const char *dir, gf_error *err);

/* The in-cluster config when KUBERNETES_SERVICE_HOST is set and path is NULL,
 * else gf_kube_config_load_file(path, context). */
gf_err gf_kube_config_auto(gf_kube_config *c, const char *path, const char *context, gf_error *err);

/* --- the client ------------------------------------------------------------------- */

typedef struct gf_kube_options {
    long connect_timeout_ms;   /* 5000 */
    long request_timeout_ms;   /* a whole non-watch request: 30000 */
    size_t max_response_bytes; /* one answer (a list page): 64 MiB */
    size_t max_event_bytes;    /* one watch event line: 16 MiB */
    int max_attempts;          /* per request, counting the first: 5 */
    int max_conflict_retries;  /* re-reads after 409 in gf_kube_patch_retry: 5 */
    double backoff_base_s;     /* first retry after about this: 0.2 */
    double backoff_max_s;      /* backoff ceiling: 30 */
    double max_retry_after_s;  /* a longer Retry-After is not waited for: 60 */
    int watch_timeout_s;       /* timeoutSeconds asked of a watch, jittered up to x2: 300 */
    unsigned list_page_size;   /* limit= for lists: 500 */
    const char *component;     /* Events' source and reportingComponent: "gpufrac" */
} gf_kube_options;

void gf_kube_options_default(gf_kube_options *o);

/* A write guard (leader election): the seconds this process may still
 * write, INFINITY for no limit. */
typedef double (*gf_kube_write_guard)(void *ctx);

/* Writes shorter than this are not attempted (the request would be cut
 * before an answer could come). */
#define GF_KUBE_MIN_WRITE_S 1.0

typedef struct gf_kube gf_kube;

/* Copies cfg and opt (NULL: defaults). Checks that the files cfg names can be
 * read (CA, certificate, key, token file). */
gf_err gf_kube_new(gf_kube **out, const gf_kube_config *cfg, const gf_kube_options *opt,
                   gf_error *err);

/* Asked before every attempt of every request but a GET: with less than
 * GF_KUBE_MIN_WRITE_S left the request is not sent (GF_KUBE_ELEASE), else
 * the attempt's timeout is cut to the time left, so that no write of a
 * replica can land after its Lease could have passed to another, even when
 * it was paused between "may I write" and the request. fn NULL: none. */
void gf_kube_set_write_guard(gf_kube *k, gf_kube_write_guard fn, void *ctx);
void gf_kube_free(gf_kube *k); /* accepts NULL */
/* The server URL as messages show it (without any user:password@). */
const char *gf_kube_server(const gf_kube *k);
const char *gf_kube_namespace(const gf_kube *k);
const gf_kube_options *gf_kube_get_options(const gf_kube *k);

/* --- kinds ------------------------------------------------------------------------- */

typedef enum gf_kube_kind {
    GF_KUBE_POD,
    GF_KUBE_NODE,
    GF_KUBE_REPLICASET,
    GF_KUBE_DEPLOYMENT,
    GF_KUBE_STATEFULSET,
    GF_KUBE_DAEMONSET,
    GF_KUBE_JOB,
    GF_KUBE_PDB,
    GF_KUBE_LEASE,
    GF_KUBE_EVENT,
    /* KAI's governance (issue 12); served only where KAI is installed */
    GF_KUBE_QUEUE,
    GF_KUBE_PODGROUP,
    GF_KUBE_PRIORITYCLASS,
    GF_KUBE_SHARD,
    GF_KUBE_KIND_COUNT
} gf_kube_kind;

typedef struct gf_kube_resource {
    const char *kind;        /* "Deployment" */
    const char *api_version; /* "apps/v1" */
    const char *prefix;      /* "/apis/apps/v1" */
    const char *plural;      /* "deployments" */
    bool namespaced;
    bool optional; /* a 404 means the cluster does not serve it (a CRD not installed) */
} gf_kube_resource;

const gf_kube_resource *gf_kube_resource_of(gf_kube_kind kind);
/* kind name ("Pod") -> kind; false when not one of ours. */
bool gf_kube_kind_from_name(const char *name, gf_kube_kind *kind);

/* --- requests ----------------------------------------------------------------------
 * Retries with exponential backoff and jitter, at most options.max_attempts
 * times: 429 (waiting at least Retry-After) always; connection failures,
 * timeouts, 500/502/503/504 for GET, PUT, PATCH and DELETE (idempotent, or
 * guarded by a resourceVersion precondition), not for POST (only a refused
 * connection, where nothing was sent). A final non-2xx answer gives the code
 * above with the Status message: "PATCH https://h/apis/apps/v1/namespaces/
 * a/deployments/x: HTTP 409 Conflict: Operation cannot be fulfilled ...". */

typedef struct gf_kube_reply {
    long status;          /* HTTP status of the last attempt; 0: no answer */
    gf_sbuf body;         /* its body */
    double retry_after_s; /* its Retry-After, -1 when none */
    int attempts;         /* requests sent */
    char reason[64];      /* a Status answer's reason ("Conflict", "Expired"), or "" */
} gf_kube_reply;

void gf_kube_reply_free(gf_kube_reply *r); /* accepts NULL */

/* path starts with '/' and may carry a query; body NULL for none. */
gf_err gf_kube_request(gf_kube *k, const char *method, const char *path, const char *content_type,
                       const char *body, gf_kube_reply *reply, gf_error *err);

/* One object; *obj owned by the caller (json_decref). ns ignored for
 * cluster-scoped kinds. */
gf_err gf_kube_get(gf_kube *k, gf_kube_kind kind, const char *ns, const char *name, json_t **obj,
                   gf_error *err);

typedef struct gf_kube_list_opts {
    const char *ns;             /* NULL or "": all namespaces */
    const char *label_selector; /* "app=llm,tier!=batch", or NULL */
    const char *field_selector; /* "spec.nodeName=gpu-1", or NULL */
} gf_kube_list_opts;

/* Every page (limit/continue). *items: a new array of the objects, each with
 * kind and apiVersion set (list items come without them); *rv: the list's
 * resourceVersion (malloc'd). A continue token that expired (410) restarts
 * the list once. */
gf_err gf_kube_list(gf_kube *k, gf_kube_kind kind, const gf_kube_list_opts *o, json_t **items,
                    char **rv, gf_error *err);

typedef enum gf_kube_event_type {
    GF_KUBE_ADDED,
    GF_KUBE_MODIFIED,
    GF_KUBE_DELETED,
    GF_KUBE_BOOKMARK,
    GF_KUBE_ERROR
} gf_kube_event_type;

const char *gf_kube_event_type_name(gf_kube_event_type t);

/* Called per watch event; object borrowed. Non-zero stops the watch. */
typedef int (*gf_kube_watch_fn)(gf_kube_event_type type, const json_t *object, void *user);

/* A blocking watch from resourceVersion rv (with allowWatchBookmarks), for
 * timeout_s (0: options.watch_timeout_s). Events are delivered as their lines
 * arrive. GF_OK when the server ended the stream or fn stopped it;
 * GF_KUBE_EGONE for a 410 (answer or ERROR event): list again. ERROR events
 * reach fn before the return. No retries: the cache does that. */
gf_err gf_kube_watch(gf_kube *k, gf_kube_kind kind, const gf_kube_list_opts *o, const char *rv,
                     int timeout_s, gf_kube_watch_fn fn, void *user, gf_error *err);

/* PATCH with application/merge-patch+json (RFC 7386). rv not NULL: written
 * into the patch as metadata.resourceVersion, a precondition (409 ->
 * GF_KUBE_ECONFLICT when the object changed). *result (when result is not
 * NULL) receives the patched object. */
gf_err gf_kube_merge_patch(gf_kube *k, gf_kube_kind kind, const char *ns, const char *name,
                           const json_t *patch, const char *rv, json_t **result, gf_error *err);

/* Builds a merge patch for the current object; *patch NULL: nothing to do.
 * An error stops gf_kube_patch_retry with it. */
typedef gf_err (*gf_kube_patch_fn)(const json_t *current, json_t **patch, void *user,
                                   gf_error *err);

/* Read-modify-write: GET, fn, PATCH preconditioned on the resourceVersion
 * read; on 409 read again and call fn again, up to
 * options.max_conflict_retries times (then GF_KUBE_ECONFLICT). */
gf_err gf_kube_patch_retry(gf_kube *k, gf_kube_kind kind, const char *ns, const char *name,
                           gf_kube_patch_fn fn, void *user, json_t **result, gf_error *err);

typedef struct gf_kube_ref {
    gf_kube_kind kind;
    const char *ns; /* NULL for cluster-scoped kinds */
    const char *name;
    const char *uid; /* may be NULL */
} gf_kube_ref;

/* POSTs a core/v1 Event about an object: type "Normal" or "Warning" (by
 * warning), reason in UpperCamelCase ("FractionReduced"), message for
 * humans. Cluster-scoped objects' Events go to namespace "default". */
gf_err gf_kube_event(gf_kube *k, const gf_kube_ref *about, bool warning, const char *reason,
                     const char *message, gf_error *err);

/* POST pods/<name>/eviction (policy/v1 Eviction). grace_period_s < 0: the
 * pod's own. GF_OK: the pod is being deleted; GF_KUBE_EPDB: a
 * PodDisruptionBudget forbids it now (err quotes the server; try later,
 * reply's Retry-After is not waited for); GF_ENOTFOUND: no such pod. */
gf_err gf_kube_evict(gf_kube *k, const char *ns, const char *name, int grace_period_s,
                     gf_error *err);

/* --- leader election (coordination.k8s.io/v1 Lease) ----------------------------------
 * client-go's tryAcquireOrRenew: a Lease held by another identity is live
 * until leaseDurationSeconds have passed, on this process's monotonic clock,
 * since this process last saw it change (so clock skew between nodes does not
 * matter); only then is it taken over (leaseTransitions + 1). Renewals and
 * takeovers are updates carrying the resourceVersion read: a 409 means
 * another candidate won. */

typedef struct gf_kube_leader {
    char *ns, *name, *identity;
    int lease_duration_s;
    bool leading;
    char holder[256];      /* holderIdentity last seen ("" when none) */
    char observed_rv[64];  /* resourceVersion last seen */
    double observed_at;    /* monotonic seconds when it last changed */
    double renewed_at;     /* monotonic seconds of our last successful renewal */
    long long transitions; /* leaseTransitions last seen */
} gf_kube_leader;

void gf_kube_leader_init(gf_kube_leader *l, const char *ns, const char *name, const char *identity,
                         int lease_duration_s);
void gf_kube_leader_free(gf_kube_leader *l); /* accepts NULL */

/* One attempt; call it every lease_duration_s/3 or so. *leading says whether
 * this identity holds the lease now. On an error (network, 5xx) *leading stays
 * true only while our last renewal is younger than lease_duration_s. */
gf_err gf_kube_leader_try(gf_kube *k, gf_kube_leader *l, bool *leading, gf_error *err);

/* Gives a held lease up (empty holder, duration 1 s), so that another
 * candidate need not wait for it to expire. GF_OK when not leading. */
gf_err gf_kube_leader_release(gf_kube *k, gf_kube_leader *l, gf_error *err);

/* --- the watch cache -----------------------------------------------------------------
 * Per kind: list (paginated), then watch from the list's resourceVersion with
 * bookmarks; events update an in-memory store of the raw objects keyed
 * "namespace/name". A 410 (answer or ERROR event) or an undecodable event
 * relists (the store is replaced, and the difference reported as events);
 * a watch the server ends (timeoutSeconds) restarts from the last
 * resourceVersion at once; failures and dropped connections restart it after
 * a backoff with jitter (Retry-After honoured). */

#define GF_KUBE_KIND_BIT(k) (1u << (k))
/* Pods, Nodes, ReplicaSets, Deployments, StatefulSets, PodDisruptionBudgets. */
#define GF_KUBE_CACHE_DEFAULT_KINDS                                                                \
    (GF_KUBE_KIND_BIT(GF_KUBE_POD) | GF_KUBE_KIND_BIT(GF_KUBE_NODE) |                              \
     GF_KUBE_KIND_BIT(GF_KUBE_REPLICASET) | GF_KUBE_KIND_BIT(GF_KUBE_DEPLOYMENT) |                 \
     GF_KUBE_KIND_BIT(GF_KUBE_STATEFULSET) | GF_KUBE_KIND_BIT(GF_KUBE_PDB) |                       \
     GF_KUBE_CACHE_GOVERNANCE_KINDS)
/* KAI's Queues, PodGroups, SchedulingShards and the PriorityClasses: kinds a
 * cluster may not serve; the cache holds them empty after a 404
 * (gf_kube_cache_absent) and lists again every GF_KUBE_ABSENT_RELIST_S. */
#define GF_KUBE_CACHE_GOVERNANCE_KINDS                                                             \
    (GF_KUBE_KIND_BIT(GF_KUBE_QUEUE) | GF_KUBE_KIND_BIT(GF_KUBE_PODGROUP) |                        \
     GF_KUBE_KIND_BIT(GF_KUBE_PRIORITYCLASS) | GF_KUBE_KIND_BIT(GF_KUBE_SHARD))
#define GF_KUBE_ABSENT_RELIST_S 300.0

typedef struct gf_kube_cache gf_kube_cache;

/* Called for each change applied to the store (after it is applied; a
 * DELETED object is the last state known). Not for bookmarks. */
typedef void (*gf_kube_cache_fn)(gf_kube_kind kind, gf_kube_event_type type, const json_t *object,
                                 void *user);

typedef struct gf_kube_cache_opts {
    unsigned kinds;             /* GF_KUBE_KIND_BIT()s; 0: GF_KUBE_CACHE_DEFAULT_KINDS */
    const char *ns;             /* namespaced kinds from this namespace only; NULL: all */
    gf_kube_cache_fn on_change; /* may be NULL */
    void *user;
    /* A watch that brings neither an event nor a bookmark for this long is
     * taken for dead and started again from its resourceVersion (a
     * connection that answered 200 and then went silent). 0: the default,
     * GF_KUBE_WATCH_SILENCE_S. */
    double silence_s;
} gf_kube_cache_opts;

/* Three bookmark periods: kube-apiserver's watch cache sends a watch that
 * asked for bookmarks one about once a minute besides the one before its
 * deadline (kubernetes staging/src/k8s.io/apiserver/pkg/storage/cacher/
 * cacher.go, defaultBookmarkFrequency = time.Minute). A healthy but quiet
 * kind keeps the cache's age under a minute or so. */
#define GF_KUBE_WATCH_SILENCE_S 180.0

typedef struct gf_kube_cache_stats {
    uint64_t lists;        /* complete lists (first and re-lists) */
    uint64_t relists_gone; /* lists because of a 410 */
    uint64_t watches;      /* watch requests started */
    uint64_t events;       /* ADDED/MODIFIED/DELETED applied from watches */
    uint64_t bookmarks;
    uint64_t failures;        /* failed list or watch requests (retried) */
    uint64_t silent_restarts; /* watches restarted after silence_s without a word */
} gf_kube_cache_stats;

/* Seconds since the cache last heard from the API server about its stalest
 * kind (an event, a bookmark or a complete list); +Inf before every kind
 * is listed. */
double gf_kube_cache_age(const gf_kube_cache *c);

/* k must outlive the cache. */
gf_err gf_kube_cache_new(gf_kube_cache **out, gf_kube *k, const gf_kube_cache_opts *o,
                         gf_error *err);
void gf_kube_cache_free(gf_kube_cache *c); /* accepts NULL */

/* One round: starts the lists/watches that are due, waits up to timeout_ms
 * for traffic (less when a retry falls due sooner), applies what arrived.
 * GF_OK, or the first failure of the round (a list or watch that failed; it is
 * already rescheduled, so the caller only reports it and steps on). */
gf_err gf_kube_cache_step(gf_kube_cache *c, int timeout_ms, gf_error *err);

/* Steps until every kind has been listed (then GF_OK), or timeout_ms passed
 * (the last failure, or GF_EIO "not synced"). Stops early on GF_KUBE_EAUTH
 * and GF_ENOTFOUND (a kind the server does not serve). */
gf_err gf_kube_cache_sync(gf_kube_cache *c, int timeout_ms, gf_error *err);

bool gf_kube_cache_synced(const gf_kube_cache *c);
/* The optional kinds (gf_kube_resource.optional) the server answered 404
 * for at their last list, as GF_KUBE_KIND_BIT()s: held empty and synced. */
unsigned gf_kube_cache_absent(const gf_kube_cache *c);
/* Increments with every change to the store: rebuild the model when it moved. */
uint64_t gf_kube_cache_generation(const gf_kube_cache *c);
/* The resourceVersion the kind's store is at ("" before its first list). */
const char *gf_kube_cache_rv(const gf_kube_cache *c, gf_kube_kind kind);
size_t gf_kube_cache_count(const gf_kube_cache *c, gf_kube_kind kind);
/* The object (borrowed, valid until the next step), or NULL. */
const json_t *gf_kube_cache_get(const gf_kube_cache *c, gf_kube_kind kind, const char *ns,
                                const char *name);
void gf_kube_cache_get_stats(const gf_kube_cache *c, gf_kube_cache_stats *s);

/* The store as one `List` document (kinds in enum order, items sorted by
 * namespace/name), the shape `kubectl get ... -o json` prints. */
gf_err gf_kube_cache_write_list(const gf_kube_cache *c, gf_sbuf *out, gf_error *err);

/* The store through the same loader as `gpufrac inspect`
 * (gf_snapshot_load_buffer), then gf_model_finalize(). m is initialized by
 * the caller; messages name "cluster (resourceVersion ...)". */
gf_err gf_kube_cache_model(const gf_kube_cache *c, gf_model *m, gf_diags *d, gf_error *err);

#endif
