/* test_tokenizer.c — the tokenizer (src/engine/tokenizer.c, tok_spm.c, tok_bpe.c, tok_gguf.c) and the
 * vocabulary loader (vocab.c) on hand-made vocabularies with known answers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/tok_internal.h"
#include "engine/tokenizer.h"
#include "engine/vocab.h"

/* ---------- vocabulary builders ---------- */

static void set_tok(sc_vocab *v, size_t i, const char *s, float score, int type) {
  v->tokens[i] = sc_xstrdup(s);
  v->token_lens[i] = strlen(s);
  if (v->scores) v->scores[i] = score;
  if (v->token_types) v->token_types[i] = type;
}

/* A small SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then pieces with scores. */
static const struct {
  const char *s;
  float score;
} spm_pieces[] = {{"▁", -100}, {"h", -100}, {"e", -100}, {"l", -100}, {"o", -100}, {"w", -100}, {"r", -100},
                  {"d", -100}, {"he", -1}, {"ll", -2}, {"llo", -3}, {"hello", -4}, {"▁hello", -5}, {"▁w", -6},
                  {"or", -7}, {"▁wor", -8}, {"ld", -9}, {"▁world", -10}, {"lo", -20}, {"a", -100}, {"b", -100},
                  {"ab", -30}, {"ba", -30}, {"▁▁", -50}};
#define SPM_BASE 259

static sc_vocab *spm_vocab(void) {
  size_t np = sizeof spm_pieces / sizeof spm_pieces[0];
  sc_vocab *v = sc_vocab_new(SPM_BASE + np, 0);
  strcpy(v->model, "llama");
  v->scores = calloc(v->n_tokens, sizeof *v->scores);
  v->token_types = calloc(v->n_tokens, sizeof *v->token_types);
  set_tok(v, 0, "<unk>", 0, SC_TOKTYPE_UNKNOWN);
  set_tok(v, 1, "<s>", 0, SC_TOKTYPE_CONTROL);
  set_tok(v, 2, "</s>", 0, SC_TOKTYPE_CONTROL);
  for (int b = 0; b < 256; b++) {
    char buf[8];
    snprintf(buf, sizeof buf, "<0x%02X>", b);
    set_tok(v, 3 + (size_t)b, buf, 0, SC_TOKTYPE_BYTE);
  }
  for (size_t i = 0; i < np; i++) set_tok(v, SPM_BASE + i, spm_pieces[i].s, spm_pieces[i].score, SC_TOKTYPE_NORMAL);
  v->bos_id = 1;
  v->eos_id = 2;
  v->unk_id = 0;
  return v;
}

static int32_t spm_id(const char *s) {
  for (size_t i = 0; i < sizeof spm_pieces / sizeof spm_pieces[0]; i++)
    if (strcmp(spm_pieces[i].s, s) == 0) return SPM_BASE + (int32_t)i;
  cr_assert_fail("no piece %s", s);
  return -1;
}

/* A byte-level BPE vocabulary: ids 0..255 are the byte-level characters of bytes 0..255, then
 * merged tokens, then two control tokens. */
static const char *bpe_merges[] = {"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d", NULL};
static const char *bpe_extra[] = {"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "Ġworl", "Ġworld",
                                  "<|eot_id|>", "<|bos|>", "world", NULL};
#define BPE_HELLO 259
#define BPE_GWORLD 264
#define BPE_EOT 265
#define BPE_BOS 266
#define BPE_WORLD 267

static sc_vocab *bpe_vocab(const char *pre) {
  size_t ne = 0, nm = 0;
  while (bpe_extra[ne]) ne++;
  while (bpe_merges[nm]) nm++;
  sc_vocab *v = sc_vocab_new(256 + ne, nm);
  strcpy(v->model, "gpt2");
  sc_strlcpy(v->pre, pre, sizeof v->pre);
  v->token_types = calloc(v->n_tokens, sizeof *v->token_types);
  for (int b = 0; b < 256; b++) {
    char buf[8] = {0};
    tok_utf8_put(tok_byte_to_cp((uint8_t)b), buf);
    set_tok(v, (size_t)b, buf, 0, SC_TOKTYPE_NORMAL);
  }
  for (size_t i = 0; i < ne; i++)
    set_tok(v, 256 + i, bpe_extra[i], 0, bpe_extra[i][0] == '<' ? SC_TOKTYPE_CONTROL : SC_TOKTYPE_NORMAL);
  for (size_t i = 0; i < nm; i++) v->merges[i] = sc_xstrdup(bpe_merges[i]);
  v->bos_id = BPE_BOS;
  v->eos_id = BPE_BOS;
  return v;
}

static sc_tokenizer *build(sc_vocab *v) {
  sc_tokenizer *t = NULL;
  sc_err e = {0};
  int rc = sc_tokenizer_from_vocab(v, &t, &e);
  cr_assert_eq(rc, 0, "from_vocab: %s", e.msg);
  sc_vocab_destroy(v);
  return t;
}

static int tokenize(const sc_tokenizer *t, const char *s, size_t len, bool bos, bool special, int32_t *ids, int cap) {
  int32_t *out = NULL;
  int n = 0;
  sc_err e = {0};
  cr_assert_eq(sc_tokenize(t, s, len, bos, special, &out, &n, &e), 0, "tokenize: %s", e.msg);
  cr_assert_leq(n, cap);
  memcpy(ids, out, (size_t)n * sizeof *ids);
  free(out);
  return n;
}

#define TOK(t, s, bos, special, ids) tokenize(t, s, strlen(s), bos, special, ids, (int)(sizeof ids / sizeof ids[0]))

static void assert_ids(const int32_t *got, int n, const int32_t *want, int nw) {
  cr_assert_eq(n, nw, "got %d tokens, want %d", n, nw);
  for (int i = 0; i < n; i++) cr_assert_eq(got[i], want[i], "token %d: got %d want %d", i, got[i], want[i]);
}

/* Decoding all ids gives back the input (plus the SPM space prefix). */
static void assert_roundtrip(const sc_tokenizer *t, const int32_t *ids, int n, const char *want, size_t wl) {
  char buf[4096];
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    size_t l;
    const char *p = sc_token_bytes(t, ids[i], &l);
    cr_assert_lt(k + l, sizeof buf);
    memcpy(buf + k, p, l);
    k += l;
  }
  cr_assert_eq(k, wl, "decoded %zu bytes, want %zu", k, wl);
  cr_assert(memcmp(buf, want, wl) == 0);
}

/* ---------- SentencePiece ("llama") ---------- */

Test(spm, merges_by_score) {
  sc_tokenizer *t = build(spm_vocab());
  int32_t ids[32];
  int n = TOK(t, "hello world", false, false, ids);
  int32_t want[] = {spm_id("▁hello"), spm_id("▁world")};
  assert_ids(ids, n, want, 2);
  assert_roundtrip(t, ids, n, " hello world", 12);
  n = TOK(t, "hello world", true, false, ids);
  cr_assert_eq(n, 3);
  cr_assert_eq(ids[0], 1);
  sc_tokenizer_destroy(t);
}

Test(spm, equal_scores_merge_leftmost_first) {
  sc_tokenizer *t = build(spm_vocab());
  int32_t ids[32];
  /* "▁aba": "ab" and "ba" score alike: the left pair wins. */
  int n = TOK(t, "aba", false, false, ids);
  int32_t want[] = {spm_id("▁"), spm_id("ab"), spm_id("a")};
  assert_ids(ids, n, want, 3);
  sc_tokenizer_destroy(t);
}

Test(spm, byte_fallback_and_spaces) {
  sc_tokenizer *t = build(spm_vocab());
  int32_t ids[32];
  int n = TOK(t, "hi\né", false, false, ids);
  int32_t want[] = {spm_id("▁"), spm_id("h"), 3 + 'i', 3 + '\n', 3 + 0xC3, 3 + 0xA9};
  assert_ids(ids, n, want, 6);
  assert_roundtrip(t, ids, n, " hi\né", 6);
  n = TOK(t, " ", false, false, ids); /* prefix + space = "▁▁" */
  int32_t want2[] = {spm_id("▁▁")};
  assert_ids(ids, n, want2, 1);
  sc_tokenizer_destroy(t);
}

Test(spm, empty_text) {
  sc_tokenizer *t = build(spm_vocab());
  int32_t ids[4];
  cr_assert_eq(TOK(t, "", false, false, ids), 0);
  int n = TOK(t, "", true, false, ids);
  int32_t want[] = {1};
  assert_ids(ids, n, want, 1);
  sc_tokenizer_destroy(t);
}

Test(spm, invalid_utf8_is_byte_tokens) {
  sc_tokenizer *t = build(spm_vocab());
  int32_t ids[16];
  const char in[] = "\xff" "a\xe4" "b\xc0\x80";
  int n = tokenize(t, in, sizeof in - 1, false, false, ids, 16);
  int32_t want[] = {spm_id("▁"), 3 + 0xFF, spm_id("a"), 3 + 0xE4, spm_id("b"), 3 + 0xC0, 3 + 0x80};
  assert_ids(ids, n, want, 7);
  char expect[16] = " ";
  memcpy(expect + 1, in, sizeof in - 1);
  assert_roundtrip(t, ids, n, expect, sizeof in);
  sc_tokenizer_destroy(t);
}

Test(spm, special_tokens_only_when_asked) {
  sc_tokenizer *t = build(spm_vocab());
  int32_t ids[32];
  int n = TOK(t, "<s>hello</s>", false, true, ids);
  /* After a special token a space is prefixed again (llama.cpp). */
  int32_t want[] = {1, spm_id("▁hello"), 2};
  assert_ids(ids, n, want, 3);
  n = TOK(t, "<s>", false, false, ids);
  int32_t want2[] = {spm_id("▁"), 3 + '<', 3 + 's', 3 + '>'};
  assert_ids(ids, n, want2, 4);
  /* Control tokens decode to nothing; the raw text is still available. */
  size_t l;
  sc_token_bytes(t, 1, &l);
  cr_assert_eq(l, 0);
  cr_assert_str_eq(sc_token_text(t, 1, &l), "<s>");
  sc_tokenizer_destroy(t);
}

Test(spm, no_space_prefix) {
  sc_vocab *v = spm_vocab();
  v->add_space_prefix = 0;
  sc_tokenizer *t = build(v);
  int32_t ids[32];
  int n = TOK(t, "hello world", false, false, ids);
  int32_t want[] = {spm_id("hello"), spm_id("▁world")};
  assert_ids(ids, n, want, 2);
  sc_tokenizer_destroy(t);
}

Test(spm, defaults_and_eog) {
  sc_tokenizer *t = build(spm_vocab());
  cr_assert(sc_tokenizer_add_bos(t));
  cr_assert_eq(sc_tokenizer_bos(t), 1);
  cr_assert_eq(sc_tokenizer_eos(t), 2);
  cr_assert(sc_tokenizer_is_eog(t, 2));
  cr_assert(!sc_tokenizer_is_eog(t, 1));
  cr_assert(!sc_tokenizer_is_eog(t, -1));
  cr_assert(!sc_tokenizer_is_eog(t, 1 << 30));
  cr_assert_str_eq(sc_tokenizer_model(t), "llama");
  cr_assert_eq(sc_tokenizer_find(t, "▁hello", strlen("▁hello")), spm_id("▁hello"));
  cr_assert_eq(sc_tokenizer_find(t, "nope", 4), -1);
  size_t l;
  cr_assert_null(sc_token_text(t, -1, &l));
  sc_token_bytes(t, 99999, &l);
  cr_assert_eq(l, 0);
  cr_assert_eq(sc_token_type(t, 3), SC_TOKTYPE_BYTE);
  sc_tokenizer_destroy(t);
}

Test(spm, missing_byte_token_is_an_error) {
  sc_vocab *v = sc_vocab_new(2, 0);
  strcpy(v->model, "llama");
  set_tok(v, 0, "▁", 0, 0);
  set_tok(v, 1, "a", 0, 0);
  sc_tokenizer *t = build(v);
  int32_t *ids = NULL;
  int n;
  sc_err e = {0};
  cr_assert_eq(sc_tokenize(t, "a\xc3\xa9", 3, false, false, &ids, &n, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "byte 0xC3 has no token"), "%s", e.msg);
  cr_assert_null(ids);
  sc_tokenizer_destroy(t);
}

/* ---------- byte-level BPE ("gpt2") ---------- */

Test(bpe, merges_by_rank) {
  sc_tokenizer *t = build(bpe_vocab("qwen2"));
  int32_t ids[32];
  int n = TOK(t, "hello world", false, false, ids);
  int32_t want[] = {BPE_HELLO, BPE_GWORLD};
  assert_ids(ids, n, want, 2);
  assert_roundtrip(t, ids, n, "hello world", 11);
  cr_assert(!sc_tokenizer_add_bos(t)); /* qwen2: no BOS by default */
  sc_tokenizer_destroy(t);
}

Test(bpe, ignore_merges_for_llama3) {
  /* "world" is a token no merge produces: llama3 takes the whole word, qwen2 runs BPE. */
  int32_t ids[32];
  sc_tokenizer *t = build(bpe_vocab("llama-bpe"));
  int n = TOK(t, "world", false, false, ids);
  int32_t want[] = {BPE_WORLD};
  assert_ids(ids, n, want, 1);
  cr_assert(sc_tokenizer_add_bos(t)); /* llama3: BOS by default */
  cr_assert_str_eq(sc_tokenizer_pre(t), "llama3");
  sc_tokenizer_destroy(t);
  t = build(bpe_vocab("qwen2"));
  n = TOK(t, "world", false, false, ids);
  int32_t want2[] = {'w', 256 + 5 /* "or" */, 'l', 'd'};
  assert_ids(ids, n, want2, 4);
  sc_tokenizer_destroy(t);
}

Test(bpe, specials_bos_and_eog) {
  sc_tokenizer *t = build(bpe_vocab("llama3"));
  int32_t ids[64];
  int n = TOK(t, "hello<|eot_id|>", true, true, ids);
  int32_t want[] = {BPE_BOS, BPE_HELLO, BPE_EOT};
  assert_ids(ids, n, want, 3);
  n = TOK(t, "<|eot_id|>", false, false, ids);
  cr_assert_gt(n, 1); /* plain text when not parsing specials */
  cr_assert(sc_tokenizer_is_eog(t, BPE_EOT)); /* found by its text */
  cr_assert_eq(sc_tokenizer_eot(t), BPE_EOT);
  size_t l;
  sc_token_bytes(t, BPE_EOT, &l);
  cr_assert_eq(l, 0);
  sc_tokenizer_destroy(t);
}

Test(bpe, invalid_utf8_and_all_bytes_roundtrip) {
  sc_tokenizer *t = build(bpe_vocab("qwen2"));
  char in[256];
  for (int i = 0; i < 256; i++) in[i] = (char)(255 - i);
  int32_t ids[300];
  int n = tokenize(t, in, sizeof in, false, false, ids, 300);
  assert_roundtrip(t, ids, n, in, sizeof in);
  const char bad[] = "a\xff" "b";
  n = tokenize(t, bad, 3, false, false, ids, 300);
  int32_t want[] = {'a', 0xff, 'b'};
  assert_ids(ids, n, want, 3);
  cr_assert_eq(TOK(t, "", true, false, ids), 1);
  cr_assert_eq(TOK(t, "", false, false, ids), 0);
  sc_tokenizer_destroy(t);
}

/* Pre-tokenizer splits, written out by hand from the reference regexes. */
typedef struct words {
  char buf[512];
  size_t k;
} words;

static void collect(void *ud, const unsigned char *w, size_t n) {
  words *ws = ud;
  cr_assert_lt(ws->k + n + 1, sizeof ws->buf);
  memcpy(ws->buf + ws->k, w, n);
  ws->k += n;
  ws->buf[ws->k++] = '|';
  ws->buf[ws->k] = 0;
}

static void check_split(const sc_tokenizer *t, const char *in, const char *want) {
  words ws = {{0}, 0};
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->re, NULL);
  sc_err e;
  cr_assert_eq(tok_bpe_pretokenize(t, in, strlen(in), md, collect, &ws, &e), 0);
  pcre2_match_data_free(md);
  cr_assert_str_eq(ws.buf, want, "split of \"%s\" (%s)", in, sc_tokenizer_pre(t));
}

Test(pretok, qwen2) {
  sc_tokenizer *t = build(bpe_vocab("qwen2"));
  check_split(t, "Hello world", "Hello| world|");
  check_split(t, "12345", "1|2|3|4|5|");
  check_split(t, "$100", "$|1|0|0|");
  check_split(t, "I'm DON'T", "I|'m| DON|'T|");
  check_split(t, "   abc", "  | abc|");
  check_split(t, "a\n\nb", "a|\n\n|b|");
  check_split(t, "x  \n  y", "x|  \n| | y|");
  check_split(t, "end.\n\n", "end|.\n\n|");
  check_split(t, "hello!!!  world", "hello|!!!| | world|");
  check_split(t, "你好，世界", "你好|，世界|"); /* punctuation joins the next letters */
  check_split(t, "\t\tx", "\t|\tx|");
  check_split(t, "a\xe3\x80\x80" "b", "a|\xe3\x80\x80" "b|");     /* U+3000 is a space before a letter */
  check_split(t, "a\xc2\x85\xc2\x85" "b", "a|\xc2\x85|\xc2\x85" "b|"); /* U+0085 is White_Space */
  check_split(t, "x\xff" "y z", "x|\xff|y| z|");                   /* invalid byte: a word of its own */
  check_split(t, "3.14", "3|.|1|4|");
  check_split(t, "don't", "don|'t|");
  sc_tokenizer_destroy(t);
}

Test(pretok, llama3_and_gpt2) {
  sc_tokenizer *t = build(bpe_vocab("llama3"));
  check_split(t, "12345", "123|45|");
  check_split(t, "I'M", "I|'M|");
  check_split(t, " \n", " \n|");
  sc_tokenizer_destroy(t);
  t = build(bpe_vocab("default"));
  check_split(t, "12345", "12345|");
  check_split(t, "DON'T don't", "DON|'|T| don|'t|");
  check_split(t, "a 123 b", "a| 123| b|");
  sc_tokenizer_destroy(t);
}

/* ---------- concurrency and size ---------- */

typedef struct job {
  const sc_tokenizer *t;
  const char *text;
  size_t len;
  int n;
  int32_t *ids;
} job;

static void *run_job(void *p) {
  job *j = p;
  sc_err e;
  for (int r = 0; r < 5; r++) {
    free(j->ids);
    j->ids = NULL;
    if (sc_tokenize(j->t, j->text, j->len, true, true, &j->ids, &j->n, &e)) return (void *)1;
  }
  return NULL;
}

Test(bpe, concurrent_and_long_input) {
  sc_tokenizer *t = build(bpe_vocab("llama3"));
  /* ~200 KB of mixed text: enough to notice quadratic behaviour, and threads at once. */
  size_t cap = 200000, len = 0;
  char *text = malloc(cap + 64);
  const char *parts[] = {"hello world ", "12345 ", "你好 ", "<|eot_id|>", "   \n", "don't ", "\xff"};
  for (int i = 0; len < cap; i++) {
    const char *p = parts[i % 7];
    memcpy(text + len, p, strlen(p));
    len += strlen(p);
  }
  job jobs[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (job){t, text, len, 0, NULL};
    cr_assert_eq(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    cr_assert_null(rv);
  }
  for (int i = 1; i < 4; i++) {
    cr_assert_eq(jobs[i].n, jobs[0].n);
    cr_assert(memcmp(jobs[i].ids, jobs[0].ids, (size_t)jobs[0].n * sizeof(int32_t)) == 0);
  }
  cr_assert_gt(jobs[0].n, 40000);
  for (int i = 0; i < 4; i++) free(jobs[i].ids);
  free(text);
  sc_tokenizer_destroy(t);
}

/* ---------- building errors ---------- */

static void expect_build_error(sc_vocab *v, const char *needle) {
  sc_tokenizer *t = NULL;
  sc_err e = {0};
  cr_assert_neq(sc_tokenizer_from_vocab(v, &t, &e), 0);
  cr_assert_null(t);
  cr_assert(strstr(e.msg, needle), "message \"%s\" lacks \"%s\"", e.msg, needle);
  sc_vocab_destroy(v);
}

Test(build, errors) {
  sc_vocab *v = bpe_vocab("deepseek-coder");
  expect_build_error(v, "unsupported pre-tokenizer 'deepseek-coder'");
  v = bpe_vocab("qwen2");
  free(v->merges[1]);
  v->merges[1] = sc_xstrdup("l");
  expect_build_error(v, "merges[1] 'l' is not of the form");
  v = bpe_vocab("qwen2");
  free(v->merges[2]);
  v->merges[2] = sc_xstrdup("he zz");
  expect_build_error(v, "the right part is not a token");
  v = bpe_vocab("qwen2");
  free(v->merges[2]);
  v->merges[2] = sc_xstrdup("he he");
  expect_build_error(v, "the merged text is not a token");
  v = bpe_vocab("qwen2");
  free(v->tokens[0x41]);
  v->tokens[0x41] = sc_xstrdup("zzz");
  v->token_lens[0x41] = 3;
  expect_build_error(v, "no token for byte 0x41");
  v = bpe_vocab("qwen2");
  strcpy(v->model, "bert");
  expect_build_error(v, "unsupported tokenizer model 'bert'");
  v = bpe_vocab("qwen2");
  v->eos_id = 100000;
  expect_build_error(v, "eos_token_id 100000 is outside the vocabulary");
}

/* ---------- vocabulary JSON ---------- */

static void expect_json_error(const char *json, const char *needle) {
  sc_vocab *v = NULL;
  sc_err e = {0};
  cr_assert_neq(sc_vocab_parse_json(json, strlen(json), &v, &e), 0, "accepted %s", json);
  cr_assert_null(v);
  cr_assert(strstr(e.msg, needle), "message \"%s\" lacks \"%s\"", e.msg, needle);
}

Test(vocab_json, parses_all_fields) {
  const char *j = "{\"model\":\"llama\",\"pre\":\"\",\"tokens\":[\"<unk>\",\"<s>\",\"</s>\",\"\\u2581a\"],"
                  "\"scores\":[0,0,0,-1.5],\"token_type\":[2,3,3,1],\"merges\":[],\"bos_token_id\":1,"
                  "\"eos_token_id\":2,\"unknown_token_id\":0,\"add_bos_token\":false,\"add_space_prefix\":true,"
                  "\"chat_template\":\"{{ '[INST]' }}\"}";
  sc_vocab *v = NULL;
  sc_err e = {0};
  cr_assert_eq(sc_vocab_parse_json(j, strlen(j), &v, &e), 0, "%s", e.msg);
  cr_assert_eq(v->n_tokens, 4);
  cr_assert_str_eq(v->tokens[3], "▁a");
  cr_assert_eq(v->scores[3], -1.5f);
  cr_assert_eq(v->token_types[0], 2);
  cr_assert_eq(v->bos_id, 1);
  cr_assert_eq(v->eot_id, -1);
  cr_assert_eq(v->add_bos, 0);
  cr_assert_eq(v->add_space_prefix, 1);
  cr_assert_str_eq(v->chat_template, "{{ '[INST]' }}");
  sc_tokenizer *t = NULL;
  cr_assert_eq(sc_tokenizer_from_vocab(v, &t, &e), 0, "%s", e.msg);
  cr_assert(!sc_tokenizer_add_bos(t));
  cr_assert_str_eq(sc_tokenizer_chat_template(t), "{{ '[INST]' }}");
  sc_tokenizer_destroy(t);
  sc_vocab_destroy(v);
}

Test(vocab_json, errors) {
  expect_json_error("", "malformed JSON");
  expect_json_error("[1]", "JSON object");
  expect_json_error("{\"tokens\":[\"a\"]}", "missing field 'model'");
  expect_json_error("{\"model\":\"llama\"}", "missing field 'tokens'");
  expect_json_error("{\"model\":\"llama\",\"tokens\":[]}", "'tokens' must not be empty");
  expect_json_error("{\"model\":\"llama\",\"tokens\":[\"a\"],\"colour\":1}", "unknown field 'colour'");
  expect_json_error("{\"model\":\"llama\",\"tokens\":[\"a\",1]}", "tokens[1] must be a string");
  expect_json_error("{\"model\":\"llama\",\"tokens\":[\"a\"],\"scores\":[1,2]}", "'scores' has 2 items but 'tokens' has 1");
  expect_json_error("{\"model\":\"llama\",\"tokens\":[\"a\"],\"scores\":[\"x\"]}", "scores[0] must be a finite number");
  expect_json_error("{\"model\":\"llama\",\"tokens\":[\"a\"],\"token_type\":[9]}", "token_type[0] must be an integer 0..6");
  expect_json_error("{\"model\":\"llama\",\"tokens\":[\"a\"],\"bos_token_id\":5}", "bos_token_id 5 is outside");
  expect_json_error("{\"model\":\"llama\",\"tokens\":[\"a\"],\"bos_token_id\":-3}", "'bos_token_id' must be a token id");
  expect_json_error("{\"model\":\"bert\",\"tokens\":[\"a\"]}", "unsupported tokenizer model 'bert'");
  expect_json_error("{\"model\":\"gpt2\",\"tokens\":[\"a\"],\"merges\":[3]}", "merges[0] must be a string");
  expect_json_error("{\"model\":\"gpt2\",\"tokens\":\"a\"}", "field 'tokens' must be an array");
}

Test(vocab_json, load_file_errors) {
  sc_vocab *v = NULL;
  sc_err e = {0};
  cr_assert_eq(sc_vocab_load_json("/nonexistent/vocab.json", &v, &e), -ENOENT);
  cr_assert(strstr(e.msg, "vocab /nonexistent/vocab.json:"), "%s", e.msg);
  char path[] = "/tmp/sc_vocab_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  const char *bad = "{\"model\":\"llama\",\"tokens\":[\"a\"],\"scores\":[]}";
  cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
  close(fd);
  cr_assert_eq(sc_vocab_load_json(path, &v, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "'scores' has 0 items"), "%s", e.msg);
  cr_assert(strstr(e.msg, path), "%s", e.msg);
  unlink(path);
}

/* ---------- GGUF metadata ---------- */

static sc_gguf *gguf_with_vocab(bool with_model, uint8_t **img) {
  sc_gguf_writer *w = sc_gguf_writer_create(32);
  sc_gguf_w_str(w, "general.architecture", "llama");
  if (with_model) sc_gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
  sc_gguf_w_str(w, "tokenizer.ggml.pre", "qwen2");
  sc_vocab *v = bpe_vocab("qwen2");
  sc_gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, v->n_tokens);
  sc_gguf_w_arr_i32(w, "tokenizer.ggml.token_type", v->token_types, v->n_tokens);
  sc_gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges, v->n_merges);
  sc_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", BPE_EOT);
  sc_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", false);
  sc_gguf_w_str(w, "tokenizer.chat_template", "{% for m in messages %}<|im_start|>{% endfor %}");
  sc_vocab_destroy(v);
  size_t len;
  sc_gguf_writer_image(w, img, &len);
  sc_gguf_writer_destroy(w);
  sc_gguf *g = NULL;
  sc_err e;
  cr_assert_eq(sc_gguf_open_buffer(*img, len, &g, &e), 0, "%s", e.msg);
  return g;
}

Test(gguf, tokenizer_from_metadata) {
  uint8_t *img;
  sc_gguf *g = gguf_with_vocab(true, &img);
  sc_tokenizer *t = NULL;
  sc_err e = {0};
  cr_assert_eq(sc_tokenizer_from_gguf(g, &t, &e), 0, "%s", e.msg);
  sc_gguf_close(g);
  free(img);
  int32_t ids[8];
  int n = TOK(t, "hello world", false, false, ids);
  int32_t want[] = {BPE_HELLO, BPE_GWORLD};
  assert_ids(ids, n, want, 2);
  cr_assert_eq(sc_tokenizer_eos(t), BPE_EOT);
  cr_assert_eq(sc_tokenizer_bos(t), -1);
  cr_assert(!sc_tokenizer_add_bos(t));
  cr_assert(strstr(sc_tokenizer_chat_template(t), "<|im_start|>"));
  sc_tokenizer_destroy(t);
}

Test(gguf, missing_tokenizer_is_an_error) {
  uint8_t *img;
  sc_gguf *g = gguf_with_vocab(false, &img);
  sc_tokenizer *t = NULL;
  sc_err e = {0};
  cr_assert_eq(sc_tokenizer_from_gguf(g, &t, &e), SC_EFORMAT);
  cr_assert(strstr(e.msg, "tokenizer.ggml.model is missing"), "%s", e.msg);
  cr_assert_null(t);
  sc_gguf_close(g);
  free(img);
}

Test(util, byte_level_alphabet) {
  for (int b = 0; b < 256; b++) cr_assert_eq(tok_cp_to_byte(tok_byte_to_cp((uint8_t)b)), b);
  cr_assert_eq(tok_byte_to_cp(' '), 0x120);  /* Ġ */
  cr_assert_eq(tok_byte_to_cp('\n'), 0x10A); /* Ċ */
  cr_assert_eq(tok_byte_to_cp('A'), 'A');
  cr_assert_eq(tok_cp_to_byte(0x20), -1);
  cr_assert_eq(tok_cp_to_byte(0x200), -1);
  uint32_t cp;
  cr_assert_eq(tok_utf8_len((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0); /* surrogate */
  cr_assert_eq(tok_utf8_len((const unsigned char *)"\xe0\x80\x80", 3, &cp), 0); /* overlong */
  cr_assert_eq(tok_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
  cr_assert_eq(tok_utf8_len((const unsigned char *)"\xf0\x9f\xa6\x99", 4, &cp), 4);
  cr_assert_eq(cp, 0x1F999);
  cr_assert_eq(tok_utf8_len((const unsigned char *)"\xf0\x9f\xa6", 3, &cp), 0); /* truncated */
}

Test(util, utf8_complete_len) {
  cr_assert_eq(sc_utf8_complete_len("abc", 3), 3);
  cr_assert_eq(sc_utf8_complete_len("", 0), 0);
  cr_assert_eq(sc_utf8_complete_len("a\xe4\xbd", 3), 1);       /* 你 cut after 2 of 3 bytes */
  cr_assert_eq(sc_utf8_complete_len("a\xe4\xbd\xa0", 4), 4);   /* complete */
  cr_assert_eq(sc_utf8_complete_len("\xf0\x9f\xa6", 3), 0);     /* 🦙 cut */
  cr_assert_eq(sc_utf8_complete_len("\xf0", 1), 0);
  cr_assert_eq(sc_utf8_complete_len("x\xc3", 2), 1);
  cr_assert_eq(sc_utf8_complete_len("x\xff", 2), 2);             /* invalid: never completes */
  cr_assert_eq(sc_utf8_complete_len("x\x80", 2), 2);             /* stray continuation */
  cr_assert_eq(sc_utf8_complete_len("x\xed\xa0", 3), 3);         /* would be a surrogate */
  cr_assert_eq(sc_utf8_complete_len("x\xe0\x80", 3), 3);         /* would be overlong */
}
