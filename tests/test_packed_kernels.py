"""The packed kernels of the fast path (csrc/fast/kernel.c) compute what upstream's
convolution computes: the GEMM kernel of the non-Winograd convolutions (1x1, strided,
first layers, filter counts that are no multiple of its 8-filter panels, widths that are
no multiple of its 48-pixel blocks, a fused 2x2 maxpool) and the Winograd kernel, each in
its AVX-512 version (where the CPU has it), its AVX2 version (``PYDN_KERNEL=avx2``) and
its portable loops (``PYDN_KERNEL=portable``: what other CPUs run), against upstream's
layers on the same network and against OpenBLAS's sgemm on the same weights
(``PYDN_GEMM=openblas``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from test_fast_cpu import needs_fast, toy_network
from test_winograd import WINO_CFG, run_modes

import pydarknet
from pydarknet._lib import ffi, lib
from pydarknet.images import from_array

# 61x61 input: outputs of 61, 31, 29 and 15 pixels a row.
GEMM_CFG = """
[net]
batch=1
width=62
height=62
channels=3

[convolutional]
batch_normalize=1
filters=13
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=75
size=1
stride=1
pad=0
activation=relu

[convolutional]
batch_normalize=1
filters=33
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters=40
size=3
stride=1
pad=0
activation=logistic

[convolutional]
filters=255
size=1
stride=1
pad=0
activation=linear
"""


@needs_fast
def test_gemm_kernels_compute_what_upstream_computes(tmp_path: Path, dog: str) -> None:
    modes = {
        "packed": {},
        "avx2": {"PYDN_KERNEL": "avx2"},  # the AVX2 versions (the portable GEMM kernel's)
        "portable": {"PYDN_KERNEL": "portable"},
        "openblas": {"PYDN_GEMM": "openblas"},
    }
    results = run_modes(tmp_path, dog, GEMM_CFG, modes)
    upstream = results["openblas"][1]
    assert np.isfinite(upstream).all() and upstream.std() > 0.05
    for mode, (fast, up) in results.items():
        np.testing.assert_array_equal(up, upstream)  # upstream's layers, whatever the mode
        np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=2e-5, err_msg=mode)
    # the packed kernels ran: not OpenBLAS's result bit for bit
    assert not np.array_equal(results["packed"][0], results["openblas"][0])
    assert not np.array_equal(results["portable"][0], results["openblas"][0])
    assert not np.array_equal(results["avx2"][0], results["openblas"][0])


@needs_fast
def test_winograd_kernels_agree(tmp_path: Path, dog: str) -> None:
    """The portable Winograd product gives upstream's result too, for each tile size."""
    modes = {f"{k}{m}": {"PYDN_WINOGRAD": m, **({"PYDN_KERNEL": "portable"} if k else {})}
             for k in ("", "portable") for m in ("2", "4")}  # fmt: skip
    results = run_modes(tmp_path, dog, WINO_CFG, modes)
    upstream = results["2"][1]
    for mode, (fast, _up) in results.items():
        np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=2e-5, err_msg=mode)


@needs_fast
def test_packed_weights_follow_weights_changed_in_place(tmp_path: Path, dog: str) -> None:
    """Weights read again into a loaded network (another file, same cfg) are folded and
    packed again before the next forward pass: the result is a fresh load's."""
    net = toy_network(tmp_path, GEMM_CFG)
    data = (tmp_path / "toy.weights").read_bytes()
    body = np.frombuffer(data[20:], np.float32) * np.float32(0.5)
    other = tmp_path / "other.weights"
    other.write_bytes(data[:20] + body.tobytes())
    im = from_array(cv2.imread(dog))

    def forward(n: pydarknet.Network) -> np.ndarray:
        out = np.empty(n.outputs, np.float32)
        with n.locked() as ptr:
            rc = lib.pydn_classify(ptr, im.cdata(), ffi.from_buffer("float[]", out), n.outputs)
        assert rc == 0
        return out

    first = forward(net)
    net._load_weights(str(other), False)
    second = forward(net)
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(second, forward(pydarknet.load_net(tmp_path / "toy.cfg", other)))
