"""Long-polling: ``GET /api/chat/{C}/messages?after=SEQ&waitMs=W`` holds an empty answer.

The poll route calls :func:`hold` before it answers: when nothing newer than ``after`` is
in this worker's cache it parks a future on the channel's feed (hub.py) until the hub fans
out a newer message or ``W`` ms pass; the route then answers as a plain poll (so the body
is the same; the polls one fan-out woke share one, :func:`woken_poll`). A held poll costs
a coroutine and a future, no task and no Redis call.
"""

from __future__ import annotations

import asyncio

from fastapi import Request

from target_service import chat
from target_service.params import invalid
from target_service.realtime.contract import LONGPOLL_MAX_WAIT_MS
from target_service.realtime.hub import Feed, Hub
from target_service.store.users import User


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


async def hold(hub: Hub, *, channel_id: str, after: int | None, wait_ms: int) -> Feed | None:
    """Return once the channel has a message newer than ``after``, or after ``wait_ms``.

    The feed when a fan-out woke the held poll (then :func:`woken_poll` answers it; the
    hub may have let go of the feed meanwhile), else None.
    """
    if after is None:
        return None  # no cursor: the client is opening the channel, answer at once
    entry = await hub.state.chat.entry(channel_id)
    if entry.latest_seq > after:
        return None
    feed = await hub.watch(channel_id)
    if feed.seq > after:
        return None
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    feed.waiters.add(waiter)
    hub.counters.longpoll_waiting += 1
    try:
        await asyncio.wait({waiter}, timeout=wait_ms / 1000)
    finally:
        hub.counters.longpoll_waiting -= 1
        feed.waiters.discard(waiter)
        hub.release(channel_id)
    return feed if waiter.done() and not waiter.cancelled() else None


async def woken_poll(hub: Hub, feed: Feed, *, channel_id: str, user: User, after: int | None,
                     limit: int) -> tuple[bytes, int]:
    """A woken poll's answer (body, interval ms), built once per fan-out and cursor.

    A fan-out wakes every poll held on the channel at once, nearly all with the same
    cursor (the previous newest seq), and each would build the same page. The first
    builds it; the others share it and only mark their user present. The feed forgets
    its answers at the next fan-out, so an answer is never older than the batch that
    woke its poll; a cursor-based page cannot lose or repeat a message either way.
    """
    key = (after, limit)
    shared = feed.answers.get(key)
    if shared is None:
        shared = feed.answers[key] = asyncio.ensure_future(chat.poll(
            hub.state, channel_id=channel_id, user=user, after=after, limit=limit))
    else:
        hub.state.presence.mark(channel_id, user.id)
        hub.counters.longpoll_shared += 1
    try:
        return await asyncio.shield(shared)  # a poll gone away must not cancel the others'
    except Exception:
        if feed.answers.get(key) is shared:
            del feed.answers[key]  # a failed build is not shared with later polls
        raise
