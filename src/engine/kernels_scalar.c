/*
 * kernels_scalar.c — portable C kernels: the reference the SIMD variants are tested against and
 * the fallback on CPUs without AVX2. Same arithmetic decomposition as the SIMD kernels (integer
 * block dots, float scale per block), plain loops.
 */
#include "engine/kernels.h"
#include "engine/gguf.h"
#include "engine/quant.h"

static void get_sm(int j, const uint8_t *q, int *d, int *m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

static float dot_row(const sc_wmat *w, int r, const sc_acts *a, int t) {
  const uint8_t *row = w->data + (size_t)r * w->row_bytes;
  const sc_act_block *x = (const sc_act_block *)(a->xq + (size_t)t * a->xq_stride);
  const float *xf = a->xf + (size_t)t * (size_t)a->ldx;
  int n = w->n_in;
  float sum = 0;
  switch (w->type) {
    case SC_GGML_F32:
    case SC_GGML_F16:
    case SC_GGML_BF16: {
      for (int i = 0; i < n; i++) {
        float v;
        if (w->type == SC_GGML_F32) {
          memcpy(&v, row + 4 * (size_t)i, 4);
        } else {
          uint16_t h;
          memcpy(&h, row + 2 * (size_t)i, 2);
          v = w->type == SC_GGML_F16 ? sc_half_to_float(h) : sc_bf16_to_float(h);
        }
        sum += v * xf[i];
      }
      return sum;
    }
    case SC_GGML_Q8_0: {
      const sc_block_q8_0 *b = (const sc_block_q8_0 *)row;
      for (int i = 0; i < n / 32; i++) {
        int s = 0;
        for (int j = 0; j < 32; j++) s += b[i].qs[j] * x[i].q[j];
        sum += sc_half_to_float(b[i].d) * x[i].d * (float)s;
      }
      return sum;
    }
    case SC_GGML_Q4_0: {
      const sc_block_q4_0 *b = (const sc_block_q4_0 *)row;
      for (int i = 0; i < n / 32; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++) s += ((b[i].qs[j] & 0xF) - 8) * x[i].q[j] + ((b[i].qs[j] >> 4) - 8) * x[i].q[j + 16];
        sum += sc_half_to_float(b[i].d) * x[i].d * (float)s;
      }
      return sum;
    }
    case SC_GGML_Q4_K: {
      const sc_block_q4_k *b = (const sc_block_q4_k *)row;
      for (int i = 0; i < n / 256; i++) {
        float d = sc_half_to_float(b[i].d), dmin = sc_half_to_float(b[i].dmin);
        for (int j = 0; j < 8; j++) {
          int sc, m;
          get_sm(j, b[i].scales, &sc, &m);
          const uint8_t *q = b[i].qs + (j / 2) * 32;
          const sc_act_block *xb = &x[i * 8 + j];
          int s = 0;
          for (int l = 0; l < 32; l++) s += ((j & 1) ? (q[l] >> 4) : (q[l] & 0xF)) * xb->q[l];
          sum += d * (float)sc * xb->d * (float)s - dmin * (float)m * xb->s;
        }
      }
      return sum;
    }
    case SC_GGML_Q6_K: {
      const sc_block_q6_k *b = (const sc_block_q6_k *)row;
      for (int i = 0; i < n / 256; i++) {
        float d = sc_half_to_float(b[i].d);
        for (int h = 0; h < 2; h++) {
          const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
          for (int k = 0; k < 4; k++) {
            const sc_act_block *xb = &x[i * 8 + h * 4 + k];
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
              int lo = k & 1 ? ql[l + 32] : ql[l];
              int q = ((k < 2 ? lo & 0xF : lo >> 4) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
              if (l < 16) s0 += q * xb->q[l]; else s1 += q * xb->q[l];
            }
            const int8_t *sc = b[i].scales + 8 * h + 2 * k;
            sum += d * xb->d * ((float)sc[0] * (float)s0 + (float)sc[1] * (float)s1);
          }
        }
      }
      return sum;
    }
    default: return 0;
  }
}

static void matmul(const sc_wmat *w, int r0, int r1, const sc_acts *a, float *y, int ldy) {
  for (int r = r0; r < r1; r++)
    for (int t = 0; t < a->nt; t++) y[(size_t)t * (size_t)ldy + (size_t)r] = dot_row(w, r, a, t);
}

static float dot_f32(const float *a, const float *b, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static void axpy_f32(float *y, float a, const float *x, int n) {
  for (int i = 0; i < n; i++) y[i] += a * x[i];
}

static const sc_kernels K = {"scalar", 32, sc_act_size, sc_quantize_act, matmul, dot_f32, axpy_f32};

const sc_kernels *sc_kernels_scalar(void) { return &K; }
