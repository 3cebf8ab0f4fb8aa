/* cffi declarations of csrc/pydn_batch.h (see there for what each does). */

typedef struct {
    const unsigned char *data;
    int h, w, channels;
    long row_stride;
    long col_stride;
} pydn_u8image;

int pydn_letterbox_u8(const pydn_u8image *im, const int order[3], int w, int h, float *out);
int pydn_set_batch(network *net, int batch);
int pydn_detect_u8(network *net, const pydn_u8image *ims, int n, const int order[3],
                   float thresh, float hier_thresh, float nms, int nms_obj, pydn_dets *outs,
                   double *forward_seconds);
void pydn_fast_prepare(network *net);
int pydn_fast_build(void);
int pydn_set_threads(int n);
int pydn_get_threads(void);
int pydn_profile(int on);
int pydn_layer_seconds(double *out, int cap);
