"""pydarknet: Python bindings to the original Darknet (pjreddie/darknet).

>>> import pydarknet
>>> det = pydarknet.Detector("yolov3-tiny")          # downloads the weights once
>>> for d in det.detect("dog.jpg"):
...     print(d.label, d.confidence, d.box.xyxy)
"""

from __future__ import annotations

from ._lib import set_verbose
from .api import classify, detect, detect_image
from .batch import detect_batch
from .cpu import get_num_threads, set_num_threads
from .errors import (
    CfgError,
    ClosedError,
    DarknetError,
    DarknetFileNotFoundError,
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
    "DarknetValueError",
    "DownloadError",
    "ImageError",
    "Metadata",
    "Network",
    "WeightsError",
    "classify",
    "detect",
    "detect_batch",
    "detect_image",
    "get_num_threads",
    "load_meta",
    "load_net",
    "set_num_threads",
    "set_verbose",
]
