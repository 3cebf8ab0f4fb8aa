/*
 * pydn_bench.c - the batch path of benchmarks/gpu_bench.py: test_detector's pipeline
 * (examples/detector.c) for net->batch images at once.  Benchmark-only; see
 * pydn_device.h for the contract.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pydn.h"
#include "pydn_device.h"

/* get_network_boxes() reads image 0 of each detection layer's output, and takes a
 * batch of 2 for an image and its mirror image (src/yolo_layer.c get_yolo_detections:
 * avg_flipped_yolo).  Show it image b alone (on = 1), then undo that (on = 0). */
static void select_image(network *net, int b, int on)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        if (l->type == YOLO || l->type == REGION || l->type == DETECTION) {
            l->output += (on ? 1 : -1) * (ptrdiff_t)b * l->outputs;
            l->batch = on ? 1 : net->batch;
        }
    }
}

int pydn_bench_detect_batch(network *net, image *ims, int n, float thresh, float hier_thresh,
                            float nms, pydn_dets *outs)
{
    memset(outs, 0, sizeof *outs * n);
    static __thread float *input;  /* kept between calls: no leak when Darknet fails */
    free(input);
    input = calloc((size_t)net->inputs * net->batch, sizeof(float));
    PYDN_GUARD_BEGIN
    layer last = net->layers[net->n - 1];
    for (int b = 0; b < n && b < net->batch; ++b) {
        image sized = letterbox_image(ims[b], net->w, net->h);
        memcpy(input + (size_t)b * net->inputs, sized.data, sizeof(float) * net->inputs);
        free_image(sized);
    }
    network_predict(net, input);
    for (int b = 0; b < n && b < net->batch; ++b) {
        int nboxes = 0;
        select_image(net, b, 1);
        detection *dets =
            get_network_boxes(net, ims[b].w, ims[b].h, thresh, hier_thresh, 0, 1, &nboxes);
        select_image(net, b, 0);
        if (nms > 0) do_nms_sort(dets, nboxes, last.classes, nms);
        pydn_pack_dets(dets, nboxes, last.classes, outs + b);
        free_detections(dets, nboxes);
    }
    PYDN_GUARD_END
}
