"""Every exception pydarknet raises belongs to its hierarchy (pydarknet.DarknetError and
its subclasses, which also derive from the matching built-in: ValueError, OSError...).

Checked on the source: no ``raise`` of a built-in exception class anywhere in pydarknet/,
except an ImportError when the compiled extension cannot be loaded (or another
distribution wrote into the package's folder) and SystemExit in the command line.
Plus the place that raised a bare ValueError, at run time (test_drawing.py checks
pipelined's depth)."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

import pydarknet

PACKAGE = Path(__file__).resolve().parent.parent / "pydarknet"
ALLOWED = {
    # the extension cannot load, or another distribution wrote into our folder (_dist.py)
    "ImportError": ("_lib.py", "_wheel_libs.py", "_dist.py"),
    "SystemExit": ("cli*.py", "cli/*.py", "serve/command.py"),  # the command line
}


def builtin_raises(path: Path, root: Path = PACKAGE) -> list[str]:
    """``file:line name`` of each ``raise SomeBuiltinError(...)`` in a module under root."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        func = node.exc.func
        name = func.id if isinstance(func, ast.Name) else None
        kind = getattr(builtins, name, None) if name else None
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            continue
        rel = path.relative_to(root)
        if any(rel.match(pattern) for pattern in ALLOWED.get(name or "", ())):
            continue
        found.append(f"{rel}:{node.lineno} {name}")
    return found


def test_the_check_finds_builtin_raises(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text("def f(x):\n    if x:\n        raise ValueError('no')\n    raise E(1)\n")
    assert builtin_raises(module, tmp_path) == ["mod.py:3 ValueError"]


def test_no_builtin_exception_is_raised() -> None:
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in builtin_raises(path)]
    assert not found, "raise a pydarknet.errors class instead: " + ", ".join(found)


def test_detector_without_names_raises_darknet_value_error(tiny_cfg: str) -> None:
    with pytest.raises(pydarknet.DarknetValueError, match="needs names="):
        pydarknet.Detector(cfg=tiny_cfg)
