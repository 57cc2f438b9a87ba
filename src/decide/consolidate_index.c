/* consolidate_index.c - where a pod can go, fast: the constraint-signature
 * rows, the PDB index, and the bucket indexes of the nodes by free GPU and
 * by free CPU that answer "the best node for this pod" like a scan of every
 * node would (check_index compares the two). */
#include "decide/consolidate_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- keys (no printf: built once per pod and per drain attempt) -------------- */

static void key_str(gf_sbuf *b, const char *s)
{
    gf_sbuf_puts(b, s ? s : "\x03");
    gf_sbuf_append(b, "\x01", 1);
}

static void key_u64(gf_sbuf *b, uint64_t v)
{
    char d[17];
    int n = 0;
    do {
        d[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    gf_sbuf_append(b, d, (size_t)n);
    gf_sbuf_append(b, "\x01", 1);
}

static void key_double(gf_sbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    key_u64(b, u);
}

/* The pod's scheduling constraints as a string (exact: equal strings give
 * equal gf_pack_node_allowed() answers on every node). */
static const char *constraint_key(ctx *c, const gf_pod *p, size_t pool)
{
    gf_sbuf *b = &c->key;
    b->len = 0;
    key_u64(b, pool);
    key_u64(b, p->gpu_whole > 0 || p->share != GF_SHARE_NONE);
    key_str(b, p->pool_selector);
    for (uint32_t i = 0; i < p->n_tolerations; i++) {
        const gf_toleration *t = &p->tolerations[i];
        gf_sbuf_append(b, "t", 1);
        key_str(b, t->key);
        key_str(b, t->op);
        key_str(b, t->value);
        key_str(b, t->effect);
    }
    for (uint32_t i = 0; i < p->node_selector.n; i++) {
        gf_sbuf_append(b, "s", 1);
        key_str(b, p->node_selector.items[i].key);
        key_str(b, p->node_selector.items[i].value);
    }
    for (uint32_t i = 0; i < p->n_gpu_models; i++) {
        gf_sbuf_append(b, "m", 1);
        key_str(b, p->gpu_models[i]);
    }
    if (gf_pack_topology_level(c->m, p, NULL) != -1) { /* its domain: its PodGroup and node */
        gf_sbuf_append(b, "d", 1);
        key_u64(b, p->gov.podgroup);
        key_u64(b, p->node);
    }
    return gf_sbuf_str(b);
}

/* The allowed-row of the pod's constraint signature in pool pool. */
uint8_t *gf_cons_allowed_row(ctx *c, const gf_pod *p, size_t pool)
{
    size_t pi = (size_t)(p - c->m->pods.v);
    if (c->pod_sig[pi] == GF_NONE) {
        const char *key = constraint_key(c, p, pool);
        size_t sig;
        if (!gf_strmap_get(&c->sig_by_key, key, &sig)) {
            sig = c->sig_allowed.n;
            gf_strmap_put(&c->sig_by_key, gf_arena_strdup(&c->sig_keys, key), sig);
            gf_vec_push(&c->sig_allowed, gf_xcalloc(c->pool_len[pool] + 1, 1));
        }
        c->pod_sig[pi] = (uint32_t)sig;
    }
    return c->sig_allowed.v[c->pod_sig[pi]];
}

/* Constraints and request of a pod, as a key (scratch: valid until the next key). */
const char *gf_cons_request_key(ctx *c, const gf_pod *p, size_t pool)
{
    size_t pi = (size_t)(p - c->m->pods.v);
    if (c->pod_sig[pi] == GF_NONE) (void)gf_cons_allowed_row(c, p, pool);
    gf_sbuf *b = &c->key;
    b->len = 0;
    key_u64(b, c->pod_sig[pi]);
    key_u64(b, (uint64_t)p->cpu_milli);
    key_u64(b, (uint64_t)p->memory_bytes);
    key_u64(b, p->gpu_whole);
    key_u64(b, (uint64_t)p->share);
    key_double(b, p->gpu_fraction);
    key_u64(b, (uint64_t)p->gpu_memory_mib);
    key_u64(b, p->gpu_devices);
    return gf_sbuf_str(b);
}

/* --- PDB index ---------------------------------------------------------------- */

/* The PDBs selecting each pod, as a CSR (pod_pdb_off has pods + 1 entries).
 * Each PDB is filed under its namespace and its first matchLabels pair (PDBs
 * without matchLabels under the namespace alone); a pod looks up its
 * namespace and each of its labels, and only the PDBs found there are
 * matched in full: pods x labels lookups instead of pods x PDBs. */
void gf_cons_pdb_index(ctx *c)
{
    const gf_model *m = c->m;
    gf_strmap by_key;
    gf_strmap_init(&by_key);
    gf_arena keys;
    gf_arena_init(&keys);
    uint32_t *chain = gf_xmalloc((m->pdbs.n + 1) * sizeof(uint32_t));
    gf_sbuf *b = &c->key;
    gf_strmap has_ns, has_key; /* namespaces with PDBs; label keys PDBs are filed under */
    gf_strmap_init(&has_ns);
    gf_strmap_init(&has_key);
    for (size_t i = m->pdbs.n; i-- > 0;) {
        const gf_pdb *pdb = &m->pdbs.v[i];
        gf_strmap_put(&has_ns, pdb->ns, 0);
        if (pdb->match_labels.n) gf_strmap_put(&has_key, pdb->match_labels.items[0].key, 0);
        b->len = 0;
        key_str(b, pdb->ns);
        if (pdb->match_labels.n) {
            key_str(b, pdb->match_labels.items[0].key);
            key_str(b, pdb->match_labels.items[0].value);
        }
        size_t head = GF_NONE;
        gf_strmap_get(&by_key, gf_sbuf_str(b), &head);
        gf_strmap_put(&by_key, gf_arena_strdup(&keys, gf_sbuf_str(b)), i); /* keys are borrowed */
        chain[i] = (uint32_t)head;
    }
    c->pod_pdb_off = gf_xcalloc(m->pods.n + 2, sizeof(uint32_t));
    GF_VEC(uint32_t) list = {0};
    for (size_t i = 0; i < m->pods.n && m->pdbs.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        c->pod_pdb_off[i] = (uint32_t)list.n;
        for (uint32_t l = 0; l <= p->labels.n; l++) {
            if (l == 0 && !gf_strmap_get(&has_ns, p->ns, NULL)) break;
            if (l < p->labels.n && !gf_strmap_get(&has_key, p->labels.items[l].key, NULL)) continue;
            b->len = 0;
            key_str(b, p->ns);
            if (l < p->labels.n) {
                key_str(b, p->labels.items[l].key);
                key_str(b, p->labels.items[l].value);
            }
            size_t k;
            if (!gf_strmap_get(&by_key, gf_sbuf_str(b), &k)) continue;
            for (; k != GF_NONE; k = chain[k])
                if (gf_pdb_selects(&m->pdbs.v[k], p)) gf_vec_push(&list, (uint32_t)k);
        }
        if (c->o->check_index) { /* the brute-force answer: every PDB */
            size_t found = list.n - c->pod_pdb_off[i], want = 0;
            for (size_t k = 0; k < m->pdbs.n; k++)
                if (gf_pdb_selects(&m->pdbs.v[k], p)) {
                    bool listed = false;
                    for (size_t j = c->pod_pdb_off[i]; j < list.n; j++)
                        listed |= list.v[j] == k;
                    want++;
                    c->mismatches += !listed;
                }
            c->mismatches += found != want;
        }
    }
    c->pod_pdb_off[m->pods.n] = (uint32_t)list.n;
    if (!m->pdbs.n)
        for (size_t i = 0; i < m->pods.n; i++)
            c->pod_pdb_off[i] = 0;
    c->pod_pdb = list.v ? list.v : gf_xcalloc(1, sizeof(uint32_t));
    free(chain);
    gf_strmap_free(&has_ns);
    gf_strmap_free(&has_key);
    gf_strmap_free(&by_key);
    gf_arena_free(&keys);
}

/* --- binpack index ------------------------------------------------------------ */

static uint32_t bucket_for(const ctx *c, uint32_t node)
{
    double r = c->s->node_gpu_free[node] / c->m->nodes.v[node].gpu_count;
    if (!(r > 0)) return 0;
    uint32_t b = (uint32_t)(r * N_BUCKETS);
    return b < N_BUCKETS ? b : N_BUCKETS - 1;
}

/* Level of a free fraction f: floor(16 f + 1e-7), so that a GPU with
 * f + GF_PACK_EPS >= share has a level >= level_of(share - GF_PACK_EPS). */
static uint32_t level_of(double f)
{
    if (!(f > 0)) return 0;
    double l = floor(f * N_FRAC + 1e-7);
    return l < N_FRAC ? (uint32_t)l : N_FRAC;
}

/* The level a pod needs (see N_LEVELS); share = its share of one of the
 * tier's GPUs, want = GPUs. A node that fits the pod has at least this
 * level: a whole GPU fits where f + GF_PACK_EPS >= 1, and level_of(f) is
 * then N_FRAC (idle). */
static uint32_t level_needed(const gf_pod *p, double share, uint32_t want)
{
    if (p->share != GF_SHARE_NONE) return share > 0 ? level_of(share - GF_PACK_EPS) : 0;
    uint32_t l = N_FRAC - 1 + want;
    return l < N_LEVELS - 1 ? l : N_LEVELS - 1;
}

static uint32_t node_level(const ctx *c, uint32_t node)
{
    const gf_node *n = &c->m->nodes.v[node];
    double best = 0;
    uint32_t idle = 0;
    for (uint32_t g = 0; g < n->gpu_count; g++) {
        double f = c->s->gpu_free[n->first_gpu + g];
        if (f > best) best = f;
        idle += level_of(f) == N_FRAC;
    }
    if (!idle) return level_of(best);
    return N_FRAC - 1 + idle < N_LEVELS - 1 ? N_FRAC - 1 + idle : N_LEVELS - 1;
}

static void unlink_node(ctx *c, uint32_t node)
{
    tier *t = &c->tiers.v[c->tier_of[node]];
    if (c->prev[node] != GF_NONE)
        c->next[c->prev[node]] = c->next[node];
    else
        t->head[c->bucket_of[node]] = c->next[node];
    if (t->head[c->bucket_of[node]] == GF_NONE)
        t->mask[c->bucket_of[node] / N_LEVELS] &= ~(1ull << (c->bucket_of[node] % N_LEVELS));
    if (c->next[node] != GF_NONE) c->prev[c->next[node]] = c->prev[node];
}

static void link_at(ctx *c, uint32_t node, uint32_t slot)
{
    tier *t = &c->tiers.v[c->tier_of[node]];
    c->bucket_of[node] = slot;
    c->prev[node] = GF_NONE;
    c->next[node] = t->head[slot];
    if (t->head[slot] != GF_NONE) c->prev[t->head[slot]] = node;
    t->head[slot] = node;
    t->mask[slot / N_LEVELS] |= 1ull << (slot % N_LEVELS);
}

static uint32_t slot_for(const ctx *c, uint32_t node)
{
    return bucket_for(c, node) * N_LEVELS + node_level(c, node);
}

/* CPU class of a free (or requested) CPU: how many of the thresholds (64m,
 * then 1.25 times the last, to about 80 cores) are at or below it, so a
 * node with free >= request has a class >= the request's. */
static uint32_t cpu_class(int64_t milli)
{
    static const int64_t t[N_CPU - 1] = {
        64,   80,    100,   125,   156,   195,   243,   303,   378,   472,   590,
        737,  921,   1151,  1438,  1797,  2246,  2807,  3508,  4385,  5481,  6851,
        8563, 10703, 13378, 16722, 20902, 26127, 32658, 40822, 51027, 63783, 79728};
    uint32_t lo = 0, hi = N_CPU - 1; /* first threshold above milli */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t[mid] <= milli)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The node's slot in the CPU index: bucket by free ratio, then class. */
static uint32_t cpu_bucket_for(const ctx *c, uint32_t node)
{
    int64_t total = c->m->nodes.v[node].cpu_milli;
    int64_t free_ = c->s->free_cpu_milli[node];
    double r = total > 0 ? (double)free_ / (double)total : 0;
    uint32_t b = r > 0 ? (uint32_t)(r * N_BUCKETS) : 0;
    if (b >= N_BUCKETS) b = N_BUCKETS - 1;
    return b * N_CPU + cpu_class(free_);
}

static uint32_t *cpu_list(ctx *c, uint32_t node)
{
    return &c->cpu_head[((size_t)c->m->nodes.v[node].pool * 2 + c->stay[node]) * N_BUCKETS * N_CPU];
}

static void cpu_unlink(ctx *c, uint32_t node)
{
    uint32_t *head = cpu_list(c, node);
    if (c->cprev[node] != GF_NONE)
        c->cnext[c->cprev[node]] = c->cnext[node];
    else
        head[c->cbucket_of[node]] = c->cnext[node];
    if (c->cnext[node] != GF_NONE) c->cprev[c->cnext[node]] = c->cprev[node];
}

static void cpu_link(ctx *c, uint32_t node)
{
    uint32_t *head = cpu_list(c, node);
    uint32_t b = cpu_bucket_for(c, node);
    c->cbucket_of[node] = b;
    c->cprev[node] = GF_NONE;
    c->cnext[node] = head[b];
    if (head[b] != GF_NONE) c->cprev[head[b]] = node;
    head[b] = node;
}

/* After the node's free capacity changed. */
void gf_cons_touch(ctx *c, uint32_t node)
{
    if (!c->cpu_head || !c->indexed[node]) return;
    if (cpu_bucket_for(c, node) != c->cbucket_of[node]) {
        cpu_unlink(c, node);
        cpu_link(c, node);
    }
    if (c->tier_of[node] == GF_NONE) return;
    uint32_t slot = slot_for(c, node);
    if (slot == c->bucket_of[node]) return;
    unlink_node(c, node);
    link_at(c, node, slot);
}

/* Drained for good: out of the index. */
void gf_cons_unindex(ctx *c, uint32_t node)
{
    if (!c->cpu_head || !c->indexed[node]) return;
    cpu_unlink(c, node);
    if (c->tier_of[node] != GF_NONE) unlink_node(c, node);
    c->indexed[node] = false;
}

/* The node's drain failed (or it never was a candidate): a preferred target. */
void gf_cons_set_stay(ctx *c, uint32_t node)
{
    if (c->stay[node]) return;
    if (!c->cpu_head || !c->indexed[node]) {
        c->stay[node] = 1;
        return;
    }
    cpu_unlink(c, node);
    if (c->tier_of[node] != GF_NONE) unlink_node(c, node);
    c->stay[node] = 1;
    cpu_link(c, node);
    if (c->tier_of[node] != GF_NONE) {
        c->tier_of[node] ^= 1; /* tiers come in pairs: open, stay */
        link_at(c, node, slot_for(c, node));
    }
}

void gf_cons_index_free(ctx *c)
{
    free(c->cpu_head);
    free(c->pool_cpu_min);
    free(c->pool_cpu_max);
    free(c->cbucket_of);
    free(c->cnext);
    free(c->cprev);
    for (size_t t = 0; t < c->tiers.n; t++) {
        free(c->tiers.v[t].head);
        free(c->tiers.v[t].mask);
    }
    gf_vec_free(&c->tiers);
    free(c->tier_of);
    free(c->bucket_of);
    free(c->next);
    free(c->prev);
    free(c->indexed);
    c->cpu_head = NULL;
    c->tier_of = NULL;
}

void gf_cons_index_build(ctx *c)
{
    const gf_model *m = c->m;
    size_t nn = m->nodes.n;
    c->tier_of = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->bucket_of = gf_xcalloc(nn + 1, sizeof(uint32_t));
    c->next = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->prev = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->indexed = gf_xcalloc(nn + 1, sizeof(bool));
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        c->tier_of[i] = GF_NONE;
        c->indexed[i] = !c->skip[i];
        if (!n->gpu_count) continue;
        size_t t = 0;
        while (t < c->tiers.n &&
               !(c->tiers.v[t].pool == n->pool && c->tiers.v[t].gpus == n->gpu_count &&
                 c->tiers.v[t].gpu_memory_mib == n->gpu_memory_mib))
            t += 2;
        if (t == c->tiers.n) {
            for (uint8_t st = 0; st < 2; st++) {
                tier nt = {n->pool,
                           n->gpu_count,
                           n->gpu_memory_mib,
                           st,
                           gf_xmalloc(N_BUCKETS * N_LEVELS * sizeof(uint32_t)),
                           gf_xcalloc(N_BUCKETS, sizeof(uint64_t))};
                for (size_t b = 0; b < N_BUCKETS * N_LEVELS; b++)
                    nt.head[b] = GF_NONE;
                gf_vec_push(&c->tiers, nt);
            }
        }
        c->tier_of[i] = (uint32_t)t + c->stay[i];
    }
    size_t np = m->pools.n;
    c->cpu_head = gf_xmalloc((np * 2 * N_BUCKETS * N_CPU + 1) * sizeof(uint32_t));
    for (size_t b = 0; b < np * 2 * N_BUCKETS * N_CPU; b++)
        c->cpu_head[b] = GF_NONE;
    c->pool_cpu_min = gf_xcalloc(np + 1, sizeof(int64_t));
    c->pool_cpu_max = gf_xcalloc(np + 1, sizeof(int64_t));
    c->cbucket_of = gf_xcalloc(nn + 1, sizeof(uint32_t));
    c->cnext = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    c->cprev = gf_xmalloc((nn + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < nn; i++) {
        const gf_node *n = &m->nodes.v[i];
        if (!c->pool_cpu_min[n->pool] || n->cpu_milli < c->pool_cpu_min[n->pool])
            c->pool_cpu_min[n->pool] = n->cpu_milli;
        if (n->cpu_milli > c->pool_cpu_max[n->pool]) c->pool_cpu_max[n->pool] = n->cpu_milli;
    }
    /* link in reverse so each bucket lists its nodes in index order */
    for (size_t i = nn; i-- > 0;) {
        if (!c->indexed[i]) continue;
        if (c->tier_of[i] != GF_NONE) link_at(c, (uint32_t)i, slot_for(c, (uint32_t)i));
        cpu_link(c, (uint32_t)i);
    }
}

/* Is cur a better placement than best? Lower score; ties within 1e-12 go to
 * the lower node index (what a scan in index order picks). */
static bool better(const gf_placement *cur, const gf_placement *best)
{
    if (cur->score < best->score - 1e-12) return true;
    return cur->score <= best->score + 1e-12 && cur->node < best->node;
}

/* Can a node whose score is at least bound still beat best? */
static bool may_beat(double bound, uint32_t node, const gf_placement *best)
{
    if (bound > best->score + 1e-12) return false;
    return bound < best->score - 1e-12 || node < best->node;
}

/* One candidate node: the cheap checks, then the full fit. */
void gf_cons_consider(ctx *c, const gf_pod *p, const uint8_t *allowed_in, uint32_t node,
                      bool *found, gf_placement *out)
{
    uint8_t *allowed = (uint8_t *)allowed_in;
    const gf_pack_state *s = c->s;
    c->tried++;
    if (c->skip[node] || p->cpu_milli > s->free_cpu_milli[node] ||
        p->memory_bytes > s->free_memory_bytes[node])
        return;
    uint32_t i = c->slot_of[node];
    if (!allowed[i]) allowed[i] = gf_pack_node_allowed(c->m, p, node, NULL) ? 1 : 2;
    if (allowed[i] != 1) return;
    if (*found && !may_beat(gf_pack_score_bound(s, p, node, c->o->scorer), node, out)) return;
    gf_placement cur;
    if (!gf_pack_fit_capacity(s, p, node, c->o->scorer, &cur, NULL)) return;
    if (!*found || better(&cur, out)) {
        *out = cur;
        *found = true;
    }
}

/* Binpack for a GPU pod: a node needs a free ratio of at least the pod's
 * GPUs over the node's (need) and one GPU with a free fraction of at least
 * its share (level); its score is at least (ratio - need), as
 * gf_pack_score_bound() says. Buckets are walked from the need upwards,
 * skipping levels below the pod's, and a tier stops at the first bucket
 * whose lower edge cannot beat the best found: the same answer as scanning
 * every node, with most nodes never looked at. want_stay: tiers of nodes
 * that stay (1), of candidates (0), both (-1). */
static void best_binpack(ctx *c, const gf_pod *p, size_t pool, const uint8_t *allowed,
                         int want_stay, bool *found, gf_placement *out)
{
    for (size_t t = 0; t < c->tiers.n; t++) {
        const tier *tr = &c->tiers.v[t];
        if (tr->pool != pool || (want_stay >= 0 && tr->stay != want_stay)) continue;
        double share = 1.0;
        uint32_t want = p->gpu_whole;
        if (p->share != GF_SHARE_NONE) {
            want = p->gpu_devices ? p->gpu_devices : 1;
            share = gf_pod_share_on(p, tr->gpu_memory_mib); /* the tier's nodes' GPUs */
        }
        if (want > tr->gpus) continue;
        double need = share > 0 ? share * want / tr->gpus : 0;
        uint32_t l0 = level_needed(p, share, want);
        uint32_t b0 = need > 1e-9 ? (uint32_t)((need - 1e-9) * N_BUCKETS) : 0;
        for (uint32_t b = b0 < N_BUCKETS ? b0 : N_BUCKETS - 1; b < N_BUCKETS; b++) {
            double lo = (double)b / N_BUCKETS;
            if (*found && share > 0 && lo - need - 1e-9 > out->score + 1e-12) break;
            /* the non-empty levels >= l0, lowest first */
            for (uint64_t bits = tr->mask[b] & (~0ull << l0); bits; bits &= bits - 1) {
                uint32_t l = (uint32_t)__builtin_ctzll(bits);
                for (uint32_t node = tr->head[b * N_LEVELS + l]; node != GF_NONE;
                     node = c->next[node])
                    gf_cons_consider(c, p, allowed, node, found, out);
            }
        }
    }
}

/* Binpack for a CPU-only pod: its score is the node's free CPU ratio after
 * it, at least (ratio - cpu / the pool's smallest node); a node needs a
 * ratio of at least cpu / the pool's largest node and a CPU class of at
 * least the pod's. Walked like best_binpack(). */
static void best_binpack_cpu(ctx *c, const gf_pod *p, size_t pool, const uint8_t *allowed,
                             int want_stay, bool *found, gf_placement *out)
{
    if (c->pool_cpu_min[pool] <= 0) { /* a node without CPU: no bound, scan the pool */
        for (uint32_t i = 0; i < c->pool_len[pool]; i++) {
            uint32_t node = c->pool_nodes[pool][i];
            if (want_stay < 0 || c->stay[node] == want_stay)
                gf_cons_consider(c, p, allowed, node, found, out);
        }
        return;
    }
    double need_lo = (double)p->cpu_milli / (double)c->pool_cpu_max[pool];
    double need_hi = (double)p->cpu_milli / (double)c->pool_cpu_min[pool];
    uint32_t b0 = need_lo > 1e-9 ? (uint32_t)((need_lo - 1e-9) * N_BUCKETS) : 0;
    uint32_t k0 = cpu_class(p->cpu_milli);
    for (uint32_t b = b0 < N_BUCKETS ? b0 : N_BUCKETS - 1; b < N_BUCKETS; b++) {
        double lo = (double)b / N_BUCKETS;
        if (*found && lo - need_hi - 1e-9 > out->score + 1e-12) break;
        for (int st = 0; st < 2; st++) {
            if (want_stay >= 0 && st != want_stay) continue;
            const uint32_t *head = &c->cpu_head[(pool * 2 + (size_t)st) * N_BUCKETS * N_CPU];
            for (uint32_t k = k0; k < N_CPU; k++)
                for (uint32_t node = head[b * N_CPU + k]; node != GF_NONE; node = c->cnext[node])
                    gf_cons_consider(c, p, allowed, node, found, out);
        }
    }
}

/* Best node among those with stay == want_stay (-1: all). */
static bool best_among(ctx *c, const gf_pod *p, size_t pool, int want_stay, gf_placement *out)
{
    bool found = false;
    const uint8_t *allowed = gf_cons_allowed_row(c, p, pool);
    if (c->o->scorer == GF_SCORE_BINPACK) {
        if (p->gpu_whole || p->share != GF_SHARE_NONE)
            best_binpack(c, p, pool, allowed, want_stay, &found, out);
        else
            best_binpack_cpu(c, p, pool, allowed, want_stay, &found, out);
        return found;
    }
    for (uint32_t i = 0; i < c->pool_len[pool]; i++) {
        uint32_t node = c->pool_nodes[pool][i];
        if (want_stay < 0 || c->stay[node] == want_stay)
            gf_cons_consider(c, p, allowed, node, &found, out);
    }
    return found;
}

/* The answer of a scan of every node of the model with the full fit, for
 * check_index. */
static bool scan_among(ctx *c, const gf_pod *p, int want_stay, gf_placement *out)
{
    bool found = false;
    for (uint32_t n = 0; n < c->m->nodes.n; n++) {
        if (c->skip[n] || (want_stay >= 0 && c->stay[n] != want_stay)) continue;
        gf_placement cur;
        if (!gf_pack_fit_node(c->s, p, n, c->o->scorer, &cur, NULL)) continue;
        if (!found || better(&cur, out)) {
            *out = cur;
            found = true;
        }
    }
    return found;
}

static bool scan_best(ctx *c, const gf_pod *p, gf_placement *out)
{
    if (c->o->legacy_greedy) return scan_among(c, p, -1, out);
    return scan_among(c, p, 1, out) || scan_among(c, p, 0, out);
}

void gf_cons_check_answer(ctx *c, const gf_pod *p, bool fits, const gf_placement *pl)
{
    if (!c->o->check_index) return;
    gf_placement want;
    bool ok = scan_best(c, p, &want);
    if (ok != fits || (ok && (want.node != pl->node || fabs(want.score - pl->score) > 1e-9)))
        c->mismatches++;
}

/* Where the pod goes: the best node that stays, else the best candidate
 * still to try (legacy_greedy: the best of all). */
bool gf_cons_best_in_pool(ctx *c, const gf_pod *p, gf_placement *out)
{
    c->attempts++;
    size_t pool;
    bool fits = false;
    if (gf_cons_pod_pool(c, p, &pool)) {
        if (c->o->legacy_greedy)
            fits = best_among(c, p, pool, -1, out);
        else
            fits = best_among(c, p, pool, 1, out) || best_among(c, p, pool, 0, out);
    }
    gf_cons_check_answer(c, p, fits, out);
    return fits;
}
