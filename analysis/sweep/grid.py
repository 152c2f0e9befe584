"""Grids of candidate interval policies: parsed from JSON, or the default around the presets.

A grid is the Cartesian product of its axes; every axis is a list::

    {
      "thresholds": [[[50, 5000], [20, 3000]], [[10, 1000], [5, 2000]], []],
      "threshold_levels": {"above_users": [5, 10, 20, 50],
                           "intervals_ms": [1000, 2000, 3000, 5000], "max_levels": 2},
      "default_ms": [2000, 3000, 5000],
      "load_threshold": [0.7, 0.8, 0.9],
      "load_factor": [1.0, 1.5, 2.0],
      "cap_ms": [5000, 10000],
      "floor_ms": [100],
      "rate_thresholds": [[], [[1.0, 1000]]]
    }

``thresholds`` lists explicit threshold sets; ``threshold_levels`` generates every
set of up to ``max_levels`` (above, interval) pairs with decreasing ``above``; both
may be given (their union is used). Missing axes take the defaults below. Every
mistake raises :class:`GridError` naming the key.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from target_service.policy import PolicyError, ThresholdPolicy

MAX_GRID_POLICIES = 200_000
SCALAR_AXES: dict[str, list[float]] = {
    "default_ms": [2000],
    "load_threshold": [1.0],
    "load_factor": [1.0],
    "cap_ms": [10_000],
    "floor_ms": [100],
}
ALL_KEYS = set(SCALAR_AXES) | {"thresholds", "threshold_levels", "rate_thresholds"}

DEFAULT_GRID: dict[str, Any] = {
    "threshold_levels": {
        "above_users": [5, 10, 20, 50],
        "intervals_ms": [1000, 2000, 3000, 5000],
        "max_levels": 2,
    },
    "default_ms": [1000, 2000, 3000, 5000],
    "load_threshold": [0.6, 0.8, 0.9],
    "load_factor": [1.0, 1.5, 2.0],
    "cap_ms": [5000, 10_000],
}


class GridError(ValueError):
    """A grid document that cannot be expanded; the message names the key."""


def load_grid(path: Path) -> list[ThresholdPolicy]:
    """Policies of the grid JSON at ``path``."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise GridError(f"grid file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GridError(f"cannot read grid file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise GridError(f"grid file {path} is not valid JSON: {exc}") from None
    return expand_grid(doc)


def expand_grid(doc: Any) -> list[ThresholdPolicy]:
    """Every distinct valid policy of the grid, named after its parameters."""
    if not isinstance(doc, dict):
        raise GridError("a grid must be a JSON object of axes")
    unknown = set(doc) - ALL_KEYS
    if unknown:
        raise GridError(f"unknown grid key(s): {', '.join(sorted(unknown))}")
    axes = {key: _number_list(doc, key, default) for key, default in SCALAR_AXES.items()}
    sets = _threshold_sets(doc)
    rate_sets = [_pairs(s, "rate_thresholds") for s in _list(doc, "rate_thresholds", [[]])]
    size = len(sets) * len(rate_sets) * _product(len(v) for v in axes.values())
    if size > MAX_GRID_POLICIES:
        raise GridError(f"grid has {size} policies, more than the limit {MAX_GRID_POLICIES}")
    policies: dict[ThresholdPolicy, None] = {}
    for (thresholds, rates), values in itertools.product(
        itertools.product(sets, rate_sets), itertools.product(*axes.values())
    ):
        fields = {k: float(v) for k, v in zip(axes, values, strict=True)}
        if fields["floor_ms"] > fields["cap_ms"]:
            continue
        if fields["load_factor"] == 1.0:
            fields["load_threshold"] = 1.0  # no load dependence: the threshold is moot
        try:
            policy = ThresholdPolicy(
                name=policy_name(thresholds, rates, fields),
                thresholds=thresholds,
                rate_thresholds=rates,
                default_ms=int(fields["default_ms"]),
                load_threshold=float(fields["load_threshold"]),
                load_factor=float(fields["load_factor"]),
                cap_ms=int(fields["cap_ms"]),
                floor_ms=int(fields["floor_ms"]),
            )
        except PolicyError as exc:
            raise GridError(f"grid makes an invalid policy: {exc}") from None
        policies.setdefault(policy, None)
    if not policies:
        raise GridError("the grid contains no valid policy")
    return list(policies)


def policy_name(
    thresholds: tuple[tuple[float, int], ...],
    rates: tuple[tuple[float, int], ...],
    fields: dict[str, float],
) -> str:
    """Short readable name: ``u50:5000,20:3000|d2000|L0.8x1.5|cap10000``."""
    parts = ["u" + ",".join(f"{a:g}:{ms}" for a, ms in thresholds) if thresholds else "u-"]
    if rates:
        parts.append("r" + ",".join(f"{a:g}:{ms}" for a, ms in rates))
    parts.append(f"d{fields['default_ms']:g}")
    if fields["load_factor"] != 1.0:
        parts.append(f"L{fields['load_threshold']:g}x{fields['load_factor']:g}")
    parts.append(f"cap{fields['cap_ms']:g}")
    if fields["floor_ms"] != 100:
        parts.append(f"floor{fields['floor_ms']:g}")
    return "|".join(parts)


def _threshold_sets(doc: dict[str, Any]) -> list[tuple[tuple[float, int], ...]]:
    sets = [_pairs(s, "thresholds") for s in _list(doc, "thresholds", [])]
    if "threshold_levels" in doc:
        sets.extend(_generated_sets(doc["threshold_levels"]))
    if "thresholds" not in doc and "threshold_levels" not in doc:
        sets = [()]
    if not sets:
        raise GridError("'thresholds' must not be empty (use [[]] for no thresholds)")
    return list(dict.fromkeys(sets))


def _generated_sets(spec: Any) -> Iterator[tuple[tuple[float, int], ...]]:
    if not isinstance(spec, dict) or set(spec) - {"above_users", "intervals_ms", "max_levels"}:
        raise GridError(
            "'threshold_levels' must be an object with above_users, intervals_ms, max_levels"
        )
    aboves = sorted(set(_number_list(spec, "above_users", None)), reverse=True)
    intervals = [int(v) for v in _number_list(spec, "intervals_ms", None)]
    levels = spec.get("max_levels", 2)
    if isinstance(levels, bool) or not isinstance(levels, int) or not 0 <= levels <= 4:
        raise GridError(f"'threshold_levels.max_levels' must be an integer 0..4, got {levels!r}")
    for n in range(levels + 1):
        for chosen in itertools.combinations(aboves, n):
            for picks in itertools.product(intervals, repeat=n):
                yield tuple(zip(chosen, picks, strict=True))


def _list(doc: dict[str, Any], key: str, default: list[Any]) -> list[Any]:
    value = doc.get(key, default)
    if not isinstance(value, list):
        raise GridError(f"'{key}' must be a list, got {value!r}")
    return value


def _number_list(doc: dict[str, Any], key: str, default: list[float] | None) -> list[float]:
    if key not in doc and default is None:
        raise GridError(f"'{key}' is required")
    values = _list(doc, key, default or [])
    if not values:
        raise GridError(f"'{key}' must not be empty")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise GridError(f"'{key}' must hold numbers, got {v!r}")
    return values


def _pairs(value: Any, key: str) -> tuple[tuple[float, int], ...]:
    try:
        return ThresholdPolicy.from_dict({"default_ms": 1000, key: value}).__getattribute__(key)
    except PolicyError as exc:
        raise GridError(f"'{key}': {exc}") from None


def _product(values: Iterator[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out
