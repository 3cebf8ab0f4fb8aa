"""Comparing detections with the reproduction tolerance: a detection clear of the
threshold (by more than NEAR) must have a twin of the same class with |dp| <= MAX_DP
and IoU >= MIN_IOU.  Detections are (class, prob, (x, y, w, h)) with any class key.

Used by the tests (reference vs pydarknet, batch vs single, GPU vs CPU) and by
benchmarks/gpu_bench.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NEAR = 0.02  # detections this close to the threshold may flip either way
MAX_DP = 0.02
MIN_IOU = 0.97
Det = tuple[object, float, Sequence[float]]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two boxes given by centre and size."""
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw, ih = max(0.0, min(ax1, bx1) - max(ax0, bx0)), max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def iou_many(a: Sequence[float], boxes: np.ndarray) -> np.ndarray:
    """:func:`iou` of box ``a`` with each row of ``boxes`` (n x 4), at once."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0 = b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2
    bx1, by1 = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    iw = np.maximum(0.0, np.minimum(ax1, bx1) - np.maximum(ax0, bx0))
    ih = np.maximum(0.0, np.minimum(ay1, by1) - np.maximum(ay0, by0))
    inter = iw * ih
    union = a[2] * a[3] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def assert_reproduced(expected: Sequence[Det], got: Sequence[Det], thresh: float) -> int:
    """Every detection of ``expected`` above ``thresh + NEAR`` has a twin in ``got``;
    returns how many were checked."""
    checked = 0
    for cls, prob, box in expected:
        if prob <= thresh + NEAR:
            continue
        twins = [p for c, p, b in got if c == cls and iou(b, box) >= MIN_IOU]
        assert twins, f"class {cls} p={prob:.3f} box={tuple(box)} not reproduced in {got}"
        assert min(abs(p - prob) for p in twins) <= MAX_DP, (cls, prob, twins)
        checked += 1
    return checked


def _unmatched(ours: Sequence[Det], theirs: Sequence[Det], thresh: float, what: str,
               pixel: float = 0.0) -> list[str]:  # fmt: skip
    problems = []
    for cls, prob, box in ours:
        if prob <= thresh + NEAR:
            continue
        partners = [(iou(box, b), p, max(abs(u - v) for u, v in zip(box, b, strict=True)))
                    for c, p, b in theirs if c == cls]  # fmt: skip
        twins = [p for i, p, far in partners if i >= MIN_IOU or far <= pixel]
        if not twins or min(abs(p - prob) for p in twins) > MAX_DP:
            best = max(partners, default=(0.0, 0.0, 0.0))
            problems.append(
                f"{what}: {cls} p={prob:.4f} box={tuple(round(v, 1) for v in box)}: best "
                f"partner IoU={best[0]:.4f} p={best[1]:.4f}"
            )
    return problems


def mismatches(a: Sequence[Det], b: Sequence[Det], thresh: float, pixel: float = 0.0
               ) -> list[str]:  # fmt: skip
    """Why ``a`` and ``b`` disagree beyond the tolerance, both ways ([] when they agree).
    ``pixel`` > 0 (boxes in pixels): boxes a pixel or two wide, where IoU is
    ill-conditioned, are also twins when every coordinate is within ``pixel``."""
    return (_unmatched(a, b, thresh, "only in first", pixel)
            + _unmatched(b, a, thresh, "only in second", pixel))  # fmt: skip
