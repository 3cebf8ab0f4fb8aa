"""Detect objects with a model trained in AlexeyAB's or hank-ai's darknet (YOLOv4, YOLOv7,
their tiny and scaled versions): the fork's cfg and weights, as that fork's
``darknet detector test`` computes them.

python examples/detect_fork.py IMAGE... --cfg yolov4-tiny.cfg --weights yolov4-tiny.weights \
    --names coco.names [--thresh 0.25] [--out detected/]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

import pydarknet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", nargs="+")
    p.add_argument("--cfg", required=True, help="the fork's .cfg (e.g. yolov4-tiny.cfg)")
    p.add_argument("--weights", required=True, help="weights written by the fork")
    p.add_argument("--names", required=True, help=".names or .data file")
    p.add_argument("--thresh", type=float, default=0.25, help="the fork's default: 0.25")
    p.add_argument("--dialect", default="auto", choices=["auto", "alexeyab", "pjreddie"],
                   help="auto: the fork's where the cfg uses anything only the fork has; "
                   "alexeyab for a plain cfg trained in the fork (it stretches)")  # fmt: skip
    p.add_argument("--out", default="detected", help="folder for the annotated images")
    args = p.parse_args()

    det = pydarknet.Detector(cfg=args.cfg, weights=args.weights, names=args.names,
                             thresh=args.thresh, dialect=args.dialect)  # fmt: skip
    with det:
        stretched = det.dialect == "alexeyab" and not det.net.shape.letter_box
        sizing = "stretched" if stretched else "letterboxed"
        print(f"{args.cfg}: {det.dialect}'s darknet, {det.net.width}x{det.net.height} "
              f"input, images {sizing}")  # fmt: skip
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for path in args.images:
            image = cv2.imread(path)  # BGR uint8
            detections = det.detect(image)  # most confident first
            for d in detections:
                x, y, w, h = d.box.xywh
                print(f"{path}: {d.label} {d.confidence:.4f} {x:.1f} {y:.1f} {w:.1f} {h:.1f}")
            cv2.imwrite(str(out / Path(path).name), det.draw(image, detections))


if __name__ == "__main__":
    main()
