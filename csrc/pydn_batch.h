/*
 * pydn_batch.h - detection straight from 8-bit pixel arrays, one image or a batch
 * (pydn_batch.c), and the CPU settings of the DARKNET_FAST build (csrc/fast/).
 * Entry points return 0 on success and -1 on error (pydn_last_error(), see pydn.h).
 */
#ifndef PYDN_BATCH_H
#define PYDN_BATCH_H

#include "pydn.h"

/* An HxW image of interleaved 8-bit channels (1, 3 or 4), as numpy/OpenCV hold it. */
typedef struct {
    const unsigned char *data;
    int h, w, channels;
    long row_stride; /* bytes from one row to the next */
    long col_stride; /* bytes from one pixel to the next */
} pydn_u8image;

/* letterbox_image(load_image_color(...), w, h) of upstream, computed from the bytes:
 * order[k] is the source channel of Darknet's plane k (R, G, B).  out: 3 x h x w. */
int pydn_letterbox_u8(const pydn_u8image *im, const int order[3], int w, int h, float *out);

/* set_batch_network(), reallocating the layers' buffers (resize_network at the same
 * size) when they are too small for that batch. */
int pydn_set_batch(network *net, int batch);

/* test_detector's pipeline for n images at once in Darknet's batch dimension: batch n
 * (buffers grown once when needed), letterbox each image into net->input, one forward
 * pass, get_network_boxes + NMS per image, then the network's batch is restored.
 * outs: n results (free each with pydn_free_dets).
 * *forward_seconds: the time spent in the forward pass alone. */
int pydn_detect_u8(network *net, const pydn_u8image *ims, int n, const int order[3],
                   float thresh, float hier_thresh, float nms, int nms_obj, pydn_dets *outs,
                   double *forward_seconds);

/* The forward pass on input, output in the layers (upstream network_predict, or the
 * DARKNET_FAST loop, which skips the training-only work). */
void pydn_forward(network *net, float *input);
/* Fold batch norm and install the fast layer forwards (no-op without DARKNET_FAST). */
void pydn_fast_prepare(network *net);

int pydn_fast_build(void);        /* 1 when built with DARKNET_FAST */
int pydn_set_threads(int n);      /* n <= 0: the default; returns the count */
int pydn_get_threads(void);
/* Per-layer timing of pydn_forward (DARKNET_FAST): switch on/off (returns the old
 * state); copy up to cap seconds of the last pass, returns the layer count. */
int pydn_profile(int on);
int pydn_layer_seconds(double *out, int cap);

#endif /* PYDN_BATCH_H */
