/*
 * model.c — llama/qwen2 transformer over GGUF weights: checks, weight binding, KV cache and the
 * batched forward pass.
 *
 * Forward pass for a batch of T tokens from several sequences (x: T x n_embd residual stream):
 *   x = token_embd[tokens]
 *   per layer:  h = rmsnorm(x) * attn_norm
 *               q,k,v = h Wq, h Wk, h Wv (+ biases for qwen2);  RoPE(q, k) at each token's position
 *               k, v -> the sequence's KV blocks;  o = softmax(q k^T / sqrt(d)) v per head (GQA:
 *               query head h reads KV head h / (n_head / n_head_kv)), causal by position
 *               x += o Wo
 *               h = rmsnorm(x) * ffn_norm;  x += (silu(h Wgate) * (h Wup)) Wdown
 *   logits of each sequence's last token = rmsnorm(x) * output_norm  W_output (token_embd if tied)
 * Matmuls over all T tokens at once read each weight row once per step (batched decode is
 * compute-bound, not bandwidth-bound). Activations are quantized to 8 bits per 32 for quantized
 * weights (kernels.h).
 *
 * RoPE follows llama.cpp: for llama-arch GGUF files the converter permuted Wq/Wk so that rotation
 * pairs are adjacent (x[2i], x[2i+1]) ("norm" mode); qwen2 keeps Hugging Face's halves layout
 * (x[i], x[i+d/2]) ("neox" mode). theta_i = pos / scale * base^(-2i/d) / freq_factor[i].
 */
#include "engine/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "engine/kernels.h"
#include "engine/pool.h"
#include "engine/quant.h"

typedef struct layer {
  const float *attn_norm, *ffn_norm, *bq, *bk, *bv;
  sc_wmat wq, wk, wv, wo, wgate, wup, wdown;
} layer;

struct sc_kvcache {
  int n_blocks, n_layer, kv_dim;
  float *k, *v;
};

struct sc_model {
  char *path;
  sc_gguf *g;
  sc_model_info info;
  const sc_kernels *kern;
  sc_pool *pool;
  layer *layers;
  const sc_gguf_tensor *tok_embd;
  const float *out_norm, *rope_freqs;
  sc_wmat wout;
  double *inv_freq; /* head_dim/2 */
  /* scratch, grown on demand */
  int cap_t, cap_pos;
  float *x, *xn, *q, *k, *v, *att, *tmp, *gate, *up, *cosv, *sinv;
  uint8_t *xq;
  float *scores; /* n_threads x cap_pos */
  int *tok_seq, *tok_pos;
};

/* ---- checks ---- */

static int get_u(const sc_gguf *g, const char *arch, const char *suffix, bool required, int64_t dflt, int64_t lo, int64_t hi,
                 int *out, sc_err *e) {
  char k[128];
  snprintf(k, sizeof k, "%s.%s", arch, suffix);
  int64_t v;
  if (!sc_gguf_get_int(g, k, &v)) {
    if (required) return sc_err_set(e, SC_EFORMAT, "model_bad_metadata", "model metadata lacks the integer %s", k);
    v = dflt;
  }
  if (v < lo || v > hi)
    return sc_err_set(e, SC_EFORMAT, "model_bad_metadata", "model metadata %s = %lld is out of range [%lld, %lld]", k,
                      (long long)v, (long long)lo, (long long)hi);
  *out = (int)v;
  return 0;
}

static int get_f(const sc_gguf *g, const char *arch, const char *suffix, float dflt, float lo, float hi, float *out, sc_err *e) {
  char k[128];
  snprintf(k, sizeof k, "%s.%s", arch, suffix);
  float v;
  if (!sc_gguf_get_f32(g, k, &v)) v = dflt;
  if (!(v >= lo && v <= hi))
    return sc_err_set(e, SC_EFORMAT, "model_bad_metadata", "model metadata %s = %g is out of range [%g, %g]", k, (double)v,
                      (double)lo, (double)hi);
  *out = v;
  return 0;
}

/* Finds a tensor and checks its shape (ne1 = 0: one-dimensional) and, for vectors, type F32. */
static int want(const sc_gguf *g, const char *name, int64_t ne0, int64_t ne1, bool required, const sc_gguf_tensor **out,
                sc_err *e) {
  const sc_gguf_tensor *t = sc_gguf_find_tensor(g, name);
  *out = t;
  if (!t) return required ? sc_err_set(e, SC_EFORMAT, "model_missing_tensor", "model lacks tensor %s", name) : 0;
  int64_t n1 = ne1 ? ne1 : 1;
  if (t->ne[0] != ne0 || t->ne[1] != n1 || t->ne[2] != 1 || t->ne[3] != 1)
    return sc_err_set(e, SC_EFORMAT, "model_bad_tensor", "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                      name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                      (long long)ne0, (long long)n1);
  if (!ne1 && t->type != SC_GGML_F32)
    return sc_err_set(e, SC_EFORMAT, "model_bad_tensor", "tensor %s must be F32, is %s", name, sc_qtype_traits_of(t->type)->name);
  return 0;
}

static int check_layer_tensors(const sc_gguf *g, const sc_model_info *in, layer *L, int l, sc_err *e) {
  char n[96];
  const sc_gguf_tensor *t;
  int rc, E = in->n_embd, Q = in->n_head * in->head_dim, KV = in->n_head_kv * in->head_dim, F = in->n_ff;
#define W(suffix, ne0, ne1, field, req)                                         \
  snprintf(n, sizeof n, "blk.%d." suffix, l);                                   \
  if ((rc = want(g, n, ne0, ne1, req, &t, e))) return rc;                       \
  if (L && t) {                                                                 \
    if (ne1) {                                                                  \
      const sc_qtype_traits *tr = sc_qtype_traits_of(t->type);                  \
      L->field = (sc_wmat){t->type, t->data, (size_t)(ne0 / tr->block * tr->size), ne0, ne1}; \
    }                                                                           \
  }
#define V(suffix, ne0, field, req)                      \
  snprintf(n, sizeof n, "blk.%d." suffix, l);           \
  if ((rc = want(g, n, ne0, 0, req, &t, e))) return rc; \
  if (L) L->field = t ? (const float *)t->data : NULL;
  V("attn_norm.weight", E, attn_norm, true);
  V("ffn_norm.weight", E, ffn_norm, true);
  V("attn_q.bias", Q, bq, false);
  V("attn_k.bias", KV, bk, false);
  V("attn_v.bias", KV, bv, false);
  W("attn_q.weight", E, Q, wq, true);
  W("attn_k.weight", E, KV, wk, true);
  W("attn_v.weight", E, KV, wv, true);
  W("attn_output.weight", Q, E, wo, true);
  W("ffn_gate.weight", E, F, wgate, true);
  W("ffn_up.weight", E, F, wup, true);
  W("ffn_down.weight", F, E, wdown, true);
#undef W
#undef V
  return 0;
}

static int check(const sc_gguf *g, sc_model_info *in, layer *layers, sc_model *m, sc_err *e) {
  memset(in, 0, sizeof *in);
  const char *arch;
  size_t al;
  int rc;
  if (!sc_gguf_get_str(g, "general.architecture", &arch, &al))
    return sc_err_set(e, SC_EFORMAT, "model_bad_metadata", "model metadata lacks general.architecture");
  if (strcmp(arch, "llama") && strcmp(arch, "qwen2"))
    return sc_err_set(e, SC_EFORMAT, "model_unsupported", "architecture '%.40s' is not supported (llama and qwen2 are)", arch);
  sc_strlcpy(in->arch, arch, sizeof in->arch);
  bool qwen = strcmp(arch, "qwen2") == 0;
  if ((rc = get_u(g, arch, "embedding_length", true, 0, 32, 65536, &in->n_embd, e)) ||
      (rc = get_u(g, arch, "block_count", true, 0, 1, 1024, &in->n_layer, e)) ||
      (rc = get_u(g, arch, "attention.head_count", true, 0, 1, 1024, &in->n_head, e)) ||
      (rc = get_u(g, arch, "feed_forward_length", true, 0, 32, 1 << 20, &in->n_ff, e)) ||
      (rc = get_u(g, arch, "context_length", false, 4096, 1, 1 << 24, &in->n_ctx_train, e)))
    return rc;
  if ((rc = get_u(g, arch, "attention.head_count_kv", false, in->n_head, 1, in->n_head, &in->n_head_kv, e))) return rc;
  if (in->n_embd % in->n_head)
    return sc_err_set(e, SC_EFORMAT, "model_bad_metadata", "embedding_length %d is not a multiple of head_count %d", in->n_embd,
                      in->n_head);
  if (in->n_head % in->n_head_kv)
    return sc_err_set(e, SC_EFORMAT, "model_bad_metadata", "head_count %d is not a multiple of head_count_kv %d", in->n_head,
                      in->n_head_kv);
  in->head_dim = in->n_embd / in->n_head;
  int kl;
  if ((rc = get_u(g, arch, "attention.key_length", false, in->head_dim, 1, 65536, &kl, e))) return rc;
  if (kl != in->head_dim)
    return sc_err_set(e, SC_EFORMAT, "model_unsupported", "attention.key_length %d differs from embedding_length/head_count %d", kl,
                      in->head_dim);
  int rd;
  if ((rc = get_u(g, arch, "rope.dimension_count", false, in->head_dim, 1, 65536, &rd, e))) return rc;
  if (rd != in->head_dim || in->head_dim % 2)
    return sc_err_set(e, SC_EFORMAT, "model_unsupported", "partial or odd RoPE (rope.dimension_count %d, head size %d) is not supported",
                      rd, in->head_dim);
  if (in->n_embd % 32 || in->n_ff % 32 || (in->n_head * in->head_dim) % 32)
    return sc_err_set(e, SC_EFORMAT, "model_unsupported", "embedding (%d) and feed-forward (%d) sizes must be multiples of 32",
                      in->n_embd, in->n_ff);
  if ((rc = get_f(g, arch, "attention.layer_norm_rms_epsilon", 1e-5f, 0, 1, &in->eps, e)) ||
      (rc = get_f(g, arch, "rope.freq_base", 10000.0f, 1, 1e12f, &in->rope_base, e)))
    return rc;
  in->rope_scale = 1;
  char k[128];
  const char *st;
  snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
  if (sc_gguf_get_str(g, k, &st, NULL)) {
    if (strcmp(st, "linear") == 0) {
      if ((rc = get_f(g, arch, "rope.scaling.factor", 1, 1e-3f, 1e6f, &in->rope_scale, e))) return rc;
    } else if (strcmp(st, "none") != 0) {
      return sc_err_set(e, SC_EFORMAT, "model_unsupported", "RoPE scaling type '%.32s' is not supported (none and linear are)", st);
    }
  } else {
    float f;
    snprintf(k, sizeof k, "%s.rope.scale_linear", arch);
    if (sc_gguf_get_f32(g, k, &f)) {
      if (!(f >= 1e-3f && f <= 1e6f))
        return sc_err_set(e, SC_EFORMAT, "model_bad_metadata", "%s = %g is out of range", k, (double)f);
      in->rope_scale = f;
    }
  }
  in->rope_neox = qwen;
  const sc_gguf_tensor *te, *t;
  te = sc_gguf_find_tensor(g, "token_embd.weight");
  if (!te) return sc_err_set(e, SC_EFORMAT, "model_missing_tensor", "model lacks tensor token_embd.weight");
  if (te->ne[0] != in->n_embd || te->ne[2] != 1 || te->ne[3] != 1 || te->ne[1] < 1 || te->ne[1] > (1 << 24))
    return sc_err_set(e, SC_EFORMAT, "model_bad_tensor", "tensor token_embd.weight has shape [%lld, %lld], expected [%d, n_vocab]",
                      (long long)te->ne[0], (long long)te->ne[1], in->n_embd);
  in->n_vocab = (int)te->ne[1];
  size_t ntok;
  if (sc_gguf_get_arr(g, "tokenizer.ggml.tokens", NULL, &ntok) && ntok > (size_t)in->n_vocab)
    return sc_err_set(e, SC_EFORMAT, "model_bad_tensor", "the tokenizer has %zu tokens but token_embd.weight only %d rows", ntok,
                      in->n_vocab);
  if ((rc = want(g, "output_norm.weight", in->n_embd, 0, true, &t, e))) return rc;
  if (m) m->out_norm = (const float *)t->data;
  if ((rc = want(g, "output.weight", in->n_embd, in->n_vocab, false, &t, e))) return rc;
  in->tied = t == NULL;
  const sc_gguf_tensor *out = t ? t : te;
  if (m) {
    const sc_qtype_traits *tr = sc_qtype_traits_of(out->type);
    m->wout = (sc_wmat){out->type, out->data, (size_t)(in->n_embd / tr->block * tr->size), in->n_embd, in->n_vocab};
    m->tok_embd = te;
  }
  if ((rc = want(g, "rope_freqs.weight", in->head_dim / 2, 0, false, &t, e))) return rc;
  in->has_rope_freqs = t != NULL;
  if (m) m->rope_freqs = t ? (const float *)t->data : NULL;
  if (t)
    for (int i = 0; i < in->head_dim / 2; i++) {
      float f = ((const float *)t->data)[i];
      if (!(f > 1e-6f && f < 1e6f))
        return sc_err_set(e, SC_EFORMAT, "model_bad_tensor", "rope_freqs.weight[%d] = %g is not a positive factor", i, (double)f);
    }
  for (int l = 0; l < in->n_layer; l++)
    if ((rc = check_layer_tensors(g, in, layers ? &layers[l] : NULL, l, e))) return rc;
  char n[64];
  snprintf(n, sizeof n, "blk.0.attn_q.bias");
  in->qkv_bias = sc_gguf_find_tensor(g, n) != NULL;
  for (int l = 0; l < in->n_layer; l++) {
    const char *bn[] = {"attn_q.bias", "attn_k.bias", "attn_v.bias"};
    for (int b = 0; b < 3; b++) {
      snprintf(n, sizeof n, "blk.%d.%s", l, bn[b]);
      if ((sc_gguf_find_tensor(g, n) != NULL) != in->qkv_bias)
        return sc_err_set(e, SC_EFORMAT, "model_bad_tensor", "tensor %s: Q/K/V biases must be present in every layer or in none", n);
    }
  }
  t = sc_gguf_find_tensor(g, "blk.0.ffn_up.weight");
  in->wtype = t ? t->type : 0;
  int64_t v;
  in->bos_id = sc_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v) && v >= 0 && v < in->n_vocab ? (int32_t)v : -1;
  in->eos_id = sc_gguf_get_int(g, "tokenizer.ggml.eos_token_id", &v) && v >= 0 && v < in->n_vocab ? (int32_t)v : -1;
  return 0;
}

int sc_model_check(const sc_gguf *g, sc_model_info *info, sc_err *e) { return check(g, info, NULL, NULL, e); }

/* ---- load / map ---- */

static int bind(sc_model *m, sc_err *e) {
  sc_model_info in;
  int rc = check(m->g, &in, m->layers, m, e);
  if (rc) return rc;
  if (m->info.n_layer && memcmp(&in, &m->info, sizeof in) != 0)
    return sc_err_set(e, SC_EFORMAT, "model_changed", "%s no longer holds the model that was loaded", m->path);
  m->info = in;
  return 0;
}

int sc_model_load(const char *path, int n_threads, sc_model **out, sc_err *e) {
  *out = NULL;
  sc_gguf *g;
  int rc = sc_gguf_open(path, &g, e);
  if (rc) return rc;
  sc_model_info in;
  if ((rc = check(g, &in, NULL, NULL, e))) {
    char msg[sizeof e->msg + 256];
    if (e) {
      snprintf(msg, sizeof msg, "%.200s: %s", path, e->msg);
      sc_strlcpy(e->msg, msg, sizeof e->msg);
    }
    sc_gguf_close(g);
    return rc;
  }
  sc_model *m = sc_xcalloc(1, sizeof *m);
  m->path = sc_xstrdup(path);
  m->g = g;
  m->layers = sc_xcalloc((size_t)in.n_layer, sizeof *m->layers);
  if ((rc = bind(m, e))) {
    sc_model_free(m);
    return rc;
  }
  m->kern = sc_kernels_best();
  int al = m->kern->act_align;
  if (in.n_embd % al || in.n_ff % al || (in.n_head * in.head_dim) % al) m->kern = sc_kernels_avx2() ? sc_kernels_avx2() : sc_kernels_scalar();
  m->pool = sc_pool_create(n_threads);
  int hd = m->info.head_dim;
  m->inv_freq = sc_xmalloc((size_t)(hd / 2) * sizeof *m->inv_freq);
  for (int i = 0; i < hd / 2; i++) m->inv_freq[i] = pow((double)m->info.rope_base, -2.0 * i / hd) / m->info.rope_scale;
  *out = m;
  return 0;
}

void sc_model_free(sc_model *m) {
  if (!m) return;
  sc_pool_destroy(m->pool);
  sc_gguf_close(m->g);
  free(m->path);
  free(m->layers);
  free(m->inv_freq);
  void *bufs[] = {m->x, m->xn, m->q, m->k, m->v, m->att, m->tmp, m->gate, m->up, m->cosv, m->sinv, m->xq, m->scores, m->tok_seq, m->tok_pos};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
  free(m);
}

const sc_model_info *sc_model_get_info(const sc_model *m) { return &m->info; }
const char *sc_model_kernels_name(const sc_model *m) { return m->kern->name; }
int sc_model_threads(const sc_model *m) { return sc_pool_size(m->pool); }
bool sc_model_mapped(const sc_model *m) { return m->g != NULL; }

void sc_model_unmap(sc_model *m) {
  sc_gguf_close(m->g);
  m->g = NULL;
}

int sc_model_remap(sc_model *m, sc_err *e) {
  if (m->g) return 0;
  int rc = sc_gguf_open(m->path, &m->g, e);
  if (rc) return rc;
  if ((rc = bind(m, e))) {
    sc_gguf_close(m->g);
    m->g = NULL;
  }
  return rc;
}

/* ---- KV cache ---- */

int sc_kvcache_create(const sc_model *m, int n_blocks, sc_kvcache **out, sc_err *e) {
  *out = NULL;
  if (n_blocks < 1) return sc_err_set(e, SC_EINVAL, "bad_kv", "KV cache needs at least one block");
  sc_kvcache *kv = sc_xcalloc(1, sizeof *kv);
  kv->n_blocks = n_blocks;
  kv->n_layer = m->info.n_layer;
  kv->kv_dim = m->info.n_head_kv * m->info.head_dim;
  size_t n = (size_t)kv->n_layer * (size_t)n_blocks * SC_KV_BLOCK * (size_t)kv->kv_dim;
  kv->k = calloc(n, sizeof(float));
  kv->v = calloc(n, sizeof(float));
  if (!kv->k || !kv->v) {
    sc_kvcache_destroy(kv);
    return sc_err_set(e, SC_ENOMEM, "kv_oom", "cannot allocate a KV cache of %d blocks (%zu MiB)", n_blocks,
                      n * 2 * sizeof(float) >> 20);
  }
  *out = kv;
  return 0;
}

void sc_kvcache_destroy(sc_kvcache *kv) {
  if (!kv) return;
  free(kv->k);
  free(kv->v);
  free(kv);
}

int sc_kvcache_blocks(const sc_kvcache *kv) { return kv->n_blocks; }

static inline float *kv_at(const sc_kvcache *kv, float *base, int layer, int block, int off) {
  return base + (((size_t)layer * (size_t)kv->n_blocks + (size_t)block) * SC_KV_BLOCK + (size_t)off) * (size_t)kv->kv_dim;
}

/* ---- forward ---- */

static void grow(sc_model *m, int T, int max_pos) {
  const sc_model_info *in = &m->info;
  if (T > m->cap_t) {
    int c = T > 2 * m->cap_t ? T : 2 * m->cap_t;
    size_t E = (size_t)in->n_embd, Q = (size_t)(in->n_head * in->head_dim), KV = (size_t)(in->n_head_kv * in->head_dim),
           F = (size_t)in->n_ff, W = E > F ? E : F, cz = (size_t)c;
    W = W > Q ? W : Q;
    m->x = sc_xrealloc(m->x, cz * E * sizeof(float));
    m->xn = sc_xrealloc(m->xn, cz * W * sizeof(float));
    m->q = sc_xrealloc(m->q, cz * Q * sizeof(float));
    m->k = sc_xrealloc(m->k, cz * KV * sizeof(float));
    m->v = sc_xrealloc(m->v, cz * KV * sizeof(float));
    m->att = sc_xrealloc(m->att, cz * Q * sizeof(float));
    m->tmp = sc_xrealloc(m->tmp, cz * E * sizeof(float));
    m->gate = sc_xrealloc(m->gate, cz * F * sizeof(float));
    m->up = sc_xrealloc(m->up, cz * F * sizeof(float));
    m->cosv = sc_xrealloc(m->cosv, cz * (size_t)(in->head_dim / 2) * sizeof(float));
    m->sinv = sc_xrealloc(m->sinv, cz * (size_t)(in->head_dim / 2) * sizeof(float));
    m->xq = sc_xrealloc(m->xq, cz * m->kern->act_size((int)W));
    m->tok_seq = sc_xrealloc(m->tok_seq, cz * sizeof(int));
    m->tok_pos = sc_xrealloc(m->tok_pos, cz * sizeof(int));
    m->cap_t = c;
  }
  if (max_pos > m->cap_pos) {
    m->cap_pos = max_pos > 2 * m->cap_pos ? max_pos : 2 * m->cap_pos;
    m->scores = sc_xrealloc(m->scores, (size_t)sc_pool_size(m->pool) * (size_t)m->cap_pos * sizeof(float));
  }
}

typedef struct mm_job {
  const sc_wmat *w;
  float *y;
  int ldy;
} mm_job;

typedef struct mm_ctx {
  const sc_kernels *k;
  const mm_job *jobs;
  int n_jobs;
  const sc_acts *a;
  int chunk;
} mm_ctx;

/* Task = one chunk of rows of one job (chunks numbered across jobs). */
static void mm_task(void *arg, int ci, int ith) {
  (void)ith;
  mm_ctx *c = arg;
  for (int j = 0; j < c->n_jobs; j++) {
    int nc = (c->jobs[j].w->n_out + c->chunk - 1) / c->chunk;
    if (ci < nc) {
      int r0 = ci * c->chunk, r1 = r0 + c->chunk;
      if (r1 > c->jobs[j].w->n_out) r1 = c->jobs[j].w->n_out;
      c->k->matmul(c->jobs[j].w, r0, r1, c->a, c->jobs[j].y, c->jobs[j].ldy);
      return;
    }
    ci -= nc;
  }
}

static void matmuls(sc_model *m, const mm_job *jobs, int n_jobs, const sc_acts *a) {
  mm_ctx c = {.k = m->kern, .jobs = jobs, .n_jobs = n_jobs, .a = a};
  int rows = 0;
  for (int j = 0; j < n_jobs; j++) rows += jobs[j].w->n_out;
  int nth = sc_pool_size(m->pool);
  c.chunk = rows / (nth * 8);
  if (c.chunk < 16) c.chunk = 16;
  if (c.chunk > 256) c.chunk = 256;
  int total = 0;
  for (int j = 0; j < n_jobs; j++) total += (jobs[j].w->n_out + c.chunk - 1) / c.chunk;
  sc_pool_for(m->pool, total, mm_task, &c);
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps) {
  double ss = 0;
  for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
  float s = (float)(1.0 / sqrt(ss / n + eps));
  for (int i = 0; i < n; i++) o[i] = x[i] * s * w[i];
}

static void rope(float *x, int n_heads, int hd, const float *cs, const float *sn, bool neox) {
  int h2 = hd / 2;
  for (int h = 0; h < n_heads; h++) {
    float *v = x + h * hd;
    for (int i = 0; i < h2; i++) {
      int a = neox ? i : 2 * i, b = neox ? i + h2 : 2 * i + 1;
      float x0 = v[a], x1 = v[b];
      v[a] = x0 * cs[i] - x1 * sn[i];
      v[b] = x0 * sn[i] + x1 * cs[i];
    }
  }
}

typedef struct att_ctx {
  sc_model *m;
  sc_kvcache *kv;
  const sc_fwd_seq *seqs;
  int layer, T;
} att_ctx;

/* Task = one (token, head). */
static void att_task(void *arg, int job, int ith) {
  att_ctx *c = arg;
  sc_model *m = c->m;
  const sc_model_info *in = &m->info;
  int hd = in->head_dim, H = in->n_head, group = in->n_head / in->n_head_kv;
  float scale = 1.0f / sqrtf((float)hd);
  float *sc = m->scores + (size_t)ith * (size_t)m->cap_pos;
  {
    int t = job / H, h = job % H;
    const sc_fwd_seq *s = &c->seqs[m->tok_seq[t]];
    int p = m->tok_pos[t], kvh = h / group;
    const float *q = m->q + (size_t)t * (size_t)(H * hd) + (size_t)h * (size_t)hd;
    float mx = -INFINITY;
    for (int j = 0; j <= p; j++) {
      const float *kr = kv_at(c->kv, c->kv->k, c->layer, s->blocks[j / SC_KV_BLOCK], j % SC_KV_BLOCK) + kvh * hd;
      sc[j] = m->kern->dot_f32(q, kr, hd) * scale;
      if (sc[j] > mx) mx = sc[j];
    }
    float sum = 0;
    for (int j = 0; j <= p; j++) {
      sc[j] = expf(sc[j] - mx);
      sum += sc[j];
    }
    float *o = m->att + (size_t)t * (size_t)(H * hd) + (size_t)h * (size_t)hd;
    memset(o, 0, (size_t)hd * sizeof *o);
    float inv = 1.0f / sum;
    for (int j = 0; j <= p; j++) {
      const float *vr = kv_at(c->kv, c->kv->v, c->layer, s->blocks[j / SC_KV_BLOCK], j % SC_KV_BLOCK) + kvh * hd;
      m->kern->axpy_f32(o, sc[j] * inv, vr, hd);
    }
  }
}

static inline float silu(float x) { return x / (1.0f + expf(-x)); }

int sc_model_forward(sc_model *m, sc_kvcache *kv, const sc_fwd_seq *seqs, int n_seqs, sc_err *e) {
  if (!m->g) return sc_err_set(e, SC_ESTATE, "model_asleep", "the model's weights are unmapped (sleeping)");
  const sc_model_info *in = &m->info;
  int T = 0, max_pos = 1;
  for (int s = 0; s < n_seqs; s++) {
    const sc_fwd_seq *q = &seqs[s];
    if (q->n_tokens < 1 || q->pos < 0 || (int64_t)q->pos + q->n_tokens > (int64_t)q->n_blocks * SC_KV_BLOCK)
      return sc_err_set(e, SC_EINVAL, "bad_batch", "sequence %d: %d tokens at position %d do not fit its %d KV blocks", s,
                        q->n_tokens, q->pos, q->n_blocks);
    for (int b = 0; b < q->n_blocks; b++)
      if (q->blocks[b] < 0 || q->blocks[b] >= kv->n_blocks)
        return sc_err_set(e, SC_EINVAL, "bad_batch", "sequence %d: KV block %d out of range", s, q->blocks[b]);
    for (int i = 0; i < q->n_tokens; i++)
      if (q->tokens[i] < 0 || q->tokens[i] >= in->n_vocab)
        return sc_err_set(e, SC_EINVAL, "bad_token", "token id %d is out of range [0, %d)", q->tokens[i], in->n_vocab);
    T += q->n_tokens;
    if (q->pos + q->n_tokens > max_pos) max_pos = q->pos + q->n_tokens;
  }
  if (T == 0) return 0;
  grow(m, T, max_pos);
  int E = in->n_embd, H = in->n_head, hd = in->head_dim, Q = H * hd, KVD = in->n_head_kv * hd, F = in->n_ff, h2 = hd / 2;
  /* token -> (sequence, position); embeddings; RoPE tables */
  const sc_qtype_traits *te = sc_qtype_traits_of(m->tok_embd->type);
  size_t erow = (size_t)(E / te->block * te->size);
  for (int s = 0, t = 0; s < n_seqs; s++)
    for (int i = 0; i < seqs[s].n_tokens; i++, t++) {
      m->tok_seq[t] = s;
      m->tok_pos[t] = seqs[s].pos + i;
      sc_dequantize_row(m->tok_embd->type, (const uint8_t *)m->tok_embd->data + (size_t)seqs[s].tokens[i] * erow,
                        m->x + (size_t)t * (size_t)E, E);
      for (int j = 0; j < h2; j++) {
        double th = (double)m->tok_pos[t] * m->inv_freq[j];
        if (m->rope_freqs) th /= m->rope_freqs[j];
        m->cosv[(size_t)t * (size_t)h2 + (size_t)j] = (float)cos(th);
        m->sinv[(size_t)t * (size_t)h2 + (size_t)j] = (float)sin(th);
      }
    }
  sc_acts a = {.xf = m->xn, .ldx = E, .xq = m->xq, .xq_stride = m->kern->act_size(E), .nt = T};
  for (int l = 0; l < in->n_layer; l++) {
    layer *L = &m->layers[l];
    for (int t = 0; t < T; t++) {
      rmsnorm(m->xn + (size_t)t * E, m->x + (size_t)t * E, L->attn_norm, E, in->eps);
      m->kern->quantize(m->xn + (size_t)t * E, m->xq + (size_t)t * m->kern->act_size(E), E);
    }
    a.ldx = E;
    mm_job qkv[3] = {{&L->wq, m->q, Q}, {&L->wk, m->k, KVD}, {&L->wv, m->v, KVD}};
    matmuls(m, qkv, 3, &a);
    for (int t = 0; t < T; t++) {
      float *q = m->q + (size_t)t * Q, *k = m->k + (size_t)t * KVD, *v = m->v + (size_t)t * KVD;
      if (L->bq)
        for (int i = 0; i < Q; i++) q[i] += L->bq[i];
      if (L->bk)
        for (int i = 0; i < KVD; i++) k[i] += L->bk[i];
      if (L->bv)
        for (int i = 0; i < KVD; i++) v[i] += L->bv[i];
      const float *cs = m->cosv + (size_t)t * h2, *sn = m->sinv + (size_t)t * h2;
      rope(q, H, hd, cs, sn, in->rope_neox);
      rope(k, in->n_head_kv, hd, cs, sn, in->rope_neox);
      const sc_fwd_seq *s = &seqs[m->tok_seq[t]];
      int p = m->tok_pos[t];
      memcpy(kv_at(kv, kv->k, l, s->blocks[p / SC_KV_BLOCK], p % SC_KV_BLOCK), k, (size_t)KVD * sizeof(float));
      memcpy(kv_at(kv, kv->v, l, s->blocks[p / SC_KV_BLOCK], p % SC_KV_BLOCK), v, (size_t)KVD * sizeof(float));
    }
    att_ctx ac = {.m = m, .kv = kv, .seqs = seqs, .layer = l, .T = T};
    sc_pool_for(m->pool, T * H, att_task, &ac);
    for (int t = 0; t < T; t++) m->kern->quantize(m->att + (size_t)t * Q, m->xq + (size_t)t * m->kern->act_size(Q), Q);
    sc_acts ao = {.xf = m->att, .ldx = Q, .xq = m->xq, .xq_stride = m->kern->act_size(Q), .nt = T};
    mm_job o[1] = {{&L->wo, m->tmp, E}};
    matmuls(m, o, 1, &ao);
    for (size_t i = 0; i < (size_t)T * E; i++) m->x[i] += m->tmp[i];
    for (int t = 0; t < T; t++) {
      rmsnorm(m->xn + (size_t)t * E, m->x + (size_t)t * E, L->ffn_norm, E, in->eps);
      m->kern->quantize(m->xn + (size_t)t * E, m->xq + (size_t)t * m->kern->act_size(E), E);
    }
    mm_job gu[2] = {{&L->wgate, m->gate, F}, {&L->wup, m->up, F}};
    matmuls(m, gu, 2, &a);
    for (size_t i = 0; i < (size_t)T * F; i++) m->gate[i] = silu(m->gate[i]) * m->up[i];
    for (int t = 0; t < T; t++) m->kern->quantize(m->gate + (size_t)t * F, m->xq + (size_t)t * m->kern->act_size(F), F);
    sc_acts ad = {.xf = m->gate, .ldx = F, .xq = m->xq, .xq_stride = m->kern->act_size(F), .nt = T};
    mm_job d[1] = {{&L->wdown, m->tmp, E}};
    matmuls(m, d, 1, &ad);
    for (size_t i = 0; i < (size_t)T * E; i++) m->x[i] += m->tmp[i];
  }
  /* logits for the sequences that asked: gather their last tokens */
  int nl = 0;
  for (int s = 0, t = 0; s < n_seqs; s++) {
    t += seqs[s].n_tokens;
    if (!seqs[s].logits) continue;
    rmsnorm(m->xn + (size_t)nl * E, m->x + (size_t)(t - 1) * E, m->out_norm, E, in->eps);
    m->kern->quantize(m->xn + (size_t)nl * E, m->xq + (size_t)nl * m->kern->act_size(E), E);
    nl++;
  }
  if (nl == 0) return 0;
  float *lg = sc_xmalloc((size_t)nl * (size_t)in->n_vocab * sizeof(float));
  sc_acts al = {.xf = m->xn, .ldx = E, .xq = m->xq, .xq_stride = m->kern->act_size(E), .nt = nl};
  mm_job oj[1] = {{&m->wout, lg, in->n_vocab}};
  matmuls(m, oj, 1, &al);
  for (int s = 0, i = 0; s < n_seqs; s++)
    if (seqs[s].logits) memcpy(seqs[s].logits, lg + (size_t)(i++) * (size_t)in->n_vocab, (size_t)in->n_vocab * sizeof(float));
  free(lg);
  return 0;
}
