"""Which transport a tab uses: ``--realtime`` wins, else ``REALTIME`` as the design says.

The design's factory reads one environment variable: ``REALTIME=websocket`` selects
WebSockets and anything else polling. ``--realtime polling|long-poll|sse|websocket``
names any of the four and takes precedence when given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.providers.base import ProviderContext, RealtimeProvider
from target_service.policy import ThresholdPolicy

POLLING = "polling"
LONG_POLL = "long-poll"
SSE = "sse"
WEBSOCKET = "websocket"
TRANSPORTS = (POLLING, LONG_POLL, SSE, WEBSOCKET)
PUSH_TRANSPORTS = (LONG_POLL, SSE, WEBSOCKET)
ENV_VAR = "REALTIME"


class UnknownTransport(ValueError):
    """``--realtime`` named no transport."""


def choose_transport(*, option: str | None, environ: Mapping[str, str]) -> str:
    """The transport name: ``option`` when given, else the design's ``REALTIME`` rule."""
    if option:
        if option not in TRANSPORTS:
            raise UnknownTransport(
                f"--realtime must be one of {', '.join(TRANSPORTS)}, got {option!r}"
            )
        return option
    return WEBSOCKET if environ.get(ENV_VAR) == WEBSOCKET else POLLING


def make_provider(
    transport: str,
    ctx: ProviderContext,
    *,
    policy: ThresholdPolicy | None,
    options: Any,
    conn: LeanConnection | None = None,
) -> RealtimeProvider:
    """A provider for ``transport`` (one of :data:`TRANSPORTS`), for one tab."""
    if transport == POLLING:
        from loadtests.clients.providers.polling import PollingProvider

        return PollingProvider(
            ctx, policy=policy, page_limit=options.page_limit, jitter=options.jitter, conn=conn
        )
    if transport == LONG_POLL:
        from loadtests.clients.providers.long_poll import LongPollProvider

        return LongPollProvider(ctx, page_limit=options.page_limit)
    if transport == SSE:
        from loadtests.clients.providers.sse import SSEProvider

        return SSEProvider(ctx, page_limit=options.page_limit)
    if transport == WEBSOCKET:
        from loadtests.clients.providers.websocket import WebSocketProvider

        return WebSocketProvider(ctx)
    raise UnknownTransport(f"unknown transport {transport!r}")
