"""Chat: post a message, poll with a cursor, read channel metadata."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from target_service import chat as polling
from target_service import params
from target_service.deps import CurrentUser, StateDep, current_user
from target_service.params import CHANNEL_PATTERN, DEFAULT_LIMIT, MAX_LIMIT
from target_service.realtime import longpoll
from target_service.state import AppState

router = APIRouter(prefix="/api/chat", tags=["chat"])

ChannelId = Annotated[str, Path(pattern=CHANNEL_PATTERN, description="[A-Za-z0-9_-]{1,64}")]
JSON = "application/json"


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=4000)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must not be blank")
        return value


@router.post("/{channel_id}/messages", status_code=201)
async def post_message(channel_id: ChannelId, body: MessageIn, request: Request) -> Response:
    """Commit a message; ``seq`` is assigned in commit order (see store/messages.py)."""
    started = time.perf_counter()
    user = await current_user(request)  # not Depends: see deps.current_user
    state: AppState = request.app.state.svc
    message = await polling.post(state, channel_id=channel_id, user=user, content=body.content)
    state.recorder.record("message", (time.perf_counter() - started) * 1000)
    return Response(b'{"message":%b}' % message.json, status_code=201, media_type=JSON)


POLL_PARAMETERS = [
    {"name": "channel_id", "in": "path", "required": True,
     "schema": {"type": "string", "pattern": CHANNEL_PATTERN}},
    {"name": "after", "in": "query", "required": False, "description": "the last message's id",
     "schema": {"type": "string", "pattern": r"^[0-9]{1,18}$"}},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
    {"name": "waitMs", "in": "query", "required": False,
     "description": "long-poll: hold an empty answer up to this many ms (realtime/longpoll.py)",
     "schema": {"type": "integer", "minimum": 1, "maximum": 30000}},
]


@router.get("/{channel_id}/messages", openapi_extra={"parameters": POLL_PARAMETERS})
async def poll_messages(request: Request) -> Response:
    """New messages after the cursor ``after``, ``activeUsers`` and ``pollIntervalMs``.

    The hottest route, so it reads its parameters itself (:mod:`target_service.params`):
    FastAPI's per-parameter validation costs more than the whole cached poll.
    """
    started = time.perf_counter()
    user = await current_user(request)
    channel_id, after, limit = params.poll_params(request)
    state: AppState = request.app.state.svc
    wait_ms = longpoll.wait_ms_param(request)
    if wait_ms is not None:
        await longpoll.hold(request.app.state.realtime, channel_id=channel_id, after=after,
                            wait_ms=wait_ms)
        started = time.perf_counter()  # the handling time, not the hold
    body, interval_ms = await polling.poll(
        state, channel_id=channel_id, user=user, after=after, limit=limit
    )
    state.recorder.record("message", (time.perf_counter() - started) * 1000)
    return Response(body, media_type=JSON, headers={"X-Poll-Interval-Ms": str(interval_ms)})


@router.get("/{channel_id}")
async def channel(channel_id: ChannelId, user: CurrentUser, state: StateDep) -> dict[str, object]:
    meta = await polling.channel_meta(state, channel_id=channel_id)
    if meta is None:
        raise HTTPException(404, f"channel {channel_id!r} has no messages")
    return meta
