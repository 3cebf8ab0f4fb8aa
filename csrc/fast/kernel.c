/*
 * csrc/fast/kernel.c - the kernels' dispatcher, and the loops around them: which ISA's
 * microkernels run (arch/kernel_<isa>.c, one table each, arch/kernels.h), picked once
 * for the CPU; the packed GEMM's blocking; the weights packed at load time.
 *
 * The Winograd product, the inner loop of the Winograd convolution (winograd.c), with
 * both operands laid out for it in advance, so that nothing is packed while the
 * network runs:
 *
 *     out[t][f] (+)= sum_c v[c][t] * u[c][f]     t < nt <= PYDN_NT, f < PYDN_FB
 *
 * u: PYDN_FB filters' weights for C channels, [c][f] (packed once, at load time);
 * v: nt tiles' inputs for C channels, [c][t] (written so by the input transform);
 * out: row t at out + t * ldo; written, or with `add` added to (a sum over channels
 *      in chunks: the chunks' sums are added in order).
 *
 * pydn_packed_gemm: the same idea for the other convolutions (conv.c), the classic
 * orientation: C[filters][pixels] = W[filters][rows] B[rows][pixels], B the input itself
 * (1x1) or its im2col; vectors along the pixels (rows of C are output planes), 8
 * filters' weights broadcast per row, packed at load as [block of 8 filters][row][8].
 *
 * Why not OpenBLAS's sgemm (what the first version called): an sgemm copies both
 * operands into its own layout at every call, which at 13x13 and 26x26 (a few dozen
 * tiles, hundreds of channels, the weights far larger than the cache) cost as much as
 * the products themselves.  Here the weights are streamed once, in their final order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/kernels.h"
#include "fast.h"
#include "pydn.h"

/* What the CPU runs (arch.h): from CPUID and XCR0, the OS's word that it saves the
 * registers (x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE; v4: AVX-512 F, CD, BW,
 * DQ, VL).  Our own probe: zig's compiler runtime answers every __builtin_cpu_supports
 * with 0. */
#if PYDN_X86_SIMD
#include <cpuid.h>

static int cpu_level(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    /* FMA (bit 12), MOVBE (22), OSXSAVE (27), AVX (28), F16C (29) */
    if (((c >> 12) & (c >> 22) & (c >> 27) & (c >> 28) & (c >> 29) & 1) == 0) return 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 6) != 6) return 0; /* the OS saves SSE and AVX state */
    if (!__get_cpuid(0x80000001, &a, &b, &c, &d) || !((c >> 5) & 1)) return 0; /* LZCNT */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (((b >> 3) & (b >> 5) & (b >> 8) & 1) == 0) return 0; /* BMI1, AVX2, BMI2 */
    /* AVX-512 F (16), DQ (17), CD (28), BW (30), VL (31), and the opmask and ZMM state */
    int avx512 = (b >> 16) & (b >> 17) & (b >> 28) & (b >> 30) & (b >> 31) & 1;
    return avx512 && (lo & 0xe0) == 0xe0 ? PYDN_LEVEL_AVX512 : PYDN_LEVEL_AVX2;
}
#elif defined(__aarch64__) && !defined(PYDN_PORTABLE)
static int cpu_level(void) { return PYDN_LEVEL_NEON; } /* every aarch64 CPU has it */
#else
static int cpu_level(void) { return PYDN_LEVEL_PORTABLE; }
#endif

/* PYDN_KERNEL=name: at most that level (tests, comparisons); other names are ignored. */
static int level_named(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"portable", PYDN_LEVEL_PORTABLE},
                 {"neon", PYDN_LEVEL_NEON},
                 {"avx2", PYDN_LEVEL_AVX2},
                 {"avx512", PYDN_LEVEL_AVX512}};
    for (size_t i = 0; name && i < sizeof names / sizeof *names; ++i)
        if (!strcmp(name, names[i].name)) return names[i].level;
    return 1 << 30;
}

int pydn_simd_found = -1; /* arch.h */

int pydn_simd_level(void)
{
    int level = __atomic_load_n(&pydn_simd_found, __ATOMIC_RELAXED);
    if (level < 0) { /* probed once; a race only stores the same value twice */
        int cap = level_named(getenv("PYDN_KERNEL"));
        level = cpu_level();
        if (level > cap) level = cap;
        __atomic_store_n(&pydn_simd_found, level, __ATOMIC_RELAXED);
    }
    return level;
}

/* The kernel sets of this build, the most demanding first: the first whose level the
 * CPU has (after PYDN_KERNEL) runs.  The portable set runs anywhere. */
static const pydn_kernel_set *const sets[] = {
#if PYDN_X86_SIMD
    &pydn_kernels_avx512,
    &pydn_kernels_avx2,
#endif
#if defined(__aarch64__) && !defined(PYDN_PORTABLE)
    &pydn_kernels_neon,
#endif
    &pydn_kernels_portable,
};

const pydn_kernel_set *pydn_kernels(void)
{
    static const pydn_kernel_set *chosen;
    const pydn_kernel_set *k = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (!k) {
        size_t i = 0;
        while (sets[i]->level > pydn_simd()) ++i;
        __atomic_store_n(&chosen, k = sets[i], __ATOMIC_RELAXED);
    }
    return k;
}

const char *pydn_kernel_name(void) { return pydn_kernels()->name; }

/* What conv layer i runs, into buf: "winograd4/<set>" (F(4x4)), "winograd2/<set>",
 * "gemm/<set>" (the packed GEMM), "openblas" (im2col + OpenBLAS's sgemm), "upstream"
 * (upstream's forward); "" for other layers.  Returns the length. */
int pydn_layer_kernel(network *net, int i, char *buf, int cap)
{
    const layer *l = net->layers + i;
    const char *what = "", *set = pydn_kernels()->name;
    if (l->type != CONVOLUTIONAL)
        set = "";
    else if (l->forward != pydn_forward_conv && l->forward != pydn_forward_conv_pool)
        what = "upstream", set = "";
    else if (pydn_packed(l, 4))
        what = "winograd4/";
    else if (pydn_packed(l, 2))
        what = "winograd2/";
    else if (pydn_packed(l, PYDN_PACK_GEMM))
        what = "gemm/";
    else
        what = "openblas", set = "";
    return snprintf(buf, cap, "%s%s", what, set);
}

/* The microkernels alone (pydn.h; tests/test_microkernels.py). */
int pydn_kernel_gemm(const float *w, const float *b, int ldb, int K, int n, float *c, int ldc,
                     int mrows, int add)
{
    pydn_kernels()->gemm(w, b, ldb, K, n, c, ldc, mrows, add, NULL);
    return 0;
}
int pydn_kernel_product(const float *u, const float *v, int C, int nt, float *out, int ldo,
                        int add)
{
    pydn_kernels()->product(u, v, C, nt, out, ldo, add, NULL, 0);
    return 0;
}
int pydn_kernel_store_tile4(const float *x, int ld, int nk, float *out, int wd, long plane)
{
    return pydn_store_tile4(x, ld, nk, out, wd, (size_t)plane);
}

void pydn_packed_product(const float *u, const float *v, int C, int nt, float *out, int ldo,
                         int add, const float *pf, int npf)
{
    pydn_kernels()->product(u, v, C, nt, out, ldo, add, pf, npf);
}

int pydn_store_tile4(const float *x, int ld, int nk, float *out, int wd, size_t plane)
{
    const pydn_kernel_set *k = pydn_kernels();
    return k->store_tile4 ? k->store_tile4(x, ld, nk, out, wd, plane) : 0;
}

/* C[M x N] (+)= W B: W packed (pydn_pack_gemm_weights), B rows ldb apart.  Blocks of
 * GEMM_KC rows of B and 48 of its columns (in L1) meet every panel of 8 filters (the
 * weights' chunk: M x GEMM_KC, in L2 after the first block of columns, which fetches
 * each next panel from memory while it runs); chunks after the first are added. */
#define GEMM_KC 128
#define GEMM_NC 48 /* columns of B a block: three vectors of 16 */
void pydn_packed_gemm(const float *w, int M, int K, const float *B, int ldb, int N, float *C,
                      int ldc)
{
    const pydn_kernel_set *ks = pydn_kernels();
    int panels = (M + PYDN_MR - 1) / PYDN_MR;
    for (int k0 = 0; k0 < K; k0 += GEMM_KC) {
        int kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
        for (int n0 = 0, n; n0 < N; n0 += n) {
            /* 48 at a time; the last 49 to 64 as two blocks (32 and the rest), not 48 and
             * a vector for 1 to 16, which has a third of the kernel's registers busy */
            n = N - n0 <= GEMM_NC ? N - n0 : N - n0 <= GEMM_NC + 16 ? 32 : GEMM_NC;
            /* B's next block (kc rows, 3 cache lines each: a stream per row, which the
             * hardware does not follow), a share of its rows before each panel */
            int nn = n0 + n < N ? n0 + n : 0, nk = nn ? kc : K - k0 - kc;
            const float *nb = B + (size_t)(nn ? k0 : k0 + kc) * ldb + nn;
            if (nk > GEMM_KC) nk = GEMM_KC;
            for (int m0 = 0; m0 < M; m0 += PYDN_MR) {
                int p = m0 / PYDN_MR, r0 = nk * p / panels, r1 = nk * (p + 1) / panels;
                for (int r = r0; r < r1; ++r)
                    for (int x = 0; x < GEMM_NC; x += 16)
                        __builtin_prefetch(nb + (size_t)r * ldb + x);
                const float *next = NULL; /* the next panel's chunk, or the next chunk's */
                if (n0 == 0 && m0 + PYDN_MR < M)
                    next = w + (size_t)(m0 + PYDN_MR) * K + (size_t)k0 * PYDN_MR;
                else if (n0 == 0 && k0 + kc < K)
                    next = w + (size_t)(k0 + kc) * PYDN_MR;
                ks->gemm(w + (size_t)m0 * K + (size_t)k0 * PYDN_MR, B + (size_t)k0 * ldb + n0,
                         ldb, kc, n, C + (size_t)m0 * ldc + n0, ldc,
                         M - m0 < PYDN_MR ? M - m0 : PYDN_MR, k0 > 0, next);
            }
        }
    }
}

/* Panel p of 8 filters' weights (K each): packed[p][i][r] = weights[8 p + r][i], written
 * in order. */
static void pack_gemm_task(void *ctx, int p)
{
    const layer *l = ctx;
    int K = l->nweights / l->n, rows = l->n - p * PYDN_MR;
    if (rows > PYDN_MR) rows = PYDN_MR;
    float *u = (float *)pydn_packed(l, PYDN_PACK_GEMM) + (size_t)p * PYDN_MR * K;
    const float *w = l->weights + (size_t)p * PYDN_MR * K;
    for (int i = 0; i < K; ++i)
        for (int r = 0; r < PYDN_MR; ++r) /* past the last filter: zeros */
            u[(size_t)i * PYDN_MR + r] = r < rows ? w[(size_t)r * K + i] : 0.f;
}

void pydn_pack_gemm_weights(layer *l)
{
    if (pydn_packed(l, PYDN_PACK_GEMM)) return;
    int rows = (l->n + PYDN_MR - 1) / PYDN_MR * PYDN_MR;
    pydn_pack_new(l, PYDN_PACK_GEMM, (size_t)rows * (l->nweights / l->n));
    pydn_parallel_for(rows / PYDN_MR, pack_gemm_task, l);
}

/* --- packed weights ------------------------------------------------------------------- */

/* They live in layer.binary_weights: upstream allocates that array only for binary/XNOR
 * layers (which never come here), reads it only for them, and frees it with the layer.
 * Layout: the kind, FINGERPRINT weights sampled from layer.weights (to notice weights
 * loaded again in place), then the packed weights. */
#define FINGERPRINT 8
#define HEADER 16 /* floats: the kind, the fingerprint, then 64-byte aligned */

static float sample(const layer *l, int i)
{
    return l->weights[(size_t)i * (l->nweights - 1) / (FINGERPRINT - 1)];
}

const float *pydn_packed(const layer *l, int kind)
{
    const float *u = l->binary_weights;
    if (!u || u[0] != (float)kind) return NULL;
    for (int i = 0; i < FINGERPRINT; ++i)
        if (u[1 + i] != sample(l, i)) return NULL;
    return u + HEADER;
}

/* Packed weights are streamed whole at every pass (hundreds of MiB for yolov3), scratch
 * buffers reused at every layer: in 2 MiB pages where the kernel allows them
 * (transparent huge pages, madvise mode), one TLB entry covers 512 times more.  Freed
 * with free() (upstream frees binary_weights so). */
#define HUGE_PAGE ((size_t)2 << 20)
float *pydn_alloc(size_t floats)
{
    size_t bytes = floats * sizeof(float);
    void *p = NULL;
    if (bytes < HUGE_PAGE) return posix_memalign(&p, 64, bytes) ? NULL : p;
    bytes = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    if (posix_memalign(&p, HUGE_PAGE, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* a hint: no huge pages is fine too */
#endif
    return p;
}

float *pydn_pack_new(layer *l, int kind, size_t floats)
{
    free(l->binary_weights);
    float *u = pydn_alloc(HEADER + floats); /* every float written by the packer */
    if (!u) abort();
    memset(u, 0, HEADER * sizeof *u);
    u[0] = (float)kind;
    for (int i = 0; i < FINGERPRINT; ++i) u[1 + i] = sample(l, i);
    l->binary_weights = u;
    return u + HEADER;
}

void pydn_pack_drop(layer *l)
{
    free(l->binary_weights);
    l->binary_weights = NULL;
}
