/* fuzz_incluster.c - libFuzzer harness for the in-cluster service-account
 * configuration (gf_kube_config_in_cluster, then gf_kube_new reading the
 * token): the environment (KUBERNETES_SERVICE_HOST, _PORT) and the files
 * of the service-account folder (namespace, token) come from the input,
 * split at form feeds: HOST \f PORT \f NAMESPACE-FILE \f TOKEN-FILE. Any
 * input gives a configuration with an https URL and a namespace, or an
 * error with a message; never a crash, a leak or a token in a message. */
#define _GNU_SOURCE /* memmem */
#include "io/kube/kube.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put(const char *name, const char *s, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(s, 1, n, f);
    fclose(f);
}

static void cleanup(void)
{
    static const char *const names[] = {"ca.crt", "namespace", "token"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/gf-fuzz-sa-XXXXXX");
        if (!mkdtemp(dir)) abort();
        atexit(cleanup);
        put("ca.crt", "", 0);
    }
    const char *part[4] = {"", "", "", ""};
    size_t plen[4] = {0, 0, 0, 0};
    const char *p = (const char *)data, *end = p + size;
    for (int i = 0; i < 4 && p <= end; i++) {
        const char *ff = i < 3 ? memchr(p, '\f', (size_t)(end - p)) : NULL;
        part[i] = p;
        plen[i] = ff ? (size_t)(ff - p) : (size_t)(end - p);
        p += plen[i] + 1;
    }
    char host[256], port[64];
    snprintf(host, sizeof host, "%.*s", (int)(plen[0] < 255 ? plen[0] : 255), part[0]);
    snprintf(port, sizeof port, "%.*s", (int)(plen[1] < 63 ? plen[1] : 63), part[1]);
    if (memchr(part[0], '\0', plen[0]) || memchr(part[1], '\0', plen[1])) return 0;
    setenv("KUBERNETES_SERVICE_HOST", host, 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    put("namespace", part[2], plen[2]);
    put("token", part[3], plen[3]);
    gf_kube_config c;
    gf_kube_config_init(&c);
    gf_error err = {0};
    gf_err rc = gf_kube_config_in_cluster(&c, dir, &err);
    if (rc) {
        if (!err.msg[0]) abort();
    } else {
        if (!c.server || strncmp(c.server, "https://", 8) || !c.ns || !*c.ns) abort();
        gf_kube_options o;
        gf_kube_options_default(&o);
        gf_kube *k = NULL;
        memset(&err, 0, sizeof err);
        rc = gf_kube_new(&k, &c, &o, &err);
        if (rc && !err.msg[0]) abort();
        /* the token's bytes never appear in an error */
        if (rc && plen[3] >= 8 && memmem(err.msg, strlen(err.msg), part[3], plen[3])) abort();
        gf_kube_free(k);
    }
    gf_kube_config_free(&c);
    return 0;
}
