"""Threads: one network shared by several threads answers exactly as serial calls do
(each network serializes its own calls), and the GIL is released during Darknet's work."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from helpers.small_net import write_small_net

import pydarknet
from pydarknet.api import raw_detect
from pydarknet.images import from_array


@pytest.fixture(scope="module")
def images(data_dir) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    names = ["dog", "eagle", "giraffe", "horses", "kite", "person"]
    return [cv2.imread(str(data_dir / f"{n}.jpg")) for n in names]


def as_tuple(raw: pydarknet.api.RawDetections) -> tuple[bytes, bytes, bytes]:
    return raw.boxes.tobytes(), raw.probs.tobytes(), raw.objectness.tobytes()


def test_shared_network_threads_match_serial(tmp_path, images) -> None:  # type: ignore[no-untyped-def]
    cfg, weights = write_small_net(tmp_path)
    small = [cv2.resize(im, (80, 60)) for im in images]
    with pydarknet.load_net(cfg, weights) as net:
        serial = [as_tuple(raw_detect(net, from_array(im), thresh=0.01)) for im in small]
        jobs = [i % len(small) for i in range(8 * 25)]  # 200 calls on 8 threads

        def work(i: int) -> tuple[int, tuple[bytes, bytes, bytes]]:
            return i, as_tuple(raw_detect(net, from_array(small[i]), thresh=0.01))

        with ThreadPoolExecutor(8) as pool:
            threaded = list(pool.map(work, jobs))
    assert all(len(np.frombuffer(s[0], np.float32)) > 0 for s in serial)  # real boxes came back
    for i, result in threaded:
        assert result == serial[i]


def test_shared_real_network_threads_match_serial(net, meta, images) -> None:  # type: ignore[no-untyped-def]
    serial = pydarknet.detect_image(net, meta, images[0])
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda im: pydarknet.detect_image(net, meta, im), images[:1] * 2))
    assert threaded == [serial, serial]
    assert {"dog", "bicycle"} <= {name for name, _, _ in serial}


def pauses_while(work: Callable[[], object]) -> tuple[float, float, int]:
    """Run ``work`` in a thread while this thread counts; returns (duration of ``work``,
    longest pause of the counting loop meanwhile, iterations meanwhile)."""
    done = threading.Event()
    span: list[float] = []

    def run() -> None:
        t0 = time.perf_counter()
        try:
            work()
        finally:  # an exception in work() must not leave the counting loop spinning
            span.extend((t0, time.perf_counter()))
            done.set()

    worker = threading.Thread(target=run)
    stamps = []
    worker.start()
    while not done.is_set():
        stamps.append(time.perf_counter())
    worker.join()
    t0, t1 = span
    inside = [t for t in stamps if t0 <= t <= t1]
    longest = max(b - a for a, b in itertools.pairwise([t0, *inside, t1]))
    return t1 - t0, longest, len(inside)


def test_pause_measure_sees_a_held_gil() -> None:
    """Control: a C loop that keeps the GIL (sum over a range) stalls the counter."""
    duration, longest, _ = pauses_while(lambda: sum(range(20_000_000)))
    assert longest > duration / 2


def test_gil_released_during_detection(net, images) -> None:  # type: ignore[no-untyped-def]
    """With the GIL held for the C call the counting loop would stop for the whole
    detection (see the control above); released, it only pauses for thread switches.
    Three tries, so that one unlucky scheduling on a loaded machine cannot fail it."""
    image = from_array(images[0])
    t0 = time.perf_counter()
    raw_detect(net, image)
    # enough detections in a row to last ~0.2 s (one is ~14 ms on a GPU)
    repeat = max(1, math.ceil(0.2 / (time.perf_counter() - t0)))

    def work() -> None:
        for _ in range(repeat):
            raw_detect(net, image)

    trials = []
    for _ in range(3):
        duration, longest, iterations = pauses_while(work)
        trials.append((round(duration, 3), round(longest, 3), iterations))
        if duration > 0.05 and longest < duration / 2 and iterations > 100:
            return
    pytest.fail(f"the Python thread stalled during detection: (duration, pause, n) = {trials}")
