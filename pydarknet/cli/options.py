"""The model options every ``pydarknet`` command that runs a model takes (``--model`` or
``--cfg``/``--weights``/``--data``, the thresholds, the output switches), and the
:class:`~pydarknet.Detector` they describe.  Used by detect.py and video.py."""

from __future__ import annotations

import argparse

from ..cfg.budget import set_memory_limit
from ..cfg.dialect import DIALECTS
from ..detector import Detector
from ..models import DEFAULT_MODEL

DIALECT_HELP = ("whose darknet the model is for: pjreddie's, AlexeyAB's (or hank-ai's) fork, "
                "or auto (the fork's where the cfg uses anything only the fork has)")  # fmt: skip


def add_dialect_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dialect", choices=DIALECTS, default="auto", help=DIALECT_HELP)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--model / --cfg --weights --data, --dialect and the thresholds."""
    p.add_argument("--model", default=None, help=f"zoo model (default {DEFAULT_MODEL})")
    p.add_argument("--cfg", help="network .cfg (instead of --model)")
    p.add_argument("--weights", help="network .weights (with --cfg)")
    p.add_argument("--data", help=".data or .names file (with --cfg)")
    add_dialect_option(p)
    p.add_argument("--thresh", type=float, default=0.5)
    p.add_argument("--hier-thresh", type=float, default=0.5)
    p.add_argument("--nms", type=float, default=0.45)
    p.add_argument("--no-confidence", action="store_true",
                   help="label boxes with class names only, as Darknet does")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--memory-limit", metavar="SIZE",
                   help="refuse a network that needs more memory than SIZE (e.g. 2G, off); "
                   "default: what this process may use (PYDARKNET_MEMORY_LIMIT)")  # fmt: skip


def make_detector(args: argparse.Namespace) -> Detector:
    """The Detector of parsed :func:`add_model_options` options."""
    if args.memory_limit:
        set_memory_limit(args.memory_limit)
    if args.cfg:
        if not (args.weights and args.data):
            raise SystemExit("pydarknet: --cfg needs --weights and --data")
        return Detector(cfg=args.cfg, weights=args.weights, names=args.data, thresh=args.thresh,
                        hier_thresh=args.hier_thresh, nms=args.nms,
                        dialect=args.dialect)  # fmt: skip
    return Detector(args.model or DEFAULT_MODEL, thresh=args.thresh,
                    hier_thresh=args.hier_thresh, nms=args.nms, dialect=args.dialect)  # fmt: skip
