/* tokenizer_bench.c — times sc_tokenize on a file: median of 5 runs, after loading the vocabulary.
 * usage: tokenizer_bench VOCAB.json TEXT_FILE   (built and run by bench/tokenizer.sh) */
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "engine/tokenizer.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s VOCAB.json TEXT_FILE\n", argv[0]);
    return 2;
  }
  sc_err e;
  sc_vocab *v = NULL;
  sc_tokenizer *t = NULL;
  int64_t t0 = sc_mono_ns();
  if (sc_vocab_load_json(argv[1], &v, &e) || sc_tokenizer_from_vocab(v, &t, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  double load_ms = (double)(sc_mono_ns() - t0) / 1e6;
  sc_vocab_destroy(v);
  char *text;
  size_t len;
  if (sc_read_file(argv[2], 1u << 30, &text, &len)) return 1;
  double ms[5];
  int n = 0;
  for (int r = 0; r < 5; r++) {
    int32_t *ids;
    int64_t a = sc_mono_ns();
    if (sc_tokenize(t, text, len, false, true, &ids, &n, &e)) return 1;
    ms[r] = (double)(sc_mono_ns() - a) / 1e6;
    free(ids);
  }
  qsort(ms, 5, sizeof ms[0], cmp);
  printf("%zu bytes -> %d tokens; vocabulary load %.0f ms; tokenize median %.1f ms (%.0f tokens/s, %.1f MB/s)\n", len,
         n, load_ms, ms[2], n / (ms[2] / 1e3), len / (ms[2] / 1e3) / 1e6);
  sc_tokenizer_destroy(t);
  free(text);
  return 0;
}
