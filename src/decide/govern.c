/* govern.c - KAI's governance rules for moves, see govern.h. */
#include "decide/govern.h"
#include "decide/pack.h"
#include "decide/quota.h"
#include "util/xalloc.h"

#include <stdlib.h>

void gf_gov_usage_init(gf_gov_usage *u, const gf_model *m)
{
    size_t nq = m->queues.n;
    u->np_gpu = gf_xcalloc(nq + 1, sizeof(double));
    u->np_cpu = gf_xcalloc(nq + 1, sizeof(double));
    u->np_mem = gf_xcalloc(nq + 1, sizeof(double));
    u->over_quota = gf_xcalloc(nq + 1, sizeof(bool));
    u->running = gf_xcalloc(m->workloads.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (!gf_pod_active(p) || p->is_reservation) continue;
        if (p->phase == GF_PHASE_RUNNING && !p->terminating && p->workload != GF_NONE)
            u->running[p->workload]++;
        if (p->gov.preemptible || p->node == GF_NONE) continue;
        double gpu = gf_pod_gpus(m, p);
        uint32_t qi = p->gov.queue_idx; /* its queue, then each parent */
        for (size_t hops = 0; qi != GF_NONE && qi < nq && hops <= nq; hops++) {
            u->np_gpu[qi] += gpu;
            u->np_cpu[qi] += (double)p->cpu_milli;
            u->np_mem[qi] += (double)p->memory_bytes / 1e6; /* KAI's memory unit: megabytes */
            qi = m->queues.v[qi].parent_idx;
        }
    }
    for (size_t i = 0; i < nq; i++) {
        const gf_queue *q = &m->queues.v[i];
        if (q->has_status && q->alloc_np_gpu > u->np_gpu[i]) u->np_gpu[i] = q->alloc_np_gpu;
    }
    for (size_t i = 0; i < nq; i++) {
        /* GPUs: decide/quota.h's walk, nothing more asked (the evicted pod
         * gave back what its replacement asks) */
        gf_quota_check chk;
        u->over_quota[i] = gf_quota_walk(m, (uint32_t)i, 0, u->np_gpu, &chk);
        uint32_t qi = (uint32_t)i; /* CPU and memory, which KAI checks alike */
        for (size_t hops = 0; !u->over_quota[i] && qi < nq && hops <= nq; hops++) {
            const gf_queue *q = &m->queues.v[qi];
            u->over_quota[i] = (q->cpu.quota != -1 && u->np_cpu[qi] > q->cpu.quota + 1e-9) ||
                               (q->memory.quota != -1 && u->np_mem[qi] > q->memory.quota + 1e-9);
            qi = q->parent_idx;
        }
    }
}

void gf_gov_usage_free(gf_gov_usage *u)
{
    if (!u) return;
    free(u->np_gpu);
    free(u->np_cpu);
    free(u->np_mem);
    free(u->over_quota);
    free(u->running);
    u->np_gpu = u->np_cpu = u->np_mem = NULL;
    u->over_quota = NULL;
    u->running = NULL;
}

const char *gf_gov_refuses(const gf_model *m, const gf_gov_usage *u, gf_move_np mode, uint32_t pod,
                           bool has_pdb, uint32_t *cap)
{
    const gf_pod *p = &m->pods.v[pod];
    if (cap) *cap = 0;
    if (!p->gov.preemptible) {
        uint32_t n_run = p->workload != GF_NONE ? u->running[p->workload] : 0;
        if (mode == GF_MOVE_NP_NEVER) return GF_GOV_NP_NEVER;
        if (mode == GF_MOVE_NP_REPLICATED && !has_pdb && n_run < 2) return GF_GOV_NP_SINGLE;
        if (p->gov.queue_idx < m->queues.n && u->over_quota[p->gov.queue_idx])
            return GF_GOV_NP_QUOTA;
        if (mode == GF_MOVE_NP_REPLICATED && !has_pdb && cap) *cap = n_run - 1;
    }
    if (gf_pack_topology_level(m, p, NULL) == -2)
        return "a pod's PodGroup requires a topology domain whose Topology is not in the input";
    return NULL;
}
