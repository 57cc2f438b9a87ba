/* sbuf.h - the project's one string builder (growable, always NUL-terminated). */
#ifndef GF_SBUF_H
#define GF_SBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gf_sbuf {
    char *s; /* NUL-terminated once anything was appended; NULL before */
    size_t len, cap;
} gf_sbuf;

#define GF_SBUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void gf_sbuf_free(gf_sbuf *b); /* accepts NULL */
void gf_sbuf_append(gf_sbuf *b, const char *s, size_t n);
void gf_sbuf_puts(gf_sbuf *b, const char *s);
void gf_sbuf_printf(gf_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s percent-encoded for a URL query or path segment: RFC 3986's unreserved
 * characters (A-Z a-z 0-9 - . _ ~) kept, every other byte as %XX. */
void gf_sbuf_append_urlencoded(gf_sbuf *b, const char *s);
/* snprintf for bounded texts (explanations, reasons) that may be cut short:
 * through a function, the compiler does not warn about the truncation. */
int gf_textf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Text from outside (names, annotations, answers) made safe for a terminal
 * or a log line, the one way the project does it: every control character
 * (bytes below 0x20, and 0x7f; NUL included, s being n bytes) is written as
 * \xNN, so an input cannot move the cursor, recolour, or forge a line. */
void gf_sbuf_append_escaped(gf_sbuf *b, const char *s, size_t n);
/* True when s[0..n) holds a control character. */
bool gf_has_control(const char *s, size_t n);
/* gf_sbuf_append_escaped into buf (n > 0 bytes, always NUL-terminated; cut
 * short, never in the middle of an escape). */
void gf_escape_controls(char *buf, size_t n, const char *s);
/* The contents, "" when empty. Owned by b. */
const char *gf_sbuf_str(const gf_sbuf *b);

#endif
