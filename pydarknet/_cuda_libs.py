"""Find the CUDA libraries of a GPU build when the extension cannot load by itself.

A GPU build's libdarknet.so needs libcudart, libcublas, libcurand and libcudnn.  Its
RPATH points into NVIDIA's wheels installed beside pydarknet in the same site-packages
(``site-packages/nvidia/cu13/lib``, ``.../nvidia/cudnn/lib``), which covers a normal
``pip install``.  When the wheels live elsewhere on ``sys.path`` (a ``--target`` or
``--user`` install, a layered environment), this module loads them from the ``nvidia``
namespace package by absolute path; the loader then reuses them for libdarknet.so.
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

__all__ = ["CUDA_SONAMES", "missing_cuda_library", "nvidia_lib_dirs", "preload_cuda_libraries"]

# Dependencies first: cuBLAS needs cuBLASLt.
CUDA_SONAMES = (
    "libcudart.so.13",
    "libcudart.so.12",
    "libcublasLt.so.13",
    "libcublasLt.so.12",
    "libcublas.so.13",
    "libcublas.so.12",
    "libcurand.so.10",
    "libcudnn.so.9",
)
_WHEEL_SUBDIRS = ("cu13", "cu12", "cuda_runtime", "cublas", "curand", "cudnn")
_SONAME = re.compile(r"(lib(?:cudart|cublasLt|cublas|curand|cudnn)\.so\.\d+)")


def nvidia_lib_dirs() -> list[Path]:
    """The ``lib`` folders of NVIDIA's wheels importable from ``sys.path``."""
    try:
        import nvidia  # namespace package of the nvidia-* wheels
    except ImportError:
        return []
    dirs = []
    for root in getattr(nvidia, "__path__", []):
        for sub in _WHEEL_SUBDIRS:
            lib = Path(root) / sub / "lib"
            if lib.is_dir():
                dirs.append(lib)
    return dirs


def missing_cuda_library(error: BaseException) -> str | None:
    """The CUDA soname an ImportError says could not be opened, if any."""
    match = _SONAME.search(str(error))
    return match.group(1) if match else None


def preload_cuda_libraries() -> list[str]:
    """Load the CUDA libraries found in NVIDIA's wheels (RTLD_GLOBAL); their paths."""
    loaded: list[str] = []
    dirs = nvidia_lib_dirs()
    for soname in CUDA_SONAMES:
        for folder in dirs:
            path = folder / soname
            if path.is_file():
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                loaded.append(str(path))
                break
    return loaded


def import_extension():  # type: ignore[no-untyped-def]
    """``(ffi, lib)`` of ``pydarknet._darknet``, loading NVIDIA's wheels first if needed."""
    try:
        from ._darknet import ffi, lib
    except ImportError as first:
        soname = missing_cuda_library(first)
        if soname is None:
            raise
        loaded = preload_cuda_libraries()
        try:
            from ._darknet import ffi, lib
        except ImportError as exc:
            where = "NVIDIA's wheels on sys.path lack it" if loaded else "no NVIDIA wheels"
            raise ImportError(
                f"this pydarknet is a GPU build and needs {soname}, which was not found "
                f"({where}). Install them: pip install nvidia-cuda-runtime nvidia-cublas "
                "nvidia-curand nvidia-cudnn-cu13 (or pydarknet[cuda13]), or make a CUDA "
                f"toolkit and cuDNN visible to the loader. ({exc})"
            ) from exc
    return ffi, lib
