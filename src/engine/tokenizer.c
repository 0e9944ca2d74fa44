/*
 * tokenizer.c — builds a tokenizer from a vocabulary and runs the common part of tokenizing:
 * BOS, splitting the text at special tokens (leftmost-longest), and handing each plain-text
 * fragment to the algorithm of the model (tok_spm.c for "llama", tok_bpe.c for "gpt2").
 *
 * Construction precomputes everything tokenizing reads: an open-addressing hash of token texts,
 * the merge table, the byte tokens, the decoded bytes of every token, the special-token index and
 * the end-of-generation flags. After that the struct is never written, which is what makes
 * concurrent sc_tokenize calls safe: each call keeps its scratch state on its own heap memory.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/tok_internal.h"

/* ---------- small shared helpers ---------- */

void tok_out_push(tok_out *o, int32_t id) {
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 64;
    o->v = sc_xrealloc(o->v, o->cap * sizeof *o->v);
  }
  o->v[o->n++] = id;
}

void tok_heap_push(tok_heap *h, tok_heap_item it) {
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 64;
    h->v = sc_xrealloc(h->v, h->cap * sizeof *h->v);
  }
  size_t i = h->n++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (h->v[p].key <= it.key) break;
    h->v[i] = h->v[p];
    i = p;
  }
  h->v[i] = it;
}

bool tok_heap_pop(tok_heap *h, tok_heap_item *out) {
  if (!h->n) return false;
  *out = h->v[0];
  tok_heap_item last = h->v[--h->n];
  size_t i = 0, n = h->n;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h->v[c + 1].key < h->v[c].key) c++;
    if (last.key <= h->v[c].key) break;
    h->v[i] = h->v[c];
    i = c;
  }
  if (n) h->v[i] = last;
  return true;
}

size_t tok_utf8_len(const unsigned char *s, size_t n, uint32_t *cp) {
  if (n == 0) return 0;
  unsigned c = s[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    if (cp) *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  if (cp) *cp = v;
  return len;
}

size_t tok_utf8_put(uint32_t cp, char *buf) {
  unsigned char *b = (unsigned char *)buf;
  if (cp < 0x80) {
    b[0] = (unsigned char)cp;
    return 1;
  } else if (cp < 0x800) {
    b[0] = (unsigned char)(0xC0 | (cp >> 6));
    b[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  } else if (cp < 0x10000) {
    b[0] = (unsigned char)(0xE0 | (cp >> 12));
    b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  b[0] = (unsigned char)(0xF0 | (cp >> 18));
  b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  b[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* GPT-2's byte-level alphabet: printable bytes stand for themselves, the 68 others (controls,
 * space, DEL, NBSP, soft hyphen) for U+0100.. in byte order, so every byte is a visible char. */
static bool byte_is_printable(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t tok_byte_to_cp(uint8_t b) {
  if (byte_is_printable(b)) return b;
  uint32_t n = 0;
  for (unsigned i = 0; i < b; i++)
    if (!byte_is_printable(i)) n++;
  return 256 + n;
}

int tok_cp_to_byte(uint32_t cp) {
  if (cp < 256) return byte_is_printable(cp) ? (int)cp : -1;
  if (cp >= 256 + 68) return -1;
  uint32_t n = 0;
  for (unsigned i = 0; i < 256; i++)
    if (!byte_is_printable(i) && n++ == cp - 256) return (int)i;
  return -1;
}

static uint64_t hash_bytes(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

int32_t tok_lookup(const sc_tokenizer *t, const char *s, size_t len) {
  size_t i = hash_bytes(s, len) & t->smask;
  for (;;) {
    int32_t id = t->slots[i];
    if (id < 0) return -1;
    if (t->tlen[id] == len && memcmp(t->text + t->toff[id], s, len) == 0) return id;
    i = (i + 1) & t->smask;
  }
}

uint64_t tok_hash_pair(uint64_t key) {
  key *= 0x9E3779B97F4A7C15ull;
  return key ^ (key >> 31);
}

int32_t tok_merge_find(const sc_tokenizer *t, int32_t a, int32_t b, int32_t *result) {
  if (!t->merges || a < 0 || b < 0) return -1;
  uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
  size_t i = tok_hash_pair(key) & t->mmask;
  for (;;) {
    const tok_merge *m = &t->merges[i];
    if (m->rank < 0) return -1;
    if (m->key == key) {
      *result = m->result;
      return m->rank;
    }
    i = (i + 1) & t->mmask;
  }
}

/* ---------- construction ---------- */

static size_t pow2_at_least(size_t n) {
  size_t p = 16;
  while (p < n) p <<= 1;
  return p;
}

static void build_text_table(sc_tokenizer *t, const sc_vocab *v) {
  size_t total = 0;
  for (size_t i = 0; i < v->n_tokens; i++) total += v->token_lens[i] + 1;
  t->text = sc_xmalloc(total ? total : 1);
  t->toff = sc_xmalloc(v->n_tokens * sizeof *t->toff);
  t->tlen = sc_xmalloc(v->n_tokens * sizeof *t->tlen);
  size_t off = 0;
  for (size_t i = 0; i < v->n_tokens; i++) {
    memcpy(t->text + off, v->tokens[i], v->token_lens[i]);
    t->text[off + v->token_lens[i]] = 0;
    t->toff[i] = off;
    t->tlen[i] = (uint32_t)v->token_lens[i];
    off += v->token_lens[i] + 1;
  }
  size_t cap = pow2_at_least(v->n_tokens * 2);
  t->smask = cap - 1;
  t->slots = sc_xmalloc(cap * sizeof *t->slots);
  memset(t->slots, 0xFF, cap * sizeof *t->slots);
  for (int32_t id = 0; id < t->n; id++) {
    const char *s = t->text + t->toff[id];
    size_t i = hash_bytes(s, t->tlen[id]) & t->smask;
    /* A duplicated text maps to its last id, as in llama.cpp. */
    while (t->slots[i] >= 0 &&
           !(t->tlen[t->slots[i]] == t->tlen[id] && memcmp(t->text + t->toff[t->slots[i]], s, t->tlen[id]) == 0))
      i = (i + 1) & t->smask;
    t->slots[i] = id;
  }
}

/* "<0xNN>" -> NN, or -1. */
static int parse_byte_token(const char *s, size_t len) {
  if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; i++) {
    char c = s[i];
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Decoded bytes of every token (what sc_token_bytes returns). */
static void build_decoded(sc_tokenizer *t) {
  size_t total = 0;
  for (int32_t i = 0; i < t->n; i++) total += t->tlen[i];
  t->dec = sc_xmalloc(total ? total : 1);
  t->doff = sc_xmalloc((size_t)t->n * sizeof *t->doff);
  t->dlen = sc_xmalloc((size_t)t->n * sizeof *t->dlen);
  size_t off = 0;
  for (int32_t id = 0; id < t->n; id++) {
    const unsigned char *s = (const unsigned char *)t->text + t->toff[id];
    size_t len = t->tlen[id], w = 0;
    char *d = t->dec + off;
    int type = t->types[id];
    if (type == SC_TOKTYPE_CONTROL || type == SC_TOKTYPE_UNKNOWN || type == SC_TOKTYPE_UNUSED) {
      /* nothing: these never appear in generated text */
    } else if (type == SC_TOKTYPE_USER_DEFINED) {
      memcpy(d, s, len);
      w = len;
    } else if (t->algo == TOK_SPM) {
      int b = type == SC_TOKTYPE_BYTE ? parse_byte_token((const char *)s, len) : -1;
      if (b >= 0) {
        d[w++] = (char)b;
      } else {
        for (size_t i = 0; i < len;) {
          if (i + 3 <= len && s[i] == 0xE2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) {
            d[w++] = ' ';
            i += 3;
          } else {
            d[w++] = (char)s[i++];
          }
        }
      }
    } else {
      for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t cl = tok_utf8_len(s + i, len - i, &cp);
        int b = cl ? tok_cp_to_byte(cp) : -1;
        if (b >= 0) {
          d[w++] = (char)b;
          i += cl;
        } else {
          size_t k = cl ? cl : 1; /* not a byte-level char: keep the text as it is */
          memcpy(d + w, s + i, k);
          w += k;
          i += k;
        }
      }
    }
    t->doff[id] = off;
    t->dlen[id] = (uint32_t)w;
    off += w;
  }
}

static int build_byte_tokens(sc_tokenizer *t, sc_err *e) {
  for (int b = 0; b < 256; b++) {
    char buf[8];
    int32_t id;
    if (t->algo == TOK_SPM) {
      snprintf(buf, sizeof buf, "<0x%02X>", b);
      id = tok_lookup(t, buf, 6);
      if (id < 0 && b < 0x80) {
        buf[0] = (char)b;
        id = tok_lookup(t, buf, 1);
      }
      if (id < 0) id = t->unk;
    } else {
      size_t n = tok_utf8_put(tok_byte_to_cp((uint8_t)b), buf);
      id = tok_lookup(t, buf, n);
      if (id < 0)
        return sc_err_set(e, SC_EINVAL, "invalid_vocab",
                          "gpt2 vocabulary has no token for byte 0x%02X (byte-level character U+%04X)", b,
                          (unsigned)tok_byte_to_cp((uint8_t)b));
    }
    t->byte_tok[b] = id;
  }
  return 0;
}

static void build_specials(sc_tokenizer *t) {
  int count[256] = {0};
  for (int32_t id = 0; id < t->n; id++) {
    int ty = t->types[id];
    if (t->tlen[id] && (ty == SC_TOKTYPE_CONTROL || ty == SC_TOKTYPE_USER_DEFINED || ty == SC_TOKTYPE_UNKNOWN))
      count[(unsigned char)t->text[t->toff[id]]]++;
  }
  t->sp_start[0] = 0;
  for (int b = 0; b < 256; b++) t->sp_start[b + 1] = t->sp_start[b] + count[b];
  t->n_specials = t->sp_start[256];
  t->specials = sc_xmalloc((size_t)(t->n_specials ? t->n_specials : 1) * sizeof *t->specials);
  int fill[256];
  memcpy(fill, t->sp_start, sizeof fill);
  for (int32_t id = 0; id < t->n; id++) {
    int ty = t->types[id];
    if (t->tlen[id] && (ty == SC_TOKTYPE_CONTROL || ty == SC_TOKTYPE_USER_DEFINED || ty == SC_TOKTYPE_UNKNOWN))
      t->specials[fill[(unsigned char)t->text[t->toff[id]]]++] = id;
  }
  /* Longest first within each first byte (insertion sort: buckets are small). */
  for (int b = 0; b < 256; b++) {
    for (int i = t->sp_start[b] + 1; i < t->sp_start[b + 1]; i++) {
      int32_t x = t->specials[i];
      int j = i - 1;
      while (j >= t->sp_start[b] && t->tlen[t->specials[j]] < t->tlen[x]) {
        t->specials[j + 1] = t->specials[j];
        j--;
      }
      t->specials[j + 1] = x;
    }
  }
}

static const char *const eog_texts[] = {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|endoftext|>",
                                        "<|end|>",    "<end_of_turn>", "<|end_of_text|>", NULL};

static void build_eog(sc_tokenizer *t) {
  t->eog = sc_xcalloc((size_t)t->n, 1);
  if (t->eot < 0) {
    static const char *const eot_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", NULL};
    for (int i = 0; eot_texts[i] && t->eot < 0; i++) t->eot = tok_lookup(t, eot_texts[i], strlen(eot_texts[i]));
  }
  if (t->eos >= 0) t->eog[t->eos] = 1;
  if (t->eot >= 0) t->eog[t->eot] = 1;
  for (int i = 0; eog_texts[i]; i++) {
    int32_t id = tok_lookup(t, eog_texts[i], strlen(eog_texts[i]));
    if (id >= 0 && t->types[id] != SC_TOKTYPE_NORMAL) t->eog[id] = 1;
  }
}

int sc_tokenizer_from_vocab(const sc_vocab *v, sc_tokenizer **out, sc_err *e) {
  *out = NULL;
  int rc = sc_vocab_validate(v, e);
  if (rc) return rc;
  sc_tokenizer *t = sc_xcalloc(1, sizeof *t);
  t->n = (int32_t)v->n_tokens;
  t->algo = strcmp(v->model, "llama") == 0 ? TOK_SPM : TOK_BPE;
  sc_strlcpy(t->model, v->model, sizeof t->model);
  t->bos = v->bos_id;
  t->eos = v->eos_id;
  t->eot = v->eot_id;
  t->unk = v->unk_id;
  build_text_table(t, v);
  t->types = sc_xmalloc((size_t)t->n);
  t->scores = sc_xcalloc((size_t)t->n, sizeof *t->scores);
  for (int32_t i = 0; i < t->n; i++) {
    int ty = v->token_types ? v->token_types[i] : SC_TOKTYPE_NORMAL;
    if (ty == SC_TOKTYPE_UNDEFINED) ty = SC_TOKTYPE_NORMAL;
    /* Without token_type, llama's <0xNN> texts are still its byte tokens. */
    if (!v->token_types && t->algo == TOK_SPM && parse_byte_token(t->text + t->toff[i], t->tlen[i]) >= 0)
      ty = SC_TOKTYPE_BYTE;
    t->types[i] = (uint8_t)ty;
    if (v->scores) t->scores[i] = v->scores[i];
  }
  if (t->algo == TOK_SPM) {
    t->pre = PRE_NONE;
    t->add_space_prefix = v->add_space_prefix != 0;
    t->add_bos = v->add_bos != 0;
  } else {
    if ((rc = tok_bpe_init(t, v->pre, e)) || (rc = tok_bpe_merges(t, v->merges, v->n_merges, e))) goto out;
    t->add_bos = v->add_bos >= 0 ? v->add_bos == 1 : t->pre == PRE_LLAMA3;
  }
  if ((rc = build_byte_tokens(t, e))) goto out;
  build_decoded(t);
  build_specials(t);
  build_eog(t);
  if (v->chat_template) t->chat_template = sc_xstrdup(v->chat_template);
out:
  if (rc) {
    sc_tokenizer_destroy(t);
    return rc;
  }
  *out = t;
  return 0;
}

void sc_tokenizer_destroy(sc_tokenizer *t) {
  if (!t) return;
  free(t->text);
  free(t->toff);
  free(t->tlen);
  free(t->dec);
  free(t->doff);
  free(t->dlen);
  free(t->scores);
  free(t->types);
  free(t->slots);
  free(t->merges);
  free(t->specials);
  free(t->eog);
  pcre2_code_free(t->re);
  free(t->chat_template);
  free(t);
}

/* ---------- tokenizing ---------- */

/* The longest special token starting at s (n bytes left), or -1. */
static int32_t match_special(const sc_tokenizer *t, const char *s, size_t n) {
  unsigned b = (unsigned char)s[0];
  for (int i = t->sp_start[b]; i < t->sp_start[b + 1]; i++) {
    int32_t id = t->specials[i];
    if (t->tlen[id] <= n && memcmp(t->text + t->toff[id], s, t->tlen[id]) == 0) return id;
  }
  return -1;
}

static int fragment(const sc_tokenizer *t, const char *s, size_t len, bool *prev_special, pcre2_match_data *md,
                    tok_out *o, sc_err *e) {
  if (!len) return 0;
  int rc;
  if (t->algo == TOK_SPM)
    rc = tok_spm_fragment(t, s, len, t->add_space_prefix && *prev_special, o, e);
  else
    rc = tok_bpe_fragment(t, s, len, md, o, e);
  *prev_special = false;
  return rc;
}

int sc_tokenize(const sc_tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
                int32_t **out, int *n, sc_err *e) {
  *out = NULL;
  *n = 0;
  if (len > SC_TOKENIZE_MAX_BYTES)
    return sc_err_set(e, SC_ETOOBIG, "too_big", "text of %zu bytes is over the tokenizer's limit of %u MiB", len,
                      SC_TOKENIZE_MAX_BYTES >> 20);
  tok_out o = {0};
  pcre2_match_data *md = NULL;
  int rc = 0;
  if (t->re) md = pcre2_match_data_create_from_pattern(t->re, NULL);
  if (t->re && !md) abort();
  if (add_bos && t->bos >= 0) tok_out_push(&o, t->bos);
  /* llama.cpp prefixes a space to the first fragment and to each one after a special token. */
  bool prev_special = true;
  size_t start = 0;
  if (parse_special && t->n_specials) {
    for (size_t i = 0; i < len;) {
      int32_t id = match_special(t, text + i, len - i);
      if (id < 0) {
        i++;
        continue;
      }
      if ((rc = fragment(t, text + start, i - start, &prev_special, md, &o, e))) goto out;
      tok_out_push(&o, id);
      prev_special = true;
      i += t->tlen[id];
      start = i;
    }
  }
  rc = fragment(t, text + start, len - start, &prev_special, md, &o, e);
out:
  pcre2_match_data_free(md);
  if (rc) {
    free(o.v);
    return rc;
  }
  if (!o.v) o.v = sc_xmalloc(sizeof *o.v);
  *out = o.v;
  *n = (int)o.n;
  return 0;
}

/* ---------- accessors ---------- */

size_t sc_utf8_complete_len(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  /* Only the last 3 bytes can start an unfinished sequence. */
  for (size_t back = 1; back <= 3 && back <= len; back++) {
    size_t i = len - back;
    unsigned c = u[i];
    if ((c & 0xC0) == 0x80) continue; /* continuation byte: look further back */
    size_t need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
    if (need <= back) return len; /* complete (or an ASCII/invalid byte) */
    /* Unfinished if what is there could still become valid: check the bytes present. */
    unsigned char pad[4] = {u[i], 0x80, 0x80, 0x80};
    for (size_t k = 1; k < back; k++) pad[k] = u[i + k];
    if (c == 0xE0 && back >= 2 && pad[1] < 0xA0) return len; /* overlong */
    if (c == 0xED && back >= 2 && pad[1] > 0x9F) return len; /* surrogate */
    if (c == 0xF0 && back >= 2 && pad[1] < 0x90) return len;
    if (c == 0xF4 && back >= 2 && pad[1] > 0x8F) return len;
    return i;
  }
  return len;
}

const char *sc_token_bytes(const sc_tokenizer *t, int32_t id, size_t *len) {
  if (id < 0 || id >= t->n) {
    *len = 0;
    return "";
  }
  *len = t->dlen[id];
  return t->dec + t->doff[id];
}

const char *sc_token_text(const sc_tokenizer *t, int32_t id, size_t *len) {
  if (id < 0 || id >= t->n) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = t->tlen[id];
  return t->text + t->toff[id];
}

int sc_token_type(const sc_tokenizer *t, int32_t id) { return id < 0 || id >= t->n ? -1 : t->types[id]; }
int32_t sc_tokenizer_find(const sc_tokenizer *t, const char *s, size_t len) { return tok_lookup(t, s, len); }
int sc_tokenizer_n_vocab(const sc_tokenizer *t) { return t->n; }
int32_t sc_tokenizer_bos(const sc_tokenizer *t) { return t->bos; }
int32_t sc_tokenizer_eos(const sc_tokenizer *t) { return t->eos; }
int32_t sc_tokenizer_eot(const sc_tokenizer *t) { return t->eot; }
bool sc_tokenizer_add_bos(const sc_tokenizer *t) { return t->add_bos && t->bos >= 0; }
bool sc_tokenizer_is_eog(const sc_tokenizer *t, int32_t id) { return id >= 0 && id < t->n && t->eog[id]; }
const char *sc_tokenizer_chat_template(const sc_tokenizer *t) { return t->chat_template; }
const char *sc_tokenizer_model(const sc_tokenizer *t) { return t->model; }
const char *sc_tokenizer_pre(const sc_tokenizer *t) { return t->pre_name; }
