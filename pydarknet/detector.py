"""The high-level :class:`Detector`: a model, its class names and its options in one
object (its results are the value types of :mod:`pydarknet.results`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .core import deadline_after, raw_detect, raw_detect_arrays
from .device import Device
from .draw import draw_detections
from .errors import DarknetValueError
from .images import DarknetImage, read_image
from .models import DEFAULT_MODEL, get_model, weights_path
from .network import Metadata, Network, load_meta, load_net
from .results import Box, Detection, RawDetections, to_detections

__all__ = ["Box", "Detection", "Detector"]


class Detector:
    """A model ready to detect: ``Detector("yolov3-tiny")`` or
    ``Detector(cfg=..., weights=..., names=...)`` (names: a .names or .data file).

    ``device``: None (a GPU when this build and machine have one), "cpu", "cuda:N" or N.
    ``dialect``: "auto", "pjreddie" or "alexeyab" (models trained with AlexeyAB's or
    hank-ai's darknet; see :class:`pydarknet.Network`); ``.dialect`` says which runs.
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
        dialect: str = "auto",
    ) -> None:
        self._spec = {
            "model": model, "cfg": cfg, "weights": weights, "names": names,
            "thresh": thresh, "hier_thresh": hier_thresh, "nms": nms, "device": device,
            "dialect": dialect,
        }  # fmt: skip
        if cfg is None:
            zoo = get_model(model or DEFAULT_MODEL)
            cfg, names = zoo.cfg_path, names or zoo.names_path
            weights = weights or weights_path(zoo.name)
        elif names is None:
            raise DarknetValueError("Detector(cfg=...) needs names= (a .names or .data file)")
        self.thresh, self.hier_thresh, self.nms = thresh, hier_thresh, nms
        self.net: Network = load_net(cfg, weights, device=device, dialect=dialect)
        self.meta: Metadata = load_meta(names)

    @property
    def dialect(self) -> str:
        """Whose darknet's semantics the network runs: "pjreddie" or "alexeyab"."""
        return self.net.dialect

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, by class index."""
        return self.meta.names

    def raw(self, image: str | os.PathLike[str] | np.ndarray | DarknetImage, *,
            rgb: bool = False, thresh: float | None = None,
            timeout: float | None = None) -> RawDetections:  # fmt: skip
        """Darknet's boxes in Darknet's order (see :class:`pydarknet.api.RawDetections`).

        ``image`` may also be converted beforehand (:func:`pydarknet.images.from_array`),
        e.g. in another thread, so that this call is all inference.  ``timeout``: as
        for :meth:`detect`."""
        t = self.thresh if thresh is None else thresh
        deadline = deadline_after(timeout)
        if isinstance(image, DarknetImage):
            return raw_detect(self.net, image, t, self.hier_thresh, self.nms, deadline=deadline)
        # 8-bit pixels: conversion and letterbox happen in C (pydn_detect_u8)
        if isinstance(image, np.ndarray):
            array, name = image, "image"
        else:
            array, name = read_image(image), os.fsdecode(image)
        return raw_detect_arrays(
            self.net, [array], t, self.hier_thresh, self.nms, rgb=rgb, names=[name],
            deadline=deadline,
        )[0]  # fmt: skip

    def detect(
        self,
        image: str | os.PathLike[str] | np.ndarray | DarknetImage,
        *,
        rgb: bool = False,
        thresh: float | None = None,
        darknet_order: bool = False,
        timeout: float | None = None,
    ) -> list[Detection]:
        """Detections in an image file or a BGR (``rgb=True``: RGB) uint8 array.

        After ``timeout`` seconds the network stops (between layers) and
        ``pydarknet.TimeoutError`` is raised; Ctrl-C raises KeyboardInterrupt likewise.
        Either way the detector stays usable."""
        raw = self.raw(image, rgb=rgb, thresh=thresh, timeout=timeout)
        return to_detections(raw, self.meta.names, darknet_order=darknet_order)

    __call__ = detect

    def draw(
        self, image: np.ndarray, detections: list[Detection], *, confidence: bool = True
    ) -> np.ndarray:
        """A copy of a BGR image with the detections drawn as Darknet draws them, each
        label with its confidence (``dog 56%``) unless ``confidence=False``."""
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
