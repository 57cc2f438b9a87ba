/* fuzz_podlist.c - libFuzzer harness for the exporter's pod-list parser
 * (exporter/podlist.c): any input must give GF_OK or an error that names
 * the place and says what is wrong, never a crash or a leak; a parsed list
 * must be consistent (every index in range, every key findable). */
#include "exporter/podlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_podlist l;
    gf_podlist_init(&l);
    gf_diags d;
    gf_diags_init(&d);
    gf_error err = {0};
    gf_err rc = gf_podlist_parse(&l, "fuzz.json", (const char *)data, size, &d, &err);
    if (rc != GF_OK) {
        if (rc != GF_EINPUT || !err.msg[0] || !err.where[0]) abort();
    } else {
        for (size_t i = 0; i < l.pods.n; i++) {
            const gf_pl_pod *p = &l.pods.v[i];
            if (!p->uid || !*p->uid || !p->ns || !p->name) abort();
            if (!gf_podlist_pod(&l, p->uid)) abort();
            if ((size_t)p->first_container + p->n_containers > l.containers.n) abort();
            if (p->alloc == GF_ALLOC_FRACTION && !(p->fraction > 0 && p->fraction <= 1)) abort();
            if (p->alloc == GF_ALLOC_MEMORY && p->memory_mib <= 0) abort();
            if (p->alloc != GF_ALLOC_NONE && p->reservation) abort();
            for (uint32_t g = 0; g < p->n_groups; g++)
                if (!p->groups[g] || !*p->groups[g]) abort();
        }
        for (size_t i = 0; i < l.containers.n; i++) {
            const gf_pl_container *c = &l.containers.v[i];
            if (c->pod >= l.pods.n || !c->name) abort();
            if (c->id && !gf_podlist_container(&l, c->id)) abort();
        }
    }
    for (size_t i = 0; i < d.msgs.n; i++)
        if (!d.msgs.v[i][0]) abort();
    gf_diags_free(&d);
    gf_podlist_free(&l);
    return 0;
}
