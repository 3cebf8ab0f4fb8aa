"""A deliberately slow yolov3-tiny that gives yolov3-tiny's detections: after layer 0 a
[maxpool] with a large stride-1 window (its output unused: the [route] after it takes
layer 0 again).  The weights file of yolov3-tiny fits it (maxpool and route hold no
weights); the absolute route index after the insert moves by two."""

from __future__ import annotations

import re
from pathlib import Path

from pydarknet import models


def write_slow_tiny(folder: Path, window: int) -> Path:
    """yolov3-tiny.cfg with the slow branch; each pass takes about (window / 100)^2 x
    0.7 s more on one core of this machine (measured by the tests that use it)."""
    text = models.data_file("yolov3-tiny.cfg").read_text()
    parts = re.split(r"(?m)^(?=\[)", text)
    # parts: "", [net], [convolutional] (layer 0), ... : insert after layer 0
    head, rest = "".join(parts[:3]), "".join(parts[3:])
    first = f"[maxpool]\nsize={window}\nstride=1\n\n[route]\nlayers=0\n\n"
    rest = re.sub(r"(?m)^layers\s*=\s*-1,\s*8\s*$", "layers = -1, 10", rest)
    path = folder / f"slow-tiny-{window}.cfg"
    path.write_text(head + first + rest)
    return path
