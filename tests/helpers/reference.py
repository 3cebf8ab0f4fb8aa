"""The original program and library, as references for the tests.

* :func:`cli_lines` runs Debian's ``darknet detect`` (pjreddie's CLI, same commit).
* :func:`library_detections` runs Debian's ``libdarknet.so`` through ctypes, with the
  CLI's pipeline, in a subprocess (so its exit()s and printing cannot hurt pytest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DARKNET_BIN = "/usr/bin/darknet"
DARKNET_LIB = "/usr/lib/darknet/libdarknet.so"
DARKNET_SHARE = "/usr/share/darknet"


def available() -> bool:
    return os.path.exists(DARKNET_BIN) and os.path.exists(DARKNET_LIB)


def cli_lines(cfg: str, weights: str, image: str, thresh: float = 0.5) -> list[str]:
    """The ``name: NN%`` lines ``darknet detect`` prints, in its order."""
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run(
            [
                DARKNET_BIN,
                "detect",
                cfg,
                weights,
                image,
                "-thresh",
                str(thresh),
                "-out",
                os.path.join(tmp, "pred"),
            ],
            cwd=DARKNET_SHARE,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.splitlines()
    return [ln for ln in lines if ": " in ln and ln.endswith("%") and "Predicted" not in ln]


_SCRIPT = r"""
import ctypes as C, json, sys
class BOX(C.Structure):
    _fields_ = [("x", C.c_float), ("y", C.c_float), ("w", C.c_float), ("h", C.c_float)]
class DETECTION(C.Structure):
    _fields_ = [("bbox", BOX), ("classes", C.c_int), ("prob", C.POINTER(C.c_float)),
                ("mask", C.POINTER(C.c_float)), ("objectness", C.c_float),
                ("sort_class", C.c_int)]
class IMAGE(C.Structure):
    _fields_ = [("w", C.c_int), ("h", C.c_int), ("c", C.c_int), ("data", C.POINTER(C.c_float))]
lib = C.CDLL(sys.argv[1])
lib.load_network.restype = C.c_void_p
lib.load_network.argtypes = [C.c_char_p, C.c_char_p, C.c_int]
lib.set_batch_network.argtypes = [C.c_void_p, C.c_int]
lib.load_image_color.restype = IMAGE
lib.load_image_color.argtypes = [C.c_char_p, C.c_int, C.c_int]
lib.letterbox_image.restype = IMAGE
lib.letterbox_image.argtypes = [IMAGE, C.c_int, C.c_int]
lib.network_predict.argtypes = [C.c_void_p, C.POINTER(C.c_float)]
lib.network_predict.restype = C.POINTER(C.c_float)
lib.network_width.argtypes = lib.network_height.argtypes = [C.c_void_p]
lib.get_network_boxes.restype = C.POINTER(DETECTION)
lib.get_network_boxes.argtypes = [C.c_void_p, C.c_int, C.c_int, C.c_float, C.c_float,
                                  C.POINTER(C.c_int), C.c_int, C.POINTER(C.c_int)]
lib.do_nms_sort.argtypes = [C.POINTER(DETECTION), C.c_int, C.c_int, C.c_float]
lib.free_detections.argtypes = [C.POINTER(DETECTION), C.c_int]
cfg, weights, classes, thresh = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
net = lib.load_network(cfg.encode(), weights.encode(), 0)
lib.set_batch_network(net, 1)
out = {}
for path in sys.argv[6:]:
    im = lib.load_image_color(path.encode(), 0, 0)
    sized = lib.letterbox_image(im, lib.network_width(net), lib.network_height(net))
    lib.network_predict(net, sized.data)
    n = C.c_int(0)
    dets = lib.get_network_boxes(net, im.w, im.h, thresh, 0.5, None, 1, C.byref(n))
    lib.do_nms_sort(dets, n.value, classes, 0.45)
    res = []
    for i in range(n.value):
        for j in range(classes):
            p = dets[i].prob[j]
            if p > thresh:
                b = dets[i].bbox
                res.append([j, p, [b.x * im.w, b.y * im.h, b.w * im.w, b.h * im.h]])
    lib.free_detections(dets, n)
    out[path] = res
print("JSON" + json.dumps(out))
"""


def library_detections(
    cfg: str, weights: str, images: list[str], classes: int = 80, thresh: float = 0.5
) -> dict[str, list[tuple[int, float, list[float]]]]:
    """{image: [(class_id, prob, [x, y, w, h] pixels)]} from Debian's libdarknet."""
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            DARKNET_LIB,
            cfg,
            weights,
            str(classes),
            str(thresh),
            *images,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("JSON"))
    return {k: [tuple(d) for d in v] for k, v in json.loads(line[4:]).items()}  # type: ignore[misc]


def data_images(data_dir: Path) -> list[str]:
    return sorted(str(p) for p in data_dir.glob("*.jpg"))


_CLASSIFY_SCRIPT = r"""
import ctypes as C, json, sys
class IMAGE(C.Structure):
    _fields_ = [("w", C.c_int), ("h", C.c_int), ("c", C.c_int), ("data", C.POINTER(C.c_float))]
lib = C.CDLL(sys.argv[1])
lib.load_network.restype = C.c_void_p
lib.load_network.argtypes = [C.c_char_p, C.c_char_p, C.c_int]
lib.load_image_color.restype = IMAGE
lib.load_image_color.argtypes = [C.c_char_p, C.c_int, C.c_int]
lib.network_predict_image.argtypes = [C.c_void_p, IMAGE]
lib.network_predict_image.restype = C.POINTER(C.c_float)
net = lib.load_network(sys.argv[2].encode(), sys.argv[3].encode(), 0)
n = int(sys.argv[4])
out = {}
for path in sys.argv[5:]:
    im = lib.load_image_color(path.encode(), 0, 0)
    p = lib.network_predict_image(net, im)
    out[path] = [p[i] for i in range(n)]
print("JSON" + json.dumps(out))
"""


def library_scores(cfg: str, weights: str, images: list[str], n: int) -> dict[str, list[float]]:
    """{image: first n outputs of network_predict_image} from Debian's libdarknet."""
    res = subprocess.run(
        [sys.executable, "-c", _CLASSIFY_SCRIPT, DARKNET_LIB, cfg, weights, str(n), *images],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("JSON"))
    return json.loads(line[4:])  # type: ignore[no-any-return]
