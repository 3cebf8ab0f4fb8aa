"""detect_batch: several images of any sizes in Darknet's batch dimension agree with one
detection per image, whatever the batch size, order, layout or pixel format."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import reference
from helpers.compare import assert_reproduced

import pydarknet
from pydarknet.api import raw_detect
from pydarknet.core import raw_detect_arrays
from pydarknet.errors import DarknetValueError, ImageError
from pydarknet.images import from_array

THRESH = 0.5


def assert_same_detections(expected: list, got: list, thresh: float = THRESH) -> int:
    """Each side's detections clear of the threshold have twins in the other."""
    return assert_reproduced(expected, got, thresh) + assert_reproduced(got, expected, thresh)


@pytest.fixture(scope="module")
def pictures(data_dir: Path) -> list[np.ndarray]:
    found = [cv2.imread(p) for p in reference.data_images(data_dir)]
    assert len(found) >= 7 and len({im.shape for im in found}) >= 3  # several sizes
    return found


def test_batch_agrees_with_single_detections(net, meta, pictures) -> None:  # type: ignore[no-untyped-def]
    singles = [pydarknet.detect_image(net, meta, im) for im in pictures]
    checked = 0
    for order in (pictures, pictures[::-1]):
        got = pydarknet.detect_batch(net, meta, order)
        want = singles if order is pictures else singles[::-1]
        assert len(got) == len(order)
        for g, w in zip(got, want, strict=True):
            checked += assert_same_detections(w, g)
    assert checked >= 30


def test_batch_sizes_grow_shrink_and_restore(net, meta, pictures) -> None:  # type: ignore[no-untyped-def]
    dog = pictures[0]
    single = pydarknet.detect_image(net, meta, dog)
    for n in (3, 1, 8, 2):
        res = pydarknet.detect_batch(net, meta, [dog] * n)
        assert len(res) == n
        for r in res:
            assert_same_detections(single, r)
        with net.locked() as ptr:
            assert ptr.batch == 1  # the network is left as it was for single detections
    assert_same_detections(single, pydarknet.detect_image(net, meta, dog))


def test_one_image_is_the_upstream_pipeline_exactly(net, pictures) -> None:  # type: ignore[no-untyped-def]
    """The 8-bit letterbox in C equals upstream letterbox_image on the float image: the
    batch-of-one path and raw_detect (upstream's own letterbox) give the same numbers."""
    for im in pictures[:3]:
        a = raw_detect_arrays(net, [im], 0.3)[0]
        b = raw_detect(net, from_array(im), 0.3)
        np.testing.assert_array_equal(a.probs, b.probs)
        np.testing.assert_array_equal(a.boxes, b.boxes)


def test_batch_mixes_layouts_and_formats(net, meta, pictures) -> None:  # type: ignore[no-untyped-def]
    dog = pictures[0]
    gray = cv2.cvtColor(pictures[1], cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(pictures[2], cv2.COLOR_BGR2BGRA)
    crop = pictures[3][7:-5, 11:-3]  # not contiguous
    flipped = pictures[4][:, ::-1]  # negative strides
    images = [dog, gray, bgra, crop, flipped]
    got = pydarknet.detect_batch(net, meta, images)
    for im, g in zip(images, got, strict=True):
        assert_same_detections(pydarknet.detect_image(net, meta, np.ascontiguousarray(im)), g)
    rgb = [cv2.cvtColor(im, cv2.COLOR_BGR2RGB) for im in (dog, pictures[3])]
    got_rgb = pydarknet.detect_batch(net, meta, rgb, rgb=True)
    for im, g in zip((dog, pictures[3]), got_rgb, strict=True):
        assert_same_detections(pydarknet.detect_image(net, meta, im), g)


def test_batch_input_errors(net, meta, pictures) -> None:  # type: ignore[no-untyped-def]
    assert pydarknet.detect_batch(net, meta, []) == []
    with pytest.raises(DarknetValueError):
        pydarknet.detect_batch(net, meta, pictures[0])  # one image, not a sequence
    with pytest.raises(ImageError, match=r"images\[1\]"):
        pydarknet.detect_batch(net, meta, [pictures[0], pictures[1].astype(np.float32)])
    with pytest.raises(DarknetValueError):
        pydarknet.detect_batch(net, meta, pictures[:2], thresh=1.5)
    stack = np.stack([pictures[0]] * 2)  # an N x H x W x C array is N images
    assert len(pydarknet.detect_batch(net, meta, stack)) == 2


def test_two_networks_in_two_threads(net, meta, tiny_cfg, tiny_weights, pictures) -> None:  # type: ignore[no-untyped-def]
    """The thread pool serves one call at a time; a second network used concurrently
    runs on its caller's thread and gets the same answers."""
    from concurrent.futures import ThreadPoolExecutor

    expected = [pydarknet.detect_image(net, meta, im) for im in pictures[:4]]
    with pydarknet.load_net(tiny_cfg, tiny_weights) as other:

        def run(n):  # type: ignore[no-untyped-def]
            return [pydarknet.detect_batch(n, meta, pictures[:4]) for _ in range(3)]

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(run, [net, other]))
    for per_thread in results:
        for batch_result in per_thread:
            for want, got in zip(expected, batch_result, strict=True):
                assert_same_detections(want, got)


def test_threads_that_end_leave_no_scratch_behind(net, meta, pictures) -> None:  # type: ignore[no-untyped-def]
    """Each calling thread's scratch buffers (several MiB) are freed when it ends."""
    import threading

    def rss_mib() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def one() -> None:
        pydarknet.detect_batch(net, meta, pictures[:2])

    for _ in range(2):  # warm-up: the pool's own threads and allocator state
        t = threading.Thread(target=one)
        t.start()
        t.join()
    before = rss_mib()
    for _ in range(20):
        t = threading.Thread(target=one)
        t.start()
        t.join()
    assert rss_mib() - before < 40
