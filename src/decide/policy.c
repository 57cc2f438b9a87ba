/* policy.c - rightsizing policy: defaults, validation, rule matching and
 * resolution (see policy.h). */
#include "decide/policy.h"
#include "util/strmap.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DAY_S INT64_C(86400)
#define MAX_DURATION_S (365 * DAY_S)

const char *gf_mode_name(gf_mode m)
{
    switch (m) {
    case GF_MODE_OFF:
        return "off";
    case GF_MODE_RECOMMEND:
        return "recommend";
    case GF_MODE_AUTO:
        return "auto";
    }
    return "?";
}

bool gf_mode_parse(const char *s, gf_mode *out)
{
    static const gf_mode modes[] = {GF_MODE_OFF, GF_MODE_RECOMMEND, GF_MODE_AUTO};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (s && !strcmp(s, gf_mode_name(modes[i]))) {
            *out = modes[i];
            return true;
        }
    return false;
}

static const char *const field_keys[GF_RF_COUNT] = {
    [GF_RF_MODE] = "mode",
    [GF_RF_HEADROOM] = "headroom",
    [GF_RF_MEMORY_MARGIN] = "memoryMargin",
    [GF_RF_UPSIZE_TRIGGER] = "upsize.trigger",
    [GF_RF_UPSIZE_WINDOW] = "upsize.window",
    [GF_RF_DOWNSIZE_WINDOW] = "downsize.window",
    [GF_RF_DOWNSIZE_PERCENTILE] = "downsize.percentile",
    [GF_RF_MIN_HISTORY] = "downsize.minHistory",
    [GF_RF_COOLDOWN] = "downsize.cooldown",
    [GF_RF_MIN_CHANGE] = "downsize.minChange",
    [GF_RF_MAX_DOWN_STEP] = "downsize.maxStep",
    [GF_RF_MIN_FRACTION] = "bounds.minFraction",
    [GF_RF_MAX_FRACTION] = "bounds.maxFraction",
    [GF_RF_STEP] = "bounds.step",
    [GF_RF_MEMORY_STEP] = "bounds.memoryStepMiB",
    [GF_RF_COMPUTE_AWARE] = "computeAware",
    [GF_RF_MAX_DISRUPTIONS] = "maxDisruptionsPerHour",
    [GF_RF_CONVERT_FROM_WHOLE] = "convert.fromWholeGpu",
    [GF_RF_CONVERT_TO_WHOLE] = "convert.toWholeGpu",
    [GF_RF_CONVERT_MIN_HISTORY] = "convert.minHistory",
    [GF_RF_CONVERT_MAX_FRACTION] = "convert.maxFractionForConversion",
    [GF_RF_CONVERT_UNIT] = "convert.unit",
    [GF_RF_CONVERT_SET_SCHEDULER] = "convert.setScheduler",
    [GF_RF_STALL_TIMEOUT] = "stallTimeout",
    [GF_RF_ON_STALL] = "onStall",
    [GF_RF_ENGINE_RULES] = "engine.rules",
    [GF_RF_ENGINE_KV_FULL] = "engine.kvFull",
    [GF_RF_ENGINE_KV_MARGIN] = "engine.kvMargin",
    [GF_RF_ENGINE_BASE_SHARE] = "engine.baseShare",
    [GF_RF_ENGINE_MOVE_CAP] = "engine.moveCap",
    [GF_RF_UPSIZE_NEW_PEAK] = "upsize.newPeak",
    [GF_RF_SINGLE_MARGIN] = "singleMargin",
    [GF_RF_MIN_COVERAGE] = "downsize.minCoverage",
    [GF_RF_BURST_RESERVE] = "downsize.burstReserve",
    [GF_RF_AT_TROUGH] = "downsize.atTrough",
    [GF_RF_CHANGE_WINDOW] = "changeWindow",
    [GF_RF_HOLD_ONE_WAY] = "downsize.holdOneWay",
};

const char *gf_stall_action_name(gf_stall_action a)
{
    return a == GF_STALL_HOLD ? "hold" : a == GF_STALL_REVERT ? "revert" : "?";
}

bool gf_stall_action_parse(const char *s, gf_stall_action *out)
{
    if (!s) return false;
    if (!strcmp(s, "revert"))
        *out = GF_STALL_REVERT;
    else if (!strcmp(s, "hold"))
        *out = GF_STALL_HOLD;
    else
        return false;
    return true;
}

const char *gf_rule_field_key(gf_rule_field f)
{
    return (unsigned)f < GF_RF_COUNT ? field_keys[f] : "?";
}

void gf_rightsize_rule_defaults(gf_rightsize_rule *r)
{
    *r = (gf_rightsize_rule){
        .mode = GF_MODE_RECOMMEND,
        .headroom = 0.15,
        .memory_margin = 0.10,
        .upsize_trigger = 0.9,
        .upsize_window_s = 300,
        .downsize_window_s = DAY_S,
        .downsize_percentile_sm = 0.95,
        .min_history_s = DAY_S,
        .cooldown_s = 6 * 3600,
        .min_change = 0.05,
        .max_down_step = 0.25,
        .min_fraction = 0.05,
        .max_fraction = 0.95, /* above it a whole GPU: KAI refuses gpu-fraction 1 */
        .step = 0.05,
        .memory_step_mib = 256,
        .compute_aware = false,
        .max_disruptions_per_hour = 1,
        .convert_from_whole = GF_MODE_RECOMMEND,
        .convert_to_whole = GF_MODE_AUTO, /* toWholeGpu follows the rule's mode */
        .convert_min_history_s = DAY_S,
        .convert_max_fraction = 0.75,
        .convert_unit = GF_SHARE_FRACTION,
        .convert_set_scheduler = false,
        .stall_timeout_s = 600,
        .on_stall = GF_STALL_REVERT,
        .engine_rules = true,
        .engine_kv_full = 0.9,
        .engine_kv_margin = 0.2,
        .engine_base_share = 0.5,
        .engine_move_cap = true,
        .upsize_new_peak = true,
        .single_margin = true,
        .min_coverage = 0.8,
        .burst_reserve = true,
        .at_trough = false,
        .change_window_start_s = -1,
        .change_window_end_s = -1,
        .hold_one_way = false,
    };
}

const char *gf_convert_unit_name(gf_share_kind u)
{
    return u == GF_SHARE_MEMORY ? "memory" : "fraction";
}

bool gf_convert_unit_parse(const char *s, gf_share_kind *out)
{
    if (!strcmp(s, "fraction"))
        *out = GF_SHARE_FRACTION;
    else if (!strcmp(s, "memory"))
        *out = GF_SHARE_MEMORY;
    else
        return false;
    return true;
}

void gf_rightsize_rule_apply(gf_rightsize_rule *dst, const gf_rightsize_rule *over, uint64_t set)
{
#define GF_APPLY(f, member)                                                                        \
    if (set & GF_RF_BIT(f)) dst->member = over->member
    GF_APPLY(GF_RF_MODE, mode);
    GF_APPLY(GF_RF_HEADROOM, headroom);
    GF_APPLY(GF_RF_MEMORY_MARGIN, memory_margin);
    GF_APPLY(GF_RF_UPSIZE_TRIGGER, upsize_trigger);
    GF_APPLY(GF_RF_UPSIZE_WINDOW, upsize_window_s);
    GF_APPLY(GF_RF_DOWNSIZE_WINDOW, downsize_window_s);
    GF_APPLY(GF_RF_DOWNSIZE_PERCENTILE, downsize_percentile_sm);
    GF_APPLY(GF_RF_MIN_HISTORY, min_history_s);
    GF_APPLY(GF_RF_COOLDOWN, cooldown_s);
    GF_APPLY(GF_RF_MIN_CHANGE, min_change);
    GF_APPLY(GF_RF_MAX_DOWN_STEP, max_down_step);
    GF_APPLY(GF_RF_MIN_FRACTION, min_fraction);
    GF_APPLY(GF_RF_MAX_FRACTION, max_fraction);
    GF_APPLY(GF_RF_STEP, step);
    GF_APPLY(GF_RF_MEMORY_STEP, memory_step_mib);
    GF_APPLY(GF_RF_COMPUTE_AWARE, compute_aware);
    GF_APPLY(GF_RF_MAX_DISRUPTIONS, max_disruptions_per_hour);
    GF_APPLY(GF_RF_CONVERT_FROM_WHOLE, convert_from_whole);
    GF_APPLY(GF_RF_CONVERT_TO_WHOLE, convert_to_whole);
    GF_APPLY(GF_RF_CONVERT_MIN_HISTORY, convert_min_history_s);
    GF_APPLY(GF_RF_CONVERT_MAX_FRACTION, convert_max_fraction);
    GF_APPLY(GF_RF_CONVERT_UNIT, convert_unit);
    GF_APPLY(GF_RF_CONVERT_SET_SCHEDULER, convert_set_scheduler);
    GF_APPLY(GF_RF_STALL_TIMEOUT, stall_timeout_s);
    GF_APPLY(GF_RF_ON_STALL, on_stall);
    GF_APPLY(GF_RF_ENGINE_RULES, engine_rules);
    GF_APPLY(GF_RF_ENGINE_KV_FULL, engine_kv_full);
    GF_APPLY(GF_RF_ENGINE_KV_MARGIN, engine_kv_margin);
    GF_APPLY(GF_RF_ENGINE_BASE_SHARE, engine_base_share);
    GF_APPLY(GF_RF_ENGINE_MOVE_CAP, engine_move_cap);
    GF_APPLY(GF_RF_UPSIZE_NEW_PEAK, upsize_new_peak);
    GF_APPLY(GF_RF_SINGLE_MARGIN, single_margin);
    GF_APPLY(GF_RF_MIN_COVERAGE, min_coverage);
    GF_APPLY(GF_RF_BURST_RESERVE, burst_reserve);
    GF_APPLY(GF_RF_AT_TROUGH, at_trough);
    GF_APPLY(GF_RF_CHANGE_WINDOW, change_window_start_s);
    GF_APPLY(GF_RF_CHANGE_WINDOW, change_window_end_s);
    GF_APPLY(GF_RF_HOLD_ONE_WAY, hold_one_way);
#undef GF_APPLY
}

/* --- validation ------------------------------------------------------------ */

/* "1d2h30m5s" style, "0s" for zero. */
static void fmt_duration(char *buf, size_t n, int64_t s)
{
    if (s <= 0) {
        snprintf(buf, n, "%llds", (long long)s);
        return;
    }
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'d', DAY_S}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < 4 && len < n; i++) {
        if (s < units[i].secs) continue;
        int k =
            snprintf(buf + len, n - len, "%lld%c", (long long)(s / units[i].secs), units[i].unit);
        if (k < 0) break;
        len += (size_t)k;
        s %= units[i].secs;
    }
}

const char *gf_format_duration(int64_t s, char *buf, size_t n)
{
    fmt_duration(buf, n, s);
    return buf;
}

static gf_err problem(gf_rule_problem *pb, gf_rule_field f, uint64_t others, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static gf_err problem(gf_rule_problem *pb, gf_rule_field f, uint64_t others, const char *fmt, ...)
{
    if (pb) {
        pb->field = f;
        pb->fields = GF_RF_BIT(f) | others;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pb->why, sizeof pb->why, fmt, ap);
        va_end(ap);
    }
    return GF_EINPUT;
}

/* lo_open: lo itself is out of range. Written so that NaN fails. */
static bool in_range(double x, double lo, bool lo_open, double hi)
{
    return (lo_open ? x > lo : x >= lo) && x <= hi;
}

static gf_err check_num(gf_rule_problem *pb, gf_rule_field f, double x, double lo, bool lo_open,
                        double hi)
{
    if (in_range(x, lo, lo_open, hi)) return GF_OK;
    return problem(pb, f, 0, "must be in %c%g, %g], got %g", lo_open ? '(' : '[', lo, hi, x);
}

static gf_err check_duration(gf_rule_problem *pb, gf_rule_field f, int64_t s, bool positive)
{
    char got[64], max[64];
    if ((positive ? s > 0 : s >= 0) && s <= MAX_DURATION_S) return GF_OK;
    fmt_duration(got, sizeof got, s);
    fmt_duration(max, sizeof max, MAX_DURATION_S);
    if (s > MAX_DURATION_S) return problem(pb, f, 0, "must be at most %s, got %s", max, got);
    return problem(pb, f, 0, "must be %s, got %s", positive ? "more than 0s" : "at least 0s", got);
}

gf_err gf_rightsize_rule_validate(const gf_rightsize_rule *r, gf_rule_problem *pb)
{
    gf_err rc;
    if (r->mode != GF_MODE_OFF && r->mode != GF_MODE_RECOMMEND && r->mode != GF_MODE_AUTO)
        return problem(pb, GF_RF_MODE, 0, "must be off, recommend or auto, got %d", (int)r->mode);
    if ((rc = check_num(pb, GF_RF_HEADROOM, r->headroom, 0, false, 10))) return rc;
    if ((rc = check_num(pb, GF_RF_MEMORY_MARGIN, r->memory_margin, 0, false, 10))) return rc;
    if ((rc = check_num(pb, GF_RF_UPSIZE_TRIGGER, r->upsize_trigger, 0, true, 1))) return rc;
    if ((rc = check_duration(pb, GF_RF_UPSIZE_WINDOW, r->upsize_window_s, true))) return rc;
    if ((rc = check_duration(pb, GF_RF_DOWNSIZE_WINDOW, r->downsize_window_s, true))) return rc;
    if ((rc = check_num(pb, GF_RF_DOWNSIZE_PERCENTILE, r->downsize_percentile_sm, 0, true, 1)))
        return rc;
    if ((rc = check_duration(pb, GF_RF_MIN_HISTORY, r->min_history_s, false))) return rc;
    if ((rc = check_duration(pb, GF_RF_COOLDOWN, r->cooldown_s, false))) return rc;
    if ((rc = check_duration(pb, GF_RF_STALL_TIMEOUT, r->stall_timeout_s, true))) return rc;
    if (r->on_stall != GF_STALL_REVERT && r->on_stall != GF_STALL_HOLD)
        return problem(pb, GF_RF_ON_STALL, 0, "must be hold or revert, got %d", (int)r->on_stall);
    if ((rc = check_num(pb, GF_RF_MIN_CHANGE, r->min_change, 0, false, 1))) return rc;
    if ((rc = check_num(pb, GF_RF_MAX_DOWN_STEP, r->max_down_step, 0, true, 1))) return rc;
    if (r->min_change > r->max_down_step)
        return problem(pb, GF_RF_MIN_CHANGE, GF_RF_BIT(GF_RF_MAX_DOWN_STEP),
                       "downsize.minChange %g is above downsize.maxStep %g, so no downsize "
                       "could ever be applied",
                       r->min_change, r->max_down_step);
    if ((rc = check_num(pb, GF_RF_MIN_FRACTION, r->min_fraction, 0, true, 1))) return rc;
    if ((rc = check_num(pb, GF_RF_MAX_FRACTION, r->max_fraction, 0, true, 1))) return rc;
    /* pkg/binder/plugins/gpusharing/gpu-request/gpu_request_validator.go:
     * the webhook refuses gpu-fraction 1 and more */
    if (!gf_kai_fraction_ok(r->max_fraction))
        return problem(pb, GF_RF_MAX_FRACTION, 0,
                       "must be below 1, got %g (KAI refuses gpu-fraction 1; above maxFraction "
                       "gpufrac recommends a whole GPU, nvidia.com/gpu: 1)",
                       r->max_fraction);
    if (r->min_fraction > r->max_fraction)
        return problem(pb, GF_RF_MIN_FRACTION, GF_RF_BIT(GF_RF_MAX_FRACTION),
                       "bounds.minFraction %g is above bounds.maxFraction %g", r->min_fraction,
                       r->max_fraction);
    if ((rc = check_num(pb, GF_RF_STEP, r->step, 0, true, 1))) return rc;
    if (r->memory_step_mib < 1 || r->memory_step_mib > 1024 * 1024)
        return problem(pb, GF_RF_MEMORY_STEP, 0, "must be in [1, 1048576] MiB, got %lld",
                       (long long)r->memory_step_mib);
    if (r->max_disruptions_per_hour < 0 || r->max_disruptions_per_hour > 3600)
        return problem(pb, GF_RF_MAX_DISRUPTIONS, 0, "must be in [0, 3600], got %ld",
                       (long)r->max_disruptions_per_hour);
    for (int k = 0; k < 2; k++) {
        gf_mode m = k ? r->convert_to_whole : r->convert_from_whole;
        if (m != GF_MODE_OFF && m != GF_MODE_RECOMMEND && m != GF_MODE_AUTO)
            return problem(pb, k ? GF_RF_CONVERT_TO_WHOLE : GF_RF_CONVERT_FROM_WHOLE, 0,
                           "must be off, recommend or auto, got %d", (int)m);
    }
    if ((rc = check_duration(pb, GF_RF_CONVERT_MIN_HISTORY, r->convert_min_history_s, false)))
        return rc;
    /* a fraction is strictly below 1: KAI rejects gpu-fraction 1 (NVIDIA/KAI-Scheduler
     * pkg/binder/plugins/gpusharing/gpu-request/gpu_request_validator.go) */
    if (!(r->convert_max_fraction > 0 && r->convert_max_fraction < 1))
        return problem(pb, GF_RF_CONVERT_MAX_FRACTION, 0, "must be in (0, 1), got %g",
                       r->convert_max_fraction);
    if ((rc = check_num(pb, GF_RF_MIN_COVERAGE, r->min_coverage, 0, false, 1))) return rc;
    bool cw_none = r->change_window_start_s == -1 && r->change_window_end_s == -1;
    if (!cw_none && !(r->change_window_start_s >= 0 && r->change_window_start_s < DAY_S &&
                      r->change_window_end_s >= 0 && r->change_window_end_s < DAY_S &&
                      r->change_window_start_s != r->change_window_end_s))
        return problem(pb, GF_RF_CHANGE_WINDOW, 0,
                       "must be two different times of day \"HH:MM-HH:MM\" (UTC), got %ld..%ld s",
                       (long)r->change_window_start_s, (long)r->change_window_end_s);
    if (r->convert_unit != GF_SHARE_FRACTION && r->convert_unit != GF_SHARE_MEMORY)
        return problem(pb, GF_RF_CONVERT_UNIT, 0, "must be fraction or memory");
    if ((rc = check_num(pb, GF_RF_ENGINE_KV_FULL, r->engine_kv_full, 0, true, 1))) return rc;
    if ((rc = check_num(pb, GF_RF_ENGINE_KV_MARGIN, r->engine_kv_margin, 0, false, 10))) return rc;
    /* below 1: some of what the engine holds must be KV pool, or nothing could shrink */
    if (!(r->engine_base_share >= 0 && r->engine_base_share < 1))
        return problem(pb, GF_RF_ENGINE_BASE_SHARE, 0, "must be in [0, 1), got %g",
                       r->engine_base_share);
    return GF_OK;
}

/* --- fair use -------------------------------------------------------------- */

static const char *const fair_keys[GF_FF_COUNT] = {
    [GF_FF_MODE] = "mode",
    [GF_FF_MEMORY_OVERRUN_MARGIN] = "memoryOverrunMargin",
    [GF_FF_HOG_WINDOW] = "hogWindow",
    [GF_FF_STARVED_THRESHOLD] = "starvedThreshold",
    [GF_FF_DEVICE_MEMORY_FULL_RATIO] = "deviceMemoryFullRatio",
    [GF_FF_COMPUTE_SHARE] = "computeShare",
    [GF_FF_RESPONSE] = "response",
    [GF_FF_MAX_ACTIONS] = "maxActionsPerHour",
};

const char *gf_fair_field_key(gf_fair_field f)
{
    return (unsigned)f < GF_FF_COUNT ? fair_keys[f] : "?";
}

void gf_fair_policy_defaults(gf_fair_policy *f)
{
    *f = (gf_fair_policy){
        .mode = GF_FAIR_MODE_REPORT,
        .memory_overrun_margin = 0.10,
        .hog_window_s = 300,
        .starved_threshold = 0.8,
        .device_memory_full_ratio = 0.95,
        .compute_share = GF_FAIR_SHARE_FRACTION,
        .response = GF_FAIR_PREFER_UPSIZE,
        .max_actions_per_hour = 2,
    };
}

static const char *const fair_mode_names[] = {"off", "report", "act"};
static const char *const fair_response_names[] = {"upsize", "move-victim", "report"};
static const char *const fair_share_names[] = {"fraction", "equal"};

/* Index of s in names[0..n), or -1. */
static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

const char *gf_fair_mode_name(gf_fair_mode m)
{
    return (unsigned)m < 3 ? fair_mode_names[m] : "?";
}

bool gf_fair_mode_parse(const char *s, gf_fair_mode *out)
{
    int i = name_index(fair_mode_names, 3, s);
    if (i >= 0) *out = (gf_fair_mode)i;
    return i >= 0;
}

const char *gf_fair_prefer_name(gf_fair_prefer r)
{
    return (unsigned)r < 3 ? fair_response_names[r] : "?";
}

bool gf_fair_prefer_parse(const char *s, gf_fair_prefer *out)
{
    int i = name_index(fair_response_names, 3, s);
    if (i >= 0) *out = (gf_fair_prefer)i;
    return i >= 0;
}

const char *gf_fair_share_name(gf_fair_share s)
{
    return (unsigned)s < 2 ? fair_share_names[s] : "?";
}

bool gf_fair_share_parse(const char *s, gf_fair_share *out)
{
    int i = name_index(fair_share_names, 2, s);
    if (i >= 0) *out = (gf_fair_share)i;
    return i >= 0;
}

static const char *const move_np_names[] = {"replicated", "never", "always"};

const char *gf_move_np_name(gf_move_np v)
{
    return (unsigned)v < 3 ? move_np_names[v] : "?";
}

bool gf_move_np_parse(const char *s, gf_move_np *out)
{
    int i = name_index(move_np_names, 3, s);
    if (i >= 0) *out = (gf_move_np)i;
    return i >= 0;
}

static gf_err fair_problem(gf_fair_problem *pb, gf_fair_field f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static gf_err fair_problem(gf_fair_problem *pb, gf_fair_field f, const char *fmt, ...)
{
    if (pb) {
        pb->field = f;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pb->why, sizeof pb->why, fmt, ap);
        va_end(ap);
    }
    return GF_EINPUT;
}

gf_err gf_fair_policy_validate(const gf_fair_policy *f, gf_fair_problem *pb)
{
    if ((unsigned)f->mode > GF_FAIR_MODE_ACT)
        return fair_problem(pb, GF_FF_MODE, "must be off, report or act, got %d", (int)f->mode);
    if (!in_range(f->memory_overrun_margin, 0, false, 10))
        return fair_problem(pb, GF_FF_MEMORY_OVERRUN_MARGIN, "must be in [0, 10], got %g",
                            f->memory_overrun_margin);
    if (f->hog_window_s <= 0 || f->hog_window_s > DAY_S) {
        char got[64];
        fmt_duration(got, sizeof got, f->hog_window_s);
        return fair_problem(pb, GF_FF_HOG_WINDOW, "must be more than 0s and at most 1d, got %s",
                            got);
    }
    if (!in_range(f->starved_threshold, 0, true, 1))
        return fair_problem(pb, GF_FF_STARVED_THRESHOLD, "must be in (0, 1], got %g",
                            f->starved_threshold);
    if (!in_range(f->device_memory_full_ratio, 0, true, 1))
        return fair_problem(pb, GF_FF_DEVICE_MEMORY_FULL_RATIO, "must be in (0, 1], got %g",
                            f->device_memory_full_ratio);
    if ((unsigned)f->compute_share > GF_FAIR_SHARE_EQUAL)
        return fair_problem(pb, GF_FF_COMPUTE_SHARE, "must be fraction or equal, got %d",
                            (int)f->compute_share);
    if ((unsigned)f->response > GF_FAIR_PREFER_REPORT)
        return fair_problem(pb, GF_FF_RESPONSE, "must be upsize, move-victim or report, got %d",
                            (int)f->response);
    if (f->max_actions_per_hour < 0 || f->max_actions_per_hour > 3600)
        return fair_problem(pb, GF_FF_MAX_ACTIONS, "must be in [0, 3600], got %ld",
                            (long)f->max_actions_per_hour);
    return GF_OK;
}

/* --- the policy ------------------------------------------------------------ */

void gf_policy_init(gf_policy *p)
{
    memset(p, 0, sizeof *p);
    gf_arena_init(&p->arena);
    gf_rightsize_rule_defaults(&p->defaults);
    gf_fair_policy_defaults(&p->fair_use);
    gf_kai_names_default(&p->kai);
}

void gf_policy_free(gf_policy *p)
{
    if (!p) return;
    gf_vec_free(&p->rules);
    gf_arena_free(&p->arena);
}

gf_policy_rule *gf_policy_add_rule(gf_policy *p, const char *name)
{
    gf_policy_rule r = {0};
    r.name = gf_arena_strdup(&p->arena, name ? name : "");
    gf_vec_push(&p->rules, r);
    return &p->rules.v[p->rules.n - 1];
}

static gf_err rule_error(gf_error *err, const gf_policy *p, const char *section,
                         const gf_policy_rule *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static gf_err rule_error(gf_error *err, const gf_policy *p, const char *section,
                         const gf_policy_rule *r, const char *key, const char *fmt, ...)
{
    char where[512], msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *origin = r && r->origin ? r->origin : p->origin;
    snprintf(where, sizeof where, "%s%s%s%s%s", origin ? origin : "", origin ? ": " : "", section,
             key ? "." : "", key ? key : "");
    if (r && r->name && r->name[0])
        return gf_error_set(err, GF_EINPUT, where, "rule \"%s\": %s", r->name, msg);
    return gf_error_set(err, GF_EINPUT, where, "%s", msg);
}

gf_err gf_policy_validate(const gf_policy *p, gf_error *err)
{
    gf_rule_problem pb;
    if (gf_rightsize_rule_validate(&p->defaults, &pb))
        return rule_error(err, p, "defaults", NULL, gf_rule_field_key(pb.field), "%s", pb.why);
    gf_strmap names;
    gf_strmap_init(&names);
    gf_err rc = GF_OK;
    for (size_t i = 0; i < p->rules.n && rc == GF_OK; i++) {
        const gf_policy_rule *r = &p->rules.v[i];
        char section[32];
        snprintf(section, sizeof section, "rules[%zu]", i);
        size_t first;
        if (!r->name || !r->name[0]) {
            rc = rule_error(err, p, section, r, "name", "a rule needs a name");
        } else if (gf_strmap_get(&names, r->name, &first)) {
            rc = rule_error(err, p, section, r, "name", "duplicate rule name (rules[%zu] has it)",
                            first);
        } else {
            gf_strmap_put(&names, r->name, i);
            gf_rightsize_rule merged = p->defaults;
            gf_rightsize_rule_apply(&merged, &r->values, r->set);
            if (gf_rightsize_rule_validate(&merged, &pb))
                rc = rule_error(err, p, section, r, gf_rule_field_key(pb.field), "%s%s", pb.why,
                                (pb.fields & ~r->set) ? " (after merging with the defaults)" : "");
        }
    }
    gf_strmap_free(&names);
    gf_fair_problem fp;
    if (rc == GF_OK && gf_fair_policy_validate(&p->fair_use, &fp))
        rc = rule_error(err, p, "fairUse", NULL, gf_fair_field_key(fp.field), "%s", fp.why);
    return rc;
}

/* --- matching and resolution ---------------------------------------------- */

bool gf_policy_match_selects(const gf_policy_match *m, const gf_policy_subject *s)
{
    if (m->n_namespaces) {
        bool any = false;
        for (uint32_t i = 0; i < m->n_namespaces && !any; i++)
            any = s->ns && fnmatch(m->namespaces[i], s->ns, 0) == 0;
        if (!any) return false;
    }
    if (m->n_kinds) {
        bool any = false;
        for (uint32_t i = 0; i < m->n_kinds && !any; i++)
            any = s->kind && strcasecmp(m->kinds[i], s->kind) == 0;
        if (!any) return false;
    }
    for (uint32_t i = 0; i < m->labels.n; i++) {
        const char *v = s->labels ? gf_kvs_get(s->labels, m->labels.items[i].key) : NULL;
        if (!v || strcmp(v, m->labels.items[i].value) != 0) return false;
    }
    return true;
}

typedef enum opt_kind { OPT_NONE, OPT_OFF, OPT_ON, OPT_MODE, OPT_BAD } opt_kind;

static opt_kind parse_opt(const char *v, gf_mode *mode)
{
    if (!v) return OPT_NONE;
    if (!strcasecmp(v, "false") || !strcasecmp(v, "off")) return OPT_OFF;
    if (!strcasecmp(v, "true") || !strcasecmp(v, "on")) return OPT_ON;
    if (!strcasecmp(v, "recommend")) {
        *mode = GF_MODE_RECOMMEND;
        return OPT_MODE;
    }
    if (!strcasecmp(v, "auto")) {
        *mode = GF_MODE_AUTO;
        return OPT_MODE;
    }
    return OPT_BAD;
}

void gf_policy_resolve(const gf_policy *p, const gf_policy_subject *s, gf_policy_decision *out)
{
    memset(out, 0, sizeof *out);
    out->rule = p->defaults;
    out->rule_index = GF_NONE;
    char who[96];
    snprintf(who, sizeof who, "defaults");
    for (size_t i = 0; i < p->rules.n; i++) {
        const gf_policy_rule *r = &p->rules.v[i];
        if (!gf_policy_match_selects(&r->match, s)) continue;
        gf_rightsize_rule_apply(&out->rule, &r->values, r->set);
        out->rule_index = (uint32_t)i;
        snprintf(who, sizeof who, "rule \"%.64s\"", r->name ? r->name : "");
        break;
    }
    gf_mode rule_mode = out->rule.mode, want = rule_mode;
    out->rule_mode = rule_mode;
    const char *ann = GF_ANN_RIGHTSIZE;
    switch (parse_opt(s->opt, &want)) {
    case OPT_NONE:
        if (p->opt_in) {
            out->rule.mode = GF_MODE_OFF;
            snprintf(out->reason, sizeof out->reason, "%s; policy is opt-in and %s is not set", who,
                     ann);
        } else {
            snprintf(out->reason, sizeof out->reason, "%s", who);
        }
        return;
    case OPT_OFF:
        out->rule.mode = GF_MODE_OFF;
        out->by_annotation = true;
        snprintf(out->reason, sizeof out->reason, "%s; opted out by %s=%.16s", who, ann, s->opt);
        return;
    case OPT_ON:
        out->by_annotation = p->opt_in;
        snprintf(out->reason, sizeof out->reason, "%s%s%s=%.16s", who,
                 p->opt_in ? "; opted in by " : "; ", ann, s->opt);
        return;
    case OPT_MODE:
        if (want <= rule_mode || p->allow_annotation_upgrade) {
            out->rule.mode = want;
            out->by_annotation = true;
            snprintf(out->reason, sizeof out->reason, "%s; %s=%s", who, ann, gf_mode_name(want));
        } else {
            /* stays at the rule's mode: an annotation may only lower it */
            snprintf(out->reason, sizeof out->reason,
                     "%s; %s=%s capped at %s (allowAnnotationUpgrade is off)", who, ann,
                     gf_mode_name(want), gf_mode_name(rule_mode));
        }
        return;
    case OPT_BAD:
        out->rule.mode = GF_MODE_OFF;
        out->by_annotation = true;
        snprintf(out->reason, sizeof out->reason,
                 "%s; %s=\"%.32s\" is not off, on, true, false, recommend or auto, so off", who,
                 ann, s->opt);
        return;
    }
}

void gf_policy_subject_with_pod(const gf_model *m, uint32_t wi, const gf_pod *pod,
                                gf_policy_subject *s)
{
    memset(s, 0, sizeof *s);
    if (wi >= m->workloads.n) return;
    const gf_workload *w = &m->workloads.v[wi];
    s->kind = w->kind;
    s->ns = w->ns;
    s->name = w->name;
    if (pod) s->labels = &pod->labels;
    s->opt = gf_kvs_get(&w->template_annotations, GF_ANN_RIGHTSIZE);
    if (!s->opt && pod) s->opt = gf_kvs_get(&pod->annotations, GF_ANN_RIGHTSIZE);
}

void gf_policy_subject_of(const gf_model *m, uint32_t wi, gf_policy_subject *s)
{
    const gf_pod *pod = NULL;
    for (size_t i = 0; i < m->pods.n && wi < m->workloads.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->workload != wi) continue;
        if (!pod) pod = p;
        if (gf_pod_active(p)) {
            pod = p;
            break;
        }
    }
    gf_policy_subject_with_pod(m, wi, pod, s);
}

bool gf_parse_duration(const char *s, int64_t *out, const char **why)
{
    static const char units[] = "dhms";
    static const int64_t secs[] = {86400, 3600, 60, 1};
    const int64_t cap = INT64_C(100) * 366 * 86400; /* far beyond any valid setting */
    int64_t total = 0;
    int next = 0; /* index into units of the smallest unit still allowed */
    if (!*s) return *why = "empty", false;
    if (*s == '-') return *why = "a duration cannot be negative", false;
    while (*s) {
        if (!(*s >= '0' && *s <= '9'))
            return *why = "expected a number (durations look like 30s, 5m, 24h, 7d, 1h30m)", false;
        int64_t v = 0;
        while (*s >= '0' && *s <= '9') {
            if (v > cap) return *why = "too long", false;
            v = v * 10 + (*s++ - '0');
        }
        if (*s == '.') return *why = "use whole numbers of units (1h30m, not 1.5h)", false;
        if (!*s) return *why = "a number needs a unit: d, h, m or s (e.g. 300s)", false;
        const char *u = strchr(units, *s);
        if (!u)
            return *why = "unknown unit (use d, h, m or s; e.g. 30s, 5m, 24h, 7d, 1h30m)", false;
        int k = (int)(u - units);
        if (k == 2 && s[1] == 's') return *why = "milliseconds are not supported", false;
        if (k < next) return *why = "units must go from d to s, each once (like 1h30m)", false;
        next = k + 1;
        if (v > cap / secs[k]) return *why = "too long", false;
        total += v * secs[k];
        if (total > cap) return *why = "too long", false;
        s++;
    }
    *out = total;
    return true;
}
