"""Cfgs written for the AlexeyAB/hank-ai darknet fork are refused under dialect="pjreddie"
with a CfgError naming the file, line, section and option, through every way of loading
a network, and "auto" takes them for the fork's (tests/test_cfg_dialect.py); options
Darknet ignores (typos) are logged with file and line; Darknet's own cfgs still pass.
What is flagged is checked against Darknet itself: its parser reports each such option
as an "Unused field" (or an activation as replaced by ReLU)."""

from __future__ import annotations

import logging
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import pydarknet
from pydarknet import models
from pydarknet._lib import ffi, lib, set_verbose
from pydarknet.cfg import check_cfg, check_cfg_bytes, forks
from pydarknet.cfg.options import EVERY_LAYER, READ

NET_416 = """\
[net]
# Testing
batch=1
subdivisions=1
# Training
#batch=64
#subdivisions=1
width=416
height=416
channels=3
momentum=0.9
decay=0.0005
angle=0
saturation = 1.5
exposure = 1.5
hue=.1

learning_rate=0.00261
burn_in=1000
max_batches = 2000200
policy=steps
steps=1600000,1800000
scales=.1,.1
"""


def conv(filters: int, size: int = 3, stride: int = 1, activation: str = "leaky") -> str:
    bn = "" if activation == "linear" else "batch_normalize=1\n"
    return (f"\n[convolutional]\n{bn}filters={filters}\nsize={size}\nstride={stride}\n"
            f"pad=1\nactivation={activation}\n")  # fmt: skip


def csp(full: int) -> str:
    """yolov4-tiny's CSP block: half of the channels (route groups=2 group_id=1) go on."""
    return (
        "\n[route]\nlayers=-1\ngroups=2\ngroup_id=1\n" + conv(full // 2) + conv(full // 2)
        + "\n[route]\nlayers = -1,-2\n" + conv(full, size=1) + "\n[route]\nlayers = -6,-1\n"
        + "\n[maxpool]\nsize=2\nstride=2\n"
    )  # fmt: skip


def yolo(mask: str) -> str:
    return f"""
[yolo]
mask = {mask}
anchors = 10,14,  23,27,  37,58,  81,82,  135,169,  344,319
classes=80
num=6
jitter=.3
scale_x_y = 1.05
cls_normalizer=1.0
iou_normalizer=0.07
iou_loss=ciou
ignore_thresh = .7
truth_thresh = 1
random=0
resize=1.5
nms_kind=greedynms
beta_nms=0.6
"""


# AlexeyAB's cfg/yolov4-tiny.cfg (with its "Testing" batch), as users download it
YOLOV4_TINY = (
    NET_416 + conv(32, stride=2) + conv(64, stride=2) + conv(64) + csp(64) + conv(128) + csp(128)
    + conv(256) + csp(256) + conv(512) + "\n##################################\n"
    + conv(256, size=1) + conv(512) + conv(255, size=1, activation="linear") + yolo("3,4,5")
    + "\n[route]\nlayers = -4\n" + conv(128, size=1) + "\n[upsample]\nstride=2\n"
    + "\n[route]\nlayers = -1, 23\n" + conv(256) + conv(255, size=1, activation="linear")
    + yolo("1,2,3")
)  # fmt: skip


def variant(keep: str) -> str:
    """yolov4-tiny with only the fork feature ``keep`` left ("mish", "swish",
    "scale_x_y", "groups"; "" for none: a cfg Darknet 61c9d02e computes as the fork does)."""
    text = YOLOV4_TINY.replace("nms_kind=greedynms\n", "")
    if keep != "groups":
        text = text.replace("groups=2\ngroup_id=1\n", "")
    if keep != "scale_x_y":
        text = text.replace("scale_x_y = 1.05\n", "")
    if keep in ("mish", "swish"):
        text = text.replace("activation=leaky", f"activation={keep}", 1)
    return text


def line_of(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if line.startswith(start))


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], str]:
    def write(text: str) -> str:
        path = tmp_path / "yolov4-tiny.cfg"
        path.write_text(text)
        return str(path)

    return write


LOADERS = {
    "check_cfg": lambda cfg, names: check_cfg(cfg, "pjreddie"),
    "load_net": lambda cfg, names: pydarknet.load_net(cfg, dialect="pjreddie"),
    "Detector": lambda cfg, names: pydarknet.Detector(cfg=cfg, names=names, dialect="pjreddie"),
}
FOUR_KINDS = [  # (what is kept, option, its line's start, section)
    ("mish", "activation", "activation=mish", "[convolutional]"),
    ("swish", "activation", "activation=swish", "[convolutional]"),
    ("scale_x_y", "scale_x_y", "scale_x_y", "[yolo]"),
    ("groups", "groups", "groups=2", "[route]"),
]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("keep", "option", "start", "section"), FOUR_KINDS)
def test_fork_cfgs_are_refused_naming_file_line_section_and_option(
    write, coco_names: str, loader: str, keep: str, option: str, start: str, section: str
) -> None:
    text = variant(keep)
    cfg = write(text)
    with pytest.raises(pydarknet.CfgError) as info:
        LOADERS[loader](cfg, coco_names)
    err = info.value
    assert (err.path, err.line, err.section, err.option) == (
        cfg,
        line_of(text, start),
        section,
        option,
    )
    message = str(err)
    assert f"cfg file {cfg!r}, line {err.line}" in message and section in message
    assert f"{option}=" in message and "AlexeyAB/hank-ai darknet fork" in message
    assert check_cfg(cfg).dialect == "alexeyab"  # what "auto" makes of it


def test_the_real_yolov4_tiny_is_refused_at_its_first_fork_option(write) -> None:
    cfg = write(YOLOV4_TINY)
    with pytest.raises(pydarknet.CfgError, match="channel group 1 of 2") as info:
        check_cfg(cfg, dialect="pjreddie")
    assert (info.value.line, info.value.option) == (line_of(YOLOV4_TINY, "groups=2"), "groups")


def test_without_fork_features_it_loads_and_fork_only_options_are_one_warning(
    write, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = write(variant(""))
    with caplog.at_level(logging.WARNING, logger="pydarknet.cfg"):
        with pydarknet.load_net(cfg) as net:
            assert (net.width, net.height, net.classes) == (416, 416, 80)
            assert net.dialect == "pjreddie"
    [record] = [r for r in caplog.records if r.name == "pydarknet.cfg"]
    assert record.levelno == logging.WARNING and "AlexeyAB/hank-ai" in record.getMessage()
    for option in ("cls_normalizer", "iou_normalizer", "iou_loss", "resize", "beta_nms"):
        assert option in record.getMessage()


def test_a_typo_is_a_warning_with_file_and_line_and_the_network_loads(
    write, caplog: pytest.LogCaptureFixture
) -> None:
    text = variant("").replace("filters=64\n", "filtres=64\n", 1)
    cfg = write(text)
    with caplog.at_level(logging.WARNING, logger="pydarknet.cfg"):
        with pydarknet.load_net(cfg) as net:
            assert net.classes == 80
    typos = [r for r in caplog.records if "filtres" in r.getMessage()]
    assert len(typos) == 1 and typos[0].name == "pydarknet.cfg"
    assert typos[0].levelno == logging.WARNING
    message = typos[0].getMessage()
    assert f"cfg file {cfg!r}, line {line_of(text, 'filtres')}" in message
    assert "did you mean 'filters'" in message


NET = "[net]\nwidth=32\nheight=32\nchannels=3\n"
CONV = "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n"


@pytest.mark.parametrize(
    ("extra", "said"),
    [("filters=16\n", "filters is given again (line 6 holds the one Darknet uses)"),
     ("batch_normalize\n", "batch_normalize has no '=value', so Darknet uses its default")],
)  # fmt: skip
def test_repeated_and_valueless_options_are_warnings(
    extra: str, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pydarknet.cfg"):
        shape = check_cfg_bytes((NET + CONV + extra).encode(), "x.cfg")
    assert shape.layers[0].c == 8  # Darknet's reading: the first filters=, no batch norm
    [record] = caplog.records
    assert record.getMessage() == f"cfg file 'x.cfg', line 10, layer 0 [convolutional]: {said}"


def test_cfg_errors_keep_their_attributes_when_pickled() -> None:
    with pytest.raises(pydarknet.CfgError) as info:
        check_cfg_bytes(variant("scale_x_y").encode(), "y.cfg", "pjreddie")
    err = pickle.loads(pickle.dumps(info.value))
    assert (err.path, err.section, err.option) == ("y.cfg", "[yolo]", "scale_x_y")
    assert (str(err), err.line) == (str(info.value), info.value.line)


YOLO_HEAD = "[convolutional]\nfilters=18\nsize=1\n[yolo]\nclasses=1\nnum=3\n"


@pytest.mark.parametrize(
    ("text", "option", "section", "effect"),
    [
        (NET + CONV + "activation=hard_mish\n", "activation", "[convolutional]", "ReLU"),
        (NET + CONV + "stride_x=2\n", "stride_x", "[convolutional]", "by 2 across"),
        (NET + CONV + "dilation=2\n", "dilation", "[convolutional]", "dilates"),
        (NET + CONV + "antialiasing=1\n", "antialiasing", "[convolutional]", "blurs"),
        (NET + CONV + "[maxpool]\nsize=2\nmaxpool_depth=1\n", "maxpool_depth", "[maxpool]", ""),
        (NET + CONV + "[maxpool]\nstride=1\nstride_y=2\n", "stride_y", "[maxpool]", "2 down"),
        (NET + CONV + CONV + "[shortcut]\nfrom=-1,-2\n", "from", "[shortcut]", "only the"),
        (NET + CONV + "[shortcut]\nfrom=-1\nweights_type=per_channel\n", "weights_type",
         "[shortcut]", "per_channel"),
        (NET + YOLO_HEAD + "new_coords=1\n", "new_coords", "[yolo]", "scaled-YOLOv4"),
        (NET + YOLO_HEAD + "nms_kind=diounms\n", "nms_kind", "[yolo]", "diounms"),
        (NET + CONV + "[sam]\nfrom=-1\n", None, "[sam]", "layer types"),
    ],
)  # fmt: skip
def test_each_rule_names_its_option(text: str, option: str, section: str, effect: str) -> None:
    with pytest.raises(pydarknet.CfgError, match="AlexeyAB/hank-ai darknet fork") as info:
        check_cfg_bytes(text.encode(), "x.cfg", "pjreddie")
    err = info.value
    assert (err.path, err.section, err.option) == ("x.cfg", section, option)
    assert effect in str(err)
    if section == "[convolutional]" and option != "activation":  # not run in the fork's
        with pytest.raises(pydarknet.CfgError, match="pydarknet does not implement"):
            check_cfg_bytes(text.encode(), "x.cfg")  # dialect, which "auto" picks
    else:
        assert check_cfg_bytes(text.encode(), "x.cfg").dialect == "alexeyab"


@pytest.mark.parametrize(
    "text",
    [
        NET + YOLO_HEAD + "scale_x_y=1.00\nnew_coords=0\nnms_kind=default\n",
        NET + CONV + "[route]\nlayers=-1\ngroups=1\ngroup_id=0\n",
        NET + CONV + "stride_x=1\nstride_y=1\n",
        NET + CONV.replace("size=3", "size=1") + "dilation=2\n",  # the fork ignores it there
    ],
)
def test_the_forks_neutral_values_are_only_a_warning(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pydarknet.cfg"):
        assert check_cfg_bytes(text.encode(), "x.cfg").dialect == "pjreddie"
    assert any("AlexeyAB/hank-ai" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("value", "hint"), [("Leaky", ""), ("leaky # the fast one", "# comment")])
def test_an_activation_nobody_knows_is_refused(value: str, hint: str) -> None:
    with pytest.raises(pydarknet.CfgError, match="would silently use ReLU") as info:
        check_cfg_bytes((NET + CONV + f"activation={value}\n").encode(), "x.cfg")
    assert (info.value.line, info.value.option) == (10, "activation")
    assert "AlexeyAB" not in str(info.value) and hint in str(info.value)


def test_darknets_own_cfgs_hold_nothing_of_the_fork(
    darknet_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(darknet_dir)  # cfgs name files (trees, maps) relative to it
    cfgs = sorted(Path("cfg").glob("*.cfg"))
    assert len(cfgs) == 45
    with caplog.at_level(logging.WARNING, logger="pydarknet.cfg"):
        for cfg in cfgs:
            try:
                check_cfg(str(cfg))
            except pydarknet.CfgError as err:  # the one refused, for another reason
                assert (cfg.name, err.option) == ("rnn.train.cfg", None), err
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "AlexeyAB" in m]
    noted = set()
    for m in messages:
        found = re.match(r"cfg file '(.+?)', line \d+.*?\]: unknown option '(\w+)'", m)
        assert found, m
        noted.add((found[1], found[2]))
    # options these files hold that Darknet does not read (their repeated [net] batch=
    # and subdivisions= are only INFO: Darknet's "# Testing" and "# Training" blocks)
    assert noted == {
        ("cfg/rnn.cfg", "hidden"), ("cfg/rnn.train.cfg", "hidden"), ("cfg/writing.cfg", "seen")
    }  # fmt: skip


def test_the_zoos_cfgs_load_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    cfgs = sorted(Path(str(models.data_file("yolov3-tiny.cfg"))).parent.glob("*.cfg"))
    assert len(cfgs) > 5
    with caplog.at_level(logging.INFO, logger="pydarknet.cfg"):
        for cfg in cfgs:
            check_cfg(str(cfg))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    repeated = [r.getMessage() for r in caplog.records]  # yolov3-openimages.cfg's [net]
    assert all("[net]: " in m and "is given again" in m for m in repeated)


# a value for each option that keeps the test network buildable (others get "0")
VALUES = {
    "filters": "8", "size": "3", "stride": "1", "pad": "1", "groups": "1", "activation": "leaky",
    "learning_rate": "1", "layers": "-1", "from": "-1", "alpha": "1", "beta": "1",
    "probability": "0.5", "classes": "1", "num": "3", "mask": "0,1,2", "ignore_thresh": ".5",
    "truth_thresh": "1", "jitter": ".2", "max": "90", "anchors": "1,1,2,2,3,3",
}  # fmt: skip


def section(kind: str, keys: frozenset[str]) -> str:
    options = "".join(f"{key}={VALUES.get(key, '0')}\n" for key in sorted(keys))
    return f"[{kind}]\n{options}"


def test_darknet_itself_ignores_what_is_flagged_and_reads_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every section of one network holds all options Darknet reads for its kind and
    all the fork's options for it; Darknet's parser must report exactly the fork's."""
    kinds = ["convolutional", "maxpool", "route", "shortcut", "dropout", "yolo"]
    fork_keys, read = {}, {}
    for kind in kinds:
        keys = forks.IGNORED.get(kind, frozenset()) | forks.RULES.get(kind, {}).keys()
        fork_keys[kind] = (keys | forks.IGNORED_EVERY_LAYER) - READ[kind]
        read[kind] = READ[kind] - {"map"} | EVERY_LAYER  # map= names a file
    text = NET + "".join(section(kind, read[kind] | fork_keys[kind]) for kind in kinds[:-1])
    text += "[convolutional]\nfilters=18\nsize=1\nactivation=mish\n"
    text += section("yolo", read["yolo"] | fork_keys["yolo"])
    cfg = tmp_path / "all.cfg"
    cfg.write_text(text)
    out = ffi.new("network **")
    set_verbose(True)
    try:
        with caplog.at_level(logging.INFO, logger="pydarknet.darknet"):
            assert lib.pydn_parse_network(str(cfg).encode(), out) == 0
        lib.pydn_free_network(out[0])
    finally:
        set_verbose(False)
    said = [r.getMessage() for r in caplog.records if r.name == "pydarknet.darknet"]
    unused = sorted(re.findall(r"Unused field: '(\w+) = ", "\n".join(said)))
    assert unused == sorted(key for keys in fork_keys.values() for key in keys)
    assert any("activation function mish, going with ReLU" in s for s in said)
