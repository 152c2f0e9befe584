"""One page of a channel over HTTP, as push transports need it to open and to resume.

A long-poll or SSE tab opens like a polling tab (the newest page: where its loss
window starts) and a long-poll resumes with one plain poll after the cursor. Errors
raise, for :func:`~loadtests.clients.providers.push.connection_loop` to back off.
"""

from __future__ import annotations

import time

import orjson

from loadtests.clients.leanhttp import LeanConnection
from loadtests.clients.names import POLL_NAME
from loadtests.clients.providers.base import Message, ProviderContext
from loadtests.clients.providers.push import ReportedError


class PageError(ReportedError):
    """A page request failed (already in Locust's stats and the error count)."""


def fetch_page(
    conn: LeanConnection,
    ctx: ProviderContext,
    *,
    channel: str,
    after_seq: int | None,
    limit: int,
    wait_ms: int | None = None,
    name: str = POLL_NAME,
) -> tuple[list[Message], float]:
    """``(messages, receive time ms)`` of one GET; one row in Locust's stats under ``name``."""
    path = f"/api/chat/{channel}/messages?limit={limit}"
    if after_seq is not None:
        path += f"&after={after_seq}"
    if wait_ms is not None:
        path += f"&waitMs={wait_ms}"
    t0 = time.perf_counter()
    try:
        status, body, _ = conn.get(path, ctx.auth)
        if status != 200:
            raise ConnectionError(f"HTTP {status}")
    except Exception as exc:
        ctx.fire(name, (time.perf_counter() - t0) * 1000.0, 0, exception=exc)
        ctx.count("errors", 1)
        raise PageError(str(exc)) from exc
    ctx.fire(name, (time.perf_counter() - t0) * 1000.0, len(body))
    messages: list[Message] = orjson.loads(body)["messages"]
    return messages, time.time() * 1000.0


def start_after(messages: list[Message]) -> int:
    """Where a tab's loss window starts when it was first shown ``messages``."""
    return int(messages[0]["seq"]) - 1 if messages else 0


def last_seq(messages: list[Message], default: int) -> int:
    return max([default, *(int(m["seq"]) for m in messages)])
