"""`pydarknet serve` refuses bad input with a 4xx JSON message and keeps answering: after
each refusal, dog.jpg still gets pydarknet.detect()'s answer from the same process."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import httpx
import numpy as np
import pytest
from helpers.serve_server import Server, as_tuples

import pydarknet

pytest.importorskip("fastapi", reason="the serve extras are not installed")

KEY = "s3cret-key"
AUTH = {"X-API-Key": KEY}
JPEG = {"Content-Type": "image/jpeg", **AUTH}


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    args = ["--max-upload-mb", "1", "--max-megapixels", "4", "--api-key", KEY, "--max-batch", "4"]
    with Server(args) as s:
        yield s


@pytest.fixture(scope="module")
def dog_bytes(dog: str) -> bytes:
    return Path(dog).read_bytes()


@pytest.fixture(scope="module")
def still_right(server, net, meta, dog, dog_bytes):  # type: ignore[no-untyped-def]
    """Checks the service still answers dog.jpg correctly."""
    want = pydarknet.detect(net, meta, dog)

    def check() -> None:
        r = httpx.post(server.url + "/detect", content=dog_bytes, headers=JPEG, trust_env=False,
                       timeout=120)  # fmt: skip
        assert r.status_code == 200, r.text
        assert as_tuples(r.json()) == want
        assert server.alive()

    return check


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height, with a tiny (incomplete) image."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))  # fmt: skip


def jpeg_bomb(jpeg: bytes, width: int, height: int) -> bytes:
    """A real JPEG whose frame header (SOF0) claims width x height."""
    i = jpeg.index(b"\xff\xc0")
    return jpeg[: i + 5] + struct.pack(">HH", height, width) + jpeg[i + 9 :]


def check_refused(r: httpx.Response, status: int, words: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    assert words in r.json()["detail"].lower(), r.json()


CASES = {  # name: (body bytes or a function of dog.jpg's bytes, headers, status, words)
    "text": (b"hello, not an image\n" * 50, JPEG, 415, "not an image"),
    "empty": (b"", JPEG, 400, "empty"),
    "truncated_jpeg": (lambda d: d[: len(d) // 2], JPEG, 400, "truncated jpeg"),
    "truncated_png": (
        lambda d: cv2.imencode(".png", cv2.imdecode(np.frombuffer(d, np.uint8), 1))[1].tobytes()[
            :5000
        ],
        JPEG,
        400,
        "truncated png",
    ),
    "png_signature_then_noise": (
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        JPEG,
        415,
        "not an image",
    ),
    "png_bomb": (png_bomb(100_000, 100_000), JPEG, 413, "pixels"),
    "jpeg_bomb": (lambda d: jpeg_bomb(d, 60_000, 60_000), JPEG, 413, "pixels"),
    "over_megapixels": (
        cv2.imencode(".png", np.zeros((2000, 2100, 3), np.uint8))[1].tobytes(),
        JPEG,
        413,
        "4000000",
    ),
    "thin": (
        cv2.imencode(".png", np.zeros((2, 3000, 3), np.uint8))[1].tobytes(),
        JPEG,
        422,
        "too thin",
    ),
    "form_urlencoded": (
        b"image=dog.jpg",
        {"Content-Type": "application/x-www-form-urlencoded", **AUTH},
        415,
        "multipart",
    ),
    "no_key": (lambda d: d, {"Content-Type": "image/jpeg"}, 401, "api key"),
    "wrong_key": (lambda d: d, {"Content-Type": "image/jpeg", "X-API-Key": "nope"}, 401, "api key"),
    "wrong_bearer": (lambda d: d, {"Authorization": "Bearer nope"}, 401, "api key"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_body_is_refused_and_service_answers(server, still_right, dog_bytes, name) -> None:  # type: ignore[no-untyped-def]
    body, headers, status, words = CASES[name]
    data = body(dog_bytes) if callable(body) else body
    r = httpx.post(server.url + "/detect", content=data, headers=headers, trust_env=False,
                   timeout=120)  # fmt: skip
    check_refused(r, status, words)
    still_right()


@pytest.mark.parametrize("query", [
    "thresh=abc", "thresh=-0.1", "thresh=1.5", "thresh=nan", "nms=inf", "hier_thresh=2",
    "nms=", "draw=maybe",
])  # fmt: skip
def test_invalid_query_values(server, still_right, dog_bytes, query) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{server.url}/detect?{query}", content=dog_bytes, headers=JPEG,
                   trust_env=False, timeout=60)  # fmt: skip
    check_refused(r, 422, query.split("=")[0])
    still_right()


def test_bearer_key_and_open_routes(server, still_right, dog_bytes) -> None:  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "image/jpeg", "Authorization": f"Bearer {KEY}"}
    r = httpx.post(server.url + "/detect", content=dog_bytes, headers=headers, trust_env=False,
                   timeout=120)  # fmt: skip
    assert r.status_code == 200 and len(r.json()["detections"]) == 5
    for path in ("/models", "/metrics"):
        assert httpx.get(server.url + path, trust_env=False).status_code == 401
        assert httpx.get(server.url + path, headers=AUTH, trust_env=False).status_code == 200
    assert httpx.get(server.url + "/health", trust_env=False).status_code == 200  # probes


def test_multipart_without_an_image_field(server, still_right, dog_bytes) -> None:  # type: ignore[no-untyped-def]
    for files in ({"file": ("dog.jpg", dog_bytes, "image/jpeg")}, {"image": (None, "dog.jpg")}):
        r = httpx.post(server.url + "/detect", files=files, headers=AUTH, trust_env=False,
                       timeout=60)  # fmt: skip
        check_refused(r, 400, "no file field named 'image'")
    broken = {"Content-Type": "multipart/form-data; boundary=xyz", **AUTH}
    r = httpx.post(server.url + "/detect", content=b"--xyz\r\ngarbage", headers=broken,
                   trust_env=False)  # fmt: skip
    assert 400 <= r.status_code < 500 and "detail" in r.json()
    still_right()


def test_declared_body_over_the_limit_is_refused_unread(server, still_right) -> None:  # type: ignore[no-untyped-def]
    """A request declaring 10 GB gets 413 after sending only its headers and 1 KiB."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(b"POST /detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                     b"X-API-Key: " + KEY.encode() + b"\r\nContent-Length: 10000000000\r\n\r\n"
                     + b"\xff" * 1024)  # fmt: skip
        received = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            received += chunk
        answer = received.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "upload limit" in answer
    still_right()


def test_streamed_body_over_the_limit(server, still_right) -> None:  # type: ignore[no-untyped-def]
    """A chunked body (no Content-Length) is cut off once it passes the limit."""
    sent = 0

    def chunks():  # type: ignore[no-untyped-def]
        nonlocal sent
        for _ in range(64):  # 64 MiB if the server read it all
            sent += 1
            yield b"\0" * (1 << 20)

    try:
        r = httpx.post(server.url + "/detect", content=chunks(), headers=JPEG, trust_env=False,
                       timeout=60)  # fmt: skip
        check_refused(r, 413, "upload limit")
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered and closed while the client still wrote: also refused
    assert sent < 64
    still_right()


def test_no_parameter_reads_a_file(server, still_right) -> None:  # type: ignore[no-untyped-def]
    for path in ("/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                 "/static//etc/passwd", "/..%2f..%2fetc/passwd"):  # fmt: skip
        r = httpx.get(server.url + path, trust_env=False)
        assert r.status_code == 404 and "root:" not in r.text, path
    r = httpx.post(server.url + "/detect?image=/etc/passwd&path=/etc/passwd&file=/etc/passwd",
                   headers=JPEG, trust_env=False)  # fmt: skip
    check_refused(r, 400, "empty")
    still_right()


def test_a_bad_image_in_a_batch_fails_alone(server, still_right, dog_bytes, net, meta, dog) -> None:  # type: ignore[no-untyped-def]
    """A thin image batched with good ones gets its error; the others their answers."""
    thin = cv2.imencode(".png", np.zeros((2, 3000, 3), np.uint8))[1].tobytes()
    bodies = [dog_bytes, thin, dog_bytes, dog_bytes] * 3
    want = pydarknet.detect(net, meta, dog)

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(trust_env=False, timeout=300) as client:
            return await asyncio.gather(*[client.post(server.url + "/detect", content=b,
                                                      headers=JPEG) for b in bodies])  # fmt: skip

    start = time.perf_counter()
    for body, r in zip(bodies, asyncio.run(send()), strict=True):
        if body is thin:
            check_refused(r, 422, "too thin")
        else:
            assert r.status_code == 200, r.text
            got = as_tuples(r.json())
            assert [g[0] for g in got] == [w[0] for w in want]
    assert time.perf_counter() - start < 300
    still_right()


def test_corrupt_jpeg_data_never_breaks_the_service(server, still_right, dog_bytes) -> None:  # type: ignore[no-untyped-def]
    """Whole JPEG headers with noise for the compressed data: libjpeg may decode that
    into a picture (200) or refuse it (400); never a 5xx, and the service answers after."""
    scan = dog_bytes.index(b"\xff\xda") + 20
    for noise in (bytes(range(256)) * 64, b"\xff" * 5000, b"\x00" * 5000):
        r = httpx.post(server.url + "/detect", content=dog_bytes[:scan] + noise + b"\xff\xd9",
                       headers=JPEG, trust_env=False, timeout=120)  # fmt: skip
        assert r.status_code in (200, 400), r.text
        assert "detections" in r.json() if r.status_code == 200 else "decode" in r.json()["detail"]
    still_right()
