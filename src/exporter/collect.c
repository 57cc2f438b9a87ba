/* collect.c - one scrape: NVML readings, PID -> pod attribution, per-pod
 * sums and KAI allocations; see collect.h. */
#include "exporter/collect.h"
#include "exporter/cgroup.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_PROC_ROOT "/proc"
#define DEFAULT_NVML_RETRY_S 30.0
#define MIN_BUFFER 32         /* entries of the first NVML list buffers */
#define MAX_BUFFER (1u << 20) /* a list longer than this is a driver bug */
#define GROW_ATTEMPTS 5       /* calls per list before INSUFFICIENT_SIZE is an error */
#define LOGGED_KEYS 512       /* distinct messages remembered to log once */
#define MIB (1024.0 * 1024.0)

typedef enum pid_state { PID_POD, PID_HOST, PID_GONE } pid_state;

/* What a host PID was found to be; cached across scrapes. */
typedef struct pid_entry {
    unsigned pid;
    pid_state state;
    unsigned long long start_time;
    double checked; /* monotonic seconds of the last look at /proc */
    gf_cgroup_pod cg;
} pid_entry;

/* A process on one GPU in this scrape. */
typedef struct proc_rec {
    uint32_t gpu;
    unsigned pid;
    double memory;                /* bytes; NaN unknown */
    double sm;                    /* percent (summed exactly), NaN unknown */
    unsigned long long sample_ts; /* newest utilisation sample taken, 0 none */
    int32_t pod;                  /* index into the pod list, -1 none */
    const char *container;
    const char *reason; /* unattributed reason, NULL when attributed */
} proc_rec;

/* What is remembered of a GPU between scrapes, by UUID. */
typedef struct dev_state {
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    unsigned long long last_seen_us; /* newest process sample read */
    bool seen;                       /* in this scrape */
} dev_state;

struct gf_collector {
    char *proc_root, *node_name, *nvml_lib, *nvml_disable;
    double nvml_retry_s;
    bool verbose;
    gf_collect_log_fn log;
    void *log_ctx;

    gf_nvml nvml;
    bool nvml_up;
    double nvml_last_try;
    char nvml_error[700];

    /* The pod list: fetched by gf_collect itself, or (async) by a
     * refresher thread that owns `pods` and hands lists over in `fresh`. */
    gf_podsrc pods;
    gf_podlist *list; /* what attribution uses; owned */
    bool async;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu; /* guards fresh, want_early, stopping, refreshes, errors */
    pthread_cond_t cv;
    gf_podlist *fresh;
    bool want_early, stopping;
    uint64_t refreshes, errors;
    pthread_mutex_t log_mu; /* the refresher logs too */
    uint64_t nvml_errors[GF_NVML_NCALLS];

    GF_VEC(dev_state) devs;
    GF_VEC(pid_entry) pids; /* sorted by pid */
    GF_VEC(pid_entry) pids_next;
    GF_VEC(proc_rec) procs;
    nvmlProcessInfo_v2_t *pbuf;
    unsigned pbuf_cap;
    nvmlProcessUtilizationSample_t *ubuf;
    unsigned ubuf_cap;

    uint64_t logged[LOGGED_KEYS]; /* hashes of messages logged, FIFO */
    size_t logged_next;
};

/* --- small helpers ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *dup_or_null(const char *s)
{
    return s ? gf_xstrdup(s) : NULL;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h | 1; /* never 0, the empty slot */
}

/* Logs a message unless the same key was logged recently. */
static void log_once(gf_collector *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_once(gf_collector *c, const char *key, const char *fmt, ...)
{
    if (!c->log) return;
    uint64_t h = hash_str(key);
    pthread_mutex_lock(&c->log_mu);
    bool seen = false;
    for (size_t i = 0; i < LOGGED_KEYS && !seen; i++)
        seen = c->logged[i] == h;
    if (!seen) {
        c->logged[c->logged_next] = h;
        c->logged_next = (c->logged_next + 1) % LOGGED_KEYS;
    }
    pthread_mutex_unlock(&c->log_mu);
    if (seen) return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->log(c->log_ctx, msg);
}

static void log_now(gf_collector *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_now(gf_collector *c, const char *fmt, ...)
{
    if (!c->log) return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->log(c->log_ctx, msg);
}

static void log_diags(gf_collector *c, const gf_diags *d, bool once)
{
    for (size_t i = 0; i < d->msgs.n; i++) {
        if (once)
            log_once(c, d->msgs.v[i], "%s", d->msgs.v[i]);
        else
            log_now(c, "%s", d->msgs.v[i]);
    }
}

/* --- NVML ----------------------------------------------------------------- */

static void nvml_try_open(gf_collector *c, double now)
{
    c->nvml_last_try = now;
    gf_error err = {0};
    gf_diags d;
    gf_diags_init(&d);
    if (gf_nvml_open(&c->nvml, c->nvml_lib, c->nvml_disable, &d, &err) == GF_OK) {
        c->nvml_up = true;
        c->nvml_error[0] = '\0';
        log_diags(c, &d, false);
        log_now(c, "NVML ready (%s, driver %s)", c->nvml.symbol[GF_NVML_INIT],
                c->nvml.driver_version[0] ? c->nvml.driver_version : "unknown");
        for (int k = 0; c->verbose && k < GF_NVML_NCALLS; k++)
            if (c->nvml.symbol[k])
                log_now(c, "NVML %s: using %s", gf_nvml_call_name((gf_nvml_call)k),
                        c->nvml.symbol[k]);
    } else {
        c->nvml_up = false;
        gf_error_format(&err, c->nvml_error, sizeof c->nvml_error);
        c->nvml_errors[GF_NVML_INIT]++;
        log_once(c, c->nvml_error, "NVML unavailable, serving no GPUs: %s", c->nvml_error);
    }
    gf_diags_free(&d);
}

/* A GPU that answers this is gone for this scrape. */
static bool lost(nvmlReturn_t r)
{
    return r == NVML_ERROR_GPU_IS_LOST || r == NVML_ERROR_NOT_FOUND ||
           r == NVML_ERROR_GPU_NOT_FOUND;
}

static void count_error(gf_collector *c, gf_nvml_call call, const char *uuid, nvmlReturn_t r)
{
    char key[300], why[200];
    c->nvml_errors[call]++;
    snprintf(key, sizeof key, "nvml %d %s %d", (int)call, uuid, (int)r);
    log_once(c, key, "GPU %s: %s: %s", uuid, gf_nvml_call_name(call),
             gf_nvml_describe(&c->nvml, r, why, sizeof why));
}

static dev_state *dev_find(gf_collector *c, const char *uuid)
{
    for (size_t i = 0; i < c->devs.n; i++)
        if (!strcmp(c->devs.v[i].uuid, uuid)) return &c->devs.v[i];
    dev_state d;
    memset(&d, 0, sizeof d);
    snprintf(d.uuid, sizeof d.uuid, "%s", uuid);
    gf_vec_push(&c->devs, d);
    return &c->devs.v[c->devs.n - 1];
}

static void grow_pbuf(gf_collector *c, unsigned want)
{
    if (want <= c->pbuf_cap) return;
    c->pbuf = gf_xreallocarray(c->pbuf, want, sizeof *c->pbuf);
    c->pbuf_cap = want;
}

static void grow_ubuf(gf_collector *c, unsigned want)
{
    if (want <= c->ubuf_cap) return;
    c->ubuf = gf_xreallocarray(c->ubuf, want, sizeof *c->ubuf);
    c->ubuf_cap = want;
}

/* Next capacity after INSUFFICIENT_SIZE: what NVML asked for with slack
 * (the list may grow again before the next call), at least double. */
static unsigned next_cap(unsigned cap, unsigned needed)
{
    unsigned long long want = (unsigned long long)needed + needed / 2 + 8;
    if (want < (unsigned long long)cap * 2) want = (unsigned long long)cap * 2;
    return want > MAX_BUFFER ? MAX_BUFFER : (unsigned)want;
}

/* qsort, which must not see a NULL array even when empty */
static void sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1) qsort(v, n, size, cmp);
}

static int cmp_proc_pid(const void *a, const void *b)
{
    const proc_rec *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The record of pid among this GPU's records [first, procs.n), sorted by pid. */
static proc_rec *find_proc(gf_collector *c, size_t first, size_t sorted_end, unsigned pid)
{
    size_t lo = first, hi = sorted_end;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->procs.v[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sorted_end && c->procs.v[lo].pid == pid ? &c->procs.v[lo] : NULL;
}

static int cmp_sample(const void *a, const void *b)
{
    const nvmlProcessUtilizationSample_t *x = a, *y = b;
    if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
    return (x->timeStamp > y->timeStamp) - (x->timeStamp < y->timeStamp);
}

/* One process list into the GPU's records [first, procs.n), which stay
 * sorted by pid. Returns the NVML code. */
static nvmlReturn_t read_processes(gf_collector *c, nvmlDevice_t dev, gf_nvml_procs which,
                                   uint32_t gpu, size_t first)
{
    grow_pbuf(c, MIN_BUFFER);
    nvmlReturn_t r = NVML_ERROR_INSUFFICIENT_SIZE;
    unsigned count = 0;
    for (int attempt = 0; attempt < GROW_ATTEMPTS && r == NVML_ERROR_INSUFFICIENT_SIZE; attempt++) {
        count = c->pbuf_cap;
        r = gf_nvml_processes(&c->nvml, which, dev, c->pbuf, &count);
        if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
            if (c->pbuf_cap >= MAX_BUFFER) break;
            grow_pbuf(c, next_cap(c->pbuf_cap, count));
        }
    }
    if (r != NVML_SUCCESS) return r;
    if (count > c->pbuf_cap) count = c->pbuf_cap; /* a driver that overstates */
    if (count == 0) return NVML_SUCCESS;
    size_t base = c->procs.n;
    for (unsigned i = 0; i < count; i++) {
        const nvmlProcessInfo_v2_t *p = &c->pbuf[i];
        double mem = p->usedGpuMemory == NVML_VALUE_NOT_AVAILABLE ? NAN : (double)p->usedGpuMemory;
        proc_rec nr = {gpu, p->pid, mem, 0.0, 0, -1, NULL, NULL};
        gf_vec_push(&c->procs, nr);
    }
    sort(c->procs.v + base, c->procs.n - base, sizeof *c->procs.v, cmp_proc_pid);
    /* one PID twice in a list (contexts on several MIG instances): summed;
     * one PID in the compute and the graphics list: one process, the larger */
    size_t w = base;
    for (size_t k = base; k < c->procs.n; k++) {
        proc_rec rec = c->procs.v[k];
        if (w > base && c->procs.v[w - 1].pid == rec.pid) {
            c->procs.v[w - 1].memory += rec.memory;
            continue;
        }
        c->procs.v[w++] = rec;
    }
    c->procs.n = w;
    w = base;
    for (size_t k = base; k < c->procs.n; k++) {
        proc_rec rec = c->procs.v[k];
        proc_rec *old = find_proc(c, first, base, rec.pid);
        if (!old) {
            c->procs.v[w++] = rec;
        } else if (isnan(rec.memory) || isnan(old->memory)) {
            old->memory = NAN;
        } else if (rec.memory > old->memory) {
            old->memory = rec.memory;
        }
    }
    c->procs.n = w;
    sort(c->procs.v + first, c->procs.n - first, sizeof *c->procs.v, cmp_proc_pid);
    return NVML_SUCCESS;
}

/* New utilisation samples of the GPU into its records (sorted by pid). */
static nvmlReturn_t read_samples(gf_collector *c, nvmlDevice_t dev, dev_state *ds, uint32_t gpu,
                                 size_t first, double memory_default)
{
    grow_ubuf(c, MIN_BUFFER);
    nvmlReturn_t r = NVML_ERROR_INSUFFICIENT_SIZE;
    unsigned count = 0;
    for (int attempt = 0; attempt < GROW_ATTEMPTS && r == NVML_ERROR_INSUFFICIENT_SIZE; attempt++) {
        count = c->ubuf_cap;
        r = c->nvml.process_utilization(dev, c->ubuf, &count, ds->last_seen_us);
        if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
            if (c->ubuf_cap >= MAX_BUFFER) break;
            grow_ubuf(c, next_cap(c->ubuf_cap, count));
        }
    }
    if (r != NVML_SUCCESS) return r;
    if (count > c->ubuf_cap) count = c->ubuf_cap;
    if (count == 0) return NVML_SUCCESS;
    sort(c->ubuf, count, sizeof *c->ubuf, cmp_sample);
    size_t base = c->procs.n;
    unsigned long long newest = ds->last_seen_us;
    for (unsigned i = 0; i < count; i++) {
        const nvmlProcessUtilizationSample_t *s = &c->ubuf[i];
        if (s->timeStamp <= ds->last_seen_us) continue; /* not new: counted before */
        if (s->timeStamp > newest) newest = s->timeStamp;
        if (i + 1 < count && c->ubuf[i + 1].pid == s->pid) continue; /* the latest per PID */
        double sm = s->smUtil > 100 ? 100.0 : (double)s->smUtil;
        proc_rec *rec = find_proc(c, first, base, s->pid);
        if (rec) {
            rec->sm = sm;
            rec->sample_ts = s->timeStamp;
        } else {
            /* busy but in no process list: it exited since, or the lists failed */
            proc_rec nr = {gpu, s->pid, memory_default, sm, s->timeStamp, -1, NULL, NULL};
            gf_vec_push(&c->procs, nr);
        }
    }
    ds->last_seen_us = newest;
    if (c->procs.n > base)
        sort(c->procs.v + first, c->procs.n - first, sizeof *c->procs.v, cmp_proc_pid);
    return NVML_SUCCESS;
}

/* Reads GPU i into out->gpus and its processes into c->procs; a GPU that
 * is lost or cannot be identified is left out. */
static void collect_gpu(gf_collector *c, unsigned i, gf_scrape *out)
{
    nvmlDevice_t dev = NULL;
    char idx[32];
    snprintf(idx, sizeof idx, "index %u", i);
    nvmlReturn_t r = c->nvml.handle_by_index(i, &dev);
    if (r != NVML_SUCCESS) {
        count_error(c, GF_NVML_HANDLE, idx, r);
        return;
    }
    gf_gpu_reading g;
    memset(&g, 0, sizeof g);
    g.index = i;
    r = c->nvml.uuid(dev, g.uuid, sizeof g.uuid);
    g.uuid[sizeof g.uuid - 1] = '\0';
    if (r != NVML_SUCCESS || !g.uuid[0]) {
        count_error(c, GF_NVML_UUID, idx, r != NVML_SUCCESS ? r : NVML_ERROR_UNKNOWN);
        return; /* the UUID is the GPU's identity in every series */
    }
    dev_state *ds = dev_find(c, g.uuid);
    ds->seen = true;
    size_t first = c->procs.n;
    uint32_t gpu = (uint32_t)out->gpus.n;
    gf_nvml_call at = GF_NVML_NAME; /* the call that found the GPU lost */

    if (c->nvml.name) {
        r = c->nvml.name(dev, g.model, sizeof g.model);
        g.model[sizeof g.model - 1] = '\0';
        if (r != NVML_SUCCESS) {
            g.model[0] = '\0';
            if (lost(r)) goto gone; /* at == GF_NVML_NAME */
            count_error(c, GF_NVML_NAME, g.uuid, r);
        }
    }

    unsigned long long total = 0, used = 0;
    r = gf_nvml_memory(&c->nvml, dev, &total, &used);
    g.has_memory = r != NVML_ERROR_NOT_SUPPORTED;
    g.memory_total_bytes = g.memory_used_bytes = NAN;
    if (r == NVML_SUCCESS) {
        g.memory_total_bytes = (double)total;
        g.memory_used_bytes = (double)used;
    } else if (lost(r)) {
        at = GF_NVML_MEMORY;
        goto gone;
    } else if (g.has_memory) {
        count_error(c, GF_NVML_MEMORY, g.uuid, r);
    }

    g.sm_util = NAN;
    if (c->nvml.utilization) {
        nvmlUtilization_t u = {0, 0};
        r = c->nvml.utilization(dev, &u);
        g.has_sm = r != NVML_ERROR_NOT_SUPPORTED;
        if (r == NVML_SUCCESS) {
            g.sm_util = u.gpu > 100 ? 1.0 : u.gpu / 100.0;
        } else if (lost(r)) {
            at = GF_NVML_UTILIZATION;
            goto gone;
        } else if (g.has_sm) {
            count_error(c, GF_NVML_UTILIZATION, g.uuid, r);
        }
    }

    /* process memory: the compute and graphics lists */
    for (int w = 0; w < 2; w++) {
        gf_nvml_call call = w == GF_NVML_COMPUTE ? GF_NVML_COMPUTE_PROCS : GF_NVML_GRAPHICS_PROCS;
        if (!c->nvml.symbol[call]) continue;
        r = read_processes(c, dev, (gf_nvml_procs)w, gpu, first);
        if (r == NVML_SUCCESS) {
            g.has_proc_memory = true;
        } else if (lost(r)) {
            at = call;
            goto gone;
        } else if (r != NVML_ERROR_NOT_SUPPORTED) {
            g.has_proc_memory = true;
            g.proc_memory_failed = true;
            count_error(c, call, g.uuid, r);
        }
    }
    if (g.proc_memory_failed || !g.has_proc_memory)
        for (size_t k = first; k < c->procs.n; k++)
            c->procs.v[k].memory = NAN;

    /* process SM: samples newer than the last scrape's */
    if (c->nvml.process_utilization) {
        r = read_samples(c, dev, ds, gpu, first,
                         g.has_proc_memory && !g.proc_memory_failed ? 0.0 : NAN);
        if (r == NVML_SUCCESS || r == NVML_ERROR_NOT_FOUND) { /* NOT_FOUND: no new samples */
            g.has_proc_sm = true;
        } else if (r == NVML_ERROR_GPU_IS_LOST || r == NVML_ERROR_GPU_NOT_FOUND) {
            at = GF_NVML_PROC_UTIL;
            goto gone;
        } else if (r != NVML_ERROR_NOT_SUPPORTED) { /* NOT_SUPPORTED: MIG, or too old a GPU */
            g.has_proc_sm = true;
            g.proc_sm_failed = true;
            count_error(c, GF_NVML_PROC_UTIL, g.uuid, r);
        }
    }
    for (size_t k = first; k < c->procs.n; k++)
        if (!g.has_proc_sm || g.proc_sm_failed) c->procs.v[k].sm = NAN;
    gf_vec_push(&out->gpus, g);
    return;

gone:
    /* lost in the middle: counted at the call that saw it; the GPU is left
     * out and forgotten (a GPU that comes back starts afresh) */
    c->nvml_errors[at]++;
    {
        char key[200];
        snprintf(key, sizeof key, "lost %s", g.uuid);
        log_once(c, key, "GPU %s (index %u) is lost (%s from %s); left out of the scrape", g.uuid,
                 i, gf_nvml_code_name(r), gf_nvml_call_name(at));
    }
    c->procs.n = first;
    ds->seen = false;
    ds->last_seen_us = 0;
}

/* --- PID -> pod ------------------------------------------------------------ */

static int cmp_pid_entry(const void *a, const void *b)
{
    const pid_entry *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static const pid_entry *cached_pid(const gf_collector *c, unsigned pid)
{
    size_t lo = 0, hi = c->pids.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->pids.v[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->pids.n && c->pids.v[lo].pid == pid ? &c->pids.v[lo] : NULL;
}

static pid_entry resolve_pid(gf_collector *c, unsigned pid, double now)
{
    pid_entry e;
    memset(&e, 0, sizeof e);
    e.pid = pid;
    e.checked = now;
    gf_error err = {0};
    gf_err rc = gf_proc_pod_of(c->proc_root, pid, &e.cg, &err);
    if (rc == GF_OK) rc = gf_proc_start_time(c->proc_root, pid, &e.start_time, &err);
    if (rc == GF_OK) {
        e.state = e.cg.in_pod ? PID_POD : PID_HOST;
    } else {
        e.state = PID_GONE;
        char msg[1100], key[64];
        gf_error_format(&err, msg, sizeof msg);
        snprintf(key, sizeof key, "pid %u %d", pid, (int)rc);
        log_once(c, key, "process %u: %s", pid, msg);
    }
    return e;
}

/* Resolves every distinct PID of this scrape, through the cache. The cache
 * keeps exactly this scrape's PIDs: a PID that left the GPUs is forgotten. */
static void resolve_pids(gf_collector *c, double now)
{
    c->pids_next.n = 0;
    /* procs are sorted by pid within each GPU; collect distinct PIDs */
    for (size_t i = 0; i < c->procs.n; i++) {
        pid_entry e;
        memset(&e, 0, sizeof e);
        e.pid = c->procs.v[i].pid;
        gf_vec_push(&c->pids_next, e);
    }
    sort(c->pids_next.v, c->pids_next.n, sizeof *c->pids_next.v, cmp_pid_entry);
    size_t n = 0;
    for (size_t i = 0; i < c->pids_next.n; i++)
        if (n == 0 || c->pids_next.v[n - 1].pid != c->pids_next.v[i].pid)
            c->pids_next.v[n++] = c->pids_next.v[i];
    c->pids_next.n = n;
    for (size_t i = 0; i < n; i++) {
        unsigned pid = c->pids_next.v[i].pid;
        const pid_entry *old = cached_pid(c, pid);
        if (old && old->state != PID_GONE && now - old->checked < GF_PID_REVALIDATE_S) {
            c->pids_next.v[i] = *old;
            continue;
        }
        if (old && old->state != PID_GONE) {
            unsigned long long st;
            gf_error err = {0};
            if (gf_proc_start_time(c->proc_root, pid, &st, &err) == GF_OK &&
                st == old->start_time) {
                c->pids_next.v[i] = *old;
                c->pids_next.v[i].checked = now;
                continue;
            }
        }
        c->pids_next.v[i] = resolve_pid(c, pid, now);
    }
    /* swap: the new list becomes the cache */
    pid_entry *v = c->pids.v;
    size_t cap = c->pids.cap;
    c->pids.v = c->pids_next.v;
    c->pids.n = c->pids_next.n;
    c->pids.cap = c->pids_next.cap;
    c->pids_next.v = v;
    c->pids_next.cap = cap;
    c->pids_next.n = 0;
}

/* Maps each process to pod and container with the current list; returns
 * true when some pod UID or container ID was not in the list. */
static bool attribute(gf_collector *c)
{
    const gf_podlist *l = c->list;
    bool unknown = false;
    for (size_t i = 0; i < c->procs.n; i++) {
        proc_rec *p = &c->procs.v[i];
        const pid_entry *e = cached_pid(c, p->pid);
        p->pod = -1;
        p->container = "";
        p->reason = NULL;
        if (!e || e->state == PID_GONE) {
            p->reason = GF_UNATTR_NO_PROCESS;
            continue;
        }
        if (e->state == PID_HOST) {
            p->reason = GF_UNATTR_HOST;
            continue;
        }
        const gf_pl_pod *pod = gf_podlist_pod(l, e->cg.pod_uid);
        if (!pod) {
            p->reason = GF_UNATTR_UNKNOWN_POD;
            unknown = true;
            continue;
        }
        p->pod = (int32_t)(pod - l->pods.v);
        const gf_pl_container *ct = gf_podlist_container(l, e->cg.container_id);
        if (ct && ct->pod == (uint32_t)p->pod) {
            p->container = ct->name;
        } else if (e->cg.container_id[0]) {
            unknown = true; /* a container started (or restarted) since the list */
            /* a pod with one container can only be running that one */
            uint32_t regular = 0;
            const char *only = "";
            for (uint32_t k = 0; k < pod->n_containers; k++) {
                const gf_pl_container *x = &l->containers.v[pod->first_container + k];
                if (!x->init) {
                    regular++;
                    only = x->name;
                }
            }
            if (regular == 1) p->container = only;
        }
    }
    return unknown;
}

/* Fetches the pod list now; the new list (detached from the source, owned
 * by the caller) or NULL when the fetch failed. */
static gf_podlist *fetch_pods(gf_collector *c, double now, bool early)
{
    gf_error err = {0};
    gf_diags d;
    gf_diags_init(&d);
    gf_podlist *l = NULL;
    if (gf_podsrc_refresh(&c->pods, now, &d, &err) != GF_OK) {
        char msg[1100];
        gf_error_format(&err, msg, sizeof msg);
        log_once(c, msg, "pod list%s: %s (keeping the previous list)",
                 early ? " (refresh for an unknown pod)" : "", msg);
    } else {
        l = c->pods.list;
        c->pods.list = NULL;
        if (c->verbose) log_now(c, "pod list: %zu pods from %s", l ? l->pods.n : 0, c->pods.url);
    }
    log_diags(c, &d, true);
    gf_diags_free(&d);
    return l;
}

static void adopt(gf_collector *c, gf_podlist *l)
{
    if (!l) return;
    gf_podlist_free(c->list);
    free(c->list);
    c->list = l;
}

/* Synchronous refresh (no refresher thread). */
static void refresh_pods(gf_collector *c, double now, bool early)
{
    adopt(c, fetch_pods(c, now, early));
    c->refreshes = c->pods.refreshes;
    c->errors = c->pods.errors;
}

/* When the refresher should next look, in monotonic seconds. */
static double next_due(const gf_collector *c)
{
    const gf_podsrc *s = &c->pods;
    if (s->last_attempt < 0) return 0;
    bool failed = s->last_success < s->last_attempt;
    double t = s->last_attempt + (failed ? s->cfg.retry_s : s->cfg.refresh_s);
    if (c->want_early && s->last_attempt + s->cfg.retry_s < t) t = s->last_attempt + s->cfg.retry_s;
    return t;
}

/* The refresher thread: fetches on schedule and on request, hands lists over. */
static void *refresher(void *arg)
{
    gf_collector *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        double now = now_s(), due = next_due(c);
        if (now < due) {
            double wake = due;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double at = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + (wake - now);
            ts.tv_sec = (time_t)at;
            ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
            continue;
        }
        bool early = c->want_early;
        c->want_early = false;
        pthread_mutex_unlock(&c->mu);
        gf_podlist *l = fetch_pods(c, now, early);
        pthread_mutex_lock(&c->mu);
        if (l) {
            gf_podlist_free(c->fresh);
            free(c->fresh);
            c->fresh = l;
        }
        c->refreshes = c->pods.refreshes;
        c->errors = c->pods.errors;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* --- series ---------------------------------------------------------------- */

static int cmp_proc_series(const void *a, const void *b)
{
    const proc_rec *x = a, *y = b;
    if (x->gpu != y->gpu) return x->gpu < y->gpu ? -1 : 1;
    /* attributed first, by pod index; then unattributed by reason */
    if ((x->pod < 0) != (y->pod < 0)) return x->pod < 0 ? 1 : -1;
    if (x->pod != y->pod) return x->pod < y->pod ? -1 : 1;
    if (x->pod < 0) {
        int r = strcmp(x->reason, y->reason);
        if (r) return r;
    }
    int r = strcmp(x->container, y->container);
    if (r) return r;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static double add(double a, double b)
{
    return a + b; /* NaN stays NaN: an unknown part makes the sum unknown */
}

/* series -> pod index, kept beside the series while they are built */
typedef GF_VEC(int32_t) i32vec;

/* sm: the summed percent of the processes (0 for none, NaN unknown). */
static void push_series(gf_scrape *out, i32vec *owner, const gf_podlist *l, uint32_t gpu,
                        int32_t pod, const char *container, const char *reason, double mem,
                        double sm, uint32_t nproc)
{
    gf_pod_series s;
    memset(&s, 0, sizeof s);
    s.gpu = gpu;
    if (pod >= 0) {
        s.ns = l->pods.v[pod].ns;
        s.pod = l->pods.v[pod].name;
    } else {
        s.ns = "";
        s.pod = GF_UNATTRIBUTED_POD;
        s.unattributed = reason;
    }
    s.container = container;
    s.memory_bytes = mem;
    /* percent sums are exact; samples of overlapping periods can pass 100 */
    s.sm_util = sm >= 100.0 ? 1.0 : sm / 100.0;
    s.processes = nproc;
    s.alloc_fraction = s.alloc_memory_bytes = s.memory_used_ratio = s.sm_used_ratio = NAN;
    gf_vec_push(&out->series, s);
    gf_vec_push(owner, pod);
}

/* Does the pod run on this node (as far as the list says)? */
static bool on_node(const gf_collector *c, const gf_pl_pod *p)
{
    return !c->node_name || !p->node || !strcmp(p->node, c->node_name);
}

/* The scrape GPU a reservation pod's run.ai/reserve_for_gpu_index names:
 * live KAI/Run:ai pods carry the GPU UUID, others the device index. */
static int32_t gpu_of_reservation(const gf_scrape *out, const char *v)
{
    char *end;
    for (size_t g = 0; g < out->gpus.n; g++)
        if (!strcasecmp(out->gpus.v[g].uuid, v)) return (int32_t)g;
    long idx = strtol(v, &end, 10);
    if (end == v || *end || idx < 0) return -1;
    for (size_t g = 0; g < out->gpus.n; g++)
        if (out->gpus.v[g].index == (unsigned long)idx) return (int32_t)g;
    return -1;
}

static bool has_series(const gf_scrape *out, const i32vec *owner, uint32_t gpu, int32_t pod)
{
    for (size_t i = 0; i < out->series.n; i++)
        if (out->series.v[i].gpu == gpu && owner->v[i] == pod) return true;
    return false;
}

/* Pods holding a share of a GPU through a KAI reservation but running no
 * process on it get a zero series, so that idle allocations are seen. */
static void idle_allocations(gf_collector *c, gf_scrape *out, i32vec *owner)
{
    const gf_podlist *l = c->list;
    if (!l || !out->gpus.n) return;
    gf_strmap group_gpu; /* runai-gpu-group -> scrape GPU index */
    gf_strmap_init(&group_gpu);
    for (size_t i = 0; i < l->pods.n; i++) {
        const gf_pl_pod *r = &l->pods.v[i];
        if (!r->reservation || !r->reserve_gpu || !on_node(c, r)) continue;
        int32_t g = gpu_of_reservation(out, r->reserve_gpu);
        for (uint32_t k = 0; g >= 0 && k < r->n_groups; k++)
            gf_strmap_put(&group_gpu, r->groups[k], (size_t)g);
    }
    for (size_t i = 0; i < l->pods.n && group_gpu.len; i++) {
        const gf_pl_pod *p = &l->pods.v[i];
        if ((p->alloc != GF_ALLOC_FRACTION && p->alloc != GF_ALLOC_MEMORY) || !p->phase ||
            strcmp(p->phase, "Running") || !on_node(c, p))
            continue;
        for (uint32_t k = 0; k < p->n_groups; k++) {
            size_t g;
            if (!gf_strmap_get(&group_gpu, p->groups[k], &g)) continue;
            if (has_series(out, owner, (uint32_t)g, (int32_t)i)) continue;
            const gf_gpu_reading *gr = &out->gpus.v[g];
            double mem = gr->proc_memory_failed ? NAN : 0.0;
            double sm = gr->proc_sm_failed ? NAN : 0.0;
            push_series(out, owner, l, (uint32_t)g, (int32_t)i,
                        p->alloc_container ? p->alloc_container : "", NULL, mem, sm, 0);
        }
    }
    gf_strmap_free(&group_gpu);
}

/* Puts each pod's allocation on one of its series per GPU. The series of
 * one (GPU, pod) are contiguous: build_series makes them from sorted
 * processes, and idle_allocations adds at most one per pair. */
static void allocations(gf_collector *c, gf_scrape *out, i32vec *owner)
{
    const gf_podlist *l = c->list;
    if (!l) return;
    size_t n = out->series.n; /* series added below need no second look */
    for (size_t i = 0, j; i < n; i = j) {
        int32_t pod = owner->v[i];
        uint32_t gpu = out->series.v[i].gpu;
        for (j = i + 1; j < n && owner->v[j] == pod && out->series.v[j].gpu == gpu; j++)
            ;
        if (pod < 0) continue;
        const gf_pl_pod *p = &l->pods.v[pod];
        if (p->alloc == GF_ALLOC_NONE) continue;
        double mem = 0, sm = 0;
        int32_t target = -1;
        for (size_t k = i; k < j; k++) {
            const gf_pod_series *s = &out->series.v[k];
            mem = add(mem, s->memory_bytes);
            sm = add(sm, s->sm_util);
            if (target >= 0) continue;
            if (p->alloc == GF_ALLOC_WHOLE) {
                for (uint32_t m = 0; m < p->n_containers; m++) {
                    const gf_pl_container *ct = &l->containers.v[p->first_container + m];
                    if (ct->whole_gpus > 0 && !strcmp(ct->name, s->container)) target = (int32_t)k;
                }
            } else if (p->alloc_container && !strcmp(p->alloc_container, s->container)) {
                target = (int32_t)k;
            }
        }
        if (sm > 1.0) sm = 1.0;
        const gf_gpu_reading *gr = &out->gpus.v[gpu];
        if (target < 0) {
            if (p->alloc != GF_ALLOC_WHOLE && p->alloc_container) {
                /* the GPU container itself runs nothing here: report it at 0 */
                push_series(out, owner, l, gpu, pod, p->alloc_container, NULL,
                            gr->proc_memory_failed ? NAN : 0.0, gr->proc_sm_failed ? NAN : 0.0, 0);
                target = (int32_t)out->series.n - 1;
            } else {
                target = (int32_t)i;
            }
        }
        gf_pod_series *s = &out->series.v[target];
        double total = gr->memory_total_bytes; /* NaN when unknown */
        s->allocated = true;
        switch (p->alloc) {
        case GF_ALLOC_FRACTION:
            s->alloc_fraction = p->fraction;
            s->alloc_memory_bytes = p->fraction * total;
            break;
        case GF_ALLOC_MEMORY:
            s->alloc_memory_bytes = (double)p->memory_mib * MIB;
            s->alloc_fraction = s->alloc_memory_bytes / total;
            break;
        case GF_ALLOC_WHOLE:
            s->alloc_fraction = 1.0;
            s->alloc_memory_bytes = total;
            break;
        case GF_ALLOC_NONE:
            break;
        }
        /* 0/0 and x/NaN are NaN: an unknown allocation gives an unknown ratio */
        s->memory_used_ratio = mem / s->alloc_memory_bytes;
        s->sm_used_ratio = sm / s->alloc_fraction;
    }
}

static int cmp_series(const void *a, const void *b)
{
    const gf_pod_series *x = a, *y = b;
    if (x->gpu != y->gpu) return x->gpu < y->gpu ? -1 : 1;
    if (!x->unattributed != !y->unattributed) return x->unattributed ? 1 : -1;
    int r = strcmp(x->ns, y->ns);
    if (!r) r = strcmp(x->pod, y->pod);
    if (!r) r = strcmp(x->container, y->container);
    if (!r && x->unattributed) r = strcmp(x->unattributed, y->unattributed);
    return r;
}

static void build_series(gf_collector *c, gf_scrape *out)
{
    const gf_podlist *l = c->list;
    i32vec owner = {0};
    sort(c->procs.v, c->procs.n, sizeof *c->procs.v, cmp_proc_series);
    for (size_t i = 0; i < c->procs.n;) {
        const proc_rec *p = &c->procs.v[i];
        double mem = 0, sm = 0;
        uint32_t n = 0;
        size_t j = i;
        for (; j < c->procs.n; j++) {
            const proc_rec *q = &c->procs.v[j];
            if (q->gpu != p->gpu || q->pod != p->pod || strcmp(q->container, p->container) ||
                (p->pod < 0 && strcmp(q->reason, p->reason)))
                break;
            mem = add(mem, q->memory);
            sm = add(sm, q->sm);
            n++;
        }
        push_series(out, &owner, l, p->gpu, p->pod, p->container, p->reason, mem, sm, n);
        i = j;
    }
    idle_allocations(c, out, &owner);
    allocations(c, out, &owner);
    gf_vec_free(&owner);
    sort(out->series.v, out->series.n, sizeof *out->series.v, cmp_series);
}

/* --- the collector -------------------------------------------------------- */

void gf_scrape_init(gf_scrape *s)
{
    memset(s, 0, sizeof *s);
    s->driver_version = "";
}

void gf_scrape_free(gf_scrape *s)
{
    if (!s) return;
    gf_vec_free(&s->gpus);
    gf_vec_free(&s->series);
    gf_scrape_init(s);
}

gf_err gf_collector_new(const gf_collect_config *cfg, gf_collector **out, gf_error *err)
{
    *out = NULL;
    gf_collector *c = gf_xcalloc(1, sizeof *c);
    gf_err rc = gf_podsrc_init(&c->pods, &cfg->pods, err);
    if (rc) {
        free(c);
        return rc;
    }
    c->proc_root =
        gf_xstrdup(cfg->proc_root && *cfg->proc_root ? cfg->proc_root : DEFAULT_PROC_ROOT);
    c->node_name = cfg->node_name && *cfg->node_name ? gf_xstrdup(cfg->node_name) : NULL;
    c->nvml_lib = dup_or_null(cfg->nvml_lib);
    c->nvml_disable = dup_or_null(cfg->nvml_disable);
    c->nvml_retry_s = cfg->nvml_retry_s > 0 ? cfg->nvml_retry_s : DEFAULT_NVML_RETRY_S;
    c->verbose = cfg->verbose;
    c->log = cfg->log;
    c->log_ctx = cfg->log_ctx;
    pthread_mutex_init(&c->log_mu, NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    double now = now_s();
    nvml_try_open(c, now);
    if (c->pods.cfg.kind != GF_PODSRC_NONE) {
        gf_diags d;
        gf_diags_init(&d);
        rc = gf_podsrc_refresh(&c->pods, now, &d, err);
        log_diags(c, &d, true);
        gf_diags_free(&d);
        c->refreshes = c->pods.refreshes;
        c->errors = c->pods.errors;
        if (rc && c->pods.cfg.kind == GF_PODSRC_FILE) {
            gf_collector_free(c);
            return rc;
        }
        if (rc) {
            char msg[1100];
            gf_error_format(err, msg, sizeof msg);
            log_once(c, msg, "pod list: %s (will retry)", msg);
            rc = GF_OK;
        }
        c->list = c->pods.list;
        c->pods.list = NULL;
        if (cfg->async_pods) {
            c->async = true;
            if (pthread_create(&c->thread, NULL, refresher, c)) {
                c->async = false; /* fall back to refreshing within scrapes */
                log_now(c, "cannot start the pod-list thread; refreshing within scrapes");
            } else {
                c->thread_started = true;
            }
        }
    }
    *out = c;
    return GF_OK;
}

void gf_collector_free(gf_collector *c)
{
    if (!c) return;
    if (c->thread_started) {
        pthread_mutex_lock(&c->mu);
        c->stopping = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->log_mu);
    gf_nvml_close(&c->nvml);
    gf_podsrc_free(&c->pods);
    gf_podlist_free(c->list);
    free(c->list);
    gf_podlist_free(c->fresh);
    free(c->fresh);
    gf_vec_free(&c->devs);
    gf_vec_free(&c->pids);
    gf_vec_free(&c->pids_next);
    gf_vec_free(&c->procs);
    free(c->pbuf);
    free(c->ubuf);
    free(c->proc_root);
    free(c->node_name);
    free(c->nvml_lib);
    free(c->nvml_disable);
    free(c);
}

const gf_nvml *gf_collector_nvml(const gf_collector *c)
{
    return c->nvml_up ? &c->nvml : NULL;
}

const char *gf_collector_nvml_error(const gf_collector *c)
{
    return c->nvml_error;
}

void gf_collect(gf_collector *c, gf_scrape *out)
{
    double t0 = now_s();
    out->gpus.n = 0;
    out->series.n = 0;
    c->procs.n = 0;

    if (!c->nvml_up && t0 - c->nvml_last_try >= c->nvml_retry_s) nvml_try_open(c, t0);
    uint64_t refreshes, errors;
    if (c->async) {
        pthread_mutex_lock(&c->mu);
        adopt(c, c->fresh);
        c->fresh = NULL;
        refreshes = c->refreshes;
        errors = c->errors;
        pthread_mutex_unlock(&c->mu);
    } else {
        if (gf_podsrc_due(&c->pods, t0)) refresh_pods(c, t0, false);
        refreshes = c->refreshes;
        errors = c->errors;
    }

    if (c->nvml_up) {
        for (size_t i = 0; i < c->devs.n; i++)
            c->devs.v[i].seen = false;
        unsigned count = 0;
        nvmlReturn_t r = c->nvml.device_count(&count);
        if (r != NVML_SUCCESS) {
            count_error(c, GF_NVML_DEVICE_COUNT, "(all)", r);
            count = 0;
        }
        if (count > 1024) count = 1024; /* no node has more; a bad answer must not loop */
        for (unsigned i = 0; i < count; i++)
            collect_gpu(c, i, out);
        /* forget GPUs that are gone, with their sample timestamps */
        size_t keep = 0;
        for (size_t i = 0; i < c->devs.n; i++)
            if (c->devs.v[i].seen) c->devs.v[keep++] = c->devs.v[i];
        c->devs.n = keep;
    }

    resolve_pids(c, t0);
    if (attribute(c)) {
        if (c->async) {
            /* the refresher fetches; the next scrape attributes */
            pthread_mutex_lock(&c->mu);
            c->want_early = true;
            pthread_cond_signal(&c->cv);
            pthread_mutex_unlock(&c->mu);
        } else if (gf_podsrc_may_retry(&c->pods, now_s())) {
            refresh_pods(c, now_s(), true);
            refreshes = c->refreshes;
            errors = c->errors;
            attribute(c);
        }
    }
    for (size_t i = 0; i < c->procs.n; i++)
        if (c->procs.v[i].reason && !strcmp(c->procs.v[i].reason, GF_UNATTR_UNKNOWN_POD)) {
            const pid_entry *e = cached_pid(c, c->procs.v[i].pid);
            char key[80];
            snprintf(key, sizeof key, "unknown %s", e ? e->cg.pod_uid : "?");
            log_once(c, key, "process %u: pod UID %s is not in the pod list%s", c->procs.v[i].pid,
                     e ? e->cg.pod_uid : "?",
                     c->pods.cfg.kind == GF_PODSRC_NONE ? " (no pod list source given)" : "");
        }
    build_series(c, out);

    out->nvml_up = c->nvml_up;
    out->driver_version = c->nvml_up ? c->nvml.driver_version : "";
    memcpy(out->nvml_errors, c->nvml_errors, sizeof out->nvml_errors);
    out->pod_refreshes = refreshes;
    out->pod_errors = errors;
    out->have_pod_list = c->list != NULL;
    out->pods = c->list ? c->list->pods.n : 0;
    out->duration_s = now_s() - t0;
}
