"""Darknet's detection pipeline around an exported model, in NumPy only.

``./darknet detect`` does: pixels / 255 into RGB planes, ``letterbox_image`` (image.c,
with its own bilinear ``resize_image``), ``network_predict``, ``get_network_boxes``
(yolo_layer.c ``get_yolo_detections`` + ``correct_yolo_boxes``), ``do_nms_sort``
(box.c).  :func:`letterbox` and :func:`detect_yolo` do the same around the outputs of
an ONNX model from :mod:`pydarknet.onnx`, so any engine can run the whole job.

This module imports nothing but NumPy (the benchmark loads it by file path in
engines' own virtual environments); :func:`pydarknet.onnx.yolo_heads` gives the
``heads`` argument from a cfg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "YoloHead",
    "correct_boxes",
    "detect_yolo",
    "do_nms_sort",
    "finish",
    "letterbox",
    "yolo_candidates",
]

F32 = np.float32


@dataclass(frozen=True)
class YoloHead:
    """A [yolo] layer: its output name, anchors (all of them, as ``l.biases``), mask
    and classes."""

    layer: int
    anchors: tuple[float, ...]
    mask: tuple[int, ...]
    classes: int


def _letterbox_size(w: int, h: int, netw: int, neth: int) -> tuple[int, int]:
    if F32(netw) / F32(w) < F32(neth) / F32(h):
        return netw, (h * netw) // w
    return (w * neth) // h, neth


def letterbox(bgr: np.ndarray, netw: int, neth: int) -> np.ndarray:
    """``letterbox_image(load_image_color(...))`` of an HxWx3 BGR uint8 array, as the
    ``(1, 3, neth, netw)`` float32 network input."""
    h, w = bgr.shape[:2]
    new_w, new_h = _letterbox_size(w, h, netw, neth)
    # resize_image: columns first (x = c * (w-1)/(new_w-1)), then rows, in float
    sx = np.arange(new_w, dtype=F32) * (F32(w - 1) / F32(new_w - 1))
    ix = sx.astype(np.int64)
    dx = (sx - ix).astype(F32)
    ix[-1], dx[-1] = w - 1, 0  # the last column is the image's last column
    ix1 = np.minimum(ix + 1, w - 1)
    sy = np.arange(new_h, dtype=F32) * (F32(h - 1) / F32(new_h - 1))
    iy = sy.astype(np.int64)
    dy = (sy - iy).astype(F32)
    iy1 = np.minimum(iy + 1, h - 1)
    rgb = bgr[:, :, ::-1]
    left = rgb[:, ix].astype(F32) / F32(255)
    right = rgb[:, ix1].astype(F32) / F32(255)
    part = (F32(1) - dx)[None, :, None] * left + dx[None, :, None] * right
    top = (F32(1) - dy)[:, None, None] * part[iy]
    lower = dy[:, None, None] * part[iy1]
    lower[-1] = 0  # the last row adds nothing
    resized = top + lower
    boxed = np.full((1, 3, neth, netw), 0.5, F32)
    ox, oy = (netw - new_w) // 2, (neth - new_h) // 2
    boxed[0, :, oy : oy + new_h, ox : ox + new_w] = resized.transpose(2, 0, 1)
    return boxed


def yolo_candidates(outputs: dict[str, np.ndarray], heads: list[YoloHead], netw: int,
                    neth: int, thresh: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """get_yolo_detections of the [yolo] layers' outputs (batch 1), before
    correct_yolo_boxes: boxes (n, 4) relative to the network input, probs (n, classes)
    (objectness x class, 0 where not above thresh) and objectness (n,)."""
    all_boxes, all_probs, all_obj = [], [], []
    for head in heads:
        out = outputs[f"layer_{head.layer}"][0]
        n, classes = len(head.mask), head.classes
        lh, lw = out.shape[1:]
        p = out.reshape(n, classes + 5, lh * lw).transpose(2, 0, 1)  # (cells, anchors, entries)
        cell, a = np.nonzero(p[:, :, 4] > F32(thresh))  # Darknet's order: cell, then anchor
        d = p[cell, a]
        anchors = np.asarray(head.anchors, F32).reshape(-1, 2)[np.asarray(head.mask)[a]]
        box = np.empty((len(cell), 4), F32)
        box[:, 0] = ((cell % lw).astype(F32) + d[:, 0]) / F32(lw)
        box[:, 1] = ((cell // lw).astype(F32) + d[:, 1]) / F32(lh)
        box[:, 2] = np.exp(d[:, 2]) * anchors[:, 0] / F32(netw)
        box[:, 3] = np.exp(d[:, 3]) * anchors[:, 1] / F32(neth)
        prob = d[:, 4:5] * d[:, 5:]
        prob[prob <= F32(thresh)] = 0
        all_boxes.append(box)
        all_probs.append(prob)
        all_obj.append(d[:, 4])
    return np.concatenate(all_boxes), np.concatenate(all_probs), np.concatenate(all_obj)


def correct_boxes(boxes: np.ndarray, w: int, h: int, netw: int, neth: int) -> None:
    """correct_yolo_boxes (relative): undo the letterbox, in place."""
    new_w, new_h = _letterbox_size(w, h, netw, neth)
    boxes[:, 0] = (boxes[:, 0] - (netw - new_w) / 2.0 / netw) / (F32(new_w) / F32(netw))
    boxes[:, 1] = (boxes[:, 1] - (neth - new_h) / 2.0 / neth) / (F32(new_h) / F32(neth))
    boxes[:, 2] *= F32(netw) / F32(new_w)
    boxes[:, 3] *= F32(neth) / F32(new_h)


def _iou(boxes: np.ndarray) -> np.ndarray:
    """box.c box_iou between every pair."""
    lo, hi = boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2
    inter_wh = np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None])
    inter_wh = np.maximum(inter_wh, 0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    area = boxes[:, 2] * boxes[:, 3]
    iou: np.ndarray = inter / (area[:, None] + area[None] - inter)
    return iou


def do_nms_sort(boxes: np.ndarray, probs: np.ndarray, objectness: np.ndarray, nms: float
                ) -> np.ndarray:  # fmt: skip
    """box.c do_nms_sort on probs (zeroed in place where suppressed); returns the
    detections' final order (Darknet reorders its array; qsort taken as stable)."""
    order = list(range(len(boxes)))
    k = len(order) - 1
    i = 0
    while i <= k:  # detections with objectness 0 are swapped to the end and left out
        if objectness[order[i]] == 0:
            order[i], order[k] = order[k], order[i]
            k -= 1
        else:
            i += 1
    live = np.asarray(order[: k + 1], np.int64)
    rest = np.asarray(order[k + 1 :], np.int64)
    iou = _iou(boxes) if len(live) else np.zeros((0, 0), F32)
    for cls in range(probs.shape[1]):
        column = probs[live, cls]
        if not column.any():
            continue  # a stable sort of equal keys keeps the order
        live = live[np.argsort(-column, kind="stable")]
        for pos, a in enumerate(live):
            if probs[a, cls] == 0:
                continue
            after = live[pos + 1 :]
            probs[after[iou[a, after] > nms], cls] = 0
    return np.concatenate([live, rest])


def finish(boxes: np.ndarray, probs: np.ndarray, objectness: np.ndarray, w: int, h: int,
           netw: int, neth: int, thresh: float = 0.5, nms: float = 0.45
           ) -> list[tuple[int, float, tuple[float, float, float, float]]]:  # fmt: skip
    """correct_yolo_boxes, do_nms_sort and the ``(class, prob, (x, y, w, h) pixels)``
    of every prob above thresh, sorted by prob (stable over Darknet's order), as
    :func:`pydarknet.detect_image` returns them (with class indices)."""
    correct_boxes(boxes, w, h, netw, neth)
    order = do_nms_sort(boxes, probs, objectness, nms)
    scale = np.array([w, h, w, h], F32)
    res: list[tuple[int, float, tuple[float, float, float, float]]] = []
    for i in order:
        for j in np.nonzero(probs[i] > F32(thresh))[0]:
            x, y, bw, bh = (float(v) for v in boxes[i] * scale)
            res.append((int(j), float(probs[i, j]), (x, y, bw, bh)))
    res.sort(key=lambda r: -r[1])
    return res


def detect_yolo(outputs: dict[str, np.ndarray], heads: list[YoloHead], w: int, h: int,
                netw: int, neth: int, thresh: float = 0.5, nms: float = 0.45
                ) -> list[tuple[int, float, tuple[float, float, float, float]]]:  # fmt: skip
    """The detections of a ``w`` x ``h`` image from the model's [yolo] outputs."""
    boxes, probs, obj = yolo_candidates(outputs, heads, netw, neth, thresh)
    return finish(boxes, probs, obj, w, h, netw, neth, thresh, nms)
