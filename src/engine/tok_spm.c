/*
 * tok_spm.c — the "llama" tokenizer: SentencePiece-style BPE over token scores.
 *
 * The fragment is rewritten with spaces as "▁" (U+2581) and, when asked, one "▁" in front.
 * Each UTF-8 character (or invalid byte) starts as a symbol in a doubly linked list. Every
 * adjacent pair whose concatenation is a token is a candidate, ordered by that token's score
 * (higher first) and then by position (leftmost first) in a binary heap. Popping a candidate
 * merges the right symbol into the left one, unless either has changed since it was pushed
 * (detected by their lengths, which only grow), and pushes the two new neighbouring pairs.
 * O(n log n) for n characters. Symbols left over that are not tokens (characters missing from
 * the vocabulary, invalid bytes) are emitted as <0xNN> byte tokens (byte fallback).
 * This is the algorithm of llama.cpp's llm_tokenizer_spm and of SentencePiece's BPE model.
 */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/tok_internal.h"

typedef struct sym {
  int32_t start, len; /* byte range in the rewritten text; len 0 = merged away */
  int32_t prev, next;
  int32_t id;         /* token of the symbol, -1 when none */
} sym;

/* Maps a float so that unsigned comparison orders like the floats. */
static uint32_t float_order(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

static bool mergeable(int type) {
  return type == SC_TOKTYPE_NORMAL || type == SC_TOKTYPE_USER_DEFINED;
}

static void try_pair(const sc_tokenizer *t, const char *buf, const sym *sy, int32_t l, int32_t r, tok_heap *h) {
  if (l < 0 || r < 0) return;
  int32_t len = sy[l].len + sy[r].len;
  int32_t id = tok_lookup(t, buf + sy[l].start, (size_t)len);
  if (id < 0 || !mergeable(t->types[id])) return;
  /* Higher score first, then leftmost: the key is the inverted score order, then the position. */
  uint64_t key = ((uint64_t)(~float_order(t->scores[id])) << 32) | (uint32_t)l;
  tok_heap_push(h, (tok_heap_item){key, l, r, len, id});
}

static int emit_bytes(const sc_tokenizer *t, const unsigned char *s, size_t n, tok_out *o, sc_err *e) {
  for (size_t i = 0; i < n; i++) {
    int32_t id = t->byte_tok[s[i]];
    if (id < 0)
      return sc_err_set(e, SC_EINVAL, "unrepresentable",
                        "byte 0x%02X has no token in the vocabulary (no <0x%02X> token and no unknown token)", s[i],
                        s[i]);
    tok_out_push(o, id);
  }
  return 0;
}

int tok_spm_fragment(const sc_tokenizer *t, const char *s, size_t len, bool space_prefix, tok_out *o, sc_err *e) {
  /* Rewrite: each space becomes the 3 bytes of "▁"; at most 3x the input plus the prefix. */
  size_t cap = 3 * len + 3;
  char *buf = sc_xmalloc(cap);
  size_t n = 0;
  if (space_prefix) {
    memcpy(buf, "\xE2\x96\x81", 3);
    n = 3;
  }
  for (size_t i = 0; i < len; i++) {
    if (s[i] == ' ') {
      memcpy(buf + n, "\xE2\x96\x81", 3);
      n += 3;
    } else {
      buf[n++] = s[i];
    }
  }
  sym *sy = sc_xmalloc(n * sizeof *sy);
  int32_t ns = 0;
  for (size_t i = 0; i < n;) {
    size_t cl = tok_utf8_len((const unsigned char *)buf + i, n - i, NULL);
    bool valid = cl > 0;
    if (!valid) cl = 1;
    sy[ns] = (sym){(int32_t)i, (int32_t)cl, ns - 1, ns + 1, valid ? tok_lookup(t, buf + i, cl) : -1};
    ns++;
    i += cl;
  }
  sy[ns - 1].next = -1;
  tok_heap h = {0};
  for (int32_t i = 0; i + 1 < ns; i++) try_pair(t, buf, sy, i, i + 1, &h);
  tok_heap_item it;
  while (tok_heap_pop(&h, &it)) {
    sym *l = &sy[it.a], *r = &sy[it.b];
    if (!l->len || !r->len || l->len + r->len != it.x) continue;
    l->len += r->len;
    l->id = it.y;
    l->next = r->next;
    if (r->next >= 0) sy[r->next].prev = it.a;
    r->len = 0;
    try_pair(t, buf, sy, l->prev, it.a, &h);
    try_pair(t, buf, sy, it.a, l->next, &h);
  }
  int rc = 0;
  for (int32_t i = 0; i >= 0 && rc == 0; i = sy[i].next) {
    if (sy[i].id >= 0 && t->types[sy[i].id] != SC_TOKTYPE_UNUSED)
      tok_out_push(o, sy[i].id);
    else
      rc = emit_bytes(t, (const unsigned char *)buf + sy[i].start, (size_t)sy[i].len, o, e);
  }
  free(h.v);
  free(sy);
  free(buf);
  return rc;
}
