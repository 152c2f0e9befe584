"""The generator bench's targets, each beside its measured value and the ratio (pure).

Targets (issue 14): one Locust process holds >= 10,000 two-second pollers at
>= 99% of the intended poll rate with recording on, and recording costs <= 10%
of the generator's CPU per request: read in one process that switches recording off
and on every few seconds (:mod:`loadtests.bench.split`), or, with the toggle off,
the recording-on arm minus a recording-off arm run after it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from loadtests.bench.run import BenchArm


@dataclass(frozen=True, slots=True)
class BenchTargets:
    min_users: int = 10_000
    min_held_ratio: float = 0.99
    max_recording_share: float = 0.10


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One target: what it is, the measured value, the bound, ratio = measured / bound."""

    name: str
    measured: float | None
    bound: float
    at_least: bool  # True: measured >= bound passes; False: measured <= bound passes

    @property
    def ratio(self) -> float | None:
        if self.measured is None or self.bound == 0:
            return None
        return round(self.measured / self.bound, 3)

    @property
    def ok(self) -> bool:
        if self.measured is None:
            return False
        return self.measured >= self.bound if self.at_least else self.measured <= self.bound


def recording_share(on: BenchArm, off: BenchArm) -> float | None:
    """Share of the generator's CPU that recording costs (None when unmeasured).

    From the toggled arm's window pairs when the second arm is one
    (:mod:`loadtests.bench.split`); otherwise from two arms:
    Per request when both arms have it: the arms run one after the other, and on a
    shared machine the OS may give them different CPU (a starved arm uses fewer
    cores because it does less work, not because it records less); CPU per request
    compares the same work. Otherwise cores over the steady window.
    """
    if off.split is not None:  # one process, recording toggled: drift cancels
        return off.split.share
    if off.toggle_s > 0:  # a toggled arm without a whole window pair measured nothing
        return None
    if on.cpu_us_per_request and off.cpu_us_per_request is not None:
        return round((on.cpu_us_per_request - off.cpu_us_per_request) / on.cpu_us_per_request, 4)
    if on.generator_cores is None or off.generator_cores is None or on.generator_cores <= 0:
        return None
    return round((on.generator_cores - off.generator_cores) / on.generator_cores, 4)


def target_rows(
    *, users: int, on: BenchArm, off: BenchArm, targets: BenchTargets | None = None
) -> list[TargetRow]:
    t = targets or BenchTargets()
    return [
        TargetRow("2-second pollers in one Locust process", float(users), t.min_users, True),
        TargetRow("poll rate held, recording on", on.held_ratio, t.min_held_ratio, True),
        TargetRow(
            "recording share of generator CPU", recording_share(on, off), t.max_recording_share,
            False,
        ),
    ]


def verdict(
    on: BenchArm, off: BenchArm, *, users: int, targets: BenchTargets | None = None
) -> dict[str, Any]:
    """The bench's figures and pass/fail per target."""
    rows = target_rows(users=users, on=on, off=off, targets=targets)
    return {
        "held_ratio_recording_on": on.held_ratio,
        "held_ratio_recording_off": off.held_ratio,
        "recording_cpu_share": recording_share(on, off),
        "targets": [{**asdict(r), "ratio": r.ratio, "ok": r.ok} for r in rows],
        "ok": all(r.ok for r in rows),
    }


def _value(row: dict[str, Any]) -> str:
    value, bound = row["measured"], row["bound"]
    if value is None:
        return "n/a"
    return f"{value:.2%}" if bound < 1 else f"{value:,.0f}"


def _bound(row: dict[str, Any]) -> str:
    sign = ">=" if row["at_least"] else "<="
    return f"{sign} {row['bound']:.0%}" if row["bound"] < 1 else f"{sign} {row['bound']:,.0f}"


def arm_label(arm: dict[str, Any]) -> str:
    if arm.get("toggle_s"):
        return f"recording toggled every {arm['toggle_s']:g} s"
    return f"recording {'on ' if arm['record'] else 'off'}"


def split_line(arm: dict[str, Any]) -> str:
    """The toggled arm's recording share, its two CPU-per-request figures and spread."""
    split = arm.get("split")
    if not arm.get("toggle_s"):
        return ""
    if split is None:
        return "\n    recording share: no whole on/off window pair inside the steady window"
    shares = split["pair_shares"]
    return (
        f"\n    recording share in one process: {split['on_us_per_request']} us CPU/request in"
        f" {split['pairs']} windows of {split['period_s']:g} s with recording, "
        f"{split['off_us_per_request']} us in the {split['pairs']} between without:"
        f" {split['share']:.2%} (window pairs {min(shares):.1%} to {max(shares):.1%})"
    )


def arm_line(arm: dict[str, Any]) -> str:
    label = arm_label(arm)
    if arm["poll_rps"] is None:
        return f"  {label}: FAILED, no poll rate: " + "; ".join(arm["problems"] or ["unknown"])
    line = (
        f"  {label}: poll rate {arm['poll_rps']:.1f}/s of {arm['intended_poll_rps']:.1f}/s"
        f" intended ({arm['held_ratio']:.2%}), generator {arm['generator_cores']} cores,"
        f" {arm['cpu_us_per_request']} us CPU/request, poll p50 {arm['poll_p50_ms'] or 'n/a'} ms,"
        f" errors {arm['errors']}"
    )
    if arm.get("poll_late_ms_mean") is not None:
        line += f", polls late by {arm['poll_late_ms_mean']} ms on average"
    if arm.get("hub_lag_p99_ms") is not None:
        line += f", hub lag p99 {arm['hub_lag_p99_ms']} ms, GC {arm['gc_ms_per_s']} ms/s"
    line += split_line(arm) + contention_line(arm)
    if arm["problems"]:
        line += "\n    problems: " + "; ".join(arm["problems"])
    return line


def contention_line(arm: dict[str, Any]) -> str:
    """The generator's run-queue wait beside its rate: a busy machine or a slow generator."""
    wait = arm.get("run_queue_wait_share")
    if wait is None:
        return ""
    line = (
        f"\n    generator main thread waited for a CPU {wait:.1%} of the wall time"
        f" (machine load {arm['machine_load_1m']}, generator allowed {arm['machine_cpus']} CPUs)"
    )
    need = cores_needed(arm)
    if need is not None:
        line += f"; at its CPU per request the intended rate needs {need:.2f} cores"
        if need >= 1.0:
            line += " (more than the one core a Locust process's hub can use)"
    if arm.get("starved"):
        return line + ": starved by other processes: the held rate is a lower bound"
    return line + ": not starved, a slip is the generator's own"


def cores_needed(arm: dict[str, Any]) -> float | None:
    """Cores the intended poll rate takes at the arm's measured CPU per request."""
    cpu_us = arm.get("cpu_us_per_request")
    if cpu_us is None:
        return None
    return round(float(cpu_us) * float(arm["intended_poll_rps"]) / 1e6, 3)


def bench_text(figures: dict[str, Any]) -> str:
    lines = [
        f"generator bench: {figures['users']} users against the {figures['target']},"
        f" generator on CPUs {figures['generator_cpus']}, target on {figures['target_cpus']}"
    ]
    lines += [arm_line(arm) for arm in figures["arms"]]
    lines.append(f"  {'target':<42} {'measured':>10} {'target':>10} {'ratio':>7}")
    for row in figures["targets"]:
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.3f}"
        lines.append(
            f"  {row['name']:<42} {_value(row):>10} {_bound(row):>10} {ratio:>7}"
            f"  {'ok' if row['ok'] else 'MISSED'}"
        )
    starved = [a for a in figures["arms"] if a.get("starved")]
    if starved:
        lines.append(
            f"  {len(starved)} of {len(figures['arms'])} arms starved by other processes:"
            " held rates are lower bounds, and the recording share compares CPU per request"
            " of arms that got different CPU (re-measure on a quiet machine)"
        )
    return "\n".join(lines)
