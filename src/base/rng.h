/*
 * rng.h — a small deterministic pseudo-random generator with explicit state (xoshiro256**,
 * seeded through splitmix64). Nothing global: callers own an sc_rng and pass it to the code
 * that needs randomness (the scheduler, simulators), which keeps runs reproducible and testable.
 * Not for cryptography.
 */
#ifndef SC_BASE_RNG_H
#define SC_BASE_RNG_H

#include <stdint.h>

typedef struct sc_rng {
  uint64_t s[4];
} sc_rng;

/* Seeds the state from one 64-bit value; equal seeds give equal sequences. */
void sc_rng_seed(sc_rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t sc_rng_next(sc_rng *r);

/* Uniform integer in [0, n) without modulo bias; n must be > 0. */
uint64_t sc_rng_below(sc_rng *r, uint64_t n);

/* Uniform double in [0, 1). */
double sc_rng_double(sc_rng *r);

#endif
