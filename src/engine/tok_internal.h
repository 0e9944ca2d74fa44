/*
 * tok_internal.h — the tokenizer's private state, shared by tokenizer.c (construction, special
 * tokens, decoding), tok_spm.c (the "llama" algorithm) and tok_bpe.c (the "gpt2" algorithm).
 * Everything here is immutable after sc_tokenizer_from_vocab returns.
 */
#ifndef SC_ENGINE_TOK_INTERNAL_H
#define SC_ENGINE_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/tokenizer.h"

enum { TOK_SPM = 1, TOK_BPE = 2 };
enum { PRE_NONE = 0, PRE_GPT2, PRE_LLAMA3, PRE_QWEN2 };

typedef struct tok_merge {
  uint64_t key;   /* (left id << 32) | right id; 0 with rank -1 marks an empty slot */
  int32_t rank;   /* position in tokenizer.ggml.merges: lower merges first */
  int32_t result; /* id of the concatenation */
} tok_merge;

struct sc_tokenizer {
  int algo, pre;
  int32_t n;
  char *text;             /* token texts, each NUL-terminated, at toff[i] with length tlen[i] */
  size_t *toff;
  uint32_t *tlen;
  char *dec;              /* decoded bytes of each token, at doff[i] with length dlen[i] */
  size_t *doff;
  uint32_t *dlen;
  float *scores;          /* llama: merge priority of the token (higher first) */
  uint8_t *types;         /* SC_TOKTYPE_* */
  int32_t *slots;         /* open-addressing table text -> id (-1 empty) */
  size_t smask;
  tok_merge *merges;      /* open-addressing table (left,right) -> rank, result */
  size_t mmask;
  int32_t byte_tok[256];  /* token for a raw byte: <0xNN> (llama) or the byte-level char (gpt2); -1 none */
  int32_t *specials;      /* tokens matched in text with parse_special, by first byte then longest first */
  int n_specials;
  int sp_start[257];      /* specials starting with byte b are specials[sp_start[b] .. sp_start[b+1]) */
  int32_t bos, eos, eot, unk;
  bool add_bos, add_space_prefix, ignore_merges;
  uint8_t *eog;           /* n flags: token ends generation */
  pcre2_code *re;         /* gpt2 pre-tokenizer */
  char *chat_template;
  char model[16], pre_name[16];
};

/* Growing output array of ids. */
typedef struct tok_out {
  int32_t *v;
  size_t n, cap;
} tok_out;
void tok_out_push(tok_out *o, int32_t id);

/* A binary min-heap of candidate merges ordered by key. */
typedef struct tok_heap_item {
  uint64_t key;
  int32_t a, b, x, y;
} tok_heap_item;
typedef struct tok_heap {
  tok_heap_item *v;
  size_t n, cap;
} tok_heap;
void tok_heap_push(tok_heap *h, tok_heap_item it);
bool tok_heap_pop(tok_heap *h, tok_heap_item *out);

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when s[0] starts none
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). Sets *cp when non-NULL. */
size_t tok_utf8_len(const unsigned char *s, size_t n, uint32_t *cp);
/* Appends the UTF-8 encoding of cp to buf (room for 4 bytes); returns the bytes written. */
size_t tok_utf8_put(uint32_t cp, char *buf);

uint64_t tok_hash_pair(uint64_t key);
int32_t tok_lookup(const sc_tokenizer *t, const char *s, size_t len);
/* Rank of merging (a, b), or -1; *result gets the merged token. */
int32_t tok_merge_find(const sc_tokenizer *t, int32_t a, int32_t b, int32_t *result);

/* The byte-level alphabet of GPT-2: byte -> code point, and code point (< 512) -> byte or -1. */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp);

/* Tokenizes one fragment of plain text (no special tokens) and appends the ids. */
int tok_spm_fragment(const sc_tokenizer *t, const char *s, size_t len, bool space_prefix, tok_out *o, sc_err *e);
int tok_bpe_fragment(const sc_tokenizer *t, const char *s, size_t len, pcre2_match_data *md, tok_out *o,
                     sc_err *e);
/* Cuts a fragment into pre-tokenizer words (invalid bytes are words of their own), in order. */
typedef void (*tok_word_fn)(void *ud, const unsigned char *w, size_t n);
int tok_bpe_pretokenize(const sc_tokenizer *t, const char *s, size_t len, pcre2_match_data *md, tok_word_fn word,
                        void *ud, sc_err *e);
/* Picks and compiles the pre-tokenizer regex for t->pre_name; sets t->pre, t->re, t->ignore_merges. */
int tok_bpe_init(sc_tokenizer *t, const char *pre, sc_err *e);
/* Builds the merge table from "left right" strings. */
int tok_bpe_merges(sc_tokenizer *t, char *const *merges, size_t n, sc_err *e);

#endif
