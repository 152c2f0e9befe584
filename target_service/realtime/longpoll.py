"""Long-polling: ``GET /api/chat/{C}/messages?after=SEQ&waitMs=W`` holds an empty answer.

The poll route calls :func:`hold` before it answers: when nothing newer than ``after`` is
in this worker's cache it parks a future on the channel's feed (hub.py) until the hub fans
out a newer message or ``W`` ms pass; the route then answers as a plain poll (so the body
is the same). A held poll costs a coroutine and a future, no task and no Redis call.
"""

from __future__ import annotations

import asyncio

from fastapi import Request

from target_service.params import invalid
from target_service.realtime.contract import LONGPOLL_MAX_WAIT_MS
from target_service.realtime.hub import Hub


def wait_ms_param(request: Request) -> int | None:
    """``waitMs`` (1..30000) from the query string, None when absent; 422 when bad."""
    query: bytes = request.scope.get("query_string", b"")
    if b"waitMs=" not in query:
        return None
    for part in query.split(b"&"):
        key, _, raw = part.partition(b"=")
        if key == b"waitMs":
            value = raw.decode("latin-1")
            if not value.isdigit() or not 1 <= int(value) <= LONGPOLL_MAX_WAIT_MS:
                raise invalid("query", "waitMs",
                              f"must be an integer 1..{LONGPOLL_MAX_WAIT_MS} (ms)", value)
            return int(value)
    return None


async def hold(hub: Hub, *, channel_id: str, after: int | None, wait_ms: int) -> None:
    """Return once the channel has a message newer than ``after``, or after ``wait_ms``."""
    if after is None:
        return  # no cursor: the client is opening the channel, answer at once
    entry = await hub.state.chat.entry(channel_id)
    if entry.latest_seq > after:
        return
    feed = await hub.watch(channel_id)
    if feed.seq > after:
        return
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    feed.waiters.add(waiter)
    hub.counters.longpoll_waiting += 1
    try:
        await asyncio.wait({waiter}, timeout=wait_ms / 1000)
    finally:
        hub.counters.longpoll_waiting -= 1
        feed.waiters.discard(waiter)
        hub.release(channel_id)
