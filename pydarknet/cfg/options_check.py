"""Check every section's options against what Darknet 61c9d02e reads.

* A layer type, activation or option value of the AlexeyAB/hank-ai fork that changes the
  network's output there but that Darknet here ignores (or replaces by ReLU) raises a
  :class:`~pydarknet.errors.CfgError` naming the file, line, section and option: the
  cfg was written for that fork, and Darknet would silently compute something else.
* An activation nobody knows raises too: Darknet would silently use ReLU.
* Any other option Darknet does not read (a typo such as ``filtres=``), an option given
  twice (Darknet uses the first) or one without ``=value`` is logged as a WARNING on the
  ``pydarknet.cfg`` logger with file and line: Darknet's own "Unused field" message, but
  visible.  The fork's options that do not change detections are logged in one warning.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator, Mapping

from ..errors import CfgError
from . import forks
from .options import ACTIVATIONS, EVERY_LAYER, READ
from .parse import Option, Section
from .rules import KINDS

__all__ = ["check_options", "fork_errors", "log_unread", "logger", "unknown_activation"]

logger = logging.getLogger("pydarknet.cfg")

UPSTREAM = "Darknet 61c9d02e (pjreddie's, which pydarknet runs)"


def _where(name: str, sec: Section, index: int, line: int) -> str:
    layer = "" if index == 0 else f", layer {index - 1}"
    return f"cfg file {name!r}, line {line}{layer} {sec.header}"


def _error(name: str, sec: Section, index: int, option: Option | None, what: str) -> CfgError:
    line = sec.line if option is None else option.line
    shown = "" if option is None else f" {option.key}={option.value}:"
    return CfgError(
        f"{_where(name, sec, index, line)}:{shown} {what}",
        path=name,
        line=line,
        section=sec.header,
        option=None if option is None else option.key,
    )


def _first(sec: Section, key: str) -> Option | None:
    return next((option for option in sec.options if option.key == key), None)


def first_set(sec: Section, key: str) -> Option | None:
    """The first option named ``key`` if it has a value (else the default applies)."""
    option = _first(sec, key)
    return None if option is None or option.value is None else option


def _activation_error(name: str, sec: Section, index: int) -> tuple[bool, CfgError] | None:
    option = _first(sec, "activation")
    if option is None or option.value is None or option.value in ACTIVATIONS:
        return None
    fork = option.value in forks.ACTIVATIONS
    if fork:
        what = (
            f"this cfg was written for {forks.FORK}, which implements {option.value}; "
            f"{UPSTREAM} does not and would silently use ReLU instead, giving wrong results"
        )
    else:
        what = unknown_activation(option.value, ACTIVATIONS, "Darknet")
    return fork, _error(name, sec, index, option, what)


def unknown_activation(value: str, known: frozenset[str], reader: str) -> str:
    """What to say of an activation ``reader`` does not know (it would use ReLU)."""
    hint = ""
    if "#" in value:
        hint = " (Darknet keeps a '# comment' after a value as part of it)"
    elif "\r" in value:
        hint = " (Windows line endings? Darknet needs \\n only)"
    return (
        f"{reader} knows no activation {value!r}{hint} and would silently use "
        f"ReLU; it knows {', '.join(sorted(known))}"
    )


def _fork_rule_errors(name: str, sec: Section, index: int, kind: str) -> Iterator[CfgError]:
    for key, rule in forks.RULES.get(kind, {}).items():
        option = first_set(sec, key)
        if option is None:
            continue
        effect = rule(sec)
        if effect is not None:
            yield _error(
                name,
                sec,
                index,
                option,
                f"this cfg was written for {forks.FORK}, where {effect}; {UPSTREAM} ignores "
                "that, so the network would give wrong results",
            )


def fork_errors(name: str, sections: list[Section]) -> Iterator[tuple[bool, CfgError]]:
    """The CfgErrors of :func:`check_options`, in file order, each with whether it says
    the cfg was written for the fork (what ``dialect="auto"`` looks for)."""
    for index, sec in enumerate(sections):
        kind = "net" if index == 0 else KINDS.get(sec.header)
        if kind is None:
            if sec.header in forks.SECTIONS:
                what = f"{sec.header} is one of its layer types, which {UPSTREAM} lacks"
                yield (
                    True,
                    _error(
                        name, sec, index, None, f"this cfg was written for {forks.FORK}: {what}"
                    ),
                )
            continue
        if "activation" in READ[kind]:
            error = _activation_error(name, sec, index)
            if error is not None:
                yield error
        yield from ((True, e) for e in _fork_rule_errors(name, sec, index, kind))


def log_unread(
    name: str,
    sections: list[Section],
    kinds: Mapping[str, str],
    read: Mapping[str, frozenset[str]],
    every_layer: frozenset[str],
    reader: str,
    fork_keys: Callable[[str], frozenset[str]] = lambda kind: frozenset(),
) -> None:
    """Log options ``reader`` does not read (typos), gives again or without a value;
    ``fork_keys(kind)``: the fork's options ``reader`` ignores, logged in one warning."""
    notes: list[tuple[int, str]] = []  # (logging level, text)
    fork_ignored: dict[str, list[int]] = {}
    for index, sec in enumerate(sections):
        kind = "net" if index == 0 else kinds.get(sec.header)
        if kind is None:
            continue
        keys = read[kind] if kind == "net" else read[kind] | every_layer
        first: dict[str, int] = {}
        for option in sec.options:
            where = _where(name, sec, index, option.line)
            if option.key in first:
                # [net] often holds both of Darknet's "# Testing" and "# Training" batches
                level = logging.INFO if kind == "net" else logging.WARNING
                again = f"given again (line {first[option.key]} holds the one {reader} uses)"
                notes.append((level, f"{where}: {option.key} is {again}"))
                continue
            first[option.key] = option.line
            if option.key in keys:
                if option.value is None:
                    text = f"{where}: {option.key} has no '=value', so {reader} uses its default"
                    notes.append((logging.WARNING, text))
            elif option.key in fork_keys(kind):
                fork_ignored.setdefault(option.key, []).append(option.line)
            else:
                close = difflib.get_close_matches(option.key, sorted(keys), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                text = f"{where}: unknown option {option.key!r}{hint}, ignored by {reader}"
                notes.append((logging.WARNING, text + " (it prints 'Unused field')"))
    for level, text in notes:
        logger.log(level, "%s", text)
    if fork_ignored:
        listed = "; ".join(
            f"{key} (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})"
            for key, lines in fork_ignored.items()
        )
        logger.warning(
            "cfg file %r holds options of %s that %s ignores (settings for training, "
            "tracking or memory there): %s",
            name,
            forks.FORK,
            UPSTREAM,
            listed,
        )


def _fork_keys(kind: str) -> frozenset[str]:
    keys = forks.IGNORED.get(kind, frozenset()) | forks.RULES.get(kind, {}).keys()
    return keys if kind == "net" else keys | forks.IGNORED_EVERY_LAYER


def check_options(name: str, sections: list[Section]) -> None:
    """Raise CfgError for a cfg of the fork, log warnings for options Darknet ignores.

    ``sections[0]`` is the [net] section; sections of unknown types are skipped (the
    shape checker refuses them) unless they are the fork's."""
    for _is_fork, error in fork_errors(name, sections):
        raise error
    log_unread(name, sections, KINDS, READ, EVERY_LAYER, "Darknet", _fork_keys)
