/* xalloc.c - allocation that aborts on out-of-memory, see xalloc.h. */
#include "util/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "gpufrac: out of memory allocating %zu bytes\n", n);
    abort();
}

void *gf_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *gf_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *gf_xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) oom(SIZE_MAX);
    size_t bytes = n * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) oom(bytes);
    return q;
}

char *gf_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = gf_xmalloc(n);
    memcpy(d, s, n);
    return d;
}
