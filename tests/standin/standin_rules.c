/* standin_rules.c - selectors and merge patch for the stand-in API server
 * (see standin_rules.h). */
#include "standin_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum op { OP_EXISTS, OP_NOT_EXISTS, OP_EQ, OP_NE, OP_IN, OP_NOTIN } op;

typedef struct req {
    bool field; /* a field requirement (path into the object) */
    op op;
    char *key;
    char **values;
    size_t n_values;
} req;

struct gf_sel {
    req *reqs;
    size_t n;
};

static void req_free(req *r)
{
    free(r->key);
    for (size_t i = 0; i < r->n_values; i++)
        free(r->values[i]);
    free(r->values);
}

void gf_sel_free(gf_sel *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        req_free(&s->reqs[i]);
    free(s->reqs);
    free(s);
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void push(gf_sel *s, req r)
{
    s->reqs = realloc(s->reqs, (s->n + 1) * sizeof *s->reqs);
    if (!s->reqs) abort();
    s->reqs[s->n++] = r;
}

static void add_value(req *r, const char *v, size_t n)
{
    r->values = realloc(r->values, (r->n_values + 1) * sizeof *r->values);
    if (!r->values) abort();
    r->values[r->n_values++] = dupn(v, n);
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == '/';
}

static bool value_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static size_t span(const char *p, bool (*ok)(char))
{
    size_t n = 0;
    while (p[n] && ok(p[n]))
        n++;
    return n;
}

/* labels.Parse: "a=b,c!=d,!e,f,g in (x,y),h notin (z)". */
static bool parse_labels(gf_sel *s, const char *p, char *why, size_t why_n)
{
    p = skip_ws(p);
    if (!*p) return true;
    for (;;) {
        req r = {0};
        p = skip_ws(p);
        bool negated = *p == '!';
        if (negated) p = skip_ws(p + 1);
        size_t kn = span(p, key_char);
        if (!kn) {
            snprintf(why, why_n, "unable to parse requirement: expected a label key at \"%.40s\"",
                     p);
            return false;
        }
        r.key = dupn(p, kn);
        p = skip_ws(p + kn);
        if (negated) {
            r.op = OP_NOT_EXISTS;
        } else if (*p == ',' || !*p) {
            r.op = OP_EXISTS;
        } else if (p[0] == '!' && p[1] == '=') {
            r.op = OP_NE;
            p += 2;
        } else if (p[0] == '=' && p[1] == '=') {
            r.op = OP_EQ;
            p += 2;
        } else if (p[0] == '=') {
            r.op = OP_EQ;
            p += 1;
        } else if (!strncmp(p, "in", 2) && (p[2] == ' ' || p[2] == '(')) {
            r.op = OP_IN;
            p += 2;
        } else if (!strncmp(p, "notin", 5) && (p[5] == ' ' || p[5] == '(')) {
            r.op = OP_NOTIN;
            p += 5;
        } else {
            snprintf(why, why_n, "unable to parse requirement: unexpected \"%.40s\"", p);
            req_free(&r);
            return false;
        }
        if (r.op == OP_EQ || r.op == OP_NE) {
            p = skip_ws(p);
            size_t vn = span(p, value_char);
            add_value(&r, p, vn);
            p = skip_ws(p + vn);
        } else if (r.op == OP_IN || r.op == OP_NOTIN) {
            p = skip_ws(p);
            if (*p != '(') {
                snprintf(why, why_n, "found '%.1s', expected: '('", p);
                req_free(&r);
                return false;
            }
            p++;
            for (;;) {
                p = skip_ws(p);
                size_t vn = span(p, value_char);
                add_value(&r, p, vn);
                p = skip_ws(p + vn);
                if (*p == ',') {
                    p++;
                    continue;
                }
                if (*p == ')') {
                    p = skip_ws(p + 1);
                    break;
                }
                snprintf(why, why_n, "found '%.1s', expected: ',' or ')'", p);
                req_free(&r);
                return false;
            }
        }
        push(s, r);
        if (!*p) return true;
        if (*p != ',') {
            snprintf(why, why_n, "found '%.1s', expected: ','", p);
            return false;
        }
        p++;
    }
}

/* fields.ParseSelector: "spec.nodeName=x,status.phase!=Running". */
static bool parse_fields(gf_sel *s, const char *p, char *why, size_t why_n)
{
    if (!*skip_ws(p)) return true;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *ne = NULL, *eq = NULL;
        for (size_t i = 0; i + 1 < n && !ne; i++)
            if (p[i] == '!' && p[i + 1] == '=') ne = p + i;
        for (size_t i = 0; i < n && !eq && !ne; i++)
            if (p[i] == '=') eq = p + i;
        req r = {.field = true};
        if (ne) {
            r.op = OP_NE;
            r.key = dupn(p, (size_t)(ne - p));
            add_value(&r, ne + 2, n - (size_t)(ne - p) - 2);
        } else if (eq) {
            r.op = OP_EQ;
            r.key = dupn(p, (size_t)(eq - p));
            size_t skip = eq[1] == '=' ? 2 : 1;
            add_value(&r, eq + skip, n - (size_t)(eq - p) - skip);
        } else {
            snprintf(why, why_n, "invalid selector: '%.*s'; can't understand '%.*s'", (int)n, p,
                     (int)n, p);
            return false;
        }
        push(s, r);
        p += n;
        if (*p == ',') p++;
    }
    return true;
}

gf_sel *gf_sel_parse(const char *labels, const char *fields, char *why, size_t why_n)
{
    gf_sel *s = calloc(1, sizeof *s);
    if (!s) abort();
    if ((labels && !parse_labels(s, labels, why, why_n)) ||
        (fields && !parse_fields(s, fields, why, why_n))) {
        gf_sel_free(s);
        return NULL;
    }
    return s;
}

/* The string at a dotted path ("spec.nodeName"), "" when absent. */
static const char *field_value(const json_t *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = obj;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, tok);
    return json_is_string(cur) ? json_string_value(cur) : "";
}

bool gf_sel_match(const gf_sel *s, const json_t *obj)
{
    if (!s) return true;
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    for (size_t i = 0; i < s->n; i++) {
        const req *r = &s->reqs[i];
        const char *v;
        bool has;
        if (r->field) {
            v = field_value(obj, r->key);
            has = true;
        } else {
            const json_t *jv = json_object_get(labels, r->key);
            has = json_is_string(jv);
            v = has ? json_string_value(jv) : "";
        }
        bool in = false;
        for (size_t j = 0; j < r->n_values; j++)
            if (!strcmp(v, r->values[j])) in = true;
        bool ok;
        switch (r->op) {
        case OP_EXISTS:
            ok = has;
            break;
        case OP_NOT_EXISTS:
            ok = !has;
            break;
        case OP_EQ:
        case OP_IN:
            ok = has && in;
            break;
        case OP_NE:
        case OP_NOTIN:
            ok = !has || !in;
            break;
        default:
            ok = false;
        }
        if (!ok) return false;
    }
    return true;
}

bool gf_label_selector_match(const json_t *selector, const json_t *labels)
{
    if (!json_is_object(selector)) return false;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(selector, "matchLabels"), k, v)
    {
        const json_t *have = json_object_get(labels, k);
        if (!json_is_string(have) || !json_is_string(v) ||
            strcmp(json_string_value(have), json_string_value(v)))
            return false;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(selector, "matchExpressions"), i, e)
    {
        const json_t *key = json_object_get(e, "key");
        const json_t *opv = json_object_get(e, "operator");
        const json_t *values = json_object_get(e, "values");
        if (!json_is_string(key) || !json_is_string(opv)) return false;
        const json_t *have = json_object_get(labels, json_string_value(key));
        bool in = false;
        size_t j;
        const json_t *val;
        json_array_foreach(values, j, val)
        {
            if (json_is_string(have) && json_is_string(val) &&
                !strcmp(json_string_value(have), json_string_value(val)))
                in = true;
        }
        const char *o = json_string_value(opv);
        bool ok = !strcmp(o, "In")             ? in
                  : !strcmp(o, "NotIn")        ? !in
                  : !strcmp(o, "Exists")       ? json_is_string(have)
                  : !strcmp(o, "DoesNotExist") ? !json_is_string(have)
                                               : false;
        if (!ok) return false;
    }
    return true;
}

json_t *gf_merge_patch(json_t *target, const json_t *patch)
{
    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else {
            json_t *cur = json_object_get(target, k);
            json_incref(cur);
            json_object_set_new(target, k, gf_merge_patch(cur, v));
        }
    }
    return target;
}
