/*
 * ab_layers.c - the forwards of fork layers whose computation differs from upstream's,
 * each after the fork's own (src/<kind>_layer.c at 59596d78, CPU build), and the fork's
 * activations.  Inference only: no training buffers are read or written.  Fork layers
 * that compute what upstream's do keep upstream's forward (ab_parse.c).
 */
#include <float.h>
#include <string.h>

#include "ab.h"
#include "ab_act.h"
#include "blas.h"
#include "activations.h"
#include "convolutional_layer.h"

float pydn_ab_mish(float x) { return pydn_ab_mish_of(x); }
float pydn_ab_swish(float x) { return pydn_ab_swish_of(x); }
float pydn_ab_hard_mish(float x) { return pydn_ab_hard_mish_of(x); }

/* The fork's three code paths (pydn_ab_act of ab_act.h, which the CUDA kernels
 * compute too), with the common kinds' loops written out so that they vectorize. */
void pydn_ab_activate(float *x, size_t n, ACTIVATION a, int who)
{
    int code = (int)a;
    if (code == AB_SWISH && who != AB_ACT_PLAIN) {
        for (size_t i = 0; i < n; ++i) x[i] = pydn_ab_swish_of(x[i]);
    } else if (code == AB_MISH && who != AB_ACT_PLAIN) {
        for (size_t i = 0; i < n; ++i) x[i] = pydn_ab_mish_of(x[i]);
    } else if (code == AB_HARD_MISH && who == AB_ACT_CONV) {
        for (size_t i = 0; i < n; ++i) x[i] = pydn_ab_hard_mish_of(x[i]);
    } else if (code == LINEAR) {
    } else if (code == AB_LEAKY && who != AB_ACT_PLAIN) { /* activate_array_cpu_custom */
        for (size_t i = 0; i < n; ++i) x[i] = pydn_ab_leaky_of(x[i]);
    } else {
        for (size_t i = 0; i < n; ++i) x[i] = pydn_ab_act(x[i], code, who);
    }
}

void pydn_ab_activate_any(float *x, int n, ACTIVATION a)
{
    if ((int)a >= (int)PYDN_AB_SWISH)
        pydn_ab_activate(x, n, a, AB_ACT_CONV);
    else if (a != LINEAR)
        activate_array(x, n, a);
}

/* forward_convolutional_layer of the fork at inference: batch norm is already folded
 * into the weights (pydn_ab_fuse, as its detector's fuse_conv_batchnorm), so it is
 * upstream's convolution + bias, then the fork's activation. */
void pydn_ab_forward_conv(layer l, network net)
{
    ACTIVATION a = l.activation;
    l.batch_normalize = 0;
    l.activation = LINEAR;
    forward_convolutional_layer(l, net);
    pydn_ab_activate(l.output, (size_t)l.outputs * l.batch, a, AB_ACT_CONV);
}

/* forward_route_layer: part group_id of `groups` of each input, concatenated. */
void pydn_ab_forward_route(layer l, network net)
{
    size_t offset = 0;
    for (int i = 0; i < l.n; ++i) {
        const float *input = net.layers[l.input_layers[i]].output;
        size_t size = l.input_sizes[i], part = size / l.groups;
        for (int b = 0; b < l.batch; ++b)
            memcpy(l.output + offset + (size_t)b * l.outputs,
                   input + b * size + part * l.ab_group_id, sizeof(float) * part);
        offset += part;
    }
}

/* forward_shortcut_layer = shortcut_multilayer_cpu: this layer's input plus each from=
 * layer's output (where it has that element), each times its weight when the layer has
 * weights (normalized at load, as fuse_conv_batchnorm does), then the activation. */
void pydn_ab_forward_shortcut(layer l, network net)
{
    int n = l.n, nw = l.nweights, outputs = l.outputs;
    const float *w = nw ? l.weights : NULL;
    int layer_step = nw / (n + 1), step = nw ? outputs / layer_step : 0;
    size_t size = (size_t)outputs * l.batch;
    const float *in = net.input;
    if (!w && n == 1 && l.input_sizes[0] == outputs) {
        const float *add = net.layers[l.input_layers[0]].output;
        for (size_t id = 0; id < size; ++id) l.output[id] = in[id] + add[id];
    } else {
        for (size_t id = 0; id < size; ++id) {
            int src_i = id % outputs, src_b = id / outputs;
            l.output[id] = w ? in[id] * w[src_i / step] : in[id];
            for (int i = 0; i < n; ++i) {
                int add_outputs = l.input_sizes[i];
                if (src_i >= add_outputs) continue;
                const float *add = net.layers[l.input_layers[i]].output;
                float a = add[(size_t)add_outputs * src_b + src_i];
                l.output[id] += w ? a * w[src_i / step + (i + 1) * layer_step] : a;
            }
        }
    }
    pydn_ab_activate(l.output, size, l.activation, AB_ACT_SHORTCUT);
}

/* forward_maxpool_layer with stride_x != stride_y, or maxpool_depth (the max over
 * channels g, g + out_c, g + 2 out_c, ... at each pixel). */
void pydn_ab_forward_maxpool(layer l, network net)
{
    const float *in = net.input;
    if (l.ab_maxpool_depth) {
        for (int b = 0; b < l.batch; ++b)
            for (int g = 0; g < l.out_c; ++g)
                for (int i = 0; i < l.h * l.w; ++i) {
                    float max = -FLT_MAX;
                    for (int k = g; k < l.c; k += l.out_c) {
                        float v = in[i + (size_t)l.w * l.h * (k + (size_t)l.c * b)];
                        max = v > max ? v : max;
                    }
                    l.output[i + (size_t)l.w * l.h * (g + (size_t)l.out_c * b)] = max;
                }
        return;
    }
    int off = -l.pad / 2;
    for (int b = 0; b < l.batch; ++b)
        for (int k = 0; k < l.c; ++k) {
            const float *plane = in + (size_t)l.w * l.h * (k + (size_t)l.c * b);
            float *out = l.output + (size_t)l.out_w * l.out_h * (k + (size_t)l.c * b);
            for (int i = 0; i < l.out_h; ++i)
                for (int j = 0; j < l.out_w; ++j) {
                    float max = -FLT_MAX;
                    for (int n = 0; n < l.size; ++n)
                        for (int m = 0; m < l.size; ++m) {
                            int y = off + i * l.ab_stride_y + n, x = off + j * l.stride + m;
                            float v = (y >= 0 && y < l.h && x >= 0 && x < l.w) ? plane[y * l.w + x]
                                                                                : -FLT_MAX;
                            max = v > max ? v : max;
                        }
                    out[i * l.out_w + j] = max;
                }
        }
}

/* forward_reorg_layer of the fork ([reorg3d]): reorg_cpu over the OUTPUT's dimensions
 * (upstream's [reorg] passes the input's, which is a different permutation). */
void pydn_ab_forward_reorg(layer l, network net)
{
    reorg_cpu(net.input, l.out_w, l.out_h, l.out_c, l.batch, l.stride, l.reverse, l.output);
}

/* forward_sam_layer: input times the from= layer's output, element by element. */
void pydn_ab_forward_sam(layer l, network net)
{
    const float *from = net.layers[l.index].output;
    size_t size = (size_t)l.batch * l.outputs;
    for (size_t i = 0; i < size; ++i) l.output[i] = net.input[i] * from[i];
    pydn_ab_activate(l.output, size, l.activation, AB_ACT_PLAIN);
}

/* forward_scale_channels_layer: the from= layer's output scaled per channel by this
 * layer's input (1x1xC), or per pixel (WxHx1) with scale_wh. */
void pydn_ab_forward_scale_channels(layer l, network net)
{
    const float *from = net.layers[l.index].output;
    size_t size = (size_t)l.batch * l.outputs;
    size_t channel = (size_t)l.out_w * l.out_h, per_image = channel * l.out_c;
    for (size_t i = 0; i < size; ++i) {
        size_t at = l.ab_scale_wh ? i % channel + i / per_image * channel : i / channel;
        l.output[i] = net.input[at] * from[i];
    }
    pydn_ab_activate(l.output, size, l.activation, AB_ACT_PLAIN);
}

/* forward_yolo_layer at inference: logistic on x, y, objectness and classes (none with
 * new_coords, where the conv before has done it), then x, y scaled by scale_x_y. */
void pydn_ab_forward_yolo(layer l, network net)
{
    memcpy(l.output, net.input, sizeof(float) * l.outputs * l.batch);
    size_t plane = (size_t)l.w * l.h;
    float alpha = l.ab_scale_x_y, beta = -0.5 * (l.ab_scale_x_y - 1);
    for (int b = 0; b < l.batch; ++b)
        for (int n = 0; n < l.n; ++n) {
            float *box = l.output + (size_t)b * l.outputs + n * plane * (4 + l.classes + 1);
            if (!l.ab_new_coords) {
                for (size_t i = 0; i < 2 * plane; ++i) box[i] = pydn_ab_logistic(box[i]);
                float *obj = box + 4 * plane;
                for (size_t i = 0; i < (1 + l.classes) * plane; ++i)
                    obj[i] = pydn_ab_logistic(obj[i]);
            }
            for (size_t i = 0; i < 2 * plane; ++i) box[i] = box[i] * alpha + beta;
        }
}

int pydn_ab_independent(void (*f)(layer, network))
{
    return f == pydn_ab_forward_route || f == pydn_ab_forward_shortcut ||
           f == pydn_ab_forward_maxpool || f == pydn_ab_forward_reorg ||
           f == pydn_ab_forward_sam || f == pydn_ab_forward_scale_channels ||
           f == pydn_ab_forward_yolo;
}
