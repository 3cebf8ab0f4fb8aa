/*
 * csrc/fast/gemm.c - replaces upstream src/gemm.c in the DARKNET_FAST build.
 *
 * Why: upstream gemm_cpu() is a naive triple loop (about a third of the CPU time of
 * a detection).  Here gemm()/gemm_cpu() keep their contract (row-major, C = ALPHA *
 * op(A) * op(B) + BETA * C) but run OpenBLAS's sgemm from the scipy-openblas32 wheel,
 * single-threaded per call, with the rows of C split over our thread pool (pool.c;
 * one pool for the whole library).  GPU builds keep upstream's file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fast.h"
#include "gemm.h"

/* Upstream's binary-weight gemm, unchanged (only XNOR layers use it). */
void gemm_bin(int M, int N, int K, float ALPHA, char *A, int lda, float *B, int ldb,
              float *C, int ldc)
{
    (void)ALPHA;
    for (int i = 0; i < M; ++i)
        for (int k = 0; k < K; ++k) {
            float sign = A[i * lda + k] ? 1.f : -1.f;
            for (int j = 0; j < N; ++j) C[i * ldc + j] += sign * B[k * ldb + j];
        }
}

/* Upstream's test helpers, kept so libdarknet exports the same symbols. */
float *random_matrix(int rows, int cols)
{
    float *m = calloc((size_t)rows * cols, sizeof(float));
    for (int i = 0; i < rows * cols; ++i) m[i] = (float)rand() / RAND_MAX;
    return m;
}

void time_random_matrix(int TA, int TB, int m, int k, int n)
{
    float *a = TA ? random_matrix(k, m) : random_matrix(m, k);
    float *b = TB ? random_matrix(n, k) : random_matrix(k, n);
    float *c = random_matrix(m, n);
    clock_t start = clock();
    for (int i = 0; i < 10; ++i)
        gemm_cpu(TA, TB, m, n, k, 1, a, TA ? m : k, b, TB ? k : n, 1, c, n);
    printf("Matrix Multiplication %dx%d * %dx%d, TA=%d, TB=%d: %lf ms\n", m, k, k, n, TA, TB,
           (float)(clock() - start) / CLOCKS_PER_SEC);
    free(a);
    free(b);
    free(c);
}

void gemm(int TA, int TB, int M, int N, int K, float ALPHA, float *A, int lda, float *B,
          int ldb, float BETA, float *C, int ldc)
{
    gemm_cpu(TA, TB, M, N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
}

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc, parts;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void gemm_task(void *ctx, int p)
{
    const gemm_job *j = ctx;
    int m0 = (int)((long)j->M * p / j->parts), m1 = (int)((long)j->M * (p + 1) / j->parts);
    const float *a = j->ta ? j->A + m0 : j->A + (size_t)m0 * j->lda;
    pydn_sgemm(j->ta, j->tb, m1 - m0, j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb, j->beta,
               j->C + (size_t)m0 * j->ldc, j->ldc);
}

void gemm_cpu(int TA, int TB, int M, int N, int K, float ALPHA, float *A, int lda, float *B,
              int ldb, float BETA, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    /* Split C by rows when the product is big enough to pay for waking the pool. */
    int parts = ((double)M * N * K > 4e6 && M >= 64) ? PYDN_SPLIT : 1;
    gemm_job j = {TA, TB, M, N, K, lda, ldb, ldc, parts, ALPHA, BETA, A, B, C};
    pydn_parallel_for(parts, gemm_task, &j);
}
