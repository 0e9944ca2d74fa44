/*
 * sim.h — the chip simulator back end of `suanchi engine --simulate CHIP`.
 *
 * Three layers, each usable alone:
 *  - sc_sim_model: the step-time model of one chip serving one model size (pure arithmetic).
 *  - sc_sim_core: continuous batching over that model (admission against a KV capacity, chunked
 *    prefill, one decode token per running sequence per step). Pure: a step returns its duration
 *    in seconds and the tokens it produced; the caller owns the clock (tests use a fake one).
 *  - sc_sim_engine_create: the engine.h back end — a worker thread that runs core steps and
 *    sleeps duration x time_scale between them (time_scale 0 answers at once).
 * The sim "vocabulary" is a fixed cycle of filler pieces (sc_sim_token_text); prompt lengths are
 * approximated by sc_sim_count_tokens. docs/internals/engine-sim.md documents model and calibration.
 */
#ifndef SC_ENGINE_SIM_H
#define SC_ENGINE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "chips/chips.h"
#include "engine/engine.h"

typedef struct sc_sim_model {
  char chip[64];
  double params;            /* parameters */
  double bytes_per_param;   /* weights: bf16 2, fp8/int8 1, int4 0.5 (+ scales) */
  double weight_bytes;
  int n_layers, n_kv_heads, head_dim; /* the typical shape assumed for this size */
  double kv_bytes_per_token;
  double mem_bw;            /* bytes/s (spec) */
  double flops;             /* FLOP/s (spec, dense bf16) */
  double eff_bw, eff_fl;    /* calibration factors */
  double step_overhead_s;   /* fixed cost of every step (scheduling, launches) */
  double seq_overhead_s;    /* per sequence in the step (sampling, detokenizing, attention inefficiency) */
  double memory_bytes;      /* device memory */
  int64_t kv_capacity_tokens;
  int max_batch;
  int max_prefill_tokens;   /* prompt tokens per step (chunked prefill) */
} sc_sim_model;

/* "7e9", "7000000000", "7B", "7b", "0.5B", "500M" -> parameters. Returns 0 or SC_EINVAL. */
int sc_sim_parse_params(const char *s, double *out, sc_err *e);

/* Fills m for chip serving a model of `params` parameters with weights stored as dtype
 * (bf16|fp16|fp8|int8|int4; NULL = bf16). Fails (SC_EINVAL, e set) if the weights do not fit. */
int sc_sim_model_init(sc_sim_model *m, const sc_chip *chip, double params, const char *dtype, sc_err *e);

/* Duration of one step: n_seqs sequences whose contexts hold ctx_tokens in total, computing
 * new_tokens tokens (prefill chunks + one per decoding sequence). */
double sc_sim_step_seconds(const sc_sim_model *m, int n_seqs, int64_t ctx_tokens, int64_t new_tokens);
/* Steady-state aggregate decode tokens/s at `batch` sequences of ctx tokens each. */
double sc_sim_decode_tok_s(const sc_sim_model *m, int batch, int ctx);
/* Prefill tokens/s for one prompt of n tokens (processed in chunks). */
double sc_sim_prefill_tok_s(const sc_sim_model *m, int n);

/* ---- continuous batching core ---- */
typedef struct sc_sim_core sc_sim_core;

typedef enum { SC_SIM_EV_TOKEN, SC_SIM_EV_DONE } sc_sim_ev_kind;
typedef struct sc_sim_event {
  sc_sim_ev_kind kind;
  uint64_t id;
  void *ud;
  int32_t token;
  sc_gen_result res; /* SC_SIM_EV_DONE */
} sc_sim_event;

/* The core copies m. n_ctx bounds prompt + max_tokens of one request. */
sc_sim_core *sc_sim_core_create(const sc_sim_model *m, int n_ctx);
void sc_sim_core_destroy(sc_sim_core *c);
/* Queues a request; SC_EINVAL if it can never fit (prompt + max_tokens beyond n_ctx or the KV). */
int sc_sim_core_submit(sc_sim_core *c, uint64_t id, int n_prompt, const sc_gen_params *p, void *ud, sc_err *e);
/* Removes a queued or running request, appending its DONE (cancelled) event; false if unknown. */
bool sc_sim_core_cancel(sc_sim_core *c, uint64_t id, sc_sim_event **evs, size_t *n, size_t *cap);
/* Runs one step: admits what fits, appends the step's events to *evs (grown as needed) and
 * returns its duration in seconds; 0 when there is nothing to run. */
double sc_sim_core_step(sc_sim_core *c, sc_sim_event **evs, size_t *n, size_t *cap);
void sc_sim_core_stats(const sc_sim_core *c, sc_engine_stats *out);
/* Moves every request out (DONE cancelled events), e.g. at shutdown. */
void sc_sim_core_drain(sc_sim_core *c, sc_sim_event **evs, size_t *n, size_t *cap);

/* ---- engine.h back end ---- */
typedef struct sc_sim_config {
  const sc_chip *chip;
  double params;
  const char *dtype;  /* NULL = bf16 */
  int n_ctx;          /* 0 = 4096 */
  int max_batch;      /* 0 = 256 */
  double time_scale;  /* wall seconds per model second; 0 = no waiting */
  double eff_bw;      /* > 0 overrides the vendor's bandwidth efficiency (a measured value) */
  double eff_fl;      /* > 0 overrides the FLOP/s efficiency */
} sc_sim_config;

int sc_sim_engine_create(const sc_sim_config *cfg, sc_engine **out, sc_err *e);
/* The model a sim engine runs (for /metrics and the log). */
const sc_sim_model *sc_sim_engine_model(const sc_engine *eng);

/* ---- the sim vocabulary ---- */
#define SC_SIM_VOCAB 32000
#define SC_SIM_FILLER_PIECES 24 /* generated ids cycle through 0..23 */
/* Bytes of a token id (a piece of the filler text; ids wrap around the cycle). */
const char *sc_sim_token_text(int32_t id, size_t *len);
/* Deterministic approximation of a text's token count: ASCII letter/digit runs count one token
 * per 4 characters (rounded up), every other non-space character (ASCII punctuation or a
 * non-ASCII code point) and every newline counts one. */
int sc_sim_count_tokens(const char *text, size_t len);

#endif
