"""``analysis.capacity.workers``: the worker sweep's core plan, fit and notes (pure)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.capacity.workers import (
    SweepPoint,
    WorkerPoint,
    fit_over_workers,
    plan_worker_sweep,
    run_worker_sweep,
    shared_cores_note,
)
from analysis.model.usl import usl_throughput


def _point(workers: int, x: float, *, shared: bool = False) -> WorkerPoint:
    return WorkerPoint(workers=workers, peak_requests_per_s=x, slo_users=None,
                       cores_shared=shared, setup="", run_id=f"r{workers}")


def test_two_cores_pin_one_worker_apart_and_share_from_two() -> None:
    one, two = plan_worker_sweep(max_workers=2, machine_cpus=[0, 1])
    assert (one.service_cpus, one.generator_cpus, one.cores_shared) == ((0,), (1,), False)
    assert (two.service_cpus, two.generator_cpus, two.cores_shared) == (None, None, True)


def test_enough_cores_give_each_count_its_own_cores_and_the_generator_one_apart() -> None:
    cpus = [3, 1, 0, 2, 5, 4]
    points = plan_worker_sweep(max_workers=4, machine_cpus=cpus)
    assert [p.workers for p in points] == [1, 2, 3, 4]
    for p in points:
        assert not p.cores_shared and p.service_cpus and p.generator_cpus
        assert len(p.service_cpus) == p.workers
        assert not set(p.service_cpus) & set(p.generator_cpus)
        assert set(p.service_cpus) | set(p.generator_cpus) <= set(cpus)
    with pytest.raises(ValueError):
        plan_worker_sweep(max_workers=0, machine_cpus=cpus)


def test_the_fit_recovers_a_known_curve_from_unshared_points() -> None:
    sigma, kappa, lambda_ = 0.05, 0.01, 900.0
    n = np.arange(1, 9)
    x = usl_throughput(n, sigma=sigma, kappa=kappa, lambda_=lambda_)
    fit, note = fit_over_workers([_point(int(k), float(v)) for k, v in zip(n, x, strict=True)])
    assert fit is not None
    assert fit.sigma == pytest.approx(sigma, rel=1e-3)
    assert fit.kappa == pytest.approx(kappa, rel=1e-3)
    assert fit.lambda_ == pytest.approx(lambda_, rel=1e-3)
    expected_peak = math.sqrt((1 - sigma) / kappa)
    assert f"{expected_peak:.1f} workers" in note


def test_shared_points_are_left_out_and_too_few_points_say_why() -> None:
    x = usl_throughput(np.arange(1, 5), sigma=0.1, kappa=0.0, lambda_=500.0)
    points = [_point(1, float(x[0])), _point(2, float(x[1])),
              _point(3, float(x[2]) / 2, shared=True), _point(4, float(x[3]) / 2, shared=True)]
    fit, note = fit_over_workers(points)
    assert fit is None
    assert "this sweep had 2" in note and "3, 4 workers shared cores" in note
    clean_fit, _ = fit_over_workers([_point(k + 1, float(v)) for k, v in enumerate(x)])
    assert clean_fit is not None and clean_fit.kappa == pytest.approx(0.0, abs=1e-6)


def test_the_sweep_measures_each_planned_point_and_notes_shared_cores() -> None:
    seen: list[SweepPoint] = []

    def measure(point: SweepPoint) -> WorkerPoint:
        seen.append(point)
        return _point(point.workers, 100.0 * point.workers, shared=point.cores_shared)

    sweep = run_worker_sweep(max_workers=2, machine_cpus=[0, 1], measure=measure)
    assert [p.workers for p in seen] == [1, 2]
    assert sweep.speedups() == [1.0, 2.0]
    assert sweep.fit is None
    assert sweep.shared_note is not None and "at 2 workers" in sweep.shared_note
    assert "2 cores" in sweep.shared_note
    assert sweep.to_json()["points"][1]["cores_shared"] is True
    assert shared_cores_note([_point(1, 1.0)], machine_cores=2) is None
