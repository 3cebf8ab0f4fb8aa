/*
 * fast.h - the DARKNET_FAST CPU path (compiled only with -DDARKNET_FAST=ON).
 *
 * What is replaced, and how:
 *   - src/gemm.c is not compiled; csrc/fast/gemm.c provides gemm()/gemm_cpu() on
 *     OpenBLAS (scipy-openblas32), for the layers other than convolutions.
 *   - Layer forward functions are overridden per layer: pydn_fast_prepare() (network.c)
 *     points layer.forward at the functions below (conv.c, layers.c) for the layer
 *     kinds and options they support; every other layer keeps upstream's function.
 *   - Batch norm is folded into the convolution weights and biases when the network is
 *     loaded (the layer's own scales/mean/variance are then set to identity, so even
 *     upstream's forward gives the same result on a folded layer).
 *   - Convolutions run on kernels of our own (kernel.c) over weights packed for them at
 *     load time: Winograd (winograd.c) for 3x3 stride-1 layers of >= 64 channels, a
 *     packed GEMM (conv.c) for the others.
 *
 * Threads: OpenBLAS is kept single-threaded and all parallelism is ours, in one pool
 * (pool.c, which says why it is not OpenMP): pydn_threads() threads counting the
 * caller, default OMP_NUM_THREADS or the number of usable CPUs.
 */
#ifndef PYDN_FAST_H
#define PYDN_FAST_H

#include <stddef.h>

#include "arch.h" /* the CPU-specific bits */
#include "darknet.h"

int pydn_threads(void);

/* Run fn(ctx, 0 .. n-1) on the pool, the caller included; returns when all are done.
 * Tasks are claimed one at a time, so make them a few times more than threads. */
typedef void (*pydn_task_fn)(void *ctx, int task);
void pydn_parallel_for(int n, pydn_task_fn fn, void *ctx);

/* How many blocks of filters a product that cannot be split otherwise (late layers) is
 * cut into: fixed, not from the thread count, because OpenBLAS's result for a block
 * depends (in the last bit) on the block's size; so the thread count changes nothing
 * in the results.  Enough tasks for up to 8 threads. */
#define PYDN_SPLIT 8

/* Row-major single-threaded sgemm: C = alpha * op(A) * op(B) + beta * C. */
void pydn_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc);

/* A per-thread scratch buffer of at least `floats` floats (slot 0..3), kept and grown
 * on demand: no allocation and no page zeroing once warm. */
#define PYDN_SCRATCH_SLOTS 4
float *pydn_scratch(int slot, size_t floats);
layer *pydn_scratch_layers(int n); /* room for n layers, this thread's, kept likewise */
float *pydn_alloc(size_t floats); /* 64-byte aligned, in huge pages from 2 MiB; free() */

void pydn_fold_batchnorm(layer *l);
int pydn_conv_supported(const layer *l);
void pydn_conv_prepare_gemm(layer *l); /* packs its weights for pydn_packed_gemm */
void pydn_forward_conv(layer l, network net);
int pydn_conv_pool_fusable(const network *net, int i);
void pydn_forward_conv_pool(layer l, network net); /* conv + the 2x2 maxpool after it */
void pydn_forward_pooled(layer l, network net);    /* that maxpool: done by the conv */

/* The packed product (kernel.c): out[t][f] (+)= sum_c v[c][t] * u[c][f] for nt <= PYDN_NT
 * tiles (or pixels) and PYDN_FB filters; u is [c][PYDN_FB], v is [c][nt], out row t at
 * out + t * ldo, added to when `add`.  Meanwhile it prefetches npf <= C rows of
 * PYDN_FB floats from pf (the weights needed next; pf may be NULL when npf is 0). */
#define PYDN_FB 32
#define PYDN_NT 12
void pydn_packed_product(const float *u, const float *v, int C, int nt, float *out, int ldo,
                         int add, const float *pf, int npf);

/* An F(4x4) Winograd output tile: x[pixel][filter] (16 pixels, rows ld apart), of nk
 * filters, into their output planes (`plane` floats apart) at out, rows wd apart, 16
 * filters at a time where the CPU has AVX-512.  Returns how many filters it stored (the
 * caller stores the rest). */
int pydn_store_tile4(const float *x, int ld, int nk, float *out, int wd, size_t plane);

/* Weights packed at load time for kernel.c (Winograd-transformed or not), kept in
 * layer.binary_weights (see kernel.c): pydn_packed() returns them when they are of this
 * kind and of the layer's current weights, else NULL; pydn_pack_new() replaces them
 * with room for `floats` (not zeroed: the packer writes every float, padding
 * included); pydn_pack_drop() frees them. */
#define PYDN_PACK_GEMM 1 /* kinds: for pydn_packed_gemm; 2, 4: Winograd F(2x2), F(4x4) */
const float *pydn_packed(const layer *l, int kind);
float *pydn_pack_new(layer *l, int kind, size_t floats);
void pydn_pack_drop(layer *l);

/* C[M x N] = W B (kernel.c) with a conv layer's weights W (M filters x K) packed by
 * pydn_pack_gemm_weights; B's rows ldb apart, C's ldc apart. */
#define PYDN_MR 8
void pydn_pack_gemm_weights(layer *l);
void pydn_packed_gemm(const float *w, int M, int K, const float *B, int ldb, int N, float *C,
                      int ldc);

/* Winograd 3x3 stride-1 convolution (winograd.c): weights transformed at load time by
 * pydn_winograd_prepare; pydn_conv_winograd returns 0 when the layer is not prepared. */
int pydn_winograd_suits(const layer *l);
int pydn_winograd_prepare(layer *l);
int pydn_conv_winograd(const layer *l, const float *input, const layer *pool);
void pydn_forward_maxpool(layer l, network net);
void pydn_forward_upsample(layer l, network net);
void pydn_forward_yolo(layer l, network net);
void pydn_forward_route(layer l, network net);
void pydn_forward_shortcut(layer l, network net);

#endif /* PYDN_FAST_H */
