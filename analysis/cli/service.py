"""``pollcap serve`` and ``pollcap bench-service``: the reference service's commands.

Plain typer-annotated functions; ``analysis.cli.app`` registers everything in ``COMMANDS``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from analysis.cli.options import CacheOpt, DatabaseUrlOpt, RedisUrlOpt, check_cache_mode, duration_s
from target_service.errors import UserError


def serve(
    port: Annotated[int, typer.Option(help="Port on the host (0 = a free one).")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes.")] = 1,
    policy: Annotated[str, typer.Option(help="Interval policy: a preset name or a JSON file.")] = (
        "fixed-2s"
    ),
    cache: CacheOpt = "fresh",
    redis_url: RedisUrlOpt = None,
    database_url: DatabaseUrlOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    server: Annotated[str, typer.Option(
        help="ASGI server: uvicorn (default) or granian (Rust HTTP server)."
    )] = "uvicorn",
) -> None:
    """Run the reference polling service (and the embedded stack unless URLs are given).

    Prints the service URL and runs until Ctrl-C, then stops the service and every server
    it started.
    """
    from target_service.embedded.stack import Stack
    from target_service.serve import run_service, wait_for_interrupt

    check_cache_mode(cache)
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be within 0..65535, got {port}")
    with Stack(redis_url=redis_url, database_url=database_url) as info, run_service(
        redis_url=info.redis_url, database_url=info.database_url, port=port or None,
        workers=workers, policy=policy, cache_mode=cache, host=host, server=server,
    ) as service:
        typer.echo(f"pollcap service: {service.url}  (workers {workers}, policy {policy}, "
                   f"cache {cache}, server {server})")
        typer.echo(f"redis: {info.redis_url}\npostgres: {info.database_url}")
        typer.echo(f"try: curl -s -X POST {service.url}/api/users -H 'Content-Type: "
                   "application/json' -d '{\"name\": \"ann\"}'")
        typer.echo("(Ctrl-C stops everything)", err=True)
        wait_for_interrupt()


def _servers(text: str) -> list[str]:
    """``'uvicorn,granian'`` -> the server names, each known and given once."""
    from target_service.serve import SERVERS

    servers = [name.strip() for name in text.split(",") if name.strip()]
    if not servers or len(set(servers)) < len(servers) or set(servers) - set(SERVERS):
        raise UserError(f"--server takes {' or '.join(SERVERS)} (or both, comma-separated), "
                        f"got {text!r}")
    return servers


def bench_service(
    duration: Annotated[str, typer.Option(help="Time per scenario: 1s .. 60s.")] = "10s",
    rounds: Annotated[int, typer.Option(min=1, max=10, help="Rounds; medians are kept.")] = 3,
    connections: Annotated[int, typer.Option(min=1, max=512, help="Keep-alive connections.")] = (
        50
    ),
    loadgen: Annotated[str, typer.Option(
        help="wrk (C, one thread on the client core; falls back to builtin when not "
             "installed) or builtin (the Python raw-socket generator)."
    )] = "wrk",
    server: Annotated[str, typer.Option(
        help="ASGI server(s) of the service: uvicorn, granian, or both as 'uvicorn,granian' "
             "(one service each, rounds interleaved, ratios to the first)."
    )] = "uvicorn",
    cache: CacheOpt = "fresh",
    redis_url: RedisUrlOpt = None,
    database_url: DatabaseUrlOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure the service's throughput targets side by side (one core, loopback).

    Bare route /api/ping, a poll with nothing new, a poll returning 20 messages and
    message POSTs; prints req/s, the ratios to /api/ping, and each target beside its
    measured value. Exit code 1 if a target is missed.
    """
    from target_service.bench.run import bench_servers, choose_loadgen
    from target_service.bench.table import format_comparison, format_result

    check_cache_mode(cache)
    servers = _servers(server)
    chosen, note = choose_loadgen(loadgen)
    if note:
        typer.echo(note, err=True)
    results = bench_servers(duration_s=duration_s(duration, option="--duration", min_s=1,
                                                  max_s=60),
                            rounds=rounds, connections=connections,
                            cache_mode=cache, redis_url=redis_url, database_url=database_url,
                            only=None, loadgen=chosen, servers=servers)
    if json_out:
        typer.echo(json.dumps({name: r.to_json() for name, r in results.items()}, indent=2)
                   if len(results) > 1 else json.dumps(results[servers[0]].to_json(), indent=2))
    else:
        typer.echo("\n\n".join(format_result(r) for r in results.values()))
        if len(results) > 1:
            typer.echo("\n" + format_comparison(results))
    if not all(all(r.verdicts().values()) for r in results.values()):
        raise typer.Exit(1)


COMMANDS = [serve, bench_service]
