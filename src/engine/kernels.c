/*
 * kernels.c — activation quantization and run-time choice of the kernel set.
 */
#include "engine/kernels.h"

#include <math.h>
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

const sc_kernels *sc_kernels_avx2(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    return sc_kernels_avx2_impl();
  return NULL;
}

const sc_kernels *sc_kernels_avx512(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    return sc_kernels_avx512_impl();
  return NULL;
}

const sc_kernels *sc_kernels_best(void) {
  const char *force = getenv("SC_KERNELS");
  const sc_kernels *k = NULL;
  if (force && strcmp(force, "scalar") == 0) return sc_kernels_scalar();
  if (force && strcmp(force, "avx2") == 0 && (k = sc_kernels_avx2())) return k;
  if ((k = sc_kernels_avx512())) return k;
  if ((k = sc_kernels_avx2())) return k;
  return sc_kernels_scalar();
}
