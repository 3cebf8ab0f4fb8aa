"""pydarknet/onnx/numpy_pipeline.py loaded by file path, so that engines in venvs
without pydarknet (OpenCV 4's) use the same letterbox, box decoding and NMS."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "pydarknet" / "onnx" / "numpy_pipeline.py"
_spec = importlib.util.spec_from_file_location("darknet_numpy_pipeline", _PATH)
assert _spec and _spec.loader
numpy_pipeline = importlib.util.module_from_spec(_spec)
sys.modules["darknet_numpy_pipeline"] = numpy_pipeline  # dataclasses look it up
_spec.loader.exec_module(numpy_pipeline)


def heads(settings: dict) -> list:  # type: ignore[type-arg]
    """The YoloHead list sent by the parent."""
    return [numpy_pipeline.YoloHead(h["layer"], tuple(h["anchors"]), tuple(h["mask"]),
                                    h["classes"], h["new_coords"], h["nms_kind"], h["beta_nms"])
            for h in settings["heads"]]  # fmt: skip
