"""One bounded Locust swarm per transport against a fresh service, CPU sampled from outside.

Used by ``pollcap bench-push`` for three of its parts:

* ``latency``: light load (few messages per user), no forced drops: delivery latency
  per transport from the same Locust tabs the capacity runs use;
* ``resume``: the same with ``--reconnect-every`` short enough that the swarm makes at
  least ``min_reconnects`` forced drops: loss and duplicates across them;
* ``locust-ws``: many WebSocket users in one Locust process, nearly idle (one message
  per channel per minute), to see how many one process holds.

Each swarm gets a fresh service (one uvicorn worker) so one transport's leftovers never
load the next. A generator near a whole core makes its latency figures a lower bound.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

from loadtests.recording.samples import percentiles_ms, read_samples
from loadtests.swarm.run import ScenarioParams, run_swarm
from target_service.embedded.stack import StackInfo
from target_service.serve import run_service

SUMMARY_KEYS = ("messages_sent", "messages_delivered", "lost", "duplicated", "reordered",
                "errors", "connects", "reconnects", "forced_drops", "messages_resumed",
                "connections_peak")
SAMPLE_S = 1.0
PRIMING_SAMPLES = 2  # psutil's first readings of a process only prime its counters
SETTLE_S = 5.0  # after the ramp: sign-ups and first subscriptions are done


@dataclass
class CpuSampler:
    """Mean CPU (1.0 = one core) and peak RSS of the Locust process and the service."""

    service_pids: list[int]
    locust_pids: list[int] = field(default_factory=list)
    samples: dict[str, list[float]] = field(
        default_factory=lambda: {"locust": [], "service": []})
    rss_max: dict[str, int] = field(default_factory=lambda: {"locust": 0, "service": 0})
    stop: threading.Event = field(default_factory=threading.Event)
    _procs: dict[int, psutil.Process] = field(default_factory=dict)

    def _read(self, role: str, pids: list[int]) -> float:
        cores, rss = 0.0, 0
        for pid in pids:
            try:
                proc = self._procs.setdefault(pid, psutil.Process(pid))
                cores += proc.cpu_percent(None) / 100.0
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        self.rss_max[role] = max(self.rss_max[role], rss)
        return cores

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_S):
            if self.locust_pids:
                self.samples["locust"].append(self._read("locust", self.locust_pids))
            self.samples["service"].append(self._read("service", self.service_pids))

    def means(self) -> dict[str, float]:
        return {k: round(sum(v[PRIMING_SAMPLES:]) / max(len(v) - PRIMING_SAMPLES, 1), 2)
                for k, v in self.samples.items()}


def transport_swarm(
    *,
    stack: StackInfo,
    transport: str,
    users: int,
    duration_s: float,
    scenario: ScenarioParams,
    runs_dir: Path,
    spawn_rate: float = 100.0,
    service_cpus: tuple[int, ...] | None = None,
    generator_cpus: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """One swarm of ``users`` tabs over ``transport``; the summary's push figures + CPU."""
    with run_service(redis_url=stack.redis_url, database_url=stack.database_url,
                     cpu_affinity=service_cpus) as service:
        sampler = CpuSampler(service_pids=service.pids)
        thread = threading.Thread(target=sampler.run, daemon=True, name="push-bench-cpu")
        thread.start()
        steady_from_ms = (time.time() + users / spawn_rate + SETTLE_S) * 1000
        try:
            result = run_swarm(
                host=service.url, redis_url=stack.samples_redis_url, users=users,
                spawn_rate=spawn_rate, duration_s=duration_s, runs_dir=runs_dir,
                scenario=ScenarioParams(**{**_fields(scenario), "realtime": transport}),
                cpu_affinity=generator_cpus, on_start=sampler.locust_pids.append,
            )
        finally:
            sampler.stop.set()
            thread.join()
    s = result.summary
    return {
        "transport": transport, "users": users, "duration_s": duration_s,
        "run_id": s["run_id"], "returncode": result.returncode,
        "delivery_ms": s["delivery_latency_ms"], "poll_ms": s["poll_latency_ms"],
        "delivery_steady_ms": steady_delivery_ms(stack.samples_redis_url, run_id=s["run_id"],
                                                 start_ms=steady_from_ms),
        "reconnect_ms": s.get("reconnect_ms"),
        **{k: s.get(k, 0) for k in SUMMARY_KEYS},
        "problems": s.get("problems", []),
        "cpu_cores": sampler.means(),
        "rss_max_mib": {k: round(v / 2**20, 1) for k, v in sampler.rss_max.items()},
        "load_avg_1m": round(psutil.getloadavg()[0], 1),
    }


def steady_delivery_ms(redis_url: str, *, run_id: str, start_ms: float
                       ) -> dict[str, float | None]:
    """Delivery percentiles of the samples after the ramp (the summary's include it)."""
    client = redis.Redis.from_url(redis_url)
    try:
        frame = read_samples(client, run_id=run_id, sample_type="message", start_ms=start_ms)
    finally:
        client.close()
    return {**percentiles_ms(frame["latency_ms"].to_numpy()), "samples": float(len(frame))}


def _fields(scenario: ScenarioParams) -> dict[str, Any]:
    return {name: getattr(scenario, name) for name in scenario.__dataclass_fields__}
