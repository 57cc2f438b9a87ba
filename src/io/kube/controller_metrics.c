/* controller_metrics.c - the controller's /metrics page, see
 * controller_metrics.h. */
#include "io/kube/controller_metrics.h"
#include "io/promtext.h"
#include "util/version.h"

#include <math.h>
#include <string.h>

static void sample(gf_sbuf *out, const char *name, const char *labels, double v)
{
    gf_sbuf_puts(out, name);
    if (labels && *labels) gf_sbuf_printf(out, "{%s}", labels);
    gf_sbuf_puts(out, " ");
    gf_promtext_format_value(out, v);
    gf_sbuf_puts(out, "\n");
}

static void gauge(gf_sbuf *out, const char *name, const char *help, double v)
{
    gf_promtext_family(out, name, "gauge", help);
    sample(out, name, NULL, v);
}

static void counter(gf_sbuf *out, const char *name, const char *help, double v)
{
    gf_promtext_family(out, name, "counter", help);
    sample(out, name, NULL, v);
}

/* namespace="..",workload="..",kind=".." */
static void workload_labels(gf_sbuf *b, const gf_recommendation *r)
{
    b->len = 0;
    gf_sbuf_puts(b, "namespace=\"");
    gf_promtext_escape_label(b, r->in.ns);
    gf_sbuf_puts(b, "\",workload=\"");
    gf_promtext_escape_label(b, r->in.name);
    gf_sbuf_puts(b, "\",kind=\"");
    gf_promtext_escape_label(b, r->in.kind);
    gf_sbuf_puts(b, "\"");
}

static void recommendations(gf_sbuf *out, const gf_ctl *c)
{
    static const struct {
        const char *name, *help;
        int what;
    } fam[] = {
        {"gpufrac_recommendation_fraction",
         "Recommended allocation per device, as a fraction of one GPU (gpu-memory workloads "
         "converted with their GPU's memory).",
         0},
        {"gpufrac_current_fraction",
         "Current allocation per device (the largest among the workload's pods), as a fraction "
         "of one GPU.",
         1},
        {"gpufrac_recommendation_confidence",
         "Confidence of the recommendation: history span over the policy's minHistory, 0..1.", 2},
    };
    gf_sbuf lb = GF_SBUF_INIT;
    for (size_t f = 0; f < sizeof fam / sizeof *fam; f++) {
        gf_promtext_family(out, fam[f].name, "gauge", fam[f].help);
        for (size_t i = 0; i < c->plan.recs.n; i++) {
            const gf_recommendation *r = &c->plan.recs.v[i];
            if (r->action == GF_REC_OFF) continue;
            workload_labels(&lb, r);
            double v = fam[f].what == 0   ? r->recommended_fraction
                       : fam[f].what == 1 ? r->current_fraction
                                          : r->confidence;
            sample(out, fam[f].name, gf_sbuf_str(&lb), v);
        }
    }
    gf_sbuf_free(&lb);
}

/* Engines configured to overrun their fraction (decide/controller.h). */
static void overruns(gf_sbuf *out, const gf_ctl *c)
{
    gf_promtext_family(out, "gpufrac_configured_overrun", "gauge",
                       "Workloads whose inference engine is configured to take more of the "
                       "GPU's memory than their KAI fraction holds (e.g. vLLM's default "
                       "--gpu-memory-utilization 0.9 on a 0.5 fraction): the share of the GPU's "
                       "memory the cap exceeds the fraction by. The Event "
                       "GpufracConfiguredToOverrun on the workload gives the fix.");
    if (!c->have_model) return;
    gf_sbuf lb = GF_SBUF_INIT;
    for (size_t i = 0; i < c->plan.overruns.n; i++) {
        const gf_ctl_overrun *o = &c->plan.overruns.v[i];
        if (o->workload >= c->model.workloads.n) continue;
        const gf_workload *w = &c->model.workloads.v[o->workload];
        lb.len = 0;
        gf_sbuf_puts(&lb, "namespace=\"");
        gf_promtext_escape_label(&lb, w->ns);
        gf_sbuf_puts(&lb, "\",workload=\"");
        gf_promtext_escape_label(&lb, w->name);
        gf_sbuf_puts(&lb, "\",kind=\"");
        gf_promtext_escape_label(&lb, w->kind);
        gf_sbuf_printf(&lb, "\",engine=\"%s\"", gf_engine_name(o->engine));
        sample(out, "gpufrac_configured_overrun", gf_sbuf_str(&lb), o->cap - o->fraction);
    }
    gf_sbuf_free(&lb);
}

void gf_ctl_metrics_render(const gf_ctl *c, const gf_ctl_process *p, gf_sbuf *out)
{
    const gf_ctl_stats *s = &c->stats;
    char lb[200];
    gf_promtext_family(out, "gpufrac_controller_decisions_total", "counter",
                       "Actions the controller proposed, by kind and by the rule that proposed "
                       "them (upsize, downsize, recommend, fair-use kinds, consolidate) or the "
                       "limit that held them (stale, kind, rollout, cooldown, budget, pdb, rate, "
                       "not-selected, superseded, stalled, backoff, quota).");
    for (int k = 0; k < GF_CTL_KIND_COUNT; k++)
        for (size_t i = 0; i < GF_CTL_REASON_COUNT + GF_CTL_HOLD_COUNT; i++) {
            if (!s->decisions[k][i]) continue;
            snprintf(lb, sizeof lb, "kind=\"%s\",reason=\"%s\"", gf_ctl_kind_name((gf_ctl_kind)k),
                     gf_ctl_decision_name(i));
            sample(out, "gpufrac_controller_decisions_total", lb, (double)s->decisions[k][i]);
        }
    gf_promtext_family(out, "gpufrac_controller_actions_total", "counter",
                       "Actions carried out (or not: dry-run, not-leader), by kind and result.");
    for (int k = 0; k < GF_CTL_KIND_COUNT; k++)
        for (int r = 0; r < GF_CTL_RESULT_COUNT; r++) {
            if (!s->results[k][r]) continue;
            snprintf(lb, sizeof lb, "kind=\"%s\",result=\"%s\"", gf_ctl_kind_name((gf_ctl_kind)k),
                     gf_ctl_result_name((gf_ctl_result)r));
            sample(out, "gpufrac_controller_actions_total", lb, (double)s->results[k][r]);
        }
    gf_promtext_family(out, "gpufrac_controller_api_errors_total", "counter",
                       "Failed requests to the API server, Prometheus or the exporters, by "
                       "operation.");
    for (int o = 0; o < GF_CTL_OP_COUNT; o++) {
        double v = (double)s->api_errors[o];
        if (o == GF_CTL_OP_LEASE) v += (double)p->lease_errors;
        if (o == GF_CTL_OP_WATCH && p->have_cache) v += (double)p->cache.failures;
        snprintf(lb, sizeof lb, "op=\"%s\"", gf_ctl_op_name((gf_ctl_op)o));
        sample(out, "gpufrac_controller_api_errors_total", lb, v);
    }
    gf_promtext_family(out, "gpufrac_objects_skipped_total", "counter",
                       "Objects a snapshot left out with a warning, by reason (kai_annotation: "
                       "sharing annotations KAI refuses; node_missing: bound to a node not in "
                       "the cluster; no_gpu_node: a GPU pod on a node without GPUs; "
                       "kai_object: a KAI Queue, PodGroup, PriorityClass or SchedulingShard "
                       "KAI would refuse), counted "
                       "each iteration they are seen.");
    for (int r = 0; r < GF_SKIP_COUNT; r++) {
        snprintf(lb, sizeof lb, "reason=\"%s\"", gf_skip_reason_name((gf_skip_reason)r));
        sample(out, "gpufrac_objects_skipped_total", lb, (double)s->objects_skipped[r]);
    }
    gf_promtext_family(out, "gpufrac_controller_rollout_stalls_total", "counter",
                       "Rollouts of a gpufrac resize that stalled, by cause (pending_timeout: "
                       "a new pod Pending past stallTimeout; failed_create: the new ReplicaSet's "
                       "FailedCreate; unschedulable: KAI's Unschedulable condition on a new "
                       "pod), counted when reported (reverted, or held with an Event).");
    for (int r = GF_CTL_STALL_NONE + 1; r < GF_CTL_STALL_COUNT; r++) {
        snprintf(lb, sizeof lb, "cause=\"%s\"", gf_ctl_stall_cause_name((gf_ctl_stall_cause)r));
        sample(out, "gpufrac_controller_rollout_stalls_total", lb, (double)s->stalls[r]);
    }
    gf_promtext_family(out, "gpufrac_controller_steps_total", "counter",
                       "Loop iterations: ok (decided), failed (no snapshot), stale (decided, "
                       "but usage was older than two intervals: nothing acted on).");
    sample(out, "gpufrac_controller_steps_total", "result=\"ok\"", (double)s->steps_ok);
    sample(out, "gpufrac_controller_steps_total", "result=\"failed\"", (double)s->steps_failed);
    sample(out, "gpufrac_controller_steps_total", "result=\"stale\"", (double)s->steps_stale);
    gauge(out, "gpufrac_controller_step_duration_seconds", "How long the last loop iteration took.",
          s->last_step_s);
    gauge(out, "gpufrac_controller_last_success_timestamp_seconds",
          "When the last successful loop iteration ran (unix time); 0 before the first.",
          s->last_success_t);
    gauge(out, "gpufrac_controller_usage_staleness_seconds",
          "Age of the newest usage sample at the last iteration (+Inf before any usage).",
          s->staleness_s);
    gauge(out, "gpufrac_controller_usage_stale",
          "1 when the last iteration acted on nothing because usage was older than two "
          "intervals.",
          c->have_model && c->plan.stale ? 1 : 0);
    counter(out, "gpufrac_controller_samples_ingested_total",
            "Usage values added to the history (memory and SM count apart).",
            (double)s->samples_ingested);
    gauge(out, "gpufrac_controller_history_series", "Workloads in the usage history.",
          c->h ? (double)gf_history_count(c->h) : 0);
    gauge(out, "gpufrac_controller_leader",
          "1 while this replica holds the leader Lease (always 1 without leader election).",
          p->leading ? 1 : 0);
    gf_promtext_family(out, "gpufrac_controller_build_info", "gauge",
                       "The controller's version (value 1), as gpufrac_exporter_build_info.");
    sample(out, "gpufrac_controller_build_info", "version=\"" GF_VERSION "\"", 1);
    gauge(out, "gpufrac_controller_ready",
          "1 once the watch cache is synced and an iteration succeeded.", p->ready ? 1 : 0);
    gauge(out, "gpufrac_controller_dry_run", "1 when the controller never writes (--dry-run).",
          p->dry_run ? 1 : 0);
    gauge(out, "gpufrac_controller_start_time_seconds", "When the controller started (unix time).",
          p->start_time);
    if (p->have_cache) {
        counter(out, "gpufrac_controller_watch_relists_total",
                "Complete lists of the watch cache (first lists and re-lists).",
                (double)p->cache.lists);
        counter(out, "gpufrac_controller_watch_events_total",
                "Object changes the watch cache applied.", (double)p->cache.events);
        counter(out, "gpufrac_controller_watch_silent_restarts_total",
                "Watches started again after bringing neither an event nor a bookmark for the "
                "silence limit.",
                (double)p->cache.silent_restarts);
        gauge(out, "gpufrac_controller_watch_cache_age_seconds",
              "Seconds since the watch cache last heard from the API server about its stalest "
              "kind (event, bookmark or list); past the limit no step runs.",
              p->cache_age_s);
    }
    gauge(out, "gpufrac_controller_kube_insecure_tls",
          "1 when the kubeconfig sets insecure-skip-tls-verify: the API server's certificate is "
          "not checked.",
          p->insecure_tls ? 1 : 0);
    if (p->scrape) {
        counter(out, "gpufrac_controller_scrape_untrusted_pods_total",
                "Pods labelled as exporters but not in the exporters' namespace or not owned by "
                "their DaemonSet: never scraped.",
                (double)p->scrape_untrusted_pods);
        counter(out, "gpufrac_controller_scrape_dropped_samples_total",
                "Scraped samples dropped because the pod is not on the exporter's own node.",
                (double)p->scrape_foreign_samples);
    }
    gf_promtext_family(out, "gpufrac_controller_fairuse_findings", "gauge",
                       "Fair-use findings on shared GPUs at the last iteration, by kind and "
                       "severity.");
    for (int k = 0; k < GF_FAIR_KIND_COUNT; k++)
        for (int sev = 0; sev <= GF_FAIR_CRITICAL; sev++) {
            uint32_t n = 0;
            for (size_t i = 0; i < c->plan.fair.findings.n; i++)
                n += c->plan.fair.findings.v[i].kind == (gf_fair_kind)k &&
                     c->plan.fair.findings.v[i].severity == (gf_fair_severity)sev;
            snprintf(lb, sizeof lb, "kind=\"%s\",severity=\"%s\"",
                     gf_fair_kind_name((gf_fair_kind)k),
                     gf_fair_severity_name((gf_fair_severity)sev));
            sample(out, "gpufrac_controller_fairuse_findings", lb, n);
        }
    overruns(out, c);
    recommendations(out, c);
}
