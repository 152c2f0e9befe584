"""Pure-ASGI middlewares: per-route Prometheus figures, and the request deadline.

Pure ASGI (not ``BaseHTTPMiddleware``) because they run on every poll: each adds a
few microseconds, not a task and a queue per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_service.log_limit import LogLimiter
from target_service.prom import PromMetrics

log = logging.getLogger("pollcap.service")
DEADLINE_EXEMPT_PREFIXES = ("/api/realtime/",)  # long-poll, SSE: long by design
DEADLINE_BODY = b'{"detail":"the service could not answer within its deadline; retry later"}'


class PromMiddleware:
    def __init__(self, app: ASGIApp, *, prom: PromMetrics) -> None:
        self.app = app
        self.prom = prom

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route: Any = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.prom.observe(method=scope["method"], route=path, status=status,
                              duration_s=time.perf_counter() - started)


MAX_HOLD_S = 30.0  # the long-poll's waitMs ceiling (realtime/longpoll.py)


def long_poll_hold_s(query: bytes) -> float:
    """A long-poll's own hold (``waitMs``), which the deadline must not count (0 if none).

    A bad value counts 0 here; the route answers it 422.
    """
    if b"waitMs=" not in query:
        return 0.0
    for pair in query.split(b"&"):
        key, _, value = pair.partition(b"=")
        if key == b"waitMs" and value.isdigit():
            return min(int(value) / 1000, MAX_HOLD_S)
    return 0.0


class DeadlineMiddleware:
    """No request outlives ``deadline_s``: 503 with ``Retry-After`` if unanswered by then.

    The backends have shorter timeouts of their own (``Settings``); this is the net
    under them, for a request that waits on several calls in a row. The deadline covers
    the wait for the answer to start; a streamed body (the push transports under
    ``exempt_prefixes``, WebSockets) is not cut. One ``asyncio.timeout`` per request, in
    the request's own task: no task or queue is added.
    """

    def __init__(
        self, app: ASGIApp, *, deadline_s: float, retry_after_s: int,
        exempt_prefixes: tuple[str, ...] = DEADLINE_EXEMPT_PREFIXES,
        log_limiter: LogLimiter | None = None,
    ) -> None:
        self.app = app
        self.log_limiter = log_limiter or LogLimiter(logger=log)
        self.deadline_s = deadline_s
        self.retry_after = str(retry_after_s).encode()
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        deadline = asyncio.timeout(self.deadline_s + long_poll_hold_s(scope["query_string"]))
        try:
            async with deadline:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if not deadline.expired():
                raise  # a timeout of the route's own, not ours
            self.log_limiter.warning(
                "passed deadlines (answer under way)" if started else "503 (deadline passed)",
                "%s %s passed its deadline of %g s%s", scope["method"], scope["path"],
                self.deadline_s, "" if started else "; answered 503")
            if not started:
                await send({"type": "http.response.start", "status": 503, "headers": [
                    (b"content-type", b"application/json"), (b"retry-after", self.retry_after)]})
                await send({"type": "http.response.body", "body": DEADLINE_BODY})


class BodyLimitMiddleware:
    """Bodies over ``max_bytes`` are refused with 413 *as JSON*, like every other error.

    A declared ``Content-Length`` over the limit is answered at once, before the app
    runs; a body without one is counted as it streams in, and the read that passes the
    limit raises ``HTTPException(413)`` inside the route, where the app's handler
    answers it. (FastAPI's own ``max_body_size`` answers in plain text.)
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = f"request body over {max_bytes} bytes (Content Too Large)"
        self.too_large = b'{"detail":"%b"}' % self.detail.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await send({"type": "http.response.start", "status": 413,
                                "headers": [(b"content-type", b"application/json")]})
                    await send({"type": "http.response.body", "body": self.too_large})
                    return
                break
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self.detail)
            return message

        await self.app(scope, counting_receive, send)
