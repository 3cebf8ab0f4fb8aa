"""Detect objects in every image of a folder: annotated copies and a JSON Lines file.

    python examples/detect_folder.py darknet/data --out detected/

The same as ``pydarknet detect darknet/data --out detected/``, written out: images are
decoded in a background thread while the network works (``pydarknet.detect_files``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
from tqdm import tqdm

import pydarknet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="a folder of images, or a glob such as 'photos/*.jpg'")
    p.add_argument("--out", type=Path, default=Path("detected"))
    p.add_argument("--model", default="yolov3-tiny")
    args = p.parse_args()

    paths = pydarknet.find_images([args.folder])
    args.out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with (
        pydarknet.Detector(args.model) as det,
        open(args.out / "results.jsonl", "w", encoding="utf-8") as results,
    ):
        for res in tqdm(pydarknet.detect_files(det, paths), total=len(paths), unit="img"):
            results.write(json.dumps(res.to_dict()) + "\n")
            if res.error is not None:  # an unreadable file does not stop the run
                tqdm.write(f"skipped {res.path}: {res.error}")
                continue
            cv2.imwrite(str(args.out / f"{res.path.stem}.jpg"), det.draw(res.image, res.detections))
            for d in res.detections:
                counts[d.label] = counts.get(d.label, 0) + 1
    print(f"{len(paths)} images; found " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    print(f"results in {args.out / 'results.jsonl'}")


if __name__ == "__main__":
    main()
