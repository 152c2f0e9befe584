"""``POST /api/users``: sign up, get a bearer token. ``GET /api/users/me``: who am I."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from target_service.deps import CurrentUser, StateDep
from target_service.params import NonBlankText, Text
from target_service.store import users as store

router = APIRouter(prefix="/api/users", tags=["users"])


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: NonBlankText = Field(min_length=1, max_length=100, examples=["ann"])
    image: Text | None = Field(default=None, max_length=2000,
                               examples=["https://example.org/ann.png"])


@router.post("", status_code=201)
async def create_user(body: UserIn, state: StateDep) -> dict[str, object]:
    user, token = await store.create_user(state.db, name=body.name, image=body.image)
    state.tokens.put(store.token_digest(token), user)
    return {"id": user.id, "name": user.name, "image": user.image, "token": token}


@router.get("/me")
async def me(user: CurrentUser) -> dict[str, object]:
    return user.author()
