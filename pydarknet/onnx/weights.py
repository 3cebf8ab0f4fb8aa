"""A Darknet ``.weights`` file read in Darknet's order (src/parser.c ``load_weights_upto``).

The header is major, minor, revision (int32) and ``seen`` (int64 from version 0.2 on,
else int32); then every layer's parameters follow one another, each layer taking what
its ``load_*_weights`` reads.  The exporter takes them layer by layer with
:meth:`WeightsReader.take`; a file of the wrong size is refused afterwards with the size
the network needs (the check ``load_net`` makes).
"""

from __future__ import annotations

import os
import struct

import numpy as np

from ..errors import WeightsError
from ..network import weights_header_bytes

__all__ = ["WeightsReader"]


class WeightsReader:
    def __init__(self, path: str) -> None:
        self.path = path
        header = weights_header_bytes(path)
        with open(path, "rb") as f:
            major, minor, _revision = struct.unpack("<3i", f.read(12))
        self.transpose = major > 1000 or minor > 1000  # connected layers stored transposed
        self.header = header
        size = os.path.getsize(path)
        self.data = np.fromfile(path, dtype="<f4", offset=header, count=(size - header) // 4)
        self.size = size
        self.used = 0  # floats taken so far

    def take(self, count: int) -> np.ndarray:
        """The next ``count`` floats (zeros past the end: the size check reports it)."""
        start, self.used = self.used, self.used + count
        part = self.data[start : self.used]
        if part.size < count:
            part = np.concatenate([part, np.zeros(count - part.size, np.float32)])
        return part.astype(np.float32)

    def check_size(self, cfg: str) -> None:
        expected = self.header + 4 * self.used
        if self.size != expected:
            raise WeightsError(
                f"weights file {self.path!r} has {self.size} bytes but {cfg!r} needs {expected}"
            )
