"""Bounded fuzzing (hypothesis) of ``dialect="alexeyab"``: cfg texts built from the fork's
layer types and options.  Whatever the cfg checker accepts, the C side must build (no
second opinion: a CfgError from C means checker and builder disagree) and run a
detection on without crashing; whatever the checker refuses, loading refuses the same.
PYDARKNET_FUZZ_SCALE=20 runs 20 times as many examples.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pydarknet
from pydarknet.cfg import check_cfg_bytes
from pydarknet.core import raw_detect_arrays

SCALE = int(os.environ.get("PYDARKNET_FUZZ_SCALE", "1"))
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                print_blob=True, derandomize=SCALE == 1)  # fmt: skip
RUN_LIMIT = 64 << 20
SCRATCH = Path(tempfile.mkdtemp(prefix="pydarknet-fuzz-ab-"))
IMAGE = np.random.default_rng(2).integers(0, 256, (30, 44, 3), dtype=np.uint8)

OPTIONS = {
    "[convolutional]": ["filters", "size", "stride", "stride_x", "stride_y", "pad", "groups",
                        "batch_normalize", "activation", "dilation"],
    "[maxpool]": ["size", "stride", "stride_x", "stride_y", "padding", "maxpool_depth",
                  "out_channels"],
    "[route]": ["layers", "groups", "group_id"], "[avgpool]": [], "[upsample]": ["stride"],
    "[shortcut]": ["from", "activation", "weights_type", "weights_normalization"],
    "[sam]": ["from", "activation"], "[scale_channels]": ["from", "scale_wh"],
    "[reorg3d]": ["stride", "reverse"], "[empty]": [], "[activation]": ["activation"],
    "[dropout]": ["probability"], "[batchnorm]": [],
    "[yolo]": ["mask", "anchors", "classes", "num", "scale_x_y", "new_coords", "nms_kind"],
}  # fmt: skip
TEXTS = ["-1", "-2", "-1,-2", "0", "0,1,2", "mish", "swish", "hard_mish", "relu6", "gelu",
         "logistic", "leaky", "per_channel", "per_feature", "softmax", "relu", "diounms",
         "greedynms", "1.05", "2.0", "2147483648", ""]  # fmt: skip
VALUES = st.one_of(st.integers(-1, 9).map(str), st.sampled_from(TEXTS))


@st.composite
def fork_cfgs(draw: st.DrawFn) -> str:
    w, h = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    lines = ["[net]", f"width={w}", f"height={h}", "channels=3"]
    if draw(st.booleans()):
        lines.append("letter_box=1")
    lines += ["[convolutional]", "filters=8", "size=3", "pad=1", "activation=mish"]
    for _ in range(draw(st.integers(0, 6))):
        header = draw(st.sampled_from(sorted(OPTIONS)))
        lines.append(header)
        for key in draw(st.lists(st.sampled_from(OPTIONS[header] or ["x"]), max_size=5)):
            lines.append(f"{key}={draw(VALUES)}")
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=200 * SCALE)
@given(fork_cfgs())
def test_fuzz_fork_cfgs(text: str) -> None:
    data = text.encode()
    try:
        accepted = check_cfg_bytes(data, "fuzz.cfg", "alexeyab")
    except pydarknet.DarknetError:
        accepted = None
    path = SCRATCH / "fuzz.cfg"
    path.write_bytes(data)
    if accepted is None:
        try:
            pydarknet.load_net(path, dialect="alexeyab").close()
        except pydarknet.DarknetError:
            return
        raise AssertionError("the checker refused a cfg that loads")
    if accepted.bytes_needed > RUN_LIMIT:
        return
    with pydarknet.load_net(path, dialect="alexeyab", device="cpu") as net:
        try:
            raw_detect_arrays(net, [IMAGE], 0.1)
        except pydarknet.DarknetValueError:  # no W x H x 3 input, or too thin to letterbox
            pass
