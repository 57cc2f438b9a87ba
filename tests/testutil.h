/* testutil.h - shared helpers for the cmocka test programs. */
#ifndef GF_TESTUTIL_H
#define GF_TESTUTIL_H

#include <setjmp.h> /* cmocka needs these before cmocka.h */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/model.h"

/* Absolute path of a fixture under tests/fixtures (static buffer). */
const char *gf_test_fixture(const char *name);
/* Loads the fixture files into m and finalizes; returns the error code and
 * fills err/d. */
gf_err gf_test_load(gf_model *m, gf_diags *d, gf_error *err, const char *fixture);
/* Loads a JSON text given inline. */
gf_err gf_test_load_text(gf_model *m, gf_diags *d, gf_error *err, const char *json);
/* True if any diagnostic contains needle. */
int gf_test_diag_has(const gf_diags *d, const char *needle);
/* Index of the pod ns/name, or -1. */
long gf_test_pod(const gf_model *m, const char *ns, const char *name);

#endif
