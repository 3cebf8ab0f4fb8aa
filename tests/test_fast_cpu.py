"""The default build's fast CPU path (DARKNET_FAST: OpenBLAS, own threads, batch norm
folded at load time) still reproduces the original program, and is what gets built."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import reference
from helpers.compare import NEAR, assert_reproduced

import pydarknet
from pydarknet import cpu
from pydarknet._lib import ffi, lib
from pydarknet.backend import CPU_BACKEND
from pydarknet.core import raw_detect_arrays

needs_fast = pytest.mark.skipif(not cpu.fast_build(), reason="upstream build (DARKNET_FAST=OFF)")


@pytest.mark.skipif(  # pydarknet's own library (with the CUDA plugin, CPU networks run on it)
    CPU_BACKEND.gpu_build, reason="GPU builds keep upstream's CPU path (no DARKNET_FAST)"
)
def test_default_cpu_build_is_the_fast_one() -> None:
    assert cpu.fast_build()
    assert cpu.get_num_threads() >= 1


@needs_fast
@pytest.mark.parametrize("how", ["import", "library alone"])
def test_openblas_comes_from_the_wheel_without_library_path(how: str) -> None:
    """scipy-openblas32's libscipy_openblas.so is found with no LD_LIBRARY_PATH, in a
    fresh process and without importing scipy_openblas32 (which would load it by itself):
    importing pydarknet loads it from the wheel (pydarknet/_wheel_libs.py), and this
    source build's libdarknet.so, loaded alone, finds it through its own RPATH."""
    load = (
        "import pydarknet\n"
        if how == "import"
        else "import ctypes\n"
        "folder = importlib.util.find_spec('pydarknet').submodule_search_locations[0]\n"
        "ctypes.CDLL(folder + '/libdarknet.so')\n"
    )
    code = (
        "import importlib.util, pathlib, sys\n"
        + load
        + "assert 'scipy_openblas32' not in sys.modules\n"
        "spec = importlib.util.find_spec('scipy_openblas32')\n"
        "print(pathlib.Path(spec.origin).parent / 'lib')\n"
        "print(pathlib.Path('/proc/self/maps').read_text())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    want = Path(out[0]).resolve()
    loaded = {ln.split()[-1] for ln in out[1:] if "libscipy_openblas.so" in ln}
    assert any(Path(p).resolve().parent == want for p in loaded), loaded


@pytest.mark.usefixtures("needs_reference")
def test_detections_reproduce_debian_darknet(net, meta, tiny_cfg, tiny_weights, data_dir) -> None:  # type: ignore[no-untyped-def]
    """Every detection of the original library (the CLI's pipeline) on darknet/data
    that is clear of the threshold is found by detect_image: |dp| <= 0.02, IoU >= 0.97."""
    images = reference.data_images(data_dir)
    low = 0.25
    ref = reference.library_detections(tiny_cfg, tiny_weights, images, 80, low - NEAR)
    checked = 0
    for path in images:
        got = [(meta.names.index(n), p, b) for n, p, b in
               pydarknet.detect_image(net, meta, cv2.imread(path), thresh=low - NEAR)]  # fmt: skip
        for thresh in (low, 0.5):  # the CLI's default and a lower one
            checked += assert_reproduced(ref[path], got, thresh)
    assert checked >= 40


def test_reloading_weights_folds_batch_norm_once(net, dog, tiny_weights) -> None:  # type: ignore[no-untyped-def]
    """Batch norm is folded into the weights at load time; loading the weights again
    (which overwrites weights and batch-norm parameters) folds again, exactly once."""
    im = cv2.imread(dog)
    before = raw_detect_arrays(net, [im], 0.3)[0]
    with net.locked() as ptr:
        assert ptr.layers[0].batch_normalize
        assert lib.pydn_load_weights(ptr, tiny_weights.encode()) == 0
    after = raw_detect_arrays(net, [im], 0.3)[0]
    np.testing.assert_array_equal(before.probs, after.probs)
    np.testing.assert_array_equal(before.boxes, after.boxes)


@needs_fast
def test_thread_count_changes_nothing_but_speed(net, dog) -> None:  # type: ignore[no-untyped-def]
    im = cv2.imread(dog)
    old = cpu.get_num_threads()
    try:
        assert cpu.set_num_threads(1) == 1
        one = raw_detect_arrays(net, [im], 0.3)[0]
        assert cpu.set_num_threads(3) == 3
        three = raw_detect_arrays(net, [im], 0.3)[0]
    finally:
        cpu.set_num_threads(old)
    # bit for bit: work is split the same way whatever the thread count (fast.h PYDN_SPLIT)
    np.testing.assert_array_equal(one.probs, three.probs)
    np.testing.assert_array_equal(one.boxes, three.boxes)


@needs_fast
def test_profile_layers_times_every_layer(net, dog) -> None:  # type: ignore[no-untyped-def]
    prof = cpu.profile_layers(net, cv2.imread(dog), runs=2)
    assert len(prof) == 24  # yolov3-tiny
    assert prof[0][0] == "CONVOLUTIONAL" and prof[1][0] == "MAXPOOL" and prof[-1][0] == "YOLO"
    assert all(sec >= 0 for _, sec in prof) and sum(s for _, s in prof) > 0
    assert lib.pydn_profile(0) == 0  # profiling is off again afterwards
    buf = ffi.new("double[]", 1)
    assert lib.pydn_layer_seconds(buf, 1) == 24


def test_from_array_is_mat_to_image_exactly(dog) -> None:  # type: ignore[no-untyped-def]
    """The C conversion gives upstream's planes bit for bit: pixel / 255. in double,
    stored as float, channels reordered to RGB (gray replicated, alpha dropped)."""
    from pydarknet.images import from_array

    bgr = cv2.imread(dog)
    lut = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    cases = [
        (bgr, False, (2, 1, 0)),
        (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), True, (0, 1, 2)),
        (bgr[5:-3, ::-2], False, (2, 1, 0)),  # strided, negative steps
        (cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), False, (2, 1, 0)),
        (gray, False, (0, 0, 0)),
    ]
    for array, rgb, order in cases:
        hwc = array[:, :, None] if array.ndim == 2 else array
        want = lut[hwc.transpose(2, 0, 1)[list(order)]]
        np.testing.assert_array_equal(from_array(array, rgb=rgb).planes, want)


TOY_CFG = """
[net]
batch=1
width=96
height=96
channels=3

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=32
size=3
stride=1
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=64
size=3
stride=2
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=32
size=1
stride=1
pad=1
activation=relu

[convolutional]
batch_normalize=1
filters=64
size=3
stride=1
pad=1
activation=leaky

[shortcut]
from=-3
activation=linear

[maxpool]
size=2
stride=1

[convolutional]
filters=16
size=1
stride=1
pad=1
activation=logistic

[upsample]
stride=2

[route]
layers=-1,2

[convolutional]
batch_normalize=1
filters=32
size=3
stride=1
pad=1
activation=leaky

[convolutional]
filters=21
size=1
stride=1
pad=1
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=2
num=3
"""


def toy_network(tmp_path: Path, cfg_text: str = TOY_CFG) -> pydarknet.Network:
    """Every layer kind the fast path replaces (conv in bands and wide, stride 2, 1x1,
    relu/logistic/linear, maxpool 2/2 and 2/1, shortcut, upsample, route, yolo), with
    batch-norm statistics far from the identity, in a network small enough to write
    (``tmp_path``/toy.cfg and toy.weights; another cfg with ``cfg_text``)."""
    cfg = tmp_path / "toy.cfg"
    cfg.write_text(cfg_text)
    shapes = pydarknet.load_net(cfg)
    rng = np.random.default_rng(7)
    parts = [np.array([0, 2, 0], np.int32).tobytes(), np.zeros(1, np.int64).tobytes()]
    with shapes.locked() as ptr:
        for i in range(ptr.n):
            layer = ptr.layers[i]
            if layer.type != 0:  # CONVOLUTIONAL
                continue
            n, k = layer.n, layer.nweights // layer.n
            stats = [rng.normal(0, 0.1, n)]  # biases
            if layer.batch_normalize:  # scales, rolling mean, rolling variance
                stats += [rng.uniform(0.3, 0.8, n), rng.normal(0, 0.2, n), rng.uniform(0.3, 2, n)]
            stats.append(rng.normal(0, np.sqrt(1 / k), layer.nweights))
            parts += [s.astype(np.float32).tobytes() for s in stats]
    shapes.close()
    weights = tmp_path / "toy.weights"
    weights.write_bytes(b"".join(parts))
    return pydarknet.load_net(cfg, weights)


@needs_fast
@pytest.mark.parametrize("window", [2, 5])  # the stride-1 maxpool: 2x2, and SPP's 5x5
def test_fast_layers_compute_what_upstream_layers_compute(tmp_path, dog, window) -> None:  # type: ignore[no-untyped-def]
    from pydarknet.images import from_array

    im = from_array(cv2.imread(dog))
    old = "[maxpool]\nsize=2\nstride=1\n"
    assert old in TOY_CFG
    cfg = TOY_CFG.replace(old, f"[maxpool]\nsize={window}\nstride=1\n")
    with toy_network(tmp_path, cfg) as net:
        outs = []
        for restore in (False, True):  # ours (installed at load), then upstream's
            out = np.empty(net.outputs, np.float32)
            with net.locked() as ptr:
                if restore:
                    lib.pydn_fast_restore(ptr)
                buf = ffi.from_buffer("float[]", out)
                assert lib.pydn_classify(ptr, im.cdata(), buf, net.outputs) == 0
            outs.append(out)
    fast, upstream = outs
    assert np.isfinite(upstream).all() and upstream.std() > 0.05
    np.testing.assert_allclose(fast, upstream, rtol=1e-4, atol=1e-5)
