/*
 * pydn_detect.c - test_detector's pipeline (examples/detector.c), the one detection path
 * of both entry points (declared in pydn.h): letterbox each image into the network's
 * input, one forward pass for all of them (Darknet's batch dimension), then for each
 * image get_network_boxes (relative) -> NMS -> a copy of the boxes for Python.
 *
 * The images come as Darknet float images (pydn_detect: upstream's letterbox_image) or
 * as 8-bit arrays (pydn_detect_u8: the same letterbox computed from the bytes,
 * pydn_u8image.c).  Networks of AlexeyAB's fork take their own branch at three points
 * (csrc/ab/ab.h): stretched input unless its cfg letterboxes, buffers grown for a
 * batch, and its boxes and NMS (pydn_ab_boxes).  Built in both the DARKNET_FAST and the upstream build; only the
 * forward pass differs (pydn_forward).
 */
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ab/ab.h"
#include "pydn.h"
#include "pydn_device.h"

double pydn_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The images of one call: n float images, or n 8-bit ones and their channel order. */
typedef struct {
    int n;
    const image *floats;
    const pydn_u8image *bytes;
    const int *order;
} images_in;

static int width_of(const images_in *in, int i)
{
    return in->bytes ? in->bytes[i].w : in->floats[i].w;
}

static int height_of(const images_in *in, int i)
{
    return in->bytes ? in->bytes[i].h : in->floats[i].h;
}

/* Image i sized into the network's input: letterboxed, or for a fork network without
 * [net] letter_box=1 stretched (its detector's resize_image). */
static void size_into(const images_in *in, int i, int stretch, int w, int h, float *out)
{
    if (in->bytes) {
        if (stretch)
            pydn_resize_u8(in->bytes + i, in->order, w, h, out);
        else
            pydn_letterbox_u8(in->bytes + i, in->order, w, h, out);
        return;
    }
    image sized = stretch ? resize_image(in->floats[i], w, h) : letterbox_image(in->floats[i], w, h);
    memcpy(out, sized.data, sizeof(float) * 3 * w * h);
    free_image(sized);
}

/* Do the buffers that a forward pass writes hold `batch` images?  Checked on the
 * allocations themselves, so it stays right whoever resized the network last. */
static int buffers_fit(network *net, int batch)
{
    if (malloc_usable_size(net->input) < sizeof(float) * net->inputs * batch) return 0;
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        size_t need = sizeof(float) * l->outputs * batch;
        if (malloc_usable_size(l->output) < need) return 0;
        if (l->delta && malloc_usable_size(l->delta) < need) return 0;
        if (l->x && malloc_usable_size(l->x) < need) return 0;
        if (l->x_norm && malloc_usable_size(l->x_norm) < need) return 0;
        if (l->indexes && malloc_usable_size(l->indexes) < sizeof(int) * l->outputs * batch)
            return 0;
    }
    return 1;
}

/* The network at `batch`, growing its buffers when they are too small for it
 * (resize_network at the same size reallocates them for the batch).  Every network's
 * buffers hold one image: they were allocated for its cfg's batch, or a larger one. */
static void set_batch(network *net, int batch)
{
    pydn_batch_network(net, batch);
    if (pydn_network_dialect(net))
        pydn_ab_fit_batch(net, batch); /* resize_network does not know the fork's layers */
    else if (batch > 1 && !buffers_fit(net, batch))
        resize_network(net, net->w, net->h);
}

/* Point the detection layers at image b of the batch (get_network_boxes() reads
 * image 0 only), or back with -b. */
static void shift_outputs(network *net, int b)
{
    for (int j = 0; j < net->n; ++j) {
        layer *l = net->layers + j;
        if (l->type == YOLO || l->type == REGION || l->type == DETECTION)
            l->output += (ptrdiff_t)b * l->outputs;
    }
}

/* Copy Darknet's detections into flat arrays for Python (pydn_dets in pydn.h). */
static void pack_dets(detection *dets, int n, int classes, pydn_dets *out)
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

/* The guarded part of detect(); *shifted says which image the detection layers point
 * at, so that the caller can undo it when Darknet fails half-way. */
static int run_pipeline(network *net, const images_in *in, float thresh, float hier_thresh,
                        float nms, int nms_obj, pydn_dets *outs, double *forward_seconds,
                        int *shifted)
{
    PYDN_GUARD_BEGIN
    int n = in->n, inputs = net->w * net->h * 3;
    const pydn_ab_net *ab = pydn_ab_find(net);
    set_batch(net, n);
    for (int i = 0; i < n; ++i)
        size_into(in, i, ab && !ab->letter_box, net->w, net->h,
                  net->input + (size_t)i * inputs);
    double t0 = pydn_seconds();
    pydn_forward(net, net->input); /* network_predict, or the DARKNET_FAST loop */
    *forward_seconds = pydn_seconds() - t0;
    layer l = net->layers[net->n - 1];
    /* Boxes are read one image at a time, at batch 1: at batch 2 upstream's
     * get_yolo/region_detections take the second image for a mirrored copy of the first
     * and average them (avg_flipped_yolo). */
    pydn_batch_network(net, 1);
    for (int i = 0; i < n; ++i) {
        int nboxes = 0, w = width_of(in, i), h = height_of(in, i);
        shift_outputs(net, i);
        *shifted = i;
        detection *dets = ab ? pydn_ab_boxes(net, w, h, thresh, nms, &nboxes)
                               : get_network_boxes(net, w, h, thresh, hier_thresh, 0, 1, &nboxes);
        shift_outputs(net, -i);
        *shifted = 0;
        if (nms > 0 && !ab) {
            if (nms_obj)
                do_nms_obj(dets, nboxes, l.classes, nms);
            else
                do_nms_sort(dets, nboxes, l.classes, nms);
        }
        pack_dets(dets, nboxes, l.classes, outs + i);
        free_detections(dets, nboxes);
    }
    PYDN_GUARD_END
}

/* Checks, then the pipeline, then the network back at its own batch whatever happened. */
static int detect(network *net, const images_in *in, float thresh, float hier_thresh,
                  float nms, int nms_obj, pydn_dets *outs, double *forward_seconds)
{
    *forward_seconds = 0;
    if (in->n < 1) {
        pydn_set_error("no images");
        return -1;
    }
    memset(outs, 0, sizeof(pydn_dets) * in->n);
    if (net->c != 3) {
        pydn_set_error("the network takes %d channels; detection needs 3", net->c);
        return -1;
    }
    int batch = net->batch, shifted = 0;
    int rc = run_pipeline(net, in, thresh, hier_thresh, nms, nms_obj, outs, forward_seconds,
                          &shifted);
    if (shifted) shift_outputs(net, -shifted);
    pydn_batch_network(net, batch);
    return rc;
}

int pydn_detect(network *net, image im, float thresh, float hier_thresh, float nms,
                int nms_obj, pydn_dets *out, double *forward_seconds)
{
    if (im.c != 3) {
        memset(out, 0, sizeof *out);
        *forward_seconds = 0;
        pydn_set_error("the image has %d channels; detection needs 3", im.c);
        return -1;
    }
    images_in in = {1, &im, NULL, NULL};
    return detect(net, &in, thresh, hier_thresh, nms, nms_obj, out, forward_seconds);
}

int pydn_detect_u8(network *net, const pydn_u8image *ims, int n, const int order[3],
                   float thresh, float hier_thresh, float nms, int nms_obj, pydn_dets *outs,
                   double *forward_seconds)
{
    images_in in = {n, NULL, ims, order};
    return detect(net, &in, thresh, hier_thresh, nms, nms_obj, outs, forward_seconds);
}

void pydn_free_dets(pydn_dets *d)
{
    free(d->boxes);
    free(d->probs);
    free(d->objectness);
    memset(d, 0, sizeof *d);
}
