/* consolidate.c - node drain planning, see consolidate.h for the rules and
 * what the greedy-with-rollback method guarantees. */
#include "consolidate.h"
#include "kai.h"

#include <stdlib.h>
#include <string.h>

void gf_consolidate_opts_default(gf_consolidate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scorer = GF_SCORE_BINPACK;
}

void gf_consolidation_free(gf_consolidation *c)
{
    if (!c) return;
    gf_vec_free(&c->drains);
    gf_vec_free(&c->moves);
    gf_vec_free(&c->kept);
}

typedef enum pod_role { ROLE_IGNORE, ROLE_MOVE, ROLE_PIN } pod_role;

static pod_role classify(const gf_model *m, const gf_pod *p, const char **why)
{
    if (!gf_pod_active(p) || p->is_reservation) return ROLE_IGNORE;
    const char *opt = gf_kvs_get(&p->annotations, GF_ANN_CONSOLIDATE);
    if (opt && !strcmp(opt, "false")) {
        *why = "a pod opted out (gpufrac.io/consolidate: \"false\")";
        return ROLE_PIN;
    }
    const gf_workload *w = gf_model_pod_workload(m, p);
    if (!w) {
        *why = "a pod has no controller to recreate it";
        return ROLE_PIN;
    }
    if (!strcmp(w->kind, "DaemonSet")) return ROLE_IGNORE;
    if (!strcmp(w->kind, "Job") || !strcmp(w->kind, "CronJob")) {
        *why = "a Job's pod would lose its progress";
        return ROLE_PIN;
    }
    if (!strcmp(w->kind, "Deployment") || !strcmp(w->kind, "ReplicaSet") ||
        !strcmp(w->kind, "StatefulSet"))
        return ROLE_MOVE;
    *why = "a pod's owner kind is not known to recreate it elsewhere";
    return ROLE_PIN;
}

static double gpu_demand(const gf_model *m, const gf_pod *p)
{
    if (p->gpu_whole) return p->gpu_whole;
    if (p->node == GF_NONE) return 0;
    return gf_pod_share_on(p, m->nodes.v[p->node].gpu_memory_mib) *
           (p->gpu_devices ? p->gpu_devices : 1);
}

typedef struct cand {
    uint32_t node;
    uint32_t n_moves;
    int64_t prio_sum;
    double saving;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->n_moves != y->n_moves) return x->n_moves < y->n_moves ? -1 : 1;
    if (x->prio_sum != y->prio_sum) return x->prio_sum < y->prio_sum ? -1 : 1;
    if (x->saving != y->saving) return x->saving > y->saving ? -1 : 1;
    return (x->node > y->node) - (x->node < y->node);
}

typedef struct ctx {
    const gf_model *m;
    const gf_consolidate_opts *o;
    gf_pack_state *s;
    uint32_t *node_pod_start; /* CSR of active bound pods per node */
    uint32_t *node_pods;
    uint32_t **pool_nodes;    /* GPU-less nodes included: CPU-only pods may use them */
    uint32_t *pool_len;
    bool *skip;               /* drained, or being tried */
    bool *received;
    uint32_t *moves_of_workload;
    int32_t *pdb_left;
} ctx;

static double node_saving(const ctx *c, const gf_node *n)
{
    for (size_t i = 0; i < c->o->n_costs; i++)
        if (n->gpu_product && !strcmp(n->gpu_product, c->o->costs[i].gpu_product))
            return c->o->costs[i].per_gpu * n->gpu_count;
    return n->gpu_count;
}

/* The pod's current capacity as a placement, to give back or take again. */
static gf_placement current(const ctx *c, const gf_pod *p)
{
    gf_placement pl = {0};
    pl.node = p->node;
    pl.n_gpus = p->n_gpus < GF_PACK_MAX_DEVICES ? p->n_gpus : GF_PACK_MAX_DEVICES;
    memcpy(pl.gpus, p->gpus, pl.n_gpus * sizeof(uint32_t));
    pl.share = p->share != GF_SHARE_NONE
                   ? gf_pod_share_on(p, c->m->nodes.v[p->node].gpu_memory_mib)
                   : 1.0;
    return pl;
}

static bool best_in_pool(const ctx *c, const gf_pod *p, gf_placement *out)
{
    size_t pool_idx = 0;
    if (p->pool_selector && !gf_strmap_get(&c->m->pool_by_name, p->pool_selector, &pool_idx))
        return false;
    bool found = false;
    gf_placement cur;
    for (uint32_t i = 0; i < c->pool_len[pool_idx]; i++) {
        uint32_t node = c->pool_nodes[pool_idx][i];
        if (c->skip[node]) continue;
        if (!gf_pack_fit_node(c->s, p, node, c->o->scorer, &cur, NULL)) continue;
        if (!found || cur.score < out->score - 1e-12) {
            *out = cur;
            found = true;
        }
    }
    return found;
}

typedef struct keyed {
    double demand;
    uint32_t pod;
} keyed;

/* largest GPU demand first (first-fit decreasing), then pod index */
static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->demand != y->demand) return x->demand > y->demand ? -1 : 1;
    return (x->pod > y->pod) - (x->pod < y->pod);
}

/* Tries to drain one node; on failure everything is rolled back. */
static bool try_drain(ctx *c, const cand *cd, gf_consolidation *out, gf_node_verdict *v)
{
    const gf_model *m = c->m;
    uint32_t node = cd->node;
    uint32_t begin = c->node_pod_start[node], end = c->node_pod_start[node + 1];
    GF_VEC(keyed) order = {0};
    for (uint32_t i = begin; i < end; i++) {
        const char *why;
        const gf_pod *p = &m->pods.v[c->node_pods[i]];
        if (classify(m, p, &why) == ROLE_MOVE) {
            keyed k = {gpu_demand(m, p), c->node_pods[i]};
            gf_vec_push(&order, k);
        }
    }
    if (order.n) qsort(order.v, order.n, sizeof(keyed), cmp_keyed);
    GF_VEC(uint32_t) pods = {0};
    for (size_t i = 0; i < order.n; i++) gf_vec_push(&pods, order.v[i].pod);
    gf_vec_free(&order);
    c->skip[node] = true;
    for (size_t i = 0; i < pods.n; i++) {
        gf_placement cur = current(c, &m->pods.v[pods.v[i]]);
        gf_pack_remove(c->s, &m->pods.v[pods.v[i]], &cur);
    }
    size_t first_move = out->moves.n;
    bool ok = true;
    for (size_t i = 0; i < pods.n && ok; i++) {
        const gf_pod *p = &m->pods.v[pods.v[i]];
        v->pod = pods.v[i];
        if (p->workload != GF_NONE && c->o->max_moves_per_workload &&
            c->moves_of_workload[p->workload] + 1 > c->o->max_moves_per_workload) {
            v->reason = "the workload's move limit would be exceeded";
            ok = false;
            break;
        }
        for (size_t b = 0; b < m->pdbs.n && ok; b++) {
            if (gf_pdb_selects(&m->pdbs.v[b], p) && c->pdb_left[b] <= 0) {
                v->reason = "a PodDisruptionBudget allows no more disruptions";
                ok = false;
            }
        }
        if (!ok) break;
        gf_move mv = {pods.v[i], node, {0}};
        if (!best_in_pool(c, p, &mv.to)) {
            v->reason = "a pod fits on no other node of its pool";
            ok = false;
            break;
        }
        gf_pack_apply(c->s, p, &mv.to);
        gf_vec_push(&out->moves, mv);
        if (p->workload != GF_NONE) c->moves_of_workload[p->workload]++;
        for (size_t b = 0; b < m->pdbs.n; b++)
            if (gf_pdb_selects(&m->pdbs.v[b], p)) c->pdb_left[b]--;
    }
    if (!ok) { /* roll back moves made, then retake the original capacity */
        for (size_t i = out->moves.n; i-- > first_move;) {
            const gf_move *mv = &out->moves.v[i];
            const gf_pod *p = &m->pods.v[mv->pod];
            gf_pack_remove(c->s, p, &mv->to);
            if (p->workload != GF_NONE) c->moves_of_workload[p->workload]--;
            for (size_t b = 0; b < m->pdbs.n; b++)
                if (gf_pdb_selects(&m->pdbs.v[b], p)) c->pdb_left[b]++;
        }
        out->moves.n = first_move;
        for (size_t i = 0; i < pods.n; i++) {
            gf_placement cur = current(c, &m->pods.v[pods.v[i]]);
            gf_pack_apply(c->s, &m->pods.v[pods.v[i]], &cur);
        }
        c->skip[node] = false;
    } else {
        gf_drain d = {node, (uint32_t)first_move, (uint32_t)(out->moves.n - first_move),
                      m->nodes.v[node].gpu_count, cd->saving};
        gf_vec_push(&out->drains, d);
        for (size_t i = first_move; i < out->moves.n; i++)
            c->received[out->moves.v[i].to.node] = true;
        out->gpus_freed += d.gpus_freed;
        out->nodes_freed++;
        out->cost_saved += d.cost_saved;
    }
    gf_vec_free(&pods);
    return ok;
}

gf_err gf_consolidate(const gf_model *m, const gf_consolidate_opts *o, gf_consolidation *out,
                      gf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!m->finalized)
        return gf_error_set(err, GF_EINTERNAL, NULL, "consolidate: model is not finalized");
    ctx c = {0};
    c.m = m;
    c.o = o;
    c.s = gf_pack_state_new(m);
    if (o->scorer == GF_SCORE_FGD) {
        gf_task_class *cls;
        size_t n = gf_pack_classes_from_pods(m, &cls);
        gf_pack_set_classes(c.s, cls, n);
        free(cls);
    }
    size_t nn = m->nodes.n;
    c.node_pod_start = gf_xcalloc(nn + 2, sizeof(uint32_t));
    c.node_pods = gf_xcalloc(m->pods.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++)
        if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
            c.node_pod_start[m->pods.v[i].node + 1]++;
    for (size_t i = 0; i < nn; i++) c.node_pod_start[i + 1] += c.node_pod_start[i];
    {
        uint32_t *fill = gf_xmalloc((nn + 1) * sizeof(uint32_t));
        memcpy(fill, c.node_pod_start, (nn + 1) * sizeof(uint32_t));
        for (size_t i = 0; i < m->pods.n; i++)
            if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
                c.node_pods[fill[m->pods.v[i].node]++] = (uint32_t)i;
        free(fill);
    }
    c.pool_nodes = gf_xcalloc(m->pools.n + 1, sizeof(uint32_t *));
    c.pool_len = gf_xcalloc(m->pools.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++) c.pool_len[m->nodes.v[i].pool]++;
    for (size_t p = 0; p < m->pools.n; p++) {
        c.pool_nodes[p] = gf_xmalloc((c.pool_len[p] + 1) * sizeof(uint32_t));
        c.pool_len[p] = 0;
    }
    for (size_t i = 0; i < nn; i++) {
        uint32_t p = m->nodes.v[i].pool;
        c.pool_nodes[p][c.pool_len[p]++] = (uint32_t)i;
    }
    c.skip = gf_xcalloc(nn + 1, sizeof(bool));
    c.received = gf_xcalloc(nn + 1, sizeof(bool));
    c.moves_of_workload = gf_xcalloc(m->workloads.n + 1, sizeof(uint32_t));
    c.pdb_left = gf_xcalloc(m->pdbs.n + 1, sizeof(int32_t));
    for (size_t b = 0; b < m->pdbs.n; b++) c.pdb_left[b] = m->pdbs.v[b].disruptions_allowed;

    /* candidates: GPU nodes whose pods are all movable or ignorable */
    GF_VEC(cand) cands = {0};
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        if (n->gpu_count == 0) continue;
        cand cd = {(uint32_t)i, 0, 0, node_saving(&c, n)};
        gf_node_verdict pin = {(uint32_t)i, NULL, GF_NONE};
        for (uint32_t k = c.node_pod_start[i]; k < c.node_pod_start[i + 1]; k++) {
            const gf_pod *p = &m->pods.v[c.node_pods[k]];
            const char *why = NULL;
            pod_role r = classify(m, p, &why);
            if (r == ROLE_PIN && !pin.reason) {
                pin.reason = why;
                pin.pod = c.node_pods[k];
            }
            if (r == ROLE_MOVE) {
                cd.n_moves++;
                cd.prio_sum += p->priority;
            }
        }
        if (pin.reason)
            gf_vec_push(&out->kept, pin);
        else
            gf_vec_push(&cands, cd);
    }
    if (cands.n) qsort(cands.v, cands.n, sizeof(cand), cmp_cand);
    for (size_t i = 0; i < cands.n; i++) {
        gf_node_verdict v = {cands.v[i].node, NULL, GF_NONE};
        if (o->max_nodes && out->nodes_freed >= o->max_nodes) {
            v.reason = "the plan already drains the maximum number of nodes";
        } else if (c.received[cands.v[i].node]) {
            v.reason = "it receives pods moved earlier in this plan";
        } else if (try_drain(&c, &cands.v[i], out, &v)) {
            continue;
        }
        gf_vec_push(&out->kept, v);
    }
    gf_vec_free(&cands);
    for (size_t p = 0; p < m->pools.n; p++) free(c.pool_nodes[p]);
    free(c.pool_nodes);
    free(c.pool_len);
    free(c.skip);
    free(c.received);
    free(c.moves_of_workload);
    free(c.pdb_left);
    free(c.node_pod_start);
    free(c.node_pods);
    gf_pack_state_free(c.s);
    return GF_OK;
}
