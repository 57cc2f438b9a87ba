/* controller_kube.h - the controller's Kubernetes backend (decide/controller.h's
 * gf_ctl_backend) on the API client of kube.h:
 *
 *   snapshot  the watch cache (pods, nodes, ReplicaSets, Deployments,
 *             StatefulSets, PodDisruptionBudgets) through the same loader as
 *             `gpufrac inspect`, and each workload's resourceVersion and
 *             gpufrac.io annotations (last-change, recommendation,
 *             stalled) from the cached objects; refused
 *             (the step holds, nothing is written) while the cache has heard
 *             nothing from the API server for max_cache_age_s;
 *   usage     a Prometheus server's query_range over the exporter's gauges
 *             (steps of the loop interval, aligned to it), or a scrape of
 *             every running exporter pod (label
 *             app.kubernetes.io/name=gpufrac-exporter, its pod IP and the
 *             scrape port), seen through the same watch. The label alone is
 *             not trusted (anyone who may create a pod can set it): a pod
 *             is scraped only when it is in the exporters' namespace and
 *             its controller is the exporters' DaemonSet, and of its
 *             samples only those of pods on its own node are kept; the
 *             others are dropped, counted and named in a warning;
 *   resize    one JSON merge patch of the Deployment or StatefulSet: the pod
 *             template's gpu-fraction / gpu-memory annotation, the
 *             gpufrac.io/last-change annotation, the recommendation removed,
 *             preconditioned on the resourceVersion the decision saw; on 409
 *             Conflict it re-reads and retries while the template still holds
 *             the old value and the last-change annotation is unchanged (a
 *             retry that finds its own change already applied is a success);
 *             a revert of a stalled rollout adds gpufrac.io/stalled to it;
 *             400/403/422 answers are result REJECTED (the controller backs
 *             off);
 *   annotate  a merge patch of gpufrac.io/recommendation;
 *   event     a core/v1 Event;
 *   evict     the Eviction subresource (PodDisruptionBudgets apply: a refusal
 *             is result REFUSED, tried again at a later step);
 *   cordon    spec.unschedulable and gpufrac.io/draining on the Node;
 *   may_write the elector (elector.h) when leader election is on.
 * API errors name the request and the object (kube.h); tokens never appear. */
#ifndef GF_CONTROLLER_KUBE_H
#define GF_CONTROLLER_KUBE_H

#include "decide/controller.h"
#include "io/kube/elector.h"
#include "io/kube/kube.h"

#include <stdbool.h>

/* The exporter pods a scrape discovers. */
#define GF_EXPORTER_LABEL_KEY "app.kubernetes.io/name"
#define GF_EXPORTER_LABEL_VALUE "gpufrac-exporter"
#define GF_EXPORTER_DAEMONSET "gpufrac-exporter"

typedef struct gf_ctl_kube gf_ctl_kube;

typedef struct gf_ctl_kube_opts {
    const char *prometheus_url; /* usage from this Prometheus server, or */
    bool scrape;                /* from the exporters' /metrics */
    int scrape_port;            /* 9402 */
    long scrape_timeout_ms;     /* per scrape of all exporters: 10000 */
    double step_s;              /* Prometheus query step: the loop interval */
    gf_elector *elector;        /* NULL: this process always writes */
    const char *exporter_ns;    /* the DaemonSet's namespace; NULL: the client's */
    const char *exporter_ds;    /* the DaemonSet's name; NULL: "gpufrac-exporter" */
    double watch_silence_s;     /* the cache's watchdog (kube.h); 0: GF_KUBE_WATCH_SILENCE_S */
    double max_cache_age_s;     /* no snapshot (so no step, no write) from a cache that has
                                   heard nothing for longer; 0: GF_CTL_KUBE_MAX_CACHE_AGE_S */
} gf_ctl_kube_opts;

/* Past the watchdog's restart, and a restart's list, with room to spare. */
#define GF_CTL_KUBE_MAX_CACHE_AGE_S 300.0

/* gf_kube_cache_age of the backend's cache. */
double gf_ctl_kube_cache_age(const gf_ctl_kube *kb);

/* What the scrape refused (see above), since the backend started. */
typedef struct gf_ctl_kube_scrape_stats {
    size_t untrusted_pods;  /* labelled pods not owned by the DaemonSet */
    size_t foreign_samples; /* samples of pods on another node, or unknown */
} gf_ctl_kube_scrape_stats;
void gf_ctl_kube_scrape_stats_get(const gf_ctl_kube *kb, gf_ctl_kube_scrape_stats *s);

/* k must outlive the backend. Creates the watch cache (not synced yet). */
gf_err gf_ctl_kube_new(gf_kube *k, const gf_ctl_kube_opts *o, gf_ctl_kube **out, gf_error *err);
void gf_ctl_kube_free(gf_ctl_kube *kb); /* accepts NULL */

/* The gf_ctl_backend functions with kb as their context. */
void gf_ctl_kube_backend(gf_ctl_kube *kb, gf_ctl_backend *b);

/* The first lists (gf_kube_cache_sync), and the cache's traffic afterwards
 * (gf_kube_cache_step: lists, watches, re-watches after a drop). */
gf_err gf_ctl_kube_sync(gf_ctl_kube *kb, int timeout_ms, gf_error *err);
gf_err gf_ctl_kube_pump(gf_ctl_kube *kb, int timeout_ms, gf_error *err);
bool gf_ctl_kube_synced(const gf_ctl_kube *kb);
void gf_ctl_kube_cache_stats(const gf_ctl_kube *kb, gf_kube_cache_stats *s);

#endif
