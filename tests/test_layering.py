"""The package's imports run one way: no cycle, and no module imports from a higher layer.

Every ``import`` statement of every module in pydarknet/ counts, function-local and
``TYPE_CHECKING`` ones included (read with ``ast``, nothing is imported).  Run as a
script, this file prints the module graph, one module per line with what it imports.
"""

from __future__ import annotations

import ast
import fnmatch
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pydarknet"

#: The layers, lowest first; a module may import from its own layer or a lower one.
#: Patterns match the module name after ``pydarknet.`` (``cfg*`` matches a sub-package).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("errors", "_wheel_libs", "_dist", "pipeline")),
    ("raw C mirror", ("_lib", "backend")),
    ("owning wrappers", ("device", "network", "images", "models", "cfg*")),
    ("value types and drawing", ("results", "draw")),
    ("detection core", ("core",)),
    ("public functions", ("api", "cpu")),
    ("ONNX export", ("onnx", "onnx.*")),
    ("Detector", ("detector",)),
    ("workflows", ("folder", "video")),
    ("service", ("serve", "serve.*")),
    ("command line", ("cli", "cli.*")),
    ("package facade", ("",)),  # pydarknet/__init__.py: re-exports, imported by no module
)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted name -> file of every Python module under ``root`` (packages by __init__)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from . import network` imports the module
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return {m for m in found if m in known and m != name}


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def layer_of(module: str) -> int:
    short = module.partition(".")[2]
    for index, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(short, p) if p else short == "" for p in patterns):
            return index
    raise LookupError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def describe(edges: dict[str, set[str]]) -> str:
    """The graph as text, one module a line, by layer."""

    def key(m: str) -> tuple[int, str]:
        try:
            return layer_of(m), m
        except LookupError:
            return len(LAYERS), m

    lines = []
    for m in sorted(edges, key=key):
        short = lambda x: x.partition(".")[2] or "__init__"  # noqa: E731
        targets = ", ".join(sorted(map(short, edges[m]), key=lambda s: s))
        lines.append(f"{short(m):12s} -> {targets}")
    return "\n".join(lines)


def test_the_walk_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("def f():\n    from . import b\n    return b\n")
    (pkg / "b.py").write_text("from .sub.c import g\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("import pkg.a\ndef g(): ...\n")
    edges = graph(pkg)
    assert edges == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": set(),
        "pkg.sub.c": {"pkg.a"},
    }
    assert find_cycle(edges) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]


def test_no_import_cycle() -> None:
    edges = graph()
    assert len(edges) > 10  # the package was found
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_respect_the_layers() -> None:
    wrong = [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, targets in graph().items()
        for b in sorted(targets)
        if layer_of(b) > layer_of(a)
    ]
    assert not wrong, "imports from a higher layer:\n" + "\n".join(wrong)


def test_tests_never_import_benchmarks() -> None:
    """Test code lives in tests/ (helpers in tests/helpers/); benchmarks may use tests'
    helpers, never the other way round."""
    tests = PACKAGE.parent / "tests"
    scripts = {p.stem for p in (PACKAGE.parent / "benchmarks").glob("*.py")}
    wrong = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            wrong += [f"{path.name}: {n}" for n in names if n.split(".")[0] in scripts]
            if (  # sys.path.insert(..., ".../benchmarks") or .append(...)
                isinstance(node, ast.Call)
                and ast.unparse(node.func) in ("sys.path.insert", "sys.path.append")
                and "benchmarks" in ast.unparse(node)
            ):
                wrong.append(f"{path.name}:{node.lineno}: puts benchmarks/ on sys.path")
    assert not wrong, wrong


if __name__ == "__main__":
    sys.stdout.write(describe(graph()) + "\n")
