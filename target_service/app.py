"""The app factory: ``create_app(settings)`` and its lifespan.

Nothing connects or reads the environment at import time. uvicorn with several workers
uses the import string ``target_service.app:create_app`` with ``factory=True``; each
worker builds ``Settings()`` from the ``POLLCAP_*`` variables it inherited.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from target_service import realtime
from target_service.gc_tuning import tune_gc
from target_service.log_limit import LogLimiter
from target_service.middleware import BodyLimitMiddleware, DeadlineMiddleware, PromMiddleware
from target_service.openapi import describe_errors
from target_service.prom import PromMetrics
from target_service.routes import chat, notifications, ops, users
from target_service.settings import Settings
from target_service.state import AppState, open_state
from target_service.store.db import DatabaseUnavailable

log = logging.getLogger("pollcap.service")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    prom = PromMetrics()
    _ensure_log_handler()
    # One per worker: a burst of 503s logs its first line and then a summary per interval.
    limiter = LogLimiter(interval_s=settings.overload_log_interval_s, logger=log)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await open_state(settings, prom=prom, log_limiter=limiter)
        _register_gauges(prom, state)
        app.state.svc = state
        state.start()
        app.state.realtime = realtime.open_hub(state, prom=prom)
        if settings.gc_tuning:
            tune_gc()  # what start-up made lives as long as the worker (gc_tuning.py)
        try:
            yield
        finally:
            await app.state.realtime.stop()
            await state.stop()

    otel = settings.otel_enabled
    app = FastAPI(title="pollcap reference polling service", version="0.1.0", lifespan=lifespan,
                  telemetry={"tracing": otel, "metrics": otel, "logs": otel})
    app.state.settings = settings
    app.state.log_limiter = limiter
    # Hot routers first (routes are matched in order, each included router costs a match):
    # the bench's baseline, then the polls; see routes/ops.py. The WebSocket is served by
    # the WebSocketShortcut ahead of routing; SSE and long-poll stay last.
    for router in (ops.baseline_router, chat.router, notifications.router, users.router,
                   ops.router, realtime.router):
        app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(DatabaseUnavailable, _unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _server_error)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(DeadlineMiddleware, deadline_s=settings.request_deadline_s,
                       retry_after_s=settings.retry_after_s, log_limiter=limiter)
    app.add_middleware(PromMiddleware, prom=prom)  # outside: counts the deadline's 503s
    describe_errors(app)
    app.add_middleware(realtime.WebSocketShortcut)  # outermost: see realtime/ws.py
    return app


def _ensure_log_handler() -> None:
    """Tracebacks of 500s must reach the service's log (uvicorn configures only its own)."""
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged with its traceback *every time* (never rate-limited), answered as JSON
    (Starlette re-raises it after)."""
    log.error("500 on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


async def _unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
    """503: nothing was done, retry. 504: a write went out unconfirmed (see store/db.py).

    Logged through the log limiter: the first of each cause, then a summary per interval.
    """
    settings: Settings = request.app.state.settings
    status = 504 if exc.outcome_unknown else 503
    limiter: LogLimiter = request.app.state.log_limiter
    limiter.warning(f"{status} ({exc.cause})", "%d on %s %s: %s", status, request.method,
                    request.url.path, exc)
    detail = (f"the database did not confirm the write ({exc}): it may or may not be"
              " committed; retry with the same Idempotency-Key" if exc.outcome_unknown
              else f"the database is unavailable ({exc}); retry later")
    return JSONResponse({"detail": detail}, status_code=status,
                        headers={"Retry-After": str(settings.retry_after_s)})


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one readable line in ``detail`` plus the structured ``errors``."""
    errors = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err.get("loc", ()))
        errors.append({"loc": where, "msg": err.get("msg", "invalid")})
    message = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors) or "invalid request"
    return JSONResponse({"detail": message, "errors": errors}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:  # Starlette lists the methods of one route, not of the path
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                        headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    path = request.url.path
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):  # included routers flattened
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(route.methods or ())
    return sorted(methods)


def _register_gauges(prom: PromMetrics, state: AppState) -> None:
    prom.gauge("cache_hits_total", lambda: state.chat.hits + state.counters.seed_cache_hits)
    prom.gauge("cache_misses_total", lambda: state.chat.misses + state.counters.seed_cache_misses)
    prom.gauge("version_batches_total", lambda: state.chat.versions.batches)
    prom.gauge("cache_push_hits_total", lambda: state.chat.push_hits)
    prom.gauge("push_subscribed", lambda: 1.0 if state.chat.pushes is not None
               and state.chat.pushes.healthy() else 0.0)
    prom.gauge("notification_db_skips_total", lambda: state.notifications.db_skips)
    prom.gauge("db_queries_total", lambda: state.counters.db_queries)
    prom.gauge("db_release_failures_total", lambda: state.db.release_failures)
    prom.gauge("server_load", lambda: state.load.load)
    prom.gauge("redis_up", lambda: 1.0 if state.redis.up else 0.0)
    prom.gauge("metrics_samples_dropped_total", lambda: state.recorder.dropped)
