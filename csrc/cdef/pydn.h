/* cffi declarations of csrc/pydn.h (see there for what each does). */

const char *pydn_last_error(void);
typedef void (*pydn_log_fn)(int level, const char *line);
void pydn_set_log_callback(pydn_log_fn fn);
extern "Python" void pydn_python_log(int level, const char *line);

typedef struct {
    int n;
    int classes;
    float *boxes;
    float *probs;
    float *objectness;
} pydn_dets;

int pydn_free_network(network *net);
int pydn_parse_network(const char *cfg, network **out);
int pydn_parse_network_dialect(const char *cfg, int dialect, network **out);
int pydn_network_dialect(network *net);
int pydn_load_weights(network *net, const char *weights);
size_t pydn_weights_floats(network *net);
int pydn_output_classes(network *net);
int pydn_detect(network *net, image im, float thresh, float hier_thresh, float nms,
                int nms_obj, pydn_dets *out, double *forward_seconds);
void pydn_free_dets(pydn_dets *d);
int pydn_classify(network *net, image im, float *out, int n);

/* csrc/pydn.h, 8-bit images, batches and the CPU path */
typedef struct {
    const unsigned char *data;
    int h, w, channels;
    long row_stride;
    long col_stride;
} pydn_u8image;

int pydn_u8_to_planes(const pydn_u8image *im, const int order[3], float *out);
int pydn_detect_u8(network *net, const pydn_u8image *ims, int n, const int order[3],
                   float thresh, float hier_thresh, float nms, int nms_obj, pydn_dets *outs,
                   double *forward_seconds);
void pydn_fast_restore(network *net);
int pydn_fast_build(void);
int pydn_simd_level(void);
int pydn_set_threads(int n);
int pydn_get_threads(void);
int pydn_profile(int on);
int pydn_layer_seconds(double *out, int cap);
