"""``Annotated`` dependencies shared by the routers: the app state and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from target_service.state import AppState
from target_service.store import users as users_store
from target_service.store.users import User


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.svc
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def current_user(request: Request) -> User:
    """The caller from ``Authorization: Bearer <token>``; 401 if missing or unknown.

    Hot routes (the poll) call this directly instead of through ``Depends``: each
    FastAPI dependency costs a recursive solve per request, about as much as the poll.
    """
    header = b""
    for name, value in request.scope["headers"]:  # cheaper than building request.headers
        if name == b"authorization":
            header = value
            break
    if header[:7].lower() != b"bearer ":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    token = header[7:].strip().decode("latin-1")
    if not users_store.TOKEN_PATTERN.fullmatch(token):  # not one of ours: no lookup at all
        raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    digest = users_store.token_digest(token)
    state: AppState = request.app.state.svc
    user = state.tokens.get(digest)
    if user is None:
        user = await users_store.user_by_digest(state.db, digest=digest)
        if user is None:
            raise HTTPException(401, "invalid bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        state.tokens.put(digest, user)
    return user


CurrentUser = Annotated[User, Depends(current_user)]
