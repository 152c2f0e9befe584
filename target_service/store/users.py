"""Users and their bearer tokens, with an in-process token cache.

Every poll is authenticated, so a PostgreSQL lookup per request would cost more than the
poll itself. Tokens never change owner and are never revoked, so a cached
token -> user entry cannot go stale; only unknown tokens reach the database.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    image: str | None

    def author(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "image": self.image}


async def create_user(pool: asyncpg.Pool, *, name: str, image: str | None) -> tuple[User, str]:
    token = secrets.token_urlsafe(24)
    row = await pool.fetchrow(
        "INSERT INTO users (name, image, token, created_at_ms) VALUES ($1, $2, $3, $4)"
        " RETURNING id",
        name, image, token, int(time.time() * 1000),
    )
    assert row is not None
    return User(id=row["id"], name=name, image=image), token


async def user_by_token(pool: asyncpg.Pool, *, token: str) -> User | None:
    row = await pool.fetchrow("SELECT id, name, image FROM users WHERE token = $1", token)
    return None if row is None else User(id=row["id"], name=row["name"], image=row["image"])


async def user_exists(pool: asyncpg.Pool, *, user_id: int) -> bool:
    return await pool.fetchval("SELECT 1 FROM users WHERE id = $1", user_id) is not None


class TokenCache:
    """Bounded LRU of token -> User; a hit costs one dict lookup."""

    def __init__(self, *, max_size: int) -> None:
        self.max_size = max_size
        self._items: OrderedDict[str, User] = OrderedDict()

    def get(self, token: str) -> User | None:
        user = self._items.get(token)
        if user is not None and len(self._items) > self.max_size // 2:
            self._items.move_to_end(token)  # LRU bookkeeping only once eviction is near
        return user

    def put(self, token: str, user: User) -> None:
        if self.max_size <= 0:
            return
        self._items[token] = user
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)
