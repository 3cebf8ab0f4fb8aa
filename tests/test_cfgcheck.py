"""The cfg pre-parser: it computes what Darknet builds (compared layer by layer with the
real parser), accepts Darknet's own cfg files, refuses what crashes Darknet with a
message naming file, line and option, and keeps the fuzzers' crashers as regressions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pydarknet
from pydarknet._lib import ffi, lib
from pydarknet.api import raw_detect
from pydarknet.cfg import check_cfg, check_cfg_bytes
from pydarknet.cfg.parse import c_atoi
from pydarknet.images import from_array

NET = "[net]\nwidth=32\nheight=32\nchannels=3\n"
CONV = "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n"
# cheap to build: compared layer by layer with Darknet's own parser
COMPARED = ["yolov3-tiny", "yolov2-tiny", "yolov2-tiny-voc", "darknet", "resnet18",
            "yolov1-tiny", "gru", "rnn", "go", "extraction", "densenet201"]  # fmt: skip
REFUSED = {"rnn.train.cfg": "time_steps=1"}  # recurrent nets unrolled over time


def c_layers(cfg: str) -> list[tuple[int, int, int, int]]:
    out = ffi.new("network **")
    assert lib.pydn_parse_network(cfg.encode(), out) == 0
    net = out[0]
    try:
        return [(ly.out_w, ly.out_h, ly.out_c, ly.outputs) for ly in net.layers[0 : net.n]]
    finally:
        lib.pydn_free_network(net)


@pytest.mark.parametrize("name", COMPARED)
def test_shapes_match_darknets_parser(darknet_dir: Path, name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(darknet_dir)  # cfgs name files (trees, maps) relative to it
    cfg = f"cfg/{name}.cfg"
    shape = check_cfg(cfg)
    assert [(ly.w, ly.h, ly.c, ly.outputs) for ly in shape.layers] == c_layers(cfg)


def test_darknets_own_cfgs_are_accepted(darknet_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(darknet_dir)
    cfgs = sorted(Path("cfg").glob("*.cfg"))
    assert len(cfgs) > 30
    for cfg in cfgs:
        if cfg.name in REFUSED:
            with pytest.raises(pydarknet.CfgError, match=REFUSED[cfg.name]):
                check_cfg(str(cfg))
        else:
            assert check_cfg(str(cfg)).layers, cfg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("width=3\n" + NET, r"line 1: 'width=3' comes before the first \[section\]"),
        (NET + CONV.replace("filters=8", "filters=-3"), r"line 6, layer 0 .*filters=-3"),
        (NET + "[convolutional]\r\nfilters=1\n", r"Windows line endings"),
        (NET + CONV + "[route]\nlayers=-1, 4\n", r"layers=4 names layer 4, not one of 0..0"),
        (NET + CONV + "[yolo]\nmask=0,7\nnum=3\n", r"mask=0,7 must pick anchors among 0..2"),
        (NET + CONV + "[yolo]\nclasses=2\nnum=1\n", r"expects 32x32x7 = 7168 inputs .* 8192"),
        (NET + CONV.replace("stride=1", "stride=99"), r"stride=99 is larger than its 32x32 input"),
        (NET.replace("32", "0") + CONV, r"needs width=, height= and channels="),
        ("[net]\nwidth=9999999\n" + CONV, r"width=9999999 must be within 0..16384"),
        (NET + CONV + "[shortcut]\nfrom=1\n", r"from=1 names layer 1, not one of 0..0"),
    ],
)
def test_refusals_name_line_layer_and_option(text: str, message: str) -> None:
    with pytest.raises(pydarknet.CfgError, match=message):
        check_cfg_bytes(text.encode(), "x.cfg")


def test_c_atoi_mirrors_glibc() -> None:
    assert [c_atoi(s) for s in ["12", " -3x", "+7", "x", "", "3.9", "2147483648"]] == [
        12, -3, 7, 0, 0, 3, -2147483648,
    ]  # fmt: skip
    assert c_atoi("99999999999999999999999") == -1  # strtol saturates, (int) keeps low bits


def test_net_with_inputs_but_no_image_cannot_detect(tmp_path: Path) -> None:
    cfg = tmp_path / "flat.cfg"
    cfg.write_text("[net]\ninputs=10\n[connected]\noutput=4\n")
    with pydarknet.load_net(cfg) as net:
        with pytest.raises(pydarknet.DarknetValueError, match="not a W x H x 3 image"):
            raw_detect(net, from_array(np.zeros((4, 4, 3), np.uint8)))


# --- crashers found by tests/test_fuzz.py, kept as regressions --------------------------


@pytest.mark.parametrize("size", [1, 2, 3])
def test_fuzz_crasher_local_layer_workspace(tmp_path: Path, size: int) -> None:
    """Darknet sized a [local] layer's im2col buffer in bytes but wrote floats (segfault
    in forward_local_layer); pydn_parse_network now gives it room."""
    cfg = tmp_path / "local.cfg"
    cfg.write_text(f"[net]\nwidth=8\nheight=8\nchannels=3\n[local]\nsize={size}\nfilters=2\n")
    with pydarknet.load_net(cfg) as net:
        for _ in range(3):
            raw_detect(net, from_array(np.full((8, 8, 3), 200, np.uint8)))


@pytest.mark.parametrize("shape", [(1000, 3, 3), (3, 1000, 3), (600, 1, 3)])
def test_fuzz_crasher_letterbox_to_one_pixel(net, shape: tuple[int, int, int]) -> None:  # type: ignore[no-untyped-def]
    """letterbox_image() to a 1-pixel side made resize_image() divide by zero and read
    out of bounds; such images are refused."""
    with pytest.raises(pydarknet.ImageError, match="too thin"):
        raw_detect(net, from_array(np.zeros(shape, np.uint8)))


def test_fuzz_crasher_one_pixel_wide_network(tmp_path: Path) -> None:
    cfg = tmp_path / "thin.cfg"
    cfg.write_text("[net]\nwidth=1\nheight=40\nchannels=3\n[local]\n[softmax]\n")
    with pydarknet.load_net(cfg) as net:
        with pytest.raises(pydarknet.DarknetValueError):
            raw_detect(net, from_array(np.zeros((40, 52, 3), np.uint8)))


def test_fuzz_crasher_standalone_batchnorm(tmp_path: Path) -> None:
    """make_batchnorm_layer() never allocated the buffer its forward pass copies into
    (segfault); pydn_parse_network now allocates it."""
    cfg = tmp_path / "bn.cfg"
    cfg.write_text("[net]\nwidth=10\nheight=36\nchannels=3\n[lrn]\n[batchnorm]\n")
    with pydarknet.load_net(cfg) as net:
        raw = raw_detect(net, from_array(np.full((36, 10, 3), 90, np.uint8)))
    assert len(raw.boxes) == 0


def test_fuzz_crasher_crnn_is_refused() -> None:
    """[crnn] always crashed in forward_crnn_layer() (no workspace for its convolutions)."""
    text = "[net]\nwidth=16\nheight=16\nchannels=3\n[crnn]\noutput_filters=4\n"
    with pytest.raises(pydarknet.CfgError, match="crnn"):
        check_cfg_bytes(text.encode())
