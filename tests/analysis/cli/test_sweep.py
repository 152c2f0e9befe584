"""``pollcap sweep`` as a user runs it: exit codes, files, a policy the service loads."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analysis.runs import RunData
from target_service.errors import UserError
from target_service.policy import load_policy


def test_cli_bad_grid_exits_2_with_one_line(
    tmp_path: Path, pollcap: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"default_ms": "fast"}))
    done = pollcap("sweep", "--synthetic", "--grid", str(grid), cwd=tmp_path)
    assert done.returncode == 2
    assert "must be a list" in done.stderr and "Traceback" not in done.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    done = pollcap("sweep", "--synthetic", "--grid", str(broken), cwd=tmp_path)
    assert done.returncode == 2 and "not valid JSON" in done.stderr
    done = pollcap("sweep", "--run", "nope", "--reports-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and "no report folder" in done.stderr


def test_cli_sweep_on_a_run_writes_a_policy_the_service_loads(
    tmp_path: Path,
    small_grid: dict[str, Any],
    recorded_run_folder: Callable[..., RunData],
    pollcap: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    recorded_run_folder(tmp_path)
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(small_grid))
    out = tmp_path / "policy.json"
    done = pollcap(
        "sweep",
        "--run",
        "rec",
        "--reports-dir",
        str(tmp_path),
        "--grid",
        str(grid),
        "--capacity-rps",
        "100",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Pareto front" in done.stdout
    policy = load_policy(str(out))
    assert (tmp_path / "rec" / "sweep" / "pareto.png").is_file()
    from target_service.settings import Settings

    assert Settings(policy=str(out)).policy == str(out)  # the service accepts it as --policy
    assert policy.name in (tmp_path / "rec" / "sweep" / "results.csv").read_text()


@pytest.mark.parametrize(("argv", "says"), [
    (["--run", "r1", "--synthetic"], "exactly one of --run"),
    ([], "exactly one of --run"),
    (["--synthetic", "--verify"], "--verify needs a recorded run"),
    (["--run", "r1", "--verify", "--verify-duration", "soon"], "--verify-duration"),
    (["--run", "r1", "--host", "http://127.0.0.1:9"], "are for --verify"),
])
def test_option_combinations_are_refused_before_any_work(
    argv: list[str], says: str, tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from analysis.cli.app import app

    result = CliRunner().invoke(app, ["sweep", "--reports-dir", str(tmp_path), *argv])
    assert isinstance(result.exception, UserError), result.output
    assert says in str(result.exception)
    assert not any(tmp_path.iterdir())  # nothing written
