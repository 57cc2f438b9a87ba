/* test_consolidate_gov.c - KAI's governance in consolidation: gangs move
 * whole, non-preemptible pods (moveNonPreemptible, queue quota), required
 * topology domains, spread shards; and a shard's strategy as the packer's
 * default. PodGroups, Queues, PriorityClasses, Topologies and shards are
 * filled in C with the fields of KAI's objects (pkg/apis/scheduling/
 * v2alpha2/podgroup_types.go, v2/queue_types.go, kai/v1alpha1/
 * topology_types.go, kai/v1/schedulingshard_types.go). */
#include "testutil.h"
#include "decide/consolidate.h"
#include "decide/rebalance.h"
#include "io/snapshot.h"
#include "kjson.h"

#include <string.h>

#define L4(name, gpus) KJ_NODE(name, "NVIDIA-L4", "20000", gpus, "16", "", "")
#define L4L(name, gpus, labels) KJ_NODE(name, "NVIDIA-L4", "20000", gpus, "16", labels, "")
/* a fractional pod of ReplicaSet dep-5d4c3b2a19 in PodGroup pg (pod-group-name) */
#define GPOD(name, dep, node, group, frac, pg)                                                     \
    KJ_RUNNING(                                                                                    \
        name, node,                                                                                \
        KJ_OWNER("ReplicaSet", dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group      \
                                                  "\",\"app\":\"" dep "\"},"                       \
                                                  "\"annotations\":{\"gpu-fraction\":\"" frac      \
                                                  "\",\"pod-group-name\":\"" pg "\"}",             \
        "{\"requests\":{\"cpu\":\"1\"}}")
/* the same, opted out of consolidation */
#define GPOD_OPTOUT(name, dep, node, group, frac, pg)                                              \
    KJ_RUNNING(                                                                                    \
        name, node,                                                                                \
        KJ_OWNER("ReplicaSet", dep "-5d4c3b2a19") ",\"labels\":{\"runai-gpu-group\":\"" group      \
                                                  "\",\"app\":\"" dep "\"},"                       \
                                                  "\"annotations\":{\"gpu-fraction\":\"" frac      \
                                                  "\",\"pod-group-name\":\"" pg                    \
                                                  "\",\"gpufrac.io/consolidate\":\"false\"}",      \
        "{\"requests\":{\"cpu\":\"1\"}}")
/* an unowned pod: pins its node, which stays a target */
#define PIN(name, node, group, frac) KJ_SHARED(name, node, group, frac, "")
#define PDB(name, app, allowed)                                                                    \
    "{\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\"},"  \
    "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"" app "\"}}},\"status\":{"                 \
    "\"disruptionsAllowed\":" allowed "}}"

typedef struct fx {
    gf_model m;
    gf_diags d;
    gf_error err;
    gf_consolidation plan;
} fx;

static fx *load(const char *json)
{
    fx *f = test_calloc(1, sizeof *f);
    gf_model_init(&f->m);
    gf_diags_init(&f->d);
    if (gf_snapshot_load_buffer(&f->m, "inline.json", json, strlen(json), &f->d, &f->err))
        fail_msg("load: %s: %s", f->err.where, f->err.msg);
    /* KAI's priority classes as its installation creates them */
    gf_priority_class inference = {"inference", "test", 125};
    gf_priority_class train = {"train", "test", 50};
    gf_vec_push(&f->m.priority_classes, inference);
    gf_vec_push(&f->m.priority_classes, train);
    return f;
}

static void podgroup(fx *f, const char *name, int32_t min_member, const char *priority_class)
{
    gf_podgroup pg;
    memset(&pg, 0, sizeof pg);
    pg.ns = "t";
    pg.name = name;
    pg.origin = "test";
    pg.min_member = min_member;
    pg.queue = "team";
    pg.priority_class = priority_class;
    gf_vec_push(&f->m.podgroups, pg);
}

static void run(fx *f, const gf_consolidate_opts *o)
{
    if (gf_model_finalize(&f->m, &f->d, &f->err)) fail_msg("finalize: %s", f->err.msg);
    gf_consolidate_opts def;
    gf_consolidate_opts_default(&def);
    def.check_index = true;
    assert_int_equal(gf_consolidate(&f->m, o ? o : &def, &f->plan, &f->err), GF_OK);
    assert_int_equal(f->plan.index_mismatches, 0);
}

static void done(fx *f)
{
    gf_consolidation_free(&f->plan);
    gf_diags_free(&f->d);
    gf_model_free(&f->m);
    test_free(f);
}

static bool drained(const fx *f, const char *node)
{
    for (size_t i = 0; i < f->plan.drains.n; i++)
        if (!strcmp(f->m.nodes.v[f->plan.drains.v[i].node].name, node)) return true;
    return false;
}

static const char *kept_reason(const fx *f, const char *node)
{
    for (size_t i = 0; i < f->plan.kept.n; i++)
        if (!strcmp(f->m.nodes.v[f->plan.kept.v[i].node].name, node))
            return f->plan.kept.v[i].reason;
    return NULL;
}

static const gf_move *move_of(const fx *f, const char *pod)
{
    for (size_t i = 0; i < f->plan.moves.n; i++)
        if (!strcmp(f->m.pods.v[f->plan.moves.v[i].pod].name, pod)) return &f->plan.moves.v[i];
    return NULL;
}

static const char *node_of(const fx *f, uint32_t node)
{
    return f->m.nodes.v[node].name;
}

static const char *pin_of(const fx *f, const char *pod)
{
    long i = gf_test_pod(&f->m, "t", pod);
    assert_true(i >= 0);
    return f->plan.pod_pin[i];
}

/* A gang of two (minMember 2) with one pod on a and one on b, where b is
 * pinned by another pod: draining a re-creates the gang's pod on b as well,
 * and both moves are listed under a's drain. Without the rule a's pod alone
 * would move. */
static void test_gang_moves_whole(void **state)
{
    (void)state;
    fx *f = load(KJ_LIST(L4("a", "1") "," L4("b", "1") "," L4("room", "2") ","  //
                         GPOD("g-0", "train", "a", "g1", "0.5", "pg-train") "," //
                         GPOD("g-1", "train", "b", "g2", "0.5", "pg-train") "," //
                         PIN("pinned", "b", "g2", "0.25") "," PIN("r", "room", "g3", "0.1")));
    podgroup(f, "pg-train", 2, "train");
    run(f, NULL);
    assert_int_equal(f->m.pods.v[gf_test_pod(&f->m, "t", "g-0")].gov.gang, 2);
    assert_true(drained(f, "a"));
    assert_int_equal(f->plan.drains.n, 1);
    const gf_move *m0 = move_of(f, "g-0"), *m1 = move_of(f, "g-1");
    assert_non_null(m0);
    assert_non_null(m1);
    assert_string_equal(node_of(f, m0->from_node), "a");
    assert_string_equal(node_of(f, m1->from_node), "b");
    assert_int_equal(f->plan.drains.v[0].n_moves, 2);
    assert_string_equal(kept_reason(f, "b"), "a pod has no controller to recreate it");
    done(f);

    /* minMember 1 is no gang: a's pod moves alone */
    f = load(KJ_LIST(L4("a", "1") "," L4("b", "1") "," L4("room", "2") ","  //
                     GPOD("g-0", "train", "a", "g1", "0.5", "pg-train") "," //
                     GPOD("g-1", "train", "b", "g2", "0.5", "pg-train") "," //
                     PIN("pinned", "b", "g2", "0.25") "," PIN("r", "room", "g3", "0.1")));
    podgroup(f, "pg-train", 1, "train");
    run(f, NULL);
    assert_true(drained(f, "a"));
    assert_non_null(move_of(f, "g-0"));
    assert_null(move_of(f, "g-1"));
    done(f);
}

/* A gang of four with three mates on nodes that are no candidates (each
 * pinned by another pod): every mate moves in the one drain (the plan's
 * per-move lists are sized for them: ASan checks). */
static void test_gang_mates_off_candidates(void **state)
{
    (void)state;
    fx *f = load(KJ_LIST(L4("a", "1") "," L4("b", "1") "," L4("c", "1") "," L4("d", "1") "," //
                         L4("room", "4") ","                                                 //
                         GPOD("g-0", "train", "a", "g1", "0.5", "pg-train") ","              //
                         GPOD("g-1", "train", "b", "g2", "0.5", "pg-train") ","              //
                         GPOD("g-2", "train", "c", "g3", "0.5", "pg-train") ","              //
                         GPOD("g-3", "train", "d", "g4", "0.5", "pg-train") ","              //
                         PIN("pb", "b", "g2", "0.3") "," PIN("pc", "c", "g3", "0.3") ","     //
                         PIN("pd", "d", "g4", "0.3") "," PIN("r", "room", "g5", "0.1")));
    podgroup(f, "pg-train", 4, "train");
    run(f, NULL);
    assert_true(drained(f, "a"));
    assert_int_equal(f->plan.moves.n, 4);
    static const char *pods[] = {"g-0", "g-1", "g-2", "g-3"};
    for (int i = 0; i < 4; i++)
        assert_non_null(move_of(f, pods[i]));
    done(f);
}

/* One member that cannot move pins the whole gang; the gang's moves count
 * against the disruption limits like any other. */
static void test_gang_pinned_and_limits(void **state)
{
    (void)state;
    const char *gang_reason = "a pod of a gang (PodGroup minMember > 1) with a member that cannot "
                              "move: a gang moves whole or not at all";
    fx *f = load(KJ_LIST(L4("a", "1") "," L4("b", "1") "," L4("room", "2") ","         //
                         GPOD("g-0", "train", "a", "g1", "0.5", "pg-train") ","        //
                         GPOD_OPTOUT("g-1", "train", "b", "g2", "0.5", "pg-train") "," //
                         PIN("r", "room", "g3", "0.1")));
    podgroup(f, "pg-train", 2, "train");
    run(f, NULL);
    assert_false(drained(f, "a"));
    assert_string_equal(kept_reason(f, "a"), gang_reason);
    assert_string_equal(pin_of(f, "g-0"), gang_reason);
    assert_string_equal(pin_of(f, "g-1"), "a pod opted out (gpufrac.io/consolidate: \"false\")");
    done(f);

    /* a PDB allowing one disruption cannot cover a gang of two */
    const char *json = KJ_LIST(L4("a", "1") "," L4("b", "1") "," L4("room", "2") ","  //
                               GPOD("g-0", "train", "a", "g1", "0.5", "pg-train") "," //
                               GPOD("g-1", "train", "b", "g2", "0.5", "pg-train") "," //
                               PIN("pinned", "b", "g2", "0.25") ","                   //
                               PIN("r", "room", "g3", "0.1") "," PDB("train", "train", "1"));
    f = load(json);
    podgroup(f, "pg-train", 2, "train");
    run(f, NULL);
    assert_false(drained(f, "a"));
    assert_string_equal(kept_reason(f, "a"), "a PodDisruptionBudget allows no more disruptions");
    assert_int_equal(f->plan.moves.n, 0);
    done(f);
    /* and the per-workload move limit likewise */
    f = load(KJ_LIST(L4("a", "1") "," L4("b", "1") "," L4("room", "2") ","  //
                     GPOD("g-0", "train", "a", "g1", "0.5", "pg-train") "," //
                     GPOD("g-1", "train", "b", "g2", "0.5", "pg-train") "," //
                     PIN("pinned", "b", "g2", "0.25") "," PIN("r", "room", "g3", "0.1")));
    podgroup(f, "pg-train", 2, "train");
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.check_index = true;
    o.max_moves_per_workload = 1;
    run(f, &o);
    assert_false(drained(f, "a"));
    assert_string_equal(kept_reason(f, "a"), "the workload's move limit would be exceeded");
    done(f);
}

/* Non-preemptible pods (PodGroup priority class inference, 125): a single
 * replica stays by default, moves under "always", stays under "never"; a PDB
 * makes it movable; two replicas on two nodes: only one may move. */
static void test_non_preemptible(void **state)
{
    (void)state;
    const char *single =
        KJ_LIST(L4("a", "1") "," L4("room", "2") "," //
                GPOD("s-0", "svc", "a", "g1", "0.5", "pg-svc") "," PIN("r", "room", "g3", "0.1"));
    fx *f = load(single);
    podgroup(f, "pg-svc", 1, "inference");
    run(f, NULL);
    assert_false(f->m.pods.v[gf_test_pod(&f->m, "t", "s-0")].gov.preemptible);
    assert_false(drained(f, "a"));
    const char *single_reason = "a non-preemptible pod is its workload's only running replica and "
                                "no PodDisruptionBudget covers it (moveNonPreemptible: replicated)";
    assert_string_equal(kept_reason(f, "a"), single_reason);
    assert_string_equal(pin_of(f, "s-0"), single_reason);
    done(f);

    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    o.check_index = true;
    o.move_non_preemptible = GF_MOVE_NP_ALWAYS;
    f = load(single);
    podgroup(f, "pg-svc", 1, "inference");
    run(f, &o);
    assert_true(drained(f, "a"));
    done(f);

    /* preemptible (priority class train, 50): moves under the default */
    f = load(single);
    podgroup(f, "pg-svc", 1, "train");
    run(f, NULL);
    assert_true(drained(f, "a"));
    done(f);

    /* a PDB that allows the disruption */
    f = load(KJ_LIST(L4("a", "1") "," L4("room", "2") ","               //
                     GPOD("s-0", "svc", "a", "g1", "0.5", "pg-svc") "," //
                     PIN("r", "room", "g3", "0.1") "," PDB("svc", "svc", "1")));
    podgroup(f, "pg-svc", 1, "inference");
    run(f, NULL);
    assert_true(drained(f, "a"));
    done(f);
    o.move_non_preemptible = GF_MOVE_NP_NEVER;                          /* never: not even then */
    f = load(KJ_LIST(L4("a", "1") "," L4("room", "2") ","               //
                     GPOD("s-0", "svc", "a", "g1", "0.5", "pg-svc") "," //
                     PIN("r", "room", "g3", "0.1") "," PDB("svc", "svc", "1")));
    podgroup(f, "pg-svc", 1, "inference");
    run(f, &o);
    assert_false(drained(f, "a"));
    assert_string_equal(
        kept_reason(f, "a"),
        "a non-preemptible pod (KAI priority >= 100) and moveNonPreemptible: never");
    done(f);

    /* two replicas on two nodes, room for both: one of them moves, the other
     * keeps the service up */
    f = load(
        KJ_LIST(L4("a", "1") "," L4("b", "1") "," L4("room", "2") "," //
                GPOD("s-0", "svc", "a", "g1", "0.4", "pg-s0") ","     //
                GPOD("s-1", "svc", "b", "g2", "0.4", "pg-s1") "," PIN("r", "room", "g3", "0.1")));
    podgroup(f, "pg-s0", 1, "inference");
    podgroup(f, "pg-s1", 1, "inference");
    run(f, NULL);
    assert_int_equal(f->plan.drains.n, 1);
    assert_int_equal(f->plan.moves.n, 1);
    const char *other = drained(f, "a") ? "b" : "a";
    assert_string_equal(kept_reason(f, other),
                        "moving it would leave its non-preemptible workload without a running "
                        "replica (moveNonPreemptible: replicated)");
    done(f);
}

static void queue(fx *f, const char *name, const char *parent, double gpu_quota)
{
    gf_queue q;
    memset(&q, 0, sizeof q);
    q.name = name;
    q.origin = "test";
    q.parent = parent;
    q.gpu.quota = gpu_quota;
    q.cpu.quota = -1;
    q.memory.quota = -1;
    q.priority = 100;
    gf_vec_push(&f->m.queues, q);
}

/* A non-preemptible pod moves only while its queue and every parent are
 * within their GPU quota for non-preemptible use (KAI would not admit the
 * re-created pod otherwise). */
static void test_non_preemptible_queue_quota(void **state)
{
    (void)state;
    const char *json = KJ_LIST(L4("a", "1") "," L4("room", "2") ","               //
                               GPOD("s-0", "svc", "a", "g1", "0.5", "pg-svc") "," //
                               PIN("r", "room", "g3", "0.1") "," PDB("svc", "svc", "1"));
    const char *quota_reason = "a non-preemptible pod's queue (or a parent) is over its quota: KAI "
                               "would not admit the re-created pod";
    fx *f = load(json);
    podgroup(f, "pg-svc", 1, "inference");
    queue(f, "team", "dept", 1);
    queue(f, "dept", NULL, 0.25); /* the parent is over: 0.5 of 0.25 */
    run(f, NULL);
    assert_false(drained(f, "a"));
    assert_string_equal(kept_reason(f, "a"), quota_reason);
    done(f);

    f = load(json);
    podgroup(f, "pg-svc", 1, "inference");
    queue(f, "team", "dept", 1);
    queue(f, "dept", NULL, -1); /* unlimited */
    run(f, NULL);
    assert_true(drained(f, "a"));
    done(f);

    /* the queue's status says more is allocated than the snapshot shows */
    f = load(json);
    podgroup(f, "pg-svc", 1, "inference");
    queue(f, "team", NULL, 1);
    f->m.queues.v[0].has_status = true;
    f->m.queues.v[0].alloc_np_gpu = 1.5;
    run(f, NULL);
    assert_false(drained(f, "a"));
    assert_string_equal(kept_reason(f, "a"), quota_reason);
    done(f);
}

static void topology(fx *f, const char *name)
{
    gf_topology t;
    memset(&t, 0, sizeof t);
    t.name = name;
    t.origin = "test";
    static const char *levels[] = {"topology.kubernetes.io/zone",
                                   "cloud.provider.com/topology-rack", "kubernetes.io/hostname"};
    t.levels = levels;
    t.n_levels = 3;
    gf_vec_push(&f->m.topologies, t);
}

#define ZONE(z, r)                                                                                 \
    ",\"topology.kubernetes.io/zone\":\"" z "\",\"cloud.provider.com/topology-rack\":\"" r "\""

/* A pod whose PodGroup requires level zone goes to a node of its zone (near,
 * emptier) rather than the fullest node (far, in another zone, which binpack
 * prefers otherwise); level rack: no node of its rack has room. Unknown
 * Topology: the pod stays. */
static void test_topology(void **state)
{
    (void)state;
    const char *json =
        KJ_LIST(L4L("a", "1", ZONE("z1", "r1") ",\"kubernetes.io/hostname\":\"a\"") ","       //
                L4L("near", "2", ZONE("z1", "r2") ",\"kubernetes.io/hostname\":\"near\"") "," //
                L4L("far", "2", ZONE("z2", "r3") ",\"kubernetes.io/hostname\":\"far\"") ","   //
                L4L("nolabel", "2", ZONE("z1", "r1")) ","                                     //
                GPOD("t-0", "svc", "a", "g1", "0.5", "pg-t") ","                              //
                PIN("n", "near", "g2", "0.1") "," PIN("f", "far", "g3", "0.9") ","            //
                PIN("f2", "far", "g4", "0.5") "," PIN("x", "nolabel", "g5", "0.6") ","        //
                PIN("x2", "nolabel", "g6", "0.6"));
    /* no constraint: binpack takes the fullest node with room, far */
    fx *f = load(json);
    podgroup(f, "pg-t", 1, "train");
    run(f, NULL);
    assert_true(drained(f, "a"));
    assert_string_equal(node_of(f, move_of(f, "t-0")->to.node), "far");
    done(f);

    f = load(json);
    podgroup(f, "pg-t", 1, "train");
    f->m.podgroups.v[0].topology = "default";
    f->m.podgroups.v[0].required_level = "topology.kubernetes.io/zone";
    topology(f, "default");
    run(f, NULL);
    assert_true(drained(f, "a"));
    /* nolabel is in zone z1 but lacks the hostname level: outside the topology */
    assert_string_equal(node_of(f, move_of(f, "t-0")->to.node), "near");
    done(f);

    f = load(json);
    podgroup(f, "pg-t", 1, "train");
    f->m.podgroups.v[0].topology = "default";
    f->m.podgroups.v[0].required_level = "cloud.provider.com/topology-rack";
    topology(f, "default");
    run(f, NULL);
    assert_false(drained(f, "a"));
    assert_string_equal(kept_reason(f, "a"), "a pod fits on no other node of its pool");
    /* the explanation names the topology for the nodes outside the domain */
    gf_consolidate_opts o;
    gf_consolidate_opts_default(&o);
    gf_fit_reason *why = NULL;
    size_t n =
        gf_consolidate_explain(&f->m, &f->plan, &o, (uint32_t)gf_test_pod(&f->m, "t", "t-0"), &why);
    size_t outside = 0;
    for (size_t i = 0; i < n; i++)
        outside +=
            why[i].why && !strcmp(why[i].why, "node is outside the pod's required topology domain");
    assert_int_equal(outside, 3);
    free(why);
    done(f);

    /* the Topology is not in the input: the pod is pinned */
    f = load(json);
    podgroup(f, "pg-t", 1, "train");
    f->m.podgroups.v[0].topology = "default";
    f->m.podgroups.v[0].required_level = "topology.kubernetes.io/zone";
    run(f, NULL);
    assert_false(drained(f, "a"));
    assert_string_equal(kept_reason(f, "a"), "a pod's PodGroup requires a topology domain whose "
                                             "Topology is not in the input");
    done(f);
}

#define POOL(p) ",\"kai.scheduler/node-pool\":\"" p "\""

static void shard(fx *f, const char *name, const char *value, gf_placement_strategy gpu)
{
    gf_shard s;
    memset(&s, 0, sizeof s);
    s.name = name;
    s.origin = "test";
    s.partition_value = value;
    s.gpu = gpu;
    s.cpu = GF_PLACE_BINPACK;
    gf_vec_push(&f->m.shards, s);
}

/* Nodes of a pool whose shard places by spread are never drained; a binpack
 * shard's pool is; and gf_pack_place() places a new pod of the spread pool
 * on its emptiest node. */
static void test_spread_shard(void **state)
{
    (void)state;
    const char *json = KJ_LIST(
        L4L("s1", "1", POOL("inf")) "," L4L("s2", "2", POOL("inf")) ","                     //
        L4L("b1", "1", POOL("batch")) "," L4L("b2", "2", POOL("batch")) ","                 //
        KJ_SHARED("x", "s1", "g1", "0.3", "") "," KJ_SHARED("y", "s2", "g2", "0.3", "") "," //
        GPOD("i-0", "inf", "s1", "g1", "0.2", "pg-i") ","                                   //
        GPOD("b-0", "bat", "b1", "g3", "0.2", "pg-b") ","                                   //
        KJ_SHARED("z", "b2", "g4", "0.3", ""));
    fx *f = load(json);
    podgroup(f, "pg-i", 1, "train");
    podgroup(f, "pg-b", 1, "train");
    shard(f, "inference", "inf", GF_PLACE_SPREAD);
    shard(f, "batch", "batch", GF_PLACE_BINPACK);
    /* x and y pin s1 and s2 already; make s1 movable but for the shard */
    run(f, NULL);
    assert_true(drained(f, "b1"));
    const char *spread = "its node pool's SchedulingShard places by spread: KAI runs no "
                         "consolidation there";
    assert_string_equal(kept_reason(f, "s1"), spread);
    assert_string_equal(kept_reason(f, "s2"), spread);

    /* the packer: binpack asked, the shard says spread: the emptiest GPU */
    gf_pack_state *s = gf_pack_state_new(&f->m);
    const gf_pod *p = &f->m.pods.v[gf_test_pod(&f->m, "t", "i-0")];
    assert_int_equal(gf_pack_pool_scorer(&f->m, p, GF_SCORE_BINPACK), GF_SCORE_SPREAD);
    assert_int_equal(gf_pack_pool_scorer(&f->m, p, GF_SCORE_BESTFIT), GF_SCORE_BESTFIT);
    gf_placement pl;
    assert_int_equal(gf_pack_place(s, p, GF_SCORE_BINPACK, NULL, &pl), GF_OK);
    assert_string_equal(node_of(f, pl.node), "s2");
    const gf_pod *q = &f->m.pods.v[gf_test_pod(&f->m, "t", "b-0")];
    assert_int_equal(gf_pack_pool_scorer(&f->m, q, GF_SCORE_BINPACK), GF_SCORE_BINPACK);
    assert_int_equal(gf_pack_place(s, q, GF_SCORE_BINPACK, NULL, &pl), GF_OK);
    assert_string_equal(node_of(f, pl.node), "b1");
    gf_pack_state_free(s);
    done(f);
}

/* Topology objects as kubectl prints them load (levels top down); one
 * without levels is skipped with a warning naming it; a level of the wrong
 * type is an input error with its JSON path; another API group's Topology
 * (Kueue's has the same shape) is not KAI's. */
static void test_topology_load(void **state)
{
    (void)state;
#define TOPO(api, name, levels)                                                                    \
    "{\"apiVersion\":\"" api "\",\"kind\":\"Topology\",\"metadata\":{\"name\":\"" name "\"},"      \
    "\"spec\":{\"levels\":" levels "}}"
    const char *json =
        KJ_LIST(TOPO("kai.scheduler/v1alpha1", "default",
                     "[{\"nodeLabel\":\"topology.kubernetes.io/zone\"},{\"nodeLabel\":"
                     "\"cloud.provider.com/topology-rack\"},{\"nodeLabel\":\"kubernetes.io/"
                     "hostname\"}]") "," TOPO("kai.scheduler/v1alpha1", "empty",
                                              "[]") "," TOPO("kueue.x-k8s.io/v1beta1", "kueue",
                                                             "[{\"nodeLabel\":\"rack\"}]"));
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    assert_int_equal(gf_snapshot_load_buffer(&m, "topo.json", json, strlen(json), &d, &err), GF_OK);
    assert_int_equal(m.topologies.n, 1);
    assert_string_equal(m.topologies.v[0].name, "default");
    assert_int_equal(m.topologies.v[0].n_levels, 3);
    assert_string_equal(m.topologies.v[0].levels[0], "topology.kubernetes.io/zone");
    assert_string_equal(m.topologies.v[0].levels[2], "kubernetes.io/hostname");
    assert_true(gf_test_diag_has(
        &d, "topo.json: items[1].spec: Topology empty: no levels; Topology skipped"));
    assert_true(gf_test_diag_has(&d, "kind Topology is not used by gpufrac"));
    gf_diags_free(&d);
    gf_model_free(&m);

    const char *bad = KJ_LIST(TOPO("kai.scheduler/v1alpha1", "t", "[{\"nodeLabel\":7}]"));
    gf_model_init(&m);
    gf_diags_init(&d);
    assert_int_equal(gf_snapshot_load_buffer(&m, "bad.json", bad, strlen(bad), &d, &err),
                     GF_EINPUT);
    assert_string_equal(err.where, "bad.json: items[0].spec.levels[0].nodeLabel");
    assert_non_null(strstr(err.msg, "Topology t: expected a string, got an integer"));
    gf_diags_free(&d);
    gf_model_free(&m);
#undef TOPO
}

/* Rebalance and fair-use moves (one pod at a time): a gang's pod never
 * moves alone; a non-preemptible single replica moves under the view's
 * default (always), stays under replicated, where of two replicas one may
 * move, then the other stays; never keeps them all. */
static void test_rebalance_governance(void **state)
{
    (void)state;
    fx *f = load(KJ_LIST(L4("a", "2") "," L4("b", "2") ","                      //
                         GPOD("g-0", "train", "a", "g1", "0.5", "pg-train") "," //
                         GPOD("g-1", "train", "b", "g2", "0.5", "pg-train") "," //
                         GPOD("s-0", "svc", "a", "g3", "0.2", "pg-s0") ","      //
                         GPOD("r-0", "rep", "a", "g3", "0.2", "pg-r0") ","      //
                         GPOD("r-1", "rep", "b", "g4", "0.2", "pg-r1") ","      //
                         GPOD("p-0", "pre", "b", "g4", "0.2", "pg-p0")));
    podgroup(f, "pg-train", 2, "train");
    podgroup(f, "pg-s0", 1, "inference");
    podgroup(f, "pg-r0", 1, "inference");
    podgroup(f, "pg-r1", 1, "inference");
    podgroup(f, "pg-p0", 1, "train");
    if (gf_model_finalize(&f->m, &f->d, &f->err)) fail_msg("finalize: %s", f->err.msg);
    gf_rebalance_view v;
    assert_int_equal(gf_rebalance_view_init(&v, &f->m, NULL, NULL, &f->err), GF_OK);
#define POD(n) ((uint32_t)gf_test_pod(&f->m, "t", n))
    const char *why = NULL;
    assert_true(gf_rebalance_movable(&v, POD("g-0"), &why)); /* by owner, yes */
    assert_false(gf_rebalance_evictable(&v, POD("g-0"), &why));
    assert_string_equal(why, GF_GOV_GANG_ALONE);
    /* the default for one-pod moves is always: a lone replica may move */
    assert_true(gf_rebalance_evictable(&v, POD("s-0"), &why));
    v.move_np = GF_MOVE_NP_REPLICATED;
    assert_false(gf_rebalance_evictable(&v, POD("s-0"), &why));
    assert_string_equal(why, GF_GOV_NP_SINGLE);
    assert_true(gf_rebalance_evictable(&v, POD("p-0"), &why));
    assert_true(gf_rebalance_evictable(&v, POD("r-0"), &why));
    /* r-0 moves: r-1 must stay to keep the service up */
    gf_rebalance_need nd;
    assert_true(gf_rebalance_need_of(&v, POD("r-0"), &nd));
    gf_placement to;
    char where[400];
    const gf_pod *r0 = &f->m.pods.v[POD("r-0")];
    assert_true(
        gf_rebalance_target(&v, r0, &nd, false, GF_SCORE_BINPACK, &to, where, sizeof where));
    gf_rebalance_commit(&v, r0, r0, &nd, &to);
    assert_false(gf_rebalance_evictable(&v, POD("r-1"), &why));
    assert_string_equal(why, GF_GOV_NP_LAST);
    gf_rebalance_uncommit(&v, r0, r0, &nd, &to);
    assert_true(gf_rebalance_evictable(&v, POD("r-1"), &why));
    v.move_np = GF_MOVE_NP_ALWAYS;
    assert_true(gf_rebalance_evictable(&v, POD("s-0"), &why));
    v.move_np = GF_MOVE_NP_NEVER;
    assert_false(gf_rebalance_evictable(&v, POD("r-0"), &why));
    assert_string_equal(why, GF_GOV_NP_NEVER);
#undef POD
    gf_rebalance_view_free(&v);
    gf_diags_free(&f->d);
    gf_model_free(&f->m);
    test_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gang_moves_whole),
        cmocka_unit_test(test_gang_mates_off_candidates),
        cmocka_unit_test(test_gang_pinned_and_limits),
        cmocka_unit_test(test_non_preemptible),
        cmocka_unit_test(test_non_preemptible_queue_quota),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_spread_shard),
        cmocka_unit_test(test_topology_load),
        cmocka_unit_test(test_rebalance_governance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
