"""Images in and out of Darknet's layout.

Darknet wants planar (CHW) RGB float32 in [0, 1].  The original program decodes files
with OpenCV's ``imread(IMREAD_COLOR)`` and divides by 255 in double precision; doing the
same (in C, csrc/pydn_u8image.c, through a 256-entry table) gives bit-identical input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from ._lib import FFI, CData, check, ffi, lib
from .errors import ImageError
from .network import existing_file

__all__ = ["DarknetImage", "fill_u8image", "from_array", "load_image", "read_image", "u8_view"]

# Darknet's planes R, G, B from the array's channels (BGR by default, as imread gives).
_BGR = ffi.new("int[3]", [2, 1, 0])
_RGB = ffi.new("int[3]", [0, 1, 2])
_GRAY = ffi.new("int[3]", [0, 0, 0])  # imread(IMREAD_COLOR) replicates gray to 3 channels
MAX_SIDE = 1 << 16  # with cfg.check.MAX_SIDE, keeps letterbox_image()'s int products in range


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

    def cdata(self, lib_ffi: FFI | None = None) -> CData:
        """A by-value ``image`` struct pointing at ``planes``; self keeps it valid.
        ``lib_ffi``: the ffi of the library that reads it (default pydarknet's)."""
        to = lib_ffi or ffi
        c, h, w = self.planes.shape
        buf = to.from_buffer("float[]", self.planes)
        ptr = to.new("image *", {"w": w, "h": h, "c": c, "data": buf})
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


def u8_view(array: object, name: str = "image") -> np.ndarray:
    """``array`` checked (uint8 HxW, HxWx3 or HxWx4) as HxWxC with byte-adjacent channels,
    the layout C reads through :func:`fill_u8image` (copied only when it is not)."""
    hwc = _as_hwc(array, name)
    if hwc.strides[2] != 1 or min(hwc.strides) < 0:
        hwc = np.ascontiguousarray(hwc)
    return hwc


def fill_u8image(hwc: np.ndarray, out: CData, rgb: bool = False) -> CData:
    """Describe a :func:`u8_view` array in the ``pydn_u8image`` ``out``; returns the plane
    order for C (alpha is dropped and gray replicated, as imread(IMREAD_COLOR) does).
    The array must outlive the C call."""
    h, w, c = hwc.shape
    out.data = ffi.cast("unsigned char *", hwc.__array_interface__["data"][0])
    out.h, out.w, out.channels = h, w, c
    out.row_stride, out.col_stride = hwc.strides[0], hwc.strides[1]
    return _GRAY if c == 1 else (_RGB if rgb else _BGR)


def from_array(array: np.ndarray, rgb: bool = False, name: str = "image") -> DarknetImage:
    """Convert an HxWx3 BGR (or RGB with ``rgb=True``), HxW gray or HxWx4 BGRA/RGBA
    uint8 array, contiguous or not, to Darknet's layout."""
    hwc = u8_view(array, name)
    desc = ffi.new("pydn_u8image *")
    order = fill_u8image(hwc, desc, rgb)
    planes = np.empty((3, hwc.shape[0], hwc.shape[1]), np.float32)
    check(lib.pydn_u8_to_planes(desc, order, ffi.from_buffer("float[]", planes)), name)
    return DarknetImage(planes)


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
