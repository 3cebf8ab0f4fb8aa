"""Every function and variable declared to cffi (csrc/cdef/*.h) has a caller in the
package or its tests: ``lib.<name>`` somewhere in pydarknet/ or tests/.  A declaration
nobody calls is C compiled into the shipped library for nothing."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CDEF = REPO / "csrc" / "cdef"


def declared_names(text: str) -> set[str]:
    """Names of the functions (``extern "Python"`` ones too) and variables a cdef declares;
    typedefs (structs, enums, function pointer types) are not entry points."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"typedef\s+(struct|enum)\b[^{;]*\{.*?\}[^;]*;", " ", text, flags=re.S)
    text = re.sub(r"typedef\b[^;]*;", " ", text)
    names = set()
    for stmt in text.split(";"):
        stmt = " ".join(stmt.split())
        if m := re.match(r'(?:extern "Python" )?[\w ]+?[\s*]+(\w+) ?\(', stmt):
            names.add(m.group(1))
        elif m := re.match(r"extern [\w ]+?[\s*]+(\w+)$", stmt):
            names.add(m.group(1))
    return names


def callers_text() -> str:
    files = [*(REPO / "pydarknet").rglob("*.py"), *(REPO / "tests").rglob("*.py")]
    return "\n".join(p.read_text(encoding="utf-8") for p in files if p != Path(__file__))


def test_the_parser_finds_declarations() -> None:
    text = """/* int commented_out(void); */
typedef struct { int n; float *p; } pydn_thing;
typedef enum { A, B } kind;
typedef void (*pydn_fn)(int level, const char *line);
const char *pydn_text(void);
int pydn_many(network *net, const pydn_thing *ims, int n,
              double *seconds);
extern "Python" void pydn_callback(int level, const char *line);
extern int some_global;
"""
    assert declared_names(text) == {"pydn_text", "pydn_many", "pydn_callback", "some_global"}


def test_every_cffi_declaration_has_a_caller() -> None:
    names = set().union(*(declared_names(p.read_text()) for p in sorted(CDEF.glob("*.h"))))
    assert {"pydn_detect_u8", "pydn_python_log", "pydn_free_network"} <= names
    text = callers_text()
    unused = sorted(n for n in names if not re.search(rf"\blib\.{n}\b", text))
    assert not unused, f"declared in csrc/cdef/ but never called as lib.<name>: {unused}"
