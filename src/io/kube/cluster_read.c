/* cluster_read.c - a live cluster as a snapshot, see cluster_read.h. */
#include "io/kube/cluster_read.h"

#include "io/snapshot.h"
#include "io/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What `gpufrac inspect` reads from a snapshot (snapshot.h), in that order. */
static const gf_kube_kind KINDS[] = {GF_KUBE_NODE,       GF_KUBE_POD,           GF_KUBE_REPLICASET,
                                     GF_KUBE_DEPLOYMENT, GF_KUBE_STATEFULSET,   GF_KUBE_DAEMONSET,
                                     GF_KUBE_JOB,        GF_KUBE_PDB,           GF_KUBE_QUEUE,
                                     GF_KUBE_PODGROUP,   GF_KUBE_PRIORITYCLASS, GF_KUBE_SHARD};

static bool required(gf_kube_kind kind)
{
    return kind == GF_KUBE_NODE || kind == GF_KUBE_POD;
}

/* The label selector is kubectl's -l: on the workloads' own objects. */
static bool selects_by_label(gf_kube_kind kind)
{
    return kind != GF_KUBE_NODE && kind != GF_KUBE_PDB && !gf_kube_resource_of(kind)->optional;
}

static gf_err list_into(gf_kube *k, gf_kube_kind kind, const char *ns, const char *selector,
                        json_t *items, size_t *count, gf_error *err)
{
    gf_kube_list_opts o = {ns, selector, NULL};
    json_t *got = NULL;
    char *rv = NULL;
    gf_err rc = gf_kube_list(k, kind, &o, &got, &rv, err);
    free(rv);
    if (rc) return rc;
    size_t i;
    json_t *obj;
    json_array_foreach(got, i, obj)
    {
        json_array_append(items, obj);
    }
    *count += json_array_size(got);
    json_decref(got);
    return GF_OK;
}

gf_err gf_cluster_read(gf_kube *k, const gf_cluster_select *sel, json_t **list,
                       gf_cluster_read_stats *stats, gf_diags *d, gf_error *err)
{
    *list = NULL;
    gf_cluster_read_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    static const gf_cluster_select all = {NULL, 0, NULL};
    if (!sel) sel = &all;
    json_t *items = json_array();
    gf_err rc = GF_OK;
    for (size_t i = 0; !rc && i < sizeof KINDS / sizeof KINDS[0]; i++) {
        gf_kube_kind kind = KINDS[i];
        const gf_kube_resource *res = gf_kube_resource_of(kind);
        const char *selector = selects_by_label(kind) ? sel->label_selector : NULL;
        size_t n_ns = res->namespaced && sel->n_namespaces ? sel->n_namespaces : 1;
        gf_error kind_err = {0};
        gf_err krc = GF_OK;
        for (size_t j = 0; !krc && j < n_ns; j++) {
            const char *ns = res->namespaced && sel->n_namespaces ? sel->namespaces[j] : NULL;
            krc = list_into(k, kind, ns, selector, items, &stats->objects[kind], &kind_err);
        }
        if (!krc) continue;
        if (required(kind) || (krc != GF_KUBE_EAUTH && krc != GF_ENOTFOUND)) {
            if (err) *err = kind_err;
            rc = krc;
            break;
        }
        char msg[1100];
        gf_error_format(&kind_err, msg, sizeof msg);
        gf_diag(d, NULL, "cannot list %s (%s); read on without them%s", res->plural, msg,
                kind == GF_KUBE_PDB ? ": consolidation sees no PodDisruptionBudget"
                : gf_kube_resource_of(kind)->optional
                    ? ": KAI's queues, PodGroups and shards are not respected"
                    : ": owners are found by the pods' names");
        stats->kinds_skipped++;
    }
    if (rc) {
        json_decref(items);
        return rc;
    }
    *list = json_pack("{s:s, s:s, s:{}, s:o}", "apiVersion", "v1", "kind", "List", "metadata",
                      "items", items);
    return GF_OK;
}

gf_err gf_cluster_load_model(gf_kube *k, const gf_cluster_select *sel, gf_model *m,
                             gf_cluster_read_stats *stats, gf_diags *d, gf_error *err)
{
    json_t *list = NULL;
    gf_err rc = gf_cluster_read(k, sel, &list, stats, d, err);
    if (rc) return rc;
    char *text = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    if (!text)
        return gf_error_set(err, GF_EINTERNAL, NULL, "cannot serialise the cluster's objects");
    char name[600];
    snprintf(name, sizeof name, "cluster %s", gf_kube_server(k));
    rc = gf_snapshot_load_buffer(m, name, text, strlen(text), d, err);
    free(text);
    if (!rc) rc = gf_model_finalize(m, d, err);
    return rc;
}

/* --- Prometheus in the cluster ------------------------------------------------------ */

static const char *const PROM_SELECTORS[] = {
    "app=kube-prometheus-stack-prometheus",
    "operated-prometheus=true",
    "app.kubernetes.io/name=prometheus,app.kubernetes.io/component=server",
};

/* The port of a Service's spec.ports to use: http-web or web, else the first. */
static int service_port(const json_t *svc)
{
    const json_t *ports = json_object_get(json_object_get(svc, "spec"), "ports");
    int first = 0;
    size_t i;
    const json_t *p;
    json_array_foreach(ports, i, p)
    {
        json_int_t port = json_integer_value(json_object_get(p, "port"));
        if (port <= 0 || port > 65535) continue;
        const char *name = json_string_value(json_object_get(p, "name"));
        if (name && (!strcmp(name, "http-web") || !strcmp(name, "web"))) return (int)port;
        if (!first) first = (int)port;
    }
    return first;
}

gf_err gf_cluster_find_prometheus(gf_kube *k, gf_prom_service *out, gf_error *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof PROM_SELECTORS / sizeof PROM_SELECTORS[0]; i++) {
        gf_sbuf path = GF_SBUF_INIT;
        gf_sbuf_puts(&path, "/api/v1/services?labelSelector=");
        gf_sbuf_append_urlencoded(&path, PROM_SELECTORS[i]);
        gf_kube_reply r = {0};
        gf_err rc = gf_kube_request(k, "GET", path.s, NULL, NULL, &r, err);
        gf_sbuf_free(&path);
        json_t *list = rc ? NULL : json_loadb(r.body.s ? r.body.s : "", r.body.len, 0, NULL);
        gf_kube_reply_free(&r);
        if (rc) return rc;
        const json_t *items = json_object_get(list, "items");
        size_t j;
        const json_t *svc;
        json_array_foreach(items, j, svc)
        {
            const json_t *meta = json_object_get(svc, "metadata");
            const char *ns = json_string_value(json_object_get(meta, "namespace"));
            const char *name = json_string_value(json_object_get(meta, "name"));
            int port = service_port(svc);
            if (!ns || !name || !port || strlen(ns) >= sizeof out->ns ||
                strlen(name) >= sizeof out->name)
                continue;
            snprintf(out->ns, sizeof out->ns, "%s", ns);
            snprintf(out->name, sizeof out->name, "%s", name);
            out->port = port;
            snprintf(out->found_by, sizeof out->found_by, "%s", PROM_SELECTORS[i]);
            snprintf(out->url, sizeof out->url, "http://%s.%s.svc:%d", name, ns, port);
            snprintf(out->proxy_path, sizeof out->proxy_path,
                     "/api/v1/namespaces/%s/services/%s:%d/proxy", ns, name, port);
            json_decref(list);
            return GF_OK;
        }
        json_decref(list);
    }
    return gf_error_set(err, GF_ENOTFOUND, gf_kube_server(k),
                        "no Prometheus Service found (looked for the labels %s; %s; %s): give "
                        "--prometheus URL",
                        PROM_SELECTORS[0], PROM_SELECTORS[1], PROM_SELECTORS[2]);
}

gf_err gf_cluster_prom_range(void *ctx, const char *query, double start, double end, double step_s,
                             gf_sbuf *out, gf_error *err)
{
    const gf_cluster_prom_proxy *x = ctx;
    gf_sbuf path = GF_SBUF_INIT;
    gf_sbuf_puts(&path, x->svc->proxy_path);
    gf_prom_range_path(&path, query, start, end, step_s);
    gf_kube_reply r = {0};
    gf_err rc = gf_kube_request(x->k, "GET", path.s, NULL, NULL, &r, err);
    gf_sbuf_free(&path);
    out->len = 0;
    if (!rc) gf_sbuf_append(out, r.body.s ? r.body.s : "", r.body.len);
    gf_kube_reply_free(&r);
    return rc;
}
