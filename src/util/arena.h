/* arena.h - bump allocator for data that lives as long as one snapshot/model.
 *
 * Everything allocated from an arena is freed at once by gf_arena_free();
 * individual objects are never freed. Strings parsed out of inputs are kept
 * here so the model can hold plain `const char *` without ownership tracking. */
#ifndef GF_ARENA_H
#define GF_ARENA_H

#include <stddef.h>

typedef struct gf_arena_block gf_arena_block;

typedef struct gf_arena {
    gf_arena_block *head;
    size_t bytes_used; /* payload handed out, for memory accounting */
} gf_arena;

void gf_arena_init(gf_arena *a);
/* Frees every block; the arena is reusable afterwards. Accepts NULL. */
void gf_arena_free(gf_arena *a);
/* Zeroed, max-aligned memory. Aborts on out-of-memory (like xmalloc). */
void *gf_arena_alloc(gf_arena *a, size_t size);
/* Copy of s (NULL stays NULL). */
char *gf_arena_strdup(gf_arena *a, const char *s);
char *gf_arena_strndup(gf_arena *a, const char *s, size_t n);

#endif
