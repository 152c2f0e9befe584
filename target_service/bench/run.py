"""``pollcap bench-service``: the service's throughput targets, measured side by side.

The service runs under uvicorn with one worker pinned to CPU 0; the load comes from a
separate process (:mod:`target_service.bench.loadgen`, raw keep-alive sockets) pinned to CPU 1,
over loopback. Each round measures, one after the other with the same connections and
duration: the bare constant route ``/api/ping``, a poll with nothing new (``after`` =
latest), a poll returning 20 messages, and message POSTs. Ratios to ``/api/ping`` of the
same round are what the targets are about; rounds are repeated and the median kept, so
a neighbour's burst on this shared machine moves one round, not the verdict.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from target_service.embedded.stack import Stack
from target_service.proc_tree import cpu_s_of
from target_service.serve import run_service

TARGETS = {"poll_empty": 0.6, "poll_20": 0.4}
POST_TARGET_PER_S = 500.0
SEED_MESSAGES = 40
POST_CHANNELS = 8


@dataclass
class BenchResult:
    rounds: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    cache_mode: str = "fresh"
    pinned: bool = False

    def median_rps(self, scenario: str) -> float:
        return statistics.median(r[scenario]["rps"] for r in self.rounds)

    def ratio(self, scenario: str) -> float:
        return statistics.median(r[scenario]["rps"] / r["ping"]["rps"] for r in self.rounds
                                 if r["ping"]["rps"] > 0)

    def cpu_ratio(self, scenario: str) -> float:
        """The same ratio per CPU second of the service: immune to neighbours' CPU use."""
        return statistics.median(r[scenario]["rps_per_cpu"] / r["ping"]["rps_per_cpu"]
                                 for r in self.rounds if r["ping"].get("rps_per_cpu"))

    def verdicts(self) -> dict[str, bool]:
        measured = self.rounds[0]
        out = {name: self.ratio(name) >= target for name, target in TARGETS.items()
               if name in measured}
        if "post" in measured:
            out["post"] = self.median_rps("post") >= POST_TARGET_PER_S
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "cache_mode": self.cache_mode, "pinned": self.pinned, "rounds": self.rounds,
            "median_rps": {s: self.median_rps(s) for s in self.rounds[0]},
            "ratios": {s: round(self.ratio(s), 3) for s in TARGETS if s in self.rounds[0]},
            "cpu_ratios": {s: round(self.cpu_ratio(s), 3) for s in TARGETS
                           if s in self.rounds[0]},
            "targets": {**TARGETS, "post_per_s": POST_TARGET_PER_S},
            "passed": self.verdicts(),
        }


def _http(url: str, *, method: str = "GET", body: dict[str, Any] | None = None,
          token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _loadgen(url: str, *, requests: list[str], headers: list[str], body: str,
             connections: int, duration_s: float, cpu: int | None,
             service_pid: int | None = None) -> dict[str, Any]:
    """One loadgen run; with ``service_pid`` also the service's CPU seconds per request."""
    before = _cpu_s(service_pid)
    cmd = [sys.executable, "-m", "target_service.bench.loadgen", "--url", url,
           "--connections", str(connections), "--duration-s", str(duration_s),
           "--warmup-s", "1"]
    for request in requests:
        cmd += ["--request", request]
    for header in headers:
        cmd += ["--header", header]
    if body:
        cmd += ["--body", body]
    preexec = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60,
                         preexec_fn=preexec, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {out.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if service_pid is not None and result["total_requests"]:
        cpu_s = _cpu_s(service_pid) - before
        result["cpu_us_per_request"] = round(cpu_s / result["total_requests"] * 1e6, 1)
        result["rps_per_cpu"] = round(result["total_requests"] / cpu_s, 1) if cpu_s else None
    return result


def _cpu_s(pid: int | None) -> float:
    return 0.0 if pid is None else cpu_s_of(pid)


def bench_service(
    *, duration_s: float = 5.0, connections: int = 32, rounds: int = 3,
    cache_mode: str = "fresh", redis_url: str | None = None, database_url: str | None = None,
    only: list[str] | None = None,
) -> BenchResult:
    """Start stack + service, drive the four scenarios ``rounds`` times, return the figures."""
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    service_cpu, client_cpu = (cpus[0], cpus[1]) if pinned else (None, None)
    result = BenchResult(cache_mode=cache_mode, pinned=pinned)
    with Stack(redis_url=redis_url, database_url=database_url) as info, run_service(
        redis_url=info.redis_url, database_url=info.database_url, workers=1,
        cache_mode=cache_mode, cpu_affinity=[service_cpu] if service_cpu is not None else None,
    ) as service:
        user = _http(f"{service.url}/api/users", method="POST", body={"name": "bench"})
        token = user["token"]
        for i in range(SEED_MESSAGES):
            _http(f"{service.url}/api/chat/bench/messages", method="POST",
                  body={"content": f"bench message {i} " + "x" * 60}, token=token)
        auth = [f"Authorization: Bearer {token}"]
        scenarios: dict[str, dict[str, Any]] = {
            "ping": {"requests": ["GET /api/ping"], "headers": [], "body": ""},
            "poll_empty": {"requests": [f"GET /api/chat/bench/messages?after={SEED_MESSAGES}"],
                           "headers": auth, "body": ""},
            "poll_20": {"requests": [f"GET /api/chat/bench/messages?after={SEED_MESSAGES - 20}"],
                        "headers": auth, "body": ""},
            "post": {"requests": [f"POST /api/chat/bench-post-{i}/messages"
                                  for i in range(POST_CHANNELS)],
                     "headers": auth, "body": json.dumps({"content": "a bench post " + "y" * 60})},
        }
        if only:
            scenarios = {k: v for k, v in scenarios.items() if k == "ping" or k in only}
        for _ in range(rounds):
            figures = {}
            for name, spec in scenarios.items():
                figures[name] = _loadgen(service.url, connections=connections,
                                         duration_s=duration_s, cpu=client_cpu,
                                         service_pid=service.pid, **spec)
            result.rounds.append(figures)
    return result


def format_result(result: BenchResult) -> str:
    """A plain table: median req/s per scenario, ratio to /api/ping, target, verdict."""
    verdicts = result.verdicts()
    lines = [f"cache={result.cache_mode} service on one core "
             f"({'pinned' if result.pinned else 'NOT pinned: fewer than 2 CPUs'}), "
             f"{len(result.rounds)} round(s), medians",
             f"{'scenario':<12}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us':>8}"
             f"{'x ping':>8}{'x ping/CPU':>11}  target"]
    for name in result.rounds[0]:
        last = result.rounds[-1][name]
        ratio = result.ratio(name) if name != "ping" else 1.0
        cpu_ratio = result.cpu_ratio(name) if name != "ping" else 1.0
        cpu_us = statistics.median(r[name].get("cpu_us_per_request") or 0 for r in result.rounds)
        if name in TARGETS:
            target = f">= {TARGETS[name]}x  {'PASS' if verdicts[name] else 'FAIL'}"
        elif name == "post":
            target = f">= {POST_TARGET_PER_S:.0f}/s {'PASS' if verdicts['post'] else 'FAIL'}"
        else:
            target = "baseline"
        lines.append(f"{name:<12}{result.median_rps(name):>10.0f}{last['p50_ms']:>9.2f}"
                     f"{last['p99_ms']:>9.2f}{cpu_us:>8.0f}{ratio:>8.2f}{cpu_ratio:>11.2f}"
                     f"  {target}")
        bad = {k: v for k, v in last["statuses"].items() if not k.startswith("2")}
        if bad:
            lines.append(f"{'':<12}non-2xx answers: {bad}")
    lines.append("x ping/CPU: the same ratio per CPU second of the service (requests per "
                 "CPU-second), which neighbours' load on a shared machine does not move; "
                 "verdicts use x ping.")
    return "\n".join(lines)
