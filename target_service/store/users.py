"""Users and their bearer tokens, with an in-process token cache.

A token is 192 random bits (``secrets.token_urlsafe(24)``); only its SHA-256 is stored
and looked up, in PostgreSQL and in the cache. So a token is never compared with a
stored token byte by byte (how long a lookup takes tells at most about digests, which
an attacker cannot steer), and a leaked table holds no usable token.

Every poll is authenticated, so a PostgreSQL lookup per request would cost more than the
poll itself. Tokens never change owner and are never revoked, so a cached
digest -> user entry cannot go stale; only unknown tokens reach the database.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from target_service.store.db import Db

TOKEN_BYTES = 24  # 192 bits
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")  # what token_urlsafe(24) gives


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    image: str | None

    def author(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "image": self.image}


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_user(db: Db, *, name: str, image: str | None) -> tuple[User, str]:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = await db.fetchrow(
        "INSERT INTO users (name, image, token_sha256, created_at_ms) VALUES ($1, $2, $3, $4)"
        " RETURNING id",
        name, image, token_digest(token), int(time.time() * 1000), write=True,
    )
    assert row is not None
    return User(id=row["id"], name=name, image=image), token


async def user_by_digest(db: Db, *, digest: bytes) -> User | None:
    row = await db.fetchrow("SELECT id, name, image FROM users WHERE token_sha256 = $1", digest)
    return None if row is None else User(id=row["id"], name=row["name"], image=row["image"])


async def user_exists(db: Db, *, user_id: int) -> bool:
    return await db.fetchval("SELECT 1 FROM users WHERE id = $1", user_id) is not None


class TokenCache:
    """Bounded LRU of token digest -> User; a hit costs one dict lookup."""

    def __init__(self, *, max_size: int) -> None:
        self.max_size = max_size
        self._items: OrderedDict[bytes, User] = OrderedDict()

    def get(self, digest: bytes) -> User | None:
        user = self._items.get(digest)
        if user is not None and len(self._items) > self.max_size // 2:
            self._items.move_to_end(digest)  # LRU bookkeeping only once eviction is near
        return user

    def put(self, digest: bytes, user: User) -> None:
        if self.max_size <= 0:
            return
        self._items[digest] = user
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)
