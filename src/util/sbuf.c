/* sbuf.c - string builder, see sbuf.h. */
#include "util/sbuf.h"
#include "util/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gf_sbuf_free(gf_sbuf *b)
{
    if (!b) return;
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static void reserve(gf_sbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + extra + 1)
        nc *= 2;
    b->s = gf_xreallocarray(b->s, nc, 1);
    b->cap = nc;
}

void gf_sbuf_append(gf_sbuf *b, const char *s, size_t n)
{
    reserve(b, n);
    if (n) memcpy(b->s + b->len, s, n); /* s may be NULL when n is 0 */
    b->len += n;
    b->s[b->len] = '\0';
}

void gf_sbuf_puts(gf_sbuf *b, const char *s)
{
    gf_sbuf_append(b, s, strlen(s));
}

void gf_sbuf_printf(gf_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *gf_sbuf_str(const gf_sbuf *b)
{
    return b->s ? b->s : "";
}

void gf_sbuf_append_urlencoded(gf_sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            gf_sbuf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            gf_sbuf_append(b, e, 3);
        }
    }
}

int gf_textf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return k;
}

bool gf_has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return true;
    return false;
}

void gf_sbuf_append_escaped(gf_sbuf *b, const char *s, size_t n)
{
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f) continue;
        gf_sbuf_append(b, s + from, i - from);
        gf_sbuf_printf(b, "\\x%02x", c);
        from = i + 1;
    }
    gf_sbuf_append(b, s ? s + from : s, n - from);
}

void gf_escape_controls(char *buf, size_t n, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 1 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != 0x7f) {
            buf[o++] = (char)c;
        } else {
            if (o + 5 >= n) break;
            snprintf(buf + o, n - o, "\\x%02x", c);
            o += 4;
        }
    }
    buf[o] = '\0';
}
