"""The HTTP service: ``create_app(ServeConfig(...))`` gives a FastAPI (ASGI) app.

Routes: ``POST /detect`` (JSON detections, or the annotated JPEG with ``draw=true``),
``GET /health``, ``GET /models``, ``GET /metrics`` (Prometheus text), ``GET /`` (the web
page, ``static/``), ``/docs`` (the generated OpenAPI page).  The model loads in a thread
after startup (``/health`` answers 503 until it is ready); images are decoded, drawn and
encoded in worker threads and detected in batches (:mod:`.batching`), so the event loop
always answers.  Every refused request is a 4xx JSON ``{"detail": message}``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..api import detect_batch
from ..detector import Detector
from ..draw import draw_detections
from ..errors import DarknetError, DarknetTimeoutError
from ..results import Box, Detection
from .batching import Batcher, Options, QueueFullError, Result
from .inputs import InputError, decode_image, read_image_bytes
from .metrics import Metrics

__all__ = ["ServeConfig", "create_app"]

STATIC = resources.files("pydarknet.serve") / "static"
ROUTES = {"/", "/detect", "/health", "/models", "/metrics", "/docs", "/openapi.json"}


@dataclass(frozen=True)
class ServeConfig:
    """What ``pydarknet serve`` was asked for (see ``pydarknet serve --help``)."""

    model: str | None = None
    cfg: str | None = None
    weights: str | None = None
    names: str | None = None
    dialect: str = "auto"  # pydarknet.cfg.dialect
    device: str | None = None
    max_batch: int = 8
    max_wait_ms: float = 5.0
    max_upload_mb: float = 20.0
    max_pixels: int = 40_000_000
    max_queue: int = 1024
    api_key: str | None = None
    request_timeout: float | None = None  # seconds; past it a request is answered 503

    @property
    def model_name(self) -> str:
        return self.model or os.path.basename(self.cfg or "") or "yolov3-tiny"


class Service:
    """The loaded model, its batcher and the metrics; ``error`` if loading failed."""

    def __init__(self, config: ServeConfig) -> None:
        self.config, self.metrics = config, Metrics()
        self.detector: Detector | None = None
        self.batcher: Batcher | None = None
        self.error: str | None = None
        self.class_ids: dict[str, int] = {}

    async def load(self) -> None:
        c = self.config
        try:
            det = await asyncio.to_thread(
                Detector, c.model, cfg=c.cfg, weights=c.weights, names=c.names,
                device=c.device, dialect=c.dialect,
            )  # fmt: skip
        except Exception as exc:  # reported by /health, /detect
            self.error = f"{type(exc).__name__}: {exc}"
            return
        self.class_ids = {}
        for i, name in enumerate(det.names):
            self.class_ids.setdefault(name, i)
        self.batcher = Batcher(self._run_batch, max_batch=c.max_batch,
                               max_wait=c.max_wait_ms / 1000, max_queue=c.max_queue,
                               on_batch=self.metrics.observe_batch,
                               timeout=c.request_timeout)  # fmt: skip
        self.batcher.start()
        self.detector = det

    def _run_batch(
        self, images: Sequence[np.ndarray], o: Options, deadline: float | None
    ) -> list[Result]:
        det = self.detector
        assert det is not None
        left = None if deadline is None else max(deadline - time.monotonic(), 1e-6)
        return detect_batch(det.net, det.meta, images, o.thresh, o.hier_thresh, o.nms,
                            timeout=left)  # fmt: skip

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()
        if self.detector is not None:
            self.detector.close()

    def ready(self) -> Detector:
        if self.detector is None:
            if self.error:
                raise InputError(503, f"the model failed to load: {self.error}")
            raise InputError(503, "the model is still loading")
        return self.detector


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')} (got {err.get('input')!r})")
    return "; ".join(parts)


Unit = Annotated[float, Query(ge=0.0, le=1.0, allow_inf_nan=False)]
# module level: the routes' annotations are strings, resolved in this module's globals
key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                          description="needed when the service has an API key")  # fmt: skip


def create_app(config: ServeConfig | None = None) -> FastAPI:
    """The service as an ASGI app (run it with uvicorn, as ``pydarknet serve`` does)."""
    config = config or ServeConfig()
    service = Service(config)
    limit = int(config.max_upload_mb * 1024 * 1024)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(service.load())
        yield
        await loading
        await service.close()

    app = FastAPI(
        title="pydarknet serve",
        summary="Darknet (pjreddie) object detection over HTTP",
        description="POST an image to /detect: the detections of pydarknet.detect() on it.",
        lifespan=lifespan,
    )
    app.state.service = service

    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        path = request.url.path
        route = path if path in ROUTES else "/static" if path.startswith("/static/") else "other"
        service.metrics.observe_request(route, request.method, response.status_code,
                                        time.perf_counter() - start)  # fmt: skip
        return response

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return _error(exc.status, exc.message, {"Connection": "close"} if exc.close else None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    async def authorized(
        request: Request, key: Annotated[str | None, Depends(key_header)] = None
    ) -> None:
        if config.api_key is None:
            return
        auth = request.headers.get("authorization", "")
        given = key or (auth[7:] if auth.lower().startswith("bearer ") else "")
        if not secrets.compare_digest(given.encode(), config.api_key.encode()):
            raise HTTPException(401, "missing or wrong API key (header X-API-Key)",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    guarded = [Depends(authorized)]
    image_body = {"requestBody": {"required": True, "content": {
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["image"],
            "properties": {"image": {"type": "string", "format": "binary"}}}},
    }}}  # fmt: skip

    @app.post("/detect", dependencies=guarded, openapi_extra=image_body,
              responses={200: {"content": {"image/jpeg": {}}}})  # fmt: skip
    async def detect(
        request: Request,
        thresh: Unit = 0.5,
        hier_thresh: Unit = 0.5,
        nms: Unit = 0.45,
        draw: bool = False,
    ) -> Any:
        """Detect objects in the image sent as the body (Content-Type: image/...) or as
        the multipart field ``image``.  Answers ``{"width", "height", "detections": [{"label",
        "class_id", "confidence", "box": {"x", "y", "w", "h"}}]}``, boxes in pixels (centre
        and size), most confident first: ``pydarknet.detect(net, meta, path)`` on that file.
        With ``draw=true``, the image with the detections drawn (JPEG)."""
        det = service.ready()
        data = await read_image_bytes(request, limit)
        image = await run_in_threadpool(decode_image, data, config.max_pixels)
        assert service.batcher is not None
        try:
            found = await asyncio.wait_for(
                service.batcher.submit(image, Options(thresh, hier_thresh, nms)),
                config.request_timeout,
            )
        except QueueFullError as exc:
            raise InputError(503, f"the service is busy ({exc}); retry later") from None
        except (asyncio.TimeoutError, DarknetTimeoutError):
            raise InputError(503, f"the detection took longer than the service's "
                             f"--request-timeout ({config.request_timeout:g} s); retry "
                             "later or with a smaller image") from None  # fmt: skip
        except DarknetError as exc:
            raise InputError(422, f"cannot detect on this image: {exc}") from None
        dets = [Detection(label, service.class_ids.get(label, -1), prob, Box(*box))
                for label, prob, box in found]  # fmt: skip
        if draw:
            jpeg = await run_in_threadpool(_draw_jpeg, image, dets, len(det.names))
            return Response(jpeg, media_type="image/jpeg", headers={"X-Detections": str(len(dets))})
        height, width = image.shape[:2]
        return {"width": width, "height": height, "detections": [d.to_dict() for d in dets]}

    @app.get("/health")
    async def health() -> JSONResponse:
        """200 once the model is loaded; 503 while it loads or if it failed to."""
        if service.detector is not None:
            return JSONResponse({"status": "ok", "model": config.model_name})
        status = "failed" if service.error else "loading"
        return JSONResponse({"status": status, "detail": service.error}, status_code=503)

    @app.get("/models", dependencies=guarded)
    async def models() -> dict[str, Any]:
        """The model this service runs: its name, input size, classes and batching."""
        det = service.ready()
        return {"models": [{
            "name": config.model_name, "classes": len(det.names), "names": list(det.names),
            "input": {"width": det.net.shape.width, "height": det.net.shape.height},
            "max_batch": config.max_batch, "max_wait_ms": config.max_wait_ms,
        }]}  # fmt: skip

    @app.get("/metrics", dependencies=guarded)
    async def metrics() -> Response:
        """Request counts, latency, batch sizes and queue depth (Prometheus text format)."""
        service.metrics.queue.set(service.batcher.waiting if service.batcher else 0)
        return Response(service.metrics.render(),
                        media_type="text/plain; version=0.0.4; charset=utf-8")  # fmt: skip

    static_dir = Path(str(STATIC))  # package data: a real folder of the installed package
    app.mount("/static", StaticFiles(directory=static_dir), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(static_dir / "index.html")

    return app


def _draw_jpeg(image: Any, dets: list[Detection], classes: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", draw_detections(image, dets, classes))
    if not ok:
        raise InputError(500, "cannot encode the annotated image")
    return buf.tobytes()
