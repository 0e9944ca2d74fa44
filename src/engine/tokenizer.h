/*
 * tokenizer.h — text to token ids and back, built from a model's GGUF tokenizer metadata
 * (or the same keys in a vocabulary JSON file, vocab.h).
 *
 * Two algorithms, chosen by tokenizer.ggml.model:
 *   "llama": SentencePiece-style BPE over token scores: spaces become U+2581 "▁", a space is
 *            prefixed (add_space_prefix, default on), the best-scoring adjacent pair whose
 *            concatenation is a token merges first; characters without a token fall back to
 *            <0xNN> byte tokens.
 *   "gpt2":  byte-level BPE over ranked merges, after a regex pre-tokenizer chosen by
 *            tokenizer.ggml.pre: llama3 (also "llama-bpe", "llama-v3"), qwen2, or the GPT-2 rule
 *            ("default", "gpt2", absent). Regexes run on PCRE2 (UTF, Unicode properties, JIT).
 * Special tokens (types CONTROL, USER_DEFINED, UNKNOWN) are recognized in the text only when the
 * caller asks (parse_special), leftmost-longest. Invalid UTF-8 never fails: each invalid byte is
 * encoded on its own (byte token), so every input round-trips through sc_token_bytes.
 * docs/internals/tokenizer.md has the details and what was checked against which reference.
 *
 * Thread-safety: after creation a tokenizer is immutable; any number of threads may call every
 * function below concurrently. Creation and destroy are single-threaded.
 */
#ifndef SC_ENGINE_TOKENIZER_H
#define SC_ENGINE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/gguf.h"
#include "engine/vocab.h"

typedef struct sc_tokenizer sc_tokenizer;

/* Builds a tokenizer from a vocabulary (copied: v may be freed afterwards). Errors (SC_EINVAL, e
 * set): unknown model or pre-tokenizer, a gpt2 vocabulary without a token for some byte, a
 * malformed merge or one whose parts or result are not tokens, bad ids. */
int sc_tokenizer_from_vocab(const sc_vocab *v, sc_tokenizer **out, sc_err *e);
/* Reads the tokenizer.* keys of an open GGUF file (g may be closed afterwards). Errors as above,
 * plus SC_EFORMAT for missing or mistyped keys. */
int sc_tokenizer_from_gguf(const sc_gguf *g, sc_tokenizer **out, sc_err *e);
/* Reads the tokenizer.* keys of a GGUF file into a vocabulary record (for tools). */
int sc_vocab_from_gguf(const sc_gguf *g, sc_vocab **out, sc_err *e);
void sc_tokenizer_destroy(sc_tokenizer *t);

/* Tokenizes len bytes of text (need not be NUL-terminated, may contain any bytes). With add_bos
 * the BOS id goes first (when the vocabulary has one); with parse_special, texts of special
 * tokens in the input become those tokens, otherwise they are tokenized as plain text.
 * On success *out is a malloc'd array of *n ids (caller frees; non-NULL even when *n == 0).
 * Errors: SC_ETOOBIG for text over SC_TOKENIZE_MAX_BYTES, SC_EINVAL when a byte cannot be
 * represented by the vocabulary (no byte token and no unknown token). */
#define SC_TOKENIZE_MAX_BYTES (256u << 20)
int sc_tokenize(const sc_tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
                int32_t **out, int *n, sc_err *e);

/* The bytes a token decodes to: "▁" as a space and <0xNN> as the byte (llama), byte-level
 * characters mapped back to bytes (gpt2); USER_DEFINED tokens as their text; CONTROL, UNKNOWN and
 * UNUSED tokens as "" (use sc_token_text to show them). Not NUL-terminated in general. A streaming
 * front concatenates these and emits only complete UTF-8. Out-of-range ids give "" too.
 * The pointer stays valid until sc_tokenizer_destroy. */
const char *sc_token_bytes(const sc_tokenizer *t, int32_t id, size_t *len);
/* For streaming: the length of the longest prefix of s[0..len) that does not end inside an
 * incomplete (but so far valid) UTF-8 sequence; the caller emits that prefix and keeps the rest
 * until more bytes arrive. Invalid bytes never complete, so they count as emittable. */
size_t sc_utf8_complete_len(const char *s, size_t len);
/* The token's text as stored in the vocabulary (e.g. "▁the", "Ġthe", "<|eot_id|>"), NUL-terminated;
 * NULL for out-of-range ids. */
const char *sc_token_text(const sc_tokenizer *t, int32_t id, size_t *len);
/* SC_TOKTYPE_* of the token; -1 for out-of-range ids. */
int sc_token_type(const sc_tokenizer *t, int32_t id);
/* The id of the token whose text is exactly s[0..len), or -1. */
int32_t sc_tokenizer_find(const sc_tokenizer *t, const char *s, size_t len);

int sc_tokenizer_n_vocab(const sc_tokenizer *t);
int32_t sc_tokenizer_bos(const sc_tokenizer *t); /* -1 when none */
int32_t sc_tokenizer_eos(const sc_tokenizer *t); /* -1 when none */
int32_t sc_tokenizer_eot(const sc_tokenizer *t); /* end of turn (<|eot_id|>, <|im_end|>); -1 when none */
/* Whether the model expects a BOS token at the start of a prompt (tokenizer.ggml.add_bos_token;
 * default: true for llama and for the llama3 pre-tokenizer, false otherwise). */
bool sc_tokenizer_add_bos(const sc_tokenizer *t);
/* True for tokens that end generation: eos, eot and end-of-message/turn control tokens
 * (<|eot_id|>, <|eom_id|>, <|im_end|>, <|endoftext|>, <|end|>, <end_of_turn>). */
bool sc_tokenizer_is_eog(const sc_tokenizer *t, int32_t id);
/* tokenizer.chat_template, or NULL. */
const char *sc_tokenizer_chat_template(const sc_tokenizer *t);
/* "llama" or "gpt2"; and the pre-tokenizer name in use ("llama3", "qwen2", "gpt2"; "" for llama). */
const char *sc_tokenizer_model(const sc_tokenizer *t);
const char *sc_tokenizer_pre(const sc_tokenizer *t);

#endif
