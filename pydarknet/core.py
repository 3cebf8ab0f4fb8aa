"""The detection core under the public functions: option checks, the C calls, and the
results copied out of C.

The pipeline is ``./darknet detect``'s (examples/detector.c test_detector):
letterbox_image -> network forward -> get_network_boxes(relative) -> do_nms_sort, run in
C (csrc/pydn_detect.c); for a network of AlexeyAB's dialect it is that fork's
``detector test``: resize_image (stretch) unless [net] letter_box=1, its box decoding and
its last [yolo] layer's NMS kind.  :func:`raw_detect_arrays` hands the C side 8-bit arrays as they
are: the conversion to Darknet's float layout and the letterbox happen there, for every
image of a batch in one forward pass (set_batch_network).  :func:`raw_detect` runs an
image already converted to Darknet's layout (:func:`pydarknet.images.from_array`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

import numpy as np

from ._lib import FFI, CData, set_deadline
from .errors import DarknetValueError, ImageError
from .images import DarknetImage, fill_u8image, u8_view
from .network import Metadata, Network
from .results import RawDetections

__all__ = [
    "NMS_KINDS",
    "check_image_input",
    "check_meta",
    "check_nms_kind",
    "check_options",
    "classify_scores",
    "deadline_after",
    "last_forward_seconds",
    "raw_detect",
    "raw_detect_arrays",
]

NMS_KINDS = ("sort", "obj")
_timing = threading.local()


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


def check_image_input(net: Network, width: int, height: int) -> None:
    """Images reach Darknet as W x H x 3 floats: a network must read exactly that, and
    letterbox_image() must not shrink the image to 1 pixel (resize_image() divides by
    size - 1 and then reads out of bounds).  A network of AlexeyAB's dialect without
    [net] letter_box=1 stretches every image to its input size instead: any size works."""
    shape = net.shape
    w, h, c = shape.width, shape.height, shape.channels
    if not (w > 1 and h > 1 and c == 3 and shape.inputs == w * h * c):
        raise DarknetValueError(
            f"network {net.cfg!r} reads {shape.inputs} values ({w}x{h}x{c}), "
            "not a W x H x 3 image: it cannot run on images"
        )
    if shape.dialect == "alexeyab":
        if not shape.letter_box:
            return  # resize_image() to w x h
        # the fork's letterbox_image() compares the scales as floats
        narrow = np.float32(w) / np.float32(width) < np.float32(h) / np.float32(height)
    else:
        narrow = w * height < h * width  # src/image.c letterbox_image()
    if narrow:
        new_w, new_h = w, height * w // width
    else:
        new_w, new_h = width * h // height, h
    if new_w < 2 or new_h < 2:
        raise ImageError(
            f"a {width}x{height} image would shrink to {new_w}x{new_h} pixels in the "
            f"network's {w}x{h} input: too thin to detect anything"
        )


def check_nms_kind(net: Network, nms_kind: str) -> None:
    """A network of AlexeyAB's dialect suppresses with its last [yolo] layer's nms_kind."""
    if nms_kind != "sort" and net.dialect == "alexeyab":
        raise DarknetValueError(
            f"nms_kind={nms_kind!r} is pjreddie's Darknet's; {net.cfg!r} runs AlexeyAB's "
            "darknet, whose [yolo] nms_kind= (and beta_nms=) choose its suppression"
        )


def deadline_after(timeout: float | None) -> float | None:
    """The :func:`time.monotonic` time ``timeout`` seconds from now (None: no deadline);
    a C call past it stops between layers and raises DarknetTimeoutError."""
    if timeout is None:
        return None
    try:
        t = float(timeout)
    except (TypeError, ValueError):
        raise DarknetValueError(f"timeout must be a number of seconds, got {timeout!r}") from None
    if not (math.isfinite(t) and t > 0):
        raise DarknetValueError(f"timeout must be positive and finite, got {timeout!r}")
    return time.monotonic() + t


def check_meta(net: Network, meta: Metadata) -> None:
    if len(meta.names) < net.classes:
        raise DarknetValueError(
            f"the network has {net.classes} classes but the metadata names only {len(meta.names)}"
        )


def unpack_dets(out: CData, width: int, height: int, thresh: float, ffi: FFI) -> RawDetections:
    """A filled ``pydn_dets`` (of the library whose ``ffi`` is given) copied into NumPy
    (boxes scaled to pixels of a ``width`` x ``height`` image); the caller frees ``out``."""
    n, classes = out.n, out.classes
    boxes = np.frombuffer(ffi.buffer(out.boxes, 4 * 4 * n), np.float32).reshape(n, 4)
    probs = np.frombuffer(ffi.buffer(out.probs, 4 * classes * n), np.float32)
    objectness = np.frombuffer(ffi.buffer(out.objectness, 4 * n), np.float32)
    scale = np.array([width, height, width, height], np.float32)
    return RawDetections(boxes * scale, probs.reshape(n, classes).copy(), objectness.copy(), thresh)


def last_forward_seconds() -> float:
    """Seconds the last detection call of this thread spent in the network's forward
    pass (the rest of its time is conversion, letterbox, box decoding, NMS and Python)."""
    return float(getattr(_timing, "forward", 0.0))


def raw_detect(
    net: Network,
    image: DarknetImage,
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    nms_kind: str = "sort",
    *,
    deadline: float | None = None,
) -> RawDetections:
    """Run the CLI's detection pipeline on a converted image; boxes in pixels.
    ``deadline``: see :func:`deadline_after`."""
    thresh, hier_thresh, nms = check_options(thresh, hier_thresh, nms, nms_kind)
    check_nms_kind(net, nms_kind)
    check_image_input(net, image.w, image.h)
    ffi, lib = net.backend.ffi, net.backend.lib
    out = ffi.new("pydn_dets *")
    cimg = image.cdata(ffi)
    seconds = ffi.new("double *")
    with net.locked() as ptr:
        set_deadline(lib, deadline)
        rc = lib.pydn_detect(ptr, cimg, thresh, hier_thresh, nms, nms_kind == "obj", out, seconds)
    _timing.forward = seconds[0]
    try:
        net.backend.check(rc, "detection failed")
        return unpack_dets(out, image.w, image.h, thresh, ffi)
    finally:
        lib.pydn_free_dets(out)


def raw_detect_arrays(
    net: Network,
    images: Sequence[np.ndarray] | np.ndarray,
    thresh: float = 0.5,
    hier_thresh: float = 0.5,
    nms: float = 0.45,
    *,
    rgb: bool = False,
    nms_kind: str = "sort",
    names: Sequence[str] | None = None,
    deadline: float | None = None,
) -> list[RawDetections]:
    """Darknet's boxes for each array (HxWx3 BGR, or RGB with ``rgb=True``; gray and
    4-channel too), from one forward pass in the batch dimension; boxes in pixels.
    ``names`` name the images in error messages (default ``image`` / ``images[i]``);
    ``deadline``: see :func:`deadline_after`."""
    thresh, hier_thresh, nms = check_options(thresh, hier_thresh, nms, nms_kind)
    check_nms_kind(net, nms_kind)
    if isinstance(images, np.ndarray) and images.ndim < 4:
        raise DarknetValueError("images must be a sequence of arrays (or an NxHxWxC array)")
    n = len(images)
    if n == 0:
        return []
    if names is None:
        names = ["image"] if n == 1 else [f"images[{i}]" for i in range(n)]
    keep = [u8_view(im, names[i]) for i, im in enumerate(images)]
    for k in keep:
        check_image_input(net, k.shape[1], k.shape[0])
    gray = [k.shape[2] == 1 for k in keep]
    if any(gray) and not all(gray):  # one channel order per call: replicate gray here
        keep = [np.repeat(k, 3, axis=2) if g else k for k, g in zip(keep, gray, strict=True)]
    ffi, lib = net.backend.ffi, net.backend.lib
    descs = ffi.new("pydn_u8image[]", n)
    orders = [fill_u8image(k, descs[i], rgb) for i, k in enumerate(keep)]  # all alike
    outs = ffi.new("pydn_dets[]", n)
    seconds = ffi.new("double *")
    with net.locked() as ptr:
        set_deadline(lib, deadline)
        rc = lib.pydn_detect_u8(
            ptr, descs, n, orders[0], thresh, hier_thresh, nms, nms_kind == "obj", outs, seconds
        )
    _timing.forward = seconds[0]
    try:
        net.backend.check(rc, "detection failed")
        return [
            unpack_dets(outs[i], keep[i].shape[1], keep[i].shape[0], thresh, ffi) for i in range(n)
        ]
    finally:
        for i in range(n):
            lib.pydn_free_dets(ffi.addressof(outs, i))


def classify_scores(net: Network, image: DarknetImage, n: int) -> np.ndarray:
    """The first ``n`` outputs of a classification network for a converted image."""
    check_image_input(net, image.w, image.h)
    scores = np.empty(n, np.float32)
    ffi, lib = net.backend.ffi, net.backend.lib
    cimg = image.cdata(ffi)
    with net.locked() as ptr:
        rc = lib.pydn_classify(ptr, cimg, ffi.from_buffer("float[]", scores), n)
    net.backend.check(rc, "classification failed")
    return scores
