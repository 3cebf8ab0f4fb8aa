"""Export a Darknet network (cfg + weights) to ONNX, computing exactly what Darknet does.

    >>> from pydarknet.onnx import export_onnx
    >>> export_onnx("yolov3-tiny.cfg", "yolov3-tiny.weights", "yolov3-tiny.onnx")

The model's input ``input`` is Darknet's network input: float32 ``(N, C, H, W)`` (for a
detector, the letterboxed image as RGB planes in [0, 1], what ``network_predict``
gets).  Its outputs are the detection layers ([yolo], [region], [detection]) in layer
order, or the network's last layer when it has none, each named ``layer_<i>`` (``i``
Darknet's 0-based layer index) and holding Darknet's ``l.output`` of that layer in
Darknet's memory order: ``(N, C, H, W)`` for image-shaped layers, else ``(N, outputs)``.

A cfg of the AlexeyAB/hank-ai fork (``dialect="alexeyab"``, or ``"auto"`` when the
cfg uses what only the fork has) exports what the fork's ``detector test`` computes:
its activations (mish, swish, ...), layers ([sam], [scale_channels], [reorg3d]) and
options (route groups, weighted shortcuts, scale_x_y, new_coords), batch norm folded
as its ``fuse_conv_batchnorm`` does.  Its input is then the fork's: the image stretched
to the network's size unless [net] has ``letter_box=1``
(:func:`~pydarknet.onnx.numpy_pipeline.preprocess`).

The walk uses the cfg pre-parser (:mod:`pydarknet.cfg`), which computes every
layer's shape as Darknet's parser does; the weights are read in Darknet's order and
must have exactly the size the network needs.  ``onnx`` is an optional dependency
(``pip install pydarknet[onnx]``), imported only here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..cfg import LayerShape, NetworkShape, check_cfg, check_cfg_bytes
from ..cfg.parse import c_atof, c_atoi, read_cfg
from ..errors import DarknetError
from ..network import existing_file
from . import fork_layers, heads, layers
from .graph import Graph, OnnxExportError, Tensor
from .layers import Layer
from .numpy_pipeline import YoloHead
from .weights import WeightsReader

__all__ = [
    "DEFAULT_OPSET",
    "OnnxExportError",
    "build_model",
    "export_onnx",
    "letter_box",
    "output_layers",
    "yolo_heads",
]

DEFAULT_OPSET = 17
DETECTORS = ("yolo", "region", "detection")
FORK_NMS = ("greedynms", "diounms")  # the fork's parse_yolo; any other is the default

CONVERTERS: dict[str, Callable[[Layer], Tensor]] = {
    "convolutional": layers.convolutional, "connected": layers.connected,
    "local": layers.local, "batchnorm": layers.batchnorm, "maxpool": layers.maxpool,
    "avgpool": layers.avgpool, "crop": layers.crop, "activation": layers.activation,
    "logistic": layers.logistic, "dropout": layers.identity, "cost": layers.identity,
    "route": heads.route, "shortcut": heads.shortcut, "upsample": heads.upsample,
    "reorg": heads.reorg, "softmax": heads.softmax, "yolo": heads.yolo,
    "region": heads.region, "detection": heads.detection,
}  # fmt: skip
# the AlexeyAB fork's (dialect "alexeyab"): its own layers, and its shortcut
FORK_CONVERTERS: dict[str, Callable[[Layer], Tensor]] = {
    **CONVERTERS, "shortcut": fork_layers.shortcut, "sam": fork_layers.sam,
    "scale_channels": fork_layers.scale_channels, "reorg3d": fork_layers.reorg3d,
    "empty": layers.identity,
}  # fmt: skip
# deconvolutional, normalization (LRN), l2norm, iseg and the recurrent layers are refused,
# and the fork's other layers ([implicit], [Gaussian_yolo], [conv_lstm], ...).


def _onnx() -> Any:
    try:
        return importlib.import_module("onnx")
    except ImportError:
        raise DarknetError(
            "exporting to ONNX needs the onnx package: pip install 'pydarknet[onnx]'"
        ) from None


def output_layers(shapes: list[LayerShape]) -> list[int]:
    """Indices of the layers the model outputs: its detection layers, else the last
    layer that is not a [cost] layer (Darknet's network output)."""
    found = [i for i, s in enumerate(shapes) if s.kind in DETECTORS]
    if found:
        return found
    return [max(i for i, s in enumerate(shapes) if s.kind != "cost")]


def _shapes(data: bytes, path: str, dialect: str) -> tuple[NetworkShape, bool]:
    """The network's shapes in ``dialect`` and whether it is the fork's."""
    net = check_cfg_bytes(data, path, dialect=dialect)
    return net, net.dialect == "alexeyab"


def build_model(cfg: str | os.PathLike[str], weights: str | os.PathLike[str], *,
                opset: int = DEFAULT_OPSET, dynamic_batch: bool = False,
                outputs: Sequence[int] | None = None, dialect: str = "auto"
                ) -> Any:  # fmt: skip
    """The ONNX ``ModelProto`` of a network (see the module's description);
    ``outputs`` picks other layers to output (0-based indices, in the order given);
    ``dialect`` is the cfg's ("auto", "pjreddie" or "alexeyab", as for load_net)."""
    onnx = _onnx()
    if opset < 13:
        raise OnnxExportError(f"opset={opset}: the exporter needs opset 13 or later")
    cfg_path = existing_file(cfg, "cfg file")
    reader = WeightsReader(existing_file(weights, "weights file"))
    with open(cfg_path, "rb") as f:
        data = f.read()
    net, fork = _shapes(data, cfg_path, dialect)
    sections = read_cfg(data, cfg_path)[1:]
    g = Graph(onnx, fork, opset)
    converters = FORK_CONVERTERS if fork else CONVERTERS
    batch: int | str = "N" if dynamic_batch else 1
    if net.width * net.height * net.channels == net.inputs:
        dims = [batch, net.channels, net.height, net.width]
        x = Tensor("input", True)
    else:
        dims, x = [batch, net.inputs], Tensor("input", False)
    prev = LayerShape("net", net.width, net.height, net.channels, net.inputs)
    tensors: list[Tensor] = []
    for index, (sec, shape) in enumerate(zip(sections, net.layers, strict=True)):
        ly = Layer(g, cfg_path, sec, index, shape, prev, x, tensors, net.layers, reader)
        convert = converters.get(shape.kind)
        if convert is None:
            raise ly.fail(f"Darknet's {shape.kind} layer cannot be exported to ONNX")
        x = convert(ly)
        tensors.append(x)
        prev = shape
    reader.check_size(cfg_path)

    helper, f32 = onnx.helper, onnx.TensorProto.FLOAT
    chosen = output_layers(net.layers) if outputs is None else list(outputs)
    if not chosen or not all(0 <= i < len(net.layers) for i in chosen):
        raise OnnxExportError(f"outputs={chosen}: layers are 0..{len(net.layers) - 1}")
    values = []
    for i in chosen:
        s, t = net.layers[i], tensors[i]
        if s.is_image:
            t = g.image(t, s.c, s.h, s.w, f"out{i}")
            shape_out = [batch, s.c, s.h, s.w]
        else:
            t = g.flat(t, f"out{i}")
            shape_out = [batch, s.outputs]
        g.nodes.append(helper.make_node("Identity", [t.name], [f"layer_{i}"], name=f"layer_{i}"))
        values.append(helper.make_tensor_value_info(f"layer_{i}", f32, shape_out))
    graph = helper.make_graph(
        g.nodes, Path(cfg_path).stem, [helper.make_tensor_value_info("input", f32, dims)],
        values, initializer=g.initializers,
    )  # fmt: skip
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pydarknet"
    )
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(cfg: str | os.PathLike[str], weights: str | os.PathLike[str],
                path: str | os.PathLike[str], *, opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = False, outputs: Sequence[int] | None = None,
                dialect: str = "auto") -> Path:  # fmt: skip
    """Write the ONNX model of ``cfg`` + ``weights`` to ``path`` (returned as a Path).

    ``dynamic_batch=True`` leaves the batch dimension free (named ``N``); otherwise it
    is 1.  ``outputs`` lists other layers to output instead.  ``dialect`` is the cfg's:
    "auto" (the fork's when the cfg uses what only the fork has), "pjreddie" or
    "alexeyab".  Raises
    :class:`OnnxExportError` (naming the layer, its type and cfg line) for a layer
    ONNX cannot express, :class:`~pydarknet.WeightsError` for weights of the wrong
    size."""
    model = build_model(cfg, weights, opset=opset, dynamic_batch=dynamic_batch, outputs=outputs,
                        dialect=dialect)  # fmt: skip
    out = Path(path)
    _onnx().save_model(model, str(out))
    return out


def yolo_heads(cfg: str | os.PathLike[str], dialect: str = "auto") -> list[YoloHead]:
    """The [yolo] layers of a cfg with their anchors, mask and classes (parse_yolo);
    in the fork's dialect also new_coords, nms_kind and beta_nms."""
    path = existing_file(cfg, "cfg file")
    with open(path, "rb") as f:
        data = f.read()
    net, fork = _shapes(data, path, dialect)
    shapes = net.layers
    heads = []
    for i, (sec, shape) in enumerate(zip(read_cfg(data, path)[1:], shapes, strict=True)):
        if shape.kind != "yolo":
            continue
        total = sec.int("num", 1)
        text = sec.find("anchors")[1]
        anchors = [0.5] * (2 * total)
        if text is not None:
            for j, part in enumerate(text.split(",")[: 2 * total]):
                anchors[j] = c_atof(part)
        mask_text = sec.find("mask")[1]
        mask = range(total) if mask_text is None else [c_atoi(m) for m in mask_text.split(",")]
        head = YoloHead(i, tuple(anchors), tuple(mask), sec.int("classes", 20))
        if fork:
            kind = sec.find("nms_kind")[1] or "default"
            head = replace(head, new_coords=bool(sec.int("new_coords", 0)),
                           nms_kind=kind if kind in FORK_NMS else "default",
                           beta_nms=sec.float("beta_nms", 0.6))  # fmt: skip
        heads.append(head)
    return heads


def letter_box(cfg: str | os.PathLike[str], dialect: str = "auto") -> bool:
    """Whether the network's input is the letterboxed image (pjreddie's always; the
    fork's only with [net] letter_box=1, else the stretched image)."""
    net = check_cfg(existing_file(cfg, "cfg file"), dialect)
    return net.dialect != "alexeyab" or net.letter_box != 0
