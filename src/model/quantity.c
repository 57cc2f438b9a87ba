/* quantity.c - Kubernetes resource.Quantity parsing, see quantity.h.
 *
 * A quantity is mant * 10^exp10 * 2^exp2 with mant an exact integer; the
 * requested unit scale is folded into exp10 and the result rounded away from
 * zero (inf.RoundUp, as apimachinery's Value()/MilliValue() do). */
#include "model/quantity.h"

#include <stdbool.h>
#include <string.h>

typedef unsigned __int128 u128;

static const u128 U128_MAX = ~(u128)0;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses the suffix into decimal and binary exponents. */
static bool parse_suffix(const char *s, int64_t *exp10, int *exp2)
{
    static const struct {
        const char *name;
        int exp10, exp2;
    } table[] = {
        {"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
        {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
        {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(s, table[i].name) == 0) {
            *exp10 = table[i].exp10;
            *exp2 = table[i].exp2;
            return true;
        }
    }
    /* decimal exponent: e|E [+-] digits. apimachinery accepts any exponent
     * within +-(2^31-1) (suffix.go interpret, TestInterpretExponentInt32Bounds):
     * "1e-7466" is a valid 1n, not an error. */
    if (s[0] != 'e' && s[0] != 'E') return false;
    const char *p = s + 1;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!is_digit(*p)) return false;
    int64_t v = 0;
    for (; is_digit(*p); p++) {
        v = v * 10 + (*p - '0');
        if (v > INT32_MAX) return false;
    }
    if (*p) return false;
    *exp10 = neg ? -v : v;
    *exp2 = 0;
    return true;
}

static gf_err parse_scaled(const char *s, int scale_exp10, int64_t *out, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    if (!s || !*s) {
        *why = "empty quantity";
        return GF_EINPUT;
    }
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';

    const u128 mant_limit = (U128_MAX / 10) - 10;
    u128 mant = 0;
    int64_t exp10 = 0; /* 64 bits: fraction digits plus a +-(2^31-1) exponent */
    size_t ndigits = 0;
    for (; is_digit(*p); p++, ndigits++) {
        if (mant > mant_limit) {
            *why = "quantity has too many digits";
            return GF_EINPUT;
        }
        mant = mant * 10 + (u128)(*p - '0');
    }
    if (*p == '.') {
        for (p++; is_digit(*p); p++, ndigits++) {
            if (mant > mant_limit) {
                *why = "quantity has too many digits";
                return GF_EINPUT;
            }
            mant = mant * 10 + (u128)(*p - '0');
            exp10--;
        }
    }
    if (ndigits == 0) {
        *why = "quantity must start with a number (e.g. 500m, 1Gi, 2e3)";
        return GF_EINPUT;
    }
    int64_t sfx10;
    int sfx2;
    if (!parse_suffix(p, &sfx10, &sfx2)) {
        *why = "unknown quantity suffix (expected n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or eN)";
        return GF_EINPUT;
    }
    exp10 += sfx10 + scale_exp10;

    if (mant == 0) {
        *out = 0;
        return GF_OK;
    }
    while (exp10 < 0 && mant % 10 == 0) {
        mant /= 10;
        exp10++;
    }
    /* No Quantity exceeds 2^63-1 in magnitude, negative ones included
     * (quantity.go: "no quantity may represent a number greater than 2^63-1 in
     * magnitude"), so -2^63 is out of range too. */
    const u128 limit = (u128)INT64_MAX;
    /* multiply by 2^exp2 */
    for (int i = 0; i < sfx2; i++) {
        if (mant > U128_MAX / 2) {
            *why = "quantity is too large";
            return GF_EINPUT;
        }
        mant *= 2;
    }
    u128 v;
    if (exp10 >= 0) {
        v = mant;
        for (int64_t i = 0; i < exp10; i++) {
            if (v > limit / 10) {
                *why = "quantity is too large";
                return GF_EINPUT;
            }
            v *= 10;
        }
    } else if (exp10 < -38) {
        v = 1; /* mant < 2^128 < 10^39 <= 10^-exp10: a non-zero fraction rounds up to 1 */
    } else {
        u128 den = 1;
        for (int i = 0; i < -exp10; i++)
            den *= 10;
        v = mant / den + (mant % den != 0);
    }
    if (v > limit) {
        *why = "quantity is too large";
        return GF_EINPUT;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return GF_OK;
}

gf_err gf_quantity_value(const char *s, int64_t *out, const char **why)
{
    return parse_scaled(s, 0, out, why);
}

gf_err gf_quantity_milli(const char *s, int64_t *out, const char **why)
{
    return parse_scaled(s, 3, out, why);
}
