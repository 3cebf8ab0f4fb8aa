/*
 * pydn_batch.c - detection straight from 8-bit pixels, for one image or a batch
 * (declared in pydn.h).  Built in both the DARKNET_FAST and the upstream build;
 * only the forward pass differs (pydn_forward).
 */
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pydn.h"
#ifdef PYDN_FAST
#include "fast.h"
#endif

/* src/image_opencv.cpp mat_to_image(): pixel / 255. in double, stored as float. */
static float u8_to_float[256];

__attribute__((constructor)) static void init_table(void)
{
    for (int i = 0; i < 256; ++i) u8_to_float[i] = (float)(i / 255.);
}

static inline float px(const pydn_u8image *im, int x, int y, int ch)
{
    return u8_to_float[im->data[y * im->row_stride + x * im->col_stride + ch]];
}

/* Row y of upstream resize_image()'s horizontal pass ("part"), for channel ch. */
static void part_row(const pydn_u8image *im, int ch, int y, int new_w, const int *ix,
                     const float *dx, float *row)
{
    for (int c = 0; c < new_w; ++c) {
        if (c == new_w - 1 || im->w == 1)
            row[c] = px(im, im->w - 1, y, ch);
        else
            row[c] = (1 - dx[c]) * px(im, ix[c], y, ch) + dx[c] * px(im, ix[c] + 1, y, ch);
    }
}

/* load_image_color()'s planes from the bytes, LETTERBOX_ROWS rows of one plane a task. */
typedef struct {
    const pydn_u8image *im;
    const int *order;
    float *out;
} planes_job;

#define LETTERBOX_ROWS 16 /* output rows per task */

static void planes_task(void *ctx, int t)
{
    const planes_job *j = ctx;
    const pydn_u8image *im = j->im;
    for (int row = t * LETTERBOX_ROWS; row < (t + 1) * LETTERBOX_ROWS && row < 3 * im->h; ++row) {
        int k = row / im->h, y = row % im->h;
        float *dst = j->out + (size_t)row * im->w;
        for (int x = 0; x < im->w; ++x) dst[x] = px(im, x, y, j->order[k]);
    }
}

int pydn_u8_to_planes(const pydn_u8image *im, const int order[3], float *out)
{
    PYDN_GUARD_BEGIN
    planes_job j = {im, order, out};
    int tasks = (3 * im->h + LETTERBOX_ROWS - 1) / LETTERBOX_ROWS;
#ifdef PYDN_FAST
    pydn_parallel_for(tasks, planes_task, &j);
#else
    for (int t = 0; t < tasks; ++t) planes_task(&j, t);
#endif
    PYDN_GUARD_END
}

typedef struct {
    const pydn_u8image *im;
    const int *order;
    int w, h, new_w, new_h, x0, y0;
    float h_scale;
    const int *ix;
    const float *dx;
    float *out;
} letterbox_job;

static void letterbox_task(void *ctx, int t)
{
    const letterbox_job *j = ctx;
    int w = j->w, h = j->h, new_w = j->new_w, new_h = j->new_h, x0 = j->x0;
    float a[new_w], b[new_w];
    for (int row = t * LETTERBOX_ROWS; row < (t + 1) * LETTERBOX_ROWS && row < 3 * h; ++row) {
        int k = row / h, r = row % h - j->y0;
        float *dst = j->out + (size_t)row * w;
        if (r < 0 || r >= new_h) {
            for (int x = 0; x < w; ++x) dst[x] = .5f;
            continue;
        }
        for (int x = 0; x < x0; ++x) dst[x] = .5f;
        for (int x = x0 + new_w; x < w; ++x) dst[x] = .5f;
        float sy = r * j->h_scale;
        int iy = new_h == 1 ? 0 : (int)sy;
        float dy = new_h == 1 ? 0 : sy - iy;
        part_row(j->im, j->order[k], iy, new_w, j->ix, j->dx, a);
        float *d = dst + x0;
        for (int c = 0; c < new_w; ++c) d[c] = (1 - dy) * a[c];
        if (!(r == new_h - 1 || j->im->h == 1)) {
            part_row(j->im, j->order[k], iy + 1, new_w, j->ix, j->dx, b);
            for (int c = 0; c < new_w; ++c) d[c] += dy * b[c];
        }
    }
}

/* Upstream letterbox_image(im, w, h) = resize_image() to fit, then embed_image() into a
 * w x h canvas filled with .5, with the same float arithmetic in the same order (so the
 * result is the same), but reading the bytes directly and writing into `out`: no
 * float copy of the source image, no intermediate images, no allocation but two
 * per-column tables. */
static void letterbox_u8(const pydn_u8image *im, const int order[3], int w, int h, float *out)
{
    int new_w = im->w, new_h = im->h;
    if (((float)w / im->w) < ((float)h / im->h)) {
        new_w = w;
        new_h = (im->h * w) / im->w;
    } else {
        new_h = h;
        new_w = (im->w * h) / im->h;
    }
    if (new_w < 1) new_w = 1;
    if (new_h < 1) new_h = 1;
    float w_scale = (float)(im->w - 1) / (new_w - 1);
    int *ix = malloc(sizeof(int) * new_w);
    float *dx = malloc(sizeof(float) * new_w);
    for (int c = 0; c < new_w - 1; ++c) {
        float sx = c * w_scale;
        ix[c] = (int)sx;
        dx[c] = sx - ix[c];
    }
    letterbox_job j = {im, order, w, h, new_w, new_h, (w - new_w) / 2, (h - new_h) / 2,
                       (float)(im->h - 1) / (new_h - 1), ix, dx, out};
    int tasks = (3 * h + LETTERBOX_ROWS - 1) / LETTERBOX_ROWS;
#ifdef PYDN_FAST
    pydn_parallel_for(tasks, letterbox_task, &j);
#else
    for (int t = 0; t < tasks; ++t) letterbox_task(&j, t);
#endif
    free(ix);
    free(dx);
}

int pydn_letterbox_u8(const pydn_u8image *im, const int order[3], int w, int h, float *out)
{
    PYDN_GUARD_BEGIN
    letterbox_u8(im, order, w, h, out);
    PYDN_GUARD_END
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

/* set_batch_network() without its cuDNN descriptor updates for a CPU network (a CPU
 * network in a cuDNN build has none).  Weak: a build with csrc/pydn_device.c uses
 * that file's pydn_batch_network, which does the same. */
__attribute__((weak)) void pydn_batch_network(network *net, int batch)
{
    net->batch = batch;
    for (int i = 0; i < net->n; ++i) net->layers[i].batch = batch;
}

/* The network at `batch`, growing its buffers when they are too small for it
 * (resize_network at the same size reallocates them for the batch). */
static void set_batch(network *net, int batch)
{
    pydn_batch_network(net, batch);
    if (!buffers_fit(net, batch)) resize_network(net, net->w, net->h);
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The guarded part of pydn_detect_u8; *shifted says which image the detection layers
 * point at, so that the caller can undo it when Darknet fails half-way. */
static int detect_u8(network *net, const pydn_u8image *ims, int n, const int order[3],
                     float thresh, float hier_thresh, float nms, int nms_obj, pydn_dets *outs,
                     double *forward_seconds, int *shifted)
{
    PYDN_GUARD_BEGIN
    set_batch(net, n);
    int inputs = net->w * net->h * 3;
    for (int i = 0; i < n; ++i)
        letterbox_u8(ims + i, order, net->w, net->h, net->input + (size_t)i * inputs);
    double t0 = now();
    pydn_forward(net, net->input);
    *forward_seconds = now() - t0;
    layer l = net->layers[net->n - 1];
    /* Boxes are read one image at a time, at batch 1: at batch 2 upstream's
     * get_yolo/region_detections take the second image for a mirrored copy of the first
     * and average them (avg_flipped_yolo). */
    pydn_batch_network(net, 1);
    for (int i = 0; i < n; ++i) {
        int nboxes = 0;
        shift_outputs(net, i);
        *shifted = i;
        detection *dets =
            get_network_boxes(net, ims[i].w, ims[i].h, thresh, hier_thresh, 0, 1, &nboxes);
        shift_outputs(net, -i);
        *shifted = 0;
        if (nms > 0) {
            if (nms_obj)
                do_nms_obj(dets, nboxes, l.classes, nms);
            else
                do_nms_sort(dets, nboxes, l.classes, nms);
        }
        pydn_pack_dets(dets, nboxes, l.classes, outs + i);
        free_detections(dets, nboxes);
    }
    PYDN_GUARD_END
}

int pydn_detect_u8(network *net, const pydn_u8image *ims, int n, const int order[3],
                   float thresh, float hier_thresh, float nms, int nms_obj, pydn_dets *outs,
                   double *forward_seconds)
{
    if (n < 1) {
        pydn_set_error("no images");
        return -1;
    }
    if (net->c != 3) {
        pydn_set_error("the network takes %d channels; detection needs 3", net->c);
        return -1;
    }
    memset(outs, 0, sizeof(pydn_dets) * n);
    int batch = net->batch, shifted = 0;
    int rc = detect_u8(net, ims, n, order, thresh, hier_thresh, nms, nms_obj, outs,
                       forward_seconds, &shifted);
    if (shifted) shift_outputs(net, -shifted);
    pydn_batch_network(net, batch);
    return rc;
}

#ifndef PYDN_FAST
/* The upstream build: Darknet's own forward pass and a single thread. */
void pydn_forward(network *net, float *input) { network_predict(net, input); }
void pydn_fast_prepare(network *net) { (void)net; }
void pydn_fast_restore(network *net) { (void)net; }
int pydn_fast_build(void) { return 0; }
int pydn_set_threads(int n) { (void)n; return 1; }
int pydn_get_threads(void) { return 1; }
int pydn_profile(int on) { (void)on; return 0; }
int pydn_layer_seconds(double *out, int cap) { (void)out; (void)cap; return 0; }
#endif
