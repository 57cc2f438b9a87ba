/* model.c - cluster model and GPU grouping, see model.h for the rules. */
#include "model/model.h"
#include "model/kai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A GPU whose allocations sum above 1 by more than this is over-committed;
 * the slack absorbs float noise from fractions such as 0.1 + 0.2 + ... */
#define GF_OVERCOMMIT_EPS 1e-6

const char *gf_kvs_get(const gf_kvs *kvs, const char *key)
{
    for (uint32_t i = 0; i < kvs->n; i++)
        if (strcmp(kvs->items[i].key, key) == 0) return kvs->items[i].value;
    return NULL;
}

const char *gf_phase_name(gf_phase p)
{
    static const char *names[] = {"Pending", "Running", "Succeeded", "Failed", "Unknown"};
    return (unsigned)p < 5 ? names[p] : "Unknown";
}

const char *gf_skip_reason_name(gf_skip_reason r)
{
    static const char *names[] = {"kai_annotation", "node_missing", "no_gpu_node", "kai_object"};
    return (unsigned)r < GF_SKIP_COUNT ? names[r] : "?";
}

const char *gf_gpu_state_name(gf_gpu_state s)
{
    static const char *names[] = {"idle", "whole", "shared"};
    return (unsigned)s < 3 ? names[s] : "?";
}

bool gf_pdb_selects(const gf_pdb *b, const gf_pod *p)
{
    if (strcmp(b->ns, p->ns) != 0) return false;
    for (uint32_t i = 0; i < b->match_labels.n; i++) {
        const char *v = gf_kvs_get(&p->labels, b->match_labels.items[i].key);
        if (!v || strcmp(v, b->match_labels.items[i].value)) return false;
    }
    return true;
}

bool gf_pod_active(const gf_pod *p)
{
    return p->phase == GF_PHASE_PENDING || p->phase == GF_PHASE_RUNNING ||
           p->phase == GF_PHASE_UNKNOWN;
}

double gf_pod_share_on(const gf_pod *p, int64_t gpu_memory_mib)
{
    switch (p->share) {
    case GF_SHARE_FRACTION:
        return p->gpu_fraction;
    case GF_SHARE_MEMORY:
        return gpu_memory_mib > 0 ? (double)p->gpu_memory_mib / (double)gpu_memory_mib : 0.0;
    case GF_SHARE_NONE:
        break;
    }
    return 0.0;
}

double gf_pod_gpus(const gf_model *m, const gf_pod *p)
{
    if (p->node == GF_NONE || p->is_reservation || !gf_pod_active(p)) return 0.0;
    double share = gf_pod_share_on(p, m->nodes.v[p->node].gpu_memory_mib);
    return p->gpu_whole + share * (p->gpu_devices ? p->gpu_devices : 1);
}

bool gf_queue_within(const gf_model *m, uint32_t q, uint32_t ancestor)
{
    /* parent chains are cut where they loop (resolve_governance) */
    for (size_t steps = 0; q != GF_NONE && steps <= m->queues.n; steps++) {
        if (q == ancestor) return true;
        q = m->queues.v[q].parent_idx;
    }
    return false;
}

double gf_queue_allocated_gpu(const gf_model *m, uint32_t q, bool non_preemptible,
                              bool *from_status)
{
    const gf_queue *queue = &m->queues.v[q];
    *from_status = queue->has_status;
    if (queue->has_status) return non_preemptible ? queue->alloc_np_gpu : queue->alloc_gpu;
    double sum = 0;
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (non_preemptible && p->gov.preemptible) continue;
        if (!gf_queue_within(m, p->gov.queue_idx, q)) continue;
        sum += gf_pod_gpus(m, p);
    }
    return sum;
}

void gf_model_init(gf_model *m)
{
    memset(m, 0, sizeof *m);
    gf_arena_init(&m->arena);
    gf_strmap_init(&m->node_by_name);
    gf_strmap_init(&m->workload_by_key);
    gf_strmap_init(&m->pool_by_name);
    gf_kai_names_default(&m->kai);
    gf_model_pool(m, GF_KAI_DEFAULT_POOL);
}

void gf_model_free(gf_model *m)
{
    if (!m) return;
    gf_vec_free(&m->nodes);
    gf_vec_free(&m->pods);
    gf_vec_free(&m->workloads);
    gf_vec_free(&m->pdbs);
    gf_vec_free(&m->pools);
    gf_vec_free(&m->queues);
    gf_vec_free(&m->podgroups);
    gf_vec_free(&m->priority_classes);
    gf_vec_free(&m->shards);
    gf_vec_free(&m->topologies);
    gf_vec_free(&m->gpus);
    gf_vec_free(&m->gpu_pods);
    gf_strmap_free(&m->node_by_name);
    gf_strmap_free(&m->workload_by_key);
    gf_strmap_free(&m->pool_by_name);
    gf_arena_free(&m->arena);
}

uint32_t gf_model_pool(gf_model *m, const char *name)
{
    size_t idx;
    if (gf_strmap_get(&m->pool_by_name, name, &idx)) return (uint32_t)idx;
    const char *copy = gf_arena_strdup(&m->arena, name);
    gf_vec_push(&m->pools, copy);
    gf_strmap_put(&m->pool_by_name, copy, m->pools.n - 1);
    return (uint32_t)(m->pools.n - 1);
}

static const char *fmt_key(gf_model *m, const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *k = gf_arena_alloc(&m->arena, n);
    snprintf(k, n, "%s/%s/%s", a, b, c);
    return k;
}

uint32_t gf_model_add_node(gf_model *m, const gf_node *n, gf_diags *d)
{
    size_t prev;
    if (gf_strmap_get(&m->node_by_name, n->name, &prev)) {
        gf_diag(d, n->origin, "node %s already loaded from %s; duplicate skipped", n->name,
                m->nodes.v[prev].origin);
        return GF_NONE;
    }
    gf_vec_push(&m->nodes, *n);
    gf_strmap_put(&m->node_by_name, n->name, m->nodes.n - 1);
    m->finalized = false;
    return (uint32_t)(m->nodes.n - 1);
}

uint32_t gf_model_add_pod(gf_model *m, const gf_pod *p, gf_diags *d)
{
    /* Duplicates are detected through the workload map's sibling: a map of pods
     * keyed "Pod/ns/name" kept in workload_by_key would mix kinds, so use a
     * dedicated key prefix that no workload kind can take. */
    const char *key = fmt_key(m, "\x01pod", p->ns, p->name);
    size_t prev;
    /* SIZE_MAX: a pod finalize left out; a later input may bring it again */
    if (gf_strmap_get(&m->workload_by_key, key, &prev) && prev != SIZE_MAX) {
        gf_diag(d, p->origin, "pod %s/%s already loaded from %s; duplicate skipped", p->ns, p->name,
                m->pods.v[prev].origin);
        return GF_NONE;
    }
    gf_pod copy = *p;
    copy.node = GF_NONE;
    copy.workload = GF_NONE;
    copy.gpus = NULL;
    copy.n_gpus = 0;
    gf_vec_push(&m->pods, copy);
    gf_strmap_put(&m->workload_by_key, key, m->pods.n - 1);
    m->finalized = false;
    return (uint32_t)(m->pods.n - 1);
}

uint32_t gf_model_add_workload(gf_model *m, const gf_workload *w, gf_diags *d)
{
    const char *key = fmt_key(m, w->kind, w->ns, w->name);
    size_t prev;
    if (gf_strmap_get(&m->workload_by_key, key, &prev)) {
        gf_workload *old = &m->workloads.v[prev];
        if (!old->from_input && w->from_input) { /* replace a synthesised stand-in */
            *old = *w;
            return (uint32_t)prev;
        }
        if (w->from_input)
            gf_diag(d, w->origin, "%s %s/%s already loaded from %s; duplicate skipped", w->kind,
                    w->ns, w->name, old->origin);
        return w->from_input ? GF_NONE : (uint32_t)prev;
    }
    gf_vec_push(&m->workloads, *w);
    gf_strmap_put(&m->workload_by_key, key, m->workloads.n - 1);
    m->finalized = false;
    return (uint32_t)(m->workloads.n - 1);
}

const gf_workload *gf_model_pod_workload(const gf_model *m, const gf_pod *p)
{
    return p->workload == GF_NONE ? NULL : &m->workloads.v[p->workload];
}

/* Finds or synthesises the workload kind/ns/name. */
static uint32_t workload_ref(gf_model *m, const char *kind, const char *ns, const char *name,
                             bool inferred)
{
    gf_workload w = {0};
    w.kind = gf_arena_strdup(&m->arena, kind);
    w.ns = ns;
    w.name = gf_arena_strdup(&m->arena, name);
    w.origin = "(derived from ownerReferences)";
    w.replicas = -1;
    w.max_surge = -1;
    w.max_unavailable = -1;
    w.inferred = inferred;
    return gf_model_add_workload(m, &w, NULL);
}

/* Kubernetes' Deployment controller names ReplicaSets "<deployment>-<pod-template-hash>". */
static bool deployment_by_hash(const gf_pod *p, const char *rs_name, char *out, size_t outlen)
{
    const char *hash = gf_kvs_get(&p->labels, "pod-template-hash");
    if (!hash || !*hash) return false;
    size_t nl = strlen(rs_name), hl = strlen(hash);
    if (nl < hl + 2 || rs_name[nl - hl - 1] != '-' || strcmp(rs_name + nl - hl, hash) != 0)
        return false;
    if (nl - hl - 1 >= outlen) return false;
    memcpy(out, rs_name, nl - hl - 1);
    out[nl - hl - 1] = '\0';
    return true;
}

static void resolve_owner(gf_model *m, gf_pod *p)
{
    if (!p->owner.kind) return;
    uint32_t w = workload_ref(m, p->owner.kind, p->ns, p->owner.name, false);
    for (int depth = 0; depth < 4; depth++) {
        gf_workload *wl = &m->workloads.v[w];
        if (wl->owner.kind) {
            w = workload_ref(m, wl->owner.kind, wl->ns, wl->owner.name, false);
            continue;
        }
        if (!wl->from_input && strcmp(wl->kind, "ReplicaSet") == 0) {
            char dep[256];
            if (deployment_by_hash(p, wl->name, dep, sizeof dep))
                w = workload_ref(m, "Deployment", wl->ns, dep, true);
        }
        break;
    }
    p->workload = w;
}

/* --- GPU grouping, one node at a time ----------------------------------- */

typedef struct member {
    uint32_t gpu, pod;
} member;

typedef struct node_ctx {
    gf_model *m;
    gf_diags *d;
    gf_node *node;
    uint32_t node_idx;
    gf_gpu *gpus; /* this node's slice */
    GF_VEC(member) members;
    GF_VEC(uint32_t) pod_gpus; /* scratch: GPUs of the pod being placed */
} node_ctx;

static uint32_t find_group(node_ctx *c, const char *group)
{
    for (uint32_t i = 0; i < c->node->gpu_count; i++)
        if (c->gpus[i].group && strcmp(c->gpus[i].group, group) == 0) return i;
    return GF_NONE;
}

static uint32_t first_free(node_ctx *c)
{
    for (uint32_t i = 0; i < c->node->gpu_count; i++)
        if (c->gpus[i].state == GF_GPU_IDLE && !c->gpus[i].group && !c->gpus[i].device_id) return i;
    return GF_NONE;
}

static void add_member(node_ctx *c, uint32_t local_gpu, uint32_t pod)
{
    member mb = {c->node->first_gpu + local_gpu, pod};
    gf_vec_push(&c->members, mb);
    gf_vec_push(&c->pod_gpus, c->node->first_gpu + local_gpu);
}

static void finish_pod(node_ctx *c, gf_pod *p)
{
    p->n_gpus = (uint32_t)c->pod_gpus.n;
    if (p->n_gpus) {
        p->gpus = gf_arena_alloc(&c->m->arena, sizeof(uint32_t) * p->n_gpus);
        memcpy(p->gpus, c->pod_gpus.v, sizeof(uint32_t) * p->n_gpus);
    }
    c->pod_gpus.n = 0;
}

/* A reservation device ID that is a small decimal integer (KAI's own tests,
 * older releases): that slot, when it exists; GF_NONE otherwise (a UUID). */
static uint32_t id_as_slot(const char *id, uint32_t gpu_count)
{
    uint32_t v = 0;
    if (!id || !*id || strlen(id) > 4) return GF_NONE;
    for (const char *q = id; *q; q++) {
        if (*q < '0' || *q > '9') return GF_NONE;
        v = v * 10 + (uint32_t)(*q - '0');
    }
    return v < gpu_count ? v : GF_NONE;
}

static uint32_t find_device(node_ctx *c, const char *id)
{
    for (uint32_t i = 0; i < c->node->gpu_count; i++)
        if (c->gpus[i].device_id && strcmp(c->gpus[i].device_id, id) == 0) return i;
    return GF_NONE;
}

/* A reservation pod holds one device for its group
 * (pkg/binder/binding/resourcereservation/resource_reservation.go: one pod
 * per GPU group, label runai-gpu-group, 1 nvidia.com/gpu). Its
 * run.ai/reserve_for_gpu_index is the device's UUID
 * (pkg/resourcereservation/patcher/pod_patcher.go): kept as the device ID. */
static void place_reservation(node_ctx *c, gf_pod *p)
{
    if (!p->gpu_group) {
        gf_diag(c->d, p->origin, "KAI reservation pod %s/%s has no %s label; ignored", p->ns,
                p->name, GF_KAI_GPU_GROUP);
        return;
    }
    uint32_t g = find_group(c, p->gpu_group);
    if (g != GF_NONE) {
        if (p->reserve_gpu && !c->gpus[g].device_id) c->gpus[g].device_id = p->reserve_gpu;
        return;
    }
    if (p->reserve_gpu && (g = find_device(c, p->reserve_gpu)) != GF_NONE) {
        gf_diag(c->d, p->origin,
                "reservation pod %s/%s claims GPU %s of node %s, already held by group %s", p->ns,
                p->name, p->reserve_gpu, c->node->name, c->gpus[g].group ? c->gpus[g].group : "-");
        return;
    }
    g = id_as_slot(p->reserve_gpu, c->node->gpu_count);
    if (g != GF_NONE && (c->gpus[g].group || c->gpus[g].device_id)) g = GF_NONE;
    if (g == GF_NONE) g = first_free(c);
    if (g == GF_NONE) {
        gf_diag(c->d, p->origin, "reservation pod %s/%s: no free GPU left on node %s", p->ns,
                p->name, c->node->name);
        return;
    }
    c->gpus[g].group = p->gpu_group;
    c->gpus[g].device_id = p->reserve_gpu;
    c->gpus[g].state = GF_GPU_SHARED;
    c->gpus[g].reserved = true;
}

/* Claims the GPU of group (creating it on a free device when unseen). */
static uint32_t claim_group(node_ctx *c, const char *group)
{
    uint32_t g = find_group(c, group);
    if (g != GF_NONE) return g;
    g = first_free(c);
    if (g == GF_NONE) return GF_NONE;
    c->gpus[g].group = group;
    c->gpus[g].state = GF_GPU_SHARED;
    return g;
}

/* KAI binpack: the shared GPU with the most allocated that still fits share. */
static uint32_t binpack_shared(node_ctx *c, double share, const uint32_t *taken, size_t ntaken)
{
    uint32_t best = GF_NONE;
    for (uint32_t i = 0; i < c->node->gpu_count; i++) {
        const gf_gpu *g = &c->gpus[i];
        if (g->state != GF_GPU_SHARED) continue;
        bool used = false;
        for (size_t k = 0; k < ntaken; k++)
            used |= taken[k] == c->node->first_gpu + i;
        if (used || g->allocated_fraction + share > 1.0 + GF_OVERCOMMIT_EPS) continue;
        if (best == GF_NONE || g->allocated_fraction > c->gpus[best].allocated_fraction) best = i;
    }
    return best;
}

static void place_sharing(node_ctx *c, gf_pod *p, uint32_t pod_idx, bool labelled_pass)
{
    double share = gf_pod_share_on(p, c->node->gpu_memory_mib);
    if (labelled_pass) {
        const char *groups[1 + GF_KAI_MAX_GROUPS];
        uint32_t ng = 0;
        if (p->gpu_group) groups[ng++] = p->gpu_group;
        for (uint32_t i = 0; i < p->n_extra_groups && ng < 1 + GF_KAI_MAX_GROUPS; i++)
            groups[ng++] = p->extra_groups[i];
        for (uint32_t i = 0; i < ng; i++) {
            uint32_t g = claim_group(c, groups[i]);
            if (g == GF_NONE) {
                gf_diag(c->d, p->origin, "pod %s/%s: no GPU left on node %s for group %s", p->ns,
                        p->name, c->node->name, groups[i]);
                continue;
            }
            c->gpus[g].allocated_fraction += share;
            add_member(c, g, pod_idx);
        }
        return;
    }
    /* unlabelled devices: binpack like KAI, else a free device */
    uint32_t want = p->gpu_devices ? p->gpu_devices : 1;
    for (uint32_t i = (uint32_t)c->pod_gpus.n; i < want; i++) {
        uint32_t g = binpack_shared(c, share, c->pod_gpus.v, c->pod_gpus.n);
        if (g == GF_NONE) {
            g = first_free(c);
            if (g != GF_NONE) c->gpus[g].state = GF_GPU_SHARED;
        }
        if (g == GF_NONE) {
            gf_diag(c->d, p->origin, "pod %s/%s: no GPU with room on node %s for share %.3f", p->ns,
                    p->name, c->node->name, share);
            return;
        }
        c->gpus[g].allocated_fraction += share;
        c->gpus[g].placement_inferred = true;
        add_member(c, g, pod_idx);
    }
    gf_diag(c->d, p->origin,
            "pod %s/%s has %u %s label(s) for %u device(s); its other GPUs on node %s were "
            "inferred",
            p->ns, p->name, (p->gpu_group ? 1u : 0u) + p->n_extra_groups, GF_KAI_GPU_GROUP, want,
            c->node->name);
}

static void place_whole(node_ctx *c, gf_pod *p, uint32_t pod_idx)
{
    for (uint32_t k = 0; k < p->gpu_whole; k++) {
        uint32_t g = first_free(c);
        if (g == GF_NONE) {
            gf_diag(c->d, p->origin,
                    "pod %s/%s requests %u whole GPUs but node %s has only %u left for it", p->ns,
                    p->name, p->gpu_whole, c->node->name, k);
            return;
        }
        c->gpus[g].state = GF_GPU_WHOLE;
        c->gpus[g].allocated_fraction = 1.0;
        add_member(c, g, pod_idx);
    }
}

static int cmp_member(const void *a, const void *b)
{
    const member *x = a, *y = b;
    if (x->gpu != y->gpu) return x->gpu < y->gpu ? -1 : 1;
    return (x->pod > y->pod) - (x->pod < y->pod);
}

static bool is_sharing(const gf_pod *p)
{
    return p->share != GF_SHARE_NONE && !p->is_reservation;
}

static void group_node(node_ctx *c, const uint32_t *pods, size_t npods)
{
    gf_model *m = c->m;
    c->members.n = 0;
    if (c->node->gpu_count == 0) return; /* GPU pods here were left out by finalize */
    /* pass 1: reservations pin groups to devices */
    for (size_t i = 0; i < npods; i++) {
        gf_pod *p = &m->pods.v[pods[i]];
        if (p->is_reservation) place_reservation(c, p);
    }
    /* pass 2: labelled sharing pods join their groups, every one of them */
    for (size_t i = 0; i < npods; i++) {
        gf_pod *p = &m->pods.v[pods[i]];
        if (!is_sharing(p)) continue;
        /* devices without a group label are placed in pass 4 */
        if (p->gpu_group || p->n_extra_groups) place_sharing(c, p, pods[i], true);
        finish_pod(c, p);
    }
    /* pass 3: whole-GPU pods */
    for (size_t i = 0; i < npods; i++) {
        gf_pod *p = &m->pods.v[pods[i]];
        if (p->is_reservation || is_sharing(p) || p->gpu_whole == 0) continue;
        place_whole(c, p, pods[i]);
        finish_pod(c, p);
    }
    /* pass 4: sharing pods with missing group labels */
    for (size_t i = 0; i < npods; i++) {
        gf_pod *p = &m->pods.v[pods[i]];
        if (!is_sharing(p) || p->n_gpus >= (p->gpu_devices ? p->gpu_devices : 1)) continue;
        for (uint32_t k = 0; k < p->n_gpus; k++)
            gf_vec_push(&c->pod_gpus, p->gpus[k]);
        place_sharing(c, p, pods[i], false);
        finish_pod(c, p);
    }
    /* members into the model's CSR, and over-commit warnings */
    if (c->members.n) qsort(c->members.v, c->members.n, sizeof(member), cmp_member);
    size_t j = 0;
    for (uint32_t i = 0; i < c->node->gpu_count; i++) {
        gf_gpu *g = &c->gpus[i];
        g->first_pod = (uint32_t)m->gpu_pods.n;
        while (j < c->members.n && c->members.v[j].gpu == c->node->first_gpu + i) {
            gf_vec_push(&m->gpu_pods, c->members.v[j].pod);
            j++;
        }
        g->n_pods = (uint32_t)(m->gpu_pods.n - g->first_pod);
        if (g->allocated_fraction > 1.0 + GF_OVERCOMMIT_EPS)
            gf_diag(c->d, c->node->origin,
                    "node %s GPU %d (group %s) is over-committed: %.3f of a GPU allocated",
                    c->node->name, (int)g->index, g->group ? g->group : "-", g->allocated_fraction);
    }
}

static bool uses_gpu(const gf_pod *p)
{
    return is_sharing(p) || p->gpu_whole || p->is_reservation;
}

/* Leaves out pods finalize cannot place (see model.h): compacts m->pods,
 * keeping the order, and re-points the pod keys. */
static void drop_pods(gf_model *m, const bool *drop)
{
    size_t w = 0;
    for (size_t i = 0; i < m->pods.n; i++) {
        gf_pod *p = &m->pods.v[i];
        const char *key = fmt_key(m, "\x01pod", p->ns, p->name);
        if (drop[i]) {
            gf_strmap_put(&m->workload_by_key, key, SIZE_MAX);
            continue;
        }
        gf_strmap_put(&m->workload_by_key, key, w);
        m->pods.v[w++] = *p;
    }
    m->pods.n = w;
}

/* Each pod's PodGroup, queue, priority and preemptibility, as KAI computes
 * them: the PodGroup named by the pod's annotation pod-group-name carries
 * queue, priorityClassName and preemptibility (pkg/apis/scheduling/v2alpha2/
 * podgroup_types.go). Without one in the input, KAI's pod grouper's own rules
 * stand in (pkg/podgrouper/podgrouper/plugins/defaultgrouper/
 * default_grouper.go): the queue label of the top owner, then of the pod,
 * then "project" (+ "-<node pool>" when the pod has a pool label), else
 * "default-queue" (CalcPodGroupQueue); the priority class from label
 * priorityClassName on the owner or the pod, then the pod's
 * spec.priorityClassName (valued by the input's PriorityClass, else by the
 * pod's spec.priority, which admission took from it), else the owner kind's
 * default: "inference" for
 * Deployments (deployment/deployment_grouper.go), "train" for everything
 * else (GetPodGroupMetadata); preemptibility from label
 * kai.scheduler/preemptibility on the owner, then the pod
 * (calcPodGroupPreemptibilityWithDefaults). Preemptibility: an explicit
 * value wins, else priority < 100 is preemptible
 * (pkg/common/podgroup/preemptible.go CalculatePreemptibility). */
static int32_t class_value(const gf_model *m, const gf_strmap *classes, const char *name,
                           int32_t fallback, bool *found)
{
    size_t k;
    *found = name && gf_strmap_get(classes, name, &k);
    if (*found) return m->priority_classes.v[k].value;
    /* KAI's own classes when the input holds no PriorityClass objects
     * (deployments/kai-scheduler/templates/priorityclasses/) */
    static const struct {
        const char *name;
        int32_t value;
    } kai[] = {{"train", 50}, {"build-preemptible", 75}, {"build", 100}, {"inference", 125}};
    for (size_t i = 0; name && i < sizeof kai / sizeof kai[0]; i++)
        if (!strcmp(name, kai[i].name)) {
            *found = true;
            return kai[i].value;
        }
    return fallback;
}

static gf_preemptibility preemptibility_label(const gf_kvs *labels)
{
    const char *v = gf_kvs_get(labels, GF_KAI_PREEMPTIBILITY_LABEL);
    if (v && !strcmp(v, "preemptible")) return GF_PREEMPT_PREEMPTIBLE;
    if (v && !strcmp(v, "non-preemptible")) return GF_PREEMPT_NON_PREEMPTIBLE;
    return GF_PREEMPT_UNSET; /* KAI logs an invalid value and goes on */
}

/* The grouper's queue without a PodGroup (CalcPodGroupQueue). */
static const char *grouper_queue(gf_model *m, const gf_pod *p, const gf_workload *top)
{
    const char *q = top ? gf_kvs_get(&top->labels, m->kai.queue_label) : NULL;
    if (!q) q = p->queue;
    if (q) return q;
    const char *project = top ? gf_kvs_get(&top->labels, GF_KAI_PROJECT_LABEL) : NULL;
    if (!project) project = gf_kvs_get(&p->labels, GF_KAI_PROJECT_LABEL);
    if (!project || !*project) return GF_KAI_DEFAULT_QUEUE;
    const char *pool = gf_kvs_get(&p->labels, m->kai.node_pool_label);
    if (!pool) return project;
    size_t n = strlen(project) + strlen(pool) + 2;
    char *s = gf_arena_alloc(&m->arena, n);
    snprintf(s, n, "%s-%s", project, pool);
    return s;
}

static void resolve_governance(gf_model *m)
{
    gf_strmap groups, queues, classes;
    gf_strmap_init(&groups);
    gf_strmap_init(&queues);
    gf_strmap_init(&classes);
    for (size_t i = 0; i < m->podgroups.n; i++)
        gf_strmap_put(&groups, fmt_key(m, "pg", m->podgroups.v[i].ns, m->podgroups.v[i].name), i);
    for (size_t i = 0; i < m->queues.n; i++)
        gf_strmap_put(&queues, m->queues.v[i].name, i);
    for (size_t i = 0; i < m->priority_classes.n; i++)
        gf_strmap_put(&classes, m->priority_classes.v[i].name, i);
    for (size_t i = 0; i < m->queues.n; i++) {
        gf_queue *q = &m->queues.v[i];
        size_t k;
        q->parent_idx =
            q->parent && gf_strmap_get(&queues, q->parent, &k) && k != i ? (uint32_t)k : GF_NONE;
    }
    /* a parent chain that loops is cut where it closes (KAI's walk up
     * quota_check.go would not end either; the API server admits it) */
    for (size_t i = 0; i < m->queues.n; i++) {
        uint32_t at = (uint32_t)i;
        for (size_t steps = 0; at != GF_NONE; steps++) {
            uint32_t up = m->queues.v[at].parent_idx;
            if (steps >= m->queues.n) {
                m->queues.v[at].parent_idx = GF_NONE;
                break;
            }
            at = up;
        }
    }
    for (size_t i = 0; i < m->pods.n; i++) {
        gf_pod *p = &m->pods.v[i];
        gf_pod_gov g = {GF_NONE, NULL, GF_NONE, p->priority, p->priority < 100, 1};
        const char *pg_name = gf_kvs_get(&p->annotations, GF_KAI_POD_GROUP_NAME);
        size_t k;
        const gf_podgroup *pg = NULL;
        if (pg_name && gf_strmap_get(&groups, fmt_key(m, "pg", p->ns, pg_name), &k)) {
            g.podgroup = (uint32_t)k;
            pg = &m->podgroups.v[k];
        }
        const gf_workload *top = gf_model_pod_workload(m, p);
        bool found;
        gf_preemptibility pre = GF_PREEMPT_UNSET;
        if (pg) {
            g.queue = pg->queue && *pg->queue ? pg->queue : grouper_queue(m, p, top);
            g.priority = class_value(m, &classes, pg->priority_class, p->priority, &found);
            if (pg->min_member > 1) g.gang = pg->min_member;
            pre = pg->preemptibility;
        } else {
            g.queue = grouper_queue(m, p, top);
            const char *cls = top ? gf_kvs_get(&top->labels, GF_KAI_PRIORITY_LABEL) : NULL;
            if (!cls) cls = gf_kvs_get(&p->labels, GF_KAI_PRIORITY_LABEL);
            g.priority = class_value(m, &classes, cls, 0, &found);
            if (!found && p->priority_class && *p->priority_class) {
                /* the API server's Priority admission set spec.priority to
                 * this class's value: it stands in for a class not in the
                 * input */
                g.priority = class_value(m, &classes, p->priority_class, p->priority, &found);
                found = true;
            }
            if (!found) {
                bool deployment = top && !strcmp(top->kind, "Deployment");
                g.priority = class_value(m, &classes, deployment ? "inference" : "train",
                                         p->priority, &found);
            }
            if (top) pre = preemptibility_label(&top->labels);
            if (pre == GF_PREEMPT_UNSET) pre = preemptibility_label(&p->labels);
        }
        g.preemptible = g.priority < GF_KAI_NON_PREEMPTIBLE_PRIORITY;
        if (pre == GF_PREEMPT_PREEMPTIBLE) g.preemptible = true;
        if (pre == GF_PREEMPT_NON_PREEMPTIBLE) g.preemptible = false;
        if (gf_strmap_get(&queues, g.queue, &k)) g.queue_idx = (uint32_t)k;
        p->gov = g;
    }
    gf_strmap_free(&groups);
    gf_strmap_free(&queues);
    gf_strmap_free(&classes);
}

gf_err gf_model_finalize(gf_model *m, gf_diags *d, gf_error *err)
{
    (void)err;
    m->gpus.n = 0;
    m->gpu_pods.n = 0;
    /* devices */
    for (size_t i = 0; i < m->nodes.n; i++) {
        gf_node *n = &m->nodes.v[i];
        n->first_gpu = (uint32_t)m->gpus.n;
        if (n->gpu_count && !n->gpu_memory_from_label)
            gf_diag(d, n->origin,
                    "node %s has no usable %s label: KAI counts %d MiB per GPU there, so "
                    "gpu-memory pods do not fit%s",
                    n->name, GF_LABEL_GPU_MEMORY, GF_KAI_DEFAULT_GPU_MEMORY_MIB,
                    n->gpu_memory_display_mib > 0 ? " (the product's memory is shown only)" : "");
        gf_vec_reserve(&m->gpus, m->gpus.n + n->gpu_count);
        for (uint32_t k = 0; k < n->gpu_count; k++) {
            gf_gpu g = {0};
            g.node = (uint32_t)i;
            g.index = (int32_t)k;
            m->gpus.v[m->gpus.n++] = g;
        }
    }
    /* pods -> nodes; pods that cannot be placed are left out */
    bool *drop = gf_xcalloc(m->pods.n + 1, sizeof(bool));
    size_t ndrop = 0;
    for (size_t i = 0; i < m->pods.n; i++) {
        gf_pod *p = &m->pods.v[i];
        if (!p->node_name || !gf_pod_active(p)) continue;
        size_t ni;
        if (!gf_strmap_get(&m->node_by_name, p->node_name, &ni)) {
            gf_diag(d, p->origin,
                    "spec.nodeName: pod %s/%s is bound to node %s, which is not in the input; "
                    "pod skipped",
                    p->ns, p->name, p->node_name);
            m->skipped[GF_SKIP_NODE_MISSING]++;
            drop[i] = true;
            ndrop++;
        } else if (m->nodes.v[ni].gpu_count == 0 && uses_gpu(p)) {
            gf_diag(d, p->origin,
                    "spec.nodeName: pod %s/%s uses GPUs but its node %s has none (no %s label, "
                    "no allocatable %s); pod skipped",
                    p->ns, p->name, p->node_name, GF_LABEL_GPU_COUNT, GF_RES_GPU);
            m->skipped[GF_SKIP_NO_GPU_NODE]++;
            drop[i] = true;
            ndrop++;
        }
    }
    if (ndrop) drop_pods(m, drop);
    free(drop);
    /* owners; bucket active bound pods per node (counting sort) */
    uint32_t *count = gf_xcalloc(m->nodes.n + 1, sizeof(uint32_t));
    for (size_t i = 0; i < m->pods.n; i++) {
        gf_pod *p = &m->pods.v[i];
        p->node = GF_NONE;
        p->gpus = NULL;
        p->n_gpus = 0;
        resolve_owner(m, p);
        size_t ni;
        if (!p->node_name || !gf_strmap_get(&m->node_by_name, p->node_name, &ni)) continue;
        p->node = (uint32_t)ni;
        if (gf_pod_active(p)) count[ni + 1]++;
    }
    resolve_governance(m); /* after the owners: the grouper reads the top owner's labels */
    for (size_t i = 0; i < m->nodes.n; i++)
        count[i + 1] += count[i];
    uint32_t *bucket = gf_xmalloc(sizeof(uint32_t) * (m->pods.n + 1));
    {
        uint32_t *fill = gf_xmalloc(sizeof(uint32_t) * (m->nodes.n + 1));
        memcpy(fill, count, sizeof(uint32_t) * (m->nodes.n + 1));
        for (size_t i = 0; i < m->pods.n; i++) {
            const gf_pod *p = &m->pods.v[i];
            if (p->node != GF_NONE && gf_pod_active(p)) bucket[fill[p->node]++] = (uint32_t)i;
        }
        free(fill);
    }
    node_ctx c = {0};
    c.m = m;
    c.d = d;
    for (size_t i = 0; i < m->nodes.n; i++) {
        c.node = &m->nodes.v[i];
        c.node_idx = (uint32_t)i;
        c.gpus = m->gpus.v ? m->gpus.v + c.node->first_gpu : NULL; /* no GPUs in the input */
        group_node(&c, bucket + count[i], count[i + 1] - count[i]);
    }
    gf_vec_free(&c.members);
    gf_vec_free(&c.pod_gpus);
    free(bucket);
    free(count);
    m->finalized = true;
    return GF_OK;
}

void gf_model_totals(const gf_model *m, uint32_t pool, gf_totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < m->nodes.n; i++) {
        const gf_node *n = &m->nodes.v[i];
        if (pool != GF_NONE && n->pool != pool) continue;
        t->nodes++;
        if (n->gpu_count) t->gpu_nodes++;
        for (uint32_t k = 0; k < n->gpu_count; k++) {
            const gf_gpu *g = &m->gpus.v[n->first_gpu + k];
            t->gpus++;
            switch (g->state) {
            case GF_GPU_IDLE:
                t->gpus_idle++;
                break;
            case GF_GPU_WHOLE:
                t->gpus_whole++;
                break;
            case GF_GPU_SHARED: {
                t->gpus_shared++;
                double a = g->allocated_fraction;
                if (a > 1.0 + GF_OVERCOMMIT_EPS) t->gpus_overcommitted++;
                if (a > 1.0) a = 1.0;
                t->shared_allocated += a;
                t->stranded_free += 1.0 - a;
                break;
            }
            }
        }
    }
    t->allocated_gpus = t->gpus_whole + t->shared_allocated;
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (!gf_pod_active(p)) continue;
        if (pool != GF_NONE) {
            if (p->node == GF_NONE || m->nodes.v[p->node].pool != pool) {
                /* an unbound pod counts towards the pool it selects */
                if (p->node != GF_NONE) continue;
                uint32_t want = 0;
                size_t idx;
                if (p->pool_selector && gf_strmap_get(&m->pool_by_name, p->pool_selector, &idx))
                    want = (uint32_t)idx;
                if (want != pool) continue;
            }
        }
        if (p->is_reservation) {
            t->reservation_pods++;
            continue;
        }
        t->pods++;
        bool gpu = p->share != GF_SHARE_NONE || p->gpu_whole > 0;
        if (gpu && p->node == GF_NONE) {
            t->pods_pending_gpu++;
            continue;
        }
        if (p->share != GF_SHARE_NONE)
            t->pods_sharing++;
        else if (p->gpu_whole)
            t->pods_whole++;
    }
}
