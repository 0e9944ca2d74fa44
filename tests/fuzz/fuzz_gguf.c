/* Fuzz harness: the GGUF reader on arbitrary bytes, then every getter, a dequantized first row
 * of each tensor (so out-of-bounds tensor data would trip ASan) and the model check. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sc_gguf *g = NULL;
  sc_err e;
  if (sc_gguf_open_buffer(data, size, &g, &e) != 0) return 0;
  const char *s;
  size_t n;
  int64_t iv;
  float fv;
  bool bv;
  sc_gguf_type et;
  sc_gguf_get_str(g, "general.architecture", &s, &n);
  sc_gguf_get_int(g, "general.alignment", &iv);
  sc_gguf_get_f32(g, "llama.rope.freq_base", &fv);
  sc_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &bv);
  if (sc_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n))
    for (size_t i = 0; i < n && i < 1000; i++) sc_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &s, &n);
  for (size_t i = 0; i < 8; i++) {
    sc_gguf_arr_f32(g, "tokenizer.ggml.scores", i, &fv);
    sc_gguf_arr_int(g, "tokenizer.ggml.token_type", i, &iv);
  }
  float *row = malloc(4096 * sizeof *row);
  for (size_t i = 0; i < sc_gguf_tensor_count(g); i++) {
    const sc_gguf_tensor *t = sc_gguf_tensor_at(g, i);
    const sc_qtype_traits *tr = sc_qtype_traits_of(t->type);
    int64_t m = t->ne[0] < 4096 ? t->ne[0] : 4096;
    m -= m % tr->block;
    if (sc_gguf_find_tensor(g, t->name) == t && m > 0) sc_dequantize_row(t->type, t->data, row, m);
  }
  free(row);
  sc_model_info info;
  sc_model_check(g, &info, &e);
  sc_gguf_close(g);
  return 0;
}
