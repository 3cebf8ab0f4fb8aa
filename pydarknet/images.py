"""Images in and out of Darknet's layout.

Darknet wants planar (CHW) RGB float32 in [0, 1].  The original program decodes files
with OpenCV's ``imread(IMREAD_COLOR)`` and divides by 255 in double precision; doing the
same here, vectorized through a 256-entry lookup table, gives bit-identical input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from ._lib import ffi
from .errors import ImageError
from .network import existing_file

__all__ = ["DarknetImage", "from_array", "load_image", "read_image"]

# src/image_opencv.cpp mat_to_image(): data = pixel/255. (double), stored as float.
_LUT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
_BGR = (2, 1, 0)
_RGB = (0, 1, 2)
MAX_SIDE = 1 << 16  # with cfgcheck.MAX_SIDE, keeps letterbox_image()'s int products in range


@dataclass
class DarknetImage:
    """A planar float32 RGB image kept alive while C reads it through ``cdata``."""

    planes: np.ndarray  # (3, h, w) float32, C-contiguous
    _keepalive: object = None

    @property
    def h(self) -> int:
        return int(self.planes.shape[1])

    @property
    def w(self) -> int:
        return int(self.planes.shape[2])

    def cdata(self):  # type: ignore[no-untyped-def]
        """A by-value ``image`` struct pointing at ``planes``; self keeps it valid."""
        c, h, w = self.planes.shape
        buf = ffi.from_buffer("float[]", self.planes)
        ptr = ffi.new("image *", {"w": w, "h": h, "c": c, "data": buf})
        self._keepalive = (buf, ptr)
        return ptr[0]


def _as_hwc(array: object, name: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise ImageError(f"{name}: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype != np.uint8:
        raise ImageError(f"{name}: expected dtype uint8, got {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ImageError(f"{name}: expected an HxW, HxWx3 or HxWx4 array, got shape {array.shape}")
    h, w, c = array.shape
    if h < 1 or w < 1:
        raise ImageError(f"{name}: empty image of shape {array.shape}")
    if max(h, w) > MAX_SIDE or 3 * h * w > 2**31 - 1:
        raise ImageError(f"{name}: a {w}x{h} image is too large for Darknet's int sizes")
    if c not in (1, 3, 4):
        raise ImageError(f"{name}: expected 1, 3 or 4 channels, got {c}")
    return array


def from_array(array: np.ndarray, rgb: bool = False, name: str = "image") -> DarknetImage:
    """Convert an HxWx3 BGR (or RGB with ``rgb=True``), HxW gray or HxWx4 BGRA/RGBA
    uint8 array, contiguous or not, to Darknet's layout."""
    hwc = _as_hwc(array, name)
    if hwc.shape[2] == 1:  # gray: imread(IMREAD_COLOR) replicates it to 3 channels
        order: tuple[int, ...] = (0, 0, 0)
    else:  # alpha is dropped, as imread(IMREAD_COLOR) does
        order = _RGB if rgb else _BGR
    planes = _LUT[hwc.transpose(2, 0, 1)[list(order)]]
    return DarknetImage(np.ascontiguousarray(planes))


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file the way the original program does: BGR uint8 HxWx3."""
    fspath = existing_file(path, "image")
    problem = incomplete(fspath)
    if problem:
        raise ImageError(f"cannot decode image {fspath!r}: {problem}")
    bgr = cv2.imread(fspath, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise ImageError(f"cannot decode image {fspath!r} (unreadable, truncated or not an image)")
    return bgr


def incomplete(path: str) -> str | None:
    """Why a file cannot be a whole image, where that shows cheaply: OpenCV decodes a
    truncated JPEG into a partly gray picture without an error."""
    with open(path, "rb") as f:
        head = f.read(8)
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - 4096))
        tail = f.read()
    if size == 0:
        return "the file is empty"
    if head.startswith(b"\xff\xd8") and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if head.startswith(b"\x89PNG") and b"IEND" not in tail:
        return "truncated PNG (no IEND chunk)"
    return None


def load_image(path: str | os.PathLike[str]) -> DarknetImage:
    """Read an image file into Darknet's layout (``load_image_color`` of the CLI)."""
    return from_array(read_image(path), name=os.fsdecode(path))
