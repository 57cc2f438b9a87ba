/* consolidate_exact.c - the bound printed with the plan (the most nodes or
 * GPUs any plan could drain per pool) and the exact branch and bound over
 * the candidate sets (`--exact`) that the bound prunes. */
#include "decide/consolidate_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- bound ------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Most of the candidates that can leave while spare (capacity - need) stays
 * >= 0: the smallest first. Sorts caps. */
static uint32_t most_that_leave(int64_t *caps, size_t n, int64_t spare)
{
    if (n) qsort(caps, n, sizeof *caps, cmp_i64);
    uint32_t k = 0;
    for (size_t i = 0; i < n && caps[i] <= spare; i++) {
        spare -= caps[i];
        k++;
    }
    return k;
}

/* Per pool: every pod that stays in the pool (pinned or moved) needs its
 * GPU, CPU and memory on the nodes that stay; whole GPUs and shares above
 * one half each need a GPU of their own. */
void gf_cons_pool_bound(ctx *c, uint32_t pool, gf_pool_bound *b)
{
    const gf_model *m = c->m;
    int64_t gpu_cap = 0, cpu_cap = 0, mem_cap = 0, cpu_need = 0, mem_need = 0;
    double share_sum = 0;
    int64_t own_gpus = 0; /* whole GPUs and shares > 1/2 */
    int64_t max_mem = 0;
    for (uint32_t i = 0; i < c->pool_len[pool]; i++) {
        const gf_node *n = &m->nodes.v[c->pool_nodes[pool][i]];
        if (n->gpu_memory_mib > max_mem) max_mem = n->gpu_memory_mib;
    }
    GF_VEC(int64_t) gpus = {0};
    GF_VEC(int64_t) cpus = {0};
    GF_VEC(int64_t) mems = {0};
    for (uint32_t i = 0; i < c->pool_len[pool]; i++) {
        uint32_t node = c->pool_nodes[pool][i];
        const gf_node *n = &m->nodes.v[node];
        gpu_cap += n->gpu_count;
        cpu_cap += n->cpu_milli;
        mem_cap += n->memory_bytes;
        if (c->is_cand[node]) {
            gf_vec_push(&gpus, (int64_t)n->gpu_count);
            gf_vec_push(&cpus, n->cpu_milli);
            gf_vec_push(&mems, n->memory_bytes);
        }
        for (uint32_t k = c->node_pod_start[node]; k < c->node_pod_start[node + 1]; k++) {
            const gf_pod *p = &m->pods.v[c->node_pods[k]];
            if (c->role[c->node_pods[k]] == ROLE_IGNORE) continue;
            cpu_need += p->cpu_milli;
            mem_need += p->memory_bytes;
            if (p->gpu_whole) {
                own_gpus += p->gpu_whole;
                share_sum += p->gpu_whole;
            } else if (p->share != GF_SHARE_NONE) {
                /* the smallest share it can take in this pool: on its largest GPUs */
                double s = gf_pod_share_on(p, max_mem);
                if (p->share == GF_SHARE_FRACTION) s = p->gpu_fraction;
                uint32_t dev = p->gpu_devices ? p->gpu_devices : 1;
                share_sum += s * dev;
                if (s > 0.5 + GF_PACK_EPS) own_gpus += dev;
            }
        }
    }
    int64_t gpu_need = (int64_t)ceil(share_sum - 1e-6);
    if (own_gpus > gpu_need) gpu_need = own_gpus;
    b->candidates = (uint32_t)gpus.n;
    uint32_t k = (uint32_t)gpus.n;
    uint32_t kg = most_that_leave(gpus.v, gpus.n, gpu_cap - gpu_need);
    uint32_t kc = most_that_leave(cpus.v, cpus.n, cpu_cap - cpu_need);
    uint32_t km = most_that_leave(mems.v, mems.n, mem_cap - mem_need);
    if (kg < k) k = kg;
    if (kc < k) k = kc;
    if (km < k) k = km;
    if (c->o->max_nodes && c->o->max_nodes < k) k = c->o->max_nodes;
    b->bound = k;
    /* GPUs: at most the spare GPUs, and at most the k largest candidates' */
    int64_t g = 0;
    for (size_t i = gpus.n; i-- > 0 && gpus.n - i <= k;)
        g += gpus.v[i];
    if (gpu_cap - gpu_need < g) g = gpu_cap - gpu_need;
    b->gpus_bound = g > 0 ? (uint32_t)g : 0;
    gf_vec_free(&gpus);
    gf_vec_free(&cpus);
    gf_vec_free(&mems);
}

typedef struct exact {
    ctx *c;
    uint32_t pool;
    gf_pack_state *s; /* own capacity: the snapshot's, minus what a check moves */
    const uint32_t *nodes;
    size_t n_nodes;
    bool *out;                    /* per node: in the set being checked */
    GF_VEC(uint32_t) pods;        /* to place, largest first */
    GF_VEC(uint8_t) same_as_prev; /* pods[i] asks exactly what pods[i - 1] asks */
    GF_VEC(gf_placement) assign;  /* per pods[i] */
    uint32_t *wl_used, *pdb_used; /* per workload / PDB: moves in the set */
    uint64_t steps, max_steps;
    bool aborted;
} exact;

static void exact_restore(exact *x)
{
    const gf_model *m = x->c->m;
    const gf_pack_state *s0 = x->c->s0;
    for (size_t i = 0; i < x->n_nodes; i++) {
        uint32_t node = x->nodes[i];
        const gf_node *n = &m->nodes.v[node];
        x->s->free_cpu_milli[node] = s0->free_cpu_milli[node];
        x->s->free_memory_bytes[node] = s0->free_memory_bytes[node];
        x->s->node_gpu_free[node] = s0->node_gpu_free[node];
        for (uint32_t g = 0; g < n->gpu_count; g++)
            x->s->gpu_free[n->first_gpu + g] = s0->gpu_free[n->first_gpu + g];
    }
}

static bool same_request(const ctx *c, const gf_pod *a, const gf_pod *b)
{
    return c->pod_sig[a - c->m->pods.v] == c->pod_sig[b - c->m->pods.v] &&
           a->cpu_milli == b->cpu_milli && a->memory_bytes == b->memory_bytes &&
           a->gpu_whole == b->gpu_whole && a->share == b->share &&
           a->gpu_fraction == b->gpu_fraction && a->gpu_memory_mib == b->gpu_memory_mib &&
           a->gpu_devices == b->gpu_devices;
}

static bool exact_place(exact *x, size_t i);

/* Chooses k more GPUs from free[start..] for pod i on pl->node; GPUs with
 * equal free fractions are interchangeable, so each multiset once. */
static bool exact_choose(exact *x, size_t i, gf_placement *pl, const gf_placement *gpus,
                         uint32_t start, uint32_t k)
{
    const gf_pod *p = &x->c->m->pods.v[x->pods.v[i]];
    if (k == 0) {
        gf_pack_apply(x->s, p, pl);
        x->assign.v[i] = *pl;
        if (exact_place(x, i + 1)) return true;
        gf_pack_remove(x->s, p, pl);
        return false;
    }
    for (uint32_t j = start; j + k <= gpus->n_gpus; j++) {
        if (j > start && x->s->gpu_free[gpus->gpus[j]] == x->s->gpu_free[gpus->gpus[j - 1]])
            continue;
        pl->gpus[pl->n_gpus++] = gpus->gpus[j];
        bool ok = exact_choose(x, i, pl, gpus, j + 1, k - 1);
        pl->n_gpus--;
        if (ok) return true;
        if (x->aborted) return false;
    }
    return false;
}

/* GPUs by free fraction, fullest first (a node has few: insertion sort) */
static void sort_by_free(uint32_t *gpus, uint32_t n, const double *free_)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t g = gpus[i], j = i;
        for (; j > 0 && free_[gpus[j - 1]] > free_[g]; j--)
            gpus[j] = gpus[j - 1];
        gpus[j] = g;
    }
}

/* Places pods[i..] on the nodes not in the set, every way there is. */
static bool exact_place(exact *x, size_t i)
{
    if (i == x->pods.n) return true;
    if (++x->steps > x->max_steps) {
        x->aborted = true;
        return false;
    }
    ctx *c = x->c;
    const gf_model *m = c->m;
    const gf_pod *p = &m->pods.v[x->pods.v[i]];
    const uint8_t *allowed = gf_cons_allowed_row(c, p, x->pool);
    size_t j0 = 0;
    if (i && x->same_as_prev.v[i]) /* identical pods go to nodes in order */
        j0 = c->slot_of[x->assign.v[i - 1].node];
    for (size_t j = j0; j < x->n_nodes; j++) {
        uint32_t node = x->nodes[j];
        if (x->out[node] || p->cpu_milli > x->s->free_cpu_milli[node] ||
            p->memory_bytes > x->s->free_memory_bytes[node])
            continue;
        uint8_t *a = (uint8_t *)&allowed[c->slot_of[node]];
        if (!*a) *a = gf_pack_node_allowed(m, p, node, NULL) ? 1 : 2;
        if (*a != 1) continue;
        gf_placement pl = {0};
        pl.node = node;
        if (!p->gpu_whole && p->share == GF_SHARE_NONE) {
            gf_pack_apply(x->s, p, &pl);
            x->assign.v[i] = pl;
            if (exact_place(x, i + 1)) return true;
            gf_pack_remove(x->s, p, &pl);
            if (x->aborted) return false;
            continue;
        }
        const gf_node *n = &m->nodes.v[node];
        double share = 1.0;
        uint32_t want = p->gpu_whole;
        if (p->share != GF_SHARE_NONE) {
            share = gf_pod_share_on(p, n->gpu_memory_mib);
            want = p->gpu_devices ? p->gpu_devices : 1;
            if (share <= 0 || share > 1.0 + GF_PACK_EPS) continue;
        }
        gf_placement fit = {0};
        for (uint32_t g = 0; g < n->gpu_count && fit.n_gpus < GF_PACK_MAX_DEVICES; g++)
            if (x->s->gpu_free[n->first_gpu + g] + GF_PACK_EPS >= share)
                fit.gpus[fit.n_gpus++] = n->first_gpu + g;
        if (fit.n_gpus < want || want > GF_PACK_MAX_DEVICES) continue;
        sort_by_free(fit.gpus, fit.n_gpus, x->s->gpu_free);
        pl.share = share;
        if (exact_choose(x, i, &pl, &fit, 0, want)) return true;
        if (x->aborted) return false;
    }
    return false;
}

/* Can every movable pod of the nodes with out[node] be re-placed? Fills
 * x->assign when it can. False also when the step limit ran out (then
 * x->aborted). */
static bool exact_feasible(exact *x)
{
    ctx *c = x->c;
    const gf_model *m = c->m;
    x->pods.n = 0;
    x->same_as_prev.n = 0;
    bool ok = true;
    GF_VEC(keyed) order = {0};
    for (size_t j = 0; j < x->n_nodes; j++) {
        uint32_t node = x->nodes[j];
        if (!x->out[node]) continue;
        for (uint32_t k = c->node_pod_start[node]; k < c->node_pod_start[node + 1]; k++) {
            const gf_pod *p = &m->pods.v[c->node_pods[k]];
            if (c->role[c->node_pods[k]] != ROLE_MOVE) continue;
            keyed kd = {gf_cons_gpu_demand(m, p), c->node_pods[k]};
            gf_vec_push(&order, kd);
        }
    }
    /* disruption limits depend on the set alone */
    for (size_t i = 0; i < order.n; i++) {
        const gf_pod *p = &m->pods.v[order.v[i].pod];
        if (p->workload != GF_NONE &&
            ++x->wl_used[p->workload] >
                (c->o->max_moves_per_workload ? c->o->max_moves_per_workload : UINT32_MAX))
            ok = false;
        if (c->np_cap[order.v[i].pod] && x->wl_used[p->workload] > c->np_cap[order.v[i].pod])
            ok = false;
        for (uint32_t k = c->pod_pdb_off[order.v[i].pod]; k < c->pod_pdb_off[order.v[i].pod + 1];
             k++)
            if ((int32_t)++x->pdb_used[c->pod_pdb[k]] >
                m->pdbs.v[c->pod_pdb[k]].disruptions_allowed)
                ok = false;
    }
    for (size_t i = 0; i < order.n; i++) {
        const gf_pod *p = &m->pods.v[order.v[i].pod];
        if (p->workload != GF_NONE) x->wl_used[p->workload] = 0;
        for (uint32_t k = c->pod_pdb_off[order.v[i].pod]; k < c->pod_pdb_off[order.v[i].pod + 1];
             k++)
            x->pdb_used[c->pod_pdb[k]] = 0;
    }
    if (order.n) qsort(order.v, order.n, sizeof(keyed), gf_cons_cmp_keyed);
    for (size_t i = 0; i < order.n && ok; i++) {
        const gf_pod *p = &m->pods.v[order.v[i].pod];
        (void)gf_cons_allowed_row(c, p, x->pool); /* assigns pod_sig */
        gf_vec_push(&x->pods, order.v[i].pod);
        uint8_t same = i > 0 && same_request(c, p, &m->pods.v[order.v[i - 1].pod]);
        gf_vec_push(&x->same_as_prev, same);
    }
    gf_vec_free(&order);
    if (!ok) return false;
    gf_vec_reserve(&x->assign, x->pods.n + 1);
    x->assign.n = x->pods.n;
    exact_restore(x);
    for (size_t i = 0; i < x->pods.n; i++) {
        gf_placement pl = gf_cons_original(c, &m->pods.v[x->pods.v[i]]);
        gf_pack_remove(x->s, &m->pods.v[x->pods.v[i]], &pl);
    }
    /* quick refusal: the summed demand must fit the summed free capacity */
    double gpu_need = 0, gpu_free = 0;
    int64_t cpu_need = 0, cpu_free = 0, mem_need = 0, mem_free = 0;
    for (size_t i = 0; i < x->pods.n; i++) {
        const gf_pod *p = &m->pods.v[x->pods.v[i]];
        cpu_need += p->cpu_milli;
        mem_need += p->memory_bytes;
        if (p->gpu_whole)
            gpu_need += p->gpu_whole;
        else if (p->share == GF_SHARE_FRACTION)
            gpu_need += p->gpu_fraction * (p->gpu_devices ? p->gpu_devices : 1);
    }
    for (size_t j = 0; j < x->n_nodes; j++) {
        uint32_t node = x->nodes[j];
        if (x->out[node] || m->nodes.v[node].unschedulable) continue;
        cpu_free += x->s->free_cpu_milli[node];
        mem_free += x->s->free_memory_bytes[node];
        gpu_free += x->s->node_gpu_free[node];
    }
    if (cpu_need > cpu_free || mem_need > mem_free || gpu_need > gpu_free + 1e-6) return false;
    return exact_place(x, 0);
}

typedef struct exact_set {
    const uint32_t *cands;
    const double *weight;
    size_t n;
    double bound; /* the pool's bound in objective units */
    double best;
    bool *cur, *best_set; /* per cands index */
    bool better;          /* best_set beats the greedy plan */
    uint32_t count, cap;  /* nodes in cur; most it may hold (0 = no limit) */
} exact_set;

/* Branch and bound over the candidates: take cands[k] or not. */
static void exact_bb(exact *x, exact_set *e, size_t k, double val, const double *suffix)
{
    if (x->aborted) return;
    double hi = val + suffix[k];
    if (hi > e->bound) hi = e->bound;
    if (hi <= e->best + 1e-9 || k == e->n) return;
    uint32_t node = e->cands[k];
    if (!e->cap || e->count < e->cap) {
        x->out[node] = true;
        e->cur[k] = true;
        if (exact_feasible(x)) {
            e->count++;
            if (val + e->weight[k] > e->best + 1e-9) {
                e->best = val + e->weight[k];
                memcpy(e->best_set, e->cur, e->n * sizeof(bool));
                e->better = true;
            }
            exact_bb(x, e, k + 1, val + e->weight[k], suffix);
            e->count--;
        }
        x->out[node] = false;
        e->cur[k] = false;
    }
    exact_bb(x, e, k + 1, val, suffix);
}

/* Runs the exact search on one pool; when it finds a better set than the
 * greedy plan's, *moves and *set get it (caller frees). Returns true when
 * the search completed (the result is optimal). */
bool gf_cons_exact_pool(ctx *c, uint32_t pool, const cand *cands, size_t n, double greedy_value,
                        double bound, uint32_t cap, bool *found_better, move_vec *moves,
                        bool *set_out)
{
    const gf_model *m = c->m;
    exact x = {0};
    x.c = c;
    x.pool = pool;
    x.s = gf_pack_state_new(m);
    x.nodes = c->pool_nodes[pool];
    x.n_nodes = c->pool_len[pool];
    x.out = gf_xcalloc(m->nodes.n + 1, sizeof(bool));
    x.wl_used = gf_xcalloc(m->workloads.n + 1, sizeof(uint32_t));
    x.pdb_used = gf_xcalloc(m->pdbs.n + 1, sizeof(uint32_t));
    x.max_steps = c->o->exact_max_steps;
    uint32_t *ids = gf_xmalloc((n + 1) * sizeof(uint32_t));
    double *w = gf_xmalloc((n + 1) * sizeof(double));
    double *suffix = gf_xcalloc(n + 2, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        ids[i] = cands[i].node;
        w[i] = c->o->objective == GF_OBJ_NODES  ? 1
               : c->o->objective == GF_OBJ_GPUS ? cands[i].gpus
                                                : cands[i].saving;
    }
    for (size_t i = n; i-- > 0;)
        suffix[i] = suffix[i + 1] + w[i];
    exact_set e = {ids,
                   w,
                   n,
                   bound,
                   greedy_value,
                   gf_xcalloc(n + 1, sizeof(bool)),
                   gf_xcalloc(n + 1, sizeof(bool)),
                   false,
                   0,
                   cap};
    exact_bb(&x, &e, 0, 0, suffix);
    bool complete = !x.aborted;
    *found_better = e.better;
    if (e.better) {
        x.aborted = false;
        x.max_steps = UINT64_MAX; /* this set was found feasible: the search ends */
        x.steps = 0;
        for (size_t i = 0; i < n; i++) {
            x.out[ids[i]] = e.best_set[i];
            set_out[ids[i]] = e.best_set[i];
        }
        bool ok = exact_feasible(&x);
        for (size_t i = 0; ok && i < x.pods.n; i++) {
            gf_move mv = {x.pods.v[i], m->pods.v[x.pods.v[i]].node, x.assign.v[i]};
            gf_vec_push(moves, mv);
        }
        if (!ok) *found_better = false;
    }
    free(e.cur);
    free(e.best_set);
    free(ids);
    free(w);
    free(suffix);
    free(x.out);
    free(x.wl_used);
    free(x.pdb_used);
    gf_vec_free(&x.pods);
    gf_vec_free(&x.same_as_prev);
    gf_vec_free(&x.assign);
    gf_pack_state_free(x.s);
    return complete;
}
