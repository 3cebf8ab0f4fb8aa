/*
 * pydn_u8image.c - Darknet's float input straight from 8-bit pixels (declared in
 * pydn.h): load_image_color()'s planes, and letterbox_image() or resize_image() of
 * them, computed from the bytes with upstream's float arithmetic (bit-identical),
 * without intermediate images.  Threaded on the DARKNET_FAST pool in that build.
 */
#include <stddef.h>
#include <stdlib.h>

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

/* Upstream resize_image(im, new_w, new_h) embedded at (x0, y0) into a w x h canvas
 * filled with .5, with the same float arithmetic in the same order (so the result is
 * the same), but reading the bytes directly and writing into `out`: no float copy of
 * the source image, no intermediate images, no allocation but two per-column tables. */
static void resize_into(const pydn_u8image *im, const int order[3], int w, int h, int new_w,
                        int new_h, float *out)
{
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

/* Upstream letterbox_image(im, w, h) = resize_image() to fit, then embed_image() into a
 * w x h canvas filled with .5. */
void pydn_letterbox_u8(const pydn_u8image *im, const int order[3], int w, int h, float *out)
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
    resize_into(im, order, w, h, new_w, new_h, out);
}

/* resize_image(im, w, h): the whole canvas. */
void pydn_resize_u8(const pydn_u8image *im, const int order[3], int w, int h, float *out)
{
    resize_into(im, order, w, h, w, h, out);
}
