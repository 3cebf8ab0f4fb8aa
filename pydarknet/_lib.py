"""Raw access to the compiled library: the cffi ``ffi``/``lib`` pair and error checking.

This is the line-by-line C mirror (see csrc/pydn.h for each function's contract); the
owning wrappers live in :mod:`pydarknet.network`.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, TypeAlias

from ._wheel_libs import MissingWheelLibrary, import_extension
from .errors import (
    DarknetError,
    DarknetInterruptedError,
    DarknetMemoryError,
    DarknetTimeoutError,
)

#: A cffi C object (a ``pydn_*`` struct, a pointer, an array): cffi's own types know no
#: struct fields, so to the type checker it is Any.
CData: TypeAlias = Any
#: The cffi ``FFI`` of the compiled extension, and its ``lib`` (every pydn_* function of
#: csrc/cdef/ and Darknet's enum values): built at compile time, untyped to the checker.
FFI: TypeAlias = Any
Lib: TypeAlias = Any


def _not_loaded(exc: ImportError) -> str:
    """Why the compiled extension did not load, and what to do about it."""
    here = Path(__file__).resolve().parent
    source_folder = (here.parent / "pyproject.toml").is_file() and (here.parent / "csrc").is_dir()
    missing = isinstance(exc, ModuleNotFoundError) and exc.name == f"{__package__}._darknet"
    if missing and source_folder:
        return (
            f"this is pydarknet's source folder ({here}), not an installed pydarknet: "
            "Darknet's C code is compiled when the package is installed, so there is no "
            "compiled extension (pydarknet/_darknet*.so) here.  Python imports this folder "
            "because it is in the current folder or on PYTHONPATH.  Either install "
            f"pydarknet (`pip install {here.parent}`) and run Python from another folder, or, "
            f"to work on pydarknet, make an editable install (`pip install -e {here.parent}`, "
            "see docs/CONTRIBUTING.md), which works from here too."
        )
    if isinstance(exc, MissingWheelLibrary):
        return str(exc)  # says which wheel to install
    return (
        f"pydarknet's compiled extension could not be loaded: {exc}.  The installation "
        "looks broken: reinstall pydarknet (`pip install --force-reinstall pydarknet`, or "
        "`pip install .` from a checkout, which compiles Darknet)."
    )


ffi: FFI
lib: Lib
try:
    ffi, lib = import_extension()  # loads OpenBLAS / NVIDIA's libraries first
except ImportError as exc:
    raise ImportError(_not_loaded(exc)) from exc

__all__ = ["CData", "check", "ffi", "lib", "set_deadline", "set_verbose"]

darknet_logger = logging.getLogger("pydarknet.darknet")
_LEVELS = (logging.INFO, logging.WARNING)  # Darknet's stdout, stderr


_LOGGED: list[tuple[FFI, Lib]] = []  # (ffi, lib) of each loaded library (+ CUDA plugin)
_verbose = False


def attach_logger(ffi: FFI, lib: Lib) -> None:
    """Define the log callback of a library's ffi; set_verbose() then covers it too."""

    @ffi.def_extern(name="pydn_python_log")  # type: ignore[untyped-decorator]
    def _log(level: int, line: CData) -> None:
        text: bytes = ffi.string(line)
        darknet_logger.log(_LEVELS[level], text.decode("utf-8", "replace"))

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


def last_error(ffi: FFI = ffi, lib: Lib = lib) -> str:
    """The message of a library's last failed pydn_* call (default pydarknet's own)."""
    text: bytes = ffi.string(lib.pydn_last_error())
    return text.decode("utf-8", "replace")


#: pydn_last_failure(): why a call failed, when Darknet did not (csrc/pydn.h)
FAILED_INTERRUPT, FAILED_TIMEOUT, FAILED_MEMORY = 1, 2, 3


def _noop() -> None:
    pass


def _let_python_handle_sigint() -> None:
    """A SIGINT stopped the call (csrc/pydn_stop.c): in the main thread Python's own
    handler is pending and runs at the next function call, raising KeyboardInterrupt
    (or running the program's handler).  Give it a few milliseconds to do so."""
    if threading.current_thread() is not threading.main_thread():
        return
    end = time.monotonic() + 0.005
    while time.monotonic() < end:
        _noop()


def check(
    rc: int, what: str, exc: type[Exception] = DarknetError, ffi: FFI = ffi, lib: Lib = lib
) -> None:
    """Raise ``exc`` naming ``what`` when a pydn_* call of a library (default pydarknet's
    own) returned an error code; a call stopped by Ctrl-C raises KeyboardInterrupt (in
    the main thread; DarknetInterruptedError elsewhere), one past its deadline
    DarknetTimeoutError, a failed allocation DarknetMemoryError."""
    if rc == 0:
        return
    message = f"{what}: {last_error(ffi, lib) or 'Darknet failed'}"
    failure = lib.pydn_last_failure()
    if failure == FAILED_INTERRUPT:
        _let_python_handle_sigint()
        raise DarknetInterruptedError(message)
    if failure == FAILED_TIMEOUT:
        raise DarknetTimeoutError(message)
    if failure == FAILED_MEMORY:
        raise DarknetMemoryError(message)
    raise exc(message)


def set_deadline(lib: Lib, deadline: float | None) -> None:
    """The next guarded call of this thread on ``lib`` stops at ``deadline``
    (:func:`time.monotonic` seconds; None: never): call it right before that call."""
    lib.pydn_set_deadline(0.0 if deadline is None else max(deadline, 1e-9))
