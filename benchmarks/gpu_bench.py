"""GPU check and speed: GPU detections vs CPU ones, and latency / throughput.

    python benchmarks/gpu_bench.py --images DIR [--repeat 20] [--models yolov3-tiny,yolov3]

1. yolov3-tiny with its real weights: every image of DIR on the GPU and on the CPU (the
   same GPU build, device="cpu"), at batch 1 through pydarknet.detect and at batch 8
   through pydarknet.detect_batch on the GPU; the detections must agree within the
   reproduction tolerance (tests/helpers/compare.py).  Exit status 1 if not.
2. Per-image latency and throughput on the GPU for each model at batch 1 and 8:
   pydarknet.detect_batch, i.e. test_detector's whole pipeline (letterbox, forward,
   boxes, NMS) on images decoded beforehand.  yolov3 uses seeded random weights of the
   size its cfg implies (speed only).
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import pydarknet
from pydarknet import models
from pydarknet.images import read_image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers.compare import mismatches

THRESH, HIER, NMS = 0.25, 0.5, 0.45


def random_weights(cfg: str, path: str, seed: int = 0) -> None:
    """A weights file of the size ``cfg`` implies: per conv layer biases -5, BN scales 1,
    means 0, variances 1, weights N(0, 0.01).  The biases keep every objectness near
    sigmoid(-5), below the threshold: random logits would flood NMS with boxes, which
    costs far more than a real image's few."""
    rng = np.random.default_rng(seed)
    net = pydarknet.load_net(cfg, device="cpu")
    parts = []
    with net.locked() as ptr:
        for i in range(ptr.n):
            layer = ptr.layers[i]
            if layer.type == net.backend.lib.CONVOLUTIONAL:
                n = layer.n
                parts.append(np.full(n, -5.0))
                if layer.batch_normalize:
                    parts += [np.ones(n), np.zeros(n), np.ones(n)]
                parts.append(rng.normal(0, 0.01, layer.nweights))
    floats = np.concatenate(parts).astype("<f4")
    assert floats.size == net.weights_floats, (floats.size, net.weights_floats)
    net.close()
    with open(path, "wb") as f:
        f.write(struct.pack("<3iQ", 0, 2, 0, 0))
        f.write(floats.tobytes())


def compare(cfg: str, weights: str, images: list[Path], meta: pydarknet.Metadata) -> int:
    bad = 0
    with (
        pydarknet.load_net(cfg, weights, device="cuda:0") as gpu_net,
        pydarknet.load_net(cfg, weights, device="cpu") as cpu_net,
    ):
        single = {}
        for path in images:
            on_gpu = pydarknet.detect(gpu_net, meta, str(path), THRESH, HIER, NMS)
            on_cpu = pydarknet.detect(cpu_net, meta, str(path), THRESH, HIER, NMS)
            problems = mismatches(on_gpu, on_cpu, THRESH)
            single[path] = on_cpu
            print(
                f"  {path.name:12s} batch 1: {len(on_gpu):2d} GPU / {len(on_cpu):2d} CPU "
                f"detections, {'agree' if not problems else 'DISAGREE'}"
            )
            for p in problems:
                print("    " + p)
            bad += bool(problems)
        batch = (images * 8)[:8]
        arrays = [read_image(p) for p in batch]
        got = pydarknet.detect_batch(gpu_net, meta, arrays, THRESH, HIER, NMS)
    for path, dets in zip(batch, got, strict=True):
        problems = mismatches(dets, single[path], THRESH)
        bad += bool(problems)
        for p in problems:
            print(f"    batch 8 {path.name}: {p}")
    print(f"  batch 8 on GPU vs batch 1 on CPU: {'agree' if not bad else 'DISAGREE'}")
    return bad


def timed(
    net: pydarknet.Network, meta: pydarknet.Metadata, images: list[np.ndarray], repeat: int
) -> float:
    """Mean seconds of a detect_batch call on ``images`` (after 3 warm-up calls)."""
    for _ in range(3):
        pydarknet.detect_batch(net, meta, images, THRESH, HIER, NMS)
    start = time.perf_counter()
    for _ in range(repeat):
        pydarknet.detect_batch(net, meta, images, THRESH, HIER, NMS)
    return (time.perf_counter() - start) / repeat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", required=True, help="folder of .jpg images (darknet/data)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--models", default="yolov3-tiny,yolov3")
    ap.add_argument("--cpu-repeat", type=int, default=3, help="CPU timing of yolov3-tiny")
    args = ap.parse_args()
    info = pydarknet.cuda_info()
    print(f"pydarknet {pydarknet.__version__}: {info}")
    if not pydarknet.gpu_available():
        print(f"no usable GPU: {info.problem}")
        return 2
    images = sorted(Path(args.images).glob("*.jpg"))
    meta = pydarknet.load_meta(str(models.data_file("coco.names")))
    tiny_cfg = str(models.data_file("yolov3-tiny.cfg"))
    tiny_w = str(models.weights_path("yolov3-tiny", quiet=True))
    with tempfile.TemporaryDirectory() as tmp:
        print("GPU vs CPU, yolov3-tiny (real weights), |dp| <= 0.02 and IoU >= 0.97:")
        bad = compare(tiny_cfg, tiny_w, images, meta)
        decoded = [read_image(p) for p in (images * 8)[:8]]
        print("speed (letterbox + forward + boxes + NMS per call; images decoded once):")
        for model in args.models.split(","):
            cfg = str(models.data_file(f"{model}.cfg"))
            weights = tiny_w if model == "yolov3-tiny" else f"{tmp}/{model}.weights"
            if model != "yolov3-tiny":
                random_weights(cfg, weights)
            plan = [("cuda:0", 1, args.repeat), ("cuda:0", 8, max(3, args.repeat // 4))]
            if model == "yolov3-tiny" and args.cpu_repeat > 0:
                plan.insert(0, ("cpu", 1, args.cpu_repeat))
            for where, b, repeat in plan:
                with pydarknet.load_net(cfg, weights, device=where) as net:
                    per_call = timed(net, meta, decoded[:b], repeat)
                print(
                    f"  {model:12s} {where:6s} batch {b}: {1000 * per_call / b:8.2f} ms/image,"
                    f" {b / per_call:8.1f} images/s  ({repeat} timed calls)"
                )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
