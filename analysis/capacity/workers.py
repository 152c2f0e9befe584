"""The worker sweep: one capacity run per uvicorn worker count 1..N, the USL over workers.

``pollcap capacity --workers N --sweep-workers`` answers "what does a second (third, ...)
worker buy on one machine": each point is a whole capacity ramp with ``n`` workers, and
its peak requests/s is the point's throughput X(n). The Universal Scalability Law is
then fitted over n, as over users in one run (:mod:`analysis.model.usl`).

A point is only comparable when the service's ``n`` workers have ``n`` cores of their
own and the generator a core apart: a generator on the service's cores takes CPU the
service would otherwise have, so its X(n) is a lower bound and the curve bends for a
reason that is not the service's. :func:`plan_worker_sweep` (pure) pins the cores when the
machine has them (service on the first ``n``, generator on the next) and otherwise lets
both run on every core, marking the point as shared; :func:`fit_over_workers` fits only
unshared points and says why when they are too few (the USL has three parameters: at
least three worker counts). On a 2-core machine that is always so from 2 workers on,
and the sweep says so rather than fitting a curve to a shared point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.model.usl import MIN_POINTS, UslFit, fit_usl

if TYPE_CHECKING:
    from analysis.capacity.run import CapacityConfig

GENERATOR_CORES = 1  # the local generator's cores when the machine has them (one process)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPoint:
    """How one worker count runs: its cores (``None`` = every core) and whether they are shared."""

    workers: int
    service_cpus: tuple[int, ...] | None
    generator_cpus: tuple[int, ...] | None
    cores_shared: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPoint:
    """One measured worker count: peak throughput and SLO capacity of its capacity run."""

    workers: int
    peak_requests_per_s: float
    slo_users: float | None
    cores_shared: bool
    setup: str
    run_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSweep:
    points: list[WorkerPoint]
    fit: UslFit | None
    fit_note: str
    shared_note: str | None  # which worker counts ran with the generator on their cores

    def speedups(self) -> list[float | None]:
        """X(n) / X(1) per point (None without a 1-worker point or when it measured 0)."""
        base = next((p.peak_requests_per_s for p in self.points if p.workers == 1), 0.0)
        return [p.peak_requests_per_s / base if base > 0 else None for p in self.points]

    def to_json(self) -> dict[str, Any]:
        fit = None if self.fit is None else {
            "sigma": self.fit.sigma, "kappa": self.fit.kappa, "lambda": self.fit.lambda_,
            "r_squared": self.fit.r_squared,
            "peak_workers": None if math.isinf(self.fit.peak_n) else self.fit.peak_n}
        return {"points": [{"workers": p.workers, "peak_requests_per_s": p.peak_requests_per_s,
                            "speedup": s, "slo_users": p.slo_users,
                            "cores_shared": p.cores_shared, "setup": p.setup,
                            "run_id": p.run_id}
                           for p, s in zip(self.points, self.speedups(), strict=True)],
                "fit": fit, "fit_note": self.fit_note, "shared_note": self.shared_note}


def plan_worker_sweep(
    *, max_workers: int, machine_cpus: Sequence[int], generator_cores: int = GENERATOR_CORES
) -> list[SweepPoint]:
    """Worker counts 1..max_workers, on cores of their own where the machine has them."""
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    cpus = sorted(machine_cpus)
    points = []
    for n in range(1, max_workers + 1):
        if n + generator_cores <= len(cpus):
            points.append(SweepPoint(workers=n, service_cpus=tuple(cpus[:n]),
                                     generator_cpus=tuple(cpus[n:n + generator_cores]),
                                     cores_shared=False))
        else:
            points.append(SweepPoint(workers=n, service_cpus=None, generator_cpus=None,
                                     cores_shared=True))
    return points


def fit_over_workers(points: Sequence[WorkerPoint]) -> tuple[UslFit | None, str]:
    """The USL over the unshared points' worker counts, or why there is none."""
    clean = [p for p in points if not p.cores_shared and p.peak_requests_per_s > 0]
    if len(clean) < MIN_POINTS:
        shared = [p.workers for p in points if p.cores_shared]
        why = (f"; {_counts(shared)} shared cores with the generator" if shared else "")
        return None, (f"no USL over workers: it needs {MIN_POINTS} worker counts on cores of "
                      f"their own, this sweep had {len(clean)}{why}")
    n = np.array([p.workers for p in clean], dtype=float)
    x = np.array([p.peak_requests_per_s for p in clean], dtype=float)
    try:
        fit = fit_usl(n, x)
    except ValueError as exc:
        return None, f"no USL over workers: {exc}"
    if math.isinf(fit.peak_n):
        return fit, "κ = 0 over workers: throughput keeps rising with workers (contention only)"
    return fit, f"throughput peaks near {fit.peak_n:.1f} workers at {fit.peak_x:.0f} requests/s"


def shared_cores_note(points: Sequence[WorkerPoint], *, machine_cores: int) -> str | None:
    """The report's line when generator and service shared cores (None when they never did)."""
    shared = [p.workers for p in points if p.cores_shared]
    if not shared:
        return None
    return (f"generator and service share cores at {_counts(shared)} (this machine has "
            f"{machine_cores} cores; n workers need n cores plus {GENERATOR_CORES} for the "
            "generator): those points are lower bounds and left out of the fit")


def run_worker_sweep(
    *,
    max_workers: int,
    machine_cpus: Sequence[int],
    measure: Callable[[SweepPoint], WorkerPoint],
) -> WorkerSweep:
    """Measure every planned point with ``measure`` (one capacity run each), then fit."""
    points = [measure(point) for point in plan_worker_sweep(max_workers=max_workers,
                                                            machine_cpus=machine_cpus)]
    fit, note = fit_over_workers(points)
    return WorkerSweep(points=points, fit=fit, fit_note=note,
                       shared_note=shared_cores_note(points, machine_cores=len(machine_cpus)))


def point_config(cfg: CapacityConfig, point: SweepPoint, *, run_id: str) -> CapacityConfig:
    """``cfg`` for one sweep point: its workers, cores and run id."""
    return replace(cfg, workers=point.workers, service_cpus=point.service_cpus,
                   generator_cpus=point.generator_cpus, run_id=run_id)


def _counts(workers: Sequence[int]) -> str:
    listed = ", ".join(str(n) for n in workers)
    return f"{listed} worker" + ("" if workers == [1] else "s")
