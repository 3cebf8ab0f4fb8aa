"""Per-layer rules of the cfg checker for ``dialect="alexeyab"``: AlexeyAB's darknet
(59596d78), its ``parse_*()`` in src/parser.c and the ``make_*_layer()`` they call.

Layers the fork builds as Darknet 61c9d02e does reuse :mod:`.layers`; these are the
ones it builds differently ([convolutional] and [maxpool] strides, grouped [route]s,
[shortcut]s of several layers with learned weights) and its own ([sam],
[scale_channels], [reorg3d]).  The layer kinds pydarknet runs in this dialect are
those of :data:`PARSERS` (fork_options.RUNS).  Each refuses what the fork would crash on or
compute out of bounds, and returns the output shape the fork computes.
"""

from __future__ import annotations

from collections.abc import Callable

from .layers import PARSERS as UPSTREAM
from .rules import LayerRules, cdiv
from .shapes import LayerShape

__all__ = ["PARSERS", "SHORTCUT_WEIGHTS"]


def _strides(ly: LayerRules, default_x: int, default_y: int) -> tuple[int, int]:
    sx, sy = ly.int("stride_x", default_x), ly.int("stride_y", default_y)
    for key, v in (("stride_x", sx), ("stride_y", sy)):
        if v < 1:
            raise ly.fail(f"{key}={v} must be at least 1", key)
    ly.stride_fits(max(sx, sy), 0)
    return sx, sy


def _conv(ly: LayerRules) -> LayerShape:
    """parse_convolutional(): stride_x/stride_y below 1 fall back to stride=."""
    n, size = ly.int("filters", 1, 1), ly.int("size", 1, 1)
    groups = ly.int("groups", 1, 1)
    stride = ly.sec.int("stride", 1)
    sx, sy = (v if (v := ly.sec.int(k, -1)) >= 1 else stride for k in ("stride_x", "stride_y"))
    if min(sx, sy) < 1:
        raise ly.fail(f"stride={stride} must be at least 1", "stride")
    ly.int("dilation", 1, 1)
    padding = ly.int("padding", 0, 0)
    if ly.sec.int("pad", 0):
        padding = size // 2
    ly.image()
    ly.stride_fits(max(sx, sy), 2 * padding)
    if ly.c % groups or n % groups:
        raise ly.fail(
            f"groups={groups} must divide both its {ly.c} channels and filters={n}", "groups"
        )
    ly.window_fits(size, 2 * padding, min(sx, sy))
    ly.fits(padded=max(ly.w, ly.h) + 2 * padding, weights=ly.c * n * size * size)
    out_w = cdiv(ly.w + 2 * padding - size, sx) + 1  # convolutional_out_width(): no dilation
    out_h = cdiv(ly.h + 2 * padding - size, sy) + 1
    nweights = ly.c // groups * n * size * size
    space = out_w * out_h * size * size * ly.c // groups
    ly.fits(workspace=space)
    s = ly.out("convolutional", out_w, out_h, n, workspace=4 * space)
    s.floats = 2 * ly.batch * s.outputs + 2 * nweights
    bn = 3 * n if ly.sec.int("batch_normalize", 0) else 0
    s.weights = n + bn + nweights
    s.size, s.stride, s.groups = size, max(sx, sy), groups  # for cfg/budget.py
    return s


def _maxpool(ly: LayerRules) -> LayerShape:
    """parse_maxpool(): make_maxpool_layer(), with maxpool_depth the max across channels."""
    stride = ly.int("stride", 1, 1)
    sx, sy = _strides(ly, stride, stride)
    size = ly.int("size", stride, 1)
    padding = ly.int("padding", size - 1, 0)
    ly.image()
    if ly.sec.int("maxpool_depth", 0):
        s = ly.out("maxpool", ly.w, ly.h, ly.int("out_channels", 1, 1, ly.c))
    else:
        ly.stride_fits(max(sx, sy), padding)
        ly.fits(padded=max(ly.w, ly.h) + padding)
        ly.window_fits(size, padding, min(sx, sy))
        out_w = cdiv(ly.w + padding - size, sx) + 1
        out_h = cdiv(ly.h + padding - size, sy) + 1
        s = ly.out("maxpool", out_w, out_h, ly.c)
        s.size, s.stride = size, max(sx, sy)  # for cfg/budget.py
    s.floats = 2 * ly.batch * s.outputs
    return s


def _refs(ly: LayerRules, key: str) -> list[LayerShape]:
    text = ly.sec.find(key)[1]
    if text is None:
        raise ly.fail(f"needs {key}=... (the fork would crash without it)", key)
    return [ly.net.layers[ly.layer_ref(part, key)] for part in text.split(",")]


def _route(ly: LayerRules) -> LayerShape:
    """parse_route(): each input's group ``group_id`` of ``groups`` equal parts."""
    refs = _refs(ly, "layers")
    groups = ly.int("groups", 1, 1)
    ly.int("group_id", 0, 0, groups - 1)
    for r in refs:
        if r.outputs % groups or (r.c and r.c % groups):
            raise ly.fail(f"groups={groups} must divide the {r.c} channels of each input "
                          f"({r.kind})", "groups")  # fmt: skip
    first = refs[0]
    if any((r.w, r.h) != (first.w, first.h) for r in refs):
        raise ly.fail("routes layers of different widths or heights", "layers")
    w, h, c = first.w, first.h, sum(r.c for r in refs)
    total = sum(r.outputs for r in refs) // groups
    ly.fits(outputs=total * ly.batch)
    if total < 1:
        raise ly.fail("routes layers with no outputs", "layers")
    return LayerShape("route", w, h, c // groups, total, floats=2 * ly.batch * total)


# weights_type= values: learned weights per input (the layer's own included)
SHORTCUT_WEIGHTS = {"none": 0, "per_feature": 1, "per_layer": 1, "per_channel": 2}
_NORMALIZATIONS = ("none", "relu", "avg_relu", "softmax")


def _shortcut(ly: LayerRules) -> LayerShape:
    """parse_shortcut(): the sum of this layer's input and every from= layer, optionally
    weighted per layer or per channel (n + 1 or (n + 1) x channels weights)."""
    refs = _refs(ly, "from")
    kind = ly.sec.find("weights_type")[1] or "none"
    if kind not in SHORTCUT_WEIGHTS:
        raise ly.fail(f"weights_type={kind} is none of {', '.join(SHORTCUT_WEIGHTS)}",
                      "weights_type")  # fmt: skip
    norm = ly.sec.find("weights_normalization")[1] or "none"
    if kind != "none" and norm not in _NORMALIZATIONS:
        raise ly.fail(f"weights_normalization={norm} is none of {', '.join(_NORMALIZATIONS)}",
                      "weights_normalization")  # fmt: skip
    ly.image()
    for src in refs:
        if not src.is_image:
            raise ly.fail(f"from= names a layer with no image output ({src.kind})", "from")
        if (src.w, src.h) != (ly.w, ly.h):  # pydarknet adds element by element only
            raise ly.fail(f"cannot add a {src.w}x{src.h} layer to a {ly.w}x{ly.h} one", "from")
    s = ly.out("shortcut", ly.w, ly.h, ly.c)
    s.floats = 2 * ly.batch * s.outputs
    s.weights = (len(refs) + 1) * (ly.c if SHORTCUT_WEIGHTS[kind] == 2 else SHORTCUT_WEIGHTS[kind])
    return s


def _reorg3d(ly: LayerRules) -> LayerShape:
    """parse_reorg(): make_reorg_layer() (the fork's [reorg3d])."""
    stride = ly.int("stride", 1, 1)
    ly.image()
    ly.stride_fits(stride, 0)
    ly.fits(stride_squared=stride * stride)
    if ly.sec.int("reverse", 0):
        if ly.c % (stride * stride):
            raise ly.fail(f"stride={stride}: its square must divide its {ly.c} channels", "stride")
        return ly.out("reorg3d", ly.w * stride, ly.h * stride, ly.c // (stride * stride))
    if ly.w % stride or ly.h % stride:
        raise ly.fail(f"stride={stride} must divide its {ly.w}x{ly.h} input", "stride")
    return ly.out("reorg3d", ly.w // stride, ly.h // stride, ly.c * stride * stride)


def _upsample(ly: LayerRules) -> LayerShape:
    """make_upsample_layer(); a negative stride (downsampling) must divide the input."""
    stride = ly.sec.int("stride", 2)
    if stride < 0 and ly.w > 0 and ly.h > 0 and (ly.w % -stride or ly.h % -stride):
        raise ly.fail(f"stride={stride} must divide its {ly.w}x{ly.h} input", "stride")
    return UPSTREAM["upsample"](ly)


def _from(ly: LayerRules) -> LayerShape:
    text = ly.sec.find("from")[1]
    if text is None:
        raise ly.fail("needs from=... (the fork would crash without it)", "from")
    ly.image()
    return ly.net.layers[ly.layer_ref(text, "from")]


def _sam(ly: LayerRules) -> LayerShape:
    """make_sam_layer(): the from= layer times this input, element by element."""
    src = _from(ly)
    if (src.w, src.h, src.c) != (ly.w, ly.h, ly.c):
        raise ly.fail(f"multiplies a {src.w}x{src.h}x{src.c} layer by its {ly.w}x{ly.h}x{ly.c} "
                      "input: they must match", "from")  # fmt: skip
    return ly.out("sam", src.w, src.h, src.c)


def _scale_channels(ly: LayerRules) -> LayerShape:
    """make_scale_channels_layer(): the from= layer scaled per channel by a 1x1xC input
    (or, with scale_wh=1, per position by a WxHx1 one)."""
    src = _from(ly)
    if ly.sec.int("scale_wh", 0):
        ok, need = (ly.w, ly.h) == (src.w, src.h), f"{src.w}x{src.h}"
    else:
        ok, need = (ly.w, ly.h, ly.c) == (1, 1, src.c), f"1x1x{src.c}"
    if not ok:
        raise ly.fail(f"its input is {ly.w}x{ly.h}x{ly.c}; scaling the {src.w}x{src.h}x{src.c} "
                      f"from= layer needs {need}", "from")  # fmt: skip
    return ly.out("scale_channels", src.w, src.h, src.c)


PARSERS: dict[str, Callable[[LayerRules], LayerShape]] = {
    "convolutional": _conv, "maxpool": _maxpool, "route": _route,
    "shortcut": _shortcut, "upsample": _upsample, "yolo": UPSTREAM["yolo"],
    "reorg3d": _reorg3d, "sam": _sam, "scale_channels": _scale_channels,
}  # fmt: skip
