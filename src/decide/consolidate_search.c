/* consolidate_search.c - the greedy pass (one drain attempt per candidate,
 * rolled back when a pod fits nowhere) and the improvement reruns that
 * reorder the candidates whose drain failed. */
#include "decide/consolidate_int.h"
#include "decide/govern.h"
#include "util/rng.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Where the pod is in the current pass. */
static gf_placement now_at(const ctx *c, uint32_t pod)
{
    if (c->move_of[pod] != GF_NONE) return c->work.v[c->move_of[pod]].to;
    return gf_cons_original(c, &c->m->pods.v[pod]);
}

/* --- one greedy pass ------------------------------------------------------------ */

static void recv_link(ctx *c, uint32_t mi)
{
    uint32_t node = c->work.v[mi].to.node;
    c->rprev[mi] = GF_NONE;
    c->rnext[mi] = c->rhead[node];
    if (c->rhead[node] != GF_NONE) c->rprev[c->rhead[node]] = mi;
    c->rhead[node] = mi;
}

static void recv_unlink(ctx *c, uint32_t mi)
{
    uint32_t node = c->work.v[mi].to.node;
    if (c->rprev[mi] != GF_NONE)
        c->rnext[c->rprev[mi]] = c->rnext[mi];
    else
        c->rhead[node] = c->rnext[mi];
    if (c->rnext[mi] != GF_NONE) c->rprev[c->rnext[mi]] = c->rprev[mi];
}

/* largest GPU demand first (first-fit decreasing), then pod index */
int gf_cons_cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->demand != y->demand) return x->demand > y->demand ? -1 : 1;
    return (x->pod > y->pod) - (x->pod < y->pod);
}

/* PDBs and the per-workload limit allow moving the pod (for the first time)? */
static const char *limit_refuses(const ctx *c, uint32_t pod)
{
    const gf_pod *p = &c->m->pods.v[pod];
    if (p->workload != GF_NONE && c->o->max_moves_per_workload &&
        c->moves_of_workload[p->workload] + 1 > c->o->max_moves_per_workload)
        return "the workload's move limit would be exceeded";
    if (c->np_cap[pod] && c->moves_of_workload[p->workload] + 1 > c->np_cap[pod])
        return GF_GOV_NP_LAST;
    for (uint32_t k = c->pod_pdb_off[pod]; k < c->pod_pdb_off[pod + 1]; k++)
        if (c->pdb_left[c->pod_pdb[k]] <= 0)
            return "a PodDisruptionBudget allows no more disruptions";
    return NULL;
}

static void count_move(ctx *c, uint32_t pod, int sign)
{
    const gf_pod *p = &c->m->pods.v[pod];
    if (p->workload != GF_NONE) c->moves_of_workload[p->workload] += (uint32_t)sign;
    for (uint32_t k = c->pod_pdb_off[pod]; k < c->pod_pdb_off[pod + 1]; k++)
        c->pdb_left[c->pod_pdb[k]] -= sign;
}

/* Tries to drain one node: its own movable pods and the pods moved onto it
 * earlier in this pass are re-placed on the nodes left. On failure
 * everything is rolled back and *v says why. */
static bool try_drain(ctx *c, uint32_t node, gf_node_verdict *v)
{
    const gf_model *m = c->m;
    GF_VEC(keyed) order = {0};
    c->stamp++;
    for (uint32_t i = c->node_pod_start[node]; i < c->node_pod_start[node + 1]; i++) {
        uint32_t pod = c->node_pods[i];
        /* a gang's pod moved off earlier in this pass is listed where it is now */
        if (c->role[pod] == ROLE_MOVE && c->move_of[pod] == GF_NONE) {
            keyed k = {gf_cons_gpu_demand(m, &m->pods.v[pod]), pod};
            gf_vec_push(&order, k);
            c->mark[pod] = c->stamp;
        }
    }
    for (uint32_t mi = c->rhead[node]; mi != GF_NONE; mi = c->rnext[mi]) {
        keyed k = {gf_cons_gpu_demand(m, &m->pods.v[c->work.v[mi].pod]), c->work.v[mi].pod};
        gf_vec_push(&order, k);
        c->mark[c->work.v[mi].pod] = c->stamp;
    }
    /* a gang moves whole: its pods on other nodes are re-placed in this
     * attempt too (a gang that moved already moved whole) */
    bool mates = false;
    for (size_t i = 0; c->gang_start && i < order.n; i++) {
        uint32_t pod = order.v[i].pod, g = m->pods.v[pod].gov.podgroup;
        if (c->move_of[pod] != GF_NONE || g >= m->podgroups.n) continue;
        for (uint32_t k = c->gang_start[g]; k < c->gang_start[g + 1]; k++) {
            uint32_t mate = c->gang_pods[k];
            if (c->mark[mate] == c->stamp || c->move_of[mate] != GF_NONE) continue;
            c->mark[mate] = c->stamp;
            keyed km = {gf_cons_gpu_demand(m, &m->pods.v[mate]), mate};
            gf_vec_push(&order, km);
            mates = true;
        }
    }
    if (order.n) qsort(order.v, order.n, sizeof(keyed), gf_cons_cmp_keyed);
    size_t n = order.n;
    /* per pod: where it was (to restore), where it goes */
    gf_placement *was = gf_xmalloc((n + 1) * sizeof *was);
    gf_placement *to = gf_xmalloc((n + 1) * sizeof *to);
    c->skip[node] = true;
    for (size_t i = 0; i < n; i++) {
        was[i] = now_at(c, order.v[i].pod);
        gf_pack_remove(c->s, &m->pods.v[order.v[i].pod], &was[i]);
        if (was[i].node != node) gf_cons_touch(c, was[i].node); /* a gang's mate */
    }
    gf_cons_touch(c, node);
    size_t placed = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        uint32_t pod = order.v[i].pod;
        const gf_pod *p = &m->pods.v[pod];
        v->pod = pod;
        const char *refused = c->move_of[pod] == GF_NONE ? limit_refuses(c, pod) : NULL;
        if (refused) {
            v->reason = refused;
            ok = false;
            break;
        }
        size_t only = GF_NONE, pool;
        bool fits;
        /* nothing of this attempt placed yet: see nofit (not while a gang's
         * mates have given back capacity elsewhere) */
        if (i == 0 && !mates && gf_cons_pod_pool(c, p, &pool)) {
            const char *memo = gf_cons_request_key(c, p, pool);
            if (gf_strmap_get(&c->nofit, memo, &only)) {
                fits = false;
                if (!c->skip[only] && c->m->nodes.v[only].pool == pool)
                    gf_cons_consider(c, p, gf_cons_allowed_row(c, p, pool), (uint32_t)only, &fits,
                                     &to[i]);
                gf_cons_check_answer(c, p, fits, &to[i]);
            } else {
                fits = gf_cons_best_in_pool(c, p, &to[i]);
                if (!fits) gf_strmap_put(&c->nofit, gf_arena_strdup(&c->sig_keys, memo), node);
            }
        } else {
            fits = gf_cons_best_in_pool(c, p, &to[i]);
        }
        if (!fits) {
            v->reason = "a pod fits on no other node of its pool";
            ok = false;
            break;
        }
        gf_pack_apply(c->s, p, &to[i]);
        gf_cons_touch(c, to[i].node);
        placed++;
        if (c->move_of[pod] == GF_NONE) count_move(c, pod, 1);
    }
    if (!ok) { /* give back what was placed, retake what was there */
        for (size_t i = placed; i-- > 0;) {
            uint32_t pod = order.v[i].pod;
            gf_pack_remove(c->s, &m->pods.v[pod], &to[i]);
            gf_cons_touch(c, to[i].node);
            if (c->move_of[pod] == GF_NONE) count_move(c, pod, -1);
        }
        for (size_t i = 0; i < n; i++) {
            gf_pack_apply(c->s, &m->pods.v[order.v[i].pod], &was[i]);
            if (was[i].node != node) gf_cons_touch(c, was[i].node);
        }
        gf_cons_touch(c, node);
        c->skip[node] = false;
    } else {
        for (size_t i = 0; i < n; i++) {
            uint32_t pod = order.v[i].pod;
            gf_move step = {pod, was[i].node, to[i]};
            gf_vec_push(&c->steps, step);
            uint32_t mi = c->move_of[pod];
            if (mi == GF_NONE) {
                gf_move mv = {pod, was[i].node, to[i]};
                mi = (uint32_t)c->work.n;
                gf_vec_push(&c->work, mv);
                gf_vec_push(&c->cause, node);
                c->move_of[pod] = mi;
            } else {
                recv_unlink(c, mi);
                c->work.v[mi].to = to[i];
            }
            recv_link(c, mi);
            if (c->received) c->received[to[i].node] = true;
        }
        gf_vec_push(&c->drained, node);
        gf_cons_unindex(c, node);
    }
    free(was);
    free(to);
    gf_vec_free(&order);
    return ok;
}

/* Back to the snapshot's allocation, nothing drained. */
void gf_cons_reset(ctx *c)
{
    const gf_model *m = c->m;
    size_t nn = m->nodes.n;
    memcpy(c->s->free_cpu_milli, c->s0->free_cpu_milli, (nn + 1) * sizeof(int64_t));
    memcpy(c->s->free_memory_bytes, c->s0->free_memory_bytes, (nn + 1) * sizeof(int64_t));
    memcpy(c->s->gpu_free, c->s0->gpu_free, (m->gpus.n + 1) * sizeof(double));
    memcpy(c->s->node_gpu_free, c->s0->node_gpu_free, (nn + 1) * sizeof(double));
    if (c->s->node_frag) memcpy(c->s->node_frag, c->s0->node_frag, (nn + 1) * sizeof(double));
    for (size_t i = 0; i < nn; i++) {
        c->skip[i] = false;
        c->stay[i] = !c->is_cand[i] || c->o->legacy_greedy;
        c->rhead[i] = GF_NONE;
        if (c->received) c->received[i] = false;
    }
    for (size_t i = 0; i < c->work.n; i++)
        c->move_of[c->work.v[i].pod] = GF_NONE;
    c->work.n = 0;
    c->cause.n = 0;
    c->steps.n = 0;
    c->drained.n = 0;
    c->verdicts.n = 0;
    memset(c->moves_of_workload, 0, (m->workloads.n + 1) * sizeof(uint32_t));
    for (size_t b = 0; b < m->pdbs.n; b++)
        c->pdb_left[b] = m->pdbs.v[b].disruptions_allowed;
    gf_strmap_free(&c->nofit);
    gf_strmap_init(&c->nofit);
    if (c->o->scorer == GF_SCORE_BINPACK) {
        gf_cons_index_free(c);
        gf_cons_index_build(c);
    }
}

typedef struct value {
    double objective;
    size_t moves;
} value;

static value pass_value(const ctx *c)
{
    value v = {0, c->work.n};
    for (size_t i = 0; i < c->drained.n; i++) {
        const gf_node *n = &c->m->nodes.v[c->drained.v[i]];
        v.objective += c->o->objective == GF_OBJ_NODES  ? 1
                       : c->o->objective == GF_OBJ_GPUS ? n->gpu_count
                                                        : gf_cons_node_saving(c, n);
    }
    return v;
}

static bool value_better(value a, value b)
{
    if (a.objective > b.objective + 1e-9) return true;
    return a.objective >= b.objective - 1e-9 && a.moves < b.moves;
}

/* One greedy pass over the candidates in order, from the snapshot. */
void gf_cons_run_pass(ctx *c, const uint32_t *order, size_t n)
{
    gf_cons_reset(c);
    for (size_t i = 0; i < n; i++) {
        uint32_t node = order[i];
        gf_node_verdict v = {node, NULL, GF_NONE};
        if (c->o->max_nodes && c->drained.n >= c->o->max_nodes) {
            v.reason = "the plan already drains the maximum number of nodes";
        } else if (c->received && c->received[node]) {
            v.reason = "it receives pods moved earlier in this plan";
        } else if (try_drain(c, node, &v)) {
            continue;
        }
        gf_cons_set_stay(c, node);
        gf_vec_push(&c->verdicts, v);
    }
}

double gf_cons_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Iterated greedy: a few candidates whose drain failed in the best order so
 * far move to its front, the pass reruns; better plans replace the best,
 * equal ones are walked on. Leaves the best pass's plan in c. */
uint32_t gf_cons_improve(ctx *c, uint32_t *order, size_t n, double t_start)
{
    const gf_consolidate_opts *o = c->o;
    if (o->legacy_greedy || !o->max_rounds || n < 2) return 0;
    value best = pass_value(c);
    uint32_t *best_order = gf_xmalloc(n * sizeof(uint32_t));
    uint32_t *cur = gf_xmalloc(n * sizeof(uint32_t));
    uint32_t *failed = gf_xmalloc(n * sizeof(uint32_t));
    bool *front = gf_xcalloc(c->m->nodes.n + 1, sizeof(bool));
    memcpy(best_order, order, n * sizeof(uint32_t));
    memcpy(cur, order, n * sizeof(uint32_t));
    gf_rng rng;
    gf_rng_seed(&rng, o->seed);
    uint64_t attempts0 = c->attempts;
    uint32_t rounds = 0;
    bool last_is_best = true;
    size_t nfailed = 0;
    for (size_t i = 0; i < c->verdicts.n; i++)
        if (c->verdicts.v[i].pod != GF_NONE) failed[nfailed++] = c->verdicts.v[i].node;
    while (rounds < o->max_rounds && nfailed > 0) {
        /* a rerun costs about what the first pass did (attempts0): start it
         * only while reruns so far plus one more stay within the limit */
        if (o->max_attempts && (c->attempts - attempts0) + attempts0 > o->max_attempts) break;
        if (o->budget_s > 0 && gf_cons_mono_s() - t_start >= o->budget_s) break;
        rounds++;
        /* perturb: k failed candidates to the front, in random order */
        size_t k = 1 + (size_t)gf_rng_below(&rng, nfailed < 3 ? nfailed : 3);
        uint32_t *trial = order; /* reuse the caller's buffer */
        size_t t = 0;
        for (size_t j = 0; j < k; j++) {
            uint32_t pick = failed[gf_rng_below(&rng, nfailed)];
            if (front[pick]) continue;
            front[pick] = true;
            trial[t++] = pick;
        }
        for (size_t j = 0; j < n; j++)
            if (!front[cur[j]]) trial[t++] = cur[j];
        for (size_t j = 0; j < n; j++)
            front[trial[j]] = false;
        gf_cons_run_pass(c, trial, n);
        value v = pass_value(c);
        last_is_best = false;
        if (value_better(v, best) || v.objective >= best.objective - 1e-9) {
            memcpy(cur, trial, n * sizeof(uint32_t));
            nfailed = 0;
            for (size_t i = 0; i < c->verdicts.n; i++)
                if (c->verdicts.v[i].pod != GF_NONE) failed[nfailed++] = c->verdicts.v[i].node;
            if (value_better(v, best)) {
                best = v;
                memcpy(best_order, trial, n * sizeof(uint32_t));
                last_is_best = true;
            }
        }
    }
    if (!last_is_best) gf_cons_run_pass(c, best_order, n);
    memcpy(order, best_order, n * sizeof(uint32_t));
    free(best_order);
    free(cur);
    free(failed);
    free(front);
    return rounds;
}
