"""Recording's CPU share read from one toggled process: window pairs, spread, refusals."""

from __future__ import annotations

import pytest

from loadtests.bench.split import edges_from, recording_split
from loadtests.recording.toggle import Edge

RATE_RPS = 6000.0  # requests a second, the same in both states


def edges(*, start_s: float, n: int, first_on: bool, on_cores: float, off_cores: float,
          period_s: float = 3.0) -> list[Edge]:
    """Edges of a process whose CPU rate follows the toggle, requests at a steady rate."""
    out, cpu, on = [], 0.0, first_on
    for i in range(n):
        t = start_s + i * period_s
        out.append(Edge(t_s=t, cpu_s=cpu, requests=round(i * period_s * RATE_RPS), on=on))
        cpu += (on_cores if on else off_cores) * period_s
        on = not on
    return out


def test_the_share_is_what_the_off_windows_save_per_request() -> None:
    readings = edges(start_s=1000.25, n=10, first_on=False, on_cores=0.45, off_cores=0.42)
    split = recording_split(readings, start_s=1000.0, end_s=1030.0, period_s=3.0)
    assert split is not None
    # windows from 1000.25: off, on, off, ... ; 9 windows, pairs start at the first on one
    assert split.pairs == 4
    assert split.on_us_per_request == pytest.approx(0.45 / RATE_RPS * 1e6, abs=0.1)
    assert split.off_us_per_request == pytest.approx(0.42 / RATE_RPS * 1e6, abs=0.1)
    assert split.share == pytest.approx(1 - 0.42 / 0.45, abs=1e-3)
    assert split.pair_shares == pytest.approx([1 - 0.42 / 0.45] * 4, abs=1e-3)


def test_only_edges_inside_the_steady_window_count() -> None:
    readings = edges(start_s=1000.25, n=10, first_on=True, on_cores=0.50, off_cores=0.40)
    split = recording_split(readings, start_s=1003.0, end_s=1019.0, period_s=3.0)
    assert split is not None  # edges 1003.25 .. 1018.25: off, on, off, on, off, on
    assert split.pairs == 2 and split.share == pytest.approx(0.2, abs=1e-3)


def test_no_whole_pair_or_no_request_measures_nothing() -> None:
    readings = edges(start_s=1000.25, n=3, first_on=False, on_cores=0.45, off_cores=0.42)
    assert recording_split(readings, start_s=1000.0, end_s=1010.0, period_s=3.0) is None
    idle = [Edge(e.t_s, e.cpu_s, 0, e.on)
            for e in edges(start_s=1000.25, n=6, first_on=True, on_cores=0.4, off_cores=0.3)]
    assert recording_split(idle, start_s=1000.0, end_s=1020.0, period_s=3.0) is None
    assert recording_split([], start_s=1000.0, end_s=1020.0, period_s=3.0) is None


def test_edges_come_back_from_the_toggles_json_figures() -> None:
    readings = edges(start_s=1000.25, n=4, first_on=True, on_cores=0.45, off_cores=0.42)
    figures = {"period_s": 3.0,
               "edges": [[e.t_s, e.cpu_s, e.requests, e.on] for e in readings]}
    assert edges_from(figures) == readings
