/*
 * csrc/fast/winograd.h - the tile sizes of the Winograd convolution (winograd.c) and
 * their transforms (winograd_sides.c).
 */
#ifndef PYDN_WINOGRAD_H
#define PYDN_WINOGRAD_H

#include <stddef.h>

#define AMAX 6 /* largest a = m + 2 */

/* One side of a transform, vectorized over n values: out row i (stride os) =
 * sum_k M[i][k] * in row k (stride is), M = B^T (a x a) or A^T (m x a). */
typedef void (*side_fn)(const float *in, size_t is, float *out, size_t os, int n);

typedef struct {
    int m, a;
    float g[AMAX * 3]; /* G (a x 3), for the weights (load time only) */
    side_fn bt, at;
} wino_kind;

/* F(2x2, 3x3) (points 0, 1, -1) and F(4x4, 3x3) (0, 1, -1, 2, -2). */
extern const wino_kind pydn_wino_f2, pydn_wino_f4;

#endif /* PYDN_WINOGRAD_H */
