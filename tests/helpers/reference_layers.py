"""Darknet's own layer outputs, as references for the ONNX export tests.

:func:`layer_outputs` runs Debian's ``libdarknet.so`` (pjreddie's library, same commit)
through ctypes in a subprocess: for each requested layer ``i`` it loads the cfg cut
after layer ``i`` (so that layer is the network's output), runs ``network_predict`` on
the given input and returns ``l.output`` of that layer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from helpers.reference import DARKNET_LIB
from pydarknet.cfg.parse import read_cfg

_SCRIPT = r"""
import ctypes as C, json, sys
import numpy as np
lib = C.CDLL(sys.argv[1])
lib.load_network.restype = C.c_void_p
lib.load_network.argtypes = [C.c_char_p, C.c_char_p, C.c_int]
lib.set_batch_network.argtypes = [C.c_void_p, C.c_int]
lib.network_predict.argtypes = [C.c_void_p, C.POINTER(C.c_float)]
lib.network_predict.restype = C.POINTER(C.c_float)
lib.free_network.argtypes = [C.c_void_p]
job = json.loads(open(sys.argv[2]).read())
x = np.ascontiguousarray(np.load(job["input"]), dtype=np.float32)
for cfg, count, out in job["layers"]:
    net = lib.load_network(cfg.encode(), job["weights"].encode(), 0)
    lib.set_batch_network(net, 1)
    y = lib.network_predict(net, x.ctypes.data_as(C.POINTER(C.c_float)))
    np.save(out, np.ctypeslib.as_array(y, shape=(count,)).copy())
    lib.free_network(net)
print("OK")
"""


def cut_cfg(text: str, layer: int) -> str:
    """The cfg text up to and including layer ``layer`` (0-based, [net] not counted)."""
    sections = read_cfg(text.encode("latin-1"), "<cfg>")
    lines = text.split("\n")
    if layer + 2 >= len(sections):
        return text
    return "\n".join(lines[: sections[layer + 2].line - 1]) + "\n"


def layer_outputs(cfg: Path, weights: Path, x: np.ndarray, layers: dict[int, int],
                  cwd: Path | None = None) -> dict[int, np.ndarray]:  # fmt: skip
    """{layer: Darknet's output of that layer (flat)} for ``layers`` = {layer: count}."""
    text = cfg.read_text(encoding="latin-1")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.save(folder / "input.npy", x)
        jobs = []
        for i, count in layers.items():
            cut = folder / f"cut{i}.cfg"
            cut.write_text(cut_cfg(text, i), encoding="latin-1")
            jobs.append([str(cut), count, str(folder / f"out{i}.npy")])
        job = {"input": str(folder / "input.npy"), "weights": str(weights), "layers": jobs}
        (folder / "job.json").write_text(json.dumps(job))
        res = subprocess.run(
            [sys.executable, "-c", _SCRIPT, DARKNET_LIB, str(folder / "job.json")],
            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
            cwd=cwd,
        )  # fmt: skip
        assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]
        return {i: np.load(folder / f"out{i}.npy") for i in layers}


_LETTERBOX = r"""
import ctypes as C, sys
import numpy as np
class IMAGE(C.Structure):
    _fields_ = [("w", C.c_int), ("h", C.c_int), ("c", C.c_int), ("data", C.POINTER(C.c_float))]
lib = C.CDLL(sys.argv[1])
lib.load_image_color.restype = IMAGE
lib.load_image_color.argtypes = [C.c_char_p, C.c_int, C.c_int]
lib.letterbox_image.restype = IMAGE
lib.letterbox_image.argtypes = [IMAGE, C.c_int, C.c_int]
w, h = int(sys.argv[3]), int(sys.argv[4])
im = lib.letterbox_image(lib.load_image_color(sys.argv[2].encode(), 0, 0), w, h)
np.save(sys.argv[5], np.ctypeslib.as_array(im.data, shape=(3, h, w)).copy())
"""


def darknet_letterbox(image: Path, w: int, h: int) -> np.ndarray:
    """``letterbox_image(load_image_color(image))`` of Debian's libdarknet, (3, h, w)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "boxed.npy"
        res = subprocess.run(
            [sys.executable, "-c", _LETTERBOX, DARKNET_LIB, str(image), str(w), str(h), str(out)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
        return np.load(out)
