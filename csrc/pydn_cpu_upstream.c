/*
 * pydn_cpu_upstream.c - the CPU entry points of pydn.h for a build without DARKNET_FAST
 * (csrc/fast/ provides them otherwise): upstream's own forward pass, one thread, no
 * per-layer timing.
 */
#include "pydn.h"

void pydn_forward(network *net, float *input) { network_predict(net, input); }
void pydn_fast_prepare(network *net) { (void)net; }

int pydn_forward_layer(network *net, int i, const float *input)
{
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
int pydn_simd_level(void) { return 0; }
int pydn_set_threads(int n) { (void)n; return 1; }
int pydn_get_threads(void) { return 1; }
int pydn_profile(int on) { (void)on; return 0; }
int pydn_layer_seconds(double *out, int cap) { (void)out; (void)cap; return 0; }
