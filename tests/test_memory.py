"""Memory stays flat: no RSS growth per detection (file and array paths), networks are
freed on close() and on garbage collection."""

from __future__ import annotations

import gc
import weakref

import cv2
import numpy as np
import psutil
import pytest
from helpers.small_net import write_small_net

import pydarknet

CALLS = 1000
MAX_BYTES_PER_CALL = 1024


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("small")
    cfg, weights = write_small_net(folder)
    with pydarknet.load_net(cfg, weights) as net:
        yield net, pydarknet.Metadata(3, ("a", "b", "c")), folder


@pytest.fixture(scope="module")
def small_image(small, dog: str) -> tuple[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """A 96x72 crop of dog.jpg, as a file and as an array."""
    array = cv2.resize(cv2.imread(dog), (96, 72))
    path = str(small[2] / "dog-small.jpg")
    cv2.imwrite(path, array)
    return path, array


def growth_per_call(fn) -> float:  # type: ignore[no-untyped-def]
    for _ in range(100):  # warm up allocator pools and caches
        fn()
    before = rss()
    for _ in range(CALLS):
        fn()
    return (rss() - before) / CALLS


def test_no_growth_per_detection_file_path(small, small_image) -> None:  # type: ignore[no-untyped-def]
    net, meta, _ = small
    path, _ = small_image
    first = pydarknet.api.raw_detect(net, pydarknet.images.load_image(path), thresh=0.01)
    per_call = growth_per_call(lambda: pydarknet.detect(net, meta, path, thresh=0.01))
    assert per_call <= MAX_BYTES_PER_CALL, f"{per_call:.0f} bytes per detection"
    assert len(first.boxes) > 0  # the loop did real work: boxes came back


def test_no_growth_per_detection_array_path(small, small_image) -> None:  # type: ignore[no-untyped-def]
    net, meta, _ = small
    _, array = small_image
    per_call = growth_per_call(lambda: pydarknet.detect_image(net, meta, array, thresh=0.01))
    assert per_call <= MAX_BYTES_PER_CALL, f"{per_call:.0f} bytes per detection"


def test_network_freed_on_garbage_collection(tiny_cfg: str, tiny_weights: str) -> None:
    net = pydarknet.load_net(tiny_cfg, tiny_weights)
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is None


def test_ten_load_free_cycles_stay_within_20mb(tiny_cfg: str, tiny_weights: str, dog: str) -> None:
    """10 x (load yolov3-tiny, detect, free): by close() on even cycles, by the GC on odd."""
    meta = pydarknet.load_meta(pydarknet.models.data_file("coco.names"))
    image = cv2.resize(cv2.imread(dog), (64, 48))
    sizes = []
    for cycle in range(10):
        net = pydarknet.load_net(tiny_cfg, tiny_weights)
        assert pydarknet.detect_image(net, meta, image, thresh=0.99) == []
        if cycle % 2 == 0:
            net.close()
        del net
        sizes.append(rss())
    grown = (max(sizes) - sizes[0]) / 2**20
    # one yolov3-tiny holds ~34 MB of weights and a ~25 MB im2col workspace: leaking
    # either per cycle would grow RSS by hundreds of MB
    assert grown <= 20, f"RSS grew {grown:.1f} MB over 10 load/free cycles: {sizes}"
