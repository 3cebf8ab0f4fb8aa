/*
 * csrc/fast/kernel.c - the packed product: the inner loop of the Winograd convolution
 * (winograd.c), with both operands laid out for it in advance, so that nothing is
 * packed while the network runs.
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
#include <sys/mman.h>

#include "fast.h"

#if PYDN_X86_SIMD
#include <immintrin.h>

/* One block: nt (a constant after inlining) tiles x 32 filters. */
#define AVX512 __attribute__((target("avx512f")))
static inline __attribute__((always_inline)) AVX512 void
block512(const float *u, const float *v, int C, int nt, float *out, int ldo, int add,
         const float *pf, int npf)
{
    __m512 acc[PYDN_NT][2];
    for (int t = 0; t < nt; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int c = 0; c < C; ++c) {
        if (c < npf) { /* a row (two cache lines) of what comes next */
            _mm_prefetch((const char *)(pf + (size_t)c * PYDN_FB), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + (size_t)c * PYDN_FB + 16), _MM_HINT_T0);
        }
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
        if (add) {
            acc[t][0] = _mm512_add_ps(acc[t][0], _mm512_loadu_ps(o));
            acc[t][1] = _mm512_add_ps(acc[t][1], _mm512_loadu_ps(o + 16));
        }
        _mm512_storeu_ps(o, acc[t][0]);
        _mm512_storeu_ps(o + 16, acc[t][1]);
    }
}

#define CASE(n) \
    case n: block512(u, v, C, n, out, ldo, add, pf, npf); break;
static AVX512 void product512(const float *u, const float *v, int C, int nt, float *out,
                              int ldo, int add, const float *pf, int npf)
{
    switch (nt) { /* one unrolled kernel per tile count */
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
        CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
    }
}
#undef CASE

/* The GEMM kernel: 8 filters x nv (a constant after inlining) vectors of 16 pixels;
 * the last vector masked to n pixels. */
static inline __attribute__((always_inline)) AVX512 void
gemm512(const float *w, const float *b, int ldb, int K, int nv, int n, float *c, int ldc,
        int mrows, int add, const float *pf)
{
    __m512 acc[PYDN_MR][3];
    __mmask16 last = (__mmask16)((1u << (n - 16 * (nv - 1))) - 1u);
    if (n - 16 * (nv - 1) == 16) last = 0xffff;
#pragma GCC unroll 8
    for (int r = 0; r < PYDN_MR; ++r)
#pragma GCC unroll 3
        for (int v = 0; v < nv; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; ++k) {
        const float *row = b + (size_t)k * ldb;
        if (pf && !(k & 1)) /* two rows (a cache line) of the weights needed next */
            _mm_prefetch((const char *)(pf + (size_t)k * PYDN_MR), _MM_HINT_T0);
        __m512 x[3];
#pragma GCC unroll 3
        for (int v = 0; v < nv; ++v)
            x[v] = v < nv - 1 ? _mm512_loadu_ps(row + 16 * v)
                              : _mm512_maskz_loadu_ps(last, row + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < PYDN_MR; ++r) {
            __m512 a = _mm512_set1_ps(w[(size_t)k * PYDN_MR + r]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; ++v) acc[r][v] = _mm512_fmadd_ps(a, x[v], acc[r][v]);
        }
    }
    /* Constant loop bounds, rows past mrows written to a sink: with a bound known only
     * at run time, GCC keeps acc in memory and stores it at every k (3x slower). */
    float sink[48];
#pragma GCC unroll 8
    for (int r = 0; r < PYDN_MR; ++r)
#pragma GCC unroll 3
        for (int v = 0; v < nv; ++v) {
            float *o = (r < mrows ? c + (size_t)r * ldc : sink) + 16 * v;
            __mmask16 m = v < nv - 1 ? 0xffff : last;
            __m512 s = add ? _mm512_add_ps(acc[r][v], _mm512_maskz_loadu_ps(m, o)) : acc[r][v];
            _mm512_mask_storeu_ps(o, m, s);
        }
}

static AVX512 void gemm_kernel512(const float *w, const float *b, int ldb, int K, int n,
                                  float *c, int ldc, int mrows, int add, const float *pf)
{
    int nv = (n + 15) / 16;
    if (nv == 3)
        gemm512(w, b, ldb, K, 3, n, c, ldc, mrows, add, pf);
    else if (nv == 2)
        gemm512(w, b, ldb, K, 2, n, c, ldc, mrows, add, pf);
    else
        gemm512(w, b, ldb, K, 1, n, c, ldc, mrows, add, pf);
}
/* 16 filters of an F(4x4) Winograd tile: two steps of a 16 x 16 transpose leave one
 * filter's output row in each 128-bit lane. */
static AVX512 void store4x4_512(const float *x, int ld, float *out, int wd, size_t plane)
{
    __m512 r[16], t[16];
    for (int p = 0; p < 16; ++p) r[p] = _mm512_loadu_ps(x + (size_t)p * ld);
    for (int i = 0; i < 8; ++i) { /* lane L: pixels 2i, 2i + 1 of filters 4L .. 4L + 3 */
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int j = 0; j < 4; ++j) { /* output row j: pixels 4j .. 4j + 3 */
        __m512 s[4] = {_mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0x44),
                       _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0xEE),
                       _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44),
                       _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE)};
        for (int q = 0; q < 4; ++q) { /* s[q], lane L: filter 4L + q */
            float *o = out + (size_t)q * plane + (size_t)j * wd;
            _mm_storeu_ps(o, _mm512_castps512_ps128(s[q]));
            _mm_storeu_ps(o + 4 * plane, _mm512_extractf32x4_ps(s[q], 1));
            _mm_storeu_ps(o + 8 * plane, _mm512_extractf32x4_ps(s[q], 2));
            _mm_storeu_ps(o + 12 * plane, _mm512_extractf32x4_ps(s[q], 3));
        }
    }
}
#endif

int pydn_store_tile4(const float *x, int ld, int nk, float *out, int wd, size_t plane)
{
    int f = 0;
#if PYDN_X86_SIMD
    if (pydn_simd() >= 4)
        for (; f + 16 <= nk; f += 16) store4x4_512(x + f, ld, out + f * plane, wd, plane);
#else
    (void)x, (void)ld, (void)nk, (void)out, (void)wd, (void)plane;
#endif
    return f;
}

/* The portable kernel: 4 tiles x 32 filters at a time, loops the compiler vectorizes. */
#define PT 4
PYDN_BODY void product_portable_body(const float *u, const float *v, int C, int nt, float *out,
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
PYDN_SIMD_FMA(product_portable,
              (const float *u, const float *v, int C, int nt, float *out, int ldo, int add,
               const float *pf, int npf),
              (u, v, C, nt, out, ldo, add, pf, npf))

/* The portable GEMM kernel: 8 filters x up to 48 pixels, 16 at a time. */
PYDN_BODY void gemm_kernel_portable_body(const float *w, const float *b, int ldb, int K, int n,
                                         float *c, int ldc, int mrows, int add, const float *pf)
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
PYDN_SIMD_FMA(gemm_kernel_portable,
              (const float *w, const float *b, int ldb, int K, int n, float *c, int ldc,
               int mrows, int add, const float *pf),
              (w, b, ldb, K, n, c, ldc, mrows, add, pf))

typedef void (*product_fn)(const float *, const float *, int, int, float *, int, int,
                           const float *, int);

typedef void (*gemm_fn)(const float *, const float *, int, int, int, float *, int, int, int,
                        const float *);

/* What the CPU runs (arch.h): from CPUID and XCR0, the OS's word that it saves the
 * registers (x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE; v4: AVX-512 F, CD, BW,
 * DQ, VL).  Our own probe: zig's compiler runtime answers every __builtin_cpu_supports
 * with 0. */
#if PYDN_X86_SIMD
#include <cpuid.h>

static int simd_level(void)
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
    return avx512 && (lo & 0xe0) == 0xe0 ? 4 : 3;
}
#endif

int pydn_simd_found = -1; /* arch.h */

int pydn_simd_level(void)
{
    int level = __atomic_load_n(&pydn_simd_found, __ATOMIC_RELAXED);
    if (level < 0) { /* probed once; a race only stores the same value twice */
        const char *e = getenv("PYDN_KERNEL"); /* portable or avx2: at most that (tests) */
        level = 0;
#if PYDN_X86_SIMD
        if (!(e && !strcmp(e, "portable"))) level = simd_level();
        if (e && !strcmp(e, "avx2") && level > 3) level = 3;
#endif
        (void)e;
        __atomic_store_n(&pydn_simd_found, level, __ATOMIC_RELAXED);
    }
    return level;
}

void pydn_packed_product(const float *u, const float *v, int C, int nt, float *out, int ldo,
                         int add, const float *pf, int npf)
{
    product_fn fn = product_portable;
#if PYDN_X86_SIMD
    if (pydn_simd() >= 4) fn = product512;
#endif
    fn(u, v, C, nt, out, ldo, add, pf, npf);
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
    gemm_fn fn = gemm_kernel_portable;
#if PYDN_X86_SIMD
    if (pydn_simd() >= 4) fn = gemm_kernel512;
#endif
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
                fn(w + (size_t)m0 * K + (size_t)k0 * PYDN_MR, B + (size_t)k0 * ldb + n0, ldb,
                   kc, n, C + (size_t)m0 * ldc + n0, ldc, M - m0 < PYDN_MR ? M - m0 : PYDN_MR,
                   k0 > 0, next);
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
