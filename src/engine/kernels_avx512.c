/* kernels_avx512.c — AVX-512 VNNI kernels (vpdpbusd on 256-bit vectors); see kernels_impl.h. */
#define SC_VNNI 1
#include "engine/kernels_impl.h"

static const sc_kernels K = {"avx512-vnni", matmul, dot_f32, axpy_f32};
const sc_kernels *sc_kernels_avx512_impl(void);
const sc_kernels *sc_kernels_avx512_impl(void) { return &K; }
