/* cmd_explain.c - `gpufrac explain`: fair-use findings on shared GPUs and the
 * responses gpufrac would choose, with every reason.
 *
 * Snapshot (the GPUs, who shares them, priorities, queues) + usage CSV (per
 * pod GPU memory and SM share over time) + policy (its fairUse section) ->
 * the core's gf_fair_step (decide/fairuse.h) at the newest sample, after
 * replaying the samples through a tracker so that "since when" and the hog
 * window come from the data. */
#include "cli/commands.h"
#include "decide/fairuse.h"
#include "cli/cli_common.h"
#include "io/policy_yaml.h"
#include "io/snapshot.h"
#include "io/usage.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GIB (1024.0 * 1024.0 * 1024.0)
/* How far back the samples are replayed to find since when a condition holds. */
#define REPLAY_HORIZON_S 86400.0

#define USAGE "gpufrac explain [options] [SNAPSHOT... --usage FILE]"

static void help(FILE *f)
{
    fprintf(f,
            "usage: " USAGE "\n\n"
            "Checks every shared GPU for noisy neighbours and explains what gpufrac finds and\n"
            "would do: a pod using more GPU memory than its fraction (memory-overrun), a\n"
            "nearly full device (device-memory-full), a pod taking more than its share of SM\n"
            "time for the hog window while a GPU-mate starves (compute-hog), and GPUs whose\n"
            "pods need more than the GPU altogether (overcommit-memory, overcommit-compute).\n"
            "For each finding: the signal and figures, since when, the pods affected, and the\n"
            "response (upsize the offender, move a GPU-mate, relieve an over-committed GPU, or\n"
            "report) with the rule that chose it and every alternative rejected, and why.\n"
            "Nothing is changed: this is what the controller would do under the policy.\n\n"
            "The GPUs and pods come from the cluster (no SNAPSHOT: through your kubeconfig),\n"
            "or from SNAPSHOT, `kubectl get nodes,deploy,rs,sts,pods,pdb -A -o json` output;\n"
            "usage from --usage CSV files, else from Prometheus (--prometheus, or the\n"
            "cluster's, found by its Service) over --range. The usage\n"
            "CSV (timestamp,namespace,pod,container,gpu_uuid,memory_bytes,sm_util) is what\n"
            "`gpufrac recommend --usage` reads: current values are each pod's latest samples\n"
            "(older than the hog window: unknown), window means come from the samples, and\n"
            "the samples of the last 24 hours are replayed to say since when a condition\n"
            "holds. A pod on several GPUs counts its use evenly across them.\n\n"
            "options:\n"
            "  -u, --usage FILE       usage CSV (repeatable; required with SNAPSHOT unless\n"
            "                         --prometheus is given)\n" GF_CLI_PROM_HELP
            "      --range DURATION   how far back Prometheus is asked (default 1d)\n"
            "  -p, --policy FILE      policy YAML whose fairUse section applies (see\n"
            "                         examples/policy.yaml); default: built-in defaults\n"
            "      --gpu NODE/INDEX   only this GPU, printed even without findings\n"
            "      --now TIME         evaluate at TIME (unix seconds or RFC 3339); default: the\n"
            "                         newest sample\n"
            "  -o, --output FORMAT    table (default), json, yaml, csv (a line a finding)\n"
            "  -q, --quiet            do not print warnings\n"
            "  -h, --help             this text\n" GF_CLI_CLUSTER_HELP "\n" GF_CLI_KAI_HELP "\n"
            "exit codes: 0 success (with or without findings), 1 runtime failure, 2 usage or\n"
            "input error\n");
}

/* --- usage samples -> per pod series --------------------------------------------- */

typedef struct point {
    double t, mem, sm; /* per device; NaN when no sample carried the signal */
} point;

typedef GF_VEC(point) series;

static int cmp_point(const void *a, const void *b)
{
    const point *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

static double nan_add(double acc, double v)
{
    if (isnan(v)) return acc;
    return isnan(acc) ? v : acc + v;
}

/* Sorted by time; samples at the same time (containers, GPUs) summed. */
static void settle(series *s)
{
    if (!s->n) return;
    qsort(s->v, s->n, sizeof *s->v, cmp_point);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (w && s->v[w - 1].t == s->v[i].t) {
            s->v[w - 1].mem = nan_add(s->v[w - 1].mem, s->v[i].mem);
            s->v[w - 1].sm = nan_add(s->v[w - 1].sm, s->v[i].sm);
        } else {
            s->v[w++] = s->v[i];
        }
    }
    s->n = w;
}

/* Usage per entry of the state (one pod on one GPU). A sample whose gpu_uuid
 * is the device ID of one of the pod's GPUs (the UUID KAI's reservation pod
 * wrote into run.ai/reserve_for_gpu_index, core/model.h) counts on that GPU
 * only; a sample without a known UUID is spread evenly over the pod's GPUs. */
typedef struct usage_view {
    series *by_entry; /* per state pod entry */
    size_t unmatched; /* samples of pods not on a shared GPU of the snapshot */
    const gf_usage_sample *first_unmatched;
    double newest;
} usage_view;

static void usage_view_build(const gf_model *m, const gf_fair_state *st, const gf_usage *u,
                             usage_view *uv)
{
    memset(uv, 0, sizeof *uv);
    size_t ne = st->pods.n;
    uv->by_entry = gf_xcalloc(ne + 1, sizeof *uv->by_entry);
    uv->newest = -INFINITY;
    /* each entry's device ID; the entries of a pod, chained */
    const char **dev = gf_xcalloc(ne + 1, sizeof *dev);
    size_t *next = gf_xcalloc(ne + 1, sizeof *next);
    uint32_t *devices = gf_xcalloc(ne + 1, sizeof *devices);
    for (size_t gi = 0; gi < st->gpus.n; gi++) {
        const gf_fair_gpu *g = &st->gpus.v[gi];
        for (uint32_t k = 0; k < g->n_pods; k++)
            dev[g->first_pod + k] = g->gpu < m->gpus.n ? m->gpus.v[g->gpu].device_id : NULL;
    }
    gf_arena keys;
    gf_arena_init(&keys);
    gf_strmap by_name; /* "ns/name" -> first entry */
    gf_strmap_init(&by_name);
    gf_sbuf b = GF_SBUF_INIT;
    for (size_t i = ne; i-- > 0;) {
        const gf_fair_pod *fp = &st->pods.v[i];
        next[i] = SIZE_MAX;
        if (fp->pod >= m->pods.n) continue;
        b.len = 0;
        gf_sbuf_printf(&b, "%s/%s", m->pods.v[fp->pod].ns, m->pods.v[fp->pod].name);
        size_t first;
        if (gf_strmap_get(&by_name, gf_sbuf_str(&b), &first)) next[i] = first;
        gf_strmap_put(&by_name, gf_arena_strdup(&keys, gf_sbuf_str(&b)), i);
    }
    for (size_t i = 0; i < ne; i++) {
        uint32_t n = 0;
        for (size_t e = i; e != SIZE_MAX; e = next[e])
            n++;
        devices[i] = n; /* entries from i on; the first entry of a pod has them all */
    }
    for (size_t i = 0; i < u->samples.n; i++) {
        const gf_usage_sample *s = &u->samples.v[i];
        b.len = 0;
        gf_sbuf_printf(&b, "%s/%s", s->ns, s->pod);
        size_t first;
        if (!gf_strmap_get(&by_name, gf_sbuf_str(&b), &first)) {
            if (!uv->unmatched++) uv->first_unmatched = s;
            continue;
        }
        size_t on = SIZE_MAX;
        if (s->gpu_uuid && *s->gpu_uuid)
            for (size_t e = first; e != SIZE_MAX && on == SIZE_MAX; e = next[e])
                if (dev[e] && !strcmp(dev[e], s->gpu_uuid)) on = e;
        if (on != SIZE_MAX) {
            point p = {s->t, s->memory_bytes, s->sm_util};
            gf_vec_push(&uv->by_entry[on], p);
        } else {
            double w = 1.0 / devices[first];
            point p = {s->t, s->memory_bytes * w, s->sm_util * w};
            for (size_t e = first; e != SIZE_MAX; e = next[e])
                gf_vec_push(&uv->by_entry[e], p);
        }
        if (s->t > uv->newest) uv->newest = s->t;
    }
    for (size_t i = 0; i < ne; i++)
        settle(&uv->by_entry[i]);
    free(dev);
    free(next);
    free(devices);
    gf_sbuf_free(&b);
    gf_strmap_free(&by_name);
    gf_arena_free(&keys);
}

static void usage_view_free(const gf_fair_state *st, usage_view *uv)
{
    for (size_t i = 0; uv->by_entry && i < st->pods.n; i++)
        gf_vec_free(&uv->by_entry[i]);
    free(uv->by_entry);
}

/* The latest point at or before t, when not older than stale_s; NULL otherwise. */
static const point *latest(const series *s, double t, double stale_s)
{
    size_t lo = 0, hi = s->n; /* first index with time > t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].t <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!lo) return NULL;
    const point *p = &s->v[lo - 1];
    return t - p->t <= stale_s ? p : NULL;
}

/* The state's current values at t (each signal: the latest sample carrying it). */
static void set_current(gf_fair_state *st, const usage_view *uv, double t, double stale_s)
{
    for (size_t i = 0; i < st->pods.n; i++) {
        gf_fair_pod *p = &st->pods.v[i];
        p->memory_bytes = p->sm_share = NAN;
        const series *s = &uv->by_entry[i];
        const point *pt = latest(s, t, stale_s);
        /* walk back for a signal the latest point lacks */
        for (const point *q = pt;
             q && t - q->t <= stale_s && (isnan(p->memory_bytes) || isnan(p->sm_share)); q--) {
            if (isnan(p->memory_bytes) && !isnan(q->mem)) p->memory_bytes = q->mem;
            if (isnan(p->sm_share) && !isnan(q->sm)) p->sm_share = q->sm;
            if (q == s->v) break;
        }
    }
}

/* Window means at now, and what the window covers per GPU. */
static void set_means(gf_fair_state *st, const usage_view *uv, double now, double window)
{
    for (size_t gi = 0; gi < st->gpus.n; gi++) {
        gf_fair_gpu *g = &st->gpus.v[gi];
        double earliest = INFINITY;
        for (uint32_t k = 0; k < g->n_pods; k++) {
            gf_fair_pod *p = &st->pods.v[g->first_pod + k];
            const series *s = &uv->by_entry[g->first_pod + k];
            double sum = 0;
            size_t n = 0;
            for (size_t i = 0; i < s->n; i++) {
                if (s->v[i].t <= now - window || s->v[i].t > now || isnan(s->v[i].sm)) continue;
                sum += s->v[i].sm;
                n++;
            }
            p->sm_share_mean = n ? sum / (double)n : NAN;
            if (s->n && s->v[0].t < earliest) earliest = s->v[0].t;
        }
        g->window_s = isfinite(earliest) ? now - fmax(earliest, now - window) : 0;
        if (g->window_s < 0) g->window_s = 0;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Feeds the tracker one observation per distinct sample time in
 * [now - horizon, now). */
static gf_err replay(gf_fair_state *st, const usage_view *uv, const gf_model *m,
                     const gf_fair_policy *fp, gf_fair_tracker *tr, double now, gf_error *err)
{
    GF_VEC(double) times = {0};
    (void)m;
    for (size_t i = 0; i < st->pods.n; i++)
        for (size_t k = 0; k < uv->by_entry[i].n; k++) {
            double t = uv->by_entry[i].v[k].t;
            if (t < now && t >= now - REPLAY_HORIZON_S) gf_vec_push(&times, t);
        }
    if (times.n) qsort(times.v, times.n, sizeof *times.v, cmp_double);
    gf_err rc = GF_OK;
    double stale = (double)fp->hog_window_s;
    for (size_t i = 0; i < times.n && !rc; i++) {
        if (i && times.v[i] == times.v[i - 1]) continue;
        set_current(st, uv, times.v[i], stale);
        rc = gf_fair_tracker_observe(tr, fp, st, times.v[i], err);
    }
    gf_vec_free(&times);
    return rc;
}

/* --- printing --------------------------------------------------------------------- */

static const char *time_text(double t, char *buf, size_t n)
{
    if (!isfinite(t)) return snprintf(buf, n, "unknown"), buf;
    time_t s = (time_t)floor(t);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, n, "%.0f", t);
    return buf;
}

static const char *pod_name(const gf_fair_state *st, uint32_t i, char *buf, size_t n)
{
    if (i == GF_NONE || i >= st->pods.n) return snprintf(buf, n, "-"), buf;
    snprintf(buf, n, "%s/%s", st->pods.v[i].ns, st->pods.v[i].name);
    return buf;
}

static void print_value(const char *label, double v, double scale, const char *unit)
{
    if (isnan(v))
        printf("  %s ?", label);
    else
        printf("  %s %.2f%s", label, v / scale, unit);
}

static void print_target(const gf_model *m, const gf_placement *pl)
{
    printf("%s", m->nodes.v[pl->node].name);
    for (uint32_t g = 0; g < pl->n_gpus; g++)
        printf("%s%d", g ? "," : " GPU ", (int)m->gpus.v[pl->gpus[g]].index);
}

static void print_gpu(const gf_model *m, const gf_fair_state *st, const gf_fair_report *r,
                      uint32_t gi, double now)
{
    const gf_fair_gpu *g = &st->gpus.v[gi];
    double used = g->memory_used_bytes, sm = g->sm_util;
    if (isnan(used) || isnan(sm)) {
        double u = 0, s = 0;
        bool any_u = false, any_s = false;
        for (uint32_t k = 0; k < g->n_pods; k++) {
            const gf_fair_pod *p = &st->pods.v[g->first_pod + k];
            if (!isnan(p->memory_bytes)) u += p->memory_bytes, any_u = true;
            if (!isnan(p->sm_share)) s += p->sm_share, any_s = true;
        }
        if (isnan(used) && any_u) used = u;
        if (isnan(sm) && any_s) sm = fmin(s, 1.0);
    }
    printf("GPU %s/%d  memory %s%.2f of %.2f GiB", g->node, (int)g->index, isnan(used) ? "? " : "",
           isnan(used) ? 0.0 : used / GIB, g->memory_total_bytes / GIB);
    if (isnan(sm))
        printf("  SM ?\n");
    else
        printf("  SM %.0f%%\n", 100.0 * sm);
    char a[300], b[300], t[64];
    for (uint32_t k = 0; k < g->n_pods; k++) {
        const gf_fair_pod *p = &st->pods.v[g->first_pod + k];
        printf("  pod %-32s fraction %.2f  priority %d  queue %s",
               pod_name(st, g->first_pod + k, a, sizeof a), p->fraction, (int)p->priority,
               p->queue ? p->queue : "-");
        print_value("memory", p->memory_bytes, GIB, " GiB");
        print_value("SM", p->sm_share, 1, "");
        if (!isnan(p->sm_share_mean)) printf(" (mean %.2f)", p->sm_share_mean);
        putchar('\n');
    }
    bool any = false;
    for (size_t fi = 0; fi < r->findings.n; fi++) {
        const gf_fair_finding *f = &r->findings.v[fi];
        if (f->gpu != gi) continue;
        any = true;
        printf("  FINDING %s [%s]", gf_fair_kind_name(f->kind), gf_fair_severity_name(f->severity));
        if (f->offender != GF_NONE) printf(" %s", pod_name(st, f->offender, a, sizeof a));
        if (isfinite(f->since_t))
            printf(" since %s\n", time_text(f->since_t, t, sizeof t));
        else
            printf(" (since unknown: seen at %s)\n", time_text(now, t, sizeof t));
        printf("    signal: %s\n", f->signal);
        if (f->n_affected) {
            printf("    affects:");
            for (uint32_t i = 0; i < f->n_affected; i++)
                printf("%s %s", i ? "," : "",
                       pod_name(st, r->affected.v[f->first_affected + i], a, sizeof a));
            putchar('\n');
        }
        for (size_t ri = 0; ri < r->responses.n; ri++) {
            const gf_fair_response *resp = &r->responses.v[ri];
            if (resp->finding != fi) continue;
            printf("    RESPONSE %s", gf_fair_action_name(resp->action));
            if (resp->action != GF_FAIR_ACT_REPORT) {
                printf(" %s", pod_name(st, resp->pod, b, sizeof b));
                if (resp->action == GF_FAIR_ACT_UPSIZE && resp->whole_gpu)
                    printf(" to a whole GPU (nvidia.com/gpu: 1)");
                else if (resp->action == GF_FAIR_ACT_UPSIZE)
                    printf(" to %.2f", resp->new_fraction);
                printf(" -> ");
                print_target(m, &resp->to);
            }
            printf(" (%s)\n", resp->apply ? "to apply" : "proposed only");
            printf("      rule: %s\n", resp->rule);
            printf("      reason: %s\n", resp->reason);
            for (uint32_t i = 0; i < resp->n_alt; i++)
                printf("      rejected: %s\n", r->alternatives.v[resp->first_alt + i].why);
        }
    }
    if (!any) printf("  no findings\n");
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *bytes_or_null(double v)
{
    return isfinite(v) && fabs(v) < 9e18 ? json_integer((json_int_t)llround(v)) : json_null();
}

static json_t *pod_json(const gf_fair_state *st, uint32_t i)
{
    char buf[300];
    return i == GF_NONE || i >= st->pods.n ? json_null()
                                           : json_string(pod_name(st, i, buf, sizeof buf));
}

/* One line per finding: where, what, by whom, by how much, and the response. */
static void print_csv(const gf_fair_state *st, const gf_fair_report *r)
{
    printf("node,gpu,kind,severity,namespace,pod,observed,allowed,amount,response,signal\n");
    for (size_t fi = 0; fi < r->findings.n; fi++) {
        const gf_fair_finding *f = &r->findings.v[fi];
        const gf_fair_gpu *g = &st->gpus.v[f->gpu];
        const gf_fair_pod *p = f->offender != GF_NONE ? &st->pods.v[f->offender] : NULL;
        const char *resp = "";
        for (size_t ri = 0; ri < r->responses.n; ri++)
            if (r->responses.v[ri].finding == fi)
                resp = gf_fair_action_name(r->responses.v[ri].action);
        gf_cli_csv_field(stdout, g->node, false);
        printf("%d,%s,%s,", (int)g->index, gf_fair_kind_name(f->kind),
               gf_fair_severity_name(f->severity));
        gf_cli_csv_field(stdout, p ? p->ns : "", false);
        gf_cli_csv_field(stdout, p ? p->name : "", false);
        printf("%.15g,%.15g,%.15g,%s,", f->observed, f->allowed, f->amount, resp);
        gf_cli_csv_field(stdout, f->signal, true);
    }
}

static json_t *report_json(const gf_model *m, const gf_fair_state *st, const gf_fair_report *r,
                           uint32_t only, double now, const gf_fair_policy *fp)
{
    json_t *gpus = json_array();
    char t[64];
    for (size_t gi = 0; gi < st->gpus.n; gi++) {
        bool has = false;
        for (size_t fi = 0; fi < r->findings.n && !has; fi++)
            has = r->findings.v[fi].gpu == gi;
        if (only != GF_NONE ? gi != only : !has) continue;
        const gf_fair_gpu *g = &st->gpus.v[gi];
        json_t *pods = json_array(), *findings = json_array();
        for (uint32_t k = 0; k < g->n_pods; k++) {
            const gf_fair_pod *p = &st->pods.v[g->first_pod + k];
            json_array_append_new(
                pods,
                json_pack("{s:o,s:f,s:i,s:o,s:o,s:o,s:o}", "pod", pod_json(st, g->first_pod + k),
                          "fraction", p->fraction, "priority", (int)p->priority, "queue",
                          p->queue ? json_string(p->queue) : json_null(), "memory_bytes",
                          bytes_or_null(p->memory_bytes), "sm_share", num_or_null(p->sm_share),
                          "sm_share_mean", num_or_null(p->sm_share_mean)));
        }
        for (size_t fi = 0; fi < r->findings.n; fi++) {
            const gf_fair_finding *f = &r->findings.v[fi];
            if (f->gpu != gi) continue;
            json_t *aff = json_array(), *resps = json_array();
            for (uint32_t i = 0; i < f->n_affected; i++)
                json_array_append_new(aff, pod_json(st, r->affected.v[f->first_affected + i]));
            for (size_t ri = 0; ri < r->responses.n; ri++) {
                const gf_fair_response *resp = &r->responses.v[ri];
                if (resp->finding != fi) continue;
                json_t *rej = json_array(), *to = json_null();
                for (uint32_t i = 0; i < resp->n_alt; i++) {
                    const gf_fair_alternative *al = &r->alternatives.v[resp->first_alt + i];
                    json_array_append_new(rej, json_pack("{s:s,s:o,s:s}", "action",
                                                         gf_fair_action_name(al->action), "pod",
                                                         pod_json(st, al->pod), "why", al->why));
                }
                if (resp->action != GF_FAIR_ACT_REPORT) {
                    json_t *tg = json_array();
                    for (uint32_t k = 0; k < resp->to.n_gpus; k++)
                        json_array_append_new(tg, json_integer(m->gpus.v[resp->to.gpus[k]].index));
                    to = json_pack("{s:s,s:o}", "node", m->nodes.v[resp->to.node].name, "gpus", tg);
                }
                json_t *o = json_pack("{s:s,s:o,s:o,s:b,s:s,s:s,s:o}", "action",
                                      gf_fair_action_name(resp->action), "pod",
                                      pod_json(st, resp->pod), "to", to, "apply", resp->apply,
                                      "rule", resp->rule, "reason", resp->reason, "rejected", rej);
                if (resp->action == GF_FAIR_ACT_UPSIZE && resp->whole_gpu)
                    json_object_set_new(o, "whole_gpus", json_integer(1));
                else if (resp->action == GF_FAIR_ACT_UPSIZE)
                    json_object_set_new(o, "new_fraction", json_real(resp->new_fraction));
                json_array_append_new(resps, o);
            }
            json_array_append_new(
                findings,
                json_pack("{s:s,s:s,s:o,s:o,s:f,s:f,s:f,s:o,s:s,s:o}", "kind",
                          gf_fair_kind_name(f->kind), "severity",
                          gf_fair_severity_name(f->severity), "offender", pod_json(st, f->offender),
                          "since",
                          isfinite(f->since_t) ? json_string(time_text(f->since_t, t, sizeof t))
                                               : json_null(),
                          "amount", f->amount, "observed", f->observed, "allowed", f->allowed,
                          "affected", aff, "signal", f->signal, "responses", resps));
        }
        json_array_append_new(
            gpus, json_pack("{s:s,s:i,s:o,s:o,s:o,s:o}", "node", g->node, "index", (int)g->index,
                            "memory_total_bytes", bytes_or_null(g->memory_total_bytes), "sm_util",
                            num_or_null(g->sm_util), "pods", pods, "findings", findings));
    }
    return json_pack("{s:s,s:s,s:I,s:s,s:I,s:I,s:o}", "now", time_text(now, t, sizeof t), "mode",
                     gf_fair_mode_name(fp->mode), "hog_window_s", (json_int_t)fp->hog_window_s,
                     "response", gf_fair_prefer_name(fp->response), "findings",
                     (json_int_t)r->findings.n, "applied", (json_int_t)r->applied, "gpus", gpus);
}

/* --- the command ------------------------------------------------------------------- */

/* "NODE/INDEX" -> the state GPU; a GPU of the model that nobody shares
 * gives *out GF_NONE and *unshared its model index. */
static gf_err find_gpu(const gf_model *m, const gf_fair_state *st, const char *spec, uint32_t *out,
                       uint32_t *unshared, gf_error *err)
{
    const char *slash = strrchr(spec, '/');
    char *end = NULL;
    long idx = slash ? strtol(slash + 1, &end, 10) : -1;
    if (!slash || slash == spec || !slash[1] || *end || idx < 0 || idx > 1 << 20)
        return gf_error_set(err, GF_EUSAGE, "--gpu", "'%s': expected NODE/INDEX, like gpu-1/0",
                            spec);
    for (size_t i = 0; i < st->gpus.n; i++) {
        const gf_fair_gpu *g = &st->gpus.v[i];
        if (g->index == idx && strlen(g->node) == (size_t)(slash - spec) &&
            !strncmp(g->node, spec, (size_t)(slash - spec))) {
            *out = (uint32_t)i;
            return GF_OK;
        }
    }
    for (size_t i = 0; i < m->gpus.n; i++) {
        const char *node = m->nodes.v[m->gpus.v[i].node].name;
        if (m->gpus.v[i].index == idx && strlen(node) == (size_t)(slash - spec) &&
            !strncmp(node, spec, (size_t)(slash - spec))) {
            *unshared = (uint32_t)i;
            return GF_OK;
        }
    }
    return gf_error_set(err, GF_EUSAGE, "--gpu",
                        "'%s': no GPU with that node and index in the snapshot", spec);
}

int gf_cmd_explain(int argc, char **argv)
{
    enum { OPT_GPU = 256, OPT_NOW, OPT_RANGE };
    static const struct option opts[] = {{"usage", required_argument, NULL, 'u'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"gpu", required_argument, NULL, OPT_GPU},
                                         {"now", required_argument, NULL, OPT_NOW},
                                         {"output", required_argument, NULL, 'o'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"range", required_argument, NULL, OPT_RANGE},
                                         GF_CLI_CLUSTER_OPTIONS,
                                         GF_CLI_PROM_OPTIONS,
                                         GF_CLI_KAI_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    static const char shortopts[] = "u:p:o:qh" GF_CLI_CLUSTER_SHORT;
    gf_cli_cluster cl;
    gf_cli_cluster_init(&cl);
    gf_cli_prom pr;
    gf_cli_prom_init(&pr);
    gf_cli_format format = GF_OUT_TABLE;
    const char *range_text = "1d";
    GF_VEC(const char *) csvs = {0};
    const char *policy_path = NULL, *gpu_text = NULL, *now_text = NULL;
    bool quiet = false;
    int c, usage_rc = -1;
    optind = 1;
    gf_cli_kai kai = {0};
    opterr = 0;
    while (usage_rc < 0 && (c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if (gf_cli_kai_option(&kai, c, optarg)) continue;
        if (gf_cli_cluster_option(&cl, "explain", c, optarg, &usage_rc) ||
            gf_cli_prom_option(&pr, "explain", c, optarg, &usage_rc))
            continue;
        switch (c) {
        case OPT_RANGE:
            range_text = optarg;
            break;
        case 'u':
            gf_vec_push(&csvs, optarg);
            break;
        case 'p':
            policy_path = optarg;
            break;
        case OPT_GPU:
            gpu_text = optarg;
            break;
        case OPT_NOW:
            now_text = optarg;
            break;
        case 'o':
            if (!gf_cli_parse_format("explain", optarg,
                                     GF_OUT_TABLE | GF_OUT_JSON | GF_OUT_YAML | GF_OUT_CSV,
                                     &format))
                usage_rc = 2;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            help(stdout);
            usage_rc = 0;
            break;
        default:
            usage_rc = gf_cli_bad_option("explain", USAGE, shortopts, argc, argv);
            break;
        }
    }
    bool from_cluster = optind >= argc;
    if (usage_rc < 0 && !from_cluster && !csvs.n && !pr.url)
        usage_rc = gf_cli_usage_error("explain", USAGE,
                                      "--usage FILE is needed (what the pods use), or "
                                      "--prometheus URL");
    int64_t range_s = 0;
    const char *range_why = "must be positive";
    if (usage_rc < 0 && (!gf_parse_duration(range_text, &range_s, &range_why) || range_s <= 0))
        usage_rc = gf_cli_usage_error("explain", USAGE, "--range '%s': %s", range_text, range_why);
    if (usage_rc >= 0) {
        gf_vec_free(&csvs);
        gf_cli_cluster_free(&cl);
        gf_cli_prom_free(&pr);
        return usage_rc;
    }

    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_policy pol;
    gf_policy_init(&pol);
    gf_usage u;
    gf_usage_init(&u);
    gf_fair_state st;
    gf_fair_state_init(&st);
    gf_fair_tracker tr;
    gf_fair_tracker_init(&tr);
    gf_fair_report rep = {0};
    usage_view uv;
    memset(&uv, 0, sizeof uv);
    int exit_code = 0;
    double now = NAN;
    uint32_t only = GF_NONE, unshared = GF_NONE;
    gf_err rc = GF_OK;
    if (now_text) {
        char why[200];
        if (gf_usage_parse_time(now_text, &now, why, sizeof why))
            rc = gf_error_set(&err, GF_EUSAGE, "--now", "'%s': %s", now_text, why);
    }
    /* the policy first: its kai: section names what the snapshot means */
    if (!rc && policy_path) rc = gf_policy_load_file(&pol, policy_path, &err);
    gf_cli_kai_names(&kai, &pol.kai, &m.kai);
    if (!rc) rc = gf_cli_load_model(&cl, argv + optind, argc - optind, &m, &d, &err);
    for (size_t i = 0; !rc && i < csvs.n; i++)
        rc = gf_usage_load_csv(&u, csvs.v[i], &err);
    if (!rc && from_cluster && !csvs.n && !pr.url) rc = gf_cli_prom_discover(&pr, &cl, &err);
    if (!rc && (pr.url || pr.use_found)) {
        double end = isnan(now) ? (double)time(NULL) : now;
        double step = fmax(15, ceil((double)range_s / 10000));
        rc = gf_cli_prom_fetch(&pr, &cl, end - (double)range_s, end, step, &u, &d, &err);
    }
    gf_fair_policy fp = pol.fair_use;
    if (!rc) {
        gf_fair_state_from_model(&m, &st);
        if (gpu_text) rc = find_gpu(&m, &st, gpu_text, &only, &unshared, &err);
    }
    if (!rc) {
        usage_view_build(&m, &st, &u, &uv);
        if (uv.unmatched)
            gf_diag(&d, NULL,
                    "%zu samples of pods that share no GPU in the snapshot were skipped (e.g. "
                    "%s/%s)",
                    uv.unmatched, uv.first_unmatched->ns, uv.first_unmatched->pod);
        if (isnan(now)) now = isfinite(uv.newest) ? uv.newest : (double)time(NULL);
        if (fp.mode == GF_FAIR_MODE_OFF) {
            gf_diag(&d, policy_path, "fairUse.mode is off; explaining what mode report would find");
            fp.mode = GF_FAIR_MODE_REPORT;
        }
        rc = replay(&st, &uv, &m, &fp, &tr, now, &err);
    }
    if (!rc) {
        set_current(&st, &uv, now, (double)fp.hog_window_s);
        set_means(&st, &uv, now, (double)fp.hog_window_s);
        gf_fair_env env;
        memset(&env, 0, sizeof env);
        env.m = &m;
        env.scorer = GF_SCORE_BINPACK;
        rc = gf_fair_step(&fp, &st, &env, now, &tr, &rep, &err);
    }
    if (!quiet) gf_cli_print_diags(&d, 20);
    if (rc) {
        char msg[1100];
        gf_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "gpufrac explain: %s\n", msg);
        exit_code = gf_err_exit_code(rc);
    } else if (unshared != GF_NONE) {
        const gf_gpu *g = &m.gpus.v[unshared];
        const gf_pod *holder = g->n_pods ? &m.pods.v[m.gpu_pods.v[g->first_pod]] : NULL;
        char what[400];
        if (holder)
            snprintf(what, sizeof what, "held whole by %s/%s", holder->ns, holder->name);
        else
            snprintf(what, sizeof what, "idle");
        if (format != GF_OUT_TABLE) {
            json_t *o = json_pack("{s:s,s:i,s:s,s:s}", "node", m.nodes.v[g->node].name, "index",
                                  (int)g->index, "sharing", "none", "state", what);
            exit_code = gf_cli_print_doc(o, format, 15);
            json_decref(o);
        } else {
            printf("GPU %s/%d is %s: nothing shares it, so no fair-use findings apply\n",
                   m.nodes.v[g->node].name, (int)g->index, what);
        }
    } else if (format == GF_OUT_CSV) {
        print_csv(&st, &rep);
    } else if (format != GF_OUT_TABLE) {
        json_t *o = report_json(&m, &st, &rep, only, now, &fp);
        exit_code = gf_cli_print_doc(o, format, 15);
        json_decref(o);
    } else {
        char t[64];
        long long w = (long long)fp.hog_window_s;
        char win[32];
        if (w % 3600 == 0)
            snprintf(win, sizeof win, "%lldh", w / 3600);
        else if (w % 60 == 0)
            snprintf(win, sizeof win, "%lldm", w / 60);
        else
            snprintf(win, sizeof win, "%llds", w);
        printf("Fair use at %s (mode %s, hogWindow %s, response %s): %zu shared GPUs, %zu "
               "findings, %u responses to apply\n",
               time_text(now, t, sizeof t), gf_fair_mode_name(fp.mode), win,
               gf_fair_prefer_name(fp.response), st.gpus.n, rep.findings.n, rep.applied);
        for (size_t gi = 0; gi < st.gpus.n; gi++) {
            bool has = false;
            for (size_t fi = 0; fi < rep.findings.n && !has; fi++)
                has = rep.findings.v[fi].gpu == gi;
            if (only != GF_NONE ? gi != only : !has) continue;
            putchar('\n');
            print_gpu(&m, &st, &rep, (uint32_t)gi, now);
        }
        if (only == GF_NONE) gf_cli_print_overruns(&m, GF_NONE);
    }
    if (fflush(stdout) != 0) exit_code = 1;
    usage_view_free(&st, &uv);
    gf_fair_report_free(&rep);
    gf_fair_tracker_free(&tr);
    gf_fair_state_free(&st);
    gf_usage_free(&u);
    gf_policy_free(&pol);
    gf_diags_free(&d);
    gf_model_free(&m);
    gf_vec_free(&csvs);
    gf_cli_cluster_free(&cl);
    gf_cli_prom_free(&pr);
    return exit_code;
}
