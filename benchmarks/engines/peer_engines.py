"""ONNX Runtime, OpenVINO (f32) and OpenCV DNN 4.x doing Darknet's whole job.

Each: Darknet's letterbox (NumPy; the AlexeyAB fork's networks: its stretch unless
letter_box=1), the network, Darknet's yolo box decoding and do_nms_sort (the fork's:
its decoding and NMS kind) (NumPy, pydarknet/onnx/numpy_pipeline.py): only the network
differs."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
from pipeline import heads, numpy_pipeline

Dets = list[tuple[int, float, tuple[float, float, float, float]]]


class _Peer:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.s = settings
        self.bgr = cv2.imread(settings["image"], cv2.IMREAD_COLOR)
        self.h, self.w = self.bgr.shape[:2]
        self.netw, self.neth = settings["netw"], settings["neth"]
        self.heads = heads(settings)

    def forward(self, x: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def detect(self) -> tuple[Dets, float]:
        x = numpy_pipeline.preprocess(self.bgr, self.netw, self.neth, self.s["letter"])
        t0 = time.perf_counter()
        outs = self.forward(x)
        forward = time.perf_counter() - t0
        dets = numpy_pipeline.detect_yolo(outs, self.heads, self.w, self.h, self.netw,
                                          self.neth, self.s["thresh"], self.s["nms"],
                                          self.s["letter"])  # fmt: skip
        return dets, forward


class OnnxRuntime(_Peer):
    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = settings["threads"]
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(settings["onnx"], opts,
                                         providers=["CPUExecutionProvider"])  # fmt: skip
        self.names = [o.name for o in self.sess.get_outputs()]
        self.version = ort.__version__

    def describe(self) -> str:
        return f"ONNX Runtime {self.version} (CPUExecutionProvider)"

    def forward(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self.sess.run(None, {"input": x}), strict=True))


class OpenVino(_Peer):
    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        import openvino as ov

        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_NUM_THREADS": settings["threads"], "NUM_STREAMS": 1}  # fmt: skip
        self.model = core.compile_model(settings["onnx"], "CPU", config)
        self.request = self.model.create_infer_request()
        self.names = [next((n for n in sorted(o.get_names()) if n.startswith("layer_")),
                           o.get_any_name()) for o in self.model.outputs]  # fmt: skip
        self.version = ov.get_version()
        self.precision = self.model.get_property("INFERENCE_PRECISION_HINT")

    def describe(self) -> str:
        return f"OpenVINO {self.version} (CPU, precision {self.precision})"

    def forward(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.request.infer({0: x})
        return {n: self.request.get_output_tensor(i).data for i, n in enumerate(self.names)}


class OpenCv(_Peer):
    """cv2.dnn's Darknet importer; its [yolo] layers output decoded rows (x, y, w, h
    relative to the network input, objectness, objectness x class), which go through
    Darknet's correct_yolo_boxes and do_nms_sort like the others."""

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        cv2.setNumThreads(settings["threads"])
        self.net = cv2.dnn.readNetFromDarknet(settings["cfg"], settings["weights"])
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.outs = self.net.getUnconnectedOutLayersNames()

    def describe(self) -> str:
        return f"OpenCV DNN {cv2.__version__} ({cv2.getNumThreads()} threads)"

    def detect(self) -> tuple[Dets, float]:
        x = numpy_pipeline.preprocess(self.bgr, self.netw, self.neth, self.s["letter"])
        t0 = time.perf_counter()
        self.net.setInput(x)
        rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in self.net.forward(self.outs)])
        forward = time.perf_counter() - t0
        thresh = np.float32(self.s["thresh"])
        keep = rows[:, 4] > thresh
        boxes, obj = rows[keep, :4].copy(), rows[keep, 4].copy()
        probs = rows[keep, 5:].copy()
        probs[probs <= thresh] = 0
        last = self.heads[-1]
        dets = numpy_pipeline.finish(boxes, probs, obj, self.w, self.h, self.netw, self.neth,
                                     self.s["thresh"], self.s["nms"], self.s["letter"],
                                     last.nms_kind, last.beta_nms)  # fmt: skip
        return dets, forward


ENGINES = {"onnxruntime": OnnxRuntime, "openvino": OpenVino, "opencv": OpenCv}
