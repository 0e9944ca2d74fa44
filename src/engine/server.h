/*
 * server.h — the OpenAI-compatible HTTP front of `suanchi engine`, in front of any engine.h back
 * end (the CPU engine or the chip simulator).
 *
 * The front owns the text side: it turns requests into token ids through an sc_codec (the
 * model's tokenizer and chat template, or the simulator's approximation), streams token bytes
 * back through stop-string and UTF-8 filtering (textout.h), and keeps the metrics. Back-end
 * callbacks arrive on the back end's worker thread; they are queued under a mutex and handled
 * on the event loop (event_active), which owns every HTTP request.
 */
#ifndef SC_ENGINE_SERVER_H
#define SC_ENGINE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/engine.h"
#include "engine/openai.h"

/* Text <-> tokens for one model. Functions may be called from the event-loop thread only.
 * encode_* return a malloc'd id array the caller frees; errors are SC_EINVAL/SC_ETOOBIG with e. */
typedef struct sc_codec {
  void *ctx;
  /* A completions prompt (BOS added as the model expects). */
  int (*encode_prompt)(void *ctx, const char *text, size_t len, int32_t **ids, int *n, sc_err *e);
  /* Chat messages rendered with the model's template, assistant turn opened. */
  int (*encode_chat)(void *ctx, const sc_oai_message *msgs, int n_msgs, int32_t **ids, int *n, sc_err *e);
  /* The bytes of one token (not NUL-terminated; "" for control tokens). */
  const char *(*token_bytes)(void *ctx, int32_t id, size_t *len);
  /* Optional (NULL = none): tokens that end generation (eos, <|eot_id|>, <|im_end|>...). The
   * front ends the request there with finish_reason "stop" even if the back end would go on. */
  bool (*is_eog)(void *ctx, int32_t id);
} sc_codec;

typedef struct sc_engine_server_config {
  const char *listen;      /* HOST:PORT; port 0 picks a free port */
  const char *port_file;   /* if set, "HOST:PORT\n" of the bound address is written there */
  const char *model_name;  /* the id /v1/models lists and requests must name */
  size_t max_body;         /* request body cap in bytes (413 above) */
} sc_engine_server_config;

/* Serves until SIGINT/SIGTERM. The engine and codec stay owned by the caller; the engine is
 * still alive when this returns (pending requests were cancelled and answered). Returns 0, or
 * an error (bind failure...) with e set. */
int sc_engine_serve(sc_engine *eng, const sc_codec *codec, const sc_engine_server_config *cfg, sc_err *e);

/* The sim codec: sc_sim_count_tokens approximation, chat = 3 + sum(4 + content tokens). */
extern const sc_codec sc_sim_codec;

#endif
