"""``pollcap bench-push``: the push transports' targets (issue 10), part by part."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from analysis.cli.options import DatabaseUrlOpt, RedisUrlOpt, RunsDirOpt, duration_s
from analysis.defaults import RUNS_DIR
from target_service.errors import UserError

err = Console(stderr=True)
PARTS_HELP = (
    "Comma list of: latency (1 swarm per transport, light load), resume (forced "
    "reconnects: lost/duplicated), hold (10,000 idle WebSockets on one worker: RSS slope, "
    "p95 at 1 message/user/min), longpoll (held long-polls on one worker), locust-ws "
    "(WebSocket users one Locust process holds)."
)


def bench_push(
    parts: Annotated[str, typer.Option(help=PARTS_HELP)] = "latency,resume,hold,longpoll",
    transports: Annotated[
        str, typer.Option(help="Transports of latency and resume: websocket,sse,long-poll,polling.")
    ] = "websocket,sse,long-poll,polling",
    users: Annotated[int, typer.Option(min=1, help="Users of latency and resume swarms.")] = 1000,
    duration: Annotated[str, typer.Option(help="Length of each latency/resume swarm.")] = "60s",
    min_reconnects: Annotated[
        int, typer.Option(min=1, help="resume: forced drops to aim for (twice this, in mean).")
    ] = 1000,
    connections: Annotated[int, typer.Option(min=10, help="hold: idle WebSockets.")] = 10_000,
    listen: Annotated[str, typer.Option(help="hold: listening time after opening.")] = "60s",
    polls: Annotated[int, typer.Option(min=1, help="longpoll: held polls.")] = 5000,
    locust_users: Annotated[int, typer.Option(min=1, help="locust-ws: WebSocket users.")] = 10_000,
    locust_duration: Annotated[
        str, typer.Option(help="locust-ws: swarm length (the ramp included).")] = "150s",
    locust_spawn_rate: Annotated[
        float, typer.Option(min=1, help="locust-ws: tabs started per second (each signs up).")
    ] = 100.0,
    service_cpus: Annotated[str, typer.Option(help="Cores of the service (e.g. 0, or any).")] = "0",
    generator_cpus: Annotated[str, typer.Option(help="Cores of Locust (e.g. 1, or any).")] = "1",
    redis_url: RedisUrlOpt = None,
    database_url: DatabaseUrlOpt = None,
    runs_dir: RunsDirOpt = RUNS_DIR,
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure the push transports' targets; print each beside its target and the ratio.

    Every part gets a fresh service (one uvicorn worker, pinned to --service-cpus) on one
    embedded Valkey + PostgreSQL. Exit code 1 if a target is missed. Heavy: run it alone
    on the machine (a busy machine inflates every latency), and compare figures of one
    invocation with each other.
    """
    from loadtests.bench.push import PARTS, TRANSPORTS, PushBenchConfig, run_push_bench
    from loadtests.bench.push_hold import HoldPlan
    from loadtests.bench.push_targets import targets_text, verdict

    cfg = PushBenchConfig(
        parts=_choices(parts, PARTS, "--parts"),
        transports=_choices(transports, TRANSPORTS, "--transports"),
        users=users, duration_s=duration_s(duration, option="--duration", min_s=10),
        min_reconnects=min_reconnects,
        hold=HoldPlan(connections=connections,
                      listen_s=duration_s(listen, option="--listen", min_s=5)),
        polls=polls, locust_users=locust_users, locust_spawn_rate=locust_spawn_rate,
        locust_duration_s=duration_s(locust_duration, option="--locust-duration", min_s=10),
        service_cpus=_cpus(service_cpus, "--service-cpus"),
        generator_cpus=_cpus(generator_cpus, "--generator-cpus"),
        runs_dir=Path(runs_dir), redis_url=redis_url, database_url=database_url,
    )
    with err.status("bench-push") as status:
        figures = run_push_bench(cfg, on_part=lambda p: status.update(f"bench-push: {p}"))
    doc = {**figures, **verdict(figures)}
    typer.echo(json.dumps(doc, indent=2, default=str) if json_out else _text(doc, targets_text))
    if not doc["ok"]:
        raise typer.Exit(1)


def _text(doc: dict[str, Any], targets_text: Any) -> str:
    lines = [f"bench-push (RLIMIT_NOFILE soft {doc['nofile']['soft']}, hard "
             f"{doc['nofile']['hard']})"]
    for part in ("latency", "resume"):
        for transport, row in doc.get(part, {}).items():
            lines.append(f"  {part} {transport}: delivery {row.get('delivery_steady_ms')} ms "
                         f"(steady), sent {row['messages_sent']}, delivered "
                         f"{row['messages_delivered']}, lost {row['lost']}, duplicated "
                         f"{row['duplicated']}, forced drops {row['forced_drops']}, CPU cores "
                         f"{row['cpu_cores']}, load avg {row['load_avg_1m']}")
    for part in ("hold", "longpoll", "locust_ws"):
        if part in doc:
            lines.append(f"  {part}: {json.dumps(doc[part], default=str)}")
    lines.append(targets_text(doc))
    return "\n".join(lines)


def _choices(text: str, allowed: tuple[str, ...], option: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise UserError(f"{option} takes a comma list of {', '.join(allowed)}; got {text!r}")
    return values


def _cpus(text: str, option: str) -> tuple[int, ...] | None:
    if text.strip() in ("", "any"):
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"{option} takes core numbers like 0 or 0,1 (or 'any'), "
                        f"got {text!r}") from None


COMMANDS = [bench_push]
