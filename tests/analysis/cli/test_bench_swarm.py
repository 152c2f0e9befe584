"""``analysis.cli.bench_swarm``: refusals before anything starts, and the core split."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from analysis.cli.bench_swarm import bench_cpus, bench_swarm
from target_service.errors import UserError

app = typer.Typer()
app.command()(bench_swarm)
app.command(name="other")(lambda: None)


def test_an_unknown_target_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench-swarm", "--against", "prod",
                                      "--runs-dir", str(tmp_path / "runs")])
    assert isinstance(result.exception, UserError) and "--against" in str(result.exception)
    assert not (tmp_path / "runs").exists()


def test_a_bad_duration_is_refused_before_anything_starts() -> None:
    result = CliRunner().invoke(app, ["bench-swarm", "--duration", "soon"])
    assert isinstance(result.exception, UserError)


def test_the_generator_gets_the_first_core_and_the_target_the_rest() -> None:
    assert bench_cpus([0, 1, 2, 3]) == ([0], [1, 2, 3])
    assert bench_cpus([5]) == ([5], None)  # one core: shared, not pinned
