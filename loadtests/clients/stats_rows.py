"""Rows in Locust's stats for a fraction of what the request event costs.

Firing ``events.request`` costs about 8.6 µs per row here (keyword arguments, the
hook's loop, Locust's own listener, then ``RequestStats.log_request``). A tab
reports every poll and, as ``DELIVERY`` rows, every message it receives. At 10,000
tabs that is about 13,000 rows a second: a tenth of the Locust process's core.

When Locust's own listener is the only one on the event, :class:`StatsRows` writes
a successful row straight into the two entries that listener would have updated
(the request's and the total). It changes the same fields the same way as
``StatsEntry.log``; ``tests/loadtests/clients/test_stats_rows.py`` compares both
paths. A poll's deliveries go in as one batch per entry, with one clock reading.

Failures still fire the event, so Locust logs the error as usual. If anything else
listens (a plugin, a user's own hook), every row fires the event as before.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from typing import Any

from locust import stats as locust_stats
from locust.env import Environment

# Locust's own listener, as Runner.__init__ defines it (locust 2.x)
LOCUST_LISTENER = "Runner.__init__.<locals>.on_request"


def only_locust_listens(environment: Environment) -> bool:
    """True when the request event's one listener is the runner's own stats logger."""
    handlers = getattr(environment.events.request, "_handlers", None)
    return (
        isinstance(handlers, list)
        and len(handlers) == 1
        and getattr(handlers[0], "__qualname__", "") == LOCUST_LISTENER
    )


def log_rows(entry: Any, response_times_ms: Sequence[float], content_length: int,
             now_s: float) -> None:
    """``entry.log(rt, content_length)`` for every ``rt``, at one clock reading ``now_s``."""
    n = len(response_times_ms)
    if not n:
        return
    second = int(now_s)
    last = entry.last_request_timestamp
    if entry.use_response_times_cache and last and second > int(last):
        entry._cache_response_times(second - 1)
    entry.num_requests += n
    entry.num_reqs_per_sec[second] += n
    entry.last_request_timestamp = now_s
    entry.total_response_time += sum(response_times_ms)
    low, high = min(response_times_ms), max(response_times_ms)
    entry.min_response_time = low if entry.min_response_time is None else min(
        entry.min_response_time, low)
    entry.max_response_time = max(entry.max_response_time, high)
    bucket, counts = locust_stats.bucket_response_time, entry.response_times  # replaceable
    for rt in response_times_ms:
        counts[bucket(rt)] += 1
    entry.total_content_length += content_length * n


class StatsRows:
    """One Locust process's rows: straight into its stats, or through the event."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.fire = environment.events.request.fire
        self.direct = only_locust_listens(environment)

    def ok(self, request_type: str, name: str, response_time_ms: float, length: int) -> None:
        """One successful row."""
        self.ok_many(request_type, name, (response_time_ms,), length)

    def ok_many(self, request_type: str, name: str, response_times_ms: Sequence[float],
                length: int = 0) -> None:
        """Successful rows of one name, ``length`` bytes each (a poll's deliveries)."""
        if not self.direct:
            for rt in response_times_ms:
                self.fire(request_type=request_type, name=name, response_time=rt,
                          response_length=length, exception=None, context={})
            return
        stats, now_s = self.environment.stats, time.time()
        log_rows(stats.entries[(name, request_type)], response_times_ms, length, now_s)
        log_rows(stats.total, response_times_ms, length, now_s)

    def failed(self, request_type: str, name: str, response_time_ms: float, length: int,
               exception: BaseException) -> None:
        """A failed row: always the event (Locust logs the error too)."""
        self.fire(request_type=request_type, name=name, response_time=response_time_ms,
                  response_length=length, exception=exception, context={})


_ROWS: weakref.WeakKeyDictionary[Environment, StatsRows] = weakref.WeakKeyDictionary()


def stats_rows(environment: Environment) -> StatsRows:
    """The process's :class:`StatsRows`, made at the first tab's start (listeners are
    added when Locust loads its plugins and locustfile, before any user starts)."""
    found = _ROWS.get(environment)
    if found is None:
        found = _ROWS[environment] = StatsRows(environment)
    return found
