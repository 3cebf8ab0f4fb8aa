"""Winograd convolution (csrc/fast/winograd.c) computes what upstream's convolution
computes: every tile size the fast path picks (F(4x4,3x3), F(2x2,3x3)), outputs that are
not a multiple of the tile, the fused 2x2 maxpool, each activation.  Each tile size runs
in its own process (``PYDN_WINOGRAD`` is read once), compared with upstream's layers on
the same network, and with ``PYDN_WINOGRAD=0`` (im2col + sgemm) to show it ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from test_fast_cpu import needs_fast, toy_network

from pydarknet.cpu import kernels

# 3x3 stride-1 layers of >= 32 channels at 52x52 (fused pool), 26x26, 13x13 and 11x11.
WINO_CFG = """
[net]
batch=1
width=52
height=52
channels=3

[convolutional]
batch_normalize=1
filters=32
size=3
stride=1
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=48
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=64
size=3
stride=1
pad=1
activation=relu

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=40
size=3
stride=1
pad=1
activation=logistic

[convolutional]
filters=32
size=3
stride=1
pad=0
activation=linear

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=linear
"""

RUN = r"""
import json, sys
import cv2
import numpy as np
import pydarknet
from pydarknet import cpu
from pydarknet._lib import ffi, lib
from pydarknet.images import from_array

cfg, weights, image, out_path = sys.argv[1:]
im = from_array(cv2.imread(image))
net = pydarknet.load_net(cfg, weights)
kernels = cpu.layer_kernels(net)
outs = []
for restore in (False, True):
    out = np.empty(net.outputs, np.float32)
    with net.locked() as ptr:
        if restore:
            lib.pydn_fast_restore(ptr)
        assert lib.pydn_classify(ptr, im.cdata(), ffi.from_buffer("float[]", out), net.outputs) == 0
    outs.append(out)
np.save(out_path, np.stack(outs))
with open(out_path + ".json", "w") as f:  # what each layer ran (before the restore)
    json.dump(kernels, f)
"""


def run_modes(tmp_path: Path, dog: str, cfg: str, modes: dict[str, dict[str, str]],
              python: tuple[str, ...] = (sys.executable,)) -> dict:  # type: ignore[type-arg]  # fmt: skip
    """Each mode's [fast, upstream] outputs, each mode in its own process of ``python``
    (another build's: test_wheel_aarch64.py runs an aarch64 one under qemu); what each
    layer ran: ``ran(tmp_path, mode)``."""
    toy_network(tmp_path, cfg).close()
    results = {}
    for name, env in modes.items():
        out = tmp_path / f"{name}.npy"
        args = [str(tmp_path / "toy.cfg"), str(tmp_path / "toy.weights"), dog, str(out)]
        subprocess.run([*python, "-c", RUN, *args], check=True, timeout=300,
                       env={**os.environ, **env})  # fmt: skip
        results[name] = np.load(out)
    return results


def ran(tmp_path: Path, mode: str) -> list[str]:
    """``cpu.layer_kernels`` of the network that ran ``mode`` in ``run_modes``."""
    return json.loads((tmp_path / f"{mode}.npy.json").read_text())  # type: ignore[no-any-return]


@needs_fast
def test_winograd_computes_what_upstream_computes(tmp_path: Path, dog: str) -> None:
    # im2col, F(2x2), F(4x4), the default choice
    modes = {mode: {"PYDN_WINOGRAD": mode} for mode in ("0", "2", "4", "")}
    results = run_modes(tmp_path, dog, WINO_CFG, modes)
    upstream = results["0"][1]
    assert np.isfinite(upstream).all() and upstream.std() > 0.05
    for mode, (fast, up) in results.items():
        np.testing.assert_array_equal(up, upstream)  # upstream's layers, whatever the mode
        np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=2e-5, err_msg=mode)
    for mode in ("2", "4", ""):  # another algorithm ran: not the im2col result bit for bit
        winograd = any(k.startswith("winograd") for k in ran(tmp_path, mode))
        assert winograd == (mode != "" or kernels() != "portable"), mode  # portable: OpenBLAS
        assert not np.array_equal(results[mode][0], results["0"][0]) or not winograd, mode
