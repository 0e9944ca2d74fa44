/*
 * tok_bpe.c — the "gpt2" tokenizer: a regex pre-tokenizer, then byte-level BPE over ranked merges.
 *
 * Pre-tokenizing: the fragment is cut into maximal runs of valid UTF-8; each invalid byte is a
 * word of its own. A run is split by the pre-tokenizer regex of tokenizer.ggml.pre into words
 * (matches, and any text between matches). The regexes are those of the reference tokenizers
 * (tokenizer.json of Llama 3 and Qwen2, and GPT-2's), with \s spelled out as the Unicode
 * White_Space set, the definition the Rust `tokenizers` library and llama.cpp use.
 *
 * BPE on a word: each byte starts as the token of its byte-level character (GPT-2's
 * bytes_to_unicode alphabet). Every adjacent pair with a merge is a candidate, ordered by the
 * merge's rank and then by position, in a binary heap; a popped candidate is applied only if both
 * symbols are unchanged (same ids, still adjacent). O(n log n) per word. With ignore_merges
 * (llama3), a word that is itself a token is emitted directly, as Llama 3's tokenizer does.
 */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/tok_internal.h"

/* Unicode White_Space (what \s means in the reference tokenizers). */
#define WS "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
#define S "[" WS "]"
#define NS "[^" WS "]"
#define CONTRACTIONS_CI "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"

static const char re_llama3[] = CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS
                                "\\p{L}\\p{N}]+[\\r\\n]*|" S "*[\\r\\n]+|" S "+(?!" NS ")|" S "+";
static const char re_qwen2[] = CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS
                               "\\p{L}\\p{N}]+[\\r\\n]*|" S "*[\\r\\n]+|" S "+(?!" NS ")|" S "+";
static const char re_gpt2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" S "+(?!" NS
                              ")|" S "+";

static const struct {
  const char *name;
  int pre;
} pre_names[] = {{"llama3", PRE_LLAMA3}, {"llama-v3", PRE_LLAMA3}, {"llama-bpe", PRE_LLAMA3},
                 {"qwen2", PRE_QWEN2},   {"default", PRE_GPT2},    {"gpt2", PRE_GPT2},
                 {"gpt-2", PRE_GPT2},    {"", PRE_GPT2},           {NULL, 0}};

int tok_bpe_init(sc_tokenizer *t, const char *pre, sc_err *e) {
  if (!pre) pre = "";
  int p = -1;
  for (int i = 0; pre_names[i].name; i++)
    if (strcmp(pre_names[i].name, pre) == 0) p = pre_names[i].pre;
  if (p < 0)
    return sc_err_set(e, SC_EINVAL, "invalid_vocab",
                      "unsupported pre-tokenizer '%.40s' (supported: llama3, llama-bpe, qwen2, default/gpt2)", pre);
  t->pre = p;
  t->ignore_merges = p == PRE_LLAMA3;
  const char *pattern = p == PRE_LLAMA3 ? re_llama3 : p == PRE_QWEN2 ? re_qwen2 : re_gpt2;
  sc_strlcpy(t->pre_name, p == PRE_LLAMA3 ? "llama3" : p == PRE_QWEN2 ? "qwen2" : "gpt2", sizeof t->pre_name);
  int err;
  PCRE2_SIZE off;
  t->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_NO_UTF_CHECK, &err, &off, NULL);
  if (!t->re) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(err, msg, sizeof msg);
    return sc_err_set(e, SC_EINVAL, "regex", "pre-tokenizer regex does not compile at %zu: %s", (size_t)off,
                      (char *)msg);
  }
  pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE); /* optional: pcre2_match falls back to the interpreter */
  return 0;
}

int tok_bpe_merges(sc_tokenizer *t, char *const *merges, size_t n, sc_err *e) {
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  t->mmask = cap - 1;
  t->merges = sc_xmalloc(cap * sizeof *t->merges);
  for (size_t i = 0; i < cap; i++) t->merges[i] = (tok_merge){0, -1, -1};
  char *cat = NULL;
  size_t catcap = 0;
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    const char *m = merges[i];
    size_t ml = strlen(m);
    /* Split at the first space after the first byte, as llama.cpp does. */
    const char *sp = ml > 1 ? memchr(m + 1, ' ', ml - 1) : NULL;
    if (!sp || sp + 1 == m + ml) {
      rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "merges[%zu] '%.64s' is not of the form \"left right\"", i, m);
      break;
    }
    size_t la = (size_t)(sp - m), lb = ml - la - 1;
    int32_t a = tok_lookup(t, m, la), b = tok_lookup(t, sp + 1, lb);
    if (ml > catcap) {
      catcap = ml * 2;
      cat = sc_xrealloc(cat, catcap);
    }
    memcpy(cat, m, la);
    memcpy(cat + la, sp + 1, lb);
    int32_t r = tok_lookup(t, cat, la + lb);
    if (a < 0 || b < 0 || r < 0) {
      rc = sc_err_set(e, SC_EINVAL, "invalid_vocab", "merges[%zu] '%.64s': %s is not a token", i, m,
                      a < 0 ? "the left part" : b < 0 ? "the right part" : "the merged text");
      break;
    }
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t s = tok_hash_pair(key) & t->mmask;
    while (t->merges[s].rank >= 0 && t->merges[s].key != key) s = (s + 1) & t->mmask;
    if (t->merges[s].rank < 0) t->merges[s] = (tok_merge){key, (int32_t)i, r}; /* first rank wins */
  }
  free(cat);
  return rc;
}

typedef struct bsym {
  int32_t id, prev, next;
} bsym;

typedef struct scratch {
  bsym *sy;
  size_t cap;
  char *enc;
  size_t enccap;
  tok_heap h;
} scratch;

static void bpe_word(const sc_tokenizer *t, const unsigned char *w, size_t n, scratch *sc, tok_out *o) {
  if (n == 1) {
    tok_out_push(o, t->byte_tok[w[0]]);
    return;
  }
  if (t->ignore_merges) {
    if (2 * n > sc->enccap) {
      sc->enccap = 4 * n;
      sc->enc = sc_xrealloc(sc->enc, sc->enccap);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += tok_utf8_put(tok_byte_to_cp(w[i]), sc->enc + k);
    int32_t id = tok_lookup(t, sc->enc, k);
    if (id >= 0) {
      tok_out_push(o, id);
      return;
    }
  }
  if (n > sc->cap) {
    sc->cap = 2 * n;
    sc->sy = sc_xrealloc(sc->sy, sc->cap * sizeof *sc->sy);
  }
  bsym *sy = sc->sy;
  for (size_t i = 0; i < n; i++) sy[i] = (bsym){t->byte_tok[w[i]], (int32_t)i - 1, (int32_t)i + 1};
  sy[n - 1].next = -1;
  tok_heap *h = &sc->h;
  h->n = 0;
  int32_t res;
  for (size_t i = 0; i + 1 < n; i++) {
    int32_t rank = tok_merge_find(t, sy[i].id, sy[i + 1].id, &res);
    if (rank >= 0)
      tok_heap_push(h, (tok_heap_item){((uint64_t)rank << 32) | i, (int32_t)i, (int32_t)i + 1, sy[i].id, sy[i + 1].id});
  }
  tok_heap_item it;
  while (tok_heap_pop(h, &it)) {
    bsym *l = &sy[it.a], *r = &sy[it.b];
    if (l->id != it.x || r->id != it.y || l->next != it.b) continue;
    if (tok_merge_find(t, l->id, r->id, &res) < 0) continue;
    l->id = res;
    l->next = r->next;
    if (r->next >= 0) sy[r->next].prev = it.a;
    r->id = -1;
    r->next = r->prev = -1;
    if (l->prev >= 0) {
      int32_t p = l->prev, rank = tok_merge_find(t, sy[p].id, l->id, &res);
      if (rank >= 0) tok_heap_push(h, (tok_heap_item){((uint64_t)rank << 32) | (uint32_t)p, p, it.a, sy[p].id, l->id});
    }
    if (l->next >= 0) {
      int32_t q = l->next, rank = tok_merge_find(t, l->id, sy[q].id, &res);
      if (rank >= 0)
        tok_heap_push(h, (tok_heap_item){((uint64_t)rank << 32) | (uint32_t)it.a, it.a, q, l->id, sy[q].id});
    }
  }
  for (int32_t i = 0; i >= 0; i = sy[i].next) tok_out_push(o, sy[i].id);
}

/* Splits one valid UTF-8 run with the regex; calls word() on each piece. */
static int split_run(const sc_tokenizer *t, const char *s, size_t n, pcre2_match_data *md, tok_word_fn word,
                     void *ud, sc_err *e) {
  size_t prev = 0, off = 0;
  uint32_t opts = PCRE2_NO_UTF_CHECK;
  while (off < n) {
    int rc = pcre2_match(t->re, (PCRE2_SPTR)s, n, off, opts, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !(opts & PCRE2_NO_JIT)) {
      opts |= PCRE2_NO_JIT; /* a huge match: retry in the interpreter, which uses the heap */
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[160];
      pcre2_get_error_message(rc, msg, sizeof msg);
      return sc_err_set(e, SC_EINVAL, "regex", "pre-tokenizer failed at byte %zu: %s", off, (char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t ms = ov[0], me = ov[1];
    if (me == ms) { /* empty match (none of our regexes has one): step over a character */
      size_t cl = tok_utf8_len((const unsigned char *)s + ms, n - ms, NULL);
      off = ms + (cl ? cl : 1);
      continue;
    }
    if (ms > prev) word(ud, (const unsigned char *)s + prev, ms - prev);
    word(ud, (const unsigned char *)s + ms, me - ms);
    prev = off = me;
  }
  if (prev < n) word(ud, (const unsigned char *)s + prev, n - prev);
  return 0;
}

int tok_bpe_pretokenize(const sc_tokenizer *t, const char *s, size_t len, pcre2_match_data *md, tok_word_fn word,
                        void *ud, sc_err *e) {
  int rc = 0;
  size_t i = 0;
  while (i < len && rc == 0) {
    size_t j = i;
    for (;;) {
      size_t cl = j < len ? tok_utf8_len((const unsigned char *)s + j, len - j, NULL) : 0;
      if (!cl) break;
      j += cl;
    }
    if (j > i) rc = split_run(t, s + i, j - i, md, word, ud, e);
    if (j < len && rc == 0) word(ud, (const unsigned char *)s + j, 1); /* an invalid byte */
    i = j + 1;
  }
  return rc;
}

typedef struct word_ctx {
  const sc_tokenizer *t;
  scratch sc;
  tok_out *o;
} word_ctx;

static void on_word(void *ud, const unsigned char *w, size_t n) {
  word_ctx *c = ud;
  bpe_word(c->t, w, n, &c->sc, c->o);
}

int tok_bpe_fragment(const sc_tokenizer *t, const char *s, size_t len, pcre2_match_data *md, tok_out *o,
                     sc_err *e) {
  word_ctx c = {t, {0}, o};
  int rc = tok_bpe_pretokenize(t, s, len, md, on_word, &c, e);
  free(c.sc.sy);
  free(c.sc.enc);
  free(c.sc.h.v);
  return rc;
}
