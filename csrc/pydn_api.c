/*
 * pydn_api.c - guarded entry points used by pydarknet (declared in pydn.h).
 * Each mirrors a piece of Darknet's own code path, cited in its comment.
 */
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

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

int pydn_load_network(const char *cfg, const char *weights, int clear, network **out)
{
    PYDN_GUARD_BEGIN
    /* examples/detector.c test_detector(): load_network(), then batch 1 */
    network *net = load_network((char *)cfg, (char *)weights, clear);
    repair_network(net);
    pydn_batch_network(net, 1);  /* set_batch_network, CPU-safe */
    *out = net;
    PYDN_GUARD_END
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

/* Copy Darknet's detections into flat arrays for Python (pydn.h). */
void pydn_pack_dets(detection *dets, int n, int classes, pydn_dets *out)
{
    out->n = n;
    out->classes = classes;
    out->boxes = malloc(sizeof(float) * 4 * (n ? n : 1));
    out->probs = malloc(sizeof(float) * classes * (n ? n : 1));
    out->objectness = malloc(sizeof(float) * (n ? n : 1));
    for (int i = 0; i < n; ++i) {
        out->boxes[4 * i + 0] = dets[i].bbox.x;
        out->boxes[4 * i + 1] = dets[i].bbox.y;
        out->boxes[4 * i + 2] = dets[i].bbox.w;
        out->boxes[4 * i + 3] = dets[i].bbox.h;
        memcpy(out->probs + (size_t)i * classes, dets[i].prob, sizeof(float) * classes);
        out->objectness[i] = dets[i].objectness;
    }
}

int pydn_detect(network *net, image im, float thresh, float hier_thresh, float nms,
                int nms_obj, pydn_dets *out)
{
    memset(out, 0, sizeof *out);
    PYDN_GUARD_BEGIN
    /* examples/detector.c test_detector(), minus the drawing */
    layer l = net->layers[net->n - 1];
    image sized = letterbox_image(im, net->w, net->h);
    pydn_forward(net, sized.data); /* network_predict, or the DARKNET_FAST loop */
    free_image(sized);
    int nboxes = 0;
    detection *dets = get_network_boxes(net, im.w, im.h, thresh, hier_thresh, 0, 1, &nboxes);
    if (nms > 0) {
        if (nms_obj)
            do_nms_obj(dets, nboxes, l.classes, nms);
        else
            do_nms_sort(dets, nboxes, l.classes, nms);
    }
    pydn_pack_dets(dets, nboxes, l.classes, out);
    free_detections(dets, nboxes);
    PYDN_GUARD_END
}

void pydn_free_dets(pydn_dets *d)
{
    free(d->boxes);
    free(d->probs);
    free(d->objectness);
    memset(d, 0, sizeof *d);
}

int pydn_classify(network *net, image im, float *out, int n)
{
    PYDN_GUARD_BEGIN
    /* src/network.c network_predict_image(): letterbox, batch 1, predict */
    float *p = network_predict_image(net, im);
    if (n > net->outputs) n = net->outputs;
    memcpy(out, p, sizeof(float) * n);
    PYDN_GUARD_END
}

int pydn_letterbox(image im, int w, int h, image *out)
{
    PYDN_GUARD_BEGIN
    *out = letterbox_image(im, w, h);
    PYDN_GUARD_END
}

int pydn_free_image(image im)
{
    PYDN_GUARD_BEGIN
    free_image(im);
    PYDN_GUARD_END
}

int pydn_parse_network(const char *cfg, network **out)
{
    PYDN_GUARD_BEGIN
    network *net = parse_network_cfg((char *)cfg);
    repair_network(net);
    pydn_batch_network(net, 1);  /* set_batch_network, CPU-safe */
    *out = net;
    PYDN_GUARD_END
}

int pydn_load_weights(network *net, const char *weights)
{
    PYDN_GUARD_BEGIN
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
