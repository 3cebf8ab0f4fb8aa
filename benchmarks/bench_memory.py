"""Memory: RSS growth per detection and over load/free cycles, with the real yolov3-tiny.

    python benchmarks/bench_memory.py [--calls 1000] [--cycles 10] [--image IMG]

Prints the RSS a loaded network takes after one detection, over the imported package, at
each kernel level this CPU runs (``PYDN_KERNEL``: each level packs its own weights), then
bytes of RSS growth per detection over ``--calls`` detections of a real image (the file
path, then the NumPy path; after 50 warm-up calls), and the RSS growth over ``--cycles``
load / detect / free cycles of the network (freed by close() on even cycles, by the
garbage collector on odd ones).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import psutil

import pydarknet
from pydarknet import models

REPO = Path(__file__).resolve().parent.parent


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def per_call(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """(bytes of RSS growth per call, seconds per call)."""
    for _ in range(50):
        fn()
    before, start = rss(), time.perf_counter()
    for _ in range(calls):
        fn()
    return (rss() - before) / calls, (time.perf_counter() - start) / calls


LOADED = """
import sys, cv2, psutil, pydarknet
from pydarknet import cpu, models
cfg, weights = models.data_file("yolov3-tiny.cfg"), models.weights_path("yolov3-tiny")
meta, image = pydarknet.load_meta(models.data_file("coco.names")), cv2.imread(sys.argv[1])
before = psutil.Process().memory_info().rss
net = pydarknet.load_net(cfg, weights)
pydarknet.detect_image(net, meta, image)
print(cpu.kernels(), psutil.Process().memory_info().rss - before)
"""


def loaded_rss(image: str) -> None:
    """RSS of a loaded yolov3-tiny after one detection, per kernel level (one process
    each: the level is read once per process)."""
    seen = set()
    for level in ("avx512", "avx2", "portable"):
        env = {**os.environ, "PYDN_KERNEL": level}
        out = subprocess.run([sys.executable, "-c", LOADED, image], env=env, check=True,
                             capture_output=True, text=True).stdout.split()  # fmt: skip
        if out[0] not in seen:  # a level the CPU lacks runs the next one down
            seen.add(out[0])
            print(
                f"  loaded + one detection, {out[0]:8s} kernels: "
                f"+{int(out[1]) / 2**20:.1f} MiB RSS over the imported package"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--cycles", type=int, default=10)
    p.add_argument("--image", default=str(REPO / "darknet" / "data" / "dog.jpg"))
    args = p.parse_args()
    cfg, weights = models.data_file("yolov3-tiny.cfg"), models.weights_path("yolov3-tiny")
    meta = pydarknet.load_meta(models.data_file("coco.names"))
    array = cv2.imread(args.image)
    print(f"yolov3-tiny on {args.image} ({array.shape[1]}x{array.shape[0]})")
    loaded_rss(args.image)
    with pydarknet.load_net(cfg, weights) as net:
        for name, fn in (
            ("file path ", lambda: pydarknet.detect(net, meta, args.image)),
            ("NumPy path", lambda: pydarknet.detect_image(net, meta, array)),
        ):
            grown, secs = per_call(fn, args.calls)
            print(f"  {name}: {grown:8.1f} bytes of RSS per detection over {args.calls} "
                  f"detections ({secs * 1e3:.1f} ms each)")  # fmt: skip
    sizes = []
    for cycle in range(args.cycles):
        cycled = pydarknet.load_net(cfg, weights)
        pydarknet.detect_image(cycled, meta, array)
        if cycle % 2 == 0:
            cycled.close()
        del cycled
        sizes.append(rss())
    mib = [round(s / 2**20, 1) for s in sizes]
    print(f"  {args.cycles} load/detect/free cycles: RSS {mib} MiB, "
          f"growth {(max(sizes) - sizes[0]) / 2**20:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
