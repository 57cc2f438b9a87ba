/* xalloc.h - allocation that aborts on out-of-memory.
 *
 * gpufrac treats OOM as fatal (as redis's zmalloc does): every caller would
 * otherwise need an error path that cannot be tested honestly. */
#ifndef GF_XALLOC_H
#define GF_XALLOC_H

#include <stdlib.h>

void *gf_xmalloc(size_t n);
void *gf_xcalloc(size_t n, size_t size);
/* Grows p to n elements of size bytes each; checks n*size for overflow. */
void *gf_xreallocarray(void *p, size_t n, size_t size);
char *gf_xstrdup(const char *s);

#endif
