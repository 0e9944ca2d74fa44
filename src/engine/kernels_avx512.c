/*
 * kernels_avx512.c — AVX-512 (VNNI) kernels. Float weights reuse the 256-bit code of
 * kernels_impl.h; quantized weights use 512-bit vectors over PAIRS of 32-value blocks.
 *
 * Activation layout (act_pair, 136 bytes per 64 values): the 64 int8 quants of two blocks, their
 * scales each repeated 8 times (so one 512-bit load gives the per-lane scale), and their
 * d*sum(q) for the offset formats. Per (row, token, block pair) the work is: load, sign fix-up
 * (masked negate) or none, vpdpbusd, convert, scale multiply, FMA — about a third of the
 * instructions of the 256-bit path per value. Weight-side unpacking is done once per row and
 * shared by the tile's tokens. Requires n_in % 64 == 0 (the model falls back to AVX2 otherwise).
 * Same batch-invariance property as kernels_impl.h: the per-token sequence never depends on the
 * tile size.
 */
#define SC_VNNI 1
#include "engine/kernels_impl.h"

#define ZT 8 /* tokens per tile: 32 zmm registers leave room for 8 accumulators */
#define ZT_CASES(call) \
  switch (n) {            \
    case 8: call(8); break; \
    case 7: call(7); break; \
    case 6: call(6); break; \
    case 5: call(5); break; \
    case 4: call(4); break; \
    case 3: call(3); break; \
    case 2: call(2); break; \
    default: call(1); break; \
  }

typedef struct act_pair {
  int8_t q[64];
  float dx[16];
  float s[2];
} act_pair;

static size_t act_size(int n) { return (size_t)(n / 64) * sizeof(act_pair); }

static void quantize(const float *x, void *qv, int n) {
  act_pair *p = qv;
  for (int b = 0; b < n / 32; b++) {
    const float *v = x + b * 32;
    __m256 m = _mm256_setzero_ps();
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int j = 0; j < 32; j += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(v + j), absmask));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float a = _mm_cvtss_f32(h);
    float d = a / 127.0f, id = a > 0 ? 127.0f / a : 0;
    act_pair *pp = &p[b / 2];
    int8_t *q = pp->q + 32 * (b & 1);
    __m256 vid = _mm256_set1_ps(id);
    __m256i sum = _mm256_setzero_si256();
    for (int j = 0; j < 32; j += 8) {
      __m256i qi = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + j), vid)); /* round to nearest even */
      qi = _mm256_max_epi32(_mm256_min_epi32(qi, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
      sum = _mm256_add_epi32(sum, qi);
      _mm_storel_epi64((__m128i *)(q + j), _mm256_cvtepi32_epi8(qi));
    }
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    for (int j = 0; j < 8; j++) pp->dx[8 * (b & 1) + j] = d;
    pp->s[b & 1] = d * (float)_mm_cvtsi128_si32(s4);
  }
}

INL __m512 pair_scale(float a, float b) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}

INL __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

INL void z_q8_0(const uint8_t *row, int np, const act_pair *const *x, int nt, float *out) {
  __m512 acc[ZT];
  _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
  const sc_block_q8_0 *b = (const sc_block_q8_0 *)row;
  const __m512i zero = _mm512_setzero_si512();
  for (int i = 0; i < np; i++) {
    __m512i w = join(_mm256_loadu_si256((const __m256i *)b[2 * i].qs), _mm256_loadu_si256((const __m256i *)b[2 * i + 1].qs));
    __m512i aw = _mm512_abs_epi8(w);
    __mmask64 neg = _mm512_movepi8_mask(w);
    __m512 dw = pair_scale(h2f(b[2 * i].d), h2f(b[2 * i + 1].d));
    _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) {
      const act_pair *p = &x[t][i];
      __m512i xv = _mm512_loadu_si512(p->q);
      __m512i sx = _mm512_mask_sub_epi8(xv, neg, zero, xv);
      __m512i d = _mm512_dpbusd_epi32(zero, aw, sx);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(dw, _mm512_loadu_ps(p->dx)), acc[t]);
    }
  }
  _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]);
}

INL void z_q4_0(const uint8_t *row, int np, const act_pair *const *x, int nt, float *out) {
  __m512 acc[ZT];
  float off[ZT];
  _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) {
    acc[t] = _mm512_setzero_ps();
    off[t] = 0;
  }
  const sc_block_q4_0 *b = (const sc_block_q4_0 *)row;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m512i zero = _mm512_setzero_si512();
  for (int i = 0; i < np; i++) {
    __m256i raw = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)b[2 * i + 1].qs), _mm_loadu_si128((const __m128i *)b[2 * i].qs));
    __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
    /* [b0lo b1lo b0hi b1hi] -> [b0lo b0hi b1lo b1hi] */
    __m512i q = _mm512_shuffle_i64x2(join(lo, hi), join(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
    float d0 = h2f(b[2 * i].d), d1 = h2f(b[2 * i + 1].d);
    __m512 dw = pair_scale(d0, d1);
    _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) {
      const act_pair *p = &x[t][i];
      __m512i d = _mm512_dpbusd_epi32(zero, q, _mm512_loadu_si512(p->q));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(dw, _mm512_loadu_ps(p->dx)), acc[t]);
      off[t] += d0 * p->s[0] + d1 * p->s[1];
    }
  }
  _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]) - 8.0f * off[t];
}

INL void z_q4_k(const uint8_t *row, int nb, const act_pair *const *x, int nt, float *out) {
  __m512 acc[ZT];
  float off[ZT];
  _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) {
    acc[t] = _mm512_setzero_ps();
    off[t] = 0;
  }
  const sc_block_q4_k *b = (const sc_block_q4_k *)row;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m512i zero = _mm512_setzero_si512();
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
      __m512i q = join(_mm256_and_si256(raw, m4), _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4));
      __m512 dw = pair_scale(ds[2 * j], ds[2 * j + 1]);
      _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) {
        const act_pair *p = &x[t][i * 4 + j];
        __m512i dd = _mm512_dpbusd_epi32(zero, q, _mm512_loadu_si512(p->q));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dd), _mm512_mul_ps(dw, _mm512_loadu_ps(p->dx)), acc[t]);
        off[t] += dm[2 * j] * p->s[0] + dm[2 * j + 1] * p->s[1];
      }
    }
  }
  _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]) - off[t];
}

INL void z_q6_k(const uint8_t *row, int nb, const act_pair *const *x, int nt, float *out) {
  __m512 acc[ZT];
  _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
  const sc_block_q6_k *b = (const sc_block_q6_k *)row;
  const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3), o32 = _mm256_set1_epi8(32);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
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
      for (int k = 0; k < 4; k += 2) {
        __m512i qs = join(_mm256_sub_epi8(q[k], o32), _mm256_sub_epi8(q[k + 1], o32));
        __m512i aq = _mm512_abs_epi8(qs);
        __mmask64 neg = _mm512_movepi8_mask(qs);
        const int8_t *sc = b[i].scales + 8 * h + 2 * k;
        __m128 s4 = _mm_setr_ps(d * (float)sc[0], d * (float)sc[1], d * (float)sc[2], d * (float)sc[3]);
        __m512 dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(s4));
        _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) {
          const act_pair *p = &x[t][i * 4 + 2 * h + k / 2];
          __m512i xv = _mm512_loadu_si512(p->q);
          __m512i dd = _mm512_dpbusd_epi32(zero, aq, _mm512_mask_sub_epi8(xv, neg, zero, xv));
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dd), _mm512_mul_ps(dw, _mm512_loadu_ps(p->dx)), acc[t]);
        }
      }
    }
  }
  _Pragma("GCC unroll 8") for (int t = 0; t < nt; t++) out[t] = _mm512_reduce_add_ps(acc[t]);
}

static void matmul512(const sc_wmat *w, int r0, int r1, const sc_acts *a, float *y, int ldy) {
  int np = w->n_in / 64;
  for (int t0 = 0; t0 < a->nt; t0 += ZT) {
    int n = a->nt - t0 < ZT ? a->nt - t0 : ZT;
    const act_pair *xq[ZT];
    const float *xf[ZT];
    for (int t = 0; t < n; t++) {
      xq[t] = a->xq ? (const act_pair *)(a->xq + (size_t)(t0 + t) * a->xq_stride) : NULL;
      xf[t] = a->xf ? a->xf + (size_t)(t0 + t) * (size_t)a->ldx : NULL;
    }
    for (int r = r0; r < r1; r++) {
      const uint8_t *row = w->data + (size_t)r * w->row_bytes;
      float out[ZT];
      switch (w->type) {
#define Z8(k) z_q8_0(row, np, xq, k, out)
        case SC_GGML_Q8_0: ZT_CASES(Z8); break;
#define Z40(k) z_q4_0(row, np, xq, k, out)
        case SC_GGML_Q4_0: ZT_CASES(Z40); break;
#define Z4K(k) z_q4_k(row, w->n_in / 256, xq, k, out)
        case SC_GGML_Q4_K: ZT_CASES(Z4K); break;
#define Z6K(k) z_q6_k(row, w->n_in / 256, xq, k, out)
        case SC_GGML_Q6_K: ZT_CASES(Z6K); break;
        default:
          for (int u = 0; u < n; u += TILE) {
            int k = n - u < TILE ? n - u : TILE;
            float *o = out + u;
            const float *const *xu = xf + u;
#define ZF(kk) tile_float(w->type, row, w->n_in, xu, kk, o)
            switch (k) {
              case 4: ZF(4); break;
              case 3: ZF(3); break;
              case 2: ZF(2); break;
              default: ZF(1); break;
            }
          }
          break;
      }
      for (int t = 0; t < n; t++) y[(size_t)(t0 + t) * (size_t)ldy + (size_t)r] = out[t];
    }
  }
}

static const sc_kernels K = {"avx512-vnni", 64, act_size, quantize, matmul512, dot_f32, axpy_f32};
const sc_kernels *sc_kernels_avx512_impl(void);
const sc_kernels *sc_kernels_avx512_impl(void) { return &K; }
