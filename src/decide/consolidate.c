/* consolidate.c - node drain planning: the options, the pods' roles (what
 * moves, what pins a node), the candidates, the plan and the public entry
 * points. See consolidate.h for the rules and consolidate_int.h for how the
 * work is split between the consolidate_*.c files. */
#include "decide/consolidate_int.h"
#include "decide/govern.h"
#include "model/kai.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gf_consolidate_opts_default(gf_consolidate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scorer = GF_SCORE_BINPACK;
    o->objective = GF_OBJ_NODES;
    o->pool = GF_NONE;
    o->max_rounds = 24;
    o->max_attempts = 40000;
    o->seed = 1;
    o->exact_max_candidates = 30;
    o->exact_max_steps = 20000000;
}

const char *gf_objective_name(gf_objective o)
{
    static const char *names[] = {"nodes", "gpus", "cost"};
    return (unsigned)o <= GF_OBJ_COST ? names[o] : "?";
}

gf_err gf_objective_parse(const char *name, gf_objective *out)
{
    for (int i = 0; i <= GF_OBJ_COST; i++)
        if (!strcmp(name, gf_objective_name((gf_objective)i))) {
            *out = (gf_objective)i;
            return GF_OK;
        }
    return GF_EUSAGE;
}

void gf_consolidation_free(gf_consolidation *c)
{
    if (!c) return;
    gf_vec_free(&c->drains);
    gf_vec_free(&c->moves);
    gf_vec_free(&c->steps);
    gf_vec_free(&c->pools);
    gf_vec_free(&c->kept);
    gf_pack_state_free(c->state);
    free(c->drained);
    free(c->pod_pin);
    c->state = NULL;
    c->drained = NULL;
    c->pod_pin = NULL;
}

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

double gf_cons_gpu_demand(const gf_model *m, const gf_pod *p)
{
    if (p->gpu_whole) return p->gpu_whole;
    if (p->node == GF_NONE) return 0;
    return gf_pod_share_on(p, m->nodes.v[p->node].gpu_memory_mib) *
           (p->gpu_devices ? p->gpu_devices : 1);
}

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->primary != y->primary) return x->primary > y->primary ? -1 : 1;
    if (x->n_moves != y->n_moves) return x->n_moves < y->n_moves ? -1 : 1;
    if (x->prio_sum != y->prio_sum) return x->prio_sum < y->prio_sum ? -1 : 1;
    if (x->saving != y->saving) return x->saving > y->saving ? -1 : 1;
    return (x->node > y->node) - (x->node < y->node);
}

double gf_cons_node_saving(const ctx *c, const gf_node *n)
{
    for (size_t i = 0; i < c->o->n_costs; i++)
        if (n->gpu_product && !strcmp(n->gpu_product, c->o->costs[i].gpu_product))
            return c->o->costs[i].per_gpu * n->gpu_count;
    return n->gpu_count;
}

/* The pod's snapshot capacity as a placement, to give back or take again. */
gf_placement gf_cons_original(const ctx *c, const gf_pod *p)
{
    gf_placement pl = {0};
    pl.node = p->node;
    pl.n_gpus = p->n_gpus < GF_PACK_MAX_DEVICES ? p->n_gpus : GF_PACK_MAX_DEVICES;
    if (pl.n_gpus) memcpy(pl.gpus, p->gpus, pl.n_gpus * sizeof(uint32_t));
    pl.share =
        p->share != GF_SHARE_NONE ? gf_pod_share_on(p, c->m->nodes.v[p->node].gpu_memory_mib) : 1.0;
    return pl;
}

/* The node pool a pod is placed in: the one it selects, else the one it
 * runs in. False when it selects a pool that does not exist. */
static bool pod_pool_lookup(const ctx *c, const gf_pod *p, size_t *pool)
{
    *pool = p->node != GF_NONE ? c->m->nodes.v[p->node].pool : 0;
    return !p->pool_selector || gf_strmap_get(&c->m->pool_by_name, p->pool_selector, pool);
}

/* --- KAI governance ------------------------------------------------------------ */

/* KAI's rules on top of classify() (decide/govern.h): non-preemptible pods
 * and unknown topologies, then gangs, which one pinned member pins whole.
 * Needs the PDB index. */
static void governance(ctx *c)
{
    const gf_model *m = c->m;
    gf_gov_usage u;
    gf_gov_usage_init(&u, m);
    for (size_t i = 0; i < m->pods.n; i++) {
        if (c->role[i] != ROLE_MOVE) continue;
        bool has_pdb = c->pod_pdb_off[i + 1] > c->pod_pdb_off[i];
        const char *why =
            gf_gov_refuses(m, &u, c->o->move_non_preemptible, (uint32_t)i, has_pdb, &c->np_cap[i]);
        if (why) {
            c->role[i] = ROLE_PIN;
            c->pin_why[i] = why;
        }
    }
    gf_gov_usage_free(&u);
    /* gangs: the active bound pods of each PodGroup with minMember > 1 */
    size_t ng = m->podgroups.n;
    uint32_t *start = gf_xcalloc(ng + 2, sizeof(uint32_t));
    size_t members = 0;
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->gov.gang > 1 && p->gov.podgroup < ng && p->node != GF_NONE && gf_pod_active(p)) {
            start[p->gov.podgroup + 1]++;
            members++;
        }
    }
    if (!members) {
        free(start);
    } else {
        for (size_t g = 0; g < ng; g++)
            start[g + 1] += start[g];
        c->gang_start = start;
        c->gang_pods = gf_xmalloc((members + 1) * sizeof(uint32_t));
        uint32_t *fill = gf_xmalloc((ng + 1) * sizeof(uint32_t));
        memcpy(fill, start, (ng + 1) * sizeof(uint32_t));
        for (size_t i = 0; i < m->pods.n; i++) {
            const gf_pod *p = &m->pods.v[i];
            if (p->gov.gang > 1 && p->gov.podgroup < ng && p->node != GF_NONE && gf_pod_active(p))
                c->gang_pods[fill[p->gov.podgroup]++] = (uint32_t)i;
        }
        free(fill);
        for (size_t g = 0; g < ng; g++) {
            bool pinned = false;
            for (uint32_t k = start[g]; k < start[g + 1]; k++)
                pinned |= c->role[c->gang_pods[k]] != ROLE_MOVE;
            for (uint32_t k = start[g]; k < start[g + 1]; k++) {
                uint32_t pod = c->gang_pods[k];
                if (c->role[pod] != ROLE_MOVE) continue;
                if (pinned) {
                    c->role[pod] = ROLE_PIN;
                    c->pin_why[pod] = GF_GOV_GANG;
                } else {
                    c->gangs = true;
                }
            }
        }
    }
}

/* --- planning ------------------------------------------------------------------ */

static void ctx_build(ctx *c, const gf_model *m, const gf_consolidate_opts *o)
{
    c->m = m;
    c->o = o;
    c->s = gf_pack_state_new(m);
    if (o->scorer == GF_SCORE_FGD) {
        gf_task_class *cls;
        size_t n = gf_pack_classes_from_pods(m, &cls);
        gf_pack_set_classes(c->s, cls, n);
        free(cls);
    }
    c->s0 = gf_pack_state_new(m);
    if (c->s->node_frag) {
        c->s0->node_frag = gf_xmalloc((m->nodes.n + 1) * sizeof(double));
        memcpy(c->s0->node_frag, c->s->node_frag, (m->nodes.n + 1) * sizeof(double));
    }
    size_t nn = m->nodes.n;
    c->node_pod_start = gf_xcalloc(nn + 2, sizeof(uint32_t));
    c->node_pods = gf_xcalloc(m->pods.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++)
        if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
            c->node_pod_start[m->pods.v[i].node + 1]++;
    for (size_t i = 0; i < nn; i++)
        c->node_pod_start[i + 1] += c->node_pod_start[i];
    uint32_t *fill = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    memcpy(fill, c->node_pod_start, (nn + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++)
        if (m->pods.v[i].node != GF_NONE && gf_pod_active(&m->pods.v[i]))
            c->node_pods[fill[m->pods.v[i].node]++] = (uint32_t)i;
    free(fill);
    c->role = gf_xcalloc(m->pods.n + 1, 1);
    c->pin_why = gf_xcalloc(m->pods.n + 1, sizeof(const char *));
    c->np_cap = gf_xcalloc(m->pods.n + 1, sizeof(uint32_t));
    c->mark = gf_xcalloc(m->pods.n + 1, sizeof(uint32_t));
    c->pool_of = gf_xmalloc((m->pods.n + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++) {
        const char *why = NULL;
        c->role[i] = (uint8_t)classify(m, &m->pods.v[i], &why);
        if (c->role[i] == ROLE_PIN) c->pin_why[i] = why;
        size_t pool;
        c->pool_of[i] = pod_pool_lookup(c, &m->pods.v[i], &pool) ? (uint32_t)pool : GF_NONE;
    }
    c->pool_nodes = gf_xcalloc(m->pools.n + 1, sizeof(uint32_t *));
    c->pool_len = gf_xcalloc(m->pools.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++)
        c->pool_len[m->nodes.v[i].pool]++;
    for (size_t p = 0; p < m->pools.n; p++) {
        c->pool_nodes[p] = gf_xmalloc((c->pool_len[p] + 1) * sizeof(uint32_t));
        c->pool_len[p] = 0;
    }
    c->slot_of = gf_xcalloc(nn + 1, sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++) {
        uint32_t p = m->nodes.v[i].pool;
        c->slot_of[i] = c->pool_len[p];
        c->pool_nodes[p][c->pool_len[p]++] = (uint32_t)i;
    }
    gf_arena_init(&c->sig_keys);
    gf_strmap_init(&c->sig_by_key);
    gf_strmap_init(&c->nofit);
    c->pod_sig = gf_xmalloc((m->pods.n + 1) * sizeof(uint32_t));
    memset(c->pod_sig, 0xff, (m->pods.n + 1) * sizeof(uint32_t)); /* GF_NONE */
    c->skip = gf_xcalloc(nn + 1, sizeof(bool));
    c->stay = gf_xcalloc(nn + 1, sizeof(uint8_t));
    c->is_cand = gf_xcalloc(nn + 1, sizeof(bool));
    if (o->legacy_greedy) c->received = gf_xcalloc(nn + 1, sizeof(bool));
    c->moves_of_workload = gf_xcalloc(m->workloads.n + 1, sizeof(uint32_t));
    c->pdb_left = gf_xcalloc(m->pdbs.n + 1, sizeof(int32_t));
    c->move_of = gf_xmalloc((m->pods.n + 1) * sizeof(uint32_t));
    memset(c->move_of, 0xff, (m->pods.n + 1) * sizeof(uint32_t));
    c->rhead = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    gf_cons_pdb_index(c);
    governance(c);
    c->spread_pool = gf_xcalloc(m->pools.n + 1, sizeof(bool));
    for (size_t p = 0; p < m->pools.n; p++) {
        const gf_shard *sh = gf_pack_pool_shard(m, m->pools.v[p]);
        c->spread_pool[p] = sh && (sh->gpu == GF_PLACE_SPREAD || sh->cpu == GF_PLACE_SPREAD);
    }
}

static void ctx_free(ctx *c)
{
    for (size_t i = 0; i < c->sig_allowed.n; i++)
        free(c->sig_allowed.v[i]);
    gf_vec_free(&c->sig_allowed);
    gf_strmap_free(&c->sig_by_key);
    gf_strmap_free(&c->nofit);
    gf_arena_free(&c->sig_keys);
    gf_sbuf_free(&c->key);
    free(c->pod_sig);
    free(c->slot_of);
    gf_cons_index_free(c);
    for (size_t p = 0; p < c->m->pools.n; p++)
        free(c->pool_nodes[p]);
    free(c->pool_nodes);
    free(c->pool_len);
    free(c->skip);
    free(c->stay);
    free(c->is_cand);
    free(c->received);
    free(c->moves_of_workload);
    free(c->pdb_left);
    free(c->pod_pdb_off);
    free(c->pod_pdb);
    free(c->node_pod_start);
    free(c->node_pods);
    free(c->role);
    free(c->pin_why);
    free(c->np_cap);
    free(c->mark);
    free(c->gang_start);
    free(c->gang_pods);
    free(c->spread_pool);
    gf_vec_free(&c->cause);
    free(c->pool_of);
    free(c->move_of);
    free(c->rhead);
    free(c->rnext);
    free(c->rprev);
    gf_vec_free(&c->work);
    gf_vec_free(&c->steps);
    gf_vec_free(&c->drained);
    gf_vec_free(&c->verdicts);
    gf_pack_state_free(c->s);
    gf_pack_state_free(c->s0);
}

/* Replaces the plan of c by moves (one per pod) draining the nodes in
 * drained_nodes, from the snapshot. */
static void install_plan(ctx *c, const gf_move *moves, size_t n_moves,
                         const uint32_t *drained_nodes, size_t n_drained)
{
    gf_cons_reset(c);
    for (size_t i = 0; i < n_drained; i++) {
        c->skip[drained_nodes[i]] = true;
        gf_vec_push(&c->drained, drained_nodes[i]);
    }
    for (size_t i = 0; i < n_moves; i++) {
        const gf_pod *p = &c->m->pods.v[moves[i].pod];
        gf_placement was = gf_cons_original(c, p);
        gf_pack_remove(c->s, p, &was);
        gf_pack_apply(c->s, p, &moves[i].to);
        c->move_of[moves[i].pod] = (uint32_t)c->work.n;
        gf_vec_push(&c->work, moves[i]);
        gf_vec_push(&c->cause, moves[i].from_node);
        gf_vec_push(&c->steps, moves[i]);
    }
}

gf_err gf_consolidate(const gf_model *m, const gf_consolidate_opts *o, gf_consolidation *out,
                      gf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!m->finalized)
        return gf_error_set(err, GF_EINTERNAL, NULL, "consolidate: model is not finalized");
    double t_start = gf_cons_mono_s();
    ctx c = {0};
    ctx_build(&c, m, o);
    size_t nn = m->nodes.n;

    /* candidates: GPU nodes whose pods are all movable or ignorable */
    GF_VEC(cand) cands = {0};
    GF_VEC(gf_node_verdict) pinned = {0};
    bool cross_pool = false; /* a movable pod selects another pool than its node's */
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        for (uint32_t k = c.node_pod_start[i]; k < c.node_pod_start[i + 1]; k++) {
            const gf_pod *p = &m->pods.v[c.node_pods[k]];
            size_t pool;
            if (c.role[c.node_pods[k]] == ROLE_MOVE &&
                (!gf_cons_pod_pool(&c, p, &pool) || pool != n->pool))
                cross_pool = true;
        }
        if (n->gpu_count == 0 || (o->pool != GF_NONE && n->pool != o->pool) ||
            (o->only && !o->only[i]))
            continue;
        cand cd = {(uint32_t)i, 0, 0, gf_cons_node_saving(&c, n), n->gpu_count, 0};
        if (o->objective != GF_OBJ_NODES)
            cd.primary = o->objective == GF_OBJ_GPUS ? n->gpu_count : cd.saving;
        gf_node_verdict pin = {(uint32_t)i, NULL, GF_NONE};
        if (c.spread_pool[n->pool])
            pin.reason = "its node pool's SchedulingShard places by spread: KAI runs no "
                         "consolidation there";
        for (uint32_t k = c.node_pod_start[i]; k < c.node_pod_start[i + 1]; k++) {
            const gf_pod *p = &m->pods.v[c.node_pods[k]];
            pod_role r = (pod_role)c.role[c.node_pods[k]];
            if (r == ROLE_PIN && !pin.reason) {
                pin.reason = c.pin_why[c.node_pods[k]];
                pin.pod = c.node_pods[k];
            }
            if (r == ROLE_MOVE) {
                cd.n_moves++;
                cd.prio_sum += p->priority;
            }
        }
        if (pin.reason) {
            gf_vec_push(&pinned, pin);
        } else {
            gf_vec_push(&cands, cd);
            c.is_cand[i] = true;
        }
    }
    if (cands.n) qsort(cands.v, cands.n, sizeof(cand), cmp_cand);
    /* per move: links in the list of moves now on a node (a move per pod at most) */
    size_t movable = 0;
    for (size_t i = 0; i < cands.n; i++)
        movable += cands.v[i].n_moves;
    if (c.gang_start) /* a gang's mates may move from nodes that are no candidates */
        movable += c.gang_start[m->podgroups.n];
    c.rnext = gf_xmalloc((movable + 1) * sizeof(uint32_t));
    c.rprev = gf_xmalloc((movable + 1) * sizeof(uint32_t));
    gf_vec_reserve(&c.work, movable + 1);

    uint32_t *order = gf_xmalloc((cands.n + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < cands.n; i++)
        order[i] = cands.v[i].node;
    gf_cons_run_pass(&c, order, cands.n);
    out->rounds = gf_cons_improve(&c, order, cands.n, t_start);

    /* bounds, and the exact search where asked and useful */
    for (uint32_t pool = 0; pool < m->pools.n; pool++) {
        gf_pool_bound b = {0};
        b.pool = pool;
        gf_cons_pool_bound(&c, pool, &b);
        if (!b.candidates) continue;
        gf_vec_push(&out->pools, b);
    }
    for (size_t bi = 0; bi < out->pools.n; bi++) {
        gf_pool_bound *b = &out->pools.v[bi];
        double got = 0, elsewhere = 0;
        for (size_t i = 0; i < c.drained.n; i++) {
            const gf_node *n = &m->nodes.v[c.drained.v[i]];
            double w = o->objective == GF_OBJ_NODES  ? 1
                       : o->objective == GF_OBJ_GPUS ? n->gpu_count
                                                     : gf_cons_node_saving(&c, n);
            if (n->pool == b->pool)
                got += w;
            else
                elsewhere++;
        }
        double bound = o->objective == GF_OBJ_NODES  ? b->bound
                       : o->objective == GF_OBJ_GPUS ? b->gpus_bound
                                                     : INFINITY;
        if (!o->exact || cross_pool || c.gangs || got >= bound - 1e-9 ||
            b->candidates > o->exact_max_candidates)
            continue;
        GF_VEC(cand) pc = {0};
        size_t pool_moves = 0;
        for (size_t i = 0; i < cands.n; i++)
            if (m->nodes.v[cands.v[i].node].pool == b->pool) {
                gf_vec_push(&pc, cands.v[i]);
                pool_moves += cands.v[i].n_moves;
            }
        if (pool_moves > EXACT_MAX_PODS) { /* the search recurses once per pod */
            gf_vec_free(&pc);
            continue;
        }
        uint32_t cap = 0;
        if (o->max_nodes) cap = o->max_nodes > elsewhere ? o->max_nodes - (uint32_t)elsewhere : 0;
        bool better = false;
        move_vec xm = {0};
        bool *set = gf_xcalloc(nn + 1, sizeof(bool));
        b->exact_tried = true;
        if (!o->max_nodes || cap > 0)
            b->optimal =
                gf_cons_exact_pool(&c, b->pool, pc.v, pc.n, got, bound, cap, &better, &xm, set);
        if (better) { /* the greedy plan's other pools, this pool's exact set */
            GF_VEC(gf_move) all = {0};
            GF_VEC(uint32_t) dn = {0};
            for (size_t i = 0; i < c.work.n; i++)
                if (m->nodes.v[c.work.v[i].from_node].pool != b->pool)
                    gf_vec_push(&all, c.work.v[i]);
            for (size_t i = 0; i < xm.n; i++)
                gf_vec_push(&all, xm.v[i]);
            for (size_t i = 0; i < c.drained.n; i++)
                if (m->nodes.v[c.drained.v[i]].pool != b->pool) gf_vec_push(&dn, c.drained.v[i]);
            for (size_t i = 0; i < pc.n; i++)
                if (set[pc.v[i].node]) gf_vec_push(&dn, pc.v[i].node);
            GF_VEC(gf_node_verdict) keep = {0};
            for (size_t i = 0; i < c.verdicts.n; i++)
                if (m->nodes.v[c.verdicts.v[i].node].pool != b->pool)
                    gf_vec_push(&keep, c.verdicts.v[i]);
            for (size_t i = 0; i < pc.n; i++)
                if (!set[pc.v[i].node]) {
                    gf_node_verdict v = {
                        pc.v[i].node, "not in the largest drainable set (exact search)", GF_NONE};
                    gf_vec_push(&keep, v);
                }
            install_plan(&c, all.v, all.n, dn.v, dn.n);
            c.verdicts.n = 0;
            for (size_t i = 0; i < keep.n; i++)
                gf_vec_push(&c.verdicts, keep.v[i]);
            gf_vec_free(&all);
            gf_vec_free(&dn);
            gf_vec_free(&keep);
        }
        free(set);
        gf_vec_free(&xm);
        gf_vec_free(&pc);
    }

    /* the plan: drains in order, each with the final moves of its own pods */
    out->drained = gf_xcalloc(nn + 1, sizeof(bool));
    for (size_t i = 0; i < c.drained.n; i++)
        out->drained[c.drained.v[i]] = true;
    uint32_t *first = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    uint32_t *chain = gf_xmalloc((c.work.n + 1) * sizeof(uint32_t));
    memset(first, 0xff, (nn + 1) * sizeof(uint32_t));
    for (size_t i = c.work.n; i-- > 0;) { /* by the drain that made the move */
        chain[i] = first[c.cause.v[i]];
        first[c.cause.v[i]] = (uint32_t)i;
    }
    for (size_t i = 0; i < c.drained.n; i++) {
        uint32_t node = c.drained.v[i];
        const gf_node *n = &m->nodes.v[node];
        gf_drain d = {node, (uint32_t)out->moves.n, 0, n->gpu_count, gf_cons_node_saving(&c, n)};
        for (uint32_t k = first[node]; k != GF_NONE; k = chain[k]) {
            gf_vec_push(&out->moves, c.work.v[k]);
            d.n_moves++;
        }
        gf_vec_push(&out->drains, d);
        out->gpus_freed += d.gpus_freed;
        out->nodes_freed++;
        out->cost_saved += d.cost_saved;
    }
    free(first);
    free(chain);
    for (size_t i = 0; i < out->pools.n; i++) {
        gf_pool_bound *b = &out->pools.v[i];
        for (size_t k = 0; k < out->drains.n; k++)
            if (m->nodes.v[out->drains.v[k].node].pool == b->pool) {
                b->drained++;
                b->gpus_drained += out->drains.v[k].gpus_freed;
            }
        if (o->objective == GF_OBJ_NODES && b->drained >= b->bound) b->optimal = true;
        if (o->objective == GF_OBJ_GPUS && b->gpus_drained >= b->gpus_bound) b->optimal = true;
    }
    for (size_t i = 0; i < pinned.n; i++)
        gf_vec_push(&out->kept, pinned.v[i]);
    for (size_t i = 0; i < c.verdicts.n; i++)
        gf_vec_push(&out->kept, c.verdicts.v[i]);
    for (size_t i = 0; i < c.steps.n; i++)
        gf_vec_push(&out->steps, c.steps.v[i]);
    out->attempts = c.attempts;
    out->index_mismatches = c.mismatches;
    out->nodes_tried = c.tried;
    out->state = c.s;
    c.s = NULL;
    out->pod_pin = c.pin_why;
    c.pin_why = NULL;
    free(order);
    gf_vec_free(&cands);
    gf_vec_free(&pinned);
    ctx_free(&c);
    return GF_OK;
}

size_t gf_consolidate_explain(const gf_model *m, const gf_consolidation *c,
                              const gf_consolidate_opts *o, uint32_t pod, gf_fit_reason **out)
{
    GF_VEC(gf_fit_reason) v = {0};
    const gf_pod *p = &m->pods.v[pod];
    for (size_t i = 0; i < m->nodes.n; i++) {
        if (i == p->node || c->drained[i]) continue;
        const char *why = NULL;
        if (!gf_pack_node_allowed(m, p, (uint32_t)i, &why) &&
            !strcmp(why, "node is in another node pool"))
            continue; /* other pools are never candidates: not worth listing */
        gf_placement pl;
        if (gf_pack_fit_node(c->state, p, (uint32_t)i, o->scorer, &pl, &why)) why = NULL;
        gf_fit_reason r = {(uint32_t)i, why};
        gf_vec_push(&v, r);
    }
    *out = v.v;
    return v.n;
}
