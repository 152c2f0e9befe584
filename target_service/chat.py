"""Chat reads and writes, composed from the stores; the routes only translate HTTP.

A poll answer is assembled from pre-encoded message JSON, so a poll that returns 20
messages costs a join of 20 byte strings rather than 20 dict encodings.
"""

from __future__ import annotations

import time

import asyncpg
import orjson

from target_service.state import AppState
from target_service.store import messages as store
from target_service.store.backends import RedisDown
from target_service.store.keys import (
    LATEST_KEY,
    VERSIONS_CHANNEL,
    channel_meta_key,
    idempotency_key,
    message_times_key,
    recent_key,
    seed_key,
)
from target_service.store.messages import IDEMPOTENCY_INDEX, Message, make_message
from target_service.store.users import User


def _answer_head(messages: list[Message], active_users: int) -> bytes:
    """``{"messages":[...],"activeUsers":N`` (the interval is appended per response)."""
    return b'{"messages":[%b],"activeUsers":%d' % (b",".join(m.json for m in messages),
                                                    active_users)


def finish(head: bytes, interval_ms: int) -> bytes:
    return head + b',"pollIntervalMs":%d}' % interval_ms


async def poll(
    state: AppState, *, channel_id: str, user: User, after: int | None, limit: int
) -> tuple[bytes, int]:
    """The poll answer's body and its interval in ms."""
    state.presence.mark(channel_id, user.id)
    active = state.presence.active_users(channel_id)
    if state.settings.cache_mode == "fresh":
        found = await state.chat.messages(channel_id=channel_id, after=after, limit=limit)
        head = _answer_head(found, active)
    else:
        head = await _seed_poll(state, channel_id=channel_id, after=after, limit=limit,
                                active_users=active)
    interval_ms = state.interval_ms(channel_id, active)
    return finish(head, interval_ms), interval_ms


async def _seed_poll(
    state: AppState, *, channel_id: str, after: int | None, limit: int, active_users: int
) -> bytes:
    """The source's route: whole answers cached under ``chat:{channel}:{after|all}`` EX 5.

    One deliberate difference in both modes: without a cursor the answer is the newest
    ``limit`` messages (a client opening a channel), where the source's query returned
    the oldest 50.
    """
    key = seed_key(channel_id, after=after, limit=limit)
    try:
        cached = await state.redis.call(lambda r: r.get(key))
    except RedisDown:
        cached = None
    if cached is not None:
        state.counters.seed_cache_hits += 1
        return cached if isinstance(cached, bytes) else str(cached).encode()
    state.counters.seed_cache_misses += 1
    if after is None:
        found = await store.latest_messages(state.db, channel_id=channel_id, limit=limit)
    else:
        found = await store.messages_after(state.db, channel_id=channel_id, after_seq=after,
                                           limit=limit)
    head = _answer_head(found, active_users)
    try:
        await state.redis.call(lambda r: r.set(key, head, ex=state.settings.seed_ttl_s))
    except RedisDown:
        pass
    return head


async def post(
    state: AppState, *, channel_id: str, user: User, content: str,
    idempotency_key: str | None = None,
) -> tuple[Message, bool]:
    """Commit one message (or find the one this key committed); ``(message, replayed)``.

    Answered only once the row is committed. A replay announces the message again
    (every step is idempotent: ``ZADD GT``, the same member, PUBLISH), which heals a
    first attempt whose worker died between commit and announcement.
    """
    if idempotency_key is not None:
        found = await _replayed(state, channel_id=channel_id, user=user, key=idempotency_key)
        if found is not None:
            await _announce(state, channel_id=channel_id, message=found, author_id=user.id,
                            key=idempotency_key)
            return found, True
    try:
        seq, created_at_ms = await store.insert_message(
            state.db, channel_id=channel_id, author_id=user.id, content=content,
            idempotency_key=idempotency_key,
        )
    except asyncpg.UniqueViolationError as exc:  # a concurrent attempt with the key won
        if idempotency_key is None or exc.constraint_name != IDEMPOTENCY_INDEX:
            raise
        found = await store.message_by_key(state.db, channel_id=channel_id, author_id=user.id,
                                           idempotency_key=idempotency_key)
        assert found is not None, "the unique index said the row exists"
        await _announce(state, channel_id=channel_id, message=found, author_id=user.id,
                            key=idempotency_key)
        return found, True
    message = make_message(channel_id=channel_id, seq=seq, content=content,
                           created_at_ms=created_at_ms, author=user.author())
    state.chat.remember_write(channel_id, message)
    await _announce(state, channel_id=channel_id, message=message, author_id=user.id,
                    key=idempotency_key)
    return message, False


async def _replayed(state: AppState, *, channel_id: str, user: User, key: str) -> Message | None:
    """The message committed under this key: Redis as a cache, PostgreSQL as the truth."""
    try:
        cached = await state.redis.fast_call("GET", idempotency_key(channel_id, user.id, key))
    except RedisDown:
        cached = None
    if isinstance(cached, bytes):
        data = orjson.loads(cached)
        return Message(seq=int(data["seq"]), created_at_ms=int(data["createdAt"]), json=cached)
    return await store.message_by_key(state.db, channel_id=channel_id, author_id=user.id,
                                      idempotency_key=key)


async def _announce(state: AppState, *, channel_id: str, message: Message, author_id: int,
                    key: str | None) -> None:
    """Publish the version and feed the recent/rate levels (and the key's cache)."""
    settings = state.settings
    seq, created_at_ms = message.seq, message.created_at_ms
    rate_cutoff_ms = time.time() * 1000 - settings.rate_window_s * 1000
    recent, times = recent_key(channel_id), message_times_key(channel_id)
    commands: list[tuple[str | bytes | int, ...]] = [
        ("ZADD", LATEST_KEY, "GT", seq, channel_id),
        ("ZADD", recent, seq, message.json),
        ("ZREMRANGEBYRANK", recent, 0, -(settings.recent_size + 1)),
        ("EXPIRE", recent, settings.recent_ttl_s),
        ("ZADD", times, created_at_ms, seq),
        ("ZREMRANGEBYSCORE", times, "-inf", f"({rate_cutoff_ms:.0f}"),
        ("EXPIRE", times, settings.rate_window_s + 1),
        ("PUBLISH", VERSIONS_CHANNEL, f"{channel_id} {seq}"),
    ]
    if key is not None:
        commands.append(("SET", idempotency_key(channel_id, author_id, key),
                         message.json, "EX", settings.idempotency_ttl_s))
    try:
        await state.redis.fast_pipeline(commands)
        # The barrier: once PING is answered, Redis has written the PUBLISH to every
        # subscriber's socket, so a poll arriving after our 201 finds it (invalidation.py).
        await state.redis.fast_call("PING")
    except RedisDown:
        state.chat.note_version(channel_id, seq)  # replayed when Redis returns


async def channel_meta(state: AppState, *, channel_id: str) -> dict[str, object] | None:
    """``{id, messageCount, lastMessageAt, activeUsers}``; None for an unknown channel."""
    state.presence.watch(channel_id)
    fresh = state.settings.cache_mode == "fresh"
    required = await state.chat.required_seq(channel_id) if fresh else 0
    try:
        cached = await state.redis.call(lambda r: r.get(channel_meta_key(channel_id)))
    except RedisDown:
        cached = None
    meta = orjson.loads(cached) if cached is not None else None
    if meta is None or (fresh and meta["messageCount"] < required):
        head = await store.channel_head(state.db, channel_id=channel_id)
        if head is None:
            return None
        meta = {"id": channel_id, "messageCount": head[0], "lastMessageAt": head[1]}
        try:
            await state.redis.call(lambda r: r.set(channel_meta_key(channel_id), orjson.dumps(meta),
                                                   ex=state.settings.meta_ttl_s))
        except RedisDown:
            pass
    return {**meta, "activeUsers": state.presence.active_users(channel_id)}
