/* strmap.c - string -> size_t hash map, see strmap.h. */
#include "util/strmap.h"
#include "util/xalloc.h"

#include <stdint.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void gf_strmap_init(gf_strmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
}

void gf_strmap_free(gf_strmap *m)
{
    if (!m) return;
    free(m->slots);
    gf_strmap_init(m);
}

static gf_strmap_slot *find_slot(gf_strmap_slot *slots, size_t cap, const char *key)
{
    size_t mask = cap - 1;
    size_t i = (size_t)hash_str(key) & mask;
    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & mask;
    return &slots[i];
}

static void grow(gf_strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    gf_strmap_slot *ns = gf_xcalloc(ncap, sizeof(*ns));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key) *find_slot(ns, ncap, m->slots[i].key) = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
}

bool gf_strmap_put(gf_strmap *m, const char *key, size_t value)
{
    if ((m->len + 1) * 4 > m->cap * 3) grow(m); /* load factor <= 0.75 */
    gf_strmap_slot *s = find_slot(m->slots, m->cap, key);
    bool fresh = s->key == NULL;
    s->key = key;
    s->value = value;
    if (fresh) m->len++;
    return fresh;
}

bool gf_strmap_get(const gf_strmap *m, const char *key, size_t *value)
{
    if (m->cap == 0) return false;
    const gf_strmap_slot *s = find_slot(m->slots, m->cap, key);
    if (!s->key) return false;
    if (value) *value = s->value;
    return true;
}
