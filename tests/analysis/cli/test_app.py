"""The ``pollcap`` app: every command group registered, none silently missing."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from analysis.cli import app as app_module

COMMANDS = {
    "capacity", "serve", "bench-service", "swarm", "bench-swarm", "usl", "report",
    "bench-collect", "bench-report", "sweep", "bench-sweep", "stack", "compare", "history",
    "probe", "chaos", "bench-push", "transports",
}


def test_help_lists_every_command() -> None:
    group = get_command(app_module.app)
    assert set(group.commands) == COMMANDS  # type: ignore[attr-defined]
    result = CliRunner().invoke(app_module.app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_a_module_that_fails_to_import_is_an_error_not_a_missing_command() -> None:
    with pytest.raises(ModuleNotFoundError):
        app_module._register("analysis.cli.no_such_commands")
