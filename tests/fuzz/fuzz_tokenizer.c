/* Fuzz harness: the tokenizer on arbitrary bytes (small built-in SentencePiece and byte-level BPE
 * vocabularies, every pre-tokenizer, with and without special tokens; decoding must give the input
 * back), and the vocabulary JSON loader on arbitrary bytes (a vocabulary it accepts must build a
 * tokenizer or be refused with an error, and tokenize).
 * The first input byte picks the target: 0-3 tokenizers, otherwise the JSON loader. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/tok_internal.h"
#include "engine/tokenizer.h"
#include "engine/vocab.h"

static void set_tok(sc_vocab *v, size_t i, const char *s, int type) {
  v->tokens[i] = sc_xstrdup(s);
  v->token_lens[i] = strlen(s);
  v->token_types[i] = type;
  v->scores[i] = -(float)i;
}

static sc_tokenizer *make_spm(void) {
  static const char *pieces[] = {"▁", "a", "b", "c", "ab", "bc", "abc", "▁a", "▁ab", "▁▁", "é", "你", "你好", "好"};
  size_t np = sizeof pieces / sizeof pieces[0];
  sc_vocab *v = sc_vocab_new(259 + np, 0);
  strcpy(v->model, "llama");
  v->scores = sc_xcalloc(v->n_tokens, sizeof *v->scores);
  v->token_types = sc_xcalloc(v->n_tokens, sizeof *v->token_types);
  set_tok(v, 0, "<unk>", SC_TOKTYPE_UNKNOWN);
  set_tok(v, 1, "<s>", SC_TOKTYPE_CONTROL);
  set_tok(v, 2, "</s>", SC_TOKTYPE_CONTROL);
  for (int b = 0; b < 256; b++) {
    char buf[8];
    snprintf(buf, sizeof buf, "<0x%02X>", b);
    set_tok(v, 3 + (size_t)b, buf, SC_TOKTYPE_BYTE);
  }
  for (size_t i = 0; i < np; i++) set_tok(v, 259 + i, pieces[i], SC_TOKTYPE_NORMAL);
  v->bos_id = 1;
  v->eos_id = 2;
  sc_tokenizer *t = NULL;
  sc_err e;
  if (sc_tokenizer_from_vocab(v, &t, &e)) abort();
  sc_vocab_destroy(v);
  return t;
}

static sc_tokenizer *make_bpe(const char *pre) {
  static const char *merges[] = {"a b", "ab c", "Ġ a", "Ġa b", "Ġ Ġ", "1 2", "12 3", "Ċ Ċ", NULL};
  static const char *extra[] = {"ab", "abc", "Ġa", "Ġab", "ĠĠ", "12", "123", "ĊĊ", "<|eot_id|>", "<|x|>", NULL};
  size_t ne = 0, nm = 0;
  while (extra[ne]) ne++;
  while (merges[nm]) nm++;
  sc_vocab *v = sc_vocab_new(256 + ne, nm);
  strcpy(v->model, "gpt2");
  sc_strlcpy(v->pre, pre, sizeof v->pre);
  v->scores = sc_xcalloc(v->n_tokens, sizeof *v->scores);
  v->token_types = sc_xcalloc(v->n_tokens, sizeof *v->token_types);
  for (int b = 0; b < 256; b++) {
    char buf[8] = {0};
    tok_utf8_put(tok_byte_to_cp((uint8_t)b), buf);
    set_tok(v, (size_t)b, buf, SC_TOKTYPE_NORMAL);
  }
  for (size_t i = 0; i < ne; i++)
    set_tok(v, 256 + i, extra[i], extra[i][0] == '<' ? SC_TOKTYPE_CONTROL : SC_TOKTYPE_NORMAL);
  for (size_t i = 0; i < nm; i++) v->merges[i] = sc_xstrdup(merges[i]);
  sc_tokenizer *t = NULL;
  sc_err e;
  if (sc_tokenizer_from_vocab(v, &t, &e)) abort();
  sc_vocab_destroy(v);
  return t;
}

static void check(const sc_tokenizer *t, const uint8_t *s, size_t n, bool special, bool spm) {
  int32_t *ids = NULL;
  int nid = 0;
  sc_err e;
  if (sc_tokenize(t, (const char *)s, n, false, special, &ids, &nid, &e)) abort();
  if (!special) {
    /* Decoding gives the input back (SentencePiece: after its one prefixed space). */
    size_t k = 0, skip = spm && n ? 1 : 0;
    char *dec = sc_xmalloc(n + 8);
    for (int i = 0; i < nid; i++) {
      size_t l;
      const char *p = sc_token_bytes(t, ids[i], &l);
      if (k + l > n + skip) abort(); /* decoding never grows the text */
      memcpy(dec + k, p, l);
      k += l;
    }
    /* SentencePiece decodes a literal "▁" in the input as a space, like the prefix. */
    char *want = sc_xmalloc(n + 1);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
      if (spm && i + 3 <= n && s[i] == 0xE2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) {
        want[w++] = ' ';
        i += 2;
      } else {
        want[w++] = (char)s[i];
      }
    }
    if (k != w + skip || memcmp(dec + skip, want, w) != 0) abort();
    free(want);
    free(dec);
  }
  free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sc_tokenizer *spm, *bpe[3];
  if (!spm) {
    spm = make_spm();
    bpe[0] = make_bpe("llama3");
    bpe[1] = make_bpe("qwen2");
    bpe[2] = make_bpe("default");
  }
  if (size == 0) return 0;
  uint8_t sel = data[0];
  const uint8_t *s = data + 1;
  size_t n = size - 1;
  bool special = sel & 0x80;
  switch (sel & 0x7F) {
  case 0: check(spm, s, n, special, true); return 0;
  case 1: check(bpe[0], s, n, special, false); return 0;
  case 2: check(bpe[1], s, n, special, false); return 0;
  case 3: check(bpe[2], s, n, special, false); return 0;
  default: break;
  }
  sc_vocab *v = NULL;
  sc_err e;
  if (sc_vocab_parse_json((const char *)s, n, &v, &e) == 0) {
    sc_tokenizer *t = NULL;
    if (sc_tokenizer_from_vocab(v, &t, &e) == 0) {
      int32_t *ids = NULL;
      int nid;
      sc_tokenize(t, "hello world <s> 123\n\xff", 21, true, true, &ids, &nid, &e);
      free(ids);
      sc_tokenizer_destroy(t);
    }
    sc_vocab_destroy(v);
  }
  return 0;
}
