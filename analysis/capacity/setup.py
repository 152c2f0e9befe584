"""Where a capacity run's service and load generator ran, and whether they shared cores.

:func:`run_setup` is pure: the caller passes the cores it pinned (``None`` = every
core of the machine) and the machine's cores. A generator that shares cores with
the service takes CPU the service would otherwise have, so a capacity measured that
way is a lower bound for a service on cores of its own; the report and the console
say so. Locust workers started elsewhere (``--master``) run on cores this process
cannot see: the note says that too.
"""

from __future__ import annotations

import os
from collections.abc import Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadtests.swarm.service_watch import NOT_MEASURED

if TYPE_CHECKING:
    from analysis.capacity.run import CapacityConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSetup:
    """The run's processes and cores, as the report states them."""

    description: str  # one line: service workers and cores, generator processes and cores
    cores_shared: bool  # the service and the local generator ran on common cores
    note: str | None  # why the figures may be a lower bound, when they may

    def meta(self) -> dict[str, Any]:
        return {"setup": self.description, "cores_shared": self.cores_shared,
                "setup_note": self.note}


def available_cpus(cpus: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The requested cores that exist here (a 1-core machine runs everything on core 0)."""
    if not cpus:
        return None
    have = os.sched_getaffinity(0)
    chosen = tuple(c for c in cpus if c in have)
    return chosen or None


def capacity_setup(cfg: CapacityConfig) -> RunSetup:
    """A capacity run's layout on this machine (cores it pinned, workers, processes)."""
    return run_setup(
        machine_cpus=os.sched_getaffinity(0), service_cpus=available_cpus(cfg.service_cpus),
        generator_cpus=available_cpus(cfg.generator_cpus), workers=cfg.workers,
        processes=cfg.processes, remote_workers=cfg.master.expect_workers if cfg.master else 0,
        external_service=cfg.host is not None, service_pid=cfg.service_pid)


def run_setup(
    *,
    machine_cpus: Set[int],
    service_cpus: tuple[int, ...] | None,
    generator_cpus: tuple[int, ...] | None,
    workers: int,
    processes: int,
    remote_workers: int = 0,
    external_service: bool = False,
    service_pid: int | None = None,
) -> RunSetup:
    """Describe the run's layout (``remote_workers`` > 0: a master, its workers elsewhere)."""
    service = set(service_cpus or machine_cpus)
    generator = set(generator_cpus or machine_cpus)
    notes: list[str] = []
    if external_service:
        service_text = "service: the given --host (its cores are not seen from here)"
        shared = set()
        if service_pid is None:
            notes.append(NOT_MEASURED + "; give --service-pid PID to measure it")
        else:
            service_text = f"service: the given --host, PID {service_pid} measured"
    else:
        service_text = f"service: {_plural(workers, 'uvicorn worker')} on {_cores(service)}"
        shared = service & generator
        if workers > len(service):
            notes.append(f"{_plural(workers, 'service worker')} share {_cores(service)}")
    if remote_workers:
        generator_text = (f"generator: a Locust master on {_cores(generator)} and "
                          f"{_plural(remote_workers, 'worker')} started elsewhere")
        notes.append("the workers' cores are not seen from here: if they run on this "
                     "machine they share its cores with the service")
    else:
        procs = _plural(processes, "Locust process", "es")
        generator_text = f"generator: {procs} on {_cores(generator)}"
    if shared:
        notes.insert(0, f"generator and service share {_cores(shared)}: the generator's CPU is "
                        "taken from the service's, so capacity is a lower bound for a service "
                        "on cores of its own")
    return RunSetup(description=f"{service_text}; {generator_text}", cores_shared=bool(shared),
                    note="; ".join(notes) or None)


def _cores(cpus: Set[int]) -> str:
    listed = ",".join(str(c) for c in sorted(cpus))
    return f"core {listed}" if len(cpus) == 1 else f"cores {listed}"


def _plural(n: int, noun: str, suffix: str = "s") -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{suffix}"
