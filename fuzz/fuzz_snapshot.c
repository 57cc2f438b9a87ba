/* fuzz_snapshot.c - libFuzzer harness for the kubectl JSON loader and the
 * model's GPU grouping: any input must give GF_OK or an error with a message,
 * never a crash, a leak or an invariant violation. */
#include "model/model.h"
#include "io/snapshot.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_err rc = gf_snapshot_load_buffer(&m, "fuzz.json", (const char *)data, size, &d, &err);
    if (rc == GF_OK) rc = gf_model_finalize(&m, &d, &err);
    if (rc != GF_OK) {
        if (err.msg[0] == '\0') abort(); /* every error must say what went wrong */
    } else {
        gf_totals t;
        gf_model_totals(&m, GF_NONE, &t);
        if (t.gpus_whole + t.gpus_shared + t.gpus_idle != t.gpus) abort();
        if (t.stranded_free < -1e-9 || t.shared_allocated > t.gpus_shared + 1e-9) abort();
        for (size_t i = 0; i < m.gpus.n; i++) {
            const gf_gpu *g = &m.gpus.v[i];
            if (g->first_pod + g->n_pods > m.gpu_pods.n) abort();
            if (g->allocated_fraction < 0) abort();
        }
        for (size_t i = 0; i < m.pods.n; i++)
            for (uint32_t k = 0; k < m.pods.v[i].n_gpus; k++)
                if (m.pods.v[i].gpus[k] >= m.gpus.n) abort();
    }
    gf_diags_free(&d);
    gf_model_free(&m);
    return 0;
}
