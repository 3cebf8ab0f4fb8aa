"""Detect objects in a video file or camera and write an annotated video.

    python examples/detect_video.py traffic.mp4 --out traffic-detected.mp4
    python examples/detect_video.py 0 --max-frames 100        # camera 0

``pydarknet.detect_video`` yields (index, frame, detections) while the next frames are
decoded and inferred in background threads; drawing and writing here overlap with them.
(``pydarknet video IN --out OUT`` is the ready-made command.)
"""

from __future__ import annotations

import argparse
import time

import cv2
from tqdm import tqdm

import pydarknet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="video file or camera index")
    p.add_argument("--out", default="detected.mp4")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--model", default="yolov3-tiny")
    args = p.parse_args()

    source = int(args.source) if args.source.isdigit() else args.source
    cap = pydarknet.video.open_video(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if args.max_frames is not None:
        total = min(total or args.max_frames, args.max_frames)
    writer = None
    seen: dict[str, int] = {}
    start = time.perf_counter()
    with pydarknet.Detector(args.model) as det, tqdm(total=total, unit="frame") as bar:
        for _index, frame, dets in pydarknet.detect_video(det, cap, max_frames=args.max_frames):
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            writer.write(det.draw(frame, dets))
            for d in dets:
                seen[d.label] = seen.get(d.label, 0) + 1
            bar.update()
    if writer is not None:
        writer.release()
    frames = bar.n
    print(f"{frames} frames, {frames / (time.perf_counter() - start):.2f} FPS; wrote {args.out}")
    print("detections per class: " + ", ".join(f"{k} {n}" for k, n in sorted(seen.items())))


if __name__ == "__main__":
    main()
