/*
 * pydn_network.c - networks (declared in pydn.h): parse a cfg, load weights, repair two
 * upstream bugs, free everything, count the floats a weights file must hold, and
 * classify an image.  Each mirrors a piece of Darknet's own code path, cited in its
 * comment; detection is in pydn_detect.c.
 */
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "ab/ab.h"
#include "pydn.h"
#include "pydn_device.h"

void pydn_exit(int status) __attribute__((noreturn)); /* pydn_guard.c: to the guard */

/* Two Darknet bugs found by fuzzing, repaired after parsing (CPU builds):
 * - src/parser.c allocates net->workspace as the largest layer's workspace_size in
 *   bytes, but local_layer.c states its workspace_size in floats: a [local] layer's
 *   im2col overruns the buffer.  Give such networks the room they use.
 * - make_batchnorm_layer() never allocates l.x, which forward_batchnorm_layer() copies
 *   into: a standalone [batchnorm] layer segfaults.  free_layer() frees them. */
static void repair_network(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->type == BATCHNORM && !l->x) {
            l->x = calloc((size_t)l->batch * l->outputs, sizeof(float));
            l->x_norm = calloc((size_t)l->batch * l->outputs, sizeof(float));
            if (!l->x || !l->x_norm) pydn_exit(1);
        }
    }
    size_t have = 0, need = 0;
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        size_t bytes = l.type == LOCAL ? l.workspace_size * sizeof(float) : l.workspace_size;
        if (l.workspace_size > have) have = l.workspace_size;
        if (bytes > need) need = bytes;
    }
#ifdef GPU
    if (net->gpu_index >= 0) return;  /* GPU workspaces: sized by the CUDA path */
#endif
    if (need > have) {
        free(net->workspace);
        net->workspace = calloc(1, need);
        if (!net->workspace) pydn_exit(1);
    }
}

int pydn_free_network(network *net)
{
    PYDN_GUARD_BEGIN
    /* src/network.c free_network() forgets the workspace (tens of MB: the largest
     * im2col buffer), the counters make_network() allocates and each [yolo] layer's
     * mask; free them too so that repeated load/free cycles stay flat. */
#ifdef GPU
    if (net->gpu_index >= 0) cuda_free(net->workspace); else
#endif
    free(net->workspace);
    free(net->seen);
    free(net->t);
    free(net->cost);
    for (int i = 0; i < net->n; ++i)
        if (net->layers[i].type == YOLO) free(net->layers[i].mask);
    pydn_ab_forget(net);
    free_network(net);
#ifdef __GLIBC__
    /* glibc keeps freed heap pages (its mmap threshold grows after the first large
     * free): hand them back so that closing a network shows in RSS. */
    malloc_trim(0);
#endif
    PYDN_GUARD_END
}

int pydn_output_classes(network *net)
{
    layer l = net->layers[net->n - 1];
    return l.classes;
}

int pydn_classify(network *net, image im, float *out, int n)
{
    if (pydn_network_dialect(net)) {
        pydn_set_error("classification is not available for alexeyab networks");
        return -1;
    }
    PYDN_GUARD_BEGIN
    /* src/network.c network_predict_image(): letterbox, batch 1, predict */
    float *p = network_predict_image(net, im);
    if (n > net->outputs) n = net->outputs;
    memcpy(out, p, sizeof(float) * n);
    PYDN_GUARD_END
}

int pydn_parse_network(const char *cfg, network **out)
{
    return pydn_parse_network_dialect(cfg, PYDN_PJREDDIE, out);
}

/* *out: the network, or NULL where the fork's parser refused the cfg (its message in
 * pydn_last_error); upstream's errors end in the guard. */
static int parse_dialect(const char *cfg, int dialect, network **out)
{
    PYDN_GUARD_BEGIN
    network *net;
    if (dialect == PYDN_ALEXEYAB) {
        net = pydn_ab_parse(cfg);
    } else {
        net = parse_network_cfg((char *)cfg);
        repair_network(net);
        pydn_batch_network(net, 1); /* set_batch_network, CPU-safe */
    }
    *out = net;
    PYDN_GUARD_END
}

int pydn_parse_network_dialect(const char *cfg, int dialect, network **out)
{
    *out = NULL;
    if (dialect != PYDN_PJREDDIE && dialect != PYDN_ALEXEYAB) {
        pydn_set_error("unknown dialect %d", dialect);
        return -1;
    }
    if (parse_dialect(cfg, dialect, out)) return -1;
    return *out ? 0 : -1;
}

int pydn_network_dialect(network *net)
{
    return pydn_ab_find(net) ? PYDN_ALEXEYAB : PYDN_PJREDDIE;
}

int pydn_load_weights(network *net, const char *weights)
{
    PYDN_GUARD_BEGIN
    if (pydn_network_dialect(net))
        pydn_ab_load_weights(net, weights);
    else
        load_weights(net, (char *)weights);
    pydn_fast_prepare(net); /* fold batch norm now (DARKNET_FAST; no-op otherwise) */
    PYDN_GUARD_END
}

/* Floats of one layer as read by src/parser.c load_*_weights(). */
static size_t conv_floats(layer l)
{
    int n = l.numload ? l.numload : l.n;
    size_t k = (size_t)n + (size_t)l.nweights;
    if (l.batch_normalize && !l.dontloadscales) k += 3 * (size_t)n;
    return k;
}

static size_t connected_floats(layer l)
{
    size_t k = (size_t)l.outputs + (size_t)l.outputs * l.inputs;
    if (l.batch_normalize && !l.dontloadscales) k += 3 * (size_t)l.outputs;
    return k;
}

/* Mirrors src/parser.c load_weights_upto(): how many floats follow the header. */
size_t pydn_weights_floats(network *net)
{
    if (pydn_network_dialect(net)) return pydn_ab_weights_floats(net);
    size_t total = 0;
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.dontload) continue;
        switch (l.type) {
        case CONVOLUTIONAL:
        case DECONVOLUTIONAL: total += conv_floats(l); break;
        case CONNECTED: total += connected_floats(l); break;
        case BATCHNORM: total += 3 * (size_t)l.c; break;
        case CRNN:
            total += conv_floats(*l.input_layer) + conv_floats(*l.self_layer) +
                     conv_floats(*l.output_layer);
            break;
        case RNN:
            total += connected_floats(*l.input_layer) + connected_floats(*l.self_layer) +
                     connected_floats(*l.output_layer);
            break;
        case LSTM:
            total += connected_floats(*l.wi) + connected_floats(*l.wf) + connected_floats(*l.wo) +
                     connected_floats(*l.wg) + connected_floats(*l.ui) + connected_floats(*l.uf) +
                     connected_floats(*l.uo) + connected_floats(*l.ug);
            break;
        case GRU:
            total += connected_floats(*l.wz) + connected_floats(*l.wr) + connected_floats(*l.wh) +
                     connected_floats(*l.uz) + connected_floats(*l.ur) + connected_floats(*l.uh);
            break;
        case LOCAL:
            total += (size_t)l.outputs +
                     (size_t)l.size * l.size * l.c * l.n * l.out_w * l.out_h;
            break;
        default: break;
        }
    }
    return total;
}
