"""Darknet's own printing: silent by default, routed to the ``pydarknet.darknet``
logger by ``set_verbose(True)``; Darknet's failures become exceptions quoting it."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pydarknet
from pydarknet._lib import ffi, last_error, lib

TESTS = Path(__file__).resolve().parent


def test_api_is_silent_by_default(tiny_cfg: str, tiny_weights: str, dog: str, coco_names: str):  # type: ignore[no-untyped-def]
    code = (
        "import sys, pydarknet as pd\n"
        "net = pd.load_net(sys.argv[1], sys.argv[2])\n"
        "assert pd.detect(net, pd.load_meta(sys.argv[4]), sys.argv[3])\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, tiny_cfg, tiny_weights, dog, coco_names],
        cwd=TESTS, capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"" and res.stderr == b""


def test_set_verbose_routes_darknet_output_to_logging(tiny_cfg: str, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="pydarknet.darknet")
    pydarknet.set_verbose(True)
    try:
        pydarknet.load_net(tiny_cfg).close()
    finally:
        pydarknet.set_verbose(False)
    lines = [r.getMessage() for r in caplog.records if r.name == "pydarknet.darknet"]
    assert any(line.startswith("layer") and "filters" in line for line in lines)  # the table
    assert any("yolo" in line for line in lines)
    caplog.clear()
    pydarknet.load_net(tiny_cfg).close()  # quiet again
    assert not [r for r in caplog.records if r.name == "pydarknet.darknet"]


def test_darknet_error_becomes_an_error_code_with_its_words(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Bypassing the Python checks: Darknet's error() (parse_net_options) no longer ends
    the process, and the message quotes what Darknet said."""
    cfg = tmp_path / "noinput.cfg"
    cfg.write_text("[net]\n[convolutional]\nfilters=1\n")
    out = ffi.new("network **")
    assert lib.pydn_parse_network(str(cfg).encode(), out) == -1
    assert "No input parameters supplied" in last_error()
    missing = str(tmp_path / "missing.cfg").encode()
    assert lib.pydn_parse_network(missing, out) == -1  # file_error() -> exit(0), trapped
    assert "Couldn't open file" in last_error()
