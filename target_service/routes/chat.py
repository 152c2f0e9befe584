"""Chat: post a message, poll with a cursor, read channel metadata."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from target_service import chat as polling
from target_service import params
from target_service.deps import CurrentUser, StateDep, current_user
from target_service.fastpath import BytesResponse, HandlerRoute
from target_service.params import CHANNEL_PATTERN, DEFAULT_LIMIT, MAX_LIMIT
from target_service.state import AppState

router = APIRouter(prefix="/api/chat", tags=["chat"])

ChannelId = Annotated[str, Path(pattern=CHANNEL_PATTERN, description="[A-Za-z0-9_-]{1,64}")]
JSON = "application/json"
INTERVAL_HEADER = b"x-poll-interval-ms"


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


@router.get("/{channel_id}")
async def channel(channel_id: ChannelId, user: CurrentUser, state: StateDep) -> dict[str, object]:
    meta = await polling.channel_meta(state, channel_id=channel_id)
    if meta is None:
        raise HTTPException(404, f"channel {channel_id!r} has no messages")
    return meta
