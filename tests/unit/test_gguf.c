/* Unit tests for src/engine/gguf.c: a valid synthesized file round-trips; truncated, corrupted
 * and hostile files fail with SC_EFORMAT and a message naming the problem. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/quant.h"
#include "engine/synth.h"

static uint8_t *img;
static size_t img_len;

/* Two tensors after three keys: a small well-formed file to corrupt. */
static void small_file(void) {
  sc_gguf_writer *w = sc_gguf_writer_create(32);
  sc_gguf_w_str(w, "general.architecture", "llama");
  sc_gguf_w_u32(w, "llama.block_count", 3);
  const char *toks[] = {"a", "bc", "def"};
  sc_gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
  float f[64];
  for (int i = 0; i < 64; i++) f[i] = (float)i;
  int64_t ne[2] = {32, 2};
  sc_gguf_w_tensor(w, "first", SC_GGML_F32, 2, ne, f, sizeof f, false);
  uint8_t q[2 * 34];
  sc_quantize_row(SC_GGML_Q8_0, f, q, 64);
  sc_gguf_w_tensor(w, "second", SC_GGML_Q8_0, 2, ne, q, sizeof q, false);
  sc_gguf_writer_image(w, &img, &img_len);
  sc_gguf_writer_destroy(w);
}

static void done(void) {
  free(img);
  img = NULL;
}

/* Offset of the tensor info of `name` (at its n_dims field). */
static size_t info_of(const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i + 8 + n <= img_len; i++) {
    uint64_t l;
    memcpy(&l, img + i, 8);
    if (l == n && memcmp(img + i + 8, name, n) == 0) return i + 8 + n;
  }
  cr_assert_fail("tensor %s not found", name);
  return 0;
}

static void expect_fail(const char *needle) {
  sc_gguf *g = NULL;
  sc_err e = {0};
  int rc = sc_gguf_open_buffer(img, img_len, &g, &e);
  cr_assert_eq(rc, SC_EFORMAT, "expected SC_EFORMAT for '%s', got %d (%s)", needle, rc, e.msg);
  cr_assert_null(g);
  cr_assert(strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
}

TestSuite(gguf, .init = small_file, .fini = done);

Test(gguf, reads_small_file) {
  sc_gguf *g;
  sc_err e;
  cr_assert_eq(sc_gguf_open_buffer(img, img_len, &g, &e), 0, "%s", e.msg);
  cr_assert_eq(sc_gguf_version(g), 3);
  const char *s;
  size_t n;
  cr_assert(sc_gguf_get_str(g, "general.architecture", &s, &n));
  cr_assert_str_eq(s, "llama");
  int64_t v;
  cr_assert(sc_gguf_get_int(g, "llama.block_count", &v));
  cr_assert_eq(v, 3);
  cr_assert_not(sc_gguf_get_str(g, "llama.block_count", &s, &n));
  cr_assert_not(sc_gguf_get_int(g, "missing", &v));
  sc_gguf_type et;
  cr_assert(sc_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n));
  cr_assert_eq(et, SC_GGUF_STRING);
  cr_assert_eq(n, 3);
  cr_assert(sc_gguf_arr_str(g, "tokenizer.ggml.tokens", 2, &s, &n));
  cr_assert_str_eq(s, "def");
  cr_assert_not(sc_gguf_arr_str(g, "tokenizer.ggml.tokens", 3, &s, &n));
  cr_assert_eq(sc_gguf_tensor_count(g), 2);
  const sc_gguf_tensor *t = sc_gguf_find_tensor(g, "second");
  cr_assert_not_null(t);
  cr_assert_eq(t->type, SC_GGML_Q8_0);
  cr_assert_eq(t->ne[0], 32);
  cr_assert_eq(t->ne[1], 2);
  cr_assert_eq(t->nbytes, 68);
  cr_assert_eq(t->offset % 32, 0);
  float out[64];
  sc_dequantize_row(t->type, t->data, out, 64);
  for (int i = 0; i < 64; i++) cr_assert_float_eq(out[i], (float)i, 0.3f);
  const sc_gguf_tensor *f = sc_gguf_find_tensor(g, "first");
  cr_assert_float_eq(((const float *)f->data)[63], 63.0f, 0);
  sc_gguf_close(g);
}

Test(gguf, synthesized_models_load) {
  const char *archs[] = {"llama", "qwen2"};
  for (int a = 0; a < 2; a++) {
    sc_synth_opts o = {.arch = archs[a], .preset = "micro", .type = SC_GGML_Q8_0, .seed = 1};
    uint8_t *m;
    size_t ml;
    sc_err e;
    cr_assert_eq(sc_synth_image(&o, &m, &ml, &e), 0, "%s", e.msg);
    sc_gguf *g;
    cr_assert_eq(sc_gguf_open_buffer(m, ml, &g, &e), 0, "%s", e.msg);
    const char *s;
    cr_assert(sc_gguf_get_str(g, "general.architecture", &s, NULL));
    cr_assert_str_eq(s, archs[a]);
    cr_assert_not_null(sc_gguf_find_tensor(g, "blk.0.attn_q.weight"));
    cr_assert_not_null(sc_gguf_find_tensor(g, "token_embd.weight"));
    size_t n;
    cr_assert(sc_gguf_get_arr(g, "tokenizer.ggml.tokens", NULL, &n));
    cr_assert_eq(n, 320);
    sc_gguf_close(g);
    free(m);
  }
}

Test(gguf, every_truncation_fails_cleanly) {
  for (size_t cut = 0; cut < img_len; cut++) {
    sc_gguf *g = NULL;
    sc_err e = {0};
    int rc = sc_gguf_open_buffer(img, cut, &g, &e);
    cr_assert_eq(rc, SC_EFORMAT, "cut at %zu: rc %d", cut, rc);
    cr_assert(e.msg[0]);
  }
}

Test(gguf, file_errors_name_the_path) {
  char path[] = "/tmp/sc_gguf_testXXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, img, img_len / 2), (ssize_t)(img_len / 2));
  close(fd);
  sc_gguf *g;
  sc_err e;
  cr_assert_eq(sc_gguf_open(path, &g, &e), SC_EFORMAT);
  cr_assert(strstr(e.msg, path) && strstr(e.msg, "past the end"), "%s", e.msg);
  unlink(path);
  cr_assert_eq(sc_gguf_open(path, &g, &e), SC_ENOENT);
  cr_assert(strstr(e.msg, "cannot open"), "%s", e.msg);
}

Test(gguf, bad_magic) {
  img[0] = 'X';
  expect_fail("not a GGUF file");
}

Test(gguf, bad_version) {
  img[4] = 1;
  expect_fail("version 1 is not supported");
  img[4] = 4;
  expect_fail("version 4 is not supported");
}

Test(gguf, huge_counts) {
  uint64_t huge = 1ull << 62;
  memcpy(img + 8, &huge, 8);
  expect_fail("tensor count");
  free(img);
  small_file();
  memcpy(img + 16, &huge, 8);
  expect_fail("metadata count");
}

Test(gguf, huge_string_length) {
  uint64_t huge = UINT64_MAX - 3;
  memcpy(img + 24, &huge, 8); /* the first key's length */
  expect_fail("runs past the end");
}

Test(gguf, huge_array_count) {
  size_t i = info_of("tokenizer.ggml.tokens") + 4 + 4; /* type ARRAY, elem type, then count */
  uint64_t huge = 1ull << 60;
  memcpy(img + i, &huge, 8);
  expect_fail("does not fit in the file");
}

Test(gguf, unknown_value_type) {
  size_t i = info_of("llama.block_count");
  uint32_t t = 77;
  memcpy(img + i, &t, 4);
  expect_fail("unknown value type 77");
}

Test(gguf, wrong_tensor_type) {
  size_t i = info_of("second") + 4 + 16; /* n_dims, ne[2] */
  uint32_t t = 3;                        /* Q4_1: not supported */
  memcpy(img + i, &t, 4);
  expect_fail("has type 3");
}

Test(gguf, too_many_dims) {
  size_t i = info_of("first");
  uint32_t nd = 5;
  memcpy(img + i, &nd, 4);
  expect_fail("5 dimensions");
}

Test(gguf, row_not_multiple_of_block) {
  size_t i = info_of("second") + 4;
  uint64_t ne0 = 48;
  memcpy(img + i, &ne0, 8);
  expect_fail("not a multiple of q8_0's block of 32");
}

Test(gguf, huge_dimension) {
  size_t i = info_of("first") + 4 + 8;
  uint64_t ne1 = 1ull << 45;
  memcpy(img + i, &ne1, 8);
  expect_fail("invalid or too large");
}

Test(gguf, unaligned_offset) {
  size_t i = info_of("second") + 4 + 16 + 4;
  uint64_t off;
  memcpy(&off, img + i, 8);
  off += 4;
  memcpy(img + i, &off, 8);
  expect_fail("not a multiple of the alignment");
}

Test(gguf, offset_past_end) {
  size_t i = info_of("second") + 4 + 16 + 4;
  uint64_t off = 1ull << 40;
  memcpy(img + i, &off, 8);
  expect_fail("runs past the end of the file");
}

Test(gguf, overlapping_tensors) {
  size_t i = info_of("second") + 4 + 16 + 4;
  uint64_t off = 0; /* same place as "first" */
  memcpy(img + i, &off, 8);
  expect_fail("overlap");
}

Test(gguf, duplicate_names_rejected) {
  sc_gguf_writer *w = sc_gguf_writer_create(32);
  float f[4] = {0};
  int64_t ne[1] = {4};
  sc_gguf_w_tensor(w, "same", SC_GGML_F32, 1, ne, f, sizeof f, false);
  sc_gguf_w_tensor(w, "same", SC_GGML_F32, 1, ne, f, sizeof f, false);
  free(img);
  sc_gguf_writer_image(w, &img, &img_len);
  sc_gguf_writer_destroy(w);
  expect_fail("tensor name 'same' appears twice");
  w = sc_gguf_writer_create(32);
  sc_gguf_w_u32(w, "k", 1);
  sc_gguf_w_u32(w, "k", 2);
  free(img);
  sc_gguf_writer_image(w, &img, &img_len);
  sc_gguf_writer_destroy(w);
  expect_fail("key 'k' appears twice");
}

Test(gguf, bad_alignment) {
  sc_gguf_writer *w = sc_gguf_writer_create(32);
  sc_gguf_w_u32(w, "general.alignment", 24);
  free(img);
  sc_gguf_writer_image(w, &img, &img_len);
  sc_gguf_writer_destroy(w);
  expect_fail("not a power of two");
}

Test(gguf, nested_array_and_bad_bool) {
  size_t i = info_of("tokenizer.ggml.tokens") + 4;
  uint32_t t = SC_GGUF_ARRAY;
  memcpy(img + i, &t, 4);
  expect_fail("nested arrays");
  sc_gguf_writer *w = sc_gguf_writer_create(32);
  sc_gguf_w_bool(w, "flag", true);
  free(img);
  sc_gguf_writer_image(w, &img, &img_len);
  sc_gguf_writer_destroy(w);
  img[info_of("flag") + 4] = 2;
  expect_fail("not 0 or 1");
}
