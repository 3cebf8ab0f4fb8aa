/*
 * alexeyab_driver.c - AlexeyAB's darknet (the fork, ../shared/refs) driven from the
 * tests: compiled against the fork's include/darknet.h and linked to its libdarknet.so
 * by tests/helpers/alexeyab.py, so that no struct of the fork is mirrored in Python.
 *
 *   seed   CFG OUT SEED IMAGE...      seeded parameters on the fork's parsed network,
 *                                     every convolution calibrated on the images (see
 *                                     calibrate()), written by the fork's save_weights()
 *   detect CFG WEIGHTS IMAGE THRESH HIER NMS
 *                                     the fork's `detector test` pipeline; one line per
 *                                     detection: x y w h objectness prob_0 .. prob_k-1
 *   layers CFG WEIGHTS IMAGE OUT      that forward pass; OUT gets the sized input and
 *                                     every layer's output as float32, stdout one line
 *                                     "c h w" for each (the input first)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"

/* exported by the fork's library, not declared in its darknet.h */
network parse_network_cfg_custom(char *filename, int batch, int time_steps);
void save_weights(network net, char *filename);
void load_weights(network *net, char *filename);
image load_image(char *filename, int w, int h, int c);

static uint64_t rng_state;

static double uniform(void) /* xorshift64*: (0, 1) */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
}

static double normal(void) /* Box-Muller */
{
    return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static void fill_normal(float *x, int n, double std)
{
    for (int i = 0; i < n; ++i) x[i] = (float)(std * normal());
}

static void fill_uniform(float *x, int n, double lo, double hi)
{
    for (int i = 0; i < n; ++i) x[i] = (float)(lo + (hi - lo) * uniform());
}

/* He-normal kernels, biases and batch-norm means N(0, 0.1), scales and variances in
 * [0.5, 1.5], shortcut weights in [0.5, 1.5]; calibrate() then scales each convolution. */
static void seed_layer(layer *l)
{
    if (l->type == CONVOLUTIONAL && !l->share_layer) {
        int fan_in = l->size * l->size * (l->c / (l->groups > 0 ? l->groups : 1));
        fill_normal(l->weights, l->nweights, sqrt(2.0 / (fan_in > 0 ? fan_in : 1)));
        fill_normal(l->biases, l->n, 0.1);
        if (l->batch_normalize) {
            fill_uniform(l->scales, l->n, 0.5, 1.5);
            fill_normal(l->rolling_mean, l->n, 0.1);
            fill_uniform(l->rolling_variance, l->n, 0.5, 1.5);
        }
    } else if (l->type == SHORTCUT && l->nweights > 0) {
        fill_uniform(l->weights, l->nweights, 0.5, 1.5);
    }
}

static int is_head(network *net, int i)
{
    return i + 1 < net->n && net->layers[i].type == CONVOLUTIONAL &&
           net->layers[i + 1].type == YOLO;
}

/* Mean and standard deviation of `count` blocks of n values, `stride` apart. */
static void moments(const float *x, size_t n, int count, size_t stride, double *mean, double *std)
{
    double m = 0, s = 0;
    for (int b = 0; b < count; ++b)
        for (size_t k = 0; k < n; ++k) m += x[b * stride + k];
    m /= (double)n * count;
    for (int b = 0; b < count; ++b)
        for (size_t k = 0; k < n; ++k) s += (x[b * stride + k] - m) * (x[b * stride + k] - m);
    *mean = m;
    *std = sqrt(s / ((double)n * count));
}

/* Output channel c of a convolution, before its activation, mapped to a * out + d: its
 * batch-norm scale and bias, or without batch norm its filter and bias. */
static void affine(layer *l, int c, double a, double d)
{
    if (l->batch_normalize) {
        l->scales[c] = (float)(a * l->scales[c]);
    } else {
        int per_filter = l->nweights / l->n;
        for (int k = 0; k < per_filter; ++k)
            l->weights[(size_t)c * per_filter + k] = (float)(a * l->weights[(size_t)c * per_filter + k]);
    }
    l->biases[c] = (float)(a * l->biases[c] + d);
}

/* One convolution calibrated on its inputs (state, a batch): run with its activation
 * LINEAR, each output channel moved to mean mu and std sigma over the batch (over the
 * whole layer's outputs where a channel has fewer than 16 values, as after a global
 * maxpool), where a detection head's box terms get N(0, 1), objectness N(-4.5, 1.5) (a
 * few confident cells) and classes N(0, 2), every other convolution N(0, 1). */
static void calibrate_conv(network *net, int i, network_state state)
{
    layer *l = net->layers + i, linear = *l;
    linear.activation = LINEAR;
    linear.forward(linear, state);
    size_t hw = (size_t)l->out_w * l->out_h;
    int head = is_head(net, i), per = head ? 5 + net->layers[i + 1].classes : 1;
    int pooled = hw * l->batch < 16;
    double m, s;
    if (pooled) moments(l->output, (size_t)l->outputs, l->batch, (size_t)l->outputs, &m, &s);
    for (int c = 0; c < l->out_c; ++c) {
        if (!pooled) moments(l->output + c * hw, hw, l->batch, (size_t)l->outputs, &m, &s);
        int kind = head ? c % per : -1;
        double mu = kind == 4 ? -4.5 : 0;
        double sigma = kind < 0 ? 1 : kind < 4 ? 1 : kind == 4 ? 1.5 : 2;
        double a = s > 1e-3 ? sigma / s : sigma; /* a constant channel keeps its scale */
        affine(l, c, a, mu - a * m);
    }
}

/* Layer-sequential unit variance (LSUV): the network's forward pass on a batch of
 * images, one layer at a time as the fork's forward_network() runs it, each
 * convolution calibrated (calibrate_conv) and then run again before the layers after it
 * see its output.  He-normal seeds alone let activations grow to 1e5-1e6 through the
 * shortcuts of deep cfgs, where sums of large terms that cancel (the 1x1 logistic
 * attention convolutions of [sam]) are decided by fp32 summation order; calibrated,
 * convolution outputs stay O(1)..O(10) and any summation order gives the same result to
 * rounding.  Photographs, not seeded noise: calibrated on one image of noise (uniform,
 * or with a photograph's 1/f spectrum), yolov4 at 320x320 gave head outputs hundreds
 * of times over their targets on dog.jpg, the mismatch compounding from layer to
 * layer; calibrated on a batch of photographs, every test image keeps them. */
static void calibrate(network *net, float *x)
{
    network_state state = {0};
    state.net = *net;
    state.input = x;
    state.workspace = net->workspace;
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        state.index = i;
        if (l.type == CONVOLUTIONAL && !l.share_layer) calibrate_conv(net, i, state);
        l.forward(l, state);
        state.input = l.output;
    }
}

/* The images sized as the fork's detector test sizes them, one batch. */
static float *batch_of(network *net, char **paths, int n)
{
    size_t one = (size_t)net->w * net->h * net->c;
    float *x = malloc(sizeof(float) * one * n);
    for (int b = 0; b < n; ++b) {
        image im = load_image(paths[b], 0, 0, net->c);
        image sized = net->letter_box ? letterbox_image(im, net->w, net->h)
                                      : resize_image(im, net->w, net->h);
        memcpy(x + b * one, sized.data, sizeof(float) * one);
        free_image(im);
        free_image(sized);
    }
    return x;
}

static int seed(char *cfg, char *out, unsigned long s, char **images, int n)
{
    rng_state = 0x9E3779B97F4A7C15ULL ^ (s * 0xBF58476D1CE4E5B9ULL + 1);
    for (int b = 0; b < n; ++b) {
        FILE *probe = fopen(images[b], "rb"); /* the fork's load_image() goes on without */
        if (!probe) {
            fprintf(stderr, "cannot open image %s\n", images[b]);
            return 1;
        }
        fclose(probe);
    }
    network net = parse_network_cfg_custom(cfg, n, 1);
    for (int i = 0; i < net.n; ++i) seed_layer(net.layers + i);
    float *x = batch_of(&net, images, n);
    calibrate(&net, x);
    free(x);
    save_weights(net, out);
    return 0;
}

/* detector.c test_detector(): the network, the sized image and its forward pass */
static network run(char *cfg, char *weights, char *path, image *im_out, image *sized_out)
{
    FILE *probe = fopen(path, "rb"); /* the fork's load_image() goes on without one */
    if (!probe) {
        fprintf(stderr, "cannot open image %s\n", path);
        exit(1);
    }
    fclose(probe);
    network net = parse_network_cfg_custom(cfg, 1, 1);
    load_weights(&net, weights);
    fuse_conv_batchnorm(net);
    calculate_binary_weights(net);
    image im = load_image(path, 0, 0, net.c);
    image sized = net.letter_box ? letterbox_image(im, net.w, net.h)
                                 : resize_image(im, net.w, net.h);
    network_predict(net, sized.data);
    *im_out = im;
    *sized_out = sized;
    return net;
}

static int detect(char *cfg, char *weights, char *path, float thresh, float hier, float nms)
{
    image im, sized;
    network net = run(cfg, weights, path, &im, &sized);
    layer l = net.layers[net.n - 1];
    for (int k = 0; k < net.n; ++k)
        if (net.layers[k].type == YOLO || net.layers[k].type == GAUSSIAN_YOLO ||
            net.layers[k].type == REGION)
            l = net.layers[k];
    int nboxes = 0;
    detection *dets = get_network_boxes(&net, im.w, im.h, thresh, hier, 0, 1, &nboxes,
                                        net.letter_box);
    if (nms) {
        if (l.nms_kind == DEFAULT_NMS) do_nms_sort(dets, nboxes, l.classes, nms);
        else diounms_sort(dets, nboxes, l.classes, nms, l.nms_kind, l.beta_nms);
    }
    for (int i = 0; i < nboxes; ++i) {
        box b = dets[i].bbox;
        printf("DET %.9g %.9g %.9g %.9g %.9g", b.x, b.y, b.w, b.h, dets[i].objectness);
        for (int j = 0; j < dets[i].classes; ++j) printf(" %.9g", dets[i].prob[j]);
        printf("\n");
    }
    free_detections(dets, nboxes);
    return 0;
}

static int layers(char *cfg, char *weights, char *path, char *out)
{
    image im, sized;
    network net = run(cfg, weights, path, &im, &sized);
    FILE *f = fopen(out, "wb");
    if (!f) return 1;
    fwrite(sized.data, sizeof(float), (size_t)sized.w * sized.h * sized.c, f);
    printf("SHAPE %d %d %d\n", sized.c, sized.h, sized.w);
    for (int i = 0; i < net.n; ++i) {
        layer l = net.layers[i];
        fwrite(l.output, sizeof(float), (size_t)l.outputs, f);
        printf("SHAPE %d %d %d\n", l.out_c, l.out_h, l.out_w);
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "seed"))
        return seed(argv[2], argv[3], strtoul(argv[4], 0, 10), argv + 5, argc - 5);
    if (argc == 8 && !strcmp(argv[1], "detect"))
        return detect(argv[2], argv[3], argv[4], atof(argv[5]), atof(argv[6]), atof(argv[7]));
    if (argc == 6 && !strcmp(argv[1], "layers")) return layers(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: see the comment at the top of alexeyab_driver.c\n");
    return 2;
}
