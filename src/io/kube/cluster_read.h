/* cluster_read.h - one read of a live cluster for the analysis commands
 * (`gpufrac inspect`, `recommend`, `consolidate`, `explain`, `simulate
 * --cluster` without a SNAPSHOT): the objects `kubectl get nodes,pods,rs,
 * deploy,sts,ds,jobs,pdb -A -o json` would print, listed through the
 * Kubernetes client (kube.h: paginated, retried) and loaded through the same
 * loader as a snapshot file (snapshot.h), so that a file and the cluster give
 * the same model.
 *
 * Selection (kubectl's -n and -l): Nodes are always read whole (a GPU's
 * other tenants live in other namespaces, but its size and the node's pool
 * do not); namespaced kinds are read from the namespaces given (each listed
 * on its own, which works with namespace-scoped RBAC), else from all; the
 * label selector applies to Pods and their controllers (ReplicaSets,
 * Deployments, StatefulSets, DaemonSets, Jobs), not to PodDisruptionBudgets.
 * Read with a selection, a GPU shows only the selected pods: its other
 * tenants' allocations are not counted (the caller says so).
 *
 * Nodes and Pods must be readable; another kind that cannot be listed (403
 * Forbidden, 404: not served) is a warning ("owners are then found by name")
 * and the read goes on. */
#ifndef GF_CLUSTER_READ_H
#define GF_CLUSTER_READ_H

#include "model/err.h"
#include "model/model.h"
#include "io/kube/kube.h"

#include <jansson.h>
#include <stddef.h>

typedef struct gf_cluster_select {
    const char *const *namespaces; /* n_namespaces names; none: every namespace */
    size_t n_namespaces;
    const char *label_selector; /* "app=llm,tier!=batch", or NULL */
} gf_cluster_select;

typedef struct gf_cluster_read_stats {
    size_t objects[GF_KUBE_KIND_COUNT]; /* per kind read */
    size_t kinds_skipped;               /* kinds that could not be listed (warned) */
} gf_cluster_read_stats;

/* The objects as one `List` document (*list: new reference, the caller
 * json_decref's it). sel NULL: everything. stats may be NULL. */
gf_err gf_cluster_read(gf_kube *k, const gf_cluster_select *sel, json_t **list,
                       gf_cluster_read_stats *stats, gf_diags *d, gf_error *err);

/* gf_cluster_read(), then the snapshot loader and gf_model_finalize(); m is
 * initialized by the caller. Messages name "cluster SERVER". */
gf_err gf_cluster_load_model(gf_kube *k, const gf_cluster_select *sel, gf_model *m,
                             gf_cluster_read_stats *stats, gf_diags *d, gf_error *err);

/* --- Prometheus in the cluster ---------------------------------------------------
 * Without --prometheus, the commands look for the Service that the usual
 * installations create, by label, in this order (the first found wins):
 *   app=kube-prometheus-stack-prometheus   kube-prometheus-stack's Prometheus
 *   operated-prometheus=true               the Prometheus Operator's
 *                                          "prometheus-operated" (any CR)
 *   app.kubernetes.io/name=prometheus,app.kubernetes.io/component=server
 *                                          the prometheus-community chart
 * Its port is the one named http-web or web, else the first. From inside the
 * cluster it is reached as http://NAME.NS.svc:PORT; from outside through the
 * API server's service proxy (/api/v1/namespaces/NS/services/NAME:PORT/
 * proxy/..., RBAC services/proxy get), with the kubeconfig's credentials. */

typedef struct gf_prom_service {
    char ns[254], name[254];
    int port;
    char found_by[80];    /* the label selector that found it */
    char url[600];        /* http://NAME.NS.svc:PORT */
    char proxy_path[600]; /* /api/v1/namespaces/NS/services/NAME:PORT/proxy */
} gf_prom_service;

/* GF_ENOTFOUND when none of them is there (err says what was tried); other
 * errors as gf_kube_request's (403: the caller may not list Services). */
gf_err gf_cluster_find_prometheus(gf_kube *k, gf_prom_service *out, gf_error *err);

/* Context of gf_cluster_prom_range: k and the service found. */
typedef struct gf_cluster_prom_proxy {
    gf_kube *k;
    const gf_prom_service *svc;
} gf_cluster_prom_proxy;

/* A gf_prom_range_fn (usage.h) through the API server's service proxy;
 * ctx is a gf_cluster_prom_proxy. */
gf_err gf_cluster_prom_range(void *ctx, const char *query, double start, double end, double step_s,
                             gf_sbuf *out, gf_error *err);

#endif
