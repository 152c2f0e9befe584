"""The generator's CPU, measured from outside (target_service.proc_tree) on the Locust tree.

Locust's own CPU warning only says "high"; the bench needs cores used over the
steady window, so a thread samples the tree's CPU seconds twice a second.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from target_service.proc_tree import TreeMeter

CPU_SAMPLE_PERIOD_S = 0.5


@dataclass
class CpuWatch:
    """Samples (epoch s, CPU s) of a process tree from outside, in a thread."""

    pid: int
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        meter = TreeMeter()  # the tree's one sampler; an exited process keeps its reading
        while not self._stop.is_set():
            self.samples.append((time.time(), meter.read([self.pid]).cpu_s))
            self._stop.wait(CPU_SAMPLE_PERIOD_S)

    def cores_between(self, start_s: float, end_s: float) -> float | None:
        """Mean CPU cores used between two epoch times (None without enough samples)."""
        inside = [(t, c) for t, c in self.samples if start_s <= t <= end_s]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
