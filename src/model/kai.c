/* kai.c - KAI metadata parsing, see kai.h. */
#include "model/kai.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void gf_kai_names_default(gf_kai_names *n)
{
    n->scheduler_name = GF_KAI_SCHEDULER_NAME;
    n->queue_label = GF_KAI_QUEUE;
    n->node_pool_label = GF_KAI_NODE_POOL;
    n->reservation_ns = GF_KAI_RESERVATION_NS;
    n->reservation_app = GF_KAI_RESERVATION_APP;
}

bool gf_kai_fraction_ok(double f)
{
    /* gpu_request_validator.go: gpuFraction <= 0 || gpuFraction >= 1 is refused */
    return f > 0 && f < 1;
}

gf_err gf_kai_parse_fraction(const char *s, double *out, const char **why)
{
    if (!s || !*s) {
        *why = "empty value (expected a number with 0 < value < 1)";
        return GF_EINPUT;
    }
    if (isspace((unsigned char)s[0])) {
        *why = "leading white space (expected 0 < value < 1, e.g. \"0.5\")";
        return GF_EINPUT;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE) {
        *why = "not a number (expected 0 < value < 1, e.g. \"0.5\")";
        return GF_EINPUT;
    }
    if (!isfinite(v)) {
        *why = "not a finite number";
        return GF_EINPUT;
    }
    if (v <= 0) {
        *why = "must be above 0";
        return GF_EINPUT;
    }
    if (!gf_kai_fraction_ok(v)) {
        *why = "must be below 1 (KAI's admission webhook refuses 1 and more; a whole GPU is "
               "requested with nvidia.com/gpu)";
        return GF_EINPUT;
    }
    *out = v;
    return GF_OK;
}

static gf_err parse_positive_int(const char *s, int64_t max, int64_t *out, const char **why)
{
    if (!s || !*s) {
        *why = "empty value (expected a positive integer)";
        return GF_EINPUT;
    }
    const char *p = s; /* strconv.ParseUint: digits only, no sign */
    if (*p == '-') {
        *why = "must be positive";
        return GF_EINPUT;
    }
    int64_t v = 0;
    if (!(*p >= '0' && *p <= '9')) {
        *why = "not an integer";
        return GF_EINPUT;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        int digit = *p - '0';
        /* v * 10 + digit > max, tested without overflowing int64 */
        if (digit > max || v > (max - digit) / 10) {
            *why = "value is too large";
            return GF_EINPUT;
        }
        v = v * 10 + digit;
    }
    if (*p) {
        *why = "not an integer";
        return GF_EINPUT;
    }
    if (v == 0) {
        *why = "must be positive";
        return GF_EINPUT;
    }
    *out = v;
    return GF_OK;
}

gf_err gf_kai_parse_gpu_memory_mib(const char *s, int64_t *out, const char **why)
{
    /* 16 PiB of memory on one GPU is far beyond any product: treat as a typo. */
    return parse_positive_int(s, (int64_t)1 << 34, out, why);
}

gf_err gf_kai_parse_count(const char *s, int64_t max, int64_t *out, const char **why)
{
    return parse_positive_int(s, max, out, why);
}

/* strconv.ParseInt(s, 10, 64): an optional sign, decimal digits, no space. */
static bool parse_go_int64(const char *s, int64_t *out)
{
    if (!s) return false;
    bool neg = *s == '-';
    if (*s == '+' || *s == '-') s++;
    if (!*s) return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10) return false; /* out of range: ParseInt fails */
        v = v * 10 + d;
    }
    *out = neg ? -v : v;
    return true;
}

int64_t gf_kai_node_gpu_memory_mib(const char *label, bool *from_label)
{
    int64_t v;
    *from_label = parse_go_int64(label, &v);
    if (!*from_label) return GF_KAI_DEFAULT_GPU_MEMORY_MIB;
    /* node_info.go checkGpuMemoryIsInMib / convertBytesToMib: TibInMib = 1024*1024 */
    if (v >= (int64_t)1024 * 1024) v /= (int64_t)1024 * 1024;
    v -= v % 100; /* Go's % truncates like C's */
    return v > 0 ? v : GF_KAI_DEFAULT_GPU_MEMORY_MIB;
}

/* True if needle occurs in s as a whole token: not inside a longer word such
 * as "RTX-A1000" (not an A100) or "GH200" (not an H200). */
static bool has_token(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) {
        bool start = p == s || !isalnum((unsigned char)p[-1]);
        bool end = !isalnum((unsigned char)p[n]);
        if (start && end) return true;
    }
    return false;
}

int64_t gf_kai_known_gpu_memory_mib(const char *product)
{
    /* Matched as tokens of nvidia.com/gpu.product (GFD writes the NVML name
     * with '-' for ' ', e.g. "NVIDIA-A100-80GB-PCIe", "Tesla-T4", and may add
     * "-SHARED"), most specific first. */
    static const struct {
        const char *needle;
        int64_t mib;
    } table[] = {
        {"A100-SXM4-80GB", 81920},
        {"A100-PCIE-80GB", 81920},
        {"A100-80GB", 81920},
        {"A100", 40960},
        {"H100", 81559},
        {"H200", 143771},
        {"L40S", 46068},
        {"L40", 46068},
        {"L4", 23034},
        {"A10G", 23028},
        {"A10", 23028},
        {"T4", 15360},
        {"V100-SXM2-32GB", 32768},
        {"V100-PCIE-32GB", 32768},
        {"V100-32GB", 32768},
        {"V100", 16384},
        {"P100", 16384},
    };
    if (!product) return 0;
    /* A MIG slice ("...-MIG-1g.10gb") has a fraction of the card's memory. */
    if (strstr(product, "-MIG-")) return 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (has_token(product, table[i].needle)) return table[i].mib;
    return 0;
}
