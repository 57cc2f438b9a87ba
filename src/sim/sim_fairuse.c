/* sim_fairuse.c - fair-use protection in the simulator, see sim_fairuse.h. */
#include "sim/sim_fairuse.h"
#include "decide/fairuse.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* one simulated policy's protection */
typedef struct per_policy {
    gf_fair_tracker *tr; /* per GPU, initialised when first observed */
    bool *tr_on;
    bool *enforced;         /* per GPU: fair shares enforced */
    GF_VEC(double) actions; /* times of the actions taken, ascending */
} per_policy;

struct gf_sim_fairuse {
    gf_fair_policy fp;
    const gf_model *m;
    size_t n_gpus;
    per_policy pol[GF_SIM_NPOLICIES];
    gf_fair_state st; /* reused per call */
    gf_fair_report rep;
};

gf_sim_fairuse *gf_sim_fairuse_new(const gf_fair_policy *fp, const gf_model *m)
{
    gf_sim_fairuse *f = gf_xcalloc(1, sizeof *f);
    f->fp = *fp;
    f->m = m;
    f->n_gpus = m->gpus.n;
    gf_fair_state_init(&f->st);
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        f->pol[p].tr = gf_xcalloc(f->n_gpus + 1, sizeof(gf_fair_tracker));
        f->pol[p].tr_on = gf_xcalloc(f->n_gpus + 1, sizeof(bool));
        f->pol[p].enforced = gf_xcalloc(f->n_gpus + 1, sizeof(bool));
    }
    return f;
}

void gf_sim_fairuse_reset(gf_sim_fairuse *f)
{
    if (!f) return;
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        per_policy *pp = &f->pol[p];
        for (size_t g = 0; g < f->n_gpus; g++)
            if (pp->tr_on[g]) gf_fair_tracker_free(&pp->tr[g]);
        memset(pp->tr_on, 0, f->n_gpus * sizeof(bool));
        memset(pp->enforced, 0, f->n_gpus * sizeof(bool));
        pp->actions.n = 0;
    }
}

void gf_sim_fairuse_free(gf_sim_fairuse *f)
{
    if (!f) return;
    gf_sim_fairuse_reset(f);
    for (int p = 0; p < GF_SIM_NPOLICIES; p++) {
        free(f->pol[p].tr);
        free(f->pol[p].tr_on);
        free(f->pol[p].enforced);
        gf_vec_free(&f->pol[p].actions);
    }
    gf_fair_state_free(&f->st);
    gf_fair_report_free(&f->rep);
    free(f);
}

/* Actions in (now - 1 h, now]. */
static uint32_t actions_last_hour(const per_policy *pp, double now)
{
    uint32_t n = 0;
    for (size_t i = pp->actions.n; i > 0 && pp->actions.v[i - 1] > now - 3600; i--)
        n++;
    return n;
}

void gf_sim_fairuse_hook(void *ctx, gf_sim_gpu_share *g)
{
    gf_sim_fairuse *f = ctx;
    g->actions = 0;
    if (g->n < 2 || g->gpu >= f->n_gpus || (unsigned)g->policy >= GF_SIM_NPOLICIES) return;
    per_policy *pp = &f->pol[g->policy];
    if (pp->enforced[g->gpu]) {
        gf_fair_serve(&f->fp, g->n, g->alloc, g->sm_demand, g->sm_served);
        return;
    }
    double demand = 0;
    for (uint32_t k = 0; k < g->n; k++)
        demand += g->sm_demand[k];
    /* not contended: time-slicing starves nobody. Skipping the observation
     * makes the tracker start its conditions again, as they stopped holding. */
    if (demand <= 1.0 + 1e-9) return;
    if (!pp->tr_on[g->gpu]) {
        gf_fair_tracker_init(&pp->tr[g->gpu]);
        pp->tr_on[g->gpu] = true;
    }
    f->st.gpus.n = 0;
    f->st.pods.n = 0;
    gf_fair_state_add_demand_gpu(&f->st, f->m, g->gpu, g->n, g->pod, g->alloc, g->sm_demand,
                                 g->mem_demand, g->sm_served);
    gf_fair_env env;
    memset(&env, 0, sizeof env); /* no model: the engine proposes reports, we enforce */
    if (gf_fair_step(&f->fp, &f->st, &env, g->t, &pp->tr[g->gpu], &f->rep, NULL) != GF_OK) return;
    bool hog = false;
    for (size_t i = 0; i < f->rep.findings.n; i++)
        if (f->rep.findings.v[i].kind == GF_FAIR_COMPUTE_HOG) hog = true;
    if (!hog || f->fp.mode != GF_FAIR_MODE_ACT) return;
    if (f->fp.max_actions_per_hour <= 0 ||
        actions_last_hour(pp, g->t) >= (uint32_t)f->fp.max_actions_per_hour)
        return; /* the finding still holds next step: tried again */
    pp->enforced[g->gpu] = true;
    gf_vec_push(&pp->actions, g->t);
    g->actions = 1;
    gf_fair_serve(&f->fp, g->n, g->alloc, g->sm_demand, g->sm_served);
}
