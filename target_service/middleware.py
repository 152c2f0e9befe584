"""One pure-ASGI middleware: the 64 KiB body limit and the per-route Prometheus figures.

Pure ASGI (not ``BaseHTTPMiddleware``) because it runs on every poll: it adds a few
microseconds, not a task and a queue per request.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_service.prom import PromMetrics


class BodyTooLarge(Exception):
    pass


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, *, prom: PromMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.prom = prom
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False
        limit = self.max_body_bytes

        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await _too_large(send, limit)
                    self._observe(scope, 413, started)
                    return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            status = 413
            await _too_large(send, limit)
        self._observe(scope, status, started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route: Any = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.prom.observe(method=scope["method"], route=path, status=status,
                          duration_s=time.perf_counter() - started)


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps({"detail": f"request body larger than {limit} bytes"})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
