"""Recording's share of the generator's CPU, read from one process that toggles it.

The toggled arm (:mod:`loadtests.recording.toggle`) records in even windows and not
in odd ones. Per window, CPU seconds come from the outside sampler's cumulative
readings and requests from Locust's full history (cumulative counts per second), both
interpolated at the window's edges; each edge is read ``lag_s`` late, so an on
window's closing flush (shipped at the switch) falls inside it. The share is
``1 - (CPU per request off) / (CPU per request on)`` over whole on/off pairs; each
pair's own share shows the spread. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loadtests.recording.toggle import toggle_windows

EDGE_LAG_S = 0.25  # a switch-off flush of 12,500 rows is shipped within ~50 ms here


@dataclass(frozen=True, slots=True)
class RecordingSplit:
    period_s: float
    pairs: int  # whole (on, off) window pairs inside the steady window
    on_us_per_request: float
    off_us_per_request: float
    share: float  # recording's share of the CPU a request costs with recording on
    pair_shares: tuple[float, ...]  # each pair's own share, in time order


def recording_split(
    *,
    cpu: Sequence[tuple[float, float]],
    requests: Sequence[tuple[float, float]],
    start_s: float,
    end_s: float,
    period_s: float,
    lag_s: float = EDGE_LAG_S,
) -> RecordingSplit | None:
    """The split over [start_s, end_s] from (epoch s, cumulative CPU s) and (epoch s,
    cumulative requests) readings; None without one whole pair or with a window that
    served no request."""
    if len(cpu) < 2 or len(requests) < 2:
        return None
    cpu_t, cpu_s = np.asarray(cpu, dtype=float).T
    req_t, req_n = np.asarray(requests, dtype=float).T
    windows = toggle_windows(start_s=start_s, end_s=end_s - lag_s, period_s=period_s)
    while windows and not windows[0].on:  # pairs start with an on window
        windows = windows[1:]
    if len(windows) % 2:
        windows = windows[:-1]
    edges = np.array([[w.start_s + lag_s, w.end_s + lag_s] for w in windows]).reshape(-1, 2)
    inside = (edges[:, 0] >= max(cpu_t[0], req_t[0])) & (edges[:, 1] <= min(cpu_t[-1], req_t[-1]))
    if len(windows) < 2 or not inside.all():
        return None
    used_s = np.diff(np.interp(edges, cpu_t, cpu_s), axis=1)[:, 0]
    served = np.diff(np.interp(edges, req_t, req_n), axis=1)[:, 0]
    if (served <= 0).any():
        return None
    per_request = used_s / served
    on, off = per_request[0::2], per_request[1::2]
    on_mean = used_s[0::2].sum() / served[0::2].sum()
    off_mean = used_s[1::2].sum() / served[1::2].sum()
    return RecordingSplit(
        period_s=period_s,
        pairs=len(on),
        on_us_per_request=round(float(on_mean) * 1e6, 1),
        off_us_per_request=round(float(off_mean) * 1e6, 1),
        share=round(float(1.0 - off_mean / on_mean), 4),
        pair_shares=tuple(round(float(s), 4) for s in 1.0 - off / on),
    )

