/* fuzz_promtext.c - libFuzzer harness for the Prometheus text exposition
 * reader that `gpufrac run --scrape` feeds with the exporters' answers
 * (gf_promtext_load_usage): any input gives GF_OK with samples in the
 * documented ranges, or GF_EINPUT naming the endpoint and line; never a
 * crash, a leak or a sample without a namespace or pod. */
#include "io/promtext.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_usage u;
    gf_usage_init(&u);
    gf_error err = {0};
    size_t skipped = 0;
    gf_err rc = gf_promtext_load_usage(&u, "10.0.0.7:9402/metrics", (const char *)data, size,
                                       1795700000, &skipped, &err);
    if (rc != GF_OK &&
        (rc != GF_EINPUT || !err.msg[0] || strncmp(err.where, "10.0.0.7:9402/metrics", 21)))
        abort();
    for (size_t i = 0; i < u.samples.n; i++) {
        const gf_usage_sample *s = &u.samples.v[i];
        if (!s->ns || !*s->ns || !s->pod || !*s->pod || !s->container || !s->gpu_uuid) abort();
        if (!(s->t >= 0 && s->t <= GF_USAGE_MAX_TIME_S)) abort();
        if (isnan(s->memory_bytes) && isnan(s->sm_util)) abort();
        if (!isnan(s->memory_bytes) &&
            !(s->memory_bytes >= 0 && s->memory_bytes <= GF_USAGE_MAX_MEMORY_BYTES))
            abort();
        if (!isnan(s->sm_util) && !(s->sm_util >= 0 && s->sm_util <= GF_USAGE_MAX_SM_UTIL)) abort();
    }
    gf_usage_free(&u);
    return 0;
}
