/* fuzz_alibaba.c - libFuzzer harness for the Alibaba trace converter and its
 * CSV reader. The input is NODES 0xFF PODS (split at the first 0xFF byte;
 * without one the whole input is tried as each kind of file on its own). Any
 * input must give GF_OK or an error with a message, never a crash or a leak,
 * and what loads must mean what its KAI annotations say. */
#include "model/kai.h"
#include "model/model.h"
#include "io/alibaba.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(gf_err rc, const gf_error *err)
{
    if (rc != GF_OK && err->msg[0] == '\0') abort(); /* every error says what went wrong */
}

static void check_model(gf_model *m, gf_diags *d)
{
    gf_error err = {0};
    gf_err rc = gf_model_finalize(m, d, &err);
    check_error(rc, &err);
    if (rc != GF_OK) abort(); /* unbound pending pods and plain nodes always finalize */
    for (size_t i = 0; i < m->pods.n; i++) {
        const gf_pod *p = &m->pods.v[i];
        if (p->node_name || p->phase != GF_PHASE_PENDING) abort();
        if (p->share == GF_SHARE_FRACTION) {
            const char *a = gf_kvs_get(&p->annotations, GF_KAI_GPU_FRACTION);
            double v;
            const char *why;
            if (!a || gf_kai_parse_fraction(a, &v, &why) != GF_OK || v != p->gpu_fraction) abort();
            if (p->gpu_whole || p->gpu_devices == 0) abort();
        }
        for (uint32_t k = 0; k < p->n_gpu_models; k++)
            if (!p->gpu_models[k][0] || strchr(p->gpu_models[k], '|')) abort();
    }
    for (size_t i = 0; i < m->nodes.n; i++) {
        const gf_node *n = &m->nodes.v[i];
        if (n->gpu_count == 0 && n->labels.n) abort();
        if (n->cpu_milli < 0 || n->memory_bytes < 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    const char *sep = memchr(buf, 0xFF, size);
    gf_alibaba_opts o = {.include_cpu_only = true};
    gf_model m;
    gf_diags d;
    gf_error err = {0};
    gf_err rc;
    gf_model_init(&m);
    gf_diags_init(&d);
    if (sep) {
        size_t n = (size_t)(sep - buf);
        rc = gf_alibaba_load_nodes_buffer(&m, "nodes.csv", buf, n, &d, &err);
        check_error(rc, &err);
        if (rc == GF_OK) {
            rc = gf_alibaba_load_pods_buffer(&m, "pods.csv", sep + 1, size - n - 1, &o, &d, &err);
            check_error(rc, &err);
        }
        if (rc == GF_OK) check_model(&m, &d);
    } else {
        rc = gf_alibaba_load_nodes_buffer(&m, "nodes.csv", buf, size, &d, &err);
        check_error(rc, &err);
        if (rc == GF_OK) check_model(&m, &d);
        gf_model_free(&m);
        gf_model_init(&m);
        rc = gf_alibaba_load_pods_buffer(&m, "pods.csv", buf, size, &o, &d, &err);
        check_error(rc, &err);
        if (rc == GF_OK) check_model(&m, &d);
    }
    gf_diags_free(&d);
    gf_model_free(&m);
    return 0;
}
