/* fuzz_status.c - libFuzzer harness for the answers an API server or a
 * Prometheus server sends when it says no: Kubernetes Status bodies
 * (gf_kube_answer_error, with the DisruptionBudget causes of an eviction's
 * 429), Prometheus error bodies (gf_prom_error_text) and Retry-After values
 * (seconds or HTTP dates, gf_kube_retry_after). Any body gives a message
 * without control characters (a hostile server must not forge log lines);
 * Retry-After is -1 or a finite number of seconds, never negative. The
 * first two bytes pick the HTTP status; the first line is also tried as a
 * Retry-After value. */
#include "io/kube/kube_private.h"
#include "io/usage.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    long status = 400 + (long)((data[0] << 8 | data[1]) % 200);
    const char *body = (const char *)data + 2;
    size_t len = size - 2;

    gf_kube_xfer x;
    memset(&x, 0, sizeof x);
    snprintf(x.where, sizeof x.where, "GET https://h/api/v1/pods");
    gf_sbuf_append(&x.body, body, len);
    gf_error err = {0};
    gf_err code = status == 429 && (data[0] & 0x80) ? GF_KUBE_EPDB : GF_EIO;
    gf_err rc = gf_kube_answer_error(&x, status, code, &err);
    if (rc != code || !err.msg[0] || strcmp(err.where, x.where)) abort();
    no_control(err.msg);
    no_control(x.reason);

    char text[600];
    gf_prom_error_text(&x.body, text, sizeof text);
    if (!text[0]) abort();
    no_control(text);
    gf_sbuf_free(&x.body);

    char line[128];
    size_t n = 0;
    while (n < len && n + 1 < sizeof line && body[n] != '\n' && body[n] != '\0') {
        line[n] = body[n];
        n++;
    }
    line[n] = '\0';
    double secs = gf_kube_retry_after(line, 1795700000);
    if (!(secs == -1 || (isfinite(secs) && secs >= 0))) abort();
    return 0;
}
