"""Overlap producing inputs, running a model and consuming results, in threads.

:func:`pipelined` pulls items (decoded frames, images) from a source in one thread, runs
a stage (inference) on them in a second thread, and yields ``(item, result)`` in order to
the caller, whose own work (drawing) runs meanwhile in the calling thread; a
:class:`Sink` takes the last step (writing) to a fourth thread.  Decoding, encoding
(OpenCV) and inference (Darknet through cffi) release the GIL, so the stages really run
at once and throughput is bound by the slowest of them: on a CPU, inference.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeVar

from .errors import DarknetValueError

__all__ = ["Sink", "pipelined"]

T = TypeVar("T")
R = TypeVar("R")

_ITEM, _ERROR, _DONE = "item", "error", "done"
_POLL = 0.05  # seconds between checks of the stop flag while a queue is full/empty


class _Stopped(Exception):
    """The consumer went away; the threads wind down."""


Message = tuple[str, Any]  # (_ITEM, item), (_ERROR, exception) or (_DONE, None)


def _put(q: queue.Queue[Message], message: Message, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(message, timeout=_POLL)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[Message], stop: threading.Event) -> Message:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=_POLL)
        except queue.Empty:
            continue


def pipelined(
    source: Iterable[T], stage: Callable[[T], R], *, depth: int = 2
) -> Generator[tuple[T, R], None, None]:
    """Yield ``(item, stage(item))`` for each item of ``source``, in order.

    ``source`` is iterated in a producer thread and ``stage`` runs in a worker thread;
    at most ``depth`` items wait between each pair of threads.  An exception raised by
    the source or the stage is re-raised here, in the caller.  Leaving the loop early
    (``break``, an exception, closing the generator) stops both threads.
    """
    if depth < 1:
        raise DarknetValueError(f"depth must be >= 1, got {depth}")
    stop = threading.Event()
    inbox: queue.Queue[tuple[str, Any]] = queue.Queue(depth)
    outbox: queue.Queue[tuple[str, Any]] = queue.Queue(depth)

    def produce() -> None:
        try:
            try:
                for item in source:
                    _put(inbox, (_ITEM, item), stop)
            except _Stopped:
                return
            except BaseException as exc:
                _put(inbox, (_ERROR, exc), stop)
                return
            _put(inbox, (_DONE, None), stop)
        except _Stopped:
            return

    def work() -> None:
        try:
            while True:
                kind, payload = _get(inbox, stop)
                if kind != _ITEM:
                    _put(outbox, (kind, payload), stop)
                    return
                try:
                    result = stage(payload)
                except BaseException as exc:
                    _put(outbox, (_ERROR, exc), stop)
                    return
                _put(outbox, (_ITEM, (payload, result)), stop)
        except _Stopped:
            return

    threads = [
        threading.Thread(target=produce, name="pydarknet-source", daemon=True),
        threading.Thread(target=work, name="pydarknet-stage", daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        while True:
            kind, payload = outbox.get()
            if kind == _DONE:
                return
            if kind == _ERROR:
                raise payload
            yield payload
    finally:
        stop.set()
        for t in threads:
            # A source blocked inside its own next() (a camera) cannot be interrupted;
            # the threads are daemons, so waiting a little is enough.
            t.join(timeout=5)


class Sink:
    """Calls ``consume(item)`` for each item :meth:`put` to it, in order, in a thread of
    its own (e.g. ``cv2.VideoWriter.write``), at most ``depth`` items behind.

    An exception raised by ``consume`` is re-raised by the next :meth:`put` or by
    :meth:`close`, which waits for the items put so far.  Also a context manager."""

    def __init__(self, consume: Callable[[Any], object], *, depth: int = 2) -> None:
        self._consume = consume
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pydarknet-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            kind, item = self._queue.get()
            if kind == _DONE:
                return
            if self._error is None:  # after a failure, drain without consuming
                try:
                    self._consume(item)
                except BaseException as exc:
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item: Any) -> None:
        self._raise()
        self._queue.put((_ITEM, item))

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put((_DONE, None))
            self._thread.join()
        self._raise()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
