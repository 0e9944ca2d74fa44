/* kernels_avx2.c — AVX2 + FMA + F16C kernels (integer dots with maddubs); see kernels_impl.h. */
#define SC_VNNI 0
#include "engine/kernels_impl.h"

static const sc_kernels K = {"avx2", 32, sc_act_size, sc_quantize_act, matmul, dot_f32, axpy_f32};
const sc_kernels *sc_kernels_avx2_impl(void);
const sc_kernels *sc_kernels_avx2_impl(void) { return &K; }
