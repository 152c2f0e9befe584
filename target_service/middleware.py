"""Per-route Prometheus figures, as one pure-ASGI middleware.

Pure ASGI (not ``BaseHTTPMiddleware``) because it runs on every poll: it adds a few
microseconds, not a task and a queue per request. (The 64 KiB body limit is FastAPI's
own ``max_body_size``, which answers 413 whether or not a Content-Length was sent.)
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_service.prom import PromMetrics


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
