/*
 * synth.h — deterministic random-weight GGUF models (`suanchi model synth`) for tests, demos
 * and benchmarks, with a complete tokenizer in the metadata so they can be served.
 */
#ifndef SC_ENGINE_SYNTH_H
#define SC_ENGINE_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct sc_synth_opts {
  const char *arch;       /* "llama" or "qwen2" */
  const char *preset;     /* "micro" (fuzz seeds), "tiny" (tests) or "0.5b" (Qwen2-0.5B's shape) */
  int type;               /* ggml type of the weight matrices (sc_ggml_type) */
  uint64_t seed;
  const char *vocab_path; /* NULL: synthetic vocabulary; else a JSON file of tokenizer keys */
  /* tests: RoPE variants (0/false = none) */
  float rope_linear;      /* writes {arch}.rope.scaling.type "linear" and this factor */
  bool rope_freqs;        /* writes a llama3-style rope_freqs.weight tensor */
} sc_synth_opts;

/* Writes the model to path atomically. Returns 0 or an SC_E* code with e set. */
int sc_synth_write(const sc_synth_opts *o, const char *path, sc_err *e);
/* Builds the file image in memory (caller frees *img). */
int sc_synth_image(const sc_synth_opts *o, uint8_t **img, size_t *len, sc_err *e);

#endif
