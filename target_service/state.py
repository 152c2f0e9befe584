"""What the lifespan opens and the routes use: pools, caches, trackers, the background loop.

One :class:`AppState` per worker process, built in the lifespan (never at import time)
and reached by routes through ``request.app.state.svc`` (see ``deps.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis

from target_service.cpu_load import LoadMeter
from target_service.log_limit import LogLimiter
from target_service.policy import ThresholdPolicy, load_policy
from target_service.prom import PromMetrics
from target_service.settings import Settings
from target_service.store.backends import (
    RedisGuard,
    close_redis,
    create_schema,
    open_redis,
)
from target_service.store.cache import FreshChatCache
from target_service.store.db import Db
from target_service.store.invalidation import Invalidations
from target_service.store.metrics import LatencyRecorder
from target_service.store.notifications import Notifications
from target_service.store.presence import Presence
from target_service.store.resp import RespClient
from target_service.store.users import TokenCache

log = logging.getLogger("pollcap.service")
STOP_TIMEOUT_S = 5.0


@dataclass
class Counters:
    """Plain counts the Prometheus gauges read (one worker's, since it started)."""

    db_queries: int = 0
    seed_cache_hits: int = 0  # --cache seed: whole answers served from Redis
    seed_cache_misses: int = 0


@dataclass
class AppState:
    settings: Settings
    policy: ThresholdPolicy
    redis: RedisGuard
    db: Db
    chat: FreshChatCache
    presence: Presence
    notifications: Notifications
    recorder: LatencyRecorder
    load: LoadMeter
    tokens: TokenCache
    prom: PromMetrics
    counters: Counters = field(default_factory=Counters)
    log_limiter: LogLimiter = field(default_factory=LogLimiter)  # overload warnings
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False
    _intervals: dict[tuple[int, float, float], int] = field(default_factory=dict)

    def interval_ms(self, channel_id: str, active_users: int) -> int:
        """The policy's answer, memoised: its inputs change once per flush, not per poll."""
        key = (active_users, self.presence.message_rate_per_s(channel_id), self.load.load)
        found = self._intervals.get(key)
        if found is None:
            if len(self._intervals) > 10_000:
                self._intervals.clear()
            found = self._intervals[key] = self.policy.interval_ms(
                active_users=key[0], message_rate_per_s=key[1], server_load=key[2]
            )
        return found

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._background())
        if self.chat.pushes is not None:
            self.chat.pushes.start()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            # A cancel can be swallowed by a client library that turns it into a timeout
            # (seen with redis-py under Python 3.11); the flag ends the loop regardless.
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_TIMEOUT_S)
        if self.chat.pushes is not None:
            await self.chat.pushes.stop()
        with contextlib.suppress(Exception):
            await self._tick()  # last flush of presence, versions and samples
        self.log_limiter.flush(force=True)  # the count of a burst still under way
        await close_redis(self.redis)
        try:
            await asyncio.wait_for(self.db.pool.close(), STOP_TIMEOUT_S)
        except TimeoutError:
            self.db.pool.terminate()  # a connection still busy: do not hang the shutdown

    async def _background(self) -> None:
        """Flushes batched Redis writes and refreshes the figures polls read from memory."""
        period_s = self.settings.presence_flush_ms / 1000
        ratio = self.settings.metrics_flush_ms / self.settings.presence_flush_ms
        metrics_every = max(1, round(ratio))
        tick = 0
        while not self._stopping:
            await asyncio.sleep(period_s)
            tick += 1
            try:
                await self._tick(metrics=tick % metrics_every == 0)
            except Exception:  # never let the loop die; the next tick retries
                log.exception("background tick failed")

    async def _tick(self, *, metrics: bool = True) -> None:
        self.load.sample()
        self.log_limiter.flush()  # summaries of overload warnings, once per interval
        if not self.redis.up:
            await self.redis.probe()
        if not self.redis.up:
            self.presence.forget()  # presence unknown while Redis is down
            return
        await self.chat.flush_versions()
        await self.notifications.flush_pending()
        started = asyncio.get_running_loop().time()
        await self.presence.flush()
        self.recorder.record("presence", (asyncio.get_running_loop().time() - started) * 1000)
        if metrics:
            await self.recorder.flush()


async def open_state(
    settings: Settings, *, prom: PromMetrics, log_limiter: LogLimiter | None = None,
) -> AppState:
    log_limiter = log_limiter or LogLimiter(interval_s=settings.overload_log_interval_s,
                                            logger=log)
    policy = load_policy(settings.policy)
    client: Redis = open_redis(
        settings.redis_url, max_connections=settings.redis_max_connections,
        timeout_s=settings.redis_timeout_s,
    )
    fast = RespClient(settings.redis_url, timeout_s=settings.redis_timeout_s) if (
        settings.redis_url.startswith("redis://")) else None
    redis = RedisGuard(client, retry_s=settings.redis_retry_s, fast=fast)
    pushes = Invalidations(
        settings.redis_url, heartbeat_s=settings.push_heartbeat_s,
        stale_after_s=settings.push_stale_after_s, timeout_s=settings.redis_timeout_s,
    ) if fast is not None and settings.push_invalidation else None
    counters = Counters()

    def count_query(_record: object) -> None:
        counters.db_queries += 1

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(count_query)

    pool = await asyncpg.create_pool(
        settings.database_url, min_size=settings.pg_min_size, max_size=settings.pg_max_size,
        command_timeout=settings.pg_command_timeout_s, init=init,
    )
    assert pool is not None
    db = Db(pool, acquire_timeout_s=settings.pg_acquire_timeout_s,
            command_timeout_s=settings.pg_command_timeout_s, log_limiter=log_limiter)
    try:
        await create_schema(pool)
    except BaseException:
        await pool.close()
        await client.aclose()
        raise
    await redis.probe()
    state = AppState(
        settings=settings, policy=policy, redis=redis, db=db,
        chat=FreshChatCache(redis=redis, db=db, size=settings.recent_size,
                            max_channels=settings.cache_max_channels, pushes=pushes),
        presence=Presence(redis=redis, window_s=settings.presence_window_s,
                          rate_window_s=settings.rate_window_s),
        notifications=Notifications(redis=redis, db=db,
                                    new_flag_ttl_s=settings.new_flag_ttl_s),
        recorder=LatencyRecorder(
            redis=redis, max_per_s=settings.metrics_max_per_s,
            flush_ms=settings.metrics_flush_ms, retention_s=settings.metrics_retention_s,
            enabled=settings.metrics_enabled,
        ),
        load=LoadMeter(window_s=settings.load_window_s),
        tokens=TokenCache(max_size=settings.token_cache_size),
        prom=prom,
        counters=counters,
        log_limiter=log_limiter,
    )
    redis.on_down(state.presence.forget)  # presence unknown from the first failure on
    return state


__all__ = ["AppState", "open_state"]
