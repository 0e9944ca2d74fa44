/*
 * kernels.h — the compute kernels behind the model: matrix x activations for every weight type,
 * with a scalar reference and SIMD variants (kernels_avx2.c, kernels_avx512.c) picked at run time.
 *
 * Activations for quantized weights are themselves quantized to 8 bits in blocks of 32 (as
 * llama.cpp does): x ~= d*q, with s = d*sum(q) kept for the formats with an offset (Q4_0, Q4_K).
 * Float weights (F32/F16/BF16) use the float activations.
 *
 * Batch invariance: the value computed for (row r, token t) depends only on the row and that
 * token's activations, never on which other tokens or rows are in the call: every kernel runs
 * the same instruction sequence per (row, token) whatever the tile it sits in.
 */
#ifndef SC_ENGINE_KERNELS_H
#define SC_ENGINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sc_act_block {
  float d, s;
  int8_t q[32];
} sc_act_block;

/* A weight matrix: n_out rows of n_in values, row r at data + r*row_bytes. */
typedef struct sc_wmat {
  uint32_t type;
  const uint8_t *data;
  size_t row_bytes;
  int n_in, n_out;
} sc_wmat;

/* Activations of nt tokens: token t at xf + t*ldx (floats) and at xq + t*xq_stride (quantized,
 * in the kernel set's own layout, written by its quantize function). */
typedef struct sc_acts {
  const float *xf;
  int ldx;
  const uint8_t *xq;
  size_t xq_stride;
  int nt;
} sc_acts;

typedef struct sc_kernels {
  const char *name;
  int act_align;                         /* n_in must be a multiple of this (32 or 64) */
  size_t (*act_size)(int n);             /* bytes of quantized activations for n values */
  void (*quantize)(const float *x, void *q, int n);
  /* y[t*ldy + r] = dot(row r of w, token t) for r in [r0, r1), every token of a. */
  void (*matmul)(const sc_wmat *w, int r0, int r1, const sc_acts *a, float *y, int ldy);
  float (*dot_f32)(const float *a, const float *b, int n);
  void (*axpy_f32)(float *y, float a, const float *x, int n); /* y += a*x */
} sc_kernels;

/* The 32-value block layout (scalar and AVX2 kernels): n floats (a multiple of 32) to blocks. */
void sc_quantize_act(const float *x, void *q, int n);
size_t sc_act_size(int n);

/* The best kernels for this CPU (AVX-512 VNNI > AVX2+FMA > scalar); SC_KERNELS=scalar|avx2|avx512
 * in the environment forces one (when the CPU supports it). */
const sc_kernels *sc_kernels_best(void);
const sc_kernels *sc_kernels_scalar(void);
const sc_kernels *sc_kernels_avx2(void);   /* NULL when not supported by this CPU */
const sc_kernels *sc_kernels_avx512(void); /* NULL when not supported by this CPU */

#endif
