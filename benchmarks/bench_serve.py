"""`pydarknet serve` under load: requests/s and latency with 1, 4, 16, 64 concurrent
clients, with dynamic batching off (--max-batch 1) and on, every answer checked.

    python benchmarks/bench_serve.py [--clients 1 4 16 64] [--requests 64]
                                     [--max-batch 8] [--max-wait-ms 5] [--model yolov3-tiny]

Starts the real command (``pydarknet serve --port 0``, loopback only) once per mode,
sends the Darknet data images (darknet/data/*.jpg) round-robin from asyncio clients
(httpx; ``max(--requests, 2 x clients)`` requests per level after one warm-up round),
and checks every answer against ``pydarknet.detect()`` on the same file: bit-identical,
or (batched) the same detections to float rounding.  Prints a Markdown table and the
server's resident memory after start-up and at the end of each mode.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx
import psutil

import pydarknet
from pydarknet import models

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from helpers.serve_server import Server, as_tuples, batch_stats, same_to_rounding  # noqa: E402


def reference(images: list[Path], model: str) -> dict[Path, list]:
    zoo = models.get_model(model)
    with pydarknet.load_net(zoo.cfg_path, models.weights_path(model)) as net:
        meta = pydarknet.load_meta(zoo.names_path)
        return {p: pydarknet.detect(net, meta, p) for p in images}


def deviation(want: list, got: list) -> tuple[float, float]:
    """Largest |confidence difference| and |box coordinate difference| (pixels)."""
    dp = max((abs(w[1] - g[1]) for w, g in zip(want, got, strict=True)), default=0.0)
    db = max((abs(a - b) for w, g in zip(want, got, strict=True)
              for a, b in zip(w[2], g[2], strict=True)), default=0.0)  # fmt: skip
    return dp, db


async def load(url: str, paths: list[Path], clients: int, want: dict) -> tuple[list, list]:
    """(latencies, [bit-identical answers, answers equal to rounding, max |dp|, max |dbox|])."""
    data = {p: p.read_bytes() for p in set(paths)}
    todo = iter(paths)
    latencies: list[float] = []
    counts: list = [0, 0, 0.0, 0.0]

    async def client(http: httpx.AsyncClient) -> None:
        for path in todo:  # the clients share one iterator: each request is sent once
            start = time.perf_counter()
            r = await http.post(url + "/detect", content=data[path],
                                headers={"Content-Type": "image/jpeg"})  # fmt: skip
            latencies.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text
            got = as_tuples(r.json())
            if got == want[path]:
                counts[0] += 1
            else:
                same_to_rounding(want[path], got)
                dp, db = deviation(want[path], got)
                counts[1] += 1
                counts[2], counts[3] = max(counts[2], dp), max(counts[3], db)

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=600, trust_env=False) as http:
        await asyncio.gather(*[client(http) for _ in range(clients)])
    return latencies, counts


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 \
        else values[0]  # fmt: skip


def bench_mode(args: argparse.Namespace, max_batch: int, images: list[Path], want: dict) -> str:
    """Prints the mode's table rows; returns its memory line."""
    flags = ["--model", args.model, "--max-batch", str(max_batch),
             "--max-wait-ms", str(args.max_wait_ms)]  # fmt: skip
    with Server(flags) as server:
        proc = psutil.Process(server.pid)
        rss0 = proc.memory_info().rss
        mode = "off" if max_batch == 1 else f"on (max {max_batch}, {args.max_wait_ms:g} ms)"
        for clients in args.clients:
            n = max(args.requests, 2 * clients)
            paths = [images[i % len(images)] for i in range(n)]
            asyncio.run(load(server.url, paths[:clients], clients, want))  # warm-up round
            b0, i0 = batch_stats(server.url)
            start = time.perf_counter()
            lat, (exact, rounded, dp, db) = asyncio.run(load(server.url, paths, clients, want))
            wall = time.perf_counter() - start
            b1, i1 = batch_stats(server.url)
            print(f"| {mode} | {clients} | {n} | {n / wall:.1f} | {pct(lat, 50) * 1e3:.0f} | "
                  f"{pct(lat, 99) * 1e3:.0f} | {(i1 - i0) / max(b1 - b0, 1):.1f} | "
                  f"{exact} exact, {rounded} to rounding (max {dp:.1g}, {db:.1g} px) |",
                  flush=True)  # fmt: skip
        rss1 = proc.memory_info().rss
    return (f"batching {mode}: server RSS {rss0 / 2**20:.0f} MiB after start, "
            f"{rss1 / 2**20:.0f} MiB at the end")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--requests", type=int, default=64, help="requests per level (at least)")
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--max-wait-ms", type=float, default=5.0)
    p.add_argument("--model", default="yolov3-tiny")
    p.add_argument("--images", type=Path, default=REPO / "darknet" / "data")
    args = p.parse_args()
    images = sorted(args.images.glob("*.jpg"))
    if not images:
        raise SystemExit(f"no .jpg images in {args.images}")
    want = reference(images, args.model)
    print(f"{len(images)} images of {args.images}; {psutil.cpu_count()} CPUs, "
          f"pydarknet threads {pydarknet.get_num_threads()}\n")  # fmt: skip
    print("| batching | clients | requests | req/s | p50 ms | p99 ms | mean batch | answers |")
    print("|---|---|---|---|---|---|---|---|")
    memory = [bench_mode(args, max_batch, images, want) for max_batch in (1, args.max_batch)]
    print("\n" + "\n".join(memory))


if __name__ == "__main__":
    main()
