/*
 * csrc/fast/network.c - the network side of the DARKNET_FAST build: the one table of
 * the layer forwards it replaces (installed by pydn_fast_prepare, put back by
 * pydn_fast_restore), per-layer profiling and the forward pass (pydn_forward).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ab/ab.h"
#include "fast.h"
#include "pydn.h"
#include "convolutional_layer.h"
#include "maxpool_layer.h"
#include "route_layer.h"
#include "shortcut_layer.h"
#include "upsample_layer.h"
#include "yolo_layer.h"

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

/* The one table of what the fast path replaces: per layer kind (and dialect: -1 both,
 * else PYDN_PJREDDIE or PYDN_ALEXEYAB), the forward it replaces, ours, when ours
 * applies (NULL: always) and load-time preparation (NULL: none).  A layer whose forward
 * is another one (the fork's own layers, csrc/ab) is left alone.  A conv + 2x2 maxpool
 * pair may then be fused (pydn_forward_conv_pool/_pooled). */
typedef struct {
    LAYER_TYPE type;
    int dialect;
    void (*upstream)(layer, network);
    void (*ours)(layer, network);
    int (*applies)(const layer *);
    void (*prepare)(layer *);
} fast_op;

static const fast_op OPS[] = {
    {CONVOLUTIONAL, PYDN_PJREDDIE, forward_convolutional_layer, pydn_forward_conv,
     pydn_conv_supported, conv_prepare},
    {CONVOLUTIONAL, PYDN_ALEXEYAB, pydn_ab_forward_conv, pydn_forward_conv, pydn_conv_supported,
     conv_prepare}, /* batch norm folded the fork's way at load: conv_prepare's is a no-op */
    {MAXPOOL, -1, forward_maxpool_layer, pydn_forward_maxpool, NULL, NULL},
    {UPSAMPLE, -1, forward_upsample_layer, pydn_forward_upsample, upsample_forward_only, NULL},
    {YOLO, -1, forward_yolo_layer, pydn_forward_yolo, NULL, NULL},
    {ROUTE, -1, forward_route_layer, pydn_forward_route, NULL, NULL},
    {SHORTCUT, -1, forward_shortcut_layer, pydn_forward_shortcut, shortcut_same_shape, NULL},
};
#define N_OPS (int)(sizeof OPS / sizeof OPS[0])

static const fast_op *op_of(const layer *l, int dialect)
{
    void (*f)(layer, network) = l->forward;
    for (int k = 0; k < N_OPS; ++k)
        if (OPS[k].type == l->type && (OPS[k].dialect < 0 || OPS[k].dialect == dialect) &&
            (f == OPS[k].upstream || f == OPS[k].ours || f == pydn_forward_conv_pool ||
             f == pydn_forward_pooled))
            return OPS + k;
    return NULL;
}

/* Called after weights are loaded (pydn_load_weights) and before each pydn_forward:
 * cheap when already done (folding skips folded layers, the Winograd transform is kept
 * while the weights stay the same). */
void pydn_fast_prepare(network *net)
{
    int dialect = pydn_network_dialect(net);
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        const fast_op *op = op_of(l, dialect);
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
    int dialect = pydn_network_dialect(net);
    for (int i = 0; i < net->n; ++i) {
        const fast_op *op = op_of(net->layers + i, dialect);
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
 * the batch)?  Only when every layer is one of ours (or the fork's that qualify). */
static int images_independent(const network *net)
{
    for (int i = 0; i < net->n; ++i)
        if (!is_ours(net->layers[i].forward) && !pydn_ab_independent(net->layers[i].forward))
            return 0;
    return 1;
}

/* Images [b0, b0 + nb) of the batch through the network, on copies of the layers that
 * see only their slice (batch nb, buffers offset to image b0): every forward, ours or
 * upstream's, then works on those images alone, route/shortcut inputs included. */
static void forward_images(const network *net, float *input, int b0, int nb, int profile)
{
    network n = *net;
    n.train = 0;
    n.truth = 0;
    n.delta = 0;
    n.input = input + (size_t)b0 * net->inputs;
    if (b0 != 0 || nb != net->batch) {
        layer *copies = pydn_scratch_layers(net->n);
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
