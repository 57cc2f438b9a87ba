/* arena.c - bump allocator, see arena.h. */
#include "util/arena.h"
#include "util/xalloc.h"

#include <stdalign.h>
#include <string.h>

struct gf_arena_block {
    gf_arena_block *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
};

enum { GF_ARENA_BLOCK = 256 * 1024 };

void gf_arena_init(gf_arena *a)
{
    a->head = NULL;
    a->bytes_used = 0;
}

void gf_arena_free(gf_arena *a)
{
    if (!a) return;
    gf_arena_block *b = a->head;
    while (b) {
        gf_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->bytes_used = 0;
}

void *gf_arena_alloc(gf_arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    if (size == 0) size = align;
    gf_arena_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > GF_ARENA_BLOCK ? size : GF_ARENA_BLOCK;
        b = gf_xmalloc(sizeof(*b) + cap);
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->bytes_used += size;
    memset(p, 0, size);
    return p;
}

char *gf_arena_strndup(gf_arena *a, const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = gf_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *gf_arena_strdup(gf_arena *a, const char *s)
{
    return s ? gf_arena_strndup(a, s, strlen(s)) : NULL;
}
