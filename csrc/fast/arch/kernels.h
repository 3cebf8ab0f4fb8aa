/*
 * csrc/fast/arch/kernels.h - what each ISA's kernel file provides: one table of its
 * microkernels (kernel_<isa>.c beside this header), which the dispatcher (kernel.c)
 * picks once for the CPU.  The bigger loops (blocking for the caches, prefetching the
 * next blocks, threads, packing) are written once, in kernel.c, winograd.c and conv.c,
 * and call the microkernels through the chosen table.
 *
 * A new ISA: a file kernel_<isa>.c that compiles to an empty unit where the ISA cannot
 * be (its own #if around everything), defines `const pydn_kernel_set
 * pydn_kernels_<isa>`, is declared below and listed in kernel.c's candidates and in
 * cmake/DarknetFast.cmake's FAST_SOURCES.
 */
#ifndef PYDN_FAST_ARCH_KERNELS_H
#define PYDN_FAST_ARCH_KERNELS_H

#include <stddef.h>

typedef struct {
    const char *name; /* PYDN_KERNEL=name; what pydarknet.cpu.kernels() says */
    int level;        /* the CPU level it needs (PYDN_LEVEL_*, arch.h) */
    /* The Winograd product (fast.h, pydn_packed_product): out[t][f] (+)= sum_c
     * v[c][t] * u[c][f], nt <= PYDN_NT tiles x PYDN_FB filters; meanwhile prefetches npf
     * rows of PYDN_FB floats from pf. */
    void (*product)(const float *u, const float *v, int C, int nt, float *out, int ldo,
                    int add, const float *pf, int npf);
    /* The GEMM microkernel (kernel.c, pydn_packed_gemm): c[r][p] (+)= sum_k w[k][r] *
     * b[k][p] for a panel of PYDN_MR filters packed [k][PYDN_MR] (K rows) and n <= 48
     * columns of b (rows ldb apart); rows r < mrows of c (ldc apart) written, or added
     * to when `add`.  When pf, it prefetches a cache line every other k from pf + k *
     * PYDN_MR (the panel needed next). */
    void (*gemm)(const float *w, const float *b, int ldb, int K, int n, float *c, int ldc,
                 int mrows, int add, const float *pf);
    /* An F(4x4) output tile (fast.h, pydn_store_tile4): stores as many of the nk filters
     * as it does whole, returns how many; NULL where the scatter's loop is as good. */
    int (*store_tile4)(const float *x, int ld, int nk, float *out, int wd, size_t plane);
    /* Which convolutions these kernels run faster than OpenBLAS's sgemm does (after
     * im2col), measured layer by layer (docs/cpu.md); the others run on OpenBLAS, so
     * that no layer is slower than it: gemm_fast, the packed GEMM (else sgemm);
     * f4_min_c, f2_min_c: Winograd F(4x4) / F(2x2) for 3x3 stride-1 layers of at least
     * that many input channels (0: never; winograd.c picks the tile size). */
    int gemm_fast, f4_min_c, f2_min_c;
} pydn_kernel_set;

extern const pydn_kernel_set pydn_kernels_avx512, pydn_kernels_avx2, pydn_kernels_neon,
    pydn_kernels_portable;

/* The set this CPU runs, picked at the first call (kernel.c). */
const pydn_kernel_set *pydn_kernels(void);

#endif /* PYDN_FAST_ARCH_KERNELS_H */
