"""Chat: post a message, poll with a cursor, read channel metadata."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from target_service import chat as polling
from target_service import params
from target_service.deps import CurrentUser, StateDep, current_user
from target_service.fastpath import BytesResponse, HandlerRoute
from target_service.openapi import NOT_FOUND
from target_service.params import (
    AFTER_PATTERN,
    CHANNEL_PATTERN,
    DEFAULT_LIMIT,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_LIMIT,
    NonBlankText,
)
from target_service.realtime import longpoll
from target_service.state import AppState

router = APIRouter(prefix="/api/chat", tags=["chat"])

ChannelId = Annotated[str, Path(pattern=CHANNEL_PATTERN, description="[A-Za-z0-9_-]{1,64}")]
JSON = "application/json"
INTERVAL_HEADER = b"x-poll-interval-ms"


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    content: NonBlankText = Field(min_length=1, max_length=4000, examples=["hello, room"])


IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN,
    description="Makes a retry safe: a second POST with the same key (same user and channel)"
    " commits nothing and answers 201 with the message the first one committed, same id"
    " and seq, with `Idempotent-Replayed: true`. Kept in PostgreSQL: holds across workers"
    " and Redis restarts. 1-255 visible ASCII characters; use a fresh UUID per message.",
)]


@router.post("/{channel_id}/messages", status_code=201)
async def post_message(
    channel_id: ChannelId, body: MessageIn, request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Commit a message; ``seq`` is assigned in commit order (see store/messages.py).

    Answered 201 only once the message is committed.
    """
    started = time.perf_counter()
    user = await current_user(request)  # not Depends: see deps.current_user
    state: AppState = request.app.state.svc
    message, replayed = await polling.post(state, channel_id=channel_id, user=user,
                                           content=body.content,
                                           idempotency_key=idempotency_key)
    state.recorder.record("message", (time.perf_counter() - started) * 1000)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(b'{"message":%b}' % message.json, status_code=201, media_type=JSON,
                    headers=headers)


POLL_PARAMETERS = [
    {"name": "channel_id", "in": "path", "required": True,
     "schema": {"type": "string", "pattern": CHANNEL_PATTERN}},
    {"name": "after", "in": "query", "required": False,
     "description": "the last message's id; empty or absent: no cursor (the newest messages)",
     "schema": {"type": "string", "pattern": AFTER_PATTERN}},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
    {"name": "waitMs", "in": "query", "required": False,
     "description": "long-poll: hold an empty answer up to this many ms (realtime/longpoll.py)",
     "schema": {"type": "integer", "minimum": 1, "maximum": 30000}},
]


async def poll_messages(request: Request) -> Response:
    """New messages after the cursor ``after``, ``activeUsers`` and ``pollIntervalMs``.

    The hottest route, so it reads its parameters itself (:mod:`target_service.params`)
    and runs as a :class:`~target_service.fastpath.HandlerRoute`: FastAPI's
    per-request dependency solve and parameter validation cost more than the cached poll.
    """
    started = time.perf_counter()
    user = await current_user(request)
    channel_id, after, limit = params.poll_params(request)
    state: AppState = request.app.state.svc
    wait_ms = longpoll.wait_ms_param(request)
    woken = None
    if wait_ms is not None:
        woken = await longpoll.hold(request.app.state.realtime, channel_id=channel_id,
                                    after=after,
                                    wait_ms=min(wait_ms, state.settings.longpoll_max_wait_ms))
        started = time.perf_counter()  # the handling time, not the hold
    if woken is not None:
        body, interval_ms = await longpoll.woken_poll(
            request.app.state.realtime, woken, channel_id=channel_id, user=user, after=after,
            limit=limit)
    else:
        body, interval_ms = await polling.poll(
            state, channel_id=channel_id, user=user, after=after, limit=limit
        )
    state.recorder.record("message", (time.perf_counter() - started) * 1000)
    return BytesResponse(body, extra_headers=((INTERVAL_HEADER, b"%d" % interval_ms),))


router.add_api_route(
    "/{channel_id}/messages", poll_messages, methods=["GET"], route_class_override=HandlerRoute,
    openapi_extra={"parameters": POLL_PARAMETERS}, summary="Poll Messages",
    description="New messages after the cursor ``after``, ``activeUsers`` and "
                "``pollIntervalMs`` (also in the ``X-Poll-Interval-Ms`` header).",
)


@router.get("/{channel_id}", responses=NOT_FOUND)
async def channel(channel_id: ChannelId, user: CurrentUser, state: StateDep) -> dict[str, object]:
    meta = await polling.channel_meta(state, channel_id=channel_id)
    if meta is None:
        raise HTTPException(404, f"channel {channel_id!r} has no messages")
    return meta
