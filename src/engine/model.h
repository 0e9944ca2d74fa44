/*
 * model.h — a transformer loaded from GGUF (architectures llama and qwen2), its paged KV cache,
 * and a synchronous batched forward pass. The CPU engine (cpu_engine.c) drives this; tests and
 * the benchmark call it directly.
 *
 * Threading: sc_model_forward uses the model's thread pool and scratch memory: one caller at a
 * time per model. Distinct models are independent.
 */
#ifndef SC_ENGINE_MODEL_H
#define SC_ENGINE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/gguf.h"

#define SC_KV_BLOCK 16 /* tokens per KV-cache block */

typedef struct sc_model_info {
  char arch[16];         /* "llama" or "qwen2" */
  int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
  float eps;             /* RMSNorm epsilon */
  float rope_base;       /* rope.freq_base */
  float rope_scale;      /* linear position scaling factor (1 = none) */
  bool rope_neox;        /* qwen2: rotate (x[i], x[i+d/2]); llama: adjacent pairs (x[2i], x[2i+1]) */
  bool has_rope_freqs;   /* rope_freqs.weight present (llama3-style frequency factors) */
  bool tied;             /* no output.weight: logits use token_embd */
  bool qkv_bias;         /* qwen2 */
  int32_t bos_id, eos_id; /* -1 when absent */
  uint32_t wtype;        /* type of blk.0.ffn_up.weight, for display */
} sc_model_info;

typedef struct sc_model sc_model;

/* Checks that an open GGUF holds a model this engine runs (architecture, hyper-parameters,
 * every tensor's presence, shape and type) and fills info. SC_EFORMAT with a message otherwise. */
int sc_model_check(const sc_gguf *g, sc_model_info *info, sc_err *e);

/* Opens and checks path; n_threads >= 1 threads run the forward pass. Caller frees with
 * sc_model_free (NULL ok). */
int sc_model_load(const char *path, int n_threads, sc_model **out, sc_err *e);
void sc_model_free(sc_model *m);
const sc_model_info *sc_model_get_info(const sc_model *m);
const char *sc_model_kernels_name(const sc_model *m);
int sc_model_threads(const sc_model *m);

/* Sleep/wake: unmap the weights (the file mapping) and map them again (re-checked: the file must
 * still hold the same model). Forward passes are invalid while unmapped. */
void sc_model_unmap(sc_model *m);
int sc_model_remap(sc_model *m, sc_err *e);
bool sc_model_mapped(const sc_model *m);

/* KV cache of n_blocks blocks of SC_KV_BLOCK tokens for every layer (float32 K and V). */
typedef struct sc_kvcache sc_kvcache;
int sc_kvcache_create(const sc_model *m, int n_blocks, sc_kvcache **out, sc_err *e);
void sc_kvcache_destroy(sc_kvcache *kv);
int sc_kvcache_blocks(const sc_kvcache *kv);

/* One sequence's part of a forward batch: n_tokens new tokens at positions pos, pos+1, ...;
 * its KV lives in the blocks listed (block i holds positions i*SC_KV_BLOCK ...), which must cover
 * pos + n_tokens. Positions before pos must already be in those blocks (earlier calls, or a
 * shared prefix). logits: NULL, or n_vocab floats receiving the last token's logits. */
typedef struct sc_fwd_seq {
  const int32_t *tokens;
  int n_tokens;
  int pos;
  const int32_t *blocks;
  int n_blocks;
  float *logits;
} sc_fwd_seq;

/* Runs all sequences as one batch (matmuls see every token at once). Results per sequence do
 * not depend on the rest of the batch. Returns 0, or SC_EINVAL (bad token id, blocks not
 * covering the positions) / SC_ESTATE (weights unmapped) with e set. */
int sc_model_forward(sc_model *m, sc_kvcache *kv, const sc_fwd_seq *seqs, int n_seqs, sc_err *e);

#endif
