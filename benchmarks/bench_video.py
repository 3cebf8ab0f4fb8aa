"""Video throughput: pipelined (threads) vs. serial decode+infer+draw vs. inference only.

    python benchmarks/bench_video.py [--video IN.mp4] [--frames 20] [--size 1280x720]

Without --video it writes a test video from Darknet's data images (darknet/data, or
--images DIR).  Three runs over the same frames, each after one warm-up inference:

* inference only: frames decoded beforehand into memory; just ``Detector.detect``;
* serial: one loop that decodes a frame, detects, draws and writes it;
* pipelined: :func:`pydarknet.annotate_video`, where decoding, inference and
  drawing/writing run in three threads.

Pipelined FPS close to inference-only FPS means the pipeline is bound by inference.
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import pydarknet
from pydarknet.video import annotate_video, open_video, read_frames

REPO = Path(__file__).resolve().parent.parent


def make_video(path: Path, images_dir: Path | None, frames: int, size: tuple[int, int]) -> None:
    """``frames`` frames cycling through the images of ``images_dir`` (mp4v)."""
    folder = images_dir or REPO / "darknet" / "data"
    images = [cv2.imread(p) for p in sorted(glob.glob(str(folder / "*.jpg")))]
    if not images:
        raise SystemExit(f"no .jpg images in {folder} (pass --images DIR or --video FILE)")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, size)
    for i in range(frames):
        writer.write(cv2.resize(images[i % len(images)], size))
    writer.release()


def inference_only(det: pydarknet.Detector, video: Path, frames: int) -> float:
    decoded = list(read_frames(open_video(video), frames))
    start = time.perf_counter()
    for frame in decoded:
        det.detect(frame)
    return len(decoded) / (time.perf_counter() - start)


def serial(det: pydarknet.Detector, video: Path, frames: int, out: Path) -> float:
    cap = open_video(video)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    n = 0
    start = time.perf_counter()
    for frame in read_frames(cap, frames):
        dets = det.detect(frame)
        drawn = det.draw(frame, dets)
        if writer is None:
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(out), fourcc, fps, (frame.shape[1], frame.shape[0]))
        writer.write(drawn)
        n += 1
    if writer is not None:
        writer.release()
    return n / (time.perf_counter() - start)


def pipelined(det: pydarknet.Detector, video: Path, frames: int, out: Path) -> float:
    return annotate_video(det, video, out, max_frames=frames, progress=False).fps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, help="input video (default: made from images)")
    p.add_argument("--images", type=Path, help="folder of .jpg images for the made video")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--size", default="1280x720", help="made video's WxH")
    p.add_argument("--model", default="yolov3-tiny")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp_name, pydarknet.Detector(args.model) as det:
        tmp = Path(tmp_name)
        video = args.video
        if video is None:
            video = tmp / "bench.mp4"
            make_video(video, args.images, args.frames, (w, h))
        det.detect(np.zeros((h, w, 3), np.uint8))  # warm-up
        cap = open_video(video)
        size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        cap.release()
        print(f"{args.model} on {video.name} ({size}, {args.frames} frames, "
              f"{os.cpu_count()} CPUs)")  # fmt: skip
        infer = inference_only(det, video, args.frames)
        ser = serial(det, video, args.frames, tmp / "serial.mp4")
        pipe = pipelined(det, video, args.frames, tmp / "pipelined.mp4")
    print(f"inference only : {infer:7.2f} FPS")
    print(f"serial         : {ser:7.2f} FPS  (decode + infer + draw + write in one loop)")
    print(f"pipelined      : {pipe:7.2f} FPS  ({pipe / ser:.2f}x serial, "
          f"{pipe / infer:.0%} of inference only)")  # fmt: skip


if __name__ == "__main__":
    main()
