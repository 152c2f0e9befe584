"""The USL fit against published results of reference implementations (data/SOURCES.md)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.model.usl import fit_usl, usl_throughput, validate_usl

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


def _half_unit(printed: str) -> float:
    """Half a unit in the last printed digit: the precision a printed number carries."""
    mantissa, _, exponent = printed.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def _assert_printed(value: float, printed: str, what: str) -> None:
    assert abs(value - float(printed)) <= _half_unit(printed) * (1 + 1e-9), (what, value, printed)


def _assert_all_printed(values: np.ndarray, printed: str, what: str) -> None:
    """Each value against one number of an R vector printout (same order, same length)."""
    for value, text in zip(values, printed.split(), strict=True):
        _assert_printed(float(value), text, what)


def _gunther_transform_fit(n: np.ndarray, x: np.ndarray) -> tuple[float, float, np.ndarray]:
    """σ, κ and fitted X by the polynomial transform of *Guerrilla Capacity Planning* §5.5.

    The R package's older releases fitted this way (X(1) as scale); their printed
    results check the data transcription independently of our nonlinear fit.
    """
    capacity = x / x[0]
    lin = n - 1.0
    (a, b), *_ = np.linalg.lstsq(np.column_stack([lin**2, lin]), n / capacity - 1.0, rcond=None)
    sigma, kappa = float(b - a), float(a)
    return sigma, kappa, usl_throughput(n, sigma=sigma, kappa=kappa, lambda_=float(x[0]))


def test_specsdm91_data_matches_r_usl_transform_results() -> None:
    n, x = _load("specsdm91.csv")
    sigma, kappa, fitted = _gunther_transform_fit(n, x)
    # smoeding/usl tests/t08.Rout.save and t03.Rout.save (polynomial-transform era)
    _assert_printed(sigma, "1.705e-02", "sigma")
    _assert_printed(kappa, "7.892e-05", "kappa")
    _assert_printed(1 - np.sum((x - fitted) ** 2) / np.sum((x - x.mean()) ** 2), "0.9624", "R2")
    _assert_printed(math.sqrt(np.sum((x - fitted) ** 2) / (len(n) - 2)), "140.6", "RSE")
    _assert_all_printed(x - fitted, "0.0 106.8 274.9 65.5 -47.2 -70.9 19.4", "residual")


def test_specsdm91_matches_r_usl_printed_results() -> None:
    n, x = _load("specsdm91.csv")
    fit = fit_usl(n, x)
    # summary.Rout.save
    _assert_printed(fit.sigma, "2.773e-02", "alpha")
    _assert_printed(fit.kappa, "1.044e-04", "beta")
    _assert_printed(fit.lambda_, "9.000e+01", "gamma")
    _assert_printed(fit.r_squared, "0.9896", "R2")
    residuals = x - fit.predict(n)
    _assert_printed(math.sqrt(np.sum(residuals**2) / (len(n) - 3)), "82.85", "RSE")
    # usl-nlxb.Rout.save; gamma to 2e-6 instead of 5e-8: the float64 limit (SOURCES.md)
    _assert_printed(fit.sigma, "0.0277285", "alpha")
    _assert_printed(fit.kappa, "0.0001044", "beta")
    assert fit.lambda_ == pytest.approx(89.9952330, abs=2e-6)
    # fitted.Rout.save, residuals.Rout.save, efficiency.Rout.save
    _assert_all_printed(fit.predict(n), "90 1078 1541 1850 1879 1822 1646", "fitted")
    _assert_all_printed(residuals, "-25.10 -81.66 111.09 3.05 -49.99 -46.60 56.00", "residual")
    efficiency = x / n / fit.lambda_
    _assert_all_printed(efficiency, "0.7211 0.6148 0.5100 0.2860 0.1882 0.1370 0.0876", "eff")
    # peak-, limit-, optimal-scalability.Rout.save (all.equal tolerance 1e-4, relative)
    assert float(f"{fit.peak_n:.2g}") == 97
    assert fit.lambda_ / fit.sigma == pytest.approx(3245.589, rel=1e-4)
    assert 1 / fit.sigma == pytest.approx(36.06401, rel=1e-4)


def test_raytracer_data_matches_r_usl_transform_results() -> None:
    sigma, kappa, _ = _gunther_transform_fit(*_load("raytracer.csv"))
    # smoeding/usl tests/t05.Rout.save
    _assert_printed(sigma, "0.05002394", "sigma")
    _assert_printed(kappa, "0.00000471", "kappa")


def test_raytracer_matches_r_usl_with_kappa_on_its_bound() -> None:
    fit = fit_usl(*_load("raytracer.csv"))
    # confint.Rout.save: coef(u) with digits=3, scipen=6
    _assert_printed(fit.sigma, "0.0578", "alpha")
    _assert_printed(fit.kappa, "0.0000", "beta")
    _assert_printed(fit.lambda_, "21.8488", "gamma")
    # confint(u) is estimate ± se·qt (R/confint.R): midpoints carry the estimates to ±5e-7
    assert fit.sigma == pytest.approx((0.033677 + 0.081864) / 2, abs=5e-7)
    assert fit.kappa == pytest.approx((-0.000214 + 0.000214) / 2, abs=5e-7)
    assert fit.lambda_ == pytest.approx((17.868380 + 25.829306) / 2, abs=5e-7)
    # usl-default.Rout.save with digits=1
    _assert_printed(fit.sigma, "0.06", "alpha")
    _assert_printed(fit.kappa, "0.00", "beta")
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
    band_lo, band_hi = first.band(n)
    assert np.all(band_lo <= band_hi)
    assert np.mean((band_lo <= first.predict(n)) & (first.predict(n) <= band_hi)) > 0.9


def test_validation_holds_out_the_last_40_percent() -> None:
    n = np.arange(1, 11, dtype=float)
    x = usl_throughput(n, sigma=0.05, kappa=0.001, lambda_=10.0)
    result = validate_usl(n, x)
    assert result is not None
    assert (result.train_points, result.test_points) == (6, 4)
    assert result.mean_abs_error_pct < 1e-3
    noisy = x * np.array([1, 1, 1, 1, 1, 1, 1.2, 1.2, 1.2, 1.2])
    noisy_result = validate_usl(n, noisy)
    assert noisy_result is not None
    assert noisy_result.mean_abs_error_pct == pytest.approx(100 * 0.2 / 1.2, rel=1e-3)


def test_validation_needs_points_to_hold_out() -> None:
    assert validate_usl([1, 2, 3], [1, 2, 3]) is None


@pytest.mark.parametrize(
    ("n", "x"), [([1, 2], [1, 2]), ([1, 1, 1], [1, 2, 3]), ([0, -1, 2], [1, 1, 1])]
)
def test_too_few_usable_points_is_a_value_error(n: list[float], x: list[float]) -> None:
    with pytest.raises(ValueError, match="at least"):
        fit_usl(n, x)


def test_the_fit_leaves_out_steps_whose_errors_pass_the_slo_limit() -> None:
    import pandas as pd

    from analysis.model.usl import usl_steps

    table = pd.DataFrame({"users": [200, 800, 1400, 2100, 3150],
                          "requests_per_s": [120.0, 480.0, 870.0, 1320.0, 1250.0],
                          "error_rate": [0.0, 0.0, float("nan"), 0.004, 0.085]})
    rows, note = usl_steps(table, max_error_rate=0.01)
    assert list(rows["users"]) == [200, 800, 1400, 2100]
    assert "left out 3150 users" in note and "errors <= 1%" in note
    clean, none = usl_steps(table.iloc[:4], max_error_rate=0.01)
    assert len(clean) == 4 and none == ""
    few, kept = usl_steps(table.assign(error_rate=[0.0, 0.0, 0.2, 0.3, 0.4]),
                          max_error_rate=0.01)
    assert len(few) == 5 and kept == ""  # under MIN_FIT_STEPS clean steps: keep them all


def test_the_fit_leaves_out_steps_the_generator_could_not_load() -> None:
    import pandas as pd

    from analysis.model.usl import usl_steps

    # a run's 2,750-user refinement step: errors under 1%, but its generator fell behind
    table = pd.DataFrame({"users": [500, 1500, 2500, 3500, 2750],
                          "requests_per_s": [314.0, 970.0, 1576.0, 1837.0, 1175.0],
                          "error_rate": [0.0, 0.0, 0.0004, 0.011, 0.0098]})
    rows, note = usl_steps(table, max_error_rate=0.01, generator_bound=[2750])
    assert list(rows["users"]) == [500, 1500, 2500]
    assert "3500 users (their requests/s counts fast failures)" in note
    assert "2750 users (the generator fell behind: a lower bound)" in note
    kept, _ = usl_steps(table, max_error_rate=0.01)
    assert 2750 in set(kept["users"])  # without the verdict it stays in the fit
