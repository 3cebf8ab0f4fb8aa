"""``pydarknet serve``: run the detection service (needs ``pip install "pydarknet[serve]"``).

    pydarknet serve [--model NAME | --cfg C --weights W --data D] [--host 127.0.0.1]
                    [--port 8000] [--device DEV] [--max-batch 8] [--max-wait-ms 5]
                    [--max-upload-mb 20] [--max-megapixels 40] [--api-key KEY]

It binds to 127.0.0.1 unless ``--host`` says otherwise (``--port 0``: any free port) and
logs the address it listens on.  The API key may come from ``PYDARKNET_API_KEY``.
This module imports only the standard library until the command runs, so the rest of
the command line works without the serve extras.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("pydarknet.serve")
N = TypeVar("N", int, float)


def _positive(kind: Callable[[str], N]) -> Callable[[str], N]:
    def parse(text: str) -> N:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("serve", help="run the HTTP detection service with its web page",
                       description="Run the detection service (HTTP API, web page, dynamic "
                       'batching); needs pip install "pydarknet[serve]".')  # fmt: skip
    s.add_argument("--model", help="zoo model (default yolov3-tiny)")
    s.add_argument("--cfg", help="network .cfg (instead of --model)")
    s.add_argument("--weights", help="network .weights (with --cfg)")
    s.add_argument("--data", help=".data or .names file (with --cfg)")
    s.add_argument("--dialect", choices=("auto", "pjreddie", "alexeyab"), default="auto",
                   help="whose darknet the model is for: pjreddie's, AlexeyAB's (or hank-ai's) "
                   "fork, or auto (pydarknet.cfg.dialect)")  # fmt: skip
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    s.add_argument("--device", help="cpu, cuda:N or N (default: a GPU if this build has one)")
    s.add_argument("--max-batch", type=_positive(int), default=8,
                   help="most images per network call (1: no batching; default 8)")  # fmt: skip
    s.add_argument("--max-wait-ms", type=float, default=5.0,
                   help="longest a request waits for others to batch with (default 5)")  # fmt: skip
    s.add_argument("--max-upload-mb", type=_positive(float), default=20.0,
                   help="largest request body in MiB; larger gets 413 (default 20)")  # fmt: skip
    s.add_argument("--max-megapixels", type=_positive(float), default=40.0,
                   help="largest image (width x height, read from its header) decoded, "
                   "in millions of pixels (default 40)")  # fmt: skip
    s.add_argument("--max-queue", type=_positive(int), default=1024,
                   help="requests waiting for the network before 503 (default 1024)")  # fmt: skip
    s.add_argument("--request-timeout", type=_positive(float), default=None, metavar="S",
                   help="answer 503 to a request not answered within S seconds, and stop "
                   "the network's work for it (default: no limit)")  # fmt: skip
    s.add_argument("--api-key", default=os.environ.get("PYDARKNET_API_KEY"),
                   help="require this key (header X-API-Key or Authorization: Bearer) for "
                   "/detect, /models, /metrics (default: env PYDARKNET_API_KEY)")  # fmt: skip
    s.add_argument("--access-log", action="store_true", help="log every request")


def fixed_mmap_threshold() -> None:
    """Let freed image buffers go back to the OS.  glibc raises its mmap threshold each
    time a big block is freed, after which decoded images (MiBs each, allocated in many
    threads) stay in per-thread arenas: a busy server's RSS grew by ~40 MiB per hundred
    requests; with the threshold fixed at 128 KiB it stays flat (measured with 576
    batched requests).  No-op outside glibc."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
        except (OSError, AttributeError):
            pass


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (IPv4 or IPv6, as the host resolves)."""
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return socket.create_server(addr[:2], family=family, backlog=2048)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .app import ServeConfig, create_app
        from .inputs import PILLOW_LIMIT
    except ImportError as exc:
        print(f"pydarknet: error: the service needs its extras ({exc.name} is missing): "
              'pip install "pydarknet[serve]"', file=sys.stderr)  # fmt: skip
        return 1
    if args.cfg and not (args.weights and args.data):
        raise SystemExit("pydarknet: --cfg needs --weights and --data")
    if args.max_wait_ms < 0:
        raise SystemExit("pydarknet: --max-wait-ms must not be negative")
    max_pixels = int(args.max_megapixels * 1e6)
    if PILLOW_LIMIT is not None and max_pixels > PILLOW_LIMIT:
        raise SystemExit(f"pydarknet: --max-megapixels above {PILLOW_LIMIT / 1e6:g} is not read")
    config = ServeConfig(
        model=args.model, cfg=args.cfg, weights=args.weights, names=args.data,
        dialect=args.dialect, device=args.device, max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms, max_upload_mb=args.max_upload_mb, max_pixels=max_pixels,
        max_queue=args.max_queue, api_key=args.api_key or None,
        request_timeout=args.request_timeout,
    )  # fmt: skip
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    fixed_mmap_threshold()
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    log.info("listening on http://%s:%d/ (API docs at /docs; model %s, max batch %d)",
             shown, port, config.model_name, config.max_batch)  # fmt: skip
    if not sock.getsockname()[0].startswith(("127.", "::1")):
        log.warning("bound to %s: reachable from other machines%s", host,
                    "" if config.api_key else " without an API key")  # fmt: skip
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, access_log=args.access_log, log_level="info",
                                           timeout_graceful_shutdown=5))  # fmt: skip
    server.run(sockets=[sock])
    return 0
