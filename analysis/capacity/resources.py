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
import psutil

SAMPLE_INTERVAL_S = 1.0


def _tree(pids: Iterable[int]) -> list[psutil.Process]:
    found: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                found.setdefault(proc.pid, proc)
        except psutil.Error:
            continue
    return list(found.values())


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
    _cpu_s: dict[int, float] = field(default_factory=dict)

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
            cpu_delta_s = 0.0
            rss = 0
            for proc in _tree(pids()):
                try:
                    times = proc.cpu_times()
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
                total = times.user + times.system
                cpu_delta_s += total - self._cpu_s.get(proc.pid, total)
                self._cpu_s[proc.pid] = total
            row[f"{name}_cpu_percent"] = (
                100.0 * cpu_delta_s / elapsed_s if elapsed_s else float("nan")
            )
            row[f"{name}_rss_bytes"] = float(rss)
        if elapsed_s is not None:
            self.samples.append(row)
