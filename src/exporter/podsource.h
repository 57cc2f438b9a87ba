/* podsource.h - where the exporter gets its node's pod list, and when it
 * fetches it again.
 *
 * Sources:
 *   file       a PodList JSON file (tests, offline runs, debugging);
 *   kubelet    GET <url>/pods on the node's kubelet (https://NODE:10250),
 *              authorised as nodes/proxy; serving certificates are often
 *              self-signed, hence the insecure option;
 *   apiserver  GET <url>/api/v1/pods?fieldSelector=spec.nodeName=<node>,
 *              authorised as pods list.
 * HTTP sources send "Authorization: Bearer <token>" read from token_file at
 * every fetch (projected service-account tokens rotate) and verify TLS with
 * ca_file (or the system store). Limits: 5 s to connect, 20 s in all,
 * GF_PODSRC_MAX_BYTES of answer; no redirects.
 *
 * The list is refreshed every refresh_s seconds and, when the exporter meets
 * a pod UID or container ID the list does not know (a pod started since),
 * at once, but never twice within retry_s seconds (this also spaces retries
 * after a failure). A failed refresh keeps the previous list. */
#ifndef GF_PODSOURCE_H
#define GF_PODSOURCE_H

#include "model/err.h"
#include "exporter/podlist.h"
#include "util/sbuf.h"

#include <stdbool.h>
#include <stdint.h>

#define GF_PODSRC_MAX_BYTES (64u << 20)

typedef enum gf_podsrc_kind {
    GF_PODSRC_NONE = 0, /* no pod list: every pod process is unattributed */
    GF_PODSRC_FILE,
    GF_PODSRC_KUBELET,
    GF_PODSRC_APISERVER
} gf_podsrc_kind;

typedef struct gf_podsrc_config {
    gf_podsrc_kind kind;
    const char *location;   /* file path, or kubelet / API server base URL */
    const char *node_name;  /* required for the API server */
    const char *token_file; /* NULL: no Authorization header */
    const char *ca_file;    /* NULL: the system's CA store */
    bool insecure;          /* do not verify the server's certificate */
    double refresh_s;       /* > 0 */
    double retry_s;         /* >= 0 */
    /* KAI's configurable names (scheduler, reservation namespace and app
     * label); a NULL member: KAI's default. Borrowed, not copied. */
    gf_kai_names kai;
} gf_podsrc_config;

typedef struct gf_podsrc {
    gf_podsrc_config cfg; /* strings copied */
    char *url;            /* what is fetched (file path for files) */
    gf_podlist *list;     /* the current list; NULL until the first success */
    double last_attempt;  /* monotonic seconds, < 0 before the first */
    double last_success;
    uint64_t refreshes; /* attempts */
    uint64_t errors;    /* failed attempts */
} gf_podsrc;

/* Checks cfg and builds the URL (GF_EUSAGE when, e.g., the API server is
 * given without a node name or the URL is not http(s)). Copies the strings. */
gf_err gf_podsrc_init(gf_podsrc *s, const gf_podsrc_config *cfg, gf_error *err);
void gf_podsrc_free(gf_podsrc *s); /* accepts NULL */

/* True when a regular refresh is due at `now` (monotonic seconds). */
bool gf_podsrc_due(const gf_podsrc *s, double now);
/* True when an early refresh (unknown pod) is allowed at `now`. */
bool gf_podsrc_may_retry(const gf_podsrc *s, double now);

/* Fetches and parses the list now; on success it replaces s->list (warnings
 * about single pods go to d). Counts the attempt either way. A source of
 * kind NONE succeeds with no list. */
gf_err gf_podsrc_refresh(gf_podsrc *s, double now, gf_diags *d, gf_error *err);

/* GET url with the source's authentication and limits; the 2xx body into out. */
gf_err gf_podsrc_fetch(const gf_podsrc_config *cfg, const char *url, gf_sbuf *out, gf_error *err);

#endif
