"""pydarknet reproduces the original program: Debian's ``darknet detect`` (pjreddie's CLI
at the same commit) and its libdarknet, on every image in darknet/data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import reference
from helpers.compare import NEAR, assert_reproduced

import pydarknet
from pydarknet.api import raw_detect
from pydarknet.images import from_array, load_image

pytestmark = pytest.mark.usefixtures("needs_reference")
THRESH = 0.5


@pytest.fixture(scope="module")
def images(data_dir: Path) -> list[str]:
    found = reference.data_images(data_dir)
    assert len(found) >= 7, found
    return found


@pytest.fixture(scope="module")
def reference_dets(tiny_cfg: str, tiny_weights: str, images: list[str]):  # type: ignore[no-untyped-def]
    return reference.library_detections(tiny_cfg, tiny_weights, images, 80, 0.0 + THRESH - NEAR)


def ours(net, path: str, numpy_path: bool):  # type: ignore[no-untyped-def]
    img = from_array(cv2.imread(path)) if numpy_path else load_image(path)
    raw = raw_detect(net, img, THRESH - NEAR)
    rows, cols = raw.pairs()
    return [(int(j), float(raw.probs[i, j]), tuple(map(float, raw.boxes[i])))
            for i, j in zip(rows, cols, strict=True)]  # fmt: skip


@pytest.mark.parametrize("numpy_path", [False, True], ids=["file", "numpy"])
def test_detections_match_reference_library(net, images, reference_dets, numpy_path) -> None:  # type: ignore[no-untyped-def]
    total = 0
    for path in images:
        total += assert_reproduced(reference_dets[path], ours(net, path, numpy_path), THRESH)
    assert total >= 15  # the data images hold plenty of confident detections


def test_file_and_numpy_paths_agree(net, images) -> None:  # type: ignore[no-untyped-def]
    for path in images:
        a, b = ours(net, path, False), ours(net, path, True)
        assert [x[:2] for x in a] == [x[:2] for x in b]
        assert np.allclose([x[2] for x in a], [x[2] for x in b])


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.endswith("%") and "Predicted" not in ln]


def _pairs(lines: list[str]) -> list[tuple[str, int]]:
    return [(ln.rsplit(": ", 1)[0], int(ln.rsplit(": ", 1)[1][:-1])) for ln in lines]


def test_cli_prints_what_darknet_detect_prints(  # type: ignore[no-untyped-def]
    tiny_cfg, tiny_weights, coco_names, images, tmp_path
) -> None:
    for path in images:
        expected = _pairs(reference.cli_lines(tiny_cfg, tiny_weights, path))
        res = subprocess.run(
            [sys.executable, "-m", "pydarknet.cli", "detect", path, "--cfg", tiny_cfg,
             "--weights", tiny_weights, "--data", coco_names, "--no-save"],
            capture_output=True, text=True, check=True, cwd=tmp_path,
        )  # fmt: skip
        got = _pairs(_lines(res.stdout))
        assert len(got) == len(expected), (path, got, expected)
        for (gn, gp), (en, ep) in zip(got, expected, strict=True):
            assert gn == en and abs(gp - ep) <= 1, (path, got, expected)


def test_dog_lines_exactly(dog, tiny_cfg, tiny_weights) -> None:  # type: ignore[no-untyped-def]
    expected = reference.cli_lines(tiny_cfg, tiny_weights, dog)
    det = pydarknet.Detector("yolov3-tiny")
    got = [f"{d.label}: {d.confidence * 100:.0f}%" for d in det.detect(dog, darknet_order=True)]
    assert got == expected
    assert sorted(got) == sorted(["dog: 56%", "car: 52%", "truck: 55%", "car: 62%", "bicycle: 59%"])
