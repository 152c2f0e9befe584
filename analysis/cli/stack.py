"""``pollcap stack up`` and ``pollcap stack bench``: the embedded Valkey + PostgreSQL.

Foreground commands wait with :func:`target_service.serve.wait_for_interrupt`, the one
way to wait for Ctrl-C or SIGTERM before stopping what they started.
"""

from __future__ import annotations

from typing import Annotated

import typer

from analysis.cli.options import DatabaseUrlOpt, RedisUrlOpt

stack_app = typer.Typer(help="Run the embedded Valkey + PostgreSQL stack.", no_args_is_help=True)


@stack_app.command("up")
def stack_up(redis_url: RedisUrlOpt = None, database_url: DatabaseUrlOpt = None) -> None:
    """Start Valkey + PostgreSQL on free loopback ports, print their URLs, run until Ctrl-C."""
    from target_service.embedded.stack import Stack, describe
    from target_service.serve import wait_for_interrupt

    with Stack(redis_url=redis_url, database_url=database_url) as info:
        typer.echo(describe(info))
        typer.echo("export POLLCAP_REDIS_URL=" + info.redis_url)
        typer.echo("export POLLCAP_DATABASE_URL=" + info.database_url)
        typer.echo("(Ctrl-C stops both)", err=True)
        wait_for_interrupt()


@stack_app.command("bench")
def stack_bench(
    rounds: Annotated[int, typer.Option(min=1, max=50, help="Start/stop cycles to time.")] = 5,
) -> None:
    """Time embedded start-up (both servers answering) and stop; check nothing is left."""
    import statistics
    import time

    from target_service.embedded.children import pid_is
    from target_service.embedded.stack import Stack

    ready_s: list[float] = []
    stop_s: list[float] = []
    left: list[int] = []
    warm = Stack(environ={})  # untimed: the first start of an install runs initdb once
    warm.start()
    warm.stop()
    for _ in range(rounds):
        stack = Stack(environ={})
        started = time.perf_counter()
        info = stack.start()
        ready_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        stack.stop()
        stop_s.append(time.perf_counter() - started)
        left += [p for p, k in ((info.redis_pid, "valkey"), (info.postgres_pid, "postgres"))
                 if p is not None and pid_is(p, k)]
    typer.echo(f"ready: median {statistics.median(ready_s):.2f} s, max {max(ready_s):.2f} s "
               f"(target <= 3 s); stop: median {statistics.median(stop_s):.2f} s, "
               f"max {max(stop_s):.2f} s (target <= 2 s); servers left running: {len(left)}")
    if max(ready_s) > 3 or max(stop_s) > 2 or left:
        raise typer.Exit(code=1)

