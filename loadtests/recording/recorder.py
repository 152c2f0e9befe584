"""The load test's latency recorder: samples into Redis sorted sets, in batches.

Each Locust process owns one :class:`Recorder`. Users append plain tuples to
in-memory buffers (a list append, no I/O on the poll path); a greenlet ships them
every ``flush_interval_s`` (<= 1 s) as one pipeline of ``ZADD``s and ``HINCRBY``s,
and :meth:`Recorder.stop` ships the rest. The synchronous redis-py client is used
on purpose: Locust monkey-patches sockets, so it yields to other users while
waiting, and asyncio clients have no loop to run on here.

Key layout (``docs/internals.md``): ``metrics:{run}:{type}:latency`` with score =
receive time in ms since the epoch and members

* ``poll``:          ``{user}:{n}:{latency_ms}:{channel}``
* ``message``:       ``{user}:{n}:{latency_ms}:{channel}:{seq}``
* ``notification``:  ``{user}:{n}:{latency_ms}``

the counters hash ``run:{run}:counters``, failed requests as ``error`` samples
(``{user}:{n}:{latency_ms}:{name}``), every send's outcome by client reference in
the hash ``run:{run}:sends`` (:mod:`loadtests.clients.sends`), and ``run:{run}:live`` with each
process's current user count (``users:{process}``) and samples shipped
(``samples:{process}``), which shows every process of a multi-process swarm
reporting. ``n`` is the user's own sample number per type, so equal latencies
never merge into one member (the source's ``user:latency`` member does exactly that).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import gevent
import orjson
import redis

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0
ZADD_CHUNK = 5000
MAX_BUFFERED_SAMPLES = 2_000_000  # past this, a dead Redis costs samples, not memory

COUNTER_FIELDS = (
    "messages_sent",
    "messages_delivered",
    "lost",
    "duplicated",
    "reordered",
    "notifications_created",
    "notifications_delivered",
    "errors",
    "polls",
    "poll_late_ms_sum",
)


def new_run_id() -> str:
    """A sortable, unique-enough run id: UTC time plus 16 random bits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{random.randrange(16**4):04x}"


def latency_key(run_id: str, sample_type: str) -> str:
    return f"metrics:{run_id}:{sample_type}:latency"


def counters_key(run_id: str) -> str:
    return f"run:{run_id}:counters"


def meta_key(run_id: str) -> str:
    return f"run:{run_id}:meta"


def live_key(run_id: str) -> str:
    return f"run:{run_id}:live"


def users_key(run_id: str) -> str:
    return f"run:{run_id}:users"


def sends_key(run_id: str) -> str:
    """Hash: client reference -> JSON outcome record of that send (last write wins)."""
    return f"run:{run_id}:sends"


PollRow = tuple[float, str, int, float, str]  # t_ms, user, n, latency_ms, channel
MessageRow = tuple[float, str, int, float, str, int]  # ... channel, seq
NotificationRow = tuple[float, str, int, float]
ErrorRow = tuple[float, str, int, float, str]  # t_ms, user, n, latency_ms, request name


class Recorder:
    """Buffers samples and counter increments; ships them to Redis in batches."""

    def __init__(
        self,
        *,
        redis_url: str,
        run_id: str,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        live: Callable[[], dict[str, str | int | float]] | None = None,
        process: str = "main",
    ) -> None:
        if not 0 < flush_interval_s <= 1.0:
            raise ValueError("flush_interval_s must be within (0, 1] s")
        self.run_id = run_id
        self.flush_interval_s = flush_interval_s
        self._redis = redis.Redis.from_url(redis_url)
        self._polls: list[PollRow] = []
        self._messages: list[MessageRow] = []
        self._notifications: list[NotificationRow] = []
        self._errors: list[ErrorRow] = []
        self._sends: list[tuple[str, bytes]] = []
        self._counters: Counter[str] = Counter()
        self._live_source = live
        self.process = process
        self._users: list[bytes] = []
        self._loop: gevent.Greenlet | None = None
        self._dropped = 0

    # -- the hot path: appends only -------------------------------------------------

    def poll(self, *, t_ms: float, user: str, n: int, latency_ms: float, channel: str) -> None:
        self._polls.append((t_ms, user, n, latency_ms, channel))

    def message(
        self, *, t_ms: float, user: str, n: int, latency_ms: float, channel: str, seq: int
    ) -> None:
        self._messages.append((t_ms, user, n, latency_ms, channel, seq))

    def notification(self, *, t_ms: float, user: str, n: int, latency_ms: float) -> None:
        self._notifications.append((t_ms, user, n, latency_ms))

    def error(self, *, t_ms: float, user: str, n: int, latency_ms: float, name: str) -> None:
        self._errors.append((t_ms, user, n, latency_ms, name))

    def send(self, *, ref: str, record: dict[str, Any]) -> None:
        """The outcome so far of the send ``ref`` (a later record replaces it)."""
        self._sends.append((ref, orjson.dumps(record)))

    def count(self, field: str, n: int = 1) -> None:
        self._counters[field] += n

    def add_user(self, user_id: object) -> None:
        """Register a signed-up user (JSON-encoded id) so any process's producer can pick it."""
        self._users.append(orjson.dumps(user_id))

    def random_user(self) -> object | None:
        """A random registered user id of the run (any process), or None before the first."""
        raw: Any = self._redis.srandmember(users_key(self.run_id))
        return None if raw is None else orjson.loads(raw)

    def mark_test_start(self, t_ms: float) -> None:
        """Record when Locust's test (and its shape clock) started; the first process wins."""
        self._redis.hsetnx(meta_key(self.run_id), "test_started_at_ms", str(int(t_ms)))

    # -- shipping ------------------------------------------------------------------

    def flush(self) -> int:
        """Ship everything buffered in one pipeline; returns the number of samples sent."""
        polls, self._polls = self._polls, []
        messages, self._messages = self._messages, []
        notes, self._notifications = self._notifications, []
        counters, self._counters = self._counters, Counter()
        live = self._live_source() if self._live_source is not None else {}
        users, self._users = self._users, []
        errors, self._errors = self._errors, []
        sends, self._sends = self._sends, []
        sent = len(polls) + len(messages) + len(notes)
        if not sent and not counters and not live and not users and not errors and not sends:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        run = self.run_id
        _zadd(pipe, latency_key(run, "poll"), poll_members(polls))
        _zadd(pipe, latency_key(run, "message"), message_members(messages))
        _zadd(pipe, latency_key(run, "notification"), notification_members(notes))
        _zadd(pipe, latency_key(run, "error"), error_members(errors))
        if sends:
            pipe.hset(sends_key(run), mapping=dict(sends))  # type: ignore[arg-type]
        for field, n in counters.items():
            if n:
                pipe.hincrby(counters_key(run), field, int(n))
        if live:
            pipe.hset(live_key(run), mapping=dict(live))  # type: ignore[arg-type]
        if sent:
            pipe.hincrby(live_key(run), f"samples:{self.process}", sent)
        if users:
            pipe.sadd(users_key(run), *users)
        # The recorder's own load on Redis, so capacity plans can leave it out.
        pipe.hincrby(counters_key(run), "recorder_commands", len(pipe.command_stack) + 1)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            self._users[:0] = users
            self._errors[:0] = errors
            self._sends[:0] = sends
            self._requeue(polls, messages, notes, counters, exc)
            return 0
        return sent

    def _requeue(
        self,
        polls: list[PollRow],
        messages: list[MessageRow],
        notes: list[NotificationRow],
        counters: Counter[str],
        exc: Exception,
    ) -> None:
        """Keep what failed to ship for the next flush, up to a memory bound."""
        log.warning("recorder flush failed (%s); keeping samples for the next flush", exc)
        self._counters.update(counters)
        if len(self._polls) + len(polls) + len(messages) + len(notes) > MAX_BUFFERED_SAMPLES:
            self._dropped += len(polls) + len(messages) + len(notes)
            return
        self._polls[:0] = polls
        self._messages[:0] = messages
        self._notifications[:0] = notes

    def start(self) -> None:
        """Start the background flusher (a greenlet; Locust runs under gevent)."""
        if self._loop is None:
            self._loop = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            gevent.sleep(self.flush_interval_s)
            try:
                self.flush()
            except Exception:  # a bug in a flush must not kill the recorder silently
                log.exception("recorder flush crashed")

    def stop(self) -> None:
        """Stop the flusher and ship what is left (called at test stop)."""
        if self._loop is not None:
            self._loop.kill(block=True)
            self._loop = None
        self.flush()
        if self._dropped:
            log.error("recorder dropped %d samples while Redis was unreachable", self._dropped)

    def close(self) -> None:
        self.stop()
        self._redis.close()


def _zadd(pipe: redis.client.Pipeline, key: str, mapping: dict[str, float]) -> None:
    if not mapping:
        return
    items = list(mapping.items())
    for i in range(0, len(items), ZADD_CHUNK):
        pipe.zadd(key, dict(items[i : i + ZADD_CHUNK]))


def poll_members(rows: list[PollRow]) -> dict[str, float]:
    return {f"{u}:{n}:{lat:.3f}:{c}": round(t, 3) for t, u, n, lat, c in rows}


def message_members(rows: list[MessageRow]) -> dict[str, float]:
    return {f"{u}:{n}:{lat:.3f}:{c}:{s}": round(t, 3) for t, u, n, lat, c, s in rows}


def error_members(rows: list[ErrorRow]) -> dict[str, float]:
    return {f"{u}:{n}:{lat:.3f}:{name}": round(t, 3) for t, u, n, lat, name in rows}


def notification_members(rows: list[NotificationRow]) -> dict[str, float]:
    return {f"{u}:{n}:{lat:.3f}": round(t, 3) for t, u, n, lat in rows}
