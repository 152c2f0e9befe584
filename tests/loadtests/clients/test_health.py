"""The generator's own health: hub lag from a sentinel greenlet, GC pauses from gc.callbacks."""

from __future__ import annotations

import gc
import time

import gevent

from loadtests.clients.health import GcPauses, LoopLag, lag_summary


def test_lag_summary_percentiles_and_stalls() -> None:
    lags = [1.0] * 98 + [150.0, 400.0]
    summary = lag_summary(lags)
    assert summary["samples"] == 100 and summary["p50_ms"] == 1.0
    assert summary["max_ms"] == 400.0 and summary["over_100ms"] == 2
    assert lag_summary([]) == {"samples": 0}


def test_a_blocked_hub_shows_as_lag() -> None:
    lag = LoopLag(period_s=0.01)
    lag.start()
    gevent.sleep(0.05)
    time.sleep(0.2)  # a stretch of Python that never yields to the hub
    gevent.sleep(0.05)
    lag.stop()
    assert max(lag.lags_ms) >= 150.0


def test_gc_pauses_are_timed_per_generation() -> None:
    pauses = GcPauses()
    pauses.start()
    try:
        gc.collect(2)
    finally:
        pauses.stop()
    summary = pauses.summary()
    assert summary["gen2"]["count"] >= 1 and summary["gen2"]["total_ms"] >= 0.0
    assert pauses._callback not in gc.callbacks
