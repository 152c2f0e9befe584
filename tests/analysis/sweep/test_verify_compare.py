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

MEASURED = {"polls_per_s": 10.0, "delivery_p95_ms": 1000.0, "delivery_samples": 50,
            "run_id": "x"}
POLICY = ThresholdPolicy(name="p", default_ms=1000)


def row_for(predicted: dict[str, float]) -> dict[str, object]:
    return compare(policy=POLICY, users=10, predicted=predicted, measured=MEASURED)


def test_compare_reports_signed_errors_against_the_targets() -> None:
    row = row_for({"polls_per_s": 11.0, "delivery_p95_ms": 900.0})
    assert row["rate_error_pct"] == pytest.approx(10.0)
    assert row["p95_error_pct"] == pytest.approx(-10.0)
    assert row["within_target"] and row["verify_run_id"] == "x"
    assert not row_for({"polls_per_s": 10.0, "delivery_p95_ms": 1200.0})["within_target"]


def test_a_row_just_past_a_tolerance_is_outside_the_target() -> None:
    inside = {"polls_per_s": 10.0 * (1 + RATE_TOLERANCE) - 1e-6,
              "delivery_p95_ms": 1000.0 * (1 - P95_TOLERANCE) + 1e-3}
    assert row_for(inside)["within_target"]
    assert not row_for({**inside, "polls_per_s": 10.0 * (1 + RATE_TOLERANCE) + 1e-3})[
        "within_target"]


def test_replay_columns_round_the_errors_and_nothing_measured_is_nan() -> None:
    replay = {"polls_per_s": 9.876, "delivery_p95_ms": 1100.04}
    cols = replay_columns(replay, {"polls_per_s": 10.0, "delivery_p95_ms": 1000.0})
    assert cols == {"replay_polls_per_s": 9.88, "replay_rate_error_pct": -1.2,
                    "replay_p95_ms": 1100.0, "replay_p95_error_pct": 10.0}
    empty = replay_columns(replay, {"polls_per_s": 0.0, "delivery_p95_ms": 0.0})
    assert math.isnan(empty["replay_rate_error_pct"]) and math.isnan(error_pct(1.0, 0.0))
    assert error_pct(11.0, 10.0) == pytest.approx(10.0)
