/* test_kai.c - KAI Scheduler metadata parsing (model/kai.h).
 *
 * Rules from NVIDIA/KAI-Scheduler (summarised in shared/research/kai.md): the
 * admission webhook (pkg/binder/plugins/gpusharing/gpu-request/
 * gpu_request_validator.go) accepts gpu-fraction read with strconv.ParseFloat
 * when 0 < f < 1, gpu-memory and gpu-fraction-num-devices read with
 * strconv.ParseUint when above 0; the scheduler reads a node's GPU memory in
 * pkg/scheduler/api/node_info/node_info.go getNodeGpuMemory. GPU memory per product is what GPU
 * feature discovery writes into nvidia.com/gpu.memory (MiB) next to nvidia.com/gpu.product. */
#include "testutil.h"
#include "model/kai.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

typedef struct bad_case {
    const char *in;
    const char *why; /* a word the explanation must contain, or NULL */
} bad_case;

static void check_why(const char *in, const char *why, const char *needle)
{
    if (!why || !*why) fail_msg("\"%s\": error without an explanation", in ? in : "(null)");
    if (needle && !strstr(why, needle))
        fail_msg("\"%s\": explanation \"%s\" does not mention \"%s\"", in ? in : "(null)", why,
                 needle);
}

/* --- metadata keys ---------------------------------------------------------- */

static void test_keys(void **state)
{
    (void)state;
    assert_string_equal(GF_KAI_GPU_FRACTION, "gpu-fraction");
    assert_string_equal(GF_KAI_GPU_MEMORY, "gpu-memory");
    assert_string_equal(GF_KAI_NUM_DEVICES, "gpu-fraction-num-devices");
    assert_string_equal(GF_KAI_CONTAINER_NAME, "gpu-fraction-container-name");
    assert_string_equal(GF_KAI_RESERVE_GPU_INDEX, "run.ai/reserve_for_gpu_index");
    assert_string_equal(GF_KAI_QUEUE, "kai.scheduler/queue");
    assert_string_equal(GF_KAI_GPU_GROUP, "runai-gpu-group");
    assert_string_equal(GF_KAI_NODE_POOL, "kai.scheduler/node-pool");
    assert_string_equal(GF_KAI_RESERVATION_NS, "kai-resource-reservation");
    assert_string_equal(GF_KAI_SCHEDULER_NAME, "kai-scheduler");
    assert_string_equal(GF_LABEL_GPU_MEMORY, "nvidia.com/gpu.memory");
}

/* --- gpu-fraction ----------------------------------------------------------- */

static void test_fraction_valid(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        double want;
    } c[] = {
        {"0.5", 0.5},     {"0.95", 0.95},  {"0.99999", 0.99999}, {"0.25", 0.25}, {"0.1", 0.1},
        {".5", 0.5},      {"5e-1", 0.5},   {"+0.5", 0.5},        {"1e-1", 0.1},  {"0.0001", 0.0001},
        {"0.333", 0.333}, {"0x1p-1", 0.5}, /* Go's ParseFloat reads hex floats with a p exponent */
    };
    for (size_t i = 0; i < N(c); i++) {
        double f = -1;
        const char *why = NULL;
        if (gf_kai_parse_fraction(c[i].in, &f, &why) != GF_OK)
            fail_msg("\"%s\": failed: %s", c[i].in, why);
        if (f != c[i].want) fail_msg("\"%s\": %.17g, want %.17g", c[i].in, f, c[i].want);
    }
}

static void test_fraction_invalid(void **state)
{
    (void)state;
    static const bad_case c[] = {
        {NULL, "empty"},           {"", "empty"},
        {"0", "above 0"},          {"0.0", "above 0"},
        {"-0", "above 0"},         {"0e5", "above 0"},
        {"-0.5", "above 0"},       {"-1", "above 0"},
        {"1.5", "below 1"},        {"1.0000001", "below 1"},
        {"2", "below 1"},          {"100", "below 1"},
        {"1", "below 1"},          {"1.0", "below 1"},                /* the webhook refuses 1 */
        {"1e0", "below 1"},        {"1.0000000000000001", "below 1"}, /* == 1.0 */
        {"NaN", "finite"},         {"nan", "finite"},
        {"inf", "finite"},         {"+Inf", "finite"},
        {"-inf", "finite"},        {"Infinity", "finite"},
        {"0.5x", "not a number"},  {"x0.5", "not a number"},
        {"0.5 ", "not a number"},  {"0.5\n", "not a number"},
        {"0,5", "not a number"},   {"1/2", "not a number"},
        {"50%", "not a number"},   {"0.5.1", "not a number"},
        {"--0.5", "not a number"}, {"abc", "not a number"},
        {".", "not a number"},     {"-", "not a number"},
        {"e-1", "not a number"},   {"500m", "not a number"},
        {" 0.5", "white space"},   {"\t0.5", "white space"},
        {"1e400", NULL},  /* out of double range: ParseFloat's ErrRange */
        {"1e-400", NULL}, /* underflows to 0, which KAI does not accept either */
    };
    for (size_t i = 0; i < N(c); i++) {
        double f = -1;
        const char *why = NULL;
        if (gf_kai_parse_fraction(c[i].in, &f, &why) != GF_EINPUT)
            fail_msg("\"%s\": should fail, got %.17g", c[i].in ? c[i].in : "(null)", f);
        check_why(c[i].in, why, c[i].why);
    }
}

/* --- gpu-memory and counts ---------------------------------------------------- */

static void test_gpu_memory(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
    } ok[] = {
        {"1", 1},
        {"20000", 20000},
        {"81920", 81920},
        {"007", 7},                   /* ParseUint reads leading zeros */
        {"17179869184", 17179869184}, /* the largest accepted: 16 PiB */
    };
    for (size_t i = 0; i < N(ok); i++) {
        int64_t v = -1;
        const char *why = NULL;
        if (gf_kai_parse_gpu_memory_mib(ok[i].in, &v, &why) != GF_OK)
            fail_msg("\"%s\": failed: %s", ok[i].in, why);
        if (v != ok[i].want)
            fail_msg("\"%s\": %lld, want %lld", ok[i].in, (long long)v, (long long)ok[i].want);
    }
    static const bad_case bad[] = {
        {NULL, "empty"},
        {"", "empty"},
        {"0", "positive"},
        {"000", "positive"},
        {"-1", "positive"},
        {"+5", "not an integer"}, /* ParseUint takes no sign */
        {"-0", "positive"},
        {"1.5", "not an integer"},
        {"2000Mi", "not an integer"}, /* always MiB, never a Quantity */
        {"20Gi", "not an integer"},
        {"1e3", "not an integer"},
        {" 100", "not an integer"},
        {"100 ", "not an integer"},
        {"0x10", "not an integer"},
        {"abc", "not an integer"},
        {"+", "not an integer"},
        {"NaN", "not an integer"},
        {"inf", "not an integer"},
        {"17179869185", "too large"},
        {"9223372036854775807", "too large"},
        {"9223372036854775808", "too large"},
        {"99999999999999999999", "too large"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        int64_t v = -1;
        const char *why = NULL;
        if (gf_kai_parse_gpu_memory_mib(bad[i].in, &v, &why) != GF_EINPUT)
            fail_msg("\"%s\": should fail, got %lld", bad[i].in ? bad[i].in : "(null)",
                     (long long)v);
        check_why(bad[i].in, why, bad[i].why);
    }
}

static void test_count(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t max, want;
    } ok[] = {
        {"1", 64, 1},
        {"2", 64, 2},
        {"64", 64, 64},
        {"4096", 4096, 4096},
        {"9", 9, 9},
        {"0009", 9, 9},
        {"9223372036854775807", INT64_MAX, INT64_MAX},
        {"9223372036854775806", INT64_MAX, INT64_MAX - 1},
    };
    for (size_t i = 0; i < N(ok); i++) {
        int64_t v = -1;
        const char *why = NULL;
        if (gf_kai_parse_count(ok[i].in, ok[i].max, &v, &why) != GF_OK)
            fail_msg("\"%s\" (max %lld): failed: %s", ok[i].in, (long long)ok[i].max, why);
        if (v != ok[i].want)
            fail_msg("\"%s\": %lld, want %lld", ok[i].in, (long long)v, (long long)ok[i].want);
    }
    static const struct {
        const char *in;
        int64_t max;
        const char *why;
    } bad[] = {
        {"65", 64, "too large"},
        {"10", 9, "too large"},
        {"1", 0, "too large"},
        {"4097", 4096, "too large"},
        /* past int64: must be rejected without overflowing */
        {"9223372036854775808", INT64_MAX, "too large"},
        {"18446744073709551616", INT64_MAX, "too large"},
        {"99999999999999999999999", INT64_MAX, "too large"},
        {"0", 64, "positive"},
        {"-1", 64, "positive"},
        {"-9223372036854775808", INT64_MAX, "positive"},
        {"1.2", 64, "not an integer"}, /* KAI rejects a fractional device count */
        {"", 64, "empty"},
        {NULL, 64, "empty"},
        {"two", 64, "not an integer"},
        {" 2", 64, "not an integer"},
        {"2 ", 64, "not an integer"},
        {"2e1", 64, "not an integer"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        int64_t v = -1;
        const char *why = NULL;
        if (gf_kai_parse_count(bad[i].in, bad[i].max, &v, &why) != GF_EINPUT)
            fail_msg("\"%s\" (max %lld): should fail, got %lld", bad[i].in ? bad[i].in : "(null)",
                     (long long)bad[i].max, (long long)v);
        check_why(bad[i].in, why, bad[i].why);
    }
}

/* --- known GPU memory ----------------------------------------------------------- */

/* Values seen in nvidia.com/gpu.memory next to that nvidia.com/gpu.product on
 * GPU-feature-discovery-labelled nodes. */
static void test_known_memory(void **state)
{
    (void)state;
    static const struct {
        const char *product;
        int64_t mib;
    } c[] = {
        {"NVIDIA-H100-80GB-HBM3", 81559},
        {"NVIDIA-H100-PCIe", 81559},
        {"NVIDIA-L40S", 46068},
        {"NVIDIA-L4", 23034},
        {"Tesla-T4", 15360},
        {"NVIDIA-A10G", 23028},
        {"NVIDIA-A10G-SHARED", 23028}, /* time-slicing with renameByDefault */
        {"NVIDIA-A100-SXM4-80GB", 81920},
        {"NVIDIA-A100-80GB-PCIe", 81920},
        {"NVIDIA-A100-SXM4-40GB", 40960},
        {"GRID-A100-40C", 40960},
    };
    for (size_t i = 0; i < N(c); i++) {
        int64_t mib = gf_kai_known_gpu_memory_mib(c[i].product);
        if (mib != c[i].mib)
            fail_msg("%s: %lld MiB, want %lld", c[i].product, (long long)mib, (long long)c[i].mib);
    }
    /* in the table; no GFD label at hand to pin the exact MiB */
    static const char *const known[] = {
        "NVIDIA-H200",          "NVIDIA-L40",           "NVIDIA-A10",
        "Tesla-V100-SXM2-16GB", "Tesla-V100-SXM2-32GB", "Tesla-P100-PCIE-16GB",
    };
    for (size_t i = 0; i < N(known); i++)
        if (gf_kai_known_gpu_memory_mib(known[i]) <= 0) fail_msg("%s: not known", known[i]);
    assert_true(gf_kai_known_gpu_memory_mib("Tesla-V100-SXM2-32GB") >
                gf_kai_known_gpu_memory_mib("Tesla-V100-SXM2-16GB"));
    /* the 32 GB V100 in its PCIe form too, not the 16 GB default */
    assert_int_equal(gf_kai_known_gpu_memory_mib("Tesla-V100-PCIE-32GB"),
                     gf_kai_known_gpu_memory_mib("Tesla-V100-SXM2-32GB"));
}

static void test_unknown_memory(void **state)
{
    (void)state;
    assert_int_equal(gf_kai_known_gpu_memory_mib(NULL), 0);
    static const char *const c[] = {
        "",
        "NVIDIA-B200",
        "NVIDIA-A40",
        "NVIDIA-A30",
        "NVIDIA-A16-4Q",
        "NVIDIA-RTX-4000-Ada-Generation",
        "AMD-Instinct-MI300X",
        /* names that contain a known one inside a longer word */
        "NVIDIA-RTX-A1000",   /* not an A100 or an A10 */
        "NVIDIA-GH200-480GB", /* not an H200 */
        "NVIDIA-T400",        /* not a T4 */
        "Quadro-P1000",       /* not a P100 */
        "NVIDIA-A100X",
        /* a MIG slice has only part of the card's memory (GFD labels this
         * one gpu.memory=9728) */
        "NVIDIA-A100-80GB-PCIe-MIG-1g.10gb",
        "NVIDIA-A100-SXM4-40GB-MIG-3g.20gb",
    };
    for (size_t i = 0; i < N(c); i++) {
        int64_t mib = gf_kai_known_gpu_memory_mib(c[i]);
        if (mib != 0) fail_msg("\"%s\": %lld MiB, want unknown (0)", c[i], (long long)mib);
    }
}

/* --- a node's GPU memory, as KAI's scheduler counts it ----------------------- */

/* node_info.go getNodeGpuMemory: ParseInt, bytes above 1 TiB-in-MiB, floor to
 * 100 MiB, 100 MiB (DefaultGpuMemory) without a usable label. */
static void test_node_gpu_memory(void **state)
{
    (void)state;
    static const struct {
        const char *label;
        int64_t want;
        bool from_label;
    } c[] = {
        {"23034", 23000, true},               /* L4 as GFD writes it: floored */
        {"81559", 81500, true},               /* H100 */
        {"81920", 81900, true},               /* A100-80GB */
        {"100", 100, true},                   /* already a multiple */
        {"+40960", 40900, true},              /* ParseInt takes a sign */
        {"1048575", 1048500, true},           /* just under 1 TiB in MiB: still MiB */
        {"85899345920", 81900, true},         /* 80 GiB in bytes (GFD bug): converted */
        {"1048576", 100, true},               /* 1 TiB in MiB read as bytes: 1 MiB -> 0 -> 100 */
        {"99", 100, true},                    /* KAI would floor to 0: gpufrac keeps 100 */
        {NULL, 100, false},                   /* missing: DefaultGpuMemory */
        {"", 100, false},                     /* unparsable */
        {"80Gi", 100, false},                 /* a Quantity is not an integer */
        {"81920 ", 100, false},               /* ParseInt refuses spaces */
        {"99999999999999999999", 100, false}, /* out of int64: ParseInt fails */
    };
    for (size_t i = 0; i < N(c); i++) {
        bool from = !c[i].from_label;
        int64_t v = gf_kai_node_gpu_memory_mib(c[i].label, &from);
        if (v != c[i].want || from != c[i].from_label)
            fail_msg("label \"%s\": %lld MiB from_label=%d, want %lld and %d",
                     c[i].label ? c[i].label : "(none)", (long long)v, from, (long long)c[i].want,
                     c[i].from_label);
    }
}

/* What gpufrac may write: 0 < f < 1 (validateGpuFractionAnnotation). */
static void test_fraction_ok(void **state)
{
    (void)state;
    assert_true(gf_kai_fraction_ok(0.05));
    assert_true(gf_kai_fraction_ok(0.95));
    assert_true(gf_kai_fraction_ok(0.999));
    assert_false(gf_kai_fraction_ok(1.0));
    assert_false(gf_kai_fraction_ok(1.5));
    assert_false(gf_kai_fraction_ok(0.0));
    assert_false(gf_kai_fraction_ok(-0.5));
    assert_false(gf_kai_fraction_ok(0.0 / 0.0));
}

static void test_names_default(void **state)
{
    (void)state;
    gf_kai_names n;
    gf_kai_names_default(&n);
    /* pkg/common/constants/constants.go */
    assert_string_equal(n.scheduler_name, "kai-scheduler");
    assert_string_equal(n.queue_label, "kai.scheduler/queue");
    assert_string_equal(n.node_pool_label, "kai.scheduler/node-pool");
    assert_string_equal(n.reservation_ns, "kai-resource-reservation");
    assert_string_equal(n.reservation_app, "kai-resource-reservation");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_fraction_valid),
        cmocka_unit_test(test_fraction_invalid),
        cmocka_unit_test(test_gpu_memory),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_known_memory),
        cmocka_unit_test(test_unknown_memory),
        cmocka_unit_test(test_node_gpu_memory),
        cmocka_unit_test(test_fraction_ok),
        cmocka_unit_test(test_names_default),
    };
    return cmocka_run_group_tests_name("kai", tests, NULL, NULL);
}
