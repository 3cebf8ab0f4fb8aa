"""The installed distribution: its version, and who else wrote into its folder.

The version has one source, ``pyproject.toml``; the installed package reads it from its
metadata.  Other projects have shipped a module named ``pydarknet`` too (yolo34py's
extension, wbia-pydarknet's package): installed into the same site-packages, pip lets the
last one overwrite the other's files, and what is imported is a mix.  :func:`check_folder`
finds files in this package's folder that another distribution's RECORD claims and says
which one, instead of failing later on a missing name.
"""

from __future__ import annotations

import csv
import importlib.metadata
import warnings
from pathlib import Path

__all__ = ["check_folder", "installed_version"]

NAME = "pydarknet"
FOLDER = Path(__file__).resolve().parent


def installed_version() -> str:
    """This distribution's version from its metadata ("0+unknown" when not installed)."""
    try:
        return importlib.metadata.version(NAME)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _own_files() -> set[str] | None:
    """Top-level names in our folder that our RECORD lists; None when there is no RECORD
    for this folder (a source checkout, an editable or a build-folder install)."""
    try:
        dist = importlib.metadata.distribution(NAME)
    except importlib.metadata.PackageNotFoundError:
        return None
    files = dist.files or []
    if not any(Path(str(dist.locate_file(f))).resolve() == FOLDER / "__init__.py" for f in files
               if f.name == "__init__.py"):  # fmt: skip
        return None  # the metadata found is another install's
    prefix = f"{NAME}/"
    return {str(f)[len(prefix) :].split("/")[0] for f in files if str(f).startswith(prefix)}


def _owners(names: set[str]) -> dict[str, list[str]]:
    """Distributions in our site-packages whose RECORD lists ``pydarknet/<name>`` or a
    top-level ``pydarknet.*`` module: {distribution: [paths]}."""
    found: dict[str, list[str]] = {}
    for info in FOLDER.parent.glob("*.dist-info"):
        record = info / "RECORD"
        meta = info / "METADATA"
        if not record.is_file() or not meta.is_file():
            continue
        dist = importlib.metadata.PathDistribution(info)
        if (dist.metadata["Name"] or "").lower().replace("_", "-") == NAME:
            continue
        with open(record, newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.reader(f):
                path = row[0] if row else ""
                top = path.split("/")[0]
                inside = top == NAME and len(path.split("/")) > 1 and path.split("/")[1] in names
                if inside or (top.startswith(f"{NAME}.") and top != f"{NAME}.pth"):
                    found.setdefault(f"{dist.metadata['Name']} {dist.version}", []).append(path)
    return found


def check_folder() -> None:
    """ImportError when another distribution wrote into this package's folder; a
    warning when one installs a ``pydarknet`` module beside it (shadowed by this one)."""
    own = _own_files()
    if own is None:
        return
    extra = {p.name for p in FOLDER.iterdir() if p.name != "__pycache__"} - own
    sibling = [p.name for p in FOLDER.parent.glob(f"{NAME}.*") if p.is_file()]
    if not extra and not sibling:
        return  # the usual case: two directory listings and one RECORD read
    owners = _owners(extra)
    inside = {d: ps for d, ps in owners.items() if any(p.startswith(f"{NAME}/") for p in ps)}
    if inside:
        who = "; ".join(f"{d} ({', '.join(ps[:3])}{', ...' if len(ps) > 3 else ''})"
                        for d, ps in inside.items())  # fmt: skip
        names = " ".join(d.split()[0] for d in inside)
        raise ImportError(
            f"the folder {FOLDER} holds files of another distribution that also installs a "
            f"module named 'pydarknet': {who}. The two overwrite each other. Uninstall "
            f"both and reinstall this one: pip uninstall {names} pydarknet && "
            "pip install pydarknet"
        )
    if owners:
        warnings.warn(
            f"{', '.join(owners)} also installs a module named 'pydarknet' into "
            f"{FOLDER.parent}; this package hides it.",
            RuntimeWarning,
            stacklevel=2,
        )


check_folder()  # at import, before any module of a mixed folder fails on its own
