"""CPU settings of the compiled library: threads, and per-layer timing.

The default build (``DARKNET_FAST``) runs Darknet's CPU path on pydarknet's own thread
pool (csrc/fast/pool.c, not OpenMP), with OpenBLAS kept single-threaded inside it;
:func:`set_num_threads` sets how many threads, the caller's included (default:
``OMP_NUM_THREADS`` when set, else the number of CPUs this process may use).  A build
with ``-DDARKNET_FAST=OFF`` is upstream's single-threaded code and ignores it.
"""

from __future__ import annotations

import statistics

import numpy as np

from ._lib import ffi, lib
from .core import raw_detect_arrays
from .network import Network

__all__ = [
    "fast_build",
    "get_num_threads",
    "kernels",
    "layer_kernels",
    "profile_layers",
    "set_num_threads",
]


def fast_build() -> bool:
    """True when the library was built with the optimized CPU path (DARKNET_FAST)."""
    return bool(lib.pydn_fast_build())


def kernels() -> str:
    """Which kernels this build runs on this CPU: ``"avx512"``, ``"avx2"`` (x86-64 with
    AVX2 and FMA), ``"neon"`` (aarch64) or ``"portable"`` (plain C: other CPUs,
    ``-DDARKNET_PORTABLE=ON``, ``PYDN_KERNEL=portable``, and builds without
    DARKNET_FAST).  Chosen at run time from the CPU's features, so one wheel is fast on
    every x86-64; ``PYDN_KERNEL=<name>`` caps it (read once per process)."""
    name: bytes = ffi.string(lib.pydn_kernel_name())
    return name.decode()


def layer_kernels(net: Network) -> list[str]:
    """What each layer of ``net`` runs, in layer order: for convolutions
    ``"winograd4/<kernels>"`` (Winograd F(4x4,3x3)), ``"winograd2/<kernels>"``,
    ``"gemm/<kernels>"`` (the packed GEMM), ``"openblas"`` (OpenBLAS's sgemm: where it is
    faster than this CPU's kernels, or ``PYDN_GEMM=openblas``) or ``"upstream"``
    (Darknet's own code); ``""`` for other layers.  ``<kernels>`` is :func:`kernels`."""
    buf = ffi.new("char[]", 64)
    with net.locked() as ptr:
        out = []
        for i in range(ptr.n):
            lib.pydn_layer_kernel(ptr, i, buf, len(buf))
            text: bytes = ffi.string(buf)
            out.append(text.decode())
    return out


def set_num_threads(n: int | None = None) -> int:
    """Threads for the forward pass and letterbox (None or <= 0: OpenMP's default);
    returns the number now in use."""
    return int(lib.pydn_set_threads(0 if n is None else int(n)))


def get_num_threads() -> int:
    return int(lib.pydn_get_threads())


def profile_layers(net: Network, image: np.ndarray, runs: int = 15) -> list[tuple[str, float]]:
    """(layer type, median seconds) of each layer's forward over ``runs`` detections of
    ``image`` (DARKNET_FAST builds; empty otherwise)."""
    was = lib.pydn_profile(1)
    buf = ffi.new("double[]", 4096)
    samples: list[list[float]] = []
    try:
        for _ in range(runs):
            raw_detect_arrays(net, [image])
            n = lib.pydn_layer_seconds(buf, 4096)
            samples.append([buf[i] for i in range(n)])
    finally:
        lib.pydn_profile(was)
    if not samples or not samples[0]:
        return []
    with net.locked() as ptr:
        kinds = [
            ffi.string(ffi.cast("LAYER_TYPE", ptr.layers[i].type)) for i in range(len(samples[0]))
        ]
    return [
        (k, statistics.median(col))
        for k, col in zip(kinds, zip(*samples, strict=True), strict=True)
    ]
