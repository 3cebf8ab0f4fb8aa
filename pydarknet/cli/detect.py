"""``pydarknet detect INPUT...``: one image as ``./darknet detect`` shows it, or many
images, folders and globs with a progress bar, annotated images and a results file
(see :mod:`pydarknet.cli.main`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from ..detector import Detector
from ..draw import draw_detections
from ..folder import ImageResult, ResultsWriter, detect_files, find_images
from .options import add_model_options, make_detector


def add_parser(sub: Any) -> None:
    """Register ``detect`` on the main parser's subparsers."""
    d = sub.add_parser("detect", help="detect objects in images, like ./darknet detect")
    d.add_argument("images", nargs="+", metavar="INPUT", help="image files, folders or globs")
    add_model_options(d)
    d.add_argument("--out", help="annotated image (one image file) or folder (otherwise); "
                   "default predictions.jpg / predictions/")  # fmt: skip
    d.add_argument("--results", help="results file for many images (.jsonl or .csv); "
                   "default OUT/results.jsonl")  # fmt: skip
    d.add_argument("--no-save", action="store_true", help="do not write annotated images")
    d.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    d.add_argument("--quiet", "-q", action="store_true",
                   help="many images: print nothing per image")  # fmt: skip
    d.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="stop an image's detection after S seconds (an error for it)")  # fmt: skip


def _darknet_lines(res: ImageResult, name: str | None = None) -> list[str]:
    """What ``./darknet detect`` prints for an image (named as given, or its path)."""
    lines = [f"{name or res.path}: Predicted in {res.seconds:f} seconds."]
    return lines + [f"{d.label}: {d.confidence * 100:.0f}%" for d in res.detections]


def _annotated(det: Detector, res: ImageResult, args: argparse.Namespace) -> np.ndarray:
    """The image of a result without error, with its detections drawn."""
    assert res.image is not None  # only a result with an error has none
    return draw_detections(res.image, res.detections, len(det.names),
                           confidence=not args.no_confidence)  # fmt: skip


def _json_line(res: ImageResult) -> str:
    return json.dumps(res.to_dict())


class _Outputs:
    """Where each annotated image goes: ``folder/<stem>.jpg``; a stem seen before
    gets ``_2``, ``_3``... so that images of different folders never overwrite."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.used = folder, set[str]()

    def path(self, image: Path) -> Path:
        stem, n = image.stem, 1
        while stem in self.used:
            n += 1
            stem = f"{image.stem}_{n}"
        self.used.add(stem)
        return self.folder / f"{stem}.jpg"


def cmd_detect(args: argparse.Namespace) -> int:
    paths = find_images(args.images)
    single = len(args.images) == 1 and len(paths) == 1 and Path(args.images[0]).is_file()
    with make_detector(args) as det:
        if single:
            return _detect_one(det, args, args.images[0])
        return _detect_many(det, args, paths)


def _detect_one(det: Detector, args: argparse.Namespace, image: str) -> int:
    res = next(detect_files(det, [image], darknet_order=True, timeout=args.timeout))
    if res.error is not None:
        raise res.error
    print(_json_line(res) if args.json else "\n".join(_darknet_lines(res, image)))
    if not args.no_save:
        cv2.imwrite(args.out or "predictions.jpg", _annotated(det, res, args))
    return 0


def _detect_many(det: Detector, args: argparse.Namespace, paths: list[Path]) -> int:
    folder = Path(args.out or "predictions")
    outputs = _Outputs(folder)
    if not args.no_save:
        folder.mkdir(parents=True, exist_ok=True)
    failed = 0
    bar = tqdm(paths, unit="img", disable=args.no_progress, dynamic_ncols=True, file=sys.stderr)
    with ResultsWriter(args.results or folder / "results.jsonl") as results:
        for res in detect_files(det, paths, darknet_order=True, timeout=args.timeout):
            bar.update()
            results.write(res)
            if res.error is not None:
                failed += 1
                tqdm.write(f"pydarknet: error: {res.error}", file=sys.stderr)
                continue
            if not args.quiet:
                tqdm.write(_json_line(res) if args.json else "\n".join(_darknet_lines(res)))
            if not args.no_save:
                cv2.imwrite(str(outputs.path(res.path)), _annotated(det, res, args))
        bar.close()
    print(f"{len(paths) - failed} images, {failed} failed; results in {results.path}",
          file=sys.stderr)  # fmt: skip
    return 1 if failed else 0
