/*
 * pydn_cuda_compat.c - what pydn_cuda_compat.h renames upstream's calls to:
 *
 * 1. cuDNN's pre-8 algorithm queries, which pjreddie's Darknet calls
 *    (src/convolutional_layer.c cudnn_convolutional_setup) and cuDNN 8 removed.  Old
 *    meaning, kept: with *_SPECIFY_WORKSPACE_LIMIT, the fastest algorithm whose workspace
 *    fits in `limit` bytes; with *_NO_WORKSPACE, the fastest needing none; with
 *    *_PREFER_FASTEST, the fastest.  The *_v7 queries return cuDNN's heuristic ranking,
 *    fastest first, so the first usable entry is the answer.
 *    Math: cuDNN lets fp32 convolutions use TF32 tensor cores on Ampere and newer, which
 *    changes results in the 3rd-4th significant digit.  Darknet is an fp32 framework, so
 *    the descriptor is set to FMA math and TF32 algorithms are skipped, unless the
 *    environment says PYDARKNET_CUDNN_TF32=1 (faster, slightly different numbers).
 * 2. A CPU forward for the yolo, region and iseg layers of CPU networks.
 * 3. GPU allocations that a CPU network skips.
 */
#include <stdlib.h>
#include <string.h>

/* The wrappers below call the originals: no renaming here. */
#define PYDN_CUDA_C
#include "pydn_cuda_compat.h"

#if defined(GPU) && defined(CUDNN) && CUDNN_MAJOR >= 8

static int tf32_allowed(cudnnConvolutionDescriptor_t conv)
{
    const char *v = getenv("PYDARKNET_CUDNN_TF32");
    int allowed = v && v[0] == '1';
    if (!allowed) cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH);
    return allowed;
}

/* Index of the first usable entry of a *_v7 result list, or -1. */
#define PYDN_PICK(perf, count, preference, limit, tf32, out)                                \
    do {                                                                                \
        out = -1;                                                                       \
        for (int i_ = 0; i_ < (count) && out < 0; ++i_) {                               \
            if (perf[i_].status != CUDNN_STATUS_SUCCESS) continue;                      \
            if ((preference) == 0 && perf[i_].memory != 0) continue;  /* NO_WORKSPACE */ \
            if ((preference) == 2 && perf[i_].memory > (limit)) continue; /* LIMIT */   \
            if (!(tf32) && (perf[i_].mathType == CUDNN_TENSOR_OP_MATH ||                \
                            perf[i_].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))  \
                continue;                                                               \
            out = i_;                                                                   \
        }                                                                               \
    } while (0)

cudnnStatus_t pydn_cudnnGetConvolutionForwardAlgorithm(
    cudnnHandle_t handle, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
    cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y,
    cudnnConvolutionFwdPreference_t preference, size_t limit, cudnnConvolutionFwdAlgo_t *algo)
{
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0, pick;
    int tf32 = tf32_allowed(conv);
    *algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;  /* needs no workspace */
    cudnnStatus_t st = cudnnGetConvolutionForwardAlgorithm_v7(
        handle, x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    PYDN_PICK(perf, count, preference, limit, tf32, pick);
    if (pick < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *algo = perf[pick].algo;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t pydn_cudnnGetConvolutionBackwardDataAlgorithm(
    cudnnHandle_t handle, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy,
    cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t dx,
    cudnnConvolutionBwdDataPreference_t preference, size_t limit,
    cudnnConvolutionBwdDataAlgo_t *algo)
{
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0, pick;
    int tf32 = tf32_allowed(conv);
    *algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
    cudnnStatus_t st = cudnnGetConvolutionBackwardDataAlgorithm_v7(
        handle, w, dy, conv, dx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, perf);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    PYDN_PICK(perf, count, preference, limit, tf32, pick);
    if (pick < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *algo = perf[pick].algo;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t pydn_cudnnGetConvolutionBackwardFilterAlgorithm(
    cudnnHandle_t handle, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy,
    cudnnConvolutionDescriptor_t conv, cudnnFilterDescriptor_t dw,
    cudnnConvolutionBwdFilterPreference_t preference, size_t limit,
    cudnnConvolutionBwdFilterAlgo_t *algo)
{
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int count = 0, pick;
    int tf32 = tf32_allowed(conv);
    *algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0;
    cudnnStatus_t st = cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        handle, x, dy, conv, dw, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, perf);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    PYDN_PICK(perf, count, preference, limit, tf32, pick);
    if (pick < 0) return CUDNN_STATUS_NOT_SUPPORTED;
    *algo = perf[pick].algo;
    return CUDNN_STATUS_SUCCESS;
}

#endif /* GPU && CUDNN && CUDNN_MAJOR >= 8 */

#ifdef GPU
#include "activations.h"
#include "blas.h"
#include "iseg_layer.h"
#include "region_layer.h"
#include "yolo_layer.h"

/* --- CPU forward of detection layers (why: pydn_cuda_compat.h) ----------------------
 * Each applies the activations that upstream's CPU forward does only in a CPU build
 * (its #ifndef GPU block, copied), to a copy of the input, then runs upstream's forward
 * on that copy: what forward_*_layer_gpu() does with the GPU's activated values. */

static float *input_copy(const layer l, network net)
{
    size_t n = (size_t)l.batch * l.inputs;
    float *in = malloc(sizeof(float) * n);
    memcpy(in, net.input, sizeof(float) * n);
    return in;
}

/* src/yolo_layer.c entry_index() */
static int yolo_entry(layer l, int batch, int location, int entry)
{
    int n = location / (l.w * l.h), loc = location % (l.w * l.h);
    return batch * l.outputs + n * l.w * l.h * (4 + l.classes + 1) + entry * l.w * l.h + loc;
}

static void forward_yolo_cpu(const layer l, network net)
{
    float *in = input_copy(l, net);
    for (int b = 0; b < l.batch; ++b) {  /* src/yolo_layer.c forward_yolo_layer() */
        for (int n = 0; n < l.n; ++n) {
            activate_array(in + yolo_entry(l, b, n * l.w * l.h, 0), 2 * l.w * l.h, LOGISTIC);
            activate_array(in + yolo_entry(l, b, n * l.w * l.h, 4), (1 + l.classes) * l.w * l.h,
                           LOGISTIC);
        }
    }
    network cpu = net;
    cpu.input = in;
    forward_yolo_layer(l, cpu);
    free(in);
}

/* src/region_layer.c entry_index() */
static int region_entry(layer l, int batch, int location, int entry)
{
    int n = location / (l.w * l.h), loc = location % (l.w * l.h);
    return batch * l.outputs + n * l.w * l.h * (l.coords + l.classes + 1) + entry * l.w * l.h +
           loc;
}

static void forward_region_cpu(const layer l, network net)
{
    float *in = input_copy(l, net);
    for (int b = 0; b < l.batch; ++b) {  /* src/region_layer.c forward_region_layer() */
        for (int n = 0; n < l.n; ++n) {
            int loc = n * l.w * l.h;
            activate_array(in + region_entry(l, b, loc, 0), 2 * l.w * l.h, LOGISTIC);
            if (!l.background)
                activate_array(in + region_entry(l, b, loc, l.coords), l.w * l.h, LOGISTIC);
            if (!l.softmax && !l.softmax_tree)
                activate_array(in + region_entry(l, b, loc, l.coords + 1),
                               l.classes * l.w * l.h, LOGISTIC);
        }
    }
    if (l.softmax_tree) {
        int count = l.coords + 1;
        for (int i = 0; i < l.softmax_tree->groups; ++i) {
            int group_size = l.softmax_tree->group_size[i];
            softmax_cpu(net.input + count, group_size, l.batch, l.inputs, l.n * l.w * l.h, 1,
                        l.n * l.w * l.h, l.temperature, in + count);
            count += group_size;
        }
    } else if (l.softmax) {
        int index = region_entry(l, 0, 0, l.coords + !l.background);
        softmax_cpu(net.input + index, l.classes + l.background, l.batch * l.n, l.inputs / l.n,
                    l.w * l.h, 1, l.w * l.h, 1, in + index);
    }
    network cpu = net;
    cpu.input = in;
    forward_region_layer(l, cpu);
    free(in);
}

static void forward_iseg_cpu(const layer l, network net)
{
    float *in = input_copy(l, net);
    for (int b = 0; b < l.batch; ++b)  /* src/iseg_layer.c forward_iseg_layer() */
        activate_array(in + b * l.outputs, l.classes * l.w * l.h, LOGISTIC);
    network cpu = net;
    cpu.input = in;
    forward_iseg_layer(l, cpu);
    free(in);
}

layer pydn_make_yolo_layer(int batch, int w, int h, int n, int total, int *mask, int classes)
{
    layer l = make_yolo_layer(batch, w, h, n, total, mask, classes);
    if (gpu_index < 0) l.forward = forward_yolo_cpu;
    return l;
}

layer pydn_make_region_layer(int batch, int w, int h, int n, int classes, int coords)
{
    layer l = make_region_layer(batch, w, h, n, classes, coords);
    if (gpu_index < 0) l.forward = forward_region_cpu;
    return l;
}

layer pydn_make_iseg_layer(int batch, int w, int h, int classes, int ids)
{
    layer l = make_iseg_layer(batch, w, h, classes, ids);
    if (gpu_index < 0) l.forward = forward_iseg_cpu;
    return l;
}

/* --- allocation wrappers ------------------------------------------------------------
 * The originals in src/cuda.c (why: pydn_cuda_compat.h). */
extern int gpu_index;
float *cuda_make_array(float *x, size_t n);
int *cuda_make_int_array(int *x, size_t n);
void cuda_free(float *x_gpu);

float *pydn_cuda_make_array(float *x, size_t n)
{
    return gpu_index < 0 ? NULL : cuda_make_array(x, n);
}

int *pydn_cuda_make_int_array(int *x, size_t n)
{
    return gpu_index < 0 ? NULL : cuda_make_int_array(x, n);
}

void pydn_cuda_free(float *x_gpu)
{
    if (x_gpu) cuda_free(x_gpu);
}
#endif /* GPU */
