/*
 * engine.h — the interface between the engine's HTTP front (server.c: OpenAI protocol, SSE,
 * tokenizer, stop strings, metrics) and a generation back end: the real CPU engine (continuous
 * batching over a GGUF model) or the chip simulator (--simulate CHIP).
 *
 * The back end owns a worker thread that runs steps. Requests are submitted as token ids;
 * tokens come back through callbacks invoked on the worker thread (the front marshals them to
 * its event loop). The back end stops a sequence at max_tokens, at an end-of-generation token,
 * or when cancelled (the front cancels when a stop string matched or the client went away).
 * After on_done the back end never touches the request's ud again.
 */
#ifndef SC_ENGINE_ENGINE_H
#define SC_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

typedef struct sc_gen_params {
  int max_tokens;      /* >= 1 */
  float temperature;   /* 0 = greedy */
  float top_p;         /* (0,1]; 1 = off */
  int top_k;           /* 0 = off */
  uint64_t seed;       /* sampling RNG seed (the front picks one when the client gave none) */
} sc_gen_params;

typedef enum { SC_FINISH_STOP, SC_FINISH_LENGTH, SC_FINISH_CANCELLED, SC_FINISH_ERROR } sc_finish;

typedef struct sc_gen_result {
  sc_finish finish;
  int prompt_tokens;
  int completion_tokens;
  int cached_tokens;   /* prompt tokens served from the prefix cache */
  char error[256];     /* set when finish == SC_FINISH_ERROR */
} sc_gen_result;

typedef struct sc_gen_request {
  const int32_t *prompt; /* copied by submit */
  int n_prompt;
  sc_gen_params params;
  void (*on_token)(void *ud, int32_t token);            /* worker thread */
  void (*on_done)(void *ud, const sc_gen_result *res);  /* worker thread, exactly once */
  void *ud;
} sc_gen_request;

typedef struct sc_engine_stats {
  int64_t prompt_tokens_total, generation_tokens_total, requests_total;
  int running;          /* sequences in the current batch */
  int waiting;          /* admitted to the queue, not yet running */
  int last_batch_size;
  int kv_blocks_total, kv_blocks_used;
  int64_t prefix_cache_hit_tokens;
  bool sleeping;
} sc_engine_stats;

typedef struct sc_engine sc_engine;

typedef struct sc_engine_ops {
  /* Queues a request; returns 0 and an id, or SC_EINVAL (e.g. prompt longer than the context,
   * with e set) — then no callback is ever called. Thread-safe. */
  int (*submit)(sc_engine *eng, const sc_gen_request *req, uint64_t *id, sc_err *e);
  /* Cancels a queued or running request; its on_done follows with SC_FINISH_CANCELLED. */
  void (*cancel)(sc_engine *eng, uint64_t id);
  void (*stats)(sc_engine *eng, sc_engine_stats *out);
  /* Release / restore the weights' memory. While asleep, submitted requests wait. */
  int (*sleep)(sc_engine *eng, sc_err *e);
  int (*wake)(sc_engine *eng, sc_err *e);
  /* Stops the worker (pending requests finish with SC_FINISH_CANCELLED) and frees everything. */
  void (*destroy)(sc_engine *eng);
} sc_engine_ops;

/* Every back end's struct starts with this header so the front can call through ops. */
struct sc_engine {
  const sc_engine_ops *ops;
  int n_ctx;       /* context length in tokens */
  int n_vocab;
  int32_t eos_id;  /* -1 if none */
};

#endif
