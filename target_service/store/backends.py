"""Opening the two backends, and the guard that makes Redis optional.

Redis is a cache here, not a dependency: every Redis call goes through
:class:`RedisGuard`, which turns connection errors and timeouts into
:class:`RedisDown`, stops trying for ``retry_s`` after a failure (so a dead Redis costs
one failed call per interval, not one per request), and runs callbacks when it comes
back (pending writes are replayed there). Callers catch ``RedisDown`` and fall back to
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from target_service.store.resp import RespClient, RespError

T = TypeVar("T")

SCHEMA_LOCK_ID = 7_345_001  # advisory lock: several workers create the schema at once
SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    image TEXT,
    token_sha256 BYTEA UNIQUE,
    created_at_ms BIGINT NOT NULL
);
ALTER TABLE users ADD COLUMN IF NOT EXISTS token_sha256 BYTEA UNIQUE;
ALTER TABLE users DROP COLUMN IF EXISTS token;
CREATE TABLE IF NOT EXISTS channels (
    id TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    last_message_at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    channel_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    author_id BIGINT NOT NULL REFERENCES users (id),
    content TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    idempotency_key TEXT,
    PRIMARY KEY (channel_id, seq)
);
ALTER TABLE messages ADD COLUMN IF NOT EXISTS idempotency_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency
    ON messages (channel_id, author_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS notifications (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    type TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    link TEXT,
    read BOOLEAN NOT NULL DEFAULT false,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_unread ON notifications (user_id, id) WHERE NOT read;
"""

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    RedisError, RespError, OSError, asyncio.TimeoutError,
)


class RedisDown(Exception):
    """Redis did not answer (or is known to be down); fall back to PostgreSQL."""


class RedisGuard:
    """A Redis client plus an up/down state shared by every caller in this process."""

    def __init__(self, client: Redis, *, retry_s: float, fast: RespClient | None = None) -> None:
        self.client = client
        self.fast = fast
        self.retry_s = retry_s
        self.up = True
        self._retry_at = 0.0
        self._on_down: list[Callable[[], None]] = []

    @property
    def usable(self) -> bool:
        """True when a call is worth trying: up, or down long enough to probe again."""
        return self.up or time.monotonic() >= self._retry_at

    def on_down(self, callback: Callable[[], None]) -> None:
        self._on_down.append(callback)

    async def call(self, fn: Callable[[Redis], Awaitable[T]]) -> T:
        if not self.usable:
            raise RedisDown("redis is down")
        try:
            result = await fn(self.client)
        except REDIS_ERRORS as exc:
            self.mark_down()
            raise RedisDown(str(exc) or type(exc).__name__) from exc
        if not self.up:
            self._mark_up()
        return result

    async def fast_call(self, *args: str | bytes | int) -> object:
        """One command through the lean RESP connection (see ``resp.py``)."""
        return (await self.fast_pipeline([args]))[0]

    async def fast_pipeline(self, commands: list[tuple[str | bytes | int, ...]]) -> list[object]:
        """Commands in one write through the lean RESP connection; replies in order."""
        if self.fast is None:
            async def run(r):
                pipe = r.pipeline(transaction=False)
                for args in commands:
                    pipe.execute_command(*args)
                return await pipe.execute()

            return list(await self.call(run))
        if not self.usable:
            raise RedisDown("redis is down")
        try:
            try:
                result = await self.fast.pipeline(commands)
            except ConnectionError:
                # A connection that died unseen (Redis restarted): once more on a new one.
                # Every command sent this way is idempotent (reads, ZADD GT, EXPIRE...).
                result = await self.fast.pipeline(commands)
        except REDIS_ERRORS as exc:
            self.mark_down()
            raise RedisDown(str(exc) or type(exc).__name__) from exc
        if not self.up:
            self._mark_up()
        return result

    def _mark_up(self) -> None:
        self.up = True

    def mark_down(self) -> None:
        self._retry_at = time.monotonic() + self.retry_s
        if self.up:
            self.up = False
            for callback in self._on_down:
                callback()

    async def probe(self) -> bool:
        """PING if a probe is due; returns whether Redis is up afterwards."""
        try:
            await self.call(lambda r: r.ping())
        except RedisDown:
            return False
        return True


async def close_redis(guard: RedisGuard) -> None:
    if guard.fast is not None:
        guard.fast.close()
    await guard.client.aclose()


def open_redis(url: str, *, max_connections: int, timeout_s: float) -> Redis:
    """A client whose pool waits for a free connection instead of raising past the cap."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),  # the guard decides about retries, not redis-py
    )
    return Redis(connection_pool=pool)


async def create_schema(pool: asyncpg.Pool) -> None:
    """CREATE ... IF NOT EXISTS under an advisory lock: concurrent DDL races on pg_type."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_ID)
        await conn.execute(SCHEMA_SQL)
