/*
 * ab.h - the AlexeyAB dialect (issue 20): networks built from the cfgs of AlexeyAB's
 * darknet fork (commit 59596d78), computed as that fork computes them, on upstream's
 * `layer` and `network` structures.  Internal to csrc/ab/ (and the two hooks in
 * csrc/fast/); the entry points are in pydn.h.
 *
 *   ab_parse.c    cfg -> network (the fork's parse_network_cfg_custom, batch 1)
 *   ab_sections.c its layer sections
 *   ab_layers.c   the forwards whose semantics differ from upstream's, activations
 *   ab_weights.c  weights: load, count, fuse batch norm the fork's way
 *   ab_detect.c   boxes (the fork's yolo decode) and its NMS kinds
 *   ab_fast.c     fork layers of the DARKNET_FAST build (csrc/fast/network.c's table)
 *   ab_cuda.cu    the same forwards in CUDA (GPU builds), device buffers and weights
 *
 * WHERE THE FORK'S PARAMETERS LIVE.  Upstream's layer struct has no fields for them and
 * darknet/ is never edited.  A side table was the alternative, but every forward gets
 * its layer by value, and csrc/fast/network.c runs copies of the layers (per image):
 * a lookup from a copy back to a table would be fragile.  So each parameter lives in a
 * field that upstream uses only for training or for other layer kinds, named by the
 * macros below (write `l->ab_group_id`, never the raw field), listed here and only
 * here.  Per network (the dialect, [net] letter_box) there is a small registry keyed by
 * the network's address (ab_parse.c): the network struct has no spare field either.
 */
#ifndef PYDN_AB_H
#define PYDN_AB_H

#include <stddef.h>

#include "darknet.h"

/* [route] groups= uses upstream's own `groups` field; group_id: */
#define ab_group_id stride         /* ROUTE: which of the `groups` parts it takes */
/* [yolo] */
#define ab_scale_x_y scale         /* YOLO: x, y scaled by it around the cell centre */
#define ab_new_coords reorg        /* YOLO: 1: x, y, w, h already logistic (YOLOv7) */
#define ab_nms_kind log            /* YOLO: AB_DEFAULT_NMS .. AB_CORNERS_NMS */
#define ab_beta_nms kappa          /* YOLO: the DIoU-NMS exponent */
/* [maxpool] (the general forward; a plain one is upstream's layer): stride is x's */
#define ab_stride_y side           /* MAXPOOL */
#define ab_maxpool_depth spatial   /* MAXPOOL: max across channel groups, out_c outputs */
/* [shortcut]: inputs in n / input_layers / input_sizes, weights in weights / nweights */
#define ab_weights_norm softmax    /* SHORTCUT: AB_NO_NORM, AB_RELU_NORM, AB_SOFTMAX_NORM */
/* [sam], [scale_channels]: `index` is the from= layer */
#define ab_scale_wh spatial        /* SCALE_CHANNELS */

/* Layer kinds upstream lacks (LAYER_TYPE values past its enum). */
#define PYDN_AB_SAM ((LAYER_TYPE)64)
#define PYDN_AB_SCALE_CHANNELS ((LAYER_TYPE)65)

/* Activations: `activation` holds upstream's ACTIVATION value for the names both have
 * and compute alike (RELU, TANH, ...), and these for the fork's own.  The AB_* integer
 * codes are for code that also compiles as CUDA C++ (ab_act.h), where a cast of 32..38
 * to ACTIVATION is out of the enum's range. */
enum { AB_SWISH = 32, AB_MISH, AB_HARD_MISH, AB_RELU6, AB_GELU, AB_LOGISTIC, AB_LEAKY };
#define PYDN_AB_SWISH ((ACTIVATION)AB_SWISH)
#define PYDN_AB_MISH ((ACTIVATION)AB_MISH)
#define PYDN_AB_HARD_MISH ((ACTIVATION)AB_HARD_MISH)
#define PYDN_AB_RELU6 ((ACTIVATION)AB_RELU6)
#define PYDN_AB_GELU ((ACTIVATION)AB_GELU)
/* The fork's logistic and leaky where their arithmetic differs from upstream's: float
 * expf (upstream: double exp), and a conv's leaky in double (.1 * x) */
#define PYDN_AB_LOGISTIC ((ACTIVATION)AB_LOGISTIC)
#define PYDN_AB_LEAKY ((ACTIVATION)AB_LEAKY)

enum { AB_DEFAULT_NMS, AB_GREEDY_NMS, AB_DIOU_NMS, AB_CORNERS_NMS };
enum { AB_NO_NORM, AB_RELU_NORM, AB_SOFTMAX_NORM };

/* The fork's per-network settings (ab_parse.c's registry), and on a GPU what its
 * device buffers hold (ab_cuda.cu): images per buffer, workspace bytes. */
typedef struct {
    int letter_box;
    int gpu_batch;
    size_t gpu_workspace;
} pydn_ab_net;
pydn_ab_net *pydn_ab_find(const network *net); /* NULL: not a fork network */
void pydn_ab_forget(const network *net);             /* at free */

/* ab_parse.c: the network, or NULL with pydn_last_error() set (upstream's own errors
 * longjmp to the caller's guard). */
network *pydn_ab_parse(const char *cfg);

/* ab_sections.c: layer p->index from its section (type "[...]", options) into *l, or
 * -1 with pydn_last_error() set ("alexeyab dialect: ...", as by pydn_ab_refuse). */
typedef struct {
    network *net; /* the layers before */
    int index;    /* of the layer being built */
    int h, w, c;  /* its input */
    int inputs;
} pydn_ab_cursor;
int pydn_ab_parse_layer(pydn_ab_cursor *p, const char *type, list *options, layer *l);
int pydn_ab_refuse(const char *fmt, ...) __attribute__((format(__printf__, 1, 2)));

/* ab_layers.c */
/* The fork's activation of a layer kind: `who` says which of its code paths runs. */
enum { AB_ACT_CONV, AB_ACT_SHORTCUT, AB_ACT_PLAIN };
void pydn_ab_activate(float *x, size_t n, ACTIVATION a, int who);
/* activate_array of upstream for upstream's codes, the fork's conv path for its own:
 * for the fused epilogues of csrc/fast, which see both kinds of networks. */
void pydn_ab_activate_any(float *x, int n, ACTIVATION a);
/* Forwards of ours that are safe on csrc/fast's per-image layer copies (no shared
 * workspace, no state outside the layer's slice). */
int pydn_ab_independent(void (*f)(layer, network));
float pydn_ab_mish(float x);
float pydn_ab_swish(float x);
float pydn_ab_hard_mish(float x);
void pydn_ab_forward_conv(layer l, network net);
void pydn_ab_forward_route(layer l, network net);
void pydn_ab_forward_shortcut(layer l, network net);
void pydn_ab_forward_maxpool(layer l, network net);
void pydn_ab_forward_reorg(layer l, network net);
void pydn_ab_forward_sam(layer l, network net);
void pydn_ab_forward_scale_channels(layer l, network net);
void pydn_ab_forward_yolo(layer l, network net);

#ifdef GPU
/* ab_cuda.cu (GPU builds), for networks built while gpu_index >= 0: the same forwards
 * on the device.  Layer l's forward_gpu and device buffers, once built (-1: refused,
 * with pydn_last_error() set); the network's input and workspace; weights to the
 * device (after load and fuse); the device buffers grown to `batch` images. */
int pydn_ab_gpu_layer(layer *l);
void pydn_ab_gpu_network(network *net, pydn_ab_net *info, size_t workspace);
void pydn_ab_gpu_push(network *net);
void pydn_ab_gpu_fit_batch(network *net, pydn_ab_net *info, int batch);
void pydn_ab_activate_gpu(float *x, size_t n, int a, int who);
void pydn_ab_forward_conv_gpu(layer l, network net);
void pydn_ab_forward_route_gpu(layer l, network net);
void pydn_ab_forward_shortcut_gpu(layer l, network net);
void pydn_ab_forward_maxpool_gpu(layer l, network net);
void pydn_ab_forward_reorg_gpu(layer l, network net);
void pydn_ab_forward_sam_gpu(layer l, network net);
void pydn_ab_forward_scale_channels_gpu(layer l, network net);
void pydn_ab_forward_yolo_gpu(layer l, network net);
#endif

/* ab_fast.c (DARKNET_FAST builds) */
void pydn_ab_fast_maxpool(layer l, network net);

/* ab_weights.c */
void pydn_ab_load_weights(network *net, const char *path);
size_t pydn_ab_weights_floats(const network *net);
void pydn_ab_fuse(network *net); /* fuse_conv_batchnorm of the fork */

/* ab_detect.c: get_network_boxes + the last layer's NMS, as the fork's detector test */
detection *pydn_ab_boxes(network *net, int w, int h, float thresh, float nms, int *nboxes);
/* Grow the network's buffers to hold `batch` images (upstream's resize_network does
 * not know the fork's layers). */
void pydn_ab_fit_batch(network *net, int batch);

#endif /* PYDN_AB_H */
