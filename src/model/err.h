/* err.h - gpufrac's error values and diagnostics.
 *
 * Every fallible function returns a gf_err (0 = success, negative = failure)
 * and, when given a gf_error, writes what went wrong and where (file, JSON
 * path, object) into it. Warnings that do not stop processing (an unknown
 * kind skipped, a GPU placement inferred) go into a gf_diags list that the
 * program prints. Nothing below main() exits or prints. */
#ifndef GF_ERR_H
#define GF_ERR_H

#include "util/vec.h"

#include <stddef.h>

typedef enum gf_err {
    GF_OK = 0,
    GF_EINPUT = -1, /* malformed or invalid input (exit code 2) */
    GF_EIO = -2,    /* a file or stream could not be read or written */
    GF_EUSAGE = -3, /* bad command-line usage (exit code 2) */
    GF_ENOTFOUND = -4,
    GF_EINTERNAL = -5 /* a bug: an invariant did not hold */
} gf_err;

typedef struct gf_error {
    gf_err code;
    char where[512]; /* e.g. "snap.json: items[3].metadata.annotations.gpu-fraction" */
    char msg[512];   /* e.g. "pod team-a/llm-0: gpu-fraction \"1.5\" is above 1" */
} gf_error;

/* Short name of a code ("invalid input", ...). */
const char *gf_strerror(gf_err code);

/* Fills e (if not NULL) and returns code, so callers can `return gf_error_set(...)`.
 * where may be NULL. */
gf_err gf_error_set(gf_error *e, gf_err code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "where: msg" (or just msg) into buf. */
void gf_error_format(const gf_error *e, char *buf, size_t n);

/* The process exit code for an error: 2 for input/usage, 1 otherwise. */
int gf_err_exit_code(gf_err code);

typedef struct gf_diags {
    GF_VEC(char *) msgs; /* owned, "where: message" */
} gf_diags;

void gf_diags_init(gf_diags *d);
void gf_diags_free(gf_diags *d); /* accepts NULL */
/* Adds a warning; d may be NULL (warning dropped). */
void gf_diag(gf_diags *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
