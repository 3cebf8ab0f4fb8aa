"""The AlexeyAB dialect's C side (csrc/ab/) against the fork's own library, layer by layer.

Each network is built with ``pydn_parse_network_dialect(cfg, 1)``, loaded with seeded
weights that the fork itself wrote, and run through ``pydn_detect_u8`` on a PNG that both
sides decode to the same pixels; every layer's output is then compared with the fork's
(tests/helpers/alexeyab.py, its detector-test forward pass).  The detection-level tests
of the fork's cfgs are in test_alexeyab.py (the Python side).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.alexeyab import fork_cfg, fork_detect, fork_dir, fork_layers, fork_weights
from helpers.compare import mismatches
from PIL import Image

from pydarknet._lib import ffi, lib

PJREDDIE, ALEXEYAB = 0, 1

# Every fork option csrc/ab implements beyond the 12 cfgs' (32x32 input, 1 class):
# hard_mish, a grouped conv with gelu, relu6 (which the fork's CPU conv path computes
# as 0), maxpool stride_x != stride_y and maxpool_depth, a shortcut of two from= layers
# of other channel counts with per-channel softmax-normalized weights and swish,
# scale_channels, sam, reorg3d, a grouped route, and a new_coords yolo layer with
# DIoU-NMS.
OPTIONS_CFG = """[net]
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=hard_mish

[convolutional]
filters=8
groups=2
size=1
stride=1
activation=gelu

[maxpool]
size=2
stride_x=2
stride_y=1

[route]
layers=1

[maxpool]
maxpool_depth=1
out_channels=4
size=1
stride=1

[shortcut]
from=-4,-2
weights_type=per_channel
weights_normalization=softmax
activation=swish

[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=mish

[convolutional]
filters=16
size=16
stride=16
activation=logistic

[scale_channels]
from=6

[sam]
from=6
activation=leaky

[reorg3d]
stride=2

[route]
layers=10
groups=2
group_id=1

[convolutional]
filters=16
size=1
stride=1
activation=relu6

[upsample]
stride=2

[route]
layers=-1,8

[convolutional]
filters=18
size=1
stride=1
activation=logistic

[yolo]
mask=0,1,2
anchors=4,6, 8,12, 16,20
classes=1
num=3
new_coords=1
scale_x_y=2.0
nms_kind=diounms
beta_nms=0.6
"""


@pytest.fixture(scope="module")
def fork() -> Path:
    root = fork_dir()
    if root is None:
        pytest.skip("AlexeyAB's darknet is not available (no tarball, no clone)")
    return root


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """dog.jpg as PNG: the fork (stb_image) and PIL then decode the same pixels."""
    path = tmp_path_factory.mktemp("img") / "dog.png"
    Image.open(data_dir / "dog.jpg").convert("RGB").save(path)
    return path


def rgb(png: Path) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(png).convert("RGB")))


def error_text() -> str:
    return ffi.string(lib.pydn_last_error()).decode()


@contextmanager
def network(cfg: Path, weights: Path | None, dialect: int = ALEXEYAB) -> Iterator[Any]:
    out = ffi.new("network **")
    assert lib.pydn_parse_network_dialect(os.fsencode(cfg), dialect, out) == 0, error_text()
    net = out[0]
    try:
        if weights is not None:
            assert lib.pydn_load_weights(net, os.fsencode(weights)) == 0, error_text()
        yield net
    finally:
        assert lib.pydn_free_network(net) == 0


def detect_u8(net: Any, images: list[np.ndarray]) -> list[list[tuple[float, ...]]]:
    """pydn_detect_u8 on RGB arrays, one batch: per image (x, y, w, h, objectness, probs...)."""
    ims = ffi.new("pydn_u8image[]", len(images))
    for im, a in zip(ims, images, strict=True):
        im.data, im.h, im.w, im.channels = ffi.from_buffer(a), a.shape[0], a.shape[1], 3
        im.row_stride, im.col_stride = a.strides[0], a.strides[1]
    outs = ffi.new("pydn_dets[]", len(images))
    seconds = ffi.new("double *")
    order = ffi.new("int[3]", [0, 1, 2])
    rc = lib.pydn_detect_u8(net, ims, len(images), order, 0.25, 0.5, 0.45, 0, outs, seconds)
    assert rc == 0, error_text()
    result = []
    for d in outs:
        k = d.classes
        result.append([(*(d.boxes[4 * i + j] for j in range(4)), d.objectness[i],
                        *(d.probs[i * k + c] for c in range(k))) for i in range(d.n)])  # fmt: skip
        lib.pydn_free_dets(ffi.addressof(d))
    return result


def layer_output(net: Any, i: int, count: int) -> np.ndarray:
    return np.frombuffer(ffi.buffer(net.layers[i].output, 4 * count), np.float32).copy()


def set_output(net: Any, i: int, values: np.ndarray) -> None:
    ffi.memmove(net.layers[i].output, np.ascontiguousarray(values, np.float32).ravel(),
                4 * values.size)  # fmt: skip


def assert_layers_match(net: Any, x: np.ndarray, outs: list[np.ndarray]) -> None:
    """After a pass of pydn_detect_u8: our input equals the fork's, bit for bit (the same
    resize / letterbox); then each layer alone (pydn_forward_layer) on the fork's inputs
    (every layer's buffer holds the fork's output) gives the fork's output within 1e-4
    of the layer's largest value.  Seeded weights let some deep networks' activations
    grow to ~1e6, where a logistic of them amplifies summation-order rounding: there,
    at most 1 in 10^4 elements of a layer may differ more."""
    ours = np.frombuffer(ffi.buffer(net.input, 4 * x.size), np.float32)
    np.testing.assert_array_equal(ours, x.ravel())
    assert net.n == len(outs)
    for i, ref in enumerate(outs):
        set_output(net, i, ref)
    for i, ref in enumerate(outs):
        given = np.ascontiguousarray((x if i == 0 else outs[i - 1]).ravel())
        assert lib.pydn_forward_layer(net, i, ffi.cast("float *", ffi.from_buffer(given))) == 0
        got = layer_output(net, i, ref.size)
        bad = np.abs(got - ref.ravel()) > 1e-4 * (np.abs(ref).max() + 1e-6)
        assert bad.sum() <= ref.size // 10000, f"layer {i} (type {net.layers[i].type}): " \
            f"{bad.sum()} of {ref.size} outputs differ"  # fmt: skip
        set_output(net, i, ref)


@pytest.mark.parametrize(("name", "size"), [("yolov4-tiny", 160), ("yolov7-tiny", 160),
                                            ("yolov4-sam-mish-csp-reorg-bfm", 256)])  # fmt: skip
def test_every_layer_matches_the_fork(fork: Path, png: Path, tmp_path: Path, name: str,
                                      size: int) -> None:  # fmt: skip
    cfg = fork_cfg(name, tmp_path, size)
    weights = fork_weights(cfg, tmp_path / "seeded.weights")
    x, outs = fork_layers(cfg, weights, png)
    with network(cfg, weights) as net:
        assert lib.pydn_network_dialect(net) == ALEXEYAB
        dets = detect_u8(net, [rgb(png)])[0]
        assert_layers_match(net, x, outs)
    expected = fork_detect(cfg, weights, png)
    assert len(dets) == len(expected)
    for ours, theirs in zip(dets, expected, strict=True):
        np.testing.assert_allclose(ours[:4], theirs.bbox, rtol=1e-3, atol=1e-4)


def test_every_option_matches_the_fork(fork: Path, png: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "options.cfg"
    cfg.write_text(OPTIONS_CFG)
    weights = fork_weights(cfg, tmp_path / "seeded.weights", seed=3)
    x, outs = fork_layers(cfg, weights, png)
    with network(cfg, weights) as net:
        assert 20 + 4 * lib.pydn_weights_floats(net) == weights.stat().st_size
        detect_u8(net, [rgb(png)])
        assert_layers_match(net, x, outs)
        assert not layer_output(net, 12, outs[12].size).any()  # relu6: the fork's 0


def test_weights_floats_count_the_fork_file(fork: Path, tmp_path: Path) -> None:
    cfg = fork_cfg("yolov4-csp", tmp_path, 128)
    weights = fork_weights(cfg, tmp_path / "seeded.weights")
    with network(cfg, None) as net:
        assert 20 + 4 * lib.pydn_weights_floats(net) == weights.stat().st_size


def test_a_batch_gives_each_image_its_own_boxes(fork: Path, png: Path, tmp_path: Path,
                                                data_dir: Path) -> None:  # fmt: skip
    cfg = fork_cfg("yolov4-tiny", tmp_path, 160)
    weights = fork_weights(cfg, tmp_path / "seeded.weights")
    images = [rgb(png), np.ascontiguousarray(np.asarray(Image.open(data_dir / "horses.jpg")))]
    with network(cfg, weights) as net:
        alone = [detect_u8(net, [im])[0] for im in images]
        together = detect_u8(net, images)
        again = detect_u8(net, images[:1])[0]
    assert together == alone
    assert again == alone[0]
    assert alone[0] != alone[1]


def test_float_images_are_stretched_like_the_bytes(fork: Path, png: Path, tmp_path: Path) -> None:
    cfg = fork_cfg("yolov7-tiny", tmp_path, 160)
    weights = fork_weights(cfg, tmp_path / "seeded.weights")
    a = rgb(png)
    planes = np.empty((3, *a.shape[:2]), np.float32)
    im = ffi.new("pydn_u8image *", {"data": ffi.from_buffer(a), "h": a.shape[0], "w": a.shape[1],
                                    "channels": 3, "row_stride": a.strides[0],
                                    "col_stride": a.strides[1]})  # fmt: skip
    order = ffi.new("int[3]", [0, 1, 2])
    assert lib.pydn_u8_to_planes(im, order, ffi.from_buffer("float[]", planes)) == 0
    image = ffi.new("image *", {"w": a.shape[1], "h": a.shape[0], "c": 3,
                                "data": ffi.from_buffer("float[]", planes)})  # fmt: skip
    with network(cfg, weights) as net:
        from_bytes = detect_u8(net, [a])[0]
        out, seconds = ffi.new("pydn_dets *"), ffi.new("double *")
        assert lib.pydn_detect(net, image[0], 0.25, 0.5, 0.45, 0, out, seconds) == 0, error_text()
        assert out.n == len(from_bytes) > 0
        assert [out.boxes[i] for i in range(4 * out.n)] == [v for d in from_bytes for v in d[:4]]
        lib.pydn_free_dets(out)


def test_the_dialect_is_the_networks(tmp_path: Path, darknet_dir: Path) -> None:
    plain = darknet_dir / "cfg" / "yolov3-tiny.cfg"
    with network(plain, None, PJREDDIE) as net:
        assert lib.pydn_network_dialect(net) == PJREDDIE
    with network(plain, None, ALEXEYAB) as net:  # a plain cfg, run as the fork would
        assert lib.pydn_network_dialect(net) == ALEXEYAB
    out = ffi.new("network **")
    assert lib.pydn_parse_network(os.fsencode(plain), out) == 0
    assert lib.pydn_network_dialect(out[0]) == PJREDDIE
    lib.pydn_free_network(out[0])
    assert lib.pydn_parse_network_dialect(os.fsencode(plain), 7, out) == -1
    assert "dialect" in error_text()


@pytest.mark.parametrize(("section", "named"), [
    ("[lstm]\noutput=4\n", "[lstm]"),
    ("[convolutional]\nfilters=4\nsize=3\nantialiasing=1\n", "antialiasing"),
    ("[convolutional]\nfilters=4\nsize=3\ndilation=2\n", "dilation"),
    ("[route]\nlayers=-5\n", "refers to layer"),
    ("[route]\nlayers=-1\ngroups=3\n", "groups=3"),
    ("[convolutional]\nfilters=4\nsize=1\nactivation=normalize_channels\n", "normalize_channels"),
])  # fmt: skip
def test_what_the_dialect_cannot_run_is_refused(tmp_path: Path, section: str, named: str) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(f"[net]\nwidth=16\nheight=16\nchannels=3\n\n[convolutional]\nfilters=4\n"
                   f"size=1\n\n{section}")  # fmt: skip
    out = ffi.new("network **")
    assert lib.pydn_parse_network_dialect(os.fsencode(cfg), ALEXEYAB, out) == -1
    assert out[0] == ffi.NULL
    assert "alexeyab dialect" in error_text() and named in error_text()


# --- the GPU (csrc/ab/ab_cuda.cu; benchmarks/gpu_check.sh runs this file there) ----------
@pytest.fixture(autouse=True)
def on_the_cpu() -> Iterator[None]:
    """Networks on the CPU unless a test says otherwise (a GPU build's gpu_index is 0)."""
    assert lib.pydn_use_device(-1) == 0
    yield
    assert lib.pydn_use_device(-1) == 0


def gpu_or_skip() -> None:
    count = ffi.new("int *")
    if not lib.pydn_build_flags() & 1 or lib.pydn_gpu_count(count) != 0 or count[0] < 1:
        pytest.skip("not a GPU build on a machine with a GPU")


def every_output(net: Any) -> list[np.ndarray]:
    """Each layer's output for image 0 of the last pass, from the device on a GPU."""
    outs = []
    for i in range(net.n):
        out = np.empty(net.layers[i].outputs, np.float32)
        assert lib.pydn_layer_output(net, i, ffi.from_buffer("float[]", out), out.size) == 0
        outs.append(out)
    return outs


def as_dets(dets: list[tuple[float, ...]]) -> list[tuple[object, float, tuple[float, ...]]]:
    return [(c, p, d[:4]) for d in dets for c, p in enumerate(d[5:]) if p > 0]


def run_on(gpu: int, cfg: Path, weights: Path, images: list[np.ndarray]) -> tuple[Any, ...]:
    """Detections per image alone, the batch's, one image again after the batch (buffers
    grown, then back at batch 1), and every layer's output of the first image's pass."""
    assert lib.pydn_use_device(gpu) == 0, error_text()
    with network(cfg, weights) as net:
        assert net.gpu_index == gpu
        if gpu >= 0:  # one layer alone: on CPU networks only
            assert lib.pydn_forward_layer(net, 0, ffi.cast("float *", net.input)) == -1
        alone = []
        for i, im in enumerate(images):
            alone.append(detect_u8(net, [im])[0])
            if i == 0:
                outs = every_output(net)
        together = detect_u8(net, images)
        again = detect_u8(net, images[:1])[0]
    return alone, together, again, outs


@pytest.mark.parametrize(("name", "size"), [("yolov4-tiny", 160), ("yolov7-tiny", 160),
                                            ("options", 32)])  # fmt: skip
def test_fork_networks_run_on_a_gpu_as_on_the_cpu(fork: Path, png: Path, tmp_path: Path,
                                                  data_dir: Path, name: str,
                                                  size: int) -> None:  # fmt: skip
    """GPU 0 against the CPU, same seeded weights: every layer's output for the first
    image, and the detections (|dp| <= 0.02, IoU >= 0.97, both ways) of two images
    alone, as a batch, and at batch 1 again after the batch."""
    gpu_or_skip()
    if name == "options":
        cfg = tmp_path / "options.cfg"
        cfg.write_text(OPTIONS_CFG)
    else:
        cfg = fork_cfg(name, tmp_path, size)
    weights = fork_weights(cfg, tmp_path / "seeded.weights", seed=3 if name == "options" else 0)
    images = [rgb(png), np.ascontiguousarray(np.asarray(Image.open(data_dir / "horses.jpg")))]
    cpu = run_on(-1, cfg, weights, images)
    gpu = run_on(0, cfg, weights, images)
    for i, (ref, got) in enumerate(zip(cpu[3], gpu[3], strict=True)):
        diff = np.abs(got - ref)
        bad = diff > 1e-3 * (np.abs(ref).max() + 1e-6)
        assert bad.sum() <= ref.size // 1000, f"layer {i}: {bad.sum()} of {ref.size} outputs " \
            f"differ, by up to {diff.max():g} (largest output {np.abs(ref).max():g})"  # fmt: skip
    pairs = [*zip(cpu[0], gpu[0], strict=True), *zip(cpu[1], gpu[1], strict=True),
             (cpu[2], gpu[2]), (gpu[0][0], gpu[2])]  # fmt: skip
    for ref, got in pairs:
        assert not (problems := mismatches(as_dets(ref), as_dets(got), 0.25)), problems
    if name != "options":  # 32x32, one class: the layers are the check
        assert sum(len(d) for d in cpu[0]) > 0
