/*
 * ab_act.h - the fork's own activations as inline functions, with its float
 * arithmetic (src/activations.h of AlexeyAB's darknet at 59596d78), for ab_layers.c and
 * the fused conv epilogues of csrc/fast (conv.c, winograd.c), where they vectorize.
 */
#ifndef PYDN_AB_ACT_H
#define PYDN_AB_ACT_H

#include <math.h>

#include "ab.h"

/* 1 / (1 + expf(-x)): where expf(-x) overflows, IEEE arithmetic gives exactly 0; the
 * select says so explicitly, since the epilogues are compiled with -ffast-math, whose
 * vectorized expf does not promise inf for arguments past its range. */
static inline float pydn_ab_logistic(float x)
{
    return x < -88.72284f ? 0.f : 1.f / (1.f + expf(-x));
}
static inline float pydn_ab_tanh(float x) { return (2 / (1 + expf(-2 * x)) - 1); }

/* softplus with threshold 20, then x * tanh(softplus(x)) */
static inline float pydn_ab_mish_of(float x)
{
    float sp = x > 20 ? x : x < -20 ? expf(x) : logf(expf(x) + 1);
    return x * pydn_ab_tanh(sp);
}

/* a conv's leaky (activate_array_cpu_custom): .1 * x in double */
static inline float pydn_ab_leaky_of(float x) { return (x > 0) ? x : .1 * x; }

static inline float pydn_ab_swish_of(float x) { return x * pydn_ab_logistic(x); }

static inline float pydn_ab_hard_mish_of(float x)
{
    if (x > 0) return x;
    if (x > -2) return x * x / 2 + x;
    return 0;
}

/* The fused epilogue of a fork activation: x[i] = act(x[i] + bias[i * step]) for the
 * kinds the fork computes its own way; 0 (nothing done) for the others.  Inlined into
 * csrc/fast's conv epilogues with a constant step (0: one bias, 1: one per element),
 * where the loops vectorize. */
static inline int pydn_ab_bias_act(float *x, int n, const float *bias, int step, int act)
{
    switch (act) {
    case PYDN_AB_MISH:
        for (int i = 0; i < n; ++i) x[i] = pydn_ab_mish_of(x[i] + bias[i * step]);
        return 1;
    case PYDN_AB_SWISH:
        for (int i = 0; i < n; ++i) x[i] = pydn_ab_swish_of(x[i] + bias[i * step]);
        return 1;
    case PYDN_AB_LOGISTIC:
        for (int i = 0; i < n; ++i) x[i] = pydn_ab_logistic(x[i] + bias[i * step]);
        return 1;
    case PYDN_AB_LEAKY:
        for (int i = 0; i < n; ++i) x[i] = pydn_ab_leaky_of(x[i] + bias[i * step]);
        return 1;
    default: return 0;
    }
}

#endif /* PYDN_AB_ACT_H */
