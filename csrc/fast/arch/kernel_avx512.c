/*
 * csrc/fast/arch/kernel_avx512.c - the AVX-512 microkernels (x86-64-v4), for the
 * dispatcher in kernel.c (see arch/kernels.h).
 *
 * The Winograd product keeps a block of 12 tiles x 32 filters in 24 registers: per
 * channel, two vector loads of weights, 12 broadcasts and 24 FMAs.  Vectors run along
 * the filters (always a multiple of 32 in Darknet's 3x3 layers; the packing pads
 * others with zero filters), so any tile count uses every lane.  The GEMM keeps 8
 * filters x 48 pixels (three vectors of 16) in 24 registers.  Each out value is a sum
 * over c (k) in order, one FMA per channel, so results do not depend on the thread
 * count.
 */
#include "arch/kernels.h"
#include "fast.h"

#if PYDN_X86_SIMD
#include <immintrin.h>

/* One block: nt (a constant after inlining) tiles x 32 filters. */
#define AVX512 __attribute__((target("avx512f")))
static inline __attribute__((always_inline)) AVX512 void
block512(const float *u, const float *v, int C, int nt, float *out, int ldo, int add,
         const float *pf, int npf)
{
    __m512 acc[PYDN_NT][2];
    for (int t = 0; t < nt; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int c = 0; c < C; ++c) {
        if (c < npf) { /* a row (two cache lines) of what comes next */
            _mm_prefetch((const char *)(pf + (size_t)c * PYDN_FB), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + (size_t)c * PYDN_FB + 16), _MM_HINT_T0);
        }
        __m512 w0 = _mm512_loadu_ps(u + (size_t)c * PYDN_FB);
        __m512 w1 = _mm512_loadu_ps(u + (size_t)c * PYDN_FB + 16);
        for (int t = 0; t < nt; ++t) {
            __m512 x = _mm512_set1_ps(v[(size_t)c * nt + t]);
            acc[t][0] = _mm512_fmadd_ps(x, w0, acc[t][0]);
            acc[t][1] = _mm512_fmadd_ps(x, w1, acc[t][1]);
        }
    }
    for (int t = 0; t < nt; ++t) {
        float *o = out + (size_t)t * ldo;
        if (add) {
            acc[t][0] = _mm512_add_ps(acc[t][0], _mm512_loadu_ps(o));
            acc[t][1] = _mm512_add_ps(acc[t][1], _mm512_loadu_ps(o + 16));
        }
        _mm512_storeu_ps(o, acc[t][0]);
        _mm512_storeu_ps(o + 16, acc[t][1]);
    }
}

#define CASE(n) \
    case n: block512(u, v, C, n, out, ldo, add, pf, npf); break;
static AVX512 void product512(const float *u, const float *v, int C, int nt, float *out,
                              int ldo, int add, const float *pf, int npf)
{
    switch (nt) { /* one unrolled kernel per tile count */
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
        CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
    }
}
#undef CASE

/* The GEMM kernel: 8 filters x nv (a constant after inlining) vectors of 16 pixels;
 * the last vector masked to n pixels. */
static inline __attribute__((always_inline)) AVX512 void
gemm512(const float *w, const float *b, int ldb, int K, int nv, int n, float *c, int ldc,
        int mrows, int add, const float *pf)
{
    __m512 acc[PYDN_MR][3];
    __mmask16 last = (__mmask16)((1u << (n - 16 * (nv - 1))) - 1u);
    if (n - 16 * (nv - 1) == 16) last = 0xffff;
#pragma GCC unroll 8
    for (int r = 0; r < PYDN_MR; ++r)
#pragma GCC unroll 3
        for (int v = 0; v < nv; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; ++k) {
        const float *row = b + (size_t)k * ldb;
        if (pf && !(k & 1)) /* two rows (a cache line) of the weights needed next */
            _mm_prefetch((const char *)(pf + (size_t)k * PYDN_MR), _MM_HINT_T0);
        __m512 x[3];
#pragma GCC unroll 3
        for (int v = 0; v < nv; ++v)
            x[v] = v < nv - 1 ? _mm512_loadu_ps(row + 16 * v)
                              : _mm512_maskz_loadu_ps(last, row + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < PYDN_MR; ++r) {
            __m512 a = _mm512_set1_ps(w[(size_t)k * PYDN_MR + r]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; ++v) acc[r][v] = _mm512_fmadd_ps(a, x[v], acc[r][v]);
        }
    }
    /* Constant loop bounds, rows past mrows written to a sink: with a bound known only
     * at run time, GCC keeps acc in memory and stores it at every k (3x slower). */
    float sink[48];
#pragma GCC unroll 8
    for (int r = 0; r < PYDN_MR; ++r)
#pragma GCC unroll 3
        for (int v = 0; v < nv; ++v) {
            float *o = (r < mrows ? c + (size_t)r * ldc : sink) + 16 * v;
            __mmask16 m = v < nv - 1 ? 0xffff : last;
            __m512 s = add ? _mm512_add_ps(acc[r][v], _mm512_maskz_loadu_ps(m, o)) : acc[r][v];
            _mm512_mask_storeu_ps(o, m, s);
        }
}

static AVX512 void gemm_kernel512(const float *w, const float *b, int ldb, int K, int n,
                                  float *c, int ldc, int mrows, int add, const float *pf)
{
    int nv = (n + 15) / 16;
    if (nv == 3)
        gemm512(w, b, ldb, K, 3, n, c, ldc, mrows, add, pf);
    else if (nv == 2)
        gemm512(w, b, ldb, K, 2, n, c, ldc, mrows, add, pf);
    else
        gemm512(w, b, ldb, K, 1, n, c, ldc, mrows, add, pf);
}
/* 16 filters of an F(4x4) Winograd tile: two steps of a 16 x 16 transpose leave one
 * filter's output row in each 128-bit lane. */
static AVX512 void store4x4_512(const float *x, int ld, float *out, int wd, size_t plane)
{
    __m512 r[16], t[16];
    for (int p = 0; p < 16; ++p) r[p] = _mm512_loadu_ps(x + (size_t)p * ld);
    for (int i = 0; i < 8; ++i) { /* lane L: pixels 2i, 2i + 1 of filters 4L .. 4L + 3 */
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int j = 0; j < 4; ++j) { /* output row j: pixels 4j .. 4j + 3 */
        __m512 s[4] = {_mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0x44),
                       _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0xEE),
                       _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44),
                       _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE)};
        for (int q = 0; q < 4; ++q) { /* s[q], lane L: filter 4L + q */
            float *o = out + (size_t)q * plane + (size_t)j * wd;
            _mm_storeu_ps(o, _mm512_castps512_ps128(s[q]));
            _mm_storeu_ps(o + 4 * plane, _mm512_extractf32x4_ps(s[q], 1));
            _mm_storeu_ps(o + 8 * plane, _mm512_extractf32x4_ps(s[q], 2));
            _mm_storeu_ps(o + 12 * plane, _mm512_extractf32x4_ps(s[q], 3));
        }
    }
}

static AVX512 int store_tile4_512(const float *x, int ld, int nk, float *out, int wd,
                                  size_t plane)
{
    int f = 0;
    for (; f + 16 <= nk; f += 16) store4x4_512(x + f, ld, out + f * plane, wd, plane);
    return f;
}

const pydn_kernel_set pydn_kernels_avx512 = {
    .name = "avx512",
    .level = PYDN_LEVEL_AVX512,
    .product = product512,
    .gemm = gemm_kernel512,
    .store_tile4 = store_tile4_512,
    .gemm_fast = 1,
    .f4_min_c = 32, /* at 104x104: 1.3 ms against 2.1 for 32 channels; 16: the same */
    .f2_min_c = 64,
};
#endif
