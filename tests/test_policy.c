/* test_policy.c - the rightsizing policy (decide/policy.h) and its YAML loader
 * (io/policy_yaml.h): defaults, rule precedence, the gpufrac.io/rightsize
 * annotation, validation, error locations, and robustness on bad input. */
#include "testutil.h"
#include "decide/policy.h"
#include "io/policy_yaml.h"
#include "util/rng.h"
#include "util/sbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define EPS 1e-12
#define H "apiVersion: gpufrac.io/v1alpha1\nkind: RightsizingPolicy\n"
#define EXAMPLE GF_FIXTURES "/../../examples/policy.yaml"

static gf_err load(gf_policy *p, const char *yaml, gf_error *err)
{
    return gf_policy_load_buffer(p, "t.yaml", yaml, strlen(yaml), err);
}

/* Loads yaml, which must be valid. */
static void load_ok(gf_policy *p, const char *yaml)
{
    gf_error err = {0};
    gf_policy_init(p);
    if (load(p, yaml, &err) != GF_OK) fail_msg("load failed: %s: %s", err.where, err.msg);
}

/* Field by field: the struct has padding. */
static void assert_rule_equal(const gf_rightsize_rule *a, const gf_rightsize_rule *b)
{
    assert_int_equal(a->mode, b->mode);
    assert_true(a->headroom == b->headroom);
    assert_true(a->memory_margin == b->memory_margin);
    assert_true(a->upsize_trigger == b->upsize_trigger);
    assert_int_equal(a->upsize_window_s, b->upsize_window_s);
    assert_int_equal(a->downsize_window_s, b->downsize_window_s);
    assert_true(a->downsize_percentile_sm == b->downsize_percentile_sm);
    assert_int_equal(a->min_history_s, b->min_history_s);
    assert_int_equal(a->cooldown_s, b->cooldown_s);
    assert_true(a->min_change == b->min_change);
    assert_true(a->max_down_step == b->max_down_step);
    assert_true(a->min_fraction == b->min_fraction);
    assert_true(a->max_fraction == b->max_fraction);
    assert_true(a->step == b->step);
    assert_int_equal(a->memory_step_mib, b->memory_step_mib);
    assert_int_equal(a->compute_aware, b->compute_aware);
    assert_int_equal(a->max_disruptions_per_hour, b->max_disruptions_per_hour);
    assert_int_equal(a->convert_from_whole, b->convert_from_whole);
    assert_int_equal(a->convert_to_whole, b->convert_to_whole);
    assert_int_equal(a->convert_min_history_s, b->convert_min_history_s);
    assert_true(a->convert_max_fraction == b->convert_max_fraction);
    assert_int_equal(a->convert_unit, b->convert_unit);
    assert_int_equal(a->convert_set_scheduler, b->convert_set_scheduler);
}

static gf_policy_subject subject(const char *kind, const char *ns, const gf_kvs *labels,
                                 const char *opt)
{
    gf_policy_subject s = {kind, ns, "w", labels, opt};
    return s;
}

/* --- defaults ------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    gf_rightsize_rule r;
    gf_rightsize_rule_defaults(&r);
    assert_int_equal(r.mode, GF_MODE_RECOMMEND);
    assert_true(fabs(r.headroom - 0.15) < EPS);
    assert_true(fabs(r.memory_margin - 0.10) < EPS);
    assert_true(fabs(r.upsize_trigger - 0.9) < EPS);
    assert_int_equal(r.upsize_window_s, 300);
    assert_int_equal(r.downsize_window_s, 86400);
    assert_true(fabs(r.downsize_percentile_sm - 0.95) < EPS);
    assert_int_equal(r.min_history_s, 86400);
    assert_int_equal(r.cooldown_s, 21600);
    assert_true(fabs(r.min_change - 0.05) < EPS);
    assert_true(fabs(r.max_down_step - 0.25) < EPS);
    assert_true(fabs(r.min_fraction - 0.05) < EPS);
    assert_true(fabs(r.max_fraction - 0.95) < EPS); /* KAI refuses gpu-fraction 1 */
    assert_true(fabs(r.step - 0.05) < EPS);
    assert_int_equal(r.memory_step_mib, 256);
    assert_false(r.compute_aware);
    assert_int_equal(r.stall_timeout_s, 600);      /* stallTimeout: 10m */
    assert_int_equal(r.on_stall, GF_STALL_REVERT); /* onStall: revert */
    assert_int_equal(r.max_disruptions_per_hour, 1);
    assert_false(r.hold_one_way); /* downsize.holdOneWay: off */
    assert_int_equal(gf_rightsize_rule_validate(&r, NULL), GF_OK);

    gf_policy p;
    gf_policy_init(&p);
    assert_false(p.opt_in);
    assert_false(p.allow_annotation_upgrade);
    assert_int_equal(p.rules.n, 0);
    assert_int_equal(gf_policy_validate(&p, NULL), GF_OK);
    assert_rule_equal(&p.defaults, &r);
    gf_policy_free(&p);
    gf_policy_free(NULL);

    gf_mode m;
    assert_true(gf_mode_parse("auto", &m));
    assert_int_equal(m, GF_MODE_AUTO);
    assert_true(gf_mode_parse("off", &m));
    assert_int_equal(m, GF_MODE_OFF);
    assert_false(gf_mode_parse("Auto", &m));
    assert_false(gf_mode_parse(NULL, &m));
    assert_string_equal(gf_mode_name(GF_MODE_RECOMMEND), "recommend");
    assert_string_equal(gf_rule_field_key(GF_RF_MIN_HISTORY), "downsize.minHistory");
    assert_string_equal(gf_rule_field_key(GF_RF_MEMORY_STEP), "bounds.memoryStepMiB");
    assert_string_equal(gf_rule_field_key(GF_RF_COUNT), "?");
}

/* apiVersion and kind alone: the built-in defaults. */
static void test_load_minimal(void **state)
{
    (void)state;
    gf_policy p;
    load_ok(&p, H);
    gf_rightsize_rule r;
    gf_rightsize_rule_defaults(&r);
    assert_rule_equal(&p.defaults, &r);
    assert_int_equal(p.rules.n, 0);
    assert_string_equal(p.origin, "t.yaml");
    gf_policy_free(&p);

    /* empty sections are empty */
    load_ok(&p, H "defaults:\nrules:\noptIn: false\n");
    assert_rule_equal(&p.defaults, &r);
    assert_int_equal(p.rules.n, 0);
    gf_policy_free(&p);
    load_ok(&p, "---\n" H "rules: []\ndefaults: {}\n...\n");
    gf_policy_free(&p);
}

/* KAI's configurable names: KAI's defaults, or the kai: section's. */
static void test_load_kai_names(void **state)
{
    (void)state;
    gf_policy p;
    load_ok(&p, H);
    assert_string_equal(p.kai.scheduler_name, "kai-scheduler");
    assert_string_equal(p.kai.queue_label, "kai.scheduler/queue");
    assert_string_equal(p.kai.node_pool_label, "kai.scheduler/node-pool");
    assert_string_equal(p.kai.reservation_ns, "kai-resource-reservation");
    assert_string_equal(p.kai.reservation_app, "kai-resource-reservation");
    gf_policy_free(&p);
    load_ok(&p, H "kai:\n  schedulerName: my-kai\n  queueLabel: example.com/queue\n"
                  "  nodePoolLabel: example.com/pool\n  reservationNamespace: kai-rr\n"
                  "  reservationAppLabel: kai-rr-app\n");
    assert_string_equal(p.kai.scheduler_name, "my-kai");
    assert_string_equal(p.kai.queue_label, "example.com/queue");
    assert_string_equal(p.kai.node_pool_label, "example.com/pool");
    assert_string_equal(p.kai.reservation_ns, "kai-rr");
    assert_string_equal(p.kai.reservation_app, "kai-rr-app");
    gf_policy_free(&p);
}

static void test_load_example(void **state)
{
    (void)state;
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    if (gf_policy_load_file(&p, EXAMPLE, &err) != GF_OK) fail_msg("%s: %s", err.where, err.msg);
    /* the example's defaults are the built-in ones */
    gf_rightsize_rule r;
    gf_rightsize_rule_defaults(&r);
    assert_rule_equal(&p.defaults, &r);
    assert_false(p.opt_in);
    assert_false(p.allow_annotation_upgrade);
    assert_int_equal(p.rules.n, 3);

    const gf_policy_rule *sys = &p.rules.v[0];
    assert_string_equal(sys->name, "system");
    assert_int_equal(sys->set, GF_RF_BIT(GF_RF_MODE));
    assert_int_equal(sys->values.mode, GF_MODE_OFF);
    assert_int_equal(sys->match.n_namespaces, 3);
    assert_string_equal(sys->match.namespaces[1], "gpu-operator*");
    assert_non_null(strstr(sys->origin, "policy.yaml:"));

    const gf_policy_rule *llm = &p.rules.v[1];
    assert_string_equal(llm->name, "llm-serving");
    assert_int_equal(llm->match.labels.n, 2);
    assert_string_equal(gf_kvs_get(&llm->match.labels, "app.kubernetes.io/component"), "inference");
    assert_int_equal(llm->match.n_kinds, 2);
    assert_true(fabs(llm->values.upsize_trigger - 0.85) < EPS);
    assert_int_equal(llm->values.upsize_window_s, 600);
    assert_int_equal(llm->values.downsize_window_s, 7 * 86400);
    assert_int_equal(llm->values.min_history_s, 3 * 86400);
    assert_int_equal(llm->values.cooldown_s, 86400);
    assert_true(llm->values.compute_aware);
    assert_int_equal(llm->values.max_disruptions_per_hour, 2);
    assert_false(llm->set & GF_RF_BIT(GF_RF_MIN_CHANGE));
    assert_false(llm->set & GF_RF_BIT(GF_RF_MAX_FRACTION));

    const gf_policy_rule *batch = &p.rules.v[2];
    assert_int_equal(batch->values.memory_step_mib, 1024);
    assert_int_equal(batch->set,
                     GF_RF_BIT(GF_RF_MODE) | GF_RF_BIT(GF_RF_STEP) | GF_RF_BIT(GF_RF_MEMORY_STEP));

    /* resolution through the example */
    gf_kv kv[] = {{"tier", "gpu"}, {"app.kubernetes.io/component", "inference"}};
    gf_kvs labels = {kv, 2};
    gf_policy_decision d;
    gf_policy_subject s = subject("Deployment", "team-x", &labels, NULL);
    gf_policy_resolve(&p, &s, &d);
    assert_int_equal(d.rule_index, 1);
    assert_int_equal(d.rule.mode, GF_MODE_AUTO);
    assert_true(fabs(d.rule.headroom - 0.25) < EPS);
    assert_true(fabs(d.rule.min_change - 0.05) < EPS); /* from defaults */
    assert_true(fabs(d.rule.min_fraction - 0.1) < EPS);
    assert_true(fabs(d.rule.max_fraction - 0.95) < EPS);
    s = subject("CronJob", "research", NULL, NULL);
    gf_policy_resolve(&p, &s, &d);
    assert_string_equal(d.reason, "rule \"batch\"");
    s = subject("DaemonSet", "gpu-operator-resources", NULL, NULL);
    gf_policy_resolve(&p, &s, &d);
    assert_int_equal(d.rule.mode, GF_MODE_OFF);
    gf_policy_free(&p);
}

/* The convert section: defaults, a rule overriding some keys, the rest inherited. */
static void test_load_convert(void **state)
{
    (void)state;
    static const char *yaml = H "defaults:\n"
                                "  convert:\n"
                                "    fromWholeGpu: auto\n"
                                "    minHistory: 2d\n"
                                "rules:\n"
                                "  - name: mixed\n"
                                "    match: {namespaces: [mixed]}\n"
                                "    convert: {unit: memory, toWholeGpu: off, "
                                "maxFractionForConversion: 0.5, setScheduler: true}\n";
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    if (gf_policy_load_buffer(&p, "t.yaml", yaml, strlen(yaml), &err) != GF_OK)
        fail_msg("%s: %s", err.where, err.msg);
    gf_rightsize_rule def;
    gf_rightsize_rule_defaults(&def);
    assert_int_equal(def.convert_from_whole, GF_MODE_RECOMMEND);
    assert_int_equal(def.convert_to_whole, GF_MODE_AUTO); /* follows the rule's mode */
    assert_int_equal(def.convert_min_history_s, 86400);
    assert_true(fabs(def.convert_max_fraction - 0.75) < EPS);
    assert_int_equal(def.convert_unit, GF_SHARE_FRACTION);
    assert_false(def.convert_set_scheduler);
    assert_int_equal(p.defaults.convert_from_whole, GF_MODE_AUTO);
    assert_int_equal(p.defaults.convert_min_history_s, 2 * 86400);
    gf_policy_decision d;
    gf_policy_subject s = subject("Deployment", "mixed", NULL, NULL);
    gf_policy_resolve(&p, &s, &d);
    assert_int_equal(d.rule.convert_from_whole, GF_MODE_AUTO); /* from the defaults */
    assert_int_equal(d.rule.convert_to_whole, GF_MODE_OFF);
    assert_int_equal(d.rule.convert_min_history_s, 2 * 86400);
    assert_true(fabs(d.rule.convert_max_fraction - 0.5) < EPS);
    assert_int_equal(d.rule.convert_unit, GF_SHARE_MEMORY);
    assert_true(d.rule.convert_set_scheduler);
    gf_policy_free(&p);
}

/* The engine section: defaults, a rule overriding some keys, the rest inherited. */
static void test_load_engine(void **state)
{
    (void)state;
    static const char *yaml = H "defaults:\n"
                                "  downsize: {holdOneWay: true}\n"
                                "  engine:\n"
                                "    kvFull: 0.85\n"
                                "    baseShare: 0.3\n"
                                "rules:\n"
                                "  - name: llm\n"
                                "    match: {namespaces: [llm]}\n"
                                "    engine: {kvMargin: 0.5, moveCap: false, rules: false}\n";
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    if (gf_policy_load_buffer(&p, "t.yaml", yaml, strlen(yaml), &err) != GF_OK)
        fail_msg("%s: %s", err.where, err.msg);
    gf_rightsize_rule def;
    gf_rightsize_rule_defaults(&def);
    assert_true(fabs(def.engine_kv_full - 0.9) < EPS);
    assert_true(fabs(def.engine_kv_margin - 0.2) < EPS);
    assert_true(fabs(def.engine_base_share - 0.5) < EPS);
    assert_true(def.engine_move_cap);
    assert_true(def.engine_rules);
    gf_policy_decision d;
    gf_policy_subject s = subject("Deployment", "llm", NULL, NULL);
    gf_policy_resolve(&p, &s, &d);
    assert_true(fabs(d.rule.engine_kv_full - 0.85) < EPS); /* from the defaults */
    assert_true(fabs(d.rule.engine_base_share - 0.3) < EPS);
    assert_true(fabs(d.rule.engine_kv_margin - 0.5) < EPS);
    assert_false(d.rule.engine_move_cap);
    assert_false(d.rule.engine_rules);
    assert_true(d.rule.hold_one_way); /* downsize.holdOneWay from the defaults */
    s = subject("Deployment", "other", NULL, NULL);
    gf_policy_resolve(&p, &s, &d);
    assert_true(fabs(d.rule.engine_kv_margin - 0.2) < EPS);
    assert_true(d.rule.engine_move_cap);
    gf_policy_free(&p);
}

/* --- precedence ------------------------------------------------------------ */

static const char *const precedence_yaml =
    H "defaults:\n"
      "  mode: recommend\n"
      "  headroom: 0.15\n"
      "  memoryMargin: 0.2\n"
      "rules:\n"
      "  - name: system\n"
      "    match: {namespaces: [kube-system, \"gpu-*\"]}\n"
      "    mode: off\n"
      "  - name: serving\n"
      "    match: {namespaces: [prod, \"team-*\"], labels: {tier: gpu}, kinds: [Deployment]}\n"
      "    mode: auto\n"
      "    headroom: 0.25\n"
      "  - name: team-any\n"
      "    match: {namespaces: [\"team-?\"]}\n"
      "    headroom: 0.3\n"
      "  - name: statefulsets\n"
      "    match: {kinds: [statefulset]}\n"
      "    mode: auto\n";

static void test_precedence(void **state)
{
    (void)state;
    gf_policy p;
    load_ok(&p, precedence_yaml);
    gf_kv gpu_kv[] = {{"app", "x"}, {"tier", "gpu"}};
    gf_kv cpu_kv[] = {{"tier", "cpu"}};
    gf_kvs gpu = {gpu_kv, 2}, cpu = {cpu_kv, 1}, none = {NULL, 0};
    static const struct {
        const char *kind, *ns;
        int labels; /* 0 none, 1 gpu, 2 cpu, 3 NULL */
        uint32_t rule;
        gf_mode mode;
        double headroom;
    } c[] = {
        {"Deployment", "kube-system", 1, 0, GF_MODE_OFF, 0.15},
        {"DaemonSet", "gpu-operator", 0, 0, GF_MODE_OFF, 0.15},
        {"Deployment", "prod", 1, 1, GF_MODE_AUTO, 0.25},
        /* team-a matches serving and team-any: the first wins */
        {"Deployment", "team-a", 1, 1, GF_MODE_AUTO, 0.25},
        /* all labels must match */
        {"Deployment", "team-a", 0, 2, GF_MODE_RECOMMEND, 0.3},
        {"Deployment", "team-a", 2, 2, GF_MODE_RECOMMEND, 0.3},
        {"Deployment", "team-a", 3, 2, GF_MODE_RECOMMEND, 0.3},
        /* the glob team-? takes one character */
        {"Deployment", "team-ab", 0, GF_NONE, GF_MODE_RECOMMEND, 0.15},
        /* kinds: serving wants Deployment; statefulset matches case-insensitively */
        {"StatefulSet", "prod", 1, 3, GF_MODE_AUTO, 0.15},
        {"Deployment", "prod", 2, GF_NONE, GF_MODE_RECOMMEND, 0.15},
        {NULL, "prod", 1, GF_NONE, GF_MODE_RECOMMEND, 0.15},
        {"Deployment", NULL, 1, GF_NONE, GF_MODE_RECOMMEND, 0.15},
        {"Job", "kube-systemx", 0, GF_NONE, GF_MODE_RECOMMEND, 0.15},
    };
    for (size_t i = 0; i < N(c); i++) {
        const gf_kvs *l = c[i].labels == 0   ? &none
                          : c[i].labels == 1 ? &gpu
                          : c[i].labels == 2 ? &cpu
                                             : NULL;
        gf_policy_subject s = subject(c[i].kind, c[i].ns, l, NULL);
        gf_policy_decision d;
        gf_policy_resolve(&p, &s, &d);
        if (d.rule_index != c[i].rule || d.rule.mode != c[i].mode ||
            fabs(d.rule.headroom - c[i].headroom) > EPS)
            fail_msg("case %zu: rule %u mode %s headroom %g (%s)", i, d.rule_index,
                     gf_mode_name(d.rule.mode), d.rule.headroom, d.reason);
        /* fields no rule overrides come from the file's defaults */
        assert_true(fabs(d.rule.memory_margin - 0.2) < EPS);
        assert_int_equal(d.rule_mode, d.rule.mode);
        assert_false(d.by_annotation);
        if (c[i].rule == GF_NONE)
            assert_string_equal(d.reason, "defaults");
        else
            assert_non_null(strstr(d.reason, p.rules.v[c[i].rule].name));
    }
    gf_policy_free(&p);
}

/* Building a policy through the core API, without YAML. */
static void test_core_api(void **state)
{
    (void)state;
    gf_policy p;
    gf_policy_init(&p);
    gf_policy_rule *r = gf_policy_add_rule(&p, "ml");
    const char **ns = gf_arena_alloc(&p.arena, sizeof *ns);
    ns[0] = "ml-*";
    r->match.namespaces = ns;
    r->match.n_namespaces = 1;
    r->set = GF_RF_BIT(GF_RF_MODE) | GF_RF_BIT(GF_RF_STEP);
    r->values.mode = GF_MODE_AUTO;
    r->values.step = 0.1;
    assert_int_equal(gf_policy_validate(&p, NULL), GF_OK);
    gf_policy_subject s = subject("Deployment", "ml-train", NULL, NULL);
    gf_policy_decision d;
    gf_policy_resolve(&p, &s, &d);
    assert_int_equal(d.rule_index, 0);
    assert_int_equal(d.rule.mode, GF_MODE_AUTO);
    assert_true(fabs(d.rule.step - 0.1) < EPS);
    assert_string_equal(d.reason, "rule \"ml\"");

    /* validation names the rule and the field, and notes a merge */
    gf_error err = {0};
    p.defaults.max_fraction = 0.5;
    r->set |= GF_RF_BIT(GF_RF_MIN_FRACTION);
    r->values.min_fraction = 0.6;
    assert_int_equal(gf_policy_validate(&p, &err), GF_EINPUT);
    assert_string_equal(err.where, "rules[0].bounds.minFraction");
    assert_string_equal(err.msg, "rule \"ml\": bounds.minFraction 0.6 is above "
                                 "bounds.maxFraction 0.5 (after merging with the defaults)");
    r->values.min_fraction = 0.1;
    assert_int_equal(gf_policy_validate(&p, &err), GF_OK);

    /* names must be unique and non-empty */
    gf_policy_add_rule(&p, "ml");
    assert_int_equal(gf_policy_validate(&p, &err), GF_EINPUT);
    assert_string_equal(err.where, "rules[1].name");
    assert_non_null(strstr(err.msg, "duplicate rule name (rules[0] has it)"));
    p.rules.v[1].name = "";
    assert_int_equal(gf_policy_validate(&p, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "needs a name"));
    p.rules.n = 1;

    p.defaults.headroom = -1;
    assert_int_equal(gf_policy_validate(&p, &err), GF_EINPUT);
    assert_string_equal(err.where, "defaults.headroom");
    gf_policy_free(&p);
}

/* --- the annotation ---------------------------------------------------------- */

typedef struct ann_case {
    const char *ns;  /* team-a: rule team-any (recommend); prod: serving (auto);
                        kube-system: system (off) */
    const char *opt; /* annotation value */
    bool opt_in, upgrade;
    gf_mode want;
    bool by_annotation;
    const char *reason; /* substring */
} ann_case;

static void test_annotation(void **state)
{
    (void)state;
    gf_policy p;
    load_ok(&p, precedence_yaml);
    gf_kv kv[] = {{"tier", "gpu"}};
    gf_kvs gpu = {kv, 1};
    static const ann_case c[] = {
        /* opt-out always wins */
        {"prod", "false", false, false, GF_MODE_OFF, true, "opted out by gpufrac.io/rightsize"},
        {"prod", "off", false, true, GF_MODE_OFF, true, "=off"},
        {"prod", "OFF", true, true, GF_MODE_OFF, true, "=OFF"},
        /* a mode at or below the rule's is taken */
        {"prod", "recommend", false, false, GF_MODE_RECOMMEND, true,
         "rule \"serving\"; gpufrac.io/rightsize=recommend"},
        {"prod", "auto", false, false, GF_MODE_AUTO, true, "=auto"},
        {"team-b", "recommend", false, false, GF_MODE_RECOMMEND, true, "=recommend"},
        /* above the rule's: capped, unless the policy allows upgrades */
        {"team-b", "auto", false, false, GF_MODE_RECOMMEND, false,
         "rule \"team-any\"; gpufrac.io/rightsize=auto capped at recommend"},
        {"team-b", "Auto", false, true, GF_MODE_AUTO, true, "=auto"},
        {"kube-system", "recommend", false, false, GF_MODE_OFF, false, "capped at off"},
        {"kube-system", "auto", false, true, GF_MODE_AUTO, true, "=auto"},
        {"default", "auto", false, false, GF_MODE_RECOMMEND, false, "defaults; "},
        /* "true" opts in; without optIn it changes nothing */
        {"prod", "true", false, false, GF_MODE_AUTO, false, "rule \"serving\"; "},
        {"prod", NULL, false, false, GF_MODE_AUTO, false, "rule \"serving\""},
        /* optIn: nothing without the annotation */
        {"prod", NULL, true, false, GF_MODE_OFF, false, "policy is opt-in"},
        {"default", NULL, true, true, GF_MODE_OFF, false, "defaults; policy is opt-in"},
        {"prod", "true", true, false, GF_MODE_AUTO, true, "opted in by gpufrac.io/rightsize=true"},
        {"prod", "on", true, false, GF_MODE_AUTO, true, "opted in"},
        {"team-b", "TRUE", true, false, GF_MODE_RECOMMEND, true, "opted in"},
        {"prod", "recommend", true, false, GF_MODE_RECOMMEND, true, "=recommend"},
        {"team-b", "auto", true, false, GF_MODE_RECOMMEND, false, "capped"},
        {"kube-system", "true", true, false, GF_MODE_OFF, true, "opted in"},
        /* anything else is off: a typo must not turn rightsizing on */
        {"prod", "yes", false, false, GF_MODE_OFF, true, "\"yes\" is not off, on, true"},
        {"prod", "", false, false, GF_MODE_OFF, true, "is not off"},
        {"prod", "auto ", true, true, GF_MODE_OFF, true, "is not off"},
    };
    for (size_t i = 0; i < N(c); i++) {
        p.opt_in = c[i].opt_in;
        p.allow_annotation_upgrade = c[i].upgrade;
        /* only prod gets the labels the serving rule wants */
        gf_policy_subject s =
            subject("Deployment", c[i].ns, strcmp(c[i].ns, "prod") ? NULL : &gpu, c[i].opt);
        gf_policy_decision d;
        gf_policy_resolve(&p, &s, &d);
        if (d.rule.mode != c[i].want || d.by_annotation != c[i].by_annotation ||
            !strstr(d.reason, c[i].reason))
            fail_msg("case %zu: mode %s by_annotation %d reason '%s'; wanted %s %d '%s'", i,
                     gf_mode_name(d.rule.mode), d.by_annotation, d.reason, gf_mode_name(c[i].want),
                     c[i].by_annotation, c[i].reason);
    }
    gf_policy_free(&p);
}

/* The subject of a model's workload: kind/ns/name, labels from a pod, the
 * annotation from the template before the pods. */
static void test_subject_of(void **state)
{
    (void)state;
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    const char *json =
        "{\"kind\":\"List\",\"items\":["
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"namespace\":"
        "\"prod\",\"name\":\"db\",\"uid\":\"u1\"},\"spec\":{\"replicas\":1,\"template\":{"
        "\"metadata\":{\"annotations\":{\"gpufrac.io/rightsize\":\"off\"}}}}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"prod\","
        "\"name\":\"db-0\",\"labels\":{\"tier\":\"gpu\"},\"annotations\":{"
        "\"gpufrac.io/rightsize\":\"auto\"},\"ownerReferences\":[{\"kind\":\"StatefulSet\","
        "\"name\":\"db\",\"controller\":true}]},\"spec\":{\"containers\":[]},"
        "\"status\":{\"phase\":\"Pending\"}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"prod\","
        "\"name\":\"solo-0\",\"labels\":{\"tier\":\"cpu\"},\"annotations\":{"
        "\"gpufrac.io/rightsize\":\"recommend\"},\"ownerReferences\":[{\"kind\":"
        "\"StatefulSet\",\"name\":\"solo\",\"controller\":true}]},\"spec\":{\"containers\":[]},"
        "\"status\":{\"phase\":\"Pending\"}}]}";
    if (gf_test_load_text(&m, &d, &err, json) != GF_OK) fail_msg("%s: %s", err.where, err.msg);
    size_t db, solo;
    assert_true(gf_strmap_get(&m.workload_by_key, "StatefulSet/prod/db", &db));
    assert_true(gf_strmap_get(&m.workload_by_key, "StatefulSet/prod/solo", &solo));
    gf_policy_subject s;
    gf_policy_subject_of(&m, (uint32_t)db, &s);
    assert_string_equal(s.kind, "StatefulSet");
    assert_string_equal(s.ns, "prod");
    assert_string_equal(s.name, "db");
    assert_non_null(s.labels);
    assert_string_equal(gf_kvs_get(s.labels, "tier"), "gpu");
    assert_string_equal(s.opt, "off"); /* the template's, not the pod's */
    gf_policy_subject_of(&m, (uint32_t)solo, &s);
    assert_string_equal(s.opt, "recommend");
    assert_string_equal(gf_kvs_get(s.labels, "tier"), "cpu");
    gf_policy_subject_of(&m, 999, &s);
    assert_null(s.kind);
    assert_null(s.labels);
    gf_diags_free(&d);
    gf_model_free(&m);
}

/* --- validation -------------------------------------------------------------- */

typedef struct rule_case {
    gf_rule_field field;
    const char *why;
} rule_case;

static void test_validate_rule(void **state)
{
    (void)state;
    static const rule_case c[] = {
        {GF_RF_MODE, "must be off, recommend or auto, got 7"},
        {GF_RF_HEADROOM, "must be in [0, 10], got -0.1"},
        {GF_RF_HEADROOM, "must be in [0, 10], got nan"},
        {GF_RF_MEMORY_MARGIN, "must be in [0, 10], got 10.5"},
        {GF_RF_UPSIZE_TRIGGER, "must be in (0, 1], got 0"},
        {GF_RF_UPSIZE_TRIGGER, "must be in (0, 1], got 1.1"},
        {GF_RF_UPSIZE_WINDOW, "must be more than 0s, got 0s"},
        {GF_RF_DOWNSIZE_WINDOW, "must be at most 365d, got 400d1h"},
        {GF_RF_DOWNSIZE_PERCENTILE, "must be in (0, 1], got 0"},
        {GF_RF_MIN_HISTORY, "must be at least 0s, got -1s"},
        {GF_RF_COOLDOWN, "must be at most 365d, got 366d"},
        {GF_RF_MIN_CHANGE, "must be in [0, 1], got 1.5"},
        {GF_RF_MAX_DOWN_STEP, "must be in (0, 1], got 0"},
        {GF_RF_MIN_CHANGE, "downsize.minChange 0.3 is above downsize.maxStep 0.25"},
        {GF_RF_MIN_FRACTION, "must be in (0, 1], got 0"},
        {GF_RF_MAX_FRACTION, "must be in (0, 1], got 1.5"},
        {GF_RF_MIN_FRACTION, "bounds.minFraction 0.5 is above bounds.maxFraction 0.4"},
        {GF_RF_STEP, "must be in (0, 1], got inf"},
        {GF_RF_MEMORY_STEP, "must be in [1, 1048576] MiB, got 0"},
        {GF_RF_MAX_DISRUPTIONS, "must be in [0, 3600], got -1"},
    };
    for (size_t i = 0; i < N(c); i++) {
        gf_rightsize_rule r;
        gf_rightsize_rule_defaults(&r);
        switch (i) {
        case 0:
            r.mode = (gf_mode)7;
            break;
        case 1:
            r.headroom = -0.1;
            break;
        case 2:
            r.headroom = NAN;
            break;
        case 3:
            r.memory_margin = 10.5;
            break;
        case 4:
            r.upsize_trigger = 0;
            break;
        case 5:
            r.upsize_trigger = 1.1;
            break;
        case 6:
            r.upsize_window_s = 0;
            break;
        case 7:
            r.downsize_window_s = 400 * 86400 + 3600;
            break;
        case 8:
            r.downsize_percentile_sm = 0;
            break;
        case 9:
            r.min_history_s = -1;
            break;
        case 10:
            r.cooldown_s = 366 * 86400;
            break;
        case 11:
            r.min_change = 1.5;
            break;
        case 12:
            r.max_down_step = 0;
            break;
        case 13:
            r.min_change = 0.3;
            break;
        case 14:
            r.min_fraction = 0;
            break;
        case 15:
            r.max_fraction = 1.5;
            break;
        case 16:
            r.min_fraction = 0.5;
            r.max_fraction = 0.4;
            break;
        case 17:
            r.step = INFINITY;
            break;
        case 18:
            r.memory_step_mib = 0;
            break;
        case 19:
            r.max_disruptions_per_hour = -1;
            break;
        }
        gf_rule_problem pb;
        if (gf_rightsize_rule_validate(&r, &pb) != GF_EINPUT || pb.field != c[i].field ||
            !strstr(pb.why, c[i].why))
            fail_msg("case %zu: field %s why '%s'; wanted %s '%s'", i, gf_rule_field_key(pb.field),
                     pb.why, gf_rule_field_key(c[i].field), c[i].why);
        assert_true(pb.fields & GF_RF_BIT(c[i].field));
    }
    gf_rightsize_rule r;
    gf_rightsize_rule_defaults(&r);
    r.min_fraction = 0.5;
    r.max_fraction = 0.4;
    gf_rule_problem pb;
    assert_int_equal(gf_rightsize_rule_validate(&r, &pb), GF_EINPUT);
    assert_int_equal(pb.fields, GF_RF_BIT(GF_RF_MIN_FRACTION) | GF_RF_BIT(GF_RF_MAX_FRACTION));
    /* the edges are valid */
    gf_rightsize_rule_defaults(&r);
    r.headroom = 0;
    r.memory_margin = 10;
    r.upsize_trigger = 1;
    r.min_change = 0;
    r.max_down_step = 1;
    r.min_fraction = r.max_fraction = 0.999;
    r.step = 1;
    r.cooldown_s = r.min_history_s = 0;
    r.downsize_window_s = 365 * 86400;
    r.max_disruptions_per_hour = 0;
    r.memory_step_mib = 1;
    assert_int_equal(gf_rightsize_rule_validate(&r, NULL), GF_OK);
    /* maxFraction 1 would let a recommendation reach gpu-fraction 1, which
     * KAI's webhook refuses (gpu_request_validator.go) */
    r.max_fraction = 1;

    assert_int_equal(gf_rightsize_rule_validate(&r, &pb), GF_EINPUT);
    assert_int_equal(pb.field, GF_RF_MAX_FRACTION);
    assert_non_null(strstr(pb.why, "must be below 1, got 1"));
}

/* --- loader errors: place, key path and reason -------------------------------- */

typedef struct bad_case {
    const char *yaml;
    const char *where; /* exact err.where */
    const char *msg;   /* substring of err.msg */
} bad_case;

static const bad_case bad_cases[] = {
    /* unknown keys, at every level */
    {H "optin: true\n", "t.yaml:3:1: optin",
     "unknown key \"optin\" (known keys: apiVersion, kind, optIn, allowAnnotationUpgrade, "
     "defaults, rules, kai, consolidation)"},
    {H "consolidation:\n  moveNonpreemptible: never\n",
     "t.yaml:4:3: consolidation.moveNonpreemptible",
     "unknown key \"moveNonpreemptible\" (known keys: moveNonPreemptible)"},
    {H "consolidation:\n  moveNonPreemptible: sometimes\n",
     "t.yaml:4:23: consolidation.moveNonPreemptible", "unknown value \"sometimes\" (replicated"},
    {H "consolidation:\n  moveNonPreemptible: [never]\n",
     "t.yaml:4:23: consolidation.moveNonPreemptible", "expected replicated, never or always"},
    {H "consolidation: [a]\n", "t.yaml:3:16: consolidation", "expected a mapping"},
    {H "kai:\n  schedulername: x\n", "t.yaml:4:3: kai.schedulername",
     "unknown key \"schedulername\" (known keys: schedulerName, queueLabel, nodePoolLabel, "
     "reservationNamespace, reservationAppLabel)"},
    {H "kai:\n  schedulerName: \"\"\n", "t.yaml:4:18: kai.schedulerName", "must not be empty"},
    {H "kai:\n  queueLabel: [a]\n", "t.yaml:4:15: kai.queueLabel", "expected a name"},
    {H "kai: 3\n", "t.yaml:3:6: kai", "expected a mapping"},
    {H "defaults:\n  headrom: 0.2\n", "t.yaml:4:3: defaults.headrom",
     "unknown key \"headrom\" (known keys: mode, headroom, memoryMargin, upsize, downsize, "
     "bounds, convert, engine, computeAware, maxDisruptionsPerHour, stallTimeout, onStall, "
     "singleMargin, changeWindow)"},
    {H "defaults:\n  engine:\n    kvfull: 0.8\n", "t.yaml:5:5: defaults.engine.kvfull",
     "unknown key \"kvfull\" (known keys: rules, kvFull, kvMargin, baseShare, moveCap)"},
    {H "defaults:\n  engine:\n    kvFull: 1.5\n", "t.yaml:5:13: defaults.engine.kvFull",
     "must be in (0, 1], got 1.5"},
    {H "defaults:\n  engine:\n    baseShare: 1\n", "t.yaml:5:16: defaults.engine.baseShare",
     "must be in [0, 1), got 1"},
    {H "defaults:\n  engine:\n    moveCap: maybe\n", "t.yaml:5:14: defaults.engine.moveCap",
     "expected"},
    {H "defaults:\n  changeWindow: 2am\n", "t.yaml:4:17: defaults.changeWindow",
     "bad time window \"2am\" (use \"HH:MM-HH:MM\" in UTC"},
    {H "defaults:\n  changeWindow: \"02:00-02:00\"\n", "t.yaml:4:17: defaults.changeWindow",
     "is empty"},
    {H "defaults:\n  changeWindow: \"24:00-05:00\"\n", "t.yaml:4:17: defaults.changeWindow",
     "bad time window"},
    {H "defaults:\n  downsize:\n    minCoverage: 1.5\n",
     "t.yaml:5:18: defaults.downsize.minCoverage", "got 1.5"},
    {H "defaults:\n  downsize:\n    windo: 1h\n", "t.yaml:5:5: defaults.downsize.windo",
     "unknown key \"windo\" (known keys: window, percentile, minHistory, cooldown, minChange, "
     "maxStep, minCoverage, burstReserve, atTrough, holdOneWay)"},
    {H "rules:\n  - name: a\n    matches: {}\n", "t.yaml:5:5: rules[0].matches",
     "(known keys: name, match, mode, headroom,"},
    {H "rules:\n  - name: a\n    match: {namespace: [a]}\n",
     "t.yaml:5:13: rules[0].match.namespace",
     "unknown key \"namespace\" (known keys: namespaces, labels, kinds)"},
    {H "defaults:\n  name: x\n", "t.yaml:4:3: defaults.name", "unknown key \"name\""},
    /* the convert section */
    {H "defaults:\n  convert:\n    fromWhole: auto\n", "t.yaml:5:5: defaults.convert.fromWhole",
     "unknown key \"fromWhole\" (known keys: fromWholeGpu, toWholeGpu, minHistory, "
     "maxFractionForConversion, unit, setScheduler)"},
    {H "rules:\n  - name: a\n    convert: {fromWholeGpu: always}\n",
     "t.yaml:5:29: rules[0].convert.fromWholeGpu",
     "unknown mode \"always\" (use off, recommend or auto)"},
    {H "defaults:\n  convert:\n    unit: mib\n", "t.yaml:5:11: defaults.convert.unit",
     "unknown unit \"mib\" (use fraction or memory)"},
    {H "defaults:\n  convert:\n    minHistory: 5x\n", "t.yaml:5:17: defaults.convert.minHistory",
     "bad duration \"5x\""},
    {H "defaults:\n  convert:\n    maxFractionForConversion: 1\n",
     "t.yaml:5:31: defaults.convert.maxFractionForConversion", "must be in (0, 1), got 1"},
    {H "rules:\n  - name: a\n    convert:\n      setScheduler: 1\n",
     "t.yaml:6:21: rules[0].convert.setScheduler", "expected true or false"},
    {H "defaults:\n  <<: {headroom: 0.2}\n", "t.yaml:4:3: defaults", "merge keys (<<)"},
    /* wrong types */
    {H "defaults:\n  headroom: \"0.15\"\n", "t.yaml:4:13: defaults.headroom",
     "expected a number, got the quoted string \"0.15\""},
    {H "defaults:\n  headroom: [1]\n", "t.yaml:4:13: defaults.headroom",
     "expected a number, got a list"},
    {H "defaults:\n  headroom: lots\n", "t.yaml:4:13: defaults.headroom",
     "expected a number, got \"lots\""},
    {H "defaults:\n  headroom: 0x10\n", "t.yaml:4:13: defaults.headroom", "expected a number"},
    {H "defaults:\n  headroom: !pct 15\n", "t.yaml:4:13: defaults.headroom",
     "unsupported YAML tag \"!pct\""},
    {H "defaults:\n  computeAware: yes\n", "t.yaml:4:17: defaults.computeAware",
     "expected true or false, got a string \"yes\""},
    {H "optIn: \"true\"\n", "t.yaml:3:8: optIn",
     "expected true or false, got a quoted string \"true\""},
    {H "defaults:\n  mode: fast\n", "t.yaml:4:9: defaults.mode",
     "unknown mode \"fast\" (use off, recommend or auto)"},
    {H "defaults:\n  mode: [auto]\n", "t.yaml:4:9: defaults.mode",
     "expected a mode (off, recommend or auto), got a list"},
    {H "defaults:\n  bounds:\n    memoryStepMiB: 256.5\n",
     "t.yaml:5:20: defaults.bounds.memoryStepMiB", "expected a whole number, got \"256.5\""},
    {H "defaults: [1]\n", "t.yaml:3:11: defaults", "expected a mapping (key: value), got a list"},
    {H "defaults:\n  upsize: 5m\n", "t.yaml:4:11: defaults.upsize",
     "expected a mapping (key: value), got a string"},
    {H "rules: {a: 1}\n", "t.yaml:3:8: rules", "expected a list of rules, got a mapping"},
    {H "rules: [x]\n", "t.yaml:3:9: rules[0]", "expected a mapping (key: value), got a string"},
    {"- a\n", "t.yaml:1:1: (top level)", "expected a mapping (key: value), got a list"},
    {H "defaults:\n  [a]: 1\n", "t.yaml:4:3: defaults", "expected a string key, got a list"},
    {H "rules:\n  - name: \"a\\0b\"\n", "t.yaml:4:11: rules[0].name",
     "a rule name contains a NUL character"},
    /* empty settings are errors; empty sections are not */
    {H "defaults:\n  headroom:\n", "t.yaml:4:12: defaults.headroom",
     "expected a number, got nothing (null)"},
    {H "defaults:\n  upsize: {window: ~}\n", "t.yaml:4:20: defaults.upsize.window",
     "expected a duration (like 30s, 5m, 24h, 7d, 1h30m), got nothing (null)"},
    /* numbers: NaN, infinities, overflow */
    {H "defaults:\n  headroom: .nan\n", "t.yaml:4:13: defaults.headroom",
     "expected a finite number, got .nan"},
    {H "defaults:\n  headroom: -.inf\n", "t.yaml:4:13: defaults.headroom",
     "expected a finite number, got -.inf"},
    {H "defaults:\n  headroom: 1e999\n", "t.yaml:4:13: defaults.headroom",
     "number 1e999 is out of range"},
    {H "defaults:\n  headroom: 1e300\n", "t.yaml:4:13: defaults.headroom",
     "must be in [0, 10], got 1e+300"},
    {H "defaults:\n  bounds:\n    memoryStepMiB: 99999999999999999999\n",
     "t.yaml:5:20: defaults.bounds.memoryStepMiB",
     "whole number 99999999999999999999 is out of "
     "range"},
    {H "defaults:\n  maxDisruptionsPerHour: 4294967296\n",
     "t.yaml:4:26: defaults.maxDisruptionsPerHour", "out of range"},
    /* ranges, found after merging */
    {H "defaults:\n  headroom: 11\n", "t.yaml:4:13: defaults.headroom",
     "must be in [0, 10], got 11"},
    {H "defaults:\n  upsize: {trigger: 0, window: 5m}\n", "t.yaml:4:21: defaults.upsize.trigger",
     "must be in (0, 1], got 0"},
    {H "defaults:\n  bounds: {minFraction: 0.5, maxFraction: 0.3}\n",
     "t.yaml:4:25: defaults.bounds.minFraction",
     "bounds.minFraction 0.5 is above bounds.maxFraction 0.3"},
    {H "defaults:\n  downsize: {minChange: 0.2}\nrules:\n  - name: slow\n"
       "    downsize: {maxStep: 0.1}\n",
     "t.yaml:7:25: rules[0].downsize.maxStep",
     "rule \"slow\": downsize.minChange 0.2 is above downsize.maxStep 0.1, so no downsize "
     "could ever be applied (after merging with the defaults)"},
    {H "rules:\n  - name: a\n    bounds: {maxFraction: 0.01}\n",
     "t.yaml:5:27: rules[0].bounds.maxFraction",
     "rule \"a\": bounds.minFraction 0.05 is above bounds.maxFraction 0.01 (after merging"},
    {H "rules:\n  - name: a\n  - name: b\n    downsize:\n      percentile: 1.5\n",
     "t.yaml:7:19: rules[1].downsize.percentile", "rule \"b\": must be in (0, 1], got 1.5"},
    {H "rules:\n  - name: a\n    maxDisruptionsPerHour: -2\n",
     "t.yaml:5:28: rules[0].maxDisruptionsPerHour", "must be in [0, 3600], got -2"},
    /* durations */
    {H "rules:\n  - name: a\n    downsize: {window: 5x}\n", "t.yaml:5:24: rules[0].downsize.window",
     "bad duration \"5x\": unknown unit (use d, h, m or s"},
    {H "rules:\n  - name: a\n    downsize: {window: 300}\n",
     "t.yaml:5:24: rules[0].downsize.window", "bad duration \"300\": a number needs a unit"},
    {H "rules:\n  - name: a\n    downsize: {window: 1.5h}\n",
     "t.yaml:5:24: rules[0].downsize.window", "use whole numbers of units (1h30m, not 1.5h)"},
    {H "rules:\n  - name: a\n    downsize: {window: -5m}\n",
     "t.yaml:5:24: rules[0].downsize.window", "a duration cannot be negative"},
    {H "rules:\n  - name: a\n    downsize: {window: 500ms}\n",
     "t.yaml:5:24: rules[0].downsize.window", "milliseconds are not supported"},
    {H "rules:\n  - name: a\n    downsize: {window: 30m1h}\n",
     "t.yaml:5:24: rules[0].downsize.window", "units must go from d to s, each once"},
    {H "rules:\n  - name: a\n    downsize: {window: 1h1h}\n",
     "t.yaml:5:24: rules[0].downsize.window", "units must go from d to s, each once"},
    {H "rules:\n  - name: a\n    downsize: {window: \"\"}\n",
     "t.yaml:5:24: rules[0].downsize.window", "bad duration \"\": empty"},
    {H "rules:\n  - name: a\n    downsize: {window: 5 m}\n",
     "t.yaml:5:24: rules[0].downsize.window", "unknown unit"},
    {H "rules:\n  - name: a\n    downsize: {window: 99999999999999999999d}\n",
     "t.yaml:5:24: rules[0].downsize.window", "too long"},
    {H "rules:\n  - name: a\n    downsize: {window: 0s}\n", "t.yaml:5:24: rules[0].downsize.window",
     "must be more than 0s, got 0s"},
    {H "rules:\n  - name: a\n    downsize: {cooldown: 400d}\n",
     "t.yaml:5:26: rules[0].downsize.cooldown", "must be at most 365d, got 400d"},
    {H "defaults:\n  onStall: maybe\n", "t.yaml:4:12: defaults.onStall",
     "unknown value \"maybe\" (use hold or revert)"},
    {H "rules:\n  - name: a\n    stallTimeout: 0s\n", "t.yaml:5:19: rules[0].stallTimeout",
     "must be more than 0s, got 0s"},
    /* duplicates */
    {H "optIn: true\noptIn: false\n", "t.yaml:4:1: optIn",
     "duplicate key \"optIn\" (first at line 3)"},
    {H "defaults:\n  upsize: {window: 5m, window: 6m}\n", "t.yaml:4:24: defaults.upsize.window",
     "duplicate key \"window\" (first at line 4)"},
    {H "rules:\n  - name: a\n    match: {labels: {tier: a, tier: b}}\n",
     "t.yaml:5:31: rules[0].match.labels.tier", "duplicate key \"tier\""},
    {H "rules:\n  - name: a\n  - name: a\n", "t.yaml:5:11: rules[1].name",
     "duplicate rule name \"a\" (rules[0] has it)"},
    /* rules and matches */
    {H "rules:\n  - mode: auto\n", "t.yaml:4:5: rules[0]", "a rule needs a name (name: ...)"},
    {H "rules:\n  - name: \"\"\n", "t.yaml:4:11: rules[0].name", "a rule name must not be empty"},
    {H "rules:\n  - name: a\n    match: {namespaces: []}\n",
     "t.yaml:5:25: rules[0].match.namespaces",
     "an empty list matches nothing; leave the key out to match all"},
    {H "rules:\n  - name: a\n    match: {namespaces: prod}\n",
     "t.yaml:5:25: rules[0].match.namespaces",
     "expected a list of namespace names or globs (like [a, b]), got a string"},
    {H "rules:\n  - name: a\n    match: {kinds: [Deployment, {a: 1}]}\n",
     "t.yaml:5:33: rules[0].match.kinds[1]", "expected workload kinds, got a mapping"},
    {H "rules:\n  - name: a\n    match: {namespaces: [\"\"]}\n",
     "t.yaml:5:26: rules[0].match.namespaces[0]", "must not be empty"},
    {H "rules:\n  - name: a\n    match:\n      labels:\n        tier:\n",
     "t.yaml:7:14: rules[0].match.labels.tier", "a label value is missing"},
    {H "rules:\n  - name: a\n    match: {labels: {\"\": x}}\n",
     "t.yaml:5:22: rules[0].match.labels[\"\"]", "a label key must not be empty"},
    {H "rules:\n  - name: a\n    match: {labels: {app.kubernetes.io/name: [x]}}\n",
     "t.yaml:5:46: rules[0].match.labels[\"app.kubernetes.io/name\"]",
     "expected a label value (a string), got a list"},
    /* apiVersion and kind */
    {"apiVersion: gpufrac.io/v1\nkind: RightsizingPolicy\n", "t.yaml:1:13: apiVersion",
     "apiVersion \"gpufrac.io/v1\" is not gpufrac.io/v1alpha1"},
    {"apiVersion: gpufrac.io/v1alpha1\nkind: Policy\n", "t.yaml:2:7: kind",
     "kind \"Policy\" is not RightsizingPolicy"},
    {"kind: RightsizingPolicy\n", "t.yaml:1:1: (top level)",
     "missing apiVersion (want gpufrac.io/v1alpha1)"},
    {"apiVersion: gpufrac.io/v1alpha1\noptIn: true\n", "t.yaml:1:1: (top level)",
     "missing kind (want RightsizingPolicy)"},
    /* documents */
    {"", "t.yaml", "empty policy (no YAML document)"},
    {"# nothing here\n\n", "t.yaml", "empty policy (no YAML document)"},
    {"~\n", "t.yaml:1:1: (top level)", "expected a mapping (key: value), got nothing (null)"},
    {H "---\n" H, "t.yaml:4:1: (top level)", "more than one YAML document"},
    /* YAML syntax */
    {H "defaults: {headroom: 0.2\n", "t.yaml:4:1",
     "YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping (line 3)"},
    {H "defaults:\n\theadroom: 0.2\n", "t.yaml:4:1",
     "YAML syntax error: found character that cannot start any token while scanning for the "
     "next token (line 4)"},
    {H "rules:\n  - name: a\n    match: {namespaces: *teams}\n", "t.yaml:5:25",
     "YAML syntax error: found undefined alias"},
    {H "defaults:\n  headroom: 0.2\n mode: auto\n", "t.yaml:5:2", "YAML syntax error"},
    {H "defaults:\n  headroom: \"0.2\n", "t.yaml:5:1", "YAML syntax error: found unexpected end"},
    {H "rules:\n  - name: \"\x01\"\n", "t.yaml:4:12",
     "YAML syntax error: control characters are "
     "not allowed"},
    {H "rules:\n  - name: \"\xff\xfe\"\n", "t.yaml:4:12", "YAML syntax error: invalid"},
};

static void test_load_errors(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < N(bad_cases); i++) {
        gf_policy p;
        gf_policy_init(&p);
        p.opt_in = true; /* must survive a failed load */
        gf_error err = {0};
        gf_err rc = load(&p, bad_cases[i].yaml, &err);
        if (rc != GF_EINPUT || strcmp(err.where, bad_cases[i].where) ||
            !strstr(err.msg, bad_cases[i].msg)) {
            print_error("case %zu: rc=%d where='%s' msg='%s'; wanted where='%s' msg~'%s'\n", i, rc,
                        err.where, err.msg, bad_cases[i].where, bad_cases[i].msg);
            failures++;
        }
        assert_true(p.opt_in);
        assert_int_equal(p.rules.n, 0);
        gf_policy_free(&p);
    }
    assert_int_equal(failures, 0);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    assert_int_equal(gf_policy_load_file(&p, "/nonexistent/policy.yaml", &err), GF_EIO);
    assert_string_equal(err.where, "/nonexistent/policy.yaml");
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_int_equal(gf_policy_load_file(&p, GF_FIXTURES, &err), GF_EIO); /* a directory */
    assert_non_null(strstr(err.msg, "cannot read"));

    /* larger than the limit */
    size_t len = GF_POLICY_MAX_BYTES + 1;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, '#', len);
    assert_int_equal(gf_policy_load_buffer(&p, "big.yaml", big, len, &err), GF_EINPUT);
    assert_string_equal(err.where, "big.yaml");
    assert_non_null(strstr(err.msg, "more than the 1048576 allowed"));
    free(big);
    assert_int_equal(gf_policy_load_buffer(&p, NULL, NULL, 0, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "empty policy"));
    /* loading over a loaded policy replaces it */
    load_ok(&p, H "rules: [{name: a}, {name: b}]\n");
    assert_int_equal(load(&p, H "optIn: true\n", &err), GF_OK);
    assert_int_equal(p.rules.n, 0);
    assert_true(p.opt_in);
    gf_policy_free(&p);
}

/* --- robustness ------------------------------------------------------------------ */

static void check_any(const char *buf, size_t len)
{
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    gf_err rc = gf_policy_load_buffer(&p, "f.yaml", buf, len, &err);
    if (rc == GF_OK) {
        /* whatever loads is valid */
        if (gf_policy_validate(&p, &err) != GF_OK) fail_msg("loaded but invalid: %s", err.msg);
    } else {
        if (rc != GF_EINPUT || !err.msg[0] || strncmp(err.where, "f.yaml", 6))
            fail_msg("rc %d without a proper message: '%s' '%s'", rc, err.where, err.msg);
    }
    gf_policy_free(&p);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

/* Every prefix of the example loads or fails cleanly. */
static void test_truncated(void **state)
{
    (void)state;
    size_t len;
    char *text = read_all(EXAMPLE, &len);
    for (size_t n = 0; n <= len; n++)
        check_any(text, n);
    free(text);
}

static void test_garbage(void **state)
{
    (void)state;
    gf_rng r;
    gf_rng_seed(&r, 42);
    size_t len;
    char *text = read_all(EXAMPLE, &len);
    char buf[1 << 16];
    for (int i = 0; i < 300; i++) {
        /* random bytes */
        size_t n = (size_t)gf_rng_below(&r, 600);
        for (size_t k = 0; k < n; k++)
            buf[k] = (char)gf_rng_below(&r, 256);
        check_any(buf, n);
        /* the example with a few bytes changed */
        memcpy(buf, text, len);
        for (int k = 0; k < 4; k++) {
            static const char pick[] = "\t\n :-[]{}&*!|>'\"#,?%@`0.x\x01\xff";
            buf[gf_rng_below(&r, len)] = pick[gf_rng_below(&r, sizeof pick - 1)];
        }
        check_any(buf, len);
    }
    free(text);
    static const char *const odd[] = {
        "\xef\xbb\xbf" H, /* BOM */
        H "rules:\n"
          "  - name: a\n"
          "    match: {namespaces: [\"a\x00b\"]}\n",
        "%YAML 1.1\n---\n" H,
        "%YAML 9.9\n---\n" H,
        "!!map\n" H,
        "!custom\n" H,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
        H "defaults: &d\n  upsize: *d\n",
        H "rules: &r\n  - *r\n",
        H "rules:\n  - &x {name: a, match: {labels: *x}}\n",
        "? [a]\n: b\n",
        H "? apiVersion\n: x\n",
        "\x00\x00\x00",
        H "defaults: |\n  headroom: 1\n",
        H "defaults: >\n  x\n",
        H "rules:\n  - name: a\n    match: {namespaces: ['[', '\\\\', '*[']}\n",
    };
    for (size_t i = 0; i < N(odd); i++)
        check_any(odd[i], strlen(odd[i]));
    check_any("\x00\x00\x00", 3);
}

/* Anchors and aliases are resolved: a shared list of namespaces works. */
static void test_anchors(void **state)
{
    (void)state;
    gf_policy p;
    load_ok(&p, H "rules:\n"
                  "  - name: a\n"
                  "    match: {namespaces: &teams [team-a, team-b], kinds: [Deployment]}\n"
                  "    mode: auto\n"
                  "  - name: b\n"
                  "    match: {namespaces: *teams}\n"
                  "    headroom: &h 0.3\n"
                  "    memoryMargin: *h\n");
    assert_int_equal(p.rules.n, 2);
    assert_int_equal(p.rules.v[1].match.n_namespaces, 2);
    assert_string_equal(p.rules.v[1].match.namespaces[1], "team-b");
    assert_true(fabs(p.rules.v[1].values.memory_margin - 0.3) < EPS);
    gf_policy_free(&p);

    /* a cycle through an alias is walked only as deep as the schema goes */
    gf_policy_init(&p);
    gf_error err = {0};
    gf_err rc = load(&p, H "defaults: &d\n  upsize: *d\n", &err);
    assert_int_equal(rc, GF_EINPUT);
    assert_non_null(strstr(err.where, "defaults.upsize"));
    /* an aliased key repeated in one mapping is a duplicate */
    rc = load(&p, H "defaults: {&k headroom: 0.1, *k : 0.2}\n", &err);
    assert_int_equal(rc, GF_EINPUT);
    assert_non_null(strstr(err.msg, "duplicate key \"headroom\""));
    /* exponential aliases cost nothing: the first list item is already wrong */
    rc = load(&p,
              H "x1: &a [y, y, y, y, y, y, y, y]\n"
                "x2: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                "x3: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
                "rules: [{name: a, match: {namespaces: [*c, *c, *c, *c]}}]\n",
              &err);
    assert_int_equal(rc, GF_EINPUT);
    assert_non_null(strstr(err.msg, "unknown key \"x1\""));
    gf_policy_free(&p);
}

/* An anchored list reused thousands of times is refused before it is
 * walked, with the alias and its line named; a few reuses still load. */
static void test_alias_expansion(void **state)
{
    (void)state;
    gf_sbuf b = GF_SBUF_INIT;
    gf_sbuf_puts(&b, H "rules:\n  - name: r0\n    match: {namespaces: &teams [");
    for (int i = 0; i < 1000; i++)
        gf_sbuf_printf(&b, "%sn%d", i ? ", " : "", i);
    gf_sbuf_puts(&b, "]}\n");
    for (int i = 1; i < 3000; i++)
        gf_sbuf_printf(&b, "  - {name: r%d, match: {namespaces: *teams}}\n", i);
    gf_policy p;
    gf_policy_init(&p);
    gf_error err = {0};
    assert_int_equal(gf_policy_load_buffer(&p, "big.yaml", b.s, b.len, &err), GF_EINPUT);
    assert_string_equal(err.where, "big.yaml:253:38"); /* where the count passes the cap */
    assert_non_null(strstr(err.msg, "alias *teams (1001 nodes)"));
    assert_non_null(strstr(err.msg, "more than 250000 nodes"));
    assert_int_equal(p.rules.n, 0); /* p left unchanged */
    gf_policy_free(&p);

    /* nested anchors multiply: [*b x 10] of [*a x 10] of 100 scalars */
    gf_sbuf_free(&b);
    gf_sbuf_puts(&b, H "defaults: {}\nrules:\n  - name: r\n    match:\n      namespaces: &a [");
    for (int i = 0; i < 100; i++)
        gf_sbuf_printf(&b, "%sx%d", i ? ", " : "", i);
    gf_sbuf_puts(&b, "]\n      labels: {}\n  - name: s\n    match: {namespaces: &b [");
    for (int i = 0; i < 100; i++)
        gf_sbuf_puts(&b, i ? ", *a" : "*a");
    gf_sbuf_puts(&b, "]}\n  - name: t\n    match: {namespaces: [");
    for (int i = 0; i < 100; i++)
        gf_sbuf_puts(&b, i ? ", *b" : "*b");
    gf_sbuf_puts(&b, "]}\n");
    gf_policy_init(&p);
    assert_int_equal(gf_policy_load_buffer(&p, "nested.yaml", b.s, b.len, &err), GF_EINPUT);
    assert_non_null(strstr(err.msg, "alias *b ("));
    gf_policy_free(&p);
    gf_sbuf_free(&b);
}

/* consolidation.moveNonPreemptible: replicated when absent, each value read */
static void test_load_move_non_preemptible(void **state)
{
    (void)state;
    gf_policy p;
    load_ok(&p, H);
    assert_int_equal(p.move_non_preemptible, GF_MOVE_NP_REPLICATED);
    gf_policy_free(&p);
    static const char *names[] = {"replicated", "never", "always"};
    for (int i = 0; i < 3; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, H "consolidation:\n  moveNonPreemptible: %s\n", names[i]);
        load_ok(&p, yaml);
        assert_int_equal(p.move_non_preemptible, (gf_move_np)i);
        assert_string_equal(gf_move_np_name(p.move_non_preemptible), names[i]);
        gf_policy_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_load_minimal),
        cmocka_unit_test(test_load_kai_names),
        cmocka_unit_test(test_load_example),
        cmocka_unit_test(test_load_move_non_preemptible),
        cmocka_unit_test(test_load_convert),
        cmocka_unit_test(test_load_engine),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_core_api),
        cmocka_unit_test(test_annotation),
        cmocka_unit_test(test_subject_of),
        cmocka_unit_test(test_validate_rule),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_anchors),
        cmocka_unit_test(test_alias_expansion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
