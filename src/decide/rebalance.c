/* rebalance.c - moves that relieve over-committed GPUs, see rebalance.h for
 * the rules (actual-need check, least disruption, roll back). */
#include "decide/rebalance.h"
#include "util/sbuf.h"
#include "model/kai.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gf_rebalance_opts_default(gf_rebalance_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scorer = GF_SCORE_BINPACK;
}

void gf_rebalance_free(gf_rebalance *r)
{
    if (!r) return;
    gf_vec_free(&r->gpus);
    gf_vec_free(&r->moves);
    gf_vec_free(&r->alternatives);
}

/* --- the view ------------------------------------------------------------------ */

static uint32_t state_gpu_of_entry(const gf_fair_state *st, uint32_t e)
{
    /* GPUs list their pods in order, so a binary search over first_pod finds it */
    size_t lo = 0, hi = st->gpus.n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->gpus.v[mid].first_pod <= e)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

void gf_rebalance_view_free(gf_rebalance_view *v)
{
    if (!v) return;
    gf_pack_state_free(v->s);
    free(v->gpu_bytes);
    free(v->mem_need);
    free(v->sm_need);
    free(v->state_gpu_of);
    free(v->moved);
    free(v->pdb_left);
    free(v->moved_of_workload);
    gf_gov_usage_free(&v->gov);
    memset(v, 0, sizeof *v);
}

/* The state is usable when its GPUs' pod ranges are in order and in bounds. */
static bool state_ok(const gf_fair_state *st)
{
    uint32_t next = 0;
    for (size_t i = 0; i < st->gpus.n; i++) {
        const gf_fair_gpu *g = &st->gpus.v[i];
        if (g->first_pod != next || (size_t)g->first_pod + g->n_pods > st->pods.n) return false;
        next = g->first_pod + g->n_pods;
    }
    return next == st->pods.n;
}

gf_err gf_rebalance_view_init(gf_rebalance_view *v, const gf_model *m, const gf_pack_state *pack,
                              const gf_fair_state *st, gf_error *err)
{
    memset(v, 0, sizeof *v);
    if (!m || !m->finalized)
        return gf_error_set(err, GF_EINTERNAL, NULL, "rebalance: model is not finalized");
    if (pack && pack->m != m)
        return gf_error_set(err, GF_EINTERNAL, NULL,
                            "rebalance: the pack state belongs to another model");
    if (st && !state_ok(st))
        return gf_error_set(err, GF_EINTERNAL, NULL,
                            "rebalance: the state's GPUs do not list its pods in order");
    v->m = m;
    v->st = st;
    v->s = gf_pack_state_new(m);
    if (pack) {
        memcpy(v->s->free_cpu_milli, pack->free_cpu_milli, m->nodes.n * sizeof(int64_t));
        memcpy(v->s->free_memory_bytes, pack->free_memory_bytes, m->nodes.n * sizeof(int64_t));
        memcpy(v->s->gpu_free, pack->gpu_free, m->gpus.n * sizeof(double));
        memcpy(v->s->node_gpu_free, pack->node_gpu_free, m->nodes.n * sizeof(double));
        if (pack->n_classes) gf_pack_set_classes(v->s, pack->classes, pack->n_classes);
    }
    size_t ng = m->gpus.n;
    v->gpu_bytes = gf_xcalloc(ng + 1, sizeof(double));
    v->mem_need = gf_xcalloc(ng + 1, sizeof(double));
    v->sm_need = gf_xcalloc(ng + 1, sizeof(double));
    v->state_gpu_of = gf_xmalloc((ng + 1) * sizeof(uint32_t));
    for (size_t g = 0; g < ng; g++) {
        const gf_gpu *gpu = &m->gpus.v[g];
        v->gpu_bytes[g] = (double)m->nodes.v[gpu->node].gpu_memory_mib * GF_FAIR_MIB;
        v->mem_need[g] = v->sm_need[g] = gpu->allocated_fraction;
        v->state_gpu_of[g] = GF_NONE;
    }
    for (size_t i = 0; st && i < st->gpus.n; i++) {
        const gf_fair_gpu *sg = &st->gpus.v[i];
        if (sg->gpu >= ng) continue;
        v->state_gpu_of[sg->gpu] = (uint32_t)i;
        if (sg->memory_total_bytes > 0) v->gpu_bytes[sg->gpu] = sg->memory_total_bytes;
        double mem = 0, sm = 0, total = v->gpu_bytes[sg->gpu];
        for (uint32_t k = 0; k < sg->n_pods; k++) {
            const gf_fair_pod *p = &st->pods.v[sg->first_pod + k];
            mem += gf_fair_need_memory(p, total);
            sm += gf_fair_need_sm(p);
        }
        if (total > 0) v->mem_need[sg->gpu] = mem / total;
        v->sm_need[sg->gpu] = sm;
    }
    v->moved = gf_xcalloc(m->pods.n + 1, sizeof(bool));
    v->pdb_left = gf_xcalloc(m->pdbs.n + 1, sizeof(int32_t));
    for (size_t b = 0; b < m->pdbs.n; b++)
        v->pdb_left[b] = m->pdbs.v[b].disruptions_allowed;
    v->move_np = GF_MOVE_NP_ALWAYS; /* see rebalance.h */
    gf_gov_usage_init(&v->gov, m);
    v->moved_of_workload = gf_xcalloc(m->workloads.n + 1, sizeof(uint32_t));
    return GF_OK;
}

bool gf_rebalance_overcommitted(const gf_rebalance_view *v, uint32_t gpu)
{
    if (gpu >= v->m->gpus.n) return false;
    return v->mem_need[gpu] > 1.0 + GF_REBALANCE_EPS || v->sm_need[gpu] > 1.0 + GF_REBALANCE_EPS;
}

bool gf_rebalance_movable(const gf_rebalance_view *v, uint32_t pod, const char **why)
{
    const gf_model *m = v->m;
    if (pod >= m->pods.n) return *why = "it is not in the cluster model", false;
    const gf_pod *p = &m->pods.v[pod];
    if (!gf_pod_active(p) || p->is_reservation || p->node == GF_NONE)
        return *why = "it is not a running workload pod", false;
    if (v->moved[pod]) return *why = "it already changes in this plan", false;
    const char *opt = gf_kvs_get(&p->annotations, GF_ANN_CONSOLIDATE);
    if (opt && !strcmp(opt, "false"))
        return *why = "it opted out of moves (gpufrac.io/consolidate: \"false\")", false;
    const gf_workload *w = gf_model_pod_workload(m, p);
    if (!w) return *why = "it has no controller to recreate it", false;
    if (!strcmp(w->kind, "DaemonSet")) return *why = "a DaemonSet pod belongs on its node", false;
    if (!strcmp(w->kind, "Job") || !strcmp(w->kind, "CronJob"))
        return *why = "a Job's pod would lose its progress", false;
    if (strcmp(w->kind, "Deployment") && strcmp(w->kind, "ReplicaSet") &&
        strcmp(w->kind, "StatefulSet"))
        return *why = "its owner kind is not known to recreate it elsewhere", false;
    for (size_t b = 0; b < m->pdbs.n; b++)
        if (gf_pdb_selects(&m->pdbs.v[b], p) && v->pdb_left[b] <= 0)
            return *why = "a PodDisruptionBudget allows no more disruptions", false;
    return true;
}

bool gf_rebalance_evictable(const gf_rebalance_view *v, uint32_t pod, const char **why)
{
    const gf_model *m = v->m;
    const gf_pod *p = &m->pods.v[pod];
    if (p->gov.gang > 1 && p->gov.podgroup < m->podgroups.n) return *why = GF_GOV_GANG_ALONE, false;
    bool has_pdb = false;
    for (size_t b = 0; b < m->pdbs.n && !has_pdb; b++)
        has_pdb = gf_pdb_selects(&m->pdbs.v[b], p);
    uint32_t cap = 0;
    const char *no = gf_gov_refuses(m, &v->gov, v->move_np, pod, has_pdb, &cap);
    if (no) return *why = no, false;
    if (cap && v->moved_of_workload[p->workload] + 1 > cap) return *why = GF_GOV_NP_LAST, false;
    return true;
}

bool gf_rebalance_need_of(const gf_rebalance_view *v, uint32_t pod, gf_rebalance_need *out)
{
    const gf_model *m = v->m;
    memset(out, 0, sizeof *out);
    out->pod = pod;
    out->from.node = GF_NONE;
    if (pod >= m->pods.n) return false;
    uint32_t k = 0;
    for (size_t e = 0; v->st && e < v->st->pods.n && k < GF_PACK_MAX_DEVICES; e++) {
        const gf_fair_pod *p = &v->st->pods.v[e];
        if (p->pod != pod) continue;
        const gf_fair_gpu *sg = &v->st->gpus.v[state_gpu_of_entry(v->st, (uint32_t)e)];
        if (sg->gpu >= m->gpus.n) continue;
        out->from.gpus[k] = sg->gpu;
        out->from.node = m->gpus.v[sg->gpu].node;
        out->from.share = p->fraction;
        out->from_mem[k] = gf_fair_need_memory(p, v->gpu_bytes[sg->gpu]);
        out->from_sm[k] = gf_fair_need_sm(p);
        k++;
    }
    if (k == 0) { /* no usage: the allocation as need */
        const gf_pod *p = &m->pods.v[pod];
        if (p->node == GF_NONE || p->n_gpus == 0) return false;
        double share = p->share != GF_SHARE_NONE
                           ? gf_pod_share_on(p, m->nodes.v[p->node].gpu_memory_mib)
                           : 1.0;
        out->from.node = p->node;
        out->from.share = share;
        for (uint32_t i = 0; i < p->n_gpus && k < GF_PACK_MAX_DEVICES; i++, k++) {
            out->from.gpus[k] = p->gpus[i];
            out->from_mem[k] = share * v->gpu_bytes[p->gpus[i]];
            out->from_sm[k] = share;
        }
    }
    out->from.n_gpus = k;
    for (uint32_t i = 0; i < k; i++) {
        out->mem_bytes = fmax(out->mem_bytes, out->from_mem[i]);
        out->sm = fmax(out->sm, out->from_sm[i]);
    }
    return true;
}

/* --- target search -------------------------------------------------------------- */

typedef enum reject { R_OK, R_CURRENT, R_UNKNOWN_MEMORY, R_MEMORY, R_COMPUTE } reject;

/* Would nd on model GPU g keep g within 1.0? *level: what the need would reach. */
static reject check_gpu(const gf_rebalance_view *v, uint32_t g, const gf_rebalance_need *nd,
                        bool may_stay, double *level)
{
    for (uint32_t k = 0; k < nd->from.n_gpus && !may_stay; k++)
        if (nd->from.gpus[k] == g) return R_CURRENT;
    if (v->gpu_bytes[g] <= 0) return R_UNKNOWN_MEMORY;
    double mem = v->mem_need[g] + nd->mem_bytes / v->gpu_bytes[g];
    if (mem > 1.0 + GF_REBALANCE_EPS) {
        *level = mem;
        return R_MEMORY;
    }
    double sm = v->sm_need[g] + nd->sm;
    if (sm > 1.0 + GF_REBALANCE_EPS) {
        *level = sm;
        return R_COMPUTE;
    }
    return R_OK;
}

static int describe_reject(char *buf, size_t n, reject r, double level)
{
    switch (r) {
    case R_CURRENT:
        return gf_textf(buf, n, "the pod runs there now");
    case R_UNKNOWN_MEMORY:
        return gf_textf(buf, n, "its GPU memory is unknown");
    case R_MEMORY:
        return gf_textf(buf, n, "actual memory use would reach %.2f of the GPU", level);
    case R_COMPUTE:
        return gf_textf(buf, n, "actual compute use would reach %.2f of the GPU", level);
    case R_OK:
        break;
    }
    return gf_textf(buf, n, "it fits");
}

static const char *gpu_node_name(const gf_model *m, uint32_t g)
{
    return m->nodes.v[m->gpus.v[g].node].name;
}

/* Appends to buf[0..n) at *len (clamped). */
static void append(char *buf, size_t n, size_t *len, int k)
{
    if (k > 0) *len += (size_t)k;
    if (*len >= n) *len = n ? n - 1 : 0;
}

bool gf_rebalance_target(gf_rebalance_view *v, const gf_pod *spec, const gf_rebalance_need *nd,
                         bool may_stay, gf_scorer scorer, gf_placement *out, char *why, size_t n)
{
    const gf_model *m = v->m;
    gf_pack_state *s = v->s;
    char dummy[8];
    if (!why || !n) why = dummy, n = sizeof dummy;
    why[0] = '\0';
    gf_placement first;
    bool have_first = gf_pack_place(s, spec, scorer, NULL, &first) == GF_OK;
    /* hide the GPUs that fail the actual-need check from the packing engine */
    typedef struct saved {
        uint32_t gpu;
        double free;
    } saved;
    GF_VEC(saved) hidden = {0};
    GF_VEC(uint32_t) nodes = {0};
    GF_VEC(double) node_free = {0};
    for (size_t g = 0; g < m->gpus.n; g++) {
        double level = 0;
        if (s->gpu_free[g] <= 0 || check_gpu(v, (uint32_t)g, nd, may_stay, &level) == R_OK)
            continue;
        saved sv = {(uint32_t)g, s->gpu_free[g]};
        gf_vec_push(&hidden, sv);
        uint32_t node = m->gpus.v[g].node;
        if (!nodes.n || nodes.v[nodes.n - 1] != node) {
            gf_vec_push(&nodes, node);
            gf_vec_push(&node_free, s->node_gpu_free[node]);
        }
        s->gpu_free[g] = 0;
    }
    for (size_t i = 0; i < nodes.n; i++) {
        const gf_node *nd_ = &m->nodes.v[nodes.v[i]];
        double sum = 0;
        for (uint32_t g = 0; g < nd_->gpu_count; g++)
            sum += s->gpu_free[nd_->first_gpu + g];
        s->node_gpu_free[nodes.v[i]] = sum;
    }
    bool found = gf_pack_place(s, spec, scorer, NULL, out) == GF_OK;
    for (size_t i = 0; i < hidden.n; i++)
        s->gpu_free[hidden.v[i].gpu] = hidden.v[i].free;
    for (size_t i = 0; i < nodes.n; i++)
        s->node_gpu_free[nodes.v[i]] = node_free.v[i];
    gf_vec_free(&hidden);
    gf_vec_free(&nodes);
    gf_vec_free(&node_free);

    size_t len = 0;
    /* the engine's first choice, when it was hidden: the GPU that failed */
    char first_why[160] = "";
    uint32_t first_gpu = GF_NONE;
    if (have_first && first.n_gpus) {
        for (uint32_t k = 0; k < first.n_gpus && first_gpu == GF_NONE; k++) {
            double level = 0;
            reject r = check_gpu(v, first.gpus[k], nd, may_stay, &level);
            if (r != R_OK) {
                first_gpu = first.gpus[k];
                describe_reject(first_why, sizeof first_why, r, level);
            }
        }
    }
    if (found) {
        if (out->n_gpus) {
            uint32_t g = out->gpus[0];
            double mem_after =
                v->gpu_bytes[g] > 0 ? v->mem_need[g] + nd->mem_bytes / v->gpu_bytes[g] : 0;
            append(why, n, &len,
                   gf_textf(why, n,
                            "%s GPU %d (free allocation %.2f; actual use after the move: "
                            "memory %.2f, compute %.2f)",
                            gpu_node_name(m, g), (int)m->gpus.v[g].index, s->gpu_free[g], mem_after,
                            v->sm_need[g] + nd->sm));
        } else {
            append(why, n, &len, gf_textf(why, n, "%s", m->nodes.v[out->node].name));
        }
        if (first_gpu != GF_NONE)
            append(why, n, &len,
                   gf_textf(why + len, n - len,
                            "; the packing engine's first choice, %s GPU %d, "
                            "was rejected: %s",
                            gpu_node_name(m, first_gpu), (int)m->gpus.v[first_gpu].index,
                            first_why));
        return true;
    }
    if (first_gpu != GF_NONE)
        gf_textf(why, n,
                 "no GPU with room for its allocation stays within 1.0 of actual use (the "
                 "packing engine's choice, %s GPU %d: %s)",
                 gpu_node_name(m, first_gpu), (int)m->gpus.v[first_gpu].index, first_why);
    else
        gf_textf(why, n, "no GPU in its node pool has room for its allocation (%.2f)",
                 spec->share != GF_SHARE_NONE && spec->node != GF_NONE
                     ? gf_pod_share_on(spec, m->nodes.v[spec->node].gpu_memory_mib)
                     : (double)spec->gpu_whole);
    return false;
}

static void change_needs(gf_rebalance_view *v, const gf_rebalance_need *nd, const gf_placement *to,
                         double sign)
{
    for (uint32_t k = 0; k < nd->from.n_gpus; k++) {
        uint32_t g = nd->from.gpus[k];
        if (v->gpu_bytes[g] > 0) v->mem_need[g] -= sign * nd->from_mem[k] / v->gpu_bytes[g];
        v->sm_need[g] -= sign * nd->from_sm[k];
    }
    for (uint32_t k = 0; k < to->n_gpus; k++) {
        uint32_t g = to->gpus[k];
        if (v->gpu_bytes[g] > 0) v->mem_need[g] += sign * nd->mem_bytes / v->gpu_bytes[g];
        v->sm_need[g] += sign * nd->sm;
    }
}

static void change_pdbs(gf_rebalance_view *v, uint32_t pod, int32_t delta)
{
    const gf_pod *p = &v->m->pods.v[pod];
    for (size_t b = 0; b < v->m->pdbs.n; b++)
        if (gf_pdb_selects(&v->m->pdbs.v[b], p)) v->pdb_left[b] += delta;
}

void gf_rebalance_commit(gf_rebalance_view *v, const gf_pod *old_spec, const gf_pod *spec,
                         const gf_rebalance_need *nd, const gf_placement *to)
{
    gf_pack_apply(v->s, spec, to);
    if (nd->from.n_gpus && nd->from.node != GF_NONE) gf_pack_remove(v->s, old_spec, &nd->from);
    change_needs(v, nd, to, 1.0);
    if (nd->pod < v->m->pods.n) {
        v->moved[nd->pod] = true;
        change_pdbs(v, nd->pod, -1);
        uint32_t w = v->m->pods.v[nd->pod].workload;
        if (w != GF_NONE) v->moved_of_workload[w]++;
    }
}

void gf_rebalance_uncommit(gf_rebalance_view *v, const gf_pod *old_spec, const gf_pod *spec,
                           const gf_rebalance_need *nd, const gf_placement *to)
{
    if (nd->from.n_gpus && nd->from.node != GF_NONE) gf_pack_apply(v->s, old_spec, &nd->from);
    gf_pack_remove(v->s, spec, to);
    change_needs(v, nd, to, -1.0);
    if (nd->pod < v->m->pods.n) {
        v->moved[nd->pod] = false;
        change_pdbs(v, nd->pod, 1);
        uint32_t w = v->m->pods.v[nd->pod].workload;
        if (w != GF_NONE) v->moved_of_workload[w]--;
    }
}

/* --- relieving one GPU ------------------------------------------------------------ */

typedef enum cand_status { C_NOT_MOVABLE, C_NO_TARGET, C_OK, C_MOVED } cand_status;

typedef struct cand {
    uint32_t pod;
    cand_status status;
    gf_rebalance_need need;
    gf_placement to;
    double mem_here, sm_here; /* its need on the GPU being relieved, as shares of it */
    bool relieves;            /* moving it alone brings the GPU within 1.0 */
    char why[400];            /* not movable / no target / the target */
} cand;

/* Is a less disruptive than b? Lower priority, then smaller allocation,
 * then lower pod index. */
static bool less_disruptive(const gf_model *m, const cand *a, const cand *b)
{
    int32_t pa = m->pods.v[a->pod].priority, pb = m->pods.v[b->pod].priority;
    if (pa != pb) return pa < pb;
    if (fabs(a->need.from.share - b->need.from.share) > 1e-12)
        return a->need.from.share < b->need.from.share;
    return a->pod < b->pod;
}

static void evaluate(gf_rebalance_view *v, uint32_t g, gf_scorer scorer, cand *c)
{
    const char *why = NULL;
    if (!gf_rebalance_movable(v, c->pod, &why) || !gf_rebalance_evictable(v, c->pod, &why)) {
        c->status = C_NOT_MOVABLE;
        gf_textf(c->why, sizeof c->why, "not movable: %s", why);
        return;
    }
    if (!gf_rebalance_need_of(v, c->pod, &c->need)) {
        c->status = C_NOT_MOVABLE;
        gf_textf(c->why, sizeof c->why, "not movable: it holds no GPU");
        return;
    }
    c->mem_here = c->sm_here = 0;
    for (uint32_t k = 0; k < c->need.from.n_gpus; k++)
        if (c->need.from.gpus[k] == g) {
            c->mem_here = v->gpu_bytes[g] > 0 ? c->need.from_mem[k] / v->gpu_bytes[g] : 0;
            c->sm_here = c->need.from_sm[k];
        }
    c->relieves = v->mem_need[g] - c->mem_here <= 1.0 + GF_REBALANCE_EPS &&
                  v->sm_need[g] - c->sm_here <= 1.0 + GF_REBALANCE_EPS;
    char where[400];
    if (!gf_rebalance_target(v, &v->m->pods.v[c->pod], &c->need, false, scorer, &c->to, where,
                             sizeof where)) {
        c->status = C_NO_TARGET;
        gf_textf(c->why, sizeof c->why, "nowhere to go: %s", where);
        return;
    }
    c->status = C_OK;
    gf_textf(c->why, sizeof c->why, "%s", where);
}

static void pod_name(const gf_model *m, uint32_t pod, char *buf, size_t n)
{
    gf_textf(buf, n, "%s/%s", m->pods.v[pod].ns, m->pods.v[pod].name);
}

/* Why c was not moved, given the first move chosen (or NULL). */
static void alt_reason(const gf_rebalance_view *v, const cand *c, const cand *chosen, bool relieved,
                       char *buf, size_t n)
{
    const gf_model *m = v->m;
    if (c->status != C_OK) {
        gf_textf(buf, n, "%s", c->why);
        return;
    }
    if (!relieved) {
        gf_textf(buf, n, "could go to %s, but the GPU could not be relieved", c->why);
        return;
    }
    if (!chosen) {
        gf_textf(buf, n, "not needed: the moves chosen relieve the GPU");
        return;
    }
    char other[300];
    pod_name(m, chosen->pod, other, sizeof other);
    if (!c->relieves && chosen->relieves) {
        gf_textf(buf, n,
                 "moving it alone would not bring the GPU within 1.0 (it needs memory %.2f, "
                 "compute %.2f of it)",
                 c->mem_here, c->sm_here);
        return;
    }
    int32_t pc = m->pods.v[c->pod].priority, po = m->pods.v[chosen->pod].priority;
    if (pc != po)
        gf_textf(buf, n, "priority %d is above %s's %d (the lower priority yields)", (int)pc, other,
                 (int)po);
    else if (fabs(c->need.from.share - chosen->need.from.share) > 1e-12)
        gf_textf(buf, n, "its allocation %.2f is larger than %s's %.2f (more to restart)",
                 c->need.from.share, other, chosen->need.from.share);
    else
        gf_textf(buf, n, "as disruptive as moving %s, which comes first", other);
}

bool gf_rebalance_relieve(gf_rebalance_view *v, uint32_t g, gf_scorer scorer, uint32_t max_moves,
                          gf_rebalance *out)
{
    const gf_model *m = v->m;
    gf_rebalance_gpu verdict;
    memset(&verdict, 0, sizeof verdict);
    verdict.gpu = g;
    verdict.first_move = (uint32_t)out->moves.n;
    verdict.first_alt = (uint32_t)out->alternatives.n;
    if (g >= m->gpus.n) {
        gf_textf(verdict.why, sizeof verdict.why, "not a GPU of the cluster model");
        gf_vec_push(&out->gpus, verdict);
        return false;
    }
    verdict.mem_before = v->mem_need[g];
    verdict.sm_before = v->sm_need[g];
    if (!gf_rebalance_overcommitted(v, g)) {
        verdict.relieved = true;
        verdict.mem_after = verdict.mem_before;
        verdict.sm_after = verdict.sm_before;
        gf_textf(verdict.why, sizeof verdict.why, "not over-committed");
        gf_vec_push(&out->gpus, verdict);
        return true;
    }
    /* the pods on g: the state's, else the model's */
    GF_VEC(cand) cs = {0};
    uint32_t sg = v->state_gpu_of[g];
    if (sg != GF_NONE) {
        const gf_fair_gpu *fg = &v->st->gpus.v[sg];
        for (uint32_t k = 0; k < fg->n_pods; k++) {
            uint32_t pod = v->st->pods.v[fg->first_pod + k].pod;
            bool dup = pod >= m->pods.n;
            for (size_t i = 0; i < cs.n && !dup; i++)
                dup = cs.v[i].pod == pod;
            if (dup) continue;
            cand c;
            memset(&c, 0, sizeof c);
            c.pod = pod;
            gf_vec_push(&cs, c);
        }
    } else {
        const gf_gpu *mg = &m->gpus.v[g];
        for (uint32_t k = 0; k < mg->n_pods; k++) {
            cand c;
            memset(&c, 0, sizeof c);
            c.pod = m->gpu_pods.v[mg->first_pod + k];
            gf_vec_push(&cs, c);
        }
    }
    GF_VEC(uint32_t) chosen = {0}; /* indices into cs, in move order */
    while (gf_rebalance_overcommitted(v, g) && (!max_moves || chosen.n < max_moves)) {
        for (size_t i = 0; i < cs.n; i++)
            if (cs.v[i].status != C_MOVED) evaluate(v, g, scorer, &cs.v[i]);
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < cs.n; i++) /* one move that relieves, least disruptive */
            if (cs.v[i].status == C_OK && cs.v[i].relieves &&
                (best == SIZE_MAX || less_disruptive(m, &cs.v[i], &cs.v[best])))
                best = i;
        if (best == SIZE_MAX) { /* else the biggest user of the resource most over */
            bool memory = v->mem_need[g] - 1.0 >= v->sm_need[g] - 1.0;
            for (size_t i = 0; i < cs.n; i++) {
                if (cs.v[i].status != C_OK) continue;
                double a = memory ? cs.v[i].mem_here : cs.v[i].sm_here;
                double b = best == SIZE_MAX ? -1
                           : memory         ? cs.v[best].mem_here
                                            : cs.v[best].sm_here;
                if (best == SIZE_MAX || a > b + 1e-12 ||
                    (fabs(a - b) <= 1e-12 && less_disruptive(m, &cs.v[i], &cs.v[best])))
                    best = i;
            }
        }
        if (best == SIZE_MAX) break;
        cand *c = &cs.v[best];
        const gf_pod *spec = &m->pods.v[c->pod];
        gf_rebalance_commit(v, spec, spec, &c->need, &c->to);
        c->status = C_MOVED;
        gf_vec_push(&chosen, (uint32_t)best);
    }
    bool relieved = !gf_rebalance_overcommitted(v, g);
    if (!relieved) { /* roll back: moving pods without relieving only disrupts */
        for (size_t i = chosen.n; i-- > 0;) {
            cand *c = &cs.v[chosen.v[i]];
            const gf_pod *spec = &m->pods.v[c->pod];
            gf_rebalance_uncommit(v, spec, spec, &c->need, &c->to);
            c->status = C_OK;
        }
        bool any_ok = false;
        for (size_t i = 0; i < cs.n; i++)
            any_ok |= cs.v[i].status == C_OK;
        if (!cs.n)
            gf_textf(verdict.why, sizeof verdict.why, "no pod on it is known to the model");
        else if (!any_ok)
            gf_textf(verdict.why, sizeof verdict.why,
                     "cannot be relieved: no pod on it can move (see the alternatives)");
        else if (max_moves && chosen.n >= max_moves)
            gf_textf(verdict.why, sizeof verdict.why,
                     "cannot be relieved within the move limit (%u)", max_moves);
        else
            gf_textf(verdict.why, sizeof verdict.why,
                     "cannot be relieved: the pods that can move do not free enough");
    } else {
        for (size_t i = 0; i < chosen.n; i++) {
            const cand *c = &cs.v[chosen.v[i]];
            gf_rebalance_move mv;
            memset(&mv, 0, sizeof mv);
            mv.pod = c->pod;
            mv.from_gpu = g;
            mv.to = c->to;
            mv.mem_need = c->need.mem_bytes;
            mv.sm_need = c->need.sm;
            gf_textf(mv.why, sizeof mv.why, "%s", c->why);
            gf_vec_push(&out->moves, mv);
        }
        char first[300];
        pod_name(m, cs.v[chosen.v[0]].pod, first, sizeof first);
        if (chosen.n == 1)
            gf_textf(verdict.why, sizeof verdict.why,
                     "one move relieves it: %s, the least disruptive pod whose move alone "
                     "suffices (lowest priority, then smallest allocation)",
                     first);
        else
            gf_textf(verdict.why, sizeof verdict.why,
                     "no single move relieves it: %zu moves, the largest users of the "
                     "over-committed resource first (%s first)",
                     chosen.n, first);
    }
    const cand *first_chosen = relieved && chosen.n ? &cs.v[chosen.v[0]] : NULL;
    for (size_t i = 0; i < cs.n; i++) {
        if (cs.v[i].status == C_MOVED) continue;
        gf_rebalance_alt a;
        memset(&a, 0, sizeof a);
        a.gpu = g;
        a.pod = cs.v[i].pod;
        alt_reason(v, &cs.v[i], chosen.n == 1 ? first_chosen : NULL, relieved, a.why, sizeof a.why);
        gf_vec_push(&out->alternatives, a);
    }
    verdict.relieved = relieved;
    verdict.mem_after = v->mem_need[g];
    verdict.sm_after = v->sm_need[g];
    verdict.n_moves = (uint32_t)(out->moves.n - verdict.first_move);
    verdict.n_alt = (uint32_t)(out->alternatives.n - verdict.first_alt);
    gf_vec_push(&out->gpus, verdict);
    gf_vec_free(&cs);
    gf_vec_free(&chosen);
    return relieved;
}

/* --- the plan ----------------------------------------------------------------------- */

typedef struct excess {
    double over;
    uint32_t gpu;
} excess;

static int cmp_excess(const void *a, const void *b)
{
    const excess *x = a, *y = b;
    if (x->over != y->over) return x->over > y->over ? -1 : 1;
    return (x->gpu > y->gpu) - (x->gpu < y->gpu);
}

gf_err gf_rebalance_plan(const gf_model *m, const gf_pack_state *pack, const gf_fair_state *st,
                         const gf_rebalance_opts *o, gf_rebalance *out, gf_error *err)
{
    memset(out, 0, sizeof *out);
    gf_rebalance_opts def;
    gf_rebalance_opts_default(&def);
    if (!o) o = &def;
    gf_rebalance_view v;
    gf_err rc = gf_rebalance_view_init(&v, m, pack, st, err);
    if (rc) {
        gf_rebalance_view_free(&v);
        return rc;
    }
    GF_VEC(excess) over = {0};
    for (size_t g = 0; g < m->gpus.n; g++)
        if (gf_rebalance_overcommitted(&v, (uint32_t)g)) {
            excess e = {fmax(v.mem_need[g], v.sm_need[g]) - 1.0, (uint32_t)g};
            gf_vec_push(&over, e);
        }
    if (over.n) qsort(over.v, over.n, sizeof *over.v, cmp_excess);
    for (size_t i = 0; i < over.n; i++) {
        uint32_t left = 0;
        if (o->max_moves) {
            if (out->moves.n >= o->max_moves) {
                gf_rebalance_gpu verdict;
                memset(&verdict, 0, sizeof verdict);
                verdict.gpu = over.v[i].gpu;
                verdict.mem_before = verdict.mem_after = v.mem_need[verdict.gpu];
                verdict.sm_before = verdict.sm_after = v.sm_need[verdict.gpu];
                verdict.first_move = (uint32_t)out->moves.n;
                verdict.first_alt = (uint32_t)out->alternatives.n;
                gf_textf(verdict.why, sizeof verdict.why,
                         "not tried: the plan already has the maximum number of moves (%u)",
                         o->max_moves);
                gf_vec_push(&out->gpus, verdict);
                continue;
            }
            left = o->max_moves - (uint32_t)out->moves.n;
        }
        gf_rebalance_relieve(&v, over.v[i].gpu, o->scorer, left, out);
    }
    gf_vec_free(&over);
    gf_rebalance_view_free(&v);
    return GF_OK;
}
