"""Push transports beside polling: WebSocket, SSE and long-polling from one app.

``router`` carries the WebSocket and SSE routes and the demo page; long-polling is the
poll route with ``waitMs`` (routes/chat.py calls :mod:`.longpoll`). :func:`open_hub`
builds the worker's fan-out hub in the lifespan and registers its ``/metrics`` gauges.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from target_service.prom import PromMetrics
from target_service.realtime import demo, sse, ws
from target_service.realtime.hub import Hub
from target_service.realtime.ws import WebSocketShortcut
from target_service.state import AppState

router = APIRouter()
for _sub in (ws.router, sse.router, demo.router):
    router.include_router(_sub)


def open_hub(state: AppState, *, prom: PromMetrics) -> Hub:
    """The worker's hub, started; the caller awaits ``hub.stop()`` on shutdown."""
    settings = state.settings
    hub = Hub(state, max_queue=settings.realtime_queue_max, check_s=settings.realtime_check_s)
    for name in hub.counters.gauges():
        prom.gauge(name, _reader(hub, name))
    hub.start()
    return hub


def _reader(hub: Hub, name: str) -> Callable[[], float]:
    return lambda: float(hub.counters.gauges()[name])


__all__ = ["Hub", "WebSocketShortcut", "open_hub", "router"]
