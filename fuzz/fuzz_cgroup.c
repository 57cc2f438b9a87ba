/* fuzz_cgroup.c - libFuzzer harness for the /proc/<pid>/cgroup parser
 * (exporter/cgroup.c): any input must give GF_OK or an error with a
 * message, never a crash; a pod found must carry a well-formed UID and
 * container ID. */
#include "exporter/cgroup.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const gf_cgroup_pod *p)
{
    size_t n = strlen(p->pod_uid);
    if (!p->in_pod) {
        if (n || p->container_id[0] || p->qos != GF_QOS_UNKNOWN) abort();
        return;
    }
    if (n != 32 && n != 36) abort();
    for (size_t i = 0; i < n; i++) {
        char c = p->pod_uid[i];
        bool sep = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
        if (sep ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) abort();
    }
    size_t m = strlen(p->container_id);
    if (m && (m < 12 || m > GF_CONTAINER_ID_MAX)) abort();
    for (size_t i = 0; i < m; i++) {
        char c = p->container_id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) abort();
    }
    if (p->qos == GF_QOS_UNKNOWN) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_cgroup_pod p;
    gf_error err = {0};
    gf_err rc = gf_cgroup_parse("fuzz", (const char *)data, size, &p, &err);
    if (rc != GF_OK) {
        if (rc != GF_EINPUT || !err.msg[0] || p.in_pod) abort();
    } else {
        check(&p);
    }
    gf_cgroup_parse_path((const char *)data, size, &p);
    check(&p);
    return 0;
}
