"""Raw access to the compiled library: the cffi ``ffi``/``lib`` pair and error checking.

This is the line-by-line C mirror (see csrc/pydn.h for each function's contract); the
owning wrappers live in :mod:`pydarknet.network`.
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

from .errors import DarknetError

#: A cffi C object (a ``pydn_*`` struct, a pointer, an array): cffi's own types know no
#: struct fields, so to the type checker it is Any.
CData: TypeAlias = Any
#: The cffi ``FFI`` of the compiled extension, and its ``lib`` (every pydn_* function of
#: csrc/cdef/ and Darknet's enum values): built at compile time, untyped to the checker.
FFI: TypeAlias = Any
Lib: TypeAlias = Any

ffi: FFI
lib: Lib
try:
    from ._cuda_libs import import_extension

    ffi, lib = import_extension()  # a GPU build may need NVIDIA's wheels loaded first
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "pydarknet's compiled extension could not be loaded: "
        f"{exc}. Reinstall with `pip install .` from a checkout (it compiles Darknet)."
    ) from exc

__all__ = ["CData", "check", "ffi", "lib", "set_verbose"]

darknet_logger = logging.getLogger("pydarknet.darknet")
_LEVELS = (logging.INFO, logging.WARNING)  # Darknet's stdout, stderr


def pydn_python_log(level: int, line: CData) -> None:
    text: bytes = ffi.string(line)
    darknet_logger.log(_LEVELS[level], text.decode("utf-8", "replace"))


ffi.def_extern(name="pydn_python_log")(pydn_python_log)  # C's log callback


def set_verbose(on: bool = True) -> None:
    """Route Darknet's own printing to the ``pydarknet.darknet`` logger (off by default)."""
    lib.pydn_set_log_callback(lib.pydn_python_log if on else ffi.NULL)


def last_error() -> str:
    text: bytes = ffi.string(lib.pydn_last_error())
    return text.decode("utf-8", "replace")


def check(rc: int, what: str, exc: type[Exception] = DarknetError) -> None:
    """Raise ``exc`` naming ``what`` when a pydn_* call returned an error code."""
    if rc != 0:
        raise exc(f"{what}: {last_error() or 'Darknet failed'}")
