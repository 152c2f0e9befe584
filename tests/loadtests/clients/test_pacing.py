"""Poll schedules keep their grid; spells fill their share of time; the source's back-off."""

from __future__ import annotations

import random

import pytest

from loadtests.clients.pacing import Pacer, Spells, retry_delay_ms


def test_late_response_does_not_shift_the_grid() -> None:
    pacer = Pacer(next_due_s=10.0, jitter=0.0, rng=random.Random(1))
    # the poll due at 10.0 answered at 11.5 (late but within one 2 s interval)
    assert pacer.advance(interval_s=2.0, now_s=11.5) == 0
    assert pacer.next_due_s == pytest.approx(12.0)


def test_ticks_missed_by_a_whole_interval_are_dropped() -> None:
    pacer = Pacer(next_due_s=10.0, jitter=0.0, rng=random.Random(1))
    skipped = pacer.advance(interval_s=2.0, now_s=17.0)  # a 7 s stall
    assert skipped == 2
    assert 15.0 < pacer.next_due_s <= 17.0 + 2.0
    assert (pacer.next_due_s - 10.0) % 2.0 == pytest.approx(0.0)


def test_long_run_rate_matches_the_interval_with_jitter() -> None:
    rng = random.Random(7)
    pacer = Pacer.start(now_s=0.0, interval_s=2.0, jitter=0.05, rng=rng)
    assert 0.0 <= pacer.next_due_s <= 2.0
    for _ in range(1000):
        pacer.advance(interval_s=2.0, now_s=pacer.next_due_s)
    assert pacer.next_due_s / 1000 == pytest.approx(2.0, rel=0.01)


def test_random_phases_spread_users() -> None:
    rng = random.Random(3)
    phases = [
        Pacer.start(now_s=0.0, interval_s=2.0, jitter=0.05, rng=rng).next_due_s for _ in range(2000)
    ]
    counts = [sum(1 for p in phases if k * 0.2 <= p < (k + 1) * 0.2) for k in range(10)]
    assert min(counts) > 150 and max(counts) < 250


def test_spells_fill_their_share() -> None:
    spells = Spells.begin(share=0.2, mean_s=10.0, now_s=0.0, rng=random.Random(5))
    away = sum(1 for t in range(0, 200_000) if spells.away_until(t / 10) is not None)
    assert away / 200_000 == pytest.approx(0.2, abs=0.03)


def test_disabled_spells_never_fire() -> None:
    spells = Spells.begin(share=0.0, mean_s=10.0, now_s=0.0, rng=random.Random(5))
    assert all(spells.away_until(float(t)) is None for t in range(0, 10_000, 7))


def test_backoff_is_the_sources() -> None:
    assert [retry_delay_ms(n) for n in range(7)] == [1000, 2000, 4000, 8000, 16000, 30000, 30000]
