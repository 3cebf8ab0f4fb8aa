/*
 * ab_cuda.cu - the fork dialect on the GPU (GPU builds): for a network built while
 * gpu_index >= 0, each layer's forward_gpu computes what its CPU forward of
 * ab_layers.c computes (read those first: the comments there cite the fork), and the
 * device buffers those forwards use.  Upstream's network loop runs them
 * (forward_network_gpu); layers whose CPU forward is upstream's (plain [maxpool],
 * [upsample], [route] without groups) keep upstream's forward_gpu.
 *
 * The per-element arithmetic is ab_act.h's, shared with the CPU code, and the file is
 * compiled with --fmad=false, so that a product and a sum round as on the CPU (x86-64
 * without FMA).  Convolutions are upstream's forward_convolutional_layer_gpu (cuDNN, or
 * im2col + cuBLAS) on the fused weights (pydn_ab_fuse pushes them).  [yolo] pulls its
 * output to the host, as upstream's forward_yolo_layer_gpu: pydn_ab_boxes reads it
 * there.  Inference only: the training buffers are freed.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>

#include "cuda_runtime.h"
#include "curand.h"
#include "cublas_v2.h"

extern "C" {
#include "ab.h"
#include "ab_act.h"
#include "blas.h"
#include "convolutional_layer.h"
#include "cuda.h"
}

__device__ static inline size_t ab_index()
{
    return ((size_t)blockIdx.x + (size_t)blockIdx.y * gridDim.x) * blockDim.x + threadIdx.x;
}

static void launched(void) { check_error(cudaPeekAtLastError()); }

/* --- activations (pydn_ab_activate) ------------------------------------------------- */

__global__ void ab_activate_kernel(float *x, size_t n, int a, int who)
{
    size_t i = ab_index();
    if (i < n) x[i] = pydn_ab_act(x[i], a, who);
}

extern "C" void pydn_ab_activate_gpu(float *x, size_t n, int a, int who)
{
    if (a == LINEAR || n == 0) return;
    ab_activate_kernel<<<cuda_gridsize(n), BLOCK>>>(x, n, a, who);
    launched();
}

/* --- [convolutional]: upstream's convolution + bias, then the fork's activation ----- */

extern "C" void pydn_ab_forward_conv_gpu(layer l, network net)
{
    int a = (int)l.activation;
    l.batch_normalize = 0; /* folded into weights_gpu, biases_gpu (pydn_ab_fuse) */
    l.activation = LINEAR;
    forward_convolutional_layer_gpu(l, net);
    pydn_ab_activate_gpu(l.output_gpu, (size_t)l.outputs * l.batch, a, AB_ACT_CONV);
}

/* --- [route] groups=: part group_id of each input ----------------------------------- */

extern "C" void pydn_ab_forward_route_gpu(layer l, network net)
{
    size_t offset = 0;
    for (int i = 0; i < l.n; ++i) {
        float *input = net.layers[l.input_layers[i]].output_gpu;
        size_t size = l.input_sizes[i], part = size / l.groups;
        for (int b = 0; b < l.batch; ++b)
            copy_gpu((int)part, input + b * size + part * l.ab_group_id, 1,
                     l.output_gpu + offset + (size_t)b * l.outputs, 1);
        offset += part;
    }
}

/* --- [shortcut]: input (times its weight) plus each from= layer in turn -------------- */

#define AB_FROM_MAX 8 /* from= layers per kernel; more take further kernels, in order */
struct ab_adds {
    const float *p[AB_FROM_MAX];
    int size[AB_FROM_MAX];
    int first, count;
};

/* in: this layer's input for the first kernel, NULL for the next ones (which add to
 * out).  The additions are in the CPU's order, one rounding each. */
__global__ void ab_shortcut_kernel(size_t size, int outputs, const float *in, float *out,
                                   ab_adds adds, const float *w, int layer_step, int step)
{
    size_t id = ab_index();
    if (id >= size) return;
    int src_i = id % outputs, src_b = id / outputs;
    float v = in ? (w ? in[id] * w[src_i / step] : in[id]) : out[id];
    for (int k = 0; k < adds.count; ++k) {
        int add_outputs = adds.size[k];
        if (src_i >= add_outputs) continue;
        float a = adds.p[k][(size_t)add_outputs * src_b + src_i];
        v += w ? a * w[src_i / step + (adds.first + k + 1) * layer_step] : a;
    }
    out[id] = v;
}

extern "C" void pydn_ab_forward_shortcut_gpu(layer l, network net)
{
    int nw = l.nweights, outputs = l.outputs;
    const float *w = nw ? l.weights_gpu : NULL;
    int layer_step = nw / (l.n + 1), step = nw ? outputs / layer_step : 0;
    size_t size = (size_t)outputs * l.batch;
    for (int first = 0; first < l.n; first += AB_FROM_MAX) {
        ab_adds adds;
        adds.first = first;
        adds.count = l.n - first < AB_FROM_MAX ? l.n - first : AB_FROM_MAX;
        for (int k = 0; k < adds.count; ++k) {
            adds.p[k] = net.layers[l.input_layers[first + k]].output_gpu;
            adds.size[k] = l.input_sizes[first + k];
        }
        const float *in = first ? NULL : net.input_gpu;
        ab_shortcut_kernel<<<cuda_gridsize(size), BLOCK>>>(size, outputs, in, l.output_gpu, adds,
                                                           w, layer_step, step);
        launched();
    }
    pydn_ab_activate_gpu(l.output_gpu, size, (int)l.activation, AB_ACT_SHORTCUT);
}

/* --- [maxpool] stride_x != stride_y, or maxpool_depth -------------------------------- */

__global__ void ab_maxpool_depth_kernel(size_t n, int plane, int c, int out_c, const float *in,
                                        float *out)
{
    size_t id = ab_index();
    if (id >= n) return;
    int i = id % plane, g = (id / plane) % out_c;
    size_t b = id / plane / out_c;
    float max = -FLT_MAX;
    for (int k = g; k < c; k += out_c) {
        float v = in[i + (size_t)plane * (k + (size_t)c * b)];
        max = v > max ? v : max;
    }
    out[id] = max;
}

__global__ void ab_maxpool_kernel(size_t n, int w, int h, int out_w, int out_h, int size,
                                  int sx, int sy, int off, const float *in, float *out)
{
    size_t id = ab_index();
    if (id >= n) return;
    int j = id % out_w, i = (id / out_w) % out_h;
    const float *plane = in + (size_t)w * h * (id / out_w / out_h); /* channel k of image b */
    float max = -FLT_MAX;
    for (int dy = 0; dy < size; ++dy)
        for (int dx = 0; dx < size; ++dx) {
            int y = off + i * sy + dy, x = off + j * sx + dx;
            float v = (y >= 0 && y < h && x >= 0 && x < w) ? plane[y * w + x] : -FLT_MAX;
            max = v > max ? v : max;
        }
    out[id] = max;
}

extern "C" void pydn_ab_forward_maxpool_gpu(layer l, network net)
{
    size_t n = (size_t)l.outputs * l.batch;
    if (l.ab_maxpool_depth)
        ab_maxpool_depth_kernel<<<cuda_gridsize(n), BLOCK>>>(n, l.w * l.h, l.c, l.out_c,
                                                             net.input_gpu, l.output_gpu);
    else
        ab_maxpool_kernel<<<cuda_gridsize(n), BLOCK>>>(n, l.w, l.h, l.out_w, l.out_h, l.size,
                                                       l.stride, l.ab_stride_y, -l.pad / 2,
                                                       net.input_gpu, l.output_gpu);
    launched();
}

/* --- [reorg3d]: reorg over the output's dimensions (upstream's kernel = reorg_cpu) --- */

extern "C" void pydn_ab_forward_reorg_gpu(layer l, network net)
{
    reorg_gpu(net.input_gpu, l.out_w, l.out_h, l.out_c, l.batch, l.stride, l.reverse,
              l.output_gpu);
}

/* --- [sam], [scale_channels] -------------------------------------------------------- */

/* out[i] = in[at] * from[i], at = i (sam), i / channel (per channel), or the pixel of
 * image b (scale_wh) */
__global__ void ab_scale_kernel(size_t n, int kind, size_t channel, size_t per_image,
                                const float *in, const float *from, float *out)
{
    size_t i = ab_index();
    if (i >= n) return;
    size_t at = kind == 0 ? i : kind == 1 ? i / channel : i % channel + i / per_image * channel;
    out[i] = in[at] * from[i];
}

static void scale_by(layer l, network net, int kind)
{
    size_t n = (size_t)l.batch * l.outputs, channel = (size_t)l.out_w * l.out_h;
    ab_scale_kernel<<<cuda_gridsize(n), BLOCK>>>(n, kind, channel, channel * l.out_c,
                                                 net.input_gpu, net.layers[l.index].output_gpu,
                                                 l.output_gpu);
    launched();
    pydn_ab_activate_gpu(l.output_gpu, n, (int)l.activation, AB_ACT_PLAIN);
}

extern "C" void pydn_ab_forward_sam_gpu(layer l, network net) { scale_by(l, net, 0); }

extern "C" void pydn_ab_forward_scale_channels_gpu(layer l, network net)
{
    scale_by(l, net, l.ab_scale_wh ? 2 : 1);
}

/* --- [yolo]: logistic (not with new_coords), x, y scaled; then to the host ----------- */

__global__ void ab_yolo_kernel(size_t n, int outputs, int plane, int entries, int new_coords,
                               float alpha, float beta, float *x)
{
    size_t id = ab_index();
    if (id >= n) return;
    int e = (int)(id % outputs / plane % entries); /* entry of anchor, cell */
    float v = x[id];
    if (e < 2) {
        if (!new_coords) v = pydn_ab_logistic(v);
        v = v * alpha + beta;
    } else if (e >= 4 && !new_coords) {
        v = pydn_ab_logistic(v);
    }
    x[id] = v;
}

extern "C" void pydn_ab_forward_yolo_gpu(layer l, network net)
{
    size_t n = (size_t)l.outputs * l.batch;
    float alpha = l.ab_scale_x_y, beta = -0.5 * (l.ab_scale_x_y - 1);
    copy_gpu((int)n, net.input_gpu, 1, l.output_gpu, 1);
    ab_yolo_kernel<<<cuda_gridsize(n), BLOCK>>>(n, l.outputs, l.w * l.h, 4 + l.classes + 1,
                                                l.ab_new_coords, alpha, beta, l.output_gpu);
    launched();
    cuda_pull_array(l.output_gpu, l.output, n);
}

/* --- set-up -------------------------------------------------------------------------- */

static void drop(float **p)
{
    if (*p) cuda_free(*p);
    *p = NULL;
}

static const struct {
    void (*cpu)(layer, network);
    void (*gpu)(layer, network);
} forwards[] = {
    {pydn_ab_forward_conv, pydn_ab_forward_conv_gpu},
    {pydn_ab_forward_route, pydn_ab_forward_route_gpu},
    {pydn_ab_forward_shortcut, pydn_ab_forward_shortcut_gpu},
    {pydn_ab_forward_maxpool, pydn_ab_forward_maxpool_gpu},
    {pydn_ab_forward_reorg, pydn_ab_forward_reorg_gpu},
    {pydn_ab_forward_sam, pydn_ab_forward_sam_gpu},
    {pydn_ab_forward_scale_channels, pydn_ab_forward_scale_channels_gpu},
    {pydn_ab_forward_yolo, pydn_ab_forward_yolo_gpu},
};

extern "C" int pydn_ab_gpu_layer(layer *l)
{
    int ours = 0;
    for (size_t i = 0; i < sizeof forwards / sizeof forwards[0]; ++i)
        if (l->forward == forwards[i].cpu) {
            l->forward_gpu = forwards[i].gpu;
            ours = 1;
        }
    if (!l->forward_gpu) return pydn_ab_refuse("layer type %d has no GPU forward", (int)l->type);
    if (l->forward == pydn_ab_forward_maxpool) { /* upstream's buffers had its geometry */
        drop(&l->output_gpu);
        drop((float **)&l->indexes_gpu);
    }
    if (!l->output_gpu) l->output_gpu = cuda_make_array(l->output, (size_t)l->outputs * l->batch);
    if (ours && l->type == SHORTCUT && l->nweights && !l->weights_gpu)
        l->weights_gpu = cuda_make_array(l->weights, l->nweights);
    /* training only: forward_network_gpu would clear delta_gpu before every layer */
    drop(&l->delta_gpu);
    drop(&l->x_gpu);
    drop(&l->x_norm_gpu);
    drop(&l->weight_updates_gpu);
    drop(&l->bias_updates_gpu);
    return 0;
}

extern "C" void pydn_ab_gpu_network(network *net, pydn_ab_net *info, size_t workspace)
{
    net->input_gpu = cuda_make_array(net->input, net->inputs);
    net->output_gpu = net->layers[net->n - 1].output_gpu;
    if (workspace) net->workspace = cuda_make_array(0, (workspace - 1) / sizeof(float) + 1);
    info->gpu_batch = 1;
    info->gpu_workspace = workspace;
}

extern "C" void pydn_ab_gpu_push(network *net)
{
    cuda_set_device(net->gpu_index);
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        if (l->type == CONVOLUTIONAL) {
            cuda_push_array(l->weights_gpu, l->weights, l->nweights);
            cuda_push_array(l->biases_gpu, l->biases, l->n);
        }
        if (l->type == SHORTCUT && l->weights_gpu)
            cuda_push_array(l->weights_gpu, l->weights, l->nweights);
    }
}

static void regrow(float **p, size_t n)
{
    drop(p);
    *p = cuda_make_array(0, n);
}

/* pydn_batch_network has set every layer's batch (and with cuDNN each convolution's
 * descriptors and algorithm for it): the buffers grow to `batch` images once, the
 * workspace to what the algorithms now need (cudnnConvolutionForward is told each
 * layer's workspace_size). */
extern "C" void pydn_ab_gpu_fit_batch(network *net, pydn_ab_net *info, int batch)
{
    cuda_set_device(net->gpu_index);
    if (batch > info->gpu_batch) {
        regrow(&net->input_gpu, (size_t)net->inputs * batch);
        for (int i = 0; i < net->n; ++i) {
            layer *l = net->layers + i;
            regrow(&l->output_gpu, (size_t)l->outputs * batch);
            if (l->indexes_gpu) {
                drop((float **)&l->indexes_gpu);
                l->indexes_gpu = cuda_make_int_array(0, (size_t)l->outputs * batch);
            }
        }
        net->output_gpu = net->layers[net->n - 1].output_gpu;
        info->gpu_batch = batch;
    }
#ifdef CUDNN
    size_t need = 0;
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        if (l->type != CONVOLUTIONAL) continue;
        size_t s = 0;
        cudnnGetConvolutionForwardWorkspaceSize(cudnn_handle(), l->srcTensorDesc, l->weightDesc,
                                                l->convDesc, l->dstTensorDesc, l->fw_algo, &s);
        l->workspace_size = s;
        if (s > need) need = s;
    }
    if (need > info->gpu_workspace) {
        regrow(&net->workspace, (need - 1) / sizeof(float) + 1);
        info->gpu_workspace = need;
    }
#endif
}
