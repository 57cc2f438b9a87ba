/* csv.h - a strict reader for plain comma-separated files (trace exports,
 * metric dumps): one record per line, no quoting.
 *
 * Files written by pandas, Prometheus exporters and spreadsheets without
 * special characters need no quotes (RFC 4180 quotes only fields holding a
 * comma, quote or line break). Rather than misread the rare file that does
 * quote, a field containing '"' is an error naming the line and column.
 * Accepted: LF or CRLF line ends, a UTF-8 byte order mark, a last line without
 * a newline, empty lines (skipped). Rejected: quotes, NUL bytes, a carriage
 * return not followed by a line feed, records whose width differs from the
 * header's.
 *
 * Errors go into a gf_error with where = "NAME:LINE" and a message such as
 *   column num_gpu: value '-1' is negative */
#ifndef GF_CSV_H
#define GF_CSV_H

#include "model/err.h"
#include "util/sbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gf_csv {
    const char *name; /* input name for messages, borrowed */
    const char *buf;  /* the whole input; borrowed, or owned when opened from a file */
    size_t len, pos;
    unsigned long line; /* line number of the current record, 1-based */
    /* current record: fields[i] are NUL-terminated, valid until the next read */
    GF_VEC(char *) fields;
    gf_sbuf row;      /* storage for the fields */
    char **columns;   /* header names (owned), after gf_csv_header() */
    size_t n_columns; /* width every record must have; 0 = not checked */
    gf_sbuf owned;    /* file contents read by gf_csv_open_file() */
} gf_csv;

/* Reads buf[0..len) (not copied: it must outlive the reader). */
void gf_csv_init(gf_csv *c, const char *name, const char *buf, size_t len);
/* Reads the whole file at path ("-" = standard input) into the reader. GF_EIO
 * when it cannot be read. name (messages) is path, or "(stdin)". gf_csv_free()
 * must be called either way. */
gf_err gf_csv_open_file(gf_csv *c, const char *path, gf_error *err);
void gf_csv_free(gf_csv *c); /* accepts NULL */

/* Reads the next record into c->fields. GF_OK: a record; GF_ENOTFOUND: end
 * of input (err untouched); GF_EINPUT: a malformed line, or a width other
 * than n_columns (message names the missing or extra columns). */
gf_err gf_csv_next(gf_csv *c, gf_error *err);

/* Reads the first record as the header and checks that it is exactly
 * names[0..k) for some k with n_required <= k <= n_names, i.e. the trailing
 * columns past n_required may be absent. On success every later record must
 * have k fields. The error names the input and the expected header. */
gf_err gf_csv_header(gf_csv *c, const char *const *names, size_t n_required, size_t n_names,
                     gf_error *err);

/* Number of fields in the current record. */
static inline size_t gf_csv_width(const gf_csv *c)
{
    return c->fields.n;
}

/* Field col of the current record, or NULL past its end. */
static inline const char *gf_csv_field(const gf_csv *c, size_t col)
{
    return col < c->fields.n ? c->fields.v[col] : NULL;
}

/* "NAME:LINE" of the current record into buf. */
void gf_csv_where(const gf_csv *c, char *buf, size_t n);

/* Fails with GF_EINPUT: "NAME:LINE" / "column C: value 'V' is <why>" (V shown
 * escaped and shortened). Returns GF_EINPUT. */
gf_err gf_csv_bad_value(const gf_csv *c, size_t col, gf_error *err, const char *why, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses field col as a decimal integer in [min, max] (an optional '+'; no
 * spaces, no fraction, no exponent). Errors say "is not an integer", "is
 * negative" (min 0) or "is above MAX"/"is below MIN". */
gf_err gf_csv_int(const gf_csv *c, size_t col, int64_t min, int64_t max, int64_t *out,
                  gf_error *err);

#endif
