"""pydarknet: Python bindings to the original Darknet (pjreddie/darknet).

>>> import pydarknet
>>> det = pydarknet.Detector("yolov3-tiny")          # downloads the weights once
>>> for d in det.detect("dog.jpg"):
...     print(d.label, d.confidence, d.box.xyxy)
"""

from __future__ import annotations

from ._lib import set_verbose
from .api import classify, detect, detect_image
from .device import cuda_info, gpu_available, gpu_count, resolve_device
from .errors import (
    CfgError,
    ClosedError,
    DarknetError,
    DarknetFileNotFoundError,
    DarknetValueError,
    DownloadError,
    GPUError,
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
    "GPUError",
    "ImageError",
    "Metadata",
    "Network",
    "WeightsError",
    "classify",
    "cuda_info",
    "detect",
    "detect_image",
    "gpu_available",
    "gpu_count",
    "load_meta",
    "load_net",
    "resolve_device",
    "set_verbose",
]
