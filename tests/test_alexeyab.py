"""pydarknet's ``dialect="alexeyab"`` reproduces AlexeyAB's darknet (59596d78), called
through its own libdarknet.so (tests/helpers/alexeyab.py): for each cfg of the YOLOv4 and
YOLOv7 families, seeded weights written by the fork's save_weights(), the darknet/data
images, every detection at least NEAR clear of the threshold matched both ways (same
class, |dp| <= 0.02, IoU >= 0.97).

The fork's CPU build is slow (no AVX, 2 cores), so the big cfgs run at a reduced input
size (SIZES; a layer computes the same thing at any size) and on fewer images: the whole
file takes a few minutes.  ``pytest -s`` prints the table of what was matched: cfg,
input size, images, clear detections matched, worst |dp|.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from helpers.alexeyab import fork_cfg, fork_detect, fork_dir, fork_layers, fork_weights
from helpers.compare import MAX_DP, MIN_IOU, NEAR, Det, iou, mismatches

import pydarknet
from pydarknet.cfg import check_cfg
from pydarknet.core import raw_detect_arrays
from pydarknet.images import read_image
from pydarknet.network import weights_header_bytes

THRESH = 0.25  # the fork's `detector test` default
IMAGES = ("dog.jpg", "person.jpg", "horses.jpg", "eagle.jpg", "giraffe.jpg")
# cfg: (input size, None for the cfg's own; how many of IMAGES)
SIZES = {
    "yolov4-tiny": (None, 5), "yolov4-tiny-3l": (416, 5), "yolov7-tiny": (None, 5),
    "yolov4": (320, 2), "yolov4-csp": (320, 2), "yolov4-csp-swish": (320, 2),
    "yolov7": (320, 2), "yolov4-sam-mish-csp-reorg-bfm": (320, 2),
    "yolov4x-mish": (256, 1), "yolov4-p5": (256, 1), "yolov4-p6": (256, 1), "yolov7x": (256, 1),
}  # fmt: skip
TABLE: dict[str, tuple[str, int, int, int, float]] = {}


@pytest.fixture(scope="module")
def fork() -> Path:
    found = fork_dir()
    if found is None:
        pytest.skip("AlexeyAB's darknet is not available (tests/helpers/alexeyab.py)")
    return found


@pytest.fixture(scope="module", autouse=True)
def print_table() -> Iterator[None]:
    yield
    if TABLE:
        print("\n| cfg | input | images | clear detections matched | worst abs(dp) |")
        print("|---|---|---|---|---|")
        for name, (size, images, fork_n, ours_n, worst) in TABLE.items():
            print(f"| {name} | {size} | {images} | {fork_n} + {ours_n} | {worst:.4f} |")


def seeded(tmp: Path, name: str, size: int | None) -> tuple[Path, Path]:
    cfg = fork_cfg(name, tmp, size)
    return cfg, fork_weights(cfg, tmp / f"{cfg.stem}.weights")


def ours(net: pydarknet.Network, image: str, thresh: float) -> list[Det]:
    """Our (class, prob, box relative to the image) pairs above ``thresh``."""
    bgr = read_image(image)
    raw = raw_detect_arrays(net, [bgr], thresh)[0]
    scale = np.array([bgr.shape[1], bgr.shape[0]] * 2, np.float32)
    rows, cols = raw.pairs()
    return [(int(j), float(raw.probs[i, j]), tuple(map(float, raw.boxes[i] / scale)))
            for i, j in zip(rows, cols, strict=True)]  # fmt: skip


def theirs(cfg: Path, weights: Path, image: str, thresh: float) -> list[Det]:
    return [(j, p, d.bbox) for d in fork_detect(cfg, weights, image, thresh)
            for j, p in enumerate(d.probs) if p > thresh]  # fmt: skip


def clear_matches(a: Sequence[Det], b: Sequence[Det]) -> tuple[int, float]:
    """How many of ``a``'s clear detections have a twin in ``b``, and the worst |dp|."""
    count, worst = 0, 0.0
    for cls, prob, box in a:
        if prob > THRESH + NEAR:
            dps = [abs(p - prob) for c, p, bx in b if c == cls and iou(box, bx) >= MIN_IOU]
            count, worst = count + 1, max([worst, min(dps, default=1.0)])
    return count, worst


def reproduce(name: str, cfg: Path, weights: Path, data: Path, images: Sequence[str],
              dialect: str = "auto") -> tuple[int, int, float]:  # fmt: skip
    """Compare every image's detections both ways; (fork's, ours matched, worst |dp|)."""
    fork_n = ours_n = 0
    worst = 0.0
    with pydarknet.load_net(cfg, weights, dialect=dialect) as net:
        assert net.dialect == "alexeyab"
        for image in images:
            path = str(data / image)
            a, b = theirs(cfg, weights, path, THRESH - NEAR), ours(net, path, THRESH - NEAR)
            assert mismatches(a, b, THRESH) == [], (name, image)
            (n1, w1), (n2, w2) = clear_matches(a, b), clear_matches(b, a)
            fork_n, ours_n, worst = fork_n + n1, ours_n + n2, max(worst, w1, w2)
    assert worst <= MAX_DP
    return fork_n, ours_n, worst


@pytest.mark.parametrize("name", SIZES)
def test_the_fork_is_reproduced(fork: Path, data_dir: Path, tmp_path: Path, name: str) -> None:
    size, count = SIZES[name]
    cfg, weights = seeded(tmp_path, name, size)
    shape = check_cfg(str(cfg))
    assert shape.dialect == "alexeyab"
    body = os.path.getsize(weights) - weights_header_bytes(str(weights))
    assert body == 4 * sum(ly.weights for ly in shape.layers)  # shortcut weights included
    fork_n, ours_n, worst = reproduce(name, cfg, weights, data_dir, IMAGES[:count])
    assert fork_n > 0 and ours_n > 0, "nothing clear of the threshold to compare"
    TABLE[name] = (str(size or shape.width), count, fork_n, ours_n, worst)


@pytest.mark.parametrize("name", ["yolov4-tiny", "yolov7-tiny"])
def test_the_checkers_shapes_are_the_forks_layers(
    fork: Path, data_dir: Path, tmp_path: Path, name: str
) -> None:
    cfg, weights = seeded(tmp_path, name, 160)
    sized, outputs = fork_layers(cfg, weights, data_dir / "dog.jpg")
    shape = check_cfg(str(cfg))
    assert sized.shape == (shape.channels, shape.height, shape.width)
    assert [o.shape for o in outputs] == [(ly.c, ly.h, ly.w) for ly in shape.layers]


# the fork's layers and options the family cfgs above do not use
FEATURES = """[net]
width=96
height=64
channels=3
letter_box=1
{conv16}stride=2
activation=mish
{conv16}activation=hard_mish
{conv16}activation=relu6
[shortcut]
from=-2,-3
weights_type=per_channel
weights_normalization=softmax
activation=swish
[maxpool]
size=2
stride_x=2
stride_y=1
[avgpool]
[convolutional]
filters=16
size=1
activation=logistic
[scale_channels]
from=-3
{conv16}activation=gelu
[sam]
from=-2
[reorg3d]
stride=2
[route]
layers=-1
groups=2
group_id=1
[maxpool]
maxpool_depth=1
out_channels=24
[empty]
[convolutional]
filters=21
size=1
activation=linear
[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=2
num=3
scale_x_y=1.1
nms_kind=diounms
beta_nms=0.6
"""
CONV16 = "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\npad=1\n"


def test_the_forks_other_layers_are_reproduced(fork: Path, data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "features.cfg"
    cfg.write_text(FEATURES.format(conv16=CONV16))
    weights = fork_weights(cfg, tmp_path / "features.weights")
    shape = check_cfg(str(cfg))
    assert shape.layers[3].weights == 3 * 16 and shape.letter_box == 1
    _sized, outputs = fork_layers(cfg, weights, data_dir / "dog.jpg")
    assert [o.shape for o in outputs] == [(ly.c, ly.h, ly.w) for ly in shape.layers]
    fork_n, ours_n, _worst = reproduce("features", cfg, weights, data_dir, IMAGES)
    assert fork_n > 0 and ours_n > 0


def test_a_plain_cfg_forced_to_the_forks_dialect_stretches(
    fork: Path, data_dir: Path, tmp_path: Path
) -> None:
    """yolov3-tiny trained in the fork: the fork stretches the image, pjreddie letterboxes."""
    cfg, weights = seeded(tmp_path, "yolov3-tiny", None)
    assert check_cfg(str(cfg)).dialect == "pjreddie"
    fork_n, ours_n, _worst = reproduce("yolov3-tiny", cfg, weights, data_dir, IMAGES[:2],
                                       dialect="alexeyab")  # fmt: skip
    assert fork_n > 0 and ours_n > 0
    dog = str(data_dir / "dog.jpg")  # 768x576: letterboxed and stretched differ
    with pydarknet.load_net(cfg, weights) as plain:
        assert plain.dialect == "pjreddie"
        assert mismatches(theirs(cfg, weights, dog, THRESH), ours(plain, dog, THRESH), THRESH)


def test_pjreddies_dialect_refuses_a_fork_cfg(fork: Path, tmp_path: Path, coco_names: str) -> None:
    cfg, weights = seeded(tmp_path, "yolov4-tiny", 128)
    with pytest.raises(pydarknet.CfgError, match="AlexeyAB/hank-ai darknet fork"):
        pydarknet.load_net(cfg, weights, dialect="pjreddie")
    with pytest.raises(pydarknet.CfgError, match="AlexeyAB/hank-ai darknet fork"):
        pydarknet.Detector(cfg=cfg, weights=weights, names=coco_names, dialect="pjreddie")


def test_a_fork_detector_keeps_its_dialect(
    fork: Path, data_dir: Path, tmp_path: Path, coco_names: str
) -> None:
    cfg, weights = seeded(tmp_path, "yolov4-tiny", 224)
    dog = str(data_dir / "dog.jpg")
    with pydarknet.Detector(cfg=cfg, weights=weights, names=coco_names, thresh=THRESH) as det:
        assert det.dialect == "alexeyab"
        with pickle.loads(pickle.dumps(det)) as again:
            assert again.dialect == "alexeyab"
            assert det.detect(dog) == again.detect(dog) != []
        with det.net.locked() as ptr:  # the C network carries its dialect
            assert det.net.backend.lib.pydn_network_dialect(ptr) == 1
        thin = np.zeros((1, 300, 3), np.uint8)  # stretched, not letterboxed: accepted
        det.detect(thin)
        with pytest.raises(pydarknet.DarknetValueError, match="nms_kind"):
            raw_detect_arrays(det.net, [thin], THRESH, nms_kind="obj")
