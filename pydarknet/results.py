"""The value types of a detection: Darknet's raw boxes, and the typed results built
from them (:class:`Box`, :class:`Detection`, pjreddie's ``(name, prob, box)`` tuples).

Plain data (NumPy arrays and frozen dataclasses): drawing, folders and video read them
without touching the compiled library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Box", "Detection", "DetectionTuple", "RawDetections", "to_detections", "to_tuples"]

#: pjreddie's darknet.py result: (name, prob, (centre x, centre y, w, h)) in pixels.
DetectionTuple = tuple[str, float, tuple[float, float, float, float]]


@dataclass(frozen=True)
class RawDetections:
    """All boxes Darknet kept, in Darknet's own order (the order the CLI prints)."""

    boxes: np.ndarray  # (n, 4) float32: centre x, centre y, w, h in pixels
    probs: np.ndarray  # (n, classes) float32, zeroed by NMS where suppressed
    objectness: np.ndarray  # (n,) float32
    thresh: float

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(box index, class index) of every prob > thresh, box-major like the CLI."""
        rows, cols = np.nonzero(self.probs > np.float32(self.thresh))
        return rows, cols


@dataclass(frozen=True)
class Box:
    """A box by its centre and size, in pixels of the input image."""

    x: float
    y: float
    w: float
    h: float

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        """(centre x, centre y, width, height)."""
        return (self.x, self.y, self.w, self.h)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom)."""
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)

    @property
    def tlwh(self) -> tuple[float, float, float, float]:
        """(left, top, width, height), as OpenCV and COCO use."""
        return (self.x - self.w / 2, self.y - self.h / 2, self.w, self.h)


@dataclass(frozen=True)
class Detection:
    """One detected object: class name and index, confidence in (thresh, 1], box."""

    label: str
    class_id: int
    confidence: float
    box: Box

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: label, class_id, confidence, box {x, y, w, h}."""
        return {
            "label": self.label,
            "class_id": self.class_id,
            "confidence": self.confidence,
            "box": dict(zip(("x", "y", "w", "h"), self.box.xywh, strict=True)),
        }


def to_detections(
    raw: RawDetections, names: Sequence[str], *, darknet_order: bool = False
) -> list[Detection]:
    """Detections of every (box, class) above the threshold, labelled from ``names``;
    by confidence, or in the order ``./darknet detect`` prints them."""
    rows, cols = raw.pairs()
    dets = [
        Detection(names[j], j, float(raw.probs[i, j]), Box(*map(float, raw.boxes[i])))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    if not darknet_order:
        dets.sort(key=lambda d: -d.confidence)
    return dets


def to_tuples(raw: RawDetections, names: Sequence[str]) -> list[DetectionTuple]:
    """pjreddie's darknet.py result: (name, prob, (x, y, w, h)), sorted by prob."""
    rows, cols = raw.pairs()
    res: list[DetectionTuple] = []
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        x, y, w, h = (float(v) for v in raw.boxes[i])
        res.append((names[j], float(raw.probs[i, j]), (x, y, w, h)))
    res.sort(key=lambda r: -r[1])  # stable: ties keep Darknet's order, as darknet.py
    return res
