/*
 * pydn_device.c - device selection and GPU queries (see pydn_device.h), compiled into
 * both builds: in a CPU build the queries answer "no GPU" and selecting one fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pydn_device.h"

#ifdef GPU
#include <cuda_runtime.h>
#endif
#ifdef CUDNN
#include <cudnn.h>
#endif

int pydn_build_flags(void)
{
    int flags = 0;
#ifdef GPU
    flags |= PYDN_BUILD_GPU;
#endif
#ifdef CUDNN
    flags |= PYDN_BUILD_CUDNN;
#endif
    return flags;
}

int pydn_gpu_count(int *count)
{
    *count = 0;
#ifdef GPU
    cudaError_t st = cudaGetDeviceCount(count);
    if (st != cudaSuccess) {
        *count = 0;
        cudaGetLastError();  /* else Darknet's next check_error() reports it as its own */
        pydn_set_error("%s (%s)", cudaGetErrorString(st), cudaGetErrorName(st));
        return -1;
    }
#endif
    return 0;
}

void pydn_cuda_versions(int *runtime, int *driver, int *cudnn)
{
    *runtime = *driver = *cudnn = 0;
#ifdef GPU
    if (cudaRuntimeGetVersion(runtime) != cudaSuccess) *runtime = 0;
    if (cudaDriverGetVersion(driver) != cudaSuccess) *driver = 0;
    cudaGetLastError();
#endif
#ifdef CUDNN
    *cudnn = (int)cudnnGetVersion();
#endif
}

static int check_gpu(int gpu)
{
    int count = 0;
    if (pydn_gpu_count(&count) != 0) return -1;
    if (gpu >= count) {
        pydn_set_error("there is no GPU %d: CUDA sees %d device(s)", gpu, count);
        return -1;
    }
    return 0;
}

int pydn_gpu_name(int gpu, char *buf, int len)
{
    buf[0] = 0;
#ifdef GPU
    if (check_gpu(gpu) != 0) return -1;
    struct cudaDeviceProp prop;
    cudaError_t st = cudaGetDeviceProperties(&prop, gpu);
    if (st != cudaSuccess) {
        cudaGetLastError();
        pydn_set_error("%s", cudaGetErrorString(st));
        return -1;
    }
    snprintf(buf, len, "%s (sm_%d%d, %zu MiB)", prop.name, prop.major, prop.minor,
             prop.totalGlobalMem >> 20);
    return 0;
#else
    (void)len;
    pydn_set_error("pydarknet was built without CUDA: there is no GPU %d", gpu);
    return -1;
#endif
}

#ifdef GPU
static int select_gpu(int gpu)
{
    PYDN_GUARD_BEGIN
    cuda_set_device(gpu);  /* sets gpu_index; a CUDA failure ends in the guard */
    PYDN_GUARD_END
}
#endif

int pydn_use_device(int gpu)
{
    if (gpu < 0) {
        gpu_index = -1;
        return 0;
    }
#ifdef GPU
    if (check_gpu(gpu) != 0) return -1;
    return select_gpu(gpu);
#else
    pydn_set_error("pydarknet was built without CUDA: it cannot use GPU %d", gpu);
    return -1;
#endif
}

void pydn_batch_network(network *net, int batch)
{
#ifdef CUDNN
    if (net->gpu_index >= 0) {
        set_batch_network(net, batch);
        return;
    }
#endif
    /* src/network.c set_batch_network(), less its cuDNN descriptor updates: a CPU
     * network has no descriptors, and cudnn_handle() would need a GPU. */
    net->batch = batch;
    for (int i = 0; i < net->n; ++i) net->layers[i].batch = batch;
}

int pydn_layer_output(network *net, int i, float *out, size_t n)
{
    if (i < 0 || i >= net->n || n > (size_t)net->layers[i].outputs * net->batch) {
        pydn_set_error("layer %d of %d, %zu floats: out of range", i, net->n, n);
        return -1;
    }
    layer *l = net->layers + i;
#ifdef GPU
    if (net->gpu_index >= 0 && l->output_gpu) {
        PYDN_GUARD_BEGIN
        cuda_set_device(net->gpu_index);
        cuda_pull_array(l->output_gpu, out, n);
        PYDN_GUARD_END
    }
#endif
    memcpy(out, l->output, sizeof(float) * n);
    return 0;
}
