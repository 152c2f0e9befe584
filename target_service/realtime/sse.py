"""``GET /api/realtime/sse?channel=C[&after=SEQ]``: one channel as Server-Sent Events.

Each message is ``id: SEQ`` / ``event: message`` / ``data: M`` (M as in a poll answer), so
a browser's EventSource reconnects with ``Last-Event-ID`` and resumes exactly like
``after`` (the header wins: it is newer). A comment line goes out at least every
``sse_heartbeat_s`` (<= 15 s) so proxies and clients can tell a quiet stream from a dead one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from target_service.params import AFTER_PATTERN, CHANNEL_PATTERN, invalid
from target_service.realtime import contract as c
from target_service.realtime.auth import authenticate, token_from_scope
from target_service.realtime.hub import Hub, Subscription
from target_service.state import AppState
from target_service.store.users import User

router = APIRouter(tags=["realtime"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _resume_from(request: Request, after: str | None) -> int | None:
    last_event_id = request.headers.get("last-event-id")
    if last_event_id:
        if not c.AFTER_RE.match(last_event_id):
            raise invalid("header", "last-event-id", "must be a message seq", last_event_id)
        return int(last_event_id)
    return None if not after else int(after)  # empty: no cursor, as on the poll route


async def push_user(request: Request) -> User:
    """The caller (header or ``?token=``); a dependency, so 401 comes before any 422."""
    user = await authenticate(request.app.state.svc, token_from_scope(request.scope))
    if user is None:
        raise HTTPException(401, "missing or invalid token (Authorization: Bearer or ?token=)")
    return user


SSE_RESPONSES: dict[int | str, dict[str, object]] = {200: {
    "description": "An event stream: `id: SEQ`, `event: message`, `data: M`, heartbeats",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}}


@router.get(c.SSE_PATH, response_class=StreamingResponse, responses=SSE_RESPONSES)
async def realtime_sse(
    request: Request,
    user: Annotated[User, Depends(push_user)],
    channel: Annotated[str, Query(pattern=CHANNEL_PATTERN)],
    after: Annotated[str | None, Query(pattern=AFTER_PATTERN)] = None,
) -> StreamingResponse:
    state: AppState = request.app.state.svc
    hub: Hub = request.app.state.realtime
    resume = _resume_from(request, after)
    cursor = await hub.latest(channel) if resume is None else resume
    wake = asyncio.Event()
    sub = Subscription(channel=channel, user_id=user.id, cursor=cursor, wake=wake,
                       max_queue=hub.max_queue)
    stream = _stream(hub, sub, wake, heartbeat_s=state.settings.sse_heartbeat_s,
                     max_s=state.settings.sse_stream_max_s)
    return StreamingResponse(stream,
                             media_type="text/event-stream", headers=SSE_HEADERS)


async def _stream(
    hub: Hub, sub: Subscription, wake: asyncio.Event, *, heartbeat_s: float, max_s: float
) -> AsyncIterator[bytes]:
    """Replay, then live events and heartbeats; ends after ``max_s`` when it is > 0."""
    counters = hub.counters
    counters.sse_open += 1
    try:
        await hub.add(sub)  # here, not in the route: only a started stream runs the finally
        yield b"retry: 1000\n: subscribed\n\n"
        beat_at = time.monotonic() + heartbeat_s
        end_at = time.monotonic() + max_s if max_s > 0 else float("inf")
        while time.monotonic() < end_at:
            wait_s = min(beat_at, end_at) - time.monotonic()
            if wait_s > 0 and not wake.is_set():
                try:
                    await asyncio.wait_for(wake.wait(), wait_s)
                except TimeoutError:
                    pass
            if time.monotonic() >= beat_at:
                beat_at = time.monotonic() + heartbeat_s
                yield c.SSE_HEARTBEAT
            if not wake.is_set():
                continue
            wake.clear()
            batch = await sub.take(hub)
            if batch:
                counters.frames_out += len(batch)
                yield b"".join(c.sse_event(m) for m in batch)
            if sub.busy:
                wake.set()
    finally:
        counters.sse_open -= 1
        hub.remove(sub)
