"""The public functions: ``detect``, ``detect_image``, ``classify`` (pjreddie's
``python/darknet.py``, made Pythonic) and ``detect_batch``.

The pipeline is the one of ``./darknet detect`` (examples/detector.c test_detector):
letterbox_image -> network_predict -> get_network_boxes(relative) -> do_nms_sort; it
runs in the detection core (:mod:`pydarknet.core`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .core import check_meta, classify_scores, deadline_after, raw_detect, raw_detect_arrays
from .images import from_array, load_image, read_image
from .network import Metadata, Network
from .results import DetectionTuple, RawDetections, to_tuples

__all__ = ["RawDetections", "classify", "detect", "detect_batch", "detect_image", "raw_detect"]


def detect_image(
    net: Network,
    meta: Metadata,
    image: np.ndarray,
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    *,
    rgb: bool = False,
    nms_kind: str = "sort",
    timeout: float | None = None,
) -> list[DetectionTuple]:
    """Detect objects in an HxWx3 BGR uint8 array (RGB with ``rgb=True``; gray and
    4-channel arrays are accepted too).  Returns ``[(name, prob, (x, y, w, h))]`` with
    the box centre and size in pixels, sorted by prob, one entry per (box, class).
    After ``timeout`` seconds the network stops and ``pydarknet.TimeoutError`` is
    raised (the network stays usable); Ctrl-C raises KeyboardInterrupt likewise."""
    deadline = deadline_after(timeout)
    check_meta(net, meta)
    # Conversion and letterbox run in C on the array's bytes.
    raw = raw_detect_arrays(
        net, [image], thresh, hier_thresh, nms, rgb=rgb, nms_kind=nms_kind, deadline=deadline
    )
    return to_tuples(raw[0], meta.names)


def detect(
    net: Network,
    meta: Metadata,
    image_path: str | os.PathLike[str],
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    *,
    nms_kind: str = "sort",
    timeout: float | None = None,
) -> list[DetectionTuple]:
    """:func:`detect_image` on an image file, decoded as ``./darknet detect`` does."""
    deadline = deadline_after(timeout)
    check_meta(net, meta)
    bgr = read_image(image_path)
    raw = raw_detect_arrays(
        net, [bgr], thresh, hier_thresh, nms, nms_kind=nms_kind, names=[os.fspath(image_path)],
        deadline=deadline,
    )  # fmt: skip
    return to_tuples(raw[0], meta.names)


def detect_batch(
    net: Network,
    meta: Metadata,
    images: Sequence[np.ndarray] | np.ndarray,
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    *,
    rgb: bool = False,
    nms_kind: str = "sort",
    timeout: float | None = None,
) -> list[list[DetectionTuple]]:
    """:func:`pydarknet.detect_image` for several arrays of any sizes at once: one result
    list per image, each ``[(name, prob, (x, y, w, h))]`` sorted by prob.  The images go
    through the network together (Darknet's batch dimension), which has a higher
    throughput than one call per image.  ``timeout``: as for :func:`detect_image`."""
    deadline = deadline_after(timeout)
    check_meta(net, meta)
    raws = raw_detect_arrays(
        net, images, thresh, hier_thresh, nms, rgb=rgb, nms_kind=nms_kind, deadline=deadline
    )
    return [to_tuples(raw, meta.names) for raw in raws]


def classify(
    net: Network, meta: Metadata, image: str | os.PathLike[str] | np.ndarray, *, rgb: bool = False
) -> list[tuple[str, float]]:
    """Class scores of a classification network, ``[(name, prob)]`` sorted descending."""
    img = from_array(image, rgb=rgb) if isinstance(image, np.ndarray) else load_image(image)
    n = min(net.outputs, len(meta.names))
    scores = classify_scores(net, img, n)
    res = [(meta.names[i], float(scores[i])) for i in range(n)]
    res.sort(key=lambda r: -r[1])
    return res
