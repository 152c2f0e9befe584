"""The generator bench's arithmetic: CPU cores from outside samples, and the verdict."""

from __future__ import annotations

import pytest

from loadtests.bench.run import BenchArm, CpuWatch, verdict


def arm(*, record: bool, held: float, cores: float | None) -> BenchArm:
    return BenchArm(
        record=record,
        rate_source="test",
        run_id="r",
        chat_users=3999,
        intended_poll_rps=1999.5,
        poll_rps=1999.5 * held,
        held_ratio=held,
        generator_cores=cores,
        cpu_us_per_request=None,
        poll_p50_ms=2.0,
        errors=0,
    )


def test_cores_between_uses_samples_inside_the_window() -> None:
    watch = CpuWatch(pid=0)
    watch.samples = [(100.0, 1.0), (101.0, 1.2), (110.0, 4.2), (111.0, 9.0)]
    assert watch.cores_between(100.5, 110.5) == pytest.approx(3.0 / 9.0)
    assert watch.cores_between(105.0, 106.0) is None


def test_verdict_recording_share_and_held_rate() -> None:
    ok = verdict(arm(record=True, held=0.995, cores=0.40), arm(record=False, held=1.0, cores=0.36))
    assert ok["recording_cpu_share"] == pytest.approx(0.1)
    assert ok["held_ok"] and ok["recording_ok"]
    bad = verdict(arm(record=True, held=0.97, cores=0.50), arm(record=False, held=1.0, cores=0.36))
    assert not bad["held_ok"] and not bad["recording_ok"]
