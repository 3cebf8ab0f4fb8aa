/*
 * csrc/fast/arch/kernel_portable.c - the portable microkernels: plain C loops that the
 * compiler vectorizes, for CPUs with no kernels of their own (see arch/kernels.h), and
 * PYDN_KERNEL=portable (tests: what such CPUs run).
 */
#include <string.h>

#include "arch/kernels.h"
#include "fast.h"

/* The Winograd product: 4 tiles x 32 filters at a time. */
#define PT 4
static void product_portable(const float *u, const float *v, int C, int nt, float *out,
                             int ldo, int add, const float *pf, int npf)
{
    for (int t0 = 0; t0 < nt; t0 += PT) {
        int n = nt - t0 < PT ? nt - t0 : PT;
        float acc[PT][PYDN_FB];
        memset(acc, 0, sizeof acc);
        for (int c = 0; c < C; ++c) {
            const float *w = u + (size_t)c * PYDN_FB, *x = v + (size_t)c * nt + t0;
            if (t0 == 0 && c < npf) __builtin_prefetch(pf + (size_t)c * PYDN_FB);
            for (int t = 0; t < n; ++t)
                for (int f = 0; f < PYDN_FB; ++f) acc[t][f] += x[t] * w[f];
        }
        for (int t = 0; t < n; ++t) {
            float *o = out + (size_t)(t0 + t) * ldo;
            for (int f = 0; f < PYDN_FB; ++f) o[f] = add ? o[f] + acc[t][f] : acc[t][f];
        }
    }
}

/* The GEMM: 8 filters x up to 48 pixels, 16 at a time. */
static void gemm_portable(const float *w, const float *b, int ldb, int K, int n, float *c,
                          int ldc, int mrows, int add, const float *pf)
{
    for (int p0 = 0; p0 < n; p0 += 16) {
        int np = n - p0 < 16 ? n - p0 : 16;
        float acc[PYDN_MR][16];
        memset(acc, 0, sizeof acc);
        for (int k = 0; k < K; ++k) {
            const float *x = b + (size_t)k * ldb + p0, *a = w + (size_t)k * PYDN_MR;
            if (pf && p0 == 0 && !(k & 1)) __builtin_prefetch(pf + (size_t)k * PYDN_MR);
            for (int r = 0; r < PYDN_MR; ++r)
                for (int p = 0; p < np; ++p) acc[r][p] += a[r] * x[p];
        }
        for (int r = 0; r < mrows; ++r) {
            float *o = c + (size_t)r * ldc + p0;
            for (int p = 0; p < np; ++p) o[p] = add ? o[p] + acc[r][p] : acc[r][p];
        }
    }
}

const pydn_kernel_set pydn_kernels_portable = {
    .name = "portable",
    .level = PYDN_LEVEL_PORTABLE,
    .product = product_portable,
    .gemm = gemm_portable,
    /* on x86-64 (SSE2), 1 thread: OpenBLAS's sgemm took 0.25x the time of the GEMM loops
     * above, and 0.65x that of F(2x2) at 13x13 (F(4x4) at 26x26: 1.05x) */
    .gemm_fast = 0,
    .f4_min_c = 64,
    .f2_min_c = 0,
};
