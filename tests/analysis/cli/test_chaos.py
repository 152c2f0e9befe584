"""``analysis.cli.chaos``: the schedule from the options, the command that replays it, and
the progress bar's thread (the options' refusals: ``tests/analysis/chaos/test_run.py``)."""

from __future__ import annotations

import re
import time

import pytest

from analysis.chaos.schedule import FAULT_KINDS, default_schedule, parse_fault
from analysis.cli.chaos import ChaosProgress, _faults, chaos_spawn_rate, command_line


def test_without_faults_the_default_schedule_takes_its_lengths_from_the_options() -> None:
    faults = _faults(None, warmup="20s", fault_duration="4s", steady="1m")
    assert faults == default_schedule(warmup_s=20.0, fault_s=4.0, steady_s=60.0)
    assert [f.kind for f in faults] == list(FAULT_KINDS)
    given = _faults(["valkey:pause@30s+10s"], warmup="bad", fault_duration="bad", steady="bad")
    assert given == [parse_fault("valkey:pause@30s+10s")]  # the default's options unread


def test_the_recorded_command_replays_the_same_schedule() -> None:
    faults = default_schedule(warmup_s=15.0, fault_s=2.5, steady_s=30.0)
    line = command_line(faults, realtime="sse")
    assert line.startswith("pollcap chaos ") and line.endswith("--realtime sse")
    replayed = [parse_fault(text) for text in re.findall(r"--fault (\S+)", line)]
    assert replayed == faults


@pytest.mark.parametrize(("users", "rate"), [(1, 1.0), (40, 20.0), (2000, 50.0)])
def test_spawn_rate_is_half_the_users_within_bounds(users: int, rate: float) -> None:
    assert chaos_spawn_rate(users) == rate


def test_the_progress_bar_moves_from_the_swarms_start_and_its_thread_ends() -> None:
    progress = ChaosProgress(planned_s=100.0)
    progress.interval_s = 0.02
    with progress as on_event:
        on_event("swarm", {"t0_ms": (time.time() - 30.0) * 1000})
        deadline_s = time.monotonic() + 5.0
        while not progress.bar.tasks[0].completed and time.monotonic() < deadline_s:
            time.sleep(0.01)
        thread = progress._thread
        assert thread is not None and thread.is_alive()
    assert 29.0 <= progress.bar.tasks[0].completed <= 100.0
    assert not thread.is_alive()
