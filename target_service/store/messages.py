"""Chat messages in PostgreSQL, with per-channel sequence numbers in commit order.

``seq`` is taken from the channel row by an upsert that keeps the row locked until the
statement's transaction commits. The next writer of the channel waits for that lock, so
seq n+1 cannot commit before seq n: a reader that sees seq n+1 also sees every earlier
seq, and polling with ``after`` (the cursor *is* the seq) never skips or repeats a
message. The source compared ids with ``>`` while ordering by ``createdAt``, which loses
messages whose id was assigned before an earlier-committed one.

``created_at_ms`` is read from the database clock inside the lock, so it grows with seq.

An ``Idempotency-Key`` is stored on the message row under a unique index on
(channel, author, key): a retry finds the committed row and gets the same seq back,
across workers and whatever happened to Redis. Two attempts racing with one key both
try the insert; the second fails on the index *inside the same statement* as its seq
increment, so its increment rolls back with it and no seq is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from target_service.store.db import Db

INSERT_SQL = """
WITH ch AS (
    INSERT INTO channels AS c (id, last_seq, last_message_at_ms)
    VALUES ($1, 1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
    ON CONFLICT (id) DO UPDATE SET
        last_seq = c.last_seq + 1,
        last_message_at_ms = GREATEST(
            c.last_message_at_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
    RETURNING last_seq, last_message_at_ms
)
INSERT INTO messages (channel_id, seq, author_id, content, created_at_ms, idempotency_key)
SELECT $1, last_seq, $2, $3, last_message_at_ms, $4 FROM ch
RETURNING seq, created_at_ms
"""

SELECT_COLUMNS = """
SELECT m.seq, m.content, m.created_at_ms, u.id AS author_id, u.name, u.image
FROM messages m JOIN users u ON u.id = m.author_id
"""
AFTER_SQL = SELECT_COLUMNS + " WHERE m.channel_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3"
IDEMPOTENCY_INDEX = "messages_idempotency"  # the unique index of store/backends.py's schema
BY_KEY_SQL = SELECT_COLUMNS + (
    " WHERE m.channel_id = $1 AND m.author_id = $2 AND m.idempotency_key = $3"
)
LATEST_SQL = (
    "SELECT * FROM (" + SELECT_COLUMNS + " WHERE m.channel_id = $1 ORDER BY m.seq DESC LIMIT $2)"
    " t ORDER BY seq"
)


@dataclass(frozen=True, slots=True)
class Message:
    """One message and its JSON encoding (encoded once, spliced into every response)."""

    seq: int
    created_at_ms: int
    json: bytes


def message_dict(
    *, channel_id: str, seq: int, content: str, created_at_ms: int, author: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": str(seq),
        "seq": seq,
        "channelId": channel_id,
        "content": content,
        "author": author,
        "createdAt": created_at_ms,
    }


def make_message(
    *, channel_id: str, seq: int, content: str, created_at_ms: int, author: dict[str, Any]
) -> Message:
    body = message_dict(
        channel_id=channel_id, seq=seq, content=content, created_at_ms=created_at_ms, author=author
    )
    return Message(seq=seq, created_at_ms=created_at_ms, json=orjson.dumps(body))


def _from_row(channel_id: str, row: asyncpg.Record) -> Message:
    author = {"id": row["author_id"], "name": row["name"], "image": row["image"]}
    return make_message(
        channel_id=channel_id, seq=row["seq"], content=row["content"],
        created_at_ms=row["created_at_ms"], author=author,
    )


async def insert_message(
    db: Db, *, channel_id: str, author_id: int, content: str,
    idempotency_key: str | None = None,
) -> tuple[int, int]:
    """Insert and commit one message; returns ``(seq, created_at_ms)``.

    Raises ``asyncpg.UniqueViolationError`` when the author already used the key here.
    """
    row = await db.fetchrow(INSERT_SQL, channel_id, author_id, content, idempotency_key,
                            write=True)
    assert row is not None
    return row["seq"], row["created_at_ms"]


async def message_by_key(
    db: Db, *, channel_id: str, author_id: int, idempotency_key: str
) -> Message | None:
    """The message this author committed here under this key, if any."""
    row = await db.fetchrow(BY_KEY_SQL, channel_id, author_id, idempotency_key)
    return None if row is None else _from_row(channel_id, row)


async def messages_after(
    db: Db, *, channel_id: str, after_seq: int, limit: int
) -> list[Message]:
    rows = await db.fetch(AFTER_SQL, channel_id, after_seq, limit)
    return [_from_row(channel_id, row) for row in rows]


async def latest_messages(db: Db, *, channel_id: str, limit: int) -> list[Message]:
    """The newest ``limit`` messages, oldest first (a client opening the channel)."""
    rows = await db.fetch(LATEST_SQL, channel_id, limit)
    return [_from_row(channel_id, row) for row in rows]


async def channel_head(db: Db, *, channel_id: str) -> tuple[int, int] | None:
    """``(last_seq, last_message_at_ms)`` of a channel, or None if it has no message yet."""
    row = await db.fetchrow(
        "SELECT last_seq, last_message_at_ms FROM channels WHERE id = $1", channel_id
    )
    return None if row is None else (row["last_seq"], row["last_message_at_ms"])
