"""``pydarknet export-onnx``: write a network's ONNX model (see :mod:`pydarknet.onnx`).

pydarknet export-onnx yolov3.cfg yolov3.weights yolov3.onnx
pydarknet export-onnx --model yolov3-tiny yolov3-tiny.onnx [--dynamic-batch]
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import DarknetValueError
from ..models import get_model, weights_path
from ..onnx import DEFAULT_OPSET, export_onnx, output_layers
from .options import add_dialect_option


def add_parser(sub: Any) -> None:
    """Register ``export-onnx`` on the main parser's subparsers."""
    e = sub.add_parser("export-onnx", help="export a network to ONNX (Darknet's exact outputs)")
    e.add_argument("files", nargs="+", metavar="FILE", help="CFG WEIGHTS OUT.onnx, or OUT.onnx "
                   "with --model")  # fmt: skip
    e.add_argument("--model", help="zoo model name (instead of CFG WEIGHTS)")
    add_dialect_option(e)
    e.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (>= 13)")
    e.add_argument("--dynamic-batch", action="store_true", help="leave the batch size free")


def cmd_export(args: argparse.Namespace) -> int:
    if args.model:
        if len(args.files) != 1:
            raise DarknetValueError("with --model give only the output file: OUT.onnx")
        model = get_model(args.model)
        cfg, weights, out = str(model.cfg_path), str(weights_path(args.model)), args.files[0]
    else:
        if len(args.files) != 3:
            raise DarknetValueError("give CFG WEIGHTS OUT.onnx (or --model NAME OUT.onnx)")
        cfg, weights, out = args.files
    from ..cfg import check_cfg

    shape = check_cfg(cfg, args.dialect)  # refuses a fork's cfg under --dialect pjreddie
    path = export_onnx(cfg, weights, out, opset=args.opset, dynamic_batch=args.dynamic_batch,
                       dialect=shape.dialect)  # fmt: skip
    names = ", ".join(f"layer_{i}" for i in output_layers(shape.layers))
    print(f"{path}: input 'input', outputs {names}")
    return 0
