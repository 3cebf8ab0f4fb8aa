"""Which compiled Darknet runs a network: pydarknet's own library or the CUDA plugin's.

pydarknet's wheel holds the fast CPU build (``pydarknet._darknet``).  The GPU build is a
separate distribution, ``pydarknet-cu13`` (``pip install "pydarknet[cu13]"``), whose
module ``pydarknet_cu13`` holds ``libdarknet_cu13.so`` and its own cffi extension.  Both
load into one process (the libraries have different sonames); each :class:`Network`
keeps the :class:`Backend` it was built with, CPU networks the CPU library and GPU
networks the plugin's.  A source build with ``-DDARKNET_GPU=ON`` is its own GPU backend.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import threading
from dataclasses import dataclass

from . import _lib
from ._lib import FFI, Lib
from ._wheel_libs import import_extension
from .errors import DarknetError

__all__ = [
    "BUILD_CUDNN",
    "BUILD_GPU",
    "CPU_BACKEND",
    "PLUGIN",
    "Backend",
    "backend_for",
    "gpu_backend",
    "gpu_expected",
]

PLUGIN = "pydarknet_cu13"  # the CUDA plugin's module (distribution pydarknet-cu13)
BUILD_GPU, BUILD_CUDNN = 1, 2  # pydn_build_flags() (csrc/pydn_device.h)


@dataclass(frozen=True)
class Backend:
    """One compiled Darknet: its cffi ``ffi`` and ``lib`` (types of one ffi do not mix
    with another's: structs passed to ``lib`` are made with this ``ffi``)."""

    name: str  # the extension's module
    ffi: FFI
    lib: Lib

    @property
    def gpu_build(self) -> bool:
        return bool(self.lib.pydn_build_flags() & BUILD_GPU)

    def last_error(self) -> str:
        return _lib.last_error(self.ffi, self.lib)

    def check(self, rc: int, what: str, exc: type[Exception] = DarknetError) -> None:
        """Raise ``exc`` naming ``what`` when a pydn_* call of this library failed."""
        _lib.check(rc, what, exc, self.ffi, self.lib)


CPU_BACKEND = Backend("pydarknet._darknet", _lib.ffi, _lib.lib)
_lock = threading.Lock()
_gpu: tuple[Backend | None, str] | None = None


def _load_plugin() -> tuple[Backend | None, str]:
    if CPU_BACKEND.gpu_build:  # built from source with -DDARKNET_GPU=ON
        return CPU_BACKEND, ""
    if importlib.util.find_spec(PLUGIN) is None:
        return None, (
            "pydarknet was built without CUDA and the CUDA plugin is not installed "
            '(pip install "pydarknet[cu13]")'
        )
    try:
        ours = importlib.metadata.version("pydarknet")
        plugin = importlib.metadata.version("pydarknet-cu13")
    except importlib.metadata.PackageNotFoundError:
        ours = plugin = ""  # not installed from wheels (a build folder): no check
    if ours != plugin:
        return None, (
            f"the CUDA plugin pydarknet-cu13 {plugin} does not match pydarknet {ours} "
            '(pip install "pydarknet[cu13]" installs matching versions)'
        )
    try:
        ffi, lib = import_extension(f"{PLUGIN}._darknet")
    except ImportError as exc:
        return None, f"the CUDA plugin pydarknet-cu13 cannot be loaded: {exc}"
    _lib.attach_logger(ffi, lib)
    return Backend(f"{PLUGIN}._darknet", ffi, lib), ""


def gpu_backend() -> tuple[Backend | None, str]:
    """The GPU build (plugin or source GPU build), or None and why there is none."""
    global _gpu
    with _lock:
        if _gpu is None:
            _gpu = _load_plugin()
        return _gpu


def gpu_expected() -> bool:
    """True when a GPU build is installed (the plugin, or a GPU source build), whether or
    not it can run here."""
    return CPU_BACKEND.gpu_build or importlib.util.find_spec(PLUGIN) is not None


def backend_for(gpu: int) -> Backend:
    """The library that runs a network on ``gpu`` (-1: the CPU)."""
    if gpu < 0:
        return CPU_BACKEND
    backend, problem = gpu_backend()
    if backend is None:
        raise DarknetError(f"no GPU build of Darknet: {problem}")
    return backend
