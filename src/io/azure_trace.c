/* azure_trace.c - the Azure LLM inference trace reader, see azure_trace.h.
 *
 * The one CSV reader (csv.h) reads a buffer; here it is pointed at each
 * chunk of whole lines in turn, its line count running on, so that a large
 * trace is never held in memory whole. */
#include "io/azure_trace.h"
#include "io/csv.h"
#include "io/usage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CHUNK_BYTES (1u << 16)
#define MAX_LINE_BYTES (1u << 20)

enum { C_TIME, C_CONTEXT, C_GENERATED, N_COLUMNS };

static const char *const columns[N_COLUMNS] = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"};

/* The trace writes "2023-11-16 18:17:03.9799600" in UTC without a zone:
 * give such a time its "Z" and read it as the usage loader reads times. */
static gf_err parse_time(const gf_csv *c, double *t, gf_error *err)
{
    const char *s = gf_csv_field(c, C_TIME);
    char buf[96], why[160];
    size_t n = strlen(s);
    bool zoneless = n >= 19 && n + 2 <= sizeof buf && s[4] == '-';
    for (size_t i = 19; zoneless && i < n; i++)
        zoneless = s[i] == '.' || (s[i] >= '0' && s[i] <= '9');
    if (zoneless) {
        memcpy(buf, s, n);
        buf[n] = 'Z';
        buf[n + 1] = '\0';
        s = buf;
    }
    if (gf_usage_parse_time(s, t, why, sizeof why))
        return gf_csv_bad_value(c, C_TIME, err, "is not a valid time: %s", why);
    return GF_OK;
}

static gf_err row(gf_request_trace *tr, const gf_csv *c, gf_error *err)
{
    double t;
    int64_t ctx, gen;
    gf_err rc;
    if ((rc = parse_time(c, &t, err)) ||
        (rc = gf_csv_int(c, C_CONTEXT, 0, (int64_t)GF_TRACE_MAX_TOKENS, &ctx, err)) ||
        (rc = gf_csv_int(c, C_GENERATED, 0, (int64_t)GF_TRACE_MAX_TOKENS, &gen, err)))
        return rc;
    rc = gf_request_trace_add(tr, t, (double)ctx, (double)gen, err);
    if (rc && err) gf_csv_where(c, err->where, sizeof err->where);
    return rc;
}

/* Reads the records of c's current buffer (the header first, once). */
static gf_err records(gf_request_trace *tr, gf_csv *c, bool *header_done, gf_error *err)
{
    gf_err rc;
    if (!*header_done) {
        if ((rc = gf_csv_header(c, columns, N_COLUMNS, N_COLUMNS, err))) return rc;
        *header_done = true;
    }
    while ((rc = gf_csv_next(c, err)) == GF_OK)
        if ((rc = row(tr, c, err))) return rc;
    return rc == GF_ENOTFOUND ? GF_OK : rc;
}

gf_err gf_azure_trace_load_buffer(gf_request_trace *tr, const char *name, const char *buf,
                                  size_t len, gf_error *err)
{
    gf_csv c;
    gf_csv_init(&c, name, buf, len);
    bool header_done = false;
    gf_err rc = records(tr, &c, &header_done, err);
    gf_csv_free(&c);
    return rc;
}

gf_err gf_azure_trace_load(gf_request_trace *tr, const char *path, gf_error *err)
{
    bool is_stdin = !strcmp(path, "-");
    const char *name = is_stdin ? "(stdin)" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return gf_error_set(err, GF_EIO, path, "cannot open: %s", strerror(errno));
    gf_csv c;
    gf_csv_init(&c, name, NULL, 0);
    gf_sbuf pending = GF_SBUF_INIT; /* bytes read, not yet parsed */
    char chunk[CHUNK_BYTES];
    bool header_done = false, first = true, eof = false;
    gf_err rc = GF_OK;
    while (!rc && !eof) {
        size_t n = fread(chunk, 1, sizeof chunk, f);
        if (n < sizeof chunk) {
            if (ferror(f)) {
                rc = gf_error_set(err, GF_EIO, name, "read failed: %s", strerror(errno));
                break;
            }
            eof = true;
        }
        gf_sbuf_append(&pending, chunk, n);
        /* the whole lines so far (everything at the end of the file) */
        const char *data = gf_sbuf_str(&pending);
        size_t whole = pending.len;
        if (!eof) {
            const char *nl = NULL;
            for (size_t i = pending.len; i-- > 0;)
                if (data[i] == '\n') {
                    nl = data + i;
                    break;
                }
            whole = nl ? (size_t)(nl - data) + 1 : 0;
            if (!nl && pending.len > MAX_LINE_BYTES) {
                rc = gf_error_set(err, GF_EINPUT, name, "line %lu is longer than %u bytes",
                                  c.line + 1, MAX_LINE_BYTES);
                break;
            }
            if (!whole) continue;
        }
        unsigned long line = c.line;
        if (first) {
            gf_csv_init(&c, name, data, whole); /* skips a byte order mark */
            first = false;
        } else {
            c.buf = data;
            c.len = whole;
            c.pos = 0;
        }
        c.line = line;
        rc = records(tr, &c, &header_done, err);
        /* keep the partial last line */
        if (pending.s) {
            memmove(pending.s, pending.s + whole, pending.len - whole);
            pending.len -= whole;
            pending.s[pending.len] = '\0';
        }
        c.buf = NULL;
        c.len = c.pos = 0;
    }
    if (!rc && !header_done) /* an empty file */
        rc = gf_azure_trace_load_buffer(tr, name, "", 0, err);
    if (!is_stdin) fclose(f);
    gf_sbuf_free(&pending);
    gf_csv_free(&c);
    return rc;
}
