"""Video files and cameras: frames in, detections and an annotated video out.

Decoding, inference and drawing/writing run at once in three threads
(:func:`pydarknet.pipeline.pipelined`), so throughput is bound by inference alone
(``benchmarks/bench_video.py`` measures it).

>>> from pydarknet import Detector
>>> from pydarknet.video import annotate_video, detect_video
>>> det = Detector("yolov3-tiny")
>>> summary = annotate_video(det, "in.mp4", "out.mp4")       # or a camera: 0
>>> for index, frame, dets in detect_video(det, "in.mp4"):   # your own loop
...     ...
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .detector import Detector
from .draw import draw_detections
from .errors import DarknetFileNotFoundError, DarknetValueError
from .images import DarknetImage, from_array
from .pipeline import Sink, pipelined
from .results import Detection

__all__ = ["VideoSummary", "annotate_video", "detect_video", "open_video", "read_frames"]

VideoSource = str | os.PathLike[str] | int
#: FourCC codes by output suffix; anything else gets ``mp4v``.
FOURCC = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v"}


def open_video(source: VideoSource) -> cv2.VideoCapture:
    """An opened ``cv2.VideoCapture`` of a file, or of a camera given by its index
    (an ``int`` or a string of digits such as ``"0"``)."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        cap = cv2.VideoCapture(int(source))
        what = f"camera {int(source)}"
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise DarknetFileNotFoundError(f"video not found: {path!r}")
        cap = cv2.VideoCapture(path)
        what = f"video {path!r}"
    if not cap.isOpened():
        cap.release()
        raise DarknetValueError(f"cannot open {what}")
    return cap


def read_frames(cap: cv2.VideoCapture, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """BGR frames until the video ends (or ``max_frames``); releases ``cap`` at the end."""
    try:
        count = 0
        while max_frames is None or count < max_frames:
            ok, frame = cap.read()
            if not ok:
                return
            count += 1
            yield frame
    finally:
        cap.release()


def _frame_count(cap: cv2.VideoCapture, max_frames: int | None) -> int | None:
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    total = n if n > 0 else None
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    return total


def detect_video(
    detector: Detector,
    source: VideoSource | cv2.VideoCapture,
    *,
    max_frames: int | None = None,
    thresh: float | None = None,
    depth: int = 2,
) -> Generator[tuple[int, np.ndarray, list[Detection]], None, None]:
    """``(index, frame, detections)`` for each frame of a video file, camera index or
    opened ``cv2.VideoCapture``, in order; the next frames are decoded, and the current
    one inferred, while the caller handles the previous one."""
    cap = source if isinstance(source, cv2.VideoCapture) else open_video(source)

    def decode() -> Iterator[tuple[int, np.ndarray, DarknetImage]]:
        # converting to Darknet's layout here keeps the inference thread on inference
        for index, frame in enumerate(read_frames(cap, max_frames)):
            yield index, frame, from_array(frame)

    def infer(item: tuple[int, np.ndarray, DarknetImage]) -> list[Detection]:
        return detector.detect(item[2], thresh=thresh)

    with closing(pipelined(decode(), infer, depth=depth)) as items:
        for (index, frame, _), dets in items:
            yield index, frame, dets


@dataclass(frozen=True)
class VideoSummary:
    """What :func:`annotate_video` did: frames handled, wall time, where it wrote."""

    frames: int
    seconds: float
    output: Path | None
    results: Path | None

    @property
    def fps(self) -> float:
        """Frames per second, from the first frame read to the last frame written."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _writer(path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    fourcc = cv2.VideoWriter.fourcc(*FOURCC.get(path.suffix.lower(), "mp4v"))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), fourcc, fps, size)
    if not writer.isOpened():
        raise DarknetValueError(f"cannot write video {str(path)!r} (unknown codec/suffix?)")
    return writer


def annotate_video(
    detector: Detector,
    source: VideoSource,
    out: str | os.PathLike[str] | None = None,
    *,
    results: str | os.PathLike[str] | None = None,
    max_frames: int | None = None,
    thresh: float | None = None,
    confidence: bool = True,
    progress: bool = True,
    depth: int = 2,
) -> VideoSummary:
    """Detect objects in every frame of a video file or camera; write the annotated
    video to ``out`` (``.mp4``: mp4v, ``.avi``: MJPG; same size and frame rate) and one
    JSON line per frame to ``results`` (``{"frame": i, "detections": [...]}``), each if
    given.  A tqdm bar on stderr shows the progress and the FPS."""
    cap = open_video(source)
    fps_in = cap.get(cv2.CAP_PROP_FPS)
    fps_in = fps_in if 0 < fps_in < 1000 else 25.0
    total = _frame_count(cap, max_frames)
    out_path = None if out is None else Path(out)
    res_path = None if results is None else Path(results)
    writer: cv2.VideoWriter | None = None
    sink: Sink | None = None  # writes frames in its own thread while the next is drawn
    res_file = None
    if res_path is not None:
        res_path.parent.mkdir(parents=True, exist_ok=True)
        res_file = open(res_path, "w", encoding="utf-8")
    bar = tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True,
               desc=str(source) if isinstance(source, int) else Path(source).name)  # fmt: skip
    frames = 0
    start = time.perf_counter()
    items = detect_video(detector, cap, max_frames=max_frames, thresh=thresh, depth=depth)
    try:
        for index, frame, dets in items:
            if out_path is not None:
                if sink is None:
                    writer = _writer(out_path, fps_in, (frame.shape[1], frame.shape[0]))
                    sink = Sink(writer.write, depth=depth)
                drawn = draw_detections(frame, dets, len(detector.names), copy=False,
                                        confidence=confidence)  # fmt: skip
                sink.put(drawn)
            if res_file is not None:
                record = {"frame": index, "detections": [d.to_dict() for d in dets]}
                res_file.write(json.dumps(record) + "\n")
            frames += 1
            bar.set_postfix_str(f"{frames / (time.perf_counter() - start):.2f} FPS", refresh=False)
            bar.update()
    finally:
        seconds = time.perf_counter() - start
        items.close()  # stops and joins the decoding and inference threads
        cap.release()
        bar.close()
        if sink is not None:
            sink.close()  # the frames drawn so far are written
            seconds = time.perf_counter() - start
        if writer is not None:
            writer.release()
        if res_file is not None:
            res_file.close()
    return VideoSummary(frames, seconds, out_path if frames else None, res_path)
