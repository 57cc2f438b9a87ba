/* policy.h - the rightsizing policy: which workloads gpufrac rightsizes, in
 * which mode, and how cautiously.
 *
 * A policy is a set of defaults plus an ordered list of rules. A rule matches
 * workloads by namespace (names or fnmatch(3) globs), pod labels (every label
 * given must be present with that value, like a Kubernetes matchLabels
 * selector) and controller kind (case-insensitive), and overrides some
 * settings; the settings it does not give come from the defaults. The first
 * matching rule in file order wins; no match means the defaults apply.
 *
 * Then the workload's annotation gpufrac.io/rightsize adjusts the mode:
 *   "false" / "off"      mode off, whatever the rule says;
 *   "recommend" / "auto" that mode, but never more than the rule's mode
 *                        (off < recommend < auto) unless the policy sets
 *                        allowAnnotationUpgrade;
 *   "true" / "on"        opts in: with optIn set, workloads without a
 *                        non-off annotation are off;
 *   anything else        off, and the reason says the value was not
 *                        understood (a typo must not turn rightsizing on).
 * Values are compared case-insensitively.
 *
 * Defaults follow the rightsizers surveyed in research/rightsizing_exporter.md
 * Part A where one has an equivalent: headroom 0.15 is VPA's
 * --recommendation-margin-fraction and krr's memory buffer; the 0.95 SM
 * percentile is krr's CPU percentile and VPA's upper bound; 24 h of history
 * before acting is VPA's confidence interval; the minimum change and cooldown
 * are the anti-churn knobs users asked VPA for (autoscaler #3962, #6010).
 *
 * A rule's convert section (convert.fromWholeGpu, toWholeGpu, minHistory,
 * maxFractionForConversion, unit, setScheduler) governs moving whole-GPU
 * workloads onto KAI fractions and back (decide/convert.h); a resolved mode
 * off turns it off too.
 *
 * The core never reads files: src/io/policy_yaml.h loads a policy from YAML.
 * Strings and arrays live in the policy's arena, freed by gf_policy_free(). */
#ifndef GF_POLICY_H
#define GF_POLICY_H

#include "util/arena.h"
#include "util/vec.h"
#include "model/err.h"
#include "model/model.h"

#include <stdbool.h>
#include <stdint.h>

/* gpufrac's per-workload rightsizing annotation (see above). */
#define GF_ANN_RIGHTSIZE "gpufrac.io/rightsize"

#define GF_POLICY_API_VERSION "gpufrac.io/v1alpha1"
#define GF_POLICY_KIND "RightsizingPolicy"

/* What the controller does when a resize's rollout stalls (onStall). */
typedef enum gf_stall_action {
    GF_STALL_REVERT, /* restore the previous allocation in one patch (the default) */
    GF_STALL_HOLD    /* leave the template; no further change while it stalls */
} gf_stall_action;

/* "revert", "hold". */
const char *gf_stall_action_name(gf_stall_action a);
/* Parses "revert" / "hold"; false otherwise. */
bool gf_stall_action_parse(const char *s, gf_stall_action *out);

/* Ordered: a larger mode does more. */
typedef enum gf_mode {
    GF_MODE_OFF = 0,       /* neither recommend nor act */
    GF_MODE_RECOMMEND = 1, /* report recommendations only */
    GF_MODE_AUTO = 2       /* apply them */
} gf_mode;

/* A duration as policies write it: whole numbers with units d, h, m, s,
 * largest first, each once ("30s", "5m", "24h", "7d", "1h30m"), at most
 * 100 years. False with *why (static text) otherwise. */
bool gf_parse_duration(const char *s, int64_t *out, const char **why);
/* The inverse, into buf: "1d2h30m5s" style (largest units first, zero units
 * left out), "0s" for zero. Returns buf. */
const char *gf_format_duration(int64_t s, char *buf, size_t n);

/* The convert section's unit: "fraction" (gpu-fraction) or "memory"
 * (gpu-memory MiB, for pools mixing GPU models). */
const char *gf_convert_unit_name(gf_share_kind u);
bool gf_convert_unit_parse(const char *s, gf_share_kind *out);

/* "off", "recommend", "auto". */
const char *gf_mode_name(gf_mode m);
/* Parses a mode name (exact, lower case); false when s is not one. */
bool gf_mode_parse(const char *s, gf_mode *out);

/* Every setting of a rule. Fractions are of one GPU. */
typedef struct gf_rightsize_rule {
    gf_mode mode;
    double headroom;           /* recommendation = usage x (1 + headroom) */
    double memory_margin;      /* never below observed peak memory x (1 + margin) */
    double upsize_trigger;     /* upsize when usage passes this share of the allocation */
    int64_t upsize_window_s;   /* how long SM usage must stay above the trigger (computeAware) */
    int64_t downsize_window_s; /* the history a downsize looks at */
    double downsize_percentile_sm; /* SM-usage percentile over that window */
    int64_t min_history_s;         /* less history than this: low confidence, no downsize */
    int64_t cooldown_s;            /* minimum time between two changes of a workload */
    double min_change;             /* ignore changes smaller than this */
    double max_down_step;          /* the most one downsize may take away */
    double min_fraction, max_fraction;
    double step;             /* fractions are rounded up to a multiple of this */
    int64_t memory_step_mib; /* gpu-memory workloads: rounding unit in MiB */
    bool compute_aware;      /* also size for SM usage, not memory alone */
    /* pod restarts auto mode may cause per hour among the workloads these
     * settings cover (one rule's, or the defaults' for unmatched ones) */
    int32_t max_disruptions_per_hour;
    /* the convert section: whole GPUs onto KAI fractions and back */
    gf_mode convert_from_whole;    /* fromWholeGpu: nvidia.com/gpu pods -> gpu-fraction */
    gf_mode convert_to_whole;      /* toWholeGpu: a fraction at maxFraction -> a whole GPU */
    int64_t convert_min_history_s; /* history a whole-GPU workload needs before converting */
    double convert_max_fraction;   /* largest fraction a conversion may give; more keeps it */
    gf_share_kind convert_unit;    /* GF_SHARE_FRACTION or GF_SHARE_MEMORY (gpu-memory MiB) */
    bool convert_set_scheduler;    /* may set schedulerName kai-scheduler on other pods */
    /* rollouts that stall (decide/controller.h): a new pod Pending longer
     * than stall_timeout_s after a resize, KAI's Unschedulable condition or
     * a ReplicaSet's FailedCreate; then hold, or revert to the previous
     * allocation in one patch */
    int64_t stall_timeout_s;
    gf_stall_action on_stall;
    /* the engine section: rules by engine class (decide/recommend.h) */
    bool engine_rules;        /* false: every workload gets the generic rules */
    double engine_kv_full;    /* KV-cache use at or above this share counts as full */
    double engine_kv_margin;  /* a preallocating engine's need: base + peak KV x (1 + this) */
    double engine_base_share; /* share of what a preallocating engine holds that is weights and
                                 runtime overhead (not KV pool), when the pod does not say */
    bool engine_move_cap;     /* a resize also patches the engine's literal cap flag */
    /* decision-quality rules (issue 15, decide/recommend.h) */
    bool upsize_new_peak; /* upsize on new territory (a new peak in the trigger band, a trend
                             crossing the allocation, an OOM), not on nearness alone */
    bool single_margin;   /* one margin over a confident peak (the smaller of headroom and
                             memoryMargin), the larger where the peak is not confident */
    double min_coverage;  /* share of the downsize window with samples a downsize needs */
    bool burst_reserve;   /* bursty series: the window's peak x the burst reserve, a week of
                             history before a downsize */
    bool at_trough;       /* downsizes only in the workload's daily trough */
    /* changeWindow "HH:MM-HH:MM" UTC, seconds of the day; -1 = none. Set, a
     * downsize waits for it (instead of the trough); upsizes never wait */
    int32_t change_window_start_s, change_window_end_s;
    bool hold_one_way; /* hold a non-preemptible downsize its KAI queues could not take back
                          (decide/quota.h gf_quota_downsize_one_way) */
} gf_rightsize_rule;

/* The settings, in the order of the policy file. */
typedef enum gf_rule_field {
    GF_RF_MODE,
    GF_RF_HEADROOM,
    GF_RF_MEMORY_MARGIN,
    GF_RF_UPSIZE_TRIGGER,
    GF_RF_UPSIZE_WINDOW,
    GF_RF_DOWNSIZE_WINDOW,
    GF_RF_DOWNSIZE_PERCENTILE,
    GF_RF_MIN_HISTORY,
    GF_RF_COOLDOWN,
    GF_RF_MIN_CHANGE,
    GF_RF_MAX_DOWN_STEP,
    GF_RF_MIN_FRACTION,
    GF_RF_MAX_FRACTION,
    GF_RF_STEP,
    GF_RF_MEMORY_STEP,
    GF_RF_COMPUTE_AWARE,
    GF_RF_MAX_DISRUPTIONS,
    GF_RF_CONVERT_FROM_WHOLE,
    GF_RF_CONVERT_TO_WHOLE,
    GF_RF_CONVERT_MIN_HISTORY,
    GF_RF_CONVERT_MAX_FRACTION,
    GF_RF_CONVERT_UNIT,
    GF_RF_CONVERT_SET_SCHEDULER,
    GF_RF_STALL_TIMEOUT,
    GF_RF_ON_STALL,
    GF_RF_ENGINE_RULES,
    GF_RF_ENGINE_KV_FULL,
    GF_RF_ENGINE_KV_MARGIN,
    GF_RF_ENGINE_BASE_SHARE,
    GF_RF_ENGINE_MOVE_CAP,
    GF_RF_UPSIZE_NEW_PEAK,
    GF_RF_SINGLE_MARGIN,
    GF_RF_MIN_COVERAGE,
    GF_RF_BURST_RESERVE,
    GF_RF_AT_TROUGH,
    GF_RF_CHANGE_WINDOW,
    GF_RF_HOLD_ONE_WAY,
    GF_RF_COUNT
} gf_rule_field;

/* set masks are 64 bits wide */
_Static_assert(GF_RF_COUNT < 64, "gf_rule_field no longer fits a uint64_t mask (GF_RF_ALL)");

#define GF_RF_BIT(f) (UINT64_C(1) << (f))
#define GF_RF_ALL ((UINT64_C(1) << GF_RF_COUNT) - 1u)

/* The field's key path in a policy file, e.g. "downsize.window". */
const char *gf_rule_field_key(gf_rule_field f);

/* The built-in defaults (mode recommend, headroom 0.15, ...; convert:
 * fromWholeGpu and toWholeGpu recommend, minHistory 1d, maxFractionForConversion
 * 0.75, unit fraction, setScheduler false; engine: rules true, kvFull 0.9, kvMargin 0.2,
 * baseShare 0.5, moveCap true). */
void gf_rightsize_rule_defaults(gf_rightsize_rule *r);

/* Copies into dst the fields of over whose GF_RF_BIT is in set. */
void gf_rightsize_rule_apply(gf_rightsize_rule *dst, const gf_rightsize_rule *over, uint64_t set);

/* What is wrong with a rule. */
typedef struct gf_rule_problem {
    gf_rule_field field; /* the field to blame: the first of fields */
    uint64_t fields;     /* every field involved (GF_RF_BIT mask), e.g. both bounds */
    char why[256];       /* e.g. "must be in (0, 1], got 1.5" */
} gf_rule_problem;

/* Checks ranges (headroom and margin 0..10, trigger, percentile and fractions
 * in (0, 1], maxFraction below 1 (KAI refuses gpu-fraction 1), minFraction
 * <= maxFraction, windows > 0, durations at most 365
 * days, ...) and consistency (minChange <= maxStep, or no downsize could
 * happen). Returns GF_OK, or GF_EINPUT with *pb (may be NULL) filled for the
 * first problem in field order. */
gf_err gf_rightsize_rule_validate(const gf_rightsize_rule *r, gf_rule_problem *pb);

/* --- fair use ---------------------------------------------------------------
 * The policy's top-level fairUse section: how gpufrac watches shared GPUs for
 * pods that overrun their share (KAI enforces neither memory nor compute, see
 * decide/fairuse.h) and what it may do about them. One set of settings for the
 * whole cluster. */

/* Ordered: a larger mode does more. */
typedef enum gf_fair_mode {
    GF_FAIR_MODE_OFF = 0,    /* no detection */
    GF_FAIR_MODE_REPORT = 1, /* findings and proposed responses, nothing applied */
    GF_FAIR_MODE_ACT = 2     /* responses within the rate limit are applied */
} gf_fair_mode;

/* The response preferred when pod priorities do not decide who yields. */
typedef enum gf_fair_prefer {
    GF_FAIR_PREFER_UPSIZE = 0,      /* give the offender a larger fraction (a new pod) */
    GF_FAIR_PREFER_MOVE_VICTIM = 1, /* move a starved or endangered GPU-mate elsewhere */
    GF_FAIR_PREFER_REPORT = 2       /* report only (Event + metric) */
} gf_fair_prefer;

/* A pod's fair share of a GPU's compute (SM time). */
typedef enum gf_fair_share {
    GF_FAIR_SHARE_FRACTION = 0, /* its allocated (memory-based) fraction */
    GF_FAIR_SHARE_EQUAL = 1     /* 1 / pods on the GPU, what CUDA time-slicing gives */
} gf_fair_share;

typedef struct gf_fair_policy {
    gf_fair_mode mode;
    double memory_overrun_margin;    /* overrun: memory above fraction x GPU memory x (1 + this) */
    int64_t hog_window_s;            /* how long a condition must hold before it counts */
    double starved_threshold;        /* starved: gets less than this x what it is owed */
    double device_memory_full_ratio; /* device memory used / total at or above this: nearly full */
    gf_fair_share compute_share;     /* what compute a pod is entitled to */
    gf_fair_prefer response;
    int32_t max_actions_per_hour; /* responses applied per hour, whole cluster; 0 = none */
} gf_fair_policy;

typedef enum gf_fair_field {
    GF_FF_MODE,
    GF_FF_MEMORY_OVERRUN_MARGIN,
    GF_FF_HOG_WINDOW,
    GF_FF_STARVED_THRESHOLD,
    GF_FF_DEVICE_MEMORY_FULL_RATIO,
    GF_FF_COMPUTE_SHARE,
    GF_FF_RESPONSE,
    GF_FF_MAX_ACTIONS,
    GF_FF_COUNT
} gf_fair_field;

/* The key of a field in the fairUse section ("hogWindow"); "?" when out of range. */
const char *gf_fair_field_key(gf_fair_field f);

/* Built-in defaults: mode report, memoryOverrunMargin 0.10 (the rightsizing
 * memoryMargin), hogWindow 5m (the upsize window), starvedThreshold 0.8,
 * deviceMemoryFullRatio 0.95, computeShare fraction, response upsize,
 * maxActionsPerHour 2. */
void gf_fair_policy_defaults(gf_fair_policy *f);

/* "off" / "report" / "act"; "upsize" / "move-victim" / "report"; "fraction" /
 * "equal". Parsers take the exact lower-case name and return false otherwise. */
const char *gf_fair_mode_name(gf_fair_mode m);
bool gf_fair_mode_parse(const char *s, gf_fair_mode *out);
const char *gf_fair_prefer_name(gf_fair_prefer r);
bool gf_fair_prefer_parse(const char *s, gf_fair_prefer *out);
const char *gf_fair_share_name(gf_fair_share s);
bool gf_fair_share_parse(const char *s, gf_fair_share *out);

typedef struct gf_fair_problem {
    gf_fair_field field;
    char why[256];
} gf_fair_problem;

/* Ranges: memoryOverrunMargin [0, 10], hogWindow (0, 1d], starvedThreshold
 * and deviceMemoryFullRatio (0, 1], maxActionsPerHour [0, 3600], enums in
 * range. GF_OK, or GF_EINPUT with *pb (may be NULL) for the first problem. */
gf_err gf_fair_policy_validate(const gf_fair_policy *f, gf_fair_problem *pb);

/* --- consolidation -----------------------------------------------------------
 * The policy's top-level consolidation section: which pods a drain may move
 * (decide/consolidate.h). KAI never moves a non-preemptible job itself (its
 * consolidation moves preemptible jobs only) and makes every Deployment
 * non-preemptible by default (priority class inference, 125), so gpufrac
 * decides by policy. */
typedef enum gf_move_np {
    /* default: a non-preemptible pod moves when a PodDisruptionBudget selects
     * it (its disruptionsAllowed holds), or when its workload keeps at least
     * one other running replica through the whole plan; a single replica
     * without a PDB stays */
    GF_MOVE_NP_REPLICATED = 0,
    GF_MOVE_NP_NEVER = 1, /* never move a non-preemptible pod (KAI's own rule) */
    GF_MOVE_NP_ALWAYS = 2 /* move them like any other pod (PDBs and limits still hold) */
} gf_move_np;

/* "replicated", "never", "always"; the parser takes the exact name. */
const char *gf_move_np_name(gf_move_np v);
bool gf_move_np_parse(const char *s, gf_move_np *out);

/* Which workloads a rule applies to. An absent list (n == 0) matches all. */
typedef struct gf_policy_match {
    const char **namespaces; /* names or fnmatch(3) globs ("team-*") */
    uint32_t n_namespaces;
    gf_kvs labels;      /* all must equal the pod's labels */
    const char **kinds; /* controller kinds ("Deployment"), case-insensitive */
    uint32_t n_kinds;
} gf_policy_match;

typedef struct gf_policy_rule {
    const char *name;   /* unique within the policy */
    const char *origin; /* "policy.yaml:12:5" for messages, or NULL */
    gf_policy_match match;
    uint64_t set;             /* GF_RF_BIT mask of the fields this rule overrides */
    gf_rightsize_rule values; /* only the fields in set are meaningful */
} gf_policy_rule;

typedef struct gf_policy {
    gf_arena arena;
    const char *origin;            /* file it came from, NULL for built-in */
    bool opt_in;                   /* only annotated workloads are rightsized */
    bool allow_annotation_upgrade; /* the annotation may raise the mode */
    gf_rightsize_rule defaults;    /* built-in defaults with the file's defaults applied */
    GF_VEC(gf_policy_rule) rules;  /* in file order; the first match wins */
    gf_fair_policy fair_use;       /* the fairUse section (built-in defaults when absent) */
    /* consolidation.moveNonPreemptible (GF_MOVE_NP_REPLICATED when absent) */
    gf_move_np move_non_preemptible;
    /* the kai section: KAI's configurable names (KAI's defaults when absent;
     * strings in the arena). Whoever loads a snapshot under this policy sets
     * gf_model.kai from it first. */
    gf_kai_names kai;
} gf_policy;

/* The built-in policy: defaults, no rules, opt-out, fair use defaults. */
void gf_policy_init(gf_policy *p);
void gf_policy_free(gf_policy *p); /* accepts NULL; p may be re-initialised */

/* Appends a rule named name (copied into p's arena) that matches everything
 * and overrides nothing. The pointer is valid until the next add. */
gf_policy_rule *gf_policy_add_rule(gf_policy *p, const char *name);

/* Validates the defaults, each rule merged with the defaults, that rule
 * names are unique and non-empty, and the fairUse section. err->where names
 * "defaults.<key>", "rules[i].<key>" (with the rule's origin when known) or
 * "fairUse.<key>". */
gf_err gf_policy_validate(const gf_policy *p, gf_error *err);

/* The workload a policy is asked about. */
typedef struct gf_policy_subject {
    const char *kind, *ns, *name; /* kind NULL: a pod without controller */
    const gf_kvs *labels;         /* its pods' labels; NULL = none */
    const char *opt;              /* value of gpufrac.io/rightsize, NULL when absent */
} gf_policy_subject;

/* True when m selects s. */
bool gf_policy_match_selects(const gf_policy_match *m, const gf_policy_subject *s);

typedef struct gf_policy_decision {
    gf_rightsize_rule rule; /* the settings to use; rule.mode is the final mode */
    uint32_t rule_index;    /* the matching rule, GF_NONE when the defaults applied */
    gf_mode rule_mode;      /* the mode before the annotation */
    bool by_annotation;     /* the annotation decided the mode */
    char reason[256];       /* e.g. "rule \"llm\"; annotation gpufrac.io/rightsize=off" */
} gf_policy_decision;

/* Resolves the settings for s (see the file comment). */
void gf_policy_resolve(const gf_policy *p, const gf_policy_subject *s, gf_policy_decision *out);

/* Fills s for workload index wi of a finalized model: kind, namespace and
 * name from the workload; labels from its first active pod (else its first
 * pod, else none); the annotation from the pod template, else that pod.
 * Strings are borrowed from m. Scans the pods: O(pods). */
void gf_policy_subject_of(const gf_model *m, uint32_t wi, gf_policy_subject *s);
/* The same with the pod given (NULL: none), for callers that already hold
 * one of the workload's pods: no scan. */
void gf_policy_subject_with_pod(const gf_model *m, uint32_t wi, const gf_pod *pod,
                                gf_policy_subject *s);

#endif
