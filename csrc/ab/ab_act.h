/*
 * ab_act.h - the fork's activations as inline functions, with its float arithmetic
 * (src/activations.h and .c of AlexeyAB's darknet at 59596d78), for ab_layers.c, the
 * fused conv epilogues of csrc/fast (conv.c, winograd.c), where they vectorize, and the
 * CUDA kernels of ab_cuda.cu (PYDN_HD: host and device), so that the CPU tests check
 * the formulas the GPU computes.  Activation codes are ints here (AB_* of ab.h, and
 * upstream's ACTIVATION values for the names both have).
 */
#ifndef PYDN_AB_ACT_H
#define PYDN_AB_ACT_H

#include <math.h>

#include "ab.h"

#ifdef __CUDACC__
#define PYDN_HD __host__ __device__
#else
#define PYDN_HD
#endif

/* 1 / (1 + expf(-x)): where expf(-x) overflows, IEEE arithmetic gives exactly 0; the
 * select says so explicitly, since the epilogues are compiled with -ffast-math, whose
 * vectorized expf does not promise inf for arguments past its range. */
static inline PYDN_HD float pydn_ab_logistic(float x)
{
    return x < -88.72284f ? 0.f : 1.f / (1.f + expf(-x));
}
static inline PYDN_HD float pydn_ab_tanh(float x) { return (2 / (1 + expf(-2 * x)) - 1); }

/* softplus with threshold 20, then x * tanh(softplus(x)) */
static inline PYDN_HD float pydn_ab_mish_of(float x)
{
    float sp = x > 20 ? x : x < -20 ? expf(x) : logf(expf(x) + 1);
    return x * pydn_ab_tanh(sp);
}

/* a conv's leaky (activate_array_cpu_custom): .1 * x in double */
static inline PYDN_HD float pydn_ab_leaky_of(float x) { return (x > 0) ? x : .1 * x; }

static inline PYDN_HD float pydn_ab_swish_of(float x) { return x * pydn_ab_logistic(x); }

static inline PYDN_HD float pydn_ab_hard_mish_of(float x)
{
    if (x > 0) return x;
    if (x > -2) return x * x / 2 + x;
    return 0;
}

/* src/activations.c activate() of the fork: note that it has no case for relu6, swish,
 * mish and hard_mish, which therefore give 0 where a layer's code reaches it. */
static inline PYDN_HD float pydn_ab_fork_activate(float x, int a)
{
    switch (a) {
    case LINEAR: return x;
    case AB_LOGISTIC: return pydn_ab_logistic(x);
    case LOGGY: return 2.f / (1.f + expf(-x)) - 1;
    case RELU: return x * (x > 0);
    case ELU: return (x >= 0) * x + (x < 0) * (expf(x) - 1);
    case SELU: return (x >= 0) * 1.0507f * x + (x < 0) * 1.0507f * 1.6732f * (expf(x) - 1);
    case AB_GELU: return (0.5 * x * (1 + tanhf(0.797885 * x + 0.035677 * powf(x, 3))));
    case RELIE: return (x > 0) ? x : .01f * x;
    case RAMP: return x * (x > 0) + .1f * x;
    case AB_LEAKY: return (x > 0) ? x : .1f * x;
    case TANH: return pydn_ab_tanh(x);
    case PLSE:
        if (x < -4) return .01f * (x + 4);
        if (x > 4) return .01f * (x - 4) + 1;
        return .125f * x + .5f;
    case STAIR: {
        int n = (int)floorf(x);
        if (n % 2 == 0) return floorf(x / 2.f);
        return (x - n) + floorf(x / 2.f);
    }
    case HARDTAN: return x < -1 ? -1 : x > 1 ? 1 : x;
    case LHTAN:
        if (x < 0) return .001f * x;
        if (x > 1) return .001f * (x - 1) + 1;
        return x;
    default: return 0;
    }
}

/* One element of the fork's three code paths (`who`, AB_ACT_* of ab.h): a conv layer's
 * (activate_array_swish/_mish/_hard_mish, else activate_array_cpu_custom), a
 * shortcut's (swish and mish, else the same), and activate_array() of the others. */
static inline PYDN_HD float pydn_ab_act(float x, int a, int who)
{
    if (a == AB_SWISH && who != AB_ACT_PLAIN) return pydn_ab_swish_of(x);
    if (a == AB_MISH && who != AB_ACT_PLAIN) return pydn_ab_mish_of(x);
    if (a == AB_HARD_MISH && who == AB_ACT_CONV) return pydn_ab_hard_mish_of(x);
    if (a == LINEAR) return x;
    if (a == AB_LEAKY && who != AB_ACT_PLAIN) return pydn_ab_leaky_of(x);
    return pydn_ab_fork_activate(x, a);
}

/* The fused epilogue of a fork activation: x[i] = act(x[i] + bias[i * step]) for the
 * kinds the fork computes its own way; 0 (nothing done) for the others.  Inlined into
 * csrc/fast's conv epilogues with a constant step (0: one bias, 1: one per element),
 * where the loops vectorize. */
static inline int pydn_ab_bias_act(float *x, int n, const float *bias, int step, int act)
{
    switch (act) {
    case AB_MISH:
        for (int i = 0; i < n; ++i) x[i] = pydn_ab_mish_of(x[i] + bias[i * step]);
        return 1;
    case AB_SWISH:
        for (int i = 0; i < n; ++i) x[i] = pydn_ab_swish_of(x[i] + bias[i * step]);
        return 1;
    case AB_LOGISTIC:
        for (int i = 0; i < n; ++i) x[i] = pydn_ab_logistic(x[i] + bias[i * step]);
        return 1;
    case AB_LEAKY:
        for (int i = 0; i < n; ++i) x[i] = pydn_ab_leaky_of(x[i] + bias[i * step]);
        return 1;
    default: return 0;
    }
}

#endif /* PYDN_AB_ACT_H */
