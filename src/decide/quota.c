/* quota.c - KAI's queue quota for non-preemptible upsizes (see quota.h). */
#include "decide/quota.h"

#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Rounding slack: quotas and fractions are decimals (0.1 + 0.2 > 0.3). */
#define QUOTA_EPS 1e-9

int32_t gf_quota_surge_pods(const gf_workload *w, uint32_t replicas)
{
    if (!w || strcmp(w->kind, "Deployment") || w->recreate || replicas == 0) return 0;
    double s;
    if (w->max_surge < 0) /* apps/v1 DeploymentStrategy: maxSurge defaults to 25%, rounded up */
        s = ceil(0.25 * replicas - QUOTA_EPS);
    else if (w->max_surge_percent)
        s = ceil(w->max_surge / 100.0 * replicas - QUOTA_EPS);
    else
        s = w->max_surge;
    if (s > replicas) s = replicas;
    return (int32_t)s;
}

double gf_quota_delta(const gf_workload *w, uint32_t replicas, double old_pod_gpus,
                      double new_pod_gpus, int32_t *surge_pods)
{
    int32_t surge = gf_quota_surge_pods(w, replicas);
    if (surge_pods) *surge_pods = surge;
    return replicas * (new_pod_gpus - old_pod_gpus) + surge * (old_pod_gpus > 0 ? old_pod_gpus : 0);
}

static bool walk(const gf_model *m, uint32_t q, double delta, const double *alloc_np,
                 const bool *from_status, gf_quota_check *out)
{
    out->blocked = false;
    out->queue = GF_NONE;
    /* quota_check.go walks queue -> parent -> ... while the queue exists */
    for (size_t steps = 0; q < m->queues.n && steps <= m->queues.n; steps++) {
        const gf_queue *queue = &m->queues.v[q];
        if (queue->gpu.quota != -1) {
            bool st = false;
            double alloc = alloc_np ? alloc_np[q] : gf_queue_allocated_gpu(m, q, true, &st);
            if (alloc_np && from_status) st = from_status[q];
            if (queue->gpu.quota + QUOTA_EPS < alloc + delta) {
                out->blocked = true;
                out->queue = q;
                out->quota_gpus = queue->gpu.quota;
                out->allocated_gpus = alloc;
                out->allocated_from_status = st;
                out->delta_gpus = delta;
                return true;
            }
        }
        q = queue->parent_idx;
    }
    return false;
}

bool gf_quota_walk(const gf_model *m, uint32_t q, double delta, const double *alloc_np,
                   gf_quota_check *out)
{
    return walk(m, q, delta, alloc_np, NULL, out);
}

void gf_quota_ledger_init(gf_quota_ledger *l, const gf_model *m)
{
    l->n = m->queues.n;
    l->alloc = gf_xcalloc(l->n + 1, sizeof *l->alloc);
    l->from_status = gf_xcalloc(l->n + 1, sizeof *l->from_status);
    for (size_t q = 0; q < l->n; q++)
        l->alloc[q] = gf_queue_allocated_gpu(m, (uint32_t)q, true, &l->from_status[q]);
}

void gf_quota_ledger_free(gf_quota_ledger *l)
{
    if (!l) return;
    free(l->alloc);
    free(l->from_status);
    memset(l, 0, sizeof *l);
}

/* The first active pod of workload wi (its governance: one PodGroup each
 * for a Deployment, all resolved alike) and the replica count the rollout
 * works on; NULL when it has none. */
static const gf_pod *workload_pod(const gf_model *m, uint32_t wi, uint32_t *replicas)
{
    const gf_pod *first = NULL;
    uint32_t active = 0;
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->workload != wi || !gf_pod_active(p) || p->is_reservation) continue;
        if (!first) first = p;
        active++;
    }
    const gf_workload *w = &m->workloads.v[wi];
    *replicas = w->replicas >= 0 ? (uint32_t)w->replicas : active;
    return first;
}

static bool upsize(const gf_model *m, gf_quota_ledger *l, uint32_t wi, double old_pod_gpus,
                   double new_pod_gpus, bool charge, gf_quota_check *out)
{
    memset(out, 0, sizeof *out);
    out->queue = GF_NONE;
    if (wi >= m->workloads.n || !(new_pod_gpus > old_pod_gpus)) return false;
    uint32_t replicas = 0;
    const gf_pod *first = workload_pod(m, wi, &replicas);
    if (!first || first->gov.preemptible || first->gov.queue_idx == GF_NONE) return false;
    const gf_workload *w = &m->workloads.v[wi];
    out->replicas = replicas;
    out->delta_gpus = gf_quota_delta(w, replicas, old_pod_gpus, new_pod_gpus, &out->surge_pods);
    uint32_t q = first->gov.queue_idx;
    if (!l) return walk(m, q, out->delta_gpus, NULL, NULL, out);
    if (walk(m, q, out->delta_gpus, l->alloc, l->from_status, out)) return true;
    if (!charge) return false;
    /* charge it up the chain (the walk's bound: a parent loop is cut) */
    for (size_t steps = 0; q < l->n && steps <= l->n; steps++) {
        l->alloc[q] += out->delta_gpus;
        q = m->queues.v[q].parent_idx;
    }
    return false;
}

bool gf_quota_downsize_one_way(const gf_model *m, uint32_t wi, double old_pod_gpus,
                               double new_pod_gpus, gf_quota_check *out)
{
    memset(out, 0, sizeof *out);
    out->queue = GF_NONE;
    if (wi >= m->workloads.n || !(new_pod_gpus < old_pod_gpus) || !(new_pod_gpus >= 0))
        return false;
    uint32_t replicas = 0;
    const gf_pod *first = workload_pod(m, wi, &replicas);
    if (!first || first->gov.preemptible || first->gov.queue_idx == GF_NONE) return false;
    out->replicas = replicas;
    double back = gf_quota_way_back(&m->workloads.v[wi], replicas, new_pod_gpus, &out->surge_pods);
    return walk(m, first->gov.queue_idx, back, NULL, NULL, out);
}

double gf_quota_way_back(const gf_workload *w, uint32_t replicas, double new_pod_gpus,
                         int32_t *surge_pods)
{
    /* the way back adds R x (old - new) + S x new to what the downsize
     * leaves (R x (old - new) less than now): S x new over now */
    int32_t surge = gf_quota_surge_pods(w, replicas);
    if (surge_pods) *surge_pods = surge;
    return surge * new_pod_gpus;
}

void gf_quota_one_way_text(const gf_model *m, const gf_quota_check *q, char *buf, size_t n)
{
    if (!q->blocked || q->queue >= m->queues.n) {
        snprintf(buf, n, "within queue quota");
        return;
    }
    snprintf(buf, n,
             "downsize held: a one-way door: queue %s quota %.2f GPUs, allocated %.2f "
             "non-preemptible (%s)%s: KAI would admit no upsize back (its new pods would stay "
             "Pending)",
             m->queues.v[q->queue].name, q->quota_gpus, q->allocated_gpus,
             q->allocated_from_status ? "Queue status" : "from the pods",
             q->surge_pods > 0 ? ", the way back's surge included" : "");
}

bool gf_quota_upsize(const gf_model *m, uint32_t wi, double old_pod_gpus, double new_pod_gpus,
                     gf_quota_check *out)
{
    return upsize(m, NULL, wi, old_pod_gpus, new_pod_gpus, false, out);
}

bool gf_quota_upsize_ledger(const gf_model *m, gf_quota_ledger *l, uint32_t wi, double old_pod_gpus,
                            double new_pod_gpus, bool charge, gf_quota_check *out)
{
    return upsize(m, l, wi, old_pod_gpus, new_pod_gpus, charge, out);
}

void gf_quota_text(const gf_model *m, const gf_quota_check *q, char *buf, size_t n)
{
    if (!q->blocked || q->queue >= m->queues.n) {
        snprintf(buf, n, "within queue quota");
        return;
    }
    char surge[120] = "";
    if (q->surge_pods > 0)
        snprintf(surge, sizeof surge, " with the rollout's surge (%d new pod%s before old ones go)",
                 (int)q->surge_pods, q->surge_pods == 1 ? "" : "s");
    snprintf(buf, n,
             "blocked by queue quota: queue %s quota %.2f GPUs, allocated %.2f non-preemptible "
             "(%s), +%.2f%s would pass it (KAI leaves a non-preemptible pod over quota Pending)",
             m->queues.v[q->queue].name, q->quota_gpus, q->allocated_gpus,
             q->allocated_from_status ? "Queue status" : "summed from the pods", q->delta_gpus,
             surge);
}
