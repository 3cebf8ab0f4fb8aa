"""Raw access to the compiled library: the cffi ``ffi``/``lib`` pair and error checking.

This is the line-by-line C mirror (see csrc/pydn.h for each function's contract); the
owning wrappers live in :mod:`pydarknet.network`.
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import DarknetError

try:
    from ._cuda_libs import import_extension

    ffi, lib = import_extension()  # a GPU build may need NVIDIA's wheels loaded first
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "pydarknet's compiled extension could not be loaded: "
        f"{exc}. Reinstall with `pip install .` from a checkout (it compiles Darknet)."
    ) from exc

__all__ = ["check", "ffi", "lib", "set_verbose"]

darknet_logger = logging.getLogger("pydarknet.darknet")
_LEVELS = (logging.INFO, logging.WARNING)  # Darknet's stdout, stderr


_LOGGED: list[tuple[Any, Any]] = []  # (ffi, lib) of each loaded library (+ CUDA plugin)
_verbose = False


def attach_logger(ffi: Any, lib: Any) -> None:
    """Define the log callback of a library's ffi; set_verbose() then covers it too."""

    @ffi.def_extern(name="pydn_python_log")
    def _log(level: int, line) -> None:  # type: ignore[no-untyped-def]
        darknet_logger.log(_LEVELS[level], ffi.string(line).decode("utf-8", "replace"))

    _LOGGED.append((ffi, lib))
    if _verbose:
        lib.pydn_set_log_callback(lib.pydn_python_log)


def set_verbose(on: bool = True) -> None:
    """Route Darknet's own printing to the ``pydarknet.darknet`` logger (off by default)."""
    global _verbose
    _verbose = on
    for ffi_, lib_ in _LOGGED:
        lib_.pydn_set_log_callback(lib_.pydn_python_log if on else ffi_.NULL)


attach_logger(ffi, lib)


def last_error() -> str:
    return ffi.string(lib.pydn_last_error()).decode("utf-8", "replace")


def check(rc: int, what: str, exc: type[Exception] = DarknetError) -> None:
    """Raise ``exc`` naming ``what`` when a pydn_* call returned an error code."""
    if rc != 0:
        raise exc(f"{what}: {last_error() or 'Darknet failed'}")
