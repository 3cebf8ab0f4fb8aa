/*
 * alexeyab_driver.c - AlexeyAB's darknet (the fork, ../shared/refs) driven from the
 * tests: compiled against the fork's include/darknet.h and linked to its libdarknet.so
 * by tests/helpers/alexeyab.py, so that no struct of the fork is mirrored in Python.
 *
 *   seed   CFG OUT SEED               seeded parameters on the fork's parsed network,
 *                                     written by the fork's own save_weights()
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
 * [0.5, 1.5]: activations keep their scale through deep networks. */
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

/* Detection heads rescaled per output channel so that, before their activation, box
 * terms are ~N(0, 1), objectness ~N(-4.5, 1.5) (a few confident cells) and classes
 * ~N(0, 2), measured on one forward pass of a seeded random input. */
static void calibrate_heads(network *net)
{
    ACTIVATION saved[net->n];
    for (int i = 0; i < net->n; ++i)
        if (is_head(net, i)) {
            saved[i] = net->layers[i].activation;
            net->layers[i].activation = LINEAR;
        }
    float *x = calloc((size_t)net->w * net->h * net->c, sizeof(float));
    fill_uniform(x, net->w * net->h * net->c, 0, 1);
    network_predict(*net, x);
    free(x);
    for (int i = 0; i < net->n; ++i) {
        if (!is_head(net, i)) continue;
        layer *l = net->layers + i;
        int per = 5 + net->layers[i + 1].classes, hw = l->out_w * l->out_h;
        for (int c = 0; c < l->out_c; ++c) {
            const float *o = l->output + (size_t)c * hw;
            double m = 0, s = 0;
            for (int k = 0; k < hw; ++k) m += o[k];
            m /= hw;
            for (int k = 0; k < hw; ++k) s += (o[k] - m) * (o[k] - m);
            s = sqrt(s / hw) + 1e-6;
            int kind = c % per;
            double mu = kind == 4 ? -4.5 : 0, sigma = kind < 4 ? 1 : kind == 4 ? 1.5 : 2;
            double a = sigma / s, d = mu - a * m;
            if (l->batch_normalize) {
                l->scales[c] *= a;
            } else {
                int per_filter = l->nweights / l->n;
                for (int k = 0; k < per_filter; ++k) l->weights[(size_t)c * per_filter + k] *= a;
            }
            l->biases[c] = (float)(a * l->biases[c] + d);
        }
        l->activation = saved[i];
    }
}

static int seed(char *cfg, char *out, unsigned long s)
{
    rng_state = 0x9E3779B97F4A7C15ULL ^ (s * 0xBF58476D1CE4E5B9ULL + 1);
    network net = parse_network_cfg_custom(cfg, 1, 1);
    for (int i = 0; i < net.n; ++i) seed_layer(net.layers + i);
    calibrate_heads(&net);
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
    if (argc == 5 && !strcmp(argv[1], "seed")) return seed(argv[2], argv[3], strtoul(argv[4], 0, 10));
    if (argc == 8 && !strcmp(argv[1], "detect"))
        return detect(argv[2], argv[3], argv[4], atof(argv[5]), atof(argv[6]), atof(argv[7]));
    if (argc == 6 && !strcmp(argv[1], "layers")) return layers(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: see the comment at the top of alexeyab_driver.c\n");
    return 2;
}
