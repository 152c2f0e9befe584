"""Checks for test_stats_rows.py, run in a fresh interpreter: importing Locust
monkey-patches the process (gevent), which the test session must not be."""

from __future__ import annotations

import json
import sys
from typing import Any

from locust import User, constant, task
from locust import stats as locust_stats
from locust.env import Environment

from loadtests.clients.stats_rows import StatsRows, only_locust_listens

ROWS = [  # (type, name, response time ms, length): spread over Locust's buckets
    ("GET", "poll", 0.4, 120), ("GET", "poll", 7.6, 120), ("GET", "poll", 148.0, 0),
    ("GET", "poll", 3456.7, 10), ("DELIVERY", "message", 12.25, 0),
    ("GET", "poll", 58760.0, 1), ("DELIVERY", "message", 0.0, 0),
]
FIELDS = ("num_requests", "num_failures", "total_response_time", "min_response_time",
          "max_response_time", "response_times", "total_content_length")


class _Tab(User):
    wait_time = constant(1)

    @task
    def nothing(self) -> None:
        pass


def _environment() -> Environment:
    env = Environment(user_classes=[_Tab])
    env.create_local_runner()
    return env


def _figures(entry: Any) -> dict[str, Any]:
    out = {name: getattr(entry, name) for name in FIELDS}
    out["response_times"] = dict(out["response_times"])
    out["requests_this_second"] = sum(entry.num_reqs_per_sec.values())
    return out


def _stats_figures(env: Environment) -> dict[Any, dict[str, Any]]:
    figures: dict[tuple[str, str] | str, dict[str, Any]] = {
        key: _figures(entry) for key, entry in env.stats.entries.items()}
    figures["total"] = _figures(env.stats.total)
    return figures


def test_direct_rows_equal_the_request_event() -> None:
    fired, direct = _environment(), _environment()
    rows = StatsRows(direct)
    assert rows.direct
    for kind, name, rt, length in ROWS:
        fired.events.request.fire(request_type=kind, name=name, response_time=rt,
                                  response_length=length, exception=None, context={})
        rows.ok(kind, name, rt, length)
    assert _stats_figures(direct) == _stats_figures(fired)


def test_a_batch_equals_one_row_per_delivery() -> None:
    one_by_one, batched = _environment(), _environment()
    times = [12.25, 0.5, 990.0, 1_204.0, 3.0]
    for rt in times:
        StatsRows(one_by_one).ok("DELIVERY", "message", rt, 0)
    StatsRows(batched).ok_many("DELIVERY", "message", times)
    StatsRows(batched).ok_many("DELIVERY", "message", [])  # nothing: no row, no change
    assert _stats_figures(batched) == _stats_figures(one_by_one)
    assert batched.stats.entries[("message", "DELIVERY")].num_requests == len(times)


def test_a_custom_bucketing_is_followed() -> None:
    fired, direct = _environment(), _environment()
    original = locust_stats.bucket_response_time
    locust_stats.bucket_response_time = lambda response_time: int(response_time // 50) * 50
    for kind, name, rt, length in ROWS:
        fired.events.request.fire(request_type=kind, name=name, response_time=rt,
                                  response_length=length, exception=None, context={})
        StatsRows(direct).ok(kind, name, rt, length)
    assert _stats_figures(direct) == _stats_figures(fired)
    locust_stats.bucket_response_time = original
    assert set(direct.stats.total.response_times) <= {0, 50, 100, 3450, 58750}


def test_another_listener_gets_every_row() -> None:
    env = _environment()
    seen: list[tuple[str, float, Any]] = []
    env.events.request.add_listener(
        lambda name, response_time, exception, **_: seen.append((name, response_time, exception)))
    assert not only_locust_listens(env)
    rows = StatsRows(env)
    rows.ok("GET", "poll", 5.0, 10)
    rows.ok_many("DELIVERY", "message", [1.0, 2.0])
    rows.failed("GET", "poll", 9.0, 0, TimeoutError("timed out"))
    assert [(n, rt) for n, rt, _ in seen] == [("poll", 5.0), ("message", 1.0), ("message", 2.0),
                                              ("poll", 9.0)]
    assert isinstance(seen[-1][2], TimeoutError)
    assert env.stats.total.num_requests == 4 and env.stats.total.num_failures == 1


def test_a_failure_goes_through_the_event_and_logs_its_error() -> None:
    env = _environment()
    rows = StatsRows(env)
    assert rows.direct
    rows.failed("GET", "poll", 30_000.0, 0, TimeoutError("timed out after 30 s"))
    entry = env.stats.entries[("poll", "GET")]
    assert entry.num_requests == 1 and entry.num_failures == 1
    assert [repr(e.error) for e in env.stats.errors.values()] == [
        "TimeoutError('timed out after 30 s')"]


if __name__ == "__main__":
    results: dict[str, str] = {}
    for name in sys.argv[1:]:
        try:
            globals()[name]()
            results[name] = "ok"
        except AssertionError as exc:
            results[name] = f"failed: {exc!r}"
    print(json.dumps(results))
