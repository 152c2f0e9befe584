"""The service's CPU and memory over a swarm, read from outside, or why they were not.

pollcap can read a service's process tree only when it started the service or was
told its PID (``--service-pid``); a ``--host`` alone says where to send requests, not
which process serves them. Then the summary says so in one sentence instead of
showing an empty column. Readings go through the one tree sampler,
:class:`target_service.proc_tree.TreeMeter`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar

import psutil

from target_service.errors import UserError
from target_service.periodic import PeriodicSampler
from target_service.proc_tree import TreeMeter

SAMPLE_INTERVAL_S = 1.0
NOT_MEASURED = ("service CPU and memory not measured: pollcap did not start the service "
                "at --host and no --service-pid was given (its process is not known here)")


def check_service_pid(pid: int | None) -> int | None:
    """``--service-pid``: a running process on this machine (else one line)."""
    if pid is None:
        return None
    if pid <= 0 or not psutil.pid_exists(pid):
        raise UserError(f"--service-pid {pid}: no such process on this machine")
    return pid


def service_pids(*, started: Callable[[], list[int]] | None,
                 pid: int | None) -> Callable[[], list[int]] | None:
    """Where the service's CPU comes from: the started service, else ``--service-pid``."""
    if started is not None:
        return started
    return None if pid is None else (lambda: [pid])


class ServiceWatch(PeriodicSampler):
    """Samples the service tree every second in a thread; :meth:`figures` sums it up."""

    thread_name: ClassVar[str] = "service-watch"

    def __init__(self, pids: Callable[[], list[int]] | None, *,
                 interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.pids, self.interval_s = pids, interval_s
        self._meter = TreeMeter()
        self._first: tuple[float, float] | None = None  # (monotonic s, cpu s)
        self._last: tuple[float, float] | None = None
        self._peak_rss = 0
        self._peak_cores = 0.0
        self.rss_samples: list[tuple[float, int]] = []  # (s since the first reading, bytes)

    def __enter__(self) -> ServiceWatch:
        if self.pids is not None:
            self._read()
            self._start_sampling()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._stop_sampling():
            self._read()

    def _sample(self) -> None:
        self._read()

    def _read(self) -> None:
        assert self.pids is not None
        reading = self._meter.read(self.pids())
        now = (time.monotonic(), reading.cpu_s)
        if self._last is not None and now[0] > self._last[0]:
            cores = (now[1] - self._last[1]) / (now[0] - self._last[0])
            self._peak_cores = max(self._peak_cores, cores)
        self._first = self._first or now
        self._last = now
        self._peak_rss = max(self._peak_rss, reading.rss_bytes)
        self.rss_samples.append((now[0] - self._first[0], reading.rss_bytes))

    def figures(self, *, warmup_s: float = 0.0) -> dict[str, Any]:
        """``measured`` and the figures (cores mean/peak, peak RSS MB, RSS growth after
        ``warmup_s``), or ``why`` not."""
        if self.pids is None:
            return {"measured": False, "why": NOT_MEASURED}
        if self._first is None or self._last is None or self._last[0] <= self._first[0]:
            return {"measured": False, "why": "service CPU not measured: the run was too short"}
        span_s = self._last[0] - self._first[0]
        return {
            "measured": True,
            "cpu_cores_mean": round((self._last[1] - self._first[1]) / span_s, 3),
            "cpu_cores_peak": round(self._peak_cores, 3),
            "rss_mb_peak": round(self._peak_rss / 2**20, 1),
            **rss_growth(self.rss_samples, warmup_s=warmup_s),
        }


def soak_warmup_s(*, users: int, spawn_rate: float, duration_s: float) -> float:
    """Warm-up of a swarm's memory: the ramp plus 30 s, and at least a fifth of the run."""
    return max(users / spawn_rate + 30.0, duration_s / 5)


def rss_growth(samples: list[tuple[float, int]], *, warmup_s: float) -> dict[str, Any]:
    """Service memory growth after warm-up: the mean RSS over the last window against the
    mean over the first window after ``warmup_s``; a window is 30 s, or a tenth of the
    time after warm-up when that is shorter. Empty when too little was sampled."""
    after = [(t_s, rss) for t_s, rss in samples if t_s >= warmup_s]
    if len(after) < 4:
        return {}
    span_s = after[-1][0] - after[0][0]
    window_s = min(30.0, span_s / 10) if span_s < 300 else 30.0
    first = [rss for t_s, rss in after if t_s <= after[0][0] + window_s]
    last = [rss for t_s, rss in after if t_s >= after[-1][0] - window_s]
    start_b, end_b = sum(first) / len(first), sum(last) / len(last)
    return {
        "rss_warmup_s": round(warmup_s, 1),
        "rss_mb_after_warmup": round(start_b / 2**20, 1),
        "rss_mb_end": round(end_b / 2**20, 1),
        "rss_growth_pct": round(100.0 * (end_b - start_b) / start_b, 1) if start_b else None,
    }
