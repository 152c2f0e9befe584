"""CPU and memory of the processes under test, sampled from outside while a run goes on.

The service's CPU is what capacity is about; the load generator's CPU tells whether the
generator, not the service, was the limit (then the measured capacity is a lower bound).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from target_service.proc_tree import TreeMeter

SAMPLE_INTERVAL_S = 1.0


@dataclass
class ResourceSampler:
    """Samples summed CPU % (100 = one core) and RSS of process trees, in a thread.

    ``groups`` maps a name (``service``, ``generator``) to a callable returning root PIDs,
    looked up at every sample, so processes started later (Locust workers) are counted.
    """

    groups: dict[str, Callable[[], Iterable[int]]]
    interval_s: float = SAMPLE_INTERVAL_S
    samples: list[dict[str, float]] = field(default_factory=list)  # one row per sample
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _meters: dict[str, TreeMeter] = field(default_factory=dict)
    _last_cpu_s: dict[str, float] = field(default_factory=dict)

    def start(self) -> ResourceSampler:
        self._thread = threading.Thread(target=self._loop, name="resource-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> pd.DataFrame:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self.frame()

    def frame(self) -> pd.DataFrame:
        columns = ["t_ms"] + [f"{g}_{m}" for g in self.groups for m in ("cpu_percent", "rss_bytes")]
        return pd.DataFrame(self.samples, columns=columns)

    def _loop(self) -> None:
        last = time.monotonic()
        self._sample(elapsed_s=None)
        while not self._stop.wait(self.interval_s):
            now = time.monotonic()
            self._sample(elapsed_s=now - last)
            last = now

    def _sample(self, *, elapsed_s: float | None) -> None:
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
