"""Recording's CPU share read from one toggled process: window pairs, edges, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from loadtests.bench.split import recording_split

RATE_RPS = 6000.0  # requests a second, the same in both states


def readings(*, start_s: float, end_s: float, on_cores: float, off_cores: float,
             period_s: float, step_s: float) -> tuple[list[tuple[float, float]],
                                                    list[tuple[float, float]]]:
    """Cumulative CPU and requests of a process whose CPU rate follows the toggle."""
    t = np.arange(start_s, end_s + 1e-9, 0.01)
    on = np.floor(t / period_s) % 2 == 0
    cpu = np.concatenate([[0.0], np.cumsum(np.where(on, on_cores, off_cores)[:-1] * 0.01)])
    every = max(1, round(step_s / 0.01))
    cpu_readings = list(zip(t[::every].tolist(), cpu[::every].tolist(), strict=True))
    seconds = np.arange(np.ceil(start_s), end_s)
    req_readings = [(float(s), (s - start_s) * RATE_RPS) for s in seconds]
    return cpu_readings, req_readings


def test_the_share_is_what_the_off_windows_save_per_request() -> None:
    cpu, req = readings(start_s=1000.0, end_s=1062.0, on_cores=0.45, off_cores=0.42,
                        period_s=5.0, step_s=0.5)
    split = recording_split(cpu=cpu, requests=req, start_s=1001.0, end_s=1061.0,
                            period_s=5.0, lag_s=0.0)
    assert split is not None
    # whole windows from 1005 (odd: skipped) -> pairs start at 1010: 1010..1060 = 5 pairs
    assert split.pairs == 5
    assert split.on_us_per_request == pytest.approx(0.45 / RATE_RPS * 1e6, rel=1e-3)
    assert split.off_us_per_request == pytest.approx(0.42 / RATE_RPS * 1e6, rel=1e-3)
    assert split.share == pytest.approx(1 - 0.42 / 0.45, abs=1e-3)
    assert len(split.pair_shares) == 5
    assert all(s == pytest.approx(split.share, abs=2e-3) for s in split.pair_shares)


def test_late_edges_shift_every_window_alike() -> None:
    cpu, req = readings(start_s=1000.0, end_s=1062.0, on_cores=0.50, off_cores=0.40,
                        period_s=5.0, step_s=0.5)
    late = recording_split(cpu=cpu, requests=req, start_s=1001.0, end_s=1061.0,
                           period_s=5.0, lag_s=0.25)
    assert late is not None
    # each window loses its first 0.25 s and gains the next window's: 4.75 own + 0.25 other
    on = (4.75 * 0.50 + 0.25 * 0.40) / 5
    off = (4.75 * 0.40 + 0.25 * 0.50) / 5
    assert late.share == pytest.approx(1 - off / on, abs=2e-3)


def test_no_whole_pair_or_no_request_measures_nothing() -> None:
    cpu, req = readings(start_s=1000.0, end_s=1012.0, on_cores=0.45, off_cores=0.42,
                        period_s=5.0, step_s=0.5)
    assert recording_split(cpu=cpu, requests=req, start_s=1001.0, end_s=1011.0,
                           period_s=5.0) is None  # 1005..1010 is odd: no pair starts
    idle = [(t, 0.0) for t, _ in req]
    cpu2, _ = readings(start_s=1000.0, end_s=1030.0, on_cores=0.45, off_cores=0.42,
                       period_s=5.0, step_s=0.5)
    assert recording_split(cpu=cpu2, requests=[(t, 0.0) for t in range(1000, 1030)],
                           start_s=1001.0, end_s=1029.0, period_s=5.0) is None
    assert idle and recording_split(cpu=[], requests=req, start_s=1001.0, end_s=1011.0,
                                    period_s=5.0) is None
