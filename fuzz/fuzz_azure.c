/* fuzz_azure.c - libFuzzer harness for the Azure LLM inference trace reader
 * (src/io/azure_trace.c) and what the simulator makes of a trace
 * (gf_demand_trace): any input must give GF_OK or an error with a place and
 * a message, never a crash or a leak; what loads must keep its bins
 * consistent, and the demand drawn from it must stay within [0, 1]. */
#include "sim/demand.h"
#include "io/azure_trace.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_request_trace tr;
    gf_request_trace_init(&tr);
    gf_error err = {0};
    gf_err rc = gf_azure_trace_load_buffer(&tr, "trace.csv", (const char *)data, size, &err);
    if (rc != GF_OK && (rc != GF_EINPUT || !err.msg[0] || !err.where[0])) abort();
    if (rc == GF_OK && tr.total_requests) {
        if (tr.first > tr.last || tr.last >= tr.seconds) abort();
        if (tr.last - tr.first >= GF_TRACE_MAX_SECONDS) abort();
        uint64_t sum = 0;
        for (uint32_t i = 0; i < tr.seconds; i++) {
            sum += tr.requests[i];
            if ((i < tr.first || i > tr.last) && tr.requests[i]) abort();
            if (!(tr.context_tokens[i] >= 0) || !(tr.generated_tokens[i] >= 0)) abort();
        }
        if (sum != tr.total_requests) abort();
        /* a short simulation's worth of demand from it */
        static const double scales[3] = {0.1, 0.5, 1.0};
        gf_demand_opts o = {GF_DEMAND_DEFAULT_START_T, 60, 48, 1};
        gf_demand d;
        gf_demand_init(&d);
        gf_err drc = gf_demand_trace(&d, &o, &tr, scales, 3, &err);
        if (drc != GF_OK && drc != GF_EINPUT) abort();
        for (uint32_t s = 0; drc == GF_OK && s < 3; s++)
            for (uint32_t k = 0; k < o.n_steps; k++) {
                double mem, sm;
                gf_demand_at(&d, s, k, k, &mem, &sm);
                if (!(mem >= 0 && mem <= 1) || !(sm >= 0 && sm <= 1)) abort();
            }
        gf_demand_free(&d);
    }
    gf_request_trace_free(&tr);
    return 0;
}
