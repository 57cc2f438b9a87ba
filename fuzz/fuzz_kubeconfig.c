/* fuzz_kubeconfig.c - libFuzzer harness for the kubeconfig reader
 * (gf_kube_config_parse): any input must give GF_OK with a usable
 * configuration, or an error that names the input and says what went wrong,
 * leaving the configuration empty; never a crash or a leak. The first byte
 * picks the context (current-context, or one named "ctx"). */
#include "io/kube/kube.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *context = size > 0 && (data[0] & 1) ? "ctx" : NULL;
    gf_kube_config c;
    gf_kube_config_init(&c);
    gf_error err = {0};
    gf_err rc =
        gf_kube_config_parse(&c, "fuzz.yaml", (const char *)data, size, "/base", context, &err);
    if (rc != GF_OK) {
        if (rc != GF_EINPUT && rc != GF_EINTERNAL) abort();
        if (err.msg[0] == '\0' || strncmp(err.where, "fuzz.yaml", 9) != 0) abort();
        if (c.server || c.token || c.ns || c.ca_data.data || c.key_data.data) abort();
    } else {
        if (!c.server || !c.ns || !c.origin[0]) abort();
        if (strncmp(c.server, "https://", 8) && strncmp(c.server, "http://", 7)) abort();
        size_t n = strlen(c.server);
        if (c.server[n - 1] == '/') abort();
        bool cert = c.cert_file || c.cert_data.data, key = c.key_file || c.key_data.data;
        if (cert != key) abort();
        if (c.insecure && (c.ca_file || c.ca_data.data)) abort();
        if (c.token && c.token_file) abort();
        const char *paths[] = {c.ca_file, c.cert_file, c.key_file, c.token_file};
        for (size_t i = 0; i < 4; i++)
            if (paths[i] && paths[i][0] != '/') abort();
        if ((c.ca_data.data && !c.ca_data.len) || (c.key_data.data && !c.key_data.len)) abort();
    }
    gf_kube_config_free(&c);
    return 0;
}
