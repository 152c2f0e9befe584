"""Universal Scalability Law: X(N) = λN / (1 + σ(N−1) + κN(N−1)).

σ (contention) is the serialised fraction of the work, κ (coherency) the cost
of keeping N workers consistent, λ the throughput of one worker. When κ > 0
throughput peaks at N* = √((1−σ)/κ) and then *falls*: the number that turns
"we need more users" into "we need more instances".

The fit is nonlinear least squares on all three parameters with σ, κ, λ ≥ 0
(the same model and bounds as the R ``usl`` package's default ``nlxb`` solver
and usl4j), so the coefficients match theirs on their published datasets (see
tests/analysis/data). Uncertainty comes from a seeded residual bootstrap: the
fitted curve plus resampled residuals, refitted; a few steps of a load test
are too few for pairs resampling (duplicates make degenerate fits).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import OptimizeResult, least_squares

MIN_POINTS = 3
TRAIN_FRACTION = 0.6
BOOTSTRAP_SAMPLES = 200
CONFIDENCE = 0.95

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class UslFit:
    """Fitted coefficients; ``samples`` holds bootstrap (σ, κ, λ) rows, if any."""

    sigma: float
    kappa: float
    lambda_: float
    r_squared: float
    n_points: int
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    confidence: float = CONFIDENCE
    samples: FloatArray = field(default_factory=lambda: np.empty((0, 3)), repr=False)

    @property
    def peak_n(self) -> float:
        """N* = √((1−σ)/κ); infinite when κ = 0 (throughput never turns down)."""
        if self.kappa <= 0 or self.sigma >= 1:
            return math.inf
        return math.sqrt((1.0 - self.sigma) / self.kappa)

    @property
    def peak_x(self) -> float:
        """X(N*); for κ = 0 the asymptote λ/σ (infinite when σ = 0 too)."""
        if math.isinf(self.peak_n):
            return self.lambda_ / self.sigma if self.sigma > 0 else math.inf
        return float(self.predict(self.peak_n))

    def predict(self, n: ArrayLike) -> FloatArray:
        """Throughput at concurrency ``n`` (any shape)."""
        return usl_throughput(n, sigma=self.sigma, kappa=self.kappa, lambda_=self.lambda_)

    def band(self, n: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Pointwise bootstrap band of X(n) at ``confidence``; the curve itself if none."""
        grid = np.asarray(n, dtype=np.float64)
        if len(self.samples) == 0:
            curve = self.predict(grid)
            return curve, curve
        curves = np.stack([usl_throughput(grid, sigma=s, kappa=k, lambda_=lam)
                           for s, k, lam in self.samples])
        tail = (1.0 - self.confidence) / 2.0 * 100.0
        lo, hi = np.percentile(curves, [tail, 100.0 - tail], axis=0)
        return lo, hi


@dataclass(frozen=True, slots=True)
class UslValidation:
    """Fit on the first ``train_points`` (by N), predict the rest; errors in percent."""

    train_points: int
    test_points: int
    mean_abs_error_pct: float
    max_abs_error_pct: float
    fit: UslFit


def usl_throughput(n: ArrayLike, *, sigma: float, kappa: float, lambda_: float) -> FloatArray:
    """X(N) of the USL, vectorised over ``n``."""
    arr = np.asarray(n, dtype=np.float64)
    return lambda_ * arr / (1.0 + sigma * (arr - 1.0) + kappa * arr * (arr - 1.0))


def fit_usl(
    n: ArrayLike,
    x: ArrayLike,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> UslFit:
    """Least-squares USL fit of throughput ``x`` at concurrency ``n``.

    ``bootstrap`` > 0 adds percentile confidence intervals from that many
    residual-bootstrap refits (deterministic for a given ``seed``).
    """
    n_arr, x_arr = _clean(n, x)
    params = _solve(n_arr, x_arr)
    fitted = usl_throughput(n_arr, sigma=params[0], kappa=params[1], lambda_=params[2])
    fit = UslFit(
        sigma=float(params[0]),
        kappa=float(params[1]),
        lambda_=float(params[2]),
        r_squared=_r_squared(x_arr, fitted),
        n_points=len(n_arr),
        confidence=confidence,
    )
    if bootstrap <= 0:
        return fit
    samples = _bootstrap(n_arr, x_arr, fitted, draws=bootstrap, seed=seed)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(samples, [tail, 100.0 - tail], axis=0)
    ci = {name: (float(lo[i]), float(hi[i])) for i, name in enumerate(("sigma", "kappa", "lambda"))}
    return UslFit(
        sigma=fit.sigma, kappa=fit.kappa, lambda_=fit.lambda_, r_squared=fit.r_squared,
        n_points=fit.n_points, ci=ci, confidence=confidence, samples=samples,
    )


def validate_usl(
    n: ArrayLike, x: ArrayLike, *, train_fraction: float = TRAIN_FRACTION
) -> UslValidation | None:
    """How well the model extrapolates: None when too few points to hold any out."""
    n_arr, x_arr = _clean(n, x, minimum=1)
    order = np.argsort(n_arr, kind="stable")
    n_arr, x_arr = n_arr[order], x_arr[order]
    train = max(MIN_POINTS, int(math.floor(len(n_arr) * train_fraction)))
    if train >= len(n_arr):
        return None
    fit = fit_usl(n_arr[:train], x_arr[:train])
    predicted = fit.predict(n_arr[train:])
    actual = x_arr[train:]
    positive = actual > 0
    if not positive.any():
        return None
    errors = np.abs(predicted[positive] - actual[positive]) / actual[positive] * 100.0
    return UslValidation(
        train_points=train,
        test_points=len(actual),
        mean_abs_error_pct=float(np.mean(errors)),
        max_abs_error_pct=float(np.max(errors)),
        fit=fit,
    )


def _clean(
    n: ArrayLike, x: ArrayLike, *, minimum: int = MIN_POINTS
) -> tuple[FloatArray, FloatArray]:
    n_arr = np.asarray(n, dtype=np.float64).ravel()
    x_arr = np.asarray(x, dtype=np.float64).ravel()
    if n_arr.shape != x_arr.shape:
        raise ValueError("concurrency and throughput must have the same length")
    keep = np.isfinite(n_arr) & np.isfinite(x_arr) & (n_arr > 0)
    n_arr, x_arr = n_arr[keep], x_arr[keep]
    if len(n_arr) < minimum:
        raise ValueError(f"the USL needs at least {minimum} points with N > 0, got {len(n_arr)}")
    if len(np.unique(n_arr)) < min(minimum, 3):
        raise ValueError("the USL needs at least 3 distinct concurrency values")
    return n_arr, x_arr


def _solve(n: FloatArray, x: FloatArray, *, starts: list[FloatArray] | None = None) -> FloatArray:
    """Bounded least squares from a few starting points; the lowest cost wins.

    λ starts at the best per-worker throughput seen (X(1) when measured), σ and κ
    at small values on both sides of typical results. Bootstrap refits pass the
    main fit as their only start, which keeps 200 refits to about a second.
    """
    if starts is None:
        lam0 = float(np.max(x / n))
        starts = [np.array([s0, k0, lam0]) for s0, k0 in _SIGMA_KAPPA_STARTS]
    best: FloatArray | None = None
    best_cost = math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for x0 in starts:
            # dogbox takes a few steps when σ or κ sits on its zero bound, where trf
            # crawls towards it (2 vs 33 evaluations on linear data); but dogbox can
            # also cycle, so it gets a small budget and trf finishes what it leaves.
            result = _least_squares(n, x, x0=x0, method="dogbox", max_nfev=DOGBOX_MAX_NFEV)
            if result.status <= 0:
                result = _least_squares(n, x, x0=x0, method="trf", max_nfev=TRF_MAX_NFEV)
            if result.cost < best_cost:
                best, best_cost = result.x, float(result.cost)
    assert best is not None
    return _snap(np.asarray(best, dtype=np.float64))


DOGBOX_MAX_NFEV = 60
TRF_MAX_NFEV = 2000


def _least_squares(n: FloatArray, x: FloatArray, *, x0: FloatArray, method: str,
                   max_nfev: int) -> OptimizeResult:
    return least_squares(
        lambda p: usl_throughput(n, sigma=p[0], kappa=p[1], lambda_=p[2]) - x,
        x0=x0,
        jac=lambda p: _jacobian(n, p),
        bounds=([0.0, 0.0, 0.0], [1.0, np.inf, np.inf]),
        method=method,
        x_scale="jac",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=max_nfev,
    )


def _snap(params: FloatArray) -> FloatArray:
    """Round σ, κ that sit on their zero bound (solver residue like 1e-26) to exactly 0."""
    snapped = params.copy()
    snapped[0] = 0.0 if snapped[0] < 1e-12 else snapped[0]
    snapped[1] = 0.0 if snapped[1] < 1e-18 else snapped[1]
    return snapped


_SIGMA_KAPPA_STARTS = ((0.05, 1e-4), (0.01, 1e-6), (0.3, 1e-3), (0.001, 0.0))


def _jacobian(n: FloatArray, p: FloatArray) -> FloatArray:
    """∂X/∂(σ, κ, λ) of the USL at each N."""
    sigma, kappa, lam = p
    denom = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
    d_sigma = -lam * n * (n - 1.0) / denom**2
    return np.column_stack([d_sigma, d_sigma * n, n / denom])


def _bootstrap(
    n: FloatArray, x: FloatArray, fitted: FloatArray, *, draws: int, seed: int
) -> FloatArray:
    rng = np.random.default_rng(seed)
    residuals = x - fitted
    start = _solve(n, x)
    rows = []
    for _ in range(draws):
        resampled = fitted + rng.choice(residuals, size=len(residuals), replace=True)
        rows.append(_solve(n, resampled, starts=[start]))
    return np.asarray(rows, dtype=np.float64)


def _r_squared(actual: FloatArray, fitted: FloatArray) -> float:
    total = float(np.sum((actual - actual.mean()) ** 2))
    if total == 0.0:
        return 1.0 if np.allclose(actual, fitted) else 0.0
    return 1.0 - float(np.sum((actual - fitted) ** 2)) / total


MIN_FIT_STEPS = 3


def usl_steps(table: pd.DataFrame, *, max_error_rate: float,
              generator_bound: Sequence[int] = ()) -> tuple[pd.DataFrame, str]:
    """The steps the USL is fitted on: errors within the SLO's limit, generator not bound.

    A step with more errors counts its failures as throughput: deadline 503s are fast,
    so its requests/s says how the service breaks down, not what it serves, and that
    differs from run to run (two runs of the same code put X(N*) at 1,328 and 1,997
    requests/s from their one such step). With fewer than ``MIN_FIT_STEPS`` such steps
    every step is kept. A step whose generator fell behind (``generator_bound``: users
    of the steps ``analysis.model.generator`` marks saturated) under-loaded the service,
    so its requests/s is a lower bound, not a point of the curve: one such step at 2,750
    users pulled a run's X(N*) to 1,440 requests/s where the run beside it found 1,994.
    Returns the rows and a note naming what was left out ('' if none).
    """
    errors = pd.to_numeric(table.get("error_rate"), errors="coerce")
    if errors is None:
        errors = pd.Series(np.nan, index=table.index)
    failing = ~(errors.isna() | (errors <= max_error_rate))
    bound = table["users"].isin(list(generator_bound))
    keep = ~failing & ~bound
    if keep.all() or int(keep.sum()) < MIN_FIT_STEPS:
        return table, ""
    why = [f"{', '.join(str(int(u)) for u in table.loc[rows, 'users'])} users ({reason})"
           for rows, reason in ((failing, "their requests/s counts fast failures"),
                                (bound & ~failing, "the generator fell behind: a lower bound"))
           if rows.any()]
    return table[keep], (f"fitted on the {int(keep.sum())} steps with errors <= "
                         f"{max_error_rate:.0%} and the generator on schedule; left out "
                         + "; ".join(why))
