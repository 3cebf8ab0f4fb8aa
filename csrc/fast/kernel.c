/*
 * csrc/fast/kernel.c - the packed product: the inner loop of the Winograd convolution
 * (winograd.c), with both operands laid out for it in advance, so that nothing is
 * packed while the network runs.
 *
 *     out[t][f] (+)= sum_c v[c][t] * u[c][f]     t < nt <= PYDN_NT, f < PYDN_FB
 *
 * u: PYDN_FB filters' weights for C channels, [c][f] (packed once, at load time);
 * v: nt tiles' inputs for C channels, [c][t] (written so by the input transform);
 * out: row t at out + t * ldo (written, not added to).
 *
 * Why not OpenBLAS's sgemm (what the first version called): an sgemm copies both
 * operands into its own layout at every call, which at 13x13 and 26x26 (a few dozen
 * tiles, hundreds of channels, the weights far larger than the cache) cost as much as
 * the products themselves.  Here the weights are streamed once, in their final order.
 *
 * The AVX-512 kernel keeps a block of 12 tiles x 32 filters in 24 registers: per
 * channel, two vector loads of weights, 12 broadcasts and 24 FMAs.  Vectors run along
 * the filters (always a multiple of 32 in Darknet's 3x3 layers; the packing pads
 * others with zero filters), so any tile count uses every lane.  Other CPUs run the
 * portable loops below (vectorized by the compiler); PYDN_KERNEL=portable picks them on
 * an AVX-512 CPU too (tests).  Each out value is a sum over c in order, one FMA per
 * channel in the AVX-512 kernel, so results do not depend on the thread count.
 */
#include <stdlib.h>
#include <string.h>

#include "fast.h"

#if PYDN_X86_SIMD
#include <immintrin.h>

/* One block: nt (a constant after inlining) tiles x 32 filters. */
#define AVX512 __attribute__((target("avx512f")))
static inline __attribute__((always_inline)) AVX512 void
block512(const float *u, const float *v, int C, int nt, float *out, int ldo)
{
    __m512 acc[PYDN_NT][2];
    for (int t = 0; t < nt; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int c = 0; c < C; ++c) {
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
        _mm512_storeu_ps(o, acc[t][0]);
        _mm512_storeu_ps(o + 16, acc[t][1]);
    }
}

#define CASE(n) \
    case n: block512(u, v, C, n, out, ldo); break;
static AVX512 void product512(const float *u, const float *v, int C, int nt, float *out,
                              int ldo)
{
    switch (nt) { /* one unrolled kernel per tile count */
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
        CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
    }
}
#undef CASE
#endif

/* The portable kernel: 4 tiles x 32 filters at a time, loops the compiler vectorizes. */
#define PT 4
PYDN_SIMD_CLONES_FMA static void product_portable(const float *u, const float *v, int C,
                                                  int nt, float *out, int ldo)
{
    for (int t0 = 0; t0 < nt; t0 += PT) {
        int n = nt - t0 < PT ? nt - t0 : PT;
        float acc[PT][PYDN_FB];
        memset(acc, 0, sizeof acc);
        for (int c = 0; c < C; ++c) {
            const float *w = u + (size_t)c * PYDN_FB, *x = v + (size_t)c * nt + t0;
            for (int t = 0; t < n; ++t)
                for (int f = 0; f < PYDN_FB; ++f) acc[t][f] += x[t] * w[f];
        }
        for (int t = 0; t < n; ++t) {
            float *o = out + (size_t)(t0 + t) * ldo;
            for (int f = 0; f < PYDN_FB; ++f) o[f] = acc[t][f];
        }
    }
}

typedef void (*product_fn)(const float *, const float *, int, int, float *, int);

static product_fn choose(void)
{
    const char *e = getenv("PYDN_KERNEL");
    if (e && !strcmp(e, "portable")) return product_portable;
#if PYDN_X86_SIMD
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return product512;
#endif
    return product_portable;
}

void pydn_packed_product(const float *u, const float *v, int C, int nt, float *out, int ldo)
{
    static product_fn fn; /* chosen once; a race only stores the same pointer twice */
    if (!fn) fn = choose();
    fn(u, v, C, nt, out, ldo);
}
