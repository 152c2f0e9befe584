"""Polling-interval policies: pure functions from what a poll reports to the next interval.

Every layer calls these same functions: the service advertises ``pollIntervalMs``
with them, the Locust users pace themselves with them, and the sweep evaluates
thousands of them in numpy. A policy tuned in a notebook is therefore exactly the
one the service runs.

One parametric family covers the source design's presets:

* ``thresholds``: ``(above_users, interval_ms)`` pairs, checked in order; the first
  whose ``active_users > above_users`` wins (the source's ``if/else if`` chains);
* ``default_ms``: the interval when no threshold matches;
* ``load_threshold`` / ``load_factor``: when ``server_load > load_threshold`` the
  interval is multiplied by ``load_factor`` (the source's ``serverLoad > 0.8 -> x1.5``);
* ``cap_ms`` / ``floor_ms``: clamp of the result (the source's ``min(..., 10000)``);
* ``initial_ms``: the interval before the first response (useDynamicPolling starts at 3000).

``message_rate_per_s`` is accepted everywhere (the source's ``messageRate``) and
used by ``rate_thresholds``, a parametric extension the source leaves unused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MIN_INTERVAL_MS = 100
MAX_INTERVAL_MS = 600_000


class PolicyError(ValueError):
    """A policy name or JSON document that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class ThresholdPolicy:
    """A threshold interval policy; see the module docstring for the fields' meaning."""

    name: str
    default_ms: int
    thresholds: tuple[tuple[float, int], ...] = ()
    rate_thresholds: tuple[tuple[float, int], ...] = ()
    load_threshold: float = 1.0
    load_factor: float = 1.0
    cap_ms: int = 10_000
    floor_ms: int = MIN_INTERVAL_MS
    initial_ms: int | None = None
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def start_ms(self) -> int:
        """Interval before any response has been seen."""
        return self.initial_ms if self.initial_ms is not None else self.default_ms

    def interval_ms(
        self, *, active_users: float, message_rate_per_s: float = 0.0, server_load: float = 0.0
    ) -> int:
        """Next poll interval in ms for one response's figures (scalar, no I/O)."""
        interval = float(self.default_ms)
        for above_users, value_ms in self.thresholds:
            if active_users > above_users:
                interval = float(value_ms)
                break
        for above_rate, value_ms in self.rate_thresholds:
            if message_rate_per_s > above_rate:
                interval = min(interval, float(value_ms))
                break
        if server_load > self.load_threshold:
            interval = min(interval * self.load_factor, float(self.cap_ms))
        return int(round(min(max(interval, self.floor_ms), self.cap_ms)))

    def interval_ms_array(
        self,
        *,
        active_users: np.ndarray | float,
        message_rate_per_s: np.ndarray | float = 0.0,
        server_load: np.ndarray | float = 0.0,
    ) -> np.ndarray:
        """Vectorised :meth:`interval_ms`: same result element by element, as float64 ms."""
        users, rate, load = np.broadcast_arrays(
            np.asarray(active_users, dtype=np.float64),
            np.asarray(message_rate_per_s, dtype=np.float64),
            np.asarray(server_load, dtype=np.float64),
        )
        out = np.full(users.shape, float(self.default_ms))
        matched = np.zeros(users.shape, dtype=bool)
        for above_users, value_ms in self.thresholds:
            hit = (users > above_users) & ~matched
            out[hit] = value_ms
            matched |= hit
        matched[:] = False
        for above_rate, value_ms in self.rate_thresholds:
            hit = (rate > above_rate) & ~matched
            out[hit] = np.minimum(out[hit], value_ms)
            matched |= hit
        loaded = load > self.load_threshold
        out[loaded] = np.minimum(out[loaded] * self.load_factor, self.cap_ms)
        return np.rint(np.clip(out, self.floor_ms, self.cap_ms))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["thresholds"] = [list(t) for t in self.thresholds]
        data["rate_thresholds"] = [list(t) for t in self.rate_thresholds]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThresholdPolicy:
        if not isinstance(data, dict):
            raise PolicyError("a policy must be a JSON object")
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise PolicyError(f"unknown policy field(s): {', '.join(sorted(unknown))}")
        if "default_ms" not in data:
            raise PolicyError("a policy needs 'default_ms'")
        kwargs = dict(data)
        kwargs.setdefault("name", "custom")
        for key in ("thresholds", "rate_thresholds"):
            kwargs[key] = _pairs(kwargs.get(key, ()), key)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise PolicyError(str(exc)) from None


def _pairs(value: Any, key: str) -> tuple[tuple[float, int], ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise PolicyError(f"'{key}' must be a list of [above, interval_ms] pairs")
    pairs = []
    for item in value:
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2:
            raise PolicyError(f"'{key}' entries must be [above, interval_ms] pairs, got {item!r}")
        above, ms = item
        if not isinstance(above, int | float) or not isinstance(ms, int | float):
            raise PolicyError(f"'{key}' entries must be numbers, got {item!r}")
        pairs.append((float(above), int(ms)))
    return tuple(pairs)


def _validate(policy: ThresholdPolicy) -> None:
    def check_ms(label: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(f"{label} must be a number of ms, got {value!r}")
        if not MIN_INTERVAL_MS <= value <= MAX_INTERVAL_MS:
            raise PolicyError(
                f"{label} must be within {MIN_INTERVAL_MS}..{MAX_INTERVAL_MS} ms, got {value}"
            )

    check_ms("default_ms", policy.default_ms)
    check_ms("cap_ms", policy.cap_ms)
    check_ms("floor_ms", policy.floor_ms)
    if policy.initial_ms is not None:
        check_ms("initial_ms", policy.initial_ms)
    if policy.floor_ms > policy.cap_ms:
        raise PolicyError(f"floor_ms {policy.floor_ms} exceeds cap_ms {policy.cap_ms}")
    for _, ms in policy.thresholds + policy.rate_thresholds:
        check_ms("threshold interval", ms)
    if not isinstance(policy.load_factor, int | float) or not 0.1 <= policy.load_factor <= 100:
        raise PolicyError(f"load_factor must be within 0.1..100, got {policy.load_factor!r}")
    if not isinstance(policy.load_threshold, int | float):
        raise PolicyError(f"load_threshold must be a number, got {policy.load_threshold!r}")


PRESETS: dict[str, ThresholdPolicy] = {
    p.name: p
    for p in (
        ThresholdPolicy(
            name="fixed-2s",
            default_ms=2000,
            cap_ms=2000,
            description="usePolling: refetch every 2000 ms",
        ),
        ThresholdPolicy(
            name="notifications-10s",
            default_ms=10_000,
            cap_ms=10_000,
            description="useNotifications: poll unread notifications every 10000 ms",
        ),
        ThresholdPolicy(
            name="seed-dynamic",
            default_ms=5000,
            thresholds=((10, 1000), (5, 2000)),
            initial_ms=3000,
            description="useDynamicPolling: >10 users 1000 ms, >5 2000 ms, else 5000 ms",
        ),
        ThresholdPolicy(
            name="seed-optimal",
            default_ms=2000,
            thresholds=((50, 5000), (20, 3000)),
            load_threshold=0.8,
            load_factor=1.5,
            cap_ms=10_000,
            description="getOptimalInterval: >50 users 5000 ms, >20 3000 ms, else 2000 ms;"
            " load > 0.8 x1.5, cap 10000 ms",
        ),
    )
}


def load_policy(spec: str | Path) -> ThresholdPolicy:
    """A preset by name, or a policy JSON file by path. Raises :class:`PolicyError`."""
    text = str(spec)
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text)
    if not path.suffix and not path.exists():
        raise PolicyError(
            f"unknown policy {text!r}: use one of {', '.join(PRESETS)} or a JSON file path"
        )
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid JSON: {exc}") from None
    return ThresholdPolicy.from_dict(data)
