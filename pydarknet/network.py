"""Owning wrappers: :class:`Network` (a loaded Darknet network) and :class:`Metadata`.

A Network frees its C memory in :meth:`Network.close` (idempotent), on leaving a
``with`` block, and when garbage collected.  Darknet layers keep per-call state, so
every use of one network is serialized by its lock; cffi releases the GIL during C
work, so other threads and other networks run meanwhile.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._lib import CData
from .backend import CPU_BACKEND, Backend, backend_for
from .cfg import check_cfg
from .device import Device, building_on, device_name, network_lock, resolve_device
from .errors import (
    CfgError,
    ClosedError,
    DarknetFileNotFoundError,
    DarknetTypeError,
    DarknetValueError,
    WeightsError,
)

__all__ = ["Metadata", "Network", "load_meta", "load_net"]

DIALECT_CODES = {"pjreddie": 0, "alexeyab": 1}  # csrc: pydn_parse_network_dialect()

PathLike = str | os.PathLike[str]


def existing_file(path: PathLike, what: str) -> str:
    """``path`` as str, or DarknetFileNotFoundError naming ``what``."""
    try:
        fspath = os.fspath(path)
    except TypeError:
        raise DarknetTypeError(f"{what}: expected a path, got {type(path).__name__}") from None
    fspath = os.fsdecode(fspath)
    if "\0" in fspath:
        raise DarknetValueError(f"{what}: {fspath!r} is not a usable path (NUL character)")
    if not os.path.exists(fspath):
        raise DarknetFileNotFoundError(f"{what} not found: {fspath!r}")
    if not os.path.isfile(fspath):
        raise DarknetFileNotFoundError(f"{what} is not a file: {fspath!r}")
    if not os.access(fspath, os.R_OK):
        raise DarknetFileNotFoundError(f"{what} is not readable: {fspath!r}")
    return fspath


class Network:
    """A Darknet network (``network *``) with its input size and class count.

    ``device`` picks where it runs (see :mod:`pydarknet.device`): None = a GPU when
    one can be used, "cpu", or "cuda:N" / N.  ``dialect`` whose darknet's semantics it
    has (:mod:`pydarknet.cfg.dialect`): "pjreddie", "alexeyab" (AlexeyAB's fork) or
    "auto" (the fork's where the cfg uses anything only the fork has); ``.dialect``
    says which it runs."""

    def __init__(
        self,
        cfg: PathLike,
        weights: PathLike | None = None,
        clear: int = 0,
        *,
        partial: bool = False,
        device: Device = None,
        dialect: str = "auto",
    ) -> None:
        self.backend: Backend = CPU_BACKEND  # the library that runs it, set below
        self._ptr = self.backend.ffi.NULL
        self.cfg = existing_file(cfg, "cfg file")
        self.weights = None if weights is None else existing_file(weights, "weights file")
        self.shape = check_cfg(self.cfg, dialect)  # refuse what the C parser would crash on
        self.dialect: str = self.shape.dialect
        self.gpu: int = resolve_device(device)  # -1: the CPU
        self.backend = backend_for(self.gpu)
        self._ptr = self.backend.ffi.NULL
        self.device: str = device_name(self.gpu)
        self._lock = network_lock(self.gpu)
        with building_on(self.gpu):  # Darknet's gpu_index, read by parse and load
            self._build(partial)

    def _build(self, partial: bool) -> None:
        ffi, lib = self.backend.ffi, self.backend.lib
        out = ffi.new("network **")
        path = os.fsencode(self.cfg)
        if self.dialect == "pjreddie":
            rc = lib.pydn_parse_network(path, out)
        else:
            rc = lib.pydn_parse_network_dialect(path, DIALECT_CODES[self.dialect], out)
        self.backend.check(rc, f"cannot build a network from {self.cfg!r}", CfgError)
        self._ptr = out[0]
        net = self._ptr
        self.width: int = net.w
        self.height: int = net.h
        self.channels: int = net.c
        self.outputs: int = net.outputs
        self.classes: int = lib.pydn_output_classes(net)
        self.weights_floats: int = lib.pydn_weights_floats(net)
        if self.weights is not None:
            try:
                self._load_weights(self.weights, partial)
            except BaseException:
                self.close()
                raise

    def _load_weights(self, path: str, partial: bool) -> None:
        expected = weights_header_bytes(path) + 4 * self.weights_floats
        size = os.path.getsize(path)
        if size != expected and not (partial and size < expected):
            raise WeightsError(
                f"weights file {path!r} has {size} bytes but {self.cfg!r} needs {expected}"
                + ("" if partial else " (pass partial=True to load a prefix on purpose)")
            )
        rc = self.backend.lib.pydn_load_weights(self._ptr, os.fsencode(path))
        self.backend.check(rc, f"cannot load {path!r}", WeightsError)

    @property
    def closed(self) -> bool:
        return bool(self._ptr == self.backend.ffi.NULL)

    @contextmanager
    def locked(self) -> Iterator[CData]:
        """Hold the network's lock and yield its ``network *`` (ClosedError if closed)."""
        with self._lock:
            if self._ptr == self.backend.ffi.NULL:
                raise ClosedError(f"network {self.cfg!r} is closed")
            yield self._ptr

    def close(self) -> None:
        """Free the network's memory.  Safe to call more than once."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            ptr, self._ptr = self._ptr, self.backend.ffi.NULL
            if ptr != self.backend.ffi.NULL:
                self.backend.lib.pydn_free_network(ptr)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.width}x{self.height}, {self.classes} classes"
        state += f", {self.device}"
        return f"<pydarknet.Network {self.cfg!r} {state}>"


def weights_header_bytes(path: str) -> int:
    """Size of a weights file's header (src/parser.c load_weights_upto)."""
    with open(path, "rb") as f:
        head = f.read(12)
    if len(head) < 12:
        raise WeightsError(f"weights file {path!r} is too short to hold a Darknet header")
    major, minor, _revision = struct.unpack("<3i", head)
    tens = (major * 10 + minor + 2**31) % 2**32 - 2**31  # C int arithmetic wraps
    wide_seen = tens >= 2 and major < 1000 and minor < 1000
    return 12 + (8 if wide_seen else 4)


def load_net(
    cfg: PathLike,
    weights: PathLike | None = None,
    clear: int = 0,
    *,
    partial: bool = False,
    gpu: int | None = None,
    device: Device = None,
    dialect: str = "auto",
) -> Network:
    """Load a network from a ``.cfg`` and (optionally) a ``.weights`` file.

    The weights file must hold exactly what the network needs; ``partial=True`` allows
    a shorter file (Darknet then loads the layers it holds, e.g. a backbone).
    ``gpu`` is Darknet's ``-i N`` (-1: CPU, like ``-nogpu``); ``device`` takes "cpu",
    "cuda:N", N or None (see :mod:`pydarknet.device`).  Both None: a GPU when this
    build and machine have one, else the CPU.  ``dialect``: "auto", "pjreddie" or
    "alexeyab", whose darknet the cfg and weights are for (see :class:`Network`)."""
    return Network(
        cfg, weights, clear, partial=partial, device=resolve_device(device, gpu), dialect=dialect
    )


@dataclass(frozen=True)
class Metadata:
    """Class names of a model (Darknet's ``metadata``)."""

    classes: int
    names: tuple[str, ...]


def _read_names(path: str) -> tuple[str, ...]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return tuple(line.rstrip("\r\n") for line in f)


def _parse_data(path: str) -> dict[str, str]:
    """Darknet's read_data_cfg(): ``key=value`` lines, '#' and ';' comments."""
    options: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if "=" in line:
                key, value = line.split("=", 1)
                options[key.strip()] = value.strip()
    return options


def _resolve_names(names: str, data_file: str) -> str:
    folder = Path(data_file).resolve().parent
    for candidate in (Path(names), folder / names, folder.parent / names):
        if candidate.is_file():
            return str(candidate)
    raise DarknetFileNotFoundError(
        f"names file {names!r} named in {data_file!r} was not found in the working "
        f"directory, {str(folder)!r} or {str(folder.parent)!r}"
    )


def load_meta(path: PathLike) -> Metadata:
    """Class names from a Darknet ``.data`` file (its ``names=``) or a plain ``.names`` file."""
    fspath = existing_file(path, "data/names file")
    options = _parse_data(fspath)
    if "names" in options:
        names = _read_names(_resolve_names(options["names"], fspath))
        classes = options.get("classes")
        try:
            count = int(classes) if classes is not None else len(names)
        except ValueError:
            raise DarknetValueError(f"{fspath!r}: classes={classes!r} is not a number") from None
        if count > len(names):
            raise DarknetValueError(
                f"{fspath!r}: classes={count} but its names file has {len(names)} names"
            )
        return Metadata(count, names[:count])
    names = _read_names(fspath)
    return Metadata(len(names), names)
