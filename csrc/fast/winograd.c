/*
 * csrc/fast/winograd.c - Winograd convolution F(m x m, 3 x 3) for the stride-1, pad-1
 * 3x3 layers of the DARKNET_FAST build (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2015).
 *
 * Each m x m block ("tile") of output comes from an a x a block of input (a = m + 2):
 *     Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * so a tile costs a * a multiply-adds per input channel and filter instead of 9 m^2
 * (F(4x4): 36 against 144; F(2x2): 16 against 36).  Per layer:
 *   - at load time, every filter g is transformed once: U[xi][k][c] = (G g G^T)[xi],
 *     packed for kernel.c in blocks of PYDN_FB filters (pydn_winograd_prepare; kept in
 *     the layer, see there);
 *   - phase 1, the input: V[xi][c][tile] = (B^T d B)[xi] for every channel and tile,
 *     written in blocks of up to PYDN_NT tiles, each block [c][tile] (kernel.c's order);
 *   - phase 2, tasks of (tiles, filters): a * a products M[xi] = V[xi]^T U[xi] (kernel.c,
 *     [tile][filter]), then the output transform A^T M A with bias + activation (and a
 *     fused 2x2 maxpool) while the products are in cache.
 * The transforms run over vectors (of tiles in phase 1, of filters in phase 2: loops the
 * compiler vectorizes; AVX2 and AVX-512 versions picked at run time, arch.h), in
 * winograd_sides.c.  The result differs from direct convolution by rounding only
 * (about 1e-6 relative for F(2x2), 1e-5 for F(4x4)); tests/test_reproduce.py checks the
 * detections against the original binary.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ab/ab.h"
#include "ab/ab_act.h"
#include "activations.h"
#include "fast.h"
#include "winograd.h"

#define TILES 64   /* tiles per vector in the input transform (at least PYDN_NT) */
#define DL (TILES + 16) /* its rows: room for a last whole vector of 16 tiles */
#define PRODUCTS (1 << 18) /* floats of products per task: 1 MiB, in L2 */

/* The transformed weights (pydn_packed, kind = the tile size m): for each of the a * a
 * points, blocks of PYDN_FB filters (the last one padded with zero filters), each
 * [c][filter]. */
static int padded_filters(const layer *l) { return (l->n + PYDN_FB - 1) / PYDN_FB * PYDN_FB; }
static size_t u_floats(const layer *l, int a)
{
    return (size_t)a * a * padded_filters(l) * l->c;
}

int pydn_winograd_suits(const layer *l)
{
    return l->type == CONVOLUTIONAL && l->groups == 1 && !l->xnor && !l->binary &&
           l->size == 3 && l->stride == 1 && l->pad == 1 && l->out_w == l->w &&
           l->out_h == l->h;
}

/* Which tile size for this layer (NULL: none).  PYDN_WINOGRAD=0|2|4 overrides (tests). */
static const wino_kind *kind_for(const layer *l)
{
    static int forced = -1;
    if (forced < 0) {
        const char *e = getenv("PYDN_WINOGRAD");
        forced = e && *e ? atoi(e) : 1;
    }
    if (!pydn_winograd_suits(l) || forced == 0) return NULL;
    if (forced == 2) return &pydn_wino_f2;
    if (forced == 4) return &pydn_wino_f4;
    /* Measured on yolov3-tiny and yolov3 (one thread, CPU time per layer, against the
     * packed GEMM of conv.c): below 64 channels the transforms cost more than the
     * products save (32 channels at 104x104: 2.38 ms against 1.92; at 208x208: 13.4
     * against 8.5); at 13x13, F(4x4) needs 16x16 of tiles and four times the weights
     * (streamed from memory at every pass), F(2x2) only 14x14 and 16/9 of them, and is
     * faster. */
    if (l->c < 64) return NULL;
    return l->out_h * l->out_w >= 24 * 24 ? &pydn_wino_f4 : &pydn_wino_f2;
}

typedef struct {
    const layer *l;
    const wino_kind *w;
    float *u;
} weights_job;

/* Block fb of PYDN_FB filters, all channels: U[xi][k][c] = G g G^T, packed (see above);
 * channel by channel, so that each cache line of U is written whole at once. */
static void weights_task(void *ctx, int fb)
{
    const weights_job *j = ctx;
    const wino_kind *w = j->w;
    int a = w->a, C = j->l->c, K = j->l->n, KP = padded_filters(j->l);
    int k0 = fb * PYDN_FB, k1 = k0 + PYDN_FB < K ? k0 + PYDN_FB : K;
    float *block = j->u + (size_t)k0 * C;
    for (int c = 0; c < C; ++c) {
        for (int xi = 0; xi < a * a && k1 < k0 + PYDN_FB; ++xi) /* padding filters: 0 */
            memset(block + (size_t)xi * KP * C + (size_t)c * PYDN_FB + (k1 - k0), 0,
                   sizeof(float) * (k0 + PYDN_FB - k1));
        for (int k = k0; k < k1; ++k) {
            const float *g = j->l->weights + ((size_t)k * C + c) * 9;
            float t[AMAX * 3];
            for (int i = 0; i < a; ++i)
                for (int x = 0; x < 3; ++x)
                    t[i * 3 + x] = w->g[i * 3] * g[x] + w->g[i * 3 + 1] * g[3 + x] +
                                   w->g[i * 3 + 2] * g[6 + x];
            for (int i = 0; i < a; ++i)
                for (int p = 0; p < a; ++p)
                    block[(size_t)(i * a + p) * KP * C + (size_t)c * PYDN_FB + k - k0] =
                        t[i * 3] * w->g[p * 3] + t[i * 3 + 1] * w->g[p * 3 + 1] +
                        t[i * 3 + 2] * w->g[p * 3 + 2];
        }
    }
}

/* Called by pydn_fast_prepare after batch norm is folded: transform the weights when
 * they are new or changed; 0 when the layer does not suit (the caller packs them for
 * the direct convolution instead). */
int pydn_winograd_prepare(layer *l)
{
    const wino_kind *w = kind_for(l);
    if (!w) return 0;
    if (pydn_packed(l, w->m)) return 1;
    weights_job j = {l, w, pydn_pack_new(l, w->m, u_floats(l, w->a))};
    pydn_parallel_for(padded_filters(l) / PYDN_FB, weights_task, &j);
    return 1;
}

/* --- the forward pass ----------------------------------------------------------------- */

typedef struct {
    const layer *l, *pool; /* pool: a fused 2x2 stride-2 maxpool after l, or NULL */
    const wino_kind *w;
    const float *input, *u;   /* u: the transformed weights (see above) */
    float *v;                 /* a * a matrices, in blocks of tiles [c][tile] */
    int tw, per_image, tiles; /* tiles per row, per image, in all */
    int blocks;               /* of tiles, block b: [start(b), start(b + 1)) */
    int bpt, kb, tasks_t;     /* phase 2 tasks: bpt blocks x kb filters */
} wino_job;

/* Blocks of even sizes (between 2/3 and all of PYDN_NT), so that the kernel's last
 * block is never a handful of tiles. */
static int start(const wino_job *j, int b) { return (int)((long)b * j->tiles / j->blocks); }

/* The zero-padded copy of a channel that the tiles read: th * m + 2 rows of
 * pad_width() = tw * m + 2 floats (see pad_plane), then PAD_TAIL zeros that whole
 * vectors of tiles may read past the last row (gather). */
#define PAD_TAIL 80 /* 16 F(4x4) tiles read 64 floats from their first one's start + 5 */
static int pad_rows(const wino_job *j) { return j->per_image / j->tw * j->w->m + 2; }
static int pad_width(const wino_job *j) { return j->tw * j->w->m + 2; }

/* Channel c of image b, zero-padded for the tiles: pad[(y + 1) * wp + x + 1] = input
 * (y, x), zero around it. */
static void pad_plane(const wino_job *j, int b, int c, float *pad, int wp)
{
    const layer *l = j->l;
    int h = l->h, wd = l->w, rows = pad_rows(j);
    const float *plane = j->input + (size_t)b * l->inputs + (size_t)c * h * wd;
    memset(pad, 0, sizeof(float) * wp);
    for (int y = 0; y < h; ++y) {
        float *row = pad + (size_t)(y + 1) * wp;
        row[0] = 0.f;
        memcpy(row + 1, plane + (size_t)y * wd, sizeof(float) * wd);
        memset(row + 1 + wd, 0, sizeof(float) * (wp - 1 - wd));
    }
    memset(pad + (size_t)(h + 1) * wp, 0, sizeof(float) * (wp * (rows - h - 1) + PAD_TAIL));
}

/* dst[t] = row[M * t] for 16 t, M = 2 or 4: whole-vector loads and shuffles (vector
 * extensions of GCC and clang; a loop of 16 strided loads stayed scalar). */
typedef float vf16 __attribute__((vector_size(64)));
typedef int vi16 __attribute__((vector_size(64)));
#ifdef __clang__
#define SHUFFLE(x, y, ...) __builtin_shufflevector(x, y, __VA_ARGS__)
#else
#define SHUFFLE(x, y, ...) __builtin_shuffle(x, y, (vi16){__VA_ARGS__})
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

/* Input tiles g0 .. g0 + n of image b (pad: its channel, see pad_plane), a x a values
 * each, into d[(i * a + k) * DL + t].  By runs of tiles in one row of tiles: value
 * (i, k) of consecutive tiles is every m-th value of a padded row, copied 16 at a time
 * (a run is a dozen tiles, which a loop of run's length did one by one).  What a vector
 * writes past its run, the next run writes over, or it lies past n: never stored. */
PYDN_BODY void gather_body(const wino_job *j, const float *pad, int wp, int g0, int n,
                           float *d)
{
    int a = j->w->a, m = j->w->m;
    for (int t0 = 0; t0 < n;) {
        int r = (g0 + t0) % j->per_image, tx0 = r % j->tw;
        int run = j->tw - tx0 < n - t0 ? j->tw - tx0 : n - t0;
        const float *src = pad + (size_t)(r / j->tw) * m * wp + tx0 * m;
        for (int i = 0; i < a; ++i, src += wp)
            for (int k = 0; k < a; ++k)
                for (int c0 = 0; c0 < run; c0 += 16) {
                    float *dst = d + (i * a + k) * DL + t0 + c0;
                    if (m == 4)
                        every4(src + k + 4 * c0, dst);
                    else
                        every2(src + k + 2 * c0, dst);
                }
        t0 += run;
    }
}
PYDN_SIMD(gather, (const wino_job *j, const float *pad, int wp, int g0, int n, float *d),
          (j, pad, wp, g0, n, d))

/* dst[0, n) = src[0, n) for n <= PYDN_NT (from d to V: they never overlap): two copies
 * of 8 that overlap where n < 16 (what a loop of n copied one by one). */
static void copy_row(const float *restrict src, float *restrict dst, int n)
{
    if (n < 8) {
        for (int t = 0; t < n; ++t) dst[t] = src[t];
        return;
    }
    memcpy(dst, src, sizeof(float) * 8);
    memcpy(dst + n - 8, src + n - 8, sizeof(float) * 8);
}

/* Phase 1, one channel: V[xi][c][g] = B^T d B for every tile g, by whole blocks (d, y:
 * the task's buffers; pad: its padded plane). */
static void channel_input(const wino_job *j, int c, float *d, float *y, float *pad)
{
    int a = j->w->a, C = j->l->c, wp = pad_width(j), img = -1;
    for (int b0 = 0, b1; b0 < j->blocks; b0 = b1) {
        int g0 = start(j, b0);
        for (b1 = b0 + 1; b1 < j->blocks && start(j, b1 + 1) - g0 <= TILES;) ++b1;
        int n = start(j, b1) - g0;
        for (int t = 0; t < n;) { /* by images (a group of blocks may span two) */
            int g = g0 + t, run = j->per_image - g % j->per_image;
            if (run > n - t) run = n - t;
            if (g / j->per_image != img) pad_plane(j, img = g / j->per_image, c, pad, wp);
            gather(j, pad, wp, g, run, d + t);
            t += run;
        }
        j->w->bt(d, (size_t)a * DL, y, (size_t)a * DL, a * DL); /* B^T d */
        for (int i = 0; i < a; ++i) /* (B^T d) B, row by row, back into d */
            j->w->bt(y + i * a * DL, DL, d + i * a * DL, DL, (n + 15) & ~15);
        size_t xs = (size_t)C * j->tiles; /* from one point xi of V to the next */
        for (int b = b0; b < b1; ++b) { /* into V's blocks */
            int s = start(j, b), size = start(j, b + 1) - s;
            float *v = j->v + (size_t)s * C + (size_t)c * size;
            for (int xi = 0; xi < a * a; ++xi) copy_row(d + xi * DL + (s - g0), v + xi * xs, size);
        }
    }
}

/* Phase 1, a task: CHANNELS consecutive channels, whose rows of V are side by side
 * (one channel a task put two threads' writes in the same cache lines). */
#define CHANNELS 8
static void input_task(void *ctx, int task)
{
    const wino_job *j = ctx;
    float d[AMAX * AMAX * DL], y[AMAX * AMAX * DL];
    float *pad = pydn_scratch(0, (size_t)pad_rows(j) * pad_width(j) + PAD_TAIL);
    memset(d, 0, sizeof d); /* lanes past the last tile: finite, never stored */
    int c1 = (task + 1) * CHANNELS < j->l->c ? (task + 1) * CHANNELS : j->l->c;
    for (int c = task * CHANNELS; c < c1; ++c) channel_input(j, c, d, y, pad);
}

/* o[i][f] += bias[f], then the activation: n rows (ld apart) of nk filters. */
PYDN_BODY void bias_act_body(float *o, int n, int ld, int nk, const float *bias, ACTIVATION act)
{
    for (int i = 0; i < n; ++i, o += ld) switch ((int)act) {
        case LEAKY:
            for (int f = 0; f < nk; ++f) {
                float v = o[f] + bias[f];
                o[f] = v > 0 ? v : .1f * v;
            }
            break;
        case RELU:
            for (int f = 0; f < nk; ++f) o[f] = fmaxf(o[f] + bias[f], 0.f);
            break;
        case LOGISTIC:
            for (int f = 0; f < nk; ++f) o[f] = logistic_activate(o[f] + bias[f]);
            break;
        case PYDN_AB_MISH: /* the fork's (csrc/ab/ab_act.h) */
            for (int f = 0; f < nk; ++f) o[f] = pydn_ab_mish_of(o[f] + bias[f]);
            break;
        case PYDN_AB_SWISH:
            for (int f = 0; f < nk; ++f) o[f] = pydn_ab_swish_of(o[f] + bias[f]);
            break;
        default:
            for (int f = 0; f < nk; ++f) o[f] += bias[f];
            pydn_ab_activate_any(o, nk, act);
        }
}
PYDN_SIMD_FMA(bias_act, (float *o, int n, int ld, int nk, const float *bias, ACTIVATION act),
              (o, n, ld, nk, bias, act))

/* Output tile g, x[py][px][filter] (rows ld apart) for filters k0 .. k0 + nk: into the
 * layer's output, or 2x2-max-pooled into the fused maxpool's output. */
static void scatter(const wino_job *j, int g, int k0, int nk, const float *x, int ld)
{
    const layer *l = j->l, *p = j->pool;
    int m = j->w->m, h = l->out_h, wd = l->out_w;
    int b = g / j->per_image, r = g % j->per_image;
    int y0 = (r / j->tw) * m, x0 = (r % j->tw) * m;
    if (p) {
        int ph = p->out_h, pw = p->out_w, q = m / 2;
        size_t plane = (size_t)ph * pw;
        float *out = p->output + (size_t)b * p->outputs + (size_t)k0 * plane;
        for (int i = 0; i < q && y0 / 2 + i < ph; ++i)
            for (int xx = 0; xx < q && x0 / 2 + xx < pw; ++xx) {
                const float *s = x + ((2 * i) * m + 2 * xx) * ld;
                float *o = out + (size_t)(y0 / 2 + i) * pw + x0 / 2 + xx;
                for (int f = 0; f < nk; ++f)
                    o[f * plane] = fmaxf(fmaxf(s[f], s[ld + f]),
                                         fmaxf(s[m * ld + f], s[(m + 1) * ld + f]));
            }
        return;
    }
    size_t plane = (size_t)h * wd;
    float *out = l->output + (size_t)b * l->outputs + (size_t)k0 * plane;
    int f0 = 0; /* a whole F(4x4) tile: filters by 16 transposed in registers (kernel.c) */
    if (m == 4 && y0 + 4 <= h && x0 + 4 <= wd)
        f0 = pydn_store_tile4(x, ld, nk, out + (size_t)y0 * wd + x0, wd, plane);
    for (int i = 0; i < m && y0 + i < h; ++i) /* the rest: one value at a time */
        for (int xx = 0; xx < m && x0 + xx < wd; ++xx) {
            const float *s = x + (i * m + xx) * ld;
            float *o = out + (size_t)(y0 + i) * wd + x0 + xx;
            for (int f = f0; f < nk; ++f) o[f * plane] = s[f];
        }
}

/* Phase 2, tile blocks [b0, b0 + bpt) x filters [k0, k0 + kb): a * a products, then per
 * tile the output transform, bias + activation and the store. */
static void product_task(void *ctx, int task)
{
    const wino_job *j = ctx;
    const layer *l = j->l;
    const wino_kind *w = j->w;
    int a = w->a, m = w->m, C = l->c, K = l->n, aa = a * a, KP = padded_filters(l);
    int b0 = (task % j->tasks_t) * j->bpt, k0 = (task / j->tasks_t) * j->kb;
    int b1 = b0 + j->bpt < j->blocks ? b0 + j->bpt : j->blocks;
    int g0 = start(j, b0), nt = start(j, b1) - g0;
    int nk = K - k0 < j->kb ? K - k0 : j->kb, ldm = (nk + PYDN_FB - 1) / PYDN_FB * PYDN_FB;
    size_t xs = (size_t)nt * ldm; /* from one of the a * a products to the next */
    float *mb = pydn_scratch(2, aa * xs);
    const float *u = j->u;
    /* A panel of U (PYDN_FB filters, all channels) meets every block of tiles in turn,
     * from L1 after the first; the weights are too big for the caches and come from
     * memory, so each block's call prefetches its share of the next panel's rows. */
    for (int xi = 0; xi < aa; ++xi)
        for (int f = 0; f < ldm; f += PYDN_FB) {
            const float *panel = u + ((size_t)xi * KP + k0 + f) * C;
            const float *next = f + PYDN_FB < ldm ? panel + (size_t)PYDN_FB * C
                                : xi + 1 < aa    ? u + ((size_t)(xi + 1) * KP + k0) * C
                                                 : NULL;
            for (int b = b0; b < b1; ++b) {
                int s = start(j, b), r0 = C * (b - b0) / (b1 - b0);
                int r1 = next ? C * (b - b0 + 1) / (b1 - b0) : r0;
                pydn_packed_product(panel, j->v + (size_t)xi * C * j->tiles + (size_t)s * C,
                                    C, start(j, b + 1) - s, mb + xi * xs + (s - g0) * ldm + f,
                                    ldm, 0, next ? next + (size_t)r0 * PYDN_FB : NULL,
                                    r1 - r0);
            }
        }
    float *y = pydn_scratch(3, (size_t)2 * AMAX * AMAX * ldm), *x = y + AMAX * AMAX * ldm;
    for (int t = 0; t < nt; ++t) {
        const float *mt = mb + (size_t)t * ldm;
        for (int p = 0; p < a; ++p) /* A^T M, column by column */
            w->at(mt + p * xs, a * xs, y + p * ldm, (size_t)a * ldm, nk);
        for (int i = 0; i < m; ++i) /* (A^T M) A, row by row */
            w->at(y + i * a * ldm, ldm, x + i * m * ldm, ldm, nk);
        bias_act(x, m * m, ldm, nk, l->biases + k0, l->activation);
        scatter(j, g0 + t, k0, nk, x, ldm);
    }
}

/* Runs layer l on input; with pool, the 2x2 stride-2 maxpool after it too (only the
 * pooled output is written).  Returns 0 when the layer holds no transform of its
 * current weights (see pydn_winograd_prepare): the caller runs im2col + sgemm. */
int pydn_conv_winograd(const layer *l, const float *input, const layer *pool)
{
    const wino_kind *w = kind_for(l);
    /* not held: weights changed since pydn_winograd_prepare (not ours to fix here) */
    const float *u = w ? pydn_packed(l, w->m) : NULL;
    if (!u) return 0;
    int m = w->m, a = w->a, K = l->n;
    int th = (l->out_h + m - 1) / m, tw = (l->out_w + m - 1) / m;
    wino_job j = {l, pool, w, input, u, NULL, tw, th * tw, th * tw * l->batch, 0, 0, K, 0};
    j.blocks = (j.tiles + PYDN_NT - 1) / PYDN_NT;
    j.v = pydn_scratch(1, (size_t)a * a * l->c * j.tiles);
    /* Phase 2 tasks: up to 10 blocks of tiles (about 120), so that each weight read from
     * memory serves that many tiles; filters in blocks of PYDN_FB multiples that keep a
     * task's products (a * a x kb x tiles) within PRODUCTS floats, and in at least
     * PYDN_SPLIT tasks (not from the thread count: see fast.h). */
    j.tasks_t = (j.blocks + 9) / 10; /* even groups: 15 blocks are 8 + 7, not 10 + 5 */
    j.bpt = (j.blocks + j.tasks_t - 1) / j.tasks_t;
    int tb = start(&j, j.bpt), kb = PRODUCTS / (a * a) / tb, want = PYDN_SPLIT;
    int tasks_k = (K + kb - 1) / (kb > 0 ? kb : 1);
    if (j.tasks_t * tasks_k < want) tasks_k = (want + j.tasks_t - 1) / j.tasks_t;
    j.kb = (K + tasks_k - 1) / tasks_k;
    j.kb = (j.kb + PYDN_FB - 1) / PYDN_FB * PYDN_FB;
    if (j.kb > K) j.kb = K;
    tasks_k = (K + j.kb - 1) / j.kb;
    pydn_parallel_for((l->c + CHANNELS - 1) / CHANNELS, input_task, &j);
    pydn_parallel_for(j.tasks_t * tasks_k, product_task, &j);
    return 1;
}
