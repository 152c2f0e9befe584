"""CPU and memory of process trees, read from outside with psutil: the one sampler of the tree.

The service bench reads the service's CPU seconds per request, the capacity run
(``analysis.capacity.resources``) the service's and the generator's CPU per second, the
generator bench (``loadtests.bench.run``) the Locust tree's cores: all through
:class:`TreeMeter`; their threads only decide when to read. CPU seconds are cumulative
over every process seen since the meter started, and a process that exited keeps its
last reading, so a worker that dies or a Locust worker that starts late neither drops
nor inflates the total. Processes are told
apart by (pid, create time): a reused PID is a new process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psutil


@dataclass(frozen=True, slots=True)
class TreeReading:
    cpu_s: float  # user + system, cumulative (see the module docstring)
    rss_bytes: int  # resident memory of the processes alive now


def process_tree(pids: Iterable[int]) -> list[psutil.Process]:
    """The processes with these PIDs and all their descendants (gone ones skipped)."""
    found: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                found.setdefault(proc.pid, proc)
        except psutil.Error:
            continue
    return list(found.values())


class TreeMeter:
    """Cumulative CPU seconds and current RSS of the trees under some root PIDs."""

    def __init__(self) -> None:
        self._cpu_s: dict[tuple[int, float], float] = {}

    def read(self, pids: Iterable[int]) -> TreeReading:
        rss_bytes = 0
        for proc in process_tree(pids):
            try:
                times = proc.cpu_times()
                rss_bytes += proc.memory_info().rss
                self._cpu_s[(proc.pid, proc.create_time())] = times.user + times.system
            except psutil.Error:
                continue
        return TreeReading(cpu_s=sum(self._cpu_s.values()), rss_bytes=rss_bytes)


def cpu_s_of(pid: int) -> float:
    """CPU seconds of one process tree now (a one-off reading)."""
    return TreeMeter().read([pid]).cpu_s
