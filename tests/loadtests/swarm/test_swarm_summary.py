"""Steady-state request rate from a Locust full-history CSV, and the request totals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from loadtests.swarm.summary import request_totals, steady_window

POLL = "/api/chat/[channel]/messages"


def history(users: Sequence[int], per_s: Sequence[float]) -> pd.DataFrame:
    rows = []
    total = 0.0
    delivered = 0
    for i, (u, rate) in enumerate(zip(users, per_s, strict=True)):
        total += rate
        delivered += 50
        rows.append(
            {
                "Timestamp": 1000 + i,
                "User Count": u,
                "Type": "GET",
                "Name": POLL,
                "Total Request Count": int(total),
            }
        )
        rows.append(
            {
                "Timestamp": 1000 + i,
                "User Count": u,
                "Type": "DELIVERY",
                "Name": "message",
                "Total Request Count": delivered,
            }
        )
        rows.append(
            {
                "Timestamp": 1000 + i,
                "User Count": u,
                "Type": "",
                "Name": "Aggregated",
                "Total Request Count": int(total) + delivered,
            }
        )
    return pd.DataFrame(rows)


def test_a_skipped_stamp_does_not_stretch_the_window() -> None:
    """Rows come a second apart; one that slipped past a second boundary skips a stamp,
    which must not count as a second without requests."""
    users = [0, 50] + [100] * 40
    per_s = [0, 10] + [50] * 40
    frame = pd.DataFrame(history(users, per_s))
    frame.loc[frame["Timestamp"] >= 1025, "Timestamp"] += 1  # 1024 is followed by 1026
    window = steady_window(frame)
    assert window is not None and window.rps == pytest.approx(50.0)


def test_a_starved_writer_is_timed_by_its_stamps() -> None:
    """Rows 1.5 s apart (the hub stalls the writer): the stamps, not the rows, count."""
    users = [0, 50] + [100] * 40
    per_s = [0, 10] + [75] * 40  # 75 requests a row = 50 a second at 1.5 s a row
    frame = pd.DataFrame(history(users, per_s))
    frame["Timestamp"] = 1000 + ((frame["Timestamp"] - 1000) * 1.5).astype(int)
    window = steady_window(frame)
    assert window is not None and window.rps == pytest.approx(50.0, rel=0.03)


def test_rate_on_the_final_plateau_ignores_ramp_stop_and_deliveries() -> None:
    users = [0, 50, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 0, 0]
    per_s = [0, 10, 20, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 0, 0]
    window = steady_window(pd.DataFrame(history(users, per_s)))
    assert window is not None
    assert window.rps == pytest.approx(50.0)
    assert window.start_s >= 1002 + 5 and window.end_s == 1012


def test_a_last_row_caught_mid_stop_is_not_the_plateau() -> None:
    """A starved generator's history: rows seconds apart, the last one while stopping."""
    users = [0, 3200, 6400, 9600, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 8675]
    per_s = [0, 100, 300, 400, 500, 500, 500, 500, 500, 500, 500, 200]
    window = steady_window(pd.DataFrame(history(users, per_s)))
    assert window is not None and window.rps == pytest.approx(500.0)
    assert window.end_s == 1010


def test_rate_of_one_request_name_and_method() -> None:
    frame = history([10] * 12, [5.0] * 12)
    window = steady_window(frame, name=POLL, method="GET")
    assert window is not None and window.rps == pytest.approx(5.0)
    assert steady_window(frame, name=POLL, method="POST") is None


def test_request_totals_leave_out_delivery_rows() -> None:
    stats = pd.DataFrame(
        [
            {"Type": "GET", "Name": POLL, "Request Count": 100, "Failure Count": 2},
            {"Type": "DELIVERY", "Name": "message", "Request Count": 900, "Failure Count": 0},
            {"Type": "", "Name": "Aggregated", "Request Count": 1000, "Failure Count": 2},
        ]
    )
    assert request_totals(stats) == (100, 2)


def test_poll_samples_correct_the_stepped_history() -> None:
    """Worker processes report every 3 s: the history's counts move in steps."""
    from loadtests.swarm.summary import steady_rates

    users = [100] * 31
    counts = [300.0 * (i // 3) for i in range(31)]  # 100/s, reported in 3 s steps
    per_s = [counts[0]] + [counts[i] - counts[i - 1] for i in range(1, 31)]
    frame = history(users, per_s)
    samples = np.arange(1000_000.0, 1030_000.0, 10.0)  # exactly 100 polls/s, ms stamps
    rps, poll_rps, span_s = steady_rates(frame, poll_t_ms=samples)
    assert poll_rps == pytest.approx(100.0, rel=0.01)
    assert span_s > 20


def test_the_window_ends_where_the_planned_run_time_runs_out() -> None:
    """The seconds after --run-time are Locust stopping 10,000 users: the plateau's user
    count still shows, the polls stop (the bench read 96.6 % of a rate held in full)."""
    users = [0, 5000, 10000] + [10000] * 30 + [10000, 10000]
    per_s = [0, 2500, 5000] + [5000.0] * 30 + [2176, 400]  # run time 33 s: 2 stopping rows
    frame = history(users, per_s)
    kept = steady_window(frame, name=POLL, method="GET", run_s=33)
    assert kept is not None and kept.rps == pytest.approx(5000.0)
    assert kept.end_s == 1000 + 33 - 1
    blind = steady_window(frame, name=POLL, method="GET")
    assert blind is not None and blind.rps < 0.95 * 5000  # the old reading
