"""The swarm command: JSON summary on stdout, integrity exit code, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from analysis.cli.swarm import COMMANDS, swarm
from loadtests.bench.stub_server import run_bench_target
from loadtests.clients.options import ScenarioParams
from target_service.embedded.stack import StackInfo
from target_service.errors import UserError
from target_service.serve import free_port

app = typer.Typer()
for command in COMMANDS:
    app.command(name=command.__name__.replace("_", "-"))(command)


def invoke(args: list[str]) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout, result.exception


def test_commands_are_exported() -> None:
    assert swarm in COMMANDS and [c.__name__ for c in COMMANDS] == ["swarm", "bench_swarm"]


@pytest.mark.slow
def test_swarm_json_and_integrity_exit_code(clean_backends: StackInfo, tmp_path: Path) -> None:
    common = [
        "--users",
        "6",
        "--spawn-rate",
        "6",
        "--duration",
        "8s",
        "--channels",
        "1",
        "--sender-share",
        "1",
        "--send-rate-per-min",
        "60",
        "--notification-rate-per-s",
        "0",
        "--redis-url",
        clean_backends.redis_url,
        "--runs-dir",
        str(tmp_path),
        "--json",
    ]
    with run_bench_target(port=free_port()) as url:
        code, out, exc = invoke(["swarm", "--host", url, *common])
    assert exc is None or isinstance(exc, SystemExit), exc
    summary = json.loads(out)
    assert code == 0 and summary["lost"] == 0 and summary["messages_sent"] > 0
    assert (tmp_path / summary["run_id"] / "summary.json").exists()

    with run_bench_target(port=free_port(), gap_every=3) as url:
        code, out, _ = invoke(["swarm", "--host", url, *common])
    assert code == 1 and json.loads(out)["lost"] > 0


def test_remote_host_is_refused_before_anything_starts(tmp_path: Path) -> None:
    code, _, exc = invoke(
        ["swarm", "--host", "http://192.0.2.10:8000", "--runs-dir", str(tmp_path)]
    )
    assert isinstance(exc, UserError) and "allow-remote" in str(exc)
    assert not any(tmp_path.iterdir())


def test_bad_duration_is_a_user_error() -> None:
    _, _, exc = invoke(["swarm", "--duration", "soon"])
    assert isinstance(exc, UserError)


def test_every_scenario_row_is_a_swarm_flag_with_its_default() -> None:
    from loadtests.clients.options import SWARM_OPTIONS

    help_text = CliRunner().invoke(app, ["swarm", "--help"], env={"COLUMNS": "300"}).stdout
    for option in SWARM_OPTIONS:
        assert option.flag in help_text, option.flag


def test_scenario_flags_reach_the_scenario_params(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated flags arrive as ScenarioParams (durations parsed) at run_swarm."""
    import loadtests.swarm.run as swarm_run

    seen: dict[str, object] = {}

    def fake_run_swarm(**kwargs: object) -> None:
        seen.update(kwargs)
        raise typer.Exit(0)

    monkeypatch.setattr(swarm_run, "run_swarm", fake_run_swarm)
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:  # --host must accept connections
        host = f"http://127.0.0.1:{listener.getsockname()[1]}"
        code, _, _ = invoke(
            ["swarm", "--host", host, "--redis-url", "redis://127.0.0.1:9/0",
             "--hidden-mean", "2m", "--channels", "4", "--no-record", "--shape", "step:start=1"]
        )
    scenario = seen["scenario"]
    assert isinstance(scenario, ScenarioParams)
    assert code == 0 and seen["shape"] == "step:start=1"
    assert (scenario.hidden_mean_s, scenario.channels, scenario.record) == (120.0, 4, False)
