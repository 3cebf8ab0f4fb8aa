"""The reproduction tolerance between two runs' detections (GPU vs CPU, batch vs single).

Two lists of ``(label, prob, (x, y, w, h))`` agree when every detection of one whose
probability clears ``thresh + MAX_DP`` has a partner in the other with the same label,
``|Δp| <= MAX_DP`` and ``IoU >= MIN_IOU``.  Detections within MAX_DP of the threshold
may appear on one side only: a 0.02 shift can move them across it.
"""

from __future__ import annotations

MAX_DP = 0.02
MIN_IOU = 0.97

Detection = tuple[str, float, tuple[float, float, float, float]]


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two centre-x, centre-y, width, height boxes."""
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _one_way(ours: list[Detection], theirs: list[Detection], thresh: float, what: str) -> list[str]:
    problems = []
    for label, prob, box in ours:
        if prob < thresh + MAX_DP:
            continue
        partners = [(iou(box, b), p) for lab, p, b in theirs if lab == label]
        best = max(partners, default=(0.0, 0.0))
        if best[0] < MIN_IOU or abs(best[1] - prob) > MAX_DP:
            problems.append(
                f"{what}: {label} p={prob:.4f} box={tuple(round(v, 1) for v in box)}: best "
                f"partner IoU={best[0]:.4f} p={best[1]:.4f}"
            )
    return problems


def mismatches(a: list[Detection], b: list[Detection], thresh: float) -> list[str]:
    """Why ``a`` and ``b`` disagree beyond the tolerance ([] when they agree)."""
    return _one_way(a, b, thresh, "only in first") + _one_way(b, a, thresh, "only in second")
