"""Step tables with known answers for the SLO and plan tests."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest


@pytest.fixture
def step_rows() -> Callable[..., pd.DataFrame]:
    """``step_rows(users, p95, errors=None)``: a step table at 0.5 req/s per user."""
    return _table


def _table(users: list[int], p95: list[float], errors: list[float] | None = None) -> pd.DataFrame:
    errors = errors or [0.0] * len(users)
    return pd.DataFrame({"users": users, "delivery_p95_ms": p95, "error_rate": errors,
                         "requests_per_s": [u / 2 for u in users],
                         "redis_ops_per_s": [u * 1.5 for u in users],
                         "pg_queries_per_s": [u * 0.2 for u in users]})
