/*
 * ab_act.h - the fork's own activations as inline functions, with its float
 * arithmetic (src/activations.h of AlexeyAB's darknet at 59596d78), for ab_layers.c and
 * the fused conv epilogues of csrc/fast (conv.c, winograd.c), where they vectorize.
 */
#ifndef PYDN_AB_ACT_H
#define PYDN_AB_ACT_H

#include <math.h>

static inline float pydn_ab_logistic(float x) { return 1.f / (1.f + expf(-x)); }
static inline float pydn_ab_tanh(float x) { return (2 / (1 + expf(-2 * x)) - 1); }

/* softplus with threshold 20, then x * tanh(softplus(x)) */
static inline float pydn_ab_mish_of(float x)
{
    float sp = x > 20 ? x : x < -20 ? expf(x) : logf(expf(x) + 1);
    return x * pydn_ab_tanh(sp);
}

static inline float pydn_ab_swish_of(float x) { return x * pydn_ab_logistic(x); }

static inline float pydn_ab_hard_mish_of(float x)
{
    if (x > 0) return x;
    if (x > -2) return x * x / 2 + x;
    return 0;
}

#endif /* PYDN_AB_ACT_H */
