/*
 * vocab.h — a tokenizer vocabulary as plain data: exactly the GGUF tokenizer keys
 * (tokenizer.ggml.model, .pre, .tokens, .scores, .token_type, .merges, .bos_token_id, ...,
 * tokenizer.chat_template), loaded from a JSON file or from a GGUF file's metadata.
 *
 * The JSON file format (docs/internals/tokenizer.md):
 *   {"model": "llama"|"gpt2", "pre": "...", "tokens": [...], "scores": [...], "token_type": [...],
 *    "merges": ["a b", ...], "bos_token_id": N, "eos_token_id": N, "add_bos_token": bool,
 *    "chat_template": "..."}
 * plus optional "eot_token_id", "unknown_token_id", "padding_token_id", "add_space_prefix".
 * Only "model" and "tokens" are required; unknown fields are an error.
 *
 * `suanchi model synth --vocab FILE` writes these fields into a GGUF; sc_tokenizer_from_vocab
 * (tokenizer.h) builds a tokenizer from them. The struct is public so writers can read it.
 *
 * Ownership: sc_vocab_load_json / sc_vocab_parse_json return a vocabulary the caller frees with
 * sc_vocab_destroy (NULL ok); every pointer inside is owned by it. Read-only after load, so any
 * thread may read it.
 */
#ifndef SC_ENGINE_VOCAB_H
#define SC_ENGINE_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Token types, numbered as in GGUF's tokenizer.ggml.token_type (llama.cpp's llama_token_type). */
enum {
  SC_TOKTYPE_UNDEFINED = 0,
  SC_TOKTYPE_NORMAL = 1,
  SC_TOKTYPE_UNKNOWN = 2,
  SC_TOKTYPE_CONTROL = 3,
  SC_TOKTYPE_USER_DEFINED = 4,
  SC_TOKTYPE_UNUSED = 5,
  SC_TOKTYPE_BYTE = 6
};

/* Caps for vocabularies read from files (a real one has at most ~260k tokens and ~300k merges). */
#define SC_VOCAB_MAX_TOKENS (1 << 21)
#define SC_VOCAB_MAX_MERGES (1 << 22)
#define SC_VOCAB_MAX_TOKEN_LEN 4096
#define SC_VOCAB_MAX_TEMPLATE_LEN (1 << 20)
#define SC_VOCAB_MAX_FILE (512u << 20)

typedef struct sc_vocab {
  char model[16];          /* "llama" or "gpt2" */
  char pre[64];            /* tokenizer.ggml.pre; "" when absent */
  size_t n_tokens;         /* >= 1 */
  char **tokens;           /* n_tokens strings, each NUL-terminated (may also hold NULs: see lens) */
  size_t *token_lens;      /* byte length of each token */
  float *scores;           /* n_tokens entries, or NULL when absent */
  int32_t *token_types;    /* n_tokens entries (SC_TOKTYPE_*), or NULL when absent */
  size_t n_merges;
  char **merges;           /* n_merges strings "left right" (gpt2 vocabularies) */
  int32_t bos_id, eos_id, eot_id, unk_id, pad_id; /* -1 when absent */
  int add_bos;             /* -1 absent, 0 false, 1 true */
  int add_space_prefix;    /* -1 absent, 0 false, 1 true */
  char *chat_template;     /* NULL when absent */
} sc_vocab;

/* Allocates an empty vocabulary (ids -1, flags -1) with room for n tokens (all NULL) and m merges.
 * For writers that fill one in code (tests, GGUF import). */
sc_vocab *sc_vocab_new(size_t n_tokens, size_t n_merges);
void sc_vocab_destroy(sc_vocab *v);

/* Reads a vocabulary JSON file (at most SC_VOCAB_MAX_FILE bytes). Errors: -errno when the file
 * cannot be read, SC_EINVAL/SC_ETOOBIG with e naming the file and the offending field. */
int sc_vocab_load_json(const char *path, sc_vocab **out, sc_err *e);
/* Parses JSON text of len bytes (need not be NUL-terminated). Same checks as the file loader. */
int sc_vocab_parse_json(const char *text, size_t len, sc_vocab **out, sc_err *e);

/* Checks the invariants every consumer relies on: model known, ids within the vocabulary,
 * token types 0..6, token lengths within the cap. Returns 0 or SC_EINVAL with e set. */
int sc_vocab_validate(const sc_vocab *v, sc_err *e);

#endif
