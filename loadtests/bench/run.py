"""The generator bench: does one Locust process hold N 2-second pollers; what does recording cost?

Two swarms, side by side in one invocation, identical but for recording (samples
and counters to Redis on, then off). For each: the steady-state chat poll rate
against the intended one (users / 2 s), and the generator's CPU measured from
outside with psutil on the Locust process tree (Locust's own CPU warning only
says "high"). The service runs pinned to other cores so the generator has its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

from loadtests.clients.names import POLL_NAME
from loadtests.recording.recorder import latency_key
from loadtests.swarm.run import ScenarioParams, SwarmProgress, run_swarm
from loadtests.swarm.summary import SteadyWindow, read_csv, steady_window
from target_service.proc_tree import TreeMeter

CPU_SAMPLE_PERIOD_S = 0.5


@dataclass
class CpuWatch:
    """Samples (epoch s, CPU s) of a process tree from outside, in a thread."""

    pid: int
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        meter = TreeMeter()  # an exited process keeps its last reading
        while not self._stop.is_set() and psutil.pid_exists(self.pid):
            self.samples.append((time.time(), meter.read([self.pid]).cpu_s))
            self._stop.wait(CPU_SAMPLE_PERIOD_S)

    def cores_between(self, start_s: float, end_s: float) -> float | None:
        """Mean CPU cores used between two epoch times (None without enough samples)."""
        inside = [(t, c) for t, c in self.samples if start_s <= t <= end_s]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def sampled_rate(redis_url: str, *, run_id: str, window: SteadyWindow) -> float:
    """Polls/s from the Redis samples' own ms timestamps inside ``window``.

    Locust's history rows are stamped in whole seconds and slip when the process
    is starved, which alone moves a 40 s rate by a few per cent; the samples are
    stamped to the ms at receipt.
    """
    client = redis.Redis.from_url(redis_url)
    try:
        count = client.zcount(
            latency_key(run_id, "poll"), window.start_s * 1000, window.end_s * 1000
        )
    finally:
        client.close()
    return round(count / window.span_s, 2)


@dataclass(frozen=True, slots=True)
class BenchArm:
    record: bool
    rate_source: str
    run_id: str
    chat_users: int
    intended_poll_rps: float
    poll_rps: float
    held_ratio: float
    generator_cores: float | None
    cpu_us_per_request: float | None
    poll_p50_ms: float | None
    errors: int


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
) -> BenchArm:
    """One swarm of the bench with recording on or off, measured from outside."""
    watch: dict[str, CpuWatch] = {}

    def on_start(pid: int) -> None:
        watch["w"] = CpuWatch(pid=pid)
        watch["w"].start()

    params = _with_record(scenario, record)
    try:
        result = run_swarm(
            host=host,
            redis_url=redis_url,
            users=users,
            spawn_rate=spawn_rate,
            duration_s=duration_s,
            runs_dir=runs_dir,
            cpu_affinity=cpu_affinity,
            scenario=params,
            progress=progress,
            on_start=on_start,
            meta={"bench": "generator", "record": record},
        )
    finally:
        if "w" in watch:
            watch["w"].stop()
    history = read_csv(result.run_dir / "locust_stats_history.csv")
    poll_window = steady_window(history, name=POLL_NAME, method="GET")
    all_window = steady_window(history)
    chat_users = users - 1  # one NotificationProducer
    intended = chat_users / 2.0
    cores = None
    cpu_us = None
    if poll_window is not None and "w" in watch:
        cores = watch["w"].cores_between(poll_window.start_s, poll_window.end_s)
        if cores is not None and all_window is not None and all_window.rps > 0:
            cpu_us = cores / all_window.rps * 1e6
    poll_rps = poll_window.rps if poll_window is not None else 0.0
    rate_source = "locust history (1 s rows)"
    if record and poll_window is not None:
        poll_rps = sampled_rate(redis_url, run_id=result.run_id, window=poll_window)
        rate_source = "redis poll samples (ms)"
    return BenchArm(
        rate_source=rate_source,
        record=record,
        run_id=result.run_id,
        chat_users=chat_users,
        intended_poll_rps=intended,
        poll_rps=poll_rps,
        held_ratio=round(poll_rps / intended, 4) if intended else 0.0,
        generator_cores=None if cores is None else round(cores, 3),
        cpu_us_per_request=None if cpu_us is None else round(cpu_us, 1),
        poll_p50_ms=result.summary["poll_latency_ms"]["p50"],
        errors=result.summary["errors"],
    )


def _with_record(scenario: ScenarioParams, record: bool) -> ScenarioParams:
    fields = {name: getattr(scenario, name) for name in scenario.__dataclass_fields__}
    fields["record"] = record
    return ScenarioParams(**fields)


def verdict(
    on: BenchArm, off: BenchArm, *, min_held: float = 0.99, max_recording_share: float = 0.15
) -> dict[str, Any]:
    """The bench's figures and pass/fail against its targets (pure)."""
    share = None
    if on.generator_cores and off.generator_cores is not None:
        share = round((on.generator_cores - off.generator_cores) / on.generator_cores, 4)
    return {
        "held_ratio_recording_on": on.held_ratio,
        "held_ratio_recording_off": off.held_ratio,
        "recording_cpu_share": share,
        "held_ok": on.held_ratio >= min_held,
        "recording_ok": share is not None and share <= max_recording_share,
    }


def arm_dict(arm: Any) -> dict[str, Any]:
    return {name: getattr(arm, name) for name in arm.__dataclass_fields__}


def bench_text(figures: dict[str, Any]) -> str:
    lines = [
        f"generator bench: {figures['users']} users against the {figures['target']},"
        f" generator on CPUs {figures['generator_cpus']}, target on {figures['target_cpus']}"
    ]
    for arm in figures["arms"]:
        lines.append(
            f"  recording {'on ' if arm['record'] else 'off'}: poll rate {arm['poll_rps']:.1f}/s"
            f" of {arm['intended_poll_rps']:.1f}/s intended ({arm['held_ratio']:.2%}),"
            f" generator {arm['generator_cores']} cores, {arm['cpu_us_per_request']} us CPU"
            f"/request, poll p50 {arm['poll_p50_ms']} ms, errors {arm['errors']}"
        )
    lines.append(
        f"  recording share of generator CPU: {figures['recording_cpu_share']}"
        f" (target <= 0.15: {'ok' if figures['recording_ok'] else 'MISSED'});"
        f" rate held >= 99%: {'ok' if figures['held_ok'] else 'MISSED'}"
    )
    return "\n".join(lines)
