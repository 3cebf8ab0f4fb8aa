"""``pydarknet detect`` on folders and globs, and ``pydarknet video``, on real images and
a real (made) video, run as a user runs them: ``python -m pydarknet.cli`` in a subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import reference
from helpers.media import decoded_frames, image_folder, make_video

import pydarknet


def run_cli(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([sys.executable, "-m", "pydarknet.cli", *args], cwd=cwd,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    if ok:
        assert res.returncode == 0, res.stderr[-3000:]
    return res


def as_dicts(dets: list[pydarknet.Detection]) -> list[dict]:  # type: ignore[type-arg]
    return [d.to_dict() for d in dets]


def test_single_image_prints_darknet_lines_and_writes_predictions(tmp_path, dog) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("detect", dog, cwd=tmp_path)
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"{dog}: Predicted in ") and lines[0].endswith(" seconds.")
    expected = ["dog: 56%", "car: 52%", "truck: 55%", "car: 62%", "bicycle: 59%"]
    if reference.available():  # what ./darknet detect printed for the same weights
        cfg = str(pydarknet.models.data_file("yolov3-tiny.cfg"))
        expected = reference.cli_lines(cfg, str(pydarknet.models.weights_path("yolov3-tiny")), dog)
    assert lines[1:] == expected
    assert "it/s" not in res.stderr and "img" not in res.stderr  # no progress bar for one image
    written = cv2.imread(str(tmp_path / "predictions.jpg"))
    assert written.shape == (576, 768, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jpg"]


def test_folder(tmp_path, data_dir, detector) -> None:  # type: ignore[no-untyped-def]
    folder = image_folder(tmp_path / "in", data_dir, ("dog.jpg", "eagle.jpg"))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("not an image; a folder gives only image files")
    res = run_cli("detect", str(folder), "--out", "out", cwd=tmp_path, ok=False)
    assert res.returncode == 1, res.stderr  # one image failed; the others were done
    assert "cannot decode image" in res.stderr and "broken.jpg" in res.stderr
    assert "3/3" in res.stderr  # the progress bar got to the end
    assert "dog: 56%" in res.stdout and "bird: " in res.stdout  # Darknet's lines per image
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["dog.jpg", "eagle.jpg", "results.jsonl"]
    for name in ("dog.jpg", "eagle.jpg"):
        original = cv2.imread(str(folder / name))
        annotated = cv2.imread(str(out / name))
        assert annotated.shape == original.shape
        assert np.abs(annotated.astype(int) - original).max() > 100  # boxes were drawn
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [Path(r["image"]).name for r in records] == ["broken.jpg", "dog.jpg", "eagle.jpg"]
    assert "error" in records[0] and "detections" not in records[0]
    for r in records[1:]:
        assert (r["width"], r["height"]) == cv2.imread(r["image"]).shape[1::-1]
        assert r["seconds"] > 0
        expected = detector.detect(r["image"], darknet_order=True)
        assert r["detections"] == as_dicts(expected)


def test_glob_to_csv_without_images(tmp_path, data_dir, detector) -> None:  # type: ignore[no-untyped-def]
    pattern = str(data_dir / "[gk]*.jpg")  # giraffe.jpg, kite.jpg
    res = run_cli("detect", pattern, "--results", "r.csv", "--no-save", "--quiet", cwd=tmp_path)
    assert res.stdout == ""
    assert "2/2" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]
    with open(tmp_path / "r.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for name in ("giraffe.jpg", "kite.jpg"):
        got = [r for r in rows if Path(r["image"]).name == name]
        expected = detector.detect(str(data_dir / name), darknet_order=True)
        assert [(r["label"], float(r["confidence"])) for r in got] == [
            (d.label, d.confidence) for d in expected
        ]
        assert [float(r["x"]) for r in got] == [d.box.x for d in expected]


def test_find_images(tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    image_folder(tmp_path / "a", data_dir, ("dog.jpg", "kite.jpg"))
    image_folder(tmp_path / "a" / "sub", data_dir, ("eagle.jpg",))
    (tmp_path / "a" / "x.names").write_text("person\n")
    found = pydarknet.find_images([tmp_path / "a"])
    assert [p.name for p in found] == ["dog.jpg", "kite.jpg"]  # not recursive, images only
    deep = pydarknet.find_images([str(tmp_path / "a" / "**" / "*.jpg")])
    assert sorted(p.name for p in deep) == ["dog.jpg", "eagle.jpg", "kite.jpg"]
    named = pydarknet.find_images([tmp_path / "a" / "x.names", tmp_path / "a" / "kite.jpg"])
    assert [p.name for p in named] == ["x.names", "kite.jpg"]  # files named outright stay
    for bad in (tmp_path / "missing.jpg", str(tmp_path / "*.png"), tmp_path / "a" / "sub2"):
        with pytest.raises(FileNotFoundError):
            pydarknet.find_images([bad])
    res = run_cli("detect", str(tmp_path / "nothing*.jpg"), cwd=tmp_path, ok=False)
    assert res.returncode == 1 and "no images match" in res.stderr


def test_same_names_do_not_overwrite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pydarknet.cli.detect import _Outputs

    outs = _Outputs(tmp_path)
    names = [outs.path(Path(p)).name for p in ("a/dog.jpg", "b/dog.png", "dog.jpg", "cat.jpg")]
    assert names == ["dog.jpg", "dog_2.jpg", "dog_3.jpg", "cat.jpg"]


FRAMES = 12


@pytest.fixture(scope="module")
def video(tmp_path_factory, data_dir) -> Path:  # type: ignore[no-untyped-def]
    return make_video(tmp_path_factory.mktemp("video") / "in.mp4", data_dir, FRAMES)


def test_video(tmp_path, video, detector) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("video", str(video), "--out", "out.avi", "--results", "r.jsonl", cwd=tmp_path)
    assert f"{FRAMES} frames in " in res.stdout and "FPS" in res.stdout
    assert f"{FRAMES}/{FRAMES}" in res.stderr and "FPS" in res.stderr  # the progress bar
    frames_in = decoded_frames(video)
    frames_out = decoded_frames(tmp_path / "out.avi")
    assert len(frames_in) == len(frames_out) == FRAMES
    assert frames_out[0].shape == (480, 640, 3)
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(FRAMES))  # in order
    for i in (0, 4, 11):  # dog, person, kite frames
        expected = detector.detect(frames_in[i])
        assert records[i]["detections"] == as_dicts(expected), i
        assert expected
        # the written frame is our drawing of the frame (up to MJPG's loss), not the frame
        drawn = detector.draw(frames_in[i], expected)
        marks = np.any(drawn != frames_in[i], axis=-1)  # box edges and labels
        assert marks.sum() > 1000
        out = frames_out[i][marks].astype(int)
        err_drawn = np.abs(out - drawn[marks]).mean()
        err_plain = np.abs(out - frames_in[i][marks]).mean()
        assert err_drawn < err_plain / 3, (i, err_drawn, err_plain)


def test_video_max_frames_and_errors(tmp_path, video) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("video", str(video), "--max-frames", "2", "--no-save", "--no-progress",
                  cwd=tmp_path)  # fmt: skip
    assert res.stdout.startswith("2 frames in ") and res.stderr == ""
    assert list(tmp_path.iterdir()) == []
    res = run_cli("video", "missing.mp4", cwd=tmp_path, ok=False)
    assert res.returncode == 1 and "video not found" in res.stderr
    res = run_cli("video", "97", "--no-save", cwd=tmp_path, ok=False)  # no camera 97 here
    assert res.returncode == 1 and "cannot open camera 97" in res.stderr
