"""Which device Darknet runs on: GPU queries and the ``device=`` / ``gpu=`` arguments.

With the CUDA plugin (``pip install "pydarknet[cu13]"``, see :mod:`pydarknet.backend`)
or a GPU build (``CMAKE_ARGS="-DDARKNET_GPU=ON -DDARKNET_CUDNN=ON" pip install .``) each
network runs on a CUDA GPU or on the CPU, chosen when the network is built; without
either, on the CPU only.  Devices are named like Darknet's ``-i N`` / ``-nogpu``:

========================  ==================================================
``None`` / ``"auto"``     GPU 0 when one can be used, else the CPU (a GPU build
                          without a usable GPU warns once and falls back)
``"cpu"`` / ``-1``        the CPU
``N`` / ``"cuda:N"``      GPU N (``"cuda"`` / ``"gpu"`` mean GPU 0); GPUError
                          when this build or machine cannot provide it
========================  ==================================================
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .backend import BUILD_CUDNN, BUILD_GPU, CPU_BACKEND, backend_for, gpu_backend, gpu_expected
from .errors import DarknetValueError, GPUError

__all__ = [
    "CudaInfo",
    "Device",
    "cuda_info",
    "device_name",
    "gpu_available",
    "gpu_count",
    "resolve_device",
]

Device = int | str | None
CPU = -1

# Darknet reads one global, gpu_index, while it builds a network and loads weights.
_BUILD_LOCK = threading.Lock()
# Darknet keeps one cuBLAS and one cuDNN handle per device (src/cuda.c), which must not
# be used from two threads at once: networks on the same GPU share one lock.
_GPU_LOCKS: dict[int, threading.Lock] = {}
_fallback_warned = False


@dataclass(frozen=True)
class CudaInfo:
    """What CUDA this build was compiled with and what this machine offers."""

    gpu_build: bool
    cudnn_build: bool
    runtime_version: int  # CUDA runtime, 1000 * major + 10 * minor; 0 in a CPU build
    driver_version: int  # what the driver supports, same encoding; 0 when there is none
    cudnn_version: int  # e.g. 92801 for 9.28.1; 0 without cuDNN
    devices: tuple[str, ...]  # name of each usable GPU
    problem: str  # why no GPU can be used, "" when one can


def _gpu_count_and_problem() -> tuple[int, str]:
    gpu, problem = gpu_backend()
    if gpu is None:
        return 0, problem
    count = gpu.ffi.new("int *")
    if gpu.lib.pydn_gpu_count(count) != 0:
        return 0, f"CUDA reports: {gpu.last_error()}"
    if count[0] == 0:
        return 0, "CUDA sees no GPU"
    return count[0], ""


def gpu_count() -> int:
    """Number of GPUs this build can use on this machine (0 for a CPU build)."""
    return _gpu_count_and_problem()[0]


def gpu_available() -> bool:
    """True when this is a GPU build and CUDA finds at least one usable GPU.

    Safe to call anywhere: without a driver or GPU it answers False, it never raises."""
    return gpu_count() > 0


def cuda_info() -> CudaInfo:
    """Build flags, CUDA / driver / cuDNN versions and usable GPUs (never raises).
    With the CUDA plugin installed, these are the plugin's."""
    backend = gpu_backend()[0] or CPU_BACKEND
    ffi, lib = backend.ffi, backend.lib
    flags = lib.pydn_build_flags()
    runtime, driver, cudnn = ffi.new("int *"), ffi.new("int *"), ffi.new("int *")
    lib.pydn_cuda_versions(runtime, driver, cudnn)
    count, problem = _gpu_count_and_problem()
    names = []
    buf = ffi.new("char[]", 256)
    for i in range(count):
        ok = lib.pydn_gpu_name(i, buf, len(buf)) == 0
        names.append(ffi.string(buf).decode("utf-8", "replace") if ok else f"GPU {i}")
    return CudaInfo(
        gpu_build=bool(flags & BUILD_GPU),
        cudnn_build=bool(flags & BUILD_CUDNN),
        runtime_version=runtime[0],
        driver_version=driver[0],
        cudnn_version=cudnn[0],
        devices=tuple(names),
        problem=problem,
    )


def _parse(device: Device) -> int | None:
    """A device argument as a GPU index, CPU (-1), or None for "auto"."""
    if device is None:
        return None
    if isinstance(device, bool) or not isinstance(device, int | str):
        raise DarknetValueError(f"device must be None, an int or a str, got {device!r}")
    if isinstance(device, int):
        if device < CPU:
            raise DarknetValueError(f"device {device} is neither -1 (CPU) nor a GPU index")
        return device
    name = device.strip().lower()
    if name == "auto":
        return None
    if name == "cpu":
        return CPU
    kind, _, index = name.partition(":")
    if kind in ("cuda", "gpu") and (not index or index.isdigit()):
        return int(index or 0)
    raise DarknetValueError(
        f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N', an int or None"
    )


def resolve_device(device: Device = None, gpu: int | None = None) -> int:
    """The GPU index a network will use, or -1 for the CPU.

    ``device`` is what a user passes (see the module docstring); ``gpu`` is load_net's
    Darknet-style index (-1: CPU).  Passing both is fine when they agree.  Raises
    :class:`GPUError` when a GPU is asked for that this build or machine lacks."""
    wanted, by_gpu = _parse(device), _parse(gpu)
    if wanted is not None and by_gpu is not None and wanted != by_gpu:
        raise DarknetValueError(f"device={device!r} and gpu={gpu!r} name different devices")
    if wanted is None:
        wanted = by_gpu
    count, problem = _gpu_count_and_problem()
    if wanted is None:  # auto
        if count:
            return 0
        if gpu_expected():
            _warn_fallback(problem)
        return CPU
    if wanted == CPU:
        return CPU
    if not count:
        fix = "use device='cpu' (gpu=-1)"
        if not gpu_expected():
            fix = f'install the CUDA plugin (pip install "pydarknet[cu13]"), or {fix}'
        raise GPUError(f"GPU {wanted} was asked for, but {problem}: {fix}")
    if wanted >= count:
        raise GPUError(f"there is no GPU {wanted}: CUDA sees {count} device(s)")
    return wanted


def _warn_fallback(problem: str) -> None:
    global _fallback_warned
    if not _fallback_warned:
        _fallback_warned = True
        warnings.warn(
            f"pydarknet has a CUDA build but cannot use a GPU here ({problem}); "
            "networks run on the CPU. Pass device='cpu' to silence this.",
            RuntimeWarning,
            stacklevel=4,
        )


def device_name(gpu: int) -> str:
    """``"cpu"`` or ``"cuda:N"``."""
    return "cpu" if gpu < 0 else f"cuda:{gpu}"


def network_lock(gpu: int) -> threading.Lock:
    """The lock serializing use of a network: its own on the CPU, the device's on a GPU."""
    if gpu < 0:
        return threading.Lock()
    with _BUILD_LOCK:
        return _GPU_LOCKS.setdefault(gpu, threading.Lock())


@contextmanager
def building_on(gpu: int) -> Iterator[None]:
    """Hold Darknet's gpu_index at ``gpu`` while a network is built and loaded."""
    backend = backend_for(gpu)
    with _BUILD_LOCK:
        rc = backend.lib.pydn_use_device(gpu)
        backend.check(rc, f"cannot use {device_name(gpu)}", GPUError)
        yield
