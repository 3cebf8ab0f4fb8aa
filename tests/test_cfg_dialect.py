"""The cfg checker's second dialect, AlexeyAB's darknet (59596d78): "auto" takes a cfg
that uses anything only the fork has for the fork's, "pjreddie" keeps refusing it, and
"alexeyab" reads every section with the fork's rules (the options the fork's parser.c
reads, its layer types and shapes), refusing what pydarknet does not run by name.  The
shapes themselves are compared with the fork's own layers in tests/test_alexeyab.py."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from helpers.alexeyab import fork_dir

import pydarknet
from pydarknet.cfg import check_cfg, check_cfg_bytes, fork_options

FAMILY = ["yolov4-tiny", "yolov4-tiny-3l", "yolov4", "yolov4-csp", "yolov4-csp-swish",
          "yolov4x-mish", "yolov4-p5", "yolov4-p6", "yolov7-tiny", "yolov7", "yolov7x",
          "yolov4-sam-mish-csp-reorg-bfm"]  # fmt: skip


@pytest.fixture(scope="module")
def fork() -> Path:
    found = fork_dir()
    if found is None:
        pytest.skip("no AlexeyAB darknet source (tests/helpers/alexeyab.py)")
    return found


def test_the_options_read_are_those_of_the_forks_parser(fork: Path) -> None:
    """Every parse_*() of the fork's src/parser.c, its option_find*() keys."""
    src = (fork / "src" / "parser.c").read_text()
    found: dict[str, set[str]] = {}
    for m in re.finditer(r"\n\w[\w \*]*\bparse_(\w+)\(list \*options[^{]*\{(.*?)\n\}", src, re.S):
        found[m[1]] = set(re.findall(r'option_find\w*\(options,\s*"(\w+)"', m[2]))
    names = {"net_options": "net", "reorg": "reorg3d", "scale_channels": "scale_channels",
             "gaussian_yolo": "gaussian_yolo"}  # fmt: skip
    every = re.search(r"l\.clip = .*?option_unused", src, re.S)
    assert every is not None
    assert set(re.findall(r'option_find\w*\(options,\s*"(\w+)"', every[0])) == set(
        fork_options.EVERY_LAYER
    )
    for func, keys in found.items():
        kind = names.get(func, func)
        if kind in fork_options.READ:
            assert fork_options.READ[kind] >= keys, func
    assert set(fork_options.READ) - {names.get(f, f) for f in found} == {"empty"}


@pytest.mark.parametrize("name", FAMILY)
def test_auto_takes_the_forks_cfgs_for_the_forks_and_pjreddie_refuses_them(
    fork: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = str(fork / "cfg" / f"{name}.cfg")
    with caplog.at_level(logging.WARNING, logger="pydarknet.cfg"):
        shape = check_cfg(cfg)
    assert shape.dialect == "alexeyab" and check_cfg(cfg, "alexeyab") == shape
    assert shape.batch == 1 and shape.letter_box == ("letter_box=1" in Path(cfg).read_text())
    # the options the fork does not read either: its "Unused field"s
    unread = {re.search(r"unknown option '(\w+)'", r.getMessage())[1] for r in caplog.records}  # type: ignore[index]
    assert unread == ({"uc_normalizer", "beta1"} if "sam" in name else set())
    with pytest.raises(pydarknet.CfgError, match="AlexeyAB/hank-ai darknet fork"):
        check_cfg(cfg, "pjreddie")


def test_a_plain_cfg_stays_pjreddies_unless_forced(fork: Path) -> None:
    cfg = str(fork / "cfg" / "yolov3-tiny.cfg")
    plain, forced = check_cfg(cfg), check_cfg(cfg, "alexeyab")
    assert (plain.dialect, forced.dialect) == ("pjreddie", "alexeyab")
    assert [(a.w, a.h, a.c) for a in plain.layers] == [(b.w, b.h, b.c) for b in forced.layers]


NET = "[net]\nwidth=32\nheight=32\nchannels=3\n"
CONV = "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=mish\n"


@pytest.mark.parametrize(
    ("extra", "shapes"),
    [
        ("[maxpool]\nsize=2\nstride_x=2\nstride_y=1\n", [(16, 32, 8)]),
        ("[maxpool]\nmaxpool_depth=1\nout_channels=2\n", [(32, 32, 2)]),
        ("[route]\nlayers=0\ngroups=4\ngroup_id=3\n", [(32, 32, 2)]),
        (CONV + "[route]\nlayers=0,1\ngroups=2\ngroup_id=1\n", [(32, 32, 8), (32, 32, 8)]),
        ("[reorg3d]\nstride=2\n", [(16, 16, 32)]),
        ("[reorg3d]\nstride=2\nreverse=1\n", [(64, 64, 2)]),
        ("[sam]\nfrom=-1\n", [(32, 32, 8)]),
        ("[convolutional]\nfilters=1\nsize=1\n[scale_channels]\nfrom=0\nscale_wh=1\n",
         [(32, 32, 1), (32, 32, 8)]),
        ("[upsample]\nstride=-2\n", [(16, 16, 8)]),
        ("[convolutional]\nfilters=4\nsize=3\nstride_x=2\nstride_y=2\npad=1\n", [(16, 16, 4)]),
        ("[convolutional]\nfilters=4\nsize=1\nstride=2\ndilation=2\n", [(16, 16, 4)]),
    ],
)  # fmt: skip
def test_the_forks_layer_shapes(extra: str, shapes: list[tuple[int, int, int]]) -> None:
    net = check_cfg_bytes((NET + CONV + extra).encode(), "x.cfg")
    assert net.dialect == "alexeyab"
    assert [(ly.w, ly.h, ly.c) for ly in net.layers[1:]] == shapes


@pytest.mark.parametrize(
    ("weights", "count"),
    [("", 0), ("weights_type=per_feature\n", 3), ("weights_type=per_layer\n", 3),
     ("weights_type=per_channel\nweights_normalization=softmax\n", 24)],
)  # fmt: skip
def test_shortcut_weights_are_counted(weights: str, count: int) -> None:
    text = NET + CONV + CONV + "[shortcut]\nfrom=-1,-2\nactivation=swish\n" + weights
    net = check_cfg_bytes(text.encode(), "x.cfg", "alexeyab")
    assert net.layers[-1].weights == count
    assert net.layers[0].weights == 8 + 8 * 3 * 9  # biases and weights, no batch norm


@pytest.mark.parametrize(
    ("text", "option", "said"),
    [
        (NET + "[lstm]\noutput=4\n", None, "does not run the"),
        (NET + CONV + "[contrastive]\n", None, "does not run the"),
        (NET + CONV + "antialiasing=1\n", "antialiasing", "anti-aliasing"),
        (NET + CONV + "xnor=1\n", "xnor", "XNOR"),
        (NET + CONV + "dilation=2\n", "dilation", "dilated"),
        (NET + CONV + "stride_y=2\n", "stride_y", "unequal strides (1 across, 2 down)"),
        (NET + CONV.replace("mish", "normalize_channels"), "activation", "does not implement"),
        (NET + CONV.replace("mish", "Mish"), "activation", "knows no activation 'Mish'"),
        (NET + CONV + "[route]\nlayers=0\ngroups=2\ngroup_id=2\n", "group_id", "at most 1"),
        (NET + CONV + "[route]\nlayers=0\ngroups=3\n", "groups", "must divide"),
        (NET + CONV + "[shortcut]\nfrom=0\nweights_type=per_pixel\n", "weights_type", "none of"),
        (NET + CONV + "[maxpool]\nstride=2\n[shortcut]\nfrom=0,1\n", "from", "cannot add"),
        (NET + CONV + "[maxpool]\nstride=2\n[sam]\nfrom=0\n", "from", "must match"),
        (NET + CONV + "[scale_channels]\nfrom=0\n", "from", "needs 1x1x8"),
        (NET + CONV + "[avgpool]\n", None, "does not run the"),
        (NET + CONV + "[upsample]\nstride=-3\n", "stride", "must divide"),
        (NET + CONV + "[maxpool]\nstride=2\n[route]\nlayers=0,1\n", "layers", "different"),
        (NET + CONV + "[reorg3d]\nstride=3\n", "stride", "must divide"),
        (NET + CONV + "[l2norm]\n", None, "unknown section"),
    ],
)  # fmt: skip
def test_what_pydarknet_does_not_run_is_refused_by_name(
    text: str, option: str | None, said: str
) -> None:
    with pytest.raises(pydarknet.CfgError, match=re.escape(said)) as info:
        check_cfg_bytes(text.encode(), "x.cfg", "alexeyab")
    err = info.value
    assert (err.path, err.option) == ("x.cfg", option)
    if option is not None:
        lines = text.split("\n")
        assert err.line == max(n for n, ln in enumerate(lines, 1) if ln.startswith(f"{option}="))


def test_typos_are_logged_with_the_forks_names(caplog: pytest.LogCaptureFixture) -> None:
    text = NET + CONV + "[yolo]\nclasses=1\nmask=0\nnms_kind=diounms\nbeta_nsm=0.6\n"
    text = text.replace("filters=8", "filters=6")
    with caplog.at_level(logging.WARNING, logger="pydarknet.cfg"):
        net = check_cfg_bytes(text.encode(), "x.cfg")
    assert net.dialect == "alexeyab"
    [record] = caplog.records
    assert "unknown option 'beta_nsm' (did you mean 'beta_nms'?)" in record.getMessage()
    assert "line 15, layer 1 [yolo]" in record.getMessage()


def test_an_unknown_dialect_is_a_value_error() -> None:
    with pytest.raises(pydarknet.DarknetValueError, match="'alexey'"):
        check_cfg_bytes(NET.encode() + CONV.encode(), "x.cfg", "alexey")
