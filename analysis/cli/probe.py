"""``pollcap probe``: check a target description against a live service.

Plain typer-annotated function; ``analysis.cli.app`` registers ``COMMANDS``. A mismatch
exits 2 (like any user mistake: the description or the service needs fixing), with a
table row and a one-line cause per failed check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from target_service.errors import UserError


def probe(
    host: Annotated[str, typer.Option(help="The service to check, e.g. http://127.0.0.1:8000.")],
    target: Annotated[
        Path | None,
        typer.Option(help="Target description (TOML) [default: the reference service's own]."),
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow a host that is not on loopback.")
    ] = False,
) -> None:
    """Sign up, post and poll; check each mapping of a target description (exit 2 on a mismatch)."""
    from loadtests.swarm.safety import check_host
    from loadtests.targets.compiled import compile_target
    from loadtests.targets.probe import run_probe

    check_host(host, allow_remote=allow_remote)
    compiled = compile_target(None if target is None else str(target))
    checks = run_probe(compiled, host=host)
    table = Table(title=f"{compiled.description.name} at {host}")
    for column in ("check", "result", "detail"):
        table.add_column(column)
    marks = {True: "[green]ok[/green]", False: "[red]MISMATCH[/red]", None: "[dim]skipped[/dim]"}
    for check in checks:
        table.add_row(check.name, marks[check.ok], check.detail)
    Console().print(table)
    failed = [c for c in checks if c.ok is False]
    if failed:
        raise UserError(f"{len(failed)} mismatch(es); first: {failed[0].name}: {failed[0].detail}")


COMMANDS = [probe]
