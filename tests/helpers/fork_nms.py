"""AlexeyAB's non-maximum suppression (its src/box.c, 59596d78) in NumPy, as a model the
tests check both the fork and pydarknet against: do_nms_sort (``nms_kind`` default,
IoU), diounms_sort with ``greedynms`` (IoU - (d/c)^0.6: its box_diou), ``diounms``
(IoU - (d/c)^beta_nms: box_diounms) and ``cornersnms`` (IoU).  Boxes are relative
(x, y, w, h) centres and sizes, as the fork suppresses them."""

from __future__ import annotations

import numpy as np

__all__ = ["fork_nms"]


def _overlaps(boxes: np.ndarray, kind: str, beta: float) -> np.ndarray:
    """The fork's overlap measure of every pair of boxes, in float32 as its C."""
    x, y, w, h = (boxes[:, i].astype(np.float32) for i in range(4))
    half_w, half_h = w / np.float32(2), h / np.float32(2)
    left, right, top, bot = x - half_w, x + half_w, y - half_h, y + half_h
    iw = np.minimum(right[:, None], right[None]) - np.maximum(left[:, None], left[None])
    ih = np.minimum(bot[:, None], bot[None]) - np.maximum(top[:, None], top[None])
    inter = np.where((iw < 0) | (ih < 0), np.float32(0), iw * ih)
    union = (w * h)[:, None] + (w * h)[None] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where((inter == 0) | (union == 0), np.float32(0), inter / union)
        if kind in ("default", "cornersnms"):
            return iou
        cw = np.maximum(right[:, None], right[None]) - np.minimum(left[:, None], left[None])
        ch = np.maximum(bot[:, None], bot[None]) - np.minimum(top[:, None], top[None])
        c = cw * cw + ch * ch
        d = (x[:, None] - x[None]) ** 2 + (y[:, None] - y[None]) ** 2
        power = 0.6 if kind == "greedynms" else beta
        term = np.power((d / c).astype(np.float64), power).astype(np.float32)
        return np.where(c == 0, iou, iou - term)


def fork_nms(boxes: np.ndarray, probs: np.ndarray, objectness: np.ndarray, thresh: float,
             kind: str = "default", beta: float = 0.6) -> np.ndarray:  # fmt: skip
    """``probs`` after the fork's suppression (a copy): per class, in order of that
    class's prob, each box still holding it zeroes it in every later box that overlaps
    it by more than ``thresh``.  Boxes of zero objectness take no part."""
    kind = kind if kind in ("greedynms", "diounms", "cornersnms") else "default"
    out = np.array(probs, np.float32)
    live = np.flatnonzero(np.asarray(objectness) != 0)
    over = _overlaps(np.asarray(boxes)[live], kind, beta) > np.float32(thresh)
    for k in range(out.shape[1]):
        p = out[live, k]
        order = np.argsort(-p, kind="stable")
        for pos, i in enumerate(order):
            if p[i] != 0:
                later = order[pos + 1 :]
                p[later[over[i, later]]] = 0
        out[live, k] = p
    return out
