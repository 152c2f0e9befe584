"""CPU and memory of the processes under test, sampled from outside while a run goes on.

The service's CPU is what capacity is about; the load generator's CPU tells whether the
generator, not the service, was the limit (then the measured capacity is a lower bound).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from target_service.periodic import PeriodicSampler
from target_service.proc_tree import TreeMeter

SAMPLE_INTERVAL_S = 1.0


@dataclass
class ResourceSampler(PeriodicSampler):
    """Samples summed CPU % (100 = one core) and RSS of process trees, in a thread.

    ``groups`` maps a name (``service``, ``generator``) to a callable returning root PIDs,
    looked up at every sample, so processes started later (Locust workers) are counted.
    """

    thread_name: ClassVar[str] = "resource-sampler"
    groups: dict[str, Callable[[], Iterable[int]]]
    interval_s: float = SAMPLE_INTERVAL_S
    samples: list[dict[str, float]] = field(default_factory=list)  # one row per sample
    _meters: dict[str, TreeMeter] = field(default_factory=dict)
    _last_cpu_s: dict[str, float] = field(default_factory=dict)
    _last_s: float = 0.0  # monotonic time of the last reading

    def start(self) -> ResourceSampler:
        self._start_sampling()
        return self

    def stop(self) -> pd.DataFrame:
        self._stop_sampling()
        return self.frame()

    def frame(self) -> pd.DataFrame:
        columns = ["t_ms"] + [f"{g}_{m}" for g in self.groups for m in ("cpu_percent", "rss_bytes")]
        return pd.DataFrame(self.samples, columns=columns)

    def _first_sample(self) -> None:
        self._last_s = time.monotonic()
        self._read(elapsed_s=None)  # the CPU baseline; no row

    def _sample(self) -> None:
        now_s = time.monotonic()
        self._read(elapsed_s=now_s - self._last_s)
        self._last_s = now_s

    def _read(self, *, elapsed_s: float | None) -> None:
        row: dict[str, float] = {"t_ms": time.time() * 1000.0}
        for name, pids in self.groups.items():
            reading = self._meters.setdefault(name, TreeMeter()).read(pids())
            cpu_delta_s = reading.cpu_s - self._last_cpu_s.get(name, reading.cpu_s)
            self._last_cpu_s[name] = reading.cpu_s
            row[f"{name}_cpu_percent"] = (
                100.0 * cpu_delta_s / elapsed_s if elapsed_s else float("nan")
            )
            row[f"{name}_rss_bytes"] = float(reading.rss_bytes)
        if elapsed_s is not None:
            self.samples.append(row)
