"""Dynamic batching: requests that arrive together share one ``detect_batch`` call.

Each request hands the :class:`Batcher` a decoded image and its detection options.  One
asyncio task collects the waiting requests that share the oldest one's options (up to
``max_batch``; it waits for more at most ``max_wait`` seconds after the oldest arrived)
and runs them through :func:`pydarknet.detect_batch` in a worker thread, so the event
loop stays free for other requests and health checks while the network computes.
Requests with other options wait for the next round, since thresholds change NMS and
batches share one set of options.  If a batch fails (one image the network cannot take),
each of its images runs alone, so every request gets exactly its own answer or error.
With a ``timeout`` (``--request-timeout``), a batch runs until the last of its requests
has waited that long: then nobody waits for it any more, and the network stops between
layers (DarknetTimeoutError for each request still there).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..errors import DarknetError, DarknetTimeoutError, DarknetValueError
from ..results import DetectionTuple

__all__ = ["Batcher", "Options", "QueueFullError"]


@dataclass(frozen=True)
class Options:
    """The detection options one batch shares."""

    thresh: float = 0.5
    hier_thresh: float = 0.5
    nms: float = 0.45


# One image's answer: its detections, as pydarknet.detect_batch gives them
Result = list[DetectionTuple]
# (images, options, deadline) -> one result per image, as pydarknet.detect_batch answers;
# deadline: time.monotonic() after which nobody waits for the batch (None: no limit)
RunBatch = Callable[[Sequence[np.ndarray], Options, float | None], list[Result]]


class QueueFullError(RuntimeError):
    """More requests wait than the service accepts (answered 503)."""


@dataclass
class _Job:
    image: np.ndarray
    options: Options
    future: asyncio.Future[Result]
    arrived: float = field(default_factory=time.monotonic)


class Batcher:
    """Collects requests into batches for ``run_batch`` (called in one worker thread)."""

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        max_batch: int = 8,
        max_wait: float = 0.005,
        max_queue: int = 1024,
        on_batch: Callable[[int], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        if max_batch < 1:
            raise DarknetValueError(f"max_batch must be at least 1, got {max_batch}")
        if max_wait < 0:
            raise DarknetValueError(f"max_wait must not be negative, got {max_wait}")
        self.run_batch, self.max_batch, self.max_wait = run_batch, max_batch, max_wait
        self.max_queue, self.on_batch, self.timeout = max_queue, on_batch, timeout
        self._pending: list[_Job] = []
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pydarknet-batch")
        self._task: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Requests queued for the network (not counting the batch it is running)."""
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._collect_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for job in self._pending:
            if not job.future.done():
                job.future.set_exception(RuntimeError("the service is shutting down"))
        self._pending.clear()
        self._executor.shutdown(wait=True)

    async def submit(self, image: np.ndarray, options: Options) -> Result:
        """This image's detections, computed in some batch with the same options."""
        if len(self._pending) >= self.max_queue:
            raise QueueFullError(f"{len(self._pending)} requests are already waiting")
        job = _Job(image, options, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._wake.set()
        return await job.future

    def _same(self, options: Options) -> list[_Job]:
        return [j for j in self._pending if j.options == options][: self.max_batch]

    async def _collect_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            first = self._pending[0]
            # Wait for more with these options, until the oldest has waited max_wait.
            deadline = first.arrived + self.max_wait
            while len(self._same(first.options)) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except asyncio.TimeoutError:  # TimeoutError from Python 3.11
                    break
            jobs = self._same(first.options)
            taken = {id(j) for j in jobs}
            self._pending = [j for j in self._pending if id(j) not in taken]
            jobs = [j for j in jobs if not j.future.done()]  # clients that went away
            if not jobs:
                continue
            if self.on_batch is not None:
                self.on_batch(len(jobs))
            stop_at = None if self.timeout is None else max(j.arrived for j in jobs) + self.timeout
            outcomes = await loop.run_in_executor(
                self._executor, self._run, jobs, first.options, stop_at
            )
            for job, outcome in zip(jobs, outcomes, strict=True):
                if job.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)

    def _run(
        self, jobs: list[_Job], options: Options, deadline: float | None
    ) -> list[Result | BaseException]:
        """One result (or exception) per job; a failed batch runs its images one by one."""
        images = [j.image for j in jobs]
        try:
            return list(self.run_batch(images, options, deadline))
        except DarknetTimeoutError as exc:  # nobody waits any more
            return [exc] * len(jobs)
        except DarknetError as exc:
            if len(jobs) == 1:
                return [exc]
        except Exception as exc:  # not the input's fault: every request of the batch fails
            return [exc] * len(jobs)
        outcomes: list[Result | BaseException] = []
        for image in images:
            try:
                outcomes.append(self.run_batch([image], options, deadline)[0])
            except Exception as exc:
                outcomes.append(exc)
        return outcomes
