"""``analysis.cli.scenario_flags``: each scenario-table row is a flag of a decorated
command, and the values arrive parsed as one ``ScenarioParams`` plus the run-level rows."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.testing import CliRunner

from analysis.cli.scenario_flags import scenario_options
from loadtests.clients.options import SWARM_OPTIONS, ScenarioParams

seen: dict[str, Any] = {}


@scenario_options
def probe(
    *, scenario: ScenarioParams, client_policy: str, shape: str,
    users: Annotated[int, typer.Option(help="own option")] = 3,
) -> None:
    seen.update(scenario=scenario, client_policy=client_policy, shape=shape, users=users)


app = typer.Typer()
app.command()(probe)
app.command(name="other")(lambda: None)  # two commands: typer keeps the command's name


def test_every_row_is_a_flag_beside_the_commands_own() -> None:
    help_text = CliRunner().invoke(app, ["probe", "--help"], env={"COLUMNS": "300"}).stdout
    assert "--users" in help_text
    for option in SWARM_OPTIONS:
        assert option.flag in help_text, option.flag


def test_defaults_and_parsed_values_arrive_as_scenario_params() -> None:
    seen.clear()
    result = CliRunner().invoke(app, ["probe"])
    assert result.exit_code == 0, result.output
    assert isinstance(seen["scenario"], ScenarioParams) and seen["users"] == 3
    for option in SWARM_OPTIONS:  # each row's default, durations parsed back to seconds
        if option.workload and option.env is None:
            assert getattr(seen["scenario"], option.name) == option.default, option.name
    seen.clear()
    result = CliRunner().invoke(app, ["probe", "--hidden-mean", "1m30s", "--channels", "7",
                                      "--no-record", "--shape", "step:start=1", "--users", "9"])
    assert result.exit_code == 0, result.output
    scenario = seen["scenario"]
    assert (scenario.hidden_mean_s, scenario.channels, scenario.record) == (90.0, 7, False)
    assert seen["shape"] == "step:start=1" and seen["users"] == 9
