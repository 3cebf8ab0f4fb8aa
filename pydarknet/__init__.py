"""pydarknet: Python bindings to the original Darknet (pjreddie/darknet).

>>> import pydarknet
>>> det = pydarknet.Detector("yolov3-tiny")          # downloads the weights once
>>> for d in det.detect("dog.jpg"):
...     print(d.label, d.confidence, d.box.xyxy)
"""

from __future__ import annotations

from ._lib import set_verbose
from .api import classify, detect, detect_image
from .errors import (
    CfgError,
    ClosedError,
    DarknetError,
    DarknetFileNotFoundError,
    DarknetTypeError,
    DarknetValueError,
    DownloadError,
    ImageError,
    WeightsError,
)
from .network import Metadata, Network, load_meta, load_net

__version__ = "0.1.0"

__all__ = [
    "CfgError",
    "ClosedError",
    "DarknetError",
    "DarknetFileNotFoundError",
    "DarknetTypeError",
    "DarknetValueError",
    "DownloadError",
    "ImageError",
    "Metadata",
    "Network",
    "WeightsError",
    "classify",
    "detect",
    "detect_image",
    "load_meta",
    "load_net",
    "set_verbose",
]
