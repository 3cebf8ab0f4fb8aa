"""`pydarknet serve` in a subprocess on a loopback port, for the service's tests and
benchmark: started as a user starts it, stopped by its own process id."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ADDRESS = re.compile(r"listening on (http://127\.0\.0\.1:\d+)/")


class Server:
    """``pydarknet serve --port 0 ARGS`` until :meth:`stop`; ``url`` is its address."""

    def __init__(self, args: Sequence[str] = (), *, wait_ready: bool = True,
                 timeout: float = 300.0) -> None:  # fmt: skip
        cmd = [sys.executable, "-m", "pydarknet.cli", "serve", "--host", "127.0.0.1",
               "--port", "0", *args]  # fmt: skip
        # run from tests/ so that the installed package, not the source folder, is imported
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, cwd=HERE)  # fmt: skip
        self.lines: list[str] = []
        self._found = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self._found.wait(timeout) or not self.url:
            self.stop()
            raise RuntimeError("pydarknet serve did not start:\n" + "".join(self.lines[-30:]))
        if wait_ready:
            self.wait_health(200, timeout)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # keeps the pipe drained for the server's lifetime
            self.lines.append(line)
            m = ADDRESS.search(line)
            if m and not self.url:
                self.url = m.group(1)
                self._found.set()
        self._found.set()

    def wait_health(self, status: int, timeout: float = 300.0) -> dict:
        """The first /health answer with ``status`` once the model is no longer loading
        (a 503 means either "loading" or "failed": wait for the outcome)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "".join(self.lines[-30:])
            try:
                r = httpx.get(self.url + "/health", timeout=5, trust_env=False)
                if r.status_code == status and r.json().get("status") != "loading":
                    return r.json()
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"/health never answered {status}: " + "".join(self.lines[-30:]))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def as_tuples(answer: dict) -> list[tuple[str, float, tuple[float, float, float, float]]]:
    """A /detect JSON answer in pydarknet.detect()'s form."""
    return [(d["label"], d["confidence"], tuple(d["box"][k] for k in "xywh"))
            for d in answer["detections"]]  # fmt: skip


def same_to_rounding(want: list, got: list, dp: float = 1e-5, dbox: float = 1e-3) -> None:
    """The same detections in the same order, numbers equal to float rounding (what a
    batch of several images gives: its sums run in another order, see README)."""
    assert [w[0] for w in want] == [g[0] for g in got], (want, got)
    for (_, wp, wb), (_, gp, gb) in zip(want, got, strict=True):
        assert abs(wp - gp) <= dp, (want, got)
        assert max(abs(a - b) for a, b in zip(wb, gb, strict=True)) <= dbox, (want, got)


def batch_stats(url: str) -> tuple[float, float]:
    """(batches, images) run so far, from /metrics."""
    text = httpx.get(url + "/metrics", trust_env=False, timeout=60).text
    count = re.search(r"^pydarknet_batch_size_count (\S+)$", text, re.M)
    total = re.search(r"^pydarknet_batch_size_sum (\S+)$", text, re.M)
    assert count and total, text
    return float(count.group(1)), float(total.group(1))
