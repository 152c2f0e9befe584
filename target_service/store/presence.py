"""Presence (who polled a channel in the last 30 s) and the channel message rate.

A Redis write per poll would cost as much as the poll, so polls only note
``(channel, user, time)`` in memory; a background flush every ``flush_ms`` writes them
with one pipeline (``ZADD chat:online:{channel} {user: ms}``), trims entries older than
the window, and reads back per watched channel the online count (``ZCARD``) and the
number of messages in the rate window (``ZCOUNT chat:times:{channel}``). Polls read
those figures from memory, so ``activeUsers`` lags real presence by at most one flush.
The sorted set replaces the source's ``channel:{id}:users`` set, from which nothing was
ever removed, so departed users now drop out after the window.
"""

from __future__ import annotations

import math
import time

from target_service.store.backends import RedisDown, RedisGuard
from target_service.store.keys import message_times_key, online_key

WATCH_S = 120.0  # keep refreshing a channel's figures this long after its last poll




class Presence:
    def __init__(self, *, redis: RedisGuard, window_s: float, rate_window_s: int) -> None:
        self.redis = redis
        self.window_s = window_s
        self.rate_window_s = rate_window_s
        self._seen: dict[str, dict[str, float]] = {}
        self._watched: dict[str, float] = {}
        self._active: dict[str, int] = {}
        self._rate_per_s: dict[str, float] = {}

    def mark(self, channel_id: str, user_id: int) -> None:
        now_ms = time.time() * 1000
        users = self._seen.get(channel_id)
        if users is None:
            users = self._seen[channel_id] = {}
        users[str(user_id)] = now_ms
        self._watched[channel_id] = now_ms

    def active_users(self, channel_id: str) -> int:
        return self._active.get(channel_id, 0)

    def message_rate_per_s(self, channel_id: str) -> float:
        return self._rate_per_s.get(channel_id, 0.0)

    def watch(self, channel_id: str) -> None:
        self._watched[channel_id] = time.time() * 1000

    def forget(self) -> None:
        """Presence and rate unknown (Redis down): report 0 rather than stale figures."""
        self._active.clear()
        self._rate_per_s.clear()

    async def flush(self) -> None:
        """Write buffered presence, refresh the figures of watched channels."""
        seen, self._seen = self._seen, {}
        now_ms = time.time() * 1000
        for channel, last_ms in list(self._watched.items()):
            if now_ms - last_ms > WATCH_S * 1000:
                del self._watched[channel]
                self._active.pop(channel, None)
                self._rate_per_s.pop(channel, None)
        channels = list(self._watched)
        if not channels and not seen:
            return
        ttl_s = max(1, math.ceil(self.window_s))
        cutoff_ms = now_ms - self.window_s * 1000
        rate_cutoff_ms = now_ms - self.rate_window_s * 1000

        async def run(r):
            pipe = r.pipeline(transaction=False)
            for channel, users in seen.items():
                pipe.zadd(online_key(channel), users)
                pipe.expire(online_key(channel), ttl_s)
            for channel in channels:
                pipe.zremrangebyscore(online_key(channel), "-inf", f"({cutoff_ms}")
                pipe.zcard(online_key(channel))
                pipe.zcount(message_times_key(channel), f"({rate_cutoff_ms}", "+inf")
            return await pipe.execute()

        try:
            results = await self.redis.call(run)
        except RedisDown:
            self.forget()
            return
        tail = results[2 * len(seen):]
        for i, channel in enumerate(channels):
            self._active[channel] = int(tail[3 * i + 1])
            self._rate_per_s[channel] = int(tail[3 * i + 2]) / self.rate_window_s
