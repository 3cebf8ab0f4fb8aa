"""pydarknet's ``dialect="alexeyab"`` reproduces AlexeyAB's darknet (59596d78), called
through its own libdarknet.so (tests/helpers/alexeyab.py): for each cfg of the YOLOv4 and
YOLOv7 families, seeded weights written by the fork's save_weights(), the darknet/data
images, every detection at least NEAR clear of the threshold matched both ways (same
class, |dp| <= 0.02, IoU >= 0.97, or for boxes a pixel or two wide, where IoU is
ill-conditioned, every coordinate within half a pixel); where NMS keeps different boxes
of a cluster on the two sides, both must suppress exactly as the fork's box.c
(see :func:`compare`).

The fork's CPU build is slow (no AVX, 2 cores), so the big cfgs run at a reduced input
size (SIZES; a layer computes the same thing at any size) and on fewer images: the whole
file takes a few minutes.  The images go to both sides as PNG copies (:func:`lossless`).
``pytest -s`` prints the table of what was matched: cfg, input size, images, clear
detections matched, worst |dp|, NMS flips.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.alexeyab import fork_cfg, fork_detect, fork_dir, fork_layers, fork_weights
from helpers.compare import MAX_DP, MIN_IOU, NEAR, Det, iou_many, mismatches
from helpers.fork_nms import fork_nms

import pydarknet
from pydarknet.cfg import check_cfg
from pydarknet.cfg.parse import read_cfg
from pydarknet.core import raw_detect_arrays
from pydarknet.images import read_image
from pydarknet.network import weights_header_bytes

THRESH, NMS = 0.25, 0.45  # the fork's `detector test` defaults
IMAGES = ("dog.jpg", "person.jpg", "horses.jpg", "eagle.jpg", "giraffe.jpg")
# cfg: (input size, None for the cfg's own; how many of IMAGES)
SIZES = {
    "yolov4-tiny": (None, 5), "yolov4-tiny-3l": (416, 5), "yolov7-tiny": (None, 5),
    "yolov4": (320, 2), "yolov4-csp": (320, 2), "yolov4-csp-swish": (320, 2),
    "yolov7": (320, 2), "yolov4-sam-mish-csp-reorg-bfm": (320, 2),
    "yolov4x-mish": (256, 1), "yolov4-p5": (256, 1), "yolov4-p6": (256, 1), "yolov7x": (256, 1),
}  # fmt: skip
TABLE: dict[str, tuple[str, int, int, int, float, int]] = {}


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
        print("\n| cfg | input | images | clear detections matched (fork's + ours) "
              "| worst abs(dp) | NMS flips |")  # fmt: skip
        print("|---|---|---|---|---|---|")
        for name, (size, images, fork_n, ours_n, worst, ties) in TABLE.items():
            print(f"| {name} | {size} | {images} | {fork_n} + {ours_n} | {worst:.4f} | {ties} |")


def seeded(tmp: Path, name: str, size: int | None) -> tuple[Path, Path]:
    cfg = fork_cfg(name, tmp, size)
    return cfg, fork_weights(cfg, tmp / f"{cfg.stem}.weights")


Raw = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes relative to the image, probs, objectness


def ours(net: pydarknet.Network, image: str, thresh: float, nms: float = NMS) -> Raw:
    bgr = read_image(image)
    raw = raw_detect_arrays(net, [bgr], thresh, nms=nms)[0]
    scale = np.array([bgr.shape[1], bgr.shape[0]] * 2, np.float32)
    return raw.boxes / scale, raw.probs, raw.objectness


def theirs(cfg: Path, weights: Path, image: str, thresh: float, nms: float = NMS) -> Raw:
    dets = fork_detect(cfg, weights, image, thresh, nms=nms)
    boxes = np.array([d.bbox for d in dets], np.float32).reshape(-1, 4)
    probs = np.array([d.probs for d in dets] or np.zeros((0, 0)), np.float32)
    return boxes, probs, np.array([d.objectness for d in dets], np.float32)


def pairs(boxes: np.ndarray, probs: np.ndarray, thresh: float) -> list[Det]:
    """(class, prob, box) of every prob above ``thresh``."""
    rows, cols = np.nonzero(probs > np.float32(thresh))
    return [(int(j), float(probs[i, j]), tuple(map(float, boxes[i])))
            for i, j in zip(rows, cols, strict=True)]  # fmt: skip


Group = tuple[np.ndarray, np.ndarray]  # one class's probs (n,) and boxes (n, 4)


def by_class(dets: Sequence[Det]) -> dict[object, Group]:
    lists: dict[object, tuple[list[float], list[Sequence[float]]]] = {}
    for cls, prob, box in dets:
        probs, boxes = lists.setdefault(cls, ([], []))
        probs.append(prob)
        boxes.append(box)
    return {c: (np.array(p, np.float64), np.array(b, np.float64).reshape(-1, 4))
            for c, (p, b) in lists.items()}  # fmt: skip


def best_dp(det: Det, group: Group | None, size: tuple[int, int]) -> float:
    """The least |dp| of the detections of ``group`` (det's class) whose box is det's:
    IoU >= MIN_IOU, or (for boxes a pixel or two wide, where IoU is ill-conditioned)
    every coordinate within half a pixel of the ``size`` (w, h) image; 1 if none."""
    if group is None:
        return 1.0
    _cls, prob, box = det
    probs, boxes = group
    scale = np.array([size[0], size[1], size[0], size[1]], np.float64)
    near = np.all(np.abs(boxes - np.asarray(box, np.float64)) * scale <= 0.5, axis=1)
    twins = (iou_many(box, boxes) >= MIN_IOU) | near
    return float(np.abs(probs[twins] - prob).min()) if twins.any() else 1.0


def clear_matches(a: Sequence[Det], b: Sequence[Det], size: tuple[int, int]) -> tuple[int, float]:
    """How many of ``a``'s clear detections have a twin in ``b``, and the worst |dp|."""
    grouped = by_class(b)
    dps = [best_dp(det, grouped.get(det[0]), size) for det in a if det[1] > THRESH + NEAR]
    return len(dps), max(dps, default=0.0)


def disagree(a: Sequence[Det], b: Sequence[Det], size: tuple[int, int]) -> list[Det]:
    """The clear detections of either without a twin within MAX_DP in the other."""
    grouped_a, grouped_b = by_class(a), by_class(b)
    return [d for mine, other in ((a, grouped_b), (b, grouped_a)) for d in mine
            if d[1] > THRESH + NEAR and best_dp(d, other.get(d[0]), size) > MAX_DP]  # fmt: skip


def last_nms(cfg: Path) -> tuple[str, float]:
    """The last [yolo] layer's nms_kind and beta_nms (the fork's defaults otherwise)."""
    yolo = [sec for sec in read_cfg(cfg.read_bytes(), str(cfg)) if sec.header == "[yolo]"][-1]
    return yolo.find("nms_kind")[1] or "default", yolo.float("beta_nms", 0.6)


def compare(name: str, cfg: Path, weights: Path, net: pydarknet.Network, image: str
            ) -> tuple[int, int, float, int]:  # fmt: skip
    """Both ways on one image: (fork's clear matched, ours matched, worst |dp|, flips).

    Where the two sides' NMS keep different boxes of a cluster (seeded weights give
    many overlapping boxes of nearly equal prob), the boxes before NMS must all match
    and each side's NMS must be the fork's box.c exactly (:func:`fork_nms` on its own
    boxes); the boxes kept by one side only are then counted as flips."""
    t = THRESH - NEAR
    fork_post, our_post = theirs(cfg, weights, image, t), ours(net, image, t)
    height, width = cv2.imread(image).shape[:2]
    size = (width, height)
    a, b = pairs(fork_post[0], fork_post[1], t), pairs(our_post[0], our_post[1], t)
    flips = disagree(a, b, size)
    if flips:  # NMS kept different boxes of a cluster, or the boxes differ
        fork_pre, our_pre = theirs(cfg, weights, image, t, 0), ours(net, image, t, 0)
        before = pairs(fork_pre[0], fork_pre[1], t), pairs(our_pre[0], our_pre[1], t)
        assert disagree(*before, size) == [], (name, image, "before NMS")
        kind, beta = last_nms(cfg)
        for pre, post, side in ((fork_pre, a, "fork"), (our_pre, b, "ours")):
            suppressed = fork_nms(*pre, NMS, kind, beta)
            assert set(pairs(pre[0], suppressed, t)) == set(post), (name, image, side, kind)
        flipped = set(flips)
        a, b = [d for d in a if d not in flipped], [d for d in b if d not in flipped]
    (n1, w1), (n2, w2) = clear_matches(a, b, size), clear_matches(b, a, size)
    return n1, n2, max(w1, w2), len(flips)


def lossless(jpeg: Path, beside: Path) -> str:
    """A PNG copy of a JPEG: the fork built without OpenCV decodes JPEGs with stb_image,
    pydarknet (like the fork built with OpenCV) with libjpeg, and the two differ by a
    few levels in some pixels (eagle.jpg); a PNG gives both the same pixels."""
    png = beside.with_name(jpeg.stem + ".png")
    if not png.is_file():
        cv2.imwrite(str(png), cv2.imread(str(jpeg)))
    return str(png)


def reproduce(name: str, cfg: Path, weights: Path, data: Path, images: Sequence[str],
              dialect: str = "auto") -> tuple[int, int, float, int]:  # fmt: skip
    """:func:`compare` on every image, summed (worst |dp|: the worst)."""
    total = [0, 0, 0.0, 0]
    with pydarknet.load_net(cfg, weights, dialect=dialect) as net:
        assert net.dialect == "alexeyab"
        for image in images:
            n1, n2, worst, ties = compare(name, cfg, weights, net, lossless(data / image, cfg))
            total = [total[0] + n1, total[1] + n2, max(total[2], worst), total[3] + ties]
    assert total[2] <= MAX_DP
    return int(total[0]), int(total[1]), total[2], int(total[3])


@pytest.mark.parametrize("name", SIZES)
def test_the_fork_is_reproduced(fork: Path, data_dir: Path, tmp_path: Path, name: str) -> None:
    size, count = SIZES[name]
    cfg, weights = seeded(tmp_path, name, size)
    shape = check_cfg(str(cfg))
    assert shape.dialect == "alexeyab"
    body = os.path.getsize(weights) - weights_header_bytes(str(weights))
    assert body == 4 * sum(ly.weights for ly in shape.layers)  # shortcut weights included
    fork_n, ours_n, worst, ties = reproduce(name, cfg, weights, data_dir, IMAGES[:count])
    assert fork_n > 0 and ours_n > 0, "nothing clear of the threshold to compare"
    TABLE[name] = (str(size or shape.width), count, fork_n, ours_n, worst, ties)


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
[convolutional]
filters=1
size=1
activation=logistic
[scale_channels]
from=-2
scale_wh=1
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
    fork_n, ours_n, worst, ties = reproduce("features", cfg, weights, data_dir, IMAGES)
    TABLE["features (FEATURES)"] = ("96x64", len(IMAGES), fork_n, ours_n, worst, ties)
    assert fork_n > 0 and ours_n > 0


def test_a_plain_cfg_forced_to_the_forks_dialect_stretches(
    fork: Path, data_dir: Path, tmp_path: Path
) -> None:
    """yolov3-tiny trained in the fork: the fork stretches the image, pjreddie letterboxes."""
    cfg, weights = seeded(tmp_path, "yolov3-tiny", None)
    assert check_cfg(str(cfg)).dialect == "pjreddie"
    fork_n, ours_n, worst, ties = reproduce("yolov3-tiny", cfg, weights, data_dir, IMAGES[:2],
                                            dialect="alexeyab")  # fmt: skip
    assert fork_n > 0 and ours_n > 0
    TABLE["yolov3-tiny, dialect=alexeyab"] = ("416", 2, fork_n, ours_n, worst, ties)
    dog = str(data_dir / "dog.jpg")  # 768x576: letterboxed and stretched differ
    with pydarknet.load_net(cfg, weights) as plain:
        assert plain.dialect == "pjreddie"
        fork_raw, plain_raw = theirs(cfg, weights, dog, THRESH), ours(plain, dog, THRESH)
        assert mismatches(pairs(fork_raw[0], fork_raw[1], THRESH),
                          pairs(plain_raw[0], plain_raw[1], THRESH), THRESH)  # fmt: skip


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


def test_the_command_line_takes_a_dialect(
    fork: Path, data_dir: Path, tmp_path: Path, coco_names: str
) -> None:
    cfg, weights = seeded(tmp_path, "yolov4-tiny", 224)
    dog = str(data_dir / "dog.jpg")
    base = [sys.executable, "-m", "pydarknet.cli", "detect", dog, "--cfg", str(cfg),
            "--weights", str(weights), "--data", coco_names, "--thresh", str(THRESH),
            "--json", "--no-save"]  # fmt: skip
    refused = subprocess.run([*base, "--dialect", "pjreddie"], capture_output=True, text=True)
    assert refused.returncode == 1 and "AlexeyAB/hank-ai darknet fork" in refused.stderr
    ran = subprocess.run(base, capture_output=True, text=True, check=True)
    with pydarknet.Detector(cfg=cfg, weights=weights, names=coco_names, thresh=THRESH) as det:
        expected = [d.to_dict() for d in det.detect(dog, darknet_order=True)]
    assert json.loads(ran.stdout)["detections"] == expected != []


def test_the_service_takes_a_dialect(
    fork: Path, data_dir: Path, tmp_path: Path, coco_names: str
) -> None:
    """pydarknet serve --dialect: ServeConfig.dialect reaches the service's Detector."""
    from pydarknet.serve.app import ServeConfig, Service

    cfg, weights = seeded(tmp_path, "yolov4-tiny", 224)
    files = {"cfg": str(cfg), "weights": str(weights), "names": coco_names}

    async def load(dialect: str) -> tuple[str | None, str | None, list[object]]:
        service = Service(ServeConfig(**files, dialect=dialect, device="cpu"))
        await service.load()
        try:
            det = service.detector
            if det is None:
                return service.error, None, []
            return None, det.dialect, det.detect(lossless(data_dir / "dog.jpg", cfg))
        finally:
            await service.close()

    error, _, _ = asyncio.run(load("pjreddie"))
    assert error is not None and "CfgError" in error and "AlexeyAB/hank-ai" in error
    _, dialect, found = asyncio.run(load("auto"))
    with pydarknet.Detector(**files, thresh=0.5) as det:  # the service's default thresh
        assert (dialect, found) == ("alexeyab", det.detect(lossless(data_dir / "dog.jpg", cfg)))
