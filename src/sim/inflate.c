/* inflate.c - FGD-paper workload inflation, see inflate.h. */
#include "sim/inflate.h"
#include "util/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double request(const gf_pod *p)
{
    if (p->gpu_whole) return p->gpu_whole;
    if (p->share == GF_SHARE_FRACTION)
        return p->gpu_fraction * (p->gpu_devices ? p->gpu_devices : 1);
    return 0;
}

static void snapshot(const gf_pack_state *s, double total, double arrived, uint32_t n_arrived,
                     uint32_t placed, uint32_t failed, gf_inflate_point *pt)
{
    double free_sum = 0;
    for (size_t g = 0; g < s->m->gpus.n; g++)
        free_sum += s->gpu_free[g];
    pt->arrived_gpus = arrived;
    pt->allocated_gpus = total - free_sum;
    pt->unallocated_gpus = free_sum;
    pt->allocation_ratio = total > 0 ? pt->allocated_gpus / total : 0;
    pt->arrived = n_arrived;
    pt->placed = placed;
    pt->failed = failed;
}

gf_err gf_inflate(const gf_model *m, const gf_inflate_opts *o, gf_inflate_result *out,
                  gf_error *err)
{
    memset(out, 0, sizeof *out);
    GF_VEC(uint32_t) tasks = {0};
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->is_reservation || p->share == GF_SHARE_MEMORY) continue;
        gf_vec_push(&tasks, (uint32_t)i);
    }
    double gpu_tasks = 0;
    for (size_t i = 0; i < tasks.n; i++)
        gpu_tasks += request(&m->pods.v[tasks.v[i]]) > 0;
    if (m->gpus.n == 0 || gpu_tasks == 0) {
        gf_vec_free(&tasks);
        return gf_error_set(err, GF_EINPUT, NULL,
                            "inflation needs GPU nodes and GPU tasks (got %zu GPUs, %.0f tasks)",
                            m->gpus.n, gpu_tasks);
    }
    /* start from an empty cluster: the nodes' full capacity */
    gf_pack_state *s = gf_pack_state_new_empty(m);
    if (o->scorer == GF_SCORE_FGD) {
        gf_task_class *cls;
        size_t n = gf_pack_classes_from_pods(m, &cls);
        gf_pack_set_classes(s, cls, n);
        free(cls);
    }
    out->total_gpus = (double)m->gpus.n;
    gf_rng rng;
    gf_rng_seed(&rng, o->seed);
    double arrived = 0, placed_req = 0;
    uint32_t n_arrived = 0, placed = 0, failed = 0;
    bool reported = false;
    while (arrived < o->arrive_until * out->total_gpus) {
        const gf_pod *p = &m->pods.v[tasks.v[gf_rng_below(&rng, tasks.n)]];
        gf_placement pl;
        n_arrived++;
        arrived += request(p);
        if (gf_pack_place(s, p, o->scorer, NULL, &pl) == GF_OK) {
            gf_pack_apply(s, p, &pl);
            placed++;
            placed_req += request(p);
        } else {
            failed++;
        }
        if (!reported && arrived >= o->report_at * out->total_gpus) {
            snapshot(s, out->total_gpus, arrived, n_arrived, placed, failed, &out->at_report);
            reported = true;
        }
    }
    snapshot(s, out->total_gpus, arrived, n_arrived, placed, failed, &out->at_end);
    if (!reported) out->at_report = out->at_end;
    out->lower_bound_gpus = ceil(placed_req - 1e-9);
    gf_pack_state_free(s);
    gf_vec_free(&tasks);
    return GF_OK;
}
