"""Push counters and reconnect samples: recorder -> Redis -> swarm summary (real Valkey)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from loadtests.recording.keys import samples_key
from loadtests.recording.recorder import Recorder
from loadtests.recording.samples import read_counters
from loadtests.swarm.summary import push_summary
from target_service.embedded.stack import StackInfo

RUN = "t-push"


def test_push_counters_and_reconnect_samples_reach_the_summary(
    clean_backends: StackInfo, client: redis.Redis
) -> None:
    peaks: Iterator[dict[str, str | int | float]] = iter(
        [{"connections:p1": 3, "connections_peak:p1": 5}])
    rec = Recorder(
        redis_url=clean_backends.redis_url, run_id=RUN, live=lambda: next(peaks, {}), process="p1"
    )
    for n, latency_ms in enumerate((12.5, 12.5, 40.0, 900.0), start=1):
        rec.reconnect(t_ms=1000.0 + n, user="7", n=n, latency_ms=latency_ms)
    for field, n in (
        ("connects", 9),
        ("reconnects", 4),
        ("forced_drops", 3),
        ("disconnects", 8),
        ("messages_resumed", 11),
    ):
        rec.count(field, n)
    assert rec.flush() == 4
    client.hset(f"run:{RUN}:live", "connections_peak:p2", 2)  # a second Locust process

    members: Any = client.zrange(samples_key(run_id=RUN, sample_type="reconnect"), 0, -1)
    assert sorted(m.decode() for m in members) == [
        "7:1:12.500",
        "7:2:12.500",
        "7:3:40.000",
        "7:4:900.000",  # equal times stay two
    ]
    counters = read_counters(client, run_id=RUN)
    s = push_summary(client, run_id=RUN, meta={"realtime": "sse"}, counters=counters)
    assert s["realtime"] == "sse"
    assert (s["connects"], s["reconnects"], s["forced_drops"], s["disconnects"]) == (9, 4, 3, 8)
    assert s["messages_resumed"] == 11
    assert s["connections_peak"] == 5 + 2
    assert s["reconnect_ms"]["p50"] == pytest.approx(26.2, abs=0.1)
    assert s["reconnect_ms"]["max"] == 900.0


def test_a_polling_run_has_zero_push_figures(
    clean_backends: StackInfo, client: redis.Redis
) -> None:
    counters = read_counters(client, run_id="t-none")
    s = push_summary(client, run_id="t-none", meta={}, counters=counters)
    assert s["realtime"] == "polling" and s["connects"] == s["connections_peak"] == 0
    assert s["reconnect_ms"]["p50"] is None
