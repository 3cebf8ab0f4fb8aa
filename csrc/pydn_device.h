/*
 * pydn_device.h - which device Darknet runs on, and what CUDA this build and machine
 * offer (pydn_device.c).  Same conventions as pydn.h: 0 on success, -1 with
 * pydn_last_error() set on failure.
 */
#ifndef PYDN_DEVICE_H
#define PYDN_DEVICE_H

#include "pydn.h"

#define PYDN_BUILD_GPU 1
#define PYDN_BUILD_CUDNN 2

int pydn_build_flags(void);  /* PYDN_BUILD_* bits this library was compiled with */
/* CUDA devices this process can use; -1 (count 0) when the runtime cannot tell, e.g.
 * no driver.  Never raises a Darknet error, so it is safe to probe with. */
int pydn_gpu_count(int *count);
/* cudaRuntimeGetVersion, cudaDriverGetVersion (0: no driver), cudnnGetVersion (0: none) */
void pydn_cuda_versions(int *runtime, int *driver, int *cudnn);
int pydn_gpu_name(int gpu, char *buf, int len);
/* Darknet's global gpu_index, read by parse_network_cfg() and load_weights(): networks
 * built next live on GPU `gpu`, or on the CPU for gpu < 0.  Checks the device exists. */
int pydn_use_device(int gpu);
/* set_batch_network() that a CPU network of a cuDNN build survives (upstream's sets up
 * cuDNN descriptors whatever the device).  Unguarded: for use inside guarded entry
 * points; `batch` must not exceed the batch the network's buffers were allocated for. */
void pydn_batch_network(network *net, int batch);
/* Layer i's output after a forward pass: its first n floats (at most outputs x batch)
 * into out, from the device for a network on a GPU (where the host holds only the
 * last layer's and the detection layers'). */
int pydn_layer_output(network *net, int i, float *out, size_t n);

#endif /* PYDN_DEVICE_H */
