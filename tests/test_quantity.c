/* test_quantity.c - Kubernetes resource.Quantity parsing (model/quantity.h).
 *
 * Expected values come from the definition in k8s.io/apimachinery
 * pkg/api/resource (quantity.go: the grammar, "no quantity may represent a
 * number greater than 2^63-1 in magnitude"; Value()/MilliValue() round up,
 * away from zero) and from the cases in its quantity_test.go
 * (TestQuantityParse, TestNegativeValueRoundsAwayFromZero,
 * TestInterpretExponentInt32Bounds). Where apimachinery caps an oversized value
 * at 2^63-1, gpufrac reports an error instead (quantity.h). */
#include "testutil.h"
#include "model/quantity.h"

#include <string.h>

/* a valid quantity: ceil away from zero in units and in thousandths */
typedef struct ok_case {
    const char *in;
    int64_t value;
    int64_t milli;
} ok_case;

/* valid, but its milli value does not fit int64 */
typedef struct big_case {
    const char *in;
    int64_t value;
} big_case;

/* an error, and a word its explanation must contain */
typedef struct bad_case {
    const char *in;
    const char *why;
} bad_case;

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check_why(const char *in, const char *why, const char *needle)
{
    if (!why || !*why) fail_msg("\"%s\": error without an explanation", in);
    if (needle && !strstr(why, needle))
        fail_msg("\"%s\": explanation \"%s\" does not mention \"%s\"", in, why, needle);
}

static void check_ok(const ok_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = -12345, m = -12345;
        const char *why = NULL;
        if (gf_quantity_value(c[i].in, &v, &why) != GF_OK)
            fail_msg("\"%s\": value failed: %s", c[i].in, why);
        if (v != c[i].value)
            fail_msg("\"%s\": value %lld, want %lld", c[i].in, (long long)v, (long long)c[i].value);
        why = NULL;
        if (gf_quantity_milli(c[i].in, &m, &why) != GF_OK)
            fail_msg("\"%s\": milli failed: %s", c[i].in, why);
        if (m != c[i].milli)
            fail_msg("\"%s\": milli %lld, want %lld", c[i].in, (long long)m, (long long)c[i].milli);
    }
}

static void check_big(const big_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = -12345, m;
        const char *why = NULL;
        if (gf_quantity_value(c[i].in, &v, &why) != GF_OK)
            fail_msg("\"%s\": value failed: %s", c[i].in, why);
        if (v != c[i].value)
            fail_msg("\"%s\": value %lld, want %lld", c[i].in, (long long)v, (long long)c[i].value);
        why = NULL;
        if (gf_quantity_milli(c[i].in, &m, &why) != GF_EINPUT)
            fail_msg("\"%s\": milli should overflow, got %lld", c[i].in, (long long)m);
        check_why(c[i].in, why, "too large");
    }
}

static void check_bad(const bad_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        const char *why = NULL;
        if (gf_quantity_value(c[i].in, &v, &why) != GF_EINPUT)
            fail_msg("\"%s\": value should fail, got %lld", c[i].in, (long long)v);
        check_why(c[i].in, why, c[i].why);
        why = NULL;
        if (gf_quantity_milli(c[i].in, &v, &why) != GF_EINPUT)
            fail_msg("\"%s\": milli should fail, got %lld", c[i].in, (long long)v);
        check_why(c[i].in, why, c[i].why);
    }
}

/* --- valid ---------------------------------------------------------------- */

/* The Quantity documentation's example: these are all (about) the same memory. */
static void test_docs_example(void **state)
{
    (void)state;
    static const ok_case c[] = {
        {"128974848", 128974848, 128974848000}, {"129e6", 129000000, 129000000000},
        {"129M", 129000000, 129000000000},      {"128974848000m", 128974848, 128974848000},
        {"123Mi", 128974848, 128974848000},
    };
    check_ok(c, N(c));
}

static void test_cpu(void **state)
{
    (void)state;
    static const ok_case c[] = {
        {"500m", 1, 500}, {"1", 1, 1000},      {"0.1", 1, 100},    {"2", 2, 2000},
        {"2.5", 3, 2500}, {"12.5", 13, 12500}, {"1500m", 2, 1500}, {"100m", 1, 100},
        {"0", 0, 0},      {"0m", 0, 0},        {"0.0", 0, 0},      {"1000m", 1, 1000},
        {"7.5m", 1, 8},   {"1e-3", 1, 1},      {"100n", 1, 1},     {"1u", 1, 1},
        {"1000u", 1, 1},  {"1001u", 1, 2},     {"3.001n", 1, 1},   {"1m", 1, 1},
    };
    check_ok(c, N(c));
}

static void test_binary_suffixes(void **state)
{
    (void)state;
    static const ok_case c[] = {
        {"1Gi", 1073741824, 1073741824000},
        {"1.5Gi", 1610612736, 1610612736000},
        {"1Ki", 1024, 1024000},
        {"8Ki", 8192, 8192000},
        {"7Mi", 7340032, 7340032000},
        {"6Gi", 6442450944, 6442450944000},
        {"5Ti", 5497558138880, 5497558138880000},
        {"4Pi", 4503599627370496, 4503599627370496000},
        {"10Ti", 10995116277760, 10995116277760000},
        {"100Ti", 109951162777600, 109951162777600000},
        {"0Ki", 0, 0},
        {"0Gi", 0, 0},
        /* fractional binary quantities, rounded up */
        {"0.5Mi", 524288, 524288000},
        {"0.05Gi", 53687092, 53687091200},
        {"0.025Ti", 27487790695, 27487790694400},
        {"100.035Ki", 102436, 102435840},
        {"0.000000000001Ki", 1, 1},
        {".001Ki", 2, 1024},
    };
    check_ok(c, N(c));
    static const big_case b[] = {
        {"3Ei", 3458764513820540928},
        {"7Ei", 8070450532247928832},
    };
    check_big(b, N(b));
}

static void test_decimal_suffixes(void **state)
{
    (void)state;
    static const ok_case c[] = {
        {"1G", 1000000000, 1000000000000},
        {"5n", 1, 1},
        {"4u", 1, 1},
        {"3m", 1, 3},
        {"9", 9, 9000},
        {"8k", 8000, 8000000},
        {"50k", 50000, 50000000},
        {"7M", 7000000, 7000000000},
        {"6G", 6000000000, 6000000000000},
        {"5T", 5000000000000, 5000000000000000},
        {"40T", 40000000000000, 40000000000000000},
        {"300T", 300000000000000, 300000000000000000},
        {"2P", 2000000000000000, 2000000000000000000},
        {"0n", 0, 0},
        {"0u", 0, 0},
        {"0k", 0, 0},
        {"0M", 0, 0},
        {"0T", 0, 0},
    };
    check_ok(c, N(c));
    static const big_case b[] = {
        {"1E", 1000000000000000000},
    };
    check_big(b, N(b));
}

static void test_decimal_exponents(void **state)
{
    (void)state;
    static const ok_case c[] = {
        {"1E-3", 1, 1},
        {"1e3", 1000, 1000000},
        {"1E6", 1000000, 1000000000},
        {"1e9", 1000000000, 1000000000000},
        {"1E12", 1000000000000, 1000000000000000},
        {"1e15", 1000000000000000, 1000000000000000000},
        {"1e14", 100000000000000, 100000000000000000},
        {"1e13", 10000000000000, 10000000000000000},
        {"1.2e3", 1200, 1200000},
        {"1.3E+6", 1300000, 1300000000},
        {"1.40e9", 1400000000, 1400000000000},
        {"1.53E12", 1530000000000, 1530000000000000},
        {"1.6e15", 1600000000000000, 1600000000000000000},
        {"0.5e0", 1, 500},
        {"0.5e-1", 1, 50},
        {"0.5e-2", 1, 5},
        {"1.1E-9", 1, 1},
        {"0.5e-9", 1, 1},
        {"2e3", 2000, 2000000},
        {"1e+3", 1000, 1000000},
        {"1e03", 1000, 1000000},
        {"1.e3", 1000, 1000000},
        /* apimachinery accepts exponents up to +-(2^31-1); tiny values round up */
        {"1e-1000", 1, 1},
        {".484785E-7466", 1, 1},
        {"1e-2147483647", 1, 1},
        {"0e2147483647", 0, 0},
    };
    check_ok(c, N(c));
    static const big_case b[] = {
        {"1E18", 1000000000000000000},
        {"1.7E18", 1700000000000000000},
    };
    check_big(b, N(b));
}

static void test_fractions(void **state)
{
    (void)state;
    static const ok_case c[] = {
        {"1.5", 2, 1500},
        {".5", 1, 500},
        {"5.", 5, 5000},
        {"1.", 1, 1000},
        {"1.G", 1000000000, 1000000000000},
        {".001", 1, 1},
        {".0001k", 1, 100},
        {"0.001", 1, 1},
        {"0.0005k", 1, 500},
        {"0.005", 1, 5},
        {"0.00500", 1, 5},
        {"0.50000", 1, 500},
        {"9.01", 10, 9010},
        {"8.1k", 8100, 8100000},
        {"7.123456M", 7123456, 7123456000},
        {"6.987654321G", 6987654321, 6987654321000},
        {"5.444T", 5444000000000, 5444000000000000},
        {"40.1T", 40100000000000, 40100000000000000},
        {"300.2T", 300200000000000, 300200000000000000},
        {"2.5P", 2500000000000000, 2500000000000000000},
        {"100.035k", 100035, 100035000},
        {"10.035M", 10035000, 10035000000},
        {"0.00000012345", 1, 1},
        {"0.0000000001", 1, 1},
        {"007", 7, 7000},
    };
    check_ok(c, N(c));
    static const big_case b[] = {
        {"1.01E", 1010000000000000000},
    };
    check_big(b, N(b));
}

/* Negative values round away from zero (TestNegativeValueRoundsAwayFromZero). */
static void test_signs(void **state)
{
    (void)state;
    static const ok_case c[] = {
        {"+1", 1, 1000},
        {"-1", -1, -1000},
        {"-0", 0, 0},
        {"+0.5", 1, 500},
        {"-9.01", -10, -9010},
        {"1500m", 2, 1500},
        {"-1500m", -2, -1500},
        {"0.0005", 1, 1},
        {"-0.0005", -1, -1},
        {".484785E-1", 1, 49},
        {"-.484785E-1", -1, -49},
        {"9.5000000001Gi", 10200547329, 10200547328108},
        {"-9.5000000001Gi", -10200547329, -10200547328108},
        {"-.484785E-7466", -1, -1},
    };
    check_ok(c, N(c));
}

static void test_int64_limits(void **state)
{
    (void)state;
    static const ok_case c[] = {
        {"9223372036854775.807", 9223372036854776, INT64_MAX},
        {"-9223372036854775.807", -9223372036854776, -INT64_MAX},
    };
    check_ok(c, N(c));
    static const big_case b[] = {
        {"9223372036854775807", INT64_MAX},         {"-9223372036854775807", -INT64_MAX},
        {"9223372036854775.808", 9223372036854776}, {"-9223372036854775.808", -9223372036854776},
        {"9223372036854776", 9223372036854776},
    };
    check_big(b, N(b));
}

/* --- invalid -------------------------------------------------------------- */

static void test_empty(void **state)
{
    (void)state;
    int64_t v;
    const char *why = NULL;
    assert_int_equal(gf_quantity_value(NULL, &v, &why), GF_EINPUT);
    check_why("(null)", why, "empty");
    why = NULL;
    assert_int_equal(gf_quantity_milli(NULL, &v, &why), GF_EINPUT);
    check_why("(null)", why, "empty");
    static const bad_case c[] = {{"", "empty"}};
    check_bad(c, N(c));
}

static void test_not_a_number(void **state)
{
    (void)state;
    static const char *const need = "must start with a number";
    static const bad_case c[] = {
        {"abc", need},
        {"aoeu", need},
        {"--1", need},
        {"+-1", need},
        {"-+1", need},
        {" 1", need},
        {"x1", need},
        {"NaN", need},
        {"nan", need},
        {"inf", need},
        {"Inf", need},
        {"+Inf", need},
        {"-inf", need},
        {"Infinity", need},
        {"\t1", need},
        /* apimachinery's scanner reads these as 0, but its documented grammar
         * (<signedNumber> needs a digit) does not allow them */
        {"e3", need},
        {"E3", need},
        {".", need},
        {"-", need},
        {"+", need},
        {"-.", need},
        {"m", need},
        {"Ki", need},
        {".e3", need},
    };
    check_bad(c, N(c));
}

static void test_bad_suffix(void **state)
{
    (void)state;
    static const char *const need = "suffix";
    static const bad_case c[] = {
        {"1.2.3", need},
        {"1.1.M", need},
        {"1+1.0M", need},
        {"0.1mi", need},
        {"0.1am", need},
        {".5i", need},
        {"1i", need},
        {"-3.01i", need},
        {"-3.01e-", need},
        {"1Zi", need},
        {"1Z", need},
        {"1 Gi", need},
        {"1 ", need},
        {"1e", need},
        {"1E+", need},
        {"1e-", need},
        {"1e1.5", need},
        {"1KI", need},
        {"1ki", need},
        {"1K", need},
        {"1mm", need},
        {"1Mii", need},
        {"1e3Mi", need},
        {"1Gi5", need},
        {"1\n", need},
        {"1\t", need},
        {"0x10", need},
        {"1,5", need},
        {"1_000", need},
        {"1/2", need},
        {"50%", need},
        {"2000Mib", need},
        {"1gi", need},
        {"1g", need},
        {"1B", need},
        {"1\xc2\xb5", need},
        {"1e4294967297", need},
        {"1E2147483648", need},
        {"1e-2147483648", need},
        {"1e99999999999", need},
    };
    check_bad(c, N(c));
}

/* apimachinery caps these at 2^63-1; gpufrac rejects them (quantity.h) */
static void test_overflow(void **state)
{
    (void)state;
    static const char *const need = "too large";
    static const bad_case c[] = {
        {"9223372036854775808", need},
        {"-9223372036854775808", need},
        {"9999999999999999999999", need},
        {"8Ei", need},
        {"-8Ei", need},
        {"9Ei", need},
        {"9223372036854775807Ki", need},
        {"12E", need},
        {"10E", need},
        {"1e19", need},
        {"1E2147483647", need},
        {"-1E2147483647", need},
        {"99999999999999999999999999999999999999999999999999", "too many digits"},
    };
    check_bad(c, N(c));
}

/* why is optional for the quantity functions */
static void test_why_optional(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(gf_quantity_value("1Zi", &v, NULL), GF_EINPUT);
    assert_int_equal(gf_quantity_milli("", &v, NULL), GF_EINPUT);
    assert_int_equal(gf_quantity_milli("250m", &v, NULL), GF_OK);
    assert_int_equal(v, 250);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_example),
        cmocka_unit_test(test_cpu),
        cmocka_unit_test(test_binary_suffixes),
        cmocka_unit_test(test_decimal_suffixes),
        cmocka_unit_test(test_decimal_exponents),
        cmocka_unit_test(test_fractions),
        cmocka_unit_test(test_signs),
        cmocka_unit_test(test_int64_limits),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_not_a_number),
        cmocka_unit_test(test_bad_suffix),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_why_optional),
    };
    return cmocka_run_group_tests_name("quantity", tests, NULL, NULL);
}
