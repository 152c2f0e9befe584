"""The generator bench: does one Locust process hold N 2-second pollers; what does recording cost?

Two swarms, side by side in one invocation, identical but for recording (samples
and counters to Redis on, then off). For each: the steady-state chat poll rate
against the intended one (users / 2 s), and the generator's CPU measured from
outside (:mod:`loadtests.bench.cpu`). The target runs pinned to other cores so the
generator has its own. An arm that failed (no polls, no steady window, Locust
ended badly) carries the reasons instead of a rate of 0.0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from loadtests.bench.cpu import CpuWatch
from loadtests.bench.split import RecordingSplit, edges_from, recording_split
from loadtests.clients.names import POLL_NAME
from loadtests.recording.keys import samples_key
from loadtests.swarm.run import ScenarioParams, SwarmProgress, SwarmResult, run_swarm
from loadtests.swarm.summary import SteadyWindow, read_csv, steady_window
from target_service.errors import UserError

POLL_INTERVAL_S = 2.0  # the bench's users poll on fixed-2s


@dataclass(frozen=True, slots=True)
class BenchArm:
    record: bool
    rate_source: str
    run_id: str
    chat_users: int
    intended_poll_rps: float
    poll_rps: float | None  # None: the arm failed to measure it (see problems)
    held_ratio: float | None
    generator_cores: float | None
    cpu_us_per_request: float | None
    poll_p50_ms: float | None
    errors: int
    poll_late_ms_mean: float | None = None
    hub_lag_p99_ms: float | None = None  # how late the Locust hub woke a 50 ms sleeper
    gc_ms_per_s: float | None = None  # collector pauses, ms per second of run
    run_queue_wait_share: float | None = None  # main thread runnable but off-CPU / wall time
    machine_load_1m: float | None = None  # mean 1-minute load average over the window
    machine_cpus: int | None = None  # CPUs the generator may run on
    starved: bool | None = None  # waited for a CPU >= STARVED_WAIT_SHARE: rate is a lower bound
    problems: tuple[str, ...] = ()
    toggle_s: float = 0.0  # > 0: recording switched off and on every toggle_s (the split arm)
    split: RecordingSplit | None = None  # that arm's recording share, window pair by pair

    @property
    def failed(self) -> bool:
        return self.poll_rps is None


def sampled_rate(redis_url: str, *, run_id: str, window: SteadyWindow) -> float:
    """Polls/s from the Redis samples' own ms timestamps inside ``window``.

    Locust's history rows are stamped in whole seconds and slip when the process
    is starved, which alone moves a 40 s rate by a few per cent; the samples are
    stamped to the ms at receipt.
    """
    client = redis.Redis.from_url(redis_url)
    try:
        key = samples_key(run_id=run_id, sample_type="poll")
        count = client.zcount(key, window.start_s * 1000, window.end_s * 1000)
    finally:
        client.close()
    return round(count / window.span_s, 2)


def run_arm(
    *,
    record: bool,
    host: str,
    redis_url: str,
    users: int,
    spawn_rate: float,
    duration_s: float,
    runs_dir: Path,
    cpu_affinity: list[int] | None,
    scenario: ScenarioParams,
    progress: Callable[[SwarmProgress], None] | None = None,
    toggle_s: float = 0.0,
) -> BenchArm:
    """One swarm of the bench with recording on, off, or (``toggle_s`` > 0) switched off
    and on every ``toggle_s`` after the ramp, measured from outside."""
    watch: list[CpuWatch] = []

    def on_start(pid: int) -> None:
        watch.append(CpuWatch(pid=pid))
        watch[0].start()

    chat_users = users - 1  # one NotificationProducer
    try:
        result = run_swarm(
            host=host,
            redis_url=redis_url,
            users=users,
            spawn_rate=spawn_rate,
            duration_s=duration_s,
            runs_dir=runs_dir,
            cpu_affinity=cpu_affinity,
            scenario=dataclasses.replace(scenario, record=record, record_toggle_s=toggle_s),
            progress=progress,
            on_start=on_start,
            meta={"bench": "generator", "record": record, "record_toggle_s": toggle_s},
        )
    except UserError as exc:  # Locust ended badly or overran: the arm says so, the bench goes on
        arm = failed_arm(record=record, chat_users=chat_users, problems=(str(exc),))
        return dataclasses.replace(arm, toggle_s=toggle_s)
    finally:
        for w in watch:
            w.stop()
    return measure_arm(
        result, record=record, redis_url=redis_url, chat_users=chat_users, watch=watch,
        toggle_s=toggle_s,
    )


def failed_arm(*, record: bool, chat_users: int, problems: tuple[str, ...]) -> BenchArm:
    return BenchArm(
        record=record,
        rate_source="none",
        run_id="",
        chat_users=chat_users,
        intended_poll_rps=chat_users / POLL_INTERVAL_S,
        poll_rps=None,
        held_ratio=None,
        generator_cores=None,
        cpu_us_per_request=None,
        poll_p50_ms=None,
        errors=0,
        problems=problems,
    )


def measure_arm(
    result: SwarmResult,
    *,
    record: bool,
    redis_url: str,
    chat_users: int,
    watch: list[CpuWatch],
    toggle_s: float = 0.0,
) -> BenchArm:
    """Rate, CPU and latency of one finished arm (from its run folder and Redis)."""
    history = read_csv(result.run_dir / "locust_stats_history.csv")
    summary = result.summary
    run_s = summary.get("duration_s")
    poll_window = steady_window(history, name=POLL_NAME, method="GET", run_s=run_s)
    all_window = steady_window(history, run_s=run_s)
    problems = tuple(summary.get("problems", ()))
    if poll_window is None or not summary.get("poll_requests"):
        arm = failed_arm(record=record, chat_users=chat_users, problems=problems)
        return dataclasses.replace(arm, run_id=result.run_id, errors=summary["errors"],
                                   toggle_s=toggle_s)
    cores = watch[0].cores_between(poll_window.start_s, poll_window.end_s) if watch else None
    shared = watch[0].contention_between(poll_window.start_s, poll_window.end_s) if watch else None
    cpu_us = None
    if cores is not None and all_window is not None and all_window.rps > 0:
        cpu_us = cores / all_window.rps * 1e6
    poll_rps, rate_source = poll_window.rps, "locust history (1 s rows)"
    split = None
    if toggle_s > 0:  # samples exist in on windows only: the rate is Locust's
        split = toggled_split(summary, window=poll_window, period_s=toggle_s)
    elif record:
        poll_rps = sampled_rate(redis_url, run_id=result.run_id, window=poll_window)
        rate_source = "redis poll samples (ms)"
    intended = chat_users / POLL_INTERVAL_S
    return BenchArm(
        rate_source=rate_source,
        record=record,
        run_id=result.run_id,
        chat_users=chat_users,
        intended_poll_rps=intended,
        poll_rps=poll_rps,
        held_ratio=round(poll_rps / intended, 4),
        generator_cores=None if cores is None else round(cores, 3),
        cpu_us_per_request=None if cpu_us is None else round(cpu_us, 1),
        poll_p50_ms=summary["poll_latency_ms"]["p50"],
        errors=summary["errors"],
        poll_late_ms_mean=summary.get("poll_late_ms_mean") if record and not toggle_s else None,
        problems=problems,
        toggle_s=toggle_s,
        split=split,
        run_queue_wait_share=None if shared is None else shared.wait_share,
        machine_load_1m=None if shared is None else shared.load_1m,
        machine_cpus=None if shared is None else shared.cpus,
        starved=None if shared is None else shared.starved,
        **health_figures(summary, duration_s=float(summary.get("duration_s") or 0.0)),
    )


def toggled_split(
    summary: dict[str, Any], *, window: SteadyWindow, period_s: float
) -> RecordingSplit | None:
    """The toggled arm's split from its one process's edges (None: no process noted any)."""
    for process in (summary.get("generator") or {}).values():
        if process.get("toggle"):
            edges = edges_from(process["toggle"])
            return recording_split(edges, start_s=window.start_s, end_s=window.end_s,
                                   period_s=period_s)
    return None


def health_figures(summary: dict[str, Any], *, duration_s: float) -> dict[str, float | None]:
    """Worst process's hub lag p99 and GC pause rate from the summary's generator health."""
    processes = list((summary.get("generator") or {}).values())
    lags = [p["hub_lag"].get("p99_ms") for p in processes if p.get("hub_lag")]
    gc_ms = [sum(g["total_ms"] for g in p.get("gc", {}).values()) for p in processes]
    return {
        "hub_lag_p99_ms": max((v for v in lags if v is not None), default=None),
        "gc_ms_per_s": round(max(gc_ms) / duration_s, 2) if gc_ms and duration_s > 0 else None,
    }
