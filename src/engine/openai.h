/*
 * openai.h — the OpenAI request protocol of `suanchi engine`: parsing and validating the bodies of
 * POST /v1/completions and POST /v1/chat/completions into an sc_oai_request, and the error body
 * {"error":{"message","type","param","code"}} every failure answers with.
 *
 * Parsing is pure (no I/O, no globals) so the fuzz harness and unit tests drive it directly.
 * Unknown fields are ignored (OpenAI clients send optional fields we do not implement, e.g.
 * "user"); known fields are checked for type and range, and the error names the field in
 * "param". Fields whose non-default values we cannot honour (n > 1, logprobs, tools) are
 * rejected rather than silently ignored.
 */
#ifndef SC_ENGINE_OPENAI_H
#define SC_ENGINE_OPENAI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define SC_OAI_MAX_STOP 4        /* as OpenAI: at most 4 stop sequences */
#define SC_OAI_MAX_STOP_LEN 256  /* bytes per stop sequence */
#define SC_OAI_MAX_MESSAGES 4096
#define SC_OAI_MAX_TOKENS_CAP 1000000 /* larger max_tokens values are rejected as absurd */

typedef enum { SC_OAI_COMPLETION, SC_OAI_CHAT } sc_oai_kind;

typedef struct sc_oai_message {
  char *role;    /* system, developer, user, assistant, tool */
  char *content; /* text parts concatenated; "" when null */
} sc_oai_message;

typedef struct sc_oai_request {
  sc_oai_kind kind;
  char *model;            /* NULL when absent */
  /* completions: either text or token ids */
  char *prompt;           /* NUL-terminated; NULL when ids are given */
  int32_t *prompt_ids;
  int n_prompt_ids;
  /* chat */
  sc_oai_message *messages;
  int n_messages;
  /* sampling */
  int max_tokens;         /* 0 = not given (the server picks context - prompt) */
  double temperature;     /* default 1.0 as OpenAI */
  double top_p;           /* default 1.0 */
  int top_k;              /* default 0 (off) */
  bool has_seed;
  uint64_t seed;
  char *stop[SC_OAI_MAX_STOP];
  int n_stop;
  bool stream;
  bool include_usage;     /* stream_options.include_usage */
  bool echo;              /* completions only */
} sc_oai_request;

/* Error detail for the OpenAI error body: e.code and e.msg, plus the offending parameter. */
typedef struct sc_oai_error {
  sc_err e;
  char param[64]; /* "" = null */
  int status;     /* HTTP status: 400, 404, 413, 500, 503 */
} sc_oai_error;

/* Parses body[0..len) as a request of the given kind into *out (caller's storage, zeroed here).
 * Returns 0, or SC_EINVAL with err set (status 400). On success release with sc_oai_request_fini;
 * on failure nothing needs releasing. */
int sc_oai_parse(const char *body, size_t len, sc_oai_kind kind, sc_oai_request *out, sc_oai_error *err);
void sc_oai_request_fini(sc_oai_request *r);

/* Fills err and returns rc (for `return sc_oai_fail(...)`). param may be NULL. */
int sc_oai_fail(sc_oai_error *err, int rc, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The OpenAI error object for err (new reference): {"error":{"message","type","param","code"}}. */
json_t *sc_oai_error_json(const sc_oai_error *err);

#endif
