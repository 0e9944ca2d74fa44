/*
 * quant.c — reference (scalar) conversion between floats and ggml block formats.
 * Quantizers aim for validity and reasonable accuracy, not llama.cpp's error-minimising search:
 * they serve `model synth` and tests.
 */
#include "engine/quant.h"

#include <math.h>
#include <string.h>

#include "engine/gguf.h"

static const sc_qtype_traits T_F32 = {"f32", 1, 4}, T_F16 = {"f16", 1, 2}, T_BF16 = {"bf16", 1, 2},
                             T_Q8_0 = {"q8_0", 32, 34}, T_Q4_0 = {"q4_0", 32, 18}, T_Q4_K = {"q4_k", 256, 144},
                             T_Q6_K = {"q6_k", 256, 210};

const sc_qtype_traits *sc_qtype_traits_of(uint32_t type) {
  switch (type) {
    case SC_GGML_F32: return &T_F32;
    case SC_GGML_F16: return &T_F16;
    case SC_GGML_BF16: return &T_BF16;
    case SC_GGML_Q8_0: return &T_Q8_0;
    case SC_GGML_Q4_0: return &T_Q4_0;
    case SC_GGML_Q4_K: return &T_Q4_K;
    case SC_GGML_Q6_K: return &T_Q6_K;
    default: return NULL;
  }
}

int sc_qtype_by_name(const char *name) {
  static const uint32_t all[] = {SC_GGML_F32, SC_GGML_F16, SC_GGML_BF16, SC_GGML_Q8_0, SC_GGML_Q4_0, SC_GGML_Q4_K, SC_GGML_Q6_K};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(sc_qtype_traits_of(all[i])->name, name) == 0) return (int)all[i];
  return -1;
}

uint16_t sc_float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t m = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0));
  if (e >= 31) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    m |= 0x800000;
    uint32_t shift = (uint32_t)(14 - e);
    uint32_t hm = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (hm & 1))) hm++;
    return (uint16_t)(sign | hm);
  }
  uint32_t hm = m >> 13, rem = m & 0x1fff;
  uint32_t h = sign | ((uint32_t)e << 10) | hm;
  if (rem > 0x1000 || (rem == 0x1000 && (hm & 1))) h++; /* carries into the exponent correctly */
  return (uint16_t)h;
}

uint16_t sc_float_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64); /* quiet NaN */
  return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void sc_dequantize_row(uint32_t type, const void *src, float *y, int64_t n) {
  switch (type) {
    case SC_GGML_F32: memcpy(y, src, (size_t)n * 4); break;
    case SC_GGML_F16: {
      const uint16_t *s = src;
      for (int64_t i = 0; i < n; i++) y[i] = sc_half_to_float(s[i]);
      break;
    }
    case SC_GGML_BF16: {
      const uint16_t *s = src;
      for (int64_t i = 0; i < n; i++) y[i] = sc_bf16_to_float(s[i]);
      break;
    }
    case SC_GGML_Q8_0: {
      const sc_block_q8_0 *b = src;
      for (int64_t i = 0; i < n / 32; i++) {
        float d = sc_half_to_float(b[i].d);
        for (int j = 0; j < 32; j++) y[i * 32 + j] = d * b[i].qs[j];
      }
      break;
    }
    case SC_GGML_Q4_0: {
      const sc_block_q4_0 *b = src;
      for (int64_t i = 0; i < n / 32; i++) {
        float d = sc_half_to_float(b[i].d);
        for (int j = 0; j < 16; j++) {
          y[i * 32 + j] = d * ((b[i].qs[j] & 0xF) - 8);
          y[i * 32 + j + 16] = d * ((b[i].qs[j] >> 4) - 8);
        }
      }
      break;
    }
    case SC_GGML_Q4_K: {
      const sc_block_q4_k *b = src;
      for (int64_t i = 0; i < n / 256; i++) {
        float d = sc_half_to_float(b[i].d), dmin = sc_half_to_float(b[i].dmin);
        const uint8_t *q = b[i].qs;
        float *o = y + i * 256;
        for (int j = 0; j < 4; j++) {
          uint8_t sc, m;
          scale_min_k4(2 * j, b[i].scales, &sc, &m);
          float d1 = d * sc, m1 = dmin * m;
          scale_min_k4(2 * j + 1, b[i].scales, &sc, &m);
          float d2 = d * sc, m2 = dmin * m;
          for (int l = 0; l < 32; l++) o[l] = d1 * (q[l] & 0xF) - m1;
          for (int l = 0; l < 32; l++) o[32 + l] = d2 * (q[l] >> 4) - m2;
          o += 64;
          q += 32;
        }
      }
      break;
    }
    case SC_GGML_Q6_K: {
      const sc_block_q6_k *b = src;
      for (int64_t i = 0; i < n / 256; i++) {
        float d = sc_half_to_float(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        float *o = y + i * 256;
        for (int h = 0; h < 2; h++) {
          for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            o[l] = d * sc[is] * q1;
            o[l + 32] = d * sc[is + 2] * q2;
            o[l + 64] = d * sc[is + 4] * q3;
            o[l + 96] = d * sc[is + 6] * q4;
          }
          o += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      break;
    }
    default: memset(y, 0, (size_t)n * 4); break;
  }
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void quant_q4_k(const float *x, sc_block_q4_k *b) {
  float scale[8], mins[8], maxs = 0, maxm = 0;
  for (int j = 0; j < 8; j++) {
    float lo = 0, hi = 0;
    for (int l = 0; l < 32; l++) {
      float v = x[j * 32 + l];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    scale[j] = (hi - lo) / 15.0f;
    mins[j] = -lo;
    if (scale[j] > maxs) maxs = scale[j];
    if (mins[j] > maxm) maxm = mins[j];
  }
  float d = maxs / 63.0f, dmin = maxm / 63.0f;
  b->d = sc_float_to_half(d);
  b->dmin = sc_float_to_half(dmin);
  d = sc_half_to_float(b->d);
  dmin = sc_half_to_float(b->dmin);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; j++) {
    sc[j] = (uint8_t)clampi(d > 0 ? (int)lrintf(scale[j] / d) : 0, 0, 63);
    m[j] = (uint8_t)clampi(dmin > 0 ? (int)lrintf(mins[j] / dmin) : 0, 0, 63);
  }
  for (int j = 0; j < 4; j++) {
    b->scales[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
    b->scales[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
    b->scales[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
  uint8_t q[256];
  for (int j = 0; j < 8; j++) {
    float ds = d * sc[j], dm = dmin * m[j];
    for (int l = 0; l < 32; l++) q[j * 32 + l] = (uint8_t)clampi(ds > 0 ? (int)lrintf((x[j * 32 + l] + dm) / ds) : 0, 0, 15);
  }
  for (int j = 0; j < 4; j++)
    for (int l = 0; l < 32; l++) b->qs[j * 32 + l] = (uint8_t)(q[j * 64 + l] | (q[j * 64 + 32 + l] << 4));
}

static void quant_q6_k(const float *x, sc_block_q6_k *b) {
  float scale[16], maxs = 0;
  for (int j = 0; j < 16; j++) {
    float a = 0;
    for (int l = 0; l < 16; l++) a = fmaxf(a, fabsf(x[j * 16 + l]));
    scale[j] = a / 31.0f;
    if (scale[j] > maxs) maxs = scale[j];
  }
  float d = maxs / 127.0f;
  b->d = sc_float_to_half(d);
  d = sc_half_to_float(b->d);
  uint8_t q[256];
  for (int j = 0; j < 16; j++) {
    int s = clampi(d > 0 ? (int)lrintf(scale[j] / d) : 0, -128, 127);
    b->scales[j] = (int8_t)s;
    float ds = d * s;
    for (int l = 0; l < 16; l++) q[j * 16 + l] = (uint8_t)(clampi(ds != 0 ? (int)lrintf(x[j * 16 + l] / ds) : 0, -32, 31) + 32);
  }
  for (int h = 0; h < 2; h++) {
    uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
    const uint8_t *qq = q + 128 * h;
    for (int l = 0; l < 32; l++) {
      ql[l] = (uint8_t)((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
      ql[l + 32] = (uint8_t)((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
      qh[l] = (uint8_t)((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
    }
  }
}

void sc_quantize_row(uint32_t type, const float *x, void *dst, int64_t n) {
  switch (type) {
    case SC_GGML_F32: memcpy(dst, x, (size_t)n * 4); break;
    case SC_GGML_F16: {
      uint16_t *o = dst;
      for (int64_t i = 0; i < n; i++) o[i] = sc_float_to_half(x[i]);
      break;
    }
    case SC_GGML_BF16: {
      uint16_t *o = dst;
      for (int64_t i = 0; i < n; i++) o[i] = sc_float_to_bf16(x[i]);
      break;
    }
    case SC_GGML_Q8_0: {
      sc_block_q8_0 *b = dst;
      for (int64_t i = 0; i < n / 32; i++) {
        float a = 0;
        for (int j = 0; j < 32; j++) a = fmaxf(a, fabsf(x[i * 32 + j]));
        float d = a / 127.0f;
        b[i].d = sc_float_to_half(d);
        float id = d > 0 ? 1.0f / d : 0;
        for (int j = 0; j < 32; j++) b[i].qs[j] = (int8_t)clampi((int)lrintf(x[i * 32 + j] * id), -127, 127);
      }
      break;
    }
    case SC_GGML_Q4_0: {
      sc_block_q4_0 *b = dst;
      for (int64_t i = 0; i < n / 32; i++) {
        float amax = 0, mx = 0;
        for (int j = 0; j < 32; j++)
          if (fabsf(x[i * 32 + j]) > amax) {
            amax = fabsf(x[i * 32 + j]);
            mx = x[i * 32 + j];
          }
        float d = mx / -8.0f;
        b[i].d = sc_float_to_half(d);
        float id = d != 0 ? 1.0f / d : 0;
        for (int j = 0; j < 16; j++) {
          int a = clampi((int)(x[i * 32 + j] * id + 8.5f), 0, 15), c = clampi((int)(x[i * 32 + j + 16] * id + 8.5f), 0, 15);
          b[i].qs[j] = (uint8_t)(a | (c << 4));
        }
      }
      break;
    }
    case SC_GGML_Q4_K:
      for (int64_t i = 0; i < n / 256; i++) quant_q4_k(x + i * 256, (sc_block_q4_k *)dst + i);
      break;
    case SC_GGML_Q6_K:
      for (int64_t i = 0; i < n / 256; i++) quant_q6_k(x + i * 256, (sc_block_q6_k *)dst + i);
      break;
    default: break;
  }
}
