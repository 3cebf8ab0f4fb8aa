/* cffi declarations of csrc/pydn_device.h (see there for what each does). */

int pydn_build_flags(void);
int pydn_gpu_count(int *count);
void pydn_cuda_versions(int *runtime, int *driver, int *cudnn);
int pydn_gpu_name(int gpu, char *buf, int len);
int pydn_use_device(int gpu);
int pydn_layer_output(network *net, int i, float *out, size_t n);
