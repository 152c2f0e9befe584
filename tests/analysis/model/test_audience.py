"""The expected audience per message from the channel model, and the pooled delivery rates."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.model.audience import (
    audience_share,
    expected_deliveries_per_user_s,
    measured_deliveries_per_user_s,
)


def test_uniform_channels_reach_one_channel_of_users() -> None:
    assert audience_share(channels=10, skew=0.0) == pytest.approx(0.1)
    assert audience_share(channels=1, skew=1.0) == pytest.approx(1.0)


def test_zipf_channels_concentrate_the_audience() -> None:
    # 200 channels at skew 1: Σ(1/i²) / (Σ 1/i)², computed by hand here
    h1 = sum(1.0 / i for i in range(1, 201))
    h2 = sum(1.0 / i**2 for i in range(1, 201))
    assert audience_share(channels=200, skew=1.0) == pytest.approx(h2 / h1**2)
    assert audience_share(channels=200, skew=1.0) > audience_share(channels=200, skew=0.5)
    with pytest.raises(ValueError):
        audience_share(channels=0, skew=1.0)


def test_expected_deliveries_pool_steps_like_the_measured_rate() -> None:
    """A simulated workload: the pooled measured rate converges on the expectation."""
    rng = np.random.default_rng(3)
    share = audience_share(channels=200, skew=1.0)
    weights = 1.0 / np.arange(1, 201)
    p = weights / weights.sum()
    users, window_s, sends_s = np.array([500, 1000, 1250]), 600.0, 0.01
    deliveries = []
    for n in users:
        member = rng.choice(200, size=n, p=p)
        sizes = np.bincount(member, minlength=200)
        msgs = rng.poisson(sends_s * window_s, size=n)  # every user a sender, Poisson sends
        deliveries.append(float((msgs * sizes[member]).sum()))
    measured = measured_deliveries_per_user_s(users=users, deliveries=deliveries,
                                              window_s=[window_s] * 3)
    expected = expected_deliveries_per_user_s(users=users, sends_per_user_s=sends_s,
                                              share=share)
    assert expected == pytest.approx(sends_s * share * (users**2).sum() / users.sum())
    assert measured == pytest.approx(expected, rel=0.10)
    assert expected_deliveries_per_user_s(users=[], sends_per_user_s=0.01, share=share) == 0.0
