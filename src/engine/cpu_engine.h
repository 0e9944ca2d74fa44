/*
 * cpu_engine.h — the real CPU back end of engine.h: a GGUF model served with continuous
 * batching, a paged KV cache with admission control, a prefix cache and sleep/wake.
 */
#ifndef SC_ENGINE_CPU_ENGINE_H
#define SC_ENGINE_CPU_ENGINE_H

#include "base/err.h"
#include "engine/engine.h"

typedef struct sc_cpu_engine_opts {
  int threads;       /* compute threads; 0 = number of online CPUs */
  int n_ctx;         /* context per sequence; 0 = min(model's context_length, 4096) */
  int parallel;      /* max sequences in the running batch; 0 = 16 */
  int kv_blocks;     /* KV cache blocks of SC_KV_BLOCK (16) tokens; 0 = enough for
                        max(n_ctx, min(parallel * n_ctx, 65536)) tokens */
  int prefill_chunk; /* prompt tokens per step over all sequences; 0 = 512 */
} sc_cpu_engine_opts;

/* Loads the model and starts the worker thread. opts may be NULL (all defaults). On success
 * *out is an engine whose ops->destroy frees it; eng->n_ctx, n_vocab and eos_id are set.
 * Errors: the model's (SC_ENOENT, SC_EFORMAT...) or SC_EINVAL for bad options, with e set. */
int sc_cpu_engine_create(const char *model_path, const sc_cpu_engine_opts *opts, sc_engine **out, sc_err *e);

#endif
