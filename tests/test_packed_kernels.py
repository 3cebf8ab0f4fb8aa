"""The packed kernels of the fast path (csrc/fast/kernel.c, csrc/fast/arch/) compute what
upstream's convolution computes: the GEMM kernel of the non-Winograd convolutions (1x1,
strided, first layers, filter counts that are no multiple of its 8-filter panels, widths
that are no multiple of its blocks of pixels, a fused 2x2 maxpool) and the Winograd kernel
(tile counts from 1 to 12 a block, filter counts that are no multiple of 32), at every
kernel level this CPU runs (``PYDN_KERNEL=portable|avx2|avx512``), against upstream's layers
on the same network and against OpenBLAS's sgemm on the same weights
(``PYDN_GEMM=openblas``); and the dispatcher leaves to OpenBLAS what a level runs slower."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.cpu_features import expected_kernels
from test_fast_cpu import needs_fast, toy_network
from test_winograd import WINO_CFG, ran, run_modes

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


def levels() -> list[str]:
    """The kernel levels this CPU runs (``PYDN_KERNEL`` caps the level at a name)."""
    order = ["portable", "avx2", "avx512"]
    return order[: order.index(expected_kernels()) + 1]


@needs_fast
def test_gemm_kernels_compute_what_upstream_computes(tmp_path: Path, dog: str) -> None:
    # each level's GEMM (PYDN_GEMM=packed: even where OpenBLAS is faster), the default
    modes = {level: {"PYDN_KERNEL": level, "PYDN_GEMM": "packed"} for level in levels()}
    modes.update(default={}, openblas={"PYDN_GEMM": "openblas"})
    results = run_modes(tmp_path, dog, GEMM_CFG, modes)
    upstream = results["openblas"][1]
    assert np.isfinite(upstream).all() and upstream.std() > 0.05
    for mode, (fast, up) in results.items():
        np.testing.assert_array_equal(up, upstream)  # upstream's layers, whatever the mode
        np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=2e-5, err_msg=mode)
    convs = [i for i, k in enumerate(ran(tmp_path, "openblas")) if k]
    assert len(convs) == 5 and all(ran(tmp_path, "openblas")[i] == "openblas" for i in convs)
    for level in levels():  # that level's kernel ran: not OpenBLAS's result bit for bit
        assert [ran(tmp_path, level)[i] for i in convs] == [f"gemm/{level}"] * 5
        assert not np.array_equal(results[level][0], results["openblas"][0]), level


# Winograd at the edges of the kernels' blocks: 20x20 -> 10x10 (F(2x2): 25 tiles, blocks
# of 8 and 9), 5x5 (9 tiles, one block), 3x3 (4), 2x2 (1); 40 and 24 filters.
EDGE_CFG = """
[net]
batch=1
width=20
height=20
channels=3

[convolutional]
filters=64
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=64
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=40
size=3
stride=1
pad=1
activation=relu

[maxpool]
size=2
stride=2

[convolutional]
filters=24
size=3
stride=1
pad=1
activation=linear

[maxpool]
size=2
stride=2

[convolutional]
filters=40
size=3
stride=1
pad=1
activation=leaky
"""


@needs_fast
@pytest.mark.parametrize("cfg", [WINO_CFG, EDGE_CFG], ids=["wino", "edge"])
def test_winograd_kernels_agree(tmp_path: Path, dog: str, cfg: str) -> None:
    """Each level's Winograd product gives upstream's result too, for each tile size."""
    modes = {f"{level}{m}": {"PYDN_WINOGRAD": m, "PYDN_KERNEL": level}
             for level in levels() for m in ("2", "4")}  # fmt: skip
    results = run_modes(tmp_path, dog, cfg, modes)
    upstream = results["portable2"][1]
    assert np.isfinite(upstream).all() and upstream.std() > 0.01
    for mode, (fast, _up) in results.items():
        np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=2e-5, err_msg=mode)
        winograd = [k for k in ran(tmp_path, mode) if k.startswith("winograd")]
        assert winograd and set(winograd) == {f"winograd{mode[-1]}/{mode[:-1]}"}, mode


@needs_fast
def test_layers_where_openblas_is_faster_run_on_openblas(tmp_path: Path, dog: str) -> None:
    """The portable kernels are slower than OpenBLAS's sgemm for the GEMM, for Winograd
    F(2x2) and for F(4x4) below 64 channels (arch/kernel_portable.c): with them, those
    layers run on OpenBLAS, and give upstream's result."""
    results = run_modes(tmp_path, dog, WINO_CFG, {"portable": {"PYDN_KERNEL": "portable"}})
    fast, upstream = results["portable"]
    np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=2e-5)
    # 52x52 (3, 32 ch), 52x52 (32, 48 ch), 26x26 (48), 13x13 (64: F(2x2)), 13x13 pad 0, 13x13
    convs = [k for k in ran(tmp_path, "portable") if k]
    assert convs == ["openblas"] * 6


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
