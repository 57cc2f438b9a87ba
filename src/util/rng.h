/* rng.h - the project's one pseudo-random generator: xoshiro256** seeded by
 * splitmix64 (Blackman & Vigna, https://prng.di.unimi.it/). Deterministic
 * for a seed on every platform, so simulations and generated clusters
 * reproduce exactly. */
#ifndef GF_RNG_H
#define GF_RNG_H

#include <stdint.h>

typedef struct gf_rng {
    uint64_t s[4];
} gf_rng;

void gf_rng_seed(gf_rng *r, uint64_t seed);
uint64_t gf_rng_next(gf_rng *r);
/* Uniform in [0, n), n > 0, without modulo bias. */
uint64_t gf_rng_below(gf_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double gf_rng_unit(gf_rng *r);

#endif
