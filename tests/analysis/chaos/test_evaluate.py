"""The verdict over a hand-made run: phases, baselines, deadline violations, exit reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.chaos.accounting import Send, Stored
from analysis.chaos.evaluate import Limits, evaluate, timeline_of
from analysis.chaos.inject import FaultWindow
from analysis.chaos.readback import RunSamples
from analysis.chaos.schedule import Fault
from loadtests.clients.names import POLL_NAME

T0 = 1_000_000.0


def _run(*, slow_poll_ms: float) -> RunSamples:
    """Two receivers polling channel c at 10/s for 60 s; one poll during the fault is slow."""
    t = np.arange(T0, T0 + 60_000, 100.0)
    latency = np.full(t.size, 10.0)
    latency[250] = slow_poll_ms  # at 25 s, inside the fault
    polls = pd.DataFrame({"t_ms": np.concatenate([t, t]), "user": ["a"] * t.size + ["b"] * t.size,
                          "n": 0, "latency_ms": np.concatenate([latency, latency]),
                          "channel": "c"})
    sends = [Send(ref=f"r{i}", channel="c", outcome="ok", seq=i + 1,
                  started_ms=T0 + 5000 + i * 1000, ended_ms=T0 + 5050 + i * 1000,
                  longest_ms=50.0) for i in range(50)]
    sends.append(Send(ref="x", channel="c", outcome="failed", seq=None, started_ms=T0 + 21_000,
                      ended_ms=T0 + 21_010))
    messages = pd.DataFrame([{"t_ms": s.ended_ms + 500, "user": u, "n": 0, "latency_ms": 500.0,
                              "channel": "c", "seq": s.seq} for s in sends if s.seq
                             for u in ("a", "b")])
    errors = pd.DataFrame({"t_ms": [T0 + 21_010], "user": ["a"], "n": [1],
                           "latency_ms": [10.0], "name": [POLL_NAME]})
    return RunSamples(polls=polls, messages=messages, errors=errors, sends=sends)


def _windows() -> list[FaultWindow]:
    return [FaultWindow(fault=Fault("valkey:pause", 20.0, 5.0), injected_ms=T0 + 20_000,
                        healed_ms=T0 + 25_000, detail="SIGSTOP")]


def test_a_clean_run_passes_with_its_fault_row() -> None:
    samples = _run(slow_poll_ms=2000.0)
    stored = [Stored("c", s.seq, s.ref) for s in samples.sends if s.seq]
    result = evaluate(samples=samples, stored=stored, windows=_windows(), t0_ms=T0,
                      end_ms=T0 + 60_000)
    assert result["passed"] and result["failures"] == []
    (row,) = result["faults"]
    assert row["errors"] == 1 and row["longest_request_ms"] == 2000.0
    assert row["baseline"]["success_ratio"] == 1.0 and row["recover_s"] == 1.0
    assert row["sends"] == 36 and row["failed"] == 1  # 35 ok from 20 s on, and the refused one
    assert result["before_faults"]["sends"] == 15
    assert result["receivers"] == 2 and result["receivers_with_gaps"] == 0
    frame = timeline_of(samples, t0_ms=T0)
    assert len(frame) == 60 and int(frame["errors"].sum()) == 1


def test_a_lost_row_and_a_request_past_the_deadline_fail_the_run() -> None:
    samples = _run(slow_poll_ms=7000.0)
    stored = [Stored("c", s.seq, s.ref) for s in samples.sends if s.seq and s.ref != "r30"]
    result = evaluate(samples=samples, stored=stored, windows=_windows(), t0_ms=T0,
                      end_ms=T0 + 60_000, limits=Limits(deadline_s=5.0, deadline_slack_s=1.0))
    assert not result["passed"]
    assert result["totals"]["lost_from_store"] == 1
    assert [e["ref"] for e in result["examples"]["acknowledged_lost"]] == ["r30"]
    assert result["requests_over_deadline"] == 2  # the slow poll of each receiver
    assert len(result["failures"]) == 2
