"""Which darknet's semantics a cfg is checked (and run) with: its dialect.

* ``"pjreddie"``: Darknet 61c9d02e, which pydarknet runs by default; a cfg written for
  the AlexeyAB/hank-ai fork is refused (:func:`.options_check.check_options`).
* ``"alexeyab"``: AlexeyAB's darknet at 59596d78 (:mod:`.fork_options`,
  :mod:`.fork_layers`); its layers other than those of the YOLOv4 and YOLOv7 families
  (recurrent, training-only, classifier layers), and options whose effect pydarknet
  does not reproduce, are refused with a CfgError naming them.
* ``"auto"``: ``"alexeyab"`` when the cfg holds anything only the fork has (what
  ``"pjreddie"`` refuses as written for the fork), else ``"pjreddie"``.
"""

from __future__ import annotations

from ..errors import CfgError, DarknetValueError
from . import fork_options as fork
from .options_check import first_set, fork_errors, log_unread, unknown_activation
from .parse import Section

__all__ = ["DIALECTS", "FORK_NAME", "check_fork_options", "resolve_dialect"]

DIALECTS = ("auto", "pjreddie", "alexeyab")
FORK_NAME = "AlexeyAB's darknet (59596d78)"


def resolve_dialect(dialect: str, name: str, sections: list[Section]) -> str:
    """``dialect`` itself, or for "auto" the one the cfg was written for."""
    if dialect not in DIALECTS:
        raise DarknetValueError(f"dialect={dialect!r} is none of {', '.join(map(repr, DIALECTS))}")
    if dialect != "auto":
        return dialect
    forked = any(is_fork for is_fork, _error in fork_errors(name, sections))
    return "alexeyab" if forked else "pjreddie"


def _fail(name: str, sec: Section, index: int, option: str | None, what: str) -> CfgError:
    line = sec.line_of(option)
    shown = "" if option is None else f" {option}={sec.find(option)[1]}:"
    return CfgError(
        f"cfg file {name!r}, line {line}, layer {index - 1} {sec.header}:{shown} {what}",
        path=name,
        line=line,
        section=sec.header,
        option=option,
    )


def check_fork_options(name: str, sections: list[Section]) -> None:
    """Refuse what pydarknet cannot run of the fork's cfg, log the options the fork
    ignores (typos) as :func:`.options_check.check_options` does for Darknet."""
    for index, sec in enumerate(sections[1:], start=1):
        kind = fork.KINDS.get(sec.header)
        if kind is None:
            continue  # the shape checker names the unknown section
        if kind not in fork.RUNS:
            raise _fail(
                name, sec, index, None,
                f"pydarknet does not run the {sec.header} layers of {FORK_NAME}; "
                "dialect='alexeyab' runs those of the YOLOv4 and YOLOv7 families: "
                f"{', '.join(sorted(h for h, k in fork.KINDS.items() if k in fork.RUNS))}",
            )  # fmt: skip
        activation = first_set(sec, "activation")
        if activation and "activation" in fork.READ[kind]:
            value = activation.value or ""
            if value not in fork.ACTIVATIONS:
                what = unknown_activation(value, fork.ACTIVATIONS, FORK_NAME)
                raise _fail(name, sec, index, "activation", what)
            if value in fork.UNSUPPORTED_ACTIVATIONS:
                what = f"pydarknet does not implement the fork's {value} activation"
                raise _fail(name, sec, index, "activation", what)
        for key, rule in fork.UNSUPPORTED.get(kind, {}).items():
            effect = rule(sec) if first_set(sec, key) else None
            if effect is not None:
                raise _fail(name, sec, index, key, f"pydarknet does not implement {effect}")
    log_unread(name, sections, fork.KINDS, fork.READ, fork.EVERY_LAYER, FORK_NAME)
