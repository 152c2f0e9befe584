"""The generator bench's arithmetic: CPU cores from outside samples, targets, failed arms."""

from __future__ import annotations

import dataclasses

import pytest

from loadtests.bench.cpu import CpuWatch
from loadtests.bench.run import BenchArm, failed_arm
from loadtests.bench.verdict import BenchTargets, bench_text, verdict

TARGETS = BenchTargets()


def arm(*, record: bool, held: float, cores: float | None) -> BenchArm:
    return BenchArm(
        record=record,
        rate_source="test",
        run_id="r",
        chat_users=9999,
        intended_poll_rps=4999.5,
        poll_rps=4999.5 * held,
        held_ratio=held,
        generator_cores=cores,
        cpu_us_per_request=None,
        poll_p50_ms=2.0,
        errors=0,
    )


def figures(on: BenchArm, off: BenchArm, *, users: int) -> dict[str, object]:
    return {
        "users": users,
        "target": "stub",
        "generator_cpus": [0],
        "target_cpus": [1],
        "arms": [dataclasses.asdict(on), dataclasses.asdict(off)],
        **verdict(on, off, users=users),
    }


def test_cores_between_uses_samples_inside_the_window() -> None:
    watch = CpuWatch(pid=0)
    watch.samples = [(100.0, 1.0), (101.0, 1.2), (110.0, 4.2), (111.0, 9.0)]
    assert watch.cores_between(100.5, 110.5) == pytest.approx(3.0 / 9.0)
    assert watch.cores_between(105.0, 106.0) is None


def test_each_target_beside_its_measured_value_and_ratio() -> None:
    share = TARGETS.max_recording_share / 2
    on = arm(record=True, held=0.995, cores=0.40)
    off = arm(record=False, held=1.0, cores=0.40 * (1 - share))
    result = verdict(on, off, users=TARGETS.min_users)
    assert result["recording_cpu_share"] == pytest.approx(share)
    rows = {row["name"]: row for row in result["targets"]}
    held = rows["poll rate held, recording on"]
    assert held["ratio"] == pytest.approx(0.995 / TARGETS.min_held_ratio, abs=1e-3) and held["ok"]
    assert result["ok"]
    text = bench_text(figures(on, off, users=TARGETS.min_users))
    assert "99.50%" in text and ">= 99%" in text and "MISSED" not in text


def test_recording_share_compares_cpu_per_request_when_both_arms_have_it() -> None:
    """A starved arm uses fewer cores; CPU per request compares the same work."""
    on = dataclasses.replace(arm(record=True, held=0.25, cores=0.20), cpu_us_per_request=125.0)
    off = dataclasses.replace(arm(record=False, held=0.40, cores=0.25), cpu_us_per_request=100.0)
    assert verdict(on, off, users=TARGETS.min_users)["recording_cpu_share"] == pytest.approx(0.2)


def test_missed_targets_are_named() -> None:
    on = arm(record=True, held=0.97, cores=0.50)
    off = arm(record=False, held=1.0, cores=0.36)
    result = verdict(on, off, users=TARGETS.min_users // 2)
    assert not result["ok"] and all(not row["ok"] for row in result["targets"])
    assert bench_text(figures(on, off, users=TARGETS.min_users // 2)).count("MISSED") == 3


def test_a_failed_arm_says_why_instead_of_a_zero_rate() -> None:
    reason = "OSError(24, 'Too many open files')"
    on = failed_arm(record=True, chat_users=9999, problems=("no chat poll completed", reason))
    off = arm(record=False, held=1.0, cores=0.36)
    result = verdict(on, off, users=TARGETS.min_users)
    assert not result["ok"] and result["recording_cpu_share"] is None
    text = bench_text(figures(on, off, users=TARGETS.min_users))
    assert "FAILED" in text and reason in text and "0.0/s" not in text
