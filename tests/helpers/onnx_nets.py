"""Darknet's own cfg files made small enough for the ONNX export tests (seeded
weights for them: tests/helpers/seeded_weights.py)."""

from __future__ import annotations

import re

from pydarknet.cfg.parse import read_cfg

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
