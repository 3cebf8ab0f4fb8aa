"""Many images at once: folders and globs in, annotated images and a results file out.

>>> from pydarknet import Detector
>>> from pydarknet.folder import detect_files, find_images
>>> det = Detector("yolov3-tiny")
>>> for res in detect_files(det, find_images(["photos/", "more/*.png"])):
...     print(res.path, [d.label for d in res.detections])
"""

from __future__ import annotations

import csv
import glob
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from .detector import Detector
from .errors import DarknetError, DarknetFileNotFoundError, DarknetTimeoutError
from .images import DarknetImage, from_array, read_image
from .pipeline import pipelined
from .results import Detection, to_detections

__all__ = ["IMAGE_SUFFIXES", "ImageResult", "ResultsWriter", "detect_files", "find_images"]

#: What a folder or glob is searched for (case-insensitive), as OpenCV decodes them.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_GLOB_CHARS = frozenset("*?[")


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def find_images(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Image paths from files, folders (their images, sorted, not recursive) and globs
    (sorted; ``**`` recurses).  Files named outright are kept whatever their suffix;
    folders and globs give only files with an :data:`IMAGE_SUFFIXES` suffix.  A path
    that does not exist, or a folder or glob without images, is a
    :class:`~pydarknet.DarknetFileNotFoundError`."""
    found: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            images = sorted(p for p in path.iterdir() if _is_image(p))
            if not images:
                raise DarknetFileNotFoundError(f"no images in folder {text!r}")
            found.extend(images)
        elif _GLOB_CHARS & set(text):
            images = sorted(p for p in map(Path, glob.glob(text, recursive=True)) if _is_image(p))
            if not images:
                raise DarknetFileNotFoundError(f"no images match {text!r}")
            found.extend(images)
        else:
            raise DarknetFileNotFoundError(f"no such file or folder: {text!r}")
    return found


@dataclass
class ImageResult:
    """One image's outcome: its pixels and detections, or the error that stopped it."""

    path: Path
    image: np.ndarray | None
    detections: list[Detection] = field(default_factory=list)
    seconds: float = 0.0  # inference time
    error: DarknetError | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON Lines record: image, width, height, seconds, detections (or error)."""
        record: dict[str, Any] = {"image": str(self.path)}
        if self.error is not None:
            record["error"] = str(self.error)
            return record
        assert self.image is not None
        record["width"], record["height"] = int(self.image.shape[1]), int(self.image.shape[0])
        record["seconds"] = self.seconds
        record["detections"] = [d.to_dict() for d in self.detections]
        return record


def detect_files(
    detector: Detector,
    paths: Sequence[str | os.PathLike[str]],
    *,
    darknet_order: bool = False,
    depth: int = 2,
    timeout: float | None = None,
) -> Iterator[ImageResult]:
    """Detect objects in each image, in order, decoding the next images in a thread
    while the current one is in the network.  An image that cannot be read, or whose
    detection takes longer than ``timeout`` seconds (:class:`pydarknet.TimeoutError`),
    gives a result with ``error`` set instead of stopping the run."""

    Decoded = tuple[Path, np.ndarray | None, DarknetImage | DarknetError]

    def decode() -> Iterator[Decoded]:
        # decoding and converting to Darknet's layout here keeps the other thread on
        # inference alone
        for p in paths:
            try:
                image = read_image(p)
                converted: DarknetImage | DarknetError = from_array(image, name=os.fspath(p))
            except DarknetError as exc:
                yield Path(p), None, exc
                continue
            yield Path(p), image, converted

    def infer(item: Decoded) -> ImageResult:
        path, image, converted = item
        if isinstance(converted, DarknetError):
            return ImageResult(path, None, error=converted)
        start = time.perf_counter()
        try:
            raw = detector.raw(converted, timeout=timeout)
        except DarknetTimeoutError as exc:
            return ImageResult(path, None, error=exc)
        seconds = time.perf_counter() - start
        dets = to_detections(raw, detector.meta.names, darknet_order=darknet_order)
        return ImageResult(path, image, dets, seconds)

    with closing(pipelined(decode(), infer, depth=depth)) as items:
        for _item, result in items:
            yield result


_CSV_FIELDS = ("image", "label", "class_id", "confidence", "x", "y", "w", "h", "error")


class ResultsWriter:
    """Writes :class:`ImageResult` records to a ``.jsonl`` file (one JSON object per
    image) or a ``.csv`` file (one row per detection; an image without detections gets
    one row with empty detection fields, so every image appears)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.format = "csv" if self.path.suffix.lower() == ".csv" else "jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(self.path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file) if self.format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(_CSV_FIELDS)

    def write(self, result: ImageResult) -> None:
        if self._csv is None:
            self._file.write(json.dumps(result.to_dict()) + "\n")
            return
        image = str(result.path)
        if result.error is not None or not result.detections:
            error = "" if result.error is None else str(result.error)
            self._csv.writerow([image, "", "", "", "", "", "", "", error])
        for d in result.detections:
            self._csv.writerow([image, d.label, d.class_id, d.confidence, *d.box.xywh, ""])

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
