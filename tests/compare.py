"""Comparing detections with the reproduction tolerance: a detection clear of the
threshold (by more than NEAR) must have a twin of the same class with |dp| <= 0.02
and IoU >= 0.97.  Detections are (class, prob, (x, y, w, h)) with any class key."""

from __future__ import annotations

from collections.abc import Sequence

NEAR = 0.02  # detections this close to the threshold may flip either way
Det = tuple[object, float, Sequence[float]]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two boxes given by centre and size."""
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw, ih = max(0.0, min(ax1, bx1) - max(ax0, bx0)), max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def assert_reproduced(expected: Sequence[Det], got: Sequence[Det], thresh: float) -> int:
    """Every detection of ``expected`` above ``thresh + NEAR`` has a twin in ``got``;
    returns how many were checked."""
    checked = 0
    for cls, prob, box in expected:
        if prob <= thresh + NEAR:
            continue
        twins = [p for c, p, b in got if c == cls and iou(b, box) >= 0.97]
        assert twins, f"class {cls} p={prob:.3f} box={tuple(box)} not reproduced in {got}"
        assert min(abs(p - prob) for p in twins) <= 0.02, (cls, prob, twins)
        checked += 1
    return checked
