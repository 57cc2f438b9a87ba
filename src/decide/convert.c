/* convert.c - whole GPUs onto KAI fractions, see convert.h. */
#include "decide/convert.h"
#include "model/kai.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB 1073741824.0
#define MIB 1048576.0

const char *gf_convert_gpu_container(const gf_pod *p)
{
    return p->gpu_whole_container;
}

static const char *dur(double s, char *buf, size_t n)
{
    return gf_format_duration((int64_t)s, buf, n);
}

/* Keeps the whole GPUs: current and recommended are one GPU per device. */
static void keep_whole(gf_recommendation *out, gf_rec_action a, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void keep_whole(gf_recommendation *out, gf_rec_action a, const char *fmt, ...)
{
    out->action = a;
    out->recommended = out->current;
    out->recommended_fraction = 1;
    out->gpus_saved = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

gf_err gf_convert_one(const gf_rightsize_rule *rule, gf_mode mode, const gf_rec_input *in,
                      const gf_hist_series *s, double now, gf_recommendation *out, gf_error *err)
{
    memset(out, 0, sizeof *out);
    out->in = *in;
    out->in.unit = rule->convert_unit;
    out->in.devices = in->whole_gpus;
    out->mode = mode;
    char key[400];
    gf_recommend_key(in->ns, in->kind, in->name, key, sizeof key);
    if (in->whole_gpus < 1)
        return gf_error_set(err, GF_EINPUT, key, "the workload holds no whole GPU");
    if (in->gpu_memory_mib <= 0)
        return gf_error_set(err, GF_EINPUT, key,
                            "the GPU memory of the workload's nodes is not known");
    if (!isfinite(now) || now < 0)
        return gf_error_set(err, GF_EINPUT, key, "time %g is not valid", now);
    const double gpu_bytes = (double)in->gpu_memory_mib * MIB;
    /* current: one whole GPU per device, in the unit a conversion would use */
    out->current = out->in.unit == GF_SHARE_MEMORY ? (double)in->gpu_memory_mib : 1.0;
    out->current_fraction = 1;
    if (mode == GF_MODE_OFF) {
        keep_whole(out, GF_REC_OFF, "conversion to a fraction is off for this workload");
        return GF_OK;
    }
    const gf_hist_track *mt = s ? &s->track[GF_SIG_MEMORY] : NULL;
    const gf_hist_track *st = s ? &s->track[GF_SIG_SM] : NULL;
    if (!s || (mt->samples == 0 && st->samples == 0)) {
        keep_whole(out, GF_REC_NODATA, "no usage samples yet");
        return GF_OK;
    }
    double first = INFINITY;
    for (int k = 0; k < GF_HIST_NSIGNALS; k++)
        if (s->track[k].samples && s->track[k].first_t < first) first = s->track[k].first_t;
    double span = now > first ? now - first : 0;
    double need_s = (double)rule->convert_min_history_s;
    out->confidence = need_s > 0 ? fmin(1.0, span / need_s) : 1.0;
    char d1[32], d2[32];
    if (span < need_s) {
        keep_whole(out, GF_REC_KEEP, "too little history to convert a whole GPU (%s of %s)",
                   dur(floor(span), d1, sizeof d1), dur(need_s, d2, sizeof d2));
        return GF_OK;
    }
    if (s->last_change_t >= 0 && now - s->last_change_t < (double)rule->cooldown_s) {
        keep_whole(out, GF_REC_KEEP, "cooldown: last change %s ago (cooldown %s)",
                   dur(floor(now - s->last_change_t), d1, sizeof d1),
                   dur((double)rule->cooldown_s, d2, sizeof d2));
        return GF_OK;
    }
    double h = 1 + rule->headroom;
    double win = (double)rule->downsize_window_s;
    double peak_all = gf_recommend_peak(s, GF_SIG_MEMORY, now, GF_HIST_HOUR_WINDOW_S);
    double mem_win = gf_recommend_peak(s, GF_SIG_MEMORY, now, win);
    out->peak_memory_bytes = peak_all;
    double need = fmax(mem_win * h, peak_all * (1 + rule->memory_margin)) / gpu_bytes;
    double sm_p = 0;
    if (st->samples) {
        gf_error e;
        if (gf_hist_percentile(s, GF_SIG_SM, rule->downsize_percentile_sm, &sm_p, &e) == GF_OK)
            need = fmax(need, sm_p * h);
    }
    double value;
    double q = gf_recommend_quantise(rule, &out->in, need, &value);
    if (need > rule->convert_max_fraction + 1e-9 || q > rule->convert_max_fraction + 1e-9) {
        keep_whole(out, GF_REC_KEEP,
                   "uses its GPU: needs %.3f of a GPU (peak memory %.2f GiB over %s x %.2f, "
                   "SM p%.0f %.3f x %.2f), above maxFractionForConversion %.2f",
                   need, mem_win / GIB, dur(win, d1, sizeof d1), h,
                   100 * rule->downsize_percentile_sm, sm_p, h, rule->convert_max_fraction);
        return GF_OK;
    }
    bool kai = in->scheduler_name && !strcmp(in->scheduler_name, GF_KAI_SCHEDULER_NAME);
    if (!kai && !rule->convert_set_scheduler) {
        keep_whole(out, GF_REC_KEEP,
                   "would fit %.3f of a GPU, but is scheduled by %s, not %s (KAI ignores its "
                   "annotations); convert.setScheduler: true lets gpufrac switch it",
                   q, in->scheduler_name ? in->scheduler_name : "default-scheduler",
                   GF_KAI_SCHEDULER_NAME);
        return GF_OK;
    }
    out->action = GF_REC_TO_FRACTION;
    out->recommended = value;
    out->recommended_fraction = q;
    out->set_scheduler = !kai;
    out->gpus_saved = (1 - q) * in->whole_gpus * in->replicas;
    int n = snprintf(out->reason, sizeof out->reason,
                     "whole GPU%s used at most %.2f GiB (peak over %s x %.2f; all-time peak "
                     "%.2f GiB + %.0f%%), SM p%.0f %.3f x %.2f -> %.3f of each of %u GPU%s; "
                     "frees %.2f GPUs (%u x %u replicas x %.2f)",
                     in->whole_gpus > 1 ? "s" : "", mem_win / GIB, dur(win, d1, sizeof d1), h,
                     peak_all / GIB, 100 * rule->memory_margin, 100 * rule->downsize_percentile_sm,
                     sm_p, h, q, in->whole_gpus, in->whole_gpus > 1 ? "s" : "", out->gpus_saved,
                     in->whole_gpus, in->replicas, 1 - q);
    if (out->set_scheduler && n > 0 && (size_t)n < sizeof out->reason)
        snprintf(out->reason + n, sizeof out->reason - (size_t)n, "; schedulerName -> %s",
                 GF_KAI_SCHEDULER_NAME);
    return GF_OK;
}

typedef struct wagg {
    bool any;
    gf_rec_input in;
    const gf_pod *first;
} wagg;

gf_err gf_convert_model(const gf_model *m, const gf_history *h, const gf_policy *p, double now,
                        gf_recommendations *out, gf_error *err)
{
    if (!m->finalized)
        return gf_error_set(err, GF_EINTERNAL, NULL, "convert: model is not finalized");
    wagg *a = gf_xcalloc(m->workloads.n + 1, sizeof(wagg));
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *pod = &m->pods.v[i];
        if (!gf_pod_active(pod) || pod->is_reservation || pod->share != GF_SHARE_NONE ||
            pod->gpu_whole == 0)
            continue;
        const gf_workload *w = gf_model_pod_workload(m, pod);
        if (!w) continue;
        wagg *g = &a[w - m->workloads.v];
        if (!g->any) {
            g->any = true;
            g->first = pod;
            g->in.ns = w->ns;
            g->in.kind = w->kind;
            g->in.name = w->name;
            g->in.gpu_container = gf_convert_gpu_container(pod);
            g->in.scheduler_name = pod->scheduler_name;
        }
        if (pod->gpu_whole > g->in.whole_gpus) g->in.whole_gpus = pod->gpu_whole;
        if (pod->node != GF_NONE) {
            int64_t mem = m->nodes.v[pod->node].gpu_memory_mib;
            if (mem > 0 && (g->in.gpu_memory_mib == 0 || mem < g->in.gpu_memory_mib))
                g->in.gpu_memory_mib = mem;
        }
        g->in.replicas++;
    }
    gf_err rc = GF_OK;
    for (size_t wi = 0; wi < m->workloads.n && !rc; wi++) {
        wagg *g = &a[wi];
        if (!g->any) continue;
        gf_policy_subject subj;
        gf_policy_subject_with_pod(m, (uint32_t)wi, g->first, &subj);
        gf_policy_decision dec;
        gf_policy_resolve(p, &subj, &dec);
        /* mode off (rule, opt-out annotation, opt-in policy) leaves the
         * workload alone; an annotation's mode lowers the conversion's */
        gf_mode mode = dec.rule.convert_from_whole;
        if (dec.rule.mode == GF_MODE_OFF || (dec.by_annotation && dec.rule.mode < mode))
            mode = dec.rule.mode;
        char key[400];
        gf_recommend_key(g->in.ns, g->in.kind, g->in.name, key, sizeof key);
        gf_recommendation r;
        if (g->in.gpu_memory_mib <= 0) { /* no pod bound to a GPU node yet */
            memset(&r, 0, sizeof r);
            r.in = g->in;
            r.in.unit = dec.rule.convert_unit;
            r.in.devices = g->in.whole_gpus;
            r.mode = mode;
            r.action = mode == GF_MODE_OFF ? GF_REC_OFF : GF_REC_NODATA;
            r.current = r.recommended = 1;
            r.current_fraction = r.recommended_fraction = 1;
            snprintf(r.reason, sizeof r.reason, "no pod is bound to a node with known GPU memory");
        } else {
            rc = gf_convert_one(&dec.rule, mode, &g->in, h ? gf_history_find(h, key) : NULL, now,
                                &r, err);
        }
        snprintf(r.policy, sizeof r.policy, "%.200s; convert.fromWholeGpu %s", dec.reason,
                 gf_mode_name(mode));
        if (!rc) gf_vec_push(out, r);
    }
    free(a);
    return rc;
}
