/*
 * ab_parse.c - a cfg of AlexeyAB's fork -> an upstream `network`, following the fork's
 * parse_network_cfg_custom() (src/parser.c at 59596d78) for inference at batch 1:
 * the same options, defaults and output sizes.  Layers whose computation is upstream's
 * use upstream's make_*_layer and forward (plain [maxpool], [upsample], [route] without
 * groups); the others get a forward of ab_layers.c and their fork parameters in the
 * fields ab.h names.  What this dialect cannot run (training-only and recurrent layers,
 * options that change the computation and are not implemented) is refused with an
 * error naming it, never an exit.  Also the registry of fork networks (ab.h).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab.h"
#include "pydn.h"
#include "pydn_trap.h" /* its fprintf(stderr) goes to the log, as upstream's */
#include "convolutional_layer.h"
#include "maxpool_layer.h"
#include "option_list.h"
#include "reorg_layer.h"
#include "route_layer.h"
#include "upsample_layer.h"
#include "utils.h"
#include "yolo_layer.h"

/* src/parser.c's (not in its header) */
typedef struct {
    char *type;
    list *options;
} section;
void free_section(section *s);
int *parse_yolo_mask(char *a, int *num);

/* --- the registry of fork networks ------------------------------------------------- */

typedef struct entry {
    const network *net;
    pydn_ab_net info;
    struct entry *next;
} entry;

static entry *registry;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static int remember(const network *net, pydn_ab_net info)
{
    entry *e = malloc(sizeof *e);
    if (!e) return -1;
    e->net = net;
    e->info = info;
    pthread_mutex_lock(&registry_lock);
    e->next = registry;
    registry = e;
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

const pydn_ab_net *pydn_ab_find(const network *net)
{
    pthread_mutex_lock(&registry_lock);
    entry *e = registry;
    while (e && e->net != net) e = e->next;
    pthread_mutex_unlock(&registry_lock);
    return e ? &e->info : NULL;
}

void pydn_ab_forget(const network *net)
{
    pthread_mutex_lock(&registry_lock);
    for (entry **p = &registry; *p; p = &(*p)->next)
        if ((*p)->net == net) {
            entry *e = *p;
            *p = e->next;
            free(e);
            break;
        }
    pthread_mutex_unlock(&registry_lock);
}

/* --- sections ----------------------------------------------------------------------- */

typedef struct {
    network *net;
    int index;       /* of the layer being built */
    int h, w, c;     /* its input */
    int inputs;
} parse_state;

static int refuse(const char *fmt, ...) __attribute__((format(__printf__, 1, 2)));
static int refuse(const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pydn_set_error("alexeyab dialect: %s", text);
    return -1;
}

static char *find_str_quiet(list *o, const char *key, char *def)
{
    char *v = option_find(o, (char *)key);
    return v ? v : def;
}

/* The fork's get_activation(): an unknown name is relu, as there (with its warning). */
static int activation_of(list *o, const char *def, ACTIVATION *out)
{
    static const struct {
        const char *name;
        int a;
    } names[] = {
        {"logistic", LOGISTIC}, {"swish", PYDN_AB_SWISH}, {"mish", PYDN_AB_MISH},
        {"hard_mish", PYDN_AB_HARD_MISH}, {"loggy", LOGGY}, {"relu", RELU},
        {"relu6", PYDN_AB_RELU6}, {"elu", ELU}, {"selu", SELU}, {"gelu", PYDN_AB_GELU},
        {"relie", RELIE}, {"plse", PLSE}, {"hardtan", HARDTAN}, {"lhtan", LHTAN},
        {"linear", LINEAR}, {"ramp", RAMP}, {"revleaky", LEAKY}, {"leaky", LEAKY},
        {"tanh", TANH}, {"stair", STAIR},
    };
    char *s = option_find_str(o, "activation", (char *)def);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
        if (!strcmp(s, names[i].name)) {
            *out = (ACTIVATION)names[i].a;
            return 0;
        }
    if (!strncmp(s, "normalize_channels", 18))
        return refuse("activation=%s is not supported", s);
    fprintf(stderr, "Couldn't find activation function %s, going with ReLU\n", s);
    *out = RELU;
    return 0;
}

static int need_image(const parse_state *p, const char *what)
{
    if (p->h > 0 && p->w > 0 && p->c > 0) return 0;
    return refuse("the layer before [%s] (layer %d) must output an image", what, p->index);
}

/* A layer index of a from=/layers= list: relative when negative, and an earlier layer. */
static int layer_ref(const parse_state *p, const char *text, int *out)
{
    int i = atoi(text);
    if (i < 0) i += p->index;
    if (i < 0 || i >= p->index) return refuse("layer %d refers to layer %d", p->index, i);
    *out = i;
    return 0;
}

/* key= "a, b, c" -> n layer indexes (malloc'd) */
static int parse_list(const parse_state *p, list *o, const char *key, int **out, int *n)
{
    char *s = option_find(o, (char *)key);
    if (!s) return refuse("layer %d needs %s=", p->index, key);
    *n = 1;
    for (char *q = s; *q; ++q) *n += *q == ',';
    *out = calloc(*n, sizeof(int));
    for (int i = 0; i < *n; ++i) {
        if (layer_ref(p, s, *out + i)) {
            free(*out);
            *out = NULL;
            return -1;
        }
        char *comma = strchr(s, ',');
        if (comma) s = comma + 1;
    }
    return 0;
}

static int parse_conv(parse_state *p, list *o, layer *l)
{
    int n = option_find_int(o, "filters", 1), groups = option_find_int_quiet(o, "groups", 1);
    int size = option_find_int(o, "size", 1), stride = 1;
    int sx = option_find_int_quiet(o, "stride_x", -1), sy = option_find_int_quiet(o, "stride_y", -1);
    if (sx < 1 || sy < 1) {
        stride = option_find_int(o, "stride", 1);
        if (sx < 1) sx = stride;
        if (sy < 1) sy = stride;
    }
    int dilation = size == 1 ? 1 : option_find_int_quiet(o, "dilation", 1);
    int pad = option_find_int_quiet(o, "pad", 0), padding = option_find_int_quiet(o, "padding", 0);
    if (pad) padding = size / 2;
    ACTIVATION act;
    if (activation_of(o, "logistic", &act)) return -1;
    int bn = option_find_int_quiet(o, "batch_normalize", 0) || option_find_int_quiet(o, "cbn", 0);
    static const char *unsupported[] = {"antialiasing", "share_index", "binary", "xnor",
                                        "sway", "rotate", "stretch", "stretch_sway",
                                        "coordconv", "flipped"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; ++i)
        if (option_find_int_quiet(o, (char *)unsupported[i], 0) > 0)
            return refuse("[convolutional] %s= (layer %d) is not supported", unsupported[i],
                          p->index);
    if (option_find(o, "share_index")) return refuse("[convolutional] share_index= is not supported");
    if (sx != sy) return refuse("[convolutional] stride_x != stride_y (layer %d)", p->index);
    if (dilation != 1) return refuse("[convolutional] dilation= (layer %d)", p->index);
    if (need_image(p, "convolutional")) return -1;
    if (n < 1 || size < 1 || sx < 1 || groups < 1 || p->c % groups || n % groups)
        return refuse("[convolutional] layer %d: filters=%d size=%d stride=%d groups=%d "
                      "do not fit %d channels", p->index, n, size, sx, groups, p->c);
    *l = make_convolutional_layer(1, p->h, p->w, p->c, n, groups, size, sx, padding, LINEAR, bn,
                                  0, 0, 0);
    l->activation = act;
    l->forward = pydn_ab_forward_conv;
    return 0;
}

static int parse_maxpool(parse_state *p, list *o, layer *l)
{
    int stride = option_find_int(o, "stride", 1);
    int sx = option_find_int_quiet(o, "stride_x", stride), sy = option_find_int_quiet(o, "stride_y", stride);
    int size = option_find_int(o, "size", stride);
    int padding = option_find_int_quiet(o, "padding", size - 1);
    int depth = option_find_int_quiet(o, "maxpool_depth", 0);
    int out_channels = option_find_int_quiet(o, "out_channels", 1);
    if (option_find_int_quiet(o, "antialiasing", 0))
        return refuse("[maxpool] antialiasing= (layer %d) is not supported", p->index);
    if (need_image(p, "maxpool")) return -1;
    if (size < 1 || sx < 1 || sy < 1 || (depth && out_channels < 1))
        return refuse("[maxpool] layer %d: size=%d stride=%d,%d", p->index, size, sx, sy);
    /* upstream's layer (computes what the fork's does); then the fork's geometry */
    *l = make_maxpool_layer(1, p->h, p->w, p->c, size, sx, padding);
    if (sx == sy && !depth) return 0;
    l->ab_stride_y = sy;
    l->ab_maxpool_depth = depth;
    l->out_w = depth ? p->w : (p->w + padding - size) / sx + 1;
    l->out_h = depth ? p->h : (p->h + padding - size) / sy + 1;
    l->out_c = depth ? out_channels : p->c;
    l->outputs = l->out_w * l->out_h * l->out_c;
    free(l->output);
    free(l->indexes);
    free(l->delta);
    l->indexes = NULL;
    l->delta = NULL;
    l->output = calloc(l->outputs, sizeof(float));
    l->forward = pydn_ab_forward_maxpool;
    return 0;
}

static int parse_route(parse_state *p, list *o, layer *l)
{
    int *layers, n;
    if (parse_list(p, o, "layers", &layers, &n)) return -1;
    int *sizes = calloc(n, sizeof(int));
    for (int i = 0; i < n; ++i) sizes[i] = p->net->layers[layers[i]].outputs;
    int groups = option_find_int_quiet(o, "groups", 1);
    int group_id = option_find_int_quiet(o, "group_id", 0);
    *l = make_route_layer(1, n, layers, sizes);
    const layer *first = p->net->layers + layers[0];
    l->out_w = first->out_w;
    l->out_h = first->out_h;
    l->out_c = first->out_c;
    for (int i = 1; i < n; ++i) {
        const layer *next = p->net->layers + layers[i];
        if (next->out_w != first->out_w || next->out_h != first->out_h)
            return refuse("[route] layer %d: inputs of different sizes", p->index);
        l->out_c += next->out_c;
    }
    if (groups < 1 || group_id < 0 || group_id >= groups || l->out_c % groups)
        return refuse("[route] layer %d: groups=%d group_id=%d", p->index, groups, group_id);
    if (groups == 1) return 0;  /* upstream's concatenation */
    l->groups = groups;
    l->ab_group_id = group_id;
    l->out_c /= groups;
    l->outputs /= groups;
    l->inputs = l->outputs;
    l->forward = pydn_ab_forward_route;
    return 0;
}

static int parse_shortcut(parse_state *p, list *o, layer *l)
{
    ACTIVATION act;
    if (activation_of(o, "linear", &act)) return -1;
    char *type = find_str_quiet(o, "weights_type", "none");
    char *norm = find_str_quiet(o, "weights_normalization", "none");
    int per_feature = !strcmp(type, "per_feature") || !strcmp(type, "per_layer");
    int per_channel = !strcmp(type, "per_channel");
    if (!per_feature && !per_channel && strcmp(type, "none"))
        return refuse("[shortcut] weights_type=%s (layer %d)", type, p->index);
    int wn = AB_NO_NORM;
    if (!strcmp(norm, "relu") || !strcmp(norm, "avg_relu")) wn = AB_RELU_NORM;
    else if (!strcmp(norm, "softmax")) wn = AB_SOFTMAX_NORM;
    else if (strcmp(norm, "none")) return refuse("[shortcut] weights_normalization=%s", norm);
    int *layers, n;
    if (parse_list(p, o, "from", &layers, &n)) return -1;
    if (need_image(p, "shortcut")) return free(layers), -1;
    *l = (layer){0};
    l->type = SHORTCUT;
    l->batch = 1;
    l->activation = act;
    l->n = n;
    l->input_layers = layers;
    l->input_sizes = calloc(n, sizeof(int));
    for (int i = 0; i < n; ++i) {
        const layer *from = p->net->layers + layers[i];
        if (from->out_w != p->w || from->out_h != p->h)
            return refuse("[shortcut] layer %d: from=%d has another size", p->index, layers[i]);
        l->input_sizes[i] = from->outputs;
    }
    l->index = layers[0];
    l->w = l->out_w = p->w;
    l->h = l->out_h = p->h;
    l->c = l->out_c = p->c;
    l->outputs = l->inputs = p->w * p->h * p->c;
    l->output = calloc(l->outputs, sizeof(float));
    l->nweights = per_feature ? n + 1 : per_channel ? (n + 1) * l->c : 0;
    if (l->nweights) {
        l->weights = malloc(sizeof(float) * l->nweights);
        for (int i = 0; i < l->nweights; ++i) l->weights[i] = 1;
    }
    l->ab_weights_norm = wn;
    l->forward = pydn_ab_forward_shortcut;
    return 0;
}

/* [sam] and [scale_channels]: this layer's input times the from= layer's output */
static int parse_scaling(parse_state *p, list *o, layer *l, LAYER_TYPE type)
{
    char *s = option_find(o, "from");
    int from;
    if (!s) return refuse("layer %d needs from=", p->index);
    if (layer_ref(p, s, &from)) return -1;
    ACTIVATION act;
    if (activation_of(o, "linear", &act)) return -1;
    const layer *f = p->net->layers + from;
    int sam = type == PYDN_AB_SAM;
    if (sam ? f->out_c != p->c || f->out_w != p->w || f->out_h != p->h
            : option_find_int_quiet(o, "scale_wh", 0)
                  ? p->c != 1 && p->c != f->out_c
                  : p->w * p->h != 1 || p->c != f->out_c)
        return refuse("[%s] layer %d: its input does not fit layer %d", sam ? "sam" : "scale_channels",
                      p->index, from);
    *l = (layer){0};
    l->type = type;
    l->batch = 1;
    l->activation = act;
    l->index = from;
    l->ab_scale_wh = sam ? 0 : option_find_int_quiet(o, "scale_wh", 0);
    l->w = p->w;
    l->h = p->h;
    l->c = p->c;
    l->out_w = f->out_w;
    l->out_h = f->out_h;
    l->out_c = f->out_c;
    l->outputs = f->outputs;
    l->inputs = p->inputs;
    l->output = calloc(l->outputs, sizeof(float));
    l->forward = sam ? pydn_ab_forward_sam : pydn_ab_forward_scale_channels;
    return 0;
}

static int parse_yolo(parse_state *p, list *o, layer *l)
{
    int classes = option_find_int(o, "classes", 20), total = option_find_int(o, "num", 1);
    int num = total;
    int *mask = parse_yolo_mask(option_find_str(o, "mask", 0), &num);
    for (int i = 0; mask && i < num; ++i)
        if (mask[i] < 0 || mask[i] >= total) return free(mask), refuse("[yolo] mask= beyond num=");
    if (classes < 1 || num < 1 || p->w < 1 || p->h < 1) return free(mask), refuse("[yolo] layer %d", p->index);
    *l = make_yolo_layer(1, p->w, p->h, num, total, mask, classes);
    if (l->outputs != p->inputs)
        return refuse("[yolo] layer %d: filters= of the layer before does not fit classes= and mask=",
                      p->index);
    l->ab_scale_x_y = option_find_float_quiet(o, "scale_x_y", 1);
    l->ab_new_coords = option_find_int_quiet(o, "new_coords", 0);
    l->ab_beta_nms = option_find_float_quiet(o, "beta_nms", 0.6f);
    char *kind = find_str_quiet(o, "nms_kind", "default");
    l->ab_nms_kind = !strcmp(kind, "greedynms")    ? AB_GREEDY_NMS
                     : !strcmp(kind, "diounms")    ? AB_DIOU_NMS
                     : !strcmp(kind, "cornersnms") ? AB_CORNERS_NMS
                                                   : AB_DEFAULT_NMS;
    char *a = option_find_str(o, "anchors", 0);
    if (a) {
        int n = 1;
        for (char *q = a; *q && *q != '#'; ++q) n += *q == ',';
        for (int i = 0; i < n && i < total * 2; ++i) {
            l->biases[i] = atof(a);
            char *comma = strchr(a, ',');
            if (!comma) break;
            a = comma + 1;
        }
    }
    l->forward = pydn_ab_forward_yolo;
    return 0;
}

static int parse_layer(parse_state *p, section *s, layer *l)
{
    list *o = s->options;
    const char *t = s->type;
    if (!strcmp(t, "[convolutional]") || !strcmp(t, "[conv]")) return parse_conv(p, o, l);
    if (!strcmp(t, "[maxpool]") || !strcmp(t, "[max]")) return parse_maxpool(p, o, l);
    if (!strcmp(t, "[route]")) return parse_route(p, o, l);
    if (!strcmp(t, "[shortcut]")) return parse_shortcut(p, o, l);
    if (!strcmp(t, "[sam]")) return parse_scaling(p, o, l, PYDN_AB_SAM);
    if (!strcmp(t, "[scale_channels]")) return parse_scaling(p, o, l, PYDN_AB_SCALE_CHANNELS);
    if (!strcmp(t, "[yolo]")) return parse_yolo(p, o, l);
    if (!strcmp(t, "[upsample]")) {
        int stride = option_find_int(o, "stride", 2);
        if (need_image(p, "upsample")) return -1;
        if (!stride || (stride < 0 && (p->w % -stride || p->h % -stride)))
            return refuse("[upsample] stride=%d (layer %d)", stride, p->index);
        *l = make_upsample_layer(1, p->w, p->h, p->c, stride);
        l->scale = option_find_float_quiet(o, "scale", 1);
        return 0;
    }
    if (!strcmp(t, "[reorg3d]")) {
        int stride = option_find_int(o, "stride", 1), reverse = option_find_int_quiet(o, "reverse", 0);
        if (need_image(p, "reorg3d")) return -1;
        if (stride < 1 || (reverse ? p->c % (stride * stride) : p->w % stride || p->h % stride))
            return refuse("[reorg3d] stride=%d does not fit layer %d's input", stride, p->index);
        *l = make_reorg_layer(1, p->w, p->h, p->c, stride, reverse, 0, 0);
        l->forward = pydn_ab_forward_reorg;
        return 0;
    }
    return refuse("%s (layer %d) is not supported", t, p->index);
}

/* [net]: the options inference reads (the fork's parse_net_options). */
static int parse_net(network *net, list *o, pydn_ab_net *info)
{
    net->batch = 1;
    net->h = option_find_int_quiet(o, "height", 0);
    net->w = option_find_int_quiet(o, "width", 0);
    net->c = option_find_int_quiet(o, "channels", 0);
    net->inputs = option_find_int_quiet(o, "inputs", net->h * net->w * net->c);
    info->letter_box = option_find_int_quiet(o, "letter_box", 0);
    if (!net->inputs && !(net->h && net->w && net->c)) return refuse("[net] gives no input size");
    return 0;
}

/* The layers' training buffers, which inference never reads (the batch growth of
 * ab_detect.c would otherwise have to grow them too). */
static void drop_training_buffers(layer *l)
{
    free(l->delta);
    l->delta = NULL;
}

/* Free a network built half-way, keeping the error message (a guarded call clears it). */
static void discard(network *net)
{
    char text[1024];
    snprintf(text, sizeof text, "%s", pydn_last_error());
    pydn_free_network(net);
    pydn_set_error("%s", text);
}

static network *build(list *sections, pydn_ab_net *info)
{
    node *n = sections->front;
    section *s = n ? n->val : NULL;
    if (!s || (strcmp(s->type, "[net]") && strcmp(s->type, "[network]"))) {
        refuse("the first section must be [net]");
        return NULL;
    }
    network *net = make_network(sections->size - 1);
    net->gpu_index = -1; /* the CPU (see pydn_ab_parse) */
    parse_state p = {net, 0, 0, 0, 0, 0};
    size_t workspace = 0;
    if (parse_net(net, s->options, info)) goto fail;
    p = (parse_state){net, 0, net->h, net->w, net->c, net->inputs};
    for (n = n->next; n; n = n->next, ++p.index) {
        s = n->val;
        layer l = {0};
        if (parse_layer(&p, s, &l)) {
            net->layers[p.index] = l; /* freed with the rest */
            goto fail;
        }
        l.dontload = option_find_int_quiet(s->options, "dontload", 0);
        l.dontloadscales = option_find_int_quiet(s->options, "dontloadscales", 0);
        drop_training_buffers(&l);
        net->layers[p.index] = l;
        if (l.workspace_size > workspace) workspace = l.workspace_size;
        p.h = l.out_h;
        p.w = l.out_w;
        p.c = l.out_c;
        p.inputs = l.outputs;
    }
    if (net->n < 1) {
        refuse("the cfg has no layers");
        goto fail;
    }
    layer out = net->layers[net->n - 1];
    net->outputs = net->truths = out.outputs;
    net->output = out.output;
    net->input = calloc(net->inputs, sizeof(float));
    net->truth = calloc(net->truths, sizeof(float));
    if (workspace) net->workspace = calloc(1, workspace);
    return net;
fail:
    discard(net);
    return NULL;
}

network *pydn_ab_parse(const char *cfg)
{
#ifdef GPU
    if (gpu_index >= 0) {
        refuse("fork networks run on the CPU only in this version (device=\"cpu\")");
        return NULL;
    }
#endif
    list *sections = read_cfg((char *)cfg);
    pydn_ab_net info = {0};
    network *net = build(sections, &info);
    for (node *n = sections->front; n; n = n->next) free_section(n->val);
    free_list(sections);
    if (!net) return NULL;
    pydn_ab_fuse(net); /* batch norm folded from the start, as after every load */
    if (remember(net, info)) {
        pydn_set_error("out of memory");
        discard(net);
        return NULL;
    }
    return net;
}
