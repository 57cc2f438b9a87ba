/* fuzz_usage.c - libFuzzer harness for the usage readers (src/io/usage.c):
 * every input is tried as a usage CSV, as a Prometheus API answer read by
 * each gf_usage_signal, and (its first line) as a time stamp. Any input must
 * give GF_OK or an error with a message, never a crash or a leak, and what
 * loads must keep the documented ranges. */
#include "io/usage.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(gf_err rc, const gf_error *err)
{
    if (rc != GF_OK && (rc != GF_EINPUT || err->msg[0] == '\0')) abort();
}

static void check_samples(const gf_usage *u)
{
    for (size_t i = 0; i < u->samples.n; i++) {
        const gf_usage_sample *s = &u->samples.v[i];
        if (!(s->t >= 0 && s->t <= GF_USAGE_MAX_TIME_S)) abort();
        if (!s->ns || !*s->ns || !s->pod || !*s->pod || !s->container || !s->gpu_uuid) abort();
        if (isnan(s->memory_bytes) && isnan(s->sm_util)) abort();
        if (!isnan(s->memory_bytes) &&
            !(s->memory_bytes >= 0 && s->memory_bytes <= GF_USAGE_MAX_MEMORY_BYTES))
            abort();
        if (!isnan(s->sm_util) && !(s->sm_util >= 0 && s->sm_util <= GF_USAGE_MAX_SM_UTIL)) abort();
        /* interned: the set's own copy */
        if (gf_usage_intern((gf_usage *)u, s->pod) != s->pod) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    gf_usage u;
    gf_error err = {0};
    gf_err rc;

    gf_usage_init(&u);
    rc = gf_usage_load_csv_buffer(&u, "usage.csv", buf, size, &err);
    check_error(rc, &err);
    if (rc == GF_OK) check_samples(&u);
    gf_usage_free(&u);

    static const gf_usage_signal signals[] = {GF_USAGE_BY_NAME, GF_USAGE_MEMORY, GF_USAGE_SM};
    for (size_t k = 0; k < sizeof signals / sizeof signals[0]; k++) {
        gf_diags d;
        gf_diags_init(&d);
        gf_usage_init(&u);
        memset(&err, 0, sizeof err);
        rc = gf_usage_load_prom_json(&u, "prom.json", buf, size, signals[k], &d, &err);
        check_error(rc, &err);
        if (rc == GF_OK) check_samples(&u);
        gf_usage_free(&u);
        gf_diags_free(&d);
    }

    char line[128];
    size_t n = 0;
    while (n < size && n + 1 < sizeof line && buf[n] != '\n' && buf[n] != '\0') {
        line[n] = buf[n];
        n++;
    }
    line[n] = '\0';
    double t = -1;
    char why[160] = "";
    rc = gf_usage_parse_time(line, &t, why, sizeof why);
    if (rc == GF_OK && !(t >= 0 && t <= GF_USAGE_MAX_TIME_S)) abort();
    if (rc != GF_OK && (rc != GF_EINPUT || !why[0])) abort();
    return 0;
}
