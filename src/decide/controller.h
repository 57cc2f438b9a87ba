/* controller.h - the controller behind `gpufrac run`: one decision step
 * (pure), and the loop iteration that drives it through a backend.
 *
 * Data flows one way each interval:
 *
 *   backend.snapshot   -> model + the workloads' gpufrac annotations
 *   backend.usage      -> usage samples since the history's newest
 *   ingest             -> the usage history (decide/history.h)
 *   seed               -> the history's change bookkeeping, from the
 *                         gpufrac.io/last-change annotations (restarts and
 *                         leader changes lose nothing)
 *   gf_ctl_decide      -> a plan: actions, each with the rule that proposed
 *                         it and, when it must wait, why (pure: no I/O, no
 *                         clock, no logging)
 *   backend writes     -> resize patches, recommendation annotations,
 *                         Events, evictions, cordons
 *   gf_ctl_commit      -> the outcome into the controller's state and the
 *                         history's bookkeeping
 *
 * What is proposed:
 *   - rightsizing (decide/recommend.h), asked without its pacing (cooldown,
 *     maxDisruptionsPerHour) so that the controller applies the pacing itself
 *     and can say which limit held a change:
 *       mode auto      -> RESIZE: a merge patch of the owner's pod template
 *                         annotation (gpu-fraction or gpu-memory), carrying
 *                         the gpufrac.io/last-change annotation in the same
 *                         patch, preconditioned on the resourceVersion seen;
 *       mode recommend -> RECOMMEND: the gpufrac.io/recommendation
 *                         annotation on the workload and an Event, only when
 *                         the recommendation changed (and the annotation
 *                         removed when the allocation fits again);
 *       mode off       -> nothing: unselected workloads are never written;
 *   - conversion of whole-GPU workloads (decide/convert.h), its own mode
 *     (convert.fromWholeGpu): auto -> RESIZE with reason convert: one merge
 *     patch of the owner's pod template (the annotation, nvidia.com/gpu
 *     removed from the GPU container, schedulerName when allowed) with the
 *     gpufrac.io/last-change record, read-modify-write preconditioned on the
 *     resourceVersion read; recommend -> RECOMMEND; paced like a downsize
 *     (cooldown, budget); a template that already carries the fraction while
 *     whole-GPU pods remain is a rollout in progress;
 *   - fair use (decide/fairuse.h) when the policy's fairUse.mode is not off:
 *     REPORT (an Event about the offending pod, at most once per finding per
 *     report_every_s), and in mode act the responses fairuse chose to apply:
 *     upsize -> RESIZE of the offender's workload, move -> EVICT;
 *   - rollouts that stall (docs/controller.md): a workload whose last change
 *     is our share resize, still the template's value, with a new pod KAI
 *     marked Unschedulable, a new ReplicaSet's FailedCreate, or a new pod
 *     Pending past the rule's stallTimeout: onStall revert -> RESIZE with
 *     reason revert back to the record's previous value, gpufrac.io/stalled
 *     in the same patch; onStall hold -> REPORT (an Event); the workload's
 *     other changes are held (stalled);
 *   - owners gpufrac does not write (anything but Deployments and
 *     StatefulSets: Jobs, operators' objects such as KServe's
 *     InferenceService): their recommendation is a REPORT about a pod naming
 *     the field to set (gf_recommend_owner_target), never a write;
 *   - configured to overrun (model/engine.h gf_engine_overrun), when fairUse.mode
 *     is not off: a workload whose preallocating engine (vLLM, SGLang, TGI)
 *     is configured to take more of the GPU's memory than its KAI fraction
 *     holds (vLLM left at its default 0.9 on a 0.5 fraction) -> REPORT: a
 *     warning Event GpufracConfiguredToOverrun on the workload with the
 *     exact fix, once per change of the finding (engine, cap, fraction);
 *     the plan lists every such finding (overruns) for the metric
 *     gpufrac_configured_overrun;
 *   - consolidation (decide/consolidate.h) every consolidate_every_s when set:
 *     one node at a time: CORDON it, then EVICT the pods the plan moves
 *     (the Eviction API enforces PodDisruptionBudgets; the scheduler places
 *     the replacements), until the node holds no movable pod.
 * Writes (RESIZE, EVICT, CORDON) only touch workloads whose resolved mode
 * is auto; a drain needs every pod it moves to belong to one.
 *
 * What holds an action (gf_ctl_hold), checked in this order:
 *   stale usage    the newest sample is older than two intervals (the whole
 *                  plan), or the workload's newest is (its actions);
 *   backoff        a write to the workload the API server rejected (result
 *                  rejected) within GF_CTL_WRITE_BACKOFF_S;
 *   not-selected   a write to a workload whose mode is not auto;
 *   kind           only Deployments and StatefulSets are resized (a Job's
 *                  template is immutable, a bare ReplicaSet does not roll);
 *   stalled        the workload's rollout stalled, or it carries
 *                  gpufrac.io/stalled (a revert skips this, rollout,
 *                  cooldown and budget);
 *   rollout        the workload's pods do not all carry the template's value
 *                  yet: a change is already rolling out;
 *   superseded     another action changes the workload in this step;
 *   quota          an upsize (rightsizing or fair use) of a non-preemptible
 *                  workload that would push its KAI queue or a parent past
 *                  its GPU quota, the rollout's surge included
 *                  (decide/quota.h): KAI would leave the new pods Pending;
 *                  not written, a warning Event GPUQueueQuotaBlocked instead
 *                  (once per report_every_s per workload and value);
 *   change-window  a downsize the recommender holds until the policy's
 *                  changeWindow or the workload's daily trough
 *                  (downsize.atTrough; decide/recommend.h);
 *   cooldown       a downsize within the rule's cooldown of the last change
 *                  (upsizes skip it, as in the recommender: a workload about
 *                  to run out of memory does not wait);
 *   pdb            an eviction the PodDisruptionBudgets forbid now;
 *   budget         the rule's maxDisruptionsPerHour: changes and evictions
 *                  in the last hour among the workloads the rule covers (a
 *                  change counts once, whatever its replicas); a resize held
 *                  here is published as a recommendation instead ("changes
 *                  wait as recommendations", examples/policy.yaml);
 *   rate           more disruptive actions (RESIZE, EVICT) than
 *                  max_actions (--max-actions-per-interval) in this step;
 * and, at execution, not-leader (the backend's may_write said no) and
 * dry-run. Urgent work goes first: critical fair-use responses, upsizes,
 * other fair-use responses, downsizes, then consolidation.
 *
 * Crash safety: a resize and its gpufrac.io/last-change record are one
 * patch, so a process killed at any point either made the change with its
 * record or did not make it; the next decision sees the record (cooldown,
 * budget) and the template's new value (rollout), and proposes nothing
 * again. Evictions and Events are not recorded in the cluster: a restart
 * forgets the eviction ledger and may repeat one Event.
 *
 * Names: gf_ctl_*. Strings in a plan are borrowed from the model of the
 * step (or owned by the action's fixed buffers). */
#ifndef GF_CONTROLLER_H
#define GF_CONTROLLER_H

#include "util/vec.h"
#include "model/err.h"
#include "decide/fairuse.h"
#include "decide/history.h"
#include "model/model.h"
#include "decide/policy.h"
#include "decide/recommend.h"
#include "model/engine.h"
#include "model/sample.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Annotations gpufrac writes on workloads (metadata, not the pod template:
 * a template change would restart the pods) and nodes. */
#define GF_ANN_LAST_CHANGE "gpufrac.io/last-change"
#define GF_ANN_RECOMMENDATION "gpufrac.io/recommendation"
#define GF_ANN_DRAINING "gpufrac.io/draining"
/* Written with the revert of a stalled rollout (in the same patch): while
 * it is on the workload, gpufrac changes it no more. Remove it to let
 * gpufrac resize the workload again. */
#define GF_ANN_STALLED "gpufrac.io/stalled"

/* A write the API server refused (403, 422, ...) is not tried again for the
 * same workload before this long (hold backoff). */
#define GF_CTL_WRITE_BACKOFF_S 3600.0

/* Changes and evictions counted against maxDisruptionsPerHour. */
#define GF_CTL_BUDGET_WINDOW_S 3600.0

/* --- configuration --------------------------------------------------------------- */

typedef struct gf_ctl_config {
    double interval_s;          /* one step every interval: 60 */
    uint32_t max_actions;       /* disruptive actions per step: 3 */
    double consolidate_every_s; /* 0: no consolidation */
    double backfill_s;          /* usage asked for when the history is empty: 8 days */
    double report_every_s;      /* the same fair-use finding is reported again after: 1 h */
    bool dry_run;               /* decide and log, never write */
    gf_scorer scorer;           /* placement scorer for fair use and consolidation */
} gf_ctl_config;

void gf_ctl_config_default(gf_ctl_config *c);

/* --- what a backend reports besides the model ------------------------------------ */

/* The annotations gpufrac reads back from one workload's metadata. Strings
 * live in the model's arena (gf_arena_strdup(&m->arena, ...)); NULL when
 * absent. */
typedef struct gf_ctl_wmeta {
    const char *resource_version; /* for the patch precondition */
    const char *last_change;      /* gpufrac.io/last-change */
    const char *recommendation;   /* gpufrac.io/recommendation */
    const char *stalled;          /* gpufrac.io/stalled */
} gf_ctl_wmeta;

typedef struct gf_ctl_meta {
    gf_ctl_wmeta *w;           /* one per model workload (m->workloads.n), in m->arena; or NULL */
    const char *draining_node; /* a node annotated gpufrac.io/draining, or NULL */
} gf_ctl_meta;

/* --- actions ---------------------------------------------------------------------- */

typedef enum gf_ctl_kind {
    GF_CTL_RESIZE,    /* patch the pod template's gpu-fraction / gpu-memory + last-change */
    GF_CTL_RECOMMEND, /* set (or remove) gpufrac.io/recommendation, and an Event */
    GF_CTL_REPORT,    /* an Event only (fair-use finding) */
    GF_CTL_EVICT,     /* evict a pod (Eviction API: PodDisruptionBudgets apply) */
    GF_CTL_CORDON,    /* mark a node unschedulable before draining it */
    GF_CTL_KIND_COUNT
} gf_ctl_kind;

/* What proposed an action. */
typedef enum gf_ctl_reason {
    GF_CTL_R_UPSIZE,
    GF_CTL_R_DOWNSIZE,
    GF_CTL_R_RECOMMEND,       /* a changed recommendation */
    GF_CTL_R_RECOMMEND_CLEAR, /* the allocation fits again: annotation removed */
    GF_CTL_R_FAIR_FIRST,      /* + gf_fair_kind: memory-overrun ... overcommit-compute */
    GF_CTL_R_CONSOLIDATE = GF_CTL_R_FAIR_FIRST + GF_FAIR_KIND_COUNT,
    GF_CTL_R_CONVERT, /* whole GPUs -> a KAI fraction (decide/convert.h) */
    GF_CTL_R_REVERT,  /* a stalled rollout: the previous allocation restored (onStall revert) */
    GF_CTL_R_STALLED, /* a stalled rollout reported, the template left (onStall hold) */
    GF_CTL_R_OWNER,   /* a recommendation for an owner gpufrac does not write (Event only) */
    GF_CTL_R_CONFIGURED_OVERRUN, /* an engine's memory cap above its fraction (REPORT) */
    GF_CTL_REASON_COUNT
} gf_ctl_reason;

/* Why an action waits (GF_CTL_GO: it does not). */
typedef enum gf_ctl_hold {
    GF_CTL_GO = 0,
    GF_CTL_HOLD_STALE,        /* usage older than two intervals */
    GF_CTL_HOLD_KIND,         /* the workload kind is not resized */
    GF_CTL_HOLD_ROLLOUT,      /* the pods do not match the template yet */
    GF_CTL_HOLD_COOLDOWN,     /* downsize within the cooldown */
    GF_CTL_HOLD_BUDGET,       /* maxDisruptionsPerHour of the rule */
    GF_CTL_HOLD_PDB,          /* a PodDisruptionBudget allows no disruption now */
    GF_CTL_HOLD_RATE,         /* max_actions reached in this step */
    GF_CTL_HOLD_NOT_SELECTED, /* the workload's mode is not auto (writes) */
    GF_CTL_HOLD_SUPERSEDED,   /* another action changes this workload in this step */
    GF_CTL_HOLD_STALLED,      /* the workload's rollout stalled after a resize */
    GF_CTL_HOLD_BACKOFF,      /* a write to the workload was refused within the backoff */
    GF_CTL_HOLD_QUOTA,        /* an upsize its KAI queue (or a parent) cannot fund */
    GF_CTL_HOLD_WINDOW,       /* a downsize waiting for changeWindow or the daily trough */
    GF_CTL_HOLD_COUNT
} gf_ctl_hold;

/* Outcome of carrying an action out. */
typedef enum gf_ctl_result {
    GF_CTL_OK,
    GF_CTL_ERROR,      /* the backend failed (see the step's log) */
    GF_CTL_CONFLICT,   /* the object changed under us (someone else acted) */
    GF_CTL_REFUSED,    /* a PodDisruptionBudget refused the eviction */
    GF_CTL_GONE,       /* the object no longer exists */
    GF_CTL_DRY_RUN,    /* not written: dry run */
    GF_CTL_NOT_LEADER, /* not written: this replica does not hold the lease */
    GF_CTL_REJECTED,   /* the API server refused the write (400, 403, 422): not sent again
                          for the workload within GF_CTL_WRITE_BACKOFF_S (hold backoff) */
    GF_CTL_RESULT_COUNT
} gf_ctl_result;

/* Why a rollout stalled (the metric's label cause). */
typedef enum gf_ctl_stall_cause {
    GF_CTL_STALL_NONE,
    GF_CTL_STALL_PENDING_TIMEOUT, /* a new pod Pending past the rule's stallTimeout */
    GF_CTL_STALL_FAILED_CREATE,   /* the new ReplicaSet's ReplicaFailure / FailedCreate */
    GF_CTL_STALL_UNSCHEDULABLE,   /* KAI's PodScheduled False / Unschedulable on a new pod */
    GF_CTL_STALL_COUNT
} gf_ctl_stall_cause;

/* "none", "pending_timeout", "failed_create", "unschedulable". */
const char *gf_ctl_stall_cause_name(gf_ctl_stall_cause c);

/* "resize", "recommend", "report", "evict", "cordon". */
const char *gf_ctl_kind_name(gf_ctl_kind k);
/* "upsize", "downsize", "recommend", "recommend-clear", the fair kinds, "consolidate",
 * "convert", "configured-overrun". */
const char *gf_ctl_reason_name(gf_ctl_reason r);
/* "go", "stale", "kind", "rollout", "cooldown", "budget", "pdb", "rate", "not-selected",
 * "superseded", "stalled", "backoff", "quota". */
const char *gf_ctl_hold_name(gf_ctl_hold h);
/* "ok", "error", "conflict", "refused", "gone", "dry-run", "not-leader", "rejected". */
const char *gf_ctl_result_name(gf_ctl_result r);
/* RESIZE and EVICT restart pods. */
bool gf_ctl_kind_disruptive(gf_ctl_kind k);

/* The object an action writes (strings borrowed from the step's model). */
typedef struct gf_ctl_target {
    const char *kind; /* "Deployment", "Pod", "Node" */
    const char *ns;   /* NULL for nodes */
    const char *name;
    const char *uid; /* may be NULL */
} gf_ctl_target;

typedef struct gf_ctl_action {
    gf_ctl_kind kind;
    gf_ctl_reason reason;
    gf_ctl_hold hold;
    uint32_t workload; /* model workload concerned, GF_NONE */
    uint32_t pod;      /* model pod (evict, report), GF_NONE */
    uint32_t node;     /* model node (cordon), GF_NONE */
    uint32_t rule;     /* the policy rule covering the workload (GF_NONE: defaults) */
    gf_ctl_target target;
    /* RESIZE: the precondition and the change */
    const char *resource_version;   /* the workload's, as the snapshot saw it; may be NULL */
    const char *expect_last_change; /* gpufrac.io/last-change as seen (NULL: none): a retry
                                       after 409 gives up when it changed */
    const char *unit_key;           /* "gpu-fraction" or "gpu-memory" */
    char from[24], to[24];          /* the annotation's value before / after ("" from: unset);
                                       whole GPU: to is "nvidia.com/gpu: N" */
    /* RESIZE to whole GPUs (more than maxFraction is needed; KAI refuses
     * gpu-fraction 1): N nvidia.com/gpu in the limits of this container of
     * the template, every sharing annotation removed, in one patch
     * (io/kai_patch.h); 0 for a share resize */
    uint32_t whole_gpus;
    const char *container; /* the share's container (NULL: the first); borrowed from the model */
    bool container_init;
    /* RESIZE of a share whose preallocating engine takes a literal cap
     * (recommend.h move_cap): the same patch sets cap_knob, a flag in the
     * cap_container's command or args (an env variable when cap_env), to
     * new_cap (io/kai_patch.h gf_kai_resize_with_cap_merge) */
    bool move_cap;
    bool cap_env;
    double new_cap;
    const char *cap_knob;      /* static (model/engine.c) */
    const char *cap_container; /* borrowed from the model */
    bool cap_container_init;
    char last_change[512]; /* RESIZE: the gpufrac.io/last-change value to write */
    char quota[400];       /* RESIZE up: why its queue cannot fund it (quota.h), "" when it can */
    bool waits_window;     /* RESIZE down the recommender holds for its change window
                              (gf_recommendation.waits_window): hold change-window */
    /* RESIZE with reason convert (from whole GPUs to a share): the container
     * losing nvidia.com/gpu, the whole GPUs per pod it held
     * (gpu-fraction-num-devices when > 1), whether schedulerName becomes
     * kai-scheduler, and the conversion's mode */
    const char *gpu_container;
    uint32_t from_whole_gpus;
    bool set_scheduler;
    gf_mode convert_mode;
    char recommendation[512]; /* RECOMMEND: the value to write, "" = remove */
    /* a stalled rollout (reasons revert and stalled): its cause, and for a
     * revert the gpufrac.io/stalled value written in the same patch */
    gf_ctl_stall_cause stall_cause;
    char stalled[256];
    /* the Event (event_reason "" = none) and the log line */
    bool warning;
    char event_reason[48]; /* UpperCamelCase */
    char message[700];
    char key[320]; /* REPORT: the finding's identity, for repeats */
} gf_ctl_action;

typedef GF_VEC(gf_ctl_action) gf_ctl_actions;

/* A workload whose engine is configured to overrun its fraction. */
typedef struct gf_ctl_overrun {
    uint32_t workload; /* model workload */
    gf_engine_kind engine;
    double cap;      /* share of the GPU's memory the engine takes */
    double fraction; /* share its pods hold per device */
} gf_ctl_overrun;

typedef GF_VEC(gf_ctl_overrun) gf_ctl_overruns;

typedef struct gf_ctl_plan {
    gf_ctl_actions actions;   /* in execution order */
    gf_ctl_overruns overruns; /* engines configured to overrun (fair use not off) */
    gf_recommendations recs;  /* every workload's recommendation (pacing aside) */
    gf_fair_report fair;      /* this step's fair-use findings */
    gf_fair_state fair_state; /* the state they index */
    bool stale;               /* nothing acted on: usage too old */
    double staleness_s;       /* now - newest usage sample; INFINITY when none */
} gf_ctl_plan;

void gf_ctl_plan_init(gf_ctl_plan *p);
void gf_ctl_plan_free(gf_ctl_plan *p); /* accepts NULL; reusable after init */

/* --- state carried between steps ---------------------------------------------------- */

typedef struct gf_ctl_stamp {
    char *key; /* owned */
    double t;
} gf_ctl_stamp;

typedef GF_VEC(gf_ctl_stamp) gf_ctl_stamps;

typedef struct gf_ctl_state {
    gf_fair_tracker tracker;     /* since when fair-use conditions hold */
    gf_ctl_stamps evictions;     /* workload key and time of each eviction, last hour */
    gf_ctl_stamps reported;      /* finding key -> last Event */
    gf_ctl_stamps overrun_told;  /* configured-overrun findings already told, one per workload
                                    (key "ns/Kind/name engine cap fraction") */
    char *draining;              /* the node being drained (owned), or NULL */
    gf_ctl_stamps refused;       /* "kind/workload key" -> a write the API server refused */
    double last_consolidation_t; /* last plan (or drain finished); -INFINITY: never */
} gf_ctl_state;

void gf_ctl_state_init(gf_ctl_state *s);
void gf_ctl_state_free(gf_ctl_state *s); /* accepts NULL */

/* --- the decision step (pure) ------------------------------------------------------- */

typedef struct gf_ctl_input {
    const gf_model *m;       /* finalized */
    const gf_ctl_meta *meta; /* may be NULL */
    const gf_history *h;     /* usage history with change bookkeeping */
    const gf_policy *p;
    const gf_usage_sample *samples; /* the latest usage (per pod, for fair use); may be NULL */
    size_t n_samples;
    double usage_newest; /* newest sample time known, -INFINITY when none */
    double now;          /* unix seconds */
} gf_ctl_input;

/* Decides one step into *out (reset first). Updates the fair-use tracker in
 * st (one observation at now) and forgets the configured-overrun findings
 * told of workloads whose finding no longer holds (so that a relapse is
 * told again); everything else in st is read only. GF_EINPUT
 * for an unfinalized model or a time before the tracker's last. */
gf_err gf_ctl_decide(const gf_ctl_config *cfg, const gf_ctl_input *in, gf_ctl_state *st,
                     gf_ctl_plan *out, gf_error *err);

/* Records a carried-out action (result GF_CTL_OK) at now: a resize notes a
 * change in the workload's history series (cooldown, budget), an eviction
 * enters the ledger, a report its repeat stamp, a cordon the draining node.
 * h may be NULL when the action is not a resize. */
void gf_ctl_commit(gf_ctl_state *st, gf_history *h, const gf_model *m, const gf_ctl_action *a,
                   double now);

/* Notes in h every change recorded in the workloads' gpufrac.io/last-change
 * annotations that h does not know (later than the series' last change).
 * Returns how many were noted; unreadable annotations are reported in d. */
size_t gf_ctl_seed_changes(gf_history *h, const gf_model *m, const gf_ctl_meta *meta, double now,
                           gf_diags *d);

/* gpufrac.io/last-change: "2026-11-26T11:07:16Z gpu-fraction 0.5 -> 0.45 (upsize): why".
 * Writes it into buf (truncated to n). */
void gf_ctl_format_last_change(double t, const char *unit_key, const char *from, const char *to,
                               const char *reason, const char *why, char *buf, size_t n);
/* The time of a gpufrac.io/last-change value; false when it does not start
 * with "YYYY-MM-DDTHH:MM:SSZ". */
bool gf_ctl_parse_last_change(const char *value, double *t);

/* --- the backend ---------------------------------------------------------------------
 * Where the controller reads the cluster and writes its decisions: the
 * Kubernetes API (src/io/kube/controller_kube.h), or a simulator (sim/sim.h) that
 * plays the cluster in memory. Every function gets ctx. Errors are gf_err
 * values with err filled (what and where); the step logs them and goes on.
 *
 * snapshot   fills m (initialised by the caller) with the cluster, finalized,
 *            and meta with the workloads' gpufrac annotations (strings in
 *            m->arena). Failing means no step.
 * usage      the usage samples with since < t <= now: *out points to n
 *            samples owned by the backend, valid until the next call. The
 *            samples of one time slice come together (the history skips
 *            samples at or before its newest).
 * engine_usage  (may be NULL) the inference engines' own samples
 *            (model/sample.h gf_engine_sample) that the last usage call
 *            brought, owned by the backend likewise; ingested with the
 *            usage samples (decide/recommend.h gf_recommend_ingest_engine).
 * resize     one merge patch of the workload (a->target) setting its pod
 *            template's a->unit_key annotation to a->to and its metadata
 *            annotation gpufrac.io/last-change to a->last_change (removing
 *            gpufrac.io/recommendation), preconditioned on
 *            a->resource_version. On a conflict it may re-read and retry
 *            while the template still holds a->from and the last-change
 *            annotation is still a->expect_last_change; otherwise the
 *            conflict is the answer (someone else acted). Both annotations
 *            change together or not at all: that is what makes a restart safe.
 * annotate   sets gpufrac.io/recommendation on the workload's metadata to
 *            a->recommendation ("" removes it). No precondition.
 * event      posts an Event about a->target (reason a->event_reason, message
 *            a->message, Warning when a->warning).
 * evict      evicts the pod a->target through the Eviction API; a refusal
 *            by a PodDisruptionBudget is result REFUSED (tried again at a
 *            later step, not counted as an API error).
 * cordon     marks node a->target unschedulable and annotates it
 *            gpufrac.io/draining.
 * may_write  asked before every write: false (this replica lost or does not
 *            hold the lease) stops the step's remaining writes. NULL: always.
 * Write functions set *result (OK, CONFLICT, REFUSED, GONE, ERROR) as well as
 * returning the error; GF_OK goes with GF_CTL_OK. */
typedef struct gf_ctl_backend {
    void *ctx;
    const char *name; /* "kubernetes", "simulator", for messages */
    gf_err (*snapshot)(void *ctx, gf_model *m, gf_ctl_meta *meta, gf_diags *d, gf_error *err);
    gf_err (*usage)(void *ctx, const gf_model *m, double since, double now,
                    const gf_usage_sample **out, size_t *n, gf_diags *d, gf_error *err);
    gf_err (*resize)(void *ctx, const gf_ctl_action *a, gf_ctl_result *result, gf_error *err);
    gf_err (*annotate)(void *ctx, const gf_ctl_action *a, gf_ctl_result *result, gf_error *err);
    gf_err (*event)(void *ctx, const gf_ctl_action *a, gf_ctl_result *result, gf_error *err);
    gf_err (*evict)(void *ctx, const gf_ctl_action *a, gf_ctl_result *result, gf_error *err);
    gf_err (*cordon)(void *ctx, const gf_ctl_action *a, gf_ctl_result *result, gf_error *err);
    bool (*may_write)(void *ctx);
    void (*engine_usage)(void *ctx, const gf_engine_sample **out, size_t *n);
} gf_ctl_backend;

/* --- the controller: state, counters and one loop iteration --------------------------- */

/* The backend operations API errors are counted by (the caller adds
 * "watch" and "lease" failures with gf_ctl_count_api_error). */
typedef enum gf_ctl_op {
    GF_CTL_OP_SNAPSHOT,
    GF_CTL_OP_USAGE,
    GF_CTL_OP_RESIZE,
    GF_CTL_OP_ANNOTATE,
    GF_CTL_OP_EVENT,
    GF_CTL_OP_EVICT,
    GF_CTL_OP_CORDON,
    GF_CTL_OP_WATCH,
    GF_CTL_OP_LEASE,
    GF_CTL_OP_HISTORY,
    GF_CTL_OP_COUNT
} gf_ctl_op;

/* "snapshot", "usage", "resize", "annotate", "event", "evict", "cordon", "watch", "lease",
 * "history". */
const char *gf_ctl_op_name(gf_ctl_op op);

/* Counters and gauges for /metrics. */
typedef struct gf_ctl_stats {
    uint64_t decisions[GF_CTL_KIND_COUNT][GF_CTL_REASON_COUNT + GF_CTL_HOLD_COUNT];
    uint64_t results[GF_CTL_KIND_COUNT][GF_CTL_RESULT_COUNT];
    uint64_t api_errors[GF_CTL_OP_COUNT];
    uint64_t steps_ok, steps_failed, steps_stale;
    uint64_t samples_ingested;
    /* objects a snapshot left out (gf_model.skipped), summed over the steps:
     * one odd pod counts once per step it is seen in */
    uint64_t objects_skipped[GF_SKIP_COUNT];
    double last_step_s;                  /* duration of the last step (seconds) */
    double last_success_t;               /* unix time of the last successful step; 0: none */
    double staleness_s;                  /* of the last step; INFINITY before usage */
    uint64_t stalls[GF_CTL_STALL_COUNT]; /* stalled rollouts reported (revert or hold) */
} gf_ctl_stats;

/* The decisions counter index of an action: its hold when held, else its reason. */
size_t gf_ctl_decision_index(const gf_ctl_action *a);
/* The label for gf_ctl_decision_index values. */
const char *gf_ctl_decision_name(size_t i);

typedef struct gf_ctl {
    gf_ctl_config cfg;
    const gf_policy *policy; /* borrowed */
    gf_history *h;           /* borrowed: the caller loads and saves it */
    gf_ctl_state st;
    gf_ctl_stats stats;
    gf_model model; /* the last step's model; the plan borrows from it */
    gf_ctl_plan plan;
    bool have_model;
} gf_ctl;

void gf_ctl_init(gf_ctl *c, const gf_ctl_config *cfg, const gf_policy *p, gf_history *h);
void gf_ctl_free(gf_ctl *c); /* accepts NULL */
void gf_ctl_count_api_error(gf_ctl *c, gf_ctl_op op);

/* One iteration at now (unix seconds): snapshot, usage, ingest, seed,
 * decide, write (unless dry run or may_write says no), commit. Log lines
 * ("resize team-a/Deployment/llm gpu-fraction 0.5 -> 0.45 (upsize): ...:
 * ok") go into log; warnings too. GF_OK when the snapshot was taken and
 * the plan made, whatever the writes did (their failures are logged,
 * counted, and make *write_failures non-zero; may be NULL); an error when
 * there was no step (snapshot failed, or the history refused a sample). A
 * usage failure is logged and the step goes on without new samples (stale
 * data then holds every action). */
gf_err gf_ctl_step(gf_ctl *c, const gf_ctl_backend *b, double now, gf_diags *log,
                   uint32_t *write_failures, gf_error *err);

#endif
