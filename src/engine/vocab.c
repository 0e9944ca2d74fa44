/*
 * vocab.c — the vocabulary record (vocab.h): allocation, validation and the JSON loader.
 *
 * The loader is strict: unknown fields, wrong types, arrays whose lengths disagree with
 * "tokens", out-of-range ids and over-long strings are errors that name the field (and the
 * element index). Nothing is kept on error.
 */
#include "engine/vocab.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

sc_vocab *sc_vocab_new(size_t n_tokens, size_t n_merges) {
  sc_vocab *v = sc_xcalloc(1, sizeof *v);
  v->n_tokens = n_tokens;
  v->tokens = sc_xcalloc(n_tokens ? n_tokens : 1, sizeof *v->tokens);
  v->token_lens = sc_xcalloc(n_tokens ? n_tokens : 1, sizeof *v->token_lens);
  v->n_merges = n_merges;
  v->merges = sc_xcalloc(n_merges ? n_merges : 1, sizeof *v->merges);
  v->bos_id = v->eos_id = v->eot_id = v->unk_id = v->pad_id = -1;
  v->add_bos = v->add_space_prefix = -1;
  return v;
}

void sc_vocab_destroy(sc_vocab *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n_tokens; i++) free(v->tokens[i]);
  for (size_t i = 0; i < v->n_merges; i++) free(v->merges[i]);
  free(v->tokens);
  free(v->token_lens);
  free(v->scores);
  free(v->token_types);
  free(v->merges);
  free(v->chat_template);
  free(v);
}

int sc_vocab_validate(const sc_vocab *v, sc_err *e) {
  if (strcmp(v->model, "llama") != 0 && strcmp(v->model, "gpt2") != 0)
    return sc_err_set(e, SC_EINVAL, "invalid_vocab", "unsupported tokenizer model '%.32s' (expected llama or gpt2)",
                      v->model);
  if (v->n_tokens == 0) return sc_err_set(e, SC_EINVAL, "invalid_vocab", "the vocabulary has no tokens");
  if (v->n_tokens > SC_VOCAB_MAX_TOKENS)
    return sc_err_set(e, SC_EINVAL, "invalid_vocab", "the vocabulary has %zu tokens (at most %d)", v->n_tokens,
                      SC_VOCAB_MAX_TOKENS);
  if (v->n_merges > SC_VOCAB_MAX_MERGES)
    return sc_err_set(e, SC_EINVAL, "invalid_vocab", "the vocabulary has %zu merges (at most %d)", v->n_merges,
                      SC_VOCAB_MAX_MERGES);
  for (size_t i = 0; i < v->n_tokens; i++) {
    if (!v->tokens[i]) return sc_err_set(e, SC_EINVAL, "invalid_vocab", "tokens[%zu] is missing", i);
    if (v->token_lens[i] > SC_VOCAB_MAX_TOKEN_LEN)
      return sc_err_set(e, SC_EINVAL, "invalid_vocab", "tokens[%zu] is longer than %d bytes", i,
                        SC_VOCAB_MAX_TOKEN_LEN);
    if (v->token_types && (v->token_types[i] < 0 || v->token_types[i] > SC_TOKTYPE_BYTE))
      return sc_err_set(e, SC_EINVAL, "invalid_vocab", "token_type[%zu] is %d (expected 0..6)", i,
                        (int)v->token_types[i]);
    if (v->scores && !isfinite(v->scores[i]))
      return sc_err_set(e, SC_EINVAL, "invalid_vocab", "scores[%zu] is not a finite number", i);
  }
  for (size_t i = 0; i < v->n_merges; i++)
    if (!v->merges[i]) return sc_err_set(e, SC_EINVAL, "invalid_vocab", "merges[%zu] is missing", i);
  const struct {
    const char *name;
    int32_t id;
  } ids[] = {{"bos_token_id", v->bos_id}, {"eos_token_id", v->eos_id}, {"eot_token_id", v->eot_id},
             {"unknown_token_id", v->unk_id}, {"padding_token_id", v->pad_id}};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    if (ids[i].id < -1 || (ids[i].id >= 0 && (size_t)ids[i].id >= v->n_tokens))
      return sc_err_set(e, SC_EINVAL, "invalid_vocab", "%s %d is outside the vocabulary of %zu tokens", ids[i].name,
                        (int)ids[i].id, v->n_tokens);
  return 0;
}

/* Reads an optional token id field: absent/null keeps -1. */
static int get_id(json_t *root, const char *key, int32_t *out, sc_err *e) {
  json_t *x = json_object_get(root, key);
  if (!x || json_is_null(x)) return 0;
  json_int_t i = json_integer_value(x);
  if (i < 0 || i > INT32_MAX)
    return sc_err_set(e, SC_EINVAL, "invalid_vocab", "field '%s' must be a token id >= 0", key);
  *out = (int32_t)i;
  return 0;
}

static int get_flag(json_t *root, const char *key, int *out) {
  json_t *x = json_object_get(root, key);
  if (x && json_is_boolean(x)) *out = json_is_true(x) ? 1 : 0;
  return 0;
}

int sc_vocab_parse_json(const char *text, size_t len, sc_vocab **out, sc_err *e) {
  *out = NULL;
  json_t *root = NULL;
  sc_vocab *v = NULL;
  int rc = sc_json_parse_object(text, len, &root, e);
  if (rc) goto out;
  const sc_json_field fields[] = {
      {"model", SC_JSON_STRING, true, 0, 0, 15, false},
      {"pre", SC_JSON_STRING, false, 0, 0, 63, true},
      {"tokens", SC_JSON_ARRAY, true, 0, 0, SC_VOCAB_MAX_TOKENS, false},
      {"scores", SC_JSON_ARRAY, false, 0, 0, SC_VOCAB_MAX_TOKENS, false},
      {"token_type", SC_JSON_ARRAY, false, 0, 0, SC_VOCAB_MAX_TOKENS, false},
      {"merges", SC_JSON_ARRAY, false, 0, 0, SC_VOCAB_MAX_MERGES, false},
      {"bos_token_id", SC_JSON_INT, false, 0, 0, 0, false},
      {"eos_token_id", SC_JSON_INT, false, 0, 0, 0, false},
      {"eot_token_id", SC_JSON_INT, false, 0, 0, 0, false},
      {"unknown_token_id", SC_JSON_INT, false, 0, 0, 0, false},
      {"padding_token_id", SC_JSON_INT, false, 0, 0, 0, false},
      {"add_bos_token", SC_JSON_BOOL, false, 0, 0, 0, false},
      {"add_space_prefix", SC_JSON_BOOL, false, 0, 0, 0, false},
      {"chat_template", SC_JSON_STRING, false, 0, 0, SC_VOCAB_MAX_TEMPLATE_LEN, true},
      {NULL, 0, false, 0, 0, 0, false}};
  rc = sc_json_check(root, fields, NULL, e);
  if (rc) goto out;

  json_t *toks = json_object_get(root, "tokens");
  json_t *scores = json_object_get(root, "scores");
  json_t *types = json_object_get(root, "token_type");
  json_t *merges = json_object_get(root, "merges");
  size_t n = json_array_size(toks);
  if (json_is_null(scores)) scores = NULL;
  if (json_is_null(types)) types = NULL;
  if (json_is_null(merges)) merges = NULL;
  if (n == 0) {
    rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "field 'tokens' must not be empty");
    goto out;
  }
  if (scores && json_array_size(scores) != n) {
    rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "field 'scores' has %zu items but 'tokens' has %zu",
                    json_array_size(scores), n);
    goto out;
  }
  if (types && json_array_size(types) != n) {
    rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "field 'token_type' has %zu items but 'tokens' has %zu",
                    json_array_size(types), n);
    goto out;
  }
  v = sc_vocab_new(n, merges ? json_array_size(merges) : 0);
  sc_strlcpy(v->model, json_string_value(json_object_get(root, "model")), sizeof v->model);
  sc_strlcpy(v->pre, sc_json_str(root, "pre", ""), sizeof v->pre);
  if (scores) v->scores = sc_xcalloc(n, sizeof *v->scores);
  if (types) v->token_types = sc_xcalloc(n, sizeof *v->token_types);
  for (size_t i = 0; i < n; i++) {
    json_t *t = json_array_get(toks, i);
    if (!json_is_string(t)) {
      rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "tokens[%zu] must be a string", i);
      goto out;
    }
    size_t tl = json_string_length(t);
    if (tl > SC_VOCAB_MAX_TOKEN_LEN) {
      rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "tokens[%zu] is longer than %d bytes", i, SC_VOCAB_MAX_TOKEN_LEN);
      goto out;
    }
    v->tokens[i] = sc_xmalloc(tl + 1);
    memcpy(v->tokens[i], json_string_value(t), tl + 1);
    v->token_lens[i] = tl;
    if (scores) {
      json_t *s = json_array_get(scores, i);
      if (!json_is_number(s) || !isfinite(json_number_value(s))) {
        rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "scores[%zu] must be a finite number", i);
        goto out;
      }
      v->scores[i] = (float)json_number_value(s);
    }
    if (types) {
      json_t *y = json_array_get(types, i);
      json_int_t yv = json_is_integer(y) ? json_integer_value(y) : -1;
      if (yv < 0 || yv > SC_TOKTYPE_BYTE) {
        rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "token_type[%zu] must be an integer 0..6", i);
        goto out;
      }
      v->token_types[i] = (int32_t)yv;
    }
  }
  for (size_t i = 0; i < v->n_merges; i++) {
    json_t *m = json_array_get(merges, i);
    if (!json_is_string(m) || json_string_length(m) > 2 * SC_VOCAB_MAX_TOKEN_LEN + 1) {
      rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "merges[%zu] must be a string \"left right\"", i);
      goto out;
    }
    v->merges[i] = sc_xstrdup(json_string_value(m));
  }
  if ((rc = get_id(root, "bos_token_id", &v->bos_id, e)) || (rc = get_id(root, "eos_token_id", &v->eos_id, e)) ||
      (rc = get_id(root, "eot_token_id", &v->eot_id, e)) || (rc = get_id(root, "unknown_token_id", &v->unk_id, e)) ||
      (rc = get_id(root, "padding_token_id", &v->pad_id, e)))
    goto out;
  get_flag(root, "add_bos_token", &v->add_bos);
  get_flag(root, "add_space_prefix", &v->add_space_prefix);
  const char *tmpl = sc_json_str(root, "chat_template", NULL);
  if (tmpl) v->chat_template = sc_xstrdup(tmpl);
  rc = sc_vocab_validate(v, e);
out:
  json_decref(root);
  if (rc) {
    sc_vocab_destroy(v);
    return rc;
  }
  *out = v;
  return 0;
}

int sc_vocab_load_json(const char *path, sc_vocab **out, sc_err *e) {
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc = sc_read_file(path, SC_VOCAB_MAX_FILE, &text, &len);
  if (rc == SC_ETOOBIG) return sc_err_set(e, rc, "too_big", "vocab %s: larger than %u MiB", path, SC_VOCAB_MAX_FILE >> 20);
  if (rc) return sc_err_set(e, rc, "io_error", "vocab %s: %s", path, sc_strerror(rc));
  sc_err inner;
  rc = sc_vocab_parse_json(text, len, out, &inner);
  if (rc) sc_err_set(e, rc, inner.code, "vocab %s: %s", path, inner.msg);
  free(text);
  return rc;
}
