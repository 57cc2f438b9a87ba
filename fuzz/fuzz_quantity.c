/* fuzz_quantity.c - libFuzzer harness for the Quantity and KAI value parsers.
 * The input, cut at its first NUL, is given to every parser: each must
 * succeed with a value in its documented range or fail with an explanation,
 * never crash or overflow, and the parsers must agree with one another. */
#include "model/kai.h"
#include "model/quantity.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_why(gf_err rc, const char *why)
{
    if (rc != GF_OK && rc != GF_EINPUT) abort();
    if (rc != GF_OK && (!why || !*why)) abort(); /* every error says what went wrong */
}

/* ceil(|milli| / 1000) with milli's sign: what Value() is, given MilliValue() */
static int64_t units_of(int64_t milli)
{
    int64_t mag = milli < 0 ? -milli : milli; /* |milli| <= INT64_MAX: no -2^63 */
    int64_t units = mag / 1000 + (mag % 1000 != 0);
    return milli < 0 ? -units : units;
}

static void check_quantity(const char *s)
{
    int64_t value = 0, milli = 0;
    const char *why_v = NULL, *why_m = NULL;
    gf_err rv = gf_quantity_value(s, &value, &why_v);
    gf_err rm = gf_quantity_milli(s, &milli, &why_m);
    check_why(rv, why_v);
    check_why(rm, why_m);
    if (rm == GF_OK) {
        if (milli == INT64_MIN) abort(); /* no Quantity exceeds 2^63-1 in magnitude */
        if (rv != GF_OK) abort();        /* the value is smaller than the milli value */
        if (value != units_of(milli)) abort();
    }
    if (rv == GF_OK && value == INT64_MIN) abort();
    if (rv != GF_OK && rm == GF_OK) abort();
    /* a syntax error does not depend on the unit asked for */
    if ((rv == GF_OK) != (rm == GF_OK) && strstr(why_m, "too large") == NULL) abort();
}

static void check_kai(const char *s)
{
    const char *why = NULL;
    double f = -1;
    gf_err rc = gf_kai_parse_fraction(s, &f, &why);
    check_why(rc, why);
    if (rc == GF_OK && !(isfinite(f) && f > 0 && f < 1)) abort(); /* KAI's webhook: 0 < f < 1 */

    static const int64_t maxes[] = {0, 1, 64, 4096, INT64_MAX};
    for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++) {
        int64_t n = -1;
        why = NULL;
        rc = gf_kai_parse_count(s, maxes[i], &n, &why);
        check_why(rc, why);
        if (rc == GF_OK && (n < 1 || n > maxes[i])) abort();
        if (rc == GF_OK && maxes[i] == INT64_MAX) {
            /* a positive integer is also a Quantity of that many units */
            int64_t q = 0;
            if (gf_quantity_value(s, &q, NULL) != GF_OK || q != n) abort();
        }
    }

    int64_t mib = -1;
    why = NULL;
    rc = gf_kai_parse_gpu_memory_mib(s, &mib, &why);
    check_why(rc, why);
    if (rc == GF_OK && (mib < 1 || mib > (int64_t)1 << 34)) abort();

    if (gf_kai_known_gpu_memory_mib(s) < 0) abort();
    /* a node's GPU memory as KAI counts it: at least 100 MiB, a multiple of 100 */
    bool from_label;
    int64_t node_mib = gf_kai_node_gpu_memory_mib(s, &from_label);
    if (node_mib < 100 || node_mib % 100) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_quantity(s);
    check_kai(s);
    free(s);
    return 0;
}
