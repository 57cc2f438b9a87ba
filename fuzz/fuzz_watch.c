/* fuzz_watch.c - libFuzzer harness for what the controller's watch cache
 * reads from the API server (io/kube_cache.c): list pages (items,
 * resourceVersion, continue token) and watch event lines (ADDED, MODIFIED,
 * DELETED, BOOKMARK, ERROR), applied to the cache as its transfers would,
 * then the cache turned into the cluster model through the snapshot loader.
 *
 * Input: the first byte picks the kind (of those the controller caches); the rest is split at form
 * feeds
 * (\f) into parts, each a list page when it starts with '{' and a "kind"
 * of a list, else watch lines. Nothing may crash or leak; errors must say
 * what went wrong. */
#define _GNU_SOURCE /* memmem */
#include "io/kube/kube_private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gf_kube *client(void)
{
    static gf_kube *k;
    if (k) return k;
    gf_kube_config c;
    gf_kube_config_init(&c);
    c.server = strdup("http://127.0.0.1:9"); /* never contacted */
    c.ns = strdup("default");
    gf_kube_options o;
    gf_kube_options_default(&o);
    gf_error err = {0};
    if (gf_kube_new(&k, &c, &o, &err)) abort();
    gf_kube_config_free(&c);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const gf_kube_kind kinds[] = {GF_KUBE_POD,         GF_KUBE_NODE,
                                         GF_KUBE_REPLICASET,  GF_KUBE_DEPLOYMENT,
                                         GF_KUBE_STATEFULSET, GF_KUBE_PDB};
    gf_kube_kind kind = kinds[data[0] % (sizeof kinds / sizeof kinds[0])];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    gf_kube_cache_opts co = {0};
    co.kinds = GF_KUBE_CACHE_DEFAULT_KINDS;
    gf_kube_cache *c = NULL;
    gf_error err = {0};
    if (gf_kube_cache_new(&c, client(), &co, &err)) abort();
    while (p < end) {
        const char *ff = memchr(p, '\f', (size_t)(end - p));
        size_t len = ff ? (size_t)(ff - p) : (size_t)(end - p);
        if (len && p[0] == '{' && memmem(p, len, "List\"", 5)) {
            memset(&err, 0, sizeof err);
            gf_err rc = gf_kube_cache_feed_page(c, kind, p, len, &err);
            if (rc && !err.msg[0]) abort();
        } else {
            const char *q = p, *stop = p + len;
            while (q < stop) {
                const char *nl = memchr(q, '\n', (size_t)(stop - q));
                size_t ll = nl ? (size_t)(nl - q) : (size_t)(stop - q);
                gf_kube_cache_feed_line(c, kind, q, ll);
                q += ll + 1;
            }
        }
        p += len + 1;
    }
    gf_model m;
    gf_model_init(&m);
    gf_diags d;
    gf_diags_init(&d);
    memset(&err, 0, sizeof err);
    gf_err rc = gf_kube_cache_model(c, &m, &d, &err);
    if (rc && !err.msg[0]) abort();
    gf_diags_free(&d);
    gf_model_free(&m);
    gf_kube_cache_free(c);
    return 0;
}
