"""The USL fit against published results of reference implementations (data/SOURCES.md)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.usl import fit_usl, usl_throughput, validate_usl

DATA = Path(__file__).parent / "data"


def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(DATA / name)
    return frame.iloc[:, 0].to_numpy(float), frame.iloc[:, 1].to_numpy(float)


def test_cisco_matches_book_values_quoted_by_usl4j() -> None:
    fit = fit_usl(*_load("cisco.csv"))
    # usl4j asserts within 0.02% of the book's values; so do we
    assert fit.sigma == pytest.approx(0.02671591, rel=2e-4)
    assert fit.kappa == pytest.approx(7.690945e-4, rel=2e-4)
    assert fit.lambda_ == pytest.approx(995.6486, rel=2e-4)
    assert math.floor(fit.peak_n) == 35
    assert float(fit.predict(35)) == pytest.approx(12341, rel=2e-4)


def test_specsdm91_matches_r_usl_summary() -> None:
    fit = fit_usl(*_load("specsdm91.csv"))
    assert fit.sigma == pytest.approx(2.773e-02, rel=5e-4)
    assert fit.kappa == pytest.approx(1.044e-04, rel=5e-4)
    assert fit.lambda_ == pytest.approx(90.00, rel=5e-4)
    assert round(fit.r_squared, 4) == 0.9896
    assert round(fit.peak_n) == 97  # signif(peak.scalability(u), 2)


def test_raytracer_matches_r_usl_with_kappa_on_its_bound() -> None:
    fit = fit_usl(*_load("raytracer.csv"))
    assert fit.sigma == pytest.approx(0.0578, abs=5e-5)
    assert fit.kappa == 0.0
    assert fit.lambda_ == pytest.approx(21.8488, abs=5e-4)
    assert math.isinf(fit.peak_n)
    assert fit.peak_x == pytest.approx(fit.lambda_ / fit.sigma)


def test_r_usl_coef_check_set() -> None:
    fit = fit_usl([1, 2, 4, 6, 8, 10], [1, 1.8868, 3.0769, 3.5294, 3.5398, 3.3557])
    assert (round(fit.sigma, 3), round(fit.kappa, 3), round(fit.lambda_, 2)) == (0.02, 0.02, 1.0)


def test_recovers_known_parameters_from_exact_curve() -> None:
    n = np.array([1, 5, 10, 20, 40, 80, 120, 160], dtype=float)
    x = usl_throughput(n, sigma=0.08, kappa=0.0004, lambda_=42.0)
    fit = fit_usl(n, x)
    assert (fit.sigma, fit.kappa, fit.lambda_) == pytest.approx((0.08, 0.0004, 42.0), rel=1e-6)
    assert fit.r_squared == pytest.approx(1.0)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    n, x = _load("cisco.csv")
    first = fit_usl(n, x, bootstrap=60, seed=7)
    again = fit_usl(n, x, bootstrap=60, seed=7)
    assert first.ci == again.ci
    for name, value in (("sigma", first.sigma), ("kappa", first.kappa), ("lambda", first.lambda_)):
        lo, hi = first.ci[name]
        assert lo <= value <= hi, name
    lo, hi = first.band(n)
    assert np.all(lo <= hi)
    assert np.mean((lo <= first.predict(n)) & (first.predict(n) <= hi)) > 0.9


def test_validation_holds_out_the_last_40_percent() -> None:
    n = np.arange(1, 11, dtype=float)
    x = usl_throughput(n, sigma=0.05, kappa=0.001, lambda_=10.0)
    result = validate_usl(n, x)
    assert result is not None
    assert (result.train_points, result.test_points) == (6, 4)
    assert result.mean_abs_error_pct < 1e-3
    noisy = x * np.array([1, 1, 1, 1, 1, 1, 1.2, 1.2, 1.2, 1.2])
    assert validate_usl(n, noisy).mean_abs_error_pct == pytest.approx(100 * 0.2 / 1.2, rel=1e-3)


def test_validation_needs_points_to_hold_out() -> None:
    assert validate_usl([1, 2, 3], [1, 2, 3]) is None


@pytest.mark.parametrize(
    ("n", "x"), [([1, 2], [1, 2]), ([1, 1, 1], [1, 2, 3]), ([0, -1, 2], [1, 1, 1])]
)
def test_too_few_usable_points_is_a_value_error(n: list[float], x: list[float]) -> None:
    with pytest.raises(ValueError, match="at least"):
        fit_usl(n, x)
