"""``pollcap bench-push``: the push transports' targets, measured part by part on one stack.

Parts (``PARTS``), each against a fresh service (one uvicorn worker) on one embedded
Valkey + PostgreSQL:

* ``latency``  one Locust swarm per transport, light load, no forced drops;
* ``resume``   the same with forced drops (``--reconnect-every``) at least
  ``min_reconnects`` times in all: lost and duplicated must stay 0;
* ``hold``     ``connections`` idle WebSockets on one worker (asyncio clients in this
  process), RSS slope per connection, then 1 message per user per minute;
* ``longpoll`` ``polls`` held long-polls on one worker, answered by one post;
* ``locust-ws`` ``locust_users`` WebSocket tabs in one Locust process, nearly idle.

Each part takes under ~3 minutes at the defaults; run heavy ones one at a time on a
shared machine. Figures are only comparable within one invocation.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.bench.push_hold import HoldPlan, client_loop, hold_websockets, raise_nofile
from loadtests.bench.push_swarms import transport_swarm
from loadtests.swarm.run import ScenarioParams
from target_service.embedded.stack import Stack, StackInfo
from target_service.realtime.measure import measure_longpoll, scrape
from target_service.serve import run_service

PARTS = ("latency", "resume", "hold", "longpoll", "locust-ws")
# Users of a swarm that are not tabs: NotificationProducer.fixed_count (clients/producer.py),
# not imported: importing Locust monkey-patches this process, whose hold part runs asyncio.
PRODUCERS = 1
TRANSPORTS = ("websocket", "sse", "long-poll", "polling")


@dataclass(frozen=True, slots=True, kw_only=True)
class PushBenchConfig:
    parts: tuple[str, ...] = PARTS
    transports: tuple[str, ...] = TRANSPORTS
    users: int = 1000
    duration_s: float = 60.0
    min_reconnects: int = 1000
    hold: HoldPlan = field(default_factory=HoldPlan)
    polls: int = 5000
    locust_users: int = 10_000
    locust_spawn_rate: float = 100.0  # each tab signs up first: 200/s overran one worker
    locust_duration_s: float = 150.0
    service_cpus: tuple[int, ...] | None = (0,)
    generator_cpus: tuple[int, ...] | None = (1,)
    runs_dir: Path = Path("runs")
    redis_url: str | None = None
    database_url: str | None = None


# Light load: 50 channels (Zipf), 5% of users send 6/min -> ~5 messages/s in all.
LIGHT = ScenarioParams(channels=50, sender_share=0.05, send_rate_per_min=6.0)


def reconnect_mean_s(*, users: int, duration_s: float, min_reconnects: int) -> float:
    """Mean connection life that makes about twice ``min_reconnects`` forced drops.

    Drops happen at rate users / mean while the users are up (the ramp makes it fewer).
    """
    return max(users * duration_s / (2.0 * min_reconnects), 1.0)


def _swarm(cfg: PushBenchConfig, stack: StackInfo, transport: str, *, users: int,
           duration_s: float, scenario: ScenarioParams, spawn_rate: float = 100.0
           ) -> dict[str, Any]:
    return transport_swarm(stack=stack, transport=transport, users=users,
                           duration_s=duration_s, scenario=scenario, runs_dir=cfg.runs_dir,
                           spawn_rate=spawn_rate, service_cpus=cfg.service_cpus,
                           generator_cpus=cfg.generator_cpus)


def part_latency(cfg: PushBenchConfig, stack: StackInfo) -> dict[str, Any]:
    return {t: _swarm(cfg, stack, t, users=cfg.users, duration_s=cfg.duration_s,
                      scenario=LIGHT) for t in cfg.transports}


def part_resume(cfg: PushBenchConfig, stack: StackInfo) -> dict[str, Any]:
    mean_s = reconnect_mean_s(users=cfg.users, duration_s=cfg.duration_s,
                              min_reconnects=cfg.min_reconnects)
    scenario = ScenarioParams(**{**_as_dict(LIGHT), "reconnect_every_s": mean_s})
    return {t: {**_swarm(cfg, stack, t, users=cfg.users, duration_s=cfg.duration_s,
                         scenario=scenario), "reconnect_every_s": round(mean_s, 1)}
            for t in cfg.transports}


def part_hold(cfg: PushBenchConfig, stack: StackInfo) -> dict[str, Any]:
    """The hold's clients run here, on the generator's cores and on uvloop (client_loop)."""
    with run_service(redis_url=stack.redis_url, database_url=stack.database_url,
                     cpu_affinity=cfg.service_cpus) as service, client_loop(
                         cpus=cfg.generator_cpus) as runner:
        result = runner.run(_hold(service, cfg.hold))
    return result


async def _hold(service: Any, plan: HoldPlan) -> dict[str, Any]:
    result: dict[str, Any] = {}

    def held() -> None:  # what the service itself counts, while every socket is open
        result["held"] = scrape(service.url, "realtime_ws_connections")

    result.update(await hold_websockets(service, plan=plan, on_open=held))
    return result


def part_longpoll(cfg: PushBenchConfig, stack: StackInfo) -> dict[str, Any]:
    with run_service(redis_url=stack.redis_url, database_url=stack.database_url,
                     cpu_affinity=cfg.service_cpus) as service:
        return asyncio.run(measure_longpoll(service, polls=cfg.polls))


def part_locust_ws(cfg: PushBenchConfig, stack: StackInfo) -> dict[str, Any]:
    """Nearly idle tabs: 1 message per channel per minute, notifications polled rarely.

    Locust counts the notification producer (``fixed_count`` 1) among the users, so one
    more is spawned: ``locust_users`` of them are WebSocket tabs.
    """
    channels = 100
    scenario = ScenarioParams(channels=channels, sender_share=channels / cfg.locust_users,
                              send_rate_per_min=1.0, notification_rate_per_s=0.0,
                              notification_interval_s=600.0)
    return _swarm(cfg, stack, "websocket", users=cfg.locust_users + PRODUCERS,
                  duration_s=cfg.locust_duration_s, scenario=scenario,
                  spawn_rate=cfg.locust_spawn_rate)


PART_RUNNERS: dict[str, Callable[[PushBenchConfig, StackInfo], dict[str, Any]]] = {
    "latency": part_latency, "resume": part_resume, "hold": part_hold,
    "longpoll": part_longpoll, "locust-ws": part_locust_ws,
}


def run_push_bench(cfg: PushBenchConfig, *, on_part: Callable[[str], None] | None = None
                   ) -> dict[str, Any]:
    """Every part of ``cfg.parts``; the figures keyed as :mod:`push_targets` reads them."""
    soft, hard = raise_nofile()
    figures: dict[str, Any] = {"nofile": {"soft": soft, "hard": hard}}
    # samples in a metrics Valkey of their own: recording never loads the service's Redis
    with Stack(redis_url=cfg.redis_url, database_url=cfg.database_url,
               metrics_redis=True) as stack:
        for part in cfg.parts:
            if on_part:
                on_part(part)
            figures[part.replace("-", "_")] = PART_RUNNERS[part](cfg, stack)
    figures["nofile"]["after"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return figures


def _as_dict(scenario: ScenarioParams) -> dict[str, Any]:
    return {name: getattr(scenario, name) for name in scenario.__dataclass_fields__}
