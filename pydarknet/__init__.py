"""pydarknet: Python bindings to the original Darknet (pjreddie/darknet).

>>> import pydarknet
>>> det = pydarknet.Detector("yolov3-tiny")          # downloads the weights once
>>> for d in det.detect("dog.jpg"):
...     print(d.label, d.confidence, d.box.xyxy)
"""

from __future__ import annotations

from ._dist import installed_version  # first: it checks who wrote into this folder
from ._lib import set_verbose
from .api import classify, detect, detect_batch, detect_image
from .cfg.budget import memory_limit, set_memory_limit
from .cpu import get_num_threads, set_num_threads
from .detector import Detector
from .device import cuda_info, gpu_available, gpu_count, resolve_device
from .draw import class_color, draw_detections
from .errors import (
    CfgError,
    ClosedError,
    DarknetError,
    DarknetFileNotFoundError,
    DarknetInterruptedError,
    DarknetMemoryError,
    DarknetTimeoutError,
    DarknetTypeError,
    DarknetValueError,
    DownloadError,
    GPUError,
    ImageError,
    WeightsError,
)
from .folder import detect_files, find_images
from .models import MODELS, download
from .network import Metadata, Network, load_meta, load_net
from .onnx import export_onnx
from .results import Box, Detection
from .video import annotate_video, detect_video

MemoryError = DarknetMemoryError  # pydarknet.MemoryError: also a built-in MemoryError
TimeoutError = DarknetTimeoutError  # likewise a TimeoutError
__version__ = installed_version()  # from the metadata (pyproject.toml)

__all__ = [
    "MODELS",
    "Box",
    "CfgError",
    "ClosedError",
    "DarknetError",
    "DarknetFileNotFoundError",
    "DarknetInterruptedError",
    "DarknetMemoryError",
    "DarknetTimeoutError",
    "DarknetTypeError",
    "DarknetValueError",
    "Detection",
    "Detector",
    "DownloadError",
    "GPUError",
    "ImageError",
    "MemoryError",
    "Metadata",
    "Network",
    "TimeoutError",
    "WeightsError",
    "annotate_video",
    "class_color",
    "classify",
    "cuda_info",
    "detect",
    "detect_batch",
    "detect_files",
    "detect_image",
    "detect_video",
    "download",
    "draw_detections",
    "export_onnx",
    "find_images",
    "get_num_threads",
    "gpu_available",
    "gpu_count",
    "load_meta",
    "load_net",
    "memory_limit",
    "resolve_device",
    "set_memory_limit",
    "set_num_threads",
    "set_verbose",
]
