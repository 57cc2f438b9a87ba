/* err.c - error values and diagnostics, see err.h. */
#include "model/err.h"
#include "util/sbuf.h"

#include <stdarg.h>
#include <stdio.h>

const char *gf_strerror(gf_err code)
{
    switch (code) {
    case GF_OK:
        return "success";
    case GF_EINPUT:
        return "invalid input";
    case GF_EIO:
        return "I/O error";
    case GF_EUSAGE:
        return "usage error";
    case GF_ENOTFOUND:
        return "not found";
    case GF_EINTERNAL:
        return "internal error";
    }
    return "unknown error";
}

gf_err gf_error_set(gf_error *e, gf_err code, const char *where, const char *fmt, ...)
{
    if (!e) return code;
    e->code = code;
    snprintf(e->where, sizeof e->where, "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void gf_error_format(const gf_error *e, char *buf, size_t n)
{
    /* where and msg quote inputs: escaped, so that they cannot reach a
     * terminal raw */
    char text[sizeof e->where + sizeof e->msg + 4];
    if (e->where[0])
        snprintf(text, sizeof text, "%s: %s", e->where, e->msg);
    else
        snprintf(text, sizeof text, "%s", e->msg);
    if (n) gf_escape_controls(buf, n, text);
}

int gf_err_exit_code(gf_err code)
{
    return (code == GF_EINPUT || code == GF_EUSAGE) ? 2 : 1;
}

void gf_diags_init(gf_diags *d)
{
    d->msgs.v = NULL;
    d->msgs.n = d->msgs.cap = 0;
}

void gf_diags_free(gf_diags *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->msgs.n; i++)
        free(d->msgs.v[i]);
    gf_vec_free(&d->msgs);
}

void gf_diag(gf_diags *d, const char *where, const char *fmt, ...)
{
    if (!d) return;
    gf_sbuf b = GF_SBUF_INIT;
    if (where && *where) gf_sbuf_printf(&b, "%s: ", where);
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    gf_sbuf_puts(&b, tmp);
    if (gf_has_control(b.s, b.len)) { /* names and values from inputs, escaped */
        gf_sbuf safe = GF_SBUF_INIT;
        gf_sbuf_append_escaped(&safe, b.s, b.len);
        gf_sbuf_free(&b);
        b = safe;
    }
    gf_vec_push(&d->msgs, b.s);
}
