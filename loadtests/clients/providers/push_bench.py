"""Every transport on one workload, side by side, with the CPU of generator and service.

    uv run python -m loadtests.clients.providers.push_bench --users 1000 --duration-s 60 \\
        --transports websocket,sse,long-poll,polling --reconnect-every-s 0

One embedded stack; for each transport a fresh service (one uvicorn worker) and one
bounded swarm, while a sampler reads the CPU of the Locust process and of the service
once a second. A generator near a whole core means its latency figures are a lower
bound on what the service could do; a busy machine inflates every figure, so compare
the transports of one run with each other, not with figures of another day.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

import psutil

from loadtests.swarm.run import ScenarioParams, run_swarm
from target_service.embedded.stack import Stack
from target_service.serve import run_service

KEYS = (
    "messages_sent",
    "messages_delivered",
    "lost",
    "duplicated",
    "reordered",
    "errors",
    "connects",
    "reconnects",
    "forced_drops",
    "messages_resumed",
    "connections_peak",
)


class CpuSampler:
    """Mean CPU share (1.0 = one core) of a set of processes, sampled every second."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.samples: dict[str, list[float]] = {"locust": [], "service": []}
        self.stop = threading.Event()
        self.procs: dict[int, psutil.Process] = {}
        self.rss_max: dict[str, int] = {"locust": 0, "service": 0}

    def _share(self, role: str, pids: list[int]) -> float:
        total, rss = 0.0, 0
        for pid in pids:
            try:
                proc = self.procs.setdefault(pid, psutil.Process(pid))
                total += proc.cpu_percent(None) / 100.0
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        self.rss_max[role] = max(self.rss_max[role], rss)
        return total

    def run(self, *, service_pids: list[int]) -> None:
        while not self.stop.wait(1.0):
            if self.pids:
                self.samples["locust"].append(self._share("locust", self.pids))
            self.samples["service"].append(self._share("service", service_pids))

    def means(self) -> dict[str, float]:
        # the first samples only prime psutil's counters
        return {k: round(sum(v[2:]) / max(len(v) - 2, 1), 2) for k, v in self.samples.items()}


def one_transport(
    *, info: Any, transport: str, args: argparse.Namespace, runs_dir: Path
) -> dict[str, Any]:
    with run_service(redis_url=info.redis_url, database_url=info.database_url) as service:
        sampler = CpuSampler()
        thread = threading.Thread(
            target=sampler.run, kwargs={"service_pids": service.pids}, daemon=True
        )
        thread.start()
        scenario = ScenarioParams(
            channels=args.channels,
            realtime=transport,
            reconnect_every_s=args.reconnect_every_s,
            sender_share=args.sender_share,
            send_rate_per_min=args.send_rate_per_min,
        )
        try:
            result = run_swarm(
                host=service.url,
                redis_url=info.redis_url,
                users=args.users,
                spawn_rate=args.spawn_rate,
                duration_s=args.duration_s,
                runs_dir=runs_dir,
                scenario=scenario,
                on_start=sampler.pids.append,
            )
        finally:
            sampler.stop.set()
            thread.join()
    s = result.summary
    return {
        "transport": transport,
        "run_id": s["run_id"],
        "delivery_ms": s["delivery_latency_ms"],
        "reconnect_ms": s["reconnect_ms"],
        **{k: s[k] for k in KEYS},
        "requests": s["requests"],
        "cpu_cores": sampler.means(),
        "rss_max_mib": {k: round(v / 2**20, 1) for k, v in sampler.rss_max.items()},
        "load_avg_1m": round(psutil.getloadavg()[0], 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--spawn-rate", type=float, default=100.0)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--sender-share", type=float, default=0.1)
    parser.add_argument("--send-rate-per-min", type=float, default=6.0)
    parser.add_argument("--reconnect-every-s", type=float, default=0.0)
    parser.add_argument("--transports", default="websocket,sse,long-poll,polling")
    parser.add_argument("--runs-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    runs_dir = args.runs_dir or Path(tempfile.mkdtemp(prefix="push-bench-"))
    with Stack() as info:
        for transport in args.transports.split(","):
            row = one_transport(info=info, transport=transport, args=args, runs_dir=runs_dir)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
