/*
 * csrc/fast/arch/kernel_avx2.c - the AVX2 + FMA microkernels (x86-64-v3: Haswell and
 * later, Zen 1 to 3, Intel's client cores since Alder Lake), for the dispatcher in
 * kernel.c (see arch/kernels.h).
 *
 * 16 YMM registers of 8 floats: each kernel keeps 12 accumulators, as BLIS's and
 * OpenBLAS's Haswell sgemm (6x16) and XNNPACK's avx2-broadcast GEMMs do, the operand
 * packed along the vectors loaded, the other broadcast:
 *   - the Winograd product: 6 tiles x 16 filters a pass (two vectors of weights, six
 *     broadcasts of inputs, 12 FMAs per channel), four passes per block of 12 tiles x 32
 *     filters: each half of the weights' panel meets both halves of the tiles in turn,
 *     from L1 the second time;
 *   - the GEMM: 4 filters x 24 pixels (three vectors of B, four broadcasts of weights,
 *     12 FMAs per row), on the same weights' panels of 8 filters as the other ISAs: the
 *     4 x 24 block runs over each half of the panel and each 24 of the 48 columns.
 * Each out value is a sum over c (k) in order, one FMA each, so results do not depend
 * on the thread count.  What the kernels fetch for the next call (the next weights'
 * panel) is prefetched by their first pass.
 */
#include <string.h>

#include "arch/kernels.h"
#include "fast.h"

#if PYDN_X86_SIMD
#include <immintrin.h>

#define AVX2 __attribute__((target(PYDN_V3)))
#define KERNEL static inline __attribute__((always_inline)) AVX2

/* Winograd: nt (a constant after inlining, <= 6) tiles x 16 filters; v's rows ldv
 * apart. */
KERNEL void wino6x16(const float *u, const float *v, int ldv, int C, int nt, float *out,
                     int ldo, int add, const float *pf, int npf)
{
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int t = 0; t < nt; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    for (int c = 0; c < C; ++c) {
        if (c < npf) { /* a row (two cache lines) of what comes next */
            _mm_prefetch((const char *)(pf + (size_t)c * PYDN_FB), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + (size_t)c * PYDN_FB + 16), _MM_HINT_T0);
        }
        __m256 w0 = _mm256_loadu_ps(u + (size_t)c * PYDN_FB);
        __m256 w1 = _mm256_loadu_ps(u + (size_t)c * PYDN_FB + 8);
        const float *x = v + (size_t)c * ldv;
#pragma GCC unroll 6
        for (int t = 0; t < nt; ++t) {
            __m256 a = _mm256_broadcast_ss(x + t);
            acc[t][0] = _mm256_fmadd_ps(a, w0, acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(a, w1, acc[t][1]);
        }
    }
#pragma GCC unroll 6
    for (int t = 0; t < nt; ++t) {
        float *o = out + (size_t)t * ldo;
        if (add) {
            acc[t][0] = _mm256_add_ps(acc[t][0], _mm256_loadu_ps(o));
            acc[t][1] = _mm256_add_ps(acc[t][1], _mm256_loadu_ps(o + 8));
        }
        _mm256_storeu_ps(o, acc[t][0]);
        _mm256_storeu_ps(o + 8, acc[t][1]);
    }
}

#define CASE(n)                                                                           \
    case n:                                                                               \
        wino6x16(u, v, ldv, C, n, out, ldo, add, pf, npf);                                \
        break;
static AVX2 void wino_pass(const float *u, const float *v, int ldv, int C, int nt, float *out,
                           int ldo, int add, const float *pf, int npf)
{
    switch (nt) { /* one unrolled kernel per tile count */
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
    }
}
#undef CASE

/* nt <= 12 tiles x 32 filters: the tiles in two even groups of at most 6 (12: 6 + 6,
 * 9: 5 + 4), each group against each half of the filters. */
static AVX2 void product_avx2(const float *u, const float *v, int C, int nt, float *out,
                              int ldo, int add, const float *pf, int npf)
{
    int first = nt > 6 ? (nt + 1) / 2 : nt;
    for (int h = 0; h < PYDN_FB; h += 16)
        for (int t0 = 0; t0 < nt; t0 += first) {
            int n = nt - t0 < first ? nt - t0 : first, lead = h == 0 && t0 == 0;
            wino_pass(u + h, v + t0, nt, C, n, out + (size_t)t0 * ldo + h, ldo, add, pf,
                      lead ? npf : 0);
        }
}

/* The GEMM: filters w[k][0 .. 3] (rows of 8 apart) x nv (a constant after inlining)
 * vectors of 8 pixels; the last vector has `tail` pixels (1 .. 8: masked when < 8, a
 * constant too). */
KERNEL void gemm4x24(const float *w, const float *b, int ldb, int K, int nv, int tail,
                     float *c, int ldc, int mrows, int add, const float *pf)
{
    __m256 acc[4][3];
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail),
                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r)
#pragma GCC unroll 3
        for (int x = 0; x < nv; ++x) acc[r][x] = _mm256_setzero_ps();
    for (int k = 0; k < K; ++k) {
        const float *row = b + (size_t)k * ldb;
        if (pf && !(k & 1)) /* two rows (a cache line) of the weights needed next */
            _mm_prefetch((const char *)(pf + (size_t)k * PYDN_MR), _MM_HINT_T0);
        __m256 x[3];
#pragma GCC unroll 3
        for (int i = 0; i < nv; ++i)
            x[i] = i < nv - 1 || tail == 8 ? _mm256_loadu_ps(row + 8 * i)
                                           : _mm256_maskload_ps(row + 8 * i, mask);
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) {
            __m256 a = _mm256_broadcast_ss(w + (size_t)k * PYDN_MR + r);
#pragma GCC unroll 3
            for (int i = 0; i < nv; ++i) acc[r][i] = _mm256_fmadd_ps(a, x[i], acc[r][i]);
        }
    }
    /* Constant loop bounds, rows past mrows to a sink (as the AVX-512 kernel: a bound
     * known only at run time kept acc in memory); a partial vector through a copy
     * (AMD's masked stores are slow). */
    float sink[24] = {0};
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r)
#pragma GCC unroll 3
        for (int i = 0; i < nv; ++i) {
            float *o = (r < mrows ? c + (size_t)r * ldc : sink) + 8 * i;
            if (i < nv - 1 || tail == 8) {
                __m256 s = add ? _mm256_add_ps(acc[r][i], _mm256_loadu_ps(o)) : acc[r][i];
                _mm256_storeu_ps(o, s);
            } else {
                float part[8];
                _mm256_storeu_ps(part, acc[r][i]);
                for (int p = 0; p < tail; ++p) o[p] = add ? o[p] + part[p] : part[p];
            }
        }
}

/* Up to 24 columns: one kernel per vector count, whole or masked. */
static AVX2 void gemm_block(const float *w, const float *b, int ldb, int K, int n, float *c,
                            int ldc, int mrows, int add, const float *pf)
{
    int nv = (n + 7) / 8, tail = n - 8 * (nv - 1);
    if (tail == 8) {
        if (nv == 3)
            gemm4x24(w, b, ldb, K, 3, 8, c, ldc, mrows, add, pf);
        else if (nv == 2)
            gemm4x24(w, b, ldb, K, 2, 8, c, ldc, mrows, add, pf);
        else
            gemm4x24(w, b, ldb, K, 1, 8, c, ldc, mrows, add, pf);
    } else if (nv == 3)
        gemm4x24(w, b, ldb, K, 3, tail, c, ldc, mrows, add, pf);
    else if (nv == 2)
        gemm4x24(w, b, ldb, K, 2, tail, c, ldc, mrows, add, pf);
    else
        gemm4x24(w, b, ldb, K, 1, tail, c, ldc, mrows, add, pf);
}

/* A panel of 8 filters x n <= 48 columns: blocks of 24 columns x 4 filters. */
static AVX2 void gemm_avx2(const float *w, const float *b, int ldb, int K, int n, float *c,
                           int ldc, int mrows, int add, const float *pf)
{
    for (int p0 = 0; p0 < n; p0 += 24) {
        int np = n - p0 < 24 ? n - p0 : 24;
        for (int r0 = 0; r0 < mrows; r0 += 4)
            gemm_block(w + r0, b + p0, ldb, K, np, c + (size_t)r0 * ldc + p0, ldc,
                       mrows - r0 < 4 ? mrows - r0 : 4, add, p0 == 0 && r0 == 0 ? pf : NULL);
    }
}

/* 8 filters of an F(4x4) Winograd tile: per output row, a 4 x 4 transpose in each
 * 128-bit lane leaves one filter's 4 pixels in each lane. */
static AVX2 void store4x4_avx2(const float *x, int ld, float *out, int wd, size_t plane)
{
    for (int j = 0; j < 4; ++j) { /* output row j: pixels 4j .. 4j + 3 */
        const float *p = x + (size_t)4 * j * ld;
        __m256 r0 = _mm256_loadu_ps(p), r1 = _mm256_loadu_ps(p + ld);
        __m256 r2 = _mm256_loadu_ps(p + 2 * ld), r3 = _mm256_loadu_ps(p + 3 * ld);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        __m256 s[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                       _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
        for (int q = 0; q < 4; ++q) { /* s[q]: filter q, then filter 4 + q */
            float *o = out + (size_t)q * plane + (size_t)j * wd;
            _mm_storeu_ps(o, _mm256_castps256_ps128(s[q]));
            _mm_storeu_ps(o + 4 * plane, _mm256_extractf128_ps(s[q], 1));
        }
    }
}

static AVX2 int store_tile4_avx2(const float *x, int ld, int nk, float *out, int wd,
                                 size_t plane)
{
    int f = 0;
    for (; f + 8 <= nk; f += 8) store4x4_avx2(x + f, ld, out + f * plane, wd, plane);
    return f;
}

const pydn_kernel_set pydn_kernels_avx2 = {
    .name = "avx2",
    .level = PYDN_LEVEL_AVX2,
    .product = product_avx2,
    .gemm = gemm_avx2,
    .store_tile4 = store_tile4_avx2,
    .gemm_fast = 1,
    .f4_min_c = 32, /* 32 channels at 104x104: 2.2 ms against 4.0 */
    .f2_min_c = 64,
};
#endif
