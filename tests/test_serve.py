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
from helpers import reference
from helpers.serve_server import Server, as_tuples, batch_stats, same_to_rounding

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
    """32 clients keep the network busy; health checks meanwhile answer at once, while
    detections keep arriving (at least 16 of them during the checks)."""
    data = Path(images[0]).read_bytes()

    async def scenario() -> tuple[list[float], int]:
        stop, answered = asyncio.Event(), [0]

        async def keep_busy(client: httpx.AsyncClient) -> None:
            while not stop.is_set():
                r = await client.post(batched.url + "/detect", content=data,
                                      headers={"Content-Type": "image/jpeg"})  # fmt: skip
                assert r.status_code == 200, r.text
                answered[0] += 1

        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=300) as client:
            workers = [asyncio.create_task(keep_busy(client)) for _ in range(32)]
            await asyncio.sleep(0.5)
            before, waits, deadline = answered[0], [], time.monotonic() + 120
            while answered[0] - before < 16 and time.monotonic() < deadline:
                start = time.perf_counter()
                r = await client.get(batched.url + "/health")
                waits.append(time.perf_counter() - start)
                assert r.status_code == 200 and r.json()["status"] == "ok"
                await asyncio.sleep(0.05)
            during = answered[0] - before
            stop.set()
            await asyncio.gather(*workers)
        return waits, during

    waits, during = asyncio.run(scenario())
    assert during >= 16, "the network did not work during the health checks"
    assert max(waits) < 1.0, waits  # while batches take up to seconds each on a CPU


def test_models_metrics_docs_and_page(exact, dog) -> None:  # type: ignore[no-untyped-def]
    def get(path: str) -> httpx.Response:
        return httpx.get(exact.url + path, trust_env=False, timeout=30)

    assert post(exact.url, dog).status_code == 200  # counted in /metrics below

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
