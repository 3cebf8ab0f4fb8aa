"""Seeded weights for any Darknet cfg, laid out in Darknet's order (load_weights_upto).

Weights are drawn so that activations keep their scale through deep networks
(He-normal kernels, biases and batch-norm means N(0, 0.1), scales and variances in
[0.5, 1.5]).  Used by the ONNX export tests (which check the count against the real
library's) and by the peer benchmark (yolov3 at 416 without its real weights)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from pydarknet.cfg import check_cfg
from pydarknet.cfg.parse import read_cfg

__all__ = ["seeded_weights"]


def seeded_weights(cfg: Path, path: Path, seed: int = 0,
                   scale: dict[int, float] | None = None) -> int:  # fmt: skip
    """Write weights for ``cfg`` (a v0.2 header, then every layer's parameters);
    returns the number of floats.  ``scale`` multiplies the biases and kernels of the
    convolutional layers it names (index: factor), e.g. to keep detection logits in a
    useful range."""
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
    for index, (sec, shape) in enumerate(zip(sections, net.layers, strict=True)):
        if shape.kind == "convolutional":
            n, size, groups = sec.int("filters", 1), sec.int("size", 1), sec.int("groups", 1)
            factor = (scale or {}).get(index, 1.0)
            normal(n, 0.1 * factor)
            if sec.int("batch_normalize", 0):
                batch_norm(n)
            fan_in = prev_c // groups * size * size
            normal(fan_in * n, (2 / fan_in) ** 0.5 * factor)
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
