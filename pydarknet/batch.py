"""Detection straight from 8-bit arrays, one image or many in Darknet's batch dimension.

The pipeline is ``./darknet detect``'s (examples/detector.c test_detector):
letterbox_image -> network forward -> get_network_boxes(relative) -> do_nms_sort, but
the conversion to Darknet's float layout and the letterbox run in C on the array's own
bytes (csrc/pydn_batch.c), so the Python side only describes the arrays and reads the
boxes back.  :func:`detect_batch` letterboxes every image into the batch input and runs
one forward pass for all of them (set_batch_network).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from . import api
from .errors import DarknetValueError
from .images import fill_u8image, u8_view
from .network import Metadata, Network

__all__ = ["detect_batch", "last_forward_seconds", "raw_detect_arrays"]

_timing = threading.local()


def last_forward_seconds() -> float:
    """Seconds the last detection call of this thread spent in the network's forward
    pass (the rest of its time is conversion, letterbox, box decoding, NMS and Python)."""
    return float(getattr(_timing, "forward", 0.0))


def raw_detect_arrays(
    net: Network,
    images: Sequence[np.ndarray],
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    *,
    rgb: bool = False,
    nms_kind: str = "sort",
    names: Sequence[str] | None = None,
) -> list[api.RawDetections]:
    """Darknet's boxes for each array (HxWx3 BGR, or RGB with ``rgb=True``; gray and
    4-channel too), from one forward pass in the batch dimension; boxes in pixels.
    ``names`` name the images in error messages (default ``image`` / ``images[i]``)."""
    thresh, hier_thresh, nms = api.check_options(thresh, hier_thresh, nms, nms_kind)
    if isinstance(images, np.ndarray) and images.ndim < 4:
        raise DarknetValueError("images must be a sequence of arrays (or an NxHxWxC array)")
    n = len(images)
    if n == 0:
        return []
    if names is None:
        names = ["image"] if n == 1 else [f"images[{i}]" for i in range(n)]
    keep = [u8_view(im, names[i]) for i, im in enumerate(images)]
    for k in keep:
        api.check_image_input(net, k.shape[1], k.shape[0])
    gray = [k.shape[2] == 1 for k in keep]
    if any(gray) and not all(gray):  # one channel order per call: replicate gray here
        keep = [np.repeat(k, 3, axis=2) if g else k for k, g in zip(keep, gray, strict=True)]
    ffi, lib = net.backend.ffi, net.backend.lib
    descs = ffi.new("pydn_u8image[]", n)
    orders = [fill_u8image(k, descs[i], rgb) for i, k in enumerate(keep)]  # all alike
    outs = ffi.new("pydn_dets[]", n)
    seconds = ffi.new("double *")
    with net.locked() as ptr:
        rc = lib.pydn_detect_u8(
            ptr, descs, n, orders[0], thresh, hier_thresh, nms, nms_kind == "obj", outs, seconds
        )
    _timing.forward = seconds[0]
    try:
        net.backend.check(rc, "detection failed")
        return [
            api.unpack_dets(outs[i], keep[i].shape[1], keep[i].shape[0], thresh, ffi)
            for i in range(n)
        ]
    finally:
        for i in range(n):
            lib.pydn_free_dets(ffi.addressof(outs, i))


def detect_batch(
    net: Network,
    meta: Metadata,
    images: Sequence[np.ndarray],
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    *,
    rgb: bool = False,
    nms_kind: str = "sort",
) -> list[list[api.DetectionTuple]]:
    """:func:`pydarknet.detect_image` for several arrays of any sizes at once: one result
    list per image, each ``[(name, prob, (x, y, w, h))]`` sorted by prob.  The images go
    through the network together (Darknet's batch dimension), which has a higher
    throughput than one call per image."""
    api.check_meta(net, meta)
    raws = raw_detect_arrays(net, images, thresh, hier_thresh, nms, rgb=rgb, nms_kind=nms_kind)
    return [api.to_tuples(raw, meta) for raw in raws]
