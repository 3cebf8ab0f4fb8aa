"""Each script in examples/ (and the video benchmark) runs on real images and video and
gives what the library gives."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.media import decoded_frames, image_folder, make_video
from helpers.small_net import write_classifier

import pydarknet

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def run_script(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([sys.executable, str(script), *args], cwd=cwd, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_detect_image(tmp_path, dog, detector) -> None:  # type: ignore[no-untyped-def]
    res = run_script(EXAMPLES / "detect_image.py", dog, "--out", "dog.jpg", cwd=tmp_path)
    rows = [ln.split()[:2] for ln in res.stdout.splitlines() if not ln.startswith("wrote")]
    expected = detector.detect(dog)
    assert rows == [[d.label, f"{d.confidence:.2f}"] for d in expected]
    drawn = cv2.imread(str(tmp_path / "dog.jpg"))
    assert drawn.shape == (576, 768, 3) and not np.array_equal(drawn, cv2.imread(dog))


def test_detect_folder(tmp_path, data_dir, detector) -> None:  # type: ignore[no-untyped-def]
    folder = image_folder(tmp_path / "in", data_dir, ("dog.jpg", "kite.jpg"))
    res = run_script(EXAMPLES / "detect_folder.py", str(folder), "--out", "out", cwd=tmp_path)
    assert "2 images; found" in res.stdout and "2/2" in res.stderr  # summary, progress bar
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["dog.jpg", "kite.jpg", "results.jsonl"]
    for line in (out / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        expected = [d.to_dict() for d in detector.detect(record["image"])]
        assert record["detections"] == expected


def test_detect_video(tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    video = make_video(tmp_path / "in.avi", data_dir, frames=6, fourcc="MJPG")
    res = run_script(EXAMPLES / "detect_video.py", str(video), "--max-frames", "3", "--out",
                     "out.mp4", cwd=tmp_path)  # fmt: skip
    assert res.stdout.startswith("3 frames, ") and "dog" in res.stdout
    assert "3/3" in res.stderr
    frames = decoded_frames(tmp_path / "out.mp4")
    assert len(frames) == 3 and frames[0].shape == (480, 640, 3)


def test_classify_with_own_cfg(tmp_path, dog, data_dir) -> None:  # type: ignore[no-untyped-def]
    """No classification weights offline: a small classifier with seeded weights."""
    cfg, weights, names = write_classifier(tmp_path, seed=11)
    images = [dog, str(data_dir / "eagle.jpg")]
    args = ["--cfg", str(cfg), "--weights", str(weights), "--names", str(names), "--top", "3"]
    res = run_script(EXAMPLES / "classify.py", *images, *args, "--json", cwd=tmp_path)
    text = run_script(EXAMPLES / "classify.py", images[0], *args, cwd=tmp_path).stdout
    meta = pydarknet.load_meta(names)
    with pydarknet.load_net(cfg, weights) as net:
        expected = {img: pydarknet.classify(net, meta, img)[:3] for img in images}
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["image"] for r in records] == images
    for r in records:
        assert [(n, p) for n, p in r["top"]] == expected[r["image"]]
    # Darknet's "classifier predict" format: "%5.2f%%: %s"
    assert text.splitlines()[1:] == [f"{p * 100:5.2f}%: {n}" for n, p in expected[dog]]


def test_distributed_matches_local_loop(tmp_path, data_dir, detector) -> None:  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("distributed") is None:
        pytest.skip('Dask distributed is not installed (pip install "dask[distributed]")')
    res = run_script(EXAMPLES / "distributed_dask.py", str(data_dir), "--limit", "3",
                     "--workers", "2", cwd=tmp_path)  # fmt: skip
    records = [json.loads(line) for line in res.stdout.splitlines()]
    paths = [str(p) for p in pydarknet.find_images([data_dir])][:3]
    assert [r["image"] for r in records] == paths
    local = {p: [d.to_dict() for d in detector.detect(p)] for p in paths}
    # Dask's workers run one thread each (it sets OMP_NUM_THREADS=1) and the fast path's
    # sums are split by thread, so the last bits may differ: equal to float32 rounding.
    for r in records:
        got, want = r["detections"], local[r["image"]]
        assert [d["label"] for d in got] == [d["label"] for d in want]
        for g, w in zip(got, want, strict=True):
            assert g["confidence"] == pytest.approx(w["confidence"], rel=1e-5)
            assert g["box"] == pytest.approx(w["box"], rel=1e-5)
    assert sum(len(r["detections"]) for r in records) >= 3


def test_video_benchmark_runs(tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    res = run_script(REPO / "benchmarks" / "bench_video.py", "--frames", "2", "--rounds", "1",
                     "--size", "320x240", "--images", str(data_dir), cwd=tmp_path)  # fmt: skip
    fps = dict(re.findall(r"^(inference only|serial|pipelined)\s*:\s*([0-9.]+) FPS", res.stdout,
                          re.M))  # fmt: skip
    assert set(fps) == {"inference only", "serial", "pipelined"}
    assert all(float(v) > 0 for v in fps.values())


def test_detect_fork(tmp_path, data_dir, coco_names) -> None:  # type: ignore[no-untyped-def]
    """No fork weights offline: seeded ones, written by AlexeyAB's darknet itself."""
    from helpers.alexeyab import fork_cfg, fork_dir, fork_weights

    if fork_dir() is None:
        pytest.skip("AlexeyAB's darknet is not available (tests/helpers/alexeyab.py)")
    cfg = fork_cfg("yolov4-tiny", tmp_path, 224)
    weights = fork_weights(cfg, tmp_path / "yolov4-tiny.weights")
    images = [str(data_dir / "dog.jpg"), str(data_dir / "eagle.jpg")]
    args = ["--cfg", str(cfg), "--weights", str(weights), "--names", coco_names]
    res = run_script(EXAMPLES / "detect_fork.py", *images, *args, "--out", "out", cwd=tmp_path)
    lines = res.stdout.splitlines()
    assert lines[0] == f"{cfg}: alexeyab's darknet, 224x224 input, images stretched"
    with pydarknet.Detector(cfg=cfg, weights=weights, names=coco_names, thresh=0.25) as det:
        expected = [f"{img}: {d.label} {d.confidence:.4f} " + " ".join(f"{v:.1f}" for v in
                    d.box.xywh) for img in images for d in det.detect(img)]  # fmt: skip
    assert lines[1:] == expected and expected
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dog.jpg", "eagle.jpg"]
