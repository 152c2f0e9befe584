"""When push pays off: polling against a push transport over message rate and interval.

Pure maths over *measured unit costs* (one run per transport, :mod:`analysis.transports`):

* **polling** costs per user what its requests cost, and it makes ``k`` requests per
  interval ``T`` whatever the message rate (messages ride in the poll responses):
  cores per user ``= D_req * k / T`` with ``D_req`` the measured CPU-seconds per
  request; on serverless, the Lambda + HTTP API bill of ``k / T`` requests/s;
* **push** costs per user an always-open connection plus each delivered message. One
  run at one message rate ``m0`` measures their sum, not the split, so the break-even
  interval is given under the two extreme splits: *per message* (all CPU scales with
  the message rate: ``c * m / m0``, favouring push at low rates) and *per connection*
  (none does: ``c``, favouring push at high rates). Where polling wins under both,
  it stays the better choice whatever the split; between the two curves the split
  decides and a second run at another rate would tell. On API Gateway WebSocket the
  bill is exact in ``m`` (messages, keepalives, connection minutes).

Polling at interval ``T`` is cheaper than push at rate ``m`` when ``T > T*(m)``: the
break-even interval, ``T* = D_req * k / push_cores(m)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.model.pricing import PriceTable, Usage, estimate


@dataclass(frozen=True, slots=True)
class PollingUnits:
    """Measured on the polling run: CPU per request and requests per interval."""

    core_s_per_request: float  # D_req
    requests_per_interval: float  # k: requests/s per user x the interval
    interval_s: float
    response_ms: float


@dataclass(frozen=True, slots=True)
class PushUnits:
    """Measured on a push run: cores per user at ``deliveries_per_user_min`` messages."""

    transport: str
    cores_per_user: float
    deliveries_per_user_min: float  # m0


def breakeven_interval_s(polling: PollingUnits, push: PushUnits, *,
                         messages_per_user_min: NDArray[np.float64] | float,
                         split: str) -> NDArray[np.float64]:
    """``T*(m)`` in seconds: polling is cheaper in CPU at any interval above it.

    ``split``: ``"per_message"`` (push CPU ∝ message rate) or ``"per_connection"``
    (push CPU independent of it). NaN where push costs nothing measurable.
    """
    m = np.asarray(messages_per_user_min, dtype=np.float64)
    if split == "per_message":
        if push.deliveries_per_user_min <= 0:
            return np.full_like(m, math.nan)
        push_cores = push.cores_per_user * m / push.deliveries_per_user_min
    elif split == "per_connection":
        push_cores = np.full_like(m, push.cores_per_user)
    else:
        raise ValueError(f"unknown split {split!r}")
    poll_core_s = polling.core_s_per_request * polling.requests_per_interval
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(push_cores > 0, poll_core_s / push_cores, math.nan)
    return np.asarray(out, dtype=np.float64)


def serverless_breakeven_interval_s(polling: PollingUnits, *, http: PriceTable,
                                    websocket: PriceTable, messages_per_user_min: float,
                                    sends_per_user_s: float) -> float:
    """``T*`` for Lambda + HTTP API polling against API Gateway WebSocket, in seconds.

    The polling bill is linear in requests/s (``k / T``), so ``T*`` is where it equals
    the WebSocket bill at ``messages_per_user_min`` (sends are billed as messages too).
    """
    one_per_s = estimate(http, Usage(requests_per_user_s=1.0, response_ms=polling.response_ms))
    push = estimate(websocket, Usage(requests_per_user_s=0.0, response_ms=0.0,
                                     sends_per_user_s=sends_per_user_s,
                                     deliveries_per_user_s=messages_per_user_min / 60.0))
    per_request = one_per_s.per_1000_users_month_usd
    push_usd = push.per_1000_users_month_usd
    if not per_request or not push_usd:
        return math.nan
    return polling.requests_per_interval * per_request / push_usd


def region_in_words(polling: PollingUnits, push: PushUnits, *,
                    rates_per_user_min: tuple[float, ...] = (0.1, 1.0, 10.0)) -> str:
    """Where polling stays the better choice (in CPU), as one sentence per rate."""
    parts = []
    for m in rates_per_user_min:
        lo, hi = (float(breakeven_interval_s(polling, push, messages_per_user_min=m,
                                             split=s)) for s in ("per_connection",
                                                                 "per_message"))
        sure = max(lo, hi)
        if not math.isfinite(sure):
            continue
        parts.append(f"at {m:g} messages/min per user, polling every {_s(sure)} or slower "
                     f"costs less CPU than {push.transport} whatever the split"
                     + (f" (between {_s(min(lo, hi))} and {_s(sure)} it depends on it)"
                        if abs(hi - lo) > 1e-9 * sure else ""))
    measured = (f"measured: {push.transport} {push.cores_per_user * 1e6:.1f} µcores per user at "
                f"{push.deliveries_per_user_min:.2g} messages/min; polling "
                f"{polling.core_s_per_request * 1e6:.0f} µs CPU per request, "
                f"{polling.requests_per_interval:.2g} requests per {polling.interval_s:g} s")
    if not parts:
        return f"No break-even: {measured}."
    return "; ".join(parts) + f". ({measured}.)"


def _s(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
