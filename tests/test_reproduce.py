"""pydarknet reproduces the original program: Debian's ``darknet detect`` (pjreddie's CLI
at the same commit) and its libdarknet, on every image in darknet/data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import reference

import pydarknet
from pydarknet.api import raw_detect
from pydarknet.images import from_array, load_image

pytestmark = pytest.mark.usefixtures("needs_reference")
THRESH = 0.5
NEAR = 0.02  # detections this close to the threshold may flip either way


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw, ih = max(0.0, min(ax1, bx1) - max(ax0, bx0)), max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


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


def assert_reproduced(expected, got) -> int:  # type: ignore[no-untyped-def]
    """Every reference detection clear of the threshold has a twin in ``got``."""
    checked = 0
    for cls, prob, box in expected:
        if abs(prob - THRESH) <= NEAR or prob <= THRESH:
            continue
        twins = [(p, b) for c, p, b in got if c == cls and iou(b, box) >= 0.97]
        assert twins, f"class {cls} p={prob:.3f} box={box} not reproduced in {got}"
        assert min(abs(p - prob) for p, _ in twins) <= 0.02
        checked += 1
    return checked


@pytest.mark.parametrize("numpy_path", [False, True], ids=["file", "numpy"])
def test_detections_match_reference_library(net, images, reference_dets, numpy_path) -> None:  # type: ignore[no-untyped-def]
    total = 0
    for path in images:
        total += assert_reproduced(reference_dets[path], ours(net, path, numpy_path))
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
