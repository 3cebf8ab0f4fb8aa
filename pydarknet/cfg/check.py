"""Validate a Darknet ``.cfg`` in Python before Darknet's C parser sees it.

Darknet's ``parse_network_cfg()`` (src/parser.c) trusts its input: a negative filter
count, a route to a layer that does not exist or a ``[yolo]`` mask beyond its anchors
make it (or the first forward pass) write out of bounds, divide by zero or call exit().
:func:`check_cfg` walks the sections the way the C parser does, computes every layer's
output shape with Darknet's own formulas and refuses, with a :class:`CfgError` naming
the file, line, layer and option, anything that would not build into a network that can
run a forward pass safely.  What it accepts, Darknet builds to the same shapes (the
tests compare both on Darknet's own cfg files).  Before that,
:func:`~pydarknet.cfg.options_check.check_options` refuses cfgs written for the
AlexeyAB/hank-ai fork, which Darknet would misread, and logs options it ignores.
"""

from __future__ import annotations

from ..errors import CfgError
from . import fork_layers, fork_options, layers
from .budget import check_budget
from .dialect import FORK_NAME, check_fork_options, resolve_dialect
from .options_check import check_options
from .parse import INT_MAX, Section, read_cfg
from .rules import KINDS, LayerRules
from .shapes import LayerShape, NetworkShape

__all__ = ["LayerShape", "NetworkShape", "check_cfg", "check_cfg_bytes"]

MAX_SIDE = 16384  # input width/height: keeps Darknet's int products (letterbox) in range
MAX_CHANNELS = 4096
DETECTORS = ("yolo", "region", "detection")


_NET = ("[net]", "[network]")


def _net(name: str, sec: Section) -> NetworkShape:
    """parse_net_options(): the [net] section."""

    def fail(what: str, option: str | None = None) -> CfgError:
        line = sec.line_of(option)
        return CfgError(
            f"cfg file {name!r}, line {line}, {sec.header}: {what}",
            path=name,
            line=line,
            section=sec.header,
            option=option,
        )

    def get(key: str, default: int, low: int, high: int = INT_MAX) -> int:
        v = sec.int(key, default)
        if not low <= v <= high:
            raise fail(f"{key}={v} must be within {low}..{high}", key)
        return v

    subdivisions = get("subdivisions", 1, 1)
    batch = get("batch", 1, subdivisions)  # Darknet's batch is batch/subdivisions
    steps = get("time_steps", 1, 1)
    w, h = get("width", 0, 0, MAX_SIDE), get("height", 0, 0, MAX_SIDE)
    c = get("channels", 0, 0, MAX_CHANNELS)
    if w * h * c > INT_MAX:
        raise fail(f"a {w}x{h}x{c} input is too large for Darknet")
    inputs = get("inputs", w * h * c, 0)
    if not inputs:
        raise fail("needs width=, height= and channels= (or inputs=)")
    if batch // subdivisions * steps * inputs > INT_MAX:
        raise fail("batch= x inputs is too large for Darknet")
    if (sec.find("policy")[1] or "constant") == "steps":
        steps_s, scales_s = sec.find("steps")[1], sec.find("scales")[1]
        if steps_s is None or scales_s is None or scales_s.count(",") < steps_s.count(","):
            raise fail("policy=steps needs steps= and as many scales=", "policy")
    return NetworkShape(w, h, c, inputs, batch // subdivisions * steps, steps)


def _check_detectors(name: str, layers: list[LayerShape], sections: list[Section]) -> None:
    """get_network_boxes() sizes every box by the LAST layer's classes (and coords)."""
    last = layers[-1]
    for i, (ly, sec) in enumerate(zip(layers, sections, strict=True)):
        if ly.kind in DETECTORS and (
            ly.classes > last.classes or (ly.coords > 4 and ly.coords > last.coords)
        ):
            raise CfgError(
                f"cfg file {name!r}: [{ly.kind}] layer {i} has classes={ly.classes} but the "
                f"last layer ({last.kind}) has {last.classes}; Darknet sizes detections by the "
                "last layer, so detection layers must agree (and come last)",
                path=name,
                line=sec.line_of("classes"),
                section=sec.header,
                option="classes",
            )


def check_cfg_bytes(data: bytes, name: str = "<cfg>", dialect: str = "auto") -> NetworkShape:
    """Check the text of a cfg; return the shapes Darknet will build, or raise CfgError.

    ``dialect`` (:mod:`.dialect`): "pjreddie" checks it as Darknet 61c9d02e reads it,
    "alexeyab" as AlexeyAB's darknet does, "auto" picks "alexeyab" for a cfg that holds
    anything only the fork has; the result's ``dialect`` says which."""
    sections = read_cfg(data, name)
    first = sections[0]
    if first.header not in _NET:
        raise CfgError(
            f"cfg file {name!r}: the first section is {first.header!r} (line {first.line}); "
            "it must be [net] or [network]",
            path=name,
            line=first.line,
            section=first.header,
        )
    dialect = resolve_dialect(dialect, name, sections)
    if dialect == "alexeyab":
        check_fork_options(name, sections)
        kinds, parsers, reader = fork_options.KINDS, fork_layers.PARSERS, FORK_NAME
    else:
        check_options(name, sections)
        kinds, parsers, reader = KINDS, layers.PARSERS, "Darknet"
    if len(sections) < 2:
        raise CfgError(f"cfg file {name!r} has a [net] section but no layers", path=name)
    net = _net(name, first)
    net.dialect = dialect
    if dialect == "alexeyab":  # parse_network_cfg_custom(cfg, 1, 1), as its detector
        net.letter_box, net.batch = first.int("letter_box", 0), net.time_steps
    prev = LayerShape("net", net.width, net.height, net.channels, net.inputs)
    for index, sec in enumerate(sections[1:]):
        kind = kinds.get(sec.header)
        if kind is None:
            hint = " (Windows line endings? Darknet needs \\n only)" if "\r" in sec.header else ""
            known = sorted({k for k in kinds if k not in ("[conv]",)})
            raise CfgError(
                f"cfg file {name!r}, line {sec.line}: unknown section {sec.header!r}{hint}; "
                f"{reader} knows {', '.join(known)} and [net] first",
                path=name,
                line=sec.line,
                section=sec.header,
            )
        prev = parsers[kind](LayerRules(name, sec, index, prev, net))
        net.layers.append(prev)
    if all(ly.kind == "cost" for ly in net.layers):
        raise CfgError(f"cfg file {name!r} has only [cost] layers: no output layer", path=name)
    _check_detectors(name, net.layers, sections[1:])
    check_budget(name, net)  # sets net.bytes_needed; DarknetMemoryError beyond the limit
    return net


def check_cfg(path: str, dialect: str = "auto") -> NetworkShape:
    """:func:`check_cfg_bytes` on a file (which must exist and be readable)."""
    with open(path, "rb") as f:
        return check_cfg_bytes(f.read(), path, dialect)
