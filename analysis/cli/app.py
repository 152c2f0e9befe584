"""The ``pollcap`` command: one typer app gathering every package's commands.

User mistakes raise :class:`target_service.errors.UserError` anywhere below; here they
become one line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from analysis import __version__
from analysis.cli.stack import stack_app
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

# Modules contributing commands: each exports COMMANDS, a list of typer-annotated functions.
COMMAND_MODULES = (
    "analysis.cli.capacity",
    "analysis.cli.service",
    "analysis.cli.swarm",
    "analysis.cli.report",
    "analysis.cli.sweep",
    "analysis.cli.probe",
    "analysis.cli.compare",
    "analysis.cli.push",
    "analysis.cli.transports",
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


def _register(module_name: str) -> None:
    """Add a module's ``COMMANDS``; a module that fails to import is an error, not a gap."""
    module = importlib.import_module(module_name)
    commands: list[Callable[..., Any]] = module.COMMANDS
    for command in commands:
        app.command(name=command.__name__.replace("_", "-"))(command)


for _name in COMMAND_MODULES:
    _register(_name)
app.add_typer(stack_app, name="stack")


def main() -> None:
    """Entry point: click handles usage errors (exit 2); UserError becomes one line, exit 2."""
    try:
        app()
    except UserError as exc:
        print(f"pollcap: error: {exc}", file=sys.stderr)
        sys.exit(2)
