"""The ONNX graph being built: nodes, constants, unique names, and Darknet's activations.

A tensor of the graph is a :class:`Tensor`: its name and whether it holds an image
``(N, C, H, W)`` or a flat ``(N, outputs)`` batch.  Darknet hands every layer a flat
buffer, so a layer that reads an image gets its input reshaped by :meth:`Graph.image`,
and one that reads values by :meth:`Graph.flat`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DarknetValueError

__all__ = ["ACTIVATIONS", "FORK_ACTIVATIONS", "Graph", "OnnxExportError", "Tensor"]

FLT_MAX = float(np.finfo(np.float32).max)


class OnnxExportError(DarknetValueError):
    """A network (or one of its layers) that cannot be exported to ONNX exactly."""


@dataclass(frozen=True)
class Tensor:
    name: str
    image: bool  # (N, C, H, W) when True, else (N, values)


class Graph:
    """Collects nodes and initializers; every helper returns the name of its output."""

    def __init__(self, onnx: Any, fork: bool = False, opset: int = 17) -> None:
        self.onnx = onnx
        self.opset = opset
        self.fork = fork  # the AlexeyAB fork's semantics (dialect "alexeyab")
        self.helper = onnx.helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._used: set[str] = set()

    def fresh(self, base: str) -> str:
        name, n = base, 1
        while name in self._used:
            n += 1
            name = f"{base}_{n}"
        self._used.add(name)
        return name

    def const(self, value: np.ndarray | np.generic | list[int] | float, base: str) -> str:
        """An initializer: float arrays as float32, lists of ints as int64."""
        if isinstance(value, list):
            arr = np.asarray(value, dtype=np.int64)
        else:
            arr = np.asarray(value)
            if arr.dtype != np.bool_:
                arr = arr.astype(np.float32)
        name = self.fresh(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: list[str], base: str, **attrs: Any) -> str:
        out = self.fresh(base)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    # --- shapes ---------------------------------------------------------------------
    def image(self, t: Tensor, c: int, h: int, w: int, base: str) -> Tensor:
        """``t`` as ``(N, c, h, w)``: Darknet reads the same values as an image."""
        if t.image:
            return t
        shape = self.const([-1, c, h, w], f"{base}_shape")
        return Tensor(self.op("Reshape", [t.name, shape], f"{base}_image"), True)

    def flat(self, t: Tensor, base: str) -> Tensor:
        if not t.image:
            return t
        return Tensor(self.op("Flatten", [t.name], f"{base}_flat", axis=1), False)

    def reshape(self, x: str, shape: list[int], base: str) -> str:
        """Reshape with ``0`` in front: the batch dimension is kept as it is."""
        return self.op("Reshape", [x, self.const([0, *shape], f"{base}_shape")], base)

    def slice(self, x: str, starts: list[int], ends: list[int], axes: list[int], base: str,
              steps: list[int] | None = None) -> str:  # fmt: skip
        ins = [x, self.const(starts, f"{base}_starts"), self.const(ends, f"{base}_ends"),
               self.const(axes, f"{base}_axes")]  # fmt: skip
        if steps is not None:
            ins.append(self.const(steps, f"{base}_steps"))
        return self.op("Slice", ins, base)

    def reduce(self, op_type: str, x: str, axis: int, base: str) -> str:
        """``op_type`` (ReduceSum, ReduceMax) over ``axis``, kept; its axes are an input
        from opset 18 on (13 for ReduceSum), an attribute before."""
        if self.opset >= (13 if op_type == "ReduceSum" else 18):
            return self.op(op_type, [x, self.const([axis], f"{base}_axes")], base, keepdims=1)
        return self.op(op_type, [x], base, axes=[axis], keepdims=1)

    def scale_shift(self, x: str, scale: np.ndarray | float, shift: np.ndarray | float,
                    base: str) -> str:  # fmt: skip
        """``x * scale + shift`` (arrays broadcast as given); skips a no-op half."""
        if not np.all(np.asarray(scale) == 1):
            x = self.op("Mul", [x, self.const(scale, f"{base}_scale")], f"{base}_mul")
        if not np.all(np.asarray(shift) == 0):
            x = self.op("Add", [x, self.const(shift, f"{base}_shift")], f"{base}_add")
        return x

    # --- Darknet's activations (src/activations.h) ------------------------------------
    def activate(self, x: str, activation: str, base: str,
                 own: frozenset[str] = frozenset()) -> str:  # fmt: skip
        """``activate_array(x, activation)``; an unknown name is ReLU, as in Darknet.

        In the fork, a layer computes the activations in ``own`` itself (its conv
        layer mish, swish, ...); any other goes through the fork's ``activate()``,
        which returns 0 for those it has no case for (relu6, and mish elsewhere)."""
        if not self.fork:
            out: str = ACTIVATIONS.get(activation, _relu)(self, x, f"{base}_{activation}")
            return out
        if activation in FORK_LAYER_ACTIVATIONS and activation not in own:
            return self.op("Mul", [x, self.const(np.float32(0), f"{base}_zero")], f"{base}_0")
        out = FORK_ACTIVATIONS.get(activation, _relu)(self, x, f"{base}_{activation}")
        return out


def _where_piecewise(g: Graph, x: str, base: str, low: float, high: float,
                     below: tuple[float, float], inside: tuple[float, float],
                     above: tuple[float, float]) -> str:  # fmt: skip
    """Three linear pieces a*x+b: x < low, low <= x <= high, x > high."""

    def line(ab: tuple[float, float], part: str) -> str:
        return g.scale_shift(x, ab[0], ab[1], f"{base}_{part}")

    lo = g.op("Less", [x, g.const(np.float32(low), f"{base}_low")], f"{base}_lt")
    hi = g.op("Greater", [x, g.const(np.float32(high), f"{base}_high")], f"{base}_gt")
    mid = g.op("Where", [hi, line(above, "above"), line(inside, "inside")], f"{base}_upper")
    return g.op("Where", [lo, line(below, "below"), mid], base)


def _linear(g: Graph, x: str, base: str) -> str:
    return x


def _relu(g: Graph, x: str, base: str) -> str:
    return g.op("Relu", [x], base)


def _logistic(g: Graph, x: str, base: str) -> str:
    return g.op("Sigmoid", [x], base)


def _loggy(g: Graph, x: str, base: str) -> str:  # 2/(1+exp(-x)) - 1
    return g.scale_shift(g.op("Sigmoid", [x], f"{base}_sig"), 2.0, -1.0, base)


def _ramp(g: Graph, x: str, base: str) -> str:  # x*(x>0) + .1*x
    tenth = g.op("Mul", [x, g.const(np.float32(0.1), f"{base}_c")], f"{base}_tenth")
    return g.op("Add", [g.op("Relu", [x], f"{base}_relu"), tenth], base)


def _stair(g: Graph, x: str, base: str) -> str:
    """n = floor(x); even n: floor(x/2); odd n: (x - n) + floor(x/2)."""
    n = g.op("Floor", [x], f"{base}_n")
    half = g.op("Floor", [g.scale_shift(x, 0.5, 0.0, f"{base}_x2")], f"{base}_half")
    n_half = g.op("Floor", [g.scale_shift(n, 0.5, 0.0, f"{base}_n2")], f"{base}_nhalf")
    odd = g.op("Sub", [n, g.scale_shift(n_half, 2.0, 0.0, f"{base}_even")], f"{base}_odd")
    is_odd = g.op("Greater", [odd, g.const(np.float32(0.5), f"{base}_c")], f"{base}_isodd")
    frac = g.op("Sub", [x, n], f"{base}_frac")
    odd_value = g.op("Add", [frac, half], f"{base}_oddv")
    return g.op("Where", [is_odd, odd_value, half], base)


def _plse(g: Graph, x: str, base: str) -> str:
    return _where_piecewise(g, x, base, -4.0, 4.0, (0.01, 0.04), (0.125, 0.5), (0.01, 0.96))


def _lhtan(g: Graph, x: str, base: str) -> str:
    return _where_piecewise(g, x, base, 0.0, 1.0, (0.001, 0.0), (1.0, 0.0), (0.001, 0.999))


def _hardtan(g: Graph, x: str, base: str) -> str:
    low, high = g.const(np.float32(-1), f"{base}_lo"), g.const(np.float32(1), f"{base}_hi")
    return g.op("Clip", [x, low, high], base)


ACTIVATIONS = {
    "linear": _linear,
    "logistic": _logistic,
    "loggy": _loggy,
    "relu": _relu,
    "elu": lambda g, x, b: g.op("Elu", [x], b, alpha=1.0),
    "selu": lambda g, x, b: g.op("Selu", [x], b, alpha=1.6732, gamma=1.0507),
    "relie": lambda g, x, b: g.op("LeakyRelu", [x], b, alpha=0.01),
    "plse": _plse,
    "hardtan": _hardtan,
    "lhtan": _lhtan,
    "ramp": _ramp,
    "leaky": lambda g, x, b: g.op("LeakyRelu", [x], b, alpha=0.1),
    "tanh": lambda g, x, b: g.op("Tanh", [x], b),
    "stair": _stair,
}


# --- the fork's activations (its src/activations.[ch]) ---------------------------------
def _swish(g: Graph, x: str, base: str) -> str:  # x * logistic(x)
    return g.op("Mul", [x, g.op("Sigmoid", [x], f"{base}_sig")], base)


def _mish(g: Graph, x: str, base: str) -> str:
    """x * tanh(softplus(x)), softplus with the fork's threshold 20: x above 20,
    exp(x) below -20, else log(exp(x) + 1)."""
    e = g.op("Exp", [x], f"{base}_exp")
    sp = g.op("Log", [g.op("Add", [e, g.const(np.float32(1), f"{base}_one")], f"{base}_e1")],
              f"{base}_log")  # fmt: skip
    hi = g.op("Greater", [x, g.const(np.float32(20), f"{base}_hi")], f"{base}_gt")
    lo = g.op("Less", [x, g.const(np.float32(-20), f"{base}_lo")], f"{base}_lt")
    sp = g.op("Where", [hi, x, g.op("Where", [lo, e, sp], f"{base}_low")], f"{base}_softplus")
    return g.op("Mul", [x, g.op("Tanh", [sp], f"{base}_tanh")], base)


def _hard_mish(g: Graph, x: str, base: str) -> str:
    """x above 0, x*x/2 + x above -2, else 0."""
    zero = g.const(np.float32(0), f"{base}_zero")
    half = g.op("Mul", [g.op("Mul", [x, x], f"{base}_sq"), g.const(np.float32(0.5), f"{base}_h")],
                f"{base}_half")  # fmt: skip
    mid = g.op("Add", [half, x], f"{base}_mid")
    above = g.op("Greater", [x, g.const(np.float32(-2), f"{base}_m2")], f"{base}_gtm2")
    mid = g.op("Where", [above, mid, zero], f"{base}_low")
    return g.op("Where", [g.op("Greater", [x, zero], f"{base}_pos"), x, mid], base)


def _gelu(g: Graph, x: str, base: str) -> str:
    """0.5*x*(1 + tanh(0.797885*x + 0.035677*x^3))."""
    cube = g.op("Mul", [g.op("Mul", [x, x], f"{base}_sq"), x], f"{base}_cube")
    terms = [g.scale_shift(x, 0.797885, 0.0, f"{base}_a"),
             g.scale_shift(cube, 0.035677, 0.0, f"{base}_b")]  # fmt: skip
    inner = g.op("Add", terms, f"{base}_in")
    t = g.scale_shift(g.op("Tanh", [inner], f"{base}_tanh"), 1.0, 1.0, f"{base}_t1")
    return g.op("Mul", [g.scale_shift(x, 0.5, 0.0, f"{base}_x2"), t], base)


FORK_ACTIVATIONS: dict[str, Callable[[Graph, str, str], str]] = {
    **ACTIVATIONS,
    "swish": _swish,
    "mish": _mish,
    "hard_mish": _hard_mish,
    "gelu": _gelu,
    "revleaky": ACTIVATIONS["leaky"],
}
# the fork's activate() has no case for these: only the layers that compute them
# themselves give them (conv: all but relu6; shortcut: swish and mish), others give 0
# (normalize_channels*: refused by check_cfg, pydarknet does not run them)
FORK_LAYER_ACTIVATIONS = frozenset(["relu6", "swish", "mish", "hard_mish"])
