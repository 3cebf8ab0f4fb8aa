"""Request bodies to images, refusing what should not be decoded.

* The body is read up to the upload limit and no further: a declared ``Content-Length``
  over it is refused before reading anything, a streamed body as soon as it passes it.
* The image's width and height are read from its header (Pillow reads headers without
  decoding) and an image over the pixel limit is refused before OpenCV decodes it.
* A JPEG without its end marker or a PNG without IEND is refused as truncated, as
  :func:`pydarknet.detect` refuses such files (OpenCV would decode a partly gray image).
* Decoding is OpenCV's ``imdecode(IMREAD_COLOR)``: the pixels ``imread`` gives for the
  same file, hence the same detections as ``pydarknet.detect`` on it.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

__all__ = ["InputError", "decode_image", "read_image_bytes"]

# Pillow refuses to open images over 2 * MAX_IMAGE_PIXELS: limits above that cannot be read.
PILLOW_LIMIT = 2 * (Image.MAX_IMAGE_PIXELS or 0) or None


class InputError(Exception):
    """A request the service refuses: answered with ``status`` and ``message``."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.close = close  # the body was left unread: close the connection after answering


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InputError(400, f"invalid Content-Length {declared!r}")
        if int(declared) > limit:
            raise InputError(413, f"the body is {declared} bytes, over the upload limit "
                             f"of {limit} bytes", close=True)  # fmt: skip
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(413, f"the body is over the upload limit of {limit} bytes", close=True)
        chunks.append(chunk)
    return b"".join(chunks)


async def _form_image(request: Request, body: bytes) -> bytes:
    """The ``image`` file field of a multipart body already read into memory."""
    sent = False

    async def replay() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=4, max_fields=32)
    except HTTPException as exc:
        raise InputError(400, f"invalid multipart form: {exc.detail}") from None
    try:
        item = form.get("image")
        if not isinstance(item, UploadFile):
            raise InputError(400, "the multipart form has no file field named 'image'")
        return await item.read()
    finally:
        await form.close()


async def read_image_bytes(request: Request, limit: int) -> bytes:
    """The image's bytes: the raw body, or the multipart form field ``image``."""
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith("application/x-www-form-urlencoded"):
        raise InputError(415, "send the image as the raw body (Content-Type: image/...) "
                         "or as a multipart/form-data field named 'image'")  # fmt: skip
    body = await _read_limited(request, limit)
    data = await _form_image(request, body) if ctype.startswith("multipart/form-data") else body
    if not data:
        raise InputError(400, "empty image: send the image's bytes as the body (Content-Type: "
                         "image/...) or a multipart field named 'image'")  # fmt: skip
    return data


def header_size(data: bytes) -> tuple[int, int, str]:
    """(width, height, format) from the image header, without decoding the pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.size[0], im.size[1], str(im.format)
    except Image.DecompressionBombError as exc:
        raise InputError(413, f"image too large: {exc}") from None
    except Exception:  # UnidentifiedImageError, or a header Pillow's parser chokes on
        raise InputError(415, "not an image (or not a format the service reads: "
                         "JPEG, PNG, BMP, TIFF, WebP, PPM ...)") from None  # fmt: skip


def truncated(data: bytes) -> str | None:
    """Why the bytes cannot be a whole image, where that shows cheaply."""
    tail = data[-4096:]
    if data.startswith(b"\xff\xd8") and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if data.startswith(b"\x89PNG") and b"IEND" not in tail:
        return "truncated PNG (no IEND chunk)"
    return None


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """BGR uint8 pixels of an encoded image, checked first (run it off the event loop)."""
    width, height, fmt = header_size(data)
    if width * height > max_pixels:
        raise InputError(413, f"a {width}x{height} image has {width * height} pixels, over "
                         f"the limit of {max_pixels}")  # fmt: skip
    problem = truncated(data)
    if problem:
        raise InputError(400, f"cannot decode the image: {problem}")
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None or bgr.size == 0:
        raise InputError(400, f"cannot decode the {fmt} image (corrupt, truncated or a "
                         "variant OpenCV does not read)")  # fmt: skip
    return bgr
