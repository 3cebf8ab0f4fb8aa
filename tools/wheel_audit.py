"""``auditwheel show`` for a wheel that links libraries of other wheels.

    python tools/wheel_audit.py WHEEL [--exclude SONAME ...] [--max-glibc 2.28]

``auditwheel show`` cannot be told that a library comes from another wheel (the
``--exclude`` of ``auditwheel repair``): it counts scipy-openblas32's or NVIDIA's
libraries as outside ones and answers "linux_x86_64".  This runs auditwheel's own
analysis (the one ``show`` prints) with those libraries excluded, prints the platform
tag it finds and the symbol versions the wheel needs, and fails unless the tag is a
manylinux one no newer than ``--max-glibc``.  Runs in build_wheels.py's tools
environment (it needs auditwheel).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auditwheel.wheel_abi import analyze_wheel_abi
from auditwheel.wheeltools import get_wheel_architecture, get_wheel_libc


def audit(wheel: Path, exclude: list[str]) -> tuple[str, dict[str, set[str]], list[str]]:
    """(platform tag, {library: symbol versions}, libraries left outside) of ``wheel``."""
    info = analyze_wheel_abi(
        get_wheel_libc(wheel.name),
        get_wheel_architecture(wheel.name),
        wheel,
        frozenset(exclude),
        disable_isa_ext_check=False,
        allow_graft=False,
    )
    # what keeps it from the most compatible manylinux tag: libraries not allowed there
    lowest = min((n for n in info.external_refs if n.startswith("manylinux_")), key=glibc_of)
    outside = sorted(info.external_refs[lowest].libs)
    return info.overall_policy.name, info.versioned_symbols, outside


def glibc_of(tag: str) -> tuple[int, int] | None:
    """(2, 28) for manylinux_2_28_x86_64; None for linux_*."""
    parts = tag.split("_")
    if parts[0] != "manylinux" or not parts[1].isdigit():
        return None
    return int(parts[1]), int(parts[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--exclude", action="append", default=[], help="a soname (repeatable)")
    parser.add_argument("--max-glibc", default="2.28")
    args = parser.parse_args(argv)
    tag, symbols, outside = audit(args.wheel, args.exclude)
    print(f'{args.wheel.name} is consistent with the following platform tag: "{tag}"')
    for lib, versions in sorted(symbols.items()):
        print(f"  {lib}: {', '.join(sorted(versions))}")
    if args.exclude:
        print(f"  from other wheels (excluded): {', '.join(args.exclude)}")
    found = glibc_of(tag)
    limit = tuple(int(v) for v in args.max_glibc.split("."))
    if found is None or found > limit:
        print(f"not a manylinux tag for glibc <= {args.max_glibc}; outside libraries: {outside}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
