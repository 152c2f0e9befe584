"""Fault schedules: parsing, the default order, overlap checks."""

from __future__ import annotations

import pytest

from analysis.chaos.schedule import (
    FAULT_KINDS,
    MIN_GAP_S,
    Fault,
    check_schedule,
    default_schedule,
    parse_fault,
    swarm_duration_s,
)
from target_service.errors import UserError


def test_parse_fault_reads_kind_start_and_duration() -> None:
    assert parse_fault("valkey:pause@30s+10s") == Fault("valkey:pause", 30.0, 10.0)
    assert parse_fault(" postgres:kill@1m+2.5s ") == Fault("postgres:kill", 60.0, 2.5)
    assert parse_fault("service:kill-worker@45+0s").heal_s == 45.0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("valkey:pause", r"KIND@START\+DURATION"),
        ("valkey:nap@10s+5s", "unknown kind"),
        ("valkey:pause@soon+5s", "bad duration"),
        ("valkey:pause@0s+5s", "after the swarm starts"),
        ("valkey:pause@10s+11m", "0..600"),
    ],
)
def test_bad_faults_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(UserError, match=says):
        parse_fault(text)


def test_default_schedule_runs_every_kind_in_turn_with_steady_gaps() -> None:
    faults = default_schedule(warmup_s=20, fault_s=10, steady_s=15)
    assert [f.kind for f in faults] == list(FAULT_KINDS)
    assert faults[0].at_s == 20
    for before, after in zip(faults, faults[1:], strict=False):
        assert after.at_s - before.heal_s == 15
    assert check_schedule(faults) == faults
    assert swarm_duration_s(faults, tail_s=20) == faults[-1].heal_s + 20


def test_overlapping_or_crowded_faults_are_refused() -> None:
    first = Fault("valkey:pause", 20.0, 10.0)
    with pytest.raises(UserError, match="must not overlap"):
        check_schedule([first, Fault("postgres:pause", 25.0, 5.0)])
    with pytest.raises(UserError, match="must not overlap"):
        check_schedule([Fault("postgres:pause", 30.0 + MIN_GAP_S - 1, 5.0), first])
    with pytest.raises(UserError, match="steady load before"):
        check_schedule([Fault("valkey:kill", MIN_GAP_S - 1, 1.0)])
    with pytest.raises(UserError, match="no fault"):
        check_schedule([])
    ordered = check_schedule([Fault("postgres:pause", 30.0 + MIN_GAP_S, 5.0), first])
    assert [f.kind for f in ordered] == ["valkey:pause", "postgres:pause"]
