/*
 * kernels_impl.h — the SIMD kernels, written once and compiled twice: kernels_avx2.c
 * (SC_VNNI 0: maddubs/madd integer dots) and kernels_avx512.c (SC_VNNI 1: AVX-512 VNNI
 * vpdpbusd on 256-bit vectors). Included only by those two files.
 *
 * Layout of the work: for a range of weight rows, tokens are taken in tiles of up to TILE;
 * the tile function walks the row's blocks once and, for each block, updates one accumulator
 * per token. The per-token instruction sequence is the same for every tile size (the tile size
 * is a compile-time constant of an always-inline function), so results do not depend on how
 * tokens are grouped: batched decode gives bit-identical logits to single-sequence decode.
 */
#include <immintrin.h>

#include "engine/gguf.h"
#include "engine/kernels.h"
#include "engine/quant.h"

#define TILE 4
#define INL static inline __attribute__((always_inline))

INL __m256i dot_u8s8(__m256i u, __m256i s) {
#if SC_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

INL float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

INL float h2f(uint16_t h) { return _cvtsh_ss(h); }

INL void tile_q8_0(const uint8_t *row, int nb, const sc_act_block *const *x, int nt, float *out) {
  __m256 acc[TILE];
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
  const sc_block_q8_0 *b = (const sc_block_q8_0 *)row;
  for (int i = 0; i < nb; i++) {
    __m256i w = _mm256_loadu_si256((const __m256i *)b[i].qs);
    __m256i aw = _mm256_sign_epi8(w, w);
    float dw = h2f(b[i].d);
    _Pragma("GCC unroll 4")
    for (int t = 0; t < nt; t++) {
      __m256i xv = _mm256_loadu_si256((const __m256i *)x[t][i].q);
      __m256i p = dot_u8s8(aw, _mm256_sign_epi8(xv, w));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * x[t][i].d), acc[t]);
    }
  }
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) out[t] = hsum(acc[t]);
}

INL void tile_q4_0(const uint8_t *row, int nb, const sc_act_block *const *x, int nt, float *out) {
  __m256 acc[TILE];
  float off[TILE];
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) {
    acc[t] = _mm256_setzero_ps();
    off[t] = 0;
  }
  const __m128i m4 = _mm_set1_epi8(0xF);
  const sc_block_q4_0 *b = (const sc_block_q4_0 *)row;
  for (int i = 0; i < nb; i++) {
    __m128i raw = _mm_loadu_si128((const __m128i *)b[i].qs);
    __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), _mm_and_si128(raw, m4));
    float dw = h2f(b[i].d);
    _Pragma("GCC unroll 4")
    for (int t = 0; t < nt; t++) {
      __m256i xv = _mm256_loadu_si256((const __m256i *)x[t][i].q);
      __m256i p = dot_u8s8(q, xv);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * x[t][i].d), acc[t]);
      off[t] += dw * x[t][i].s;
    }
  }
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) out[t] = hsum(acc[t]) - 8.0f * off[t];
}

INL void scale_min(int j, const uint8_t *q, int *d, int *m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

INL void tile_q4_k(const uint8_t *row, int nb, const sc_act_block *const *x, int nt, float *out) {
  __m256 acc[TILE];
  float off[TILE];
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) {
    acc[t] = _mm256_setzero_ps();
    off[t] = 0;
  }
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const sc_block_q4_k *b = (const sc_block_q4_k *)row;
  for (int i = 0; i < nb; i++) {
    float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
    float ds[8], dm[8];
    for (int j = 0; j < 8; j++) {
      int sc, m;
      scale_min(j, b[i].scales, &sc, &m);
      ds[j] = d * (float)sc;
      dm[j] = dmin * (float)m;
    }
    for (int j = 0; j < 4; j++) {
      __m256i raw = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * j));
      __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
      _Pragma("GCC unroll 4")
      for (int t = 0; t < nt; t++) {
        const sc_act_block *x0 = &x[t][i * 8 + 2 * j], *x1 = x0 + 1;
        __m256i p0 = dot_u8s8(lo, _mm256_loadu_si256((const __m256i *)x0->q));
        __m256i p1 = dot_u8s8(hi, _mm256_loadu_si256((const __m256i *)x1->q));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(ds[2 * j] * x0->d), acc[t]);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(ds[2 * j + 1] * x1->d), acc[t]);
        off[t] += dm[2 * j] * x0->s + dm[2 * j + 1] * x1->s;
      }
    }
  }
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) out[t] = hsum(acc[t]) - off[t];
}

INL void tile_q6_k(const uint8_t *row, int nb, const sc_act_block *const *x, int nt, float *out) {
  __m256 acc[TILE];
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3), o32 = _mm256_set1_epi8(32);
  const sc_block_q6_k *b = (const sc_block_q6_k *)row;
  for (int i = 0; i < nb; i++) {
    float d = h2f(b[i].d);
    for (int h = 0; h < 2; h++) {
      __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b[i].ql + 64 * h));
      __m256i ql1 = _mm256_loadu_si256((const __m256i *)(b[i].ql + 64 * h + 32));
      __m256i qh = _mm256_loadu_si256((const __m256i *)(b[i].qh + 32 * h));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
      for (int k = 0; k < 4; k++) {
        __m256i qs = _mm256_sub_epi8(q[k], o32);
        __m256i aq = _mm256_sign_epi8(qs, qs);
        const int8_t *sc = b[i].scales + 8 * h + 2 * k;
        __m256 sv = _mm256_set_m128(_mm_set1_ps(d * (float)sc[1]), _mm_set1_ps(d * (float)sc[0]));
        _Pragma("GCC unroll 4")
        for (int t = 0; t < nt; t++) {
          const sc_act_block *xb = &x[t][i * 8 + 4 * h + k];
          __m256i p = dot_u8s8(aq, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)xb->q), qs));
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(sv, _mm256_set1_ps(xb->d)), acc[t]);
        }
      }
    }
  }
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) out[t] = hsum(acc[t]);
}

INL __m256 load8(uint32_t type, const uint8_t *row, int i) {
  if (type == SC_GGML_F32) return _mm256_loadu_ps((const float *)row + i);
  __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + i));
  if (type == SC_GGML_F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INL float load1(uint32_t type, const uint8_t *row, int i) {
  if (type == SC_GGML_F32) {
    float v;
    memcpy(&v, row + 4 * (size_t)i, 4);
    return v;
  }
  uint16_t h;
  memcpy(&h, row + 2 * (size_t)i, 2);
  return type == SC_GGML_F16 ? sc_half_to_float(h) : sc_bf16_to_float(h);
}

INL void tile_float(uint32_t type, const uint8_t *row, int n, const float *const *x, int nt, float *out) {
  __m256 acc[TILE];
  float tail[TILE];
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) {
    acc[t] = _mm256_setzero_ps();
    tail[t] = 0;
  }
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 w = load8(type, row, i);
    _Pragma("GCC unroll 4")
    for (int t = 0; t < nt; t++) acc[t] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x[t] + i), acc[t]);
  }
  for (; i < n; i++) {
    float w = load1(type, row, i);
    _Pragma("GCC unroll 4")
    for (int t = 0; t < nt; t++) tail[t] += w * x[t][i];
  }
  _Pragma("GCC unroll 4")
  for (int t = 0; t < nt; t++) out[t] = hsum(acc[t]) + tail[t];
}

#define TILE_CASES(call) \
  switch (n) {           \
    case 4: call(4); break; \
    case 3: call(3); break; \
    case 2: call(2); break; \
    default: call(1); break; \
  }

__attribute__((unused)) static void matmul(const sc_wmat *w, int r0, int r1, const sc_acts *a, float *y, int ldy) {
  int nbq = w->n_in / 32;
  for (int t0 = 0; t0 < a->nt; t0 += TILE) {
    int n = a->nt - t0 < TILE ? a->nt - t0 : TILE;
    const sc_act_block *xq[TILE];
    const float *xf[TILE];
    for (int t = 0; t < n; t++) {
      xq[t] = a->xq ? (const sc_act_block *)(a->xq + (size_t)(t0 + t) * a->xq_stride) : NULL;
      xf[t] = a->xf ? a->xf + (size_t)(t0 + t) * (size_t)a->ldx : NULL;
    }
    for (int r = r0; r < r1; r++) {
      const uint8_t *row = w->data + (size_t)r * w->row_bytes;
      float out[TILE];
      switch (w->type) {
#define C8(k) tile_q8_0(row, nbq, xq, k, out)
        case SC_GGML_Q8_0: TILE_CASES(C8); break;
#define C40(k) tile_q4_0(row, nbq, xq, k, out)
        case SC_GGML_Q4_0: TILE_CASES(C40); break;
#define C4K(k) tile_q4_k(row, w->n_in / 256, xq, k, out)
        case SC_GGML_Q4_K: TILE_CASES(C4K); break;
#define C6K(k) tile_q6_k(row, w->n_in / 256, xq, k, out)
        case SC_GGML_Q6_K: TILE_CASES(C6K); break;
#define CF(k) tile_float(w->type, row, w->n_in, xf, k, out)
        default: TILE_CASES(CF); break;
      }
      for (int t = 0; t < n; t++) y[(size_t)(t0 + t) * (size_t)ldy + (size_t)r] = out[t];
    }
  }
}

static float dot_f32(const float *a, const float *b, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float s = hsum(acc);
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

static void axpy_f32(float *y, float a, const float *x, int n) {
  __m256 av = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}
