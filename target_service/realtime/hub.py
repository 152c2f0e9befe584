"""The per-worker fan-out hub: channel -> subscriptions, fed by the version pushes.

Invariant: a subscription hands its owner every message with seq > its cursor, in seq
order, exactly once. The hub appends to a subscription's bounded queue only the message
with seq == cursor + 1; anything else (a gap, a full queue, a new subscription with a
replay to do) marks it *lagging*, and its owner then pulls after its cursor from this
worker's cache (memory, Redis' recent level, PostgreSQL) until the cursor has reached the
feed's seq. That last check runs with no await between it and rejoining the live feed, so
a batch the hub fanned out meanwhile is never missed. Replay on ``subscribe`` is the same
catch-up, so the seam between replay and live fan-out has no gap and no repeat by
construction; a slow consumer is caught up the same way, never skipped.

Announcements come from the ``chat:versions`` pushes (store/invalidation.py calls
:meth:`Hub.announce`); a safety-net loop re-reads the versions of the watched channels
every ``check_s`` (ten times faster while the push subscription is unhealthy), so a
lost announcement delays a message by at most that, and never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Protocol

from target_service.realtime.counters import RealtimeCounters
from target_service.realtime.notify import NotificationPushes
from target_service.realtime.rawsend import FrameCache
from target_service.state import AppState
from target_service.store.messages import Message

log = logging.getLogger("pollcap.realtime")
FETCH_LIMIT = 100
EMPTY_RETRY_S = 0.02
PRESENCE_EVERY_S = 10.0  # subscribers count as present users (window 30 s)
# A feed nobody holds is kept this long: a woken long-poll comes back within ms, and a
# feed made anew costs a version read per poll that finds none (hub.watch).
FEED_LINGER_S = 5.0



class Waker(Protocol):
    """What a subscription wakes when it has work: an ``asyncio.Event`` or a connection."""

    def set(self) -> None: ...


class Subscription:
    """One channel of one connection (or SSE stream): a cursor and a bounded queue."""

    __slots__ = ("channel", "user_id", "cursor", "queue", "lagging", "wake", "max_queue")

    def __init__(self, *, channel: str, user_id: int, cursor: int, wake: Waker,
                 max_queue: int) -> None:
        self.channel = channel
        self.user_id = user_id
        self.cursor = cursor  # the last seq handed to the owner (or to be replayed after)
        self.queue: deque[Message] = deque()
        self.lagging = True  # starts by catching up (the replay of ``after``)
        self.wake = wake
        self.max_queue = max_queue

    def offer(self, batch: list[Message], counters: RealtimeCounters) -> None:
        if not self.lagging:
            for message in batch:
                if message.seq <= self.cursor:
                    continue
                if message.seq != self.cursor + 1 or len(self.queue) >= self.max_queue:
                    self.lagging = True
                    counters.catchups += 1
                    break
                self.queue.append(message)
                self.cursor = message.seq
        self.wake.set()

    async def take(self, hub: Hub) -> list[Message]:
        """The next messages to send: the queue, else a catch-up page after the cursor."""
        if self.queue:
            batch = list(self.queue)
            self.queue.clear()
            return batch
        if not self.lagging:
            return []
        batch = await hub.fetch(self.channel, self.cursor)
        batch = [m for m in batch if m.seq > self.cursor]
        if batch and batch[0].seq == self.cursor + 1:
            self.cursor = batch[-1].seq
            return batch
        if self.cursor >= hub.feed_seq(self.channel):  # no await since the fetch returned
            self.lagging = False
        else:
            await asyncio.sleep(EMPTY_RETRY_S)  # the cache has not seen it yet: retry
        return []

    @property
    def busy(self) -> bool:
        return bool(self.queue) or self.lagging


class Feed:
    __slots__ = ("seq", "announced", "subs", "waiters", "answers", "task", "idle_at")

    def __init__(self, seq: int) -> None:
        self.seq = seq  # the newest seq fanned out to this worker's subscribers
        self.announced = seq
        self.subs: set[Subscription] = set()
        self.waiters: set[asyncio.Future[None]] = set()  # held long-polls
        # the answers of the polls the last fan-out woke, by (after, limit): longpoll.py
        self.answers: dict[tuple[int | None, int], asyncio.Future[tuple[bytes, int]]] = {}
        self.task: asyncio.Task[None] | None = None
        self.idle_at: float | None = None  # monotonic s when its last holder left


class Hub:
    def __init__(self, state: AppState, *, max_queue: int, check_s: float) -> None:
        self.state = state
        self.max_queue = max_queue
        self.check_s = check_s
        self.feeds: dict[str, Feed] = {}
        self.counters = RealtimeCounters()
        self.notifications = NotificationPushes(state)
        self.frames = FrameCache()  # WebSocket frames of recent messages (rawsend.py)
        self._task: asyncio.Task[None] | None = None

    async def fetch(self, channel: str, after_seq: int) -> list[Message]:
        return await self.state.chat.messages(channel_id=channel, after=after_seq,
                                              limit=FETCH_LIMIT)

    def feed_seq(self, channel: str) -> int:
        feed = self.feeds.get(channel)
        return 0 if feed is None else feed.seq

    async def latest(self, channel: str) -> int:
        """The channel's latest committed seq (the version; PostgreSQL if Redis is down)."""
        return await self.state.chat.required_seq(channel)

    async def watch(self, channel: str) -> Feed:
        feed = self.feeds.get(channel)
        if feed is not None:
            return feed
        latest = await self.latest(channel)
        feed = self.feeds.get(channel)  # created while we waited
        if feed is None:
            feed = self.feeds[channel] = Feed(latest)
            pushes = self.state.chat.pushes
            if pushes is not None:  # announced while we read the version: not lost
                self.announce(channel, pushes.newest(channel))
        return feed

    def release(self, channel: str) -> None:
        """Nobody may hold ``channel`` any more: it is let go after FEED_LINGER_S idle."""
        feed = self.feeds.get(channel)
        if feed is not None and not feed.subs and not feed.waiters:
            feed.idle_at = time.monotonic()

    def reap(self, *, now_s: float) -> None:
        """Forget the feeds idle for FEED_LINGER_S (no subscriber, no held poll)."""
        for channel, feed in list(self.feeds.items()):
            if (feed.idle_at is not None and now_s - feed.idle_at >= FEED_LINGER_S
                    and not feed.subs and not feed.waiters):
                del self.feeds[channel]

    async def add(self, sub: Subscription) -> None:
        feed = await self.watch(sub.channel)
        feed.subs.add(sub)
        sub.lagging = True
        sub.wake.set()
        self.state.presence.mark(sub.channel, sub.user_id)

    def remove(self, sub: Subscription) -> None:
        feed = self.feeds.get(sub.channel)
        if feed is not None:
            feed.subs.discard(sub)
            self.release(sub.channel)

    def announce(self, channel: str, seq: int) -> None:
        """A version push (or the safety net) says ``channel`` has reached ``seq``."""
        feed = self.feeds.get(channel)
        if feed is None or seq <= feed.announced:
            return
        feed.announced = seq
        if feed.task is None:
            feed.task = asyncio.get_running_loop().create_task(self._advance(channel, feed))

    async def _advance(self, channel: str, feed: Feed) -> None:
        """Fetch once per batch from the cache and offer it to every subscriber."""
        empty = 0
        try:
            while feed.seq < feed.announced and self.feeds.get(channel) is feed:
                try:
                    batch = [m for m in await self.fetch(channel, feed.seq) if m.seq > feed.seq]
                except Exception:
                    log.exception("fan-out fetch failed for %s; retrying", channel)
                    await asyncio.sleep(0.5)
                    continue
                if not batch:
                    empty += 1
                    if empty > 50:  # announced but never found: leave it to the safety net
                        log.warning("channel %s announced %d but has %d", channel,
                                    feed.announced, feed.seq)
                        feed.announced = feed.seq
                    await asyncio.sleep(EMPTY_RETRY_S)
                    continue
                self._fan_out(feed, batch)
        finally:
            feed.task = None

    def _fan_out(self, feed: Feed, batch: list[Message]) -> None:
        feed.seq = batch[-1].seq
        counters = self.counters
        now_ms = time.time() * 1000
        counters.fanout_batches += 1
        counters.fanout_messages += len(batch)
        counters.fanout_lag_ms_sum += sum(now_ms - m.created_at_ms for m in batch)
        counters.fanout_lag_ms_last = now_ms - batch[-1].created_at_ms
        for sub in list(feed.subs):
            sub.offer(batch, counters)
        feed.answers = {}
        for waiter in feed.waiters:
            if not waiter.done():
                waiter.set_result(None)
        feed.waiters.clear()

    async def check_versions(self) -> None:
        """The safety net: the watched channels' versions, read in one batch."""
        channels = list(self.feeds)
        if not channels:
            return
        found = await asyncio.gather(*(self.latest(c) for c in channels),
                                     return_exceptions=True)
        for channel, seq in zip(channels, found, strict=True):
            if isinstance(seq, int):
                self.announce(channel, seq)

    async def _run(self) -> None:
        presence_at = time.monotonic()
        while True:
            pushes = self.state.chat.pushes
            healthy = pushes is not None and pushes.healthy()
            await asyncio.sleep(self.check_s if healthy else self.check_s / 10)
            try:
                self.reap(now_s=time.monotonic())
                await self.check_versions()
                if time.monotonic() - presence_at > PRESENCE_EVERY_S:
                    presence_at = time.monotonic()
                    for channel, feed in self.feeds.items():
                        for sub in feed.subs:
                            self.state.presence.mark(channel, sub.user_id)
            except Exception:
                log.exception("realtime safety-net check failed")

    def start(self) -> None:
        pushes = self.state.chat.pushes
        if pushes is not None:
            pushes.on_version(self.announce)
            pushes.on_subscribe(self._resubscribed)
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.notifications.start()

    def _resubscribed(self) -> None:
        """Announcements may have been missed while unsubscribed: re-read every version."""
        asyncio.get_running_loop().create_task(self.check_versions())

    async def stop(self) -> None:
        await self.notifications.stop()
        tasks = [t for t in (self._task, *(f.task for f in self.feeds.values())) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 2)
