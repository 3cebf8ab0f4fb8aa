/*
 * pydn_cuda_compat.h - force-included (gcc -include) into every upstream Darknet C file
 * of a GPU build, after pydn_trap.h.  It lets pjreddie's 2018 CUDA code compile against
 * CUDA 12/13 and cuDNN 8/9 without touching darknet/:
 *
 *   - cudaThreadSynchronize() (removed in CUDA 12; src/gemm.c) is cudaDeviceSynchronize().
 *   - cudnnGetConvolution{Forward,BackwardData,BackwardFilter}Algorithm() and their
 *     *_PREFERENCE enums were removed in cuDNN 8 (src/convolutional_layer.c
 *     cudnn_convolutional_setup).  They are renamed to pydn_* functions, implemented in
 *     pydn_cuda_compat.c with the *_v7 queries, with the same meaning: the fastest
 *     algorithm whose workspace fits the limit.
 *   - A GPU build must also run networks on the CPU (gpu_index = -1), also on a machine
 *     with no GPU or driver.  Upstream's layer constructors and parse_network_cfg()
 *     allocate GPU buffers whatever gpu_index says, so cuda_make_array() and
 *     cuda_make_int_array() are renamed to wrappers that return NULL while gpu_index < 0
 *     (only constructors allocate: no inference path does), and cuda_free() to one that
 *     skips NULL.  src/cuda.c itself is compiled with PYDN_CUDA_C and keeps the originals.
 *   - The yolo, region and iseg layers' CPU forward leaves its logistic/softmax step out
 *     under #ifdef GPU (the GPU forward does it, then calls the CPU one).  src/parser.c
 *     (compiled with PYDN_PARSER_C) builds them through wrappers that give CPU layers a
 *     forward doing that step first, as a CPU build's does.
 *
 * Built with -DGPU (and -DCUDNN) like darknet.h expects; the cffi extension sees the same
 * definitions, so the network/layer structs have the same layout on both sides.
 */
#ifndef PYDN_CUDA_COMPAT_H
#define PYDN_CUDA_COMPAT_H

#ifdef GPU
#include <cuda_runtime.h>

#define cudaThreadSynchronize cudaDeviceSynchronize

#ifndef PYDN_CUDA_C
#define cuda_make_array pydn_cuda_make_array
#define cuda_make_int_array pydn_cuda_make_int_array
#define cuda_free pydn_cuda_free
#endif

/* In src/parser.c only: the detection layers' constructors, wrapped so that CPU
 * networks get a CPU forward (pydn_cuda_compat.c). */
#ifdef PYDN_PARSER_C
#define make_yolo_layer pydn_make_yolo_layer
#define make_region_layer pydn_make_region_layer
#define make_iseg_layer pydn_make_iseg_layer
#endif

#ifdef CUDNN
#include <cudnn.h>

#if CUDNN_MAJOR >= 8
typedef enum {
    CUDNN_CONVOLUTION_FWD_NO_WORKSPACE = 0,
    CUDNN_CONVOLUTION_FWD_PREFER_FASTEST = 1,
    CUDNN_CONVOLUTION_FWD_SPECIFY_WORKSPACE_LIMIT = 2
} cudnnConvolutionFwdPreference_t;

typedef enum {
    CUDNN_CONVOLUTION_BWD_DATA_NO_WORKSPACE = 0,
    CUDNN_CONVOLUTION_BWD_DATA_PREFER_FASTEST = 1,
    CUDNN_CONVOLUTION_BWD_DATA_SPECIFY_WORKSPACE_LIMIT = 2
} cudnnConvolutionBwdDataPreference_t;

typedef enum {
    CUDNN_CONVOLUTION_BWD_FILTER_NO_WORKSPACE = 0,
    CUDNN_CONVOLUTION_BWD_FILTER_PREFER_FASTEST = 1,
    CUDNN_CONVOLUTION_BWD_FILTER_SPECIFY_WORKSPACE_LIMIT = 2
} cudnnConvolutionBwdFilterPreference_t;

#define cudnnGetConvolutionForwardAlgorithm pydn_cudnnGetConvolutionForwardAlgorithm
#define cudnnGetConvolutionBackwardDataAlgorithm pydn_cudnnGetConvolutionBackwardDataAlgorithm
#define cudnnGetConvolutionBackwardFilterAlgorithm pydn_cudnnGetConvolutionBackwardFilterAlgorithm

cudnnStatus_t pydn_cudnnGetConvolutionForwardAlgorithm(
    cudnnHandle_t handle, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
    cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y,
    cudnnConvolutionFwdPreference_t preference, size_t limit, cudnnConvolutionFwdAlgo_t *algo);
cudnnStatus_t pydn_cudnnGetConvolutionBackwardDataAlgorithm(
    cudnnHandle_t handle, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy,
    cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t dx,
    cudnnConvolutionBwdDataPreference_t preference, size_t limit,
    cudnnConvolutionBwdDataAlgo_t *algo);
cudnnStatus_t pydn_cudnnGetConvolutionBackwardFilterAlgorithm(
    cudnnHandle_t handle, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy,
    cudnnConvolutionDescriptor_t conv, cudnnFilterDescriptor_t dw,
    cudnnConvolutionBwdFilterPreference_t preference, size_t limit,
    cudnnConvolutionBwdFilterAlgo_t *algo);
#endif /* CUDNN_MAJOR >= 8 */
#endif /* CUDNN */
#endif /* GPU */

#endif /* PYDN_CUDA_COMPAT_H */
