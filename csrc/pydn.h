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

jmp_buf *pydn_guard_enter(jmp_buf *env);
void pydn_guard_leave(jmp_buf *previous);

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
    pydn_guard_leave(pydn_prev_);                               \
    return 0;

/* --- networks and inference (pydn_api.c) ------------------------------------------- */
typedef struct {
    int n;             /* boxes, in Darknet's order after NMS */
    int classes;
    float *boxes;      /* n x 4: x, y, w, h relative to the image */
    float *probs;      /* n x classes */
    float *objectness; /* n */
} pydn_dets;

int pydn_load_network(const char *cfg, const char *weights, int clear, network **out);
int pydn_free_network(network *net);
int pydn_parse_network(const char *cfg, network **out);    /* cfg only, batch 1 */
int pydn_load_weights(network *net, const char *weights);
size_t pydn_weights_floats(network *net);  /* floats load_weights() reads */
int pydn_output_classes(network *net);
/* The whole of test_detector's pipeline for one image (CHW RGB floats in [0, 1]). */
int pydn_detect(network *net, image im, float thresh, float hier_thresh, float nms,
                int nms_obj, pydn_dets *out);
void pydn_free_dets(pydn_dets *d);
/* network_predict_image: copies min(n, net->outputs) scores into out. */
int pydn_classify(network *net, image im, float *out, int n);
int pydn_letterbox(image im, int w, int h, image *out);
int pydn_free_image(image im);

#endif /* PYDN_H */
