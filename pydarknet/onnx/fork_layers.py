"""ONNX for the layers of the AlexeyAB fork (dialect "alexeyab") that Darknet here does
not have, or computes otherwise: [shortcut] with several ``from=`` and weights, [sam],
[scale_channels] and [reorg3d].  Each mirrors the fork's ``parse_*`` and its
``forward_*_layer`` (src/ of the fork at 59596d78) in test mode, after its
``fuse_conv_batchnorm``, which also normalizes the shortcut weights."""

from __future__ import annotations

import numpy as np

from .graph import Tensor
from .heads import layer_refs
from .layers import Layer

__all__ = ["reorg3d", "reorg_phases", "sam", "scale_channels", "shortcut"]

SHORTCUT_ACTIVATIONS = frozenset(["swish", "mish"])  # forward_shortcut_layer's own
WEIGHTS_EPS = 0.0001  # fuse_conv_batchnorm: sum = eps + ...


def _normalized(w: np.ndarray, how: str) -> np.ndarray:
    """fuse_conv_batchnorm on (n + 1, per) shortcut weights: each column over its sum
    (lrelu(w) = max(w, 0.001) for relu, exp(w - max) for softmax) plus 0.0001."""
    if how in ("relu", "avg_relu"):
        v = np.where(w > np.float32(0.001), w, np.float32(0.001)).astype(np.float32)
    else:
        v = np.exp(w - w.max(axis=0, keepdims=True)).astype(np.float32)
    total = np.float32(WEIGHTS_EPS) + np.zeros(w.shape[1], np.float32)
    for row in v:  # the fork's order of summation
        total = (total + row).astype(np.float32)
    out: np.ndarray = (v / total).astype(np.float32)
    return out


def shortcut(ly: Layer) -> Tensor:
    """shortcut_multilayer_cpu: out[i] = in[i]*w0 + sum over the from= layers of
    add[i]*w (over the first values of each, flat, up to its size); w per layer
    (per_feature) or per output channel (per_channel), 1 without weights_type."""
    refs, out, g, b = layer_refs(ly, "from"), ly.shape, ly.g, ly.base
    kind = ly.get_str("weights_type", "none")
    per = {"none": 0, "per_feature": 1, "per_layer": 1, "per_channel": out.c}.get(kind)
    if per is None:
        raise ly.fail(f"weights_type={kind} is not one the fork knows")
    weights = None
    if per:
        weights = ly.weights.take((len(refs) + 1) * per).reshape(len(refs) + 1, per)
        how = ly.get_str("weights_normalization", "none")
        if how not in ("none", "relu", "avg_relu", "softmax"):
            raise ly.fail(f"weights_normalization={how} is not one the fork knows")
        if how != "none":
            weights = _normalized(weights, how)

    def weighted(x: str, k: int) -> str:
        if weights is None:
            return x
        return g.scale_shift(x, weights[k].reshape(1, per, 1, 1), 0.0, f"{b}_w{k}")

    y = weighted(ly.image_input(), 0)
    for k, r in enumerate(refs, 1):
        add = g.flat(ly.outputs[r], f"{b}_from{r}").name
        size = ly.shapes[r].outputs
        if size > out.outputs:
            add = g.slice(add, [0], [out.outputs], [1], f"{b}_first{r}")
        elif size < out.outputs:
            add = g.op("Pad", [add, g.const([0, 0, 0, out.outputs - size], f"{b}_pads{r}")],
                       f"{b}_padded{r}")  # fmt: skip
        add = g.reshape(add, [out.c, out.h, out.w], f"{b}_image{r}")
        y = g.op("Add", [y, weighted(add, k)], f"{b}_sum{r}")
    return Tensor(g.activate(y, ly.get_str("activation", "linear"), b, SHORTCUT_ACTIVATIONS), True)


def sam(ly: Layer) -> Tensor:
    """forward_sam_layer: the input times layer from='s output, value by value."""
    (ref,) = layer_refs(ly, "from")
    g, s, b = ly.g, ly.shape, ly.base
    if ly.prev.outputs < s.outputs:
        raise ly.fail(f"its input has {ly.prev.outputs} values, fewer than its {s.outputs}")
    src = g.image(ly.outputs[ref], s.c, s.h, s.w, f"{b}_from").name
    y = g.op("Mul", [ly.image_input(), src], f"{b}_sam")
    return Tensor(g.activate(y, ly.get_str("activation", "linear"), b), True)


def scale_channels(ly: Layer) -> Tensor:
    """forward_scale_channels_layer: layer from='s output, each channel times one
    input value (the first out_c values), or with scale_wh=1 each cell times one (the
    first out_w*out_h)."""
    (ref,) = layer_refs(ly, "from")
    g, s, b = ly.g, ly.shape, ly.base
    wh = ly.get_int("scale_wh", 0)
    count = s.w * s.h if wh else s.c
    if ly.prev.outputs < count:
        raise ly.fail(f"its input has {ly.prev.outputs} values, fewer than the {count} it reads")
    x = g.slice(ly.flat_input(), [0], [count], [1], f"{b}_scales")
    x = g.reshape(x, [1, s.h, s.w] if wh else [s.c, 1, 1], f"{b}_scales_image")
    src = g.image(ly.outputs[ref], s.c, s.h, s.w, f"{b}_from").name
    y = g.op("Mul", [src, x], f"{b}_scale")
    return Tensor(g.activate(y, ly.get_str("activation", "linear"), b), True)


def reorg_phases(ly: Layer, x: str, in_c: int, oh: int, ow: int, s: int, gather: bool
                 ) -> str:  # fmt: skip
    """blas.c reorg_cpu's permutation between A (in_c*s*s, oh, ow) and B (in_c, oh*s,
    ow*s): A[(oy*s + ox)*in_c + c, j, i] = B[c, j*s + oy, i*s + ox].  ``gather``
    (its forward=0) reads ``x`` as B and returns A, else the reverse."""
    g, b = ly.g, ly.base
    if gather:
        y = g.reshape(x, [in_c, oh, s, ow, s], f"{b}_split")
        y = g.op("Transpose", [y], f"{b}_perm", perm=[0, 3, 5, 1, 2, 4])
        return g.reshape(y, [in_c * s * s, oh, ow], f"{b}_phases")
    y = g.reshape(x, [s, s, in_c, oh, ow], f"{b}_split")
    y = g.op("Transpose", [y], f"{b}_perm", perm=[0, 3, 4, 1, 5, 2])
    return g.reshape(y, [in_c, oh * s, ow * s], f"{b}_phases")


def reorg3d(ly: Layer) -> Tensor:
    """The fork's reorg_layer.c: reorg_cpu on its output's sizes, which for stride s
    moves each s x s block of a channel into s*s channels (phase-major); reverse=1
    scatters the other way, reading its buffers with the fork's sizes."""
    s, g, p, out = ly.get_int("stride", 1), ly.g, ly.prev, ly.shape
    x = ly.image_input()
    if ly.get_int("reverse", 0):  # reorg_cpu(in, w*s, h*s, c/s², forward=1)
        if p.c % (s**4):
            raise ly.fail(f"reverse=1 needs channels ({p.c}) divisible by stride^4")
        y = reorg_phases(ly, x, p.c // s**4, p.h * s, p.w * s, s, gather=False)
    else:
        if p.w % s or p.h % s:
            raise ly.fail(f"stride={s} must divide its {p.w}x{p.h} input")
        y = reorg_phases(ly, x, p.c, p.h // s, p.w // s, s, gather=True)
    return Tensor(g.reshape(y, [out.c, out.h, out.w], f"{ly.base}_reorg3d"), True)
