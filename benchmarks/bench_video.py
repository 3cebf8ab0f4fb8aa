"""Video throughput: pipelined (threads) vs. serial decode+infer+draw vs. inference only.

    python benchmarks/bench_video.py [--video IN.mp4] [--frames 20] [--size 1280x720]
                                     [--rounds 3]

Without --video it writes a test video from Darknet's data images (darknet/data, or
--images DIR).  Three ways over the same frames, after one warm-up inference, taken in
turn for ``--rounds`` rounds (so that a busy machine's drift hits each alike); the
median FPS of each is printed:

* inference only: frames decoded and converted beforehand; just ``Detector.detect``;
* serial: one loop that decodes a frame, detects, draws and writes it;
* pipelined: :func:`pydarknet.annotate_video`, where decoding, inference and
  drawing/writing run in three threads.

Pipelined FPS close to inference-only FPS means the pipeline is bound by inference.
Decoding, drawing and writing need CPU time of their own: when inference already uses
every core (the default), they compete with it; ``--threads`` leaves cores to them.
``--net-size`` (the cfg's width/height, same weights) changes the inference cost.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import pydarknet
from pydarknet.images import from_array
from pydarknet.models import get_model, weights_path
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
    """The bound: frames decoded and converted to Darknet's layout beforehand."""
    converted = [from_array(f) for f in read_frames(open_video(video), frames)]
    start = time.perf_counter()
    for image in converted:
        det.detect(image)
    return len(converted) / (time.perf_counter() - start)


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


def make_detector(model: str, net_size: int | None, tmp: Path) -> pydarknet.Detector:
    """The zoo model, or the same weights with the cfg's input size set to ``net_size``."""
    if net_size is None:
        return pydarknet.Detector(model)
    if net_size % 32:
        raise SystemExit("--net-size must be a multiple of 32")
    zoo = get_model(model)
    text = re.sub(r"(?m)^(width|height)\s*=.*$", rf"\1={net_size}", zoo.cfg_path.read_text())
    cfg = tmp / f"{model}-{net_size}.cfg"
    cfg.write_text(text)
    return pydarknet.Detector(cfg=cfg, weights=weights_path(model), names=zoo.names_path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, help="input video (default: made from images)")
    p.add_argument("--images", type=Path, help="folder of .jpg images for the made video")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--size", default="1280x720", help="made video's WxH")
    p.add_argument("--model", default="yolov3-tiny")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--net-size", type=int, default=None, help="network input size (cfg)")
    p.add_argument("--threads", type=int, default=None,
                   help="inference threads (default: all CPUs); fewer leave a core to "
                   "decoding and drawing")  # fmt: skip
    args = p.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    threads = pydarknet.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        det = make_detector(args.model, args.net_size, tmp)
        video = args.video
        if video is None:
            video = tmp / "bench.mp4"
            make_video(video, args.images, args.frames, (w, h))
        det.detect(np.zeros((h, w, 3), np.uint8))  # warm-up
        cap = open_video(video)
        size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        cap.release()
        net = f"{det.net.width}x{det.net.height}"
        print(f"{args.model} ({net}) on {video.name} ({size}, {args.frames} frames, "
              f"{args.rounds} rounds, {os.cpu_count()} CPUs, "
              f"{threads} inference threads)")  # fmt: skip
        runs: dict[str, list[float]] = {"infer": [], "serial": [], "pipe": []}
        for _ in range(args.rounds):
            runs["infer"].append(inference_only(det, video, args.frames))
            runs["serial"].append(serial(det, video, args.frames, tmp / "serial.mp4"))
            runs["pipe"].append(pipelined(det, video, args.frames, tmp / "pipelined.mp4"))
        infer, ser, pipe = (statistics.median(runs[k]) for k in ("infer", "serial", "pipe"))
        det.close()
    print(f"inference only : {infer:7.2f} FPS")
    print(f"serial         : {ser:7.2f} FPS  (decode + infer + draw + write in one loop)")
    print(f"pipelined      : {pipe:7.2f} FPS  ({pipe / ser:.2f}x serial, "
          f"{pipe / infer:.0%} of inference only)")  # fmt: skip


if __name__ == "__main__":
    main()
