"""Time to recover and timelines on synthetic sample arrays (fixed seeds, stated rules)."""

from __future__ import annotations

import numpy as np

from analysis.chaos.recovery import (
    Deliveries,
    RecoveryRule,
    Requests,
    baseline,
    longest_ms,
    time_to_recover_s,
    timeline,
    window_recovered,
)

T0 = 1_000_000.0


def _steady(seconds: range, *, per_s: int = 20, latency_ms: float = 10.0) -> list[float]:
    return [T0 + s * 1000 + i * (1000 / per_s) for s in seconds for i in range(per_s)]


def _scenario(*, fault: range, backlog_until_s: int) -> tuple[Requests, Deliveries]:
    """20 req/s; requests in ``fault`` fail; deliveries stay late until ``backlog_until_s``."""
    t = np.array(_steady(range(0, 60)))
    second = ((t - T0) // 1000).astype(int)
    ok = ~np.isin(second, list(fault))
    requests = Requests.of(t, ok, np.full(t.size, 10.0))
    dt = np.array(_steady(range(0, 60), per_s=10))
    dsec = ((dt - T0) // 1000).astype(int)
    late = (dsec >= fault.start) & (dsec < backlog_until_s)
    deliveries = Deliveries.of(dt, np.where(late, 9000.0, 1000.0))
    return requests, deliveries


def test_recovery_waits_for_errors_to_stop_and_the_backlog_to_drain() -> None:
    requests, deliveries = _scenario(fault=range(20, 30), backlog_until_s=33)
    base = baseline(requests=requests, deliveries=deliveries, start_ms=T0 + 5000, end_ms=T0 + 20000)
    assert base.success_ratio == 1.0 and base.delivery_p95_ms == 1000.0
    assert base.requests_per_s == 20.0
    heal_ms = T0 + 30_000
    recover_s = time_to_recover_s(
        requests=requests, deliveries=deliveries, heal_ms=heal_ms, until_ms=T0 + 60_000, base=base
    )
    assert recover_s == 4.0  # seconds 30..32 still late, window [33, 34) is the first good one


def test_errors_after_healing_delay_recovery_and_no_requests_never_count() -> None:
    requests, deliveries = _scenario(fault=range(20, 36), backlog_until_s=0)
    base = baseline(requests=requests, deliveries=deliveries, start_ms=T0, end_ms=T0 + 20000)
    got = time_to_recover_s(requests=requests, deliveries=deliveries, heal_ms=T0 + 30_000,
                            until_ms=T0 + 60_000, base=base)
    assert got == 7.0
    empty = Requests.of([], [], [])
    assert not window_recovered(requests=empty, deliveries=deliveries, start_ms=T0, base=base)
    assert time_to_recover_s(requests=requests, deliveries=deliveries, heal_ms=T0 + 30_000,
                             until_ms=T0 + 35_000, base=base) is None


def test_one_error_in_a_window_of_twenty_is_below_99_percent() -> None:
    t = np.array(_steady(range(0, 2)))
    ok = np.ones(t.size, dtype=bool)
    ok[25] = False  # second 1
    requests = Requests.of(t, ok, np.zeros(t.size))
    deliveries = Deliveries.of([], [])
    base = baseline(requests=requests, deliveries=deliveries, start_ms=T0, end_ms=T0 + 1000)
    assert window_recovered(requests=requests, deliveries=deliveries, start_ms=T0, base=base)
    assert not window_recovered(requests=requests, deliveries=deliveries, start_ms=T0 + 1000,
                                base=base)
    lenient = RecoveryRule(success_share=0.9)
    assert window_recovered(requests=requests, deliveries=deliveries, start_ms=T0 + 1000,
                            base=base, rule=lenient)


def test_timeline_counts_per_second_and_longest_request() -> None:
    requests = Requests.of([T0 + 100, T0 + 900, T0 + 1500, T0 + 3100], [True, False, True, True],
                           [5.0, 30_000.0, 7.0, 9.0])
    deliveries = Deliveries.of([T0 + 1200], [800.0])
    frame = timeline(requests=requests, deliveries=deliveries, t0_ms=T0)
    assert frame["second"].tolist() == [0, 1, 2, 3]
    assert frame["requests"].tolist() == [2, 1, 0, 1]
    assert frame["errors"].tolist() == [1, 0, 0, 0]
    assert frame["delivery_p95_ms"].iloc[1] == 800.0 and np.isnan(frame["delivery_p95_ms"].iloc[0])
    assert longest_ms(requests, start_ms=T0, end_ms=T0 + 1000) == 30_000.0
    assert longest_ms(requests, start_ms=T0 + 1000, end_ms=T0 + 3000) == 7.0
    assert longest_ms(requests, start_ms=T0 + 5000, end_ms=T0 + 6000) == 0.0
