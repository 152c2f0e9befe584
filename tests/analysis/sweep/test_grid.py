"""Policy grids: expansion, names, errors."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.sweep.grid import DEFAULT_GRID, GridError, expand_grid


def test_default_grid_has_thousands_of_distinct_valid_policies() -> None:
    policies = expand_grid(DEFAULT_GRID)
    assert 3000 <= len(policies) <= 20_000
    assert len({p.name for p in policies}) == len(policies)


def test_small_grid_is_the_cartesian_product(small_grid: dict[str, Any]) -> None:
    # 1 + 2*2 threshold sets x 3 defaults x (1 + 1) load variants
    assert len(expand_grid(small_grid)) == 5 * 3 * 2


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1, 2], "JSON object"),
        ({"default_msx": [1000]}, "unknown grid key"),
        ({"default_ms": 1000}, "must be a list"),
        ({"default_ms": []}, "must not be empty"),
        ({"default_ms": ["fast"]}, "must hold numbers"),
        ({"default_ms": [10]}, "invalid policy"),
        ({"thresholds": [[[5, "x"]]]}, "thresholds"),
        ({"threshold_levels": {"above_users": [5]}}, "intervals_ms"),
        (
            {"threshold_levels": {"above_users": [5], "intervals_ms": [1000], "max_levels": 9}},
            "0..4",
        ),
        ({"default_ms": list(range(1000, 400_000, 1))}, "limit"),
    ],
)
def test_grid_errors_name_the_problem(doc: object, message: str) -> None:
    with pytest.raises(GridError, match=message):
        expand_grid(doc)
