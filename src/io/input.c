/* input.c - bounded reads of whole inputs, see input.h. */
#include "io/input.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

gf_err gf_input_parse_size(const char *what, const char *text, size_t *out, gf_error *err)
{
    const char *s = text ? text : "";
    size_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        size_t d = (size_t)(*p - '0');
        if (v > (SIZE_MAX - d) / 10) goto bad;
        v = v * 10 + d;
    }
    if (p == s) goto bad;
    unsigned shift = 0;
    switch (*p) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    case '\0':
        break;
    default:
        goto bad;
    }
    if (shift) {
        p++;
        if (*p == 'i') p++;
        if (*p == 'B') p++;
    } else if (*p == 'B') {
        p++;
    }
    if (*p || v == 0) goto bad;
    if (shift && v > (SIZE_MAX >> shift)) goto bad;
    *out = v << shift;
    return GF_OK;
bad:
    return gf_error_set(err, GF_EUSAGE, what,
                        "bad size \"%.40s\": expected a positive number of bytes, optionally "
                        "with K, M, G or T (e.g. 512M, 4G)",
                        s);
}

gf_err gf_input_max_bytes(size_t *out, gf_error *err)
{
    const char *env = getenv(GF_INPUT_MAX_ENV);
    if (!env || !*env) {
        *out = GF_INPUT_MAX_DEFAULT;
        return GF_OK;
    }
    return gf_input_parse_size(GF_INPUT_MAX_ENV, env, out, err);
}

static gf_err too_big(const char *name, const char *what, size_t max, bool configurable,
                      gf_error *err)
{
    if (configurable)
        return gf_error_set(err, GF_EINPUT, name,
                            "%s is larger than %zu bytes, the limit (set %s to raise it, e.g. "
                            "%s=4G)",
                            what, max, GF_INPUT_MAX_ENV, GF_INPUT_MAX_ENV);
    return gf_error_set(err, GF_EINPUT, name, "%s is larger than %zu bytes, the limit", what, max);
}

static gf_err read_all(const char *path, const char *what, size_t max, bool configurable,
                       gf_sbuf *out, gf_error *err)
{
    bool is_stdin = !strcmp(path, "-");
    const char *name = is_stdin ? "(stdin)" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return gf_error_set(err, GF_EIO, path, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
        if (!is_stdin) fclose(f);
        return too_big(name, what, max, configurable, err);
    }
    char chunk[1 << 16];
    size_t n, start = out->len;
    gf_err rc = GF_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        const char *nul = memchr(chunk, '\0', n);
        if (nul) {
            rc = gf_error_set(err, GF_EINPUT, name,
                              "not a text file: a NUL byte at offset %zu (a %s is text)",
                              out->len - start + (size_t)(nul - chunk), what);
            break;
        }
        if (n > max - (out->len - start)) {
            rc = too_big(name, what, max, configurable, err);
            break;
        }
        gf_sbuf_append(out, chunk, n);
    }
    if (!rc && ferror(f)) rc = gf_error_set(err, GF_EIO, name, "cannot read: %s", strerror(errno));
    if (!is_stdin) fclose(f);
    return rc;
}

gf_err gf_input_read_capped(const char *path, const char *what, gf_sbuf *out, gf_error *err)
{
    size_t max;
    gf_err rc = gf_input_max_bytes(&max, err);
    if (rc) return rc;
    return read_all(path, what, max, true, out, err);
}

gf_err gf_input_read(const char *path, const char *what, size_t max, gf_sbuf *out, gf_error *err)
{
    return read_all(path, what, max, false, out, err);
}
