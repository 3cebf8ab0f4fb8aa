"""The ``pydarknet`` command line.

    pydarknet detect INPUT... [--model NAME | --cfg C --weights W --data D]
                              [--thresh T] [--out PATH] [--results FILE] [--json]
                              [--timeout S] [--memory-limit SIZE]
    pydarknet video IN [--out OUT] [--results FILE] [--max-frames N]
    pydarknet serve [--host 127.0.0.1] [--port 8000] ... (see pydarknet/serve/command.py)
    pydarknet export-onnx CFG WEIGHTS OUT.onnx   (or --model NAME OUT.onnx)
    pydarknet download NAME
    pydarknet models

``detect`` on one image file prints what ``./darknet detect`` prints (``name: NN%``
lines, in Darknet's order and rounding) and writes the annotated image
(``predictions.jpg`` by default).  Given several images, folders or globs (quote them:
``'photos/*.jpg'``), it shows a progress bar, writes the annotated images into a folder
(``predictions/`` by default) and every image's detections into one results file
(``results.jsonl`` there, or ``--results FILE``: ``.jsonl`` or ``.csv``).
``video`` does the same for a video file or a camera index (see video.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .. import _lib
from .._dist import installed_version
from ..errors import DarknetError
from ..models import MODELS, download
from ..serve import command as serve_command
from . import detect, onnx, video
from .options import make_detector


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pydarknet", description=__doc__.split("\n\n")[0])
    p.add_argument("--verbose", "-v", action="store_true", help="show Darknet's own output")
    p.add_argument("--version", action="version", version=f"pydarknet {installed_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    detect.add_parser(sub)
    video.add_parser(sub)
    serve_command.add_parser(sub)
    onnx.add_parser(sub)

    dl = sub.add_parser("download", help="download a zoo model's weights into the cache")
    dl.add_argument("name", choices=sorted(MODELS))
    dl.add_argument("--force", action="store_true", help="download again")

    sub.add_parser("models", help="list the zoo models")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        _lib.set_verbose(True)
    try:
        if args.command == "detect":
            return detect.cmd_detect(args)
        if args.command == "video":
            return video.cmd_video(args, make_detector(args))
        if args.command == "serve":
            return serve_command.cmd_serve(args)
        if args.command == "export-onnx":
            return onnx.cmd_export(args)
        if args.command == "download":
            print(download(args.name, force=args.force))
            return 0
        for name, m in MODELS.items():
            print(f"{name:20s} {m.task:9s} {m.url}")
        return 0
    except DarknetError as exc:
        print(f"pydarknet: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C stops a detection between layers (pydn_stop.c)
        print("pydarknet: interrupted", file=sys.stderr)
        return 130
