"""The ONNX exporter against the original Darknet.

For every cfg in darknet/cfg/ (shrunk to small inputs, seeded weights) and for the
real yolov3-tiny, ONNX Runtime's outputs must equal Debian's libdarknet's outputs of
the same layers on the same input (normwise relative error <= 1e-3), and decoding
yolov3-tiny's outputs in NumPy must give pydarknet.detect_image's detections."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import pydarknet
from pydarknet import models
from pydarknet.cfg import check_cfg
from pydarknet.errors import CfgError, WeightsError
from pydarknet.onnx import OnnxExportError, build_model, export_onnx, output_layers, yolo_heads
from pydarknet.onnx.numpy_pipeline import detect_yolo, letterbox

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from helpers.compare import mismatches  # noqa: E402
from helpers.onnx_nets import shrink  # noqa: E402
from helpers.reference import available  # noqa: E402
from helpers.reference_layers import darknet_letterbox, layer_outputs  # noqa: E402
from helpers.seeded_weights import seeded_weights  # noqa: E402

pytestmark = pytest.mark.skipif(not available(), reason="Debian's darknet is not installed")

REPO = Path(__file__).resolve().parent.parent
CFG_DIR = REPO / "darknet" / "cfg"
MAX_REL = 1e-3
# cfgs whose layers ONNX cannot express as Darknet runs them, with the layer refused
UNSUPPORTED = {
    "gru.cfg": (OnnxExportError, r"line 15, layer 0 \[gru\]: Darknet's gru layer cannot"),
    "rnn.cfg": (OnnxExportError, r"line 14, layer 0 \[rnn\]: Darknet's rnn layer cannot"),
    "rnn.train.cfg": (CfgError, r"line 14, layer 0 \[rnn\]: .*time_steps=1"),
    # [region] with tree=: Darknet's CPU softmax runs over overlapping groups
    "yolo9000.cfg": (OnnxExportError, r"line 198, layer 24 \[region\]: tree="),
}
CFGS = sorted(p.name for p in CFG_DIR.glob("*.cfg")) if CFG_DIR.is_dir() else []
WORST: dict[str, float] = {}


def session(model) -> ort.InferenceSession:  # type: ignore[no-untyped-def]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want| (normwise)."""
    return float(np.max(np.abs(got.ravel() - want)) / max(np.max(np.abs(want)), 1e-30))


def checked_layers(shapes: list, every: bool = False) -> list[int]:  # type: ignore[type-arg]
    """The model's outputs, the input of every softmax (deep random networks saturate
    it) and about five layers spread over the network (or every layer)."""
    picked = set(output_layers(shapes))
    picked |= {i - 1 for i, s in enumerate(shapes) if s.kind == "softmax" and i > 0}
    picked |= set(range(0, len(shapes), 1 if every else max(1, len(shapes) // 5)))
    return sorted(i for i in picked if shapes[i].kind != "cost")


def check_against_darknet(cfg: Path, weights: Path, x: np.ndarray, cwd: Path | None = None,
                          every: bool = False) -> float:  # fmt: skip
    shapes = check_cfg(str(cfg)).layers
    assert [o.name for o in build_model(cfg, weights).graph.output] == [
        f"layer_{i}" for i in output_layers(shapes)
    ]
    wanted = checked_layers(shapes, every)
    model = build_model(cfg, weights, outputs=wanted)
    got = dict(zip([o.name for o in model.graph.output],
                   session(model).run(None, {"input": x}), strict=True))  # fmt: skip
    ref = layer_outputs(cfg, weights, x, {i: shapes[i].outputs for i in wanted}, cwd=cwd)
    worst = 0.0
    for i in wanted:
        s, out = shapes[i], got[f"layer_{i}"]
        assert out.shape == ((1, s.c, s.h, s.w) if s.is_image else (1, s.outputs))
        assert np.all(np.isfinite(ref[i])) and np.max(np.abs(ref[i])) > 0
        err = relative_error(out, ref[i])
        assert err <= MAX_REL, f"layer {i} ({s.kind}): relative error {err:.2e}"
        worst = max(worst, err)
    return worst


@pytest.mark.parametrize("name", CFGS)
def test_darknet_cfg(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "darknet")  # tree= files are named relative to darknet/
    cfg = tmp_path / name
    cfg.write_text(shrink((CFG_DIR / name).read_text()))
    weights = tmp_path / "seeded.weights"
    if name in UNSUPPORTED:  # refused before the weights are read
        weights.write_bytes(bytes(16))
        error, message = UNSUPPORTED[name]
        with pytest.raises(error, match=message):
            build_model(cfg, weights)
        return
    floats = seeded_weights(cfg, weights)
    with pydarknet.load_net(cfg) as net:
        assert floats == net.weights_floats  # our layout has the library's size
    net_shape = check_cfg(str(cfg))
    x = np.random.default_rng(1).uniform(0, 1, net_shape.inputs).astype(np.float32)
    x = x.reshape(1, net_shape.channels, net_shape.height, net_shape.width)
    WORST[name] = check_against_darknet(cfg, weights, x, cwd=REPO / "darknet")


# Layer types, options and activations that darknet/cfg/ does not use.  ([batchnorm] is
# not among them: Darknet's CPU forward_batchnorm_layer writes through its unallocated
# l.x and crashes.)
SYNTHETIC = {
    "mixed": """[net]
width=16
height=16
channels=3
[convolutional]
batch_normalize=1
filters=8
size=3
pad=1
activation=elu
[convolutional]
filters=8
size=3
pad=1
activation=selu
[convolutional]
filters=8
size=1
activation=relie
[convolutional]
filters=8
size=3
stride=2
pad=1
activation=plse
[shortcut]
from=1
alpha=0.5
beta=2
activation=hardtan
[convolutional]
filters=16
size=3
pad=1
groups=2
activation=lhtan
[convolutional]
filters=16
size=1
activation=loggy
[upsample]
stride=2
[shortcut]
from=4
activation=tanh
[maxpool]
size=3
stride=2
[convolutional]
filters=16
size=3
pad=1
activation=stair
[reorg]
stride=2
[reorg]
stride=2
reverse=1
[upsample]
stride=-2
scale=0.5
[activation]
activation=ramp
[logistic]
[route]
layers=-1,-3
[maxpool]
size=2
stride=1
[local]
filters=4
size=3
stride=1
pad=1
activation=leaky
[crop]
crop_width=2
crop_height=2
[connected]
output=20
batch_normalize=1
activation=linear
[softmax]
groups=2
temperature=2
[dropout]
probability=.5
""",
    "region": """[net]
width=24
height=16
channels=3
[convolutional]
filters=16
size=3
stride=2
pad=1
activation=leaky
[region]
anchors=1,1,2,2
classes=3
coords=4
num=2
background=1
softmax=1
""",
    "detection": """[net]
width=16
height=16
channels=3
[convolutional]
filters=4
size=3
stride=4
pad=1
activation=relu
[connected]
output=32
activation=linear
[detection]
classes=3
coords=4
side=2
num=1
softmax=1
""",
}


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_layers(name: str, tmp_path: Path) -> None:
    cfg = tmp_path / f"{name}.cfg"
    cfg.write_text(SYNTHETIC[name])
    weights = tmp_path / "seeded.weights"
    floats = seeded_weights(cfg, weights, seed=3)
    with pydarknet.load_net(cfg) as net:
        assert floats == net.weights_floats
    s = check_cfg(str(cfg))
    x = np.random.default_rng(2).normal(0, 2, s.inputs).astype(np.float32)
    x = x.reshape(1, s.channels, s.height, s.width)
    WORST[f"synthetic {name}"] = check_against_darknet(cfg, weights, x, every=True)


@pytest.fixture(scope="module")
def tiny() -> tuple[Path, Path]:
    return models.data_file("yolov3-tiny.cfg"), models.weights_path("yolov3-tiny", quiet=True)


def test_yolov3_tiny_outputs_are_darknets(tiny: tuple[Path, Path]) -> None:
    cfg, weights = tiny
    bgr = pydarknet.images.read_image(str(REPO / "darknet" / "data" / "dog.jpg"))
    err = check_against_darknet(cfg, weights, letterbox(bgr, 416, 416))
    WORST["yolov3-tiny (real weights, dog.jpg)"] = err
    print("\nworst relative error per cfg:", {k: f"{v:.1e}" for k, v in WORST.items()})


def test_yolov3_tiny_detections_match_detect_image(tiny: tuple[Path, Path], tmp_path: Path
                                                   ) -> None:  # fmt: skip
    cfg, weights = tiny
    path = export_onnx(cfg, weights, tmp_path / "tiny.onnx", dynamic_batch=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    heads = yolo_heads(cfg)
    net = pydarknet.load_net(cfg, weights)
    meta = pydarknet.load_meta(models.data_file("coco.names"))
    checked = 0
    for image in sorted((REPO / "darknet" / "data").glob("*.jpg")):
        bgr = pydarknet.images.read_image(str(image))
        h, w = bgr.shape[:2]
        outs = dict(zip(names, sess.run(None, {"input": letterbox(bgr, 416, 416)}), strict=True))
        ours = [(meta.names[c], p, b) for c, p, b in detect_yolo(outs, heads, w, h, 416, 416)]
        want = pydarknet.detect_image(net, meta, bgr)
        assert not mismatches(ours, want, 0.5), (image.name, ours, want)
        assert len(ours) == len(want), (image.name, ours, want)
        checked += len(want)
    assert checked > 10


def test_letterbox_is_darknets() -> None:
    """NumPy letterbox == Darknet's letterbox_image on images of several sizes."""
    for name in ("dog.jpg", "eagle.jpg", "person.jpg"):
        image = REPO / "darknet" / "data" / name
        bgr = pydarknet.images.read_image(str(image))
        for w, h in ((416, 416), (320, 256)):
            want = darknet_letterbox(image, w, h)
            assert np.max(np.abs(letterbox(bgr, w, h)[0] - want)) < 1e-5, (name, w, h)


def test_wrong_weights_size_and_cli(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, weights = tiny
    short = tmp_path / "short.weights"
    short.write_bytes(Path(weights).read_bytes()[:-4])
    with pytest.raises(WeightsError, match="needs"):
        build_model(cfg, short)
    from pydarknet.cli import main

    out = tmp_path / "cli.onnx"
    assert main(["export-onnx", str(cfg), str(weights), str(out)]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert [o.name for o in model.graph.output] == ["layer_16", "layer_23"]
    assert main(["export-onnx", "--model", "yolov3-tiny", str(tmp_path / "z.onnx")]) == 0
    assert os.path.getsize(tmp_path / "z.onnx") == os.path.getsize(out)


def test_unsupported_layer_names_layer_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "lrn.cfg"
    cfg.write_text("[net]\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nfilters=4\n"
                   "size=1\nactivation=leaky\n\n[normalization]\nsize=3\n")  # fmt: skip
    weights = tmp_path / "lrn.weights"
    seeded_weights(cfg, weights)
    with pytest.raises(OnnxExportError, match=r"line 11, layer 1 \[normalization\]"):
        build_model(cfg, weights)


def test_opset_13_and_dynamic_batch(tmp_path: Path) -> None:
    """The oldest opset the exporter supports gives the same outputs, also at batch 2."""
    cfg = tmp_path / "mixed.cfg"
    cfg.write_text(SYNTHETIC["mixed"])
    weights = tmp_path / "seeded.weights"
    seeded_weights(cfg, weights, seed=4)
    x = np.random.default_rng(5).normal(0, 2, (2, 3, 16, 16)).astype(np.float32)
    layers = list(range(len(check_cfg(str(cfg)).layers)))
    new = session(build_model(cfg, weights, dynamic_batch=True, outputs=layers))
    old = session(build_model(cfg, weights, opset=13, dynamic_batch=True, outputs=layers))
    for a, b in zip(new.run(None, {"input": x}), old.run(None, {"input": x}), strict=True):
        assert a.shape[0] == 2 and np.array_equal(a, b)
    one = new.run(None, {"input": x[1:]})
    for a, b in zip(new.run(None, {"input": x}), one, strict=True):
        np.testing.assert_allclose(a[1:], b, rtol=1e-5, atol=1e-6)
    with pytest.raises(OnnxExportError, match="opset"):
        build_model(cfg, weights, opset=12)
