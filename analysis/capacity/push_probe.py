"""The service's push counters over a capacity run, scraped from its ``/metrics`` each second.

The hub's counters (``target_service/realtime/counters.py``) say what the clients
cannot see: how many connections the service holds, how long the fan-out took from
commit to hand-off, and how many subscribers fell behind (caught up by cursor, or
closed to resume). Each scrape reaches one worker (label ``pid``); the sampler keeps
each worker's latest values and sums them, so with several workers a row is the sum
of what was last seen from each (exact for one worker).

The rows join the resources frame (``resources.csv``) as ``push_*`` columns, read per
step by :mod:`analysis.model.push`.
"""

from __future__ import annotations

import re
import time
import urllib.request
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from target_service.periodic import PeriodicSampler

SCRAPE_TIMEOUT_S = 2.0
SAMPLE_INTERVAL_S = 1.0
# /metrics name (after ``pollcap_``) -> column
PUSH_METRICS: dict[str, str] = {
    "realtime_ws_connections": "push_ws_connections",
    "realtime_sse_connections": "push_sse_connections",
    "realtime_longpoll_waiting": "push_longpoll_waiting",
    "realtime_frames_out_total": "push_frames_out",
    "realtime_fanout_messages_total": "push_fanout_messages",
    "realtime_fanout_lag_ms_sum_total": "push_fanout_lag_ms_sum",
    "realtime_catchups_total": "push_catchups",
    "realtime_resume_closes_total": "push_resume_closes",
}
PUSH_COLUMNS = tuple(PUSH_METRICS.values())
_LINE = re.compile(r'^pollcap_(\w+)\{pid="(\d+)"\} (\S+)$')


def parse_push_metrics(text: str) -> dict[int, dict[str, float]]:
    """pid -> {column: value} for the push metrics of one ``/metrics`` page."""
    out: dict[int, dict[str, float]] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and match.group(1) in PUSH_METRICS:
            out.setdefault(int(match.group(2)), {})[PUSH_METRICS[match.group(1)]] = float(
                match.group(3))
    return out


def merged_row(latest: dict[int, dict[str, float]]) -> dict[str, float]:
    """The sum over workers of each one's latest values."""
    return {c: sum(values.get(c, 0.0) for values in latest.values()) for c in PUSH_COLUMNS}


@dataclass
class PushSampler(PeriodicSampler):
    """Scrapes ``{url}/metrics`` in a thread; :meth:`stop` returns ``t_ms`` + push columns."""

    thread_name: ClassVar[str] = "push-sampler"
    url: str
    interval_s: float = SAMPLE_INTERVAL_S
    rows: list[dict[str, float]] = field(default_factory=list)
    errors: int = 0
    _latest: dict[int, dict[str, float]] = field(default_factory=dict)

    def start(self) -> PushSampler:
        self._start_sampling()
        return self

    def stop(self) -> pd.DataFrame:
        self._stop_sampling()
        return pd.DataFrame(self.rows, columns=["t_ms", *PUSH_COLUMNS])

    def _sample(self) -> None:
        try:
            with urllib.request.urlopen(f"{self.url}/metrics", timeout=SCRAPE_TIMEOUT_S) as resp:
                page = resp.read().decode()
        except OSError:
            self.errors += 1  # an overloaded service answers late: a gap, not a zero
            return
        self._latest.update(parse_push_metrics(page))
        if self._latest:
            self.rows.append({"t_ms": time.time() * 1000.0, **merged_row(self._latest)})


def with_push_columns(resources: pd.DataFrame, push: pd.DataFrame) -> pd.DataFrame:
    """The resources frame with each row's latest push sample (at or before it) joined."""
    if push.empty or resources.empty:
        return resources
    left = resources.sort_values("t_ms", kind="stable")
    right = push.sort_values("t_ms", kind="stable")
    return pd.merge_asof(left, right, on="t_ms", direction="backward")
