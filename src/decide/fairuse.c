/* fairuse.c - noisy-neighbour detection and responses, see fairuse.h for the
 * rules and what each finding means. */
#include "decide/fairuse.h"
#include "decide/quota.h"
#include "util/sbuf.h"
#include "decide/rebalance.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9
#define GIB (1024.0 * 1024.0 * 1024.0)

const char *gf_fair_kind_name(gf_fair_kind k)
{
    static const char *const names[GF_FAIR_KIND_COUNT] = {"memory-overrun", "device-memory-full",
                                                          "compute-hog", "overcommit-memory",
                                                          "overcommit-compute"};
    return (unsigned)k < GF_FAIR_KIND_COUNT ? names[k] : "?";
}

const char *gf_fair_severity_name(gf_fair_severity s)
{
    return s == GF_FAIR_CRITICAL ? "critical" : s == GF_FAIR_WARNING ? "warning" : "?";
}

const char *gf_fair_action_name(gf_fair_action a)
{
    switch (a) {
    case GF_FAIR_ACT_REPORT:
        return "report";
    case GF_FAIR_ACT_UPSIZE:
        return "upsize";
    case GF_FAIR_ACT_MOVE:
        return "move";
    }
    return "?";
}

/* --- state ------------------------------------------------------------------------- */

void gf_fair_serve(const gf_fair_policy *fp, uint32_t n, const double *fraction,
                   const double *demand, double *served)
{
    double left = 1.0;
    uint32_t open = 0;
    bool *done = gf_xcalloc(n + 1, sizeof *done);
    for (uint32_t i = 0; i < n; i++) {
        served[i] = 0;
        done[i] = !gf_fair_valid_share(demand[i]) || demand[i] <= 0;
        open += !done[i];
    }
    /* each round either satisfies a pod or hands out what is left */
    while (open && left > EPS) {
        double wsum = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (done[i]) continue;
            double w = fp->compute_share == GF_FAIR_SHARE_EQUAL ? 1.0 : fraction[i];
            wsum += gf_fair_valid_share(w) ? w : 0;
        }
        bool equal = wsum <= EPS; /* no weights (fractions 0): share equally */
        if (equal) wsum = open;
        bool any = false;
        for (uint32_t i = 0; i < n; i++) {
            if (done[i]) continue;
            double w = equal || fp->compute_share == GF_FAIR_SHARE_EQUAL ? 1.0 : fraction[i];
            double offer = left * (gf_fair_valid_share(w) ? w : 0) / wsum;
            if (demand[i] - served[i] <= offer + EPS) {
                any = true;
                done[i] = true;
                open--;
            }
        }
        if (any) { /* serve the satisfied in full, then share again */
            double used = 0;
            for (uint32_t i = 0; i < n; i++)
                if (done[i] && gf_fair_valid_share(demand[i]) && served[i] < demand[i]) {
                    used += demand[i] - served[i];
                    served[i] = demand[i];
                }
            left -= used;
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (done[i]) continue;
            double w = equal || fp->compute_share == GF_FAIR_SHARE_EQUAL ? 1.0 : fraction[i];
            served[i] += left * (gf_fair_valid_share(w) ? w : 0) / wsum;
        }
        left = 0;
    }
    free(done);
}

void gf_fair_report_free(gf_fair_report *r)
{
    if (!r) return;
    gf_vec_free(&r->findings);
    gf_vec_free(&r->affected);
    gf_vec_free(&r->responses);
    gf_vec_free(&r->alternatives);
    r->applied = 0;
}

/* --- per-GPU evaluation: the instantaneous conditions ----------------------------- */

typedef struct gpu_eval {
    double total, used; /* bytes; used from the device or the pods' sum */
    double sm_dev;      /* device SM utilisation, 0..1 */
    bool full;
    double mem_need, sm_need; /* sums of needs, shares of the GPU */
} gpu_eval;

typedef struct pod_eval {
    double allowed; /* fraction x memory, bytes */
    bool mem_over;  /* above allowed x (1 + margin) */
    double ent;     /* fair SM share */
    const char *ent_by;
    double sm_cur; /* share now (the mean when the current one is unknown); NaN unknown */
    bool sm_over;
    bool starved;
    double owed; /* what the starved test compared with */
} pod_eval;

static void eval_gpu(const gf_fair_policy *fp, const gf_fair_state *st, const gf_fair_gpu *g,
                     gpu_eval *ge, pod_eval *pe)
{
    memset(ge, 0, sizeof *ge);
    ge->total =
        isfinite(g->memory_total_bytes) && g->memory_total_bytes > 0 ? g->memory_total_bytes : 0;
    double used_sum = 0, sm_sum = 0;
    for (uint32_t k = 0; k < g->n_pods; k++) {
        const gf_fair_pod *p = &st->pods.v[g->first_pod + k];
        if (gf_fair_valid_share(p->memory_bytes)) used_sum += p->memory_bytes;
        if (gf_fair_valid_share(p->sm_share)) sm_sum += p->sm_share;
        ge->mem_need += gf_fair_need_memory(p, ge->total);
        ge->sm_need += gf_fair_need_sm(p);
    }
    ge->used = gf_fair_valid_share(g->memory_used_bytes) ? g->memory_used_bytes : used_sum;
    ge->sm_dev = gf_fair_valid_share(g->sm_util) ? fmin(g->sm_util, 1.0) : fmin(sm_sum, 1.0);
    ge->mem_need = ge->total > 0 ? ge->mem_need / ge->total : 0;
    ge->full = ge->total > 0 && ge->used >= fp->device_memory_full_ratio * ge->total - EPS;
    for (uint32_t k = 0; k < g->n_pods; k++) {
        const gf_fair_pod *p = &st->pods.v[g->first_pod + k];
        pod_eval *e = &pe[k];
        memset(e, 0, sizeof *e);
        e->allowed = gf_fair_valid_share(p->fraction) ? p->fraction * ge->total : 0;
        e->mem_over = e->allowed > 0 && gf_fair_valid_share(p->memory_bytes) &&
                      p->memory_bytes > e->allowed * (1.0 + fp->memory_overrun_margin) + EPS;
        if (gf_fair_valid_share(p->sm_entitlement) && p->sm_entitlement > 0) {
            e->ent = p->sm_entitlement;
            e->ent_by = "its entitlement";
        } else if (fp->compute_share == GF_FAIR_SHARE_EQUAL) {
            e->ent = 1.0 / g->n_pods;
            e->ent_by = "an equal share";
        } else {
            e->ent = gf_fair_valid_share(p->fraction) ? p->fraction : 0;
            e->ent_by = "its fraction";
        }
        e->sm_cur = gf_fair_valid_share(p->sm_share)        ? p->sm_share
                    : gf_fair_valid_share(p->sm_share_mean) ? p->sm_share_mean
                                                            : NAN;
        e->sm_over = !isnan(e->sm_cur) && e->sm_cur > e->ent + GF_FAIR_SM_SLACK + EPS;
    }
    if (g->n_pods < 2) return; /* nobody to starve */
    for (uint32_t k = 0; k < g->n_pods; k++) {
        const gf_fair_pod *p = &st->pods.v[g->first_pod + k];
        pod_eval *e = &pe[k];
        if (isnan(e->sm_cur)) continue;
        if (gf_fair_valid_share(p->demand_sm)) {
            e->owed = fmin(p->demand_sm, e->ent);
            e->starved = e->owed > EPS && e->sm_cur < fp->starved_threshold * e->owed - EPS;
        } else {
            e->owed = e->ent;
            e->starved = ge->sm_dev >= GF_FAIR_SM_SATURATED - EPS && e->sm_cur > 0 &&
                         e->sm_cur < fp->starved_threshold * e->ent - EPS;
        }
    }
}

/* --- tracker ---------------------------------------------------------------------- */

void gf_fair_tracker_init(gf_fair_tracker *tr)
{
    memset(tr, 0, sizeof *tr);
    gf_arena_init(&tr->keys);
    gf_strmap_init(&tr->by_key);
    gf_strmap_init(&tr->acted);
    tr->last_t = -INFINITY;
}

void gf_fair_tracker_free(gf_fair_tracker *tr)
{
    if (!tr) return;
    gf_strmap_free(&tr->by_key);
    gf_strmap_free(&tr->acted);
    gf_arena_free(&tr->keys);
    gf_vec_free(&tr->entries);
    gf_vec_free(&tr->actions);
    gf_vec_free(&tr->acted_t);
    tr->last_t = -INFINITY;
}

static void gpu_key(const gf_fair_state *st, uint32_t gi, gf_sbuf *b)
{
    const gf_fair_gpu *g = &st->gpus.v[gi];
    if (g->node)
        gf_sbuf_printf(b, "%s/%d", g->node, (int)g->index);
    else
        gf_sbuf_printf(b, "#%u", gi);
}

static void pod_key(const gf_fair_state *st, uint32_t gi, uint32_t pi, gf_sbuf *b)
{
    gpu_key(st, gi, b);
    const gf_fair_pod *p = &st->pods.v[pi];
    if (p->name)
        gf_sbuf_printf(b, "/%s/%s", p->ns ? p->ns : "", p->name);
    else
        gf_sbuf_printf(b, "/#%u", pi);
}

static const gf_fair_since *tracker_find(const gf_fair_tracker *tr, const char *key)
{
    size_t i;
    return gf_strmap_get(&tr->by_key, key, &i) ? &tr->entries.v[i] : NULL;
}

static gf_fair_since *tracker_get(gf_fair_tracker *tr, const char *key)
{
    size_t i;
    if (!gf_strmap_get(&tr->by_key, key, &i)) {
        gf_fair_since s = {NAN, NAN, NAN, NAN, NAN, NAN, -INFINITY};
        i = tr->entries.n;
        gf_vec_push(&tr->entries, s);
        gf_strmap_put(&tr->by_key, gf_arena_strdup(&tr->keys, key), i);
    }
    return &tr->entries.v[i];
}

static void hold(double *since, bool cond, double now)
{
    if (!cond)
        *since = NAN;
    else if (isnan(*since))
        *since = now;
}

gf_err gf_fair_tracker_observe(gf_fair_tracker *tr, const gf_fair_policy *fp,
                               const gf_fair_state *st, double now, gf_error *err)
{
    if (!isfinite(now) || now < tr->last_t)
        return gf_error_set(err, GF_EINPUT, NULL,
                            "fair use: observation at %.3f is before the previous one (%.3f)", now,
                            tr->last_t);
    double prev = tr->last_t;
    pod_eval *pe = gf_xcalloc(st->pods.n + 1, sizeof *pe);
    gf_sbuf b = GF_SBUF_INIT;
    for (size_t gi = 0; gi < st->gpus.n; gi++) {
        const gf_fair_gpu *g = &st->gpus.v[gi];
        gpu_eval ge;
        eval_gpu(fp, st, g, &ge, pe + g->first_pod);
        b.len = 0;
        gpu_key(st, (uint32_t)gi, &b);
        gf_fair_since *s = tracker_get(tr, gf_sbuf_str(&b));
        if (s->last_seen < prev) /* missed an observation: conditions start again */
            s->device_full = s->over_memory = s->over_compute = NAN;
        hold(&s->device_full, ge.full, now);
        hold(&s->over_memory, ge.mem_need > 1.0 + EPS, now);
        hold(&s->over_compute, ge.sm_need > 1.0 + EPS, now);
        s->last_seen = now;
        for (uint32_t k = 0; k < g->n_pods; k++) {
            b.len = 0;
            pod_key(st, (uint32_t)gi, g->first_pod + k, &b);
            s = tracker_get(tr, gf_sbuf_str(&b));
            if (s->last_seen < prev) s->memory_over = s->sm_over = s->starved = NAN;
            const pod_eval *e = &pe[g->first_pod + k];
            hold(&s->memory_over, e->mem_over, now);
            hold(&s->sm_over, e->sm_over, now);
            hold(&s->starved, e->starved, now);
            s->last_seen = now;
        }
    }
    gf_sbuf_free(&b);
    free(pe);
    tr->last_t = now;
    return GF_OK;
}

void gf_fair_tracker_note_action(gf_fair_tracker *tr, const char *ns, const char *name, double t)
{
    gf_vec_push(&tr->actions, t);
    if (!name) return;
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_printf(&b, "%s/%s", ns ? ns : "", name);
    size_t i;
    if (gf_strmap_get(&tr->acted, gf_sbuf_str(&b), &i)) {
        tr->acted_t.v[i] = fmax(tr->acted_t.v[i], t);
    } else {
        gf_strmap_put(&tr->acted, gf_arena_strdup(&tr->keys, gf_sbuf_str(&b)), tr->acted_t.n);
        gf_vec_push(&tr->acted_t, t);
    }
    gf_sbuf_free(&b);
}

uint32_t gf_fair_tracker_actions_since(const gf_fair_tracker *tr, double now, double window_s)
{
    uint32_t n = 0;
    for (size_t i = 0; i < tr->actions.n; i++)
        n += tr->actions.v[i] > now - window_s && tr->actions.v[i] <= now;
    return n;
}

/* When the pod was last acted on (NaN when never). */
static double last_action(const gf_fair_tracker *tr, const gf_fair_pod *p)
{
    if (!tr || !p->name) return NAN;
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_printf(&b, "%s/%s", p->ns ? p->ns : "", p->name);
    size_t i;
    double t = gf_strmap_get(&tr->acted, gf_sbuf_str(&b), &i) ? tr->acted_t.v[i] : NAN;
    gf_sbuf_free(&b);
    return t;
}

/* --- detection ------------------------------------------------------------------------ */

/* "5m", "1h2m", "45s" into buf ("?" for no time). */
static const char *dur_text(double s, char *buf, size_t n)
{
    if (!(s >= 0) || !isfinite(s)) return gf_textf(buf, n, "?"), buf;
    return gf_format_duration(llround(s), buf, n);
}

static const char *pod_text(const gf_fair_pod *p, char *buf, size_t n)
{
    gf_textf(buf, n, "%s/%s", p->ns ? p->ns : "?", p->name ? p->name : "?");
    return buf;
}

typedef struct detect_ctx {
    const gf_fair_policy *fp;
    const gf_fair_state *st;
    const gf_fair_tracker *tr;
    double now, window;
    gf_fair_report *out;
    gf_sbuf key;
} detect_ctx;

/* The tracker's entry for GPU gi (pod pi, or GF_NONE) when it saw this
 * observation; NULL otherwise. */
static const gf_fair_since *seen(detect_ctx *c, uint32_t gi, uint32_t pi)
{
    if (!c->tr) return NULL;
    c->key.len = 0;
    if (pi == GF_NONE)
        gpu_key(c->st, gi, &c->key);
    else
        pod_key(c->st, gi, pi, &c->key);
    const gf_fair_since *s = tracker_find(c->tr, gf_sbuf_str(&c->key));
    return s && s->last_seen == c->now ? s : NULL;
}

static gf_fair_finding *add_finding(detect_ctx *c, gf_fair_kind kind, gf_fair_severity sev,
                                    uint32_t gi, uint32_t offender, double since)
{
    gf_fair_finding f;
    memset(&f, 0, sizeof f);
    f.kind = kind;
    f.severity = sev;
    f.gpu = gi;
    f.offender = offender;
    f.since_t = since;
    f.first_affected = (uint32_t)c->out->affected.n;
    gf_vec_push(&c->out->findings, f);
    return &c->out->findings.v[c->out->findings.n - 1];
}

static void add_affected(detect_ctx *c, gf_fair_finding *f, uint32_t pi)
{
    gf_vec_push(&c->out->affected, pi);
    f->n_affected++;
}

static void detect_gpu(detect_ctx *c, uint32_t gi, pod_eval *pe)
{
    const gf_fair_policy *fp = c->fp;
    const gf_fair_gpu *g = &c->st->gpus.v[gi];
    const gf_fair_pod *pods = c->st->pods.v + g->first_pod;
    gpu_eval ge;
    eval_gpu(fp, c->st, g, &ge, pe);
    if (!g->n_pods) return;
    const gf_fair_since *gs = seen(c, gi, GF_NONE);
    char a[300], b[300], d1[32], d2[32];
    bool mem_offender = false, sm_offender = false;

    /* memory overrun */
    for (uint32_t k = 0; k < g->n_pods; k++) {
        if (!pe[k].mem_over) continue;
        const gf_fair_since *ps = seen(c, gi, g->first_pod + k);
        double since = ps ? ps->memory_over : pods[k].memory_over_since;
        bool critical = ge.full;
        if (!critical && !isnan(since) && c->now - since < c->window - EPS) continue;
        gf_fair_finding *f =
            add_finding(c, GF_FAIR_MEMORY_OVERRUN, critical ? GF_FAIR_CRITICAL : GF_FAIR_WARNING,
                        gi, g->first_pod + k, since);
        f->observed = pods[k].memory_bytes;
        f->allowed = pe[k].allowed;
        f->amount = f->observed - f->allowed;
        gf_textf(f->signal, sizeof f->signal,
                 "GPU memory: %s uses %.2f GiB, above its allocation %.2f x %.2f GiB = %.2f GiB "
                 "by %.0f%% (margin %.0f%%); device %.2f of %.2f GiB used (%.0f%%)%s",
                 pod_text(&pods[k], a, sizeof a), f->observed / GIB, pods[k].fraction,
                 ge.total / GIB, f->allowed / GIB, 100.0 * (f->observed / f->allowed - 1.0),
                 100.0 * fp->memory_overrun_margin, ge.used / GIB, ge.total / GIB,
                 100.0 * ge.used / ge.total,
                 critical ? ", at or above deviceMemoryFullRatio: GPU-mates may run out of "
                            "memory now"
                          : "");
        for (uint32_t j = 0; j < g->n_pods; j++)
            if (j != k) add_affected(c, f, g->first_pod + j);
        mem_offender = true;
    }

    /* device memory nearly full */
    if (ge.full) {
        uint32_t worst = GF_NONE;
        double worst_over = 0;
        for (uint32_t k = 0; k < g->n_pods; k++) {
            double over = gf_fair_valid_share(pods[k].memory_bytes) && pe[k].allowed > 0
                              ? pods[k].memory_bytes - pe[k].allowed
                              : 0;
            if (over > worst_over + EPS) {
                worst_over = over;
                worst = k;
            }
        }
        gf_fair_finding *f = add_finding(
            c, GF_FAIR_DEVICE_MEMORY_FULL, worst != GF_NONE ? GF_FAIR_CRITICAL : GF_FAIR_WARNING,
            gi, worst != GF_NONE ? g->first_pod + worst : GF_NONE, gs ? gs->device_full : NAN);
        f->observed = ge.used;
        f->allowed = fp->device_memory_full_ratio * ge.total;
        f->amount = ge.used - f->allowed;
        if (worst != GF_NONE)
            gf_textf(b, sizeof b, "; %s is %.2f GiB above its allocation",
                     pod_text(&pods[worst], a, sizeof a), worst_over / GIB);
        else
            gf_textf(b, sizeof b, "; every pod is within its allocation");
        gf_textf(f->signal, sizeof f->signal,
                 "device memory: %.2f of %.2f GiB used (%.0f%%), at or above "
                 "deviceMemoryFullRatio %.0f%%%s",
                 ge.used / GIB, ge.total / GIB, 100.0 * ge.used / ge.total,
                 100.0 * fp->device_memory_full_ratio, b);
        for (uint32_t j = 0; j < g->n_pods; j++)
            if (j != worst) add_affected(c, f, g->first_pod + j);
    }

    /* compute hog: over its share for the window while a mate is starved */
    for (uint32_t k = 0; g->n_pods >= 2 && k < g->n_pods; k++) {
        if (!pe[k].sm_over) continue;
        const gf_fair_since *ps = seen(c, gi, g->first_pod + k);
        double since = ps ? ps->sm_over : pods[k].sm_over_since;
        double held = !isnan(since) ? c->now - since : 0;
        if (!ps && isnan(since) && gf_fair_valid_share(pods[k].sm_share_mean) &&
            g->window_s >= c->window - EPS &&
            pods[k].sm_share_mean > pe[k].ent + GF_FAIR_SM_SLACK + EPS) {
            held = g->window_s;
            since = c->now - held;
        }
        if (held < c->window - EPS) continue;
        uint32_t first_victim = GF_NONE, n_victims = 0;
        for (uint32_t j = 0; j < g->n_pods; j++) {
            if (j == k || !pe[j].starved) continue;
            const gf_fair_since *vs = seen(c, gi, g->first_pod + j);
            double vsince = vs ? vs->starved : pods[j].starved_since;
            if (!isnan(vsince) && c->now - vsince < c->window - EPS) continue;
            if (first_victim == GF_NONE) first_victim = j;
            n_victims++;
        }
        if (!n_victims) continue;
        gf_fair_finding *f =
            add_finding(c, GF_FAIR_COMPUTE_HOG, GF_FAIR_WARNING, gi, g->first_pod + k, since);
        f->observed = pe[k].sm_cur;
        f->allowed = pe[k].ent;
        f->amount = f->observed - f->allowed;
        const gf_fair_pod *v = &pods[first_victim];
        const pod_eval *ve = &pe[first_victim];
        char mean[96] = "";
        if (gf_fair_valid_share(pods[k].sm_share_mean) && g->window_s > 0)
            gf_textf(mean, sizeof mean, ", mean %.2f over %s", pods[k].sm_share_mean,
                     dur_text(g->window_s, d2, sizeof d2));
        char victim[200];
        if (gf_fair_valid_share(v->demand_sm))
            gf_textf(victim, sizeof victim, "%s gets %.2f of the %.2f it is owed (demand %.2f)",
                     pod_text(v, b, sizeof b), ve->sm_cur, ve->owed, v->demand_sm);
        else
            gf_textf(victim, sizeof victim,
                     "%s gets %.2f of its fair %.2f with the device's SMs saturated (%.0f%%)",
                     pod_text(v, b, sizeof b), ve->sm_cur, ve->ent, 100.0 * ge.sm_dev);
        gf_textf(f->signal, sizeof f->signal,
                 "SM time: %s has had %.2f of the GPU (fair share %.2f, %s%s) for %s (hogWindow "
                 "%s) while %s%s",
                 pod_text(&pods[k], a, sizeof a), f->observed, pe[k].ent, pe[k].ent_by, mean,
                 dur_text(held, d1, sizeof d1), dur_text(c->window, d2, sizeof d2), victim,
                 n_victims > 1 ? " (and others)" : "");
        for (uint32_t j = 0; j < g->n_pods; j++) {
            if (j == k || !pe[j].starved) continue;
            const gf_fair_since *vs = seen(c, gi, g->first_pod + j);
            double vsince = vs ? vs->starved : pods[j].starved_since;
            if (isnan(vsince) || c->now - vsince >= c->window - EPS)
                add_affected(c, f, g->first_pod + j);
        }
        sm_offender = true;
    }

    /* over-commit: needs above the GPU with no single offender */
    if (ge.mem_need > 1.0 + EPS && !mem_offender) {
        gf_fair_finding *f = add_finding(c, GF_FAIR_OVERCOMMIT_MEMORY, GF_FAIR_CRITICAL, gi,
                                         GF_NONE, gs ? gs->over_memory : NAN);
        f->observed = ge.mem_need;
        f->allowed = 1.0;
        f->amount = ge.mem_need - 1.0;
        gf_textf(f->signal, sizeof f->signal,
                 "GPU memory: the pods need %.2f of the GPU's %.2f GiB (used or demanded) while "
                 "each is within its allocation (margin %.0f%%)",
                 ge.mem_need, ge.total / GIB, 100.0 * fp->memory_overrun_margin);
        for (uint32_t j = 0; j < g->n_pods; j++)
            add_affected(c, f, g->first_pod + j);
    }
    if (ge.sm_need > 1.0 + EPS && !sm_offender) {
        double since = gs ? gs->over_compute : NAN;
        if (isnan(since) || c->now - since >= c->window - EPS) {
            gf_fair_finding *f =
                add_finding(c, GF_FAIR_OVERCOMMIT_COMPUTE, GF_FAIR_WARNING, gi, GF_NONE, since);
            f->observed = ge.sm_need;
            f->allowed = 1.0;
            f->amount = ge.sm_need - 1.0;
            gf_textf(f->signal, sizeof f->signal,
                     "SM time: the pods need %.2f of the GPU (demand, else the mean over the "
                     "window)%s%s, and no single pod is a hog",
                     ge.sm_need, !isnan(since) ? " for " : "",
                     !isnan(since) ? dur_text(c->now - since, d1, sizeof d1) : "");
            for (uint32_t j = 0; j < g->n_pods; j++)
                add_affected(c, f, g->first_pod + j);
        }
    }
}

gf_err gf_fair_detect(const gf_fair_policy *fp, const gf_fair_state *st, double now,
                      const gf_fair_tracker *tr, gf_fair_report *out, gf_error *err)
{
    gf_fair_report_free(out);
    gf_fair_problem pb;
    if (gf_fair_policy_validate(fp, &pb))
        return gf_error_set(err, GF_EINPUT, gf_fair_field_key(pb.field), "fair use: %s", pb.why);
    if (!isfinite(now)) return gf_error_set(err, GF_EINPUT, NULL, "fair use: time is not finite");
    for (size_t i = 0; i < st->gpus.n; i++) {
        const gf_fair_gpu *g = &st->gpus.v[i];
        if ((size_t)g->first_pod + g->n_pods > st->pods.n)
            return gf_error_set(err, GF_EINTERNAL, NULL,
                                "fair use: GPU %zu lists pods beyond the state's", i);
    }
    if (fp->mode == GF_FAIR_MODE_OFF) return GF_OK;
    detect_ctx c = {fp, st, tr, now, (double)fp->hog_window_s, out, GF_SBUF_INIT};
    pod_eval *pe = gf_xcalloc(st->pods.n + 1, sizeof *pe);
    for (size_t i = 0; i < st->gpus.n; i++)
        detect_gpu(&c, (uint32_t)i, pe + st->gpus.v[i].first_pod);
    free(pe);
    gf_sbuf_free(&c.key);
    return GF_OK;
}

/* --- responses ---------------------------------------------------------------------- */

typedef struct respond_ctx {
    const gf_fair_policy *fp;
    const gf_fair_state *st;
    const gf_fair_env *env;
    gf_fair_report *r;
    gf_rebalance_view *view; /* NULL without a model */
    double now;
} respond_ctx;

static void add_alt(respond_ctx *c, gf_fair_response *resp, gf_fair_action action, uint32_t pod,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_alt(respond_ctx *c, gf_fair_response *resp, gf_fair_action action, uint32_t pod,
                    const char *fmt, ...)
{
    gf_fair_alternative a;
    memset(&a, 0, sizeof a);
    a.action = action;
    a.pod = pod;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a.why, sizeof a.why, fmt, ap);
    va_end(ap);
    gf_vec_push(&c->r->alternatives, a);
    resp->n_alt++;
}

static bool same_queue(const char *a, const char *b)
{
    return !a || !b || !strcmp(a, b); /* unknown: cannot tell them apart */
}

/* Rounded up to the step (float noise below 1e-9 of a step ignored), at most 1. */
static double round_up_step(double x)
{
    double k = ceil(x / GF_FAIR_FRACTION_STEP - 1e-9);
    return fmin(1.0, fmax(GF_FAIR_FRACTION_STEP, k * GF_FAIR_FRACTION_STEP));
}

/* A candidate response: upsize the offender or move one pod. */
typedef struct option {
    gf_fair_action action;
    uint32_t pod; /* state pod */
} option;

/* Tries opt; on success fills resp and commits it in the view. On failure
 * *why says why. */
static bool try_option(respond_ctx *c, const gf_fair_finding *f, const option *o,
                       gf_fair_response *resp, char *why, size_t n)
{
    const gf_fair_pod *sp = &c->st->pods.v[o->pod];
    const gf_fair_gpu *g = &c->st->gpus.v[f->gpu];
    char who[300];
    pod_text(sp, who, sizeof who);
    if (!c->view) return gf_textf(why, n, "no cluster model to place a new pod with"), false;
    if (sp->pod == GF_NONE || sp->pod >= c->view->m->pods.n)
        return gf_textf(why, n, "it is not in the cluster model"), false;
    const char *mwhy = NULL;
    if (!gf_rebalance_movable(c->view, sp->pod, &mwhy)) return gf_textf(why, n, "%s", mwhy), false;
    gf_rebalance_need nd;
    if (!gf_rebalance_need_of(c->view, sp->pod, &nd))
        return gf_textf(why, n, "it holds no GPU"), false;
    const gf_pod *old = &c->view->m->pods.v[sp->pod];
    gf_pod spec = *old;
    double total = g->memory_total_bytes;
    if (o->action == GF_FAIR_ACT_UPSIZE) {
        double need = total > 0 ? gf_fair_need_memory(sp, total) / total : 0;
        if (f->kind == GF_FAIR_COMPUTE_HOG) need = fmax(need, gf_fair_need_sm(sp));
        double want = need * (1.0 + c->fp->memory_overrun_margin);
        double nf = round_up_step(want);
        bool whole = nf > GF_FAIR_MAX_FRACTION + EPS; /* KAI refuses gpu-fraction 1 */
        if (whole) nf = 1.0;
        if (nf <= sp->fraction + EPS)
            return gf_textf(why, n, "a larger fraction than %.2f would not be a change (need %.2f)",
                            sp->fraction, need),
                   false;
        if (old->workload != GF_NONE) {
            /* KAI's queue quota: a non-preemptible upsize its queues cannot
             * fund would stay Pending (decide/quota.h) */
            double devices = old->gpu_devices ? old->gpu_devices : 1;
            gf_quota_check q;
            if (gf_quota_upsize(c->view->m, old->workload, sp->fraction * devices, nf * devices,
                                &q)) {
                gf_quota_text(c->view->m, &q, why, n);
                return false;
            }
        }
        spec.share = GF_SHARE_FRACTION;
        spec.gpu_fraction = nf;
        spec.gpu_memory_mib = 0;
        char where[400];
        if (!gf_rebalance_target(c->view, &spec, &nd, true, c->env->scorer, &resp->to, where,
                                 sizeof where))
            return whole ? gf_textf(why, n, "no whole GPU free: %s", where)
                         : gf_textf(why, n, "no GPU for fraction %.2f: %s", nf, where),
                   false;
        gf_rebalance_commit(c->view, old, &spec, &nd, &resp->to);
        resp->action = GF_FAIR_ACT_UPSIZE;
        resp->pod = o->pod;
        resp->new_fraction = nf;
        resp->whole_gpu = whole;
        char unit[96] = "";
        if (whole)
            gf_textf(unit, sizeof unit, " (a whole GPU, nvidia.com/gpu: 1, above %.2f)",
                     GF_FAIR_MAX_FRACTION);
        else if (old->share == GF_SHARE_MEMORY && total > 0)
            gf_textf(unit, sizeof unit, " (gpu-memory %.0f MiB)", ceil(nf * total / GF_FAIR_MIB));
        gf_textf(resp->reason, sizeof resp->reason,
                 "upsize %s from %.2f to %.2f%s (need %.2f of the GPU + %.0f%% margin, rounded "
                 "up to %.2f%s); the new pod goes to %s",
                 who, sp->fraction, nf, unit, need, 100.0 * c->fp->memory_overrun_margin,
                 GF_FAIR_FRACTION_STEP, whole ? ", a whole GPU" : "", where);
        return true;
    }
    if (!gf_rebalance_evictable(c->view, sp->pod, &mwhy)) /* KAI governance of moves */
        return gf_textf(why, n, "%s", mwhy), false;
    char where[400];
    if (!gf_rebalance_target(c->view, &spec, &nd, false, c->env->scorer, &resp->to, where,
                             sizeof where))
        return gf_textf(why, n, "nowhere to go: %s", where), false;
    gf_rebalance_commit(c->view, old, &spec, &nd, &resp->to);
    resp->action = GF_FAIR_ACT_MOVE;
    resp->pod = o->pod;
    gf_textf(resp->reason, sizeof resp->reason, "move %s (fraction %.2f) to %s", who, sp->fraction,
             where);
    return true;
}

/* Memory overrun and compute hog: who yields, then the first feasible
 * option in that order. */
static void respond_offender(respond_ctx *c, const gf_fair_finding *f, gf_fair_response *resp)
{
    const gf_fair_state *st = c->st;
    const gf_fair_pod *off = &st->pods.v[f->offender];
    const uint32_t *aff = c->r->affected.v + f->first_affected;
    char who[300], other[300];
    pod_text(off, who, sizeof who);
    bool any_lower = false, offender_lowest = f->n_affected > 0;
    int32_t min_victim = INT32_MAX;
    for (uint32_t i = 0; i < f->n_affected; i++) {
        int32_t p = st->pods.v[aff[i]].priority;
        any_lower |= p < off->priority;
        offender_lowest &= off->priority < p;
        if (p < min_victim) min_victim = p;
    }
    GF_VEC(option) opts = {0};
    option up = {GF_FAIR_ACT_UPSIZE, f->offender};
    /* victims in the order they would yield: lowest priority, smallest fraction, index */
    GF_VEC(uint32_t) victims = {0};
    for (uint32_t i = 0; i < f->n_affected; i++)
        gf_vec_push(&victims, aff[i]);
    for (size_t i = 1; i < victims.n; i++)
        for (size_t j = i; j > 0; j--) {
            const gf_fair_pod *x = &st->pods.v[victims.v[j - 1]], *y = &st->pods.v[victims.v[j]];
            bool swap =
                y->priority < x->priority ||
                (y->priority == x->priority &&
                 (y->fraction < x->fraction - 1e-12 ||
                  (fabs(y->fraction - x->fraction) <= 1e-12 && victims.v[j] < victims.v[j - 1])));
            if (!swap) break;
            uint32_t t = victims.v[j];
            victims.v[j] = victims.v[j - 1];
            victims.v[j - 1] = t;
        }
    if (!f->n_affected) {
        gf_textf(resp->rule, sizeof resp->rule,
                 "%s is alone on its GPU: a larger allocation keeps KAI from placing a pod in the "
                 "memory it already uses",
                 who);
        gf_vec_push(&opts, up);
    } else if (offender_lowest) {
        gf_textf(resp->rule, sizeof resp->rule,
                 "the offender %s has the lowest priority (%d, GPU-mates %d and up): it yields",
                 who, (int)off->priority, (int)min_victim);
        gf_vec_push(&opts, up);
        for (size_t i = 0; i < victims.n; i++)
            add_alt(c, resp, GF_FAIR_ACT_MOVE, victims.v[i],
                    "move %s: its priority %d is above the offender's %d (the lower priority "
                    "yields)",
                    pod_text(&st->pods.v[victims.v[i]], other, sizeof other),
                    (int)st->pods.v[victims.v[i]].priority, (int)off->priority);
    } else if (any_lower) {
        gf_textf(resp->rule, sizeof resp->rule,
                 "a GPU-mate has lower priority (%d) than the offender %s (%d): the lower "
                 "priority yields and moves",
                 (int)min_victim, who, (int)off->priority);
        for (size_t i = 0; i < victims.n; i++) {
            const gf_fair_pod *v = &st->pods.v[victims.v[i]];
            if (v->priority < off->priority) {
                option o = {GF_FAIR_ACT_MOVE, victims.v[i]};
                gf_vec_push(&opts, o);
            } else {
                add_alt(c, resp, GF_FAIR_ACT_MOVE, victims.v[i],
                        "move %s: its priority %d is not below the offender's %d",
                        pod_text(v, other, sizeof other), (int)v->priority, (int)off->priority);
            }
        }
        add_alt(c, resp, GF_FAIR_ACT_UPSIZE, f->offender,
                "upsize %s: its priority %d is above a GPU-mate's %d (the lower priority yields)",
                who, (int)off->priority, (int)min_victim);
    } else {
        bool prefer_up = c->fp->response == GF_FAIR_PREFER_UPSIZE;
        gf_textf(resp->rule, sizeof resp->rule,
                 "equal priority (%d): fairUse.response is %s; a GPU-mate in another queue does "
                 "not make way",
                 (int)off->priority, gf_fair_prefer_name(c->fp->response));
        if (prefer_up) gf_vec_push(&opts, up);
        for (size_t i = 0; i < victims.n; i++) {
            const gf_fair_pod *v = &st->pods.v[victims.v[i]];
            if (same_queue(v->queue, off->queue)) {
                option o = {GF_FAIR_ACT_MOVE, victims.v[i]};
                gf_vec_push(&opts, o);
            } else {
                add_alt(c, resp, GF_FAIR_ACT_MOVE, victims.v[i],
                        "move %s: at equal priority, queue %s does not make way for queue %s",
                        pod_text(v, other, sizeof other), v->queue, off->queue);
            }
        }
        if (!prefer_up) gf_vec_push(&opts, up);
    }
    bool done = false;
    for (size_t i = 0; i < opts.n; i++) {
        const option *o = &opts.v[i];
        pod_text(&st->pods.v[o->pod], other, sizeof other);
        if (done) {
            add_alt(c, resp, o->action, o->pod, "%s %s: not needed, %s %s comes first",
                    gf_fair_action_name(o->action), other, gf_fair_action_name(resp->action),
                    pod_text(&st->pods.v[resp->pod], who, sizeof who));
            continue;
        }
        char why[400];
        if (try_option(c, f, o, resp, why, sizeof why))
            done = true;
        else
            add_alt(c, resp, o->action, o->pod, "%s %s: %s", gf_fair_action_name(o->action), other,
                    why);
    }
    if (!done) {
        resp->action = GF_FAIR_ACT_REPORT;
        resp->pod = GF_NONE;
        gf_textf(resp->reason, sizeof resp->reason,
                 "report only: no response is possible (see the rejected alternatives)");
    }
    gf_vec_free(&opts);
    gf_vec_free(&victims);
}

/* The state pod of model pod on state GPU gi, else GF_NONE. */
static uint32_t state_pod_on(const gf_fair_state *st, uint32_t gi, uint32_t pod)
{
    const gf_fair_gpu *g = &st->gpus.v[gi];
    for (uint32_t k = 0; k < g->n_pods; k++)
        if (st->pods.v[g->first_pod + k].pod == pod) return g->first_pod + k;
    return GF_NONE;
}

/* Over-commit: the rebalancer's least disruptive relief. May add several
 * responses (one per move); returns how many. */
static uint32_t respond_overcommit(respond_ctx *c, uint32_t fi, gf_fair_response *base)
{
    const gf_fair_finding *f = &c->r->findings.v[fi];
    const gf_fair_gpu *g = &c->st->gpus.v[f->gpu];
    if (!c->view || g->gpu == GF_NONE || g->gpu >= c->view->m->gpus.n) {
        gf_textf(base->reason, sizeof base->reason,
                 "report only: no cluster model to move pods with");
        gf_vec_push(&c->r->responses, *base);
        return 1;
    }
    gf_rebalance rb = {0};
    bool ok = gf_rebalance_relieve(c->view, g->gpu, c->env->scorer, 0, &rb);
    const gf_rebalance_gpu *v = &rb.gpus.v[0];
    gf_textf(base->rule, sizeof base->rule, "relieve the GPU (memory %.2f, compute %.2f): %s",
             v->mem_before, v->sm_before, v->why);
    uint32_t added = 0;
    GF_VEC(gf_fair_alternative) alts = {0};
    for (uint32_t i = 0; i < v->n_alt; i++) {
        const gf_rebalance_alt *a = &rb.alternatives.v[v->first_alt + i];
        gf_fair_alternative fa;
        memset(&fa, 0, sizeof fa);
        fa.action = GF_FAIR_ACT_MOVE;
        fa.pod = state_pod_on(c->st, f->gpu, a->pod);
        gf_textf(fa.why, sizeof fa.why, "move %s/%s: %s", c->view->m->pods.v[a->pod].ns,
                 c->view->m->pods.v[a->pod].name, a->why);
        gf_vec_push(&alts, fa);
    }
    base->first_alt = (uint32_t)c->r->alternatives.n;
    for (size_t i = 0; i < alts.n; i++)
        gf_vec_push(&c->r->alternatives, alts.v[i]);
    base->n_alt = (uint32_t)alts.n;
    if (!ok || !v->n_moves) {
        gf_textf(base->reason, sizeof base->reason, "report only: %s", v->why);
        gf_vec_push(&c->r->responses, *base);
        added = 1;
    } else {
        for (uint32_t i = 0; i < v->n_moves; i++) {
            const gf_rebalance_move *mv = &rb.moves.v[v->first_move + i];
            gf_fair_response resp = *base;
            if (i) resp.n_alt = 0;
            resp.action = GF_FAIR_ACT_MOVE;
            resp.pod = state_pod_on(c->st, f->gpu, mv->pod);
            resp.to = mv->to;
            gf_textf(resp.reason, sizeof resp.reason,
                     "move %s/%s to %s; the GPU then needs memory %.2f, compute %.2f",
                     c->view->m->pods.v[mv->pod].ns, c->view->m->pods.v[mv->pod].name, mv->why,
                     v->mem_after, v->sm_after);
            gf_vec_push(&c->r->responses, resp);
            added++;
        }
    }
    gf_vec_free(&alts);
    gf_rebalance_free(&rb);
    return added;
}

static int severity_order(const gf_fair_report *r, uint32_t a, uint32_t b)
{
    const gf_fair_finding *x = &r->findings.v[a], *y = &r->findings.v[b];
    if (x->severity != y->severity) return x->severity > y->severity ? -1 : 1;
    return (a > b) - (a < b);
}

/* Did an earlier memory-overrun finding on the same GPU name this offender? */
static bool overrun_reported(const gf_fair_report *r, const gf_fair_finding *f)
{
    for (size_t i = 0; i < r->findings.n; i++) {
        const gf_fair_finding *o = &r->findings.v[i];
        if (o->kind == GF_FAIR_MEMORY_OVERRUN && o->gpu == f->gpu && o->offender == f->offender)
            return true;
    }
    return false;
}

gf_err gf_fair_respond(const gf_fair_policy *fp, const gf_fair_state *st, const gf_fair_env *env,
                       double now, gf_fair_tracker *tr, gf_fair_report *r, gf_error *err)
{
    gf_vec_free(&r->responses);
    gf_vec_free(&r->alternatives);
    r->applied = 0;
    gf_fair_env none;
    memset(&none, 0, sizeof none);
    if (!env) env = &none;
    for (size_t i = 0; i < r->findings.n; i++) {
        const gf_fair_finding *f = &r->findings.v[i];
        if (f->gpu >= st->gpus.n || (f->offender != GF_NONE && f->offender >= st->pods.n) ||
            (size_t)f->first_affected + f->n_affected > r->affected.n)
            return gf_error_set(err, GF_EINTERNAL, NULL,
                                "fair use: finding %zu does not belong to this state", i);
    }
    gf_rebalance_view view;
    bool have_view = false;
    if (env->m && r->findings.n && fp->response != GF_FAIR_PREFER_REPORT) {
        gf_err rc = gf_rebalance_view_init(&view, env->m, env->pack, st, err);
        if (rc) {
            gf_rebalance_view_free(&view);
            return rc;
        }
        have_view = true;
    }
    respond_ctx c = {fp, st, env, r, have_view ? &view : NULL, now};
    GF_VEC(uint32_t) order = {0};
    for (uint32_t i = 0; i < r->findings.n; i++)
        gf_vec_push(&order, i);
    for (size_t i = 1; i < order.n; i++) /* insertion sort: stable, few findings */
        for (size_t j = i; j > 0 && severity_order(r, order.v[j], order.v[j - 1]) < 0; j--) {
            uint32_t t = order.v[j];
            order.v[j] = order.v[j - 1];
            order.v[j - 1] = t;
        }
    int64_t budget = fp->max_actions_per_hour - (int64_t)env->actions_last_hour;
    if (tr) budget -= gf_fair_tracker_actions_since(tr, now, 3600);
    for (size_t oi = 0; oi < order.n; oi++) {
        uint32_t fi = order.v[oi];
        const gf_fair_finding *f = &r->findings.v[fi];
        gf_fair_response resp;
        memset(&resp, 0, sizeof resp);
        resp.finding = fi;
        resp.action = GF_FAIR_ACT_REPORT;
        resp.pod = GF_NONE;
        resp.first_alt = (uint32_t)r->alternatives.n;
        size_t first_resp = r->responses.n;
        if (fp->response == GF_FAIR_PREFER_REPORT) {
            gf_textf(resp.rule, sizeof resp.rule, "fairUse.response is report");
            gf_textf(resp.reason, sizeof resp.reason, "report only (Event and metric)");
            gf_vec_push(&r->responses, resp);
        } else if (f->kind == GF_FAIR_MEMORY_OVERRUN || f->kind == GF_FAIR_COMPUTE_HOG) {
            respond_offender(&c, f, &resp);
            gf_vec_push(&r->responses, resp);
        } else if (f->kind == GF_FAIR_DEVICE_MEMORY_FULL) {
            if (f->offender != GF_NONE && overrun_reported(r, f)) {
                char who[300];
                gf_textf(resp.rule, sizeof resp.rule,
                         "the memory-overrun finding for %s answers this one",
                         pod_text(&st->pods.v[f->offender], who, sizeof who));
            } else {
                gf_textf(resp.rule, sizeof resp.rule,
                         "no pod is above its allocation by more than the margin: nothing to "
                         "correct");
            }
            gf_textf(resp.reason, sizeof resp.reason,
                     "report only: the GPU is allocated and used nearly to the full (gpufrac "
                     "recommend shows whether its pods' fractions are too small)");
            gf_vec_push(&r->responses, resp);
        } else {
            respond_overcommit(&c, fi, &resp);
        }
        /* mode, rate limit, once per pod per hour; the moves that relieve
         * one GPU together are applied together or not at all */
        int64_t actions = 0;
        bool blocked = false;
        const char *why_not = NULL;
        for (size_t k = first_resp; k < r->responses.n; k++) {
            const gf_fair_response *p = &r->responses.v[k];
            if (p->action == GF_FAIR_ACT_REPORT) continue;
            actions++;
            const gf_fair_pod *sp = p->pod != GF_NONE ? &st->pods.v[p->pod] : NULL;
            double last = sp ? last_action(tr, sp) : NAN;
            if (!blocked && !isnan(last) && now - last < 3600) {
                blocked = true;
                why_not = "a pod was acted on less than an hour ago";
            }
        }
        if (!actions) continue;
        char limit[160];
        if (fp->mode != GF_FAIR_MODE_ACT) {
            gf_textf(limit, sizeof limit, "fairUse.mode is %s", gf_fair_mode_name(fp->mode));
            why_not = limit;
        } else if (budget < actions) {
            gf_textf(limit, sizeof limit, "maxActionsPerHour (%d) reached%s",
                     (int)fp->max_actions_per_hour,
                     actions > 1 ? " (the moves relieving this GPU go together)" : "");
            why_not = limit;
        }
        for (size_t k = first_resp; k < r->responses.n; k++) {
            gf_fair_response *p = &r->responses.v[k];
            if (p->action == GF_FAIR_ACT_REPORT) continue;
            size_t len = strlen(p->reason);
            if (why_not) {
                gf_textf(p->reason + len, sizeof p->reason - len, "; not applied: %s", why_not);
                continue;
            }
            const gf_fair_pod *sp = p->pod != GF_NONE ? &st->pods.v[p->pod] : NULL;
            p->apply = true;
            budget--;
            r->applied++;
            if (tr) gf_fair_tracker_note_action(tr, sp ? sp->ns : NULL, sp ? sp->name : NULL, now);
        }
    }
    gf_vec_free(&order);
    if (have_view) gf_rebalance_view_free(&view);
    return GF_OK;
}

gf_err gf_fair_step(const gf_fair_policy *fp, const gf_fair_state *st, const gf_fair_env *env,
                    double now, gf_fair_tracker *tr, gf_fair_report *out, gf_error *err)
{
    gf_fair_report_free(out);
    if (fp->mode == GF_FAIR_MODE_OFF) return GF_OK;
    gf_err rc = GF_OK;
    if (tr) rc = gf_fair_tracker_observe(tr, fp, st, now, err);
    if (!rc) rc = gf_fair_detect(fp, st, now, tr, out, err);
    if (!rc) rc = gf_fair_respond(fp, st, env, now, tr, out, err);
    return rc;
}
