"""Darknet's own cfg files made small enough for the ONNX export tests, and seeded
weights for them laid out in Darknet's order (load_weights_upto).

Weights are drawn so that activations keep their scale through deep networks
(He-normal kernels, batch-norm variances in [0.5, 1.5]); their count is checked
against the real library's (``Network.weights_floats``)."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from pydarknet.cfgcheck import check_cfg
from pydarknet.cfgparse import read_cfg

SIDE = 64  # input width/height of the shrunk networks
CROP = 48


def shrink(text: str) -> str:
    """The cfg with batch=1, inputs at most SIDE x SIDE, crops at most CROP, and a
    quarter (half, with groups=) of the filters (outputs) in every convolutional
    (connected) layer but the last one and those that feed a detection layer."""
    sections = read_cfg(text.encode("latin-1"), "<cfg>")
    heads = ("[yolo]", "[region]", "[detection]")
    weighted = [i for i, s in enumerate(sections) if s.header in _WEIGHTED]
    keep = {weighted[-1]} if weighted else set()
    keep |= {i for i in weighted if i + 1 < len(sections) and sections[i + 1].header in heads}
    grouped = any(s.header in _WEIGHTED and s.int("groups", 1) > 1 for s in sections)
    divide = 2 if grouped else 4  # grouped layers' channels must stay multiples of groups
    starts = [s.line for s in sections]
    out, section = [], -1
    for number, line in enumerate(text.split("\n"), start=1):
        while section + 1 < len(starts) and starts[section + 1] <= number:
            section += 1
        header = sections[section].header if section >= 0 else ""
        stripped = line.replace(" ", "").replace("\t", "")
        m = re.match(r"(\w+)=(\d+)$", stripped)
        if m:
            key, value = m.group(1), int(m.group(2))
            if header in ("[net]", "[network]") and key in ("batch", "subdivisions"):
                line = f"{key}=1"
            elif header in ("[net]", "[network]") and key in ("width", "height"):
                line = f"{key}={min(value, SIDE)}"
            elif header == "[crop]" and key in ("crop_width", "crop_height"):
                line = f"{key}={min(value, CROP)}"
            elif header in _WEIGHTED and key in ("filters", "output") and section not in keep:
                line = f"{key}={max(1, value // divide)}"
        out.append(line)
    return "\n".join(out)


_WEIGHTED = ("[convolutional]", "[conv]", "[connected]", "[conn]", "[local]")


def seeded_weights(cfg: Path, path: Path, seed: int = 0) -> int:
    """Write weights for ``cfg`` (a v0.2 header, then every layer's parameters);
    returns the number of floats."""
    rng = np.random.default_rng(seed)
    net = check_cfg(str(cfg))
    sections = read_cfg(cfg.read_bytes(), str(cfg))[1:]
    parts: list[np.ndarray] = []

    def normal(n: int, std: float) -> None:
        parts.append(rng.normal(0, std, n).astype("<f4"))

    def batch_norm(n: int) -> None:
        parts.append(rng.uniform(0.5, 1.5, n).astype("<f4"))  # scales
        normal(n, 0.1)  # rolling mean
        parts.append(rng.uniform(0.5, 1.5, n).astype("<f4"))  # rolling variance

    prev_c, prev_out = net.channels, net.inputs
    for sec, shape in zip(sections, net.layers, strict=True):
        if shape.kind == "convolutional":
            n, size, groups = sec.int("filters", 1), sec.int("size", 1), sec.int("groups", 1)
            normal(n, 0.1)
            if sec.int("batch_normalize", 0):
                batch_norm(n)
            fan_in = prev_c // groups * size * size
            normal(fan_in * n, (2 / fan_in) ** 0.5)
        elif shape.kind == "connected":
            normal(shape.outputs, 0.1)
            normal(prev_out * shape.outputs, (2 / prev_out) ** 0.5)
            if sec.int("batch_normalize", 0):
                batch_norm(shape.outputs)
        elif shape.kind == "local":
            size = sec.int("size", 1)
            normal(shape.outputs, 0.1)
            fan_in = prev_c * size * size
            normal(fan_in * shape.outputs, (2 / fan_in) ** 0.5)
        elif shape.kind == "batchnorm":
            batch_norm(prev_c)
        prev_c, prev_out = shape.c, shape.outputs
    body = np.concatenate(parts) if parts else np.zeros(0, "<f4")
    path.write_bytes(struct.pack("<3iq", 0, 2, 0, 0) + body.tobytes())
    return int(body.size)
