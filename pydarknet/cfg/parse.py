"""Read a Darknet ``.cfg`` exactly as Darknet's ``read_cfg()`` does (src/parser.c).

This is the first step of the Python pre-parser (:mod:`pydarknet.cfg.check` runs it all):
it turns the file into sections with their ``key=value`` options using Darknet's own
rules (``fgetl``, ``strip``, ``read_option`` and ``atoi``), so that what the checker sees
is byte for byte what ``parse_network_cfg()`` would see.  Inputs that make Darknet's
reader itself crash (an option line before the first section, NUL bytes) are refused
here with a :class:`~pydarknet.errors.CfgError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import CfgError

__all__ = ["INT_MAX", "Option", "Section", "c_atof", "c_atoi", "read_cfg"]

INT_MAX = 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_ATOF = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:inf(?:inity)?|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?))",
    re.IGNORECASE,
)


def c_atoi(text: str) -> int:
    """glibc ``atoi``: ``(int) strtol(text, NULL, 10)``, with its saturation and wrap."""
    m = _ATOI.match(text)
    if not m:
        return 0
    value = min(max(int(m.group(1)), _LONG_MIN), _LONG_MAX)
    value &= 0xFFFFFFFF  # the (int) cast keeps the low 32 bits
    return value - 2**32 if value >= 2**31 else value


def c_atof(text: str) -> float:
    """glibc ``atof`` (``strtod``) on decimal text: the longest leading number, else 0."""
    m = _ATOF.match(text)
    if not m:
        return 0.0
    return float(m.group(1))


class Option(NamedTuple):
    """One ``key=value`` line (value None for a line without '=', as Darknet stores it)."""

    key: str
    value: str | None
    line: int


@dataclass
class Section:
    """One ``[type]`` section: its header as Darknet sees it and its options in order."""

    header: str
    line: int
    options: list[Option] = field(default_factory=list)

    def find(self, key: str) -> tuple[bool, str | None]:
        """``option_find``: (found, value) of the first option named ``key``.

        A line without '=' is stored by Darknet with a NULL value, so ``found`` can be
        true while the value is None."""
        for option in self.options:
            if option.key == key:
                return True, option.value
        return False, None

    def line_of(self, key: str | None) -> int:
        """The line of the first option named ``key``, else the section's own line."""
        for option in self.options:
            if option.key == key:
                return option.line
        return self.line

    def int(self, key: str, default: int) -> int:
        """``option_find_int``: the first value as ``atoi`` reads it, else ``default``."""
        _found, value = self.find(key)
        return default if value is None else c_atoi(value)

    def float(self, key: str, default: float) -> float:
        """``option_find_float``: the first value as ``atof`` reads it, else ``default``."""
        _found, value = self.find(key)
        return default if value is None else c_atof(value)

    def has(self, key: str) -> bool:
        return self.find(key)[1] is not None


def _strip(line: str) -> str:
    """utils.c ``strip``: drop every space, tab and newline (not '\\r')."""
    return line.replace(" ", "").replace("\t", "").replace("\n", "")


def _read_option(line: str) -> tuple[str, str | None] | None:
    """option_list.c ``read_option``: None where Darknet drops the line."""
    eq = line.find("=")
    if eq == -1:
        return line, None  # kept, with a NULL value
    if eq == len(line) - 1:
        return None  # "key=" : "could parse" message, line dropped
    return line[:eq], line[eq + 1 :]


def read_cfg(data: bytes, name: str) -> list[Section]:
    """Darknet's ``read_cfg`` on the bytes of a cfg file named ``name``."""
    if b"\0" in data:
        raise CfgError(
            f"cfg file {name!r} holds NUL bytes: binary data, not a Darknet cfg", path=name
        )
    text = data.decode("latin-1")  # byte for byte, as C sees it
    sections: list[Section] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        line = _strip(raw)
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            sections.append(Section(line, number))
            continue
        if not sections:
            raise CfgError(
                f"cfg file {name!r}, line {number}: {raw[:60]!r} comes before the first "
                "[section] (Darknet would crash on it)",
                path=name,
                line=number,
            )
        option = _read_option(line)
        if option is not None:
            sections[-1].options.append(Option(*option, number))
    if not sections:
        raise CfgError(f"cfg file {name!r} has no [sections]: not a Darknet cfg", path=name)
    return sections
