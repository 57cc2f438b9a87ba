/* elector.c - the leader-election thread, see elector.h. */
#include "io/kube/elector.h"
#include "util/xalloc.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gf_elector {
    gf_kube *k;
    gf_kube_leader l;
    double period_s, deadline_s;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* stop requests; attempts */
    bool stop;
    bool leading;
    double renewed_at; /* monotonic seconds of the last successful renewal */
    gf_elector_status st;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void deadline_in(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    long long ns = (long long)ts->tv_nsec + (long long)(s * 1e9);
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

static void *run(void *arg)
{
    gf_elector *e = arg;
    for (;;) {
        bool leading = false;
        gf_error err = {0};
        gf_err rc = gf_kube_leader_try(e->k, &e->l, &leading, &err);
        pthread_mutex_lock(&e->mu);
        e->leading = leading;
        if (leading) e->renewed_at = e->l.renewed_at;
        e->st.attempts++;
        snprintf(e->st.holder, sizeof e->st.holder, "%s", e->l.holder);
        if (rc) {
            e->st.errors++;
            gf_error_format(&err, e->st.last_error, sizeof e->st.last_error);
        }
        pthread_cond_broadcast(&e->cv);
        struct timespec until;
        deadline_in(&until, e->period_s);
        while (!e->stop && pthread_cond_timedwait(&e->cv, &e->mu, &until) != ETIMEDOUT) {
        }
        bool stop = e->stop;
        pthread_mutex_unlock(&e->mu);
        if (stop) break;
    }
    return NULL;
}

gf_err gf_elector_start(gf_kube *k, const gf_elector_opts *o, gf_elector **out, gf_error *err)
{
    *out = NULL;
    if (!o->identity || !*o->identity || !o->name || !*o->name || !o->ns || !*o->ns ||
        o->lease_duration_s < 2) {
        gf_kube_free(k);
        return gf_error_set(err, GF_EUSAGE, NULL,
                            "leader election needs a Lease name, namespace, identity and a "
                            "duration of at least 2 s");
    }
    gf_elector *e = gf_xcalloc(1, sizeof *e);
    e->k = k;
    gf_kube_leader_init(&e->l, o->ns, o->name, o->identity, o->lease_duration_s);
    e->period_s = o->lease_duration_s / 3.0;
    e->deadline_s = o->lease_duration_s * 2.0 / 3.0;
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&e->thread, NULL, run, e);
    if (rc) {
        gf_elector_stop(e);
        return gf_error_set(err, GF_EINTERNAL, NULL, "cannot start the leader-election thread: %s",
                            strerror(rc));
    }
    e->started = true;
    *out = e;
    return GF_OK;
}

bool gf_elector_leading(gf_elector *e)
{
    if (!e) return true;
    pthread_mutex_lock(&e->mu);
    bool ok = e->leading && mono() - e->renewed_at < e->deadline_s;
    pthread_mutex_unlock(&e->mu);
    return ok;
}

double gf_elector_write_time_left(gf_elector *e)
{
    if (!e) return INFINITY;
    pthread_mutex_lock(&e->mu);
    double left = e->leading ? e->renewed_at + e->deadline_s - mono() : 0;
    pthread_mutex_unlock(&e->mu);
    return left > 0 ? left : 0;
}

void gf_elector_wait_first(gf_elector *e, int timeout_ms)
{
    if (!e) return;
    struct timespec until;
    deadline_in(&until, timeout_ms / 1000.0);
    pthread_mutex_lock(&e->mu);
    while (!e->st.attempts && pthread_cond_timedwait(&e->cv, &e->mu, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&e->mu);
}

void gf_elector_get_status(gf_elector *e, gf_elector_status *st)
{
    pthread_mutex_lock(&e->mu);
    *st = e->st;
    st->leading = e->leading && mono() - e->renewed_at < e->deadline_s;
    pthread_mutex_unlock(&e->mu);
}

void gf_elector_stop(gf_elector *e)
{
    if (!e) return;
    if (e->started) {
        pthread_mutex_lock(&e->mu);
        e->stop = true;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
        gf_error err = {0};
        if (e->l.leading) gf_kube_leader_release(e->k, &e->l, &err);
    }
    gf_kube_leader_free(&e->l);
    gf_kube_free(e->k);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}
