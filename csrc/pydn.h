/*
 * pydn.h - the C entry points pydarknet calls.  Each returns 0 on success and -1 when
 * Darknet failed; pydn_last_error() then describes the failure (thread-local).
 */
#ifndef PYDN_H
#define PYDN_H

#include <setjmp.h>
#include "darknet.h"

/* --- error trapping (pydn_guard.c) ------------------------------------------------- */
const char *pydn_last_error(void);
void pydn_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log lines from Darknet: level 0 = stdout, 1 = stderr.  NULL drops them. */
typedef void (*pydn_log_fn)(int level, const char *line);
void pydn_set_log_callback(pydn_log_fn fn);

/* The outermost guard of a thread also makes the call stoppable (pydn_stop.c); leave
 * returns -1 when the call was stopped (its results are then incomplete), else 0. */
jmp_buf *pydn_guard_enter(jmp_buf *env);
int pydn_guard_leave(jmp_buf *previous);
/* Jump to the innermost guard of this thread (noreturn; pydn_exit() where none is):
 * `why` is one of PYDN_FAILED_*, `what` the message. */
void pydn_guard_fail(int why, const char *what) __attribute__((noreturn));
int pydn_guarded(void); /* is this thread inside a guarded call? */

/* A network being built (pydn_alloc.c): remember upstream's allocations from begin, and
 * at end free them all (release: the build failed) or just forget them. */
void pydn_alloc_track_begin(void);
void pydn_alloc_track_end(int release);

/* Use at the top / bottom of a function returning int.  setjmp must run in the
 * guarded function's own frame, hence macros. */
#define PYDN_GUARD_BEGIN                                        \
    jmp_buf pydn_env_;                                          \
    jmp_buf *pydn_prev_ = pydn_guard_enter(&pydn_env_);         \
    if (setjmp(pydn_env_)) {                                    \
        pydn_guard_leave(pydn_prev_);                           \
        return -1;                                              \
    }
#define PYDN_GUARD_END                                          \
    return pydn_guard_leave(pydn_prev_);

/* --- stopping long work (pydn_stop.c) ----------------------------------------------- */
/* Why this thread's last guarded call failed. */
#define PYDN_FAILED_DARKNET 0     /* Darknet gave up (exit, assert): pydn_last_error() */
#define PYDN_FAILED_INTERRUPT 1   /* SIGINT arrived during the call */
#define PYDN_FAILED_TIMEOUT 2     /* its deadline passed */
#define PYDN_FAILED_MEMORY 3      /* an allocation failed */
int pydn_last_failure(void);
/* The next outermost guarded call of this thread stops at `deadline`, seconds of
 * pydn_seconds()' clock (CLOCK_MONOTONIC, Python's time.monotonic()); 0: never. */
void pydn_set_deadline(double deadline);
/* Should the current call stop (SIGINT since it began, or past its deadline)?  Cheap;
 * callable from any thread working for the call (the pool's workers adopt its state).
 * Once true it stays true for the call, which then fails at its guard. */
int pydn_stopping(void);
/* Jump to the guard when the call should stop (a no-op outside a guarded thread). */
void pydn_stop_point(void);
/* For the thread pool: the calling thread's stop state, and adopting another's in a
 * worker (returns the one it had, to adopt again after). */
void *pydn_stop_state(void);
void *pydn_stop_adopt(void *state);

/* --- networks (pydn_network.c) ------------------------------------------------------ */
int pydn_free_network(network *net);
int pydn_parse_network(const char *cfg, network **out);    /* cfg only, batch 1 */
/* Which cfg dialect a network is built and run in: pjreddie's Darknet (upstream's
 * parser, as pydn_parse_network), or AlexeyAB's fork at 59596d78 (csrc/ab/: its layers
 * and options, batch norm fused as its detector does, its box decoding and NMS).  A
 * cfg the dialect cannot run fails with -1 and a message naming what (never exits).
 * Built while gpu_index >= 0 (a GPU build), a fork network runs on that GPU
 * (csrc/ab/ab_cuda.cu), like upstream's. */
#define PYDN_PJREDDIE 0
#define PYDN_ALEXEYAB 1
int pydn_parse_network_dialect(const char *cfg, int dialect, network **out);
int pydn_network_dialect(network *net); /* PYDN_PJREDDIE or PYDN_ALEXEYAB */
int pydn_load_weights(network *net, const char *weights);
/* Both dialects: the fork's weights files add [shortcut] weights (weights_type=). */
size_t pydn_weights_floats(network *net);  /* floats load_weights() reads */
int pydn_output_classes(network *net);
/* network_predict_image: copies min(n, net->outputs) scores into out (pjreddie). */
int pydn_classify(network *net, image im, float *out, int n);

/* --- detection (pydn_detect.c) ------------------------------------------------------ */
typedef struct {
    int n;             /* boxes, in Darknet's order after NMS */
    int classes;
    float *boxes;      /* n x 4: x, y, w, h relative to the image */
    float *probs;      /* n x classes */
    float *objectness; /* n */
} pydn_dets;

/* An HxW image of interleaved 8-bit channels (1, 3 or 4), as numpy/OpenCV hold it. */
typedef struct {
    const unsigned char *data;
    int h, w, channels;
    long row_stride; /* bytes from one row to the next */
    long col_stride; /* bytes from one pixel to the next */
} pydn_u8image;

/* test_detector's pipeline for n images at once in Darknet's batch dimension: batch n
 * (buffers grown once when needed), letterbox each image into net->input, one forward
 * pass, get_network_boxes + NMS per image, then the network's batch is restored.
 * outs: n results (free each with pydn_free_dets).
 * *forward_seconds: the time spent in the forward pass alone.
 * pydn_detect: one image in Darknet's layout (CHW RGB floats in [0, 1]), letterboxed by
 * upstream's letterbox_image.  pydn_detect_u8: 8-bit images, order as for
 * pydn_u8_to_planes.
 * Fork networks (PYDN_ALEXEYAB) follow the fork's detector test instead: each image
 * stretched (resize_image) unless [net] letter_box=1, the fork's yolo decode
 * (scale_x_y, new_coords, letterbox correction), then the NMS of the last layer's
 * nms_kind (default: do_nms_sort; greedynms, diounms, cornersnms: diounms_sort with its
 * beta_nms) at `nms`; nms_obj is ignored. */
int pydn_detect(network *net, image im, float thresh, float hier_thresh, float nms,
                int nms_obj, pydn_dets *out, double *forward_seconds);
int pydn_detect_u8(network *net, const pydn_u8image *ims, int n, const int order[3],
                   float thresh, float hier_thresh, float nms, int nms_obj, pydn_dets *outs,
                   double *forward_seconds);
void pydn_free_dets(pydn_dets *d);
double pydn_seconds(void);  /* the monotonic clock, in seconds */

/* --- 8-bit images (pydn_u8image.c) -------------------------------------------------- */
/* The 3 x h x w planes load_image_color() makes of the image (pixel / 255.):
 * order[k] is the source channel of Darknet's plane k (R, G, B). */
int pydn_u8_to_planes(const pydn_u8image *im, const int order[3], float *out);
/* letterbox_image(load_image_color(...), w, h) of upstream, computed from the bytes
 * into out (3 x h x w).  Unguarded: for use inside guarded entry points. */
void pydn_letterbox_u8(const pydn_u8image *im, const int order[3], int w, int h, float *out);
/* resize_image(load_image_color(...), w, h) likewise (the fork's stretch). */
void pydn_resize_u8(const pydn_u8image *im, const int order[3], int w, int h, float *out);

/* --- the CPU path (csrc/fast/, or pydn_cpu_upstream.c without DARKNET_FAST) --------- */
/* The forward pass on input, output in the layers (upstream network_predict, or the
 * DARKNET_FAST loop, which skips the training-only work). */
void pydn_forward(network *net, float *input);
/* Fold batch norm and install the fast layer forwards (no-op without DARKNET_FAST). */
void pydn_fast_prepare(network *net);
/* Layer i's forward alone on `input`, at the network's batch, reading the other layers'
 * outputs as they are (a fused conv + maxpool pair runs as two layers): for tests that
 * compare one layer at a time.  CPU networks only (-1 for one on a GPU). */
int pydn_forward_layer(network *net, int i, const float *input);
/* Upstream's layer forwards again (for comparisons), until the next prepare. */
void pydn_fast_restore(network *net);

int pydn_fast_build(void);        /* 1 when built with DARKNET_FAST */
const char *pydn_kernel_name(void); /* its kernels: "avx512", "avx2", "neon", "portable" */
/* Those kernels' microkernels called alone (csrc/fast/arch/kernels.h says what each
 * computes; no prefetching), for tests/test_microkernels.py; 0, or -1 without
 * DARKNET_FAST.  store_tile4 returns how many filters it stored. */
int pydn_kernel_gemm(const float *w, const float *b, int ldb, int K, int n, float *c, int ldc,
                     int mrows, int add);
int pydn_kernel_product(const float *u, const float *v, int C, int nt, float *out, int ldo,
                        int add);
int pydn_kernel_store_tile4(const float *x, int ld, int nk, float *out, int wd, long plane);
/* What conv layer i runs ("winograd4/avx2", "gemm/avx2", "openblas", ...; "" for other
 * layers) into buf; returns the length (csrc/fast/kernel.c). */
int pydn_layer_kernel(network *net, int i, char *buf, int cap);
int pydn_set_threads(int n);      /* n <= 0: the default; returns the count */
int pydn_get_threads(void);
/* Per-layer timing of pydn_forward (DARKNET_FAST): switch on/off (returns the old
 * state); copy up to cap seconds of the last pass, returns the layer count. */
int pydn_profile(int on);
int pydn_layer_seconds(double *out, int cap);

#endif /* PYDN_H */
