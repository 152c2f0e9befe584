"""Response time of the service as a function of its load, from a measured run.

Load ``rho`` is the request rate over the service's capacity (its peak throughput,
from the Universal Scalability Law fit, :mod:`analysis.model.usl`, or the highest
measured step). Inside the
measured range the response time is interpolated from the measured curve
(throughput -> mean response time of the steps). Beyond it, and when only a USL
fit is known, it grows like an M/M/1 queue, ``R(rho) = R_anchor * (1 - rho_anchor)
/ (1 - rho)``: the simplest model that diverges at capacity, which is what makes
a policy that pushes the load close to 1 visibly expensive in delivery latency.
At ``rho >= 1`` the service is saturated and the response time is infinite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_FREE_SHARE = 1e-3


@dataclass(frozen=True, slots=True)
class ResponseModel:
    """Response time (ms) against load; ``curve_*`` are measured points, sorted by rps."""

    capacity_rps: float
    base_ms: float
    curve_rps: tuple[float, ...] = ()
    curve_ms: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not (self.capacity_rps > 0 and math.isfinite(self.capacity_rps)):
            raise ValueError(f"capacity_rps must be positive and finite, got {self.capacity_rps}")
        if not self.base_ms >= 0:
            raise ValueError(f"base_ms must be >= 0, got {self.base_ms}")
        if len(self.curve_rps) != len(self.curve_ms):
            raise ValueError("curve_rps and curve_ms must have the same length")
        if list(self.curve_rps) != sorted(self.curve_rps):
            raise ValueError("curve_rps must be sorted ascending")

    @classmethod
    def from_points(
        cls, *, throughput_rps: np.ndarray, response_ms: np.ndarray, capacity_rps: float
    ) -> ResponseModel:
        """From measured steps; points at or above capacity are dropped (overload)."""
        rps = np.asarray(throughput_rps, dtype=np.float64)
        ms = np.asarray(response_ms, dtype=np.float64)
        keep = np.isfinite(rps) & np.isfinite(ms) & (rps < capacity_rps * (1 - MIN_FREE_SHARE))
        order = np.argsort(rps[keep])
        rps, ms = rps[keep][order], ms[keep][order]
        base = float(ms[0]) if ms.size else 0.0
        return cls(
            capacity_rps=capacity_rps,
            base_ms=base,
            curve_rps=tuple(float(v) for v in rps),
            curve_ms=tuple(float(v) for v in ms),
        )

    def response_ms(self, load: np.ndarray | float) -> np.ndarray:
        """Mean response time (ms) at ``load`` = rate / capacity; ``inf`` at ``load >= 1``."""
        rho = np.asarray(load, dtype=np.float64)
        if self.curve_rps:
            anchor_rho = self.curve_rps[-1] / self.capacity_rps
            anchor_ms = self.curve_ms[-1]
        else:
            anchor_rho, anchor_ms = 0.0, self.base_ms
        with np.errstate(divide="ignore", invalid="ignore"):
            queued = anchor_ms * (1.0 - anchor_rho) / (1.0 - rho)
        out = np.where(rho >= 1.0, np.inf, queued)
        if self.curve_rps:
            inside = rho * self.capacity_rps <= self.curve_rps[-1]
            measured = np.interp(rho * self.capacity_rps, self.curve_rps, self.curve_ms)
            out = np.where(inside, measured, out)
        return np.maximum(out, 0.0)
