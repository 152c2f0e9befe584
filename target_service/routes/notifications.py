"""Notifications: create (internal, admin token), poll unread, mark read."""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from target_service.deps import CurrentUser, StateDep
from target_service.openapi import NOT_FOUND
from target_service.params import MAX_ID, JsonInt, Text, whole_float_to_int
from target_service.realtime import notify
from target_service.store import users as users_store

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


class NotificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    userId: JsonInt = Field(ge=1, le=MAX_ID, examples=[1])
    type: Text = Field(min_length=1, max_length=50, examples=["mention"])
    title: Text = Field(min_length=1, max_length=200, examples=["ann mentioned you"])
    content: Text = Field(min_length=1, max_length=4000, examples=["see #room"])
    link: Text | None = Field(default=None, max_length=2000, examples=["/chat/room"])


NotificationId = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(whole_float_to_int)]
READ_ONE_OF: dict[str, Any] = {"oneOf": [  # what _one_of accepts, for the OpenAPI document
    {"required": ["ids"], "properties": {"ids": {"type": "array"}, "all": {"const": False}}},
    {"required": ["all"], "properties": {"all": {"const": True}, "ids": {"type": "null"}}},
]}


class ReadIn(BaseModel):
    """Either ``{"ids": [...]}`` (the caller's own notifications) or ``{"all": true}``."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=READ_ONE_OF)
    ids: list[NotificationId] | None = Field(default=None, max_length=1000)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ReadIn:
        if (self.ids is None) == (not self.all):
            raise ValueError("give either 'ids' (a list) or 'all': true")
        return self


@router.post("", status_code=201, responses=NOT_FOUND)
async def create_notification(
    body: NotificationIn,
    state: StateDep,
    x_admin_token: Annotated[str | None, Header()] = None,
) -> dict[str, object]:
    """Stands for the app's internal ``createNotification`` call."""
    if x_admin_token is None:
        raise HTTPException(401, "missing X-Admin-Token header")
    if not hmac.compare_digest(x_admin_token.encode(), state.settings.admin_token.encode()):
        raise HTTPException(403, "wrong admin token")
    if not await users_store.user_exists(state.db, user_id=body.userId):
        raise HTTPException(404, f"user {body.userId} not found")
    started = time.perf_counter()
    notification = await state.notifications.create(
        user_id=body.userId, type=body.type, title=body.title, content=body.content,
        link=body.link,
    )
    state.recorder.record("notification", (time.perf_counter() - started) * 1000)
    await notify.publish(state, user_id=body.userId, notification=notification)
    return {"notification": notification}


@router.get("/unread")
async def unread(user: CurrentUser, state: StateDep) -> dict[str, object]:
    started = time.perf_counter()
    found = await state.notifications.unread(user_id=user.id)
    state.recorder.record("notification", (time.perf_counter() - started) * 1000)
    return {"notifications": found, "count": len(found)}


@router.post("/read", responses=NOT_FOUND)
async def mark_read(body: ReadIn, user: CurrentUser, state: StateDep) -> dict[str, object]:
    changed = await state.notifications.mark_read(
        user_id=user.id, ids=None if body.all else body.ids
    )
    if changed is None:
        raise HTTPException(404, "notification not found")
    return {"updated": changed}
