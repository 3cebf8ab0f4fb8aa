"""docs/API.md is generated from the docstrings and must match the installed package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pydarknet

REPO = Path(__file__).resolve().parent.parent


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_api_docs", REPO / "tools" / "gen_api_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_up_to_date() -> None:
    committed = (REPO / "docs" / "API.md").read_text()
    assert _generator().render() == committed, (
        "docs/API.md is out of date: pip install . && python tools/gen_api_docs.py"
    )


def test_api_reference_covers_every_public_name() -> None:
    text = _generator().render()
    for name in pydarknet.__all__:
        assert f"`pydarknet.{name}" in text, name
    for line in text.splitlines():  # no RST left over
        if not line.lstrip().startswith("```"):
            assert ":class:`" not in line and ":func:`" not in line and "``" not in line, line


def test_readme_and_migration_guide_link_up() -> None:
    readme = (REPO / "README.md").read_text()
    assert "docs/API.md" in readme and "docs/MIGRATING.md" in readme
    guide = (REPO / "docs" / "MIGRATING.md").read_text()
    for call in ("load_net", "detect_image", "readNetFromDarknet", "blobFromImage", "NMSBoxes"):
        assert call in guide, call
