"""Which library runs a network (pydarknet.backend), and the one version.

The CUDA plugin's own checks need it installed: tests/test_wheels.py builds it where
nvcc exists; docs/gpu.md describes it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pydarknet
from pydarknet import _lib
from pydarknet.backend import CPU_BACKEND, PLUGIN, backend_for, gpu_backend

REPO = Path(__file__).resolve().parent.parent
no_gpu_build = pytest.mark.skipif(
    CPU_BACKEND.gpu_build or importlib.util.find_spec(PLUGIN) is not None,
    reason="a GPU build or the CUDA plugin is installed",
)


def test_cpu_networks_run_on_pydarknets_own_library(tiny_cfg: str) -> None:
    with pydarknet.load_net(tiny_cfg, device="cpu") as net:
        assert net.backend is CPU_BACKEND and net.backend.lib is _lib.lib
    assert backend_for(-1) is CPU_BACKEND


@no_gpu_build
def test_without_plugin_the_reason_names_the_extra(tiny_cfg: str) -> None:
    backend, problem = gpu_backend()
    assert backend is None and 'pip install "pydarknet[cu13]"' in problem
    with pytest.raises(pydarknet.GPUError, match=re.escape("pydarknet[cu13]")):
        pydarknet.load_net(tiny_cfg, device="cuda:0")
    with pytest.raises(pydarknet.DarknetError, match="no GPU build"):
        backend_for(0)


def test_version_comes_from_the_metadata_of_pyproject() -> None:
    version = re.search(r'(?m)^version = "(.+)"', (REPO / "pyproject.toml").read_text())
    assert version is not None
    assert pydarknet.__version__ == importlib.metadata.version("pydarknet") == version[1]
    res = subprocess.run([sys.executable, "-m", "pydarknet.cli", "--version"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert res.stdout.strip() == f"pydarknet {version[1]}"
