"""Notifications: rows in PostgreSQL, an unread counter and a "new" flag in Redis.

``create`` does what the source's ``createNotification`` does: insert with
``read=false``, ``INCR notifications:unread:{user}``, ``SET notifications:new:{user} 1 EX 30``.
A poll whose counter reads 0 answers without touching PostgreSQL (the common case).

The counter only ever moves by exact deltas applied after commit (+1 per insert, -n for
n rows marked read), never by overwriting, so concurrent writers cannot make it lie low.
A missing counter (Redis flushed or restarted) is rebuilt from PostgreSQL; a negative
one means a delta landed before the rebuild and is rebuilt too. Deltas that could not be
applied while Redis was down are kept and replayed when it returns.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from target_service.store.backends import RedisDown, RedisGuard
from target_service.store.db import Db
from target_service.store.keys import new_flag_key, unread_key

COLUMNS = "id, user_id, type, title, content, link, read, created_at_ms"


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"], "userId": row["user_id"], "type": row["type"], "title": row["title"],
        "content": row["content"], "link": row["link"], "read": row["read"],
        "createdAt": row["created_at_ms"],
    }


class Notifications:
    def __init__(self, *, redis: RedisGuard, db: Db, new_flag_ttl_s: int) -> None:
        self.redis = redis
        self.db = db
        self.new_flag_ttl_s = new_flag_ttl_s
        self.pending_deltas: dict[int, int] = {}
        self.db_skips = 0

    async def create(
        self, *, user_id: int, type: str, title: str, content: str, link: str | None
    ) -> dict[str, Any]:
        row = await self.db.fetchrow(
            f"INSERT INTO notifications (user_id, type, title, content, link, created_at_ms)"
            f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}",
            user_id, type, title, content, link, int(time.time() * 1000), write=True,
        )
        assert row is not None
        await self._apply(user_id, +1, flag=True)
        return to_json(row)

    async def unread(self, *, user_id: int) -> list[dict[str, Any]]:
        try:
            count = await self.redis.call(lambda r: r.get(unread_key(user_id)))
        except RedisDown:
            count = None
        if count is not None and int(count) == 0:
            self.db_skips += 1
            return []
        rows = await self.db.fetch(
            f"SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND NOT read ORDER BY id",
            user_id,
        )
        if count is None or int(count) < 0:
            await self._rebuild(user_id, len(rows), negative=count is not None)
        return [to_json(row) for row in rows]

    async def mark_read(self, *, user_id: int, ids: list[int] | None) -> int | None:
        """Mark the caller's notifications read; None if an id is not the caller's."""
        async with self.db.connection() as conn, conn.transaction():
            if ids is not None:
                owned = await conn.fetchval(
                    "SELECT count(*) FROM notifications WHERE id = ANY($1::bigint[])"
                    " AND user_id = $2", ids, user_id,
                )
                if owned != len(set(ids)):
                    return None
                changed = await conn.fetch(
                    "UPDATE notifications SET read = true WHERE id = ANY($1::bigint[])"
                    " AND user_id = $2 AND NOT read RETURNING id", ids, user_id,
                )
            else:
                changed = await conn.fetch(
                    "UPDATE notifications SET read = true WHERE user_id = $1 AND NOT read"
                    " RETURNING id", user_id,
                )
        if changed:
            await self._apply(user_id, -len(changed), flag=False)
        return len(changed)

    async def _apply(self, user_id: int, delta: int, *, flag: bool) -> None:
        async def run(r):
            pipe = r.pipeline(transaction=False)
            pipe.incrby(unread_key(user_id), delta)
            if flag:
                pipe.set(new_flag_key(user_id), 1, ex=self.new_flag_ttl_s)
            return await pipe.execute()

        try:
            await self.redis.call(run)
        except RedisDown:
            self.pending_deltas[user_id] = self.pending_deltas.get(user_id, 0) + delta

    async def _rebuild(self, user_id: int, count: int, *, negative: bool) -> None:
        """Missing: SET NX (a concurrent INCR wins, erring high). Negative: drop it."""
        try:
            if negative:
                await self.redis.call(lambda r: r.delete(unread_key(user_id)))
            else:
                await self.redis.call(lambda r: r.set(unread_key(user_id), count, nx=True))
        except RedisDown:
            pass

    async def flush_pending(self) -> None:
        """Replay counter deltas that failed while Redis was down."""
        if not self.pending_deltas:
            return
        batch, self.pending_deltas = self.pending_deltas, {}

        async def run(r):
            pipe = r.pipeline(transaction=False)
            for user_id, delta in batch.items():
                pipe.incrby(unread_key(user_id), delta)
            return await pipe.execute()

        try:
            await self.redis.call(run)
        except RedisDown:
            for user_id, delta in batch.items():
                self.pending_deltas[user_id] = self.pending_deltas.get(user_id, 0) + delta
