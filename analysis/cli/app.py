"""The ``pollcap`` command: one typer app gathering every package's commands.

User mistakes raise :class:`target_service.errors.UserError` anywhere below; here they
become one line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from analysis import __version__
from target_service.errors import UserError

app = typer.Typer(
    name="pollcap",
    help="Load-test and capacity-plan polling-based realtime backends "
    "(chat and notifications polled every 1-10 s, Redis cache, PostgreSQL).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
stack_app = typer.Typer(help="Run the embedded Valkey + PostgreSQL stack.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")

# Modules contributing commands: each exports COMMANDS, a list of typer-annotated functions.
COMMAND_MODULES = (
    "analysis.cli.capacity",
    "analysis.cli.service",
    "analysis.cli.swarm",
    "analysis.cli.report",
    "analysis.cli.sweep",
    "analysis.cli.chaos",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pollcap {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """pollcap: how many users your polling stack holds, which intervals to ship, how to grow."""


@stack_app.command("up")
def stack_up(
    redis_url: Annotated[
        str | None, typer.Option(envvar="POLLCAP_REDIS_URL", help="Use this Redis; launch none.")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(envvar="POLLCAP_DATABASE_URL", help="Use this PostgreSQL; launch none."),
    ] = None,
) -> None:
    """Start Valkey + PostgreSQL on free loopback ports, print their URLs, run until Ctrl-C."""
    from target_service.embedded.stack import Stack, describe

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

    from target_service.embedded import procs
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
                 if p is not None and procs.pid_is(p, k)]
    typer.echo(f"ready: median {statistics.median(ready_s):.2f} s, max {max(ready_s):.2f} s "
               f"(target <= 3 s); stop: median {statistics.median(stop_s):.2f} s, "
               f"max {max(stop_s):.2f} s (target <= 2 s); servers left running: {len(left)}")
    if max(ready_s) > 3 or max(stop_s) > 2 or left:
        raise typer.Exit(code=1)


def wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM; both end in a clean stop of what we started."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored when started with &
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass


def _register(module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return  # that part of the toolkit is not installed in this build
        raise
    commands: list[Callable[..., Any]] = getattr(module, "COMMANDS", [])
    for command in commands:
        app.command(name=command.__name__.replace("_", "-"))(command)


for _name in COMMAND_MODULES:
    _register(_name)


def main() -> None:
    """Entry point: click handles usage errors (exit 2); UserError becomes one line, exit 2."""
    try:
        app()
    except UserError as exc:
        print(f"pollcap: error: {exc}", file=sys.stderr)
        sys.exit(2)
