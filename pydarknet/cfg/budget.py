"""What a network will cost before Darknet allocates it: memory and work per layer,
and the memory this process may use.

:func:`estimate` runs over the :class:`~pydarknet.cfg.shapes.LayerShape` list that
:mod:`pydarknet.cfg.check` computes; one entry of :data:`COSTS` per layer kind, a
function ``(layer, its input, batch) -> LayerCost``.  A layer kind without an entry
costs its output and delta buffers (``2 x batch x outputs`` floats) and one operation
per output, which is right for the element-wise layers.  A new layer kind (e.g. of
another cfg dialect) plugs in by adding its entry here, from the fields its parser
fills in (``weights``, ``size``, ``stride``, ``groups``, ``workspace``).

Memory counted (Darknet's CPU build, make_*_layer() in src/): every layer's output and
delta, batch norm's x / x_norm, maxpool's indexes, weights and their update buffers,
the network's input, the largest workspace (shared), and the copies our fast CPU path
keeps: weights packed for its kernels, or Winograd-transformed (4x the 3x3 weights).
Not counted: the fast path's per-thread scratch buffers (a layer's column block, a few
MiB) and thread stacks.  For yolov3-tiny at 416 the estimate is 337 MiB; loading it and
detecting once grew the RSS by 135 MiB and the address space by 372 MiB (2 threads).

:func:`check_budget` raises :class:`~pydarknet.errors.DarknetMemoryError` when the
estimate exceeds :func:`memory_limit`: the lowest of RLIMIT_AS and RLIMIT_DATA (minus
what the process already maps), the cgroup's memory.max (minus its usage) and the
memory available on the machine.  :func:`set_memory_limit` or the environment variable
``PYDARKNET_MEMORY_LIMIT`` (bytes, or with K/M/G/T; ``off`` disables the check) replace
that limit.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DarknetMemoryError, DarknetValueError
from .shapes import LayerShape, NetworkShape

__all__ = [
    "COSTS",
    "Estimate",
    "LayerCost",
    "check_budget",
    "estimate",
    "memory_limit",
    "set_memory_limit",
]

F = 4  # bytes per float
ENV = "PYDARKNET_MEMORY_LIMIT"


@dataclass(frozen=True)
class LayerCost:
    """One layer: bytes Darknet (and the fast path) allocate for it, not counting the
    shared workspace; operations of one forward pass; the largest window its loops run
    (0: none)."""

    bytes: int
    flops: int
    window: int = 0


def _buffers(s: LayerShape, batch: int, per_output: int = 2) -> int:
    return F * per_output * batch * s.outputs


def _conv(s: LayerShape, inp: LayerShape, batch: int) -> LayerCost:
    # output, delta, x, x_norm (batch norm); weights + updates; the fast path's copy:
    # Winograd F(4x4) for 3x3 stride-1 layers of >= 64 channels (36/9 of the weights),
    # else packed in blocks of 32 filters
    winograd = s.size == 3 and s.stride == 1 and inp.c >= 64 and s.groups == 1
    packed = 4 * s.weights if winograd else s.weights * (-(-s.c // 32) * 32) // max(s.c, 1)
    mem = _buffers(s, batch, 4) + F * (2 * s.weights + packed + 8 * s.c)
    return LayerCost(mem, 2 * batch * s.outputs * (inp.c // max(s.groups, 1)) * s.size**2, s.size)


def _deconv(s: LayerShape, inp: LayerShape, batch: int) -> LayerCost:
    mem = _buffers(s, batch, 4) + F * (2 * s.weights + 8 * s.c)
    return LayerCost(mem, 2 * batch * inp.w * inp.h * inp.c * s.c * s.size**2, s.size)


def _weighted(s: LayerShape, inp: LayerShape, batch: int) -> LayerCost:
    """connected, local, recurrent: a weight matrix (and its updates) applied once."""
    return LayerCost(_buffers(s, batch, 4) + F * 2 * s.weights, 2 * batch * s.weights, s.size)


def _maxpool(s: LayerShape, inp: LayerShape, batch: int) -> LayerCost:
    return LayerCost(_buffers(s, batch, 3), batch * s.outputs * s.size**2, s.size)


def _reads_input(s: LayerShape, inp: LayerShape, batch: int) -> LayerCost:
    """avgpool, softmax, ...: one pass over the input."""
    return LayerCost(_buffers(s, batch), batch * max(inp.outputs, s.outputs))


COSTS: dict[str, Callable[[LayerShape, LayerShape, int], LayerCost]] = {
    "convolutional": _conv,
    "deconvolutional": _deconv,
    "local": _weighted,
    "connected": _weighted,
    "rnn": _weighted,
    "gru": _weighted,
    "lstm": _weighted,
    "maxpool": _maxpool,
    "avgpool": _reads_input,
    "softmax": _reads_input,
}


def _default(s: LayerShape, inp: LayerShape, batch: int) -> LayerCost:
    return LayerCost(max(F * s.floats, _buffers(s, batch)), batch * s.outputs)


@dataclass(frozen=True)
class Estimate:
    """A network's costs: per layer, and in total (bytes include the network's input and
    the largest workspace)."""

    layers: tuple[LayerCost, ...]
    bytes: int
    flops: int


def estimate(net: NetworkShape) -> Estimate:
    """Memory and work of the network whose shapes :mod:`.check` computed."""
    prev = LayerShape("net", net.width, net.height, net.channels, net.inputs)
    costs = []
    for s in net.layers:
        costs.append(COSTS.get(s.kind, _default)(s, prev, net.batch))
        prev = s
    workspace = max((s.workspace for s in net.layers), default=0)
    total = sum(c.bytes for c in costs) + F * net.inputs * net.batch + workspace
    return Estimate(tuple(costs), total, sum(c.flops for c in costs))


# --- the limit ---------------------------------------------------------------------------

_override: int | None = None  # set_memory_limit(); -1: no check


def _parse_bytes(text: str, what: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    if t in ("OFF", "NONE", "INF"):
        return -1
    scale = 1
    if t and t[-1] in "KMGT":
        scale = 1024 ** ("KMGT".index(t[-1]) + 1)
        t = t[:-1]
    try:
        value = float(t) * scale
    except ValueError:
        raise DarknetValueError(f"{what}: {text!r} is not a size (e.g. 8G, 512M, off)") from None
    if not value > 0:
        raise DarknetValueError(f"{what}: {text!r} must be positive (or off)")
    return int(value)


def set_memory_limit(limit: int | str | None) -> None:
    """Replace the memory limit networks are checked against: bytes (or a string such
    as ``"8G"``), ``"off"`` for no check, None for the automatic limit again (which
    ``PYDARKNET_MEMORY_LIMIT`` overrides the same way)."""
    global _override
    if limit is None:
        _override = None
    elif isinstance(limit, str):
        _override = _parse_bytes(limit, "memory limit")
    elif isinstance(limit, int) and limit > 0:
        _override = limit
    else:
        raise DarknetValueError(f"memory limit must be positive bytes, a size or 'off': {limit!r}")


def _status_kib(key: str) -> int:
    """A ``VmSize``-like line of /proc/self/status, in bytes (0 when unknown)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cgroup_room() -> int | None:
    """memory.max minus memory.current of this process' cgroup (v2; v1's limit_in_bytes)."""
    try:
        rel = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in rel:
        hier, controllers, path = line.split(":", 2)
        base = Path("/sys/fs/cgroup")
        if hier == "0":  # v2
            files = (base / path.lstrip("/") / "memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            files = (base / "memory" / path.lstrip("/") / "memory.limit_in_bytes",
                     "memory.usage_in_bytes")  # fmt: skip
        else:
            continue
        try:
            text = files[0].read_text().strip()
            if text == "max" or int(text) >= 1 << 60:
                return None
            used = int((files[0].parent / files[1]).read_text().strip())
            return max(int(text) - used, 0)
        except (OSError, ValueError):
            return None
    return None


def _available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_limit() -> tuple[int, str]:
    """Bytes a new network may use in this process, and where that figure comes from
    (-1: no check)."""
    if _override is not None:
        return _override, "set_memory_limit()"
    env = os.environ.get(ENV)
    if env:
        return _parse_bytes(env, ENV), ENV
    found: list[tuple[int, str]] = []
    rlimits = ((resource.RLIMIT_AS, "RLIMIT_AS (ulimit -v)", "VmSize"),
               (resource.RLIMIT_DATA, "RLIMIT_DATA (ulimit -d)", "VmData"))  # fmt: skip
    for rlim, name, key in rlimits:
        soft = resource.getrlimit(rlim)[0]
        if soft != resource.RLIM_INFINITY:
            mapped = _status_kib(key)
            found.append((max(soft - mapped, 0), f"{name} {soft} bytes, {mapped} already mapped"))
    room = _cgroup_room()
    if room is not None:
        found.append((room, "the cgroup's memory.max less its usage"))
    available = _available()
    if available is not None:
        found.append((available, "the memory available on this machine (MemAvailable)"))
    return min(found) if found else (-1, "no limit known")


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def check_budget(name: str, net: NetworkShape) -> Estimate:
    """The network's :func:`estimate`; DarknetMemoryError when it exceeds the limit."""
    est = estimate(net)
    net.bytes_needed = est.bytes
    limit, source = memory_limit()
    if 0 <= limit < est.bytes:
        big = max(range(len(est.layers)), key=lambda i: est.layers[i].bytes)
        raise DarknetMemoryError(
            f"cfg file {name!r}: the network needs about {_gib(est.bytes)} "
            f"({est.bytes} bytes; layer {big} {net.layers[big].kind} "
            f"{_gib(est.layers[big].bytes)}), more than this process may use: "
            f"{_gib(limit)} ({limit} bytes, {source}).  Set {ENV} or call "
            "pydarknet.set_memory_limit() if you know better."
        )
    return est
