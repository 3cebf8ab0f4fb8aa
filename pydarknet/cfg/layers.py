"""Per-layer rules of the cfg checker (:mod:`pydarknet.cfg.check`).

One function per Darknet layer type, each mirroring its ``parse_*()`` in src/parser.c
and the ``make_*_layer()`` it calls: it reads the options with Darknet's defaults,
refuses values that would make Darknet (or its first forward pass) misbehave, and
returns the output shape Darknet computes.
"""

from __future__ import annotations

from collections.abc import Callable

from .parse import c_atoi
from .rules import LayerRules, cdiv
from .shapes import LayerShape

__all__ = ["PARSERS"]


def _conv(ly: LayerRules) -> LayerShape:
    n, size = ly.int("filters", 1, 1), ly.int("size", 1, 1)
    stride, groups = ly.int("stride", 1, 1), ly.int("groups", 1, 1)
    padding = ly.int("padding", 0, 0)
    if ly.sec.int("pad", 0):
        padding = size // 2
    ly.image()
    ly.stride_fits(stride, 2 * padding)
    ly.window_fits(size, 2 * padding, stride)
    if ly.c % groups or n % groups:
        raise ly.fail(
            f"groups={groups} must divide both its {ly.c} channels and filters={n}", "groups"
        )
    ly.int("numload", 0, 0, n)
    ly.fits(padded=max(ly.w, ly.h) + 2 * padding, weights=ly.c * n * size * size)
    out_w = cdiv(ly.w + 2 * padding - size, stride) + 1
    out_h = cdiv(ly.h + 2 * padding - size, stride) + 1
    nweights = ly.c // groups * n * size * size
    space = out_w * out_h * size * size * ly.c // groups
    ly.fits(workspace=space)
    s = ly.out("convolutional", out_w, out_h, n, workspace=4 * space)
    s.floats = 2 * ly.batch * s.outputs + 2 * nweights
    s.weights, s.size, s.stride, s.groups = nweights, size, stride, groups
    return s


def _deconv(ly: LayerRules) -> LayerShape:
    n, size, stride = ly.int("filters", 1, 1), ly.int("size", 1, 1), ly.int("stride", 1, 1)
    padding = ly.int("padding", 0, 0)
    if ly.sec.int("pad", 0):
        padding = size // 2
    ly.image()
    ly.fits(weights=ly.c * n * size * size, workspace=ly.w * ly.h * size * size * n)
    s = ly.out(
        "deconvolutional",
        (ly.w - 1) * stride + size - 2 * padding,
        (ly.h - 1) * stride + size - 2 * padding,
        n,
        workspace=4 * ly.w * ly.h * size * size * n,
    )
    s.floats = 2 * ly.batch * s.outputs + 2 * ly.c * n * size * size
    s.weights, s.size, s.stride = ly.c * n * size * size, size, stride
    return s


def _local(ly: LayerRules) -> LayerShape:
    n, size, stride = ly.int("filters", 1, 1), ly.int("size", 1, 1), ly.int("stride", 1, 1)
    pad = ly.int("pad", 0, 0, 1)
    ly.image()
    ly.stride_fits(stride, 2 * pad)
    out_w = cdiv(ly.w - 1 if pad else ly.w - size, stride) + 1
    out_h = cdiv(ly.h - 1 if pad else ly.h - size, stride) + 1
    # local_layer.c sizes its buffers by out_w/out_h but im2col() writes its own count
    if cdiv(ly.w + 2 * pad - size, stride) >= out_w or cdiv(ly.h + 2 * pad - size, stride) >= out_h:
        raise ly.fail(
            f"pad={pad} with size={size} makes Darknet's im2col overrun its buffer", "pad"
        )
    weights = ly.c * n * size * size * out_w * out_h
    ly.fits(weights=weights, workspace=out_w * out_h * size * size * ly.c)
    s = ly.out("local", out_w, out_h, n, workspace=4 * out_w * out_h * size * size * ly.c)
    s.floats = 2 * ly.batch * s.outputs + 2 * weights
    s.weights, s.size, s.stride = weights, size, stride
    return s


def _connected(ly: LayerRules) -> LayerShape:
    output = ly.int("output", 1, 1)
    ly.fits(weights=ly.inputs * output)
    if ly.inputs < 1:
        raise ly.fail("has no inputs")
    s = ly.out("connected", 1, 1, output)
    s.floats = 2 * ly.batch * output + 2 * ly.inputs * output
    s.weights = ly.inputs * output
    return s


def _maxpool(ly: LayerRules) -> LayerShape:
    stride = ly.int("stride", 1, 1)
    size = ly.int("size", stride, 1)
    padding = ly.int("padding", size - 1, 0)
    ly.image()
    ly.stride_fits(stride, padding)
    ly.fits(padded=max(ly.w, ly.h) + padding)
    ly.window_fits(size, padding, stride)
    out_w = cdiv(ly.w + padding - size, stride) + 1
    out_h = cdiv(ly.h + padding - size, stride) + 1
    s = ly.out("maxpool", out_w, out_h, ly.c)
    s.floats = 2 * ly.batch * s.outputs
    s.size, s.stride = size, stride
    return s


def _avgpool(ly: LayerRules) -> LayerShape:
    ly.image()
    return ly.out("avgpool", 1, 1, ly.c)


def _softmax(ly: LayerRules) -> LayerShape:
    groups = ly.int("groups", 1, 1)
    if ly.inputs < 1 or ly.inputs % groups:
        raise ly.fail(f"groups={groups} must divide its {ly.inputs} inputs", "groups")
    tree = ly.tree_size()
    if tree > ly.inputs:
        raise ly.fail(f"its tree has {tree} entries for {ly.inputs} inputs", "tree")
    return ly.flat("softmax", ly.inputs)


def _passthrough(kind: str, image: bool) -> Callable[[LayerRules], LayerShape]:
    """Layers whose output is their input's shape (dropout, activation, ...)."""

    def parse(ly: LayerRules) -> LayerShape:
        if image or (ly.w or ly.h or ly.c):
            ly.image()
        if kind == "dropout" and ly.index == 0:
            raise ly.fail("cannot be the first layer (Darknet reuses the previous layer's output)")
        if kind == "normalization" and not 1 <= ly.sec.int("size", 5) <= 2 * ly.c:
            raise ly.fail(f"size={ly.sec.int('size', 5)} must be within 1..{2 * ly.c}", "size")
        s = ly.flat(kind, ly.inputs)
        s.w, s.h, s.c = ly.w, ly.h, ly.c
        return s

    return parse


def _route(ly: LayerRules) -> LayerShape:
    text = ly.sec.find("layers")[1]
    if text is None:
        raise ly.fail("needs layers=... (Darknet would crash without it)", "layers")
    refs = [ly.net.layers[ly.layer_ref(part, "layers")] for part in text.split(",")]
    first = refs[0]
    w, h, c = first.w, first.h, first.c
    for nxt in refs[1:]:
        if nxt.w == first.w and nxt.h == first.h:
            c += nxt.c
        else:
            w = h = c = 0
    total = sum(r.outputs for r in refs)
    ly.fits(outputs=total * ly.batch)
    s = LayerShape("route", w, h, c, total, floats=2 * ly.batch * total)
    if total < 1:
        raise ly.fail("routes layers with no outputs", "layers")
    return s


def _shortcut(ly: LayerRules) -> LayerShape:
    text = ly.sec.find("from")[1]
    if text is None:
        raise ly.fail("needs from=... (Darknet would crash without it)", "from")
    src = ly.net.layers[ly.layer_ref(text, "from")]
    ly.image()
    if not src.is_image:
        raise ly.fail(f"from={text} names a layer with no image output ({src.kind})", "from")
    w1, h1, w2, h2 = src.w, src.h, ly.w, ly.h
    if w1 // w2 != h1 // h2 or w2 // w1 != h2 // h1:
        raise ly.fail(f"cannot add a {w1}x{h1} layer to a {w2}x{h2} one (uneven scales)", "from")
    s = ly.out("shortcut", ly.w, ly.h, ly.c)
    s.floats = 2 * ly.batch * s.outputs
    return s


def _upsample(ly: LayerRules) -> LayerShape:
    stride = ly.sec.int("stride", 2)
    if stride == 0:
        raise ly.fail("stride=0 must be non-zero", "stride")
    ly.image()
    if stride > 0:
        ly.fits(output_size=ly.w * ly.h * stride * stride * ly.c)
        return ly.out("upsample", ly.w * stride, ly.h * stride, ly.c)
    return ly.out("upsample", ly.w // -stride, ly.h // -stride, ly.c)


def _reorg(ly: LayerRules) -> LayerShape:
    stride = ly.int("stride", 1, 1)
    ly.image()
    ly.stride_fits(stride, 0)
    ly.fits(stride_squared=stride * stride)
    extra = ly.int("extra", 0, 0)
    if extra:  # a copy of the input with room for `extra` more values
        return ly.flat("reorg", ly.inputs + extra)
    if ly.c % (stride * stride) or ly.w % stride or ly.h % stride:
        raise ly.fail(f"stride={stride} must divide its {ly.w}x{ly.h} input and its square "
                      f"its {ly.c} channels", "stride")  # fmt: skip
    if ly.sec.int("reverse", 0):
        return ly.out("reorg", ly.w * stride, ly.h * stride, ly.c // (stride * stride))
    return ly.out("reorg", ly.w // stride, ly.h // stride, ly.c * stride * stride)


def _anchors(ly: LayerRules, room: int) -> None:
    text = ly.sec.find("anchors")[1]
    if text is not None and text.count(",") + 1 > room:
        raise ly.fail(f"anchors= has {text.count(',') + 1} values but room for {room}", "anchors")


def _detector(ly: LayerRules, kind: str, per_cell: int, **extra: int) -> LayerShape:
    ly.fits(outputs=ly.w * ly.h * per_cell)
    outputs = ly.w * ly.h * per_cell
    if ly.w < 1 or ly.h < 1 or outputs != ly.inputs:
        raise ly.fail(
            f"expects {ly.w}x{ly.h}x{per_cell} = {outputs} inputs but the layer before "
            f"gives {ly.inputs} (check filters= of the convolution before it)"
        )
    ly.readable("map")
    return ly.out(kind, ly.w, ly.h, per_cell, **extra)


def _yolo(ly: LayerRules) -> LayerShape:
    classes, total = ly.int("classes", 20, 1), ly.int("num", 1, 1)
    ly.fits(anchors=2 * total)
    text = ly.sec.find("mask")[1]
    mask = [c_atoi(part) for part in text.split(",")] if text is not None else range(total)
    if any(not 0 <= m < total for m in mask):
        raise ly.fail(f"mask={text} must pick anchors among 0..{total - 1} (num={total})", "mask")
    _anchors(ly, 2 * total)
    ly.fits(per_cell=len(mask) * (classes + 5))
    return _detector(ly, "yolo", len(mask) * (classes + 5), classes=classes)


def _region(ly: LayerRules) -> LayerShape:
    coords, classes = ly.int("coords", 4, 4), ly.int("classes", 20, 1)
    num = ly.int("num", 1, 1)
    ly.fits(anchors=2 * num, per_cell=num * (classes + coords + 1))
    _anchors(ly, 2 * num)
    tree = ly.tree_size()
    if tree > classes:
        raise ly.fail(f"its tree has {tree} entries for classes={classes}", "tree")
    per_cell = num * (classes + coords + 1)
    return _detector(ly, "region", per_cell, classes=classes, coords=coords)


def _detection(ly: LayerRules) -> LayerShape:
    coords, classes = ly.int("coords", 1, 4), ly.int("classes", 1, 1)
    num, side = ly.int("num", 1, 1), ly.int("side", 7, 1)
    ly.fits(outputs=side * side * ((1 + coords) * num + classes))
    if side * side * ((1 + coords) * num + classes) != ly.inputs:
        raise ly.fail(f"side={side}, num={num}, coords={coords}, classes={classes} do not "
                      f"match its {ly.inputs} inputs")  # fmt: skip
    return ly.flat("detection", ly.inputs, classes=classes, coords=coords)


def _iseg(ly: LayerRules) -> LayerShape:
    classes, ids = ly.int("classes", 20, 1), ly.int("ids", 32, 1)
    ly.fits(per_cell=classes + ids)
    return _detector(ly, "iseg", classes + ids, classes=classes)


def _crop(ly: LayerRules) -> LayerShape:
    ly.image()
    ch = ly.int("crop_height", 1, 1, ly.h)
    cw = ly.int("crop_width", 1, 1, ly.w)
    return ly.out("crop", cw, ch, ly.c)


def _cost(ly: LayerRules) -> LayerShape:
    return ly.flat("cost", ly.inputs)


def _crnn(ly: LayerRules) -> LayerShape:
    """Darknet's CPU [crnn] cannot run: its inner convolutions get no workspace (the
    parser only sizes it from top-level layers), so forward_crnn_layer() writes through
    a NULL or short buffer (found by fuzzing), and parse_crnn() swaps width and height."""
    raise ly.fail("[crnn] layers crash in Darknet's CPU forward pass; not supported")


def _recurrent(kind: str, matrices: int) -> Callable[[LayerRules], LayerShape]:
    def parse(ly: LayerRules) -> LayerShape:
        if ly.net.time_steps != 1:
            raise ly.fail("recurrent layers need time_steps=1 in pydarknet")
        output = ly.int("output", 1, 1)
        if ly.inputs < 1:
            raise ly.fail("has no inputs")
        ly.fits(weights=max(ly.inputs, output) * output)
        s = ly.flat(kind, output)
        s.floats = matrices * (max(ly.inputs, output) * output * 2 + 4 * output)
        s.weights = matrices * max(ly.inputs, output) * output
        return s

    return parse


PARSERS: dict[str, Callable[[LayerRules], LayerShape]] = {
    "convolutional": _conv, "deconvolutional": _deconv, "local": _local,
    "connected": _connected, "maxpool": _maxpool, "avgpool": _avgpool, "softmax": _softmax,
    "dropout": _passthrough("dropout", False), "route": _route, "shortcut": _shortcut,
    "upsample": _upsample, "reorg": _reorg, "yolo": _yolo, "region": _region,
    "detection": _detection, "iseg": _iseg, "cost": _cost, "crop": _crop,
    "normalization": _passthrough("normalization", True),
    "batchnorm": _passthrough("batchnorm", True),
    "activation": _passthrough("activation", False),
    "logistic": _passthrough("logistic", False), "l2norm": _passthrough("l2norm", False),
    "rnn": _recurrent("rnn", 3), "gru": _recurrent("gru", 6), "lstm": _recurrent("lstm", 8),
    "crnn": _crnn,
}  # fmt: skip
