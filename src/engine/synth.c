/*
 * synth.c — builds random-weight models in GGUF with llama.cpp's tensor names and metadata keys.
 *
 * Weights come from a per-tensor xoshiro256** stream seeded by (seed, tensor name), so a model
 * is the same byte for byte for the same options. Matrices are N(0, 1/n_in) so activations stay
 * O(1); norm weights are near 1. Rows whose length is not a multiple of a k-quant's 256-block
 * fall back as llama.cpp's quantizer does (Q4_K -> Q4_0 here, as we have no Q5_0; Q6_K -> Q8_0).
 * With --type q4_k the mix mimics Q4_K_M: attn_v and ffn_down of some layers and the output
 * matrix use Q6_K.
 *
 * The tokenizer is synthetic unless a vocabulary JSON is given: for qwen2 a byte-level BPE
 * ("gpt2", pre "qwen2") of 256 byte tokens, merged tokens with consistent merges, and the chatml
 * special tokens; for llama a SentencePiece-style vocabulary (<unk>, <s>, </s>, <0x00>..<0xFF>,
 * "▁" pieces with scores) and the Llama 2 chat template.
 */
#include "engine/synth.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/quant.h"

typedef struct preset {
  int n_embd, n_layer, n_head, n_kv, n_ff, n_vocab, n_ctx;
} preset;

static const char CHATML[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
static const char LLAMA2[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif "
    "%}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] "
    "== 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

/* ---- deterministic randomness ---- */
typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static void rng_seed(rng *r, uint64_t seed, const char *name) {
  uint64_t h = seed ^ 0x5bd1e995u;
  for (const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix(&h);
}
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t next(rng *r) {
  uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}
static double unif(rng *r) { return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0); }
/* Approximately normal (Irwin-Hall of 4 uniforms, variance 1): cheap and deterministic. */
static float gauss(rng *r) {
  uint64_t a = next(r), b = next(r);
  double s = (double)(a & 0xffffffffu) + (double)(a >> 32) + (double)(b & 0xffffffffu) + (double)(b >> 32);
  return (float)((s / 4294967296.0 - 2.0) * 1.7320508075688772);
}

/* ---- string set (open addressing) for unique tokens ---- */
typedef struct strset {
  char **slot;
  size_t cap, n;
} strset;
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}
static bool set_add(strset *st, const char *s) { /* false if present; stores the pointer */
  if ((st->n + 1) * 2 > st->cap) {
    size_t nc = st->cap ? st->cap * 2 : 1024;
    char **ns = sc_xcalloc(nc, sizeof *ns);
    for (size_t i = 0; i < st->cap; i++)
      if (st->slot[i]) {
        size_t j = hash_str(st->slot[i]) & (nc - 1);
        while (ns[j]) j = (j + 1) & (nc - 1);
        ns[j] = st->slot[i];
      }
    free(st->slot);
    st->slot = ns;
    st->cap = nc;
  }
  size_t j = hash_str(s) & (st->cap - 1);
  while (st->slot[j]) {
    if (strcmp(st->slot[j], s) == 0) return false;
    j = (j + 1) & (st->cap - 1);
  }
  st->slot[j] = (char *)s;
  st->n++;
  return true;
}

/* ---- vocabulary ---- */
typedef struct vocab {
  const char *model, *pre, *chat_template;
  char **tokens;
  float *scores;
  int32_t *types;
  char **merges;
  size_t n, n_merges;
  int64_t bos, eos;
  int has_add_bos;
  bool add_bos;
  json_t *json; /* keeps strings alive when read from a file */
} vocab;

static void vocab_free(vocab *v) {
  if (!v->json) {
    for (size_t i = 0; i < v->n; i++) free(v->tokens[i]);
    for (size_t i = 0; i < v->n_merges; i++) free(v->merges[i]);
  }
  free(v->tokens);
  free(v->scores);
  free(v->types);
  free(v->merges);
  if (v->json) json_decref(v->json);
}

/* GPT-2's byte-to-unicode map, UTF-8 encoded into out (>= 3 bytes + NUL). */
static void byte_unicode(int b, char *out) {
  unsigned cp;
  if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) {
    cp = (unsigned)b;
  } else {
    int n = 0;
    for (int c = 0; c < b; c++)
      if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))) n++;
    cp = 256u + (unsigned)n;
  }
  if (cp < 0x80) {
    out[0] = (char)cp;
    out[1] = 0;
  } else {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    out[2] = 0;
  }
}

static char *cat2(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = sc_xmalloc(la + lb + 1);
  memcpy(s, a, la);
  memcpy(s + la, b, lb + 1);
  return s;
}

static void synth_gpt2(vocab *v, size_t n_vocab, uint64_t seed) {
  static const char *specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  v->model = "gpt2";
  v->pre = "qwen2";
  v->chat_template = CHATML;
  v->n = n_vocab;
  v->tokens = sc_xcalloc(n_vocab, sizeof *v->tokens);
  v->types = sc_xcalloc(n_vocab, sizeof *v->types);
  v->merges = sc_xcalloc(n_vocab, sizeof *v->merges);
  strset st = {0};
  for (int b = 0; b < 256; b++) {
    char u[4];
    byte_unicode(b, u);
    v->tokens[b] = sc_xstrdup(u);
    v->types[b] = 1;
    set_add(&st, v->tokens[b]);
  }
  size_t n_norm = n_vocab - 3;
  /* "word" tokens: letters, optionally after Ġ (a space); seeds are the letters and Ġ. */
  size_t *words = sc_xmalloc(n_vocab * sizeof *words), n_words = 0;
  for (int b = 'a'; b <= 'z'; b++) words[n_words++] = (size_t)b;
  char sp[4];
  byte_unicode(' ', sp);
  size_t space = 0;
  for (size_t i = 0; i < 256; i++)
    if (strcmp(v->tokens[i], sp) == 0) space = i;
  rng r;
  rng_seed(&r, seed, "vocab");
  size_t i = 256;
  while (i < n_norm) {
    size_t left, right;
    double u = unif(&r);
    if (u < 0.15) {
      left = space;
      right = words[next(&r) % n_words];
    } else {
      left = words[(size_t)(pow(unif(&r), 2.0) * (double)n_words)]; /* favour early, short words */
      right = (size_t)('a' + next(&r) % 26);
    }
    if (strlen(v->tokens[left]) > 24) continue;
    char *t = cat2(v->tokens[left], v->tokens[right]);
    if (!set_add(&st, t)) {
      free(t);
      continue;
    }
    v->tokens[i] = t;
    v->types[i] = 1;
    size_t ml = strlen(v->tokens[left]) + strlen(v->tokens[right]) + 2;
    char *m = sc_xmalloc(ml);
    snprintf(m, ml, "%s %s", v->tokens[left], v->tokens[right]);
    v->merges[v->n_merges++] = m;
    words[n_words++] = i;
    i++;
  }
  for (int k = 0; k < 3; k++) {
    v->tokens[n_norm + (size_t)k] = sc_xstrdup(specials[k]);
    v->types[n_norm + (size_t)k] = 3;
  }
  v->bos = (int64_t)n_norm;     /* <|endoftext|> */
  v->eos = (int64_t)n_norm + 2; /* <|im_end|> */
  v->has_add_bos = 1;
  v->add_bos = false;
  free(words);
  free(st.slot);
}

static void synth_spm(vocab *v, size_t n_vocab, uint64_t seed) {
  static const char *first[] = {"<unk>", "<s>", "</s>"};
  static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-:;()";
  v->model = "llama";
  v->pre = "default";
  v->chat_template = LLAMA2;
  v->n = n_vocab;
  v->tokens = sc_xcalloc(n_vocab, sizeof *v->tokens);
  v->types = sc_xcalloc(n_vocab, sizeof *v->types);
  v->scores = sc_xcalloc(n_vocab, sizeof *v->scores);
  strset st = {0};
  for (int k = 0; k < 3; k++) {
    v->tokens[k] = sc_xstrdup(first[k]);
    v->types[k] = k == 0 ? 2 : 3;
  }
  for (int b = 0; b < 256; b++) {
    char t[8];
    snprintf(t, sizeof t, "<0x%02X>", b);
    v->tokens[3 + b] = sc_xstrdup(t);
    v->types[3 + b] = 6;
  }
  for (size_t k = 0; k < 259; k++) set_add(&st, v->tokens[k]);
  size_t i = 259, n_single = 0;
  size_t *words = sc_xmalloc(n_vocab * sizeof *words), n_words = 0;
  v->tokens[i] = sc_xstrdup("\xe2\x96\x81"); /* ▁ */
  set_add(&st, v->tokens[i]);
  size_t space = i++;
  for (const char *c = letters; *c && i < n_vocab; c++, i++) {
    char t[2] = {*c, 0};
    v->tokens[i] = sc_xstrdup(t);
    set_add(&st, v->tokens[i]);
    if (*c >= 'a' && *c <= 'z') words[n_words++] = i;
    n_single++;
  }
  rng r;
  rng_seed(&r, seed, "vocab");
  while (i < n_vocab) {
    const char *left, *right;
    if (unif(&r) < 0.2) {
      left = v->tokens[space];
      right = v->tokens[words[next(&r) % n_words]];
    } else {
      left = v->tokens[words[(size_t)(pow(unif(&r), 2.0) * (double)n_words)]];
      right = v->tokens[space + 1 + next(&r) % 26];
    }
    if (strlen(left) > 24) continue;
    char *t = cat2(left, right);
    if (!set_add(&st, t)) {
      free(t);
      continue;
    }
    v->tokens[i] = t;
    words[n_words++] = i;
    i++;
  }
  for (size_t k = 259; k < n_vocab; k++) {
    v->types[k] = 1;
    v->scores[k] = -(float)(k - 259);
  }
  v->bos = 1;
  v->eos = 2;
  v->has_add_bos = 1;
  v->add_bos = true;
  free(words);
  free(st.slot);
}

static int vocab_from_json(vocab *v, const char *path, sc_err *e) {
  char *text = NULL;
  size_t len = 0;
  int rc = sc_read_file(path, 512u << 20, &text, &len);
  if (rc) return sc_err_set(e, rc == SC_ETOOBIG ? SC_ETOOBIG : SC_EINVAL, "bad_vocab", "cannot read vocabulary %s: %s", path,
                            sc_strerror(rc));
  json_t *o = NULL;
  rc = sc_json_parse_object(text, len, &o, e);
  free(text);
  if (rc) {
    char m[sizeof e->msg];
    snprintf(m, sizeof m, "vocabulary %.200s: %.280s", path, e ? e->msg : "");
    return sc_err_set(e, SC_EINVAL, "bad_vocab", "%s", m);
  }
  v->json = o;
  static const char *known[] = {"model", "pre", "tokens", "scores", "token_type", "merges", "bos_token_id", "eos_token_id",
                                "add_bos_token", "chat_template", NULL};
  const char *k;
  json_t *val;
  json_object_foreach(o, k, val) {
    bool ok = false;
    for (int i = 0; known[i]; i++) ok = ok || strcmp(known[i], k) == 0;
    if (!ok) return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: unknown key \"%s\"", path, k);
  }
  json_t *m = json_object_get(o, "model");
  if (!json_is_string(m) || (strcmp(json_string_value(m), "llama") && strcmp(json_string_value(m), "gpt2")))
    return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"model\" must be \"llama\" or \"gpt2\"", path);
  v->model = json_string_value(m);
  json_t *p = json_object_get(o, "pre");
  if (p && !json_is_string(p)) return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"pre\" must be a string", path);
  v->pre = p ? json_string_value(p) : NULL;
  json_t *ct = json_object_get(o, "chat_template");
  if (ct && !json_is_string(ct))
    return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"chat_template\" must be a string", path);
  v->chat_template = ct ? json_string_value(ct) : NULL;
  json_t *t = json_object_get(o, "tokens");
  if (!json_is_array(t) || json_array_size(t) == 0 || json_array_size(t) > (1u << 24))
    return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"tokens\" must be a non-empty array of strings", path);
  v->n = json_array_size(t);
  v->tokens = sc_xcalloc(v->n, sizeof *v->tokens);
  for (size_t i = 0; i < v->n; i++) {
    json_t *s = json_array_get(t, i);
    if (!json_is_string(s)) return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: tokens[%zu] is not a string", path, i);
    v->tokens[i] = (char *)json_string_value(s);
  }
  json_t *sc = json_object_get(o, "scores");
  if (sc) {
    if (!json_is_array(sc) || json_array_size(sc) != v->n)
      return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"scores\" must be an array of %zu numbers", path, v->n);
    v->scores = sc_xcalloc(v->n, sizeof *v->scores);
    for (size_t i = 0; i < v->n; i++) {
      json_t *x = json_array_get(sc, i);
      if (!json_is_number(x)) return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: scores[%zu] is not a number", path, i);
      v->scores[i] = (float)json_number_value(x);
    }
  }
  json_t *tt = json_object_get(o, "token_type");
  if (tt) {
    if (!json_is_array(tt) || json_array_size(tt) != v->n)
      return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"token_type\" must be an array of %zu integers", path, v->n);
    v->types = sc_xcalloc(v->n, sizeof *v->types);
    for (size_t i = 0; i < v->n; i++) {
      json_t *x = json_array_get(tt, i);
      if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 6)
        return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: token_type[%zu] is not an integer 0..6", path, i);
      v->types[i] = (int32_t)json_integer_value(x);
    }
  }
  json_t *mg = json_object_get(o, "merges");
  if (mg) {
    if (!json_is_array(mg)) return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"merges\" must be an array of strings", path);
    v->n_merges = json_array_size(mg);
    v->merges = sc_xcalloc(v->n_merges ? v->n_merges : 1, sizeof *v->merges);
    for (size_t i = 0; i < v->n_merges; i++) {
      json_t *s = json_array_get(mg, i);
      if (!json_is_string(s)) return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: merges[%zu] is not a string", path, i);
      v->merges[i] = (char *)json_string_value(s);
    }
  }
  v->bos = v->eos = -1;
  const char *idk[] = {"bos_token_id", "eos_token_id"};
  int64_t *ids[] = {&v->bos, &v->eos};
  for (int i = 0; i < 2; i++) {
    json_t *x = json_object_get(o, idk[i]);
    if (!x) continue;
    if (!json_is_integer(x) || json_integer_value(x) < 0 || (size_t)json_integer_value(x) >= v->n)
      return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"%s\" must be a token id below %zu", path, idk[i], v->n);
    *ids[i] = json_integer_value(x);
  }
  json_t *ab = json_object_get(o, "add_bos_token");
  if (ab) {
    if (!json_is_boolean(ab)) return sc_err_set(e, SC_EINVAL, "bad_vocab", "vocabulary %s: \"add_bos_token\" must be a boolean", path);
    v->has_add_bos = 1;
    v->add_bos = json_is_true(ab);
  }
  return 0;
}

static void write_vocab(sc_gguf_writer *w, const vocab *v) {
  sc_gguf_w_str(w, "tokenizer.ggml.model", v->model);
  if (v->pre) sc_gguf_w_str(w, "tokenizer.ggml.pre", v->pre);
  sc_gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, v->n);
  if (v->scores) sc_gguf_w_arr_f32(w, "tokenizer.ggml.scores", v->scores, v->n);
  if (v->types) sc_gguf_w_arr_i32(w, "tokenizer.ggml.token_type", v->types, v->n);
  if (v->merges) sc_gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges, v->n_merges);
  if (v->bos >= 0) sc_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos);
  if (v->eos >= 0) sc_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos);
  if (v->has_add_bos) sc_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos);
  if (v->chat_template) sc_gguf_w_str(w, "tokenizer.chat_template", v->chat_template);
}

/* ---- tensors ---- */
static uint32_t fallback(uint32_t type, int64_t row) {
  const sc_qtype_traits *tr = sc_qtype_traits_of(type);
  if (row % tr->block == 0) return type;
  if (type == SC_GGML_Q4_K) return row % 32 == 0 ? SC_GGML_Q4_0 : SC_GGML_F32;
  if (type == SC_GGML_Q6_K || type == SC_GGML_Q8_0 || type == SC_GGML_Q4_0) return row % 32 == 0 ? SC_GGML_Q8_0 : SC_GGML_F32;
  return SC_GGML_F32;
}

/* Adds a tensor filled with N(mean, std) values, quantized to type (after fallback). */
static void add_tensor(sc_gguf_writer *w, uint64_t seed, const char *name, uint32_t type, int64_t n0, int64_t n1, float mean,
                       float std) {
  int n_dims = n1 > 1 ? 2 : 1;
  if (n_dims == 1) type = SC_GGML_F32;
  type = fallback(type, n0);
  const sc_qtype_traits *tr = sc_qtype_traits_of(type);
  size_t row_bytes = (size_t)(n0 / tr->block * tr->size);
  uint8_t *data = sc_xmalloc(row_bytes * (size_t)n1);
  float *row = sc_xmalloc((size_t)n0 * sizeof *row);
  rng r;
  rng_seed(&r, seed, name);
  for (int64_t i = 0; i < n1; i++) {
    for (int64_t j = 0; j < n0; j++) row[j] = mean + std * gauss(&r);
    sc_quantize_row(type, row, data + (size_t)i * row_bytes, n0);
  }
  free(row);
  int64_t ne[2] = {n0, n1};
  sc_gguf_w_tensor(w, name, type, n_dims, ne, data, row_bytes * (size_t)n1, true);
}

static int get_preset(const sc_synth_opts *o, preset *p, sc_err *e) {
  if (strcmp(o->preset, "micro") == 0) {
    *p = (preset){64, 1, 2, 1, 128, 320, 128};
  } else if (strcmp(o->preset, "tiny") == 0) {
    *p = (preset){256, 2, 4, 2, 512, 1024, 512};
  } else if (strcmp(o->preset, "0.5b") == 0) {
    *p = (preset){896, 24, 14, 2, 4864, 151936, 32768};
  } else {
    return sc_err_set(e, SC_EINVAL, "bad_preset", "unknown preset '%s' (expected tiny or 0.5b)", o->preset);
  }
  return 0;
}

static sc_gguf_writer *build(const sc_synth_opts *o, sc_err *e) {
  preset p = {0};
  vocab v = {0};
  sc_gguf_writer *w = NULL;
  bool qwen = false;
  if (strcmp(o->arch, "qwen2") == 0) {
    qwen = true;
  } else if (strcmp(o->arch, "llama") != 0) {
    sc_err_set(e, SC_EINVAL, "bad_arch", "unknown architecture '%s' (expected llama or qwen2)", o->arch);
    return NULL;
  }
  if (get_preset(o, &p, e)) return NULL;
  if (!sc_qtype_traits_of((uint32_t)o->type)) {
    sc_err_set(e, SC_EINVAL, "bad_type", "unsupported tensor type %d", o->type);
    return NULL;
  }
  if (o->vocab_path) {
    if (vocab_from_json(&v, o->vocab_path, e)) goto fail;
    p.n_vocab = (int)v.n;
  } else if (qwen) {
    synth_gpt2(&v, (size_t)p.n_vocab, o->seed);
  } else {
    synth_spm(&v, (size_t)p.n_vocab, o->seed);
  }
  w = sc_gguf_writer_create(32);
  const char *a = o->arch;
  char k[128];
  sc_gguf_w_str(w, "general.architecture", a);
  char nm[96];
  snprintf(nm, sizeof nm, "suanchi-synth-%s-%s", a, o->preset);
  sc_gguf_w_str(w, "general.name", nm);
  /* llama.cpp's LLAMA_FTYPE numbering (q4_k is written as Q4_K_M, the mix we produce) */
  uint32_t ftype = 0;
  switch (o->type) {
    case SC_GGML_F16: ftype = 1; break;
    case SC_GGML_Q4_0: ftype = 2; break;
    case SC_GGML_Q8_0: ftype = 7; break;
    case SC_GGML_Q4_K: ftype = 15; break;
    case SC_GGML_Q6_K: ftype = 18; break;
    case SC_GGML_BF16: ftype = 32; break;
    default: ftype = 0; break;
  }
  sc_gguf_w_u32(w, "general.file_type", ftype);
#define KU(suffix, val) (snprintf(k, sizeof k, "%s." suffix, a), sc_gguf_w_u32(w, k, (uint32_t)(val)))
#define KF(suffix, val) (snprintf(k, sizeof k, "%s." suffix, a), sc_gguf_w_f32(w, k, (val)))
  KU("context_length", p.n_ctx);
  KU("embedding_length", p.n_embd);
  KU("block_count", p.n_layer);
  KU("feed_forward_length", p.n_ff);
  KU("attention.head_count", p.n_head);
  KU("attention.head_count_kv", p.n_kv);
  KF("attention.layer_norm_rms_epsilon", qwen ? 1e-6f : 1e-5f);
  KF("rope.freq_base", qwen ? 1000000.0f : 10000.0f);
  KU("vocab_size", p.n_vocab);
  if (o->rope_linear > 0) {
    snprintf(k, sizeof k, "%s.rope.scaling.type", a);
    sc_gguf_w_str(w, k, "linear");
    KF("rope.scaling.factor", o->rope_linear);
  }
#undef KU
#undef KF
  write_vocab(w, &v);

  int hd = p.n_embd / p.n_head;
  uint32_t t = (uint32_t)o->type;
  bool kq = t == SC_GGML_Q4_K;
  uint32_t more = kq ? SC_GGML_Q6_K : t; /* Q4_K_M's "more bits" tensors */
  uint64_t s = o->seed;
  add_tensor(w, s, "token_embd.weight", qwen ? more : t, p.n_embd, p.n_vocab, 0, 1.0f);
  float sd = 1.0f / sqrtf((float)p.n_embd), sf = 1.0f / sqrtf((float)p.n_ff);
  for (int l = 0; l < p.n_layer; l++) {
    bool mb = l < p.n_layer / 8 || l >= 7 * p.n_layer / 8 || (l - p.n_layer / 8) % 3 == 2;
    char n[96];
#define T(suffix, ty, n0, n1, mean, std) (snprintf(n, sizeof n, "blk.%d." suffix, l), add_tensor(w, s, n, ty, n0, n1, mean, std))
    T("attn_norm.weight", SC_GGML_F32, p.n_embd, 1, 1.0f, 0.1f);
    T("attn_q.weight", t, p.n_embd, hd * p.n_head, 0, sd);
    T("attn_k.weight", t, p.n_embd, hd * p.n_kv, 0, sd);
    T("attn_v.weight", mb ? more : t, p.n_embd, hd * p.n_kv, 0, sd);
    if (qwen) {
      T("attn_q.bias", SC_GGML_F32, hd * p.n_head, 1, 0, 0.1f);
      T("attn_k.bias", SC_GGML_F32, hd * p.n_kv, 1, 0, 0.1f);
      T("attn_v.bias", SC_GGML_F32, hd * p.n_kv, 1, 0, 0.1f);
    }
    T("attn_output.weight", t, hd * p.n_head, p.n_embd, 0, sd);
    T("ffn_norm.weight", SC_GGML_F32, p.n_embd, 1, 1.0f, 0.1f);
    T("ffn_gate.weight", t, p.n_embd, p.n_ff, 0, sd);
    T("ffn_up.weight", t, p.n_embd, p.n_ff, 0, sd);
    T("ffn_down.weight", mb ? more : t, p.n_ff, p.n_embd, 0, sf);
#undef T
  }
  add_tensor(w, s, "output_norm.weight", SC_GGML_F32, p.n_embd, 1, 1.0f, 0.1f);
  if (o->rope_freqs) { /* factors between 1 and 8, as llama3's scaling produces */
    float *ff = sc_xmalloc((size_t)(hd / 2) * sizeof *ff);
    for (int i = 0; i < hd / 2; i++) ff[i] = 1.0f + 7.0f * (float)i / (float)(hd / 2);
    int64_t ne[1] = {hd / 2};
    sc_gguf_w_tensor(w, "rope_freqs.weight", SC_GGML_F32, 1, ne, ff, (size_t)(hd / 2) * sizeof *ff, true);
  }
  if (!qwen) add_tensor(w, s, "output.weight", more, p.n_embd, p.n_vocab, 0, sd);
  vocab_free(&v);
  return w;
fail:
  vocab_free(&v);
  sc_gguf_writer_destroy(w);
  return NULL;
}

int sc_synth_write(const sc_synth_opts *o, const char *path, sc_err *e) {
  sc_gguf_writer *w = build(o, e);
  if (!w) return e && e->msg[0] ? SC_EINVAL : SC_EINVAL;
  int rc = sc_gguf_writer_save(w, path, e);
  sc_gguf_writer_destroy(w);
  return rc;
}

int sc_synth_image(const sc_synth_opts *o, uint8_t **img, size_t *len, sc_err *e) {
  sc_gguf_writer *w = build(o, e);
  if (!w) return SC_EINVAL;
  sc_gguf_writer_image(w, img, len);
  sc_gguf_writer_destroy(w);
  return 0;
}
