/*
 * csrc/fast/arch/kernel_neon.c - the microkernels for aarch64's Advanced SIMD (NEON:
 * 32 registers of 4 floats, in every aarch64 CPU), written with intrinsics (see
 * arch/kernels.h for what each one computes).
 *
 * The GEMM: 8 filters x 12 pixels in 24 accumulators, as OpenBLAS's and BLIS's ARMv8
 * sgemm kernels hold them.  Per row k of B: three vector loads of pixels, two of the
 * panel's 8 weights, 24 FMAs by lane (FMLA v.4s, v.4s, v.s[i]: a weight is never
 * broadcast to a register of its own); a call's n <= 48 pixels are four such blocks
 * over the same panel (in L1 after the first), the last 1 to 3 pixels loaded lane by
 * lane; the sums leave through a small buffer.
 * The Winograd product: up to 6 tiles x 16 filters in 24 accumulators, per channel four
 * vector loads of weights and the tiles' values in two registers, FMAs by lane (with a
 * load-and-broadcast per tile, GCC 12 loaded all six first and spilled accumulators at
 * every channel); the PYDN_FB = 32 filters are two such halves, 12 tiles two groups of
 * (even) tile counts.
 * F(4x4) output tiles go to their planes 4 filters at a time, through 4 x 4 transposes.
 *
 * Each output value is one sum over k (or c) in order, one FMA each, as in the other
 * ISAs' kernels, so results do not depend on the thread count.
 */
#if defined(__aarch64__) && !defined(PYDN_PORTABLE)
#include <arm_neon.h>

#include "arch/kernels.h"
#include "fast.h"

#define INLINE static inline __attribute__((always_inline))

/* The first `n` (1 to 3) floats of p into a vector, lane by lane. */
INLINE float32x4_t load_part(const float *p, int n)
{
    float32x4_t x = vld1q_lane_f32(p, vdupq_n_f32(0.f), 0);
    if (n > 1) x = vld1q_lane_f32(p + 1, x, 1);
    if (n > 2) x = vld1q_lane_f32(p + 2, x, 2);
    return x;
}

/* One block of the GEMM: 8 filters x NV (a constant after inlining) vectors of pixels;
 * the last vector holds `last` (1 to 4) pixels. */
INLINE void gemm_block(const float *w, const float *b, int ldb, int K, int NV, int last,
                       float *c, int ldc, int mrows, int add, const float *pf)
{
    float32x4_t acc[PYDN_MR][3];
#pragma GCC unroll 8
    for (int r = 0; r < PYDN_MR; ++r)
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) acc[r][v] = vdupq_n_f32(0.f);
    for (int k = 0; k < K; ++k) {
        const float *row = b + (size_t)k * ldb;
        if (pf && !(k & 1)) __builtin_prefetch(pf + (size_t)k * PYDN_MR);
        float32x4_t x[3], w0 = vld1q_f32(w + (size_t)k * PYDN_MR),
                          w1 = vld1q_f32(w + (size_t)k * PYDN_MR + 4);
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v)
            x[v] = v < NV - 1 || last == 4 ? vld1q_f32(row + 4 * v) : load_part(row + 4 * v, last);
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) { /* lane numbers must be literals */
            acc[0][v] = vfmaq_laneq_f32(acc[0][v], x[v], w0, 0);
            acc[1][v] = vfmaq_laneq_f32(acc[1][v], x[v], w0, 1);
            acc[2][v] = vfmaq_laneq_f32(acc[2][v], x[v], w0, 2);
            acc[3][v] = vfmaq_laneq_f32(acc[3][v], x[v], w0, 3);
            acc[4][v] = vfmaq_laneq_f32(acc[4][v], x[v], w1, 0);
            acc[5][v] = vfmaq_laneq_f32(acc[5][v], x[v], w1, 1);
            acc[6][v] = vfmaq_laneq_f32(acc[6][v], x[v], w1, 2);
            acc[7][v] = vfmaq_laneq_f32(acc[7][v], x[v], w1, 3);
        }
    }
    if (mrows == PYDN_MR && last == 4) { /* whole vectors, every row */
#pragma GCC unroll 8
        for (int r = 0; r < PYDN_MR; ++r)
#pragma GCC unroll 3
            for (int v = 0; v < NV; ++v) {
                float *o = c + (size_t)r * ldc + 4 * v;
                vst1q_f32(o, add ? vaddq_f32(acc[r][v], vld1q_f32(o)) : acc[r][v]);
            }
        return;
    }
    /* Else through a buffer, with constant indices: indexed by mrows (known at run
     * time only), GCC 12 kept acc in memory and stored all 24 at every k. */
    float sums[PYDN_MR][12];
#pragma GCC unroll 8
    for (int r = 0; r < PYDN_MR; ++r)
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) vst1q_f32(sums[r] + 4 * v, acc[r][v]);
    int np = 4 * (NV - 1) + last;
    for (int r = 0; r < mrows; ++r) {
        float *o = c + (size_t)r * ldc;
        for (int p = 0; p < np; ++p) o[p] = add ? o[p] + sums[r][p] : sums[r][p];
    }
}

static void gemm_neon(const float *w, const float *b, int ldb, int K, int n, float *c, int ldc,
                      int mrows, int add, const float *pf)
{
    int p = 0;
    for (; n - p >= 12; p += 12, pf = NULL) /* the next panel: fetched by the first block */
        gemm_block(w, b + p, ldb, K, 3, 4, c + p, ldc, mrows, add, pf);
    int rest = n - p, last = rest & 3 ? rest & 3 : 4;
    if (rest > 8)
        gemm_block(w, b + p, ldb, K, 3, last, c + p, ldc, mrows, add, pf);
    else if (rest > 4)
        gemm_block(w, b + p, ldb, K, 2, last, c + p, ldc, mrows, add, pf);
    else if (rest > 0)
        gemm_block(w, b + p, ldb, K, 1, last, c + p, ldc, mrows, add, pf);
}

/* The Winograd product for NT (a constant after inlining) tiles x 16 filters, f0 the
 * first filter; while it runs, prefetches npf rows of PYDN_FB floats from pf. */
INLINE void product_block(const float *u, const float *v, int C, int nt, int NT, int f0,
                          float *out, int ldo, int add, const float *pf, int npf)
{
    float32x4_t acc[6][4];
#pragma GCC unroll 6
    for (int t = 0; t < NT; ++t)
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) acc[t][q] = vdupq_n_f32(0.f);
    for (int c = 0; c < C; ++c) {
        const float *wc = u + (size_t)c * PYDN_FB + f0, *xc = v + (size_t)c * nt;
        if (c < npf) {
            __builtin_prefetch(pf + (size_t)c * PYDN_FB);
            __builtin_prefetch(pf + (size_t)c * PYDN_FB + 16);
        }
        float32x4_t w[4] = {vld1q_f32(wc), vld1q_f32(wc + 4), vld1q_f32(wc + 8),
                            vld1q_f32(wc + 12)};
        /* the tiles' values in two registers, used by lane (no read past the row) */
        float32x4_t x0 = NT >= 4 ? vld1q_f32(xc) : load_part(xc, NT), x1 = vdupq_n_f32(0.f);
        if (NT == 6) x1 = vcombine_f32(vld1_f32(xc + 4), vdup_n_f32(0.f));
        if (NT == 5) x1 = vld1q_lane_f32(xc + 4, x1, 0);
#define TILE(t, x, lane)                                                                   \
    if (t < NT) {                                                                          \
        acc[t][0] = vfmaq_laneq_f32(acc[t][0], w[0], x, lane);                             \
        acc[t][1] = vfmaq_laneq_f32(acc[t][1], w[1], x, lane);                             \
        acc[t][2] = vfmaq_laneq_f32(acc[t][2], w[2], x, lane);                             \
        acc[t][3] = vfmaq_laneq_f32(acc[t][3], w[3], x, lane);                             \
    }
        TILE(0, x0, 0) TILE(1, x0, 1) TILE(2, x0, 2) TILE(3, x0, 3) TILE(4, x1, 0) TILE(5, x1, 1)
#undef TILE
    }
#pragma GCC unroll 6 /* all of it: a loop over acc kept it in memory (GCC 12) */
    for (int t = 0; t < NT; ++t)
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
            float *o = out + (size_t)t * ldo + f0 + 4 * q;
            vst1q_f32(o, add ? vaddq_f32(acc[t][q], vld1q_f32(o)) : acc[t][q]);
        }
}

/* A group of n (1 to 6) tiles starting at tile t0: both halves of the filters. */
#define CASE(N)                                                                            \
    case N:                                                                                \
        product_block(u, v + t0, C, nt, N, 0, out, ldo, add, pf, npf);                     \
        product_block(u, v + t0, C, nt, N, 16, out, ldo, add, NULL, 0);                    \
        break;
static void product_group(const float *u, const float *v, int C, int nt, int t0, int n,
                          float *out, int ldo, int add, const float *pf, int npf)
{
    out += (size_t)t0 * ldo;
    switch (n) {
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
    }
}
#undef CASE

static void product_neon(const float *u, const float *v, int C, int nt, float *out, int ldo,
                         int add, const float *pf, int npf)
{
    int groups = (nt + 5) / 6; /* of even sizes: 8 tiles are 4 + 4, not 6 + 2 */
    for (int g = 0; g < groups; ++g) {
        int t0 = nt * g / groups, t1 = nt * (g + 1) / groups;
        product_group(u, v, C, nt, t0, t1 - t0, out, ldo, add, g ? NULL : pf, g ? 0 : npf);
    }
}

/* An F(4x4) output tile, x[pixel][filter] (16 pixels, rows ld apart): filters by 4,
 * each output row (4 pixels) of each filter one store, through a 4 x 4 transpose. */
static int store_tile4_neon(const float *x, int ld, int nk, float *out, int wd, size_t plane)
{
    int f = 0;
    for (; f + 4 <= nk; f += 4)
        for (int j = 0; j < 4; ++j) { /* output row j: pixels 4j .. 4j + 3 */
            const float *s = x + (size_t)4 * j * ld + f;
            float32x4_t p0 = vld1q_f32(s), p1 = vld1q_f32(s + ld), p2 = vld1q_f32(s + 2 * ld),
                        p3 = vld1q_f32(s + 3 * ld);
            float32x4_t a = vtrn1q_f32(p0, p1), b = vtrn2q_f32(p0, p1);
            float32x4_t c = vtrn1q_f32(p2, p3), d = vtrn2q_f32(p2, p3);
            float *o = out + (size_t)f * plane + (size_t)j * wd;
            vst1q_f32(o, vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(a),
                                                          vreinterpretq_f64_f32(c))));
            vst1q_f32(o + plane, vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(b),
                                                                  vreinterpretq_f64_f32(d))));
            vst1q_f32(o + 2 * plane, vreinterpretq_f32_f64(vtrn2q_f64(
                                         vreinterpretq_f64_f32(a), vreinterpretq_f64_f32(c))));
            vst1q_f32(o + 3 * plane, vreinterpretq_f32_f64(vtrn2q_f64(
                                         vreinterpretq_f64_f32(b), vreinterpretq_f64_f32(d))));
        }
    return f;
}

const pydn_kernel_set pydn_kernels_neon = {
    .name = "neon",
    .level = PYDN_LEVEL_NEON,
    .product = product_neon,
    .gemm = gemm_neon,
    .store_tile4 = store_tile4_neon,
    /* Not measured on ARM hardware (none at hand; qemu's times mean nothing): the
     * values of the x86 sets of the same design (register-blocked kernels on weights
     * packed at load, which beat OpenBLAS's sgemm there), with Winograd from 64
     * channels as before the per-set tables.  To be measured (docs/cpu.md). */
    .gemm_fast = 1,
    .f4_min_c = 64,
    .f2_min_c = 64,
};
#endif
