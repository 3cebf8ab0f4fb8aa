/*
 * csrc/fast/winograd_gather.h - every 2nd or 4th value of a padded input row, 16 at a
 * time: how the Winograd input transform (winograd.c) gathers a value of 16 tiles.
 */
#ifndef PYDN_WINOGRAD_GATHER_H
#define PYDN_WINOGRAD_GATHER_H

#include <string.h>

#include "fast.h"

/* dst[t] = row[M * t] for 16 t, M = 2 or 4: whole-vector loads and shuffles (vector
 * extensions of GCC and clang; a loop of 16 strided loads stayed scalar). */
typedef float vf16 __attribute__((vector_size(64)));
typedef int vi16 __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));
typedef int vi8 __attribute__((vector_size(32)));
#ifdef __clang__
#define SHUFFLE(x, y, ...) __builtin_shufflevector(x, y, __VA_ARGS__)
#define SHUFFLE8(x, y, ...) __builtin_shufflevector(x, y, __VA_ARGS__)
#else
#define SHUFFLE(x, y, ...) __builtin_shuffle(x, y, (vi16){__VA_ARGS__})
#define SHUFFLE8(x, y, ...) __builtin_shuffle(x, y, (vi8){__VA_ARGS__})
#endif
#define EVERY4 0, 4, 8, 12, 16, 20, 24, 28
PYDN_BODY void every4(const float *restrict row, float *restrict dst)
{
    vf16 x[4];
    memcpy(x, row, sizeof x);
    vf16 lo = SHUFFLE(x[0], x[1], EVERY4, EVERY4), hi = SHUFFLE(x[2], x[3], EVERY4, EVERY4);
    vf16 r = SHUFFLE(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    memcpy(dst, &r, sizeof r);
}
PYDN_BODY void every2(const float *restrict row, float *restrict dst)
{
    vf16 x[2];
    memcpy(x, row, sizeof x);
    vf16 r = SHUFFLE(x[0], x[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    memcpy(dst, &r, sizeof r);
}

/* The same on 32-byte vectors, for AVX2: GCC took the 64-byte shuffles above apart into
 * single floats through the stack there; these are two unpacks, two permutes and an
 * insert (every4), or two permutes and a blend (every2), per 8 values. */
PYDN_BODY void every4_8(const float *restrict row, float *restrict dst)
{
    for (int h = 0; h < 16; h += 8, row += 32) {
        vf8 a, b, c, d;
        memcpy(&a, row, sizeof a), memcpy(&b, row + 8, sizeof b);
        memcpy(&c, row + 16, sizeof c), memcpy(&d, row + 24, sizeof d);
        vf8 ab = SHUFFLE8(a, b, 0, 4, 8, 12, 0, 4, 8, 12);
        vf8 cd = SHUFFLE8(c, d, 0, 4, 8, 12, 0, 4, 8, 12);
        vf8 r = SHUFFLE8(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11);
        memcpy(dst + h, &r, sizeof r);
    }
}
PYDN_BODY void every2_8(const float *restrict row, float *restrict dst)
{
    for (int h = 0; h < 16; h += 8, row += 16) {
        vf8 a, b;
        memcpy(&a, row, sizeof a), memcpy(&b, row + 8, sizeof b);
        vf8 r = SHUFFLE8(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
        memcpy(dst + h, &r, sizeof r);
    }
}

#endif /* PYDN_WINOGRAD_GATHER_H */
