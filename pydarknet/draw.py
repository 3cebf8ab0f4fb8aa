"""Drawing detections the way Darknet's ``predictions.jpg`` looks (src/image.c
draw_detections): a box per detected object in a class colour, ``width = h * .006``,
and a label in that colour above it with the class names in black.  Unlike Darknet, the
label also gives each confidence (``dog 56%``) unless ``confidence=False``."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from .results import Detection

__all__ = ["class_color", "draw_detections", "label_text"]

_COLORS = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 1, 0], [1, 1, 0], [1, 0, 0]], np.float32)


def _get_color(c: int, x: int, classes: int) -> float:
    """src/image.c get_color()."""
    ratio = (x / classes) * 5
    i, j = int(np.floor(ratio)), int(np.ceil(ratio))
    ratio -= i
    return float((1 - ratio) * _COLORS[i][c] + ratio * _COLORS[j][c])


def class_color(class_id: int, classes: int) -> tuple[int, int, int]:
    """Darknet's colour of a class, as an OpenCV BGR tuple."""
    offset = class_id * 123457 % max(classes, 1)
    red, green, blue = (_get_color(c, offset, max(classes, 1)) for c in (2, 1, 0))
    return (int(blue * 255), int(green * 255), int(red * 255))


def label_text(group: Iterable[Detection], confidence: bool = True) -> str:
    """The label of one box: ``"dog 56%"``, or ``"car 52%, truck 55%"`` for a box holding
    several classes (Darknet's ``"car, truck"`` with ``confidence=False``)."""
    if confidence:
        return ", ".join(f"{d.label} {d.confidence * 100:.0f}%" for d in group)
    return ", ".join(d.label for d in group)


def draw_detections(
    image: np.ndarray,
    detections: Iterable[Detection],
    classes: int = 80,
    *,
    copy: bool = True,
    confidence: bool = True,
) -> np.ndarray:
    """Draw detections on a BGR uint8 image (a copy unless ``copy=False``).

    ``classes`` is the model's class count (it picks Darknet's colours; 80 for COCO).
    Detections sharing a box are drawn once with all their names, in class order, in
    the colour of the first, like Darknet."""
    out = image.copy() if copy else image
    h, w = out.shape[:2]
    groups: dict[tuple[float, ...], list[Detection]] = {}
    for d in detections:
        groups.setdefault(d.box.xywh, []).append(d)
    width = max(int(h * 0.006), 1)
    font_scale = max(h * 0.03 / 22.0, 0.3)
    thickness = max(int(font_scale * 1.5), 1)
    for group in groups.values():
        group.sort(key=lambda d: d.class_id)
        color = class_color(group[0].class_id, classes)
        left, top, right, bot = (int(v) for v in group[0].box.xyxy)
        left, top = max(left, 0), max(top, 0)
        right, bot = min(right, w - 1), min(bot, h - 1)
        for i in range(width):
            cv2.rectangle(out, (left + i, top + i), (right - i, bot - i), color, 1)
        label = label_text(group, confidence)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        y0 = top + width - th - base - 4
        if y0 < 0:
            y0 = top + width
        cv2.rectangle(out, (left, y0), (left + tw + 4, y0 + th + base + 4), color, -1)
        cv2.putText(out, label, (left + 2, y0 + th + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (0, 0, 0), thickness, cv2.LINE_AA)  # fmt: skip
    return out
