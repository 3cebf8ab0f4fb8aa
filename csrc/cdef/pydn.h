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

int pydn_load_network(const char *cfg, const char *weights, int clear, network **out);
int pydn_free_network(network *net);
int pydn_parse_network(const char *cfg, network **out);
int pydn_load_weights(network *net, const char *weights);
size_t pydn_weights_floats(network *net);
int pydn_output_classes(network *net);
int pydn_detect(network *net, image im, float thresh, float hier_thresh, float nms,
                int nms_obj, pydn_dets *out);
void pydn_free_dets(pydn_dets *d);
int pydn_classify(network *net, image im, float *out, int n);
int pydn_letterbox(image im, int w, int h, image *out);
int pydn_free_image(image im);
