"""What every layer rule of the cfg checker shares: the section names Darknet knows and
:class:`LayerRules`, a layer's section, input and helpers that raise a
:class:`~pydarknet.errors.CfgError` naming the file, line, section and option.
"""

from __future__ import annotations

import os

from ..errors import CfgError
from .parse import INT_MAX, Section, c_atoi
from .shapes import LayerShape, NetworkShape

__all__ = ["KINDS", "LayerRules", "cdiv"]

KINDS = {
    "[conv]": "convolutional", "[convolutional]": "convolutional",
    "[deconv]": "deconvolutional", "[deconvolutional]": "deconvolutional",
    "[local]": "local", "[conn]": "connected", "[connected]": "connected",
    "[max]": "maxpool", "[maxpool]": "maxpool", "[avg]": "avgpool", "[avgpool]": "avgpool",
    "[soft]": "softmax", "[softmax]": "softmax", "[dropout]": "dropout", "[route]": "route",
    "[shortcut]": "shortcut", "[upsample]": "upsample", "[reorg]": "reorg", "[yolo]": "yolo",
    "[region]": "region", "[detection]": "detection", "[iseg]": "iseg", "[cost]": "cost",
    "[crop]": "crop", "[lrn]": "normalization", "[normalization]": "normalization",
    "[batchnorm]": "batchnorm", "[activation]": "activation", "[logistic]": "logistic",
    "[l2norm]": "l2norm", "[rnn]": "rnn", "[gru]": "gru", "[lstm]": "lstm", "[crnn]": "crnn",
}  # fmt: skip


def cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class LayerRules:
    """What a layer parser gets: its section, its input (Darknet's size_params), the
    layers built so far, and helpers that raise a CfgError naming all of these."""

    def __init__(self, name: str, sec: Section, index: int, prev: LayerShape, net: NetworkShape):
        self.name, self.sec, self.index, self.net = name, sec, index, net
        self.w, self.h, self.c, self.inputs = prev.w, prev.h, prev.c, prev.outputs
        self.batch = net.batch

    def fail(self, what: str, option: str | None = None) -> CfgError:
        """A CfgError at ``option``'s line (the section's line when it has none)."""
        line = self.sec.line_of(option)
        return CfgError(
            f"cfg file {self.name!r}, line {line}, layer {self.index} {self.sec.header}: {what}",
            path=self.name,
            line=line,
            section=self.sec.header,
            option=option,
        )

    def fits(self, **values: int) -> None:
        """Darknet computes these in C int: refuse what would overflow."""
        for key, v in values.items():
            if v > INT_MAX:
                raise self.fail(f"{key} = {v} is too large for Darknet (over 2^31-1)")

    def image(self) -> None:
        """The layer reads its input as W x H x C (Darknet: 'must output image')."""
        w, h, c, n = self.w, self.h, self.c, self.inputs
        if not (w > 0 and h > 0 and c > 0 and n == w * h * c):
            raise self.fail(f"needs an image input but gets {w}x{h}x{c} ({n} values)")

    def stride_fits(self, stride: int, padding: int) -> None:
        if stride > max(self.w, self.h) + padding:
            raise self.fail(f"stride={stride} is larger than its {self.w}x{self.h} input", "stride")

    def window_fits(self, size: int, padding: int, stride: int = 1) -> None:
        """A window must fit its padded input (``padding``: both sides together), and
        be at most twice the input's larger side (+1): beyond that every output already
        sees the whole input, and the loops would only run longer (size=99999999).
        Windows up to 64 always pass that second test: SPP blocks pool with windows of
        up to 13 on inputs as small as 4x4 (yolov4-p6 at 256).  Within ``stride - 1`` of
        the padded input a window still makes one output (C's division truncates):
        alexnet.cfg pools 3x3 by 2 over its last 2x2 input at small sizes."""
        w, h = self.w, self.h
        most = min(min(w, h) + padding + max(stride, 1) - 1, max(2 * max(w, h) + 1, 64))
        if size > most:
            raise self.fail(
                f"size={size} is larger than its {w}x{h} input padded by {padding} "
                f"(at most {most})",
                "size",
            )

    def out(self, kind: str, w: int, h: int, c: int, **extra: int) -> LayerShape:
        self.fits(output_size=w * h * c * self.batch)
        if min(w, h, c) < 1:
            raise self.fail(f"its output would be {w}x{h}x{c}: sizes must be positive")
        return LayerShape(kind, w, h, c, w * h * c, **extra)

    def flat(self, kind: str, outputs: int, **extra: int) -> LayerShape:
        if outputs < 1:
            raise self.fail(f"has {outputs} inputs/outputs")
        self.fits(output_size=outputs * self.batch)
        return LayerShape(kind, 0, 0, 0, outputs, **extra)

    def layer_ref(self, text: str, key: str) -> int:
        """A route/shortcut index: negative counts back from this layer."""
        i = c_atoi(text)
        absolute = self.index + i if i < 0 else i
        if not 0 <= absolute < self.index:
            raise self.fail(
                f"{key}={text} names layer {absolute}, not one of 0..{self.index - 1}", key
            )
        return absolute

    def readable(self, key: str) -> str | None:
        """A file option (tree=, map=), opened by Darknet relative to the working dir."""
        path = self.sec.find(key)[1]
        if path is not None and not (os.path.isfile(path) and os.access(path, os.R_OK)):
            raise self.fail(f"{key}={path}: no readable file of that name", key)
        return path

    def tree_size(self) -> int:
        """Entries of a tree= file, checked the way tree.c read_tree() needs them."""
        path = self.readable("tree")
        if path is None:
            return 0
        with open(path, "rb") as f:
            rows = f.read().split(b"\n")
        if rows and rows[-1] == b"":
            rows.pop()
        for n, row in enumerate(rows):
            parts = row.split()
            parent = c_atoi(parts[1].decode("latin-1")) if len(parts) > 1 else -1
            if not parts or len(parts[0]) > 255 or not -1 <= parent < n:
                raise self.fail(
                    f"tree={path}, line {n + 1}: expected 'name parent' (parent < {n})", "tree"
                )
        if not rows:
            raise self.fail(f"tree={path} is empty", "tree")
        return len(rows)

    # last in the class: a method named int would shadow the type in the annotations below it
    def int(self, key: str, default: int, low: int | None = None, high: int | None = None) -> int:
        v = self.sec.int(key, default)
        if low is not None and v < low:
            raise self.fail(f"{key}={v} must be at least {low}", key)
        if high is not None and v > high:
            raise self.fail(f"{key}={v} must be at most {high}", key)
        return v
