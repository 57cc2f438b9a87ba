/* standin.h - a stand-in Kubernetes API server for tests (libmicrohttpd,
 * one thread per connection), holding objects in memory and enforcing the
 * parts of the REST contract gpufrac relies on:
 *
 *   - one global resourceVersion counter (etcd's revision): every write gets
 *     the next value; lists answer metadata.resourceVersion, paginate with
 *     limit/continue, filter by labelSelector/fieldSelector;
 *   - watches stream newline-delimited events after the resourceVersion asked
 *     for (all objects as ADDED when it is empty or "0"), BOOKMARKs when idle
 *     with allowWatchBookmarks, end after timeoutSeconds; a resourceVersion
 *     older than the retained event window gets an ERROR event holding a 410
 *     Status (reason "Expired"), as the real server sends; objects moving
 *     into or out of a watch's selectors appear as ADDED/DELETED;
 *   - POST creates (409 AlreadyExists, generateName), PUT updates and PATCH
 *     (application/merge-patch+json, RFC 7386; other patch types 415) refuse
 *     a stale metadata.resourceVersion with 409 Conflict; a no-op patch
 *     writes nothing; DELETE;
 *   - pods/<name>/eviction (policy/v1): 429 with a DisruptionBudget cause when
 *     the one PodDisruptionBudget selecting the pod has disruptionsAllowed 0,
 *     500 when several select it, else decrements it and deletes the pod at
 *     once (no grace period is simulated); pending or finished pods are
 *     deleted without a PDB check, as the real server does;
 *   - Bearer token authentication (401 Status without it), optional HTTPS.
 * Stricter than the real server: a continue token is refused with 410 once
 * its kind changed after the first page (the real one serves the old
 * snapshot from etcd). Leases get no semantics beyond optimistic concurrency:
 * the real server has none either.
 *
 * Fault injection (gf_standin_add_fault, or POST /standin/faults): the next N
 * requests that match answer a status (429 with Retry-After, 500, ...), wait
 * first, or lose their connection. Control endpoints under /standin/ need no
 * token: faults, objects (POST a List or object; DELETE
 * /standin/objects/<kind>/[<ns>/]<name>), compact, drop-watches, requests. */
#ifndef GF_STANDIN_H
#define GF_STANDIN_H

#include "model/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gf_standin gf_standin;

typedef struct gf_standin_opts {
    int port;                 /* 0: any free port (127.0.0.1 only) */
    const char *token;        /* the Bearer token required; NULL: no authentication */
    size_t window;            /* watch events retained (older versions get 410): 0 = 1000 */
    int bookmark_ms;          /* an idle watch gets a BOOKMARK this often: 0 = 1000 */
    int max_watch_s;          /* cap on timeoutSeconds (and its default): 0 = 1800 */
    const char *tls_cert_pem; /* HTTPS with this certificate and key (PEM text) */
    const char *tls_key_pem;
} gf_standin_opts;

gf_err gf_standin_start(gf_standin **out, const gf_standin_opts *o, gf_error *err);
/* Ends open watches, stops serving, frees. Accepts NULL. */
void gf_standin_stop(gf_standin *s);
int gf_standin_port(const gf_standin *s);
/* "http://127.0.0.1:PORT" (https:// with TLS). */
const char *gf_standin_url(const gf_standin *s);

/* Loads a JSON file (an object, a List or a typed list such as PodList), or
 * every *.json in a folder in name order, as creations. */
gf_err gf_standin_load(gf_standin *s, const char *path, gf_error *err);
/* Creates or replaces an object (its kind says where), as a write by
 * someone else would: a new resourceVersion and an ADDED/MODIFIED event. */
gf_err gf_standin_put(gf_standin *s, const char *json, gf_error *err);
/* Deletes (a DELETED event). ns NULL for cluster-scoped kinds. */
gf_err gf_standin_remove(gf_standin *s, const char *kind, const char *ns, const char *name,
                         gf_error *err);
/* The stored object as JSON (malloc'd), or NULL. */
char *gf_standin_get(gf_standin *s, const char *kind, const char *ns, const char *name);
/* The current resourceVersion (the last write's). */
uint64_t gf_standin_rv(gf_standin *s);
/* Forgets every retained event: watches from any earlier resourceVersion
 * get 410. expire_open: open watches also get an ERROR 410 event and end. */
void gf_standin_compact(gf_standin *s, bool expire_open);
/* Aborts every open watch connection (no chunked terminator: the client sees
 * a broken transfer). */
void gf_standin_drop_watches(gf_standin *s);
/* Changes the Bearer token required from now on (NULL: none), as a token
 * rotation on the server side. */
void gf_standin_set_token(gf_standin *s, const char *token);
/* silent: open and new watches answer 200 and then send nothing at all, no
 * event, no bookmark, until it is turned off (a server, or a proxy, that
 * went quiet without closing); events meanwhile are kept and sent after. */
void gf_standin_set_silent(gf_standin *s, bool silent);
/* Watches being served now. */
int gf_standin_open_watches(gf_standin *s);

typedef struct gf_standin_fault {
    const char *method; /* "GET", ...; NULL: any */
    const char *path;   /* substring of the request path; NULL: any */
    int watch;          /* 1: watches only, 0: non-watch requests only, -1: both */
    int count;          /* requests it applies to */
    int status;         /* answer this (a Status object); 0: answer normally */
    int retry_after_s;  /* with status: a Retry-After header when > 0 */
    int delay_ms;       /* wait this long before answering */
    bool drop;          /* close the connection without an answer */
} gf_standin_fault;

void gf_standin_add_fault(gf_standin *s, const gf_standin_fault *f);

/* Requests answered whose "METHOD path?query" contains needle (NULL: any)
 * with status (0: any) and method (NULL: any). Query values are shown
 * decoded. */
size_t gf_standin_count(gf_standin *s, const char *method, const char *needle, int status);

#endif
