"""The generator's CPU, measured from outside (target_service.proc_tree) on the Locust tree.

Locust's own CPU warning only says "high"; the bench needs cores used over the
steady window, so a thread samples the tree's CPU seconds twice a second. Beside
them it samples the Locust main thread's run-queue wait (``/proc/<pid>/schedstat``:
time runnable but not running) and the machine's load: a generator that waits for
a CPU a large share of the wall time is starved by other processes, and then the
rate it held is a lower bound, not its capacity.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from target_service.periodic import PeriodicSampler
from target_service.proc_tree import TreeMeter

CPU_SAMPLE_PERIOD_S = 0.5
# Run-queue wait over wall time from which the generator counts as starved: at 5% of
# every second spent runnable but off-CPU, a 2 s schedule slips by more than the 1%
# the held-rate target allows.
STARVED_WAIT_SHARE = 0.05


def read_schedstat_ns(pid: int) -> tuple[int, int] | None:
    """(on-CPU ns, run-queue wait ns) of a process's main thread; None if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text().split()
        return int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True, slots=True)
class SchedSample:
    t_s: float
    run_ns: int
    wait_ns: int
    load_1m: float


@dataclass(frozen=True, slots=True)
class Contention:
    """How the generator's main thread shared the CPUs over a window."""

    run_share: float  # on-CPU time / wall time
    wait_share: float  # runnable but waiting for a CPU / wall time
    load_1m: float  # the machine's mean 1-minute load average over the window
    cpus: int

    @property
    def starved(self) -> bool:
        return self.wait_share >= STARVED_WAIT_SHARE


def contention_between(
    samples: list[SchedSample], *, start_s: float, end_s: float, cpus: int
) -> Contention | None:
    """Run and wait shares of wall time inside a window (None without two samples)."""
    inside = [s for s in samples if start_s <= s.t_s <= end_s]
    if len(inside) < 2 or inside[-1].t_s <= inside[0].t_s:
        return None
    first, last = inside[0], inside[-1]
    wall_ns = (last.t_s - first.t_s) * 1e9
    return Contention(
        run_share=round((last.run_ns - first.run_ns) / wall_ns, 4),
        wait_share=round((last.wait_ns - first.wait_ns) / wall_ns, 4),
        load_1m=round(sum(s.load_1m for s in inside) / len(inside), 2),
        cpus=cpus,
    )


@dataclass
class CpuWatch(PeriodicSampler):
    """Samples (epoch s, CPU s) of a process tree from outside, in a thread."""

    pid: int
    samples: list[tuple[float, float]] = field(default_factory=list)
    sched: list[SchedSample] = field(default_factory=list)
    cpus: int = 0  # CPUs the generator may run on (its affinity), read while it runs
    interval_s: float = CPU_SAMPLE_PERIOD_S
    thread_name: ClassVar[str] = "cpu-watch"
    # the tree's one sampler; an exited process keeps its reading
    _meter: TreeMeter = field(default_factory=TreeMeter)

    def start(self) -> None:
        self._start_sampling()

    def stop(self) -> None:
        self._stop_sampling()

    def _first_sample(self) -> None:
        self._sample()

    def _sample(self) -> None:
        now_s = time.time()
        self.samples.append((now_s, self._meter.read([self.pid]).cpu_s))
        stat = read_schedstat_ns(self.pid)
        if stat is not None:
            self.cpus = self.cpus or _affinity_count(self.pid)
            self.sched.append(SchedSample(now_s, stat[0], stat[1], os.getloadavg()[0]))

    def cores_between(self, start_s: float, end_s: float) -> float | None:
        """Mean CPU cores used between two epoch times (None without enough samples)."""
        inside = [(t, c) for t, c in self.samples if start_s <= t <= end_s]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def contention_between(self, start_s: float, end_s: float) -> Contention | None:
        return contention_between(self.sched, start_s=start_s, end_s=end_s, cpus=self.cpus)


def _affinity_count(pid: int) -> int:
    try:
        return len(os.sched_getaffinity(pid))
    except OSError:
        return os.cpu_count() or 1
