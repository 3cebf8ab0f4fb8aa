/*
 * ab_parse.c - a cfg of AlexeyAB's fork -> an upstream `network`, following the fork's
 * parse_network_cfg_custom() (src/parser.c at 59596d78) for inference at batch 1: the
 * [net] section here, each layer section in ab_sections.c.  What this dialect cannot
 * run (training-only and recurrent layers, options that change the computation and are
 * not implemented) is refused with an error naming it, never an exit.  Also the
 * registry of fork networks (ab.h).  Built while gpu_index >= 0 (a GPU build), the
 * network also gets its device buffers and forwards (ab_cuda.cu).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab.h"
#include "pydn.h"
#include "network.h"
#include "option_list.h"
#include "utils.h"

#define refuse pydn_ab_refuse /* ab.h: "alexeyab dialect: ...", returns -1 */

/* src/parser.c's (not in its header) */
typedef struct {
    char *type;
    list *options;
} section;
void free_section(section *s);

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

pydn_ab_net *pydn_ab_find(const network *net)
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
#ifdef GPU
    net->gpu_index = gpu_index; /* pydn_use_device's: -1 for the CPU */
#else
    net->gpu_index = -1;
#endif
    pydn_ab_cursor p = {net, 0, 0, 0, 0, 0};
    size_t workspace = 0;
    if (parse_net(net, s->options, info)) goto fail;
    p = (pydn_ab_cursor){net, 0, net->h, net->w, net->c, net->inputs};
    for (n = n->next; n; n = n->next, ++p.index) {
        s = n->val;
        layer l = {0};
        if (pydn_ab_parse_layer(&p, s->type, s->options, &l)) {
            net->layers[p.index] = l; /* freed with the rest */
            goto fail;
        }
        l.dontload = option_find_int_quiet(s->options, "dontload", 0);
        l.dontloadscales = option_find_int_quiet(s->options, "dontloadscales", 0);
        drop_training_buffers(&l);
        net->layers[p.index] = l;
#ifdef GPU
        /* the device buffers and forward_gpu (upstream's constructors made theirs) */
        if (net->gpu_index >= 0 && pydn_ab_gpu_layer(net->layers + p.index)) goto fail;
#endif
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
#ifdef GPU
    if (net->gpu_index >= 0) {
        pydn_ab_gpu_network(net, info, workspace);
        return net;
    }
#endif
    if (workspace) net->workspace = calloc(1, workspace);
    return net;
fail:
    discard(net);
    return NULL;
}

network *pydn_ab_parse(const char *cfg)
{
    list *sections = read_cfg((char *)cfg);
    pydn_ab_net info = {0};
    network *net = build(sections, &info);
    for (node *n = sections->front; n; n = n->next) free_section(n->val);
    free_list(sections);
    if (!net) return NULL;
    pydn_ab_fuse(net); /* batch norm folded from the start, as after every load (and
                        * on a GPU the weights pushed to the device) */
    if (remember(net, info)) {
        pydn_set_error("out of memory");
        discard(net);
        return NULL;
    }
    return net;
}
