/*
 * csrc/fast/winograd_sides.c - the matrices of Winograd's F(2x2, 3x3) and F(4x4, 3x3)
 * (B^T, G, A^T; Lavin & Gray 2015) and the sides of their transforms, each a loop over
 * a vector of tiles or filters (AVX2 and AVX-512 versions picked at run time, arch.h),
 * for winograd.c.
 */
#include "fast.h"
#include "winograd.h"

/* The four sides, written out: each reads its a input rows once (the matrices are
 * mostly small integers).  The rows are restrict parameters of an inlined function:
 * told nothing, GCC and clang would have to check every pair of rows for overlap at
 * run time (36 pairs for bt6, more than they try) and ran these loops scalar. */
#define ROWS4(p, s) p, p + (s), p + 2 * (s), p + 3 * (s)
#define ROWS6(p, s) ROWS4(p, s), p + 4 * (s), p + 5 * (s)
#define R const float *restrict
#define W float *restrict
PYDN_BODY void bt6_rows(R d0, R d1, R d2, R d3, R d4, R d5, W r0, W r1, W r2, W r3, W r4,
                        W r5, int n)
{
    for (int t = 0; t < n; ++t) {
        float a0 = d0[t], a1 = d1[t], a2 = d2[t], a3 = d3[t], a4 = d4[t];
        r0[t] = 4 * a0 - 5 * a2 + a4;
        r1[t] = -4 * (a1 + a2) + a3 + a4;
        r2[t] = 4 * (a1 - a2) - a3 + a4;
        r3[t] = 2 * (a3 - a1) - a2 + a4;
        r4[t] = 2 * (a1 - a3) - a2 + a4;
        r5[t] = 4 * a1 - 5 * a3 + d5[t];
    }
}
PYDN_BODY void bt6_body(const float *in, size_t is, float *out, size_t os, int n)
{
    bt6_rows(ROWS6(in, is), ROWS6(out, os), n);
}
PYDN_SIMD_FMA(bt6, (const float *in, size_t is, float *out, size_t os, int n),
              (in, is, out, os, n))

PYDN_BODY void at6_rows(R d0, R d1, R d2, R d3, R d4, R d5, W r0, W r1, W r2, W r3, int n)
{
    for (int t = 0; t < n; ++t) {
        float p12 = d1[t] + d2[t], m12 = d1[t] - d2[t];
        float p34 = d3[t] + d4[t], m34 = d3[t] - d4[t];
        r0[t] = d0[t] + p12 + p34;
        r1[t] = m12 + 2 * m34;
        r2[t] = p12 + 4 * p34;
        r3[t] = m12 + 8 * m34 + d5[t];
    }
}
PYDN_BODY void at6_body(const float *in, size_t is, float *out, size_t os, int n)
{
    at6_rows(ROWS6(in, is), ROWS4(out, os), n);
}
PYDN_SIMD_FMA(at6, (const float *in, size_t is, float *out, size_t os, int n),
              (in, is, out, os, n))

PYDN_BODY void bt4_rows(R d0, R d1, R d2, R d3, W r0, W r1, W r2, W r3, int n)
{
    for (int t = 0; t < n; ++t) {
        r0[t] = d0[t] - d2[t];
        r1[t] = d1[t] + d2[t];
        r2[t] = d2[t] - d1[t];
        r3[t] = d1[t] - d3[t];
    }
}
PYDN_BODY void bt4_body(const float *in, size_t is, float *out, size_t os, int n)
{
    bt4_rows(ROWS4(in, is), ROWS4(out, os), n);
}
PYDN_SIMD_FMA(bt4, (const float *in, size_t is, float *out, size_t os, int n),
              (in, is, out, os, n))

PYDN_BODY void at4_rows(R d0, R d1, R d2, R d3, W r0, W r1, int n)
{
    for (int t = 0; t < n; ++t) {
        r0[t] = d0[t] + d1[t] + d2[t];
        r1[t] = d1[t] - d2[t] - d3[t];
    }
}
PYDN_BODY void at4_body(const float *in, size_t is, float *out, size_t os, int n)
{
    at4_rows(ROWS4(in, is), out, out + os, n);
}
PYDN_SIMD_FMA(at4, (const float *in, size_t is, float *out, size_t os, int n),
              (in, is, out, os, n))
#undef R
#undef W

/* B^T, G, A^T of F(2x2, 3x3) (points 0, 1, -1) and F(4x4, 3x3) (0, 1, -1, 2, -2). */
const wino_kind pydn_wino_f2 = {2, 4, {1, 0, 0, .5f, .5f, .5f, .5f, -.5f, .5f, 0, 0, 1}, bt4, at4};

const wino_kind pydn_wino_f4 = {
    4, 6,
    {1 / 4.f, 0, 0, -1 / 6.f, -1 / 6.f, -1 / 6.f, -1 / 6.f, 1 / 6.f, -1 / 6.f,
     1 / 24.f, 1 / 12.f, 1 / 6.f, 1 / 24.f, -1 / 12.f, 1 / 6.f, 0, 0, 1},
    bt6, at6,
};
