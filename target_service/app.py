"""The app factory: ``create_app(settings)`` and its lifespan.

Nothing connects or reads the environment at import time. uvicorn with several workers
uses the import string ``target_service.app:create_app`` with ``factory=True``; each
worker builds ``Settings()`` from the ``POLLCAP_*`` variables it inherited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from target_service.middleware import PromMiddleware
from target_service.prom import PromMetrics
from target_service.routes import chat, notifications, ops, users
from target_service.settings import Settings
from target_service.state import AppState, open_state


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    prom = PromMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await open_state(settings, prom=prom)
        _register_gauges(prom, state)
        app.state.svc = state
        state.start()
        try:
            yield
        finally:
            await state.stop()

    otel = settings.otel_enabled
    app = FastAPI(title="pollcap reference polling service", version="0.1.0", lifespan=lifespan,
                  max_body_size=settings.max_body_bytes,
                  telemetry={"tracing": otel, "metrics": otel, "logs": otel})
    app.state.settings = settings
    # Hot routers first (routes are matched in order, each included router costs a match):
    # the bench's baseline, then the polls; see routes/ops.py.
    for router in (ops.baseline_router, chat.router, notifications.router, users.router,
                   ops.router):
        app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(PromMiddleware, prom=prom)
    return app


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one readable line in ``detail`` plus the structured ``errors``."""
    errors = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err.get("loc", ()))
        errors.append({"loc": where, "msg": err.get("msg", "invalid")})
    message = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors) or "invalid request"
    return JSONResponse({"detail": message, "errors": errors}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def _register_gauges(prom: PromMetrics, state: AppState) -> None:
    prom.gauge("cache_hits_total", lambda: state.chat.hits + state.seed_hits[0])
    prom.gauge("cache_misses_total", lambda: state.chat.misses + state.seed_hits[1])
    prom.gauge("version_batches_total", lambda: state.chat.versions.batches)
    prom.gauge("cache_push_hits_total", lambda: state.chat.push_hits)
    prom.gauge("push_subscribed", lambda: 1.0 if state.chat.pushes is not None
               and state.chat.pushes.healthy() else 0.0)
    prom.gauge("notification_db_skips_total", lambda: state.notifications.db_skips)
    prom.gauge("db_queries_total", lambda: state.db_queries[0])
    prom.gauge("server_load", lambda: state.load.load)
    prom.gauge("redis_up", lambda: 1.0 if state.redis.up else 0.0)
    prom.gauge("metrics_samples_dropped_total", lambda: state.recorder.dropped)
