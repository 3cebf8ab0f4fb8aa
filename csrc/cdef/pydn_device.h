/* cffi declarations of csrc/pydn_device.h (see there for what each does). */

int pydn_build_flags(void);
int pydn_gpu_count(int *count);
void pydn_cuda_versions(int *runtime, int *driver, int *cudnn);
int pydn_gpu_name(int gpu, char *buf, int len);
int pydn_use_device(int gpu);
int pydn_set_batch(network *net, int batch);
int pydn_parse_network_cfg_batch(const char *cfg, network **out);
int pydn_bench_detect_batch(network *net, image *ims, int n, float thresh, float hier_thresh,
                            float nms, pydn_dets *outs);
