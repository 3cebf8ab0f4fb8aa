/*
 * ab.h - the AlexeyAB dialect (issue 20): networks built from the cfgs of AlexeyAB's
 * darknet fork (commit 59596d78), computed as that fork computes them, on upstream's
 * `layer` and `network` structures.  Internal to csrc/ab/ (and the two hooks in
 * csrc/fast/); the entry points are in pydn.h.
 *
 *   ab_parse.c    cfg -> network (the fork's parse_network_cfg_custom, batch 1)
 *   ab_layers.c   the forwards whose semantics differ from upstream's, activations
 *   ab_weights.c  weights: load, count, fuse batch norm the fork's way
 *   ab_detect.c   boxes (the fork's yolo decode) and its NMS kinds
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
 * (LOGISTIC, RELU, LEAKY, ...), and these for the fork's own. */
#define PYDN_AB_SWISH ((ACTIVATION)32)
#define PYDN_AB_MISH ((ACTIVATION)33)
#define PYDN_AB_HARD_MISH ((ACTIVATION)34)
#define PYDN_AB_RELU6 ((ACTIVATION)35)
#define PYDN_AB_GELU ((ACTIVATION)36)

enum { AB_DEFAULT_NMS, AB_GREEDY_NMS, AB_DIOU_NMS, AB_CORNERS_NMS };
enum { AB_NO_NORM, AB_RELU_NORM, AB_SOFTMAX_NORM };

/* The fork's per-network settings (ab_parse.c's registry). */
typedef struct {
    int letter_box;
} pydn_ab_net;
const pydn_ab_net *pydn_ab_find(const network *net); /* NULL: not a fork network */
void pydn_ab_forget(const network *net);             /* at free */

/* ab_parse.c: the network, or NULL with pydn_last_error() set (upstream's own errors
 * longjmp to the caller's guard). */
network *pydn_ab_parse(const char *cfg);

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
