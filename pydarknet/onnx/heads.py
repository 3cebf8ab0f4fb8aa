"""ONNX for Darknet's layers that move or rescale values: route, shortcut, upsample,
reorg, softmax, and the detection layers [yolo], [region] and [detection], whose
forward pass (in test mode) only applies logistic and softmax functions in place."""

from __future__ import annotations

import numpy as np

from ..cfg.parse import c_atoi
from .graph import Tensor
from .layers import Layer

__all__ = ["detection", "region", "reorg", "route", "shortcut", "softmax", "upsample", "yolo"]


def layer_refs(ly: Layer, key: str) -> list[int]:
    """The layers a ``layers=`` / ``from=`` list names (negative: relative)."""
    refs = []
    for part in ly.get_str(key, "").split(","):
        i = c_atoi(part)
        refs.append(ly.index + i if i < 0 else i)
    return refs


def _route_part(ly: Layer, r: int, groups: int, group_id: int) -> Tensor:
    """Layer ``r``'s output, or its part ``group_id`` of ``groups`` (the fork: a flat
    copy of outputs/groups values, which is a run of channels when they divide)."""
    g, src, t, b = ly.g, ly.shapes[r], ly.outputs[r], f"{ly.base}_in{r}"
    if groups == 1:
        return t
    if src.is_image and src.c % groups == 0:
        part = src.c // groups
        t = g.image(t, src.c, src.h, src.w, b)
        return Tensor(g.slice(t.name, [part * group_id], [part * (group_id + 1)], [1], b), True)
    part = src.outputs // groups
    flat = g.flat(t, b).name
    return Tensor(g.slice(flat, [part * group_id], [part * (group_id + 1)], [1], b), False)


def route(ly: Layer) -> Tensor:
    refs = layer_refs(ly, "layers")
    g, s = ly.g, ly.shape
    groups, group_id = 1, 0
    if ly.fork:
        groups, group_id = ly.get_int("groups", 1), ly.get_int("group_id", 0)
    parts = [_route_part(ly, r, groups, group_id) for r in refs]
    if len(parts) == 1:
        return parts[0]
    if s.is_image:  # equal w and h: the channels one after the other
        names = [
            g.image(t, ly.shapes[r].c // groups, s.h, s.w, f"{ly.base}_in{r}").name
            for r, t in zip(refs, parts, strict=True)
        ]
        return Tensor(g.op("Concat", names, f"{ly.base}_route", axis=1), True)
    names = [g.flat(t, f"{ly.base}_in{r}").name for r, t in zip(refs, parts, strict=True)]
    return Tensor(g.op("Concat", names, f"{ly.base}_route", axis=1), False)


def shortcut(ly: Layer) -> Tensor:
    """blas.c shortcut_cpu: out[k, j*sample, i*sample] = alpha*out[...] + beta*add[k,
    j*stride, i*stride] for k, j, i below the smaller of both shapes."""
    ref = c_atoi(ly.get_str("from", "0"))
    ref = ly.index + ref if ref < 0 else ref
    src, out = ly.shapes[ref], ly.shape
    alpha, beta = ly.get_float("alpha", 1.0), ly.get_float("beta", 1.0)
    g, b = ly.g, ly.base
    add = g.image(ly.outputs[ref], src.c, src.h, src.w, f"{b}_from").name
    x = ly.image_input()
    stride, sample = max(1, src.w // out.w), max(1, out.w // src.w)
    minw, minh, minc = min(src.w, out.w), min(src.h, out.h), min(src.c, out.c)
    if stride > 1 or minc < src.c or minh < src.h or minw < src.w:
        add = g.slice(add, [0, 0, 0], [minc, minh * stride, minw * stride], [1, 2, 3], f"{b}_take",
                      steps=[1, stride, stride])  # fmt: skip
    if sample > 1:  # spread the values sample cells apart, zeros between them
        add = g.reshape(add, [minc, minh, 1, minw, 1], f"{b}_spread")
        pads = g.const([0] * 9 + [sample - 1, 0, sample - 1], f"{b}_gaps")
        add = g.op("Pad", [add, pads], f"{b}_gapped")
        add = g.reshape(add, [minc, minh * sample, minw * sample], f"{b}_spread_back")
    high = (out.c - minc, out.h - minh * sample, out.w - minw * sample)
    if any(high):
        pads = g.const([0, 0, 0, 0, 0, *high], f"{b}_fill")
        add = g.op("Pad", [add, pads], f"{b}_filled")
    if beta != 1:
        add = g.scale_shift(add, beta, 0.0, f"{b}_beta")
    if alpha != 1:  # only the cells that receive a value are scaled
        mask = np.zeros((1, out.c, out.h, out.w), np.float32)
        mask[:, :minc, : minh * sample : sample, : minw * sample : sample] = alpha - 1
        x = g.op("Add", [x, g.op("Mul", [x, g.const(mask, f"{b}_alpha")], f"{b}_ax")], f"{b}_x")
    y = g.op("Add", [x, add], f"{b}_sum")
    return Tensor(g.activate(y, ly.get_str("activation", "linear"), b), True)


def upsample(ly: Layer) -> Tensor:
    """upsample_layer.c: nearest neighbour times ``scale``; a negative stride sums
    stride x stride blocks (its backward pass) instead."""
    stride, scale = ly.get_int("stride", 2), ly.get_float("scale", 1.0)
    g, b, p = ly.g, ly.base, ly.prev
    x = ly.image_input()
    if stride > 0:
        scales = g.const(np.array([1, 1, stride, stride], np.float32), f"{b}_scales")
        y = g.op("Resize", [x, "", scales], f"{b}_upsample", mode="nearest",
                 coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # fmt: skip
        return Tensor(g.scale_shift(y, scale, 0.0, b), True)
    s = -stride
    if p.w % s or p.h % s:
        raise ly.fail(f"stride={stride} must divide its {p.w}x{p.h} input (Darknet reads it "
                      "with the wrong row length otherwise)")  # fmt: skip
    y = g.op("AveragePool", [x], f"{b}_sum", kernel_shape=[s, s], strides=[s, s])
    return Tensor(g.scale_shift(y, scale * s * s, 0.0, b), True)


def reorg(ly: Layer) -> Tensor:
    """reorg_layer.c / blas.c reorg_cpu, whose index order is not ONNX's DepthToSpace:
    the input's flat buffer is read as (c/s², h*s, w*s) and its s x s phases become
    channels (forward), or the reverse."""
    s, g, b, p = ly.get_int("stride", 1), ly.g, ly.base, ly.prev
    if ly.get_int("flatten", 0) and not ly.fork:  # the fork's [reorg] reads neither
        raise ly.fail("flatten=1 is not supported by the ONNX exporter")
    extra = 0 if ly.fork else ly.get_int("extra", 0)
    if extra:  # a copy of the input followed by `extra` zeros
        pads = g.const([0, 0, 0, extra], f"{b}_extra")
        return Tensor(g.op("Pad", [ly.flat_input(), pads], f"{b}_reorg"), False)
    x, out_c = ly.image_input(), p.c // (s * s)
    if ly.get_int("reverse", 0):  # out[c2, j*s+oy, i*s+ox] = x[(oy*s+ox)*out_c + c2, j, i]
        y = g.reshape(x, [s, s, out_c, p.h, p.w], f"{b}_split")
        y = g.op("Transpose", [y], f"{b}_perm", perm=[0, 3, 4, 1, 5, 2])
        return Tensor(g.reshape(y, [out_c, p.h * s, p.w * s], f"{b}_reorg"), True)
    # out[(oy*s+ox)*out_c + c2, j, i] = x_flat as (out_c, h*s, w*s)[c2, j*s+oy, i*s+ox],
    # with h, w the input's sizes (Darknet's own reading of its buffer)
    y = g.reshape(x, [out_c, p.h, s, p.w, s], f"{b}_split")
    y = g.op("Transpose", [y], f"{b}_perm", perm=[0, 3, 5, 1, 2, 4])
    sh = ly.shape
    return Tensor(g.reshape(y, [sh.c, sh.h, sh.w], f"{b}_reorg"), True)


def _tree_groups(path: str) -> list[int]:
    """tree.c read_tree: the group sizes (runs of lines with the same parent)."""
    sizes, last, run = [], -1, 0
    with open(path, "rb") as f:
        rows = f.read().split(b"\n")
    if rows and rows[-1] == b"":
        rows.pop()
    for row in rows:
        parts = row.split()
        parent = c_atoi(parts[1].decode("latin-1")) if len(parts) > 1 else -1
        if parent != last:
            sizes.append(run)
            run, last = 0, parent
        run += 1
    sizes.append(run)
    return sizes


def softmax(ly: Layer) -> Tensor:
    """softmax_layer.c: softmax over each of ``groups`` equal parts, or over each group
    of a ``tree=`` file (values after the tree's last entry stay 0)."""
    g, b, n = ly.g, ly.base, ly.prev.outputs
    x = ly.flat_input()
    temperature = ly.get_float("temperature", 1.0)
    if temperature != 1:
        x = g.scale_shift(x, 1.0 / temperature, 0.0, f"{b}_temperature")
    tree = ly.sec.find("tree")[1]
    if tree is None:
        groups = ly.get_int("groups", 1)
        y = g.reshape(x, [groups, n // groups], f"{b}_groups")
        y = g.op("Softmax", [y], f"{b}_softmax", axis=-1)
        return Tensor(g.op("Flatten", [y], f"{b}_flat", axis=1), False)
    parts, start = [], 0
    for size in _tree_groups(tree):
        if size:
            part = g.slice(x, [start], [start + size], [1], f"{b}_group")
            parts.append(g.op("Softmax", [part], f"{b}_softmax", axis=-1))
            start += size
    if start < n:
        zeros = g.slice(g.op("Mul", [x, g.const(np.float32(0), f"{b}_zero")], f"{b}_z"),
                        [start], [n], [1], f"{b}_rest")  # fmt: skip
        parts.append(zeros)
    return Tensor(g.op("Concat", parts, f"{b}_tree", axis=1), False)


def _logistic_where(ly: Layer, x: str, mask: np.ndarray) -> str:
    """Logistic on the channels where ``mask`` is set, the rest as they are."""
    g, b = ly.g, ly.base
    m = g.const(mask.reshape(1, -1, 1, 1), f"{b}_mask")
    return g.op("Where", [m, g.op("Sigmoid", [x], f"{b}_sigmoid"), x], f"{b}_logistic")


def yolo(ly: Layer) -> Tensor:
    """yolo_layer.c forward: logistic on x, y, objectness and the classes of each anchor.
    The fork skips the logistic with new_coords=1, then scales x and y by scale_x_y
    around the cell's centre: x * scale_x_y - (scale_x_y - 1) / 2."""
    s, g, b = ly.shape, ly.g, ly.base
    classes = ly.get_int("classes", 20)
    per = classes + 5
    entry = np.ones(per, bool)
    entry[2:4] = False
    mask = np.tile(entry, s.c // per)
    x = ly.image_input()
    if not ly.fork:
        return Tensor(_logistic_where(ly, x, mask), True)
    if not ly.get_int("new_coords", 0):
        x = _logistic_where(ly, x, mask)
    scale = np.float32(ly.get_float("scale_x_y", 1.0))
    if scale == 1:
        return Tensor(x, True)
    entry_xy = np.zeros(per, bool)
    entry_xy[:2] = True
    xy = np.tile(entry_xy, s.c // per).reshape(1, -1, 1, 1)
    factor = np.where(xy, scale, np.float32(1)).astype(np.float32)
    shift = np.where(xy, np.float32(-0.5 * (float(scale) - 1)), np.float32(0)).astype(np.float32)
    return Tensor(g.scale_shift(x, factor, shift, f"{b}_scale_xy"), True)


def region(ly: Layer) -> Tensor:
    """region_layer.c forward: logistic on x, y and (unless background=1) objectness;
    softmax over the classes of each anchor and cell, or logistic without softmax=1."""
    s, g, b = ly.shape, ly.g, ly.base
    coords, classes, num = ly.get_int("coords", 4), ly.get_int("classes", 20), ly.get_int("num", 1)
    if ly.sec.find("tree")[1] is not None:
        raise ly.fail("tree= (Darknet's CPU softmax over overlapping tree groups) is not "
                      "supported by the ONNX exporter")  # fmt: skip
    soft, background = ly.get_int("softmax", 0), ly.get_int("background", 0)
    per = coords + 1 + classes
    entry = np.zeros(per, bool)
    entry[:2] = True
    entry[coords] = not background
    entry[coords + 1 :] = not soft
    x = ly.image_input()
    y = _logistic_where(ly, x, np.tile(entry, num))
    if not soft:
        return Tensor(y, True)
    first = coords + (not background)
    y5 = g.reshape(y, [num, per, s.h, s.w], f"{b}_anchors")
    x5 = g.reshape(x, [num, per, s.h, s.w], f"{b}_raw")
    head = g.slice(y5, [0], [first], [2], f"{b}_head")
    tail = g.op("Softmax", [g.slice(x5, [first], [per], [2], f"{b}_classes")], f"{b}_softmax",
                axis=2)  # fmt: skip
    y5 = g.op("Concat", [head, tail], f"{b}_joined", axis=2)
    return Tensor(g.reshape(y5, [s.c, s.h, s.w], f"{b}_region"), True)


def detection(ly: Layer) -> Tensor:
    """detection_layer.c forward: with softmax=1, a softmax over the classes of each of
    the side x side cells (stored first, class-minor)."""
    g, b = ly.g, ly.base
    x = ly.flat_input()
    if not ly.get_int("softmax", 0):
        return Tensor(x, False)
    side, classes, n = ly.get_int("side", 7), ly.get_int("classes", 1), ly.prev.outputs
    cells = side * side * classes
    probs = g.reshape(g.slice(x, [0], [cells], [1], f"{b}_probs"), [side * side, classes],
                      f"{b}_cells")  # fmt: skip
    probs = g.op("Flatten", [g.op("Softmax", [probs], f"{b}_softmax", axis=-1)], f"{b}_flat",
                 axis=1)  # fmt: skip
    rest = g.slice(x, [cells], [n], [1], f"{b}_boxes")
    return Tensor(g.op("Concat", [probs, rest], f"{b}_detection", axis=1), False)
