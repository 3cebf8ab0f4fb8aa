"""pydarknet: Python bindings to the original Darknet (pjreddie/darknet).

>>> import pydarknet
>>> det = pydarknet.Detector("yolov3-tiny")          # downloads the weights once
>>> for d in det.detect("dog.jpg"):
...     print(d.label, d.confidence, d.box.xyxy)
"""

from __future__ import annotations

from ._lib import set_verbose
from .api import classify, detect, detect_image
from .detector import Box, Detection, Detector
from .draw import class_color, draw_detections
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
from .folder import detect_files, find_images
from .models import MODELS, download
from .network import Metadata, Network, load_meta, load_net
from .video import annotate_video, detect_video

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "Box",
    "CfgError",
    "ClosedError",
    "DarknetError",
    "DarknetFileNotFoundError",
    "DarknetValueError",
    "Detection",
    "Detector",
    "DownloadError",
    "ImageError",
    "Metadata",
    "Network",
    "WeightsError",
    "annotate_video",
    "class_color",
    "classify",
    "detect",
    "detect_files",
    "detect_image",
    "detect_video",
    "download",
    "draw_detections",
    "find_images",
    "load_meta",
    "load_net",
    "set_verbose",
]
