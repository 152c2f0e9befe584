"""The caller of a push transport: ``Authorization: Bearer`` or ``?token=``.

Browsers cannot set headers on a WebSocket or an EventSource, hence the query form.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import Scope

from target_service.state import AppState
from target_service.store import users as users_store
from target_service.store.users import User

MAX_TOKEN_CHARS = 200


def token_from_scope(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip().decode("latin-1")
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    found = query.get("token")
    return found[0] if found else None


async def authenticate(state: AppState, token: str | None) -> User | None:
    """The token's user (token cache, then PostgreSQL), or None."""
    if not token or len(token) > MAX_TOKEN_CHARS or not users_store.TOKEN_PATTERN.fullmatch(token):
        return None
    digest = users_store.token_digest(token)  # tokens are stored hashed (store/users.py)
    user = state.tokens.get(digest)
    if user is None:
        user = await users_store.user_by_digest(state.db, digest=digest)
        if user is not None:
            state.tokens.put(digest, user)
    return user
