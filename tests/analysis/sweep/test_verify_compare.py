"""``analysis.sweep.verify_compare``: signed errors in percent against the targets."""

from __future__ import annotations

import math

import pytest

from analysis.sweep.verify_compare import (
    P95_TOLERANCE,
    RATE_TOLERANCE,
    compare,
    error_pct,
    replay_columns,
)
from target_service.policy import ThresholdPolicy


def test_compare_reports_signed_errors_against_the_targets() -> None:
    policy = ThresholdPolicy(name="p", default_ms=1000)
    row = compare(
        policy=policy,
        users=10,
        predicted={"polls_per_s": 11.0, "delivery_p95_ms": 900.0},
        measured={
            "polls_per_s": 10.0,
            "delivery_p95_ms": 1000.0,
            "delivery_samples": 50,
            "run_id": "x",
        },
    )
    assert row["rate_error_pct"] == pytest.approx(10.0)
    assert row["p95_error_pct"] == pytest.approx(-10.0)
    assert row["within_target"]
    row = compare(
        policy=policy,
        users=10,
        predicted={"polls_per_s": 10.0, "delivery_p95_ms": 1200.0},
        measured={
            "polls_per_s": 10.0,
            "delivery_p95_ms": 1000.0,
            "delivery_samples": 50,
            "run_id": "x",
        },
    )
    assert not row["within_target"]


def test_a_row_just_past_a_tolerance_is_outside_the_target() -> None:
    policy = ThresholdPolicy(name="p", default_ms=1000)
    measured = {"polls_per_s": 10.0, "delivery_p95_ms": 1000.0, "delivery_samples": 5,
                "run_id": "x"}
    inside = {"polls_per_s": 10.0 * (1 + RATE_TOLERANCE) - 1e-6,
              "delivery_p95_ms": 1000.0 * (1 - P95_TOLERANCE) + 1e-3}
    assert compare(policy=policy, users=1, predicted=inside, measured=measured)["within_target"]
    outside = {**inside, "polls_per_s": 10.0 * (1 + RATE_TOLERANCE) + 1e-3}
    assert not compare(policy=policy, users=1, predicted=outside,
                       measured=measured)["within_target"]


def test_replay_columns_round_the_errors_and_nothing_measured_is_nan() -> None:
    replay = {"polls_per_s": 9.876, "delivery_p95_ms": 1100.04}
    cols = replay_columns(replay, {"polls_per_s": 10.0, "delivery_p95_ms": 1000.0})
    assert cols == {"replay_polls_per_s": 9.88, "replay_rate_error_pct": -1.2,
                    "replay_p95_ms": 1100.0, "replay_p95_error_pct": 10.0}
    empty = replay_columns(replay, {"polls_per_s": 0.0, "delivery_p95_ms": 0.0})
    assert math.isnan(empty["replay_rate_error_pct"]) and math.isnan(error_pct(1.0, 0.0))
    assert error_pct(11.0, 10.0) == pytest.approx(10.0)
