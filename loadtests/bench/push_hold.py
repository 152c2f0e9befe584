"""How many push connections one service core holds: 10,000 WebSockets, 5,000 long-polls.

The clients here are asyncio (``websockets``) in the bench's own process, apart from
the service and never inside Locust: they cost a few KiB and a few microseconds per
frame, so the figures are the service's. The service is one uvicorn worker (one core's
worth of Python) pinned to ``service_cpus`` when given.

* :func:`hold_websockets` opens ``connections`` idle WebSockets in ``steps`` (one
  subscription each, channels Zipf-skewed), reads the worker's RSS after each step (the
  slope is the memory per idle connection), then posts one message per channel every
  ``message_every_s`` (so every user receives about one message per that period,
  whatever its channel's size) and measures delivery latency from ``createdAt``.
* held long-polls are :func:`target_service.realtime.measure.measure_longpoll`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil
import uvloop
from websockets.asyncio.client import ClientConnection

from target_service.realtime.measure import _post, open_ws, rss_bytes, signup
from target_service.serve import ServiceHandle

HANDSHAKE_BATCH = 200  # concurrent handshakes while opening (a burst the service queues)
TOKENS = 50  # distinct users behind the connections (presence counts them)
SETTLE_S = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldPlan:
    connections: int = 10_000
    steps: int = 5
    channels: int = 100
    channel_skew: float = 1.0
    message_every_s: float = 60.0  # each channel posts once per this (1 message/user/period)
    listen_s: float = 60.0
    seed: int = 1


@contextmanager
def client_loop(*, cpus: tuple[int, ...] | None) -> Iterator[asyncio.Runner]:
    """An asyncio runner on uvloop, this process pinned to ``cpus`` meanwhile.

    The hold's latency is read where the clients receive, so their own queueing is in
    it: 10,000 connections on the default loop, free to share the service's core,
    measured the clients as much as the service. Pinned apart and on uvloop, a
    client's cost per frame is a fraction of the service's.
    """
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            yield runner
    finally:
        os.sched_setaffinity(0, before)


def raise_nofile() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it); the limits after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def zipf_channels(*, n: int, channels: int, skew: float, seed: int) -> list[int]:
    """Channel index of each of ``n`` subscribers; rank r has weight 1 / r**skew."""
    weights = 1.0 / np.arange(1, channels + 1) ** skew
    rng = np.random.default_rng(seed)
    return [int(c) for c in rng.choice(channels, size=n, p=weights / weights.sum())]


def post_schedule(*, channels: int, every_s: float, span_s: float, seed: int
                  ) -> list[tuple[float, int]]:
    """(offset s, channel) of every post: each channel once per ``every_s``, random phase."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for channel in range(channels):
        t = float(rng.uniform(0, every_s))
        while t < span_s:
            out.append((t, channel))
            t += every_s
    return sorted(out)


def slope_kib(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of RSS bytes over connections, in KiB per connection."""
    xs, ys = zip(*points, strict=True)
    return float(np.polyfit(xs, ys, 1)[0]) / 1024


def _worker_cpu_s(service: ServiceHandle) -> float:
    total = 0.0
    for pid in service.worker_pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


async def hold_websockets(service: ServiceHandle, *, plan: HoldPlan,
                          on_open: Callable[[], None] | None = None) -> dict[str, Any]:
    """Open, measure RSS per step, then listen under light fan-out (module docstring).

    ``on_open`` runs once every connection is open (the bench reads the service's own
    count of open WebSockets then).
    """
    tokens = [signup(service.url, f"hold{i}") for i in range(TOKENS)]
    index = zipf_channels(n=plan.connections, channels=plan.channels, skew=plan.channel_skew,
                          seed=plan.seed)
    names = [f"hold-c{c}" for c in index]
    warm = await open_ws(service.url, tokens[0], "hold-warm")
    await asyncio.sleep(SETTLE_S)
    points = [(1, rss_bytes(service))]
    opened: list[ClientConnection] = [warm]
    per_step = plan.connections // plan.steps
    started = time.monotonic()
    for step in range(plan.steps):
        first = step * per_step
        for start in range(first, first + per_step, HANDSHAKE_BATCH):
            stop = min(start + HANDSHAKE_BATCH, first + per_step)
            opened += await asyncio.gather(*(open_ws(service.url, tokens[i % TOKENS], names[i])
                                             for i in range(start, stop)))
        await asyncio.sleep(SETTLE_S)
        points.append((len(opened), rss_bytes(service)))
    open_s = time.monotonic() - started
    if on_open is not None:
        on_open()
    gc.collect()
    gc.freeze()  # 10,000 connections' objects: no full collection rescans them mid-fan-out
    try:
        listened = await _listen(service, opened=opened[1:], tokens=tokens, plan=plan)
    finally:
        gc.unfreeze()
    for ws in opened:
        await ws.close()
    return {"connections": len(opened) - 1, "open_s": round(open_s, 1),
            "rss_points": points, "kib_per_connection": round(slope_kib(points), 2),
            **listened}


async def _listen(service: ServiceHandle, *, opened: list[ClientConnection], tokens: list[str],
                  plan: HoldPlan) -> dict[str, Any]:
    latencies_ms: list[float] = []
    by_post: dict[int, list[float]] = {}  # createdAt ms -> latencies: a stall shows here

    async def receive(ws: ClientConnection) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("op") == "message":
                message = frame["message"]
                latency_ms = time.time() * 1000 - message["createdAt"]
                latencies_ms.append(latency_ms)
                by_post.setdefault(int(message["createdAt"]), []).append(latency_ms)

    readers = [asyncio.create_task(receive(ws)) for ws in opened]
    schedule = post_schedule(channels=plan.channels, every_s=plan.message_every_s,
                             span_s=plan.listen_s, seed=plan.seed)
    cpu0, own0, t0 = _worker_cpu_s(service), sum(os.times()[:2]), time.monotonic()
    for offset_s, channel in schedule:
        await asyncio.sleep(max(0.0, t0 + offset_s - time.monotonic()))
        await asyncio.to_thread(_post, service.url, tokens[channel % TOKENS],
                                f"hold-c{channel}", f"hold {offset_s:.3f}")
    await asyncio.sleep(max(0.0, t0 + plan.listen_s - time.monotonic()) + 3.0)
    wall_s = time.monotonic() - t0
    cpu_s, own_s = _worker_cpu_s(service) - cpu0, sum(os.times()[:2]) - own0
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    values = np.array(latencies_ms)
    subscribers = np.bincount(zipf_channels(n=len(opened), channels=plan.channels,
                                            skew=plan.channel_skew, seed=plan.seed),
                              minlength=plan.channels)
    expected = int(sum(subscribers[c] for _, c in schedule))
    pct = {f"p{q}_ms": round(float(np.percentile(values, q)), 1) if len(values) else None
           for q in (50, 95, 99)}
    worst = sorted(((max(v), min(v), len(v)) for v in by_post.values()), reverse=True)[:3]
    return {"posts": len(schedule), "expected_deliveries": expected, "delivered": len(values),
            "worst_posts_max_min_n": [[round(a, 1), round(b, 1), n] for a, b, n in worst],
            **pct, "largest_channel": int(subscribers.max()),
            "service_cores_listening": round(cpu_s / wall_s, 3),
            "client_cores_listening": round(own_s / wall_s, 3)}
