/*
 * quant.h — ggml tensor element formats: block layouts, half/bfloat conversion, row
 * (de)quantization in plain C. These are the reference definitions; the SIMD kernels in
 * kernels_*.c must agree with them.
 *
 *   F32, F16, BF16  one value per "block"
 *   Q8_0  32 values: f16 d, int8 q[32]            x = d*q
 *   Q4_0  32 values: f16 d, u8 qs[16]             x = d*(nibble-8); low nibbles are x[0..15]
 *   Q4_K 256 values: f16 d, f16 dmin, 12 bytes of 6-bit (scale,min) pairs for 8 sub-blocks of 32,
 *                    u8 qs[128]                   x = d*sc*q - dmin*m
 *   Q6_K 256 values: u8 ql[128], u8 qh[64], int8 scales[16], f16 d    x = d*sc*(q-32)
 */
#ifndef SC_ENGINE_QUANT_H
#define SC_ENGINE_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SC_QK 32
#define SC_QK_K 256

typedef struct { uint16_t d; int8_t qs[32]; } sc_block_q8_0;
typedef struct { uint16_t d; uint8_t qs[16]; } sc_block_q4_0;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } sc_block_q4_k;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } sc_block_q6_k;

_Static_assert(sizeof(sc_block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(sc_block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(sc_block_q4_k) == 144, "q4_k layout");
_Static_assert(sizeof(sc_block_q6_k) == 210, "q6_k layout");

typedef struct sc_qtype_traits {
  const char *name;
  int block;  /* values per block */
  int size;   /* bytes per block */
} sc_qtype_traits;

/* Traits of a ggml type number, or NULL when the type is not supported. */
const sc_qtype_traits *sc_qtype_traits_of(uint32_t type);
/* Looks up a type by lower-case name ("q8_0"); returns -1 when unknown. */
int sc_qtype_by_name(const char *name);

static inline float sc_half_to_float(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
  if (e == 0) {
    if (m == 0) {
      bits = s;
    } else { /* subnormal */
      e = 1;
      while (!(m & 0x400)) { m <<= 1; e--; }
      m &= 0x3ff;
      bits = s | ((e + 112) << 23) | (m << 13);
    }
  } else if (e == 31) {
    bits = s | 0x7f800000u | (m << 13);
  } else {
    bits = s | ((e + 112) << 23) | (m << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t sc_float_to_half(float f);

static inline float sc_bf16_to_float(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t sc_float_to_bf16(float f);

/* Dequantizes n values (a multiple of the type's block) starting at block 0 of src. */
void sc_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
/* Quantizes n values into dst (n a multiple of the block). Used by `model synth` and tests. */
void sc_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

#endif
