"""``pollcap bench-service``: the service's throughput targets, measured side by side.

The service runs under uvicorn (or granian) with one worker pinned to CPU 0; the load comes from a
separate process pinned to CPU 1, over loopback: ``wrk`` (:mod:`target_service.bench.wrk`)
when it is installed, else the builtin generator (:mod:`target_service.bench.loadgen`, raw
keep-alive sockets). Each round measures, one after the other with the same connections and
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
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from target_service.bench.wrk import run_wrk, wrk_path
from target_service.embedded.stack import Stack
from target_service.errors import UserError
from target_service.proc_tree import cpu_s_of
from target_service.serve import run_service

TARGETS = {"poll_empty": 0.8, "poll_20": 0.6}  # x the bare route /api/ping, same round
LOADGENS = ("wrk", "builtin")
MAX_ERROR_SHARE = 0.01
WARMUP_S = 1.0
POST_TARGET_PER_S = 500.0
SEED_MESSAGES = 40
POST_CHANNELS = 8


@dataclass
class BenchResult:
    rounds: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    cache_mode: str = "fresh"
    pinned: bool = False
    loadgen: str = "builtin"
    server: str = "uvicorn"
    connections: int = 0
    duration_s: float = 0.0

    def median_rps(self, scenario: str) -> float:
        return statistics.median(r[scenario]["rps"] for r in self.rounds)

    def ratio(self, scenario: str) -> float:
        return statistics.median(r[scenario]["rps"] / r["ping"]["rps"] for r in self.rounds
                                 if r["ping"]["rps"] > 0)

    def cpu_ratio(self, scenario: str) -> float:
        """The same ratio per CPU second of the service: immune to neighbours' CPU use."""
        ratios = [r[scenario]["rps_per_cpu"] / r["ping"]["rps_per_cpu"] for r in self.rounds
                  if r["ping"].get("rps_per_cpu") and r[scenario].get("rps_per_cpu")]
        return statistics.median(ratios) if ratios else float("nan")

    def clean(self, scenario: str) -> bool:
        """At most ``MAX_ERROR_SHARE`` of answers non-2xx or lost, in every round (and ping)."""
        return all(error_share(r[name]) <= MAX_ERROR_SHARE for r in self.rounds
                   for name in (scenario, "ping"))

    def verdicts(self) -> dict[str, bool]:
        """Pass/fail per target; fast errors never pass (a 401 costs less than a poll)."""
        measured = self.rounds[0]
        out = {name: self.ratio(name) >= target and self.clean(name)
               for name, target in TARGETS.items() if name in measured}
        if "post" in measured:
            out["post"] = self.median_rps("post") >= POST_TARGET_PER_S and self.clean("post")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "cache_mode": self.cache_mode, "pinned": self.pinned, "loadgen": self.loadgen,
            "server": self.server,
            "connections": self.connections, "duration_s": self.duration_s,
            "rounds": self.rounds,
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


def error_share(run: dict[str, Any]) -> float:
    """Share of a run's answers outside 2xx, socket errors counted as failed answers."""
    statuses: dict[str, int] = run.get("statuses", {})
    failed = sum(n for code, n in statuses.items() if not code.startswith("2"))
    failed += int(run.get("socket_errors") or 0)
    total = sum(statuses.values()) + int(run.get("socket_errors") or 0)
    return failed / total if total else 1.0


def choose_loadgen(requested: str) -> tuple[str, str | None]:
    """``(loadgen, note)``: wrk falls back to the builtin generator when not installed."""
    if requested not in LOADGENS:
        raise UserError(f"--loadgen must be one of {', '.join(LOADGENS)}, got {requested!r}")
    if requested == "wrk" and wrk_path() is None:
        return "builtin", "wrk is not installed (apt-get install wrk): using the builtin generator"
    return requested, None


def _loadgen(url: str, *, requests: list[str], headers: list[str], body: str,
             connections: int, duration_s: float, cpu: int | None,
             service_pid: int | None = None, loadgen: str = "builtin") -> dict[str, Any]:
    """One measured run; with ``service_pid`` also the service's CPU seconds per request."""
    before = [_cpu_s(service_pid)]

    def mark() -> None:
        before[0] = _cpu_s(service_pid)

    if loadgen == "wrk":
        result = run_wrk(url=url, requests=requests, headers=headers, body=body,
                         connections=connections, duration_s=duration_s, warmup_s=WARMUP_S,
                         cpu=cpu, before_measure=mark)
    else:
        result = _builtin(url, requests=requests, headers=headers, body=body,
                          connections=connections, duration_s=duration_s, cpu=cpu)
    if service_pid is not None and result["total_requests"]:
        cpu_s = _cpu_s(service_pid) - before[0]
        result["cpu_us_per_request"] = round(cpu_s / result["total_requests"] * 1e6, 1)
        result["rps_per_cpu"] = round(result["total_requests"] / cpu_s, 1) if cpu_s else None
    return result


def _builtin(url: str, *, requests: list[str], headers: list[str], body: str,
             connections: int, duration_s: float, cpu: int | None) -> dict[str, Any]:
    """The builtin generator (its warm-up is inside the process, so CPU includes it)."""
    cmd = [sys.executable, "-m", "target_service.bench.loadgen", "--url", url,
           "--connections", str(connections), "--duration-s", str(duration_s),
           "--warmup-s", str(WARMUP_S)]
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
    return result


def _cpu_s(pid: int | None) -> float:
    """CPU seconds of the service: the master and its children (granian's worker is one)."""
    return 0.0 if pid is None else cpu_s_of(pid)


def bench_service(
    *, duration_s: float = 10.0, connections: int = 50, rounds: int = 3,
    cache_mode: str = "fresh", redis_url: str | None = None, database_url: str | None = None,
    only: list[str] | None = None, loadgen: str = "builtin", server: str = "uvicorn",
) -> BenchResult:
    """Start stack + service, drive the four scenarios ``rounds`` times, return the figures.

    ``loadgen`` is ``wrk`` or ``builtin`` (see :func:`choose_loadgen` for the fallback).
    """
    return bench_servers(duration_s=duration_s, connections=connections, rounds=rounds,
                         cache_mode=cache_mode, redis_url=redis_url, database_url=database_url,
                         only=only, loadgen=loadgen, servers=[server])[server]


def bench_servers(
    *, duration_s: float, connections: int, rounds: int, cache_mode: str,
    redis_url: str | None, database_url: str | None, only: list[str] | None, loadgen: str,
    servers: list[str],
) -> dict[str, BenchResult]:
    """Like :func:`bench_service` for several ASGI servers, interleaved round by round.

    Every server runs its own service (pinned to the same core, idle while another is
    measured) on its own channels, so a neighbour's burst hits every server's round alike
    and ``server / first server`` per round is a fair ratio.
    """
    if loadgen not in LOADGENS:
        raise UserError(f"loadgen must be one of {', '.join(LOADGENS)}, got {loadgen!r}")
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    service_cpu, client_cpu = (cpus[0], cpus[1]) if pinned else (None, None)
    results = {server: BenchResult(cache_mode=cache_mode, pinned=pinned, loadgen=loadgen,
                                   connections=connections, duration_s=duration_s,
                                   server=server) for server in servers}
    with Stack(redis_url=redis_url, database_url=database_url) as info, ExitStack() as running:
        services = {}
        for server in servers:
            service = running.enter_context(run_service(
                redis_url=info.redis_url, database_url=info.database_url, workers=1,
                cache_mode=cache_mode, server=server,
                cpu_affinity=[service_cpu] if service_cpu is not None else None,
            ))
            services[server] = (service, _scenarios(service.url, channel=f"bench-{server}",
                                                    only=only))
        for _ in range(rounds):
            for server, (service, scenarios) in services.items():
                results[server].rounds.append({
                    name: _loadgen(service.url, connections=connections, duration_s=duration_s,
                                   cpu=client_cpu, service_pid=service.pid, loadgen=loadgen,
                                   **spec)
                    for name, spec in scenarios.items()
                })
    return results


def _scenarios(url: str, *, channel: str, only: list[str] | None) -> dict[str, dict[str, Any]]:
    """Seed ``channel`` with ``SEED_MESSAGES`` messages; the four scenarios' requests."""
    token = _http(f"{url}/api/users", method="POST", body={"name": "bench"})["token"]
    for i in range(SEED_MESSAGES):
        _http(f"{url}/api/chat/{channel}/messages", method="POST",
              body={"content": f"bench message {i} " + "x" * 60}, token=token)
    auth = [f"Authorization: Bearer {token}"]
    scenarios: dict[str, dict[str, Any]] = {
        "ping": {"requests": ["GET /api/ping"], "headers": [], "body": ""},
        "poll_empty": {"requests": [f"GET /api/chat/{channel}/messages?after={SEED_MESSAGES}"],
                       "headers": auth, "body": ""},
        "poll_20": {"requests": [f"GET /api/chat/{channel}/messages?after={SEED_MESSAGES - 20}"],
                    "headers": auth, "body": ""},
        "post": {"requests": [f"POST /api/chat/{channel}-post-{i}/messages"
                              for i in range(POST_CHANNELS)],
                 "headers": auth, "body": json.dumps({"content": "a bench post " + "y" * 60})},
    }
    return {k: v for k, v in scenarios.items() if not only or k == "ping" or k in only}
