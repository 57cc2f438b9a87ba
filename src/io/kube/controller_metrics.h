/* controller_metrics.h - the controller's /metrics page: its counters and
 * gauges (decide/controller.h's gf_ctl_stats, the last plan's recommendations
 * and fair-use findings) and the process around it (leader, readiness,
 * watch cache), in Prometheus text format. docs/controller.md lists them. */
#ifndef GF_CONTROLLER_METRICS_H
#define GF_CONTROLLER_METRICS_H

#include "decide/controller.h"
#include "io/kube/kube.h"
#include "util/sbuf.h"

#include <stdbool.h>
#include <stdint.h>

/* What the program around the controller knows. */
typedef struct gf_ctl_process {
    bool ready;           /* the first step succeeded */
    bool leader_election; /* on: leading comes from the Lease */
    bool leading;
    bool dry_run;
    double start_time; /* unix seconds */
    bool have_cache;
    gf_kube_cache_stats cache;
    double cache_age_s; /* gf_kube_cache_age */
    uint64_t lease_errors;
    bool insecure_tls;               /* the kubeconfig skips TLS verification */
    bool scrape;                     /* usage from the exporters' /metrics */
    uint64_t scrape_untrusted_pods;  /* labelled pods not owned by the DaemonSet */
    uint64_t scrape_foreign_samples; /* samples of pods on another node, dropped */
} gf_ctl_process;

/* Appends the page to out. c may have no step yet. */
void gf_ctl_metrics_render(const gf_ctl *c, const gf_ctl_process *p, gf_sbuf *out);

#endif
