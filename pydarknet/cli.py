"""The ``pydarknet`` command line.

    pydarknet detect IMAGE... [--model NAME | --cfg C --weights W --data D]
                              [--thresh T] [--out FILE] [--json] [--verbose]
    pydarknet download NAME
    pydarknet models

``detect`` prints what ``./darknet detect`` prints (``name: NN%`` lines, in Darknet's
order and rounding) and writes the annotated image (``predictions.jpg`` by default).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2

from . import _lib
from .detector import Detector, to_detections
from .draw import draw_detections
from .errors import DarknetError
from .images import read_image
from .models import DEFAULT_MODEL, MODELS, download


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pydarknet", description=__doc__.split("\n\n")[0])
    p.add_argument("--verbose", "-v", action="store_true", help="show Darknet's own output")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="detect objects in images, like ./darknet detect")
    d.add_argument("images", nargs="+", help="image files")
    d.add_argument("--model", default=None, help=f"zoo model (default {DEFAULT_MODEL})")
    d.add_argument("--cfg", help="network .cfg (instead of --model)")
    d.add_argument("--weights", help="network .weights (with --cfg)")
    d.add_argument("--data", help=".data or .names file (with --cfg)")
    d.add_argument("--thresh", type=float, default=0.5)
    d.add_argument("--hier-thresh", type=float, default=0.5)
    d.add_argument("--nms", type=float, default=0.45)
    d.add_argument("--out", help="annotated image (one input) or folder (several); "
                   "default predictions.jpg / predictions/")  # fmt: skip
    d.add_argument("--no-save", action="store_true", help="do not write annotated images")
    d.add_argument("--json", action="store_true", help="print JSON lines instead of text")

    dl = sub.add_parser("download", help="download a zoo model's weights into the cache")
    dl.add_argument("name", choices=sorted(MODELS))
    dl.add_argument("--force", action="store_true", help="download again")

    sub.add_parser("models", help="list the zoo models")
    return p


def _detector(args: argparse.Namespace) -> Detector:
    if args.cfg:
        if not (args.weights and args.data):
            raise SystemExit("pydarknet: --cfg needs --weights and --data")
        return Detector(cfg=args.cfg, weights=args.weights, names=args.data, thresh=args.thresh,
                        hier_thresh=args.hier_thresh, nms=args.nms)  # fmt: skip
    return Detector(args.model or DEFAULT_MODEL, thresh=args.thresh,
                    hier_thresh=args.hier_thresh, nms=args.nms)  # fmt: skip


def _out_path(args: argparse.Namespace, image: str) -> Path | None:
    if args.no_save:
        return None
    if len(args.images) == 1:
        return Path(args.out or "predictions.jpg")
    folder = Path(args.out or "predictions")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (Path(image).stem + ".jpg")


def cmd_detect(args: argparse.Namespace) -> int:
    with _detector(args) as det:
        for image in args.images:
            bgr = read_image(image)
            start = time.perf_counter()
            raw = det.raw(bgr)
            elapsed = time.perf_counter() - start
            dets = to_detections(raw, det.meta, darknet_order=True)
            if args.json:
                record = {"image": image, "seconds": elapsed,
                          "detections": [d.to_dict() for d in dets]}  # fmt: skip
                print(json.dumps(record))
            else:
                print(f"{image}: Predicted in {elapsed:f} seconds.")
                for d in dets:
                    print(f"{d.label}: {d.confidence * 100:.0f}%")
            out = _out_path(args, image)
            if out is not None:
                cv2.imwrite(str(out), draw_detections(bgr, dets, len(det.names)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        _lib.set_verbose(True)
    try:
        if args.command == "detect":
            return cmd_detect(args)
        if args.command == "download":
            print(download(args.name, force=args.force))
            return 0
        for name, m in MODELS.items():
            print(f"{name:20s} {m.task:9s} {m.url}")
        return 0
    except DarknetError as exc:
        print(f"pydarknet: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
