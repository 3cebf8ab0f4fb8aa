"""ONNX for Darknet's layers with parameters and its pooling layers.

Each converter mirrors the layer's ``parse_*`` (src/parser.c: the options and their
defaults), reads its weights in ``load_weights_upto``'s order and builds what its
``forward_*_layer`` computes in test mode.  Batch norm is folded into the weights:
Darknet computes ``(x - mean) / (sqrt(var) + .000001) * scale + bias`` (blas.c
``normalize_cpu``, then ``scale_bias`` and ``add_bias``); the AlexeyAB fork folds it
itself (network.c ``fuse_conv_batchnorm``, in double) with ``scale / sqrt(var + .00001)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cfg import LayerShape
from ..cfg.parse import Section
from .graph import FLT_MAX, Graph, OnnxExportError, Tensor
from .weights import WeightsReader

__all__ = ["Layer"]

EPSILON = 0.000001  # blas.c normalize_cpu: / (sqrt(variance) + .000001f)
FORK_EPSILON = 0.00001  # the fork's fuse_conv_batchnorm: / sqrt(variance + .00001)
# what the fork's convolutional layer computes itself (others: activate())
CONV_ACTIVATIONS = frozenset(["swish", "mish", "hard_mish"])
# [convolutional] options of the fork that the exporter does not reproduce
FORK_CONV_REFUSED = ("antialiasing", "sway", "rotate", "stretch", "stretch_sway", "coordconv",
                     "cbn")  # fmt: skip


@dataclass
class Layer:
    """What a converter gets: its section, shapes, input and the graph so far."""

    g: Graph
    cfg: str
    sec: Section
    index: int
    shape: LayerShape  # this layer's output, as Darknet builds it
    prev: LayerShape  # its input (Darknet's size_params)
    x: Tensor
    outputs: list[Tensor]  # the tensors of layers 0 .. index-1
    shapes: list[LayerShape]
    weights: WeightsReader

    @property
    def base(self) -> str:
        return f"l{self.index}"

    @property
    def fork(self) -> bool:
        """The AlexeyAB fork's semantics (dialect "alexeyab")."""
        return self.g.fork

    def fail(self, what: str) -> OnnxExportError:
        return OnnxExportError(
            f"cfg file {self.cfg!r}, line {self.sec.line}, layer {self.index} "
            f"{self.sec.header}: {what}"
        )

    def get_int(self, key: str, default: int) -> int:
        return self.sec.int(key, default)

    def get_float(self, key: str, default: float) -> float:
        return self.sec.float(key, default)

    def get_str(self, key: str, default: str) -> str:
        value = self.sec.find(key)[1]
        return default if value is None else value

    def image_input(self) -> str:
        p = self.prev
        return self.g.image(self.x, p.c, p.h, p.w, self.base).name

    def flat_input(self) -> str:
        return self.g.flat(self.x, self.base).name

    def refuse(self, *keys: str) -> None:
        for key in keys:
            if self.get_int(key, 0):
                raise self.fail(f"{key}=1 is not supported by the ONNX exporter")

    def batch_norm(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """scales, rolling mean, rolling variance (their initial 1, 0, 0 when
        ``dontloadscales`` keeps Darknet from reading them)."""
        if self.get_int("dontloadscales", 0):
            return np.ones(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)
        return self.weights.take(n), self.weights.take(n), self.weights.take(n)


def fold(bias: np.ndarray, bn: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
         fork: bool = False) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(per-output factor, new bias) of an output batch norm followed by the bias."""
    if bn is None:
        return np.ones_like(bias), bias
    scales, mean, var = (a.astype(np.float64) for a in bn)
    factor = scales / (np.sqrt(var + FORK_EPSILON) if fork else np.sqrt(var) + EPSILON)
    return factor.astype(np.float32), (bias - mean * factor).astype(np.float32)


def _conv_stride(ly: Layer) -> int:
    """The stride (the fork's stride_x/stride_y: equal, else check_cfg refuses them; so
    are dilated convolutions)."""
    stride = ly.get_int("stride", 1)
    if not ly.fork:
        return stride
    sx = ly.get_int("stride_x", -1)
    ly.refuse(*FORK_CONV_REFUSED)
    if ly.sec.find("share_index")[1] is not None:
        raise ly.fail("share_index= is not supported by the ONNX exporter")
    return sx if sx >= 1 else stride


def convolutional(ly: Layer) -> Tensor:
    n, size, groups = ly.get_int("filters", 1), ly.get_int("size", 1), ly.get_int("groups", 1)
    stride = _conv_stride(ly)
    pad = size // 2 if ly.get_int("pad", 0) else ly.get_int("padding", 0)
    c = ly.prev.c
    ly.refuse("xnor", "dontload")
    if ly.get_int("numload", 0) not in (0, n):
        raise ly.fail("numload= below filters= leaves filters Darknet initialises at random")
    bias = ly.weights.take(n)
    bn = ly.batch_norm(n) if ly.get_int("batch_normalize", 0) else None
    w = ly.weights.take(c // groups * n * size * size)
    if ly.get_int("flipped", 0):
        if groups != 1:
            raise ly.fail("flipped=1 with groups= is not supported")
        w = w.reshape(c * size * size, n).T.copy()
    w = w.reshape(n, c // groups, size, size)
    if ly.get_int("binary", 0):  # convolutional_layer.c binarize_weights
        mean = np.abs(w).reshape(n, -1).mean(axis=1, dtype=np.float32)[:, None, None, None]
        w = np.where(w > 0, mean, -mean).astype(np.float32)
    factor, bias = fold(bias, bn, ly.fork)
    w = (w * factor[:, None, None, None]).astype(np.float32)
    g = ly.g
    y = g.op("Conv", [ly.image_input(), g.const(w, f"{ly.base}_w"), g.const(bias, f"{ly.base}_b")],
             f"{ly.base}_conv", kernel_shape=[size, size], strides=[stride, stride],
             pads=[pad] * 4, group=groups)  # fmt: skip
    activation = ly.get_str("activation", "logistic")
    return Tensor(g.activate(y, activation, ly.base, CONV_ACTIVATIONS), True)


def connected(ly: Layer) -> Tensor:
    outputs, inputs = ly.get_int("output", 1), ly.prev.outputs
    ly.refuse("dontload")
    bias = ly.weights.take(outputs)
    w = ly.weights.take(outputs * inputs)
    w = w.reshape(inputs, outputs).T if ly.weights.transpose else w.reshape(outputs, inputs)
    bn = ly.batch_norm(outputs) if ly.get_int("batch_normalize", 0) else None
    factor, bias = fold(bias, bn, ly.fork)
    w = (w * factor[:, None]).astype(np.float32)
    g = ly.g
    y = g.op("Gemm", [ly.flat_input(), g.const(w, f"{ly.base}_w"), g.const(bias, f"{ly.base}_b")],
             f"{ly.base}_fc", transB=1)  # fmt: skip
    return Tensor(g.activate(y, ly.get_str("activation", "logistic"), ly.base), False)


def local(ly: Layer) -> Tensor:
    """local_layer.c: im2col, then one (filters x c*size*size) matrix per output location.
    im2col becomes a convolution with one-hot kernels, the products a batched MatMul."""
    n, size = ly.get_int("filters", 1), ly.get_int("size", 1)
    stride, pad = ly.get_int("stride", 1), ly.get_int("pad", 0)
    p, s = ly.prev, ly.shape
    ly.refuse("dontload")
    if (p.w + 2 * pad - size) // stride + 1 != s.w or (p.h + 2 * pad - size) // stride + 1 != s.h:
        raise ly.fail("Darknet's im2col lays out a different grid than its output here")
    k, locations = p.c * size * size, s.w * s.h
    bias = ly.weights.take(n * locations).reshape(1, n, s.h, s.w)
    w = ly.weights.take(locations * n * k).reshape(locations, n, k)
    onehot = np.eye(k, dtype=np.float32).reshape(k, p.c, size, size)
    g, b = ly.g, ly.base
    cols = g.op("Conv", [ly.image_input(), g.const(onehot, f"{b}_im2col_w")], f"{b}_im2col",
                kernel_shape=[size, size], strides=[stride, stride], pads=[pad] * 4)  # fmt: skip
    cols = g.reshape(cols, [k, locations], f"{b}_cols")
    cols = g.op("Transpose", [cols], f"{b}_cols_t", perm=[2, 0, 1])  # (locations, N, k)
    wt = g.const(np.ascontiguousarray(w.transpose(0, 2, 1)), f"{b}_w")  # (locations, k, n)
    y = g.op("MatMul", [cols, wt], f"{b}_matmul")  # (locations, N, n)
    y = g.op("Transpose", [y], f"{b}_out_t", perm=[1, 2, 0])
    y = g.reshape(y, [n, s.h, s.w], f"{b}_out")
    y = g.op("Add", [y, g.const(bias, f"{b}_b")], f"{b}_bias")
    return Tensor(g.activate(y, ly.get_str("activation", "logistic"), b), True)


def batchnorm(ly: Layer) -> Tensor:
    c = ly.prev.c
    factor, shift = fold(np.zeros(c, np.float32), ly.batch_norm(c), ly.fork)
    y = ly.g.scale_shift(ly.image_input(), factor.astype(np.float32).reshape(1, c, 1, 1),
                         shift.reshape(1, c, 1, 1), ly.base)  # fmt: skip
    return Tensor(y, True)


def maxpool(ly: Layer) -> Tensor:
    """maxpool_layer.c: windows start at -padding/2; cells outside read -FLT_MAX.  The
    fork adds stride_x/stride_y and maxpool_depth (the max over channels g,
    g + out_channels, ... of each cell)."""
    stride = ly.get_int("stride", 1)
    sy, sx = stride, stride
    if ly.fork:
        sx, sy = ly.get_int("stride_x", stride), ly.get_int("stride_y", stride)
        ly.refuse("antialiasing", "maxpool_zero_nonmax")
        if ly.get_int("maxpool_depth", 0):
            return _maxpool_depth(ly)
    size = ly.get_int("size", stride)
    padding = ly.get_int("padding", size - 1)
    p, s, g = ly.prev, ly.shape, ly.g
    left = padding // 2
    right_h = max(0, (s.h - 1) * sy + size - p.h - left)
    right_w = max(0, (s.w - 1) * sx + size - p.w - left)
    x = ly.image_input()
    if max(left, right_h, right_w) >= size:  # a window could hold only padding
        pads = g.const([0, 0, left, left, 0, 0, right_h, right_w], f"{ly.base}_pads")
        x = g.op("Pad", [x, pads, g.const(np.float32(-FLT_MAX), f"{ly.base}_padv")],
                 f"{ly.base}_pad")  # fmt: skip
        left = right_h = right_w = 0
    y = g.op("MaxPool", [x], f"{ly.base}_maxpool", kernel_shape=[size, size],
             strides=[sy, sx], pads=[left, left, right_h, right_w])  # fmt: skip
    return Tensor(y, True)


def _maxpool_depth(ly: Layer) -> Tensor:
    p, out_c, g, b = ly.prev, ly.shape.c, ly.g, ly.base
    x = ly.image_input()
    rows = -(-p.c // out_c)
    if rows * out_c > p.c:  # channels past the last one read -FLT_MAX
        pads = g.const([0, 0, 0, 0, 0, rows * out_c - p.c, 0, 0], f"{b}_pads")
        x = g.op("Pad", [x, pads, g.const(np.float32(-FLT_MAX), f"{b}_padv")], f"{b}_pad")
    x = g.reshape(x, [rows, out_c, p.h, p.w], f"{b}_rows")
    y = g.reduce("ReduceMax", x, 1, f"{b}_depth")
    return Tensor(g.reshape(y, [out_c, p.h, p.w], f"{b}_maxpool"), True)


def avgpool(ly: Layer) -> Tensor:
    return Tensor(ly.g.op("GlobalAveragePool", [ly.image_input()], f"{ly.base}_avgpool"), True)


def crop(ly: Layer) -> Tensor:
    """crop_layer.c in test mode: the centre, times 2 minus 1 unless noadjust=1."""
    p, s = ly.prev, ly.shape
    dh, dw = (p.h - s.h) // 2, (p.w - s.w) // 2
    y = ly.g.slice(ly.image_input(), [dh, dw], [dh + s.h, dw + s.w], [2, 3], f"{ly.base}_crop")
    scale, shift = (1.0, 0.0) if ly.get_int("noadjust", 0) else (2.0, -1.0)
    return Tensor(ly.g.scale_shift(y, scale, shift, ly.base), True)


def activation(ly: Layer) -> Tensor:
    return Tensor(ly.g.activate(ly.x.name, ly.get_str("activation", "linear"), ly.base), ly.x.image)


def logistic(ly: Layer) -> Tensor:
    return Tensor(ly.g.op("Sigmoid", [ly.x.name], f"{ly.base}_logistic"), ly.x.image)


def identity(ly: Layer) -> Tensor:
    """[dropout] and [cost] pass their input on in a forward pass outside training (as
    the fork's [empty] and [silence] do)."""
    return ly.x
