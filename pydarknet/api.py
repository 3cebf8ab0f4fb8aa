"""The public functions: ``detect``, ``detect_image``, ``classify`` (pjreddie's
``python/darknet.py``, made Pythonic).

The pipeline is the one of ``./darknet detect`` (examples/detector.c test_detector):
letterbox_image -> network_predict -> get_network_boxes(relative) -> do_nms_sort.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from .batch import raw_detect_arrays
from .errors import DarknetValueError, ImageError
from .images import DarknetImage, from_array, load_image, read_image
from .network import Metadata, Network

__all__ = ["RawDetections", "classify", "detect", "detect_image", "raw_detect"]

DetectionTuple = tuple[str, float, tuple[float, float, float, float]]
NMS_KINDS = ("sort", "obj")


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


def check_unit(name: str, value: float) -> float:
    """A threshold in [0, 1]; anything else (NaN included) is a DarknetValueError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DarknetValueError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise DarknetValueError(f"{name} must be within [0, 1], got {value!r}")
    return v


def check_options(
    thresh: float, hier_thresh: float, nms: float, nms_kind: str
) -> tuple[float, float, float]:
    """The detection options checked: three thresholds in [0, 1] and a known NMS kind."""
    checked = (check_unit("thresh", thresh), check_unit("hier_thresh", hier_thresh),
               check_unit("nms", nms))  # fmt: skip
    if nms_kind not in NMS_KINDS:
        raise DarknetValueError(f"nms_kind must be one of {NMS_KINDS}, got {nms_kind!r}")
    return checked


def unpack_dets(out, width: int, height: int, thresh: float, ffi) -> RawDetections:  # type: ignore[no-untyped-def]
    """A filled ``pydn_dets`` (of the library whose ``ffi`` is given) copied into NumPy
    (boxes scaled to pixels of a ``width`` x ``height`` image); the caller frees ``out``."""
    n, classes = out.n, out.classes
    boxes = np.frombuffer(ffi.buffer(out.boxes, 4 * 4 * n), np.float32).reshape(n, 4)
    probs = np.frombuffer(ffi.buffer(out.probs, 4 * classes * n), np.float32)
    objectness = np.frombuffer(ffi.buffer(out.objectness, 4 * n), np.float32)
    scale = np.array([width, height, width, height], np.float32)
    return RawDetections(boxes * scale, probs.reshape(n, classes).copy(), objectness.copy(), thresh)


def check_image_input(net: Network, width: int, height: int) -> None:
    """Images reach Darknet as W x H x 3 floats: a network must read exactly that, and
    letterbox_image() must not shrink the image to 1 pixel (resize_image() divides by
    size - 1 and then reads out of bounds)."""
    shape = net.shape
    w, h, c = shape.width, shape.height, shape.channels
    if not (w > 1 and h > 1 and c == 3 and shape.inputs == w * h * c):
        raise DarknetValueError(
            f"network {net.cfg!r} reads {shape.inputs} values ({w}x{h}x{c}), "
            "not a W x H x 3 image: it cannot run on images"
        )
    if w * height < h * width:  # src/image.c letterbox_image()
        new_w, new_h = w, height * w // width
    else:
        new_w, new_h = width * h // height, h
    if new_w < 2 or new_h < 2:
        raise ImageError(
            f"a {width}x{height} image would shrink to {new_w}x{new_h} pixels in the "
            f"network's {w}x{h} input: too thin to detect anything"
        )


def check_meta(net: Network, meta: Metadata) -> None:
    if len(meta.names) < net.classes:
        raise DarknetValueError(
            f"the network has {net.classes} classes but the metadata names only {len(meta.names)}"
        )


def raw_detect(
    net: Network,
    image: DarknetImage,
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    nms_kind: str = "sort",
) -> RawDetections:
    """Run the CLI's detection pipeline on a converted image; boxes in pixels."""
    thresh, hier_thresh, nms = check_options(thresh, hier_thresh, nms, nms_kind)
    check_image_input(net, image.w, image.h)
    ffi, lib = net.backend.ffi, net.backend.lib
    out = ffi.new("pydn_dets *")
    cimg = image.cdata(ffi)
    with net.locked() as ptr:
        rc = lib.pydn_detect(ptr, cimg, thresh, hier_thresh, nms, nms_kind == "obj", out)
    try:
        net.backend.check(rc, "detection failed")
        return unpack_dets(out, image.w, image.h, thresh, ffi)
    finally:
        lib.pydn_free_dets(out)


def to_tuples(raw: RawDetections, meta: Metadata) -> list[DetectionTuple]:
    """pjreddie's darknet.py result: (name, prob, (x, y, w, h)), sorted by prob."""
    rows, cols = raw.pairs()
    res = [
        (
            meta.names[j],
            float(raw.probs[i, j]),
            tuple(float(v) for v in raw.boxes[i]),
        )
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    res.sort(key=lambda r: -r[1])  # stable: ties keep Darknet's order, as darknet.py
    return res  # type: ignore[return-value]


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
) -> list[DetectionTuple]:
    """Detect objects in an HxWx3 BGR uint8 array (RGB with ``rgb=True``; gray and
    4-channel arrays are accepted too).  Returns ``[(name, prob, (x, y, w, h))]`` with
    the box centre and size in pixels, sorted by prob, one entry per (box, class)."""
    check_meta(net, meta)
    # Conversion and letterbox run in C on the array's bytes (see pydarknet.batch).
    raw = raw_detect_arrays(net, [image], thresh, hier_thresh, nms, rgb=rgb, nms_kind=nms_kind)
    return to_tuples(raw[0], meta)


def detect(
    net: Network,
    meta: Metadata,
    image_path: str | os.PathLike[str],
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    *,
    nms_kind: str = "sort",
) -> list[DetectionTuple]:
    """:func:`detect_image` on an image file, decoded as ``./darknet detect`` does."""
    check_meta(net, meta)
    bgr = read_image(image_path)
    raw = raw_detect_arrays(
        net, [bgr], thresh, hier_thresh, nms, nms_kind=nms_kind, names=[os.fspath(image_path)]
    )
    return to_tuples(raw[0], meta)


def classify(
    net: Network, meta: Metadata, image: str | os.PathLike[str] | np.ndarray, *, rgb: bool = False
) -> list[tuple[str, float]]:
    """Class scores of a classification network, ``[(name, prob)]`` sorted descending."""
    img = from_array(image, rgb=rgb) if isinstance(image, np.ndarray) else load_image(image)
    check_image_input(net, img.w, img.h)
    n = min(net.outputs, len(meta.names))
    scores = np.empty(n, np.float32)
    ffi, lib = net.backend.ffi, net.backend.lib
    cimg = img.cdata(ffi)
    with net.locked() as ptr:
        rc = lib.pydn_classify(ptr, cimg, ffi.from_buffer("float[]", scores), n)
    net.backend.check(rc, "classification failed")
    res = [(meta.names[i], float(scores[i])) for i in range(n)]
    res.sort(key=lambda r: -r[1])
    return res
