"""Monthly request cost: the one formula the plan, the sweep and the what-if share.

The price model is a request charge only (serverless-style, per million requests),
so cost is linear in the request rate: ``requests_per_s * SECONDS_PER_MONTH / 1e6 *
price``. It leaves out compute duration, Redis, PostgreSQL and data transfer, and
every report that shows a cost says so with :func:`price_assumption`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.defaults import SECONDS_PER_MONTH


def requests_per_month(requests_per_s: ArrayLike) -> NDArray[np.float64]:
    """Requests in a 30-day month at a steady rate (any shape)."""
    return np.asarray(requests_per_s, dtype=np.float64) * SECONDS_PER_MONTH


def cost_per_month_usd(requests_per_s: ArrayLike, *, price_per_million_usd: float) -> NDArray[
    np.float64
]:
    """USD per month of the request charge at ``requests_per_s`` (any shape)."""
    return requests_per_month(requests_per_s) / 1e6 * price_per_million_usd


def price_assumption(price_per_million_usd: float) -> str:
    """What the cost figures include and leave out, for reports and plans."""
    return (
        f"request charge only, AWS-Lambda-like ${price_per_million_usd:.2f} per million "
        "requests; excludes compute duration, Redis, PostgreSQL and data transfer"
    )
