"""The generator bench's arithmetic: CPU cores from outside samples, targets, failed arms."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from loadtests.bench.cpu import (
    STARVED_WAIT_SHARE,
    CpuWatch,
    SchedSample,
    contention_between,
    read_schedstat_ns,
)
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


def test_contention_shares_of_wall_time_inside_the_window() -> None:
    samples = [
        SchedSample(100.0, 0, 0, 3.0),
        SchedSample(101.0, 600_000_000, 100_000_000, 3.2),
        SchedSample(102.0, 1_200_000_000, 400_000_000, 3.4),
        SchedSample(109.0, 9_000_000_000, 9_000_000_000, 9.0),
    ]
    shared = contention_between(samples, start_s=100.5, end_s=102.5, cpus=2)
    assert shared is not None
    assert shared.run_share == pytest.approx(0.6) and shared.wait_share == pytest.approx(0.3)
    assert shared.load_1m == pytest.approx(3.3) and shared.starved
    calm = [SchedSample(0.0, 0, 0, 0.5), SchedSample(2.0, 1_400_000_000, 20_000_000, 0.5)]
    quiet = contention_between(calm, start_s=0.0, end_s=2.0, cpus=2)
    assert quiet is not None and quiet.wait_share < STARVED_WAIT_SHARE and not quiet.starved
    assert contention_between(samples, start_s=103.0, end_s=104.0, cpus=2) is None


def test_schedstat_of_a_real_process_counts_its_cpu_time() -> None:
    before = read_schedstat_ns(os.getpid())
    end_s = time.process_time() + 0.05
    while time.process_time() < end_s:
        pass
    after = read_schedstat_ns(os.getpid())
    assert before is not None and after is not None
    assert after[0] - before[0] >= 40_000_000  # ~50 ms on CPU, in ns
    assert read_schedstat_ns(2**22 + 1) is None  # above pid_max: no such process


@pytest.mark.parametrize("starved", [True, False])
def test_the_bench_says_whether_the_machine_starved_the_generator(starved: bool) -> None:
    on = dataclasses.replace(
        arm(record=True, held=0.84, cores=0.68),
        cpu_us_per_request=250.0 if starved else 100.0,
        run_queue_wait_share=0.31 if starved else 0.01,
        machine_load_1m=3.1,
        machine_cpus=2,
        starved=starved,
    )
    off = arm(record=False, held=1.0, cores=0.60)
    text = bench_text(figures(on, off, users=TARGETS.min_users))
    assert ("31.0%" if starved else "1.0%") in text and "load 3.1" in text
    assert ("the held rate is a lower bound" in text) == starved
    assert ("not starved" in text) == (not starved)
    need = (250.0 if starved else 100.0) * 4999.5 / 1e6  # cores at the intended rate
    assert f"needs {need:.2f} cores" in text
    assert ("more than the one core" in text) == (need >= 1.0)
    assert ("1 of 2 arms starved" in text) == starved


def test_a_toggled_arm_gives_the_share_from_its_window_pairs() -> None:
    """The two arms' CPU per request disagree (drift between runs); the split decides."""
    from loadtests.bench.split import RecordingSplit

    on = dataclasses.replace(arm(record=True, held=0.999, cores=0.45), cpu_us_per_request=74.2)
    split = RecordingSplit(period_s=5.0, pairs=6, on_us_per_request=75.0,
                           off_us_per_request=71.0, share=0.0533,
                           pair_shares=(0.04, 0.05, 0.06, 0.05, 0.055, 0.06))
    toggled = dataclasses.replace(arm(record=True, held=1.0, cores=0.39),
                                  cpu_us_per_request=64.7, toggle_s=5.0, split=split)
    result = verdict(on, toggled, users=TARGETS.min_users)
    assert result["recording_cpu_share"] == pytest.approx(0.0533) and result["ok"]
    text = bench_text(figures(on, toggled, users=TARGETS.min_users))
    assert "recording toggled every 5 s" in text
    assert "75.0 us CPU/request in 6 windows of 5 s" in text and "5.33%" in text
    assert "4.0% to 6.0%" in text
    unmeasured = dataclasses.replace(toggled, split=None)
    result = verdict(on, unmeasured, users=TARGETS.min_users)
    assert result["recording_cpu_share"] is None and not result["ok"]
    assert "no whole on/off window pair" in bench_text(figures(on, unmeasured,
                                                               users=TARGETS.min_users))
