/*
 * csrc/fast/layers.c - the other layer forwards of the DARKNET_FAST build, the
 * network loop, threads, scratch memory and the OpenBLAS call.  Each forward below
 * says which upstream function it replaces (through layer.forward) and why.
 */
#include <float.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "activations.h"
#include "fast.h"
#include "pydn.h"
#include "convolutional_layer.h"
#include "maxpool_layer.h"
#include "route_layer.h"
#include "shortcut_layer.h"
#include "upsample_layer.h"
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
    layer *copies; /* forward_images' layer copies */
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

static int shortcut_same_shape(const layer *l)
{
    return l->w == l->out_w && l->h == l->out_h && l->c == l->out_c;
}

static int upsample_forward_only(const layer *l) { return !l->reverse; }

/* Load-time work on a conv layer (each pass too: cheap when done): batch norm folded
 * into the weights, then the weights packed for kernel.c, Winograd-transformed where
 * that suits the layer. */
static void conv_prepare(layer *l)
{
    pydn_fold_batchnorm(l);
    if (!pydn_winograd_prepare(l)) pydn_conv_prepare_gemm(l);
}

/* --- the network ---------------------------------------------------------------------- */

/* The one table of what the fast path replaces: per layer kind, upstream's forward,
 * ours, when ours applies (NULL: always) and load-time preparation (NULL: none).  A
 * conv + 2x2 maxpool pair may then be fused (pydn_forward_conv_pool/_pooled). */
typedef struct {
    LAYER_TYPE type;
    void (*upstream)(layer, network);
    void (*ours)(layer, network);
    int (*applies)(const layer *);
    void (*prepare)(layer *);
} fast_op;

static const fast_op OPS[] = {
    {CONVOLUTIONAL, forward_convolutional_layer, pydn_forward_conv, pydn_conv_supported,
     conv_prepare},
    {MAXPOOL, forward_maxpool_layer, pydn_forward_maxpool, NULL, NULL},
    {UPSAMPLE, forward_upsample_layer, pydn_forward_upsample, upsample_forward_only, NULL},
    {YOLO, forward_yolo_layer, pydn_forward_yolo, NULL, NULL},
    {ROUTE, forward_route_layer, pydn_forward_route, NULL, NULL},
    {SHORTCUT, forward_shortcut_layer, pydn_forward_shortcut, shortcut_same_shape, NULL},
};
#define N_OPS (int)(sizeof OPS / sizeof OPS[0])

static const fast_op *op_of(const layer *l)
{
    for (int k = 0; k < N_OPS; ++k)
        if (OPS[k].type == l->type) return OPS + k;
    return NULL;
}

/* Called after weights are loaded (pydn_load_weights) and before each pydn_forward:
 * cheap when already done (folding skips folded layers, the Winograd transform is kept
 * while the weights stay the same). */
void pydn_fast_prepare(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        const fast_op *op = op_of(l);
        if (!op) continue;
        if (op->prepare) op->prepare(l);
        if (!op->applies || op->applies(l)) l->forward = op->ours;
    }
    for (int i = 0; i + 1 < net->n; ++i) /* conv + maxpool pairs that can be fused */
        if (net->layers[i].forward == pydn_forward_conv && pydn_conv_pool_fusable(net, i)) {
            net->layers[i].forward = pydn_forward_conv_pool;
            net->layers[i + 1].forward = pydn_forward_pooled;
        }
}

/* Back to upstream's layer forwards (weights stay folded, which upstream's code handles
 * as the identity batch norm it is), until the next pydn_fast_prepare.  For tests that
 * compare the two on one network. */
void pydn_fast_restore(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        const fast_op *op = op_of(net->layers + i);
        if (op) net->layers[i].forward = op->upstream;
    }
}

/* Is f one of ours?  (They keep no state outside the image's slice of their buffers,
 * use no shared workspace and never fail.) */
static int is_ours(void (*f)(layer, network))
{
    if (f == pydn_forward_conv_pool || f == pydn_forward_pooled) return 1;
    for (int k = 0; k < N_OPS; ++k)
        if (OPS[k].ours == f) return 1;
    return 0;
}

/* Per-layer wall time of the last forward pass, when profiling is on (diagnostics for
 * the benchmark; one process-wide table, so only meaningful for one network at a time). */
#define PYDN_PROFILE_MAX 4096
static int profile_on;
static double profile_s[PYDN_PROFILE_MAX];
static int profile_n;

/* The profile's clock: pydn_seconds(), or with PYDN_PROFILE_CPU set the calling thread's
 * CPU time (steadier on a busy machine, meaningful with one thread). */
static double profile_seconds(void)
{
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("PYDN_PROFILE_CPU") != NULL;
    if (!cpu) return pydn_seconds();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int pydn_profile(int on)
{
    int was = profile_on;
    profile_on = on;
    return was;
}

int pydn_layer_seconds(double *out, int cap)
{
    int n = profile_n < cap ? profile_n : cap;
    memcpy(out, profile_s, sizeof(double) * n);
    return profile_n;
}

/* Can images run on separate threads (each thread the whole network on its share of
 * the batch)?  Only when every layer is one of ours. */
static int images_independent(const network *net)
{
    for (int i = 0; i < net->n; ++i)
        if (!is_ours(net->layers[i].forward)) return 0;
    return 1;
}

/* Images [b0, b0 + nb) of the batch through the network, on copies of the layers that
 * see only their slice (batch nb, buffers offset to image b0): every forward, ours or
 * upstream's, then works on those images alone, route/shortcut inputs included. */
static void forward_images(const network *net, float *input, int b0, int nb, int profile)
{
    thread_scratch *s = scratch();
    network n = *net;
    n.train = 0;
    n.truth = 0;
    n.delta = 0;
    n.input = input + (size_t)b0 * net->inputs;
    if (b0 != 0 || nb != net->batch) {
        if (s->copies_cap < net->n) {
            free(s->copies);
            s->copies = malloc(sizeof(layer) * net->n);
            if (!s->copies) abort();
            s->copies_cap = net->n;
        }
        layer *copies = s->copies;
        for (int i = 0; i < net->n; ++i) {
            layer l = net->layers[i];
            size_t off = (size_t)b0 * l.outputs;
            l.batch = nb;
            l.output += off;
            if (l.delta) l.delta += off;
            if (l.x) l.x += off;
            if (l.x_norm) l.x_norm += off;
            if (l.indexes) l.indexes += off;
            copies[i] = l;
        }
        n.layers = copies;
        n.batch = nb;
    }
    for (int i = 0; i < n.n; ++i) {
        n.index = i;
        layer l = n.layers[i];
        double t0 = profile ? profile_seconds() : 0;
        l.forward(l, n);
        if (profile && i < PYDN_PROFILE_MAX) profile_s[i] = profile_seconds() - t0;
        n.input = l.output;
        if (l.truth) n.truth = l.output;
    }
}

typedef struct {
    const network *net;
    float *input;
    int per;
} images_job;

static void images_task(void *ctx, int t)
{
    const images_job *j = ctx;
    forward_images(j->net, j->input, t * j->per, j->per, 0);
}

/* Replaces network_predict()/forward_network() for inference: upstream also zero-fills
 * every layer's delta (training gradients) before each forward.  A batch of at least
 * one image per thread runs image-parallel: each thread takes a contiguous share of the
 * images through the whole network (no synchronization between layers, activations
 * stay in that core's cache); images left over run layer-parallel as usual. */
void pydn_forward(network *net, float *input)
{
    pydn_fast_prepare(net); /* a network not loaded through pydn_load_weights */
    int T = pydn_threads(), B = net->batch, done = 0;
    if (T > 1 && B >= T && images_independent(net)) {
        images_job j = {net, input, B / T};
        pydn_parallel_for(T, images_task, &j);
        done = j.per * T;
    }
    if (done < B) forward_images(net, input, done, B - done, profile_on && done == 0);
    if (profile_on && done == 0) profile_n = net->n < PYDN_PROFILE_MAX ? net->n : PYDN_PROFILE_MAX;
}
