/*
 * kernels.c — activation quantization and run-time choice of the kernel set.
 */
#include "engine/kernels.h"

#include <math.h>
#include <stdbool.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

const sc_kernels *sc_kernels_avx2_impl(void);
const sc_kernels *sc_kernels_avx512_impl(void);

size_t sc_act_size(int n) { return (size_t)(n / 32) * sizeof(sc_act_block); }

void sc_quantize_act(const float *x, void *qv, int n) {
  sc_act_block *q = qv;
  for (int b = 0; b < n / 32; b++) {
    const float *v = x + b * 32;
    float a = 0;
    for (int j = 0; j < 32; j++) a = fmaxf(a, fabsf(v[j]));
    float d = a / 127.0f, id = a > 0 ? 127.0f / a : 0;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
      int qi = (int)lrintf(v[j] * id);
      qi = qi > 127 ? 127 : qi < -127 ? -127 : qi;
      q[b].q[j] = (int8_t)qi;
      sum += qi;
    }
    q[b].d = d;
    q[b].s = d * (float)sum;
  }
}

/* CPU features from cpuid, with the OS's consent (xgetbv) to use the AVX / AVX-512 registers. */
typedef struct cpu_feat {
  bool avx2, avx512;
} cpu_feat;

static cpu_feat detect(void) {
  cpu_feat f = {false, false};
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  unsigned xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  if ((xlo & 0x6) != 0x6) return f;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = (b & (1u << 5)) && fma && f16c;
  bool zmm_state = (xlo & 0xE0) == 0xE0;
  bool f512 = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31), vnni = c & (1u << 11);
  f.avx512 = f.avx2 && zmm_state && f512 && dq && bw && vl && vnni;
#endif
  return f;
}

const sc_kernels *sc_kernels_avx2(void) { return detect().avx2 ? sc_kernels_avx2_impl() : NULL; }

const sc_kernels *sc_kernels_avx512(void) { return detect().avx512 ? sc_kernels_avx512_impl() : NULL; }

const sc_kernels *sc_kernels_best(void) {
  const char *force = getenv("SC_KERNELS");
  const sc_kernels *k = NULL;
  if (force && strcmp(force, "scalar") == 0) return sc_kernels_scalar();
  if (force && strcmp(force, "avx2") == 0 && (k = sc_kernels_avx2())) return k;
  if ((k = sc_kernels_avx512())) return k;
  if ((k = sc_kernels_avx2())) return k;
  return sc_kernels_scalar();
}
