"""Generator-bound steps: when Locust, not the service, was the limit.

A load generator that cannot keep its schedule under-loads the service, and the
step then says nothing about the service's capacity beyond "at least this much".
Three signals, each read per step over its steady window:

* **CPU**: a Locust process is one gevent loop, so it saturates at one core; the
  generator's summed CPU% at ``CPU_SATURATED_FRACTION`` of its cores (processes,
  at most the cores it is pinned to) is saturation;
* **schedule lateness**: the users poll on a grid (``loadtests.clients.pacing``),
  and the mean delay of a poll past its due time (counters ``poll_late_ms_sum`` /
  ``polls``) beyond ``LATE_FRACTION`` of the interval is a busy event loop, when the
  service answers well inside the interval and is not CPU-bound (otherwise the
  service made it late);
* **Little's law**: N users each polling every T seconds (or every response time
  R when R > T: a closed loop) must produce N / max(T, R) polls/s; measuring less
  than ``LITTLE_MIN_RATIO`` of it, while the service is neither slow nor CPU-bound,
  means the generator did not keep the schedule.

A capacity that a saturated step bounds (the first failing step, or the last step
when the SLO never broke) is only a lower bound for the service.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CPU_SATURATED_FRACTION = 0.90
LATE_FRACTION = 0.10
LITTLE_MIN_RATIO = 0.90
SCHEDULE_HELD_RATIO = 0.95  # polls/s at least this share of N / T: the users kept their grid
RESPONSIVE_FRACTION = 0.5  # lateness is the generator's only while R < T/2 ...
SERVICE_BUSY_FRACTION = 0.85  # ... and the service's CPU is under 85% of its cores
# the run's one NotificationProducer (loadtests.clients.producer, fixed_count = 1) is a
# Locust user that never polls: at 6 users it alone made Little's law expect 20% too much
PRODUCER_USERS = 1


@dataclass(frozen=True, slots=True)
class GeneratorStep:
    """One step from the generator's side; NaN where a signal was not recorded."""

    users: int
    cpu_percent: float
    cpu_limit_percent: float
    late_ms: float
    expected_polls_per_s: float
    measured_polls_per_s: float
    little_ratio: float
    saturated: bool
    evidence: str


def window_means(
    steps: pd.DataFrame, frame: pd.DataFrame, *, column: str, warmup_fraction: float
) -> list[float]:
    """Mean of ``frame[column]`` over each step's steady window (NaN when no sample)."""
    if column not in frame or frame.empty:
        return [math.nan] * len(steps)
    ordered = frame.sort_values("t_ms", kind="stable")
    t = ordered["t_ms"].to_numpy(dtype=np.float64)
    values = pd.to_numeric(ordered[column], errors="coerce").to_numpy(dtype=np.float64)
    out = []
    for start, end in zip(steps["start_ms"], steps["end_ms"], strict=True):
        lo_ms = start + (end - start) * warmup_fraction
        part = values[(t >= lo_ms) & (t < end)]
        part = part[np.isfinite(part)]
        out.append(float(part.mean()) if part.size else math.nan)
    return out


def generator_steps(
    table: pd.DataFrame,
    *,
    interval_ms: float | None,
    generator_cores: float,
    service_cores: float = 1.0,
    generator_cpu_percent: Sequence[float] | None = None,
    late_ms: Sequence[float] | None = None,
    warmup_fraction: float = 0.25,
) -> list[GeneratorStep]:
    """One verdict per row of a step table (``stats.step_table``), in its order.

    ``generator_cpu_percent`` and ``late_ms`` (mean poll lateness) are per row;
    ``interval_ms`` is the users' nominal poll interval (None: Little's law is skipped).
    """
    n = len(table)
    cpu = list(generator_cpu_percent) if generator_cpu_percent is not None else [math.nan] * n
    late = list(late_ms) if late_ms is not None else [math.nan] * n
    limit = 100.0 * generator_cores * CPU_SATURATED_FRACTION
    rows = table.to_dict("records")
    busy = 100.0 * service_cores * SERVICE_BUSY_FRACTION
    return [_one(row, cpu=cpu[i], late=late[i], cpu_limit=limit, interval_ms=interval_ms,
                 service_busy_percent=busy, warmup_fraction=warmup_fraction)
            for i, row in enumerate(rows)]


def mean_lateness_ms(steps: pd.DataFrame) -> list[float]:
    """Per-step mean lateness of a poll from the step counters (NaN without them)."""
    if "poll_late_ms_sum" not in steps or "polls" not in steps:
        return [math.nan] * len(steps)
    late = pd.to_numeric(steps["poll_late_ms_sum"], errors="coerce")
    polls = pd.to_numeric(steps["polls"], errors="coerce")
    return [float(x) for x in (late / polls.where(polls > 0))]


def capacity_is_lower_bound(
    *, status: str, first_fail_users: int | None, last_pass_users: int | None,
    saturated_users: Sequence[int],
) -> bool:
    """True when the step that decides the SLO capacity had a saturated generator.

    That step is the first failing one (a busy generator delays polls and so delivery,
    and may have caused the failure), or the last one when the SLO never broke (the
    ramp could not load the service further).
    """
    deciding = last_pass_users if status == "never_exceeded" else first_fail_users
    return deciding is not None and deciding in set(saturated_users)


def _one(row: dict, *, cpu: float, late: float, cpu_limit: float, interval_ms: float | None,
         service_busy_percent: float, warmup_fraction: float) -> GeneratorStep:
    users = int(row["users"])
    response_ms = float(row.get("req_mean_ms", math.nan))
    expected, measured = _little(row, users=users, interval_ms=interval_ms,
                                 response_ms=response_ms, warmup_fraction=warmup_fraction)
    ratio = measured / expected if expected > 0 else math.nan
    evidence = []
    if math.isfinite(cpu) and cpu >= cpu_limit:
        evidence.append(f"generator CPU {cpu:.0f}% (limit {cpu_limit:.0f}%)")
    service_cpu = float(row.get("cpu_percent", math.nan))
    responsive = interval_ms is not None and (
        not math.isfinite(response_ms) or response_ms < RESPONSIVE_FRACTION * interval_ms) and (
        not math.isfinite(service_cpu) or service_cpu < service_busy_percent)
    if responsive and interval_ms and math.isfinite(late) and late > LATE_FRACTION * interval_ms:
        evidence.append(f"polls {late:.0f} ms late on average (interval {interval_ms:.0f} ms)")
    if responsive and math.isfinite(ratio) and ratio < LITTLE_MIN_RATIO:
        evidence.append(f"{measured:.0f} polls/s vs {expected:.0f} expected by Little's law "
                        f"({ratio:.0%})")
    return GeneratorStep(users=users, cpu_percent=cpu, cpu_limit_percent=cpu_limit,
                         late_ms=late, expected_polls_per_s=expected, measured_polls_per_s=measured,
                         little_ratio=ratio, saturated=bool(evidence),
                         evidence="; ".join(evidence) or "kept its schedule")


def schedule_held(table: pd.DataFrame, *, interval_ms: float | None,
                  warmup_fraction: float = 0.25) -> pd.Series | None:
    """Per row: did the users poll on their schedule, ≥ ``SCHEDULE_HELD_RATIO`` of N / T?

    A step whose polls fell short (a service so busy that answers come late, or a busy
    generator) measures the service throttling its users, not what users ask for, so
    per-user rates are read from the held steps. In two default runs of the same code
    the last step within the SLO polled at 95.5% and 86% of N / T, and requests per
    user over the steps within the SLO came out 0.627 and 0.587 (−6.4%); over the held
    ones, 0.629 and 0.632. None without a nominal interval (a policy that adapts the
    interval to load: every step stands)."""
    if interval_ms is None or interval_ms <= 0 or table.empty:
        return None
    held = [expected > 0 and measured >= SCHEDULE_HELD_RATIO * expected
            for expected, measured, _ in _schedules(table, interval_ms=interval_ms,
                                                    warmup_fraction=warmup_fraction)]
    return pd.Series(held, index=table.index, dtype=bool)


MIN_SCHEDULE_POLLS = 500  # expected polls in a step's window before its shortfall is judged


def with_schedule_shortfall(table: pd.DataFrame, *, interval_ms: float | None,
                            generator_bound: Sequence[int] = (),
                            warmup_fraction: float = 0.25) -> pd.DataFrame:
    """``table`` with ``schedule_shortfall``: 1 − measured / (N / T) chat polls/s, per step.

    Read by the SLO judgement (:func:`analysis.model.slo.slo_capacity`) and the knee
    ramp (:func:`analysis.model.knee.passes`): a step whose users polled below
    ``SCHEDULE_HELD_RATIO`` of their schedule did not carry N users' load, whatever its
    p95 (answers came so late that the users' polls thinned out; one default run passed
    a step polling at 81 % of schedule, 34 % above its CPU bound, and two runs of the
    same code then found SLO capacities 32 % apart). NaN where it is not the service's
    to answer for: no nominal interval (an adaptive policy), a generator-bound step,
    or fewer than ``MIN_SCHEDULE_POLLS`` expected polls (counting noise)."""
    if not interval_ms or interval_ms <= 0:
        return table.assign(schedule_shortfall=math.nan)
    bound = set(generator_bound)
    rows = _schedules(table, interval_ms=interval_ms, warmup_fraction=warmup_fraction)
    shortfall = []
    for users, (expected, measured, window_s) in zip(table["users"], rows, strict=True):
        judged = (int(users) not in bound and expected * window_s >= MIN_SCHEDULE_POLLS
                  and math.isfinite(measured))
        shortfall.append(max(0.0, 1.0 - measured / expected) if judged else math.nan)
    return table.assign(schedule_shortfall=shortfall)


def _schedules(table: pd.DataFrame, *, interval_ms: float, warmup_fraction: float
               ) -> list[tuple[float, float, float]]:
    """Per row: (N / T expected, measured) chat polls/s and the steady window's seconds."""
    out = []
    for row in table.to_dict("records"):
        expected, measured = _little(row, users=int(row["users"]), interval_ms=interval_ms,
                                     response_ms=math.nan, warmup_fraction=warmup_fraction)
        out.append((expected, measured, _window_s(row, warmup_fraction=warmup_fraction)))
    return out


def _window_s(row: dict, *, warmup_fraction: float) -> float:
    return (float(row["end_ms"]) - float(row["start_ms"])) * (1 - warmup_fraction) / 1000.0


def _little(row: dict, *, users: int, interval_ms: float | None, response_ms: float,
            warmup_fraction: float) -> tuple[float, float]:
    """(expected, measured) chat polls/s over the step's steady window."""
    window_s = _window_s(row, warmup_fraction=warmup_fraction)
    samples = float(row.get("poll_samples", math.nan))
    measured = samples / window_s if window_s > 0 else math.nan
    if interval_ms is None or interval_ms <= 0:
        return math.nan, measured
    cycle_ms = max(interval_ms, response_ms) if math.isfinite(response_ms) else interval_ms
    pollers = users - PRODUCER_USERS if users > PRODUCER_USERS else users
    return pollers / (cycle_ms / 1000.0), measured
