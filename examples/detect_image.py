"""Detect objects in one image, print them and save the annotated image.

python examples/detect_image.py darknet/data/dog.jpg [--out dog-detected.jpg]
"""

from __future__ import annotations

import argparse

import cv2

import pydarknet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("image")
    p.add_argument("--out", default="detected.jpg")
    p.add_argument("--model", default="yolov3-tiny")
    p.add_argument("--thresh", type=float, default=0.5)
    args = p.parse_args()

    with pydarknet.Detector(args.model, thresh=args.thresh) as det:
        image = cv2.imread(args.image)  # BGR uint8, as OpenCV gives it
        detections = det.detect(image)  # most confident first
        for d in detections:
            x0, y0, x1, y1 = d.box.xyxy
            print(f"{d.label:12s} {d.confidence:.2f}  ({x0:.0f}, {y0:.0f}) - ({x1:.0f}, {y1:.0f})")
        cv2.imwrite(args.out, det.draw(image, detections))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
