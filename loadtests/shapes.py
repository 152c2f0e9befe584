"""Load shapes as tables of stages, and the Locust shape class that plays them.

A shape is a list of :class:`Stage` rows, each holding a user count until ``end_s``
seconds after the start. The tables are plain data so the swarm runner can write
them into ``meta.json`` and the analysis can cut a run into steps without
re-deriving the ramp. The Locust shape class (in the locustfile) only looks the
current row up. This module does not import Locust (which monkey-patches the
process), so tests and the swarm runner can use it freely.

Shape specs (the ``--shape`` option) read like ``constant``,
``step:start=50,step=50,hold=30s,max=400`` or
``spike:base=50,peak=400,at=20s,hold=10s`` or ``live:start=500,max=20000`` (the
knee-finding ramp: its next count is read from Redis while it runs, see
:mod:`loadtests.live_shape`; its table is one stage, ``start`` users until the cap).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from loadtests.durations import parse_duration_s
from target_service.errors import UserError

SHAPES = ("constant", "step", "spike", "live")


@dataclass(frozen=True, slots=True)
class Stage:
    """Hold ``users`` (reached at ``spawn_rate`` users/s) until ``end_s`` after the start."""

    end_s: float
    users: int
    spawn_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def constant_stages(*, users: int, spawn_rate: float, duration_s: float) -> list[Stage]:
    """One stage: ``users`` for ``duration_s`` seconds."""
    return [Stage(end_s=float(duration_s), users=users, spawn_rate=spawn_rate)]


def step_stages(
    *, start: int, step: int, hold_s: float, max_users: int, spawn_rate: float
) -> list[Stage]:
    """A step ramp: ``start``, ``start + step``, ... up to ``max_users``, each held ``hold_s``.

    Each step must be long enough to reach steady state after its ramp; the runner
    warns nothing, so pick ``hold_s`` well above ``step / spawn_rate``.
    """
    if start < 1 or step < 1 or max_users < start or hold_s <= 0:
        raise UserError(
            f"step shape needs start>=1, step>=1, max>=start, hold>0 "
            f"(got start={start}, step={step}, max={max_users}, hold={hold_s}s)"
        )
    counts = list(range(start, max_users + 1, step))
    if counts[-1] != max_users:
        counts.append(max_users)
    return [
        Stage(end_s=hold_s * (i + 1), users=n, spawn_rate=spawn_rate) for i, n in enumerate(counts)
    ]


def spike_stages(
    *, base: int, peak: int, at_s: float, hold_s: float, duration_s: float, spawn_rate: float
) -> list[Stage]:
    """``base`` users, a jump to ``peak`` at ``at_s`` held ``hold_s``, then ``base`` to the end.

    The spike's own spawn rate is the whole jump per second (it arrives within ~1 s),
    which is what makes it a spike rather than a ramp.
    """
    if not 0 < base <= peak or at_s <= 0 or hold_s <= 0 or duration_s <= at_s + hold_s:
        raise UserError(
            "spike shape needs 0<base<=peak, at>0, hold>0 and duration > at+hold "
            f"(got base={base}, peak={peak}, at={at_s}s, hold={hold_s}s, duration={duration_s}s)"
        )
    jump_per_s = float(max(peak - base, 1))
    return [
        Stage(end_s=at_s, users=base, spawn_rate=spawn_rate),
        Stage(end_s=at_s + hold_s, users=peak, spawn_rate=jump_per_s),
        Stage(end_s=duration_s, users=base, spawn_rate=jump_per_s),
    ]


def stage_at(stages: list[Stage], t_s: float) -> Stage | None:
    """The stage in force ``t_s`` seconds after the start, or None once the table ends."""
    for stage in stages:
        if t_s < stage.end_s:
            return stage
    return None


def total_duration_s(stages: list[Stage]) -> float:
    return stages[-1].end_s if stages else 0.0


def parse_shape(
    spec: str, *, users: int, spawn_rate: float, duration_s: float | None
) -> list[Stage]:
    """Turn a ``--shape`` spec into a stage table (see the module docstring for syntax).

    ``users``/``spawn_rate``/``duration_s`` are the common options; ``constant`` uses
    them as is, the other shapes use them as defaults (``max``/``peak`` = users).
    A constant shape without a duration runs for ever (``math.inf``), as Locust's
    web UI expects.
    """
    kind, _, rest = spec.strip().partition(":")
    params = _parse_params(rest, spec)
    duration = duration_s if duration_s is not None else math.inf
    if kind == "constant":
        _no_params(params, spec)
        return constant_stages(users=users, spawn_rate=spawn_rate, duration_s=duration)
    if kind == "step":
        start = int(params.pop("start", str(max(1, users // 5))))
        stages = step_stages(
            start=start,
            step=int(params.pop("step", str(start))),
            hold_s=parse_duration_s(params.pop("hold", "30s")),
            max_users=int(params.pop("max", str(users))),
            spawn_rate=spawn_rate,
        )
        _no_params(params, spec)
        return stages
    if kind == "spike":
        if duration_s is None:
            raise UserError("a spike shape needs a duration")
        stages = spike_stages(
            base=int(params.pop("base", str(max(1, users // 4)))),
            peak=int(params.pop("peak", str(users))),
            at_s=parse_duration_s(params.pop("at", str(duration_s / 3))),
            hold_s=parse_duration_s(params.pop("hold", str(duration_s / 6))),
            duration_s=duration_s,
            spawn_rate=spawn_rate,
        )
        _no_params(params, spec)
        return stages
    if kind == "live":
        return [_live_stage(spec, users=users, spawn_rate=spawn_rate,
                            duration_s=duration_s)]
    raise UserError(f"unknown shape {kind!r}: use one of {', '.join(SHAPES)}")


def live_bounds(spec: str, *, users: int) -> tuple[int, int]:
    """``(start, max)`` users of a ``live:`` spec (``max`` defaults to ``users``)."""
    params = _parse_params(spec.strip().partition(":")[2], spec)
    top = int(params.pop("max", str(users)))
    start = int(params.pop("start", str(min(top, max(1, users // 5)))))
    _no_params(params, spec)
    if not 1 <= start <= top:
        raise UserError(f"live shape needs 1 <= start <= max (got start={start}, max={top})")
    return start, top


def _live_stage(spec: str, *, users: int, spawn_rate: float,
                duration_s: float | None) -> Stage:
    if duration_s is None:
        raise UserError("a live shape needs a duration (its hard time cap)")
    start, _top = live_bounds(spec, users=users)
    return Stage(end_s=float(duration_s), users=start, spawn_rate=spawn_rate)


def _parse_params(rest: str, spec: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"bad shape parameter {item!r} in {spec!r}: use key=value")
        params[key.strip()] = value.strip()
    try:
        for key in ("start", "step", "max", "base", "peak"):
            if key in params:
                int(params[key])
    except ValueError:
        raise UserError(f"shape parameter {key}={params[key]!r} must be an integer") from None
    return params


def _no_params(params: dict[str, str], spec: str) -> None:
    if params:
        raise UserError(f"unknown shape parameter(s) {', '.join(sorted(params))} in {spec!r}")
