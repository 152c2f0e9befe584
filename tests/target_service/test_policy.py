"""Interval policies: presets exactly as the source's if/else chains; every policy bounded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_service.policy import (
    MAX_INTERVAL_MS,
    MIN_INTERVAL_MS,
    PRESETS,
    PolicyError,
    ThresholdPolicy,
    load_policy,
)

users = st.floats(min_value=0, max_value=1e6, allow_nan=False)
rates = st.floats(min_value=0, max_value=1e4, allow_nan=False)
loads = st.floats(min_value=0, max_value=1.0, allow_nan=False)


def source_dynamic(active_users: float) -> int:
    """useDynamicPolling, transcribed from the source."""
    if active_users > 10:
        return 1000
    elif active_users > 5:
        return 2000
    else:
        return 5000


def source_optimal(active_users: float, server_load: float) -> int:
    """getOptimalInterval, transcribed from the source."""
    interval: float = 2000
    if active_users > 50:
        interval = 5000
    elif active_users > 20:
        interval = 3000
    if server_load > 0.8:
        interval = min(interval * 1.5, 10000)
    return int(interval)


@given(users, rates, loads)
def test_seed_dynamic_is_the_source(active_users: float, rate: float, load: float) -> None:
    got = PRESETS["seed-dynamic"].interval_ms(active_users=active_users,
                                              message_rate_per_s=rate, server_load=load)
    assert got == source_dynamic(active_users)


@given(users, rates, loads)
def test_seed_optimal_is_the_source(active_users: float, rate: float, load: float) -> None:
    got = PRESETS["seed-optimal"].interval_ms(active_users=active_users,
                                              message_rate_per_s=rate, server_load=load)
    assert got == source_optimal(active_users, load)


@given(users, rates, loads)
def test_fixed_presets_are_constant(active_users: float, rate: float, load: float) -> None:
    kwargs = {"active_users": active_users, "message_rate_per_s": rate, "server_load": load}
    assert PRESETS["fixed-2s"].interval_ms(**kwargs) == 2000
    assert PRESETS["notifications-10s"].interval_ms(**kwargs) == 10_000


def test_source_boundaries_are_strict() -> None:
    optimal, dynamic = PRESETS["seed-optimal"], PRESETS["seed-dynamic"]
    assert [dynamic.interval_ms(active_users=u) for u in (5, 6, 10, 11)] == [5000, 2000, 2000, 1000]
    assert [optimal.interval_ms(active_users=u) for u in (20, 21, 50, 51)] == [2000, 3000, 3000,
                                                                              5000]
    assert optimal.interval_ms(active_users=51, server_load=0.8) == 5000
    assert optimal.interval_ms(active_users=51, server_load=0.81) == 7500
    assert dynamic.start_ms == 3000


policies = st.builds(
    lambda default, pairs, factor, threshold, cap: ThresholdPolicy(
        name="p", default_ms=min(default, cap), thresholds=tuple(pairs), load_factor=factor,
        load_threshold=threshold, cap_ms=cap, floor_ms=MIN_INTERVAL_MS,
    ),
    st.integers(MIN_INTERVAL_MS, 60_000),
    st.lists(st.tuples(st.floats(0, 1000), st.integers(MIN_INTERVAL_MS, MAX_INTERVAL_MS)),
             max_size=4),
    st.floats(0.1, 100),
    st.floats(0, 1),
    st.integers(MIN_INTERVAL_MS, MAX_INTERVAL_MS),
)


@settings(max_examples=200)
@given(policies, users, rates, loads)
def test_every_policy_is_bounded_and_matches_its_vector_form(
    policy: ThresholdPolicy, active_users: float, rate: float, load: float
) -> None:
    got = policy.interval_ms(active_users=active_users, message_rate_per_s=rate,
                             server_load=load)
    assert policy.floor_ms <= got <= policy.cap_ms
    vector = policy.interval_ms_array(active_users=np.array([active_users]),
                                      message_rate_per_s=rate, server_load=load)
    assert int(vector[0]) == got


@given(policies)
def test_json_round_trip(policy: ThresholdPolicy) -> None:
    again = ThresholdPolicy.from_dict(__import__("json").loads(policy.to_json()))
    assert again == policy


@pytest.mark.parametrize("bad", ["no-such-preset", "missing.json"])
def test_unknown_policy_is_a_policy_error(bad: str) -> None:
    with pytest.raises(PolicyError):
        load_policy(bad)


def test_bad_policy_json_is_a_policy_error(tmp_path) -> None:
    for text in ("{", "[]", '{"thresholds": []}', '{"default_ms": 5}',
                 '{"default_ms": 1000, "bogus": 1}'):
        path = tmp_path / "p.json"
        path.write_text(text)
        with pytest.raises(PolicyError):
            load_policy(path)
