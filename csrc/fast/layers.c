/*
 * csrc/fast/layers.c - the other layer forwards of the DARKNET_FAST build, the
 * network loop, threads, scratch memory and the OpenBLAS call.  Each forward below
 * says which upstream function it replaces (through layer.forward) and why.
 */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "fast.h"
#include "pydn_batch.h"
#include "yolo_layer.h"

/* --- threads and memory -------------------------------------------------------------- */

static int n_threads; /* 0: not chosen yet -> omp_get_max_threads() */

int pydn_threads(void)
{
    if (n_threads <= 0) n_threads = omp_get_max_threads();
    return n_threads;
}

int pydn_set_threads(int n)
{
    n_threads = n > 0 ? n : omp_get_max_threads();
    return n_threads;
}

int pydn_get_threads(void) { return pydn_threads(); }
int pydn_fast_build(void) { return 1; }

/* OpenBLAS runs single-threaded inside our OpenMP threads: one thread pool, no
 * oversubscription and no second set of spinning threads. */
__attribute__((constructor)) static void single_threaded_blas(void)
{
    scipy_openblas_set_num_threads(1);
}

void pydn_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    scipy_cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                      tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta,
                      c, ldc);
}

static __thread float *scratch[3];
static __thread size_t scratch_cap[3];

float *pydn_scratch(int slot, size_t floats)
{
    if (floats > scratch_cap[slot]) {
        free(scratch[slot]);
        size_t cap = floats + floats / 4 + 1024;
        void *p = NULL;
        if (posix_memalign(&p, 64, cap * sizeof(float))) abort();
        scratch[slot] = p;
        scratch_cap[slot] = cap;
    }
    return scratch[slot];
}

/* --- layers --------------------------------------------------------------------------- */

/* Replaces forward_maxpool_layer(): upstream bounds-checks every tap and also writes the
 * argmax indexes that only training reads.  Same maxima; a 2x2 stride-2 window that
 * never leaves the input takes a branch-free path; channels run in parallel. */
void pydn_forward_maxpool(layer l, network net)
{
    int h = l.h, w = l.w, oh = l.out_h, ow = l.out_w, off = -l.pad / 2;
    int planes = l.batch * l.c;
    int simple = l.size == 2 && l.stride == 2 && off == 0 && 2 * oh <= h && 2 * ow <= w;
#pragma omp parallel for num_threads(pydn_threads()) schedule(static)
    for (int p = 0; p < planes; ++p) {
        const float *in = net.input + (size_t)p * h * w;
        float *out = l.output + (size_t)p * oh * ow;
        for (int i = 0; i < oh; ++i) {
            if (simple) {
                const float *r0 = in + (size_t)2 * i * w, *r1 = r0 + w;
                for (int j = 0; j < ow; ++j) {
                    float a = fmaxf(r0[2 * j], r0[2 * j + 1]);
                    float b = fmaxf(r1[2 * j], r1[2 * j + 1]);
                    out[i * ow + j] = fmaxf(a, b);
                }
                continue;
            }
            for (int j = 0; j < ow; ++j) {
                float m = -FLT_MAX;
                for (int n = 0; n < l.size; ++n) {
                    int y = off + i * l.stride + n;
                    if (y < 0 || y >= h) continue;
                    for (int k = 0; k < l.size; ++k) {
                        int x = off + j * l.stride + k;
                        if (x >= 0 && x < w && in[y * w + x] > m) m = in[y * w + x];
                    }
                }
                out[i * ow + j] = m;
            }
        }
    }
}

/* Replaces forward_upsample_layer() (forward direction only): upstream zero-fills the
 * output and then overwrites every element anyway; this writes each element once. */
void pydn_forward_upsample(layer l, network net)
{
    int s = l.stride, w = l.w, ow = l.out_w;
    int rows = l.batch * l.c * l.h;
    float scale = l.scale;
#pragma omp parallel for num_threads(pydn_threads()) schedule(static)
    for (int r = 0; r < rows; ++r) {
        const float *in = net.input + (size_t)r * w;
        float *out = l.output + (size_t)r * s * ow;
        for (int x = 0; x < w; ++x)
            for (int k = 0; k < s; ++k) out[x * s + k] = scale * in[x];
        for (int k = 1; k < s; ++k) memcpy(out + (size_t)k * ow, out, sizeof(float) * ow);
    }
}

/* Replaces forward_yolo_layer() at inference: upstream also clears l.delta, which only
 * training reads.  Same logistic on x, y, objectness and class scores. */
void pydn_forward_yolo(layer l, network net)
{
    if (net.train) { /* the loss needs upstream's code */
        forward_yolo_layer(l, net);
        return;
    }
    size_t per = (size_t)l.w * l.h, stride = per * (4 + l.classes + 1);
    memcpy(l.output, net.input, sizeof(float) * l.outputs * l.batch);
    int jobs = l.batch * l.n;
#pragma omp parallel for num_threads(pydn_threads()) schedule(static)
    for (int j = 0; j < jobs; ++j) {
        int b = j / l.n, n = j % l.n;
        float *base = l.output + (size_t)b * l.outputs + (size_t)n * stride;
        for (size_t i = 0; i < 2 * per; ++i) base[i] = 1.f / (1.f + expf(-base[i]));
        float *obj = base + 4 * per;
        for (size_t i = 0; i < (size_t)(1 + l.classes) * per; ++i)
            obj[i] = 1.f / (1.f + expf(-obj[i]));
    }
}

/* Replaces forward_route_layer(): upstream copies with a strided scalar loop;
 * this is the same concatenation with memcpy. */
void pydn_forward_route(layer l, network net)
{
    size_t offset = 0;
    for (int i = 0; i < l.n; ++i) {
        const float *input = net.layers[l.input_layers[i]].output;
        size_t size = l.input_sizes[i];
        for (int b = 0; b < l.batch; ++b)
            memcpy(l.output + offset + (size_t)b * l.outputs, input + (size_t)b * size,
                   sizeof(float) * size);
        offset += size;
    }
}

/* --- the network ---------------------------------------------------------------------- */

void pydn_fast_prepare(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        switch (l->type) {
        case CONVOLUTIONAL:
            pydn_fold_batchnorm(l);
            if (pydn_conv_supported(l)) l->forward = pydn_forward_conv;
            break;
        case MAXPOOL: l->forward = pydn_forward_maxpool; break;
        case UPSAMPLE:
            if (!l->reverse) l->forward = pydn_forward_upsample;
            break;
        case YOLO: l->forward = pydn_forward_yolo; break;
        case ROUTE: l->forward = pydn_forward_route; break;
        default: break;
        }
    }
}

/* Replaces network_predict()/forward_network() for inference on net->input: upstream
 * also zero-fills every layer's delta (training gradients) before each forward. */
void pydn_forward(network *net)
{
    network n = *net;
    n.train = 0;
    n.truth = 0;
    n.delta = 0;
    for (int i = 0; i < n.n; ++i) {
        n.index = i;
        layer l = n.layers[i];
        l.forward(l, n);
        n.input = l.output;
        if (l.truth) n.truth = l.output;
    }
}
