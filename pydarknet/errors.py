"""The pydarknet exception hierarchy.

Every class derives from :class:`DarknetError` and also from the built-in exception a
Python user would expect, so ``except FileNotFoundError`` or ``except ValueError`` work.
``pydarknet.MemoryError`` and ``pydarknet.TimeoutError`` are the classes
:class:`DarknetMemoryError` and :class:`DarknetTimeoutError`.
"""

from __future__ import annotations


class DarknetError(Exception):
    """Base class of all pydarknet errors (also raised for failures inside Darknet)."""


class DarknetFileNotFoundError(DarknetError, FileNotFoundError):
    """A cfg, weights, data, names or image path does not exist or is not a file."""


class DarknetValueError(DarknetError, ValueError):
    """An argument has the wrong type, shape or value."""


class DarknetTypeError(DarknetError, TypeError):
    """An argument of the wrong type (e.g. a path that is not a str or PathLike)."""


class CfgError(DarknetValueError):
    """A network configuration (.cfg) that Darknet cannot build, or would misread (one
    written for another Darknet fork).

    ``path``, ``line`` (1-based), ``section`` (its header, e.g. ``"[yolo]"``) and
    ``option`` say where the problem is; each is None where it does not apply."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        section: str | None = None,
        option: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path, self.line, self.section, self.option = path, line, section, option


class WeightsError(DarknetValueError):
    """A weights file that does not fit the network."""


class ImageError(DarknetValueError):
    """An image that cannot be decoded or converted."""


class ClosedError(DarknetError, ValueError):
    """An operation on a network that was already closed (like I/O on a closed file)."""


class DownloadError(DarknetError, OSError):
    """Model weights could not be downloaded or failed verification."""


class GPUError(DarknetError, RuntimeError):
    """A GPU was asked for, but this build has no CUDA or this machine no usable GPU."""


class DarknetMemoryError(DarknetError, MemoryError):
    """A network needs more memory than this process may use (estimated from its cfg
    before anything is allocated, see :mod:`pydarknet.cfg.budget`), or an allocation
    inside Darknet failed.  The process stays usable."""


class DarknetTimeoutError(DarknetError, TimeoutError):
    """A call with ``timeout=`` ran past it; the network stays usable."""


class DarknetInterruptedError(DarknetError, InterruptedError):
    """Work stopped by SIGINT (Ctrl-C) where Python raises no KeyboardInterrupt: in a
    thread other than the main one, or under a SIGINT handler that does not raise."""
