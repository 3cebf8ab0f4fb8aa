"""Bounded fuzzing (hypothesis) of everything that reaches Darknet: cfg text, weights
bytes and image arrays.  Each example either raises a pydarknet error or builds/runs;
a crash takes the test run down, which is the failure this looks for.  Accepted
networks also run a detection, so what the cfg checker lets through is exercised in
Darknet's forward pass too.  Budgets are small: the whole module runs in well under a
minute on a busy 2-core machine; PYDARKNET_FUZZ_SCALE=20 runs 20 times as many.
Crashers found are kept in test_cfgcheck.py.
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.small_net import write_small_net
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pydarknet
import pydarknet.models
from pydarknet.api import raw_detect
from pydarknet.cfg import check_cfg_bytes
from pydarknet.images import from_array

SCALE = int(os.environ.get("PYDARKNET_FUZZ_SCALE", "1"))  # longer runs by hand: e.g. 20
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
    derandomize=SCALE == 1,  # the CI run is the same every time; longer runs explore
)
# A valid network this large (yolov3-tiny at 64x64 needs 70 MiB) costs minutes to build
# and run on 2 cores and tests nothing a smaller one does not: it is not run.
RUN_LIMIT = 256 << 20
SCRATCH = Path(tempfile.mkdtemp(prefix="pydarknet-fuzz-"))
IMAGE = np.random.default_rng(1).integers(0, 256, (40, 52, 3), dtype=np.uint8)

OPTIONS = {
    "[convolutional]": ["filters", "size", "stride", "pad", "padding", "groups",
                        "batch_normalize", "numload", "activation"],
    "[maxpool]": ["size", "stride", "padding"], "[avgpool]": [], "[route]": ["layers"],
    "[shortcut]": ["from", "activation"], "[upsample]": ["stride"],
    "[yolo]": ["mask", "anchors", "classes", "num"], "[connected]": ["output"],
    "[region]": ["classes", "coords", "num", "anchors"], "[softmax]": ["groups"],
    "[reorg]": ["stride", "reverse", "flatten", "extra"], "[dropout]": ["probability"],
    "[crop]": ["crop_height", "crop_width"], "[local]": ["filters", "size", "stride", "pad"],
    "[deconvolutional]": ["filters", "size", "stride", "pad", "padding"],
    "[detection]": ["coords", "classes", "num", "side"], "[batchnorm]": [], "[cost]": [],
    "[lrn]": ["size"], "[activation]": ["activation"], "[logistic]": [], "[l2norm]": [],
    "[iseg]": ["classes", "ids"], "[rnn]": ["output"], "[gru]": ["output"],
    "[lstm]": ["output"], "[crnn]": ["output_filters", "hidden_filters"],
    "[bogus]": ["x"], "[net]": ["width"],
}  # fmt: skip
EXTREMES = ["2147483647", "2147483648", "-2147483648", "99999999999", "100000"]
TEXTS = ["", "-1", "-1,-2", "0,1,2", "1,,2", ",", "3x", "leaky", "nan", "1e9", "0,-4"]
VALUES = st.one_of(st.integers(-2, 12).map(str), st.sampled_from(EXTREMES), st.sampled_from(TEXTS))


def try_network(text: str | bytes) -> None:
    """Build a network from cfg text; if the checker accepts it, run it."""
    data = text if isinstance(text, bytes) else text.encode("latin-1")
    try:
        if check_cfg_bytes(data).bytes_needed > RUN_LIMIT:
            return
    except pydarknet.DarknetError:
        pass  # load_net below must refuse it the same way
    path = SCRATCH / "fuzz.cfg"
    path.write_bytes(data)
    try:
        net = pydarknet.load_net(path)
    except pydarknet.DarknetError:
        return
    with net:
        try:
            raw_detect(net, from_array(IMAGE), thresh=0.1)
        except pydarknet.DarknetValueError:  # not a W x H x 3 image network, or too thin
            pass


@st.composite
def cfg_texts(draw: st.DrawFn) -> str:
    w, h = draw(st.integers(-1, 40)), draw(st.integers(-1, 40))
    c = draw(st.sampled_from([0, 1, 3, 3, 3, 4]))
    lines = ["[net]", f"width={w}", f"height={h}", f"channels={c}"]
    if draw(st.booleans()):
        lines.append(f"{draw(st.sampled_from(['batch', 'subdivisions', 'inputs']))}={draw(VALUES)}")
    for _ in range(draw(st.integers(0, 6))):
        header = draw(st.sampled_from(sorted(OPTIONS)))
        lines.append(header)
        for key in draw(st.lists(st.sampled_from(OPTIONS[header] or ["x"]), max_size=5)):
            lines.append(f"{key}={draw(VALUES)}" if draw(st.integers(0, 9)) else key)
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=250 * SCALE)
@given(cfg_texts())
def test_fuzz_structured_cfg(text: str) -> None:
    try_network(text)


@settings(FUZZ, max_examples=60 * SCALE)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_fuzz_raw_cfg_bytes(data: bytes) -> None:
    try_network(data)
    try_network(b"[net]\nwidth=8\nheight=8\nchannels=3\n" + data)


TINY_LINES = pydarknet.models.data_file("yolov3-tiny.cfg").read_text().replace("416", "64")
TINY_LINES = TINY_LINES.splitlines()  # type: ignore[assignment]


@settings(FUZZ, max_examples=40 * SCALE)
@given(st.lists(st.tuples(st.integers(0, len(TINY_LINES) - 1), st.integers(0, 2), VALUES),
                min_size=1, max_size=3))  # fmt: skip
def test_fuzz_mutated_yolov3_tiny(mutations: list[tuple[int, int, str]]) -> None:
    lines = list(TINY_LINES)
    for index, op, value in mutations:
        index %= len(lines)
        if op == 0:
            del lines[index]
        elif op == 1:
            lines.insert(index, lines[index])
        elif "=" in lines[index]:
            lines[index] = lines[index].split("=")[0] + "=" + value
    try_network("\n".join(lines) + "\n")


WINDOW_KEYS = ("size", "stride", "padding", "pad", "width", "height", "filters", "batch")
WINDOW_LINES = [i for i, line in enumerate(TINY_LINES) if line.split("=")[0].strip() in WINDOW_KEYS]
CHANGES = st.one_of(st.sampled_from(["*2", "*10", "*1000", "neg", "0"]), st.sampled_from(EXTREMES))


def changed(value: str, change: str) -> str:
    v = int(value)
    if change.startswith("*"):
        return str(v * int(change[1:]))
    return {"neg": str(-v), "0": "0"}.get(change, change)


@settings(FUZZ, max_examples=40 * SCALE)
@given(st.lists(st.tuples(st.sampled_from(WINDOW_LINES), CHANGES), min_size=1, max_size=3))
def test_fuzz_sizes_strides_and_windows_of_yolov3_tiny(mutations: list[tuple[int, str]]) -> None:
    """Sizes, strides and window options of yolov3-tiny (at 64x64) multiplied, negated, 0
    or huge: each either detects or raises a DarknetError (a timeout included), in
    bounded time; none hangs or crashes."""
    lines = list(TINY_LINES)
    for index, change in mutations:
        key, value = lines[index].split("=")
        lines[index] = f"{key}={changed(value.strip(), change)}"
    text = "\n".join(lines) + "\n"
    try:
        if check_cfg_bytes(text.encode()).bytes_needed > RUN_LIMIT:
            return
    except pydarknet.DarknetError:
        return
    path = SCRATCH / "window.cfg"
    path.write_text(text)
    try:
        with pydarknet.load_net(path) as net:
            raw_detect(net, from_array(IMAGE), thresh=0.1, deadline=time.monotonic() + 2)
    except pydarknet.DarknetError:
        pass


@pytest.fixture(scope="module")
def small_files() -> tuple[str, str]:
    return write_small_net(SCRATCH)


HEADERS = st.tuples(st.sampled_from([0, 1, 2, 999, 1000, 1001, 2**31 - 1, -(2**31)]),
                    st.sampled_from([0, 1, 2, 999, 1001, -1]), st.integers(-1, 3))  # fmt: skip


def test_fuzz_weights_bytes(small_files: tuple[str, str]) -> None:
    cfg, weights = small_files
    needed = Path(weights).stat().st_size

    @settings(FUZZ, max_examples=80 * SCALE)
    @given(HEADERS, st.integers(0, needed + 12), st.booleans(), st.integers(0, 2**32 - 1))
    def run(head: tuple[int, int, int], length: int, partial: bool, seed: int) -> None:
        body = np.random.default_rng(seed).normal(0, 1, needed // 4).astype("<f4").tobytes()
        data = (struct.pack("<3i", *head) + body)[:length]
        path = SCRATCH / "fuzz.weights"
        path.write_bytes(data)
        try:
            net = pydarknet.load_net(cfg, path, partial=partial)
        except pydarknet.DarknetError:
            return
        with net:
            raw_detect(net, from_array(IMAGE), thresh=0.0)

    run()


def test_fuzz_arrays(small_files: tuple[str, str]) -> None:
    cfg, weights = small_files
    dtypes = st.sampled_from([np.uint8, np.uint8, np.float32, np.int16, np.bool_, np.float64])
    shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9)
    meta = pydarknet.Metadata(3, ("a", "b", "c"))

    with pydarknet.load_net(cfg, weights) as net:

        @settings(FUZZ, max_examples=80 * SCALE)
        @given(hnp.arrays(dtypes, shapes), st.booleans(), st.sampled_from([1, 2, -1]))
        def run(array: np.ndarray, rgb: bool, step: int) -> None:
            view = array[::step] if array.ndim else array
            try:
                result = pydarknet.detect_image(net, meta, view, rgb=rgb, thresh=0.2)
            except pydarknet.ImageError:
                assert (
                    view.dtype != np.uint8
                    or view.ndim not in (2, 3)
                    or 0 in view.shape
                    or (view.ndim == 3 and view.shape[2] not in (1, 3, 4))
                )
                return
            assert isinstance(result, list)

        run()
