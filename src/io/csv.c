/* csv.c - strict plain CSV reader, see csv.h. */
#include "io/csv.h"
#include "io/csv.h"
#include "io/input.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gf_csv_init(gf_csv *c, const char *name, const char *buf, size_t len)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->buf = buf;
    c->len = buf ? len : 0;
    /* a UTF-8 byte order mark, as spreadsheet programs write it */
    if (c->len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) c->pos = 3;
}

gf_err gf_csv_open_file(gf_csv *c, const char *path, gf_error *err)
{
    bool is_stdin = !strcmp(path, "-");
    gf_csv_init(c, is_stdin ? "(stdin)" : path, NULL, 0);
    gf_err rc = gf_input_read_capped(path, "CSV file", &c->owned, err);
    if (rc) return rc;
    gf_sbuf owned = c->owned; /* init clears the reader */
    gf_csv_init(c, c->name, owned.s, owned.len);
    c->owned = owned;
    return GF_OK;
}

void gf_csv_free(gf_csv *c)
{
    if (!c) return;
    gf_vec_free(&c->fields);
    gf_sbuf_free(&c->row);
    for (size_t i = 0; i < c->n_columns; i++)
        free(c->columns[i]);
    free(c->columns);
    c->columns = NULL;
    c->n_columns = 0;
    gf_sbuf_free(&c->owned);
}

void gf_csv_where(const gf_csv *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s:%lu", c->name, c->line);
}

/* Printable, shortened copy of s for messages: quotes, backslashes and
 * control or non-ASCII bytes are escaped, so a hostile value cannot forge
 * lines or terminal sequences in the output. */
static void show(const char *s, size_t len, size_t max_shown, char *buf, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < n; i++) {
        if (i == max_shown) {
            o += (size_t)snprintf(buf + o, n - o, "...");
            break;
        }
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\'' || ch == '\\')
            o += (size_t)snprintf(buf + o, n - o, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        else
            buf[o++] = (char)ch;
    }
    buf[o] = '\0';
}

/* "num_gpu" when the header named the column, else its 1-based number. */
static void column_name(const gf_csv *c, size_t col, char *buf, size_t n)
{
    if (col < c->n_columns)
        snprintf(buf, n, "%s", c->columns[col]);
    else
        snprintf(buf, n, "%zu", col + 1);
}

static gf_err fail_line(const gf_csv *c, gf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static gf_err fail_line(const gf_csv *c, gf_error *err, const char *fmt, ...)
{
    char where[300], msg[512];
    gf_csv_where(c, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gf_error_set(err, GF_EINPUT, where, "%s", msg);
}

/* Splits the line [s, s+n) into c->fields; checks the characters. */
static gf_err split(gf_csv *c, const char *s, size_t n, gf_error *err)
{
    char col[128];
    size_t field = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',') {
            field++;
        } else if (s[i] == '"') {
            column_name(c, field, col, sizeof col);
            return fail_line(c, err,
                             "column %s: quoted fields are not supported (expected plain "
                             "comma-separated values without '\"')",
                             col);
        } else if (s[i] == '\0') {
            column_name(c, field, col, sizeof col);
            return fail_line(c, err, "column %s: NUL byte in a text file", col);
        } else if (s[i] == '\r') {
            column_name(c, field, col, sizeof col);
            return fail_line(c, err, "column %s: carriage return not followed by a line feed", col);
        }
    }
    c->row.len = 0;
    gf_sbuf_append(&c->row, s, n);
    c->fields.n = 0;
    char *p = c->row.s;
    gf_vec_push(&c->fields, p);
    for (; *p; p++)
        if (*p == ',') {
            *p = '\0';
            gf_vec_push(&c->fields, p + 1);
        }
    return GF_OK;
}

static gf_err check_width(const gf_csv *c, gf_error *err)
{
    size_t got = c->fields.n, want = c->n_columns;
    if (!want || got == want) return GF_OK;
    char list[400], shown[256];
    size_t o = 0;
    list[0] = '\0';
    if (got < want) {
        for (size_t i = got; i < want && o + 1 < sizeof list; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i > got ? ", " : "",
                                  c->columns[i]);
        return fail_line(c, err, "%zu columns, expected %zu: missing %s (truncated row?)", got,
                         want, list);
    }
    const char *extra = c->fields.v[want];
    show(extra, strlen(extra), 48, shown, sizeof shown);
    return fail_line(c, err, "%zu columns, expected %zu: extra value '%s' after column %s", got,
                     want, shown, c->columns[want - 1]);
}

gf_err gf_csv_next(gf_csv *c, gf_error *err)
{
    while (c->pos < c->len) {
        const char *start = c->buf + c->pos;
        const char *nl = memchr(start, '\n', c->len - c->pos);
        const char *end = nl ? nl : c->buf + c->len;
        c->pos = (size_t)(end - c->buf) + (nl ? 1 : 0);
        c->line++;
        if (end > start && end[-1] == '\r') end--; /* CRLF */
        if (end == start) continue;                /* empty line */
        gf_err rc = split(c, start, (size_t)(end - start), err);
        if (rc) return rc;
        return check_width(c, err);
    }
    return GF_ENOTFOUND;
}

gf_err gf_csv_header(gf_csv *c, const char *const *names, size_t n_required, size_t n_names,
                     gf_error *err)
{
    gf_sbuf want = GF_SBUF_INIT;
    for (size_t i = 0; i < n_names; i++)
        gf_sbuf_printf(&want, "%s%s", i ? "," : "", names[i]);
    if (n_required < n_names) {
        gf_sbuf_puts(&want, "' (or its first columns up to ");
        gf_sbuf_puts(&want, names[n_required - 1]);
        gf_sbuf_puts(&want, ")");
    } else {
        gf_sbuf_puts(&want, "'");
    }
    c->n_columns = 0;
    gf_err rc = gf_csv_next(c, err);
    if (rc == GF_ENOTFOUND) {
        rc = gf_error_set(err, GF_EINPUT, c->name, "empty file; expected the header '%s",
                          gf_sbuf_str(&want));
    } else if (rc == GF_OK) {
        size_t k = c->fields.n;
        bool ok = k >= n_required && k <= n_names;
        for (size_t i = 0; ok && i < k; i++)
            ok = !strcmp(c->fields.v[i], names[i]);
        if (!ok) {
            /* the fields were split in place: show them joined again */
            gf_sbuf got = GF_SBUF_INIT;
            for (size_t i = 0; i < k; i++)
                gf_sbuf_printf(&got, "%s%s", i ? "," : "", c->fields.v[i]);
            char shown[512];
            show(gf_sbuf_str(&got), got.len, 200, shown, sizeof shown);
            gf_sbuf_free(&got);
            rc =
                fail_line(c, err, "header '%s' is not the expected '%s", shown, gf_sbuf_str(&want));
        } else {
            c->columns = gf_xcalloc(k, sizeof *c->columns);
            for (size_t i = 0; i < k; i++)
                c->columns[i] = gf_xstrdup(names[i]);
            c->n_columns = k;
        }
    }
    gf_sbuf_free(&want);
    return rc;
}

gf_err gf_csv_bad_value(const gf_csv *c, size_t col, gf_error *err, const char *why, ...)
{
    char name[128], shown[256], msg[300];
    const char *v = gf_csv_field(c, col);
    column_name(c, col, name, sizeof name);
    show(v ? v : "", v ? strlen(v) : 0, 48, shown, sizeof shown);
    va_list ap;
    va_start(ap, why);
    vsnprintf(msg, sizeof msg, why, ap);
    va_end(ap);
    return fail_line(c, err, "column %s: value '%s' %s", name, shown, msg);
}

gf_err gf_csv_int(const gf_csv *c, size_t col, int64_t min, int64_t max, int64_t *out,
                  gf_error *err)
{
    const char *s = gf_csv_field(c, col);
    if (!s) return gf_csv_bad_value(c, col, err, "is missing");
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+') p++;
    if (*p < '0' || *p > '9') return gf_csv_bad_value(c, col, err, "is not an integer");
    uint64_t v = 0;
    const uint64_t limit = (uint64_t)INT64_MAX + (neg ? 1u : 0u);
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (limit - digit) / 10) return gf_csv_bad_value(c, col, err, "is out of range");
        v = v * 10 + digit;
    }
    if (*p) return gf_csv_bad_value(c, col, err, "is not an integer");
    int64_t x;
    if (neg)
        x = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    else
        x = (int64_t)v;
    if (x < min) {
        if (min == 0) return gf_csv_bad_value(c, col, err, "is negative");
        return gf_csv_bad_value(c, col, err, "is below %lld", (long long)min);
    }
    if (x > max) return gf_csv_bad_value(c, col, err, "is above %lld", (long long)max);
    *out = x;
    return GF_OK;
}
