/*
 * ab_weights.c - weights files of the fork (src/parser.c load_weights_upto at
 * 59596d78): upstream's header and conv layout, plus the weights of [shortcut] layers
 * with weights_type=, in layer order; and the fork's fuse_conv_batchnorm
 * (src/network.c), which its detector runs after loading.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "ab.h"
#include "utils.h"

/* fuse_conv_batchnorm for one conv layer, in the fork's double arithmetic.  The batch
 * norm parameters are then left as the identity (scale 1, mean 0, variance 1): the
 * layer keeps batch_normalize (so that a reload reads them again), its forwards skip
 * the batch norm, and csrc/fast's folding sees an already folded layer. */
static void fuse_conv(layer *l)
{
    if (!l->batch_normalize) return;
    size_t filter = (size_t)l->size * l->size * l->c / l->groups;
    for (int f = 0; f < l->n; ++f) {
        double s = sqrt((double)l->rolling_variance[f] + .00001);
        l->biases[f] = l->biases[f] - (double)l->scales[f] * l->rolling_mean[f] / s;
        double k = l->scales[f] / s;
        for (size_t i = 0; i < filter; ++i) l->weights[f * filter + i] *= k;
        l->scales[f] = 1;
        l->rolling_mean[f] = 0;
        l->rolling_variance[f] = 1;
    }
}

/* The fork normalizes a shortcut's weights once, at fuse time (relu: max(w, .001),
 * softmax: exp(w - max)), each over the n + 1 inputs, divided by their sum + .0001. */
static void fuse_shortcut(layer *l)
{
    if (!l->nweights || l->ab_weights_norm == AB_NO_NORM) return;
    int inputs = l->n + 1, step = l->nweights / inputs;
    for (int ch = 0; ch < step; ++ch) {
        float sum = .0001f, max = -FLT_MAX;
        float *w = l->weights + ch;
        int softmax = l->ab_weights_norm == AB_SOFTMAX_NORM;
        for (int i = 0; softmax && i < inputs; ++i)
            if (max < w[i * step]) max = w[i * step];
        for (int i = 0; i < inputs; ++i)
            sum += softmax ? expf(w[i * step] - max) : w[i * step] > .001f ? w[i * step] : .001f;
        for (int i = 0; i < inputs; ++i) {
            float v = w[i * step];
            w[i * step] = (softmax ? expf(v - max) : v > .001f ? v : .001f) / sum;
        }
    }
}

void pydn_ab_fuse(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        if (l->type == CONVOLUTIONAL) fuse_conv(l);
        if (l->type == SHORTCUT) fuse_shortcut(l);
    }
#ifdef GPU
    if (net->gpu_index >= 0) pydn_ab_gpu_push(net); /* as load_weights pushes each layer */
#endif
}

/* fread as the fork does it: a short file leaves the rest as it was. */
static void read_floats(float *to, size_t n, FILE *fp)
{
    if (n) (void)!fread(to, sizeof(float), n, fp);
}

void pydn_ab_load_weights(network *net, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) file_error((char *)path);
    int32_t major = 0, minor = 0, revision = 0;
    (void)!fread(&major, sizeof major, 1, fp);
    (void)!fread(&minor, sizeof minor, 1, fp);
    (void)!fread(&revision, sizeof revision, 1, fp);
    if (major * 10 + minor >= 2) {
        uint64_t seen = 0;
        (void)!fread(&seen, sizeof seen, 1, fp);
        *net->seen = seen;
    } else {
        uint32_t seen = 0;
        (void)!fread(&seen, sizeof seen, 1, fp);
        *net->seen = seen;
    }
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.dontload) continue;
        if (l.type == CONVOLUTIONAL) {
            read_floats(l.biases, l.n, fp);
            if (l.batch_normalize && !l.dontloadscales) {
                read_floats(l.scales, l.n, fp);
                read_floats(l.rolling_mean, l.n, fp);
                read_floats(l.rolling_variance, l.n, fp);
            }
            read_floats(l.weights, l.nweights, fp);
        }
        if (l.type == SHORTCUT) read_floats(l.weights, l.nweights, fp);
    }
    fclose(fp);
    pydn_ab_fuse(net);
}

size_t pydn_ab_weights_floats(const network *net)
{
    size_t total = 0;
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.dontload) continue;
        if (l.type == CONVOLUTIONAL) {
            total += (size_t)l.n + l.nweights;
            if (l.batch_normalize && !l.dontloadscales) total += 3 * (size_t)l.n;
        }
        if (l.type == SHORTCUT) total += l.nweights;
    }
    return total;
}
