"""The chat caches: the source's ``seed`` cache, and the in-process ``fresh`` cache.

``seed`` reproduces the source: the whole poll answer is stored under
``chat:{channelId}:{after|all}`` with ``EX 5``, so a new message can hide for up to 5 s.

``fresh`` keeps, per worker, the most recent messages of each channel (pre-encoded
JSON, contiguous seqs) and serves polls from memory. It must never answer older than
the last acknowledged write, across any number of workers and instances, so every poll
checks the channel's *version* = its latest committed seq:

* writers commit, then ``ZADD chat:latest GT {channel: seq}`` before answering 201;
* a poll reads the version *after* it arrived, refreshes the local copy if it is
  behind, and answers from it. Any write acknowledged before the poll arrived has
  raised the version first, so the poll sees it.

The version reads are batched (:class:`VersionBatcher`): all polls that arrive while one
``ZMSCORE chat:latest ...`` is in flight share the next one, so under load one Redis
round trip serves dozens of polls, while no poll uses a read that started before it
arrived. When Redis is down (or has lost the version) the version comes from the
channel row in PostgreSQL (a primary-key lookup): slower, still exact. Versions that
could not be written while Redis was down are kept and replayed when it returns.
"""

from __future__ import annotations

import asyncio
import bisect
from typing import Any, cast

import orjson

from target_service.store import messages as store
from target_service.store.backends import RedisDown, RedisGuard
from target_service.store.db import Db
from target_service.store.invalidation import Invalidations
from target_service.store.keys import LATEST_KEY, recent_key
from target_service.store.messages import Message


class ChannelEntry:
    """Recent messages of one channel, in seq order, none missing that PostgreSQL has.

    Seqs are gapless as written (:mod:`target_service.store.messages`), so a hole means a
    row deleted behind the service's back (moderation, retention, a test's deliberate
    loss). Answers find their start by seq, never by position, so a hole costs only its
    own message. Only PostgreSQL's answers may step over one: a write of this worker,
    or the Redis recent level, extends the copy only from its next seq on.
    """

    __slots__ = ("latest_seq", "messages", "size", "epoch")

    def __init__(self, *, latest_seq: int, messages: list[Message], size: int) -> None:
        self.latest_seq = latest_seq
        self.messages = messages
        self.size = size
        self.epoch = -1  # the push subscription under which it was last proven current

    @property
    def first_seq(self) -> int:
        return self.messages[0].seq if self.messages else self.latest_seq + 1

    def extend(self, new: list[Message], *, committed: bool = False) -> None:
        """Append what follows ``latest_seq``: only its next seq on, or (``committed``,
        PostgreSQL's answer in seq order) any later seq, across a deleted row's hole."""
        for message in new:
            if message.seq == self.latest_seq + 1 or (committed and message.seq > self.latest_seq):
                self.messages.append(message)
                self.latest_seq = message.seq
        if len(self.messages) > 2 * self.size:
            del self.messages[: len(self.messages) - self.size]

    def slice(self, *, after: int | None, limit: int) -> list[Message] | None:
        """The answer from memory, or None when it needs older messages than kept here."""
        if after is None:
            if len(self.messages) >= limit or self.first_seq <= 1:
                return self.messages[-limit:] if limit < len(self.messages) else self.messages
            return None
        if after >= self.latest_seq:
            return []
        if after < self.first_seq - 1:
            return None
        start = bisect.bisect_right(self.messages, after, key=_seq)
        return self.messages[start : start + limit]


class VersionBatcher:
    """Coalesces version reads: one ZMSCORE per batch of polls that arrived meanwhile."""

    def __init__(self, redis: RedisGuard) -> None:
        self.redis = redis
        self._channels: set[str] = set()
        self._next: asyncio.Future[dict[str, float | None]] | None = None
        self._running = False
        self.batches = 0

    async def get(self, channel_id: str) -> float | None:
        if not self.redis.usable:
            raise RedisDown("redis is down")
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        future = self._next
        self._channels.add(channel_id)
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return (await future)[channel_id]

    async def _drain(self) -> None:
        """Serve batches until none is waiting; each batch's read starts after its polls."""
        try:
            while self._next is not None:
                future, channels = self._next, list(self._channels)
                self._next, self._channels = None, set()
                self.batches += 1
                try:
                    scores = await self.redis.fast_call("ZMSCORE", LATEST_KEY, *channels)
                    if not isinstance(scores, list) or len(scores) != len(channels):
                        raise RedisDown(f"unexpected ZMSCORE reply {scores!r}")
                    result = {channel: None if score is None else float(score)
                              for channel, score in zip(channels, scores, strict=True)}
                except Exception as exc:  # anything: every waiting poll must get an answer
                    future.set_exception(exc if isinstance(exc, RedisDown) else RedisDown(str(exc)))
                    future.exception()  # retrieved: no "never retrieved" warning if unawaited
                    continue
                future.set_result(result)
        finally:
            self._running = False


class FreshChatCache:
    """Per-worker recent messages per channel, validated against the channel version."""

    def __init__(
        self, *, redis: RedisGuard, db: Db, size: int, max_channels: int = 10_000,
        pushes: Invalidations | None = None,
    ) -> None:
        self.pushes = pushes
        self.redis = redis
        self.db = db
        self.size = size
        self.max_channels = max_channels
        self.entries: dict[str, ChannelEntry] = {}
        self.versions = VersionBatcher(redis)
        self.pending_versions: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.hits = 0
        self.push_hits = 0
        self.misses = 0

    async def required_seq(self, channel_id: str) -> int:
        """The latest committed seq the answer must include (Redis, else PostgreSQL)."""
        try:
            score = await self.versions.get(channel_id)
        except RedisDown:
            score = None
        if score is not None:
            return int(score)
        head = await store.channel_head(self.db, channel_id=channel_id)
        latest = 0 if head is None else head[0]
        self.note_version(channel_id, latest)  # (re)publish what Redis lacks
        return latest

    def note_version(self, channel_id: str, seq: int) -> None:
        """Queue a version for Redis (replayed by :meth:`flush_versions`)."""
        if seq > self.pending_versions.get(channel_id, -1):
            self.pending_versions[channel_id] = seq

    async def flush_versions(self) -> None:
        if not self.pending_versions:
            return
        batch, self.pending_versions = self.pending_versions, {}
        try:
            await self.redis.call(lambda r: r.zadd(LATEST_KEY, batch, gt=True))
        except RedisDown:
            for channel, seq in batch.items():
                self.note_version(channel, seq)

    def _epoch(self) -> int:
        """The current push subscription, or -1 when pushes cannot vouch for anything."""
        pushes = self.pushes
        return pushes.subscriptions if pushes is not None and pushes.healthy() else -1

    async def entry(self, channel_id: str) -> ChannelEntry:
        epoch = self._epoch()
        entry = self.entries.get(channel_id)
        if (epoch >= 0 and entry is not None and entry.epoch == epoch
                and entry.latest_seq >= self.pushes.newest(channel_id)  # type: ignore[union-attr]
                and self.pushes.subscriptions == epoch):  # type: ignore[union-attr]
            self.hits += 1  # proven current by the pushes: no Redis round trip
            self.push_hits += 1
            return entry
        required = await self.required_seq(channel_id)
        entry = self.entries.get(channel_id)
        if entry is not None and entry.latest_seq >= required:
            self.hits += 1
            entry.epoch = epoch  # current as of a read that started under this subscription
            return entry
        self.misses += 1
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        async with lock:
            entry = self.entries.get(channel_id)
            if entry is not None and entry.latest_seq >= required:
                return entry
            if entry is None or required - entry.latest_seq > self.size:
                fetched = await store.latest_messages(
                    self.db, channel_id=channel_id, limit=self.size
                )
                latest = fetched[-1].seq if fetched else 0
                entry = ChannelEntry(latest_seq=latest, messages=fetched, size=self.size)
                self._forget_oldest()
                self.entries[channel_id] = entry
            else:
                entry.extend(await self._newer(channel_id, entry.latest_seq, required),
                             committed=True)
            entry.epoch = epoch
            return entry

    def _forget_oldest(self) -> None:
        """Bound memory: drop the longest-cached channels (they refill on their next poll)."""
        while len(self.entries) >= self.max_channels:
            channel = next(iter(self.entries))
            del self.entries[channel]
            lock = self._locks.get(channel)
            if lock is not None and not lock.locked():
                del self._locks[channel]

    async def _newer(self, channel_id: str, after_seq: int, required: int) -> list[Message]:
        """Messages after ``after_seq``: from the Redis recent level if it covers the gap."""
        try:
            rows = await self.redis.call(
                lambda r: r.zrangebyscore(recent_key(channel_id), f"({after_seq}", "+inf",
                                          withscores=True)
            )
        except RedisDown:
            rows = []
        pairs = cast(list[tuple[bytes, float]], rows)
        found = _contiguous_from(after_seq + 1, [_from_recent(m, s) for m, s in pairs])
        if found and found[-1].seq >= required:
            return found
        return await store.messages_after(
            self.db, channel_id=channel_id, after_seq=after_seq, limit=self.size
        )

    def remember_write(self, channel_id: str, message: Message) -> None:
        """A write of this worker extends its own copy at once (if contiguous)."""
        entry = self.entries.get(channel_id)
        if entry is not None:
            entry.extend([message])

    async def messages(self, *, channel_id: str, after: int | None, limit: int) -> list[Message]:
        entry = await self.entry(channel_id)
        found = entry.slice(after=after, limit=limit)
        if found is not None:
            return found
        self.misses += 1  # an old cursor: history beyond what is kept in memory
        if after is None:
            return await store.latest_messages(self.db, channel_id=channel_id, limit=limit)
        return await store.messages_after(
            self.db, channel_id=channel_id, after_seq=after, limit=limit
        )


def _seq(message: Message) -> int:
    return message.seq


def _from_recent(member: bytes, score: float) -> Message:
    data: dict[str, Any] = orjson.loads(member)
    return Message(seq=int(score), created_at_ms=int(data["createdAt"]), json=member)


def _contiguous_from(first_seq: int, found: list[Message]) -> list[Message]:
    """The run ``first_seq, first_seq + 1, ...`` at the start of ``found`` (sorted by seq)."""
    run: list[Message] = []
    for message in found:
        if message.seq != first_seq + len(run):
            break
        run.append(message)
    return run
