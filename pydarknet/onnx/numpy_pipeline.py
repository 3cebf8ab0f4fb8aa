"""Darknet's detection pipeline around an exported model, in NumPy only.

``./darknet detect`` does: pixels / 255 into RGB planes, ``letterbox_image`` (image.c,
with its own bilinear ``resize_image``), ``network_predict``, ``get_network_boxes``
(yolo_layer.c ``get_yolo_detections`` + ``correct_yolo_boxes``), ``do_nms_sort``
(box.c).  :func:`letterbox` and :func:`detect_yolo` do the same around the outputs of
an ONNX model from :mod:`pydarknet.onnx`, so any engine can run the whole job.  The
AlexeyAB fork's ``detector test`` stretches the image (:func:`stretch`) unless its
[net] has ``letter_box=1``, decodes ``new_coords=1`` boxes its own way and suppresses
with the last [yolo] layer's ``nms_kind`` (box.c ``diounms_sort``).

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
    "preprocess",
    "stretch",
    "yolo_candidates",
]

F32 = np.float32


@dataclass(frozen=True)
class YoloHead:
    """A [yolo] layer: its output name, anchors (all of them, as ``l.biases``), mask
    and classes; in the fork, its new_coords, nms_kind and beta_nms."""

    layer: int
    anchors: tuple[float, ...]
    mask: tuple[int, ...]
    classes: int
    new_coords: bool = False
    nms_kind: str = "default"  # greedynms or diounms: box.c diounms_sort
    beta_nms: float = 0.6


def _letterbox_size(w: int, h: int, netw: int, neth: int) -> tuple[int, int]:
    if F32(netw) / F32(w) < F32(neth) / F32(h):
        return netw, (h * netw) // w
    return (w * neth) // h, neth


def _resize(bgr: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """image.c ``resize_image`` of the RGB planes / 255 of an HxWx3 BGR uint8 array,
    as a (new_h, new_w, 3) float32 array."""
    h, w = bgr.shape[:2]
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
    resized: np.ndarray = top + lower
    return resized


def letterbox(bgr: np.ndarray, netw: int, neth: int) -> np.ndarray:
    """``letterbox_image(load_image_color(...))`` of an HxWx3 BGR uint8 array, as the
    ``(1, 3, neth, netw)`` float32 network input."""
    h, w = bgr.shape[:2]
    new_w, new_h = _letterbox_size(w, h, netw, neth)
    resized = _resize(bgr, new_w, new_h)
    boxed = np.full((1, 3, neth, netw), 0.5, F32)
    ox, oy = (netw - new_w) // 2, (neth - new_h) // 2
    boxed[0, :, oy : oy + new_h, ox : ox + new_w] = resized.transpose(2, 0, 1)
    return boxed


def stretch(bgr: np.ndarray, netw: int, neth: int) -> np.ndarray:
    """``resize_image(load_image(...), netw, neth)`` (the fork's detector without
    letter_box=1), as the ``(1, 3, neth, netw)`` network input."""
    return np.ascontiguousarray(_resize(bgr, netw, neth).transpose(2, 0, 1)[None])


def preprocess(bgr: np.ndarray, netw: int, neth: int, letter: bool = True) -> np.ndarray:
    """:func:`letterbox` or :func:`stretch`."""
    return letterbox(bgr, netw, neth) if letter else stretch(bgr, netw, neth)


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
        if head.new_coords:  # the fork: x*x*4*anchor
            box[:, 2] = d[:, 2] * d[:, 2] * F32(4) * anchors[:, 0] / F32(netw)
            box[:, 3] = d[:, 3] * d[:, 3] * F32(4) * anchors[:, 1] / F32(neth)
        else:
            box[:, 2] = np.exp(d[:, 2]) * anchors[:, 0] / F32(netw)
            box[:, 3] = np.exp(d[:, 3]) * anchors[:, 1] / F32(neth)
        prob = d[:, 4:5] * d[:, 5:]
        prob[prob <= F32(thresh)] = 0
        all_boxes.append(box)
        all_probs.append(prob)
        all_obj.append(d[:, 4])
    return np.concatenate(all_boxes), np.concatenate(all_probs), np.concatenate(all_obj)


def correct_boxes(boxes: np.ndarray, w: int, h: int, netw: int, neth: int,
                  letter: bool = True) -> None:  # fmt: skip
    """correct_yolo_boxes (relative): undo the letterbox, in place (nothing to undo
    for a stretched image)."""
    if not letter:
        return
    new_w, new_h = _letterbox_size(w, h, netw, neth)
    boxes[:, 0] = (boxes[:, 0] - (netw - new_w) / 2.0 / netw) / (F32(new_w) / F32(netw))
    boxes[:, 1] = (boxes[:, 1] - (neth - new_h) / 2.0 / neth) / (F32(new_h) / F32(neth))
    boxes[:, 2] *= F32(netw) / F32(new_w)
    boxes[:, 3] *= F32(neth) / F32(new_h)


def _iou(boxes: np.ndarray, kind: str = "default", beta: float = 0.6) -> np.ndarray:
    """box.c box_iou between every pair; for the fork's greedynms box_diou (iou minus
    (d/c)^0.6, d the centres' squared distance, c the enclosing box's squared
    diagonal), for diounms box_diounms (the same with beta_nms)."""
    lo, hi = boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2
    inter_wh = np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None])
    inter_wh = np.maximum(inter_wh, 0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    area = boxes[:, 2] * boxes[:, 3]
    iou: np.ndarray = inter / (area[:, None] + area[None] - inter)
    if kind not in ("greedynms", "diounms"):
        return iou
    outer = np.maximum(hi[:, None], hi[None]) - np.minimum(lo[:, None], lo[None])
    c = outer[..., 0] * outer[..., 0] + outer[..., 1] * outer[..., 1]
    centre = boxes[:, None, :2] - boxes[None, :, :2]
    d = centre[..., 0] * centre[..., 0] + centre[..., 1] * centre[..., 1]
    exponent = 0.6 if kind == "greedynms" else beta
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.power((d / c).astype(np.float64), exponent).astype(F32)
    diou: np.ndarray = np.where(c == 0, iou, iou - u)
    return diou


def do_nms_sort(boxes: np.ndarray, probs: np.ndarray, objectness: np.ndarray, nms: float,
                kind: str = "default", beta: float = 0.6) -> np.ndarray:  # fmt: skip
    """box.c do_nms_sort (or the fork's diounms_sort for ``kind`` greedynms or
    diounms) on probs (zeroed in place where suppressed); returns the detections'
    final order (Darknet reorders its array; qsort taken as stable)."""
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
    iou = _iou(boxes, kind, beta) if len(live) else np.zeros((0, 0), F32)
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
           netw: int, neth: int, thresh: float = 0.5, nms: float = 0.45, letter: bool = True,
           kind: str = "default", beta: float = 0.6
           ) -> list[tuple[int, float, tuple[float, float, float, float]]]:  # fmt: skip
    """correct_yolo_boxes, do_nms_sort and the ``(class, prob, (x, y, w, h) pixels)``
    of every prob above thresh, sorted by prob (stable over Darknet's order), as
    :func:`pydarknet.detect_image` returns them (with class indices)."""
    correct_boxes(boxes, w, h, netw, neth, letter)
    # as Darknet's `if (nms)`: no suppression (and no reordering) at nms=0
    order = (
        do_nms_sort(boxes, probs, objectness, nms, kind, beta) if nms > 0 else np.arange(len(boxes))
    )
    scale = np.array([w, h, w, h], F32)
    res: list[tuple[int, float, tuple[float, float, float, float]]] = []
    for i in order:
        for j in np.nonzero(probs[i] > F32(thresh))[0]:
            x, y, bw, bh = (float(v) for v in boxes[i] * scale)
            res.append((int(j), float(probs[i, j]), (x, y, bw, bh)))
    res.sort(key=lambda r: -r[1])
    return res


def detect_yolo(outputs: dict[str, np.ndarray], heads: list[YoloHead], w: int, h: int,
                netw: int, neth: int, thresh: float = 0.5, nms: float = 0.45,
                letter: bool = True
                ) -> list[tuple[int, float, tuple[float, float, float, float]]]:  # fmt: skip
    """The detections of a ``w`` x ``h`` image from the model's [yolo] outputs
    (``letter``: the input was letterboxed; the last head's nms_kind suppresses)."""
    boxes, probs, obj = yolo_candidates(outputs, heads, netw, neth, thresh)
    last = heads[-1]
    return finish(boxes, probs, obj, w, h, netw, neth, thresh, nms, letter, last.nms_kind,
                  last.beta_nms)  # fmt: skip
