"""``pydarknet video IN [--out OUT]``: detect objects in a video file or a camera.

    pydarknet video traffic.mp4 --out traffic-detected.mp4
    pydarknet video 0 --max-frames 300 --results cam.jsonl     # camera 0

Decoding, inference and drawing overlap in threads; a progress bar shows frames and
FPS, and a summary line (frames, seconds, FPS) is printed at the end.  Ctrl-C stops
cleanly, keeping what was written so far.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..detector import Detector
from ..video import annotate_video
from .options import add_model_options


def add_parser(sub: Any) -> None:
    """Register ``video`` on the main parser's subparsers."""
    v = sub.add_parser("video", help="detect objects in a video file or camera (index)")
    v.add_argument("source", metavar="IN", help="video file, or camera index such as 0")
    add_model_options(v)
    v.add_argument("--out", help="annotated video (.mp4: mp4v, .avi: MJPG); "
                   "default predictions.mp4")  # fmt: skip
    v.add_argument("--no-save", action="store_true", help="do not write the annotated video")
    v.add_argument("--results", help="JSON Lines file: one record of detections per frame")
    v.add_argument("--max-frames", type=int, default=None, help="stop after N frames")


def cmd_video(args: argparse.Namespace, detector: Detector) -> int:
    out = None if args.no_save else (args.out or "predictions.mp4")
    with detector:
        try:
            summary = annotate_video(
                detector,
                args.source,
                out,
                results=args.results,
                max_frames=args.max_frames,
                confidence=not args.no_confidence,
                progress=not args.no_progress,
            )
        except KeyboardInterrupt:
            print("pydarknet: interrupted", file=sys.stderr)
            return 130
    print(f"{summary.frames} frames in {summary.seconds:.2f} seconds: {summary.fps:.2f} FPS")
    if summary.output is not None:
        print(f"annotated video: {summary.output}")
    if summary.results is not None:
        print(f"results: {summary.results}")
    return 0
