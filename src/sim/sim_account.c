/* sim_account.c - the simulator's accounting (see sim.h): each step, the
 * service pods' demand served on their GPUs and the harm (OOMs, throttled
 * and neighbour-slowed minutes, unavailable and pending minutes), the GPU
 * hours used, reserved and provisioned, peaks and the report's series and
 * heat map; and freeing a report. The step loop that moves the simulated
 * world (placement, rightsizing, consolidation) is sim.c. */
#include "sim/sim_private.h"

#include <math.h>
#include <string.h>

static double alloc_of(const run *r, uint32_t i)
{
    return r->state[i] == GF_SIM_POD_PENDING ? 0 : r->pl[i].share * r->pl[i].n_gpus;
}

/* What running pod i's engine makes of its need r->mem[i] (sim.h Engines):
 * the memory NVML shows (r->nvml), a preallocating engine's KV use and
 * shortage (counted), a caching allocator's high-water mark. True when the
 * process is OOM-killed. Recorded usage (a table) is NVML memory already. */
static bool engine_memory(run *r, uint32_t i, const spod *sp, double dt_min)
{
    const gf_sim_service *sv = &r->s->services.v[sp->service].pub;
    double need = r->mem[i], share = r->pl[i].share;
    gf_engine_memory kind =
        gf_sim_engines_apply(r->s, r->d) ? sv->engine.memory : GF_MEM_FOLLOWS_LOAD;
    if (kind == GF_MEM_HIGH_WATER) {
        if (need > share + EPS) return true;
        if (need > r->high_water[i]) r->high_water[i] = need;
        r->nvml[i] = r->high_water[i];
        return false;
    }
    if (kind != GF_MEM_PREALLOCATES) return need > share + EPS;
    /* the cap, taken at start and held; weights first, the rest KV blocks */
    double cap = fmin(sv->cap_ratio * share, 1.0);
    double weights = r->pt[sp->service].weights * r->pt[sp->service].scale;
    if (cap > share + EPS || weights >= cap) return true;
    r->nvml[i] = cap;
    /* the engine's own metrics (vLLM kv_cache_usage_perc, num_requests_waiting,
     * preemptions): KV in use of the pool; when the need passes it, requests
     * wait and running ones are preempted, both growing with the shortfall
     * (a model: 20 waiting and one preemption a second per pool's worth) */
    double pool = cap - weights, kv = (need - weights) / pool, excess = (need - cap) / pool;
    r->kv_use[i] = kv < 0 ? 0 : kv > 1 ? 1 : kv;
    bool short_now = need > cap + EPS;
    r->kv_wait[i] = short_now ? ceil(20 * excess) : 0;
    r->kv_preempt[i] = short_now ? fmax(0.01, excess) : 0;
    if (short_now) {
        r->res->kv_starved_min += dt_min;
        if (!r->starved[i]) r->res->preemptions++;
    }
    r->starved[i] = short_now;
    return false;
}

/* The service pods' demand this step, harm, samples. */
void gf_sim_serve(run *r)
{
    gf_sim *s = r->s;
    gf_model *w = r->w;
    double dt_min = s->o.step_s / 60.0;
    size_t ng = w->gpus.n;
    memset(r->gpu_start, 0, (ng + 2) * sizeof(uint32_t));
    memset(r->gpu_sm, 0, (ng + 1) * sizeof(double));
    memset(r->oom_now, 0, s->services.n * sizeof(bool));
    for (uint32_t si = 0; si < s->services.n; si++)
        gf_demand_service(r->d, si, r->step, &r->pt[si]);
    for (size_t k = 0; k < r->unsettled.n; k++) { /* the pods not running */
        uint32_t i = r->unsettled.v[k];
        if (!s->pods.v[i].gpu) continue;
        r->res->unavailable_min += dt_min;
        if (r->state[i] == GF_SIM_POD_PENDING || r->state[i] == GF_SIM_POD_WAITING)
            r->res->pending_min += dt_min;
    }
    for (uint32_t j = 0; j < s->n_svc_pods; j++) {
        uint32_t i = s->svc_pods[j];
        const spod *sp = &s->pods.v[i];
        r->oom[i] = false;
        gf_demand_pod(r->d, &r->pt[sp->service], sp->salt, &r->mem[i], &r->sm[i]);
        r->nvml[i] = r->mem[i];
        r->kv_use[i] = NAN;
        if (r->state[i] != GF_SIM_POD_RUNNING) { /* a new process when it runs again */
            r->high_water[i] = 0;
            r->starved[i] = false;
            continue;
        }
        if (engine_memory(r, i, sp, dt_min)) { /* KAI does not enforce: the process OOMs */
            r->oom[i] = true;
            r->oom_now[sp->service] = true;
            r->res->ooms++;
            continue;
        }
        for (uint32_t k = 0; k < r->pl[i].n_gpus; k++) {
            r->gpu_start[r->pl[i].gpus[k] + 2]++;
            r->gpu_sm[r->pl[i].gpus[k]] += r->sm[i];
        }
    }
    for (size_t g = 0; g < ng; g++)
        r->gpu_start[g + 2] += r->gpu_start[g + 1];
    for (uint32_t j = 0; j < s->n_svc_pods; j++) {
        uint32_t i = s->svc_pods[j];
        if (r->state[i] != GF_SIM_POD_RUNNING || r->oom[i]) continue;
        r->served[i] = r->sm[i];
        for (uint32_t k = 0; k < r->pl[i].n_gpus; k++)
            r->gpu_pods[r->gpu_start[r->pl[i].gpus[k] + 1]++] = i;
    }
    /* now gpu_start[g] .. gpu_start[g+1] lists GPU g's running service pods */
    for (size_t g = 0; g < ng; g++) {
        uint32_t b = r->gpu_start[g], e = r->gpu_start[g + 1];
        if (b == e) continue;
        double total = r->gpu_sm[g];
        uint32_t n = e - b;
        double alloc[64], dem[64], memd[64], srv[64];
        bool small = n <= 64;
        for (uint32_t k = 0; k < n && small; k++) {
            uint32_t i = r->gpu_pods[b + k];
            alloc[k] = r->pl[i].share;
            dem[k] = r->sm[i];
            memd[k] = r->mem[i];
            srv[k] = total > 1 ? dem[k] / total : dem[k];
        }
        if (small && s->o.fairuse) {
            gf_sim_gpu_share gs = {r->pol, r->t, (uint32_t)g, n,   r->gpu_pods + b,
                                   alloc,  dem,  memd,        srv, 0};
            s->o.fairuse(s->o.fairuse_ctx, &gs);
            r->res->fairuse_actions += gs.actions;
            double sum = 0;
            for (uint32_t k = 0; k < n; k++) {
                if (!(srv[k] >= 0)) srv[k] = 0;
                if (srv[k] > dem[k]) srv[k] = dem[k];
                sum += srv[k];
            }
            if (sum > 1)
                for (uint32_t k = 0; k < n; k++)
                    srv[k] /= sum;
        }
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = r->gpu_pods[b + k];
            double got = small ? srv[k] : (total > 1 ? r->sm[i] / total : r->sm[i]);
            if (got < r->served[i]) r->served[i] = got; /* the slowest of its devices */
        }
    }
    for (uint32_t j = 0; j < s->n_svc_pods; j++) {
        uint32_t i = s->svc_pods[j];
        const spod *sp = &s->pods.v[i];
        if (r->state[i] != GF_SIM_POD_RUNNING) continue;
        if (!r->oom[i] && r->served[i] < r->sm[i] - 1e-6) {
            if (r->sm[i] > r->pl[i].share + EPS)
                r->res->throttled_min += dt_min;
            else
                r->res->neighbour_min += dt_min;
        }
        double served = r->oom[i] ? 0 : r->served[i];
        r->res->gpu_hours_used +=
            fmax(r->oom[i] ? 0 : r->mem[i], served) * r->pl[i].n_gpus * s->o.step_s / 3600.0;
        if (r->series) { /* the exporter's samples: per pod, per device */
            gf_hist_series *hs = r->series[sp->service];
            double gpu_bytes = w->nodes.v[r->pl[i].node].gpu_memory_mib * MIB;
            for (uint32_t k = 0; k < r->pl[i].n_gpus; k++) {
                gf_history_add_to(&r->h, hs, GF_SIG_MEMORY, r->t, r->nvml[i] * gpu_bytes, NULL);
                gf_history_add_to(&r->h, hs, GF_SIG_SM, r->t, r->oom[i] ? r->sm[i] : served, NULL);
            }
            if (!r->oom[i] && !isnan(r->kv_use[i])) { /* the engine's metrics: one per pod */
                gf_history_add_to(&r->h, hs, GF_SIG_KV, r->t, r->kv_use[i], NULL);
                gf_history_add_to(&r->h, hs, GF_SIG_WAITING, r->t, r->kv_wait[i], NULL);
                gf_history_add_to(&r->h, hs, GF_SIG_PREEMPT, r->t, r->kv_preempt[i], NULL);
            }
        }
        if (r->oom[i]) { /* restarts in place */
            r->state[i] = GF_SIM_POD_STARTING;
            r->ready_t[i] = r->t + s->o.restart_s;
            gf_sim_unsettle(r, i);
        }
    }
}

/* The oracle: allocation = demand, no placement; GPUs and nodes as a fluid
 * bound per pool. */
void gf_sim_oracle_step(run *r, double *pool_need)
{
    gf_sim *s = r->s;
    size_t npool = r->w->pools.n;
    memset(pool_need, 0, (npool + 1) * sizeof(double));
    for (uint32_t si = 0; si < s->services.n; si++)
        gf_demand_service(r->d, si, r->step, &r->pt[si]);
    for (uint32_t i = 0; i < s->pods.n; i++) {
        const spod *sp = &s->pods.v[i];
        if (!sp->gpu || !sp->placeable) continue;
        if (sp->service == GF_NONE) {
            pool_need[sp->pool] += sp->whole;
            continue;
        }
        gf_demand_pod(r->d, &r->pt[sp->service], sp->salt, &r->mem[i], &r->sm[i]);
        double need = fmax(r->mem[i], r->sm[i]) * sp->devices;
        pool_need[sp->pool] += need;
        r->res->gpu_hours_reserved += need * s->o.step_s / 3600.0;
        r->res->gpu_hours_used += need * s->o.step_s / 3600.0;
    }
}

void gf_sim_accumulate(run *r, const double *pool_need)
{
    gf_sim *s = r->s;
    gf_sim_report *rep = r->rep;
    gf_sim_result *res = r->res;
    double dt_h = s->o.step_s / 3600.0;
    double gpus = 0, nodes = 0, alloc = 0, use = 0;
    if (r->pol == GF_SIM_ORACLE) {
        for (size_t p = 0; p < r->w->pools.n; p++) {
            double g = ceil(pool_need[p] - 1e-6);
            gpus += g;
            if (s->pool_max_gpus[p]) nodes += ceil(g / s->pool_max_gpus[p] - 1e-9);
        }
    } else {
        gpus = (double)r->gpus_on;
        nodes = (double)r->gpu_nodes_on;
    }
    uint32_t pt = r->step / rep->steps_per_point;
    for (uint32_t j = 0; j < s->n_svc_pods; j++) {
        uint32_t i = s->svc_pods[j];
        const spod *sp = &s->pods.v[i];
        double need = sp->placeable ? fmax(r->mem[i], r->sm[i]) * sp->devices : 0;
        double a = r->pol == GF_SIM_ORACLE ? need : alloc_of(r, i);
        use += need;
        alloc += a;
    }
    for (uint32_t k = 0; k < rep->n_top; k++) {
        const service *sv = &s->services.v[rep->top[k]];
        double a = 0, u = 0;
        for (uint32_t j = 0; j < sv->n; j++) {
            uint32_t i = s->svc_pods[sv->first + j];
            double need =
                s->pods.v[i].placeable ? fmax(r->mem[i], r->sm[i]) * s->pods.v[i].devices : 0;
            u += need;
            a += r->pol == GF_SIM_ORACLE ? need : alloc_of(r, i);
        }
        r->acc_top_alloc[(size_t)k * rep->n_points + pt] += a;
        r->acc_top_use[(size_t)k * rep->n_points + pt] += u;
    }
    if (r->pol != GF_SIM_ORACLE) res->gpu_hours_reserved += alloc * dt_h;
    res->gpu_hours_provisioned += gpus * dt_h;
    if (r->step >= r->warm_steps) { /* after the cluster as found was consolidated */
        if (gpus > res->gpus_peak) res->gpus_peak = gpus;
        if (nodes > res->nodes_peak) res->nodes_peak = nodes;
        res->gpus_mean += gpus;
        res->nodes_mean += nodes;
    }
    r->acc_alloc[pt] += alloc;
    r->acc_gpus[pt] += gpus;
    r->acc_use[pt] += use;
    r->acc_n[pt]++;
    if (r->heat) {
        uint32_t col = r->step / rep->steps_per_col;
        for (size_t g = 0; g < r->w->gpus.n; g++) {
            if (!r->on[r->w->gpus.v[g].node]) continue;
            r->heat_sum[g * rep->heat_cols + col] += 1.0 - r->ps->gpu_free[g];
            r->heat_on[g * rep->heat_cols + col]++;
        }
    }
}

void gf_sim_report_free(gf_sim_report *r)
{
    if (!r) return;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        free(r->policy[p].alloc);
        free(r->policy[p].gpus);
        free(r->policy[p].top_alloc);
    }
    free(r->use);
    free(r->top);
    for (uint32_t k = 0; r->top_name && k < r->n_top; k++)
        free(r->top_name[k]);
    free(r->top_name);
    free(r->top_use);
    for (uint32_t k = 0; r->heat_label && k < r->heat_rows; k++)
        free(r->heat_label[k]);
    free(r->heat_label);
    free(r->heat);
    memset(r, 0, sizeof *r);
}
