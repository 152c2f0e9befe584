"""``pollcap sweep --verify``, the comparison: predicted against measured, in percent.

Errors are ``(predicted - measured) / measured`` in percent (NaN when nothing was
measured); a policy is within target when the poll rate is within ``RATE_TOLERANCE``
and the p95 delivery latency within ``P95_TOLERANCE``. Pure: dictionaries in, a row out.
"""

from __future__ import annotations

from typing import Any

from target_service.policy import ThresholdPolicy

RATE_TOLERANCE = 0.10
P95_TOLERANCE = 0.15


def error_pct(predicted: float, measured: float) -> float:
    """Signed error of ``predicted`` against ``measured``, in percent."""
    return float((predicted - measured) / measured * 100.0) if measured else float("nan")


def replay_columns(replay: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """The replay prediction and its errors (see :func:`analysis.sweep.verify.replay_run`)."""
    rate_err = error_pct(replay["polls_per_s"], measured["polls_per_s"])
    p95_err = error_pct(replay["delivery_p95_ms"], measured["delivery_p95_ms"])
    return {
        "replay_polls_per_s": round(float(replay["polls_per_s"]), 2),
        "replay_rate_error_pct": round(rate_err, 1),
        "replay_p95_ms": round(float(replay["delivery_p95_ms"]), 1),
        "replay_p95_error_pct": round(p95_err, 1),
    }


def compare(
    *, policy: ThresholdPolicy, users: int, predicted: dict[str, Any], measured: dict[str, Any]
) -> dict[str, Any]:
    """A result row with the errors in percent and whether both are within target."""
    rate_err = error_pct(predicted["polls_per_s"], measured["polls_per_s"])
    p95_err = error_pct(predicted["delivery_p95_ms"], measured["delivery_p95_ms"])
    return {
        "policy": policy.name,
        "users": users,
        "predicted_polls_per_s": round(float(predicted["polls_per_s"]), 2),
        "measured_polls_per_s": round(float(measured["polls_per_s"]), 2),
        "rate_error_pct": round(rate_err, 1),
        "predicted_p95_ms": round(float(predicted["delivery_p95_ms"]), 1),
        "measured_p95_ms": round(float(measured["delivery_p95_ms"]), 1),
        "p95_error_pct": round(p95_err, 1),
        "delivery_samples": measured["delivery_samples"],
        # all requests (polls, notifications, sends): predicted = polls + the step's rest
        "predicted_requests_per_s": round(float(predicted.get("requests_per_s", float("nan"))), 2),
        "measured_requests_per_s": measured.get("requests_per_s"),
        "within_target": bool(
            abs(rate_err) <= RATE_TOLERANCE * 100 and abs(p95_err) <= P95_TOLERANCE * 100
        ),
        "verify_run_id": measured["run_id"],
    }
