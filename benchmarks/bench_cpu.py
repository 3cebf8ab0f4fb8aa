"""CPU latency and throughput of pydarknet against the untouched upstream Darknet and
OpenCV's DNN module, interleaved in one process on the same decoded image.

    python benchmarks/bench_cpu.py [--runs 15] [--threads 2] [--image dog.jpg]

Contestants, each doing the whole job (pixels in, boxes out):

* ``pydarknet``: :func:`pydarknet.detect_image` (this build; DARKNET_FAST unless built
  with ``-DDARKNET_FAST=OFF``), ``set_num_threads(--threads)``.
* ``upstream``: the untouched upstream CPU path loaded with ctypes: by default
  ``build/upstream/libdarknet.so`` (``benchmarks/build_upstream.sh``: our CMake with
  ``-DDARKNET_FAST=OFF -DDARKNET_OPENMP=ON``, so upstream's own OpenMP loops get the
  same threads), else Debian's ``/usr/lib/darknet/libdarknet.so`` (single-threaded).
  Pipeline of ``./darknet detect``: pixels / 255 into planes, letterbox_image,
  network_predict, get_network_boxes, do_nms_sort.
* ``opencv``: ``cv2.dnn.readNetFromDarknet`` + ``blobFromImage`` + ``forward`` + box
  decoding + ``cv2.dnn.NMSBoxes`` (``cv2.setNumThreads(--threads)``; needs OpenCV 4.x,
  as 5.0 dropped the Darknet importer).

Then batch throughput (``detect_batch`` at batch 1, 4, 8 against a loop of single
detections over the same images) and the share of a detection spent outside the
network's forward pass (conversion, letterbox, box decoding, NMS, Python).
"""

from __future__ import annotations

import argparse
import ctypes as C
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEBIAN_LIB = "/usr/lib/darknet/libdarknet.so"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=15, help="interleaved rounds (>= 15)")
    p.add_argument("--threads", type=int, default=2, help="threads for every contestant")
    p.add_argument("--model", default="yolov3-tiny", help="zoo model name")
    p.add_argument("--image", default=None, help="image file (default: Darknet's dog.jpg)")
    p.add_argument("--upstream", default=None, help="upstream libdarknet.so to load")
    p.add_argument("--batch-runs", type=int, default=7, help="rounds of the batch test")
    p.add_argument("--profile", action="store_true", help="per-layer times of pydarknet")
    return p.parse_args()


ARGS = parse_args()
# libgomp reads this once, when the first OpenMP library loads (upstream's loops).
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import cv2  # noqa: E402

import pydarknet  # noqa: E402
from pydarknet import core, cpu, models  # noqa: E402
from pydarknet.images import read_image  # noqa: E402


class Box(C.Structure):
    _fields_ = [("x", C.c_float), ("y", C.c_float), ("w", C.c_float), ("h", C.c_float)]


class Detection(C.Structure):
    _fields_ = [
        ("bbox", Box),
        ("classes", C.c_int),
        ("prob", C.POINTER(C.c_float)),
        ("mask", C.POINTER(C.c_float)),
        ("objectness", C.c_float),
        ("sort_class", C.c_int),
    ]


class Image(C.Structure):
    _fields_ = [("w", C.c_int), ("h", C.c_int), ("c", C.c_int), ("data", C.POINTER(C.c_float))]


LUT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


class Upstream:
    """The original library's detection pipeline through ctypes."""

    def __init__(self, path: str, cfg: str, weights: str, classes: int) -> None:
        lib = self.lib = C.CDLL(path)
        lib.load_network.restype = C.c_void_p
        lib.load_network.argtypes = [C.c_char_p, C.c_char_p, C.c_int]
        lib.set_batch_network.argtypes = [C.c_void_p, C.c_int]
        lib.letterbox_image.restype = Image
        lib.letterbox_image.argtypes = [Image, C.c_int, C.c_int]
        lib.free_image.argtypes = [Image]
        lib.network_predict.argtypes = [C.c_void_p, C.POINTER(C.c_float)]
        lib.network_predict.restype = C.POINTER(C.c_float)
        lib.network_width.argtypes = lib.network_height.argtypes = [C.c_void_p]
        lib.get_network_boxes.restype = C.POINTER(Detection)
        lib.get_network_boxes.argtypes = [
            C.c_void_p,
            C.c_int,
            C.c_int,
            C.c_float,
            C.c_float,
            C.POINTER(C.c_int),
            C.c_int,
            C.POINTER(C.c_int),
        ]
        lib.do_nms_sort.argtypes = [C.POINTER(Detection), C.c_int, C.c_int, C.c_float]
        lib.free_detections.argtypes = [C.POINTER(Detection), C.c_int]
        self.net = lib.load_network(cfg.encode(), weights.encode(), 0)
        lib.set_batch_network(self.net, 1)
        self.w, self.h = lib.network_width(self.net), lib.network_height(self.net)
        self.classes = classes

    def detect(self, bgr: np.ndarray, thresh: float = 0.5) -> list[tuple[int, float, list]]:
        planes = np.ascontiguousarray(LUT[bgr.transpose(2, 0, 1)[::-1]])  # load_image_color
        h, w = bgr.shape[:2]
        im = Image(w, h, 3, planes.ctypes.data_as(C.POINTER(C.c_float)))
        lib = self.lib
        sized = lib.letterbox_image(im, self.w, self.h)
        lib.network_predict(self.net, sized.data)
        lib.free_image(sized)
        n = C.c_int(0)
        dets = lib.get_network_boxes(self.net, w, h, thresh, 0.5, None, 1, C.byref(n))
        lib.do_nms_sort(dets, n.value, self.classes, 0.45)
        res = []
        for i in range(n.value):
            for j in range(self.classes):
                p = dets[i].prob[j]
                if p > thresh:
                    b = dets[i].bbox
                    res.append((j, p, [b.x * w, b.y * h, b.w * w, b.h * h]))
        lib.free_detections(dets, n)
        return res


class OpenCVDnn:
    """OpenCV's DNN module doing the whole job, as its YOLO samples do."""

    def __init__(self, cfg: str, weights: str, size: tuple[int, int]) -> None:
        self.net = cv2.dnn.readNetFromDarknet(cfg, weights)
        self.outs = self.net.getUnconnectedOutLayersNames()
        self.size = size

    def detect(self, bgr: np.ndarray, thresh: float = 0.5, nms: float = 0.45) -> list:
        blob = cv2.dnn.blobFromImage(bgr, 1 / 255.0, self.size, swapRB=True, crop=False)
        self.net.setInput(blob)
        out = np.concatenate(self.net.forward(self.outs))
        scores = out[:, 5:]
        cls = scores.argmax(axis=1)
        conf = scores[np.arange(len(out)), cls]
        keep = conf > thresh
        h, w = bgr.shape[:2]
        xywh = out[keep, :4] * np.array([w, h, w, h], np.float32)
        boxes = np.column_stack([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, 2:]]).tolist()
        confs = conf[keep].tolist()
        idx = cv2.dnn.NMSBoxes(boxes, confs, thresh, nms) if boxes else []
        return [(int(cls[keep][i]), confs[i], boxes[i]) for i in np.ravel(idx)]


def upstream_path() -> str:
    if ARGS.upstream:
        return ARGS.upstream
    ours = REPO / "build" / "upstream" / "libdarknet.so"
    return str(ours) if ours.is_file() else DEBIAN_LIB


def interleave(jobs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each job, one call of each per round in a rotating order."""
    times: dict[str, list[float]] = {k: [] for k in jobs}
    names = list(jobs)
    for name in names:  # warm-up: first-touch of buffers, thread pools
        jobs[name]()
        jobs[name]()
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            jobs[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms"


def main() -> int:
    if ARGS.runs < 15:
        print("--runs must be at least 15", file=sys.stderr)
        return 2
    cfg = str(models.data_file(f"{ARGS.model}.cfg"))
    weights = str(models.weights_path(ARGS.model, quiet=True))
    names = str(models.data_file("coco.names"))
    image = ARGS.image or str(REPO / "darknet" / "data" / "dog.jpg")
    if not os.path.isfile(image):
        image = "/work/main/darknet/data/dog.jpg" if ARGS.image is None else image
    bgr = read_image(image)

    cpu.set_num_threads(ARGS.threads)
    cv2.setNumThreads(ARGS.threads)
    net = pydarknet.load_net(cfg, weights)
    meta = pydarknet.load_meta(names)
    up = Upstream(upstream_path(), cfg, weights, net.classes)
    jobs: dict[str, Callable[[], object]] = {
        "pydarknet": lambda: pydarknet.detect_image(net, meta, bgr),
        "upstream": lambda: up.detect(bgr),
    }
    if hasattr(cv2.dnn, "readNetFromDarknet"):
        ocv = OpenCVDnn(cfg, weights, (net.width, net.height))
        jobs["opencv"] = lambda: ocv.detect(bgr)
    else:
        print(
            f"! OpenCV {cv2.__version__} has no Darknet importer: pip install "
            "'opencv-python-headless<5' to compare with it"
        )

    print(
        f"model {ARGS.model} {net.width}x{net.height}, image {image} "
        f"{bgr.shape[1]}x{bgr.shape[0]}, {os.cpu_count()} CPUs ({platform.processor() or '?'})"
    )
    print(
        f"threads: pydarknet {cpu.get_num_threads()} (DARKNET_FAST={int(cpu.fast_build())}),"
        f" upstream OMP_NUM_THREADS={ARGS.threads}, cv2.setNumThreads({ARGS.threads})"
    )
    print(f"upstream: {upstream_path()}; OpenCV {cv2.__version__}")
    found = {k: len(v()) for k, v in jobs.items()}  # type: ignore[arg-type]
    print("detections at thresh 0.5:", found)

    forward: list[float] = []

    def pydarknet_job() -> None:
        pydarknet.detect_image(net, meta, bgr)
        forward.append(core.last_forward_seconds())

    jobs["pydarknet"] = pydarknet_job
    times = interleave(jobs, ARGS.runs)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nlatency, medians of {ARGS.runs} interleaved runs:")
    for k, v in med.items():
        print(f"  {k:10s} {ms(v)}   (min {ms(min(times[k]))})")
    for k in med:
        if k != "pydarknet":
            print(f"  ratio pydarknet / {k}: {med['pydarknet'] / med[k]:.3f}")

    forward = forward[2:]  # the warm-up calls
    overhead = [t - f for t, f in zip(times["pydarknet"], forward, strict=True)]
    share = statistics.median(overhead) / med["pydarknet"]
    print(
        f"\noutside the forward pass (conversion, letterbox, boxes, NMS, Python): "
        f"median {ms(statistics.median(overhead))} = {100 * share:.1f}% of a detection "
        f"(forward pass {ms(statistics.median(forward))})"
    )

    data = REPO / "darknet" / "data"
    if not data.is_dir():
        data = Path(image).parent
    pool = [read_image(p) for p in sorted(data.glob("*.jpg"))] or [bgr]
    print(f"\nthroughput over {len(pool)} images of different sizes from {data}:")
    for b in (1, 4, 8):
        imgs = [pool[i % len(pool)] for i in range(b)]
        t = interleave(
            {
                "batch": lambda imgs=imgs: pydarknet.detect_batch(net, meta, imgs),
                "singles": lambda imgs=imgs: [pydarknet.detect_image(net, meta, i) for i in imgs],
            },
            ARGS.batch_runs,
        )
        tb, ts = statistics.median(t["batch"]), statistics.median(t["singles"])
        print(
            f"  batch {b}: detect_batch {b / tb:6.1f} img/s, loop of detect_image "
            f"{b / ts:6.1f} img/s, speed-up {ts / tb:.2f}x"
        )

    if ARGS.profile and cpu.fast_build():
        print(f"\nper-layer forward times (median of 15), {cpu.kernels()} kernels:")
        ran = cpu.layer_kernels(net)
        for i, (kind, sec) in enumerate(cpu.profile_layers(net, bgr, 15)):
            print(f"  {i:3d} {kind:14s} {ms(sec)}  {ran[i]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
