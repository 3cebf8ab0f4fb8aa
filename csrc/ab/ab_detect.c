/*
 * ab_detect.c - the fork's detector test after the forward pass (src/detector.c,
 * yolo_layer.c, box.c at 59596d78): get_network_boxes(w, h, thresh, hier, 0, relative 1,
 * letter) with its yolo decode, then the NMS of the last layer's nms_kind; and the
 * batch growth of fork networks.
 */
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ab.h"
#include "utils.h"

/* upstream's, not in its headers */
detection *make_network_boxes(network *net, float thresh, int *num); /* src/network.c */
float box_intersection(box a, box b);                               /* src/box.c */

/* get_yolo_box: new_coords decodes w, h from the (logistic) outputs squared. */
static box yolo_box(const layer *l, const float *x, int n, int index, int i, int j, int netw,
                    int neth)
{
    int stride = l->w * l->h;
    const float *biases = l->biases;
    box b;
    b.x = (i + x[index + 0 * stride]) / l->w;
    b.y = (j + x[index + 1 * stride]) / l->h;
    if (l->ab_new_coords) {
        b.w = x[index + 2 * stride] * x[index + 2 * stride] * 4 * biases[2 * n] / netw;
        b.h = x[index + 3 * stride] * x[index + 3 * stride] * 4 * biases[2 * n + 1] / neth;
    } else {
        b.w = exp(x[index + 2 * stride]) * biases[2 * n] / netw;
        b.h = exp(x[index + 3 * stride]) * biases[2 * n + 1] / neth;
    }
    return b;
}

/* correct_yolo_boxes of the fork: back from the network's (letterboxed) frame. */
static void correct_boxes(detection *dets, int n, int w, int h, int netw, int neth, int letter)
{
    int new_w = netw, new_h = neth;
    if (letter) {
        if (((float)netw / w) < ((float)neth / h)) {
            new_w = netw;
            new_h = (h * netw) / w;
        } else {
            new_h = neth;
            new_w = (w * neth) / h;
        }
    }
    float deltaw = netw - new_w, deltah = neth - new_h;
    float ratiow = (float)new_w / netw, ratioh = (float)new_h / neth;
    for (int i = 0; i < n; ++i) {
        box b = dets[i].bbox;
        b.x = (b.x - deltaw / 2. / netw) / ratiow;
        b.y = (b.y - deltah / 2. / neth) / ratioh;
        b.w *= 1 / ratiow;
        b.h *= 1 / ratioh;
        dets[i].bbox = b;
    }
}

/* get_yolo_detections of the fork (image 0 of the layer's output) */
static int yolo_detections(const layer *l, int w, int h, int netw, int neth, float thresh,
                           int letter, detection *dets)
{
    const float *p = l->output;
    int count = 0, plane = l->w * l->h, entries = 4 + l->classes + 1;
    for (int i = 0; i < plane; ++i)
        for (int n = 0; n < l->n; ++n) {
            int at = n * plane * entries + i; /* entry_index(l, 0, n * plane + i, 0) */
            float objectness = p[at + 4 * plane];
            if (!(objectness > thresh)) continue;
            dets[count].bbox = yolo_box(l, p, l->mask[n], at, i % l->w, i / l->w, netw, neth);
            dets[count].objectness = objectness;
            dets[count].classes = l->classes;
            for (int j = 0; j < l->classes; ++j) {
                float prob = objectness * p[at + (5 + j) * plane];
                dets[count].prob[j] = (prob > thresh) ? prob : 0;
            }
            ++count;
        }
    correct_boxes(dets, count, w, h, netw, neth, letter);
    return count;
}

/* --- box.c of the fork ---------------------------------------------------------------- */

static float box_iou_ab(box a, box b)
{
    float i = box_intersection(a, b), u = a.w * a.h + b.w * b.h - i;
    if (i == 0 || u == 0) return 0;
    return i / u;
}

/* box_diou (power 0.6) and box_diounms (power beta): IoU minus the normalized squared
 * distance of the centres to that power. */
static float box_diou_pow(box a, box b, float power)
{
    float top = fmin(a.y - a.h / 2, b.y - b.h / 2), bot = fmax(a.y + a.h / 2, b.y + b.h / 2);
    float left = fmin(a.x - a.w / 2, b.x - b.w / 2), right = fmax(a.x + a.w / 2, b.x + b.w / 2);
    float w = right - left, h = bot - top, c = w * w + h * h;
    float iou = box_iou_ab(a, b);
    if (c == 0) return iou;
    float d = (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y);
    float u = pow(d / c, power);
    return iou - u;
}

static int nms_comparator(const void *pa, const void *pb)
{
    const detection *a = pa, *b = pb;
    float diff = b->sort_class >= 0 ? a->prob[b->sort_class] - b->prob[b->sort_class]
                                    : a->objectness - b->objectness;
    if (diff < 0) return 1;
    if (diff > 0) return -1;
    return 0;
}

/* diounms_sort of the fork: greedynms compares box_diou, diounms box_diounms(beta),
 * cornersnms plain IoU. */
static void diounms_sort(detection *dets, int total, int classes, float thresh, int kind,
                         float beta)
{
    int k = total - 1;
    for (int i = 0; i <= k; ++i)
        if (dets[i].objectness == 0) {
            detection swap = dets[i];
            dets[i] = dets[k];
            dets[k] = swap;
            --k;
            --i;
        }
    total = k + 1;
    for (k = 0; k < classes; ++k) {
        for (int i = 0; i < total; ++i) dets[i].sort_class = k;
        qsort(dets, total, sizeof(detection), nms_comparator);
        for (int i = 0; i < total; ++i) {
            if (dets[i].prob[k] == 0) continue;
            box a = dets[i].bbox;
            for (int j = i + 1; j < total; ++j) {
                box b = dets[j].bbox;
                if (box_iou_ab(a, b) > thresh && kind == AB_CORNERS_NMS)
                    dets[j].prob[k] = 0;
                else if (box_diou_pow(a, b, 0.6f) > thresh && kind == AB_GREEDY_NMS)
                    dets[j].prob[k] = 0;
                else if (kind == AB_DIOU_NMS && box_diou_pow(a, b, beta) > thresh)
                    dets[j].prob[k] = 0;
            }
        }
    }
}

detection *pydn_ab_boxes(network *net, int w, int h, float thresh, float nms, int *nboxes)
{
    const pydn_ab_net *info = pydn_ab_find(net);
    int letter = info && info->letter_box;
    detection *dets = make_network_boxes(net, thresh, nboxes), *d = dets;
    for (int i = 0; i < net->n; ++i)
        if (net->layers[i].type == YOLO)
            d += yolo_detections(net->layers + i, w, h, net->w, net->h, thresh, letter, d);
    layer last = net->layers[net->n - 1];
    if (nms > 0) {
        if (last.type != YOLO || last.ab_nms_kind == AB_DEFAULT_NMS)
            do_nms_sort(dets, *nboxes, last.classes, nms);
        else
            diounms_sort(dets, *nboxes, last.classes, nms, last.ab_nms_kind, last.ab_beta_nms);
    }
    return dets;
}

/* Every buffer a forward writes per image, grown to `batch` images where it is
 * smaller (upstream's resize_network does not know the fork's layers); on a GPU also
 * the device's (ab_cuda.cu). */
static void fit(void *p, size_t bytes)
{
    void **at = p;
    if (*at && malloc_usable_size(*at) >= bytes) return;
    free(*at);
    *at = calloc(1, bytes);
    if (!*at) malloc_error();
}

void pydn_ab_fit_batch(network *net, int batch)
{
    fit(&net->input, sizeof(float) * net->inputs * batch);
    for (int i = 0; i < net->n; ++i) {
        layer *l = net->layers + i;
        fit(&l->output, sizeof(float) * l->outputs * batch);
        if (l->indexes) fit(&l->indexes, sizeof(int) * l->outputs * batch);
    }
    net->output = net->layers[net->n - 1].output;
#ifdef GPU
    if (net->gpu_index >= 0) pydn_ab_gpu_fit_batch(net, pydn_ab_find(net), batch);
#endif
}
