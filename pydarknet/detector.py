"""The high-level :class:`Detector` and its small typed results."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .api import RawDetections, raw_detect
from .batch import raw_detect_arrays
from .device import Device
from .images import DarknetImage, read_image
from .models import DEFAULT_MODEL, get_model, weights_path
from .network import Metadata, Network, load_meta, load_net

__all__ = ["Box", "Detection", "Detector"]


@dataclass(frozen=True)
class Box:
    """A box by its centre and size, in pixels of the input image."""

    x: float
    y: float
    w: float
    h: float

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        """(centre x, centre y, width, height)."""
        return (self.x, self.y, self.w, self.h)

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom)."""
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)

    @property
    def tlwh(self) -> tuple[float, float, float, float]:
        """(left, top, width, height), as OpenCV and COCO use."""
        return (self.x - self.w / 2, self.y - self.h / 2, self.w, self.h)


@dataclass(frozen=True)
class Detection:
    """One detected object: class name and index, confidence in (thresh, 1], box."""

    label: str
    class_id: int
    confidence: float
    box: Box

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: label, class_id, confidence, box {x, y, w, h}."""
        return {
            "label": self.label,
            "class_id": self.class_id,
            "confidence": self.confidence,
            "box": dict(zip(("x", "y", "w", "h"), self.box.xywh, strict=True)),
        }


def to_detections(raw: RawDetections, meta: Metadata, *, darknet_order: bool = False):  # type: ignore[no-untyped-def]
    """Detections of every (box, class) above the threshold; by confidence, or in the
    order ``./darknet detect`` prints them."""
    rows, cols = raw.pairs()
    dets = [
        Detection(meta.names[j], j, float(raw.probs[i, j]), Box(*map(float, raw.boxes[i])))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    if not darknet_order:
        dets.sort(key=lambda d: -d.confidence)
    return dets


class Detector:
    """A model ready to detect: ``Detector("yolov3-tiny")`` or
    ``Detector(cfg=..., weights=..., names=...)`` (names: a .names or .data file).

    ``device``: None (a GPU when this build and machine have one), "cpu", "cuda:N" or N.
    Pickles by its model spec (not its memory), so it can be sent to worker processes.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        cfg: str | os.PathLike[str] | None = None,
        weights: str | os.PathLike[str] | None = None,
        names: str | os.PathLike[str] | None = None,
        thresh: float = 0.5,
        hier_thresh: float = 0.5,
        nms: float = 0.45,
        device: Device = None,
    ) -> None:
        self._spec = {
            "model": model, "cfg": cfg, "weights": weights, "names": names,
            "thresh": thresh, "hier_thresh": hier_thresh, "nms": nms, "device": device,
        }  # fmt: skip
        if cfg is None:
            zoo = get_model(model or DEFAULT_MODEL)
            cfg, names = zoo.cfg_path, names or zoo.names_path
            weights = weights or weights_path(zoo.name)
        elif names is None:
            raise ValueError("Detector(cfg=...) needs names= (a .names or .data file)")
        self.thresh, self.hier_thresh, self.nms = thresh, hier_thresh, nms
        self.net: Network = load_net(cfg, weights, device=device)
        self.meta: Metadata = load_meta(names)  # type: ignore[arg-type]

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, by class index."""
        return self.meta.names

    def raw(self, image: str | os.PathLike[str] | np.ndarray | DarknetImage, *,
            rgb: bool = False, thresh: float | None = None) -> RawDetections:  # fmt: skip
        """Darknet's boxes in Darknet's order (see :class:`pydarknet.api.RawDetections`).

        ``image`` may also be converted beforehand (:func:`pydarknet.images.from_array`),
        e.g. in another thread, so that this call is all inference."""
        t = self.thresh if thresh is None else thresh
        if isinstance(image, DarknetImage):
            return raw_detect(self.net, image, t, self.hier_thresh, self.nms)
        # 8-bit pixels: conversion and letterbox happen in C (pydn_detect_u8)
        if isinstance(image, np.ndarray):
            array, name = image, "image"
        else:
            array, name = read_image(image), os.fsdecode(image)
        return raw_detect_arrays(
            self.net, [array], t, self.hier_thresh, self.nms, rgb=rgb, names=[name]
        )[0]

    def detect(
        self,
        image: str | os.PathLike[str] | np.ndarray | DarknetImage,
        *,
        rgb: bool = False,
        thresh: float | None = None,
        darknet_order: bool = False,
    ) -> list[Detection]:
        """Detections in an image file or a BGR (``rgb=True``: RGB) uint8 array."""
        raw = self.raw(image, rgb=rgb, thresh=thresh)
        return to_detections(raw, self.meta, darknet_order=darknet_order)

    __call__ = detect

    def draw(
        self, image: np.ndarray, detections: list[Detection], *, confidence: bool = True
    ) -> np.ndarray:
        """A copy of a BGR image with the detections drawn as Darknet draws them, each
        label with its confidence (``dog 56%``) unless ``confidence=False``."""
        from .draw import draw_detections

        return draw_detections(image, detections, len(self.names), confidence=confidence)

    def close(self) -> None:
        self.net.close()

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._spec,))

    def __repr__(self) -> str:
        return f"<pydarknet.Detector {self._spec['model'] or self.net.cfg!r}>"


def _rebuild(spec: dict[str, Any]) -> Detector:
    spec = dict(spec)
    return Detector(spec.pop("model"), **spec)
