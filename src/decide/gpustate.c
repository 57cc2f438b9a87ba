/* gpustate.c - the per-GPU state of shared GPUs, see gpustate.h. */
#include "decide/gpustate.h"

#include <math.h>
#include <string.h>

bool gf_fair_valid_share(double x)
{
    return isfinite(x) && x >= 0;
}

void gf_fair_state_init(gf_fair_state *st)
{
    memset(st, 0, sizeof *st);
}

void gf_fair_state_free(gf_fair_state *st)
{
    if (!st) return;
    gf_vec_free(&st->gpus);
    gf_vec_free(&st->pods);
}

gf_fair_pod gf_fair_pod_blank(const char *ns, const char *name, double fraction)
{
    gf_fair_pod p;
    memset(&p, 0, sizeof p);
    p.ns = ns;
    p.name = name;
    p.pod = GF_NONE;
    p.fraction = fraction;
    p.memory_bytes = p.sm_share = p.sm_share_mean = NAN;
    p.demand_sm = p.demand_memory_bytes = p.sm_entitlement = NAN;
    p.memory_over_since = p.sm_over_since = p.starved_since = NAN;
    return p;
}

uint32_t gf_fair_state_add_gpu(gf_fair_state *st, const gf_fair_gpu *g, const gf_fair_pod *pods,
                               uint32_t n_pods)
{
    gf_fair_gpu c = *g;
    c.first_pod = (uint32_t)st->pods.n;
    c.n_pods = n_pods;
    for (uint32_t i = 0; i < n_pods; i++)
        gf_vec_push(&st->pods, pods[i]);
    gf_vec_push(&st->gpus, c);
    return (uint32_t)(st->gpus.n - 1);
}

void gf_fair_state_from_model(const gf_model *m, gf_fair_state *st)
{
    for (size_t i = 0; i < m->gpus.n; i++) {
        const gf_gpu *g = &m->gpus.v[i];
        if (g->state != GF_GPU_SHARED) continue;
        const gf_node *n = &m->nodes.v[g->node];
        gf_fair_gpu fg;
        memset(&fg, 0, sizeof fg);
        fg.gpu = (uint32_t)i;
        fg.node = n->name;
        fg.index = g->index;
        /* the device's memory; unknown (0: no memory findings) on a node
         * without the nvidia.com/gpu.memory label, where KAI's 100 MiB says
         * nothing about the device */
        fg.memory_total_bytes =
            n->gpu_memory_from_label ? (double)n->gpu_memory_mib * GF_FAIR_MIB : 0;
        fg.memory_used_bytes = fg.sm_util = NAN;
        fg.first_pod = (uint32_t)st->pods.n;
        for (uint32_t k = 0; k < g->n_pods; k++) {
            uint32_t pi = m->gpu_pods.v[g->first_pod + k];
            const gf_pod *p = &m->pods.v[pi];
            if (!gf_pod_active(p) || p->is_reservation) continue;
            gf_fair_pod fp =
                gf_fair_pod_blank(p->ns, p->name, gf_pod_share_on(p, n->gpu_memory_mib));
            fp.pod = pi;
            /* who yields: KAI's priority and queue (the PodGroup's, else the
             * pod grouper's defaults: model.c resolve_governance), not only
             * spec.priority */
            fp.priority = p->gov.priority;
            fp.queue = p->gov.queue;
            gf_vec_push(&st->pods, fp);
            fg.n_pods++;
        }
        gf_vec_push(&st->gpus, fg);
    }
}

uint32_t gf_fair_state_add_demand_gpu(gf_fair_state *st, const gf_model *m, uint32_t gpu,
                                      uint32_t n, const uint32_t *pods, const double *alloc,
                                      const double *sm_demand, const double *mem_demand,
                                      const double *sm_served)
{
    gf_fair_gpu fg;
    memset(&fg, 0, sizeof fg);
    fg.gpu = gpu < m->gpus.n ? gpu : GF_NONE;
    fg.index = -1;
    fg.memory_used_bytes = fg.sm_util = NAN;
    if (fg.gpu != GF_NONE) {
        const gf_node *node = &m->nodes.v[m->gpus.v[gpu].node];
        fg.node = node->name;
        fg.index = m->gpus.v[gpu].index;
        fg.memory_total_bytes = (double)node->gpu_memory_mib * GF_FAIR_MIB;
    }
    double demand_sum = 0;
    for (uint32_t i = 0; i < n; i++)
        demand_sum += gf_fair_valid_share(sm_demand[i]) ? sm_demand[i] : 0;
    fg.first_pod = (uint32_t)st->pods.n;
    fg.n_pods = n;
    for (uint32_t i = 0; i < n; i++) {
        const gf_pod *p = pods[i] < m->pods.n ? &m->pods.v[pods[i]] : NULL;
        gf_fair_pod fp = gf_fair_pod_blank(p ? p->ns : NULL, p ? p->name : NULL, alloc[i]);
        fp.pod = p ? pods[i] : GF_NONE;
        if (p) { /* KAI's priority and queue, as above */
            fp.priority = p->gov.priority;
            fp.queue = p->gov.queue;
        }
        fp.demand_sm = sm_demand[i];
        fp.sm_share = sm_served          ? sm_served[i]
                      : demand_sum > 1.0 ? sm_demand[i] / demand_sum
                                         : sm_demand[i];
        fp.demand_memory_bytes = fp.memory_bytes = mem_demand[i] * fg.memory_total_bytes;
        gf_vec_push(&st->pods, fp);
    }
    gf_vec_push(&st->gpus, fg);
    return (uint32_t)(st->gpus.n - 1);
}

double gf_fair_need_memory(const gf_fair_pod *p, double memory_total_bytes)
{
    double used = p->memory_bytes, dem = p->demand_memory_bytes;
    if (isnan(used) && isnan(dem))
        return memory_total_bytes > 0 ? p->fraction * memory_total_bytes : 0;
    if (isnan(used)) return dem;
    if (isnan(dem)) return used;
    return fmax(used, dem);
}

double gf_fair_need_sm(const gf_fair_pod *p)
{
    double v = !isnan(p->demand_sm)       ? p->demand_sm
               : !isnan(p->sm_share_mean) ? p->sm_share_mean
               : !isnan(p->sm_share)      ? p->sm_share
                                          : p->fraction;
    return fmin(fmax(v, 0), 1.0); /* nobody uses more than the whole GPU's SMs */
}
