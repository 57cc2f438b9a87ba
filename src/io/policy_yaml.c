/* policy_yaml.c - RightsizingPolicy YAML -> gf_policy (see policy_yaml.h).
 *
 * libyaml's document API builds the node tree (anchors and aliases become
 * shared nodes, possibly cycles); the walk below only descends where the
 * schema allows, so its depth and work are bounded by the schema, not by the
 * input. It keeps the key path and each setting's mark so that errors found
 * after merging a rule with the defaults still point at the line that set the
 * value. */
#include "io/policy_yaml.h"
#include "io/yaml_error.h"
#include "io/policy_yaml.h"
#include "io/input.h"
#include "io/yaml_alias.h"
#include "io/yaml_error.h"
#include "util/sbuf.h"
#include "util/strmap.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

typedef enum vtype {
    VT_MODE,
    VT_NUM,
    VT_INT,
    VT_DURATION,
    VT_BOOL,
    VT_UNIT,
    VT_STALL,
    VT_WINDOW
} vtype;

static const vtype field_type[GF_RF_COUNT] = {
    [GF_RF_MODE] = VT_MODE,
    [GF_RF_HEADROOM] = VT_NUM,
    [GF_RF_MEMORY_MARGIN] = VT_NUM,
    [GF_RF_UPSIZE_TRIGGER] = VT_NUM,
    [GF_RF_UPSIZE_WINDOW] = VT_DURATION,
    [GF_RF_DOWNSIZE_WINDOW] = VT_DURATION,
    [GF_RF_DOWNSIZE_PERCENTILE] = VT_NUM,
    [GF_RF_MIN_HISTORY] = VT_DURATION,
    [GF_RF_COOLDOWN] = VT_DURATION,
    [GF_RF_MIN_CHANGE] = VT_NUM,
    [GF_RF_MAX_DOWN_STEP] = VT_NUM,
    [GF_RF_MIN_FRACTION] = VT_NUM,
    [GF_RF_MAX_FRACTION] = VT_NUM,
    [GF_RF_STEP] = VT_NUM,
    [GF_RF_MEMORY_STEP] = VT_INT,
    [GF_RF_COMPUTE_AWARE] = VT_BOOL,
    [GF_RF_MAX_DISRUPTIONS] = VT_INT,
    [GF_RF_CONVERT_FROM_WHOLE] = VT_MODE,
    [GF_RF_CONVERT_TO_WHOLE] = VT_MODE,
    [GF_RF_CONVERT_MIN_HISTORY] = VT_DURATION,
    [GF_RF_CONVERT_MAX_FRACTION] = VT_NUM,
    [GF_RF_CONVERT_UNIT] = VT_UNIT,
    [GF_RF_CONVERT_SET_SCHEDULER] = VT_BOOL,
    [GF_RF_STALL_TIMEOUT] = VT_DURATION,
    [GF_RF_ON_STALL] = VT_STALL,
    [GF_RF_ENGINE_RULES] = VT_BOOL,
    [GF_RF_ENGINE_KV_FULL] = VT_NUM,
    [GF_RF_ENGINE_KV_MARGIN] = VT_NUM,
    [GF_RF_ENGINE_BASE_SHARE] = VT_NUM,
    [GF_RF_ENGINE_MOVE_CAP] = VT_BOOL,
    [GF_RF_UPSIZE_NEW_PEAK] = VT_BOOL,
    [GF_RF_SINGLE_MARGIN] = VT_BOOL,
    [GF_RF_MIN_COVERAGE] = VT_NUM,
    [GF_RF_BURST_RESERVE] = VT_BOOL,
    [GF_RF_AT_TROUGH] = VT_BOOL,
    [GF_RF_CHANGE_WINDOW] = VT_WINDOW,
    [GF_RF_HOLD_ONE_WAY] = VT_BOOL,
};

/* Where each setting of one settings block (defaults or a rule) was written. */
typedef struct block_marks {
    yaml_mark_t at; /* the block's mapping */
    yaml_mark_t field[GF_RF_COUNT];
} block_marks;

typedef struct loader {
    yaml_document_t *doc;
    gf_policy *p;
    gf_error *err;
    const char *file;
    char path[512];
    size_t plen;
} loader;

/* --- paths and errors ------------------------------------------------------ */

static bool plain_key(const char *k)
{
    if (!*k) return false;
    for (const char *s = k; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static void path_fix(loader *ld, int n)
{
    if (n > 0) ld->plen += (size_t)n;
    if (ld->plen >= sizeof ld->path) ld->plen = sizeof ld->path - 1;
}

static size_t push_key(loader *ld, const char *key)
{
    size_t saved = ld->plen;
    char *at = ld->path + ld->plen;
    size_t room = sizeof ld->path - ld->plen;
    path_fix(ld, plain_key(key) ? snprintf(at, room, "%s%s", ld->plen ? "." : "", key)
                                : snprintf(at, room, "[\"%.100s\"]", key));
    return saved;
}

/* A dotted field key such as "downsize.window", appended as is. */
static size_t push_field(loader *ld, const char *dotted)
{
    size_t saved = ld->plen;
    path_fix(ld, snprintf(ld->path + ld->plen, sizeof ld->path - ld->plen, "%s%s",
                          ld->plen ? "." : "", dotted));
    return saved;
}

static size_t push_index(loader *ld, size_t i)
{
    size_t saved = ld->plen;
    path_fix(ld, snprintf(ld->path + ld->plen, sizeof ld->path - ld->plen, "[%zu]", i));
    return saved;
}

static void pop(loader *ld, size_t saved)
{
    ld->plen = saved;
    ld->path[saved] = '\0';
}

static gf_err fail_at(loader *ld, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static gf_err fail_at(loader *ld, yaml_mark_t mark, const char *fmt, ...)
{
    char where[1200], msg[512];
    snprintf(where, sizeof where, "%s:%zu:%zu: %s", ld->file, mark.line + 1, mark.column + 1,
             ld->plen ? ld->path : "(top level)");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gf_error_set(ld->err, GF_EINPUT, where, "%s", msg);
}

/* --- nodes ------------------------------------------------------------------ */

static yaml_node_t *node_at(loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static const char *text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* YAML 1.2 core schema null: an empty plain scalar, ~ or null. */
static bool is_null(const yaml_node_t *n)
{
    if (!is_plain(n)) return false;
    const char *s = text(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static bool is_bool_text(const char *s)
{
    return !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
           !strcmp(s, "False") || !strcmp(s, "FALSE");
}

/* YAML 1.2 core schema decimal: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_decimal(const char *s)
{
    size_t digits = 0;
    if (*s == '-' || *s == '+') s++;
    while (*s >= '0' && *s <= '9')
        s++, digits++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++, digits++;
    }
    if (!digits) return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static bool is_special_float(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    return !strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") || !strcmp(s, ".nan") ||
           !strcmp(s, ".NaN") || !strcmp(s, ".NAN");
}

/* For "expected X, got Y" messages. */
static const char *describe(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        if (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
            n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
            return "a quoted string";
        if (!is_plain(n)) return "a string"; /* | or > block */
        if (is_null(n)) return "nothing (null)";
        if (is_bool_text(text(n))) return "a boolean";
        if (is_decimal(text(n)) || is_special_float(text(n))) return "a number";
        return "a string";
    case YAML_NO_NODE:
        break;
    }
    return "nothing";
}

/* Tags other than YAML's own (!!str, !!int, ...) mean a type gpufrac does not
 * know; libyaml gives untagged nodes the default tags. */
static gf_err check_tag(loader *ld, const yaml_node_t *n)
{
    const char *tag = (const char *)n->tag;
    if (!tag || !strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX))) return GF_OK;
    return fail_at(ld, n->start_mark, "unsupported YAML tag \"%.80s\"", tag);
}

static gf_err expect_mapping(loader *ld, const yaml_node_t *n)
{
    gf_err rc = check_tag(ld, n);
    if (rc) return rc;
    if (n->type == YAML_MAPPING_NODE) return GF_OK;
    return fail_at(ld, n->start_mark, "expected a mapping (key: value), got %s", describe(n));
}

/* A string without embedded NULs (possible through "\0" escapes). */
static gf_err get_string(loader *ld, const yaml_node_t *n, const char *what, const char **out)
{
    gf_err rc = check_tag(ld, n);
    if (rc) return rc;
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(ld, n->start_mark, "expected %s, got %s", what, describe(n));
    if (is_null(n)) return fail_at(ld, n->start_mark, "expected %s, got nothing (null)", what);
    if (strlen(text(n)) != n->data.scalar.length)
        return fail_at(ld, n->start_mark, "%s contains a NUL character", what);
    *out = text(n);
    return GF_OK;
}

static gf_err get_number(loader *ld, const yaml_node_t *n, double *out)
{
    gf_err rc = check_tag(ld, n);
    if (rc) return rc;
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail_at(ld, n->start_mark, "expected a number, got %s", describe(n));
    const char *s = text(n);
    if (!is_plain(n))
        return fail_at(ld, n->start_mark,
                       "expected a number, got the quoted string \"%.40s\" (write numbers "
                       "without quotes)",
                       s);
    if (is_special_float(s))
        return fail_at(ld, n->start_mark, "expected a finite number, got %s", s);
    if (!is_decimal(s)) return fail_at(ld, n->start_mark, "expected a number, got \"%.40s\"", s);
    errno = 0;
    double x = strtod(s, NULL);
    if (errno == ERANGE || !isfinite(x))
        return fail_at(ld, n->start_mark, "number %.40s is out of range", s);
    *out = x;
    return GF_OK;
}

static gf_err get_int(loader *ld, const yaml_node_t *n, int64_t *out)
{
    gf_err rc = check_tag(ld, n);
    if (rc) return rc;
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail_at(ld, n->start_mark, "expected a whole number, got %s", describe(n));
    const char *s = text(n);
    if (!is_plain(n))
        return fail_at(ld, n->start_mark,
                       "expected a whole number, got the quoted string \"%.40s\" (write "
                       "numbers without quotes)",
                       s);
    const char *d = s + (*s == '-' || *s == '+');
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return fail_at(ld, n->start_mark, "expected a whole number, got \"%.40s\"", s);
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < INT32_MIN || v > INT32_MAX)
        return fail_at(ld, n->start_mark, "whole number %.40s is out of range", s);
    *out = v;
    return GF_OK;
}

static gf_err get_bool(loader *ld, const yaml_node_t *n, bool *out)
{
    gf_err rc = check_tag(ld, n);
    if (rc) return rc;
    if (is_plain(n) && is_bool_text(text(n))) {
        *out = text(n)[0] == 't' || text(n)[0] == 'T';
        return GF_OK;
    }
    if (n->type == YAML_SCALAR_NODE && !is_null(n))
        return fail_at(ld, n->start_mark, "expected true or false, got %s \"%.40s\"", describe(n),
                       text(n));
    return fail_at(ld, n->start_mark, "expected true or false, got %s", describe(n));
}

/* Whole numbers with units d, h, m, s, largest first, each at most once:
 * "30s", "5m", "24h", "7d", "1h30m". *why is static. */
static gf_err get_duration(loader *ld, const yaml_node_t *n, int64_t *out)
{
    const char *s, *why;
    gf_err rc = get_string(ld, n, "a duration (like 30s, 5m, 24h, 7d, 1h30m)", &s);
    if (rc) return rc;
    if (!gf_parse_duration(s, out, &why))
        return fail_at(ld, n->start_mark, "bad duration \"%.40s\": %s", s, why);
    return GF_OK;
}

static gf_err get_mode(loader *ld, const yaml_node_t *n, gf_mode *out)
{
    const char *s;
    gf_err rc = get_string(ld, n, "a mode (off, recommend or auto)", &s);
    if (rc) return rc;
    if (!gf_mode_parse(s, out))
        return fail_at(ld, n->start_mark, "unknown mode \"%.40s\" (use off, recommend or auto)", s);
    return GF_OK;
}

static gf_err get_unit(loader *ld, const yaml_node_t *n, gf_share_kind *out)
{
    const char *s;
    gf_err rc = get_string(ld, n, "a unit (fraction or memory)", &s);
    if (rc) return rc;
    if (!gf_convert_unit_parse(s, out))
        return fail_at(ld, n->start_mark, "unknown unit \"%.40s\" (use fraction or memory)", s);
    return GF_OK;
}

static gf_err get_stall(loader *ld, const yaml_node_t *n, gf_stall_action *out)
{
    const char *s;
    gf_err rc = get_string(ld, n, "hold or revert", &s);
    if (rc) return rc;
    if (!gf_stall_action_parse(s, out))
        return fail_at(ld, n->start_mark, "unknown value \"%.40s\" (use hold or revert)", s);
    return GF_OK;
}

/* A time of day "HH:MM" at s (00:00..23:59) -> seconds; false if not one. */
static bool parse_hhmm(const char *s, size_t n, int32_t *out)
{
    if (n != 5 || s[2] != ':') return false;
    for (size_t i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59) return false;
    *out = (int32_t)(h * 3600 + m * 60);
    return true;
}

/* changeWindow: "HH:MM-HH:MM" (UTC; it may wrap midnight, "22:00-02:00"),
 * or "" / "none" for no window. */
static gf_err get_window(loader *ld, const yaml_node_t *n, int32_t *start, int32_t *end)
{
    const char *s;
    gf_err rc = get_string(ld, n, "a time window \"HH:MM-HH:MM\" (UTC)", &s);
    if (rc) return rc;
    if (!*s || !strcmp(s, "none")) {
        *start = *end = -1;
        return GF_OK;
    }
    const char *dash = strchr(s, '-');
    if (!dash || !parse_hhmm(s, (size_t)(dash - s), start) ||
        !parse_hhmm(dash + 1, strlen(dash + 1), end))
        return fail_at(ld, n->start_mark,
                       "bad time window \"%.40s\" (use \"HH:MM-HH:MM\" in UTC, e.g. "
                       "\"02:00-05:00\", or \"none\")",
                       s);
    if (*start == *end)
        return fail_at(ld, n->start_mark,
                       "time window \"%.40s\" is empty (start and end are the same time)", s);
    return GF_OK;
}

/* --- mappings ----------------------------------------------------------------
 * each_pair() hands every key (a string) and value to fn in order, after
 * checking the key is a string. Duplicate keys are found by the callers:
 * check_duplicate() compares with the earlier keys, which the unknown-key
 * check keeps few (so it stays linear), and label maps use a hash map. */

typedef gf_err (*pair_fn)(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                          const yaml_node_t *value, void *ctx);

static gf_err each_pair(loader *ld, const yaml_node_t *map, pair_fn fn, void *ctx)
{
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const yaml_node_t *key = node_at(ld, pr->key), *value = node_at(ld, pr->value);
        if (!key || !value) return fail_at(ld, map->start_mark, "broken mapping");
        const char *k;
        gf_err rc = get_string(ld, key, "a string key", &k);
        if (rc) return rc;
        if (!strcmp(k, "<<") && is_plain(key))
            return fail_at(ld, key->start_mark,
                           "YAML merge keys (<<) are not supported; repeat the settings");
        rc = fn(ld, (size_t)(pr - map->data.mapping.pairs.start), key, k, value, ctx);
        if (rc) return rc;
    }
    return GF_OK;
}

/* An error if the key of pair idx in map equals an earlier key (by content,
 * so an aliased key counts too). */
static gf_err check_duplicate(loader *ld, const yaml_node_t *map, size_t idx,
                              const yaml_node_t *key, const char *k)
{
    const yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    for (size_t j = 0; j < idx; j++) {
        const yaml_node_t *other = node_at(ld, pairs[j].key);
        if (other && other->type == YAML_SCALAR_NODE &&
            other->data.scalar.length == key->data.scalar.length &&
            !memcmp(other->data.scalar.value, key->data.scalar.value, key->data.scalar.length))
            return fail_at(ld, key->start_mark, "duplicate key \"%.60s\" (first at line %zu)", k,
                           other->start_mark.line + 1);
    }
    return GF_OK;
}

/* --- settings ------------------------------------------------------------------ */

typedef struct settings_ctx {
    gf_rightsize_rule *values;
    uint64_t *set;
    block_marks *marks;
    const yaml_node_t *map;
    const char *group; /* NULL at the block's top, else one of groups[] */
    bool is_rule;      /* the block is a rule: name and match are known too */
    gf_policy_rule *rule;
    gf_strmap *names;
    size_t rule_index;
} settings_ctx;

static const char *const groups[] = {"upsize", "downsize", "bounds", "convert", "engine"};

/* The known keys of a block or group, for unknown-key messages. */
static void known_keys(gf_sbuf *b, const char *group, bool is_rule)
{
    if (!group && is_rule) gf_sbuf_puts(b, "name, match");
    bool groups_listed = false;
    for (int f = 0; f < GF_RF_COUNT; f++) {
        const char *key = gf_rule_field_key((gf_rule_field)f), *dot = strchr(key, '.');
        if (group) {
            size_t gl = strlen(group);
            if (!dot || (size_t)(dot - key) != gl || strncmp(key, group, gl)) continue;
            gf_sbuf_printf(b, "%s%s", b->len ? ", " : "", dot + 1);
        } else if (!dot) {
            gf_sbuf_printf(b, "%s%s", b->len ? ", " : "", key);
        } else if (!groups_listed) {
            for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
                gf_sbuf_printf(b, ", %s", groups[g]);
            groups_listed = true;
        }
    }
}

static gf_err unknown_key(loader *ld, const yaml_node_t *key, const char *k, const char *known)
{
    return fail_at(ld, key->start_mark, "unknown key \"%.60s\" (known keys: %s)", k, known);
}

static gf_err set_field(loader *ld, gf_rule_field f, const yaml_node_t *value, settings_ctx *c)
{
    gf_rightsize_rule *r = c->values;
    gf_err rc = GF_OK;
    double x = 0;
    int64_t i = 0;
    bool b = false;
    gf_mode mode = GF_MODE_OFF;
    gf_share_kind unit = GF_SHARE_FRACTION;
    gf_stall_action stall = GF_STALL_REVERT;
    int32_t w0 = -1, w1 = -1;
    switch (field_type[f]) {
    case VT_MODE:
        rc = get_mode(ld, value, &mode);
        break;
    case VT_NUM:
        rc = get_number(ld, value, &x);
        break;
    case VT_INT:
        rc = get_int(ld, value, &i);
        break;
    case VT_DURATION:
        rc = get_duration(ld, value, &i);
        break;
    case VT_BOOL:
        rc = get_bool(ld, value, &b);
        break;
    case VT_UNIT:
        rc = get_unit(ld, value, &unit);
        break;
    case VT_STALL:
        rc = get_stall(ld, value, &stall);
        break;
    case VT_WINDOW:
        rc = get_window(ld, value, &w0, &w1);
        break;
    }
    if (rc) return rc;
    switch (f) {
    case GF_RF_MODE:
        r->mode = mode;
        break;
    case GF_RF_HEADROOM:
        r->headroom = x;
        break;
    case GF_RF_MEMORY_MARGIN:
        r->memory_margin = x;
        break;
    case GF_RF_UPSIZE_TRIGGER:
        r->upsize_trigger = x;
        break;
    case GF_RF_UPSIZE_WINDOW:
        r->upsize_window_s = i;
        break;
    case GF_RF_DOWNSIZE_WINDOW:
        r->downsize_window_s = i;
        break;
    case GF_RF_DOWNSIZE_PERCENTILE:
        r->downsize_percentile_sm = x;
        break;
    case GF_RF_MIN_HISTORY:
        r->min_history_s = i;
        break;
    case GF_RF_COOLDOWN:
        r->cooldown_s = i;
        break;
    case GF_RF_MIN_CHANGE:
        r->min_change = x;
        break;
    case GF_RF_MAX_DOWN_STEP:
        r->max_down_step = x;
        break;
    case GF_RF_MIN_FRACTION:
        r->min_fraction = x;
        break;
    case GF_RF_MAX_FRACTION:
        r->max_fraction = x;
        break;
    case GF_RF_STEP:
        r->step = x;
        break;
    case GF_RF_MEMORY_STEP:
        r->memory_step_mib = i;
        break;
    case GF_RF_COMPUTE_AWARE:
        r->compute_aware = b;
        break;
    case GF_RF_MAX_DISRUPTIONS:
        r->max_disruptions_per_hour = (int32_t)i;
        break;
    case GF_RF_CONVERT_FROM_WHOLE:
        r->convert_from_whole = mode;
        break;
    case GF_RF_CONVERT_TO_WHOLE:
        r->convert_to_whole = mode;
        break;
    case GF_RF_CONVERT_MIN_HISTORY:
        r->convert_min_history_s = i;
        break;
    case GF_RF_CONVERT_MAX_FRACTION:
        r->convert_max_fraction = x;
        break;
    case GF_RF_CONVERT_UNIT:
        r->convert_unit = unit;
        break;
    case GF_RF_CONVERT_SET_SCHEDULER:
        r->convert_set_scheduler = b;
        break;
    case GF_RF_STALL_TIMEOUT:
        r->stall_timeout_s = i;
        break;
    case GF_RF_ON_STALL:
        r->on_stall = stall;
        break;
    case GF_RF_ENGINE_RULES:
        r->engine_rules = b;
        break;
    case GF_RF_ENGINE_KV_FULL:
        r->engine_kv_full = x;
        break;
    case GF_RF_ENGINE_KV_MARGIN:
        r->engine_kv_margin = x;
        break;
    case GF_RF_ENGINE_BASE_SHARE:
        r->engine_base_share = x;
        break;
    case GF_RF_ENGINE_MOVE_CAP:
        r->engine_move_cap = b;
        break;
    case GF_RF_UPSIZE_NEW_PEAK:
        r->upsize_new_peak = b;
        break;
    case GF_RF_SINGLE_MARGIN:
        r->single_margin = b;
        break;
    case GF_RF_MIN_COVERAGE:
        r->min_coverage = x;
        break;
    case GF_RF_BURST_RESERVE:
        r->burst_reserve = b;
        break;
    case GF_RF_AT_TROUGH:
        r->at_trough = b;
        break;
    case GF_RF_CHANGE_WINDOW:
        r->change_window_start_s = w0;
        r->change_window_end_s = w1;
        break;
    case GF_RF_HOLD_ONE_WAY:
        r->hold_one_way = b;
        break;
    case GF_RF_COUNT:
        return gf_error_set(ld->err, GF_EINTERNAL, NULL, "bad field");
    }
    *c->set |= GF_RF_BIT(f);
    c->marks->field[f] = value->start_mark;
    return GF_OK;
}

/* The field whose key is "group.k" (or "k" at the top); GF_RF_COUNT if none. */
static gf_rule_field find_field(const char *group, const char *k)
{
    for (int f = 0; f < GF_RF_COUNT; f++) {
        const char *key = gf_rule_field_key((gf_rule_field)f), *dot = strchr(key, '.');
        if (!group) {
            if (!dot && !strcmp(key, k)) return (gf_rule_field)f;
        } else if (dot && (size_t)(dot - key) == strlen(group) &&
                   !strncmp(key, group, strlen(group)) && !strcmp(dot + 1, k)) {
            return (gf_rule_field)f;
        }
    }
    return GF_RF_COUNT;
}

static gf_err parse_match(loader *ld, const yaml_node_t *value, gf_policy_rule *rule);
static gf_err settings_pair(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                            const yaml_node_t *value, void *ctx);

static gf_err settings_group(loader *ld, const char *group, const yaml_node_t *value,
                             settings_ctx *c)
{
    if (is_null(value)) return GF_OK;
    gf_err rc = expect_mapping(ld, value);
    if (rc) return rc;
    settings_ctx sub = *c;
    sub.group = group;
    sub.map = value;
    return each_pair(ld, value, settings_pair, &sub);
}

static gf_err rule_name(loader *ld, const yaml_node_t *value, settings_ctx *c)
{
    const char *name;
    gf_err rc = get_string(ld, value, "a rule name", &name);
    if (rc) return rc;
    if (!*name) return fail_at(ld, value->start_mark, "a rule name must not be empty");
    if (strlen(name) > 253)
        return fail_at(ld, value->start_mark, "a rule name is at most 253 characters");
    for (const char *s = name; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return fail_at(ld, value->start_mark,
                           "a rule name must not contain control "
                           "characters");
    size_t first;
    if (gf_strmap_get(c->names, name, &first))
        return fail_at(ld, value->start_mark, "duplicate rule name \"%s\" (rules[%zu] has it)",
                       name, first);
    c->rule->name = gf_arena_strdup(&ld->p->arena, name);
    gf_strmap_put(c->names, c->rule->name, c->rule_index);
    return GF_OK;
}

static gf_err settings_pair(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                            const yaml_node_t *value, void *ctx)
{
    settings_ctx *c = ctx;
    gf_err rc = GF_OK;
    size_t saved = push_key(ld, k);
    gf_rule_field f = find_field(c->group, k);
    bool is_group = false;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0] && !c->group; g++)
        is_group |= !strcmp(k, groups[g]);
    bool known = f != GF_RF_COUNT || is_group ||
                 (c->is_rule && !c->group && (!strcmp(k, "name") || !strcmp(k, "match")));
    if (!known) {
        gf_sbuf b = GF_SBUF_INIT;
        known_keys(&b, c->group, c->is_rule);
        rc = unknown_key(ld, key, k, gf_sbuf_str(&b));
        gf_sbuf_free(&b);
    } else if (!(rc = check_duplicate(ld, c->map, idx, key, k))) {
        if (f != GF_RF_COUNT)
            rc = set_field(ld, f, value, c);
        else if (is_group)
            rc = settings_group(ld, k, value, c);
        else if (!strcmp(k, "name"))
            rc = rule_name(ld, value, c);
        else
            rc = parse_match(ld, value, c->rule);
    }
    pop(ld, saved);
    return rc;
}

/* --- match -------------------------------------------------------------------- */

/* A non-empty list of non-empty strings, copied into the arena. */
static gf_err string_list(loader *ld, const yaml_node_t *value, const char *what, const char ***out,
                          uint32_t *n)
{
    gf_err rc = check_tag(ld, value);
    if (rc) return rc;
    if (value->type != YAML_SEQUENCE_NODE)
        return fail_at(ld, value->start_mark, "expected a list of %s (like [a, b]), got %s", what,
                       describe(value));
    size_t count = (size_t)(value->data.sequence.items.top - value->data.sequence.items.start);
    if (count == 0)
        return fail_at(ld, value->start_mark,
                       "an empty list matches nothing; leave the key out to match all");
    if (count > UINT32_MAX) return fail_at(ld, value->start_mark, "too many items");
    const char **v = gf_arena_alloc(&ld->p->arena, count * sizeof *v);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = node_at(ld, value->data.sequence.items.start[i]);
        size_t saved = push_index(ld, i);
        const char *s = NULL;
        if (!item)
            rc = fail_at(ld, value->start_mark, "broken list");
        else if (!(rc = get_string(ld, item, what, &s)) && !*s)
            rc = fail_at(ld, item->start_mark, "must not be empty");
        pop(ld, saved);
        if (rc) return rc;
        v[i] = gf_arena_strdup(&ld->p->arena, s);
    }
    *out = v;
    *n = (uint32_t)count;
    return GF_OK;
}

typedef struct labels_ctx {
    gf_strmap seen;
    gf_kvs *kvs;
} labels_ctx;

static gf_err label_pair(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                         const yaml_node_t *value, void *ctx)
{
    labels_ctx *c = ctx;
    size_t saved = push_key(ld, k), first;
    const char *v = NULL;
    gf_err rc = GF_OK;
    if (!*k)
        rc = fail_at(ld, key->start_mark, "a label key must not be empty");
    else if (gf_strmap_get(&c->seen, k, &first))
        rc = fail_at(ld, key->start_mark, "duplicate key \"%.60s\"", k);
    else if (value->type == YAML_SCALAR_NODE && is_null(value))
        rc = fail_at(ld, value->start_mark,
                     "a label value is missing (write \"\" to match an empty value)");
    else
        rc = get_string(ld, value, "a label value (a string)", &v);
    pop(ld, saved);
    if (rc) return rc;
    gf_strmap_put(&c->seen, k, c->kvs->n);
    c->kvs->items[c->kvs->n].key = gf_arena_strdup(&ld->p->arena, k);
    c->kvs->items[c->kvs->n].value = gf_arena_strdup(&ld->p->arena, v);
    c->kvs->n++;
    return GF_OK;
}

static gf_err parse_labels(loader *ld, const yaml_node_t *value, gf_kvs *out)
{
    if (is_null(value)) return GF_OK;
    gf_err rc = expect_mapping(ld, value);
    if (rc) return rc;
    size_t count = (size_t)(value->data.mapping.pairs.top - value->data.mapping.pairs.start);
    if (count > UINT32_MAX) return fail_at(ld, value->start_mark, "too many labels");
    labels_ctx c = {.kvs = out};
    gf_strmap_init(&c.seen);
    out->n = 0;
    out->items = count ? gf_arena_alloc(&ld->p->arena, count * sizeof *out->items) : NULL;
    rc = each_pair(ld, value, label_pair, &c);
    gf_strmap_free(&c.seen);
    return rc;
}

typedef struct match_ctx {
    gf_policy_rule *rule;
    const yaml_node_t *map;
} match_ctx;

static gf_err match_pair(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                         const yaml_node_t *value, void *ctx)
{
    match_ctx *c = ctx;
    gf_policy_match *m = &c->rule->match;
    size_t saved = push_key(ld, k);
    gf_err rc;
    if (strcmp(k, "namespaces") && strcmp(k, "labels") && strcmp(k, "kinds"))
        rc = unknown_key(ld, key, k, "namespaces, labels, kinds");
    else if ((rc = check_duplicate(ld, c->map, idx, key, k)))
        ;
    else if (!strcmp(k, "namespaces"))
        rc = string_list(ld, value, "namespace names or globs", &m->namespaces, &m->n_namespaces);
    else if (!strcmp(k, "kinds"))
        rc = string_list(ld, value, "workload kinds", &m->kinds, &m->n_kinds);
    else
        rc = parse_labels(ld, value, &m->labels);
    pop(ld, saved);
    return rc;
}

static gf_err parse_match(loader *ld, const yaml_node_t *value, gf_policy_rule *rule)
{
    if (is_null(value)) return GF_OK;
    gf_err rc = expect_mapping(ld, value);
    if (rc) return rc;
    match_ctx c = {rule, value};
    return each_pair(ld, value, match_pair, &c);
}

/* --- fairUse ------------------------------------------------------------------- */

typedef struct fair_ctx {
    gf_fair_policy *f;
    const yaml_node_t *map;
    yaml_mark_t *marks; /* per gf_fair_field */
    bool *set;          /* per gf_fair_field: written in the file */
} fair_ctx;

/* A string naming one of an enum's values; the parse function gives the value. */
static gf_err get_choice(loader *ld, const yaml_node_t *n, const char *what, const char *choices,
                         bool (*parse)(const char *, int *), int *out)
{
    const char *s;
    char expected[160];
    snprintf(expected, sizeof expected, "%s (%s)", what, choices);
    gf_err rc = get_string(ld, n, expected, &s);
    if (rc) return rc;
    if (!parse(s, out))
        return fail_at(ld, n->start_mark, "unknown %s \"%.40s\" (use %s)", what, s, choices);
    return GF_OK;
}

static bool parse_fair_mode(const char *s, int *out)
{
    gf_fair_mode m;
    if (!gf_fair_mode_parse(s, &m)) return false;
    *out = (int)m;
    return true;
}

static bool parse_fair_response(const char *s, int *out)
{
    gf_fair_prefer r;
    if (!gf_fair_prefer_parse(s, &r)) return false;
    *out = (int)r;
    return true;
}

static bool parse_fair_share(const char *s, int *out)
{
    gf_fair_share sh;
    if (!gf_fair_share_parse(s, &sh)) return false;
    *out = (int)sh;
    return true;
}

static gf_err fair_pair(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                        const yaml_node_t *value, void *ctx)
{
    fair_ctx *c = ctx;
    size_t saved = push_key(ld, k);
    int f = 0;
    while (f < GF_FF_COUNT && strcmp(k, gf_fair_field_key((gf_fair_field)f)))
        f++;
    gf_err rc;
    int choice = 0;
    int64_t i = 0;
    if (f == GF_FF_COUNT) {
        gf_sbuf b = GF_SBUF_INIT;
        for (int j = 0; j < GF_FF_COUNT; j++)
            gf_sbuf_printf(&b, "%s%s", j ? ", " : "", gf_fair_field_key((gf_fair_field)j));
        rc = unknown_key(ld, key, k, gf_sbuf_str(&b));
        gf_sbuf_free(&b);
    } else if (!(rc = check_duplicate(ld, c->map, idx, key, k))) {
        switch ((gf_fair_field)f) {
        case GF_FF_MODE:
            rc = get_choice(ld, value, "mode", "off, report or act", parse_fair_mode, &choice);
            if (!rc) c->f->mode = (gf_fair_mode)choice;
            break;
        case GF_FF_MEMORY_OVERRUN_MARGIN:
            rc = get_number(ld, value, &c->f->memory_overrun_margin);
            break;
        case GF_FF_HOG_WINDOW:
            rc = get_duration(ld, value, &c->f->hog_window_s);
            break;
        case GF_FF_STARVED_THRESHOLD:
            rc = get_number(ld, value, &c->f->starved_threshold);
            break;
        case GF_FF_DEVICE_MEMORY_FULL_RATIO:
            rc = get_number(ld, value, &c->f->device_memory_full_ratio);
            break;
        case GF_FF_COMPUTE_SHARE:
            rc = get_choice(ld, value, "compute share", "fraction or equal", parse_fair_share,
                            &choice);
            if (!rc) c->f->compute_share = (gf_fair_share)choice;
            break;
        case GF_FF_RESPONSE:
            rc = get_choice(ld, value, "response", "upsize, move-victim or report",
                            parse_fair_response, &choice);
            if (!rc) c->f->response = (gf_fair_prefer)choice;
            break;
        case GF_FF_MAX_ACTIONS:
            rc = get_int(ld, value, &i);
            if (!rc) c->f->max_actions_per_hour = (int32_t)i;
            break;
        case GF_FF_COUNT:
            break;
        }
        if (!rc) {
            c->marks[f] = value->start_mark;
            c->set[f] = true;
        }
    }
    pop(ld, saved);
    return rc;
}

/* --- the document ----------------------------------------------------------------- */

typedef struct doc_ctx {
    const yaml_node_t *root;
    gf_rightsize_rule defaults; /* the file's defaults block (fields in defaults_set) */
    uint64_t defaults_set;
    block_marks defaults_marks;
    GF_VEC(block_marks) rule_marks;
    gf_strmap names;
    const char *api_version, *kind;
    yaml_mark_t fair_at; /* the fairUse mapping */
    yaml_mark_t fair_marks[GF_FF_COUNT];
    bool fair_set[GF_FF_COUNT];
} doc_ctx;

static gf_err parse_rules(loader *ld, const yaml_node_t *value, doc_ctx *dc)
{
    if (is_null(value)) return GF_OK;
    gf_err rc = check_tag(ld, value);
    if (rc) return rc;
    if (value->type != YAML_SEQUENCE_NODE)
        return fail_at(ld, value->start_mark, "expected a list of rules, got %s", describe(value));
    size_t count = (size_t)(value->data.sequence.items.top - value->data.sequence.items.start);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = node_at(ld, value->data.sequence.items.start[i]);
        size_t saved = push_index(ld, i);
        if (!item) {
            rc = fail_at(ld, value->start_mark, "broken list");
        } else if (!(rc = expect_mapping(ld, item))) {
            gf_policy_rule *rule = gf_policy_add_rule(ld->p, "");
            rule->name = NULL;
            block_marks bm;
            memset(&bm, 0, sizeof bm);
            bm.at = item->start_mark;
            char origin[600];
            snprintf(origin, sizeof origin, "%.500s:%zu:%zu", ld->file, bm.at.line + 1,
                     bm.at.column + 1);
            rule->origin = gf_arena_strdup(&ld->p->arena, origin);
            settings_ctx c = {.values = &rule->values,
                              .set = &rule->set,
                              .marks = &bm,
                              .map = item,
                              .is_rule = true,
                              .rule = rule,
                              .names = &dc->names,
                              .rule_index = i};
            rc = each_pair(ld, item, settings_pair, &c);
            if (!rc && !rule->name)
                rc = fail_at(ld, item->start_mark, "a rule needs a name (name: ...)");
            gf_vec_push(&dc->rule_marks, bm);
        }
        pop(ld, saved);
        if (rc) return rc;
    }
    return GF_OK;
}

/* --- kai: KAI's configurable names ------------------------------------------- */

typedef struct kai_ctx {
    const yaml_node_t *map;
} kai_ctx;

/* The names KAI makes configurable (pkg/common/constants/constants.go
 * defaults; the scheduler's and binder's flags and the operator's config
 * change them). */
static gf_err kai_pair(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                       const yaml_node_t *value, void *ctx)
{
    kai_ctx *c = ctx;
    gf_kai_names *n = &ld->p->kai;
    static const char *const keys[] = {"schedulerName", "queueLabel", "nodePoolLabel",
                                       "reservationNamespace", "reservationAppLabel"};
    const char **dst[] = {&n->scheduler_name, &n->queue_label, &n->node_pool_label,
                          &n->reservation_ns, &n->reservation_app};
    size_t saved = push_key(ld, k);
    size_t which = 0;
    while (which < sizeof keys / sizeof keys[0] && strcmp(k, keys[which]))
        which++;
    gf_err rc;
    const char *v = NULL;
    if (which == sizeof keys / sizeof keys[0])
        rc = unknown_key(ld, key, k,
                         "schedulerName, queueLabel, nodePoolLabel, reservationNamespace, "
                         "reservationAppLabel");
    else if (!(rc = check_duplicate(ld, c->map, idx, key, k)) &&
             !(rc = get_string(ld, value, "a name", &v))) {
        if (!*v)
            rc = fail_at(ld, value->start_mark, "must not be empty");
        else
            *dst[which] = gf_arena_strdup(&ld->p->arena, v);
    }
    pop(ld, saved);
    return rc;
}

/* --- consolidation: what a drain may move (decide/consolidate.h) ------------- */

static gf_err consolidation_pair(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                                 const yaml_node_t *value, void *ctx)
{
    const yaml_node_t *map = ctx;
    size_t saved = push_key(ld, k);
    gf_err rc;
    const char *v = NULL;
    if (strcmp(k, "moveNonPreemptible"))
        rc = unknown_key(ld, key, k, "moveNonPreemptible");
    else if (!(rc = check_duplicate(ld, map, idx, key, k)) &&
             !(rc = get_string(ld, value, "replicated, never or always", &v)) &&
             !gf_move_np_parse(v, &ld->p->move_non_preemptible))
        rc = fail_at(ld, value->start_mark,
                     "unknown value \"%.60s\" (replicated: a PodDisruptionBudget or another "
                     "running replica keeps the service up; never; always)",
                     v);
    pop(ld, saved);
    return rc;
}

static gf_err top_pair(loader *ld, size_t idx, const yaml_node_t *key, const char *k,
                       const yaml_node_t *value, void *ctx)
{
    doc_ctx *dc = ctx;
    size_t saved = push_key(ld, k);
    gf_err rc;
    static const char *const keys[] = {"apiVersion",   "kind",  "optIn", "allowAnnotationUpgrade",
                                       "defaults",     "rules", "kai",   "fairUse",
                                       "consolidation"};
    size_t which = 0;
    while (which < sizeof keys / sizeof keys[0] && strcmp(k, keys[which]))
        which++;
    if (which == sizeof keys / sizeof keys[0]) {
        rc = fail_at(ld, key->start_mark,
                     "unknown key \"%.60s\" (known keys: apiVersion, kind, optIn, "
                     "allowAnnotationUpgrade, defaults, rules, kai, consolidation); fair-use "
                     "settings go under fairUse",
                     k);
    } else if (!(rc = check_duplicate(ld, dc->root, idx, key, k))) {
        switch (which) {
        case 0:
            if (!(rc = get_string(ld, value, "an apiVersion string", &dc->api_version)) &&
                strcmp(dc->api_version, GF_POLICY_API_VERSION))
                rc = fail_at(ld, value->start_mark, "apiVersion \"%.60s\" is not %s",
                             dc->api_version, GF_POLICY_API_VERSION);
            break;
        case 1:
            if (!(rc = get_string(ld, value, "a kind string", &dc->kind)) &&
                strcmp(dc->kind, GF_POLICY_KIND))
                rc = fail_at(ld, value->start_mark, "kind \"%.60s\" is not %s", dc->kind,
                             GF_POLICY_KIND);
            break;
        case 2:
            rc = get_bool(ld, value, &ld->p->opt_in);
            break;
        case 3:
            rc = get_bool(ld, value, &ld->p->allow_annotation_upgrade);
            break;
        case 4:
            if (!is_null(value) && !(rc = expect_mapping(ld, value))) {
                dc->defaults_marks.at = value->start_mark;
                settings_ctx c = {.values = &dc->defaults,
                                  .set = &dc->defaults_set,
                                  .marks = &dc->defaults_marks,
                                  .map = value};
                rc = each_pair(ld, value, settings_pair, &c);
            }
            break;
        case 5:
            rc = parse_rules(ld, value, dc);
            break;
        case 6:
            if (!is_null(value) && !(rc = expect_mapping(ld, value))) {
                kai_ctx c = {value};
                rc = each_pair(ld, value, kai_pair, &c);
            }
            break;
        case 8:
            if (!is_null(value) && !(rc = expect_mapping(ld, value)))
                rc = each_pair(ld, value, consolidation_pair, (void *)value);
            break;
        default:
            if (!is_null(value) && !(rc = expect_mapping(ld, value))) {
                dc->fair_at = value->start_mark;
                fair_ctx c = {&ld->p->fair_use, value, dc->fair_marks, dc->fair_set};
                rc = each_pair(ld, value, fair_pair, &c);
            }
            break;
        }
    }
    pop(ld, saved);
    return rc;
}

/* Points a validation problem at the value that caused it: the first field
 * involved that this block set. */
static gf_err validation_error(loader *ld, const char *section, const gf_rule_problem *pb,
                               uint64_t set, const block_marks *bm, const char *rule_name)
{
    gf_rule_field blame = pb->field;
    yaml_mark_t mark = bm->at;
    for (int f = 0; f < GF_RF_COUNT; f++)
        if ((pb->fields & set & GF_RF_BIT(f))) {
            blame = (gf_rule_field)f;
            mark = bm->field[f];
            break;
        }
    pop(ld, 0);
    push_field(ld, section);
    push_field(ld, gf_rule_field_key(blame));
    const char *merged = (pb->fields & ~set) ? " (after merging with the defaults)" : "";
    if (rule_name) return fail_at(ld, mark, "rule \"%s\": %s%s", rule_name, pb->why, merged);
    return fail_at(ld, mark, "%s%s", pb->why, merged);
}

static gf_err load_document(loader *ld, const yaml_node_t *root)
{
    doc_ctx dc;
    memset(&dc, 0, sizeof dc);
    dc.root = root;
    gf_strmap_init(&dc.names);
    gf_err rc = expect_mapping(ld, root);
    if (!rc) rc = each_pair(ld, root, top_pair, &dc);
    if (!rc && !dc.api_version)
        rc = fail_at(ld, root->start_mark, "missing apiVersion (want %s)", GF_POLICY_API_VERSION);
    if (!rc && !dc.kind)
        rc = fail_at(ld, root->start_mark, "missing kind (want %s)", GF_POLICY_KIND);
    if (!rc) {
        gf_rule_problem pb;
        gf_rightsize_rule_apply(&ld->p->defaults, &dc.defaults, dc.defaults_set);
        if (gf_rightsize_rule_validate(&ld->p->defaults, &pb))
            rc = validation_error(ld, "defaults", &pb, dc.defaults_set, &dc.defaults_marks, NULL);
        for (size_t i = 0; !rc && i < ld->p->rules.n; i++) {
            const gf_policy_rule *r = &ld->p->rules.v[i];
            gf_rightsize_rule merged = ld->p->defaults;
            gf_rightsize_rule_apply(&merged, &r->values, r->set);
            if (gf_rightsize_rule_validate(&merged, &pb)) {
                char section[32];
                snprintf(section, sizeof section, "rules[%zu]", i);
                rc = validation_error(ld, section, &pb, r->set, &dc.rule_marks.v[i], r->name);
            }
        }
        gf_fair_problem fp;
        if (!rc && gf_fair_policy_validate(&ld->p->fair_use, &fp)) {
            /* a key left out has its (valid) default, so the key at fault was written */
            yaml_mark_t mark = dc.fair_set[fp.field] ? dc.fair_marks[fp.field] : dc.fair_at;
            pop(ld, 0);
            push_field(ld, "fairUse");
            push_field(ld, gf_fair_field_key(fp.field));
            rc = fail_at(ld, mark, "%s", fp.why);
        }
    }
    gf_strmap_free(&dc.names);
    gf_vec_free(&dc.rule_marks);
    return rc;
}

/* libyaml's reader reports a byte offset, not a mark. */

gf_err gf_policy_load_buffer(gf_policy *p, const char *name, const char *buf, size_t len,
                             gf_error *err)
{
    if (!name) name = "policy";
    if (len > GF_POLICY_MAX_BYTES)
        return gf_error_set(err, GF_EINPUT, name, "policy is %zu bytes, more than the %d allowed",
                            len, GF_POLICY_MAX_BYTES);
    gf_err alias_rc = gf_yaml_check_aliases(name, buf, buf ? len : 0, GF_POLICY_MAX_NODES, err);
    if (alias_rc) return alias_rc;
    gf_policy tmp;
    gf_policy_init(&tmp);
    tmp.origin = gf_arena_strdup(&tmp.arena, name);
    loader ld = {.p = &tmp, .err = err, .file = tmp.origin};
    yaml_parser_t parser;
    yaml_document_t doc;
    gf_err rc = GF_OK;
    if (!yaml_parser_initialize(&parser)) {
        gf_policy_free(&tmp);
        return gf_error_set(err, GF_EINTERNAL, name, "cannot initialise the YAML parser");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""), buf ? len : 0);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = gf_yaml_error(&parser, ld.file, buf, len, ld.err);
    } else {
        ld.doc = &doc;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            rc = gf_error_set(err, GF_EINPUT, name,
                              "empty policy (no YAML document); a policy needs at least "
                              "apiVersion: %s and kind: %s",
                              GF_POLICY_API_VERSION, GF_POLICY_KIND);
        } else {
            rc = load_document(&ld, root);
            if (!rc) {
                yaml_document_t next;
                if (!yaml_parser_load(&parser, &next)) {
                    rc = gf_yaml_error(&parser, ld.file, buf, len, ld.err);
                } else {
                    yaml_node_t *extra = yaml_document_get_root_node(&next);
                    if (extra) {
                        pop(&ld, 0);
                        rc = fail_at(&ld, extra->start_mark,
                                     "more than one YAML document; a policy is one document");
                    }
                    yaml_document_delete(&next);
                }
            }
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc) {
        gf_policy_free(&tmp);
        return rc;
    }
    gf_policy_free(p);
    *p = tmp;
    return GF_OK;
}

gf_err gf_policy_load_file(gf_policy *p, const char *path, gf_error *err)
{
    gf_sbuf b = GF_SBUF_INIT;
    gf_err rc = gf_input_read(path, "policy", GF_POLICY_MAX_BYTES, &b, err);
    if (!rc) rc = gf_policy_load_buffer(p, path, b.s ? b.s : "", b.len, err);
    gf_sbuf_free(&b);
    return rc;
}
