/*
 * pydn_cpu_upstream.c - the CPU entry points of pydn.h for a build without DARKNET_FAST
 * (csrc/fast/ provides them otherwise): upstream's own forward pass, one thread, no
 * per-layer timing.
 */
#include <stdio.h>

#include "pydn.h"

void pydn_forward(network *net, float *input) { network_predict(net, input); }
void pydn_fast_prepare(network *net) { (void)net; }

int pydn_forward_layer(network *net, int i, const float *input)
{
#ifdef GPU
    if (net->gpu_index >= 0) { /* its CPU forward would take net->workspace, a device one */
        pydn_set_error("a layer's forward alone runs on CPU networks only");
        return -1;
    }
#endif
    PYDN_GUARD_BEGIN
    network n = *net;
    n.train = 0;
    n.index = i;
    n.input = (float *)input;
    net->layers[i].forward(net->layers[i], n);
    PYDN_GUARD_END
}
void pydn_fast_restore(network *net) { (void)net; }
int pydn_fast_build(void) { return 0; }
const char *pydn_kernel_name(void) { return "portable"; }
int pydn_kernel_gemm(const float *w, const float *b, int ldb, int K, int n, float *c, int ldc,
                     int mrows, int add)
{
    (void)w, (void)b, (void)ldb, (void)K, (void)n, (void)c, (void)ldc, (void)mrows, (void)add;
    return -1;
}
int pydn_kernel_product(const float *u, const float *v, int C, int nt, float *out, int ldo,
                        int add)
{
    (void)u, (void)v, (void)C, (void)nt, (void)out, (void)ldo, (void)add;
    return -1;
}
int pydn_kernel_store_tile4(const float *x, int ld, int nk, float *out, int wd, long plane)
{
    (void)x, (void)ld, (void)nk, (void)out, (void)wd, (void)plane;
    return -1;
}
int pydn_layer_kernel(network *net, int i, char *buf, int cap)
{
    return snprintf(buf, cap, "%s", net->layers[i].type == CONVOLUTIONAL ? "upstream" : "");
}
int pydn_set_threads(int n) { (void)n; return 1; }
int pydn_get_threads(void) { return 1; }
int pydn_profile(int on) { (void)on; return 0; }
int pydn_layer_seconds(double *out, int cap) { (void)out; (void)cap; return 0; }
