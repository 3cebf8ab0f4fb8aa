"""A small YOLO network (64x64 input) with seeded random weights, for tests that need
thousands of fast detections.  Built by the real library; only the weights are made up."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

SMALL_CFG = """[net]
batch=1
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
size=1
stride=1
pad=1
filters=24
activation=linear

[yolo]
mask = 0,1,2
anchors = 10,14,  23,27,  37,58
classes=3
num=3
"""


def write_small_net(folder: Path, seed: int = 0) -> tuple[str, str]:
    """Write the cfg and a weights file of exactly the size it needs; return both paths."""
    import pydarknet

    cfg = folder / "small.cfg"
    cfg.write_text(SMALL_CFG)
    with pydarknet.load_net(cfg) as net:
        floats = net.weights_floats
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 0.5, floats).astype("<f4")
    weights = folder / "small.weights"
    weights.write_bytes(struct.pack("<3iq", 0, 2, 0, 0) + values.tobytes())
    return str(cfg), str(weights)


CLASSIFIER_CFG = """[net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=10
size=1
stride=1
pad=1
activation=linear

[avgpool]

[softmax]
groups=1
"""


def write_classifier(folder: Path, seed: int = 0) -> tuple[Path, Path, Path]:
    """A 10-class classifier (64x64 input): cfg, seeded weights of exactly the size it
    needs (positive, so batch-norm variances are valid) and names ``class0..class9``."""
    import pydarknet

    cfg = folder / "tiny-classifier.cfg"
    cfg.write_text(CLASSIFIER_CFG)
    names = folder / "ten.names"
    names.write_text("".join(f"class{i}\n" for i in range(10)))
    with pydarknet.load_net(cfg) as bare:
        floats = bare.weights_floats
    body = np.random.default_rng(seed).uniform(0.02, 0.2, floats).astype("<f4")
    weights = folder / "tiny-classifier.weights"
    weights.write_bytes(struct.pack("<3iQ", 0, 2, 0, 0) + body.tobytes())
    return cfg, weights, names
