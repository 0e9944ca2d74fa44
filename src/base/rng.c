/*
 * rng.c — xoshiro256** (Blackman and Vigna, public-domain algorithm) with splitmix64 seeding.
 * Written from the published description; the state is never all zero because splitmix64 of
 * any seed yields four words that are not all zero in practice, and we force one bit if so.
 */
#include "base/rng.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void sc_rng_seed(sc_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

uint64_t sc_rng_next(sc_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t sc_rng_below(sc_rng *r, uint64_t n) {
  /* Rejection sampling: discard the top partial block so every residue is equally likely. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = sc_rng_next(r);
  while (x >= limit);
  return x % n;
}

double sc_rng_double(sc_rng *r) { return (double)(sc_rng_next(r) >> 11) * 0x1.0p-53; }
