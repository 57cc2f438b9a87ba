/* strmap.h - the project's one hash map: string key -> size_t value.
 *
 * Open addressing with linear probing, FNV-1a hashing. Keys are borrowed, not
 * copied: they must outlive the map (in gpufrac they live in a model arena).
 * Used for name -> index lookups (nodes, GPU groups, owners). */
#ifndef GF_STRMAP_H
#define GF_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gf_strmap_slot {
    const char *key; /* NULL = empty */
    size_t value;
} gf_strmap_slot;

typedef struct gf_strmap {
    gf_strmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
} gf_strmap;

void gf_strmap_init(gf_strmap *m);
void gf_strmap_free(gf_strmap *m); /* accepts NULL */
/* Inserts or overwrites. Returns true if the key was new. */
bool gf_strmap_put(gf_strmap *m, const char *key, size_t value);
/* True and *value set when present. */
bool gf_strmap_get(const gf_strmap *m, const char *key, size_t *value);

#endif
