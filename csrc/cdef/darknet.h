/* cffi declarations of the parts of darknet.h that pydarknet reads.
 * Structs end in "...;": their layout is taken from the real darknet.h by the C
 * compiler when the extension is built, so it cannot drift from the library.  Field
 * types are checked by the compiler too (-Werror=incompatible-pointer-types). */

typedef enum {
    CONVOLUTIONAL, DECONVOLUTIONAL, CONNECTED, MAXPOOL, SOFTMAX, DETECTION, DROPOUT,
    CROP, ROUTE, COST, NORMALIZATION, AVGPOOL, LOCAL, SHORTCUT, ACTIVE, RNN, GRU, LSTM,
    CRNN, BATCHNORM, NETWORK, XNOR, REGION, YOLO, ISEG, REORG, UPSAMPLE, LOGXENT, L2NORM,
    BLANK
} LAYER_TYPE;

typedef struct layer {
    LAYER_TYPE type;
    int batch;
    int inputs;
    int outputs;
    int h, w, c;
    int out_h, out_w, out_c;
    int n;
    int classes;
    int nweights;
    int nbiases;
    int batch_normalize;
    float *output;
    ...;
} layer;

typedef struct network {
    int n;
    int batch;
    layer *layers;
    float *input;
    float *output;
    int inputs;
    int outputs;
    int h, w, c;
    int gpu_index;
    ...;
} network;

typedef struct {
    int w;
    int h;
    int c;
    float *data;
} image;
