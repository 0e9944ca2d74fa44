/*
 * tok_gguf.c — reads the tokenizer.* metadata of a GGUF file into a vocabulary record, then
 * builds the tokenizer from it (tokenizer.h). Keys: tokenizer.ggml.{model, pre, tokens, scores,
 * token_type, merges, bos_token_id, eos_token_id, eot_token_id, unknown_token_id,
 * padding_token_id, add_bos_token, add_space_prefix} and tokenizer.chat_template.
 * A key that is present with the wrong type or length is an SC_EFORMAT error naming it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/tokenizer.h"

#define K "tokenizer.ggml."

static int fmt_err(sc_err *e, const char *key, const char *what) {
  return sc_err_set(e, SC_EFORMAT, "invalid_gguf", "GGUF key %s %s", key, what);
}

static int get_id(const sc_gguf *g, const char *key, int32_t *out, sc_err *e) {
  int64_t v;
  sc_gguf_type ty;
  if (sc_gguf_get_arr(g, key, &ty, NULL)) return fmt_err(e, key, "must be an integer");
  if (!sc_gguf_get_int(g, key, &v)) {
    const char *s;
    if (sc_gguf_get_str(g, key, &s, NULL) || sc_gguf_get_f32(g, key, NULL) || sc_gguf_get_bool(g, key, NULL))
      return fmt_err(e, key, "must be an integer");
    return 0;
  }
  if (v < 0 || v > INT32_MAX) {
    *out = -1; /* llama.cpp writes -1 (as u32 max) for "none" in some files */
    return 0;
  }
  *out = (int32_t)v;
  return 0;
}

int sc_vocab_from_gguf(const sc_gguf *g, sc_vocab **out, sc_err *e) {
  *out = NULL;
  const char *s;
  size_t len, n = 0, nm = 0, na = 0;
  sc_gguf_type ty;
  if (!sc_gguf_get_str(g, K "model", &s, &len))
    return fmt_err(e, K "model", "is missing (the file has no tokenizer)");
  if (len >= 16 || (strcmp(s, "llama") != 0 && strcmp(s, "gpt2") != 0))
    return sc_err_set(e, SC_EINVAL, "invalid_vocab", "unsupported tokenizer model '%.32s' (expected llama or gpt2)",
                      s);
  if (!sc_gguf_get_arr(g, K "tokens", &ty, &n) || ty != SC_GGUF_STRING)
    return fmt_err(e, K "tokens", "is missing or not an array of strings");
  if (n == 0 || n > SC_VOCAB_MAX_TOKENS) return fmt_err(e, K "tokens", "has no tokens or too many");
  if (sc_gguf_get_arr(g, K "merges", &ty, &nm) && (ty != SC_GGUF_STRING || nm > SC_VOCAB_MAX_MERGES))
    return fmt_err(e, K "merges", "must be an array of at most 4M strings");
  sc_vocab *v = sc_vocab_new(n, nm);
  int rc = 0;
  sc_strlcpy(v->model, s, sizeof v->model);
  if (sc_gguf_get_str(g, K "pre", &s, &len)) sc_strlcpy(v->pre, s, sizeof v->pre);
  for (size_t i = 0; i < n; i++) {
    if (!sc_gguf_arr_str(g, K "tokens", i, &s, &len) || len > SC_VOCAB_MAX_TOKEN_LEN) {
      rc = fmt_err(e, K "tokens", "has an unreadable or over-long entry");
      goto out;
    }
    v->tokens[i] = sc_xmalloc(len + 1);
    memcpy(v->tokens[i], s, len);
    v->tokens[i][len] = 0;
    v->token_lens[i] = len;
  }
  for (size_t i = 0; i < nm; i++) {
    if (!sc_gguf_arr_str(g, K "merges", i, &s, &len) || len > 2 * SC_VOCAB_MAX_TOKEN_LEN + 1 || memchr(s, 0, len)) {
      rc = fmt_err(e, K "merges", "has an unreadable entry");
      goto out;
    }
    v->merges[i] = sc_xmalloc(len + 1);
    memcpy(v->merges[i], s, len);
    v->merges[i][len] = 0;
  }
  if (sc_gguf_get_arr(g, K "scores", &ty, &na)) {
    if (na != n || (ty != SC_GGUF_F32 && ty != SC_GGUF_F64)) {
      rc = fmt_err(e, K "scores", "must be an array of floats as long as tokenizer.ggml.tokens");
      goto out;
    }
    v->scores = sc_xmalloc(n * sizeof *v->scores);
    for (size_t i = 0; i < n; i++) sc_gguf_arr_f32(g, K "scores", i, &v->scores[i]);
  }
  if (sc_gguf_get_arr(g, K "token_type", &ty, &na)) {
    int64_t x;
    if (na != n || !(na == 0 || sc_gguf_arr_int(g, K "token_type", 0, &x))) {
      rc = fmt_err(e, K "token_type", "must be an array of integers as long as tokenizer.ggml.tokens");
      goto out;
    }
    v->token_types = sc_xmalloc(n * sizeof *v->token_types);
    for (size_t i = 0; i < n; i++) {
      if (!sc_gguf_arr_int(g, K "token_type", i, &x) || x < 0 || x > SC_TOKTYPE_BYTE) {
        rc = sc_err_set(e, SC_EFORMAT, "invalid_gguf", "GGUF key " K "token_type[%zu] is not a token type 0..6", i);
        goto out;
      }
      v->token_types[i] = (int32_t)x;
    }
  }
  if ((rc = get_id(g, K "bos_token_id", &v->bos_id, e)) || (rc = get_id(g, K "eos_token_id", &v->eos_id, e)) ||
      (rc = get_id(g, K "eot_token_id", &v->eot_id, e)) || (rc = get_id(g, K "unknown_token_id", &v->unk_id, e)) ||
      (rc = get_id(g, K "padding_token_id", &v->pad_id, e)))
    goto out;
  /* Out-of-range special ids are dropped rather than fatal: some converters write the id of a
   * token that a later step removed. */
  int32_t *ids[] = {&v->bos_id, &v->eos_id, &v->eot_id, &v->unk_id, &v->pad_id};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    if (*ids[i] >= (int64_t)n) *ids[i] = -1;
  bool b;
  if (sc_gguf_get_bool(g, K "add_bos_token", &b)) v->add_bos = b;
  if (sc_gguf_get_bool(g, K "add_space_prefix", &b)) v->add_space_prefix = b;
  if (sc_gguf_get_str(g, "tokenizer.chat_template", &s, &len)) {
    if (len > SC_VOCAB_MAX_TEMPLATE_LEN || memchr(s, 0, len)) {
      rc = fmt_err(e, "tokenizer.chat_template", "is too long or holds a NUL byte");
      goto out;
    }
    v->chat_template = sc_xmalloc(len + 1);
    memcpy(v->chat_template, s, len);
    v->chat_template[len] = 0;
  }
  rc = sc_vocab_validate(v, e);
out:
  if (rc) {
    sc_vocab_destroy(v);
    return rc;
  }
  *out = v;
  return 0;
}

int sc_tokenizer_from_gguf(const sc_gguf *g, sc_tokenizer **out, sc_err *e) {
  *out = NULL;
  sc_vocab *v = NULL;
  int rc = sc_vocab_from_gguf(g, &v, e);
  if (rc) return rc;
  rc = sc_tokenizer_from_vocab(v, out, e);
  sc_vocab_destroy(v);
  return rc;
}
