"""pydarknet against ONNX Runtime, OpenVINO, OpenCV DNN and upstream Darknet on the CPU.

    python benchmarks/bench_peers.py [--rounds 31] [--threads 2] [--nets yolov3-tiny,yolov3]

Every engine does the whole job — 8-bit BGR pixels in, Darknet's letterbox, the
network, boxes after Darknet's NMS — in its own worker process (benchmarks/engines/),
with the same threads.  ONNX Runtime and OpenVINO (forced to f32) run the model
exported by ``pydarknet.export_onnx``; OpenCV DNN 4.x reads the cfg/weights in its own
venv (OpenCV 5 has no Darknet importer; created under ~/.cache/pydarknet when needed);
upstream is the untouched Darknet (``build_upstream.sh``, else Debian's library).
The other engines' letterbox, box decoding and NMS are pydarknet/onnx/numpy_pipeline.py.

The script waits for an idle machine (1-minute load average), checks every engine's
detections against pydarknet's (|Δp| <= 0.02, IoU >= 0.97), then times the engines
interleaved round-robin: in each round, each engine does one job after a pause (``--pause``:
no engine's threads still spinning, the first frame after a wait) and one right after
it (back to back).  It prints per engine the medians of both, the median forward pass
(back to back), its GFLOP/s and its share of the machine's fp32 FMA peak (measured by
fma_peak.c, compiled here), and pydarknet's time over each engine's (after a pause /
back to back).  It also prints the memory read bandwidth (read_bandwidth.c): on a shared
host it moves from hour to hour, and the engines that stream more bytes of weights a
pass (pydarknet's Winograd weights are 16/9 to 4 times the 3x3 kernels) move with it.
Without the pause, an engine timed right after ONNX Runtime runs while ORT's pool still
spins on both cores (pydarknet's yolov3-tiny: 26 ms there, 18.6 ms alone).  The order
rotates every round and reverses every other one, so that each engine follows each
other one as often.
Networks: yolov3-tiny with its real weights, and yolov3 at 416x416 with seeded weights
and a high threshold that keeps NMS small.  yolov4-tiny and yolov7-tiny are AlexeyAB's
darknet's own cfgs (dialect "alexeyab": the image stretched, the fork's NMS) with seeded
weights the fork writes (tests/helpers/alexeyab.py), a threshold likewise; their
reference detections are the fork's own (``detector test``'s pipeline), which every
engine, pydarknet included, must give.  Upstream Darknet cannot run them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEBIAN_LIB = "/usr/lib/darknet/libdarknet.so"
# pydarknet-avx2: this build with PYDN_KERNEL=avx2 (its AVX2 kernels, on an AVX-512 CPU too)
ENGINES = ("pydarknet", "pydarknet-avx2", "onnxruntime", "openvino", "opencv", "upstream")
sys.path.insert(0, str(HERE))  # engines/
sys.path.insert(0, str(REPO / "tests"))  # helpers/: comparing detections, seeded weights

from helpers.compare import mismatches  # noqa: E402
from helpers.seeded_weights import seeded_weights  # noqa: E402

import pydarknet  # noqa: E402
from pydarknet import models  # noqa: E402
from pydarknet.cfg import check_cfg  # noqa: E402
from pydarknet.cfg.parse import read_cfg  # noqa: E402
from pydarknet.onnx import export_onnx, letter_box, yolo_heads  # noqa: E402
from pydarknet.onnx.numpy_pipeline import letterbox, preprocess, yolo_candidates  # noqa: E402

FORK_NETS = ("yolov4-tiny", "yolov7-tiny")  # AlexeyAB's darknet's cfgs


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=31, help="interleaved rounds (>= 31 to report)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--nets", default="yolov3-tiny,yolov3,yolov4-tiny,yolov7-tiny")
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--image", default=str(REPO / "darknet" / "data" / "dog.jpg"))
    p.add_argument("--pause", type=float, default=0.5, help="seconds before each timed pair")
    p.add_argument("--idle-load", type=float, default=0.5, help="wait until load1 is below")
    p.add_argument("--idle-timeout", type=float, default=900, help="then run anyway (seconds)")
    p.add_argument("--upstream", default=None, help="upstream libdarknet.so")
    p.add_argument("--opencv-python", default=None, help="python of a venv with OpenCV 4.x")
    return p.parse_args()


def wait_idle(limit: float, timeout: float) -> float:
    """Wait until the 1-minute load average is below ``limit``; return it."""
    start = time.monotonic()
    load = os.getloadavg()[0]
    while load >= limit and time.monotonic() - start < timeout:
        print(f"  waiting for an idle machine: load average {load:.2f}", flush=True)
        time.sleep(15)
        load = os.getloadavg()[0]
    return load


def probe(name: str, threads: int, *extra: str) -> float | None:
    """What ``name``.c (fma_peak: GFLOP/s, of the ISA in ``extra`` or the widest;
    read_bandwidth: GB/s) measures on ``threads`` threads (None without a C compiler)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / name
        subprocess.run([cc, "-O2", "-march=native", "-pthread", str(HERE / f"{name}.c"),
                        "-o", str(exe)], check=True)  # fmt: skip
        out = subprocess.run([str(exe), str(threads), *extra], check=True, capture_output=True,
                             text=True)  # fmt: skip
    return float(out.stdout)


def conv_flops(cfg: str) -> float:
    """FLOPs of a forward pass: 2 x the multiply-adds of the convolutional layers (as
    Darknet's BFLOPs) and connected layers."""
    with open(cfg, "rb") as f:
        data = f.read()
    shapes = check_cfg(cfg).layers
    net = check_cfg(cfg)
    prev_c, prev_out, total = net.channels, net.inputs, 0.0
    for sec, s in zip(read_cfg(data, cfg)[1:], shapes, strict=True):
        if s.kind == "convolutional":
            k = sec.int("size", 1)
            total += 2.0 * k * k * prev_c / sec.int("groups", 1) * s.c * s.w * s.h
        elif s.kind == "connected":
            total += 2.0 * prev_out * s.outputs
        prev_c, prev_out = s.c, s.outputs
    return total


def prepare(name: str, folder: Path, bgr: np.ndarray, image: str) -> dict:  # type: ignore[type-arg]
    """cfg, weights, ONNX model, yolo heads and threshold of a benchmark network."""
    if name in FORK_NETS:
        return prepare_fork(name, folder, bgr, image)
    model = models.get_model(name)
    cfg = folder / f"{name}.cfg"
    text = model.cfg_path.read_text()
    if name == "yolov3-tiny":
        weights = models.weights_path(name, quiet=True)
    else:  # seeded weights at 416x416
        text = re.sub(r"(?m)^(width|height)\s*=\s*\d+", r"\1=416", text)
        weights = folder / f"{name}.weights"
    cfg.write_text(re.sub(r"(?m)^(batch|subdivisions)\s*=\s*\d+", r"\1=1", text))
    heads = yolo_heads(cfg)
    shape = check_cfg(str(cfg))
    x = letterbox(bgr, shape.width, shape.height)
    thresh, candidates = 0.5, 0
    if name != "yolov3-tiny":
        # Random weights saturate yolov3's logistic outputs (shortcuts add up): scale the
        # convolutions before the [yolo] layers so their outputs have a std of 3 on the
        # image, and a threshold that leaves 20 boxes with a detection (fewer for NMS).
        seeded_weights(cfg, weights, seed=0)
        before = [h.layer - 1 for h in heads]
        stds = [float(np.std(o)) for o in run_onnx(export_onnx(
            cfg, weights, folder / "probe.onnx", outputs=before), x).values()]  # fmt: skip
        scale = {i: 3 / s for i, s in zip(before, stds, strict=True)}
        seeded_weights(cfg, weights, seed=0, scale=scale)
    onnx_path = export_onnx(cfg, weights, folder / f"{name}.onnx")
    if name != "yolov3-tiny":
        thresh, candidates = threshold(onnx_path, x, heads, shape.width, shape.height)
    return settings_of(cfg, weights, onnx_path, thresh, candidates)


def threshold(onnx_path: Path, x: np.ndarray, heads: list, netw: int, neth: int
              ) -> tuple[float, int]:  # type: ignore[type-arg]  # fmt: skip
    """The threshold that leaves 20 boxes with a detection, and the boxes above it."""
    outs = run_onnx(onnx_path, x)
    _boxes, probs, obj = yolo_candidates(outs, heads, netw, neth, 0.0)
    best = np.sort(probs.max(axis=1))
    thresh = max(0.5, float(best[-21])) if len(best) > 20 else 0.5
    return thresh, int(np.count_nonzero(obj > thresh))


def settings_of(cfg: Path, weights: Path, onnx_path: Path, thresh: float, candidates: int
                ) -> dict:  # type: ignore[type-arg]  # fmt: skip
    shape, heads = check_cfg(str(cfg)), yolo_heads(cfg)
    return {
        "cfg": str(cfg), "weights": str(weights), "onnx": str(onnx_path),
        "netw": shape.width, "neth": shape.height, "thresh": thresh, "nms": 0.45,
        "letter": letter_box(cfg), "dialect": shape.dialect,
        "heads": [{"layer": h.layer, "anchors": list(h.anchors), "mask": list(h.mask),
                   "classes": h.classes, "new_coords": h.new_coords, "nms_kind": h.nms_kind,
                   "beta_nms": h.beta_nms} for h in heads],
        "flops": conv_flops(str(cfg)), "candidates": candidates,
    }  # fmt: skip


def prepare_fork(name: str, folder: Path, bgr: np.ndarray, image: str
                 ) -> dict:  # type: ignore[type-arg]  # fmt: skip
    """A cfg of AlexeyAB's darknet (batch 1) with seeded weights its save_weights()
    writes, and the fork's own detections of the image as the reference."""
    import cv2
    from helpers.alexeyab import fork_cfg, fork_detect, fork_dir, fork_weights

    if fork_dir() is None:
        raise SystemExit(f"{name}: AlexeyAB's darknet is not available (tests/helpers/alexeyab.py)")
    cfg = fork_cfg(name, folder)
    cfg.write_text(re.sub(r"(?m)^(batch|subdivisions)\s*=\s*\d+", r"\1=1", cfg.read_text()))
    weights = fork_weights(cfg, folder / f"{name}.weights")
    onnx_path = export_onnx(cfg, weights, folder / f"{name}.onnx")
    shape = check_cfg(str(cfg))
    x = preprocess(bgr, shape.width, shape.height, letter_box(cfg))
    thresh, candidates = threshold(onnx_path, x, yolo_heads(cfg), shape.width, shape.height)
    settings = settings_of(cfg, weights, onnx_path, thresh, candidates)
    h, w = bgr.shape[:2]
    # the fork (built without OpenCV) decodes JPEGs with stb_image, the engines with
    # libjpeg, a few levels apart in some pixels: it gets a PNG of the engines' pixels
    png = folder / "image.png"
    cv2.imwrite(str(png), bgr)
    settings["reference"] = [
        [str(j), p, [d.bbox[0] * w, d.bbox[1] * h, d.bbox[2] * w, d.bbox[3] * h]]
        for d in fork_detect(cfg, weights, png, thresh) for j, p in enumerate(d.probs)
        if p > thresh
    ]  # fmt: skip
    return settings


def run_onnx(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"input": x}), strict=True))


def opencv_python(args: argparse.Namespace) -> str:
    """A python with OpenCV 4.x: this one if its cv2 reads Darknet, else a venv."""
    if args.opencv_python:
        return args.opencv_python
    import cv2

    if hasattr(cv2.dnn, "readNetFromDarknet"):
        return sys.executable
    venv = Path.home() / ".cache" / "pydarknet" / "bench-opencv4"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"  creating {venv} with opencv-python-headless<5", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "opencv-python-headless<5",
                        "numpy"], check=True)  # fmt: skip
    return str(python)


class Worker:
    def __init__(self, engine: str, python: str, settings: dict) -> None:  # type: ignore[type-arg]
        self.engine = engine
        self.log = tempfile.TemporaryFile("w+")  # the worker's stderr, shown if it dies
        self.proc = subprocess.Popen(
            [python, str(HERE / "engines" / "worker.py"), engine, json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            text=True, cwd=str(HERE / "engines"),
        )  # fmt: skip
        self.describe = self.ask("")["ready"]

    def ask(self, cmd: str) -> dict:  # type: ignore[type-arg]
        assert self.proc.stdin and self.proc.stdout
        if cmd:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = self.log.read()[-1500:]
            raise RuntimeError(f"{self.engine} worker died:\n{tail}")
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.ask_quit()

    def ask_quit(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def as_labels(dets: list) -> list:  # type: ignore[type-arg]
    return [(str(c), p, tuple(b)) for c, p, b in dets]


def reference(settings: dict, workers: dict) -> tuple[list, str]:  # type: ignore[type-arg]
    """The detections every engine must give: the fork's for its networks, else
    pydarknet's (checked against Darknet's by the tests)."""
    if "reference" in settings:
        return as_labels(settings["reference"]), "AlexeyAB's darknet (reference)"
    return as_labels(workers["pydarknet"].ask("dets")["dets"]), "pydarknet"


def bench_net(name: str, settings: dict, engines: list[str], args: argparse.Namespace,
              peaks: dict[str, float | None]) -> None:  # type: ignore[type-arg]  # fmt: skip
    pythons = {e: sys.executable for e in engines}
    if "opencv" in engines:
        pythons["opencv"] = opencv_python(args)
    workers = {}
    for e in engines:
        if e == "upstream" and "reference" in settings:
            continue  # pjreddie's Darknet cannot run the fork's cfgs
        try:
            workers[e] = Worker(e, pythons[e], settings)
        except RuntimeError as exc:
            print(f"  ! {e}: {exc}")
    try:
        extra = f" ({settings['candidates']} boxes above it)" if settings["candidates"] else ""
        print(f"\n{name} {settings['netw']}x{settings['neth']}, thresh {settings['thresh']:.4g}"
              f"{extra}, {settings['flops'] / 1e9:.2f} GFLOPs a forward pass")  # fmt: skip
        for e, w in workers.items():
            print(f"  {e:14s} {w.describe}")
        want, whose = reference(settings, workers)
        print(f"  {whose}: {len(want)} detections")
        for e in list(workers):
            try:
                got = as_labels(workers[e].ask("dets")["dets"])
            except RuntimeError as exc:
                print(f"  ! {exc}")
                workers.pop(e)
                continue
            # boxes in pixels: those a pixel or two wide (seeded YOLOv7 heads make
            # some) match within half a pixel, where IoU is ill-conditioned
            bad = mismatches(got, want, settings["thresh"], pixel=0.5)
            status = "same detections" if not bad else f"DIFFERENT, not timed: {bad[:3]}"
            print(f"  {e:14s} {len(got):3d} detections: {status}")
            if bad:
                workers.pop(e).close()
        for w in workers.values():  # warm-up
            for _ in range(3):
                w.ask("detect")
        names = list(workers)
        if not names:
            print("  no engine gave the reference detections: nothing timed")
            return
        # Per engine and round: a call after a pause (every engine's threads, ours and
        # the peers' pools that spin for work after a call, have gone quiet: no engine
        # runs on cores another one still holds) and a call right after it (the
        # engine's own back-to-back steady state).
        paused: dict[str, list[dict[str, float]]] = {e: [] for e in names}
        steady: dict[str, list[dict[str, float]]] = {e: [] for e in names}
        for r in range(args.rounds):
            # rotated, and reversed every other round: each engine follows each other one
            order = names[r % len(names) :] + names[: r % len(names)]
            for e in order[::-1] if r % 2 else order:
                time.sleep(args.pause)
                paused[e].append(workers[e].ask("detect"))
                steady[e].append(workers[e].ask("detect"))
        print(f"\n  medians of {args.rounds} interleaved rounds, {args.threads} threads each, "
              f"whole job after a {args.pause:g} s pause and back to back:")  # fmt: skip
        print(f"  {'engine':14s} {'paused':>9s} {'b2b':>9s} {'forward':>9s} {'GFLOP/s':>8s} "
              f"{'of peak':>8s} {'pydarknet/engine':>17s}")  # fmt: skip

        def median(runs: list[dict[str, float]], key: str) -> float:
            return statistics.median(t[key] for t in runs)

        mine = "pydarknet" in paused  # (not where it could not run the network)
        base = [median(paused["pydarknet"], "total"), median(steady["pydarknet"], "total")
                ] if mine else [float("nan")] * 2  # fmt: skip
        for e in names:
            med = [median(paused[e], "total"), median(steady[e], "total")]
            fwd = median(steady[e], "forward")
            gflops = settings["flops"] / fwd / 1e9
            peak = peaks.get(e, peaks["native"])  # the engine's ISA's peak
            share = f"{100 * gflops / peak:7.0f}%" if peak else "     n/a"
            ratios = f"{base[0] / med[0]:.2f} / {base[1] / med[1]:.2f}"
            print(f"  {e:14s} {med[0] * 1e3:6.1f} ms {med[1] * 1e3:6.1f} ms {fwd * 1e3:6.1f} ms "
                  f"{gflops:8.1f} {share} {ratios:>17s}")  # fmt: skip
    finally:
        for w in workers.values():
            w.close()


def main() -> int:
    args = parse_args()
    engines = [e for e in args.engines.split(",") if e]
    if "pydarknet" not in engines:
        engines.insert(0, "pydarknet")
    if platform.machine() != "x86_64" and "pydarknet-avx2" in engines:
        engines.remove("pydarknet-avx2")
    print(f"load average {os.getloadavg()[0]:.2f}; waiting below {args.idle_load}", flush=True)
    load = wait_idle(args.idle_load, args.idle_timeout)
    busy = load >= args.idle_load
    print(f"load average {load:.2f}" + (": MEASURED UNDER LOAD" if busy else ": idle"))
    peaks = {"native": probe("fma_peak", args.threads)}
    if "pydarknet-avx2" in engines:
        peaks["pydarknet-avx2"] = probe("fma_peak", args.threads, "avx2")
    for isa, peak in peaks.items():
        print(f"fp32 FMA peak (fma_peak.c, {args.threads} threads, {isa.split('-')[-1]}): "
              + (f"{peak:.1f} GFLOP/s" if peak else "n/a (no C compiler)"))  # fmt: skip
    bandwidth = probe("read_bandwidth", args.threads)
    print(f"memory read bandwidth (read_bandwidth.c, {args.threads} threads): "
          + (f"{bandwidth:.1f} GB/s" if bandwidth else "n/a"))  # fmt: skip
    # absolute paths: the workers run in engines/
    upstream = os.path.abspath(args.upstream or REPO / "build" / "upstream" / "libdarknet.so")
    if not os.path.isfile(upstream):
        upstream = DEBIAN_LIB  # single-threaded
    args.image = os.path.abspath(args.image)
    bgr = pydarknet.images.read_image(args.image)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets.split(","):
            settings = prepare(name, Path(tmp), bgr, args.image)
            settings.update(threads=args.threads, image=args.image, upstream=upstream)
            bench_net(name, settings, engines, args, peaks)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}"
          + ("" if args.rounds >= 31 else f"; only {args.rounds} rounds: a smoke run"))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
