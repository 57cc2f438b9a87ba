/* fuzz_lease.c - libFuzzer harness for coordination.k8s.io/v1 Lease objects
 * as the elector reads them (gf_kube_lease_spec_of), alone and as items of a
 * LeaseList page (gf_kube_list_page): any object gives a holder (maybe
 * empty), a positive duration and strings that stay inside the object;
 * any page gives its items or an error with a message. */
#include "io/kube/kube_private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *lease = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (lease) {
        gf_kube_lease_spec ls;
        gf_kube_lease_spec_of(lease, 15, &ls);
        if (!ls.holder || ls.duration_s <= 0) abort();
        (void)strlen(ls.holder);
        if (ls.rv) (void)strlen(ls.rv);
        if (ls.acquire_time) (void)strlen(ls.acquire_time);
        json_decref(lease);
    }
    gf_sbuf body = GF_SBUF_INIT;
    gf_sbuf_append(&body, (const char *)data, size);
    json_t *items = json_array();
    char *rv = NULL, *cont = NULL;
    gf_error err = {0};
    gf_err rc = gf_kube_list_page(&body, "leases", GF_KUBE_LEASE, items, &rv, &cont, &err);
    if (rc != GF_OK && !err.msg[0]) abort();
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        gf_kube_lease_spec ls;
        gf_kube_lease_spec_of(item, 15, &ls);
        if (!ls.holder || ls.duration_s <= 0) abort();
    }
    free(rv);
    free(cont);
    json_decref(items);
    gf_sbuf_free(&body);
    return 0;
}
