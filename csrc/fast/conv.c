/*
 * csrc/fast/conv.c - convolution forward for the DARKNET_FAST build.
 *
 * pydn_forward_conv() replaces upstream forward_convolutional_layer() (via
 * layer.forward, see pydn_fast_prepare) for groups == 1, non-binary layers.  Upstream
 * zero-fills the output, builds the whole im2col matrix, runs a naive gemm, then
 * normalizes, scales, adds biases and activates in four more passes over the output.
 * Here: batch norm is already folded into weights/biases (pydn_fold_batchnorm); large
 * outputs are computed in cache-sized bands of rows (im2col of the band + the packed
 * GEMM of kernel.c, on weights packed at load time) with bias + activation applied
 * while the band is in cache, and a 2x2 stride-2 maxpool after the conv pooled there
 * too (pydn_forward_conv_pool); small outputs (late layers) as one wide product per
 * group of images, split over blocks of filters.  3x3 stride-1 layers of enough
 * channels go to winograd.c first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ab/ab.h"
#include "ab/ab_act.h"
#include "activations.h"
#include "fast.h"

/* Replaces the inference arithmetic of upstream forward_batchnorm_layer():
 *   y = (x - mean) / (sqrt(var) + .000001f) * scale + bias
 * becomes part of the convolution: w' = w * s, b' = bias - mean * s with
 * s = scale / (sqrt(var) + .000001f).  The BN parameters are then set to the identity
 * (scale 1, mean 0, var 1), which marks the layer as folded: a later call (after a
 * reload, which overwrites them) folds again, an already folded layer is skipped. */
void pydn_fold_batchnorm(layer *l)
{
    if (l->type != CONVOLUTIONAL || !l->batch_normalize) return;
    int n = l->n, per = l->nweights / n;
    int identity = 1;
    for (int f = 0; f < n && identity; ++f)
        identity = l->scales[f] == 1.f && l->rolling_mean[f] == 0.f &&
                   l->rolling_variance[f] == 1.f;
    if (identity) return;
    for (int f = 0; f < n; ++f) {
        float s = l->scales[f] / (sqrtf(l->rolling_variance[f]) + .000001f);
        for (int i = 0; i < per; ++i) l->weights[(size_t)f * per + i] *= s;
        l->biases[f] -= l->rolling_mean[f] * s;
        l->scales[f] = 1.f;
        l->rolling_mean[f] = 0.f;
        l->rolling_variance[f] = 1.f;
    }
}

int pydn_conv_supported(const layer *l)
{
    return l->type == CONVOLUTIONAL && l->groups == 1 && !l->xnor && !l->binary;
}

/* Bias + activation on rows x cols of c (row stride ldc), written to o (stride ldo),
 * which may be c itself.  In place, row by row: a loop that reads c and writes o would
 * need a run-time overlap check, which clang fails for o == c (it then ran scalar).
 * The common activations are inlined (the fork's mish and swish too: csrc/ab/ab_act.h);
 * others use upstream's activate_array, or the fork's for its own (csrc/ab). */
PYDN_BODY void bias_act_body(const float *c, size_t ldc, float *o, size_t ldo, int rows,
                             int cols, const float *bias, ACTIVATION a)
{
    for (int r = 0; r < rows; ++r) {
        float *restrict x = o + r * ldo;
        float b = bias[r];
        if (c + r * ldc != x) memcpy(x, c + r * ldc, sizeof(float) * cols);
        switch ((int)a) {
        case LEAKY:
            for (int j = 0; j < cols; ++j) {
                float v = x[j] + b;
                x[j] = v > 0 ? v : .1f * v;
            }
            break;
        case RELU:
            for (int j = 0; j < cols; ++j) {
                float v = x[j] + b;
                x[j] = v > 0 ? v : 0.f;
            }
            break;
        case LOGISTIC:
            for (int j = 0; j < cols; ++j) x[j] = logistic_activate(x[j] + b);
            break;
        case PYDN_AB_MISH:
            for (int j = 0; j < cols; ++j) x[j] = pydn_ab_mish_of(x[j] + b);
            break;
        case PYDN_AB_SWISH:
            for (int j = 0; j < cols; ++j) x[j] = pydn_ab_swish_of(x[j] + b);
            break;
        default:
            for (int j = 0; j < cols; ++j) x[j] += b;
            pydn_ab_activate_any(x, cols, a);
        }
    }
}
PYDN_SIMD(bias_act,
          (const float *c, size_t ldc, float *o, size_t ldo, int rows, int cols,
           const float *bias, ACTIVATION a),
          (c, ldc, o, ldo, rows, cols, bias, a))

/* im2col (upstream src/im2col.c layout: row (ch * size + ky) * size + kx) of channels
 * [ch0, ch1) and output rows [y0, y1) into col, whose rows are ld floats apart.  Each
 * row: zeros, a copy (strided for stride 2: vectorized), zeros. */
PYDN_BODY void im2col_part_body(const float *im, const layer *l, int ch0, int ch1, int y0,
                                int y1, float *col, size_t ld)
{
    int size = l->size, stride = l->stride, pad = l->pad, h = l->h, w = l->w;
    int ow = l->out_w;
    for (int ch = ch0; ch < ch1; ++ch) {
        const float *plane = im + (size_t)ch * h * w;
        for (int ky = 0; ky < size; ++ky)
            for (int kx = 0; kx < size; ++kx) {
                float *dst = col + (size_t)((ch * size + ky) * size + kx) * ld;
                for (int y = y0; y < y1; ++y) {
                    float *d = dst + (size_t)(y - y0) * ow;
                    int iy = y * stride + ky - pad;
                    if (iy < 0 || iy >= h) {
                        memset(d, 0, sizeof(float) * ow);
                        continue;
                    }
                    const float *src = plane + (size_t)iy * w;
                    /* ix = x * stride + kx - pad inside [0, w) for x in [lo, hi) */
                    int off = kx - pad, lo = off < 0 ? (-off + stride - 1) / stride : 0;
                    int hi = w - off <= 0 ? 0 : (w - off + stride - 1) / stride;
                    if (hi > ow) hi = ow;
                    if (hi < lo) hi = lo;
                    for (int x = 0; x < lo && x < ow; ++x) d[x] = 0;
                    if (stride == 1)
                        memcpy(d + lo, src + lo + off, sizeof(float) * (hi - lo));
                    else if (stride == 2) /* a constant stride: loads and permutes */
                        for (int x = lo; x < hi; ++x) d[x] = src[2 * x + off];
                    else /* a variable one: gathers (slow on AMD) */
                        for (int x = lo; x < hi; ++x) d[x] = src[x * stride + off];
                    for (int x = hi; x < ow; ++x) d[x] = 0;
                }
            }
    }
}
PYDN_SIMD(im2col_part,
          (const float *im, const layer *l, int ch0, int ch1, int y0, int y1, float *col,
           size_t ld),
          (im, l, ch0, ch1, y0, y1, col, ld))

/* C = W B for filters [m0, m1) (m0 a multiple of PYDN_MR): on the weights packed at load
 * time (kernel.c), or with OpenBLAS when they are not (weights changed in place since;
 * PYDN_GEMM=openblas, for comparisons). */
static void conv_gemm(const layer *l, int m0, int m1, const float *b, int ldb, int n, float *c,
                      int ldc)
{
    const float *w = pydn_packed(l, PYDN_PACK_GEMM);
    int K = l->size * l->size * l->c;
    if (w)
        pydn_packed_gemm(w + (size_t)m0 * K, m1 - m0, K, b, ldb, n, c, ldc);
    else
        pydn_sgemm(0, 0, m1 - m0, n, K, 1.f, l->weights + (size_t)m0 * K, K, b, ldb, 0.f, c,
                   ldc);
}

void pydn_conv_prepare_gemm(layer *l)
{
    static int off = -1;
    if (off < 0) {
        const char *e = getenv("PYDN_GEMM");
        off = e && !strcmp(e, "openblas");
    }
    if (off || !pydn_conv_supported(l)) {
        if (l->type == CONVOLUTIONAL && !l->binary && !l->xnor) pydn_pack_drop(l);
        return;
    }
    pydn_pack_gemm_weights(l);
}

/* Large outputs: tasks of (image, band of output rows); each task builds the band's
 * im2col in its thread's scratch (a 1x1 stride-1 conv reads the input directly), runs
 * the GEMM into the output and applies bias + activation to the band while in cache. */
typedef struct {
    const layer *l, *pool; /* pool: the fused 2x2 stride-2 maxpool after l, or NULL */
    const float *input;
    int rows, bands;
    int pixels; /* > 0: bands of that many pixels instead of rows (1x1, no pool) */
} tiled_job;

/* 2x2 stride-2 max of a band of conv output (channels x rows x ow, rows even) into
 * rows y0 / 2 ... of the pool's output planes. */
static void pool_band(const float *c, int channels, int rows, int ow, float *out, int y0,
                      int plane)
{
    int pw = ow / 2;
    for (int m = 0; m < channels; ++m)
        for (int y = 0; y < rows; y += 2) {
            const float *r0 = c + ((size_t)m * rows + y) * ow, *r1 = r0 + ow;
            float *o = out + (size_t)m * plane + (size_t)(y0 + y) / 2 * pw;
            for (int x = 0; x < pw; ++x)
                o[x] = fmaxf(fmaxf(r0[2 * x], r0[2 * x + 1]), fmaxf(r1[2 * x], r1[2 * x + 1]));
        }
}

static void tiled_task(void *ctx, int t)
{
    const tiled_job *j = ctx;
    const layer *l = j->l;
    int M = l->n, K = l->size * l->size * l->c, N = l->out_h * l->out_w, ow = l->out_w;
    int b = t / j->bands, band = t % j->bands, y0 = band * j->rows;
    int y1 = y0 + j->rows < l->out_h ? y0 + j->rows : l->out_h, cols = (y1 - y0) * ow;
    const float *in = j->input + (size_t)b * l->inputs;
    int first = y0 * ow; /* the band's first pixel */
    if (j->pixels) {     /* 1x1: a range of pixels instead of rows */
        first = band * j->pixels;
        cols = N - first < j->pixels ? N - first : j->pixels;
    }
    float *out = l->output + (size_t)b * l->outputs + first;
    int ldc = N;
    if (j->pool) { /* the band stays in this thread's scratch, only its max-pool leaves */
        out = pydn_scratch(3, (size_t)M * cols);
        ldc = cols;
    }
    const float *bm = in + first;
    int ldb = N;
    if (!(l->size == 1 && l->stride == 1 && l->pad == 0)) {
        float *ws = pydn_scratch(0, (size_t)K * cols);
        im2col_part(in, l, 0, l->c, y0, y1, ws, cols);
        bm = ws;
        ldb = cols;
    }
    conv_gemm(l, 0, M, bm, ldb, cols, out, ldc);
    bias_act(out, ldc, out, ldc, M, cols, l->biases, l->activation);
    if (j->pool)
        pool_band(out, M, y1 - y0, ow, j->pool->output + (size_t)b * j->pool->outputs, y0,
                  j->pool->out_h * j->pool->out_w);
}

static void conv_tiled(const layer *l, const float *input, const layer *pool)
{
    int K = l->size * l->size * l->c;
    int rows = (int)((1 << 16) / ((size_t)K * l->out_w)); /* ~256 KiB of im2col a band */
    /* and at least 16 bands where there are rows for them: tasks even enough for a few
     * threads (13 bands on 2 threads kept one idle for a twelfth of the layer) */
    if (rows > l->out_h / 16) rows = l->out_h / 16;
    if (pool) rows &= ~1; /* whole pooling windows per band */
    if (rows < (pool ? 2 : 1)) rows = pool ? 2 : 1;
    /* bands of a multiple of 16 pixels where a few more rows make one (52 pixels a row:
     * 4 rows, 208), so that the kernel's vectors of 16 pixels are all full */
    for (int more = rows; more <= 4 * rows && more <= l->out_h; more += pool ? 2 : 1)
        if (more * l->out_w % 16 == 0) {
            rows = more;
            break;
        }
    tiled_job j = {l, pool, input, rows, (l->out_h + rows - 1) / rows, 0};
    if (l->size == 1 && l->stride == 1 && l->pad == 0 && !pool) {
        /* no im2col to fit in cache: 16 bands of whole vectors of 16 pixels */
        int n = l->out_h * l->out_w;
        j.pixels = ((n + 15) / 16 + 15) / 16 * 16;
        j.bands = (n + j.pixels - 1) / j.pixels;
    }
    pydn_parallel_for(l->batch * j.bands, tiled_task, &j);
}

/* Small outputs (late layers): a group of images side by side in one K x (g * N)
 * matrix, then the GEMM over blocks of filters (each weight read once per group, in a
 * wider product), then bias + activation, scattered back to per-image planes.  Groups
 * are capped at about 8 MiB of im2col so they stay in cache; a group of one image (and
 * every 1x1 stride-1 conv, which needs no im2col) writes straight into the output. */
typedef struct {
    const layer *l;
    const float *input, *col; /* input: the group's first image */
    float *colbuf, *c, *output;
    int images, parts;
} wide_job;

static void wide_im2col_task(void *ctx, int t)
{
    const wide_job *j = ctx;
    const layer *l = j->l;
    int b = t / l->c, ch = t % l->c, N = l->out_h * l->out_w;
    im2col_part(j->input + (size_t)b * l->inputs, l, ch, ch + 1, 0, l->out_h,
                j->colbuf + (size_t)b * N, (size_t)j->images * N);
}

static void wide_gemm_task(void *ctx, int p)
{
    const wide_job *j = ctx;
    const layer *l = j->l;
    int M = l->n, N = l->out_h * l->out_w, panels = (M + PYDN_MR - 1) / PYDN_MR;
    size_t GN = (size_t)j->images * N;
    int m0 = PYDN_MR * (panels * p / j->parts), m1 = PYDN_MR * (panels * (p + 1) / j->parts);
    if (m1 > M) m1 = M;
    float *cp = j->c + (size_t)m0 * GN;
    conv_gemm(l, m0, m1, j->col, (int)GN, (int)GN, cp, (int)GN);
    for (int b = 0; b < j->images; ++b)
        bias_act(cp + (size_t)b * N, GN, j->output + (size_t)b * l->outputs + (size_t)m0 * N, N,
                 m1 - m0, N, l->biases + m0, l->activation);
}

static void conv_wide_group(const layer *l, const float *input, float *output, int images)
{
    int M = l->n, K = l->size * l->size * l->c;
    size_t GN = (size_t)images * l->out_h * l->out_w;
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    wide_job j = {l, input, input, NULL, output, output, images, 1};
    if (!(direct && images == 1)) j.col = j.colbuf = pydn_scratch(1, (size_t)K * GN);
    if (images > 1) j.c = pydn_scratch(2, (size_t)M * GN);
    /* Each block of filters reads the whole im2col matrix: few blocks (PYDN_SPLIT,
     * whatever the thread count), at least 16 filters each. */
    j.parts = PYDN_SPLIT;
    if (M / j.parts < 16) j.parts = M / 16 > 0 ? M / 16 : 1;
    if (j.colbuf) pydn_parallel_for(images * l->c, wide_im2col_task, &j);
    pydn_parallel_for(j.parts, wide_gemm_task, &j);
}

static void conv_wide(const layer *l, const float *input)
{
    size_t per_image = sizeof(float) * l->size * l->size * l->c * l->out_h * l->out_w;
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    int group = direct ? 1 : (int)((8u << 20) / per_image);
    if (group < 1) group = 1;
    for (int b = 0; b < l->batch; b += group) {
        int images = l->batch - b < group ? l->batch - b : group;
        conv_wide_group(l, input + (size_t)b * l->inputs, l->output + (size_t)b * l->outputs,
                        images);
    }
}

/* Output planes of at least this many pixels go in bands (measured on yolov3-tiny:
 * 52x52 is twice as fast in bands as wide, 26x26 a third slower). */
#define TILE_MIN_N 2048

void pydn_forward_conv(layer l, network net)
{
    pydn_fold_batchnorm(&l); /* weights reloaded behind our back: fold them (in place) */
    if (pydn_conv_winograd(&l, net.input, NULL)) return;
    if (l.out_h * l.out_w >= TILE_MIN_N)
        conv_tiled(&l, net.input, NULL);
    else
        conv_wide(&l, net.input);
}

/* Can conv layer i and the maxpool after it run fused?  The maxpool must be 2x2 stride
 * 2 over whole windows, and no other layer may read the conv's output (which fused is
 * never written).  Checked by pydn_fast_prepare, and again at each pass (cheap), in
 * case the network was resized since. */
int pydn_conv_pool_fusable(const network *net, int i)
{
    if (i + 1 >= net->n) return 0;
    const layer *c = net->layers + i, *p = net->layers + i + 1;
    if (!pydn_conv_supported(c) || p->type != MAXPOOL || p->size != 2 || p->stride != 2 ||
        p->pad / 2 != 0 || c->out_h % 2 || c->out_w % 2 || p->out_h * 2 != c->out_h ||
        p->out_w * 2 != c->out_w || c->out_h * c->out_w < TILE_MIN_N)
        return 0;
    for (int j = 0; j < net->n; ++j) { /* nothing else may read the conv's output */
        const layer *l = net->layers + j;
        if ((l->type == SHORTCUT || l->type == PYDN_AB_SAM || l->type == PYDN_AB_SCALE_CHANNELS) &&
            l->index == i)
            return 0;
        if ((l->type == ROUTE || l->type == SHORTCUT) && l->input_layers)
            for (int k = 0; k < l->n; ++k)
                if (l->input_layers[k] == i) return 0;
    }
    return 1;
}

/* Replaces forward_convolutional_layer + forward_maxpool_layer of a fused pair: the
 * maxpool's own forward is then pydn_forward_pooled (nothing left to do). */
void pydn_forward_conv_pool(layer l, network net)
{
    pydn_fold_batchnorm(&l);
    const layer *pool = net.layers + net.index + 1;
    if (pydn_conv_pool_fusable(&net, net.index)) {
        if (!pydn_conv_winograd(&l, net.input, pool)) conv_tiled(&l, net.input, pool);
        return;
    }
    pydn_forward_conv(l, net); /* no longer fusable: both layers, one after the other */
    net.input = l.output;
    pydn_forward_maxpool(*pool, net);
}

void pydn_forward_pooled(layer l, network net)
{
    (void)l;
    (void)net;
}
