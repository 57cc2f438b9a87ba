/* sim_account.c - the simulator's accounting (see sim.h): each step, the
 * service pods' demand served on their GPUs and the harm (OOMs, throttled
 * and neighbour-slowed minutes, unavailable and pending minutes), the GPU
 * hours used, reserved and provisioned, peaks and the report's series and
 * heat map; and freeing a report. The step loop that moves the simulated
 * world (placement, rightsizing, consolidation) is sim.c. */
#include "sim/sim_private.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What pod i holds; a rollout's old pod beside it included (its surge). */
static double alloc_of(const run *r, uint32_t i)
{
    double a = r->state[i] == GF_SIM_POD_PENDING ? 0 : r->pl[i].share * r->pl[i].n_gpus;
    if (r->has_old && r->has_old[i]) a += r->old_pl[i].share * r->old_pl[i].n_gpus;
    return a;
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
    memset(r->gpu_use, 0, (ng + 1) * sizeof(double));
    bool counted = r->step >= r->count_from; /* the per-workload figures */
    for (uint32_t si = 0; si < s->services.n; si++)
        gf_demand_service(r->d, si, r->step, &r->pt[si]);
    for (size_t k = 0; k < r->unsettled.n; k++) { /* the pods not running */
        uint32_t i = r->unsettled.v[k];
        if (!s->pods.v[i].gpu || r->state[i] == GF_SIM_POD_RUNNING)
            continue; /* an old pod serves */
        r->res->unavailable_min += dt_min;
        if (r->state[i] == GF_SIM_POD_PENDING || r->state[i] == GF_SIM_POD_WAITING) {
            r->res->pending_min += dt_min;
            if (counted && s->pods.v[i].service != GF_NONE)
                r->res->svc[s->pods.v[i].service].pending_min += dt_min;
        }
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
            if (counted) r->res->svc[sp->service].ooms++;
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
            if (r->sm[i] > r->pl[i].share + EPS) {
                r->res->throttled_min += dt_min;
                if (counted) r->res->svc[sp->service].throttled_min += dt_min;
            } else
                r->res->neighbour_min += dt_min;
        }
        double served = r->oom[i] ? 0 : r->served[i];
        double used = fmax(r->oom[i] ? 0 : r->mem[i], served); /* per device */
        r->res->gpu_hours_used += used * r->pl[i].n_gpus * s->o.step_s / 3600.0;
        for (uint32_t k = 0; k < r->pl[i].n_gpus; k++)
            r->gpu_use[r->pl[i].gpus[k]] += used;
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
        if (r->step >= r->count_from) r->res->svc[sp->service].gpu_hours_reserved += a * dt_h;
        double peak = fmax(r->mem[i], r->sm[i]);
        if (r->pol != GF_SIM_ORACLE && peak > rep->svc[sp->service].peak_need)
            rep->svc[sp->service].peak_need = peak;
        if (r->pol != GF_SIM_ORACLE && r->mem[i] > rep->svc[sp->service].peak_memory)
            rep->svc[sp->service].peak_memory = r->mem[i];
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
            r->heat_use_sum[g * rep->heat_cols + col] += r->gpu_use[g];
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
        free(r->policy[p].harm_ooms);
        free(r->policy[p].harm_throttled);
        free(r->policy[p].harm_pending);
        free(r->policy[p].harm_resizes);
        free(r->policy[p].harm_moves);
        free(r->policy[p].svc);
    }
    for (uint32_t k = 0; r->svc && k < r->services; k++)
        free(r->svc[k].name);
    free(r->svc);
    free(r->heat_use);
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

/* --- the report's charts and per-workload table ----------------------------------------- */

enum { HARM_OOMS, HARM_THROTTLED, HARM_PENDING, HARM_RESIZES, HARM_MOVES, HARM_KINDS };
_Static_assert(HARM_KINDS == GF_SIM_HARM_KINDS, "sim_private.h's count");

static void harm_now(const gf_sim_result *x, double *v)
{
    v[HARM_OOMS] = (double)x->ooms;
    v[HARM_THROTTLED] = x->throttled_min;
    v[HARM_PENDING] = x->pending_min;
    v[HARM_RESIZES] = (double)x->resizes;
    v[HARM_MOVES] = (double)x->moves;
}

void gf_sim_charts_begin(run *r)
{
    gf_sim *s = r->s;
    size_t ng = r->w->gpus.n;
    r->count_from = r->hold_steps && r->hold_steps < s->n_steps ? r->hold_steps : 0;
    r->gpu_use = gf_xcalloc(ng + 1, sizeof(double));
    r->acc_harm = gf_xcalloc((size_t)HARM_KINDS * r->rep->n_points + 1, sizeof(double));
    if (r->heat) r->heat_use_sum = gf_xcalloc(ng * r->rep->heat_cols + 1, sizeof(double));
    r->res->svc = gf_xcalloc(s->services.n + 1, sizeof(gf_sim_svc_result));
    harm_now(r->res, r->harm_prev);
}

/* The harm of this step: what the counters grew by since the last. */
void gf_sim_charts_step_end(run *r)
{
    double now[HARM_KINDS];
    harm_now(r->res, now);
    uint32_t pt = r->step / r->rep->steps_per_point, npt = r->rep->n_points;
    for (int k = 0; k < HARM_KINDS; k++) {
        if (r->step >= r->count_from) r->acc_harm[(size_t)k * npt + pt] += now[k] - r->harm_prev[k];
        r->harm_prev[k] = now[k];
    }
}

void gf_sim_charts_resized(run *r, uint32_t si)
{
    if (r->step >= r->count_from) r->res->svc[si].resizes++;
}

typedef struct on_key {
    uint64_t steps;
    uint32_t gpu;
} on_key;

static int cmp_on(const void *a, const void *b)
{
    const on_key *x = a, *y = b;
    if (x->steps != y->steps) return x->steps > y->steps ? -1 : 1;
    return (x->gpu > y->gpu) - (x->gpu < y->gpu);
}

bool *gf_sim_charts_heat_pick(run *r, uint32_t max_rows, uint32_t *rows)
{
    size_t ng = r->w->gpus.n;
    uint32_t cols = r->rep->heat_cols, ever = 0;
    on_key *k = gf_xcalloc(ng + 1, sizeof *k);
    for (size_t g = 0; g < ng; g++) {
        uint64_t on = 0;
        for (uint32_t c = 0; c < cols; c++)
            on += r->heat_on[g * cols + c];
        if (on) k[ever++] = (on_key){on, (uint32_t)g};
    }
    r->rep->heat_gpus = ever;
    if (ever > max_rows) qsort(k, ever, sizeof *k, cmp_on);
    *rows = ever < max_rows ? ever : max_rows;
    bool *shown = gf_xcalloc(ng + 1, sizeof(bool));
    for (uint32_t i = 0; i < *rows; i++)
        shown[k[i].gpu] = true;
    free(k);
    return shown;
}

void gf_sim_charts_heat_row(run *r, size_t g, uint32_t row)
{
    gf_sim_report *rep = r->rep;
    uint32_t cols = rep->heat_cols;
    if (!rep->heat_use) rep->heat_use = gf_xcalloc((size_t)rep->heat_rows * cols + 1, 1);
    for (uint32_t c = 0; c < cols; c++) {
        size_t cell = (size_t)row * cols + c;
        uint32_t on = r->heat_on[g * cols + c];
        double v = on ? 100.0 * r->heat_use_sum[g * cols + c] / on : 0;
        rep->heat_use[cell] = rep->heat[cell] == 255 ? 255 : (uint8_t)(v > 200 ? 200 : v + 0.5);
    }
}

void gf_sim_charts_end(run *r)
{
    gf_sim *s = r->s;
    gf_sim_result *res = r->res;
    uint32_t npt = r->rep->n_points;
    float **out[HARM_KINDS] = {&res->harm_ooms, &res->harm_throttled, &res->harm_pending,
                               &res->harm_resizes, &res->harm_moves};
    for (int k = 0; k < HARM_KINDS; k++) {
        *out[k] = gf_xcalloc(npt + 1, sizeof(float));
        for (uint32_t p = 0; p < npt; p++)
            (*out[k])[p] = (float)r->acc_harm[(size_t)k * npt + p];
    }
    for (size_t si = 0; si < s->services.n; si++) {
        gf_sim_svc_result *x = &res->svc[si];
        x->unit = r->unit[si];
        x->memory_mib = r->unit[si] == GF_SHARE_MEMORY ? r->mib[si] : 0;
        int64_t gpu_mib = s->services.v[si].pub.gpu_memory_mib;
        x->fraction = r->unit[si] == GF_SHARE_MEMORY
                          ? (gpu_mib > 0 ? (double)r->mib[si] / (double)gpu_mib : 0)
                          : r->fraction[si];
        x->whole = r->whole[si];
    }
}

void gf_sim_charts_free(run *r)
{
    free(r->gpu_use);
    free(r->heat_use_sum);
    free(r->acc_harm);
}

/* --- the per-workload table ------------------------------------------------------------- */

const char *gf_sim_risk_name(gf_sim_risk r)
{
    return r == GF_SIM_RISK_HIGH ? "high" : r == GF_SIM_RISK_MEDIUM ? "medium" : "low";
}

gf_sim_policy gf_sim_workload_policy(const gf_sim_report *r)
{
    if (r->policy[GF_SIM_GPUFRAC].ran && r->policy[GF_SIM_GPUFRAC].svc) return GF_SIM_GPUFRAC;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++)
        if (p != GF_SIM_ORACLE && r->policy[p].ran && r->policy[p].svc) return (gf_sim_policy)p;
    return GF_SIM_NPOLICIES;
}

void gf_sim_workload_row_get(const gf_sim_report *r, uint32_t si, gf_sim_workload_row *out)
{
    memset(out, 0, sizeof *out);
    out->service = si;
    out->policy = gf_sim_workload_policy(r);
    out->info = &r->svc[si];
    if (out->policy == GF_SIM_NPOLICIES) return;
    const gf_sim_svc_result *x = &r->policy[out->policy].svc[si];
    out->final = x;
    out->final_share = x->whole ? 1.0 : x->fraction;
    out->headroom = out->final_share - out->info->peak_need;
    out->risk = x->ooms || out->final_share < out->info->peak_memory - EPS ? GF_SIM_RISK_HIGH
                : x->throttled_min > 0 || out->headroom < 0.05             ? GF_SIM_RISK_MEDIUM
                                                                           : GF_SIM_RISK_LOW;
    const gf_sim_result *st = &r->policy[GF_SIM_STATIC];
    out->has_static = st->ran && st->svc;
    if (out->has_static) {
        out->static_gpu_hours = st->svc[si].gpu_hours_reserved;
        out->saved_gpu_hours = out->static_gpu_hours - x->gpu_hours_reserved;
    }
}

typedef struct saving_key {
    double saved;
    uint32_t si;
} saving_key;

static int cmp_saving(const void *a, const void *b)
{
    const saving_key *x = a, *y = b;
    if (x->saved != y->saved) return x->saved > y->saved ? -1 : 1;
    return (x->si > y->si) - (x->si < y->si);
}

void gf_sim_workloads_by_saving(const gf_sim_report *r, uint32_t **order)
{
    saving_key *k = gf_xcalloc(r->services + 1, sizeof *k);
    for (uint32_t i = 0; i < r->services; i++) {
        gf_sim_workload_row w;
        gf_sim_workload_row_get(r, i, &w);
        k[i] = (saving_key){w.saved_gpu_hours, i};
    }
    qsort(k, r->services, sizeof *k, cmp_saving);
    *order = gf_xcalloc(r->services + 1, sizeof(uint32_t));
    for (uint32_t i = 0; i < r->services; i++)
        (*order)[i] = k[i].si;
    free(k);
}
