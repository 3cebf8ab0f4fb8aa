"""At least 30 distinct bad inputs, each in its own interpreter: every one must raise a
pydarknet exception (never crash, exit or abort), and a correct detection must follow in
the same process.  The cases are in tests/helpers/bad_inputs.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.bad_inputs import CASES, SCRIPT

TESTS = Path(__file__).resolve().parent


def test_there_are_enough_distinct_cases() -> None:
    assert len(CASES) >= 30
    assert len({code for code, _exc in CASES.values()}) == len(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_then_detection_works(
    case: str, tiny_cfg: str, tiny_weights: str, dog: str, coco_names: str
) -> None:
    exc = CASES[case][1]
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, tiny_cfg, tiny_weights, dog, coco_names, case, exc],
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    report = f"rc={res.returncode}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    assert res.returncode == 0, report
    assert "RAISED" in res.stdout and "DETECTED" in res.stdout, report
