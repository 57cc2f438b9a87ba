/* controller.c - the controller's decision step and loop iteration, see
 * controller.h. */
#include "decide/controller.h"
#include "decide/quota.h"
#include "util/sbuf.h"
#include "util/strmap.h"
#include "decide/consolidate.h"
#include "model/kai.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- names -------------------------------------------------------------------------- */

const char *gf_ctl_kind_name(gf_ctl_kind k)
{
    static const char *names[] = {"resize", "recommend", "report", "evict", "cordon"};
    return (unsigned)k < GF_CTL_KIND_COUNT ? names[k] : "?";
}

const char *gf_ctl_reason_name(gf_ctl_reason r)
{
    static const char *names[] = {"upsize", "downsize", "recommend", "recommend-clear"};
    if ((unsigned)r < GF_CTL_R_FAIR_FIRST) return names[r];
    if (r < GF_CTL_R_CONSOLIDATE) return gf_fair_kind_name((gf_fair_kind)(r - GF_CTL_R_FAIR_FIRST));
    if (r == GF_CTL_R_CONSOLIDATE) return "consolidate";
    if (r == GF_CTL_R_CONVERT) return "convert";
    if (r == GF_CTL_R_REVERT) return "revert";
    if (r == GF_CTL_R_STALLED) return "stalled";
    if (r == GF_CTL_R_OWNER) return "recommend-owner";
    if (r == GF_CTL_R_CONFIGURED_OVERRUN) return "configured-overrun";
    return "?";
}

const char *gf_ctl_hold_name(gf_ctl_hold h)
{
    static const char *names[] = {"go",      "stale",   "kind",  "rollout",      "cooldown",
                                  "budget",  "pdb",     "rate",  "not-selected", "superseded",
                                  "stalled", "backoff", "quota", "change-window"};
    return (unsigned)h < GF_CTL_HOLD_COUNT ? names[h] : "?";
}

const char *gf_ctl_result_name(gf_ctl_result r)
{
    static const char *names[] = {"ok",   "error",   "conflict",   "refused",
                                  "gone", "dry-run", "not-leader", "rejected"};
    return (unsigned)r < GF_CTL_RESULT_COUNT ? names[r] : "?";
}

const char *gf_ctl_stall_cause_name(gf_ctl_stall_cause c)
{
    static const char *names[] = {"none", "pending_timeout", "failed_create", "unschedulable"};
    return (unsigned)c < GF_CTL_STALL_COUNT ? names[c] : "?";
}

const char *gf_ctl_op_name(gf_ctl_op op)
{
    static const char *names[] = {"snapshot", "usage",  "resize", "annotate", "event",
                                  "evict",    "cordon", "watch",  "lease",    "history"};
    return (unsigned)op < GF_CTL_OP_COUNT ? names[op] : "?";
}

bool gf_ctl_kind_disruptive(gf_ctl_kind k)
{
    return k == GF_CTL_RESIZE || k == GF_CTL_EVICT;
}

size_t gf_ctl_decision_index(const gf_ctl_action *a)
{
    return a->hold != GF_CTL_GO ? (size_t)GF_CTL_REASON_COUNT + a->hold : (size_t)a->reason;
}

const char *gf_ctl_decision_name(size_t i)
{
    if (i < GF_CTL_REASON_COUNT) return gf_ctl_reason_name((gf_ctl_reason)i);
    return gf_ctl_hold_name((gf_ctl_hold)(i - GF_CTL_REASON_COUNT));
}

/* --- lifecycle ------------------------------------------------------------------------ */

void gf_ctl_config_default(gf_ctl_config *c)
{
    memset(c, 0, sizeof *c);
    c->interval_s = 60;
    c->max_actions = 3;
    c->consolidate_every_s = 0;
    c->backfill_s = GF_HIST_HOUR_WINDOW_S; /* the longest window the history answers */
    c->report_every_s = 3600;
    c->dry_run = false;
    c->scorer = GF_SCORE_BINPACK;
}

void gf_ctl_plan_init(gf_ctl_plan *p)
{
    memset(p, 0, sizeof *p);
    gf_fair_state_init(&p->fair_state);
    p->staleness_s = INFINITY;
}

void gf_ctl_plan_free(gf_ctl_plan *p)
{
    if (!p) return;
    gf_vec_free(&p->actions);
    gf_vec_free(&p->recs);
    gf_vec_free(&p->overruns);
    gf_fair_report_free(&p->fair);
    gf_fair_state_free(&p->fair_state);
    gf_ctl_plan_init(p);
}

void gf_ctl_state_init(gf_ctl_state *s)
{
    memset(s, 0, sizeof *s);
    gf_fair_tracker_init(&s->tracker);
    s->last_consolidation_t = -INFINITY;
}

static void stamps_free(gf_ctl_stamp *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].key);
}

void gf_ctl_state_free(gf_ctl_state *s)
{
    if (!s) return;
    gf_fair_tracker_free(&s->tracker);
    stamps_free(s->evictions.v, s->evictions.n);
    gf_vec_free(&s->evictions);
    stamps_free(s->reported.v, s->reported.n);
    gf_vec_free(&s->reported);
    stamps_free(s->refused.v, s->refused.n);
    gf_vec_free(&s->refused);
    stamps_free(s->overrun_told.v, s->overrun_told.n);
    gf_vec_free(&s->overrun_told);
    free(s->draining);
    s->draining = NULL;
}

/* --- the last-change annotation -------------------------------------------------------- */

void gf_ctl_format_last_change(double t, const char *unit_key, const char *from, const char *to,
                               const char *reason, const char *why, char *buf, size_t n)
{
    char when[32] = "?";
    time_t s = (time_t)floor(t);
    struct tm tm;
    if (gmtime_r(&s, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gf_textf(buf, n, "%s %s %s -> %s (%s): %s", when, unit_key, from && *from ? from : "unset", to,
             reason, why);
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static bool digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool gf_ctl_parse_last_change(const char *v, double *t)
{
    unsigned y, mo, d, h, mi, s;
    if (!v || strlen(v) < 20 || !digits(v, 4, &y) || v[4] != '-' || !digits(v + 5, 2, &mo) ||
        v[7] != '-' || !digits(v + 8, 2, &d) || v[10] != 'T' || !digits(v + 11, 2, &h) ||
        v[13] != ':' || !digits(v + 14, 2, &mi) || v[16] != ':' || !digits(v + 17, 2, &s) ||
        v[19] != 'Z')
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
        return false;
    *t = (double)(days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + s);
    return true;
}

size_t gf_ctl_seed_changes(gf_history *h, const gf_model *m, const gf_ctl_meta *meta, double now,
                           gf_diags *d)
{
    if (!meta || !meta->w) return 0;
    size_t noted = 0;
    for (size_t wi = 0; wi < m->workloads.n; wi++) {
        const char *v = meta->w[wi].last_change;
        if (!v) continue;
        const gf_workload *w = &m->workloads.v[wi];
        double t;
        if (!gf_ctl_parse_last_change(v, &t)) {
            gf_diag(d, w->origin,
                    "%s %s/%s: annotation " GF_ANN_LAST_CHANGE
                    " does not start with a UTC time (YYYY-MM-DDTHH:MM:SSZ): ignored",
                    w->kind, w->ns, w->name);
            continue;
        }
        if (t > now) t = now; /* another replica's clock ahead of ours */
        char key[400];
        gf_recommend_key(w->ns, w->kind, w->name, key, sizeof key);
        gf_hist_series *s = gf_history_get(h, key, true);
        if (!s || t <= s->last_change_t) continue;
        gf_error e;
        if (gf_hist_note_change(s, t, &e) == GF_OK) noted++;
    }
    return noted;
}

/* --- per-workload facts ------------------------------------------------------------------ */

typedef struct winfo {
    const gf_pod *first;    /* first active pod (a sharing one when there is any) */
    bool sharing;           /* some active pod holds a KAI share */
    bool rollout;           /* an active sharing pod differs from the template's value */
    gf_policy_decision dec; /* resolved with the real policy */
    bool resolved;
    uint32_t slot;        /* budget slot: rule index, or n_rules for the defaults */
    double newest;        /* newest usage sample of its series, -INFINITY */
    double last_change_t; /* -1: never */
    const gf_hist_series *s;
    /* a rollout that stalled after our last resize (detect_stalls) */
    gf_ctl_stall_cause stall;
    bool stalled_mark;      /* gpufrac.io/stalled on the workload: changed no more */
    char stall_why[300];    /* what stalled, for the Event */
    char stall_from[24];    /* the allocation before our change (last-change record) */
    char stall_to[24];      /* the template's value now */
    const char *stall_unit; /* gpu-fraction / gpu-memory */
} winfo;

static uint32_t top_index(const gf_model *m, const gf_pod *p)
{
    const gf_workload *w = gf_model_pod_workload(m, p);
    return w ? (uint32_t)(w - m->workloads.v) : GF_NONE;
}

static bool parse_num(const char *s, double *out)
{
    if (!s || !*s) return false;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

static void gather(const gf_model *m, const gf_history *h, const gf_policy *p, winfo *wi)
{
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *pod = &m->pods.v[i];
        if (!gf_pod_active(pod) || pod->is_reservation) continue;
        uint32_t w = top_index(m, pod);
        if (w == GF_NONE) continue;
        winfo *x = &wi[w];
        bool share = pod->share != GF_SHARE_NONE;
        if (!x->first || (share && !x->sharing)) x->first = pod;
        if (share) x->sharing = true;
        if (!share) {
            /* a template converted to a fraction while whole-GPU pods remain */
            const gf_kvs *ta = &m->workloads.v[w].template_annotations;
            if (pod->gpu_whole &&
                (gf_kvs_get(ta, GF_KAI_GPU_FRACTION) || gf_kvs_get(ta, GF_KAI_GPU_MEMORY)))
                x->rollout = true;
            continue;
        }
        const char *tv = gf_kvs_get(&m->workloads.v[w].template_annotations,
                                    gf_recommend_unit_annotation(pod->share));
        double want,
            have = pod->share == GF_SHARE_MEMORY ? (double)pod->gpu_memory_mib : pod->gpu_fraction;
        if (parse_num(tv, &want) && fabs(want - have) > 1e-9) x->rollout = true;
    }
    for (size_t w = 0; w < m->workloads.n; w++) {
        winfo *x = &wi[w];
        x->newest = -INFINITY;
        x->last_change_t = -1;
        x->slot = (uint32_t)p->rules.n;
        const gf_workload *wl = &m->workloads.v[w];
        char key[400];
        gf_recommend_key(wl->ns, wl->kind, wl->name, key, sizeof key);
        x->s = h ? gf_history_find(h, key) : NULL;
        if (x->s) {
            for (int k = 0; k < GF_HIST_NSIGNALS; k++)
                if (x->s->track[k].samples && x->s->track[k].last_t > x->newest)
                    x->newest = x->s->track[k].last_t;
            x->last_change_t = x->s->last_change_t;
        }
        if (!x->first) continue;
        gf_policy_subject subj = {wl->kind, wl->ns, wl->name, &x->first->labels, NULL};
        subj.opt = gf_kvs_get(&wl->template_annotations, GF_ANN_RIGHTSIZE);
        if (!subj.opt) subj.opt = gf_kvs_get(&x->first->annotations, GF_ANN_RIGHTSIZE);
        gf_policy_resolve(p, &subj, &x->dec);
        x->resolved = true;
        if (x->dec.rule_index != GF_NONE && x->dec.rule_index < p->rules.n)
            x->slot = x->dec.rule_index;
    }
}

/* The policy without pacing: no cooldown, and a disruption budget the change
 * ring can never reach, so that the recommender says what size is right and
 * the controller decides when. Shares everything with p except the rules
 * array (free *rules). */
static void unpaced(const gf_policy *p, gf_policy *out, gf_policy_rule **rules)
{
    *out = *p;
    out->defaults.cooldown_s = 0;
    out->defaults.max_disruptions_per_hour = 3600;
    *rules = NULL;
    if (p->rules.n) {
        *rules = gf_xcalloc(p->rules.n, sizeof **rules);
        for (size_t i = 0; i < p->rules.n; i++) {
            (*rules)[i] = p->rules.v[i];
            (*rules)[i].set &= ~(GF_RF_BIT(GF_RF_COOLDOWN) | GF_RF_BIT(GF_RF_MAX_DISRUPTIONS));
        }
    }
    out->rules.v = *rules;
}

static bool is_stamped(const gf_ctl_stamp *v, size_t n, const char *key, double after)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].t > after && !strcmp(v[i].key, key)) return true;
    return false;
}

static uint32_t count_stamps(const gf_ctl_stamp *v, size_t n, const char *key, double after)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += v[i].t > after && !strcmp(v[i].key, key);
    return c;
}

/* "gpu-fraction 0.5 -> 0.25 (downsize": the part of a recommendation
 * annotation that says what it recommends. */
static void rec_head(const gf_recommendation *r, char *buf, size_t n)
{
    char cur[32], rec[32];
    gf_recommend_value_text(r->in.unit, r->current, cur, sizeof cur);
    gf_recommend_target_text(r, rec, sizeof rec);
    snprintf(buf, n, "%s %s -> %s (%s", gf_recommend_unit_annotation(r->in.unit), cur, rec,
             gf_rec_action_name(r->action));
}

static bool same_recommendation(const char *have, const char *head)
{
    size_t l = strlen(head);
    return have && !strncmp(have, head, l) && (have[l] == ',' || have[l] == ')');
}

/* --- rollouts that stall ------------------------------------------------------------------- */

/* The share change a gpufrac.io/last-change record describes ("TIME
 * gpu-fraction 0.5 -> 0.55 (upsize): ..."): unit, from and to as numbers'
 * text, and the reason. False for anything else (a whole-GPU change, a
 * conversion, "unset", someone's hand-written text). */
static bool parse_share_change(const char *v, char *unit, char *from, char *to, char *reason)
{
    double t, x;
    if (!gf_ctl_parse_last_change(v, &t) || v[20] != ' ') return false;
    if (sscanf(v + 21, "%31s %23s -> %23s (%31[^)])", unit, from, to, reason) != 4) return false;
    if (strcmp(unit, GF_KAI_GPU_FRACTION) && strcmp(unit, GF_KAI_GPU_MEMORY)) return false;
    return parse_num(from, &x) && parse_num(to, &x);
}

/* A rollout gpufrac started that does not progress: the workload's last
 * change is ours (its record's new value is the template's value now), and
 * a new pod (one at that value) is Pending with KAI's Unschedulable
 * condition, or Pending past the rule's stallTimeout, or the new
 * ReplicaSet cannot create its pods (FailedCreate). Fills wi[].stall; one
 * pass over the workloads, one over the pods, one over the ReplicaSets. */
static void detect_stalls(const gf_ctl_input *in, winfo *wi)
{
    const gf_model *m = in->m;
    size_t nw = m->workloads.n;
    double *want = gf_xcalloc(nw + 1, sizeof *want), *since = gf_xcalloc(nw + 1, sizeof *since);
    for (size_t w = 0; w < nw; w++) {
        winfo *x = &wi[w];
        const gf_workload *wl = &m->workloads.v[w];
        const gf_ctl_wmeta *mw = in->meta && in->meta->w ? &in->meta->w[w] : NULL;
        want[w] = NAN;
        if (!mw || !x->resolved) continue;
        if (mw->stalled) x->stalled_mark = true;
        char unit[32], from[24], to[24], reason[32];
        double t, have;
        if (!mw->last_change || !parse_share_change(mw->last_change, unit, from, to, reason) ||
            !strcmp(reason, gf_ctl_reason_name(GF_CTL_R_REVERT)) ||
            !gf_ctl_parse_last_change(mw->last_change, &t))
            continue;
        const char *tv = gf_kvs_get(&wl->template_annotations, unit);
        if (!parse_num(tv, &have) || !parse_num(to, &want[w]) || fabs(have - want[w]) > 1e-9) {
            want[w] = NAN; /* someone else's change since, or none of ours */
            continue;
        }
        since[w] = t;
        x->stall_unit = !strcmp(unit, GF_KAI_GPU_MEMORY) ? GF_KAI_GPU_MEMORY : GF_KAI_GPU_FRACTION;
        gf_textf(x->stall_from, sizeof x->stall_from, "%s", from);
        gf_textf(x->stall_to, sizeof x->stall_to, "%s", tv);
    }
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        uint32_t w = top_index(m, p);
        if (w == GF_NONE || isnan(want[w])) continue;
        winfo *x = &wi[w];
        if (x->stall == GF_CTL_STALL_UNSCHEDULABLE || p->phase != GF_PHASE_PENDING ||
            p->terminating || p->is_reservation || p->share == GF_SHARE_NONE)
            continue;
        bool memory = !strcmp(x->stall_unit, GF_KAI_GPU_MEMORY);
        double pv = memory ? (double)p->gpu_memory_mib : p->gpu_fraction;
        if ((p->share == GF_SHARE_MEMORY) != memory || fabs(pv - want[w]) > 1e-9) continue;
        if (p->unschedulable) {
            /* pkg/scheduler/cache/status_updater/default_status_updater.go
             * markTaskUnschedulable: KAI could not place it */
            x->stall = GF_CTL_STALL_UNSCHEDULABLE;
            gf_textf(x->stall_why, sizeof x->stall_why,
                     "pod %s is unschedulable (KAI's PodScheduled condition)", p->name);
            continue;
        }
        double age = in->now - (p->created_t > since[w] ? p->created_t : since[w]);
        if (x->stall == GF_CTL_STALL_NONE && age >= (double)x->dec.rule.stall_timeout_s) {
            x->stall = GF_CTL_STALL_PENDING_TIMEOUT;
            gf_textf(x->stall_why, sizeof x->stall_why,
                     "pod %s Pending for %.0f s (stallTimeout %lld s)", p->name, age,
                     (long long)x->dec.rule.stall_timeout_s);
        }
    }
    gf_sbuf key = GF_SBUF_INIT;
    for (size_t r = 0; r < nw; r++) {
        const gf_workload *rs = &m->workloads.v[r];
        if (!rs->failed_create || !rs->owner.kind) continue;
        key.len = 0;
        gf_sbuf_printf(&key, "%s/%s/%s", rs->owner.kind, rs->ns, rs->owner.name);
        size_t w;
        if (!gf_strmap_get(&m->workload_by_key, gf_sbuf_str(&key), &w) || isnan(want[w])) continue;
        winfo *x = &wi[w];
        double rv;
        if (x->stall == GF_CTL_STALL_UNSCHEDULABLE ||
            !parse_num(gf_kvs_get(&rs->template_annotations, x->stall_unit), &rv) ||
            fabs(rv - want[w]) > 1e-9)
            continue;
        x->stall = GF_CTL_STALL_FAILED_CREATE;
        gf_textf(x->stall_why, sizeof x->stall_why, "ReplicaSet %s: FailedCreate: %s", rs->name,
                 rs->failed_create);
    }
    gf_sbuf_free(&key);
    free(want);
    free(since);
}

/* --- candidates ----------------------------------------------------------------------------- */

typedef struct cand {
    gf_ctl_action a;
    /* an upsize of a.workload: per pod, in GPUs, as the queues count them
     * (decide/quota.h); quota_new 0 for anything else */
    double quota_old, quota_new;
    int prio;   /* lower first */
    size_t seq; /* insertion order, for a stable sort */
} cand;

typedef GF_VEC(cand) cands;

static int cmp_cand(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->prio != b->prio) return a->prio < b->prio ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

static gf_ctl_action blank_action(gf_ctl_kind kind, gf_ctl_reason reason)
{
    gf_ctl_action a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.reason = reason;
    a.workload = a.pod = a.node = a.rule = GF_NONE;
    return a;
}

static void target_workload(gf_ctl_action *a, const gf_model *m, uint32_t wi,
                            const gf_ctl_meta *meta)
{
    const gf_workload *w = &m->workloads.v[wi];
    a->workload = wi;
    a->target = (gf_ctl_target){w->kind, w->ns, w->name, w->uid};
    if (meta && meta->w) {
        a->resource_version = meta->w[wi].resource_version;
        a->expect_last_change = meta->w[wi].last_change;
    }
}

static void target_pod(gf_ctl_action *a, const gf_model *m, uint32_t pi)
{
    const gf_pod *p = &m->pods.v[pi];
    a->pod = pi;
    a->target = (gf_ctl_target){"Pod", p->ns, p->name, p->uid};
    a->workload = top_index(m, p);
}

static void push(cands *cs, const cand *c)
{
    cand x = *c;
    x.seq = cs->n;
    gf_vec_push(cs, x);
}

/* RESIZE candidate for workload wi from `from` to value v (in unit). */
/* The container of workload wi that holds its share (its first sharing
 * pod's), for a whole-GPU patch. */
static const gf_pod *share_pod(const gf_model *m, uint32_t wi)
{
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->share != GF_SHARE_NONE && !p->is_reservation && top_index(m, p) == wi) return p;
    }
    return NULL;
}

/* RESIZE candidate for workload wi from `from` to value v (in unit); whole
 * > 0: to that many whole GPUs per pod instead. A gpu-fraction KAI would
 * refuse is never proposed (gpu_request_validator.go: 0 < f < 1). */
static void resize_cand(cands *cs, const gf_model *m, const gf_ctl_meta *meta, double now,
                        uint32_t wi, gf_share_kind unit, double current, double v, uint32_t whole,
                        gf_ctl_reason reason, int prio, const char *why,
                        const gf_recommendation *cap)
{
    cand c;
    memset(&c, 0, sizeof c);
    c.a = blank_action(GF_CTL_RESIZE, reason);
    target_workload(&c.a, m, wi, meta);
    c.a.unit_key = gf_recommend_unit_annotation(unit);
    const char *tv = gf_kvs_get(&m->workloads.v[wi].template_annotations, c.a.unit_key);
    if (tv)
        gf_textf(c.a.from, sizeof c.a.from, "%s", tv);
    else
        gf_recommend_value_text(unit, current, c.a.from, sizeof c.a.from);
    if (!whole && unit == GF_SHARE_FRACTION && !gf_kai_fraction_ok(v)) whole = 1;
    if (whole) {
        const gf_pod *sp = share_pod(m, wi);
        c.a.whole_gpus = whole;
        c.a.container = sp ? sp->gpu_container : NULL;
        c.a.container_init = sp && sp->gpu_container_init;
        gf_textf(c.a.to, sizeof c.a.to, "%s: %u", GF_RES_GPU, whole);
    } else {
        gf_recommend_value_text(unit, v, c.a.to, sizeof c.a.to);
        if (cap && cap->move_cap) {
            /* the engine's cap moves in the same patch (recommend.h move_cap) */
            const gf_engine_info *e = &cap->in.engine;
            c.a.move_cap = true;
            c.a.cap_env = e->cap_source == GF_CAP_ENV;
            c.a.new_cap = cap->new_cap;
            c.a.cap_knob = e->knob;
            c.a.cap_container = cap->in.engine_container;
            c.a.cap_container_init = cap->in.engine_container_init;
        }
    }
    if (!strcmp(c.a.from, c.a.to)) return; /* the template says so already */
    bool up = whole || v > current;
    const gf_pod *sp = share_pod(m, wi);
    if (up && sp) {
        /* per pod, in GPUs, as the queues count them (decide/quota.h) */
        double devices = sp->gpu_devices ? sp->gpu_devices : 1;
        int64_t gmib = sp->node != GF_NONE ? m->nodes.v[sp->node].gpu_memory_mib : 0;
        double to = whole                       ? whole
                    : unit == GF_SHARE_FRACTION ? v * devices
                    : gmib > 0                  ? v / (double)gmib * devices
                                                : 0;
        gf_quota_check q;
        c.quota_old = gf_pod_gpus(m, sp);
        c.quota_new = to;
        if (gf_quota_upsize(m, wi, c.quota_old, to, &q))
            gf_quota_text(m, &q, c.a.quota, sizeof c.a.quota);
    }
    gf_ctl_format_last_change(floor(now), c.a.unit_key, c.a.from, c.a.to,
                              gf_ctl_reason_name(reason), why, c.a.last_change,
                              sizeof c.a.last_change);
    gf_textf(c.a.event_reason, sizeof c.a.event_reason, "%s",
             reason == GF_CTL_R_UPSIZE     ? "GPUAllocationUpsized"
             : reason == GF_CTL_R_DOWNSIZE ? "GPUAllocationDownsized"
                                           : "GPUFairUseUpsized");
    const gf_workload *w = &m->workloads.v[wi];
    gf_textf(c.a.message, sizeof c.a.message, "%s %s/%s/%s %s %s -> %s (%s): %s",
             up ? "upsize" : "downsize", w->ns, w->kind, w->name, c.a.unit_key, c.a.from, c.a.to,
             gf_ctl_reason_name(reason), why);
    c.prio = prio;
    push(cs, &c);
}

/* RESIZE candidate converting whole-GPU workload wi to r's fraction. */
static void convert_cand(cands *cs, const gf_model *m, const gf_ctl_meta *meta, double now,
                         uint32_t wi, const gf_recommendation *r)
{
    if (!r->in.gpu_container) return; /* no container to take the GPU from */
    cand c;
    memset(&c, 0, sizeof c);
    c.a = blank_action(GF_CTL_RESIZE, GF_CTL_R_CONVERT);
    target_workload(&c.a, m, wi, meta);
    c.a.unit_key = gf_recommend_unit_annotation(r->in.unit);
    gf_recommend_value_text(r->in.unit, r->recommended, c.a.to, sizeof c.a.to);
    const char *tv = gf_kvs_get(&m->workloads.v[wi].template_annotations, c.a.unit_key);
    if (tv && !strcmp(tv, c.a.to)) return; /* the template says so already */
    gf_textf(c.a.from, sizeof c.a.from, "%s", tv ? tv : "");
    c.a.gpu_container = r->in.gpu_container;
    c.a.from_whole_gpus = r->in.whole_gpus;
    c.a.set_scheduler = r->set_scheduler;
    c.a.convert_mode = r->mode;
    char from[32];
    snprintf(from, sizeof from, "%s=%u", GF_RES_GPU, r->in.whole_gpus);
    gf_ctl_format_last_change(floor(now), c.a.unit_key, from, c.a.to,
                              gf_ctl_reason_name(GF_CTL_R_CONVERT), r->reason, c.a.last_change,
                              sizeof c.a.last_change);
    gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GPUConvertedToFraction");
    const gf_workload *w = &m->workloads.v[wi];
    gf_textf(c.a.message, sizeof c.a.message, "convert %s/%s/%s %s -> %s %s%s: %s", w->ns, w->kind,
             w->name, from, c.a.unit_key, c.a.to,
             r->set_scheduler ? ", schedulerName " GF_KAI_SCHEDULER_NAME : "", r->reason);
    c.prio = 3; /* with the downsizes: it saves, nothing is short */
    push(cs, &c);
}

static void recommend_cand(cands *cs, const gf_model *m, const gf_ctl_meta *meta, uint32_t wi,
                           const gf_recommendation *r)
{
    cand c;
    memset(&c, 0, sizeof c);
    c.a = blank_action(GF_CTL_RECOMMEND, GF_CTL_R_RECOMMEND);
    target_workload(&c.a, m, wi, meta);
    c.a.unit_key = gf_recommend_unit_annotation(r->in.unit);
    char head[200];
    rec_head(r, head, sizeof head);
    gf_textf(c.a.recommendation, sizeof c.a.recommendation, "%s, confidence %.2f): %s", head,
             r->confidence, r->reason);
    gf_recommend_value_text(r->in.unit, r->current, c.a.from, sizeof c.a.from);
    gf_recommend_target_text(r, c.a.to, sizeof c.a.to);
    gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GPUAllocationRecommended");
    const gf_workload *w = &m->workloads.v[wi];
    gf_textf(c.a.message, sizeof c.a.message, "recommend %s/%s/%s %s %s -> %s (%s): %s", w->ns,
             w->kind, w->name, c.a.unit_key, c.a.from, c.a.to, gf_rec_action_name(r->action),
             r->reason);
    c.prio = 10;
    push(cs, &c);
}

static void clear_cand(cands *cs, const gf_model *m, const gf_ctl_meta *meta, uint32_t wi,
                       const gf_recommendation *r)
{
    cand c;
    memset(&c, 0, sizeof c);
    c.a = blank_action(GF_CTL_RECOMMEND, GF_CTL_R_RECOMMEND_CLEAR);
    target_workload(&c.a, m, wi, meta);
    const gf_workload *w = &m->workloads.v[wi];
    gf_textf(c.a.message, sizeof c.a.message, "recommendation of %s/%s/%s removed: %s", w->ns,
             w->kind, w->name, r->reason);
    c.prio = 10;
    push(cs, &c);
}

/* Only Deployments and StatefulSets are written (resized, annotated): a
 * Job's template is immutable, a bare ReplicaSet does not roll, and the
 * operators below own their Deployments, StatefulSets or ReplicaSets and
 * put back what anyone else writes there (RBAC does not let gpufrac patch
 * them either). */
static bool writable_kind(const char *kind)
{
    return !strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet");
}

/* A recommendation for a workload gpufrac does not write: an Event about
 * its first pod naming the object and field to patch (REPORT: nothing is
 * written to the owner), not repeated within report_every_s while the
 * recommendation stays the same. */
static void owner_cand(cands *cs, const gf_ctl_config *cfg, const gf_ctl_input *in,
                       const gf_ctl_state *st, const winfo *x, uint32_t wi,
                       const gf_recommendation *r)
{
    const gf_model *m = in->m;
    if (!x->first) return;
    const gf_workload *w = &m->workloads.v[wi];
    char head[200];
    rec_head(r, head, sizeof head);
    cand c;
    memset(&c, 0, sizeof c);
    c.a = blank_action(GF_CTL_REPORT, GF_CTL_R_OWNER);
    target_pod(&c.a, m, (uint32_t)(x->first - m->pods.v));
    c.a.workload = wi;
    gf_textf(c.a.key, sizeof c.a.key, "owner/%s/%s/%s/%s", w->ns, w->kind, w->name, head);
    if (is_stamped(st->reported.v, st->reported.n, c.a.key, in->now - cfg->report_every_s)) return;
    gf_owner_target ot;
    gf_recommend_owner_target(w, x->first, &ot);
    const char *okind = ot.kind, *oname = ot.name, *path = ot.path;
    c.a.unit_key = gf_recommend_unit_annotation(r->in.unit);
    gf_recommend_value_text(r->in.unit, r->current, c.a.from, sizeof c.a.from);
    gf_recommend_target_text(r, c.a.to, sizeof c.a.to);
    gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GPUAllocationRecommended");
    if (path)
        gf_textf(c.a.message, sizeof c.a.message,
                 "recommend %s/%s/%s %s %s -> %s (%s): %s; recommend-only (gpufrac does not "
                 "write a %s): set %s in %s of %s %s/%s",
                 w->ns, w->kind, w->name, c.a.unit_key, c.a.from, c.a.to,
                 gf_rec_action_name(r->action), r->reason, okind, c.a.unit_key, path, okind, w->ns,
                 oname);
    else
        gf_textf(c.a.message, sizeof c.a.message,
                 "recommend %s/%s/%s %s %s -> %s (%s): %s; recommend-only (gpufrac writes "
                 "Deployments and StatefulSets only): set %s in the pod template of %s %s/%s",
                 w->ns, w->kind, w->name, c.a.unit_key, c.a.from, c.a.to,
                 gf_rec_action_name(r->action), r->reason, c.a.unit_key, okind, w->ns, oname);
    c.prio = 10;
    push(cs, &c);
}

/* Rightsizing: one candidate per workload whose recommendation changes or
 * whose published recommendation is out of date. */
static void rightsizing(cands *cs, const gf_ctl_config *cfg, const gf_ctl_input *in,
                        const gf_ctl_state *st, const winfo *wi, const gf_recommendations *recs)
{
    const gf_model *m = in->m;
    for (size_t i = 0; i < recs->n; i++) {
        const gf_recommendation *r = &recs->v[i];
        char key[600];
        size_t w;
        snprintf(key, sizeof key, "%s/%s/%s", r->in.kind, r->in.ns, r->in.name);
        if (!gf_strmap_get(&m->workload_by_key, key, &w)) continue;
        const winfo *x = &wi[w];
        gf_mode mode = x->resolved ? x->dec.rule.mode : GF_MODE_OFF;
        if (r->in.whole_gpus) mode = x->resolved ? r->mode : GF_MODE_OFF; /* convert's own */
        if (mode == GF_MODE_OFF || r->action == GF_REC_OFF) continue;     /* never touched */
        const char *have = in->meta && in->meta->w ? in->meta->w[w].recommendation : NULL;
        if (r->action == GF_REC_WHOLE && r->mode < mode) mode = r->mode; /* convert.toWholeGpu */
        if (!writable_kind(m->workloads.v[w].kind)) {
            /* recommend-only: never a write known to fail */
            if (r->action == GF_REC_UP || r->action == GF_REC_DOWN || r->action == GF_REC_WHOLE ||
                r->action == GF_REC_TO_FRACTION)
                owner_cand(cs, cfg, in, st, x, (uint32_t)w, r);
            continue;
        }
        if (r->action == GF_REC_TO_FRACTION) {
            char head[200];
            rec_head(r, head, sizeof head);
            if (r->action == GF_REC_TO_FRACTION && mode == GF_MODE_AUTO)
                convert_cand(cs, m, in->meta, in->now, (uint32_t)w, r);
            else if (!same_recommendation(have, head))
                recommend_cand(cs, m, in->meta, (uint32_t)w, r);
            continue;
        }
        bool change =
            r->action == GF_REC_UP || r->action == GF_REC_DOWN || r->action == GF_REC_WHOLE;
        if (change && mode == GF_MODE_AUTO) {
            bool up = r->action != GF_REC_DOWN;
            resize_cand(cs, m, in->meta, in->now, (uint32_t)w, r->in.unit, r->current,
                        r->recommended, r->action == GF_REC_WHOLE ? r->in.devices : 0,
                        up ? GF_CTL_R_UPSIZE : GF_CTL_R_DOWNSIZE, up ? 1 : 3, r->reason, r);
        } else if (change) {
            char head[200];
            rec_head(r, head, sizeof head);
            if (!same_recommendation(have, head)) recommend_cand(cs, m, in->meta, (uint32_t)w, r);
        } else if (r->action == GF_REC_KEEP && r->waits_window && mode == GF_MODE_AUTO) {
            /* the downsize, held for its window (hold change-window) */
            size_t n0 = cs->n;
            resize_cand(cs, m, in->meta, in->now, (uint32_t)w, r->in.unit, r->current, r->waits_to,
                        0, GF_CTL_R_DOWNSIZE, 3, r->reason, NULL);
            if (cs->n > n0) cs->v[cs->n - 1].a.waits_window = true;
        } else if (r->action == GF_REC_KEEP && have) {
            clear_cand(cs, m, in->meta, (uint32_t)w, r);
        }
    }
}

/* The revert of a preallocating engine whose cap moved with the resize
 * (recommend.h move_cap) moves it back in the same patch: left at the stalled
 * value, an upsize's cap would sit above the restored fraction (configured to
 * overrun) and a downsize's below it. The cap is the restored fraction, as the
 * resize set it; r: the workload's recommendation (its engine), or NULL. */
static void revert_cap(gf_ctl_action *a, const gf_rightsize_rule *rule, const gf_recommendation *r)
{
    if (!r || !a->unit_key || strcmp(a->unit_key, gf_recommend_unit_annotation(GF_SHARE_FRACTION)))
        return;
    const gf_engine_info *e = &r->in.engine;
    if (!rule->engine_rules || !rule->engine_move_cap || e->memory != GF_MEM_PREALLOCATES ||
        !e->knob || (e->cap_source != GF_CAP_FLAG && e->cap_source != GF_CAP_ENV))
        return;
    char *end;
    double v = strtod(a->to, &end);
    if (end == a->to || *end || !gf_kai_fraction_ok(v)) return;
    a->move_cap = true;
    a->cap_env = e->cap_source == GF_CAP_ENV;
    a->new_cap = v;
    a->cap_knob = e->knob;
    a->cap_container = r->in.engine_container;
    a->cap_container_init = r->in.engine_container_init;
}

/* A stalled rollout: onStall revert -> one RESIZE back to the previous
 * allocation (the resize's own patch path, with gpufrac.io/stalled in the
 * same patch); onStall hold -> an Event (REPORT about the workload), not
 * repeated within report_every_s. Either way the workload's other changes
 * are held (stalled). */
static void stall_cands(cands *cs, const gf_ctl_config *cfg, const gf_ctl_input *in,
                        const gf_ctl_state *st, const winfo *wi, const gf_recommendations *recs)
{
    const gf_model *m = in->m;
    /* each workload's recommendation: its engine, for a cap that moves back */
    const gf_recommendation **rec_of = gf_xcalloc(m->workloads.n + 1, sizeof *rec_of);
    for (size_t i = 0; i < recs->n; i++) {
        char key[600];
        size_t w;
        snprintf(key, sizeof key, "%s/%s/%s", recs->v[i].in.kind, recs->v[i].in.ns,
                 recs->v[i].in.name);
        if (gf_strmap_get(&m->workload_by_key, key, &w) && w < m->workloads.n)
            rec_of[w] = &recs->v[i];
    }
    for (size_t w = 0; w < m->workloads.n; w++) {
        const winfo *x = &wi[w];
        if (x->stall == GF_CTL_STALL_NONE || x->stalled_mark) continue;
        const gf_workload *wl = &m->workloads.v[w];
        const char *cause = gf_ctl_stall_cause_name(x->stall);
        bool revert = x->dec.rule.on_stall == GF_STALL_REVERT;
        cand c;
        memset(&c, 0, sizeof c);
        c.a = blank_action(revert ? GF_CTL_RESIZE : GF_CTL_REPORT,
                           revert ? GF_CTL_R_REVERT : GF_CTL_R_STALLED);
        target_workload(&c.a, m, (uint32_t)w, in->meta);
        c.a.stall_cause = x->stall;
        c.a.warning = true;
        c.a.unit_key = x->stall_unit;
        gf_textf(c.a.from, sizeof c.a.from, "%s", x->stall_to);
        gf_textf(c.a.to, sizeof c.a.to, "%s", x->stall_from);
        gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GpufracRolloutStalled");
        char why[400];
        gf_textf(why, sizeof why, "rollout stalled (%s): %s", cause, x->stall_why);
        if (revert) {
            revert_cap(&c.a, &x->dec.rule, rec_of[w]);
            gf_ctl_format_last_change(floor(in->now), c.a.unit_key, c.a.from, c.a.to,
                                      gf_ctl_reason_name(GF_CTL_R_REVERT), why, c.a.last_change,
                                      sizeof c.a.last_change);
            char when[32] = "?";
            time_t t = (time_t)floor(in->now);
            struct tm tm;
            if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            gf_textf(c.a.stalled, sizeof c.a.stalled, "%s %s: %s %s -> %s reverted: %s", when,
                     cause, c.a.unit_key, c.a.from, c.a.to, x->stall_why);
            gf_textf(c.a.message, sizeof c.a.message,
                     "revert %s/%s/%s %s %s -> %s (%s): %s; no further change until the "
                     "annotation " GF_ANN_STALLED " is removed",
                     wl->ns, wl->kind, wl->name, c.a.unit_key, c.a.from, c.a.to, cause,
                     x->stall_why);
        } else {
            gf_textf(c.a.key, sizeof c.a.key, "stalled/%s/%s/%s/%s", wl->ns, wl->kind, wl->name,
                     x->stall_to);
            if (is_stamped(st->reported.v, st->reported.n, c.a.key, in->now - cfg->report_every_s))
                continue;
            gf_textf(c.a.message, sizeof c.a.message,
                     "rollout of %s/%s/%s %s %s -> %s stalled (%s): %s; onStall hold: left as it "
                     "is, no further change while it stalls",
                     wl->ns, wl->kind, wl->name, c.a.unit_key, x->stall_from, x->stall_to, cause,
                     x->stall_why);
        }
        c.prio = -1; /* before everything: it stops the workload's other changes */
        push(cs, &c);
    }
    free(rec_of);
}

/* --- fair use -------------------------------------------------------------------------------- */

/* Newest-time sums of memory and SM: a sample newer than the sums restarts them. */
typedef struct latest_sums {
    double t, mem, sm;
} latest_sums;

static void latest_add(latest_sums *n, const gf_usage_sample *s)
{
    if (s->t < n->t) return;
    if (s->t > n->t) {
        n->t = s->t;
        n->mem = n->sm = NAN;
    }
    if (!isnan(s->memory_bytes))
        n->mem = isnan(n->mem) ? s->memory_bytes : n->mem + s->memory_bytes;
    if (!isnan(s->sm_util)) n->sm = isnan(n->sm) ? s->sm_util : n->sm + s->sm_util;
}

/* Each state entry's newest usage (one pod on one GPU). A sample whose
 * gpu_uuid is the device ID of one of the pod's GPUs (the UUID KAI's
 * reservation pod names, core/model.h) counts on that GPU; the pod's other
 * samples (summed over its containers and GPUs at their newest time) are
 * divided over its devices in the state, for entries without their own. */
static void fair_usage(const gf_ctl_input *in, double stale_s, gf_fair_state *fs)
{
    const gf_model *m = in->m;
    size_t np = m->pods.n, ne = fs->pods.n;
    latest_sums *pod = gf_xcalloc(np + 1, sizeof *pod), *ent = gf_xcalloc(ne + 1, sizeof *ent);
    uint32_t *devs = gf_xcalloc(np + 1, sizeof *devs);
    size_t *first = gf_xcalloc(np + 1, sizeof *first), *next = gf_xcalloc(ne + 1, sizeof *next);
    const char **dev = gf_xcalloc(ne + 1, sizeof *dev);
    for (size_t i = 0; i < np; i++) {
        pod[i] = (latest_sums){-INFINITY, NAN, NAN};
        first[i] = SIZE_MAX;
    }
    for (size_t gi = 0; gi < fs->gpus.n; gi++) {
        const gf_fair_gpu *g = &fs->gpus.v[gi];
        for (uint32_t k = 0; k < g->n_pods; k++)
            dev[g->first_pod + k] = g->gpu < m->gpus.n ? m->gpus.v[g->gpu].device_id : NULL;
    }
    for (size_t i = ne; i-- > 0;) {
        ent[i] = (latest_sums){-INFINITY, NAN, NAN};
        uint32_t pi = fs->pods.v[i].pod;
        next[i] = SIZE_MAX;
        if (pi >= np) continue;
        devs[pi]++;
        next[i] = first[pi];
        first[pi] = i;
    }
    gf_arena keys;
    gf_arena_init(&keys);
    gf_strmap by_name;
    gf_strmap_init(&by_name);
    gf_sbuf b = GF_SBUF_INIT;
    for (size_t i = 0; i < np; i++) {
        if (!devs[i]) continue;
        b.len = 0;
        gf_sbuf_printf(&b, "%s/%s", m->pods.v[i].ns, m->pods.v[i].name);
        gf_strmap_put(&by_name, gf_arena_strdup(&keys, gf_sbuf_str(&b)), i);
    }
    for (size_t i = 0; i < in->n_samples; i++) {
        const gf_usage_sample *s = &in->samples[i];
        b.len = 0;
        gf_sbuf_printf(&b, "%s/%s", s->ns, s->pod);
        size_t pi;
        if (!gf_strmap_get(&by_name, gf_sbuf_str(&b), &pi)) continue;
        size_t on = SIZE_MAX;
        if (s->gpu_uuid && *s->gpu_uuid)
            for (size_t e = first[pi]; e != SIZE_MAX && on == SIZE_MAX; e = next[e])
                if (dev[e] && !strcmp(dev[e], s->gpu_uuid)) on = e;
        latest_add(on != SIZE_MAX ? &ent[on] : &pod[pi], s);
    }
    for (size_t i = 0; i < ne; i++) {
        gf_fair_pod *p = &fs->pods.v[i];
        if (p->pod >= np) continue;
        if (in->now - ent[i].t <= stale_s) {
            p->memory_bytes = ent[i].mem;
            p->sm_share = ent[i].sm;
        } else if (in->now - pod[p->pod].t <= stale_s) {
            p->memory_bytes = pod[p->pod].mem / devs[p->pod];
            p->sm_share = pod[p->pod].sm / devs[p->pod];
        }
    }
    gf_sbuf_free(&b);
    gf_strmap_free(&by_name);
    gf_arena_free(&keys);
    free(pod);
    free(ent);
    free(devs);
    free(first);
    free(next);
    free(dev);
}

static const char *fair_event_reason(gf_fair_kind k)
{
    static const char *names[] = {"GPUMemoryOverrun", "GPUDeviceMemoryFull", "GPUComputeHog",
                                  "GPUOvercommitMemory", "GPUOvercommitCompute"};
    return (unsigned)k < GF_FAIR_KIND_COUNT ? names[k] : "GPUFairUse";
}

static gf_err fair_use(cands *cs, const gf_ctl_config *cfg, const gf_ctl_input *in,
                       gf_ctl_state *st, const winfo *wi, gf_ctl_plan *plan, gf_error *err)
{
    const gf_fair_policy *fp = &in->p->fair_use;
    if (fp->mode == GF_FAIR_MODE_OFF) return GF_OK;
    const gf_model *m = in->m;
    gf_fair_state *fs = &plan->fair_state;
    gf_fair_state_from_model(m, fs);
    fair_usage(in, 2 * cfg->interval_s, fs);
    gf_fair_env env;
    memset(&env, 0, sizeof env);
    env.m = m;
    env.scorer = cfg->scorer;
    gf_err rc = gf_fair_step(fp, fs, &env, in->now, &st->tracker, &plan->fair, err);
    if (rc) return rc;
    const gf_fair_report *r = &plan->fair;
    for (size_t i = 0; i < r->responses.n; i++) {
        const gf_fair_response *resp = &r->responses.v[i];
        const gf_fair_finding *f = &r->findings.v[resp->finding];
        const gf_fair_gpu *g = &fs->gpus.v[f->gpu];
        gf_ctl_reason reason = (gf_ctl_reason)(GF_CTL_R_FAIR_FIRST + f->kind);
        int prio = f->severity == GF_FAIR_CRITICAL ? 0 : 2;
        uint32_t changed = resp->pod != GF_NONE ? fs->pods.v[resp->pod].pod : GF_NONE;
        if (resp->apply && resp->action == GF_FAIR_ACT_UPSIZE && changed < m->pods.n &&
            top_index(m, &m->pods.v[changed]) != GF_NONE) {
            const gf_pod *p = &m->pods.v[changed];
            uint32_t w = top_index(m, p);
            double v = resp->new_fraction, cur = p->gpu_fraction;
            /* above the workload's largest fraction: a whole GPU per device */
            double maxf = wi[w].resolved ? wi[w].dec.rule.max_fraction : GF_FAIR_MAX_FRACTION;
            uint32_t whole = resp->whole_gpu || v > maxf + 1e-9 ? p->gpu_devices : 0;
            gf_share_kind unit = p->share == GF_SHARE_MEMORY ? GF_SHARE_MEMORY : GF_SHARE_FRACTION;
            if (unit == GF_SHARE_MEMORY && !whole) {
                int64_t gmib = p->node != GF_NONE ? m->nodes.v[p->node].gpu_memory_mib : 0;
                int64_t step = wi[w].resolved ? wi[w].dec.rule.memory_step_mib : 256;
                if (gmib <= 0 || step <= 0) continue;
                v = ceil(v * (double)gmib / (double)step - 1e-9) * (double)step;
                cur = (double)p->gpu_memory_mib;
            }
            char why[700];
            snprintf(why, sizeof why, "%s; %s", f->signal, resp->reason);
            resize_cand(cs, m, in->meta, in->now, w, unit, cur, v, whole, reason, prio, why, NULL);
            continue;
        }
        if (resp->apply && resp->action == GF_FAIR_ACT_MOVE && changed < m->pods.n) {
            cand c;
            memset(&c, 0, sizeof c);
            c.a = blank_action(GF_CTL_EVICT, reason);
            target_pod(&c.a, m, changed);
            gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GPUFairUseEvicted");
            gf_textf(c.a.message, sizeof c.a.message, "evict %s/%s from GPU %s/%d (%s): %s; %s",
                     m->pods.v[changed].ns, m->pods.v[changed].name, g->node, (int)g->index,
                     gf_fair_kind_name(f->kind), f->signal, resp->reason);
            c.prio = prio;
            push(cs, &c);
            continue;
        }
        /* report: an Event about the offender (else a GPU-mate), not repeated */
        uint32_t about = f->offender != GF_NONE ? f->offender : g->n_pods ? g->first_pod : GF_NONE;
        if (about == GF_NONE || fs->pods.v[about].pod >= m->pods.n) continue;
        cand c;
        memset(&c, 0, sizeof c);
        c.a = blank_action(GF_CTL_REPORT, reason);
        target_pod(&c.a, m, fs->pods.v[about].pod);
        gf_textf(c.a.key, sizeof c.a.key, "%s/%s/%d/%s/%s", gf_fair_kind_name(f->kind), g->node,
                 (int)g->index, c.a.target.ns, c.a.target.name);
        if (is_stamped(st->reported.v, st->reported.n, c.a.key, in->now - cfg->report_every_s))
            continue;
        c.a.warning = true;
        gf_textf(c.a.event_reason, sizeof c.a.event_reason, "%s", fair_event_reason(f->kind));
        gf_textf(c.a.message, sizeof c.a.message, "%s on GPU %s/%d [%s]: %s; response %s%s: %s",
                 gf_fair_kind_name(f->kind), g->node, (int)g->index,
                 gf_fair_severity_name(f->severity), f->signal, gf_fair_action_name(resp->action),
                 resp->apply ? "" : " (proposed)", resp->reason);
        c.prio = 10;
        push(cs, &c);
    }
    return GF_OK;
}

/* --- configured to overrun ------------------------------------------------------------------ */

/* A finding's key in overrun_told: the workload and what it found, so that
 * a change of engine, cap or fraction is a new finding. */
static void overrun_key(const gf_model *m, const gf_ctl_overrun *o, char *buf, size_t n)
{
    const gf_workload *wl = &m->workloads.v[o->workload];
    char key[400];
    gf_recommend_key(wl->ns, wl->kind, wl->name, key, sizeof key);
    gf_textf(buf, n, "%s %s %.4f %.4f", key, gf_engine_name(o->engine), o->cap, o->fraction);
}

/* Every workload whose engine (its first sharing pod's, model/engine.h) is
 * configured to take more of the GPU than its fraction: listed in the
 * plan, and a REPORT (an Event on the workload) unless told already. Told
 * findings that no longer hold as they were are forgotten. */
static void configured_overrun(cands *cs, const gf_ctl_input *in, gf_ctl_state *st, const winfo *wi,
                               gf_ctl_plan *plan)
{
    const gf_model *m = in->m;
    gf_strmap told;
    gf_strmap_init(&told);
    for (size_t i = 0; i < st->overrun_told.n; i++)
        gf_strmap_put(&told, st->overrun_told.v[i].key, i);
    bool *holds = gf_xcalloc(st->overrun_told.n + 1, sizeof *holds);
    for (size_t w = 0; in->p->fair_use.mode != GF_FAIR_MODE_OFF && w < m->workloads.n; w++) {
        const gf_pod *p = wi[w].sharing ? wi[w].first : NULL;
        if (!p || p->share == GF_SHARE_NONE) continue;
        gf_engine_info e;
        gf_engine_detect(p, &e, NULL);
        int64_t gpu_mib = p->node != GF_NONE ? m->nodes.v[p->node].gpu_memory_mib : 0;
        double frac = gf_pod_share_on(p, gpu_mib);
        char fix[400];
        if (!gf_engine_overrun(&e, frac, fix, sizeof fix)) continue;
        gf_ctl_overrun o = {(uint32_t)w, e.kind, e.cap, frac};
        gf_vec_push(&plan->overruns, o);
        cand c;
        memset(&c, 0, sizeof c);
        c.a = blank_action(GF_CTL_REPORT, GF_CTL_R_CONFIGURED_OVERRUN);
        target_workload(&c.a, m, (uint32_t)w, in->meta);
        overrun_key(m, &o, c.a.key, sizeof c.a.key);
        size_t at;
        if (gf_strmap_get(&told, c.a.key, &at)) {
            holds[at] = true;
            continue;
        }
        c.a.warning = true;
        gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GpufracConfiguredToOverrun");
        gf_textf(c.a.message, sizeof c.a.message,
                 "%s %s/%s is configured to overrun its GPU share (KAI enforces no memory "
                 "limit: it would take its GPU-mates' memory): %s",
                 m->workloads.v[w].kind, m->workloads.v[w].ns, m->workloads.v[w].name, fix);
        c.prio = 10;
        push(cs, &c);
    }
    size_t keep = 0;
    for (size_t i = 0; i < st->overrun_told.n; i++) {
        if (holds[i])
            st->overrun_told.v[keep++] = st->overrun_told.v[i];
        else
            free(st->overrun_told.v[i].key);
    }
    st->overrun_told.n = keep;
    free(holds);
    gf_strmap_free(&told);
}

/* --- consolidation -------------------------------------------------------------------------- */

static bool movable_pod(const gf_model *m, const gf_pod *p)
{
    if (!gf_pod_active(p) || p->is_reservation || p->terminating) return false;
    const gf_workload *w = gf_model_pod_workload(m, p);
    return w && (!strcmp(w->kind, "Deployment") || !strcmp(w->kind, "ReplicaSet") ||
                 !strcmp(w->kind, "StatefulSet"));
}

static void evict_cand(cands *cs, const gf_model *m, uint32_t pi, const char *node)
{
    cand c;
    memset(&c, 0, sizeof c);
    c.a = blank_action(GF_CTL_EVICT, GF_CTL_R_CONSOLIDATE);
    target_pod(&c.a, m, pi);
    gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GPUConsolidationEvicted");
    gf_textf(c.a.message, sizeof c.a.message,
             "evict %s/%s: node %s is being drained (consolidation)", m->pods.v[pi].ns,
             m->pods.v[pi].name, node);
    c.prio = 4;
    push(cs, &c);
}

static gf_err consolidation(cands *cs, const gf_ctl_config *cfg, const gf_ctl_input *in,
                            gf_ctl_state *st, const winfo *wi, gf_error *err)
{
    if (cfg->consolidate_every_s <= 0) return GF_OK;
    const gf_model *m = in->m;
    const char *draining = st->draining ? st->draining : in->meta ? in->meta->draining_node : NULL;
    if (draining) {
        size_t ni;
        bool left = false;
        if (gf_strmap_get(&m->node_by_name, draining, &ni)) {
            for (size_t i = 0; i < m->pods.n; i++) {
                const gf_pod *p = &m->pods.v[i];
                if (p->node != ni || !movable_pod(m, p)) continue;
                left = true;
                evict_cand(cs, m, (uint32_t)i, draining);
            }
        }
        if (left) {
            if (!st->draining) st->draining = gf_xstrdup(draining); /* resumed after a restart */
            return GF_OK;
        }
        if (st->draining) { /* drained (or gone): the next plan after consolidate_every_s */
            free(st->draining);
            st->draining = NULL;
            st->last_consolidation_t = in->now;
            return GF_OK;
        }
        /* an empty node drained before: the autoscaler's to remove; plan on */
    }
    if (in->now - st->last_consolidation_t < cfg->consolidate_every_s) return GF_OK;
    st->last_consolidation_t = in->now;
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.scorer = cfg->scorer;
    if (in->p) o.move_non_preemptible = in->p->move_non_preemptible;
    gf_consolidation plan;
    memset(&plan, 0, sizeof plan);
    gf_err rc = gf_consolidate(m, &o, &plan, err);
    for (size_t d = 0; !rc && d < plan.drains.n; d++) {
        const gf_drain *dr = &plan.drains.v[d];
        bool ok = true;
        for (uint32_t k = 0; k < dr->n_moves && ok; k++) {
            const gf_move *mv = &plan.moves.v[dr->first_move + k];
            uint32_t w = top_index(m, &m->pods.v[mv->pod]);
            ok = w != GF_NONE && wi[w].resolved && wi[w].dec.rule.mode == GF_MODE_AUTO;
            /* a gang's mate on another node: the drain evicts what is on its
             * node, over as many iterations as the rate limit takes, and
             * could leave the gang split; such drains are planned, not run */
            ok = ok && mv->from_node == dr->node;
        }
        if (!ok || !dr->n_moves) continue;
        const gf_node *n = &m->nodes.v[dr->node];
        cand c;
        memset(&c, 0, sizeof c);
        c.a = blank_action(GF_CTL_CORDON, GF_CTL_R_CONSOLIDATE);
        c.a.node = dr->node;
        c.a.target = (gf_ctl_target){"Node", NULL, n->name, NULL};
        gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GPUNodeDraining");
        gf_textf(c.a.message, sizeof c.a.message,
                 "drain node %s: its %u pod(s) fit on the other nodes; %u GPU(s) freed", n->name,
                 dr->n_moves, dr->gpus_freed);
        c.prio = 4;
        push(cs, &c);
        for (uint32_t k = 0; k < dr->n_moves; k++)
            evict_cand(cs, m, plan.moves.v[dr->first_move + k].pod, n->name);
        break; /* one node at a time */
    }
    gf_consolidation_free(&plan);
    return rc;
}

/* --- holds ---------------------------------------------------------------------------------- */

typedef struct budget {
    uint32_t *used; /* per slot */
    int32_t *max;   /* per slot, -1 unknown yet */
    int32_t *pdb_used;
    bool *resized; /* per workload */
    uint32_t go;   /* disruptive actions allowed so far */
    const gf_ctl_state *st;
} budget;

/* "resize/Deployment/ns/name": a refused write's key in st->refused. */
static void refused_key(const gf_ctl_action *a, const gf_model *m, char *buf, size_t n)
{
    char key[400] = "";
    if (a->workload < m->workloads.n) {
        const gf_workload *w = &m->workloads.v[a->workload];
        gf_recommend_key(w->ns, w->kind, w->name, key, sizeof key);
    }
    snprintf(buf, n, "%s/%s", gf_ctl_kind_name(a->kind), key);
}

static bool pdb_blocks(const gf_model *m, const gf_pod *p, const int32_t *pdb_used, uint32_t *which)
{
    for (size_t i = 0; i < m->pdbs.n; i++) {
        if (!gf_pdb_selects(&m->pdbs.v[i], p)) continue;
        if (m->pdbs.v[i].disruptions_allowed - pdb_used[i] <= 0) {
            *which = (uint32_t)i;
            return true;
        }
    }
    return false;
}

static gf_ctl_hold hold_of(const gf_ctl_config *cfg, const gf_ctl_input *in, const winfo *wi,
                           budget *b, cand *c, bool stale)
{
    const gf_model *m = in->m;
    gf_ctl_action *a = &c->a;
    if (stale) return GF_CTL_HOLD_STALE;
    uint32_t w = a->workload;
    const winfo *x = w != GF_NONE ? &wi[w] : NULL;
    if (x) a->rule = x->resolved ? x->dec.rule_index : GF_NONE;
    double stale_s = 2 * cfg->interval_s;
    if (x && a->kind != GF_CTL_REPORT && a->kind != GF_CTL_CORDON) {
        /* a write the API server refused is not sent again each interval */
        char key[480];
        refused_key(a, m, key, sizeof key);
        if (is_stamped(b->st->refused.v, b->st->refused.n, key, in->now - GF_CTL_WRITE_BACKOFF_S))
            return GF_CTL_HOLD_BACKOFF;
    }
    switch (a->kind) {
    case GF_CTL_RECOMMEND:
        if (a->reason == GF_CTL_R_RECOMMEND && x && !(in->now - x->newest <= stale_s))
            return GF_CTL_HOLD_STALE;
        return GF_CTL_GO;
    case GF_CTL_REPORT:
    case GF_CTL_CORDON:
        return GF_CTL_GO;
    case GF_CTL_RESIZE:
    case GF_CTL_EVICT:
        break;
    default:
        return GF_CTL_GO;
    }
    bool convert = a->kind == GF_CTL_RESIZE && a->reason == GF_CTL_R_CONVERT;
    if (!x || !x->resolved || (convert ? a->convert_mode : x->dec.rule.mode) != GF_MODE_AUTO)
        return GF_CTL_HOLD_NOT_SELECTED;
    const gf_workload *wl = &m->workloads.v[w];
    if (a->kind == GF_CTL_RESIZE && a->reason == GF_CTL_R_REVERT) {
        /* restores what ran before: no rollout, cooldown or budget hold */
        if (!writable_kind(wl->kind)) return GF_CTL_HOLD_KIND;
        if (b->go >= cfg->max_actions) return GF_CTL_HOLD_RATE;
        b->go++;
        b->resized[w] = true;
        return GF_CTL_GO;
    }
    if (x->stall != GF_CTL_STALL_NONE || x->stalled_mark) return GF_CTL_HOLD_STALLED;
    if (a->kind == GF_CTL_RESIZE) {
        if (!(in->now - x->newest <= stale_s)) return GF_CTL_HOLD_STALE;
        if (!writable_kind(wl->kind)) return GF_CTL_HOLD_KIND;
        if (x->rollout) return GF_CTL_HOLD_ROLLOUT;
        if (b->resized[w]) return GF_CTL_HOLD_SUPERSEDED;
        if (a->quota[0]) return GF_CTL_HOLD_QUOTA;
        if (a->waits_window) return GF_CTL_HOLD_WINDOW;
        if ((a->reason == GF_CTL_R_DOWNSIZE || convert) && x->last_change_t >= 0 &&
            in->now - x->last_change_t < (double)x->dec.rule.cooldown_s)
            return GF_CTL_HOLD_COOLDOWN;
    } else {
        if (b->resized[w]) return GF_CTL_HOLD_SUPERSEDED;
        uint32_t which;
        if (pdb_blocks(m, &m->pods.v[a->pod], b->pdb_used, &which)) return GF_CTL_HOLD_PDB;
    }
    int32_t max = x->dec.rule.max_disruptions_per_hour;
    if (max >= 0 && b->used[x->slot] >= (uint32_t)max) return GF_CTL_HOLD_BUDGET;
    if (b->go >= cfg->max_actions) return GF_CTL_HOLD_RATE;
    /* allowed: it counts from now on */
    b->used[x->slot]++;
    b->go++;
    if (a->kind == GF_CTL_RESIZE) {
        b->resized[w] = true;
    } else {
        for (size_t i = 0; i < m->pdbs.n; i++)
            if (gf_pdb_selects(&m->pdbs.v[i], &m->pods.v[a->pod])) b->pdb_used[i]++;
    }
    return GF_CTL_GO;
}

/* --- the step ------------------------------------------------------------------------------- */

/* A resize held by its queue's quota: a warning Event on the workload, not
 * repeated within report_every_s for the same change. */
static void quota_report(cands *extra, const gf_ctl_config *cfg, const gf_ctl_input *in,
                         gf_ctl_state *st, const gf_ctl_action *held)
{
    cand c;
    memset(&c, 0, sizeof c);
    c.a = blank_action(GF_CTL_REPORT, held->reason);
    c.a.workload = held->workload;
    c.a.target = held->target;
    gf_textf(c.a.key, sizeof c.a.key, "quota/%s/%s/%s/%s", held->target.ns, held->target.kind,
             held->target.name, held->to);
    if (is_stamped(st->reported.v, st->reported.n, c.a.key, in->now - cfg->report_every_s)) return;
    c.a.warning = true;
    gf_textf(c.a.event_reason, sizeof c.a.event_reason, "GPUQueueQuotaBlocked");
    gf_textf(c.a.message, sizeof c.a.message, "%s %s -> %s not written: %s", held->unit_key,
             held->from, held->to, held->quota);
    c.prio = 10;
    push(extra, &c);
}

gf_err gf_ctl_decide(const gf_ctl_config *cfg, const gf_ctl_input *in, gf_ctl_state *st,
                     gf_ctl_plan *out, gf_error *err)
{
    gf_ctl_plan_free(out);
    const gf_model *m = in->m;
    if (!m || !m->finalized)
        return gf_error_set(err, GF_EINPUT, NULL, "controller: the model is not finalized");
    if (!isfinite(in->now) || in->now < 0)
        return gf_error_set(err, GF_EINPUT, NULL, "controller: time %g is not valid", in->now);
    double stale_s = 2 * cfg->interval_s;
    out->staleness_s = isfinite(in->usage_newest) ? in->now - in->usage_newest : INFINITY;
    out->stale = !(out->staleness_s <= stale_s);

    winfo *wi = gf_xcalloc(m->workloads.n + 1, sizeof *wi);
    gather(m, in->h, in->p, wi);

    gf_policy relaxed;
    gf_policy_rule *rules;
    unpaced(in->p, &relaxed, &rules);
    gf_err rc = gf_recommend_model(m, in->h, &relaxed, in->now, &out->recs, err);
    free(rules);

    cands cs = {0};
    detect_stalls(in, wi);
    if (!rc) stall_cands(&cs, cfg, in, st, wi, &out->recs);
    if (!rc) rightsizing(&cs, cfg, in, st, wi, &out->recs);
    if (!rc && !out->stale) rc = fair_use(&cs, cfg, in, st, wi, out, err);
    if (!rc) configured_overrun(&cs, in, st, wi, out);
    if (!rc && !out->stale) rc = consolidation(&cs, cfg, in, st, wi, err);

    if (!rc) {
        size_t slots = in->p->rules.n + 1;
        budget b = {gf_xcalloc(slots, sizeof(uint32_t)),
                    NULL,
                    gf_xcalloc(m->pdbs.n + 1, sizeof(int32_t)),
                    gf_xcalloc(m->workloads.n + 1, sizeof(bool)),
                    0,
                    st};
        double since = in->now - GF_CTL_BUDGET_WINDOW_S;
        for (size_t w = 0; w < m->workloads.n; w++) {
            const gf_workload *wl = &m->workloads.v[w];
            uint32_t n = wi[w].s ? gf_hist_changes_since(wi[w].s, since) : 0;
            char key[400];
            gf_recommend_key(wl->ns, wl->kind, wl->name, key, sizeof key);
            n += count_stamps(st->evictions.v, st->evictions.n, key, since);
            b.used[wi[w].slot] += n;
        }
        if (cs.n) qsort(cs.v, cs.n, sizeof *cs.v, cmp_cand);
        cands extra = {0};
        /* the upsizes that go this pass add up against their queues' quota,
         * in the candidates' order (decide/quota.h) */
        gf_quota_ledger ledger;
        gf_quota_ledger_init(&ledger, m);
        for (size_t i = 0; i < cs.n; i++) {
            cand *c = &cs.v[i];
            gf_quota_check q;
            bool upsize = c->a.kind == GF_CTL_RESIZE && c->quota_new > c->quota_old;
            if (upsize && !c->a.quota[0] &&
                gf_quota_upsize_ledger(m, &ledger, c->a.workload, c->quota_old, c->quota_new, false,
                                       &q)) {
                gf_quota_text(m, &q, c->a.quota, sizeof c->a.quota);
                gf_textf(c->a.quota + strlen(c->a.quota), sizeof c->a.quota - strlen(c->a.quota),
                         " (with this pass's other upsizes)");
            }
            c->a.hold = hold_of(cfg, in, wi, &b, c, out->stale);
            if (upsize && c->a.hold == GF_CTL_GO)
                gf_quota_upsize_ledger(m, &ledger, c->a.workload, c->quota_old, c->quota_new, true,
                                       &q);
            gf_vec_push(&out->actions, c->a);
            if (c->a.hold == GF_CTL_HOLD_QUOTA) quota_report(&extra, cfg, in, st, &c->a);
            /* "changes wait as recommendations" */
            if (c->a.hold == GF_CTL_HOLD_BUDGET && c->a.kind == GF_CTL_RESIZE &&
                (c->a.reason <= GF_CTL_R_DOWNSIZE || c->a.reason == GF_CTL_R_CONVERT)) {
                for (size_t r = 0; r < out->recs.n; r++) {
                    const gf_recommendation *rec = &out->recs.v[r];
                    const gf_workload *wl = &m->workloads.v[c->a.workload];
                    if (strcmp(rec->in.kind, wl->kind) || strcmp(rec->in.ns, wl->ns) ||
                        strcmp(rec->in.name, wl->name))
                        continue;
                    char head[200];
                    rec_head(rec, head, sizeof head);
                    const char *have =
                        in->meta && in->meta->w ? in->meta->w[c->a.workload].recommendation : NULL;
                    if (!same_recommendation(have, head))
                        recommend_cand(&extra, m, in->meta, c->a.workload, rec);
                    break;
                }
            }
        }
        for (size_t i = 0; i < extra.n; i++) {
            extra.v[i].a.hold = hold_of(cfg, in, wi, &b, &extra.v[i], out->stale);
            gf_vec_push(&out->actions, extra.v[i].a);
        }
        gf_vec_free(&extra);
        gf_quota_ledger_free(&ledger);
        free(b.used);
        free(b.pdb_used);
        free(b.resized);
    }
    gf_vec_free(&cs);
    free(wi);
    return rc;
}

/* key's stamp set to t (added when new); stamps of other keys older than
 * keep_after dropped. */
static void stamp(gf_ctl_stamps *v, const char *key, double t, double keep_after)
{
    size_t w = 0;
    bool found = false;
    for (size_t i = 0; i < v->n; i++) {
        if (!strcmp(v->v[i].key, key)) {
            v->v[i].t = t;
            found = true;
        } else if (v->v[i].t <= keep_after) {
            free(v->v[i].key);
            continue;
        }
        v->v[w++] = v->v[i];
    }
    v->n = w;
    if (!found) {
        gf_ctl_stamp s = {gf_xstrdup(key), t};
        gf_vec_push(v, s);
    }
}

void gf_ctl_commit(gf_ctl_state *st, gf_history *h, const gf_model *m, const gf_ctl_action *a,
                   double now)
{
    char key[400];
    switch (a->kind) {
    case GF_CTL_RESIZE:
        if (h && a->workload < m->workloads.n) {
            const gf_workload *w = &m->workloads.v[a->workload];
            gf_recommend_key(w->ns, w->kind, w->name, key, sizeof key);
            gf_hist_series *s = gf_history_get(h, key, true);
            gf_error e;
            if (s) gf_hist_note_change(s, floor(now), &e);
        }
        break;
    case GF_CTL_EVICT:
        if (a->workload < m->workloads.n) {
            const gf_workload *w = &m->workloads.v[a->workload];
            gf_recommend_key(w->ns, w->kind, w->name, key, sizeof key);
            /* every eviction counts: stamps are kept apart, pruned after the window */
            gf_ctl_stamp s = {gf_xstrdup(key), now};
            size_t keep = 0;
            for (size_t i = 0; i < st->evictions.n; i++) {
                if (st->evictions.v[i].t <= now - GF_CTL_BUDGET_WINDOW_S)
                    free(st->evictions.v[i].key);
                else
                    st->evictions.v[keep++] = st->evictions.v[i];
            }
            st->evictions.n = keep;
            gf_vec_push(&st->evictions, s);
        }
        break;
    case GF_CTL_REPORT:
        if (a->reason == GF_CTL_R_CONFIGURED_OVERRUN) { /* told once per change */
            bool told = false;
            for (size_t i = 0; i < st->overrun_told.n && !told; i++)
                told = !strcmp(st->overrun_told.v[i].key, a->key);
            gf_ctl_stamp s = {gf_xstrdup(a->key), now};
            if (!told)
                gf_vec_push(&st->overrun_told, s);
            else
                free(s.key);
            break;
        }
        stamp(&st->reported, a->key, now, now - 3 * 86400.0);
        break;
    case GF_CTL_CORDON:
        free(st->draining);
        st->draining = gf_xstrdup(a->target.name);
        break;
    default:
        break;
    }
}

/* --- the loop iteration ----------------------------------------------------------------- */

void gf_ctl_init(gf_ctl *c, const gf_ctl_config *cfg, const gf_policy *p, gf_history *h)
{
    memset(c, 0, sizeof *c);
    if (cfg)
        c->cfg = *cfg;
    else
        gf_ctl_config_default(&c->cfg);
    c->policy = p;
    c->h = h;
    gf_ctl_state_init(&c->st);
    gf_model_init(&c->model);
    gf_ctl_plan_init(&c->plan);
    c->stats.staleness_s = INFINITY;
}

void gf_ctl_free(gf_ctl *c)
{
    if (!c) return;
    gf_ctl_plan_free(&c->plan);
    gf_model_free(&c->model);
    gf_ctl_state_free(&c->st);
}

void gf_ctl_count_api_error(gf_ctl *c, gf_ctl_op op)
{
    if ((unsigned)op < GF_CTL_OP_COUNT) c->stats.api_errors[op]++;
}

static gf_ctl_op op_of(gf_ctl_kind k)
{
    switch (k) {
    case GF_CTL_RESIZE:
        return GF_CTL_OP_RESIZE;
    case GF_CTL_RECOMMEND:
        return GF_CTL_OP_ANNOTATE;
    case GF_CTL_REPORT:
        return GF_CTL_OP_EVENT;
    case GF_CTL_EVICT:
        return GF_CTL_OP_EVICT;
    default:
        return GF_CTL_OP_CORDON;
    }
}

static void log_error(gf_diags *log, const char *what, const gf_error *e)
{
    char msg[1100];
    gf_error_format(e, msg, sizeof msg);
    gf_diag(log, NULL, "%s: %s", what, msg);
}

/* Carries one allowed action out through the backend. */
static gf_ctl_result execute(gf_ctl *c, const gf_ctl_backend *b, const gf_ctl_action *a, double now,
                             gf_diags *log)
{
    gf_error e = {0};
    gf_ctl_result res = GF_CTL_ERROR;
    gf_err rc = GF_OK;
    switch (a->kind) {
    case GF_CTL_RESIZE:
        rc = b->resize ? b->resize(b->ctx, a, &res, &e)
                       : gf_error_set(&e, GF_EINTERNAL, b->name, "no resize");
        break;
    case GF_CTL_RECOMMEND:
        rc = b->annotate ? b->annotate(b->ctx, a, &res, &e)
                         : gf_error_set(&e, GF_EINTERNAL, b->name, "no annotate");
        break;
    case GF_CTL_REPORT:
        rc = b->event ? b->event(b->ctx, a, &res, &e)
                      : gf_error_set(&e, GF_EINTERNAL, b->name, "no event");
        break;
    case GF_CTL_EVICT:
        rc = b->evict ? b->evict(b->ctx, a, &res, &e)
                      : gf_error_set(&e, GF_EINTERNAL, b->name, "no evict");
        break;
    case GF_CTL_CORDON:
        rc = b->cordon ? b->cordon(b->ctx, a, &res, &e)
                       : gf_error_set(&e, GF_EINTERNAL, b->name, "no cordon");
        break;
    default:
        rc = gf_error_set(&e, GF_EINTERNAL, NULL, "unknown action kind %d", (int)a->kind);
    }
    if (rc == GF_OK) res = GF_CTL_OK;
    if (rc != GF_OK && res == GF_CTL_OK) res = GF_CTL_ERROR;
    if (res == GF_CTL_OK && a->stall_cause != GF_CTL_STALL_NONE &&
        a->stall_cause < GF_CTL_STALL_COUNT)
        c->stats.stalls[a->stall_cause]++;
    if (res == GF_CTL_REJECTED) {
        /* remembered: not sent again for the workload within the backoff */
        char key[480];
        refused_key(a, &c->model, key, sizeof key);
        stamp(&c->st.refused, key, now, now - GF_CTL_WRITE_BACKOFF_S);
    }
    if (res == GF_CTL_OK) {
        gf_ctl_commit(&c->st, c->h, &c->model, a, now);
        /* the Event after a write (a report's write is its Event) */
        if (a->kind != GF_CTL_REPORT && a->event_reason[0] && b->event) {
            gf_ctl_result er;
            gf_error ee = {0};
            if (b->event(b->ctx, a, &er, &ee)) {
                c->stats.api_errors[GF_CTL_OP_EVENT]++;
                log_error(log, "event", &ee);
            }
        }
    } else if (res != GF_CTL_REFUSED) {
        c->stats.api_errors[op_of(a->kind)]++;
    }
    if (rc != GF_OK) {
        char what[200];
        snprintf(what, sizeof what, "%s %s/%s", gf_ctl_kind_name(a->kind),
                 a->target.ns ? a->target.ns : "-", a->target.name);
        log_error(log, what, &e);
    }
    return res;
}

gf_err gf_ctl_step(gf_ctl *c, const gf_ctl_backend *b, double now, gf_diags *log,
                   uint32_t *write_failures, gf_error *err)
{
    if (write_failures) *write_failures = 0;
    /* a wall clock stepped back (NTP) must not stop the loop: time as the
     * fair-use tracker last saw it, until the clock catches up */
    if (now < c->st.tracker.last_t) now = c->st.tracker.last_t;
    gf_ctl_plan_free(&c->plan);
    gf_model_free(&c->model);
    gf_model_init(&c->model);
    c->have_model = false;
    gf_ctl_meta meta = {0};
    /* KAI's configurable names (policy kai: section) before anything is read */
    if (c->policy) c->model.kai = c->policy->kai;
    gf_err rc = b->snapshot(b->ctx, &c->model, &meta, log, err);
    for (int r = 0; r < GF_SKIP_COUNT; r++)
        c->stats.objects_skipped[r] += c->model.skipped[r];
    if (rc) {
        c->stats.api_errors[GF_CTL_OP_SNAPSHOT]++;
        c->stats.steps_failed++;
        return rc;
    }
    c->have_model = true;
    const gf_model *m = &c->model;

    double newest = gf_history_newest(c->h);
    double since = now - c->cfg.backfill_s;
    if (isfinite(newest) && newest > since) since = newest;
    const gf_usage_sample *samples = NULL;
    size_t n = 0;
    gf_error e = {0};
    bool usage_read = false;
    if (b->usage && since < now) {
        usage_read = !b->usage(b->ctx, m, since, now, &samples, &n, log, &e);
        if (!usage_read) {
            c->stats.api_errors[GF_CTL_OP_USAGE]++;
            log_error(log, "usage", &e);
            samples = NULL;
            n = 0;
        }
    }
    gf_ingest_stats ist;
    memset(&ist, 0, sizeof ist);
    if (n && gf_recommend_ingest(m, c->h, samples, n, newest, &ist, &e)) {
        c->stats.api_errors[GF_CTL_OP_USAGE]++;
        log_error(log, "usage refused by the history", &e);
    }
    c->stats.samples_ingested += ist.added;
    /* the engines' own metrics, when the backend reads them (KV cache, queue) */
    const gf_engine_sample *eng = NULL;
    size_t n_eng = 0;
    if (usage_read && b->engine_usage) b->engine_usage(b->ctx, &eng, &n_eng);
    if (n_eng) {
        gf_ingest_stats est;
        memset(&est, 0, sizeof est);
        if (gf_recommend_ingest_engine(m, c->h, eng, n_eng, newest, &est, &e)) {
            c->stats.api_errors[GF_CTL_OP_USAGE]++;
            log_error(log, "engine usage refused by the history", &e);
        }
        c->stats.samples_ingested += est.added;
    }
    gf_ctl_seed_changes(c->h, m, &meta, now, log);

    gf_ctl_input in = {m, &meta, c->h, c->policy, samples, n, gf_history_newest(c->h), now};
    rc = gf_ctl_decide(&c->cfg, &in, &c->st, &c->plan, err);
    if (rc) {
        c->stats.steps_failed++;
        return rc;
    }
    const gf_ctl_plan *plan = &c->plan;
    c->stats.staleness_s = plan->staleness_s;
    if (plan->stale) {
        c->stats.steps_stale++;
        if (isfinite(plan->staleness_s))
            gf_diag(log, NULL,
                    "usage is stale: the newest sample is %.0f s old (more than two intervals, "
                    "%.0f s): no action this step",
                    plan->staleness_s, 2 * c->cfg.interval_s);
        else
            gf_diag(log, NULL, "no usage samples yet: no action this step");
    }
    bool writable = true;
    for (size_t i = 0; i < plan->actions.n; i++) {
        const gf_ctl_action *a = &plan->actions.v[i];
        c->stats.decisions[a->kind][gf_ctl_decision_index(a)]++;
        if (a->hold != GF_CTL_GO) {
            if (!plan->stale)
                gf_diag(log, NULL, "hold %s: %s", gf_ctl_hold_name(a->hold), a->message);
            continue;
        }
        gf_ctl_result res;
        if (c->cfg.dry_run) {
            res = GF_CTL_DRY_RUN;
        } else if (!writable || (b->may_write && !b->may_write(b->ctx))) {
            writable = false;
            res = GF_CTL_NOT_LEADER;
        } else {
            res = execute(c, b, a, now, log);
        }
        c->stats.results[a->kind][res]++;
        if ((res == GF_CTL_ERROR || res == GF_CTL_CONFLICT || res == GF_CTL_REJECTED) &&
            write_failures)
            (*write_failures)++;
        gf_diag(log, NULL, "%s: %s", a->message, gf_ctl_result_name(res));
    }
    c->stats.steps_ok++;
    c->stats.last_success_t = now;
    return GF_OK;
}
