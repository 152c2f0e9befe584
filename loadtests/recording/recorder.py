"""The load test's latency recorder: samples into Redis sorted sets, in batches.

Each Locust process owns one :class:`Recorder`. Users append plain tuples to
in-memory buffers (a list append, no I/O on the poll path); a greenlet ships them
every ``flush_interval_s`` (<= 1 s) as one pipeline of ``ZADD``s and ``HINCRBY``s,
and :meth:`Recorder.stop` ships the rest. The synchronous redis-py client is used
on purpose: Locust monkey-patches sockets, so it yields to other users while
waiting, and asyncio clients have no loop to run on here.

Keys and member layouts are in :mod:`loadtests.recording.keys` (and
``docs/internals.md``); members are

* ``poll``:          ``{user}:{n}:{latency_ms}:{channel}``
* ``message``:       ``{user}:{n}:{latency_ms}:{channel}:{seq}``
* ``notification``:  ``{user}:{n}:{latency_ms}``
* ``reconnect``:     ``{user}:{n}:{latency_ms}`` (time from a dropped connection to resumed)
* ``error``:         ``{user}:{n}:{latency_ms}:{name}`` (a failed request, by request name)

and every send's outcome by client reference goes to ``run:{run}:sends``
(:mod:`loadtests.clients.sends`; a later record of a reference replaces the earlier).
``n`` is the user's own sample number per type, so equal latencies never merge
into one member (the source's ``user:latency`` member does exactly that).
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import orjson
import redis

from loadtests.recording import resp
from loadtests.recording.increments import increments_command
from loadtests.recording.keys import (
    RECORDER_COMMANDS_FIELD,
    TEST_STARTED_FIELD,
    generator_field,
    live_polls_field,
    live_samples_field,
    new_run_id,
    run_counters_key,
    run_flushes_key,
    run_live_key,
    run_meta_key,
    run_users_key,
)
from loadtests.recording.rows import (
    ErrorRow,
    MessageRow,
    NotificationRow,
    PollRow,
    ReconnectRow,
    outcome_commands,
    sample_commands,
)

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0
ZADD_CHUNK = 5000
STOP_WAIT_S = 30.0  # how long stop() lets a flush in progress finish
MAX_BUFFERED_SAMPLES = 2_000_000  # past this, a dead Redis costs samples, not memory
MAX_UNACKED_BATCHES = 3_600  # counter batches kept for re-sending (an hour of flushes)

# new_run_id is re-exported: analysis.capacity imports it from here
__all__ = ["Recorder", "new_run_id"]


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
        self._reconnects: list[ReconnectRow] = []
        self._errors: list[ErrorRow] = []
        self._sends: list[tuple[str, bytes]] = []  # (client reference, JSON record)
        self._counters: Counter[str] = Counter()
        self._live_source = live
        self.process = process
        self._users: list[bytes] = []
        self._loop: gevent.Greenlet | None = None
        self._stopping = gevent.event.Event()
        self._kick = gevent.event.Event()  # flush_soon(): flush now, not at the next tick
        self._kicked: list[gevent.event.Event] = []  # set once the asked-for flush is done
        self.paused = False  # the bench's toggle: no timed flush while recording is off
        self._dropped = 0
        self._flush_seq = 0  # this recorder's flush number (increments.py)
        self._flusher = f"{process}:{secrets.token_hex(4)}"  # a reused run id starts afresh
        self._unacked: list[bytes] = []  # counter batches not known to have landed
        self._counted_ahead = 0  # re-queued samples an unacked batch already counts

    # -- the hot path: appends only -------------------------------------------------

    def poll(self, *, t_ms: float, user: str, n: int, latency_ms: float, channel: str) -> None:
        self._polls.append((t_ms, user, n, latency_ms, channel))

    def message(
        self, *, t_ms: float, user: str, n: int, latency_ms: float, channel: str, seq: int
    ) -> None:
        self._messages.append((t_ms, user, n, latency_ms, channel, seq))

    def notification(self, *, t_ms: float, user: str, n: int, latency_ms: float) -> None:
        self._notifications.append((t_ms, user, n, latency_ms))

    def reconnect(self, *, t_ms: float, user: str, n: int, latency_ms: float) -> None:
        self._reconnects.append((t_ms, user, n, latency_ms))

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
        raw: Any = self._redis.srandmember(run_users_key(run_id=self.run_id))
        return None if raw is None else orjson.loads(raw)

    def note_generator(self, figures: dict[str, Any]) -> None:
        """Store this process's generator health (hub lag, GC) in the run's meta."""
        field = generator_field(self.process)
        self._redis.hset(run_meta_key(run_id=self.run_id), field, orjson.dumps(figures))

    def mark_test_start(self, t_ms: float) -> None:
        """Record when Locust's test (and its shape clock) started; the first process wins."""
        self._redis.hsetnx(run_meta_key(run_id=self.run_id), TEST_STARTED_FIELD, str(int(t_ms)))

    # -- shipping ------------------------------------------------------------------

    def flush(self) -> int:
        """Ship everything buffered in one pipeline; returns the number of samples sent."""
        polls, self._polls = self._polls, []
        messages, self._messages = self._messages, []
        notes, self._notifications = self._notifications, []
        reconnects, self._reconnects = self._reconnects, []
        counters, self._counters = self._counters, Counter()
        live = self._live_source() if self._live_source is not None else {}
        users, self._users = self._users, []
        errors, self._errors = self._errors, []
        sends, self._sends = self._sends, []
        sent = len(polls) + len(messages) + len(notes) + len(reconnects)
        if not (sent or counters or live or users or errors or sends or self._unacked):
            return 0
        outcomes = outcome_commands(self.run_id, errors=errors, sends=sends, chunk=ZADD_CHUNK)
        commands = self._commands(polls, messages, notes, reconnects, live, users, outcomes)
        fresh, self._counted_ahead = sent - self._counted_ahead, 0
        pending = [*self._unacked, self._increments(counters, fresh, len(commands))]
        try:
            resp.ship(self._redis, commands + pending)
        except BaseException as exc:  # Redis errors, and a kill while the batch was in flight
            self._users[:0] = users
            self._reconnects[:0] = reconnects  # few: kept whatever the bound
            self._errors[:0] = errors
            self._sends[:0] = sends
            self._unacked = pending[-MAX_UNACKED_BATCHES:]  # re-sent as they are: count once
            self._counted_ahead = len(reconnects) + self._requeue(polls, messages, notes, exc)
            if not isinstance(exc, redis.RedisError):
                raise
            return 0
        self._unacked = []
        return sent

    def _commands(
        self,
        polls: list[PollRow],
        messages: list[MessageRow],
        notes: list[NotificationRow],
        reconnects: list[ReconnectRow],
        live: dict[str, str | int | float],
        users: list[bytes],
        outcomes: list[bytes],
    ) -> list[bytes]:
        """A flush's commands that may be sent twice: the samples' ZADDs, the live
        figures, users, the error samples and send records (``outcomes``)."""
        run = self.run_id
        live_key = run_live_key(run_id=run)
        commands = sample_commands(run, polls=polls, messages=messages, notes=notes,
                                   reconnects=reconnects, chunk=ZADD_CHUNK)
        if live:
            commands.append(resp.command("HSET", live_key, *(x for kv in live.items() for x in kv)))
        if users:
            commands.append(resp.command("SADD", run_users_key(run_id=run), *users))
        commands += outcomes
        return commands

    def _increments(self, counters: Counter[str], sent: int, n_commands: int) -> bytes:
        """This flush's counter and live increments as one apply-once batch, with the
        recorder's own load on Redis (so capacity plans can leave it out)."""
        self._flush_seq += 1
        run = self.run_id
        live = {live_samples_field(self.process): sent,
                # this process's share of the run's polls counter
                live_polls_field(self.process): counters.get("polls", 0)}
        return increments_command(
            counters_key=run_counters_key(run_id=run), live_key=run_live_key(run_id=run),
            flushes_key=run_flushes_key(run_id=run), flusher=self._flusher, seq=self._flush_seq,
            counters={**counters, RECORDER_COMMANDS_FIELD: n_commands + 1}, live=live,
        )

    def _requeue(
        self,
        polls: list[PollRow],
        messages: list[MessageRow],
        notes: list[NotificationRow],
        exc: BaseException,
    ) -> int:
        """Keep what failed to ship for the next flush, up to a memory bound; returns the
        number of samples kept."""
        log.warning("recorder flush failed (%s); keeping samples for the next flush", exc)
        n = len(polls) + len(messages) + len(notes)
        if len(self._polls) + n > MAX_BUFFERED_SAMPLES:
            self._dropped += n
            return 0
        self._polls[:0] = polls
        self._messages[:0] = messages
        self._notifications[:0] = notes
        return n

    def start(self) -> None:
        """Start the background flusher (a greenlet; Locust runs under gevent)."""
        if self._loop is None:
            self._stopping = gevent.event.Event()
            self._kick = gevent.event.Event()
            self._loop = gevent.spawn(self._run, self._stopping, self._kick)

    def flush_soon(self) -> gevent.event.Event:
        """Have the flusher ship what is buffered now rather than at its next tick; the
        event is set once that flush is done (or the flusher stopped)."""
        done = gevent.event.Event()
        self._kicked.append(done)
        self._kick.set()
        return done

    def _run(self, stopping: gevent.event.Event, kick: gevent.event.Event) -> None:
        while True:
            kick.wait(timeout=self.flush_interval_s)
            kick.clear()
            waiting, self._kicked = self._kicked, []
            try:
                if stopping.is_set():
                    return
                if self.paused and not waiting:
                    continue
                self.flush()
            except Exception:  # a bug in a flush must not kill the recorder silently
                log.exception("recorder flush crashed")
            finally:
                for done in waiting:
                    done.set()

    def stop(self, *, timeout_s: float = STOP_WAIT_S) -> None:
        """Stop the flusher and ship what is left (called at test stop).

        The flusher is asked to stop and waited for, never killed mid-flush: a kill
        while its batch waits on Redis dropped that batch (the end-of-run race in which
        a chaos run's last sends lost their records). Only a flush stuck past
        ``timeout_s`` is killed, and its batch goes back into the buffers for the
        final flush below.
        """
        if self._loop is not None:
            self._stopping.set()
            self._kick.set()
            self._loop.join(timeout=timeout_s)
            self._loop.kill(block=True)  # a no-op unless it overran
            self._loop = None
        self.flush()
        if self._dropped:
            log.error("recorder dropped %d samples while Redis was unreachable", self._dropped)

    def close(self) -> None:
        self.stop()
        self._redis.close()
