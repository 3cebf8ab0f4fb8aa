"""Test media made from Darknet's data images: a short video, a folder of images."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

VIDEO_IMAGES = ("dog.jpg", "person.jpg", "horses.jpg", "kite.jpg")


def video_frames(
    data_dir: Path, frames: int, size: tuple[int, int] = (640, 480)
) -> list[np.ndarray]:
    """``frames`` frames of ``size`` cycling through a few data images, each held for
    three frames (so that consecutive frames repeat, as in real footage)."""
    images = [cv2.resize(cv2.imread(str(data_dir / n)), size) for n in VIDEO_IMAGES]
    return [images[(i // 3) % len(images)] for i in range(frames)]


def make_video(path: Path, data_dir: Path, frames: int = 12, fourcc: str = "mp4v") -> Path:
    """Write a 640x480, 10 FPS video; returns its path."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (640, 480))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for frame in video_frames(data_dir, frames):
        writer.write(frame)
    writer.release()
    return path


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video as OpenCV decodes it."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def image_folder(folder: Path, data_dir: Path, names: tuple[str, ...]) -> Path:
    """A folder holding copies of some data images."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy(data_dir / n, folder / n)
    return folder
