"""Stage tables for the three shapes, the spec parser, and its user errors."""

from __future__ import annotations

import math

import pytest

from loadtests.shapes import Stage, parse_shape, stage_at
from target_service.errors import UserError


def test_constant() -> None:
    stages = parse_shape("constant", users=50, spawn_rate=10, duration_s=60)
    assert stages == [Stage(end_s=60, users=50, spawn_rate=10)]
    assert stage_at(stages, 59.9) is not None and stage_at(stages, 60.0) is None


def test_constant_without_duration_runs_for_ever() -> None:
    stages = parse_shape("constant", users=5, spawn_rate=1, duration_s=None)
    assert stages[0].end_s == math.inf


def test_step_ramp() -> None:
    stages = parse_shape(
        "step:start=50,step=50,hold=30s,max=170", users=1, spawn_rate=25, duration_s=None
    )
    assert [s.users for s in stages] == [50, 100, 150, 170]
    assert [s.end_s for s in stages] == [30, 60, 90, 120]
    assert stage_at(stages, 45).users == 100  # type: ignore[union-attr]


def test_spike() -> None:
    stages = parse_shape(
        "spike:base=10,peak=100,at=20s,hold=5s", users=1, spawn_rate=5, duration_s=60
    )
    assert [(s.users, s.end_s) for s in stages] == [(10, 20), (100, 25), (10, 60)]
    assert stages[1].spawn_rate == 90


@pytest.mark.parametrize(
    "spec", ["wave", "step:start=x", "step:start=10,bogus=1", "step:start", "spike:base=10,peak=5"]
)
def test_bad_specs_are_user_errors(spec: str) -> None:
    with pytest.raises(UserError):
        parse_shape(spec, users=10, spawn_rate=1, duration_s=60)
