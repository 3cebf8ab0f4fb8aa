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
import importlib
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


def import_extension(module: str = "pydarknet._darknet"):  # type: ignore[no-untyped-def]
    """``(ffi, lib)`` of a cffi extension (pydarknet's, or the CUDA plugin's
    ``pydarknet_cu13._darknet``), loading NVIDIA's wheels first if needed."""
    try:
        ext = importlib.import_module(module)
    except ImportError as first:
        soname = missing_cuda_library(first)
        if soname is None:
            raise
        loaded = preload_cuda_libraries()
        try:
            ext = importlib.import_module(module)
        except ImportError as exc:
            where = "NVIDIA's wheels on sys.path lack it" if loaded else "no NVIDIA wheels"
            raise ImportError(
                f"{module} is a GPU build and needs {soname}, which was not found "
                f"({where}). Install them: pip install nvidia-cuda-runtime nvidia-cublas "
                'nvidia-curand nvidia-cudnn-cu13 (or "pydarknet[cu13]"), or make a CUDA '
                f"toolkit and cuDNN visible to the loader. ({exc})"
            ) from exc
    return ext.ffi, ext.lib


def _print_dirs_for_cmake(kind: str) -> None:
    """``python _cuda_libs.py lib|include``: those folders of NVIDIA's wheels, for
    cmake/DarknetCuda.cmake (one list of folders: this module's)."""
    libs = nvidia_lib_dirs()
    dirs = libs if kind == "lib" else [d.parent / "include" for d in libs]
    print(";".join(str(d) for d in dirs if d.is_dir()))


if __name__ == "__main__":
    import sys

    _print_dirs_for_cmake(sys.argv[1])
