"""Drawing like Darknet's predictions image, and the threaded pipeline under it all."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import reference

import pydarknet
from pydarknet.draw import class_color, label_text
from pydarknet.pipeline import Sink, pipelined


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    with pydarknet.Detector("yolov3-tiny") as det:
        yield det


@pytest.fixture(scope="module")
def dog_result(detector, dog):  # type: ignore[no-untyped-def]
    bgr = cv2.imread(dog)
    dets = detector.detect(bgr, darknet_order=True)
    return bgr, dets


def _boxes(dets):  # type: ignore[no-untyped-def]
    """Detections grouped by box, classes in class order (as Darknet labels them)."""
    groups: dict[tuple[float, ...], list[pydarknet.Detection]] = {}
    for d in dets:
        groups.setdefault(d.box.xywh, []).append(d)
    return [sorted(g, key=lambda d: d.class_id) for g in groups.values()]


def _edges(box: pydarknet.Box, shape: tuple[int, ...], width: int) -> dict[str, np.ndarray]:
    """Index arrays of the four edge bands of a drawn box (Darknet's clipping)."""
    h, w = shape[:2]
    left, top, right, bot = (int(v) for v in box.xyxy)
    left, top, right, bot = max(left, 0), max(top, 0), min(right, w - 1), min(bot, h - 1)
    rows, cols = slice(top + width, bot - width), slice(left + width, right - width)
    return {
        "left": np.s_[rows, left : left + width],
        "right": np.s_[rows, right - width + 1 : right + 1],
        "top": np.s_[top : top + width, cols],
        "bottom": np.s_[bot - width + 1 : bot + 1, cols],
    }


def test_labels_give_confidence(dog_result) -> None:  # type: ignore[no-untyped-def]
    _, dets = dog_result
    labels = sorted(label_text(g) for g in _boxes(dets))
    # ./darknet detect prints dog 56%, car 52%, truck 55%, car 62%, bicycle 59%;
    # "car 52%" and "truck 55%" are two classes of one box, as in Darknet's image
    assert labels == ["bicycle 59%", "car 52%, truck 55%", "car 62%", "dog 56%"]
    assert sorted(label_text(g, confidence=False) for g in _boxes(dets)) == [
        "bicycle", "car", "car, truck", "dog",
    ]  # fmt: skip


def test_box_edges_in_class_colour(detector, dog_result) -> None:  # type: ignore[no-untyped-def]
    bgr, dets = dog_result
    drawn = detector.draw(bgr, dets)
    assert drawn.shape == bgr.shape and drawn.dtype == np.uint8
    assert not np.shares_memory(drawn, bgr)
    width = int(bgr.shape[0] * 0.006)  # Darknet's line width: 3 px on a 576-px image
    for group in _boxes(dets):
        color = np.array(class_color(group[0].class_id, 80))
        for name, band in _edges(group[0].box, bgr.shape, width).items():
            share = np.all(drawn[band] == color, axis=-1).mean()
            # other boxes and labels drawn on top may cover a little of an edge
            assert share > 0.8, (group[0].label, name, share)
        # just outside the box, the photo is (mostly) untouched
        left, top, _, bot = (int(v) for v in group[0].box.xyxy)
        inner = drawn[top + 3 * width : bot - 3 * width, left + width + 1]
        assert np.mean(np.all(inner == color, axis=-1)) < 0.5


def test_label_above_box(detector, dog_result) -> None:  # type: ignore[no-untyped-def]
    bgr, dets = dog_result
    dog = next(d for d in dets if d.label == "dog")
    color = np.array(class_color(dog.class_id, 80))
    left, top, _, _ = (int(v) for v in dog.box.xyxy)
    strip = slice(max(top - 30, 0), top)

    def label_pixels(img: np.ndarray) -> tuple[int, int]:
        region = img[strip, left : left + 200]
        return int(np.all(region == color, axis=-1).sum()), int(np.all(region < 60, axis=-1).sum())

    with_conf = label_pixels(detector.draw(bgr, [dog]))
    plain = label_pixels(detector.draw(bgr, [dog], confidence=False))
    assert plain[0] > 200 and plain[1] > 20  # a filled label in the class colour, dark text
    assert with_conf[0] > plain[0] * 1.5  # "dog 56%" is a wider label than "dog"
    fn = pydarknet.draw_detections(bgr, [dog], 80)  # the function form
    assert np.array_equal(fn, detector.draw(bgr, [dog]))
    in_place = bgr.copy()
    pydarknet.draw_detections(in_place, [dog], 80, copy=False)
    assert np.array_equal(in_place, fn)


@pytest.mark.usefixtures("needs_reference")
def test_colours_match_darknets_own_image(tiny_cfg, tiny_weights, dog, dog_result) -> None:  # type: ignore[no-untyped-def]
    """Debian's ``darknet detect`` draws its predictions image: same boxes, same colours."""
    _, dets = dog_result
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([reference.DARKNET_BIN, "detect", tiny_cfg, tiny_weights, dog, "-out",
                        str(Path(tmp) / "pred")], cwd=reference.DARKNET_SHARE, check=True,
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=300)  # fmt: skip
        theirs = cv2.imread(str(Path(tmp) / "pred.jpg"))
    width = int(theirs.shape[0] * 0.006)
    for group in _boxes(dets):
        color = np.array(class_color(group[0].class_id, 80), np.int16)
        for name, band in _edges(group[0].box, theirs.shape, width).items():
            diff = np.abs(theirs[band].astype(np.int16) - color).max(axis=-1)
            assert np.median(diff) <= 16, (group[0].label, name)  # JPEG noise only


def test_pipeline_keeps_order_and_overlaps() -> None:
    assert list(pipelined(range(40), lambda x: x * x, depth=2)) == [(i, i * i) for i in range(40)]

    def slow_source():  # type: ignore[no-untyped-def]
        for i in range(8):
            time.sleep(0.05)  # "decoding"
            yield i

    def slow_stage(x: int) -> int:
        time.sleep(0.05)  # "inference"
        return x

    start = time.perf_counter()
    for _ in pipelined(slow_source(), slow_stage):
        time.sleep(0.05)  # "drawing"
    elapsed = time.perf_counter() - start
    assert elapsed < 0.8, elapsed  # serial: 8 * 0.15 = 1.2 s; overlapped: about 0.45 s


def test_pipeline_errors_and_early_exit() -> None:
    def broken_source():  # type: ignore[no-untyped-def]
        yield from range(3)
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item, _ in pipelined(broken_source(), lambda x: x):
            got.append(item)
    assert got == [0, 1, 2]

    def stage(x: int) -> int:
        if x == 5:
            raise pydarknet.ImageError("bad frame")
        return x

    got = []
    with pytest.raises(pydarknet.ImageError, match="bad frame"):
        for item, _ in pipelined(range(10), stage):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]

    before = threading.active_count()
    gen = pipelined(iter(range(10**9)), lambda x: x, depth=2)
    for item, _ in gen:
        if item == 3:
            break
    gen.close()  # leaving early stops both threads
    assert threading.active_count() == before
    with pytest.raises(pydarknet.DarknetValueError):
        next(pipelined([], lambda x: x, depth=0))


def test_sink_consumes_in_order_in_its_own_thread() -> None:
    got: list[int] = []
    threads: set[str] = set()

    def consume(x: int) -> None:
        time.sleep(0.02)  # "encoding"
        threads.add(threading.current_thread().name)
        got.append(x)

    start = time.perf_counter()
    with Sink(consume, depth=2) as sink:
        for i in range(10):
            time.sleep(0.02)  # "drawing", overlapping the previous item's encoding
            sink.put(i)
    elapsed = time.perf_counter() - start
    assert got == list(range(10)) and threads == {"pydarknet-sink"}
    assert elapsed < 0.36, elapsed  # serial: 10 * 0.04 = 0.4 s; overlapped: about 0.22 s

    def fails(x: int) -> None:
        if x == 2:
            raise OSError("disk full")

    sink = Sink(fails)
    with pytest.raises(OSError, match="disk full"):
        for i in range(100):
            sink.put(i)
        sink.close()
    sink.close()  # idempotent, the error was reported once
