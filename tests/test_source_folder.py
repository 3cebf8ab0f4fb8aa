"""Importing pydarknet from its source folder (no compiled extension there) fails with a
message that says so and what to do, instead of a bare "No module named _darknet"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_importing_the_source_folder_says_what_to_do() -> None:
    # -S: no site-packages, so no installed or editable pydarknet can answer instead;
    # Python puts the current folder (the checkout) first on sys.path.
    res = subprocess.run(
        [sys.executable, "-S", "-c", "import pydarknet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: this is pydarknet's source folder"), last
    assert str(REPO / "pydarknet") in last
    assert "pip install -e" in last and "docs/CONTRIBUTING.md" in last
