"""The poll-by-poll simulation of the source's cursor-keyed answer cache."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.sweep.seed_cache import seed_cache_delays


def test_without_a_cache_the_wait_is_uniform_over_one_interval() -> None:
    rng = np.random.default_rng(0)
    created = np.sort(rng.uniform(0, 600_000, 3000))
    delays = seed_cache_delays(
        created_ms=created,
        users=20,
        interval_ms=2000,
        ttl_ms=0,
        start_ms=-2000,
        end_ms=600_000,
        rng=rng,
    )
    assert delays.size == 3000 * 20
    assert delays.min() >= 0 and delays.max() < 2000
    assert delays.mean() == pytest.approx(1000, rel=0.02)


def test_a_cached_empty_answer_hides_the_message_until_it_expires() -> None:
    """One receiver, polls every 1 s from phase p; the poll at p caches 'nothing new' for 5 s."""
    phase = np.random.default_rng(7).random(1)[0] * 1000
    delays = seed_cache_delays(
        created_ms=np.array([phase + 500.0]),
        users=1,
        interval_ms=1000,
        ttl_ms=5000,
        start_ms=0,
        end_ms=10_000,
        rng=np.random.default_rng(7),
    )
    # polls at p+1000 .. p+4000 hit the cached empty answer; p+5000 reads the database
    assert delays.tolist() == [pytest.approx(4500.0)]


def test_staleness_stays_below_ttl_plus_one_interval() -> None:
    rng = np.random.default_rng(1)
    created = np.sort(rng.uniform(0, 300_000, 600))
    fresh = seed_cache_delays(
        created_ms=created,
        users=30,
        interval_ms=2000,
        ttl_ms=0,
        start_ms=-7000,
        end_ms=300_000,
        rng=np.random.default_rng(2),
    )
    stale = seed_cache_delays(
        created_ms=created,
        users=30,
        interval_ms=2000,
        ttl_ms=5000,
        start_ms=-7000,
        end_ms=300_000,
        rng=np.random.default_rng(2),
    )
    assert stale.size == fresh.size
    assert stale.mean() > fresh.mean() + 500  # the cache does hide messages
    assert stale.max() <= 5000 + 2 * 2000
