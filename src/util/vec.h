/* vec.h - the project's one growable array.
 *
 * GF_VEC(T) declares an anonymous struct {T *v; size_t n, cap;}.
 * gf_vec_push(vec, x) appends (aborting on OOM); gf_vec_free(vec) releases.
 * Kept as macros so every element type gets type-checked access. */
#ifndef GF_VEC_H
#define GF_VEC_H

#include "util/xalloc.h"

#define GF_VEC(T)                                                                                  \
    struct {                                                                                       \
        T *v;                                                                                      \
        size_t n, cap;                                                                             \
    }

#define gf_vec_reserve(vec, want)                                                                  \
    do {                                                                                           \
        if ((want) > (vec)->cap) {                                                                 \
            size_t gf_nc_ = (vec)->cap ? (vec)->cap * 2 : 8;                                       \
            while (gf_nc_ < (want))                                                                \
                gf_nc_ *= 2;                                                                       \
            (vec)->v = gf_xreallocarray((vec)->v, gf_nc_, sizeof(*(vec)->v));                      \
            (vec)->cap = gf_nc_;                                                                   \
        }                                                                                          \
    } while (0)

#define gf_vec_push(vec, x)                                                                        \
    do {                                                                                           \
        gf_vec_reserve((vec), (vec)->n + 1);                                                       \
        (vec)->v[(vec)->n++] = (x);                                                                \
    } while (0)

#define gf_vec_free(vec)                                                                           \
    do {                                                                                           \
        free((vec)->v);                                                                            \
        (vec)->v = NULL;                                                                           \
        (vec)->n = (vec)->cap = 0;                                                                 \
    } while (0)

#endif
