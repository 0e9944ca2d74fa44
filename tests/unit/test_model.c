/* Unit tests for src/engine/model.c and the kernels: a plain reference forward pass (float, no
 * SIMD, no batching, straight from dequantized weights) against the engine's logits, for both
 * architectures and every tensor type, on each kernel set this CPU has; batch invariance;
 * hand-made quantized blocks; hostile model metadata.
 *
 * Tolerances (max |engine - reference| over all logits, relative to max |reference logit|):
 *   F32, F16, BF16: 1e-4 (same weights, float activations; only summation order differs)
 *   Q8_0, Q4_0, Q4_K, Q6_K: 3e-2 (activations are quantized to 8 bits per 32 values, as llama.cpp
 *   does, on top of the weights' own quantization, which the reference shares)
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/kernels.h"
#include "engine/model.h"
#include "engine/quant.h"
#include "engine/synth.h"

/* ---------- the reference ---------- */

typedef struct ref {
  int E, L, H, KVH, hd, F, V;
  float eps, base, scale;
  bool neox;
  float *freqs;
  float *emb, *out, *onorm;
  struct {
    float *an, *fn, *wq, *wk, *wv, *wo, *wg, *wu, *wd, *bq, *bk, *bv;
  } l[8];
} ref;

static float *deq(const sc_gguf *g, const char *name) {
  const sc_gguf_tensor *t = sc_gguf_find_tensor(g, name);
  if (!t) return NULL;
  int64_t n = t->ne[0] * t->ne[1];
  float *f = malloc((size_t)n * sizeof *f);
  sc_dequantize_row(t->type, t->data, f, n);
  return f;
}

static int64_t geti(const sc_gguf *g, const char *arch, const char *k) {
  char key[128];
  snprintf(key, sizeof key, "%s.%s", arch, k);
  int64_t v = 0;
  cr_assert(sc_gguf_get_int(g, key, &v), "missing %s", key);
  return v;
}

static void ref_load(ref *r, const sc_gguf *g) {
  const char *arch;
  cr_assert(sc_gguf_get_str(g, "general.architecture", &arch, NULL));
  r->E = (int)geti(g, arch, "embedding_length");
  r->L = (int)geti(g, arch, "block_count");
  r->H = (int)geti(g, arch, "attention.head_count");
  r->KVH = (int)geti(g, arch, "attention.head_count_kv");
  r->F = (int)geti(g, arch, "feed_forward_length");
  r->hd = r->E / r->H;
  char key[128];
  snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
  cr_assert(sc_gguf_get_f32(g, key, &r->eps));
  snprintf(key, sizeof key, "%s.rope.freq_base", arch);
  cr_assert(sc_gguf_get_f32(g, key, &r->base));
  r->neox = strcmp(arch, "qwen2") == 0;
  r->scale = 1;
  snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
  sc_gguf_get_f32(g, key, &r->scale);
  r->freqs = deq(g, "rope_freqs.weight");
  r->V = (int)sc_gguf_find_tensor(g, "token_embd.weight")->ne[1];
  r->emb = deq(g, "token_embd.weight");
  r->out = deq(g, "output.weight");
  r->onorm = deq(g, "output_norm.weight");
  cr_assert(r->L <= 8);
  for (int i = 0; i < r->L; i++) {
    char n[64];
#define D(f, s) (snprintf(n, sizeof n, "blk.%d." s, i), r->l[i].f = deq(g, n))
    D(an, "attn_norm.weight");
    D(fn, "ffn_norm.weight");
    D(wq, "attn_q.weight");
    D(wk, "attn_k.weight");
    D(wv, "attn_v.weight");
    D(wo, "attn_output.weight");
    D(wg, "ffn_gate.weight");
    D(wu, "ffn_up.weight");
    D(wd, "ffn_down.weight");
    D(bq, "attn_q.bias");
    D(bk, "attn_k.bias");
    D(bv, "attn_v.bias");
#undef D
  }
}

static void ref_free(ref *r) {
  free(r->emb);
  free(r->out);
  free(r->onorm);
  free(r->freqs);
  for (int i = 0; i < r->L; i++) {
    float **p = &r->l[i].an;
    for (int j = 0; j < 12; j++) free(p[j]);
  }
}

/* y[o] = sum_i W[o][i] x[i], W stored row-major with rows of n_in */
static void mv(const float *W, const float *x, float *y, int n_in, int n_out) {
  for (int o = 0; o < n_out; o++) {
    double s = 0;
    for (int i = 0; i < n_in; i++) s += (double)W[(size_t)o * n_in + i] * x[i];
    y[o] = (float)s;
  }
}

static void norm(const float *x, const float *w, float *o, int n, float eps) {
  double ss = 0;
  for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
  double s = 1.0 / sqrt(ss / n + eps);
  for (int i = 0; i < n; i++) o[i] = (float)(x[i] * s * w[i]);
}

static void rot(const ref *r, float *v, int pos) {
  int hd = r->hd;
  bool neox = r->neox;
  for (int i = 0; i < hd / 2; i++) {
    double th = pos / r->scale * pow(r->base, -2.0 * i / hd);
    if (r->freqs) th /= r->freqs[i];
    int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
    double x0 = v[a], x1 = v[b];
    v[a] = (float)(x0 * cos(th) - x1 * sin(th));
    v[b] = (float)(x0 * sin(th) + x1 * cos(th));
  }
}

/* Logits of the last of n tokens. */
static void ref_forward(const ref *r, const int32_t *tok, int n, float *logits) {
  int E = r->E, Q = r->H * r->hd, KV = r->KVH * r->hd;
  float *x = calloc((size_t)n * E, 4), *h = malloc((size_t)E * 4), *K = malloc((size_t)r->L * n * KV * 4),
        *Vc = malloc((size_t)r->L * n * KV * 4), *q = malloc((size_t)Q * 4), *att = malloc((size_t)Q * 4),
        *o = malloc((size_t)E * 4), *g = malloc((size_t)r->F * 4), *u = malloc((size_t)r->F * 4), *sc = malloc((size_t)n * 4);
  for (int t = 0; t < n; t++) memcpy(x + (size_t)t * E, r->emb + (size_t)tok[t] * E, (size_t)E * 4);
  for (int t = 0; t < n; t++) { /* token by token, as plain autoregressive decoding */
    float *xt = x + (size_t)t * E;
    for (int l = 0; l < r->L; l++) {
      norm(xt, r->l[l].an, h, E, r->eps);
      float *k = K + ((size_t)l * n + t) * KV, *v = Vc + ((size_t)l * n + t) * KV;
      mv(r->l[l].wq, h, q, E, Q);
      mv(r->l[l].wk, h, k, E, KV);
      mv(r->l[l].wv, h, v, E, KV);
      if (r->l[l].bq) {
        for (int i = 0; i < Q; i++) q[i] += r->l[l].bq[i];
        for (int i = 0; i < KV; i++) k[i] += r->l[l].bk[i];
        for (int i = 0; i < KV; i++) v[i] += r->l[l].bv[i];
      }
      for (int hh = 0; hh < r->H; hh++) rot(r, q + hh * r->hd, t);
      for (int hh = 0; hh < r->KVH; hh++) rot(r, k + hh * r->hd, t);
      for (int hh = 0; hh < r->H; hh++) {
        int kh = hh / (r->H / r->KVH);
        double mx = -1e30;
        for (int j = 0; j <= t; j++) {
          double s = 0;
          for (int i = 0; i < r->hd; i++) s += (double)q[hh * r->hd + i] * K[((size_t)l * n + j) * KV + kh * r->hd + i];
          sc[j] = (float)(s / sqrt(r->hd));
          if (sc[j] > mx) mx = sc[j];
        }
        double sum = 0;
        for (int j = 0; j <= t; j++) sum += exp(sc[j] - mx);
        for (int i = 0; i < r->hd; i++) {
          double acc = 0;
          for (int j = 0; j <= t; j++) acc += exp(sc[j] - mx) / sum * Vc[((size_t)l * n + j) * KV + kh * r->hd + i];
          att[hh * r->hd + i] = (float)acc;
        }
      }
      mv(r->l[l].wo, att, o, Q, E);
      for (int i = 0; i < E; i++) xt[i] += o[i];
      norm(xt, r->l[l].fn, h, E, r->eps);
      mv(r->l[l].wg, h, g, E, r->F);
      mv(r->l[l].wu, h, u, E, r->F);
      for (int i = 0; i < r->F; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
      mv(r->l[l].wd, g, o, r->F, E);
      for (int i = 0; i < E; i++) xt[i] += o[i];
    }
  }
  norm(x + (size_t)(n - 1) * E, r->onorm, h, E, r->eps);
  mv(r->out ? r->out : r->emb, h, logits, E, r->V);
  free(x), free(h), free(K), free(Vc), free(q), free(att), free(o), free(g), free(u), free(sc);
}

/* ---------- helpers ---------- */

static float g_rope_linear;
static bool g_rope_freqs;

static char *synth_file(const char *arch, int type, uint64_t seed) {
  char *path = malloc(64);
  snprintf(path, 64, "/tmp/sc_model_%s_%d_%d.gguf", arch, type, (int)getpid());
  sc_synth_opts o = {.arch = arch, .preset = "tiny", .type = type, .seed = seed, .rope_linear = g_rope_linear,
                     .rope_freqs = g_rope_freqs};
  sc_err e;
  cr_assert_eq(sc_synth_write(&o, path, &e), 0, "%s", e.msg);
  return path;
}

static const int32_t PROMPT[] = {5, 77, 300, 12, 900, 41, 41, 7, 256, 1000, 3, 600, 18, 19, 20};
#define NP ((int)(sizeof PROMPT / sizeof PROMPT[0]))

static float engine_logits(sc_model *m, const int32_t *tok, int n, float *logits, int chunk) {
  sc_kvcache *kv;
  sc_err e;
  cr_assert_eq(sc_kvcache_create(m, 4, &kv, &e), 0);
  int32_t blocks[4] = {3, 1, 0, 2};
  for (int p = 0; p < n; p += chunk) {
    int c = n - p < chunk ? n - p : chunk;
    sc_fwd_seq s = {.tokens = tok + p, .n_tokens = c, .pos = p, .blocks = blocks, .n_blocks = 4,
                    .logits = p + c == n ? logits : NULL};
    cr_assert_eq(sc_model_forward(m, kv, &s, 1, &e), 0, "%s", e.msg);
  }
  sc_kvcache_destroy(kv);
  return 0;
}

static void compare(const char *arch, int type, float tol) {
  char *path = synth_file(arch, type, 11);
  sc_gguf *g;
  sc_err e;
  cr_assert_eq(sc_gguf_open(path, &g, &e), 0, "%s", e.msg);
  ref r = {0};
  ref_load(&r, g);
  float *want = malloc((size_t)r.V * 4), *got = malloc((size_t)r.V * 4);
  ref_forward(&r, PROMPT, NP, want);
  float mx = 0;
  for (int i = 0; i < r.V; i++) mx = fmaxf(mx, fabsf(want[i]));
  const char *sets[] = {"scalar", "avx2", "avx512"};
  for (int s = 0; s < 3; s++) {
    if (s == 1 && !sc_kernels_avx2()) continue;
    if (s == 2 && !sc_kernels_avx512()) continue;
    setenv("SC_KERNELS", sets[s], 1);
    sc_model *m;
    cr_assert_eq(sc_model_load(path, 2, &m, &e), 0, "%s", e.msg);
    cr_assert_float_eq(sc_model_get_info(m)->rope_scale, g_rope_linear > 0 ? g_rope_linear : 1.0f, 0);
    cr_assert_eq(sc_model_get_info(m)->has_rope_freqs, g_rope_freqs);
    engine_logits(m, PROMPT, NP, got, 4);
    float md = 0;
    int am_w = 0, am_g = 0;
    for (int i = 0; i < r.V; i++) {
      md = fmaxf(md, fabsf(got[i] - want[i]));
      if (want[i] > want[am_w]) am_w = i;
      if (got[i] > got[am_g]) am_g = i;
    }
    cr_assert(md <= tol * mx, "%s %s type %d kernels %s: max diff %g > %g x max logit %g", arch, sc_qtype_traits_of(type)->name,
              type, sc_model_kernels_name(m), (double)md, (double)tol, (double)mx);
    sc_model_free(m);
  }
  unsetenv("SC_KERNELS");
  ref_free(&r);
  free(want);
  free(got);
  sc_gguf_close(g);
  unlink(path);
  free(path);
}

Test(model, llama_f32) { compare("llama", SC_GGML_F32, 1e-4f); }
Test(model, qwen2_f32) { compare("qwen2", SC_GGML_F32, 1e-4f); }
Test(model, llama_f16) { compare("llama", SC_GGML_F16, 1e-4f); }
Test(model, qwen2_bf16) { compare("qwen2", SC_GGML_BF16, 1e-4f); }
Test(model, llama_q8_0) { compare("llama", SC_GGML_Q8_0, 3e-2f); }
Test(model, qwen2_q8_0) { compare("qwen2", SC_GGML_Q8_0, 3e-2f); }
Test(model, llama_q4_0) { compare("llama", SC_GGML_Q4_0, 3e-2f); }
Test(model, qwen2_q4_k) { compare("qwen2", SC_GGML_Q4_K, 3e-2f); } /* Q4_K + Q6_K (Q4_K_M mix) */
Test(model, llama_q4_k) { compare("llama", SC_GGML_Q4_K, 3e-2f); }
Test(model, qwen2_q6_k) { compare("qwen2", SC_GGML_Q6_K, 3e-2f); }
Test(model, llama_rope_linear_scaling) {
  g_rope_linear = 4.0f;
  compare("llama", SC_GGML_F32, 1e-4f);
}
Test(model, llama_rope_freq_factors) { /* llama3-style rope_freqs.weight */
  g_rope_freqs = true;
  compare("llama", SC_GGML_F32, 1e-4f);
}

/* A sequence's logits are bit-identical alone, in a batch of 16 and with chunked prefill. */
Test(model, batch_invariance) {
  char *path = synth_file("qwen2", SC_GGML_Q4_K, 5);
  sc_model *m;
  sc_err e;
  cr_assert_eq(sc_model_load(path, 2, &m, &e), 0, "%s", e.msg);
  int V = sc_model_get_info(m)->n_vocab;
  float *alone = malloc((size_t)V * 4), *chunked = malloc((size_t)V * 4), *batch = malloc((size_t)16 * V * 4);
  engine_logits(m, PROMPT, NP, alone, NP);
  engine_logits(m, PROMPT, NP, chunked, 3);
  cr_assert_eq(memcmp(alone, chunked, (size_t)V * 4), 0, "chunked prefill changed the logits");
  sc_kvcache *kv;
  cr_assert_eq(sc_kvcache_create(m, 16 * 2, &kv, &e), 0);
  int32_t blocks[16][2], toks[16][NP];
  sc_fwd_seq s[16];
  for (int i = 0; i < 16; i++) {
    blocks[i][0] = 31 - 2 * i;
    blocks[i][1] = 30 - 2 * i;
    for (int j = 0; j < NP; j++) toks[i][j] = i == 7 ? PROMPT[j] : (PROMPT[j] * (i + 3) + i) % V;
    s[i] = (sc_fwd_seq){.tokens = toks[i], .n_tokens = NP - (i % 5), .pos = 0, .blocks = blocks[i], .n_blocks = 2,
                        .logits = batch + (size_t)i * V};
  }
  s[7].n_tokens = NP;
  cr_assert_eq(sc_model_forward(m, kv, s, 16, &e), 0, "%s", e.msg);
  cr_assert_eq(memcmp(alone, batch + (size_t)7 * V, (size_t)V * 4), 0, "batched logits differ from single-sequence ones");
  sc_kvcache_destroy(kv);
  sc_model_free(m);
  free(alone), free(chunked), free(batch);
  unlink(path);
  free(path);
}

Test(model, forward_rejects_bad_input) {
  char *path = synth_file("llama", SC_GGML_Q8_0, 1);
  sc_model *m;
  sc_err e;
  cr_assert_eq(sc_model_load(path, 1, &m, &e), 0, "%s", e.msg);
  sc_kvcache *kv;
  cr_assert_eq(sc_kvcache_create(m, 2, &kv, &e), 0);
  int32_t blocks[2] = {0, 1}, tok[2] = {1, 999999};
  sc_fwd_seq s = {.tokens = tok, .n_tokens = 2, .pos = 0, .blocks = blocks, .n_blocks = 2};
  cr_assert_eq(sc_model_forward(m, kv, &s, 1, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "token id 999999"), "%s", e.msg);
  tok[1] = 2;
  s.pos = 31;
  cr_assert_eq(sc_model_forward(m, kv, &s, 1, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "do not fit"), "%s", e.msg);
  blocks[1] = 9;
  s.pos = 0;
  cr_assert_eq(sc_model_forward(m, kv, &s, 1, &e), SC_EINVAL);
  cr_assert(strstr(e.msg, "out of range"), "%s", e.msg);
  sc_model_unmap(m);
  blocks[1] = 1;
  cr_assert_eq(sc_model_forward(m, kv, &s, 1, &e), SC_ESTATE);
  cr_assert_eq(sc_model_remap(m, &e), 0, "%s", e.msg);
  cr_assert_eq(sc_model_forward(m, kv, &s, 1, &e), 0, "%s", e.msg);
  sc_kvcache_destroy(kv);
  sc_model_free(m);
  unlink(path);
  free(path);
}

/* Hand-made blocks with known values pin the block layouts. */
Test(quant, known_blocks) {
  float out[256];
  sc_block_q8_0 q8 = {.d = sc_float_to_half(0.5f)};
  for (int i = 0; i < 32; i++) q8.qs[i] = (int8_t)(i - 16);
  sc_dequantize_row(SC_GGML_Q8_0, &q8, out, 32);
  cr_assert_float_eq(out[0], -8.0f, 0);
  cr_assert_float_eq(out[31], 7.5f, 0);
  sc_block_q4_0 q4 = {.d = sc_float_to_half(2.0f)};
  q4.qs[0] = 0x1F; /* x[0] = 15-8, x[16] = 1-8 */
  sc_dequantize_row(SC_GGML_Q4_0, &q4, out, 32);
  cr_assert_float_eq(out[0], 14.0f, 0);
  cr_assert_float_eq(out[16], -14.0f, 0);
  cr_assert_float_eq(out[1], -16.0f, 0);
  sc_block_q4_k k4;
  memset(&k4, 0, sizeof k4);
  k4.d = sc_float_to_half(1.0f);
  k4.dmin = sc_float_to_half(0.5f);
  k4.scales[0] = 3;          /* sub-block 0 scale 3 */
  k4.scales[4] = 2;          /* sub-block 0 min 2 */
  k4.scales[8] = 0x45;       /* sub-block 4: scale low 5, min low 4 */
  k4.scales[0] |= 1 << 6;    /* sub-block 4 scale high bits 1 -> 16+5 = 21 */
  k4.qs[0] = 0x07;           /* element 0: 7; element 32: 0 */
  k4.qs[64] = 0x02;          /* element 128 (sub-block 4): 2 */
  sc_dequantize_row(SC_GGML_Q4_K, &k4, out, 256);
  cr_assert_float_eq(out[0], 3.0f * 7 - 0.5f * 2, 1e-6);
  cr_assert_float_eq(out[128], 21.0f * 2 - 0.5f * 4, 1e-6);
  sc_block_q6_k k6;
  memset(&k6, 0, sizeof k6);
  k6.d = sc_float_to_half(0.25f);
  for (int i = 0; i < 16; i++) k6.scales[i] = (int8_t)(i + 1);
  k6.ql[0] = 0x21;  /* element 0 low 1, element 64 low 2 */
  k6.qh[0] = 0x0E;  /* element 0 high 2 (-> 33), element 32 high 3 (-> 48) */
  sc_dequantize_row(SC_GGML_Q6_K, &k6, out, 256);
  cr_assert_float_eq(out[0], 0.25f * 1 * (33 - 32), 1e-6);
  cr_assert_float_eq(out[32], 0.25f * 3 * (48 - 32), 1e-6);
  cr_assert_float_eq(out[64], 0.25f * 5 * (2 - 32), 1e-6);
  cr_assert_float_eq(out[255], 0.25f * 16 * (0 - 32), 1e-6);
  /* round trips */
  float x[256];
  for (int i = 0; i < 256; i++) x[i] = sinf((float)i);
  uint32_t types[] = {SC_GGML_F16, SC_GGML_BF16, SC_GGML_Q8_0, SC_GGML_Q4_0, SC_GGML_Q4_K, SC_GGML_Q6_K};
  float tol[] = {1e-3f, 1e-2f, 1e-2f, 0.15f, 0.15f, 0.05f};
  uint8_t buf[1024];
  for (int t = 0; t < 6; t++) {
    sc_quantize_row(types[t], x, buf, 256);
    sc_dequantize_row(types[t], buf, out, 256);
    for (int i = 0; i < 256; i++) cr_assert(fabsf(out[i] - x[i]) <= tol[t], "type %u i %d: %g vs %g", types[t], i, out[i], x[i]);
  }
}

/* Hostile but well-formed GGUF: the model check names the problem. */
Test(model, check_rejects_bad_models) {
  sc_synth_opts o = {.arch = "qwen2", .preset = "micro", .type = SC_GGML_Q8_0, .seed = 1};
  uint8_t *img;
  size_t len;
  sc_err e;
  cr_assert_eq(sc_synth_image(&o, &img, &len, &e), 0);
  sc_gguf *g;
  sc_model_info in;
  cr_assert_eq(sc_gguf_open_buffer(img, len, &g, &e), 0);
  cr_assert_eq(sc_model_check(g, &in, &e), 0, "%s", e.msg);
  cr_assert_eq(in.n_vocab, 320);
  cr_assert(in.tied && in.qkv_bias && in.rope_neox);
  sc_gguf_close(g);
  /* patch metadata in place: the key strings have fixed lengths */
  struct { const char *from, *to, *msg; } cases[] = {
      {"general.architecture", "general.architecturX", "lacks general.architecture"},
      {"qwen2.block_count", "qwen2.block_counX", "lacks the integer qwen2.block_count"},
      {"blk.0.ffn_up.weight", "blk.0.ffn_up.weighX", "lacks tensor blk.0.ffn_up.weight"},
      {"blk.0.attn_k.bias", "blk.0.attn_k.biaX", "biases must be present"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    uint8_t *cp = malloc(len);
    memcpy(cp, img, len);
    size_t n = strlen(cases[c].from);
    for (size_t i = 0; i + n < len; i++)
      if (memcmp(cp + i, cases[c].from, n) == 0 && cp[i - 8] == n) {
        memcpy(cp + i, cases[c].to, n);
        break;
      }
    cr_assert_eq(sc_gguf_open_buffer(cp, len, &g, &e), 0, "%s", e.msg);
    cr_assert_eq(sc_model_check(g, &in, &e), SC_EFORMAT, "case %zu", c);
    cr_assert(strstr(e.msg, cases[c].msg), "case %zu: %s", c, e.msg);
    sc_gguf_close(g);
    free(cp);
  }
  free(img);
}
