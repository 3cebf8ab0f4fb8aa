"""The public API: types, shapes, NumPy input variants, metadata, classify, Detector."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import reference
from helpers.small_net import write_classifier

import pydarknet
from pydarknet.models import MODELS, expected_sizes


@pytest.fixture(scope="module")
def bgr(dog: str) -> np.ndarray:
    return cv2.imread(dog)


def test_detect_returns_darknet_py_tuples(net, meta, dog) -> None:  # type: ignore[no-untyped-def]
    res = pydarknet.detect(net, meta, dog)
    assert len(res) == 5
    for name, prob, box in res:
        assert isinstance(name, str) and name in meta.names
        assert isinstance(prob, float) and 0.5 < prob <= 1
        assert len(box) == 4 and all(isinstance(v, float) for v in box)
        x, y, w, h = box
        assert 0 <= x <= 768 and 0 <= y <= 576 and w > 0 and h > 0  # dog.jpg is 768x576
    probs = [p for _, p, _ in res]
    assert probs == sorted(probs, reverse=True)
    assert {n for n, _, _ in res} == {"dog", "bicycle", "car", "truck"}


def test_thresholds_change_results(net, meta, dog) -> None:  # type: ignore[no-untyped-def]
    low = pydarknet.detect(net, meta, dog, thresh=0.1)
    high = pydarknet.detect(net, meta, dog, thresh=0.6)
    assert len(low) > 5 > len(high) >= 1
    assert all(p > 0.1 for _, p, _ in low)
    obj = pydarknet.detect(net, meta, dog, nms_kind="obj")
    assert {n for n, _, _ in obj} >= {"dog", "bicycle"}


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert [(n, round(p, 5)) for n, p, _ in a] == [(n, round(p, 5)) for n, p, _ in b]
    assert np.allclose([x[2] for x in a], [x[2] for x in b], atol=1e-3)


def test_numpy_variants_equal_contiguous_bgr(net, meta, bgr) -> None:  # type: ignore[no-untyped-def]
    base = pydarknet.detect_image(net, meta, bgr)
    _same(pydarknet.detect_image(net, meta, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), rgb=True), base)
    _same(pydarknet.detect_image(net, meta, cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)), base)
    big = np.zeros((bgr.shape[0] * 2, bgr.shape[1] * 2, 3), np.uint8)
    big[::2, ::2] = bgr
    view = big[::2, ::2]
    assert not view.flags.c_contiguous
    _same(pydarknet.detect_image(net, meta, view), base)
    flipped = bgr[:, ::-1]
    _same(pydarknet.detect_image(net, meta, flipped),
          pydarknet.detect_image(net, meta, np.ascontiguousarray(flipped)))  # fmt: skip
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    _same(pydarknet.detect_image(net, meta, gray),
          pydarknet.detect_image(net, meta, np.dstack([gray, gray, gray])))  # fmt: skip


def test_numpy_and_file_paths_agree(net, meta, dog, bgr) -> None:  # type: ignore[no-untyped-def]
    _same(pydarknet.detect(net, meta, Path(dog)), pydarknet.detect_image(net, meta, bgr))


def test_load_meta_data_file_resolution(tmp_path, monkeypatch, coco_names) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "cfg").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "my.names").write_text(Path(coco_names).read_text())
    data = tmp_path / "cfg" / "my.data"
    data.write_text("classes= 80\ntrain = x\nnames = data/my.names\n")
    monkeypatch.chdir("/")
    meta = pydarknet.load_meta(data)  # found in the .data file's parent folder
    assert meta.classes == 80 and meta.names[0] == "person" and meta.names[-1] == "toothbrush"
    (tmp_path / "cfg" / "data").mkdir()
    (tmp_path / "cfg" / "data" / "my.names").write_text("a\nb\n" * 40)
    assert pydarknet.load_meta(data).names[:2] == ("a", "b")  # the folder itself wins
    plain = pydarknet.load_meta(coco_names)
    assert plain.classes == 80 and "dog" in plain.names


def test_detector_records(dog) -> None:  # type: ignore[no-untyped-def]
    with pydarknet.Detector("yolov3-tiny") as det:
        found = det.detect(dog)
        assert [d.label for d in found][:1] == ["car"]
        d = found[0]
        assert isinstance(d, pydarknet.Detection) and isinstance(d.box, pydarknet.Box)
        assert det.names[d.class_id] == d.label
        x0, y0, x1, y1 = d.box.xyxy
        assert x1 - x0 == pytest.approx(d.box.w) and (x0 + x1) / 2 == pytest.approx(d.box.x)
        assert y1 - y0 == pytest.approx(d.box.h) and (y0 + y1) / 2 == pytest.approx(d.box.y)
        assert d.box.xywh == (d.box.x, d.box.y, d.box.w, d.box.h)
        again = pickle.loads(pickle.dumps(det))
        assert [(e.label, e.confidence) for e in again.detect(dog)] == [
            (e.label, e.confidence) for e in found
        ]
        again.close()
        drawn = pydarknet.draw_detections(cv2.imread(dog), found, len(det.names))
        assert drawn.shape == (576, 768, 3) and not np.array_equal(drawn, cv2.imread(dog))


@pytest.mark.usefixtures("needs_reference")
def test_classify_matches_reference_library(tmp_path, dog, data_dir) -> None:  # type: ignore[no-untyped-def]
    cfg, weights, names = write_classifier(tmp_path, seed=7)
    images = [dog, str(data_dir / "eagle.jpg")]
    expected = reference.library_scores(str(cfg), str(weights), images, 10)
    meta = pydarknet.load_meta(names)
    with pydarknet.load_net(cfg, weights) as net:
        assert net.classes == 0 and net.outputs == 10
        for img in images:
            got = pydarknet.classify(net, meta, img)
            assert len(got) == 10 and [p for _, p in got] == sorted([p for _, p in got])[::-1]
            assert sum(p for _, p in got) == pytest.approx(1.0, abs=1e-4)
            ref = {f"class{i}": p for i, p in enumerate(expected[img])}
            for name, p in got:
                assert p == pytest.approx(ref[name], abs=1e-4)
            arr = pydarknet.classify(net, meta, cv2.imread(img))
            assert [n for n, _ in arr] == [n for n, _ in got]


def test_zoo_sizes_follow_from_cfg() -> None:
    sizes = {name: expected_sizes(m) for name, m in MODELS.items()}
    assert 35434956 in sizes["yolov3-tiny"]  # the official files' byte sizes
    assert 248007048 in sizes["yolov3"]
    assert 203934260 in sizes["yolov2"]
    assert 44948600 in sizes["yolov2-tiny"]
    for name, m in MODELS.items():
        assert (
            m.url.endswith(f"/{name}.weights") and m.cfg_path.is_file() and m.names_path.is_file()
        )


def test_installed_data_is_the_zoo_list() -> None:
    """The build ships the files pydarknet/zoo.json names (CMake reads the same list)."""
    shipped = {p.name for p in pydarknet.models.data_file("coco.data").parent.iterdir()}
    listed = {m.cfg for m in MODELS.values()} | {m.names for m in MODELS.values()}
    assert shipped == listed | {"coco.data"}


def test_cached_weights_verified(tiny_weights) -> None:  # type: ignore[no-untyped-def]
    from pydarknet.models import verify

    verify(MODELS["yolov3-tiny"], Path(tiny_weights))
