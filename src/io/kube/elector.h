/* elector.h - leader election in a thread of its own, on a
 * coordination.k8s.io Lease (kube.h's gf_kube_leader_try), so that renewals
 * keep their pace whatever the controller's loop is waiting for (a slow
 * Prometheus, an API request being retried).
 *
 * Timing follows client-go's leaderelection: an attempt every
 * lease_duration/3 (its RetryPeriod), and this replica counts as leading
 * only while its last successful renewal is younger than 2/3 of the lease
 * duration (its RenewDeadline). Another candidate takes the Lease over only
 * a full lease duration after it last saw it change, so the old leader has
 * stopped writing before the new one starts: two replicas never write at
 * once, even when the old one cannot reach the API server. */
#ifndef GF_ELECTOR_H
#define GF_ELECTOR_H

#include "io/kube/kube.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct gf_elector gf_elector;

typedef struct gf_elector_opts {
    const char *ns, *name; /* the Lease */
    const char *identity;  /* this replica: the pod name, or host name and PID */
    int lease_duration_s;  /* 15 */
} gf_elector_opts;

typedef struct gf_elector_status {
    bool leading;
    char holder[256];  /* holderIdentity last seen */
    uint64_t attempts; /* completed attempts */
    uint64_t errors;   /* failed attempts (network, 5xx, RBAC) */
    char last_error[700];
} gf_elector_status;

/* Takes k (the thread's own client: gf_kube is single-threaded) and starts
 * the thread; k is freed by gf_elector_stop, also when this fails. */
gf_err gf_elector_start(gf_kube *k, const gf_elector_opts *o, gf_elector **out, gf_error *err);

/* Leading now (see above). Thread-safe. */
bool gf_elector_leading(gf_elector *e);

/* The seconds this replica may still write: while leading, until its last
 * renewal is 2/3 of the lease duration old (the RenewDeadline; the Lease
 * passes to another a whole duration after it last changed); 0 when not
 * leading; INFINITY for e NULL. Thread-safe. */
double gf_elector_write_time_left(gf_elector *e);

/* Waits until the first attempt is over, at most timeout_ms. */
void gf_elector_wait_first(gf_elector *e, int timeout_ms);

void gf_elector_get_status(gf_elector *e, gf_elector_status *st);

/* Stops the thread, gives the Lease up when held (so the next leader need
 * not wait for it to expire) and frees. Accepts NULL. */
void gf_elector_stop(gf_elector *e);

#endif
