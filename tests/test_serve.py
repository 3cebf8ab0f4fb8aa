"""`pydarknet serve`: the HTTP API against pydarknet.detect() on the Darknet data images,
many concurrent requests with and without batching, health under load, metrics, docs.
Each server is the real command in a subprocess on a loopback port."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import cv2
import httpx
import pytest
import reference
from serve_server import Server, as_tuples, same_to_rounding

import pydarknet

pytest.importorskip("fastapi", reason="the serve extras are not installed")


@pytest.fixture(scope="module")
def exact():  # type: ignore[no-untyped-def]
    """No batching: every answer is bit for bit pydarknet.detect()'s."""
    with Server(["--max-batch", "1"]) as s:
        yield s


@pytest.fixture(scope="module")
def batched():  # type: ignore[no-untyped-def]
    with Server(["--max-batch", "8", "--max-wait-ms", "20"]) as s:
        yield s


@pytest.fixture(scope="module")
def images(data_dir: Path) -> list[str]:
    found = reference.data_images(data_dir)
    assert len(found) >= 7
    return found


@pytest.fixture(scope="module")
def expected(net, meta, images):  # type: ignore[no-untyped-def]
    return {path: pydarknet.detect(net, meta, path) for path in images}


def post(url: str, path: str, **params: object) -> httpx.Response:
    data = Path(path).read_bytes()
    return httpx.post(url + "/detect", content=data, params=params, trust_env=False,
                      headers={"Content-Type": "image/jpeg"}, timeout=120)  # fmt: skip


def test_dog_raw_and_multipart_equal_detect(exact, dog, expected) -> None:  # type: ignore[no-untyped-def]
    r = post(exact.url, dog)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["width"], answer["height"]) == (768, 576)
    assert len(answer["detections"]) == 5
    assert as_tuples(answer) == expected[dog]  # the same floats, the same order
    names = pydarknet.load_meta(str(pydarknet.models.data_file("coco.names"))).names
    assert all(names[d["class_id"]] == d["label"] for d in answer["detections"])
    with open(dog, "rb") as f:
        form = httpx.post(exact.url + "/detect", files={"image": ("dog.jpg", f, "image/jpeg")},
                          trust_env=False, timeout=120)  # fmt: skip
    assert form.status_code == 200, form.text
    assert form.json() == answer


def test_every_image_and_options_equal_detect(exact, net, meta, images, expected) -> None:  # type: ignore[no-untyped-def]
    for path in images:
        assert as_tuples(post(exact.url, path).json()) == expected[path], path
    for opts in ({"thresh": 0.25}, {"thresh": 0.3, "nms": 0.7}, {"hier_thresh": 0.2, "nms": 0.2}):
        for path in images[:3]:
            want = pydarknet.detect(net, meta, path, **opts)  # type: ignore[arg-type]
            got = post(exact.url, path, **opts)
            assert got.status_code == 200 and as_tuples(got.json()) == want, (path, opts)


def test_draw_answers_pydarknets_drawing(exact, dog, expected) -> None:  # type: ignore[no-untyped-def]
    r = post(exact.url, dog, draw="true")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-detections"] == "5"
    names = pydarknet.load_meta(str(pydarknet.models.data_file("coco.names"))).names
    dets = [pydarknet.Detection(label, names.index(label), p, pydarknet.Box(*box))
            for label, p, box in expected[dog]]  # fmt: skip
    ok, want = cv2.imencode(".jpg", pydarknet.draw_detections(cv2.imread(dog), dets, 80))
    assert ok and r.content == want.tobytes()


async def _many(url: str, paths: list[str], concurrency: int) -> list[httpx.Response]:
    data = {p: Path(p).read_bytes() for p in set(paths)}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=600, trust_env=False) as client:
        return await asyncio.gather(*[
            client.post(url + "/detect", content=data[p], headers={"Content-Type": "image/jpeg"})
            for p in paths
        ])  # fmt: skip


def batch_stats(url: str) -> tuple[float, float]:
    """(batches, images) run so far, from /metrics."""
    text = httpx.get(url + "/metrics", trust_env=False).text
    count = re.search(r"^pydarknet_batch_size_count (\S+)$", text, re.M)
    total = re.search(r"^pydarknet_batch_size_sum (\S+)$", text, re.M)
    assert count and total, text
    return float(count.group(1)), float(total.group(1))


def test_200_concurrent_requests_unbatched_exact(exact, images, expected) -> None:  # type: ignore[no-untyped-def]
    paths = [images[i % len(images)] for i in range(208)]
    answers = asyncio.run(_many(exact.url, paths, 64))
    for path, r in zip(paths, answers, strict=True):
        assert r.status_code == 200, r.text
        assert as_tuples(r.json()) == expected[path], path
    assert exact.alive()


def test_200_concurrent_requests_batched(batched, images, expected) -> None:  # type: ignore[no-untyped-def]
    batches0, images0 = batch_stats(batched.url)
    paths = [images[i % len(images)] for i in range(208)]
    answers = asyncio.run(_many(batched.url, paths, 64))
    for path, r in zip(paths, answers, strict=True):
        assert r.status_code == 200, r.text
        same_to_rounding(expected[path], as_tuples(r.json()))
    batches, done = batch_stats(batched.url)
    assert done - images0 == 208
    assert batches - batches0 < 208 / 2  # requests really shared network calls
    assert batched.alive()


def test_health_answers_while_the_model_works(batched, images) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[list[float], list[httpx.Response]]:
        work = asyncio.create_task(_many(batched.url, [images[0]] * 48, 48))
        await asyncio.sleep(0.5)  # the network is busy with a queue of requests now
        waits = []
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            for _ in range(10):
                start = time.perf_counter()
                r = await client.get(batched.url + "/health")
                waits.append(time.perf_counter() - start)
                assert r.status_code == 200 and r.json()["status"] == "ok"
            busy = not work.done()
        assert busy, "the detections finished before the health checks: nothing measured"
        return waits, await work

    waits, answers = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in answers)
    assert max(waits) < 1.0, waits  # a detection batch takes seconds on this CPU


def test_models_metrics_docs_and_page(exact) -> None:  # type: ignore[no-untyped-def]
    def get(path: str) -> httpx.Response:
        return httpx.get(exact.url + path, trust_env=False, timeout=30)

    model = get("/models").json()["models"][0]
    assert model["name"] == "yolov3-tiny" and model["classes"] == 80
    assert model["names"][16] == "dog" and model["input"] == {"width": 416, "height": 416}
    metrics = get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert re.search(r'pydarknet_requests_total\{method="POST",route="/detect",status="200"\} '
                     r"[1-9]", metrics.text)  # fmt: skip
    assert "pydarknet_request_seconds_bucket" in metrics.text
    spec = get("/openapi.json").json()
    body = spec["paths"]["/detect"]["post"]["requestBody"]["content"]
    assert {"image/*", "multipart/form-data"} <= set(body)
    params = {p["name"] for p in spec["paths"]["/detect"]["post"]["parameters"]}
    assert {"thresh", "hier_thresh", "nms", "draw"} <= params
    assert "swagger" in get("/docs").text.lower()
    page = get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert get("/static/app.js").status_code == 200


def test_a_model_that_fails_to_load_is_reported(tmp_path, tiny_cfg, coco_names, dog) -> None:  # type: ignore[no-untyped-def]
    missing = str(tmp_path / "missing.weights")
    with Server(["--cfg", tiny_cfg, "--weights", missing, "--data", coco_names],
                wait_ready=False) as s:  # fmt: skip
        health = s.wait_health(503)
        assert health["status"] == "failed" and "missing.weights" in health["detail"]
        r = post(s.url, dog)
        assert r.status_code == 503 and "failed to load" in r.json()["detail"]
        assert s.alive()
