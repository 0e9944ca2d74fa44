/*
 * sampler.h — picks the next token from logits: greedy (temperature 0), or temperature with
 * top-k and top-p (nucleus) filtering. Deterministic for a given seed: the RNG state lives in
 * the request, so a request's samples do not depend on other requests.
 */
#ifndef SC_ENGINE_SAMPLER_H
#define SC_ENGINE_SAMPLER_H

#include <stdint.h>

#include "base/rng.h"
#include "engine/engine.h"

/* Scratch for sampling over a vocabulary of n_vocab (reused across calls; one per thread). */
typedef struct sc_sampler_scratch {
  int n;
  float *p;
  int32_t *idx;
} sc_sampler_scratch;

void sc_sampler_scratch_init(sc_sampler_scratch *s, int n_vocab);
void sc_sampler_scratch_fini(sc_sampler_scratch *s);

/* Returns the sampled token id. Greedy ties go to the lowest id. */
int32_t sc_sample(const float *logits, int n_vocab, const sc_gen_params *p, sc_rng *rng, sc_sampler_scratch *s);

#endif
