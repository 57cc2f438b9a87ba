/* fairuse.h - fair use of shared GPUs: noisy-neighbour detection and the
 * responses to it.
 *
 * KAI Scheduler enforces neither memory nor compute shares (shared/research/
 * kai.md, "What KAI does not do"): a pod that uses more GPU memory than its
 * fraction can make its GPU-mates run out of memory, and one that keeps the
 * SMs busy slows them down. This module looks at each shared GPU as the
 * exporter (or a simulator) sees it and says who misbehaves, since when, by
 * how much and whom it hurts, then proposes a response chosen by the policy's
 * fairUse section (decide/policy.h).
 *
 * Input: a gf_fair_state, one gf_fair_gpu per shared GPU with its pods
 * (gf_fair_pod): allocated fraction (memory-based, gf_pod_share_on), memory
 * used, SM share now and averaged over the hog window, and the demand when a
 * simulator knows it. gf_fair_state_from_model() fills everything the model
 * knows; the caller adds the usage.
 *
 * Findings (gf_fair_kind), per GPU:
 *   memory-overrun   a pod uses more memory than fraction x GPU memory x
 *                    (1 + memoryOverrunMargin). Critical, and reported at
 *                    once, when the device is nearly full (used / total >=
 *                    deviceMemoryFullRatio: an allocation by anyone may fail
 *                    now); otherwise a warning once it has held hogWindow.
 *   device-memory-full  used / total >= deviceMemoryFullRatio. The offender
 *                    is the pod furthest above its allocation, if any.
 *   compute-hog      a pod's SM share has been above its fair share (its
 *                    entitlement, else per computeShare its fraction or
 *                    1 / pods) by more than GF_FAIR_SM_SLACK for hogWindow,
 *                    while a GPU-mate is starved: it gets less than
 *                    starvedThreshold x min(its demand, its fair share), or,
 *                    demand unknown, the device is saturated (SM >=
 *                    GF_FAIR_SM_SATURATED) and the mate, active, gets less
 *                    than starvedThreshold x its fair share. With a tracker
 *                    the mate must have been starved for hogWindow too.
 *   overcommit-memory / overcommit-compute
 *                    the pods' actual needs add up to more than the GPU
 *                    although no pod is reported as an offender for that
 *                    resource. Need = max(memory used, demanded) and the
 *                    demanded SM share, else the window mean, else the
 *                    current share. Compute needs have to hold hogWindow.
 * A pod alone on its GPU hurts nobody: only memory findings apply to it.
 *
 * Windows and "since when": a gf_fair_tracker, fed one observation per step,
 * remembers since when each condition has held (a condition that stops
 * holding at an observation starts again from zero, so a burst shorter than
 * hogWindow never reports). Without a tracker, the since fields of the input
 * are used when set, else the window means: a pod whose sm_share_mean over a
 * window of at least hogWindow (gf_fair_gpu.window_s) is above its share
 * counts as having been over for that window.
 *
 * Responses (gf_fair_response), one per finding (one per move when an
 * over-committed GPU needs several):
 *   - a pod alone on its GPU that overruns its memory is upsized;
 *   - who yields: the lower priority, as KAI values it (the PodGroup's
 *     priority class, else the pod grouper's default for the owner kind:
 *     gf_pod.gov, model.c), and KAI's queue (the PodGroup's spec.queue, else
 *     the grouper's); spec.priority alone does not decide (KAI's scheduler
 *     ignores it: cluster_info.go getPodGroupPriority). When the offender's priority is below
 *     every affected pod's, the offender yields (upsize); when an affected
 *     pod's is below the offender's, that pod yields (move-victim, lowest
 *     priority first). At equal priority the policy's response decides, and
 *     a victim in another KAI queue than the offender's is not moved for it
 *     (one team's pod does not make way for another team's misbehaving one).
 *   - upsize: a new fraction means a new pod (shared/research/kai.md), so the
 *     packing engine must find a GPU with room for it while the old pod still
 *     runs (a rolling update starts the new pod first; its own GPU qualifies
 *     when it holds both), and that GPU's actual use must stay within 1.0
 *     (decide/rebalance.h). New fraction = need x (1 + memoryOverrunMargin),
 *     need = memory used (and, for a compute hog, its SM need), rounded up
 *     to GF_FAIR_FRACTION_STEP; above GF_FAIR_MAX_FRACTION a whole GPU
 *     (whole_gpu: nvidia.com/gpu, sharing annotations removed), never a
 *     gpu-fraction of 1, which KAI's webhook refuses
 *     (pkg/binder/plugins/gpusharing/gpu-request/gpu_request_validator.go).
 *   - move-victim: the same search for a victim (a quieter GPU).
 *   - over-committed GPUs: the least disruptive relieving move
 *     (gf_rebalance_relieve).
 *   - report: Event + metric only; always the answer when nothing is
 *     possible, with every alternative and why it was rejected.
 * Only controller-owned pods (Deployment, ReplicaSet, StatefulSet) are
 * moved or upsized; a PodDisruptionBudget with no disruptions left, or
 * gpufrac.io/consolidate: "false", rules a pod out. A response is applied
 * (apply = true) only in mode act, within maxActionsPerHour over the whole
 * cluster (the tracker's ledger plus actions_last_hour) and at most once per
 * pod per hour; the most severe findings get the budget first, and the moves
 * relieving one GPU are applied together or not at all. Proposals that are
 * not applied still count in the plan (later ones do not take their room).
 *
 * Pure and deterministic: no I/O, no clock (the caller passes now), results
 * in input order. Explanations are plain text in the structs. */
#ifndef GF_FAIRUSE_H
#define GF_FAIRUSE_H

#include "util/arena.h"
#include "util/strmap.h"
#include "util/vec.h"
#include "model/err.h"
#include "model/model.h"
#include "decide/gpustate.h"
#include "decide/pack.h"
#include "decide/policy.h"

#include <stdbool.h>
#include <stdint.h>

/* SM share above the fair share by less than this is not "over": NVML
 * reports whole percents averaged over its sample period. */
#define GF_FAIR_SM_SLACK 0.05
/* Device SM utilisation at or above this is saturated ("near 100%"). */
#define GF_FAIR_SM_SATURATED 0.95
/* Upsized fractions are rounded up to a multiple of this (the rightsizing
 * default step). */
#define GF_FAIR_FRACTION_STEP 0.05
/* The largest fraction an upsize writes (the rightsizing default
 * bounds.maxFraction); more is a whole GPU. */
#define GF_FAIR_MAX_FRACTION 0.95

/* SM time if fair shares were enforced (MPS active-thread limits, HAMi core
 * limits; KAI itself does not): progressive filling, each pod weighted by
 * its fair share (computeShare: its fraction, or equal), never more than it
 * demands, and work-conserving (what one pod leaves is shared by the others
 * in proportion to their weights). served[i] for i < n; sums to at most 1.
 * A simulator can compare it with plain time-slicing. */
void gf_fair_serve(const gf_fair_policy *fp, uint32_t n, const double *fraction,
                   const double *demand, double *served);

typedef enum gf_fair_kind {
    GF_FAIR_MEMORY_OVERRUN = 0,
    GF_FAIR_DEVICE_MEMORY_FULL,
    GF_FAIR_COMPUTE_HOG,
    GF_FAIR_OVERCOMMIT_MEMORY,
    GF_FAIR_OVERCOMMIT_COMPUTE,
    GF_FAIR_KIND_COUNT
} gf_fair_kind;

/* "memory-overrun", "device-memory-full", "compute-hog", "overcommit-memory",
 * "overcommit-compute". */
const char *gf_fair_kind_name(gf_fair_kind k);

typedef enum gf_fair_severity {
    GF_FAIR_WARNING = 0,
    GF_FAIR_CRITICAL = 1 /* a GPU-mate may fail now (out of memory) */
} gf_fair_severity;

const char *gf_fair_severity_name(gf_fair_severity s);

typedef struct gf_fair_finding {
    gf_fair_kind kind;
    gf_fair_severity severity;
    uint32_t gpu;      /* index into state.gpus */
    uint32_t offender; /* index into state.pods, GF_NONE when nobody in particular */
    double since_t;    /* when the condition began; NaN when unknown */
    double amount;     /* by how much: bytes (memory), share of the GPU (compute, over-commit) */
    double observed;   /* what was seen: bytes, share, or the sum of needs (over-commit) */
    double allowed;    /* what was due: bytes, share, or 1.0 of the GPU */
    uint32_t first_affected, n_affected; /* into report.affected (state.pods indices) */
    char signal[320];                    /* which signal, which rule, the figures */
} gf_fair_finding;

typedef enum gf_fair_action {
    GF_FAIR_ACT_REPORT = 0, /* Event + metric only */
    GF_FAIR_ACT_UPSIZE,     /* the offender gets a larger fraction (a new pod at to) */
    GF_FAIR_ACT_MOVE        /* a pod moves to to (a victim, or to relieve an over-commit) */
} gf_fair_action;

/* "report", "upsize", "move". */
const char *gf_fair_action_name(gf_fair_action a);

/* An alternative considered and not taken. */
typedef struct gf_fair_alternative {
    gf_fair_action action;
    uint32_t pod; /* state.pods index, GF_NONE for report */
    char why[240];
} gf_fair_alternative;

typedef struct gf_fair_response {
    uint32_t finding; /* index into report.findings */
    gf_fair_action action;
    uint32_t pod;              /* state.pods index of the pod that changes; GF_NONE for report */
    double new_fraction;       /* upsize: the new gpu-fraction; 1 with whole_gpu */
    bool whole_gpu;            /* upsize: to a whole GPU (nvidia.com/gpu), not a share */
    gf_placement to;           /* upsize / move: where the new pod goes (model indices) */
    bool apply;                /* mode act and within the limits: carry it out */
    char rule[200];            /* the rule that chose the action */
    char reason[320];          /* figures; and why it is not applied, when it is not */
    uint32_t first_alt, n_alt; /* into report.alternatives */
} gf_fair_response;

typedef struct gf_fair_report {
    GF_VEC(gf_fair_finding) findings; /* per GPU in state order, then by kind */
    GF_VEC(uint32_t) affected;
    GF_VEC(gf_fair_response) responses; /* most severe first */
    GF_VEC(gf_fair_alternative) alternatives;
    uint32_t applied; /* responses with apply = true */
} gf_fair_report;

void gf_fair_report_free(gf_fair_report *r); /* accepts NULL; r is reusable */

/* The tracker: since when each condition has held, per GPU and per pod on
 * it, across observations; and the ledger of applied actions for the rate
 * limit. Keys are "node/index" and "node/index/namespace/name" (or the state
 * indices when names are missing). A pod or GPU missing from an
 * observation starts its conditions again from zero when it comes back.
 * Entries are kept for every key ever seen (bounded by the pods and the
 * GPUs they ran on). */
typedef struct gf_fair_since {
    double memory_over, sm_over, starved;          /* pods */
    double device_full, over_memory, over_compute; /* GPUs */
    double last_seen;
} gf_fair_since;

typedef struct gf_fair_tracker {
    gf_arena keys;
    gf_strmap by_key;
    GF_VEC(gf_fair_since) entries;
    GF_VEC(double) actions; /* times of applied actions, in the order noted */
    gf_strmap acted;        /* pod key -> index into acted_t */
    GF_VEC(double) acted_t; /* last applied action per pod */
    double last_t;          /* newest observation, -INFINITY before the first */
} gf_fair_tracker;

void gf_fair_tracker_init(gf_fair_tracker *tr);
void gf_fair_tracker_free(gf_fair_tracker *tr); /* accepts NULL; reusable after init */
/* Records one observation at now (>= the previous one, else GF_EINPUT). */
gf_err gf_fair_tracker_observe(gf_fair_tracker *tr, const gf_fair_policy *fp,
                               const gf_fair_state *st, double now, gf_error *err);
/* Notes an action applied at t to the pod with key ns/name (NULL: not tied
 * to a pod). gf_fair_step notes the ones it applies itself. */
void gf_fair_tracker_note_action(gf_fair_tracker *tr, const char *ns, const char *name, double t);
/* Actions noted in (now - window_s, now]. */
uint32_t gf_fair_tracker_actions_since(const gf_fair_tracker *tr, double now, double window_s);

/* Detection only. tr may be NULL (then the since fields and window means of
 * st are used) and is read, not updated: call gf_fair_tracker_observe first.
 * Nothing is found in mode off. *out is reset first. */
gf_err gf_fair_detect(const gf_fair_policy *fp, const gf_fair_state *st, double now,
                      const gf_fair_tracker *tr, gf_fair_report *out, gf_error *err);

/* What responses need besides the findings. */
typedef struct gf_fair_env {
    const gf_model *m;          /* finalized; NULL: every response is report */
    const gf_pack_state *pack;  /* free capacity; NULL: from m's current allocation */
    gf_scorer scorer;           /* placement scorer, binpack by default (0) */
    uint32_t actions_last_hour; /* applied elsewhere in the last hour, beyond the tracker's */
} gf_fair_env;

/* Chooses one response per finding of r (filled by gf_fair_detect on the
 * same st) into r->responses / r->alternatives. tr may be NULL; when given,
 * its ledger counts towards the rate limit and applied responses are noted
 * in it. */
gf_err gf_fair_respond(const gf_fair_policy *fp, const gf_fair_state *st, const gf_fair_env *env,
                       double now, gf_fair_tracker *tr, gf_fair_report *r, gf_error *err);

/* The simulator's and controller's entry point, once per step: observe (when
 * tr is given), detect, respond. The state is this step's per-GPU view; the
 * env the cluster (model and the allocation the simulator keeps). Responses
 * with apply = true are the ones to carry out; they are already noted in the
 * tracker's ledger. Free *out with gf_fair_report_free(). */
gf_err gf_fair_step(const gf_fair_policy *fp, const gf_fair_state *st, const gf_fair_env *env,
                    double now, gf_fair_tracker *tr, gf_fair_report *out, gf_error *err);

#endif
