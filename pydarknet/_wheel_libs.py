"""Load the libraries that a Darknet build takes from other wheels, before its extension.

pydarknet's CPU library uses OpenBLAS from the scipy-openblas32 wheel; the CUDA plugin's
libcudart, libcublas, libcurand and libcudnn from NVIDIA's wheels.  CMake writes the list
each build needs next to its extension (``<package>/_wheel_libs_list.py``, see
cmake/WheelLibs.cmake): (folder under site-packages, soname, distribution).

The release wheels (tools/build_wheels.py) link those libraries by no NEEDED entry, so
that ``auditwheel show`` sees no outside library: their symbols stay undefined in
libdarknet, and this module loads each library by absolute path with RTLD_GLOBAL before
the cffi extension (which needs libdarknet) is imported, so the dynamic linker finds them
in the global scope -- what JAX's CUDA plugins and onnxruntime do with NVIDIA's wheels.
Source builds also link them by RPATH; for them this load finds the wheels wherever
they are on ``sys.path`` (a ``--target`` or ``--user`` install, a layered environment).
"""

from __future__ import annotations

import ctypes
import importlib
import sys
from pathlib import Path
from typing import Any

__all__ = ["MissingWheelLibrary", "import_extension", "nvidia_lib_dirs", "preload_wheel_libraries"]


class MissingWheelLibrary(ImportError):
    """A library of another wheel that the build needs is not installed."""


# The folders of NVIDIA's wheels (site-packages/nvidia/<sub>/lib) a GPU build can use.
_NVIDIA_SUBDIRS = ("cu13", "cu12", "cuda_runtime", "cublas", "curand", "cudnn")


def nvidia_lib_dirs() -> list[Path]:
    """The ``lib`` folders of NVIDIA's wheels importable from ``sys.path``."""
    try:
        import nvidia  # namespace package of the nvidia-* wheels
    except ImportError:
        return []
    dirs = []
    for root in getattr(nvidia, "__path__", []):
        for sub in _NVIDIA_SUBDIRS:
            lib = Path(root) / sub / "lib"
            if lib.is_dir():
                dirs.append(lib)
    return dirs


def find_wheel_library(folder: str, soname: str) -> Path | None:
    """``<entry>/<folder>/<soname>`` for the first ``sys.path`` entry that has it."""
    for entry in sys.path:
        path = Path(entry or ".") / folder / soname
        if path.is_file():
            return path.resolve()
    return None


def preload_wheel_libraries(package: str) -> list[str]:
    """Load (RTLD_GLOBAL) the other wheels' libraries that ``package``'s build needs, in
    the build's order; their paths.  ImportError naming the wheel when one is missing."""
    try:
        listed = importlib.import_module(f"{package}._wheel_libs_list").LIBRARIES
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}._wheel_libs_list":
            raise
        return []  # not an installed build (a source folder): the import will say so
    loaded = []
    for folder, soname, dist in listed:
        path = find_wheel_library(folder, soname)
        if path is None:
            raise MissingWheelLibrary(
                f"{package} needs {soname} from the {dist} wheel ({folder}/ in "
                f"site-packages), which is not installed where this Python looks "
                f"(sys.path): pip install {dist}"
            )
        try:
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            raise ImportError(f"{package} could not load {path} (from {dist}): {exc}") from exc
        loaded.append(str(path))
    return loaded


def import_extension(module: str = "pydarknet._darknet") -> tuple[Any, Any]:
    """``(ffi, lib)`` of a cffi extension (pydarknet's, or the CUDA plugin's
    ``pydarknet_cu13._darknet``), after loading the libraries its build needs."""
    preload_wheel_libraries(module.rpartition(".")[0])
    ext = importlib.import_module(module)
    return ext.ffi, ext.lib


def _print_dirs_for_cmake(kind: str) -> None:
    """``python _wheel_libs.py lib|include``: those folders of NVIDIA's wheels, for
    cmake/DarknetCuda.cmake (one list of folders: this module's)."""
    libs = nvidia_lib_dirs()
    dirs = libs if kind == "lib" else [d.parent / "include" for d in libs]
    print(";".join(str(d) for d in dirs if d.is_dir()))


if __name__ == "__main__":
    _print_dirs_for_cmake(sys.argv[1])
