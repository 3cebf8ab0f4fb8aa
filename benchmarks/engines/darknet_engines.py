"""pydarknet (this build) and the untouched upstream Darknet (ctypes) doing the whole job."""

from __future__ import annotations

import ctypes as C
import time
from typing import Any

import numpy as np

Dets = list[tuple[int, float, tuple[float, float, float, float]]]


class Pydarknet:
    def __init__(self, settings: dict[str, Any]) -> None:
        import pydarknet
        from pydarknet import core, cpu
        from pydarknet.images import read_image

        cpu.set_num_threads(settings["threads"])
        self.pydarknet, self.core, self.cpu = pydarknet, core, cpu
        self.net = pydarknet.load_net(settings["cfg"], settings["weights"], device="cpu")
        self.meta = pydarknet.Metadata(self.net.classes, tuple(map(str, range(self.net.classes))))
        self.bgr = read_image(settings["image"])
        self.thresh, self.nms = settings["thresh"], settings["nms"]

    def describe(self) -> str:
        fast = self.cpu.fast_build()
        return f"pydarknet {self.pydarknet.__version__} (DARKNET_FAST={int(fast)}, " \
               f"{self.cpu.kernels()} kernels, {self.cpu.get_num_threads()} threads)"  # fmt: skip

    def detect(self) -> tuple[Dets, float]:
        found = self.pydarknet.detect_image(self.net, self.meta, self.bgr, self.thresh,
                                            nms=self.nms)  # fmt: skip
        dets = [(int(name), p, box) for name, p, box in found]
        return dets, self.core.last_forward_seconds()


class _Box(C.Structure):
    _fields_ = [("x", C.c_float), ("y", C.c_float), ("w", C.c_float), ("h", C.c_float)]


class _Detection(C.Structure):
    _fields_ = [("bbox", _Box), ("classes", C.c_int), ("prob", C.POINTER(C.c_float)),
                ("mask", C.POINTER(C.c_float)), ("objectness", C.c_float),
                ("sort_class", C.c_int)]  # fmt: skip


class _Image(C.Structure):
    _fields_ = [("w", C.c_int), ("h", C.c_int), ("c", C.c_int), ("data", C.POINTER(C.c_float))]


class Upstream:
    """``./darknet detect``'s pipeline on the untouched library: pixels / 255 into
    planes, letterbox_image, network_predict, get_network_boxes, do_nms_sort."""

    LUT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)

    def __init__(self, settings: dict[str, Any]) -> None:
        import cv2

        self.path = settings["upstream"]
        lib = self.lib = C.CDLL(self.path)
        lib.load_network.restype = C.c_void_p
        lib.load_network.argtypes = [C.c_char_p, C.c_char_p, C.c_int]
        lib.set_batch_network.argtypes = [C.c_void_p, C.c_int]
        lib.letterbox_image.restype = _Image
        lib.letterbox_image.argtypes = [_Image, C.c_int, C.c_int]
        lib.free_image.argtypes = [_Image]
        lib.network_predict.argtypes = [C.c_void_p, C.POINTER(C.c_float)]
        lib.network_predict.restype = C.POINTER(C.c_float)
        lib.get_network_boxes.restype = C.POINTER(_Detection)
        int_p = C.POINTER(C.c_int)
        lib.get_network_boxes.argtypes = [C.c_void_p, C.c_int, C.c_int, C.c_float, C.c_float,
                                          int_p, C.c_int, int_p]  # fmt: skip
        lib.do_nms_sort.argtypes = [C.POINTER(_Detection), C.c_int, C.c_int, C.c_float]
        lib.free_detections.argtypes = [C.POINTER(_Detection), C.c_int]
        self.net = lib.load_network(settings["cfg"].encode(), settings["weights"].encode(), 0)
        lib.set_batch_network(self.net, 1)
        self.netw, self.neth = settings["netw"], settings["neth"]
        self.classes = settings["heads"][-1]["classes"]
        self.bgr = cv2.imread(settings["image"], cv2.IMREAD_COLOR)
        self.thresh, self.nms = settings["thresh"], settings["nms"]

    def describe(self) -> str:
        return f"upstream Darknet {self.path}"

    def detect(self) -> tuple[Dets, float]:
        bgr, lib = self.bgr, self.lib
        planes = np.ascontiguousarray(self.LUT[bgr.transpose(2, 0, 1)[::-1]])
        h, w = bgr.shape[:2]
        im = _Image(w, h, 3, planes.ctypes.data_as(C.POINTER(C.c_float)))
        sized = lib.letterbox_image(im, self.netw, self.neth)
        t0 = time.perf_counter()
        lib.network_predict(self.net, sized.data)
        forward = time.perf_counter() - t0
        lib.free_image(sized)
        n = C.c_int(0)
        dets = lib.get_network_boxes(self.net, w, h, self.thresh, 0.5, None, 1, C.byref(n))
        lib.do_nms_sort(dets, n.value, self.classes, self.nms)
        res = []
        for i in range(n.value):
            for j in range(self.classes):
                p = dets[i].prob[j]
                if p > self.thresh:
                    b = dets[i].bbox
                    res.append((j, p, (b.x * w, b.y * h, b.w * w, b.h * h)))
        lib.free_detections(dets, n)
        res.sort(key=lambda r: -r[1])
        return res, forward


ENGINES = {"pydarknet": Pydarknet, "pydarknet-avx2": Pydarknet, "upstream": Upstream}
