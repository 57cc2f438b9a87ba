/* test_controller.c - the controller's decision step (decide/controller.h) on
 * hand-made clusters: policy modes, never touching unselected workloads,
 * stale usage, the global rate limit, the disruption budget per rule,
 * cooldowns seeded from gpufrac.io/last-change annotations, rollouts in
 * progress, fair use (report and act), consolidation one node at a time;
 * and the loop iteration through an in-memory backend: what is written,
 * dry runs, lost leadership, failed writes, restarts. */
#include "testutil.h"
#include "decide/controller.h"
#include "io/kube/controller_metrics.h"
#include "io/policy_yaml.h"
#include "kjson.h"
#include "util/sbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB 1073741824.0
#define MIN 60.0
#define HOUR 3600.0
#define NOW 1795700000.0 /* 2026-11-26T13:33:20Z */
#define PH "apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\n"
#define AUTO PH "defaults: {mode: auto, maxDisruptionsPerHour: 10}\n"

/* --- clusters ------------------------------------------------------------------------- */

/* Two L4 nodes (2 GPUs each); workloads are added with wl(). */
static void cluster_begin(gf_sbuf *b)
{
    gf_sbuf_puts(b,
                 "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[" KJ_NODE(
                     "n1", "NVIDIA-L4", "23034", "2", "16", ",\"pool\":\"a\"",
                     "") "," KJ_NODE("n2", "NVIDIA-L4", "23034", "2", "16", ",\"pool\":\"a\"", ""));
}

/* A Deployment (kind "Deployment") or StatefulSet with one pod on node in
 * GPU group; tmpl: extra template annotations (",\"k\":\"v\""); pod_frac
 * the pod's gpu-fraction (the template's is frac). */
static void wl_c(gf_sbuf *b, const char *kind, const char *name, const char *frac,
                 const char *pod_frac, const char *node, const char *group, const char *tmpl,
                 const char *container);

static void wl(gf_sbuf *b, const char *kind, const char *name, const char *frac,
               const char *pod_frac, const char *node, const char *group, const char *tmpl)
{
    wl_c(b, kind, name, frac, pod_frac, node, group, tmpl, "");
}

/* The same; container: extra fields of the pod's container (",\"image\":..."). */
static void wl_c(gf_sbuf *b, const char *kind, const char *name, const char *frac,
                 const char *pod_frac, const char *node, const char *group, const char *tmpl,
                 const char *container)
{
    bool sts = !strcmp(kind, "StatefulSet");
    gf_sbuf_printf(b,
                   ",{\"kind\":\"%s\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"%s\","
                   "\"namespace\":\"t\",\"uid\":\"uid-%s\"},\"spec\":{\"replicas\":1,"
                   "\"template\":{\"metadata\":{\"annotations\":{\"gpu-fraction\":\"%s\"%s}}}}}",
                   kind, name, name, frac, tmpl);
    char owner[200], pod[200];
    if (sts) {
        snprintf(owner, sizeof owner, "StatefulSet\",\"name\":\"%s", name);
        snprintf(pod, sizeof pod, "%s-0", name);
    } else {
        gf_sbuf_printf(b,
                       ",{\"kind\":\"ReplicaSet\",\"apiVersion\":\"apps/v1\",\"metadata\":{"
                       "\"name\":\"%s-6d5f7c8b9a\",\"namespace\":\"t\",\"ownerReferences\":[{"
                       "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"%s\","
                       "\"controller\":true}]},\"spec\":{}}",
                       name, name);
        snprintf(owner, sizeof owner, "ReplicaSet\",\"name\":\"%s-6d5f7c8b9a", name);
        snprintf(pod, sizeof pod, "%s-6d5f7c8b9a-x%s", name, "1a2b");
    }
    gf_sbuf_printf(b,
                   ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"t\","
                   "\"uid\":\"pod-%s\",\"labels\":{\"app\":\"%s\",\"runai-gpu-group\":\"%s\"},"
                   "\"annotations\":{\"gpu-fraction\":\"%s\"},\"ownerReferences\":[{"
                   "\"apiVersion\":\"apps/v1\",\"kind\":\"%s\",\"controller\":true}]},"
                   "\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\",\"resources\":"
                   "{\"requests\":{\"cpu\":\"1\"}}%s}]},\"status\":{\"phase\":\"Running\"}}",
                   pod, name, name, group, pod_frac, owner, node, container);
}

static void pdb(gf_sbuf *b, const char *name, const char *app, int allowed)
{
    gf_sbuf_printf(b,
                   ",{\"kind\":\"PodDisruptionBudget\",\"apiVersion\":\"policy/v1\",\"metadata\":{"
                   "\"name\":\"%s\",\"namespace\":\"t\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                   "\"app\":\"%s\"}}},\"status\":{\"disruptionsAllowed\":%d}}",
                   name, app, allowed);
}

static void cluster_end(gf_sbuf *b)
{
    gf_sbuf_puts(b, "]}");
}

/* --- fixture ----------------------------------------------------------------------------- */

typedef struct fx {
    gf_model m;
    gf_diags d;
    gf_history h;
    gf_policy p;
    gf_ctl_config cfg;
    gf_ctl_state st;
    gf_ctl_plan plan;
    gf_ctl_meta meta;
    GF_VEC(gf_usage_sample) samples;
} fx;

static void fx_init(fx *f, const char *json, const char *policy)
{
    memset(f, 0, sizeof *f);
    gf_model_init(&f->m);
    gf_diags_init(&f->d);
    gf_error err = {0};
    if (gf_test_load_text(&f->m, &f->d, &err, json)) fail_msg("load: %s: %s", err.where, err.msg);
    assert_int_equal(gf_history_init(&f->h, NULL, &err), GF_OK);
    gf_policy_init(&f->p);
    if (policy && gf_policy_load_buffer(&f->p, "policy.yaml", policy, strlen(policy), &err))
        fail_msg("policy: %s: %s", err.where, err.msg);
    gf_ctl_config_default(&f->cfg);
    gf_ctl_state_init(&f->st);
    gf_ctl_plan_init(&f->plan);
    f->meta.w = gf_arena_alloc(&f->m.arena, (f->m.workloads.n + 1) * sizeof(gf_ctl_wmeta));
}

static void fx_free(fx *f)
{
    gf_ctl_plan_free(&f->plan);
    gf_ctl_state_free(&f->st);
    gf_policy_free(&f->p);
    gf_history_free(&f->h);
    gf_diags_free(&f->d);
    gf_model_free(&f->m);
    gf_vec_free(&f->samples);
}

static uint32_t wl_index(const gf_model *m, const char *kind, const char *name)
{
    char key[300];
    size_t i;
    snprintf(key, sizeof key, "%s/t/%s", kind, name);
    if (!gf_strmap_get(&m->workload_by_key, key, &i)) fail_msg("no workload %s", key);
    return (uint32_t)i;
}

static gf_ctl_wmeta *meta_of(fx *f, const char *kind, const char *name)
{
    return &f->meta.w[wl_index(&f->m, kind, name)];
}

/* One sample a minute for workload kind/name in [t0, t1]: memory GiB, SM share. */
static void feed(fx *f, const char *kind, const char *name, double t0, double t1, double mem_gib,
                 double sm)
{
    char key[300];
    snprintf(key, sizeof key, "t/%s/%s", kind, name);
    gf_error err;
    for (double t = t0; t <= t1; t += MIN) {
        assert_int_equal(gf_history_add(&f->h, key, GF_SIG_MEMORY, t, mem_gib * GIB, &err), GF_OK);
        if (sm >= 0) assert_int_equal(gf_history_add(&f->h, key, GF_SIG_SM, t, sm, &err), GF_OK);
    }
}

/* chat at 9 GiB, then 10.5 GiB (93% of 11.25 GiB) over the last 5 minutes:
 * a new peak in the trigger band, which upsizes (upsize.newPeak; flat at
 * 93% it would not) */
static void feed_rising(fx *f, const char *name)
{
    feed(f, "Deployment", name, NOW - 10 * MIN, NOW - 6 * MIN, 9, -1);
    feed(f, "Deployment", name, NOW - 5 * MIN, NOW - MIN, 10.5, -1);
}

/* kind/name at 0.9 x mem_gib until 6 minutes before t1, then mem_gib over
 * the last 5 minutes: a new peak (upsize.newPeak: flat in the trigger band
 * a service is served by what it has; a new peak upsizes) */
static void feed_up(fx *f, const char *kind, const char *name, double t1, double mem_gib)
{
    feed(f, kind, name, t1 - 10 * MIN, t1 - 6 * MIN, 0.9 * mem_gib, -1);
    feed(f, kind, name, t1 - 5 * MIN, t1, mem_gib, -1);
}

/* The latest per-pod sample (fair use reads these). */
static void sample(fx *f, const char *pod, double t, double mem_gib, double sm)
{
    gf_usage_sample s = {t, "t", pod, "c", "GPU-x", mem_gib * GIB, sm};
    gf_vec_push(&f->samples, s);
}

static void decide_at(fx *f, double now)
{
    gf_ctl_input in = {
        &f->m, &f->meta, &f->h, &f->p, f->samples.v, f->samples.n, gf_history_newest(&f->h), now};
    gf_error err = {0};
    if (gf_ctl_decide(&f->cfg, &in, &f->st, &f->plan, &err))
        fail_msg("decide: %s: %s", err.where, err.msg);
}

static const gf_ctl_action *find(const gf_ctl_plan *p, gf_ctl_kind kind, const char *name)
{
    for (size_t i = 0; i < p->actions.n; i++)
        if (p->actions.v[i].kind == kind && strstr(p->actions.v[i].target.name, name))
            return &p->actions.v[i];
    return NULL;
}

static size_t count(const gf_ctl_plan *p, gf_ctl_kind kind, gf_ctl_hold hold)
{
    size_t n = 0;
    for (size_t i = 0; i < p->actions.n; i++)
        n += p->actions.v[i].kind == kind && p->actions.v[i].hold == hold;
    return n;
}

static void dump(const gf_ctl_plan *p)
{
    for (size_t i = 0; i < p->actions.n; i++)
        print_message("  %s %s %s: %s\n", gf_ctl_kind_name(p->actions.v[i].kind),
                      gf_ctl_hold_name(p->actions.v[i].hold), p->actions.v[i].target.name,
                      p->actions.v[i].message);
}

/* chat (auto through the policy) and embed (annotated recommend) share n1's
 * first GPU; quiet shares n2's alone. */
static char *basic_cluster(const char *chat_frac, const char *chat_pod_frac)
{
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    wl(&b, "Deployment", "chat", chat_frac, chat_pod_frac, "n1", "g1", "");
    wl(&b, "Deployment", "embed", "0.5", "0.5", "n1", "g1",
       ",\"gpufrac.io/rightsize\":\"recommend\"");
    wl(&b, "Deployment", "quiet", "0.5", "0.5", "n2", "g2", "");
    cluster_end(&b);
    return b.s;
}

/* --- tests: modes ------------------------------------------------------------------------------
 */

/* Memory near the allocation: auto resizes at once (no history needed), with
 * the last-change record in the same action; recommend mode only publishes. */
static void test_auto_and_recommend(void **state)
{
    (void)state;
    char *json = basic_cluster("0.5", "0.5");
    fx f;
    fx_init(&f, json, AUTO);
    feed_rising(&f, "chat");                                            /* 93% of 11.25 GiB */
    feed(&f, "Deployment", "embed", NOW - 26 * HOUR, NOW - MIN, 2, -1); /* downsize */
    feed(&f, "Deployment", "quiet", NOW - 10 * MIN, NOW - MIN, 6, -1);  /* fits */
    decide_at(&f, NOW);
    if (f.plan.actions.n != 2) dump(&f.plan);
    assert_int_equal(f.plan.actions.n, 2);
    assert_false(f.plan.stale);
    const gf_ctl_action *a = find(&f.plan, GF_CTL_RESIZE, "chat");
    assert_non_null(a);
    assert_int_equal(a->hold, GF_CTL_GO);
    assert_int_equal(a->reason, GF_CTL_R_UPSIZE);
    assert_string_equal(a->target.kind, "Deployment");
    assert_string_equal(a->unit_key, "gpu-fraction");
    assert_string_equal(a->from, "0.5");
    assert_string_equal(a->to, "0.55");
    assert_non_null(
        strstr(a->last_change, "2026-11-26T13:33:20Z gpu-fraction 0.5 -> 0.55 (upsize): "));
    assert_string_equal(a->event_reason, "GPUAllocationUpsized");
    assert_null(find(&f.plan, GF_CTL_RESIZE, "embed"));
    a = find(&f.plan, GF_CTL_RECOMMEND, "embed");
    assert_non_null(a);
    assert_int_equal(a->hold, GF_CTL_GO);
    assert_non_null(
        strstr(a->recommendation, "gpu-fraction 0.5 -> 0.25 (downsize, confidence 1.00): "));
    assert_string_equal(a->event_reason, "GPUAllocationRecommended");
    assert_null(find(&f.plan, GF_CTL_RESIZE, "quiet"));
    /* every workload has a recommendation for the gauges */
    assert_int_equal(f.plan.recs.n, 3);

    /* the same recommendation already published: nothing new; the resize stays */
    meta_of(&f, "Deployment", "embed")->recommendation =
        "gpu-fraction 0.5 -> 0.25 (downsize, confidence 1.00): old words";
    decide_at(&f, NOW);
    assert_null(find(&f.plan, GF_CTL_RECOMMEND, "embed"));
    assert_non_null(find(&f.plan, GF_CTL_RESIZE, "chat"));
    /* a different one published earlier: replaced */
    meta_of(&f, "Deployment", "embed")->recommendation =
        "gpu-fraction 0.5 -> 0.3 (downsize, confidence 0.50): older";
    decide_at(&f, NOW);
    assert_non_null(find(&f.plan, GF_CTL_RECOMMEND, "embed"));
    /* quiet fits: an old recommendation on it is removed */
    meta_of(&f, "Deployment", "quiet")->recommendation = "gpu-fraction 0.5 -> 0.3 (downsize): x";
    decide_at(&f, NOW);
    a = find(&f.plan, GF_CTL_RECOMMEND, "quiet");
    assert_non_null(a);
    assert_int_equal(a->reason, GF_CTL_R_RECOMMEND_CLEAR);
    assert_string_equal(a->recommendation, "");
    assert_string_equal(a->event_reason, "");
    fx_free(&f);
    free(json);
}

/* chat, embed and quiet at 0.5 each (1.5 GPUs) in KAI's default-queue with
 * GPU quota `quota` (the pods name no queue: KAI's grouper puts them there) */
static void queue_cluster(gf_sbuf *b, const char *quota)
{
    cluster_begin(b);
    wl(b, "Deployment", "chat", "0.5", "0.5", "n1", "g1", "");
    wl(b, "Deployment", "embed", "0.5", "0.5", "n1", "g1", "");
    wl(b, "Deployment", "quiet", "0.5", "0.5", "n2", "g2", "");
    gf_sbuf_printf(b,
                   ",{\"apiVersion\":\"scheduling.run.ai/v2\",\"kind\":\"Queue\",\"metadata\":"
                   "{\"name\":\"default-queue\"},\"spec\":{\"resources\":{\"gpu\":{\"quota\":"
                   "%s,\"limit\":-1,\"overQuotaWeight\":1}}}}",
                   quota);
    cluster_end(b);
}

/* An upsize of a non-preemptible workload (a Deployment: KAI's class
 * inference) that would push its queue past quota, the rollout's surge
 * included, is held (quota) and reported in a warning Event, never written
 * (decide/quota.h); with room in the queue it goes. */
static void test_quota_holds_upsize(void **state)
{
    (void)state;
    static const struct {
        const char *quota;
        gf_ctl_hold hold;
    } cases[] = {{"1.6", GF_CTL_HOLD_QUOTA}, {"2.05", GF_CTL_GO}, {"-1", GF_CTL_GO}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        gf_sbuf b = GF_SBUF_INIT;
        queue_cluster(&b, cases[k].quota);
        fx f;
        fx_init(&f, b.s, AUTO);
        feed_rising(&f, "chat"); /* 0.5 -> 0.55 */
        decide_at(&f, NOW);
        const gf_ctl_action *a = find(&f.plan, GF_CTL_RESIZE, "chat");
        assert_non_null(a);
        if (a->hold != cases[k].hold) dump(&f.plan);
        assert_int_equal(a->hold, cases[k].hold);
        const gf_ctl_action *ev = find(&f.plan, GF_CTL_REPORT, "chat");
        if (cases[k].hold == GF_CTL_HOLD_QUOTA) {
            /* 1.5 held + (0.05 + 0.5 for the surge pod) > 1.6 */
            assert_non_null(ev);
            assert_int_equal(ev->hold, GF_CTL_GO);
            assert_true(ev->warning);
            assert_string_equal(ev->event_reason, "GPUQueueQuotaBlocked");
            assert_string_equal(ev->target.kind, "Deployment");
            assert_non_null(strstr(ev->message, "gpu-fraction 0.5 -> 0.55 not written: blocked by "
                                                "queue quota: queue default-queue quota 1.60 "
                                                "GPUs, allocated 1.50 non-preemptible (summed "
                                                "from the pods), +0.55 with the rollout's surge"));
            /* the recommendation says so too */
            bool flagged = false;
            for (size_t i = 0; i < f.plan.recs.n; i++)
                flagged |= !strcmp(f.plan.recs.v[i].in.name, "chat") &&
                           f.plan.recs.v[i].quota_blocked &&
                           !strncmp(f.plan.recs.v[i].reason, "blocked by queue quota", 22);
            assert_true(flagged);
        } else {
            assert_null(ev);
        }
        fx_free(&f);
        gf_sbuf_free(&b);
    }
}

/* downsize.holdOneWay: in a queue over its quota (1.5 held of 1.4) a
 * downsize of a non-preemptible workload could never be taken back (KAI
 * admits no upsize there): held, the allocation kept, the reason says so;
 * with the setting off (the default), or room in the queue, it goes. */
static void test_quota_holds_one_way_downsize(void **state)
{
    (void)state;
    static const struct {
        const char *quota;
        bool hold_one_way;
        bool resized;
    } cases[] = {{"1.4", true, false}, {"1.4", false, true}, {"2.0", true, true}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        gf_sbuf b = GF_SBUF_INIT;
        queue_cluster(&b, cases[k].quota);
        fx f;
        fx_init(&f, b.s,
                cases[k].hold_one_way ? PH "defaults: {mode: auto, maxDisruptionsPerHour: 10, "
                                           "downsize: {holdOneWay: true}}\n"
                                      : AUTO);
        feed(&f, "Deployment", "embed", NOW - 26 * HOUR, NOW, 2, -1); /* 0.5 -> 0.25 */
        decide_at(&f, NOW);
        const gf_ctl_action *a = find(&f.plan, GF_CTL_RESIZE, "embed");
        if (!cases[k].resized) {
            assert_null(a);
            bool said = false;
            for (size_t i = 0; i < f.plan.recs.n; i++) {
                const gf_recommendation *r = &f.plan.recs.v[i];
                if (strcmp(r->in.name, "embed")) continue;
                said = r->action == GF_REC_KEEP && r->quota_one_way &&
                       !strncmp(r->reason,
                                "downsize held: a one-way door: queue default-queue quota 1.40 "
                                "GPUs, allocated 1.50",
                                80);
            }
            assert_true(said);
        } else {
            assert_non_null(a);
            assert_int_equal(a->reason, GF_CTL_R_DOWNSIZE);
            assert_int_equal(a->hold, GF_CTL_GO);
        }
        fx_free(&f);
        gf_sbuf_free(&b);
    }
}

/* Two upsizes in one pass that each fit the queue but not together: the
 * first in the plan's order goes, the second is held (decide/quota.h, the
 * ledger); with room for both, both go. */
static void test_quota_upsizes_add_up(void **state)
{
    (void)state;
    static const struct {
        const char *quota;
        int held;
    } cases[] = {{"2.05", 1}, {"2.60", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        gf_sbuf b = GF_SBUF_INIT;
        queue_cluster(&b, cases[k].quota);
        fx f;
        fx_init(&f, b.s, AUTO);
        /* each 0.5 -> 0.55: +0.05 and a 0.5 surge pod, 0.55 over the 1.50 held */
        feed_rising(&f, "chat");
        feed_rising(&f, "embed");
        decide_at(&f, NOW);
        const gf_ctl_action *a = find(&f.plan, GF_CTL_RESIZE, "chat");
        const gf_ctl_action *e = find(&f.plan, GF_CTL_RESIZE, "embed");
        assert_non_null(a);
        assert_non_null(e);
        int go = (a->hold == GF_CTL_GO) + (e->hold == GF_CTL_GO);
        int held = (a->hold == GF_CTL_HOLD_QUOTA) + (e->hold == GF_CTL_HOLD_QUOTA);
        if (go + held != 2 || held != cases[k].held) dump(&f.plan);
        assert_int_equal(held, cases[k].held);
        assert_int_equal(go, 2 - cases[k].held);
        if (held) {
            const gf_ctl_action *h = a->hold == GF_CTL_HOLD_QUOTA ? a : e;
            assert_non_null(strstr(h->quota, "allocated 2.05"));
            assert_non_null(strstr(h->quota, "with this pass's other upsizes"));
        }
        fx_free(&f);
        gf_sbuf_free(&b);
    }
}

/* Mode off (a rule, an annotation, opt-in) is never written, whatever it
 * needs; the default mode recommend never resizes. */
static void test_unselected_never_touched(void **state)
{
    (void)state;
    static const char *policies[] = {
        PH "defaults: {mode: auto}\nrules:\n  - name: hands-off\n    match: {namespaces: [t]}\n"
           "    mode: \"off\"\n",
        PH "optIn: true\ndefaults: {mode: auto}\n",
        PH "defaults: {mode: \"off\"}\n",
    };
    char *json = basic_cluster("0.5", "0.5");
    for (size_t i = 0; i < sizeof policies / sizeof *policies; i++) {
        fx f;
        fx_init(&f, json, policies[i]);
        feed_rising(&f, "chat");
        feed(&f, "Deployment", "embed", NOW - 26 * HOUR, NOW - MIN, 2, -1);
        meta_of(&f, "Deployment", "chat")->recommendation = "gpu-fraction 0.5 -> 0.3 (downsize): x";
        decide_at(&f, NOW);
        for (size_t k = 0; k < f.plan.actions.n; k++)
            assert_string_not_equal(f.plan.actions.v[k].target.name, "chat");
        /* with optIn, embed opted in by its annotation (recommend) */
        if (i == 1) {
            assert_int_equal(f.plan.actions.n, 1);
            assert_non_null(find(&f.plan, GF_CTL_RECOMMEND, "embed"));
        } else {
            assert_int_equal(f.plan.actions.n, 0);
        }
        fx_free(&f);
    }
    /* the built-in policy (mode recommend): recommendations, no resize */
    fx f;
    fx_init(&f, json, NULL);
    feed_rising(&f, "chat");
    decide_at(&f, NOW);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 0);
    assert_non_null(find(&f.plan, GF_CTL_RECOMMEND, "chat"));
    /* an annotation turns one workload off */
    fx_free(&f);
    free(json);
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    wl(&b, "Deployment", "chat", "0.5", "0.5", "n1", "g1", ",\"gpufrac.io/rightsize\":\"off\"");
    cluster_end(&b);
    fx_init(&f, b.s, AUTO);
    feed_rising(&f, "chat");
    decide_at(&f, NOW);
    assert_int_equal(f.plan.actions.n, 0);
    fx_free(&f);
    gf_sbuf_free(&b);
}

/* Usage older than two intervals: nothing is done, and the plan says so;
 * one workload's stale series holds its own actions only. */
static void test_stale_usage(void **state)
{
    (void)state;
    char *json = basic_cluster("0.5", "0.5");
    fx f;
    fx_init(&f, json, AUTO);
    feed(&f, "Deployment", "chat", NOW - 10 * MIN, NOW - 6 * MIN, 9, -1); /* then a new peak */
    feed(&f, "Deployment", "chat", NOW - 5 * MIN, NOW - 3 * MIN, 10.5, -1);
    decide_at(&f, NOW); /* newest sample 180 s old, interval 60 s */
    assert_true(f.plan.stale);
    assert_true(fabs(f.plan.staleness_s - 180) < 1e-9);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_HOLD_STALE), 1);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 0);
    /* with a 5-minute interval the same data is fresh */
    f.cfg.interval_s = 300;
    decide_at(&f, NOW);
    assert_false(f.plan.stale);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 1);
    /* no usage at all: stale with infinite staleness */
    fx_free(&f);
    fx_init(&f, json, AUTO);
    decide_at(&f, NOW);
    assert_true(f.plan.stale);
    assert_true(isinf(f.plan.staleness_s));
    assert_int_equal(f.plan.actions.n, 0);
    /* quiet fresh, chat's series stale: chat held, quiet free to go */
    feed(&f, "Deployment", "chat", NOW - 20 * MIN, NOW - 10 * MIN, 11.5, -1); /* over 11.25 */
    feed_up(&f, "Deployment", "quiet", NOW, 11);
    decide_at(&f, NOW);
    assert_false(f.plan.stale);
    const gf_ctl_action *a = find(&f.plan, GF_CTL_RESIZE, "chat");
    assert_non_null(a);
    assert_int_equal(a->hold, GF_CTL_HOLD_STALE);
    a = find(&f.plan, GF_CTL_RESIZE, "quiet");
    assert_non_null(a);
    assert_int_equal(a->hold, GF_CTL_GO);
    fx_free(&f);
    free(json);
}

/* --- tests: limits ---------------------------------------------------------------------------- */

/* Five upsizes, at most two per step: the first two go, three wait. */
static void test_rate_limit(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    const char *names[] = {"w1", "w2", "w3", "w4", "w5"};
    for (int i = 0; i < 5; i++)
        wl(&b, "Deployment", names[i], "0.25", "0.25", i < 3 ? "n1" : "n2", i < 3 ? "ga" : "gb",
           "");
    cluster_end(&b);
    fx f;
    fx_init(&f, b.s, AUTO);
    for (int i = 0; i < 5; i++) { /* 5 GiB, then a new peak of 5.5 GiB (98% of 0.25) */
        feed(&f, "Deployment", names[i], NOW - 10 * MIN, NOW - 6 * MIN, 5, -1);
        feed(&f, "Deployment", names[i], NOW - 5 * MIN, NOW, 5.5, -1);
    }
    f.cfg.max_actions = 2;
    decide_at(&f, NOW);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 2);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_HOLD_RATE), 3);
    /* the held ones go first next time? no: in model order; the first two again */
    assert_int_equal(find(&f.plan, GF_CTL_RESIZE, "w1")->hold, GF_CTL_GO);
    assert_int_equal(find(&f.plan, GF_CTL_RESIZE, "w5")->hold, GF_CTL_HOLD_RATE);
    /* max 0: nothing disruptive at all */
    f.cfg.max_actions = 0;
    decide_at(&f, NOW);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 0);
    fx_free(&f);
    gf_sbuf_free(&b);
}

/* maxDisruptionsPerHour counts per rule: changes noted in the last hour
 * (by anyone the rule covers) use it up; a held change is published as a
 * recommendation instead. Urgent upsizes go before downsizes. */
static void test_disruption_budget(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    wl(&b, "Deployment", "small", "0.5", "0.5", "n1", "g1", "");
    wl(&b, "Deployment", "big", "0.25", "0.25", "n2", "g2", "");
    cluster_end(&b);
    fx f;
    fx_init(&f, b.s, PH "defaults: {mode: auto, maxDisruptionsPerHour: 1}\n");
    feed(&f, "Deployment", "small", NOW - 26 * HOUR, NOW, 2, -1); /* downsize */
    feed_up(&f, "Deployment", "big", NOW, 5.5);                   /* upsize */
    decide_at(&f, NOW);
    const gf_ctl_action *up = find(&f.plan, GF_CTL_RESIZE, "big");
    const gf_ctl_action *down = find(&f.plan, GF_CTL_RESIZE, "small");
    assert_non_null(up);
    assert_non_null(down);
    assert_true(up < down); /* upsizes first */
    assert_int_equal(up->hold, GF_CTL_GO);
    assert_int_equal(down->hold, GF_CTL_HOLD_BUDGET);
    const gf_ctl_action *rec = find(&f.plan, GF_CTL_RECOMMEND, "small");
    assert_non_null(rec);
    assert_int_equal(rec->hold, GF_CTL_GO);
    assert_non_null(strstr(rec->recommendation, "gpu-fraction 0.5 -> 0.25 (downsize"));
    /* a change 30 minutes ago uses the budget up: the upsize waits too */
    gf_error err;
    gf_hist_series *s = gf_history_get(&f.h, "t/Deployment/small", false);
    assert_int_equal(gf_hist_note_change(s, NOW - 30 * MIN, &err), GF_OK);
    decide_at(&f, NOW);
    assert_int_equal(find(&f.plan, GF_CTL_RESIZE, "big")->hold, GF_CTL_HOLD_BUDGET);
    /* ... but not in another rule */
    fx_free(&f);
    fx_init(&f, b.s,
            PH "defaults: {mode: auto, maxDisruptionsPerHour: 1}\nrules:\n  - name: big\n"
               "    match: {labels: {app: big}}\n    maxDisruptionsPerHour: 1\n");
    feed(&f, "Deployment", "small", NOW - 26 * HOUR, NOW, 2, -1);
    feed_up(&f, "Deployment", "big", NOW, 5.5);
    s = gf_history_get(&f.h, "t/Deployment/small", false);
    assert_int_equal(gf_hist_note_change(s, NOW - 30 * MIN, &err), GF_OK);
    decide_at(&f, NOW);
    assert_int_equal(find(&f.plan, GF_CTL_RESIZE, "big")->hold, GF_CTL_GO);
    assert_int_equal(find(&f.plan, GF_CTL_RESIZE, "small")->hold, GF_CTL_HOLD_COOLDOWN);
    /* budget 0: auto never restarts a pod; changes wait as recommendations */
    fx_free(&f);
    fx_init(&f, b.s, PH "defaults: {mode: auto, maxDisruptionsPerHour: 0}\n");
    feed_up(&f, "Deployment", "big", NOW, 5.5);
    decide_at(&f, NOW);
    assert_int_equal(find(&f.plan, GF_CTL_RESIZE, "big")->hold, GF_CTL_HOLD_BUDGET);
    assert_int_equal(find(&f.plan, GF_CTL_RECOMMEND, "big")->hold, GF_CTL_GO);
    fx_free(&f);
    gf_sbuf_free(&b);
}

/* The cooldown after a restart comes from the workload's
 * gpufrac.io/last-change annotation: seeded into an empty history, a
 * downsize one hour after the change waits for the 6 h cooldown, one seven
 * hours after goes; an upsize never waits for it. */
static void test_cooldown_seeded_from_annotations(void **state)
{
    (void)state;
    char *json = basic_cluster("0.5", "0.5");
    static const struct {
        double ago;
        gf_ctl_hold want;
    } cases[] = {{HOUR, GF_CTL_HOLD_COOLDOWN}, {7 * HOUR, GF_CTL_GO}};
    for (size_t i = 0; i < 2; i++) {
        fx f;
        fx_init(&f, json, AUTO);
        feed(&f, "Deployment", "chat", NOW - 26 * HOUR, NOW, 2, -1);
        char ann[512];
        gf_ctl_format_last_change(NOW - cases[i].ago, "gpu-fraction", "0.75", "0.5", "downsize",
                                  "peak memory 2.00 GiB", ann, sizeof ann);
        char *keep = gf_arena_strdup(&f.m.arena, ann);
        meta_of(&f, "Deployment", "chat")->last_change = keep;
        assert_int_equal(gf_ctl_seed_changes(&f.h, &f.m, &f.meta, NOW, &f.d), 1);
        /* seeding again notes nothing new */
        assert_int_equal(gf_ctl_seed_changes(&f.h, &f.m, &f.meta, NOW, &f.d), 0);
        const gf_hist_series *s = gf_history_find(&f.h, "t/Deployment/chat");
        assert_true(fabs(s->last_change_t - (NOW - cases[i].ago)) < 1e-9);
        decide_at(&f, NOW);
        const gf_ctl_action *a = find(&f.plan, GF_CTL_RESIZE, "chat");
        assert_non_null(a);
        assert_int_equal(a->reason, GF_CTL_R_DOWNSIZE);
        assert_int_equal(a->hold, cases[i].want);
        assert_string_equal(a->expect_last_change, keep);
        fx_free(&f);
    }
    /* an upsize right after a change: no cooldown */
    fx f;
    fx_init(&f, json, AUTO);
    feed_up(&f, "Deployment", "chat", NOW, 10.5);
    char ann[512];
    gf_ctl_format_last_change(NOW - 8 * MIN, "gpu-fraction", "0.45", "0.5", "upsize", "x", ann,
                              sizeof ann);
    meta_of(&f, "Deployment", "chat")->last_change = ann;
    gf_ctl_seed_changes(&f.h, &f.m, &f.meta, NOW, &f.d);
    decide_at(&f, NOW);
    assert_int_equal(find(&f.plan, GF_CTL_RESIZE, "chat")->hold, GF_CTL_GO);
    /* unreadable annotations are reported, not trusted */
    meta_of(&f, "Deployment", "quiet")->last_change = "yesterday, roughly";
    assert_int_equal(gf_ctl_seed_changes(&f.h, &f.m, &f.meta, NOW, &f.d), 0);
    assert_true(gf_test_diag_has(&f.d, "does not start with a UTC time"));
    fx_free(&f);
    free(json);
}

/* Pods still carrying another value than the template: a change is rolling
 * out (made by us before a restart, or by someone else); nothing more. */
static void test_rollout_in_progress(void **state)
{
    (void)state;
    char *json = basic_cluster("0.55", "0.5");
    fx f;
    fx_init(&f, json, AUTO);
    feed_up(&f, "Deployment", "chat", NOW, 10.5);
    decide_at(&f, NOW);
    /* the recommender wants 0.55, which the template already says: no action */
    assert_null(find(&f.plan, GF_CTL_RESIZE, "chat"));
    fx_free(&f);
    free(json);
    json = basic_cluster("0.6", "0.5");
    fx_init(&f, json, AUTO);
    feed_up(&f, "Deployment", "chat", NOW, 10.5);
    decide_at(&f, NOW);
    const gf_ctl_action *a = find(&f.plan, GF_CTL_RESIZE, "chat");
    assert_non_null(a);
    assert_int_equal(a->hold, GF_CTL_HOLD_ROLLOUT);
    assert_string_equal(a->from, "0.6"); /* the template's value */
    fx_free(&f);
    free(json);
}

/* A Deployment t/whisper whose pod holds one whole GPU (container "model"
 * after a sidecar) on n2, scheduled by KAI; tmpl: its template annotations
 * (JSON members, may be empty). */
static char *whole_cluster(const char *tmpl)
{
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    gf_sbuf_printf(&b,
                   ",{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":"
                   "\"whisper\",\"namespace\":\"t\",\"uid\":\"uid-whisper\"},\"spec\":{"
                   "\"replicas\":1,\"template\":{\"metadata\":{\"annotations\":{%s}}}}}"
                   ",{\"kind\":\"ReplicaSet\",\"apiVersion\":\"apps/v1\",\"metadata\":{"
                   "\"name\":\"whisper-6d5f7c8b9a\",\"namespace\":\"t\",\"ownerReferences\":[{"
                   "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"whisper\","
                   "\"controller\":true}]},\"spec\":{}}"
                   ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"whisper-6d5f7c8b9a-x1a2b\","
                   "\"namespace\":\"t\",\"uid\":\"pod-whisper\",\"labels\":{\"app\":\"whisper\"},"
                   "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
                   "\"name\":\"whisper-6d5f7c8b9a\",\"controller\":true}]},\"spec\":{\"nodeName\":"
                   "\"n2\",\"schedulerName\":\"kai-scheduler\",\"containers\":[{\"name\":"
                   "\"sidecar\"},{\"name\":\"model\",\"resources\":{\"limits\":{"
                   "\"nvidia.com/gpu\":\"1\"},\"requests\":{\"nvidia.com/gpu\":\"1\"}}}]},"
                   "\"status\":{\"phase\":\"Running\"}}",
                   tmpl);
    cluster_end(&b);
    return b.s;
}

#define CONVERT_AUTO PH "defaults: {mode: auto, convert: {fromWholeGpu: auto}}\n"

/* A whole GPU at 20% use: in auto, one conversion of the template; while the
 * template carries it and the pod is still whole, nothing again; recommend
 * only publishes; the opt-out annotation and fromWholeGpu off leave it be. */
static void test_convert_whole_gpu(void **state)
{
    (void)state;
    char *json = whole_cluster("");
    fx f;
    fx_init(&f, json, CONVERT_AUTO);
    feed(&f, "Deployment", "whisper", NOW - 2 * 86400, NOW, 0.2 * 22.49, 0.2);
    decide_at(&f, NOW);
    const gf_ctl_action *a = find(&f.plan, GF_CTL_RESIZE, "whisper");
    if (!a) dump(&f.plan);
    assert_non_null(a);
    assert_int_equal(a->reason, GF_CTL_R_CONVERT);
    assert_int_equal(a->hold, GF_CTL_GO);
    assert_string_equal(a->unit_key, "gpu-fraction");
    assert_string_equal(a->to, "0.25");
    assert_string_equal(a->gpu_container, "model");
    assert_int_equal(a->from_whole_gpus, 1);
    assert_false(a->set_scheduler);
    assert_non_null(strstr(a->last_change, "gpu-fraction nvidia.com/gpu=1 -> 0.25 (convert)"));
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 1);
    fx_free(&f);
    free(json);

    /* the template converted, the pod not yet: a rollout, nothing proposed */
    json = whole_cluster("\"gpu-fraction\":\"0.25\"");
    fx_init(&f, json, CONVERT_AUTO);
    feed(&f, "Deployment", "whisper", NOW - 2 * 86400, NOW, 0.2 * 22.49, 0.2);
    decide_at(&f, NOW);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 0);
    fx_free(&f);
    free(json);
    /* ... also when it says another value: held until the pods follow */
    json = whole_cluster("\"gpu-fraction\":\"0.3\"");
    fx_init(&f, json, CONVERT_AUTO);
    feed(&f, "Deployment", "whisper", NOW - 2 * 86400, NOW, 0.2 * 22.49, 0.2);
    decide_at(&f, NOW);
    a = find(&f.plan, GF_CTL_RESIZE, "whisper");
    assert_non_null(a);
    assert_int_equal(a->hold, GF_CTL_HOLD_ROLLOUT);
    fx_free(&f);
    free(json);

    /* no budget: held, and published as a recommendation instead */
    json = whole_cluster("");
    fx_init(&f, json,
            PH "defaults: {mode: auto, maxDisruptionsPerHour: 0, "
               "convert: {fromWholeGpu: auto}}\n");
    feed(&f, "Deployment", "whisper", NOW - 2 * 86400, NOW, 0.2 * 22.49, 0.2);
    decide_at(&f, NOW);
    a = find(&f.plan, GF_CTL_RESIZE, "whisper");
    assert_non_null(a);
    assert_int_equal(a->hold, GF_CTL_HOLD_BUDGET);
    a = find(&f.plan, GF_CTL_RECOMMEND, "whisper");
    assert_non_null(a);
    assert_non_null(strstr(a->recommendation, "(to-fraction"));
    fx_free(&f);
    free(json);

    /* recommend: the annotation only */
    json = whole_cluster("");
    fx_init(&f, json, PH "defaults: {mode: auto}\n");
    feed(&f, "Deployment", "whisper", NOW - 2 * 86400, NOW, 0.2 * 22.49, 0.2);
    decide_at(&f, NOW);
    assert_null(find(&f.plan, GF_CTL_RESIZE, "whisper"));
    a = find(&f.plan, GF_CTL_RECOMMEND, "whisper");
    assert_non_null(a);
    assert_non_null(strstr(a->recommendation, "gpu-fraction 1 -> 0.25 (to-fraction"));
    fx_free(&f);
    free(json);

    /* opted out; and conversion off */
    json = whole_cluster("\"gpufrac.io/rightsize\":\"off\"");
    fx_init(&f, json, CONVERT_AUTO);
    feed(&f, "Deployment", "whisper", NOW - 2 * 86400, NOW, 0.2 * 22.49, 0.2);
    decide_at(&f, NOW);
    assert_int_equal(f.plan.actions.n, 0);
    fx_free(&f);
    free(json);
    json = whole_cluster("");
    fx_init(&f, json, PH "defaults: {mode: auto, convert: {fromWholeGpu: off}}\n");
    feed(&f, "Deployment", "whisper", NOW - 2 * 86400, NOW, 0.2 * 22.49, 0.2);
    decide_at(&f, NOW);
    assert_int_equal(f.plan.actions.n, 0);
    fx_free(&f);
    free(json);
}

/* Only Deployments and StatefulSets are resized. */
static void test_kinds(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    wl(&b, "StatefulSet", "train", "0.25", "0.25", "n1", "g1", "");
    gf_sbuf_puts(&b, ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"job-x\",\"namespace\":\"t\","
                     "\"labels\":{\"runai-gpu-group\":\"g2\"},\"annotations\":{\"gpu-fraction\":"
                     "\"0.25\"},\"ownerReferences\":[{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\","
                     "\"name\":\"job\",\"controller\":true}]},\"spec\":{\"nodeName\":\"n2\","
                     "\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Running\"}}");
    cluster_end(&b);
    fx f;
    fx_init(&f, b.s, AUTO);
    feed_up(&f, "StatefulSet", "train", NOW, 5.5);
    feed_up(&f, "Job", "job", NOW, 5.5);
    decide_at(&f, NOW);
    assert_int_equal(find(&f.plan, GF_CTL_RESIZE, "train")->hold, GF_CTL_GO);
    /* a Job is never written: no resize, no annotation; its recommendation
     * is an Event about its pod, once within the hour */
    assert_null(find(&f.plan, GF_CTL_RESIZE, "job"));
    assert_null(find(&f.plan, GF_CTL_RECOMMEND, "job"));
    const gf_ctl_action *a = find(&f.plan, GF_CTL_REPORT, "job-x");
    if (!a) dump(&f.plan);
    assert_non_null(a);
    assert_int_equal(a->reason, GF_CTL_R_OWNER);
    assert_string_equal(a->target.kind, "Pod");
    assert_non_null(strstr(a->message, "recommend-only"));
    for (size_t i = 0; i < f.plan.actions.n; i++)
        gf_ctl_commit(&f.st, &f.h, &f.m, &f.plan.actions.v[i], NOW);
    decide_at(&f, NOW + MIN);
    assert_null(find(&f.plan, GF_CTL_REPORT, "job-x"));
    fx_free(&f);
    gf_sbuf_free(&b);
}

/* A pod owned by a Deployment that an operator owns (KServe's raw mode:
 * InferenceService -> Deployment -> ReplicaSet -> pod; Knative:
 * Revision -> Deployment, the Service named by the pod's label): never
 * resized or annotated, even in auto; the Event names the field to set. */
static void owned_deployment(gf_sbuf *b, const char *name, const char *owner_kind,
                             const char *owner, const char *pod_labels)
{
    gf_sbuf_printf(b,
                   ",{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{"
                   "\"name\":\"%s\",\"namespace\":\"t\",\"ownerReferences\":[{\"apiVersion\":"
                   "\"x/v1\",\"kind\":\"%s\",\"name\":\"%s\",\"controller\":true}]},\"spec\":{"
                   "\"replicas\":1,\"template\":{\"metadata\":{\"annotations\":{"
                   "\"gpu-fraction\":\"0.5\"}}}}}"
                   ",{\"kind\":\"ReplicaSet\",\"apiVersion\":\"apps/v1\",\"metadata\":{"
                   "\"name\":\"%s-6d5f7c8b9a\",\"namespace\":\"t\",\"ownerReferences\":[{"
                   "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"%s\","
                   "\"controller\":true}]},\"spec\":{}}"
                   ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s-6d5f7c8b9a-x1a2b\","
                   "\"namespace\":\"t\",\"labels\":{\"runai-gpu-group\":\"g1\"%s},"
                   "\"annotations\":{\"gpu-fraction\":\"0.5\"},\"ownerReferences\":[{"
                   "\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":"
                   "\"%s-6d5f7c8b9a\",\"controller\":true}]},\"spec\":{\"nodeName\":\"n1\","
                   "\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Running\"}}",
                   name, owner_kind, owner, name, name, name, pod_labels, name);
}

static void test_other_owners(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    owned_deployment(&b, "isvc-predictor", "InferenceService", "isvc", "");
    owned_deployment(&b, "hello-00001-deployment", "Revision", "hello-00001",
                     ",\"serving.knative.dev/service\":\"hello\"");
    cluster_end(&b);
    fx f;
    fx_init(&f, b.s, AUTO);
    feed_up(&f, "InferenceService", "isvc", NOW, 10.5);
    feed_up(&f, "Revision", "hello-00001", NOW, 10.5);
    decide_at(&f, NOW);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 0);
    assert_null(find(&f.plan, GF_CTL_RECOMMEND, ""));
    const gf_ctl_action *a = find(&f.plan, GF_CTL_REPORT, "isvc-predictor");
    if (!a) dump(&f.plan);
    assert_non_null(a);
    assert_int_equal(a->reason, GF_CTL_R_OWNER);
    assert_non_null(strstr(a->message, "set gpu-fraction in spec.predictor.annotations of "
                                       "InferenceService t/isvc"));
    a = find(&f.plan, GF_CTL_REPORT, "hello-00001");
    assert_non_null(a);
    assert_non_null(strstr(a->message, "spec.template.metadata.annotations (Knative Service) of "
                                       "Service t/hello"));
    fx_free(&f);
    gf_sbuf_free(&b);
}

/* --- tests: rollouts that stall ------------------------------------------------------------ */

#define CHANGED "2026-11-26T13:00:00Z" /* NOW - 33 min 20 s */
#define CHANGE CHANGED " gpu-fraction 0.5 -> 0.55 (upsize): memory near the allocation"

/* chat's template says 0.55 (our upsize, CHANGE); its old pod (0.5) runs on
 * n1 and the new one (0.55, ReplicaSet chat-7f8e9d0c1b) is Pending since
 * `created` with `cond` as its status.conditions members (JSON, may be
 * ""); rs_status: the new ReplicaSet's status members. */
static char *stall_cluster_tc(const char *tmpl, const char *created, const char *cond,
                              const char *rs_status, bool new_pod, const char *container)
{
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    wl_c(&b, "Deployment", "chat", tmpl, "0.5", "n1", "g1", "", container);
    gf_sbuf_printf(&b,
                   ",{\"kind\":\"ReplicaSet\",\"apiVersion\":\"apps/v1\",\"metadata\":{"
                   "\"name\":\"chat-7f8e9d0c1b\",\"namespace\":\"t\",\"ownerReferences\":[{"
                   "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"chat\","
                   "\"controller\":true}]},\"spec\":{\"template\":{\"metadata\":{"
                   "\"annotations\":{\"gpu-fraction\":\"0.55\"}}}},\"status\":{%s}}",
                   rs_status);
    if (new_pod)
        gf_sbuf_printf(&b,
                       ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"chat-7f8e9d0c1b-y3c4d\","
                       "\"namespace\":\"t\",\"creationTimestamp\":\"%s\",\"labels\":{"
                       "\"app\":\"chat\"},\"annotations\":{\"gpu-fraction\":\"0.55\"},"
                       "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
                       "\"ReplicaSet\",\"name\":\"chat-7f8e9d0c1b\",\"controller\":true}]},"
                       "\"spec\":{\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":"
                       "\"Pending\",\"conditions\":[%s]}}",
                       created, cond);
    cluster_end(&b);
    return b.s;
}

static char *stall_cluster_t(const char *tmpl, const char *created, const char *cond,
                             const char *rs_status, bool new_pod)
{
    return stall_cluster_tc(tmpl, created, cond, rs_status, new_pod, "");
}

static char *stall_cluster(const char *created, const char *cond, const char *rs_status,
                           bool new_pod)
{
    return stall_cluster_t("0.55", created, cond, rs_status, new_pod);
}

/* KAI's condition on a pod it cannot place
 * (pkg/scheduler/cache/status_updater/default_status_updater.go) */
#define UNSCHED                                                                                    \
    "{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\","                \
    "\"message\":\"Not enough resources for the workload\"}"

static const gf_ctl_action *stall_fx(fx *f, const char *json, const char *policy, double now)
{
    fx_init(f, json, policy);
    meta_of(f, "Deployment", "chat")->last_change = CHANGE;
    meta_of(f, "Deployment", "chat")->resource_version = "7";
    /* usage that wants more: any other resize of chat must be held */
    feed(f, "Deployment", "chat", now - 10 * MIN, now, 12.5, -1);
    decide_at(f, now);
    for (size_t i = 0; i < f->plan.actions.n; i++) {
        const gf_ctl_action *a = &f->plan.actions.v[i];
        if (a->reason == GF_CTL_R_REVERT || a->reason == GF_CTL_R_STALLED) return a;
    }
    return NULL;
}

static bool other_resize_of_chat_goes(const fx *f)
{
    for (size_t i = 0; i < f->plan.actions.n; i++) {
        const gf_ctl_action *a = &f->plan.actions.v[i];
        if (a->kind == GF_CTL_RESIZE && a->reason != GF_CTL_R_REVERT && a->hold == GF_CTL_GO &&
            !strcmp(a->target.name, "chat"))
            return true;
    }
    return false;
}

static void test_stall_revert(void **state)
{
    (void)state;
    fx f;
    /* KAI says unschedulable: reverted at once, in one resize back to 0.5 */
    char *json = stall_cluster(CHANGED, UNSCHED, "", true);
    const gf_ctl_action *a = stall_fx(&f, json, AUTO, NOW);
    if (!a) dump(&f.plan);
    assert_non_null(a);
    assert_int_equal(a->kind, GF_CTL_RESIZE);
    assert_int_equal(a->reason, GF_CTL_R_REVERT);
    assert_int_equal(a->hold, GF_CTL_GO);
    assert_int_equal(a->stall_cause, GF_CTL_STALL_UNSCHEDULABLE);
    assert_string_equal(a->unit_key, "gpu-fraction");
    assert_string_equal(a->from, "0.55");
    assert_string_equal(a->to, "0.5");
    assert_string_equal(a->resource_version, "7");
    assert_string_equal(a->expect_last_change, CHANGE);
    assert_string_equal(a->event_reason, "GpufracRolloutStalled");
    assert_non_null(strstr(a->last_change, "gpu-fraction 0.55 -> 0.5 (revert): rollout stalled "
                                           "(unschedulable): pod chat-7f8e9d0c1b-y3c4d"));
    assert_non_null(strstr(a->stalled, "unschedulable: gpu-fraction 0.55 -> 0.5 reverted"));
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 1);
    assert_false(other_resize_of_chat_goes(&f));
    fx_free(&f);
    free(json);

    /* Pending, no condition: nothing before stallTimeout (10 min from the
     * pod's creation), then pending_timeout */
    json = stall_cluster("2026-11-26T13:30:00Z", "", "", true);
    assert_null(stall_fx(&f, json, AUTO, NOW));
    fx_free(&f);
    a = stall_fx(&f, json, AUTO, NOW + 7 * MIN);
    assert_non_null(a);
    assert_int_equal(a->stall_cause, GF_CTL_STALL_PENDING_TIMEOUT);
    fx_free(&f);
    /* the rule's own stallTimeout */
    a = stall_fx(&f, json,
                 PH "defaults: {mode: auto, maxDisruptionsPerHour: 10, stallTimeout: 1h}\n",
                 NOW + 7 * MIN);
    assert_null(a);
    fx_free(&f);
    free(json);

    /* the new ReplicaSet cannot create its pods */
    json = stall_cluster(CHANGED, "",
                         "\"conditions\":[{\"type\":\"ReplicaFailure\",\"status\":\"True\","
                         "\"reason\":\"FailedCreate\",\"message\":\"exceeded quota: gpu\"}]",
                         false);
    a = stall_fx(&f, json, AUTO, NOW);
    assert_non_null(a);
    assert_int_equal(a->stall_cause, GF_CTL_STALL_FAILED_CREATE);
    assert_non_null(strstr(a->message, "exceeded quota: gpu"));
    fx_free(&f);
    free(json);

    /* someone changed the template after our change (ours said 0.55, it
     * says 0.6): not ours to revert */
    json = stall_cluster_t("0.6", CHANGED, UNSCHED, "", true);
    assert_null(stall_fx(&f, json, AUTO, NOW));
    fx_free(&f);
    free(json);
    json = stall_cluster(CHANGED, UNSCHED, "", true);

    /* reverted before (gpufrac.io/stalled): nothing more, every resize held */
    fx_init(&f, json, AUTO);
    meta_of(&f, "Deployment", "chat")->last_change = CHANGE;
    meta_of(&f, "Deployment", "chat")->stalled = "2026-11-26T13:20:00Z unschedulable: ...";
    feed(&f, "Deployment", "chat", NOW - 10 * MIN, NOW, 12.5, -1);
    decide_at(&f, NOW);
    a = find(&f.plan, GF_CTL_RESIZE, "chat");
    if (!a) dump(&f.plan);
    assert_non_null(a);
    assert_int_not_equal(a->reason, GF_CTL_R_REVERT);
    assert_int_equal(a->hold, GF_CTL_HOLD_STALLED);
    fx_free(&f);
    free(json);
}

/* onStall hold: an Event (about the Deployment), the template left, every
 * other change held; the Event is not repeated within the hour. */
/* A vLLM whose cap moved with the stalled upsize (0.5 -> 0.55, flag
 * --gpu-memory-utilization) gets it back with the fraction, in the same
 * action; the $(GPU_PORTION) form follows the fraction by itself. */
static void test_stall_revert_moves_engine_cap(void **state)
{
    (void)state;
    static const char *const containers[2] = {
        ",\"image\":\"vllm/vllm-openai:v0.11.0\",\"args\":[\"--model\",\"m\","
        "\"--gpu-memory-utilization=0.55\"]",
        ",\"image\":\"vllm/vllm-openai:v0.11.0\",\"args\":[\"--model\",\"m\","
        "\"--gpu-memory-utilization=$(GPU_PORTION)\"]"};
    for (int i = 0; i < 2; i++) {
        fx f;
        char *json = stall_cluster_tc("0.55", CHANGED, UNSCHED, "", true, containers[i]);
        const gf_ctl_action *a = stall_fx(&f, json, AUTO, NOW);
        if (!a) dump(&f.plan);
        assert_non_null(a);
        assert_int_equal(a->reason, GF_CTL_R_REVERT);
        assert_string_equal(a->to, "0.5");
        if (i == 0) {
            assert_true(a->move_cap);
            assert_true(fabs(a->new_cap - 0.5) < 1e-9);
            assert_false(a->cap_env);
            assert_non_null(a->cap_knob);
            assert_non_null(strstr(a->cap_knob, "gpu-memory-utilization"));
            assert_string_equal(a->cap_container, "c");
        } else {
            assert_false(a->move_cap);
        }
        fx_free(&f);
        free(json);
    }
}

static void test_stall_hold(void **state)
{
    (void)state;
    fx f;
    char *json = stall_cluster(CHANGED, UNSCHED, "", true);
    const gf_ctl_action *a = stall_fx(
        &f, json, PH "defaults: {mode: auto, maxDisruptionsPerHour: 10, onStall: hold}\n", NOW);
    if (!a) dump(&f.plan);
    assert_non_null(a);
    assert_int_equal(a->kind, GF_CTL_REPORT);
    assert_int_equal(a->reason, GF_CTL_R_STALLED);
    assert_int_equal(a->stall_cause, GF_CTL_STALL_UNSCHEDULABLE);
    assert_string_equal(a->target.kind, "Deployment");
    assert_string_equal(a->event_reason, "GpufracRolloutStalled");
    assert_true(a->warning);
    assert_int_equal(count(&f.plan, GF_CTL_RESIZE, GF_CTL_GO), 0);
    a = find(&f.plan, GF_CTL_RESIZE, "chat");
    if (a) assert_int_equal(a->hold, GF_CTL_HOLD_STALLED);
    for (size_t i = 0; i < f.plan.actions.n; i++)
        gf_ctl_commit(&f.st, &f.h, &f.m, &f.plan.actions.v[i], NOW);
    decide_at(&f, NOW + MIN);
    for (size_t i = 0; i < f.plan.actions.n; i++) {
        assert_int_not_equal(f.plan.actions.v[i].reason, GF_CTL_R_STALLED);
        if (f.plan.actions.v[i].kind == GF_CTL_RESIZE)
            assert_int_equal(f.plan.actions.v[i].hold, GF_CTL_HOLD_STALLED);
    }
    fx_free(&f);
    free(json);
}

/* --- tests: fair use and consolidation ------------------------------------------------------- */

/* A pod far over its fraction on a nearly full GPU: mode report gives one
 * Event (not repeated within the hour), mode act the upsize chosen by
 * fairuse as a resize of its workload, which must be auto. */
static void test_fair_use(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    wl(&b, "Deployment", "hog", "0.25", "0.25", "n2", "g2", "");
    wl(&b, "Deployment", "mate", "0.5", "0.5", "n2", "g2", "");
    cluster_end(&b);
    const char *report = PH "defaults: {mode: recommend}\nfairUse: {mode: report}\n";
    fx f;
    fx_init(&f, b.s, report);
    feed(&f, "Deployment", "hog", NOW - 10 * MIN, NOW, 5, -1); /* the history: fresh */
    sample(&f, "hog-6d5f7c8b9a-x1a2b", NOW, 13.5, 0.3);
    sample(&f, "mate-6d5f7c8b9a-x1a2b", NOW, 8, 0.3);
    decide_at(&f, NOW);
    const gf_ctl_action *a = find(&f.plan, GF_CTL_REPORT, "hog");
    if (!a) dump(&f.plan);
    assert_non_null(a);
    assert_int_equal(a->hold, GF_CTL_GO);
    assert_int_equal(a->reason, GF_CTL_R_FAIR_FIRST + GF_FAIR_MEMORY_OVERRUN);
    assert_string_equal(a->target.kind, "Pod");
    assert_string_equal(a->event_reason, "GPUMemoryOverrun");
    assert_true(a->warning);
    assert_non_null(strstr(a->message, "memory-overrun on GPU n2/"));
    /* memory-overrun and device-memory-full, both about hog */
    assert_int_equal(f.plan.fair.findings.n, 2);
    assert_int_equal(count(&f.plan, GF_CTL_REPORT, GF_CTL_GO), 2);
    for (size_t i = 0; i < f.plan.actions.n; i++)
        gf_ctl_commit(&f.st, &f.h, &f.m, &f.plan.actions.v[i], NOW);
    f.samples.v[0].t = f.samples.v[1].t = NOW + MIN;
    decide_at(&f, NOW + MIN);
    assert_null(find(&f.plan, GF_CTL_REPORT, "hog"));
    /* an hour later: reported again */
    f.samples.v[0].t = f.samples.v[1].t = NOW + 61 * MIN;
    feed(&f, "Deployment", "hog", NOW + MIN, NOW + 61 * MIN, 5, -1);
    decide_at(&f, NOW + 61 * MIN);
    assert_int_equal(count(&f.plan, GF_CTL_REPORT, GF_CTL_GO), 2);
    /* act, hog in auto: resized to its use plus the margin */
    fx_free(&f);
    fx_init(&f, b.s, AUTO "fairUse: {mode: act}\n");
    feed(&f, "Deployment", "hog", NOW - 10 * MIN, NOW, 5, -1);
    sample(&f, "hog-6d5f7c8b9a-x1a2b", NOW, 13.5, 0.3);
    sample(&f, "mate-6d5f7c8b9a-x1a2b", NOW, 8, 0.3);
    decide_at(&f, NOW);
    a = NULL;
    for (size_t i = 0; i < f.plan.actions.n; i++)
        if (f.plan.actions.v[i].reason == GF_CTL_R_FAIR_FIRST + GF_FAIR_MEMORY_OVERRUN &&
            f.plan.actions.v[i].kind == GF_CTL_RESIZE)
            a = &f.plan.actions.v[i];
    if (!a) dump(&f.plan);
    assert_non_null(a);
    assert_string_equal(a->target.name, "hog");
    assert_int_equal(a->hold, GF_CTL_GO);
    assert_string_equal(a->to, "0.7");      /* 13.5 GiB x 1.1 / 22.49 GiB, up to 0.05 */
    assert_true(a == &f.plan.actions.v[0]); /* critical first */
    /* the rightsizing upsize of the same workload waits behind it */
    const gf_ctl_action *rs = NULL;
    for (size_t i = 0; i < f.plan.actions.n; i++)
        if (f.plan.actions.v[i].reason == GF_CTL_R_UPSIZE) rs = &f.plan.actions.v[i];
    if (rs) assert_int_equal(rs->hold, GF_CTL_HOLD_SUPERSEDED);
    /* act, but hog only recommend: not written */
    fx_free(&f);
    fx_init(&f, b.s,
            AUTO "rules:\n  - name: hog\n    match: {labels: {app: hog}}\n    mode: recommend\n"
                 "fairUse: {mode: act}\n");
    feed(&f, "Deployment", "hog", NOW - 10 * MIN, NOW, 5, -1);
    sample(&f, "hog-6d5f7c8b9a-x1a2b", NOW, 13.5, 0.3);
    sample(&f, "mate-6d5f7c8b9a-x1a2b", NOW, 8, 0.3);
    decide_at(&f, NOW);
    for (size_t i = 0; i < f.plan.actions.n; i++) {
        const gf_ctl_action *x = &f.plan.actions.v[i];
        if (gf_ctl_kind_disruptive(x->kind) && !strcmp(x->target.name, "hog"))
            assert_int_not_equal(x->hold, GF_CTL_GO);
    }
    fx_free(&f);
    gf_sbuf_free(&b);
}

/* n2's one pod fits on n1: cordon n2, evict it; while the node drains the
 * remaining pods are evicted (PodDisruptionBudgets and the rate permitting);
 * an unselected workload pins its node. */
/* Usage joins the GPU by the exporter's UUID, the reservation pod's device
 * ID (run.ai/reserve_for_gpu_index, pod_patcher.go): of a two-device fraction
 * (only runai-gpu-group/<g> labels) only the busier device overruns. */
static void test_fair_use_joins_by_gpu_uuid(void **state)
{
    (void)state;
#define RSV_POD(name, group, uuid)                                                                 \
    ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\",\"namespace\":"                        \
    "\"kai-resource-reservation\",\"labels\":{\"app\":\"kai-resource-reservation\","               \
    "\"runai-gpu-group\":\"" group "\"},\"annotations\":{\"run.ai/reserve_for_gpu_index\":\"" uuid \
    "\"}},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"r\",\"resources\":{"           \
    "\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]},\"status\":{\"phase\":\"Running\"}}"
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    gf_sbuf_puts(&b, RSV_POD("r1", "ga", "GPU-aaaa") RSV_POD("r2", "gb", "GPU-bbbb"));
    gf_sbuf_puts(&b, ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"two-0\",\"namespace\":\"t\","
                     "\"labels\":{\"runai-gpu-group/ga\":\"ga\",\"runai-gpu-group/gb\":\"gb\"},"
                     "\"annotations\":{\"gpu-fraction\":\"0.25\",\"gpu-fraction-num-devices\":"
                     "\"2\"}},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\"}]},"
                     "\"status\":{\"phase\":\"Running\"}}");
    cluster_end(&b);
    for (int joined = 0; joined < 2; joined++) {
        fx f;
        fx_init(&f, b.s, PH "fairUse: {mode: report}\n");
        feed(&f, "Deployment", "other", NOW - 20 * MIN, NOW, 1, -1); /* the history: fresh */
        /* 9 GiB on one device, 1 GiB on the other (0.25 of 22.46 GiB is 5.6),
         * every minute for longer than the hog window */
        for (int k = 10; k >= 0; k--) {
            double t = NOW - k * MIN;
            gf_usage_sample s1 = {t, "t", "two-0", "c", joined ? "GPU-aaaa" : "", 9 * GIB, 0.1};
            gf_usage_sample s2 = {t, "t", "two-0", "c", joined ? "GPU-bbbb" : "", 1 * GIB, 0.1};
            gf_vec_push(&f.samples, s1);
            gf_vec_push(&f.samples, s2);
            decide_at(&f, t + 1);
        }
        const gf_fair_report *r = &f.plan.fair;
        size_t overruns = 0;
        for (size_t i = 0; i < r->findings.n; i++) {
            if (r->findings.v[i].kind != GF_FAIR_MEMORY_OVERRUN) continue;
            overruns++;
            const gf_fair_gpu *g = &f.plan.fair_state.gpus.v[r->findings.v[i].gpu];
            assert_string_equal(f.m.gpus.v[g->gpu].device_id, "GPU-aaaa");
        }
        /* without UUIDs the 10 GiB are spread, 5 GiB a device: no overrun */
        assert_int_equal(overruns, joined ? 1 : 0);
        fx_free(&f);
    }
    gf_sbuf_free(&b);
#undef RSV_POD
}

/* The clusters' Deployment pods are single non-preemptible replicas (KAI's
 * grouper gives Deployments priority class inference): these drains need
 * consolidation.moveNonPreemptible: always. Under the default they stay. */
#define AUTO_MOVE AUTO "consolidation: {moveNonPreemptible: always}\n"

static void test_consolidation(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    cluster_begin(&b);
    wl(&b, "Deployment", "a", "0.5", "0.5", "n1", "g1", "");
    wl(&b, "Deployment", "b", "0.25", "0.25", "n1", "g1", "");
    wl(&b, "Deployment", "lone", "0.25", "0.25", "n2", "g2", "");
    cluster_end(&b);
    fx f;
    fx_init(&f, b.s, AUTO_MOVE);
    feed(&f, "Deployment", "a", NOW - 10 * MIN, NOW, 3, -1);
    feed(&f, "Deployment", "lone", NOW - 10 * MIN, NOW, 1, -1);
    decide_at(&f, NOW);
    assert_null(find(&f.plan, GF_CTL_CORDON, "n2")); /* off by default */
    f.cfg.consolidate_every_s = HOUR;
    decide_at(&f, NOW);
    const gf_ctl_action *c = find(&f.plan, GF_CTL_CORDON, "n2");
    if (!c) dump(&f.plan);
    assert_non_null(c);
    assert_int_equal(c->hold, GF_CTL_GO);
    const gf_ctl_action *e = find(&f.plan, GF_CTL_EVICT, "lone");
    assert_non_null(e);
    assert_int_equal(e->hold, GF_CTL_GO);
    assert_true(c < e);
    assert_string_equal(e->target.kind, "Pod");
    /* the cordon is recorded: the next step only evicts what is left */
    gf_ctl_commit(&f.st, &f.h, &f.m, c, NOW);
    assert_string_equal(f.st.draining, "n2");
    decide_at(&f, NOW + MIN);
    assert_null(find(&f.plan, GF_CTL_CORDON, "n2"));
    assert_non_null(find(&f.plan, GF_CTL_EVICT, "lone"));
    gf_ctl_commit(&f.st, &f.h, &f.m, find(&f.plan, GF_CTL_EVICT, "lone"), NOW + MIN);
    assert_int_equal(f.st.evictions.n, 1);
    fx_free(&f);

    /* the pod gone from n2: the drain is over; the next plan an interval later */
    gf_sbuf_free(&b);
    cluster_begin(&b);
    wl(&b, "Deployment", "a", "0.5", "0.5", "n1", "g1", "");
    wl(&b, "Deployment", "b", "0.25", "0.25", "n1", "g1", "");
    wl(&b, "Deployment", "lone", "0.25", "0.25", "n1", "g1", "");
    cluster_end(&b);
    fx_init(&f, b.s, AUTO_MOVE);
    feed(&f, "Deployment", "a", NOW - 10 * MIN, NOW + 2 * HOUR, 3, -1);
    f.cfg.consolidate_every_s = HOUR;
    f.st.draining = gf_xstrdup("n2");
    f.meta.draining_node = "n2";
    decide_at(&f, NOW + 2 * MIN);
    assert_null(f.st.draining);
    assert_true(f.st.last_consolidation_t == NOW + 2 * MIN);
    assert_int_equal(f.plan.actions.n, 0);
    /* the drained node still cordoned and annotated (a restart): no drain in
     * progress, planning goes on when due (n1 holds everything: nothing) */
    gf_ctl_state_free(&f.st);
    gf_ctl_state_init(&f.st);
    decide_at(&f, NOW + 2 * HOUR);
    assert_null(f.st.draining);
    assert_true(f.st.last_consolidation_t == NOW + 2 * HOUR);
    fx_free(&f);

    /* a PodDisruptionBudget with nothing left holds the eviction */
    gf_sbuf_free(&b);
    cluster_begin(&b);
    wl(&b, "Deployment", "a", "0.5", "0.5", "n1", "g1", "");
    wl(&b, "Deployment", "lone", "0.25", "0.25", "n2", "g2", "");
    pdb(&b, "lone", "lone", 0);
    cluster_end(&b);
    fx_init(&f, b.s, AUTO_MOVE);
    feed(&f, "Deployment", "lone", NOW - 10 * MIN, NOW, 1, -1);
    f.cfg.consolidate_every_s = HOUR;
    f.meta.draining_node = "n2"; /* a drain begun before a restart */
    decide_at(&f, NOW);
    e = find(&f.plan, GF_CTL_EVICT, "lone");
    assert_non_null(e);
    assert_int_equal(e->hold, GF_CTL_HOLD_PDB);
    fx_free(&f);

    /* the default (replicated): lone is a single non-preemptible replica */
    gf_sbuf_free(&b);
    cluster_begin(&b);
    wl(&b, "Deployment", "a", "0.5", "0.5", "n1", "g1", "");
    wl(&b, "Deployment", "lone", "0.25", "0.25", "n2", "g2", "");
    cluster_end(&b);
    fx_init(&f, b.s, AUTO);
    feed(&f, "Deployment", "lone", NOW - 10 * MIN, NOW, 1, -1);
    f.cfg.consolidate_every_s = HOUR;
    decide_at(&f, NOW);
    assert_null(find(&f.plan, GF_CTL_CORDON, "n2"));
    assert_null(find(&f.plan, GF_CTL_EVICT, "lone"));
    fx_free(&f);

    /* a gang (PodGroup minMember 2) over n1 and n2: a drain of either node
     * re-creates the mate on the other; the controller evicts a node's pods
     * and could split the gang, so it runs neither drain. Without the
     * PodGroup, n1 is drained. */
    for (int gang = 1; gang >= 0; gang--) {
        gf_sbuf_free(&b);
        cluster_begin(&b);
        gf_sbuf_puts(&b, ",{\"kind\":\"StatefulSet\",\"apiVersion\":\"apps/v1\",\"metadata\":{"
                         "\"name\":\"gang\",\"namespace\":\"t\",\"uid\":\"uid-gang\"},"
                         "\"spec\":{\"replicas\":2,\"template\":{\"metadata\":{\"annotations\":"
                         "{\"gpu-fraction\":\"0.5\"}}}}}");
        for (int i = 0; i < 2; i++)
            gf_sbuf_printf(&b,
                           ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"gang-%d\",\"namespace\":"
                           "\"t\",\"uid\":\"pod-gang-%d\",\"labels\":{\"app\":\"gang\","
                           "\"runai-gpu-group\":\"gg%d\"},\"annotations\":{\"gpu-fraction\":\"0.5\""
                           "%s},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
                           "\"StatefulSet\",\"name\":\"gang\",\"controller\":true}]},\"spec\":{"
                           "\"nodeName\":\"n%d\",\"containers\":[{\"name\":\"c\"}]},\"status\":{"
                           "\"phase\":\"Running\"}}",
                           i, i, i, gang ? ",\"pod-group-name\":\"pg-gang\"" : "", i + 1);
        gf_sbuf_puts(&b, ",{\"apiVersion\":\"scheduling.run.ai/v2alpha2\",\"kind\":\"PodGroup\","
                         "\"metadata\":{\"name\":\"pg-gang\",\"namespace\":\"t\"},\"spec\":{"
                         "\"minMember\":2,\"priorityClassName\":\"train\",\"queue\":\"q\"}}");
        cluster_end(&b);
        fx_init(&f, b.s, AUTO);
        feed(&f, "StatefulSet", "gang", NOW - 10 * MIN, NOW, 2, -1);
        f.cfg.consolidate_every_s = HOUR;
        decide_at(&f, NOW);
        bool cordoned = find(&f.plan, GF_CTL_CORDON, "n1") || find(&f.plan, GF_CTL_CORDON, "n2");
        if (cordoned == (bool)gang) dump(&f.plan);
        assert_int_equal(cordoned, !gang);
        fx_free(&f);
    }

    /* lone in recommend mode: its node is not drained */
    gf_sbuf_free(&b);
    cluster_begin(&b);
    wl(&b, "Deployment", "a", "0.5", "0.5", "n1", "g1", "");
    wl(&b, "Deployment", "lone", "0.25", "0.25", "n2", "g2",
       ",\"gpufrac.io/rightsize\":\"recommend\"");
    cluster_end(&b);
    fx_init(&f, b.s, AUTO_MOVE);
    feed(&f, "Deployment", "lone", NOW - 10 * MIN, NOW, 1, -1);
    f.cfg.consolidate_every_s = HOUR;
    decide_at(&f, NOW);
    assert_null(find(&f.plan, GF_CTL_CORDON, "n2"));
    assert_null(find(&f.plan, GF_CTL_EVICT, "lone"));
    fx_free(&f);
    gf_sbuf_free(&b);
}

/* --- tests: annotations ------------------------------------------------------------------------
 */

static void test_last_change_format(void **state)
{
    (void)state;
    char buf[512];
    gf_ctl_format_last_change(NOW + 0.9, "gpu-memory", "", "4096", "upsize", "why not", buf,
                              sizeof buf);
    assert_string_equal(buf, "2026-11-26T13:33:20Z gpu-memory unset -> 4096 (upsize): why not");
    double t;
    assert_true(gf_ctl_parse_last_change(buf, &t));
    assert_true(t == NOW);
    assert_true(gf_ctl_parse_last_change("1970-01-01T00:00:00Z", &t));
    assert_true(t == 0);
    assert_true(gf_ctl_parse_last_change("2024-02-29T23:59:59Z x", &t));
    assert_true(t == 1709251199);
    static const char *bad[] = {"",
                                "2026-11-26 13:33:20Z",
                                "2026-11-26T13:33:20",
                                "2026-13-26T13:33:20Z",
                                "1969-12-31T23:59:59Z",
                                "2026-11-26T24:00:00Z",
                                "20a6-11-26T13:33:20Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(gf_ctl_parse_last_change(bad[i], &t));
    assert_false(gf_ctl_parse_last_change(NULL, &t));
    /* names cover every value */
    for (int k = 0; k < GF_CTL_KIND_COUNT; k++)
        assert_string_not_equal(gf_ctl_kind_name((gf_ctl_kind)k), "?");
    for (size_t i = 0; i < GF_CTL_REASON_COUNT + GF_CTL_HOLD_COUNT; i++)
        assert_string_not_equal(gf_ctl_decision_name(i), "?");
    for (int r = 0; r < GF_CTL_RESULT_COUNT; r++)
        assert_string_not_equal(gf_ctl_result_name((gf_ctl_result)r), "?");
    for (int o = 0; o < GF_CTL_OP_COUNT; o++)
        assert_string_not_equal(gf_ctl_op_name((gf_ctl_op)o), "?");
}

/* --- the loop iteration through an in-memory backend -------------------------------------------
 */

typedef struct mock {
    const char *json; /* the cluster */
    const char *chat_last_change;
    char written_last_change[512]; /* what a resize wrote: the next snapshot sees it */
    char written_to[32];
    bool written_move_cap; /* what the last resize said of the engine's cap */
    double written_cap;
    char written_knob[64], written_cap_container[64];
    GF_VEC(gf_usage_sample) usage;
    GF_VEC(gf_engine_sample) engine; /* what the last usage call brought of the engines' */
    int snapshots, resizes, annotates, events, evicts, cordons;
    char event_reason[48], event_message[700], event_kind[32]; /* the last Event */
    bool fail_snapshot, fail_usage, leader;
    gf_ctl_result resize_result;
} mock;

static gf_err m_snapshot(void *ctx, gf_model *m, gf_ctl_meta *meta, gf_diags *d, gf_error *err)
{
    mock *k = ctx;
    k->snapshots++;
    if (k->fail_snapshot) return gf_error_set(err, GF_EIO, "mock", "the API is down");
    gf_err rc = gf_test_load_text(m, d, err, k->json);
    if (rc) return rc;
    meta->w = gf_arena_alloc(&m->arena, (m->workloads.n + 1) * sizeof *meta->w);
    const char *lc = k->written_last_change[0] ? k->written_last_change : k->chat_last_change;
    for (size_t i = 0; i < m->workloads.n; i++) {
        meta->w[i].resource_version = "42";
        if (!strcmp(m->workloads.v[i].name, "chat") && lc)
            meta->w[i].last_change = gf_arena_strdup(&m->arena, lc);
    }
    return GF_OK;
}

static gf_err m_usage(void *ctx, const gf_model *m, double since, double now,
                      const gf_usage_sample **out, size_t *n, gf_diags *d, gf_error *err)
{
    mock *k = ctx;
    if (k->fail_usage) return gf_error_set(err, GF_EIO, "http://prometheus", "connection refused");
    /* the samples in (since, now] are the tail of the vector: they are in time order */
    size_t i = 0;
    while (i < k->usage.n && k->usage.v[i].t <= since)
        i++;
    size_t j = i;
    while (j < k->usage.n && k->usage.v[j].t <= now)
        j++;
    *out = k->usage.v + i;
    *n = j - i;
    return GF_OK;
}

static gf_err m_resize(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    mock *k = ctx;
    k->resizes++;
    *res = k->resize_result;
    if (*res != GF_CTL_OK) return gf_error_set(err, GF_EIO, a->target.name, "refused by the mock");
    assert_non_null(a->resource_version);
    snprintf(k->written_last_change, sizeof k->written_last_change, "%s", a->last_change);
    snprintf(k->written_to, sizeof k->written_to, "%s", a->to);
    k->written_move_cap = a->move_cap;
    k->written_cap = a->new_cap;
    snprintf(k->written_knob, sizeof k->written_knob, "%s", a->cap_knob ? a->cap_knob : "");
    snprintf(k->written_cap_container, sizeof k->written_cap_container, "%s",
             a->cap_container ? a->cap_container : "");
    return GF_OK;
}

static gf_err m_annotate(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    ((mock *)ctx)->annotates++;
    *res = GF_CTL_OK;
    return GF_OK;
}

static gf_err m_event(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    mock *k = ctx;
    k->events++;
    snprintf(k->event_reason, sizeof k->event_reason, "%s", a->event_reason);
    snprintf(k->event_message, sizeof k->event_message, "%s", a->message);
    snprintf(k->event_kind, sizeof k->event_kind, "%s", a->target.kind);
    *res = GF_CTL_OK;
    return GF_OK;
}

static gf_err m_evict(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    ((mock *)ctx)->evicts++;
    *res = GF_CTL_OK;
    return GF_OK;
}

static gf_err m_cordon(void *ctx, const gf_ctl_action *a, gf_ctl_result *res, gf_error *err)
{
    ((mock *)ctx)->cordons++;
    *res = GF_CTL_OK;
    return GF_OK;
}

static bool m_may_write(void *ctx)
{
    return ((mock *)ctx)->leader;
}

static void m_engine_usage(void *ctx, const gf_engine_sample **out, size_t *n)
{
    mock *k = ctx;
    *out = k->engine.v;
    *n = k->engine.n;
}

static gf_ctl_backend mock_backend(mock *k)
{
    gf_ctl_backend b = {k,       "mock",  m_snapshot, m_usage,     m_resize, m_annotate,
                        m_event, m_evict, m_cordon,   m_may_write, NULL};
    return b;
}

static void mock_usage(mock *k, const char *pod, double t0, double t1, double mem_gib)
{
    for (double t = t0; t <= t1; t += MIN) {
        gf_usage_sample s = {t, "t", pod, "c", "GPU-a", mem_gib * GIB, NAN};
        gf_vec_push(&k->usage, s);
    }
}

/* The engines' own samples the usage call brought go into the history
 * beside the exporter's; a value the history refuses is an API error of
 * the usage, not a failed step. */
static void test_step_ingests_engine_samples(void **state)
{
    (void)state;
    char *json = basic_cluster("0.5", "0.5");
    mock k;
    memset(&k, 0, sizeof k);
    k.json = json;
    k.leader = true;
    mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW - 30 * MIN, NOW, 6);
    for (double t = NOW - 30 * MIN; t <= NOW; t += MIN) {
        gf_engine_sample e = {t, "t", "chat-6d5f7c8b9a-x1a2b", 0.3, 0, NAN};
        gf_vec_push(&k.engine, e);
    }
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    gf_history h;
    gf_history_init(&h, NULL, &err);
    gf_ctl c;
    gf_ctl_init(&c, NULL, &p, &h);
    gf_diags log;
    gf_diags_init(&log);
    uint32_t failed = 9;
    gf_ctl_backend b = mock_backend(&k);
    b.engine_usage = m_engine_usage;
    assert_int_equal(gf_ctl_step(&c, &b, NOW, &log, &failed, &err), GF_OK);
    const gf_hist_series *s = gf_history_find(&h, "t/Deployment/chat");
    assert_non_null(s);
    assert_int_equal(s->track[GF_SIG_KV].samples, 31);
    assert_int_equal(s->track[GF_SIG_WAITING].samples, 31);
    assert_int_equal(s->track[GF_SIG_PREEMPT].samples, 0);
    assert_int_equal(c.stats.samples_ingested, 31 + 2 * 31);
    /* a KV share above 1 is refused by the history: counted, the step goes on */
    gf_engine_sample bad = {NOW + MIN, "t", "chat-6d5f7c8b9a-x1a2b", 1.5, NAN, NAN};
    k.engine.n = 0;
    gf_vec_push(&k.engine, bad);
    mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW + MIN, NOW + MIN, 6);
    assert_int_equal(gf_ctl_step(&c, &b, NOW + MIN, &log, &failed, &err), GF_OK);
    assert_true(c.stats.api_errors[GF_CTL_OP_USAGE] >= 1);
    assert_true(gf_test_diag_has(&log, "engine usage refused by the history"));
    gf_ctl_free(&c);
    gf_history_free(&h);
    gf_policy_free(&p);
    gf_diags_free(&log);
    gf_vec_free(&k.usage);
    gf_vec_free(&k.engine);
    free(json);
}

static gf_err step(gf_ctl *c, mock *k, double now, gf_diags *log, uint32_t *failed)
{
    gf_ctl_backend b = mock_backend(k);
    gf_error err = {0};
    gf_err rc = gf_ctl_step(c, &b, now, log, failed, &err);
    return rc;
}

/* One step resizes chat (one patch, with its record, and an Event) and
 * publishes embed's recommendation; the next steps change nothing more:
 * the pods still roll out, and once they carry the new value the budget
 * and the record hold. A restart with an empty history sees the record. */
static void test_step_writes_once(void **state)
{
    (void)state;
    char *json = basic_cluster("0.5", "0.5");
    mock k;
    memset(&k, 0, sizeof k);
    k.json = json;
    k.leader = true;
    k.resize_result = GF_CTL_OK;
    mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW - 30 * MIN, NOW - 6 * MIN, 6);
    mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW - 5 * MIN, NOW, 10.5);
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    const char *pol = PH "defaults: {mode: auto, maxDisruptionsPerHour: 1}\n";
    assert_int_equal(gf_policy_load_buffer(&p, "p.yaml", pol, strlen(pol), &err), GF_OK);
    gf_history h;
    gf_history_init(&h, NULL, &err);
    gf_ctl c;
    gf_ctl_init(&c, NULL, &p, &h);
    gf_diags log;
    gf_diags_init(&log);
    uint32_t failed = 9;
    assert_int_equal(step(&c, &k, NOW, &log, &failed), GF_OK);
    assert_int_equal(failed, 0);
    assert_int_equal(k.resizes, 1);
    assert_int_equal(k.events, 1); /* the resize's */
    assert_string_equal(k.written_to, "0.55");
    assert_true(gf_test_diag_has(&log, "upsize t/Deployment/chat gpu-fraction 0.5 -> 0.55"));
    assert_int_equal(c.stats.results[GF_CTL_RESIZE][GF_CTL_OK], 1);
    assert_int_equal(c.stats.decisions[GF_CTL_RESIZE][GF_CTL_R_UPSIZE], 1);
    assert_int_equal(c.stats.steps_ok, 1);
    assert_true(c.stats.last_success_t == NOW);
    const gf_hist_series *s = gf_history_find(&h, "t/Deployment/chat");
    assert_non_null(s);
    assert_true(s->last_change_t == NOW);
    assert_true(c.stats.samples_ingested > 0);

    /* the template says 0.55 now, the pod still 0.5: rolling out */
    char *rolled = basic_cluster("0.55", "0.5");
    k.json = rolled;
    assert_int_equal(step(&c, &k, NOW + MIN, &log, &failed), GF_OK);
    assert_int_equal(k.resizes, 1);
    /* rolled out, still hungry (more memory now): the budget (1 an hour) holds */
    char *done = basic_cluster("0.55", "0.55");
    k.json = done;
    mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW + 2 * MIN, NOW + 2 * MIN, 11.8);
    assert_int_equal(step(&c, &k, NOW + 2 * MIN, &log, &failed), GF_OK);
    assert_int_equal(k.resizes, 1);
    assert_true(c.stats.decisions[GF_CTL_RESIZE][GF_CTL_REASON_COUNT + GF_CTL_HOLD_BUDGET] >= 1);
    assert_true(gf_test_diag_has(&log, "hold budget: upsize t/Deployment/chat"));

    /* restart: empty history, same cluster: the annotation keeps the budget */
    gf_ctl_free(&c);
    gf_history_free(&h);
    gf_history_init(&h, NULL, &err);
    gf_ctl_init(&c, NULL, &p, &h);
    assert_int_equal(step(&c, &k, NOW + 3 * MIN, &log, &failed), GF_OK);
    assert_int_equal(k.resizes, 1);
    s = gf_history_find(&h, "t/Deployment/chat");
    assert_true(s->last_change_t == NOW);
    /* an hour later the budget is back */
    mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW + 61 * MIN, NOW + 61 * MIN, 12.1); /* a new peak */
    assert_int_equal(step(&c, &k, NOW + 61 * MIN, &log, &failed), GF_OK);
    assert_int_equal(k.resizes, 2);
    /* the wall clock stepped back an hour: the loop goes on */
    assert_int_equal(step(&c, &k, NOW, &log, &failed), GF_OK);
    assert_int_equal(c.stats.steps_failed, 0);

    gf_ctl_free(&c);
    gf_history_free(&h);
    gf_policy_free(&p);
    gf_diags_free(&log);
    gf_vec_free(&k.usage);
    free(json);
    free(rolled);
    free(done);
}

/* A vLLM at its default cap (0.9 of the GPU) on a 0.5 fraction is configured
 * to overrun: one warning Event on the Deployment with the exact fix, and
 * the gauge gpufrac_configured_overrun; not told again while it holds, told
 * again when it changes (0.75 now) or comes back after a fix; a vLLM on
 * $(GPU_PORTION) is fine; fairUse.mode off reports nothing. */
static char *overrun_cluster(const char *llm_frac, const char *llm_args)
{
    gf_sbuf b = GF_SBUF_INIT;
    char c[300];
    cluster_begin(&b);
    snprintf(c, sizeof c, ",\"image\":\"vllm/vllm-openai:v0.11.0\",\"args\":[%s]", llm_args);
    wl_c(&b, "Deployment", "llm", llm_frac, llm_frac, "n1", "g1", "", c);
    wl_c(&b, "Deployment", "chat", "0.5", "0.5", "n2", "g2", "",
         ",\"image\":\"vllm/vllm-openai:v0.11.0\",\"args\":[\"--gpu-memory-utilization\","
         "\"$(GPU_PORTION)\"]");
    cluster_end(&b);
    return b.s;
}

static bool metric_has(gf_ctl *c, const char *want)
{
    gf_ctl_process proc;
    memset(&proc, 0, sizeof proc);
    gf_sbuf out = GF_SBUF_INIT;
    gf_ctl_metrics_render(c, &proc, &out);
    bool ok = strstr(gf_sbuf_str(&out), want) != NULL;
    gf_sbuf_free(&out);
    return ok;
}

#define OVERRUN_GAUGE                                                                              \
    "gpufrac_configured_overrun{namespace=\"t\",workload=\"llm\",kind=\"Deployment\","             \
    "engine=\"vllm\"} "

static void test_configured_overrun(void **state)
{
    (void)state;
    char *bad = overrun_cluster("0.5", "\"--model\",\"m\"");
    char *changed = overrun_cluster("0.75", "\"--model\",\"m\"");
    char *fixed = overrun_cluster("0.5", "\"--gpu-memory-utilization=$(GPU_PORTION)\"");
    mock k;
    memset(&k, 0, sizeof k);
    k.json = bad;
    k.leader = true;
    mock_usage(&k, "llm-6d5f7c8b9a-x1a2b", NOW - 30 * MIN, NOW + 10 * MIN, 2);
    gf_policy p;
    gf_policy_init(&p);
    gf_history h;
    gf_error err = {0};
    gf_history_init(&h, NULL, &err);
    gf_ctl c;
    gf_ctl_init(&c, NULL, &p, &h);
    gf_diags log;
    gf_diags_init(&log);
    assert_int_equal(step(&c, &k, NOW, &log, NULL), GF_OK);
    assert_int_equal(k.events, 1);
    assert_string_equal(k.event_reason, "GpufracConfiguredToOverrun");
    assert_string_equal(k.event_kind, "Deployment");
    if (!strstr(k.event_message, "Deployment t/llm is configured to overrun") ||
        !strstr(k.event_message, "--gpu-memory-utilization 0.9 (its default) takes 0.90") ||
        !strstr(k.event_message, "set --gpu-memory-utilization=$(GPU_PORTION) (or 0.50)"))
        fail_msg("message: %s", k.event_message);
    assert_int_equal(c.plan.overruns.n, 1);
    assert_true(metric_has(&c, OVERRUN_GAUGE "0.4\n"));
    assert_true(metric_has(&c, "# TYPE gpufrac_configured_overrun gauge\n"));
    assert_false(metric_has(&c, "workload=\"chat\",kind=\"Deployment\",engine"));
    /* still so: no second Event, the gauge stays */
    assert_int_equal(step(&c, &k, NOW + MIN, &log, NULL), GF_OK);
    assert_int_equal(k.events, 1);
    assert_true(metric_has(&c, OVERRUN_GAUGE "0.4\n"));
    /* changed: told again, once */
    k.json = changed;
    assert_int_equal(step(&c, &k, NOW + 2 * MIN, &log, NULL), GF_OK);
    assert_int_equal(k.events, 2);
    assert_non_null(strstr(k.event_message, "(or 0.75)"));
    assert_int_equal(step(&c, &k, NOW + 3 * MIN, &log, NULL), GF_OK);
    assert_int_equal(k.events, 2);
    /* fixed: no finding, no gauge; the relapse is told again */
    k.json = fixed;
    assert_int_equal(step(&c, &k, NOW + 4 * MIN, &log, NULL), GF_OK);
    assert_int_equal(k.events, 2);
    assert_int_equal(c.plan.overruns.n, 0);
    assert_false(metric_has(&c, OVERRUN_GAUGE));
    k.json = changed;
    assert_int_equal(step(&c, &k, NOW + 5 * MIN, &log, NULL), GF_OK);
    assert_int_equal(k.events, 3);
    gf_ctl_free(&c);
    gf_policy_free(&p);

    /* fairUse.mode off: nothing */
    const char *off = PH "fairUse: {mode: off}\n";
    gf_policy_init(&p);
    assert_int_equal(gf_policy_load_buffer(&p, "p.yaml", off, strlen(off), &err), GF_OK);
    gf_ctl_init(&c, NULL, &p, &h);
    k.events = 0;
    assert_int_equal(step(&c, &k, NOW + 6 * MIN, &log, NULL), GF_OK);
    assert_int_equal(k.events, 0);
    assert_int_equal(c.plan.overruns.n, 0);
    gf_ctl_free(&c);
    gf_policy_free(&p);
    gf_history_free(&h);
    gf_diags_free(&log);
    gf_vec_free(&k.usage);
    free(bad);
    free(changed);
    free(fixed);
}

/* A vLLM whose cap is a literal (--gpu-memory-utilization=0.5 on a 0.5
 * fraction), NVML flat at its cap, its KV cache at 30% for the window: in
 * auto mode the step applies the downsize, and the action carries the cap
 * moved to the new fraction in the same write (the backend's one patch);
 * on $(GPU_PORTION) the same downsize carries no cap (the flag follows). */
static void test_step_moves_engine_cap(void **state)
{
    (void)state;
    static const char *const args[2] = {
        "\"--model\",\"m\",\"--gpu-memory-utilization=0.5\"",
        "\"--model\",\"m\",\"--gpu-memory-utilization=$(GPU_PORTION)\""};
    for (int i = 0; i < 2; i++) {
        char *json = overrun_cluster("0.5", args[i]);
        mock k;
        memset(&k, 0, sizeof k);
        k.json = json;
        k.leader = true;
        k.resize_result = GF_CTL_OK;
        mock_usage(&k, "llm-6d5f7c8b9a-x1a2b", NOW - 120 * MIN, NOW, 11.8);
        for (double t = NOW - 120 * MIN; t <= NOW; t += MIN) {
            gf_engine_sample e = {t, "t", "llm-6d5f7c8b9a-x1a2b", 0.3, 0, 0};
            gf_vec_push(&k.engine, e);
        }
        gf_policy p;
        gf_policy_init(&p);
        gf_error err = {0};
        const char *pol = PH "defaults: {mode: auto, downsize: {window: 1h, minHistory: 30m, "
                             "cooldown: 1m, maxStep: 0.1}}\n";
        if (gf_policy_load_buffer(&p, "p.yaml", pol, strlen(pol), &err))
            fail_msg("policy: %s: %s", err.where, err.msg);
        gf_history h;
        gf_history_init(&h, NULL, &err);
        gf_ctl c;
        gf_ctl_init(&c, NULL, &p, &h);
        gf_diags log;
        gf_diags_init(&log);
        uint32_t failed = 9;
        gf_ctl_backend b = mock_backend(&k);
        b.engine_usage = m_engine_usage;
        assert_int_equal(gf_ctl_step(&c, &b, NOW, &log, &failed, &err), GF_OK);
        assert_int_equal(failed, 0);
        if (k.resizes != 1) fail_msg("case %d: %d resizes", i, k.resizes);
        assert_string_equal(k.written_to, "0.4");
        if (i == 0) {
            assert_true(k.written_move_cap);
            assert_true(fabs(k.written_cap - 0.4) < 1e-9);
            assert_string_equal(k.written_knob, "--gpu-memory-utilization");
            assert_string_equal(k.written_cap_container, "c");
            assert_false(gf_test_diag_has(&log, "recommend only"));
        } else {
            assert_false(k.written_move_cap);
        }
        gf_ctl_free(&c);
        gf_history_free(&h);
        gf_policy_free(&p);
        gf_diags_free(&log);
        gf_vec_free(&k.usage);
        gf_vec_free(&k.engine);
        free(json);
    }
}

/* Dry run and a replica without the lease decide but never write; a failed
 * write is counted and reported; a snapshot failure is the step's error; a
 * usage failure leaves the data stale: nothing acted on. */
/* A write the API server rejects (403, 422: the backend's REJECTED) is
 * remembered: the next steps hold it (backoff) instead of sending it again
 * each interval; after GF_CTL_WRITE_BACKOFF_S it is tried again. */
static void test_step_backoff(void **state)
{
    (void)state;
    char *json = basic_cluster("0.5", "0.5");
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    assert_int_equal(gf_policy_load_buffer(&p, "p.yaml", AUTO, strlen(AUTO), &err), GF_OK);
    mock k;
    memset(&k, 0, sizeof k);
    k.json = json;
    k.leader = true;
    k.resize_result = GF_CTL_REJECTED;
    /* 9 GiB, then 10.5 GiB rising 0.005 GiB a minute: a new peak every
     * minute (upsize.newPeak), so each step wants the upsize */
    mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW - 10 * MIN, NOW - 6 * MIN, 9);
    for (int i = -5; i <= 120; i++)
        mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW + i * MIN, NOW + i * MIN, 10.5 + 0.005 * i);
    gf_history h;
    gf_history_init(&h, NULL, &err);
    gf_ctl c;
    gf_ctl_init(&c, NULL, &p, &h);
    gf_diags log;
    gf_diags_init(&log);
    uint32_t failed = 0;
    assert_int_equal(step(&c, &k, NOW, &log, &failed), GF_OK);
    assert_int_equal(k.resizes, 1);
    assert_int_equal(failed, 1);
    assert_int_equal(c.stats.results[GF_CTL_RESIZE][GF_CTL_REJECTED], 1);
    for (int i = 1; i <= 5; i++)
        assert_int_equal(step(&c, &k, NOW + i * MIN, &log, &failed), GF_OK);
    assert_int_equal(k.resizes, 1);
    assert_int_equal(c.stats.decisions[GF_CTL_RESIZE][GF_CTL_REASON_COUNT + GF_CTL_HOLD_BACKOFF],
                     5);
    assert_true(gf_test_diag_has(&log, "hold backoff: upsize t/Deployment/chat"));
    k.resize_result = GF_CTL_OK;
    assert_int_equal(step(&c, &k, NOW + GF_CTL_WRITE_BACKOFF_S + MIN, &log, &failed), GF_OK);
    assert_int_equal(k.resizes, 2);
    gf_diags_free(&log);
    gf_ctl_free(&c);
    gf_history_free(&h);
    gf_policy_free(&p);
    gf_vec_free(&k.usage);
    free(json);
}

static void test_step_no_writes(void **state)
{
    (void)state;
    char *json = basic_cluster("0.5", "0.5");
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    assert_int_equal(gf_policy_load_buffer(&p, "p.yaml", AUTO, strlen(AUTO), &err), GF_OK);
    for (int variant = 0; variant < 5; variant++) {
        mock k;
        memset(&k, 0, sizeof k);
        k.json = json;
        k.leader = variant != 1;
        k.resize_result = variant == 2 ? GF_CTL_CONFLICT : GF_CTL_OK;
        k.fail_snapshot = variant == 3;
        k.fail_usage = variant == 4;
        mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW - 10 * MIN, NOW - 6 * MIN, 9); /* a new peak */
        mock_usage(&k, "chat-6d5f7c8b9a-x1a2b", NOW - 5 * MIN, NOW, 10.5);
        gf_history h;
        gf_history_init(&h, NULL, &err);
        gf_ctl_config cfg;
        gf_ctl_config_default(&cfg);
        cfg.dry_run = variant == 0;
        gf_ctl c;
        gf_ctl_init(&c, &cfg, &p, &h);
        gf_diags log;
        gf_diags_init(&log);
        uint32_t failed = 0;
        gf_err rc = step(&c, &k, NOW, &log, &failed);
        switch (variant) {
        case 0:
            assert_int_equal(rc, GF_OK);
            assert_int_equal(k.resizes + k.annotates + k.events, 0);
            assert_int_equal(c.stats.results[GF_CTL_RESIZE][GF_CTL_DRY_RUN], 1);
            assert_true(gf_test_diag_has(&log, "0.5 -> 0.55 (upsize): "));
            assert_true(gf_test_diag_has(&log, ": dry-run"));
            break;
        case 1:
            assert_int_equal(rc, GF_OK);
            assert_int_equal(k.resizes + k.annotates + k.events, 0);
            assert_int_equal(c.stats.results[GF_CTL_RESIZE][GF_CTL_NOT_LEADER], 1);
            break;
        case 2:
            assert_int_equal(rc, GF_OK);
            assert_int_equal(k.resizes, 1);
            assert_int_equal(k.events, 0);
            assert_int_equal(failed, 1);
            assert_int_equal(c.stats.results[GF_CTL_RESIZE][GF_CTL_CONFLICT], 1);
            assert_int_equal(c.stats.api_errors[GF_CTL_OP_RESIZE], 1);
            assert_true(gf_test_diag_has(&log, "refused by the mock"));
            /* not noted: the next step tries again */
            assert_true(gf_history_find(&h, "t/Deployment/chat")->last_change_t < 0);
            break;
        case 3:
            assert_int_equal(rc, GF_EIO);
            assert_int_equal(c.stats.steps_failed, 1);
            assert_int_equal(c.stats.api_errors[GF_CTL_OP_SNAPSHOT], 1);
            break;
        case 4:
            assert_int_equal(rc, GF_OK);
            assert_int_equal(k.resizes, 0);
            assert_int_equal(c.stats.api_errors[GF_CTL_OP_USAGE], 1);
            assert_int_equal(c.stats.steps_stale, 1);
            assert_true(gf_test_diag_has(&log, "usage: http://prometheus: connection refused"));
            assert_true(gf_test_diag_has(&log, "no usage samples yet: no action this step"));
            break;
        }
        gf_ctl_free(&c);
        gf_history_free(&h);
        gf_diags_free(&log);
        gf_vec_free(&k.usage);
    }
    gf_policy_free(&p);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_and_recommend),
        cmocka_unit_test(test_quota_holds_one_way_downsize),
        cmocka_unit_test(test_quota_holds_upsize),
        cmocka_unit_test(test_quota_upsizes_add_up),
        cmocka_unit_test(test_unselected_never_touched),
        cmocka_unit_test(test_stale_usage),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_disruption_budget),
        cmocka_unit_test(test_cooldown_seeded_from_annotations),
        cmocka_unit_test(test_rollout_in_progress),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_other_owners),
        cmocka_unit_test(test_stall_revert),
        cmocka_unit_test(test_stall_revert_moves_engine_cap),
        cmocka_unit_test(test_stall_hold),
        cmocka_unit_test(test_convert_whole_gpu),
        cmocka_unit_test(test_fair_use),
        cmocka_unit_test(test_fair_use_joins_by_gpu_uuid),
        cmocka_unit_test(test_consolidation),
        cmocka_unit_test(test_last_change_format),
        cmocka_unit_test(test_step_ingests_engine_samples),
        cmocka_unit_test(test_step_moves_engine_cap),
        cmocka_unit_test(test_step_writes_once),
        cmocka_unit_test(test_step_no_writes),
        cmocka_unit_test(test_step_backoff),
        cmocka_unit_test(test_configured_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
