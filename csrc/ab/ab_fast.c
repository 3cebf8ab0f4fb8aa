/*
 * ab_fast.c - the DARKNET_FAST forwards of fork layers (csrc/fast/network.c installs
 * them from its table for fork networks): the fork's plain [maxpool] of stride 1 and
 * larger windows (the SPP blocks of YOLOv4 / YOLOv7: 5x5, 9x9, 13x13) as a row pass then
 * a column pass, planes in parallel.  Max is exact, so the maxima are those of upstream's
 * forward_maxpool_layer (which the fork's computes too): -FLT_MAX outside the input.
 */
#include <float.h>

#include "ab.h"
#include "fast.h"

typedef struct {
    const layer *l;
    const float *input;
} maxpool_job;

/* one plane: rows[y][x] = max over the window's columns, then over its rows */
static void separable_plane(const layer *l, const float *in, float *out, float *rows)
{
    int w = l->w, h = l->h, ow = l->out_w, oh = l->out_h, size = l->size, off = -l->pad / 2;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < ow; ++x) {
            float m = -FLT_MAX;
            for (int k = 0; k < size; ++k) {
                int ix = x + off + k;
                if (ix >= 0 && ix < w && in[y * w + ix] > m) m = in[y * w + ix];
            }
            rows[y * ow + x] = m;
        }
    for (int y = 0; y < oh; ++y) {
        float *o = out + (size_t)y * ow;
        for (int x = 0; x < ow; ++x) o[x] = -FLT_MAX;
        for (int k = 0; k < size; ++k) {
            int iy = y + off + k;
            if (iy < 0 || iy >= h) continue;
            const float *r = rows + (size_t)iy * ow;
            for (int x = 0; x < ow; ++x) o[x] = r[x] > o[x] ? r[x] : o[x];
        }
    }
}

static void separable_task(void *ctx, int p)
{
    const maxpool_job *j = ctx;
    const layer *l = j->l;
    float *rows = pydn_scratch(0, (size_t)l->h * l->out_w);
    separable_plane(l, j->input + (size_t)p * l->h * l->w,
                    l->output + (size_t)p * l->out_h * l->out_w, rows);
}

/* The fork's plain [maxpool]: separable where the window is large and the stride 1,
 * else csrc/fast's maxpool. */
void pydn_ab_fast_maxpool(layer l, network net)
{
    if (l.stride != 1 || l.size < 3) {
        pydn_forward_maxpool(l, net);
        return;
    }
    maxpool_job j = {&l, net.input};
    pydn_parallel_for(l.batch * l.c, separable_task, &j);
}
