/*
 * csrc/fast/layers.c - the other layer forwards of the DARKNET_FAST build, threads,
 * scratch memory and the OpenBLAS call.  Each forward below says which upstream
 * function it replaces (through layer.forward) and why; network.c installs them.
 */
#include <float.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "activations.h"
#include "fast.h"
#include "pydn.h"
#include "yolo_layer.h"

/* --- threads and memory -------------------------------------------------------------- */

int pydn_fast_build(void) { return 1; }

/* OpenBLAS runs single-threaded inside our pool's threads: one thread pool, no
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

/* Each thread's scratch buffers, freed when the thread ends (pthread key destructor):
 * threads that come and go (a server's request threads) leave nothing behind. */
typedef struct {
    float *buf[PYDN_SCRATCH_SLOTS];
    size_t cap[PYDN_SCRATCH_SLOTS];
    layer *copies; /* pydn_scratch_layers (network.c's per-image layer copies) */
    int copies_cap;
} thread_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static __thread thread_scratch *mine;

static void free_scratch(void *p)
{
    thread_scratch *s = p;
    for (int i = 0; i < PYDN_SCRATCH_SLOTS; ++i) free(s->buf[i]);
    free(s->copies);
    free(s);
}

static void make_key(void) { pthread_key_create(&scratch_key, free_scratch); }

static thread_scratch *scratch(void)
{
    if (!mine) {
        pthread_once(&scratch_once, make_key);
        mine = calloc(1, sizeof *mine);
        if (!mine) abort();
        pthread_setspecific(scratch_key, mine);
    }
    return mine;
}

float *pydn_scratch(int slot, size_t floats)
{
    thread_scratch *s = scratch();
    if (floats > s->cap[slot]) {
        free(s->buf[slot]);
        size_t cap = floats + floats / 4 + 1024;
        float *p = pydn_alloc(cap);
        if (!p) abort();
        s->buf[slot] = p;
        s->cap[slot] = cap;
    }
    return s->buf[slot];
}

layer *pydn_scratch_layers(int n)
{
    thread_scratch *s = scratch();
    if (s->copies_cap < n) {
        free(s->copies);
        s->copies = malloc(sizeof(layer) * n);
        if (!s->copies) abort();
        s->copies_cap = n;
    }
    return s->copies;
}

/* --- layers --------------------------------------------------------------------------- */

/* Replaces forward_maxpool_layer(): upstream bounds-checks every tap and also writes the
 * argmax indexes that only training reads.  Same maxima; a 2x2 stride-2 window that
 * never leaves the input takes a branch-free path; planes run in parallel. */
typedef struct {
    const layer *l;
    const float *input;
    int per_task;
    const float *add; /* shortcut only */
} plane_job;

/* SIMD behind runtime dispatch (gcc ifunc): no -march, baseline code for old CPUs. */
PYDN_BODY void maxpool_plane_body(const layer *l, const float *in, float *out)
{
    int h = l->h, w = l->w, oh = l->out_h, ow = l->out_w, off = -l->pad / 2;
    int simple = l->size == 2 && l->stride == 2 && off == 0 && 2 * oh <= h && 2 * ow <= w;
    for (int i = 0; i < oh; ++i) {
        if (!simple && pydn_stopping()) return; /* a row of a large window: bounded */
        if (simple) {
            const float *r0 = in + (size_t)2 * i * w, *r1 = r0 + w;
            for (int j = 0; j < ow; ++j) {
                float a = fmaxf(r0[2 * j], r0[2 * j + 1]);
                float b = fmaxf(r1[2 * j], r1[2 * j + 1]);
                out[i * ow + j] = fmaxf(a, b);
            }
            continue;
        }
        if (l->stride == 1) { /* a running max over the window's rows and columns */
            float *restrict o = out + (size_t)i * ow;
            for (int j = 0; j < ow; ++j) o[j] = -FLT_MAX;
            for (int n = 0; n < l->size; ++n) {
                int y = off + i + n;
                if (y < 0 || y >= h) continue;
                for (int k = 0; k < l->size; ++k) { /* x = off + j + k in [0, w) */
                    const float *restrict row = in + (size_t)y * w;
                    int d = off + k, lo = d < 0 ? -d : 0, hi = w - d < ow ? w - d : ow;
                    for (int j = lo; j < hi; ++j) o[j] = row[j + d] > o[j] ? row[j + d] : o[j];
                }
            }
            continue;
        }
        for (int j = 0; j < ow; ++j) {
            float m = -FLT_MAX;
            for (int n = 0; n < l->size; ++n) {
                int y = off + i * l->stride + n;
                if (y < 0 || y >= h) continue;
                for (int k = 0; k < l->size; ++k) {
                    int x = off + j * l->stride + k;
                    if (x >= 0 && x < w && in[y * w + x] > m) m = in[y * w + x];
                }
            }
            out[i * ow + j] = m;
        }
    }
}
PYDN_SIMD(maxpool_plane, (const layer *l, const float *in, float *out),
          (l, in, out))

static void maxpool_task(void *ctx, int t)
{
    const plane_job *j = ctx;
    const layer *l = j->l;
    int planes = l->batch * l->c, p1 = (t + 1) * j->per_task;
    for (int p = t * j->per_task; p < p1 && p < planes; ++p)
        maxpool_plane(l, j->input + (size_t)p * l->h * l->w,
                      l->output + (size_t)p * l->out_h * l->out_w);
}

/* Tasks of whole planes, about 64 KiB of input each. */
static void planes_parallel(const layer *l, const float *input, pydn_task_fn fn)
{
    int planes = l->batch * l->c;
    int per = (int)(16384 / ((size_t)l->h * l->w)) + 1;
    plane_job j = {l, input, per};
    pydn_parallel_for((planes + per - 1) / per, fn, &j);
}

void pydn_forward_maxpool(layer l, network net) { planes_parallel(&l, net.input, maxpool_task); }

/* Replaces forward_upsample_layer() (forward direction only): upstream zero-fills the
 * output and then overwrites every element anyway; this writes each element once. */
static void upsample_task(void *ctx, int t)
{
    const plane_job *j = ctx;
    const layer *l = j->l;
    int s = l->stride, w = l->w, ow = l->out_w, planes = l->batch * l->c;
    for (int p = t * j->per_task; p < (t + 1) * j->per_task && p < planes; ++p)
        for (int y = 0; y < l->h; ++y) {
            const float *in = j->input + ((size_t)p * l->h + y) * w;
            float *out = l->output + ((size_t)p * l->h + y) * s * ow;
            for (int x = 0; x < w; ++x)
                for (int k = 0; k < s; ++k) out[x * s + k] = l->scale * in[x];
            for (int k = 1; k < s; ++k) memcpy(out + (size_t)k * ow, out, sizeof(float) * ow);
        }
}

void pydn_forward_upsample(layer l, network net) { planes_parallel(&l, net.input, upsample_task); }

static void yolo_task(void *ctx, int t)
{
    const plane_job *j = ctx;
    const layer *l = j->l;
    int b = t / l->n, n = t % l->n;
    size_t per = (size_t)l->w * l->h, stride = per * (4 + l->classes + 1);
    size_t at = (size_t)b * l->outputs + (size_t)n * stride;
    const float *in = j->input + at;
    float *out = l->output + at;
    /* upstream's logistic_activate, in double: its values, and no expf (whose glibc
     * 2.27 symbol version would lift the wheel's manylinux tag) */
    for (size_t i = 0; i < stride; ++i) {
        int squash = i < 2 * per || i >= 4 * per; /* x, y, objectness, classes */
        out[i] = squash ? logistic_activate(in[i]) : in[i];
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
    plane_job j = {&l, net.input, 1};
    pydn_parallel_for(l.batch * l.n, yolo_task, &j);
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

/* Replaces forward_shortcut_layer() when both inputs have the same shape (ResNet-style
 * YOLOv3 blocks): upstream copies the input, then adds with per-element index
 * arithmetic, then activates, in three passes; this is one pass, same arithmetic
 * (alpha * x + beta * add).  Other shapes keep upstream's function. */
static void shortcut_task(void *ctx, int t)
{
    const plane_job *j = ctx;
    const layer *l = j->l;
    size_t plane = (size_t)l->out_w * l->out_h, n = (size_t)l->outputs * l->batch;
    size_t i0 = (size_t)t * j->per_task * plane, i1 = i0 + (size_t)j->per_task * plane;
    if (i1 > n) i1 = n;
    const float *add = j->add;
    for (size_t i = i0; i < i1; ++i) l->output[i] = l->alpha * j->input[i] + l->beta * add[i];
    if (l->activation != LINEAR) activate_array(l->output + i0, (int)(i1 - i0), l->activation);
}

void pydn_forward_shortcut(layer l, network net)
{
    plane_job j = {&l, net.input, (int)(16384 / ((size_t)l.out_w * l.out_h)) + 1,
                   net.layers[l.index].output};
    int planes = l.batch * l.out_c;
    pydn_parallel_for((planes + j.per_task - 1) / j.per_task, shortcut_task, &j);
}
