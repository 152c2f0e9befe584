"""Exit codes and output of ``usl`` and ``report`` through a typer app built from COMMANDS.

``analysis.cli.app.main`` turns ``UserError`` into one line on stderr and exit 2; the
helper below applies the same rule so each case checks the code a user sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import typer
from typer.testing import CliRunner

from analysis.cli.report import COMMANDS
from analysis.runs import RunData, save_run_data
from target_service.embedded.stack import StackInfo
from target_service.errors import UserError

DATA = Path(__file__).parents[1] / "model" / "data"  # the published USL datasets


def _app() -> typer.Typer:
    app = typer.Typer()
    # COMMANDS is inferred as list[function]; each is a typer-annotated command function
    for command in cast(list[Callable[..., Any]], COMMANDS):
        app.command(name=command.__name__.replace("_", "-"))(command)
    return app


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), list(args))
    if isinstance(result.exception, UserError):
        message = str(result.exception)
        assert "\n" not in message
        return 2, message
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_usl_prints_coefficients_of_published_data() -> None:
    code, out = _invoke("usl", str(DATA / "specsdm91.csv"))
    assert code == 0
    assert "USL fit of throughput vs load (7 points)" in out
    assert "sigma  0.0277" in out and "kappa  0.000104" in out and "lambda 89.99" in out
    assert "N*     96.5" in out and "R2     0.9896" in out


def test_usl_with_named_columns_and_bootstrap(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("note,users,rps\na,1,20\nb,4,78\nc,8,130\nd,12,170\ne,16,190\n")
    code, out = _invoke("usl", str(csv), "--x", "users", "--y", "rps", "--bootstrap", "20")
    assert code == 0 and "rps vs users (5 points)" in out and "[" in out


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, (), "no such file"),
        ("a,b\n1,2\n2,3\n3,4\n", ("--x", "users"), "no column 'users' (columns: a, b)"),
        ("a,b\n1,2\n2,3\n", (), "at least 3 points"),
        ("a,b\n1,x\n2,3\n3,4\n", (), "non-numeric"),
        ("a\n1\n2\n3\n", (), "need two columns"),
    ],
)
def test_usl_user_errors_exit_2(tmp_path: Path, content: str | None, args: tuple[str, ...],
                                message: str) -> None:
    csv = tmp_path / "in.csv"
    if content is not None:
        csv.write_text(content)
    code, out = _invoke("usl", str(csv), *args)
    assert code == 2 and message in out


def test_report_rebuilds_and_exit_code_follows_the_slo(
    tmp_path: Path, capacity_run_data: Callable[..., RunData]
) -> None:
    save_run_data(capacity_run_data(run_id="run-a"), reports_dir=tmp_path)
    code, out = _invoke("report", "run-a", "--reports-dir", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "run-a" / "report.html").is_file()
    assert (tmp_path / "run-a" / "summary.json").is_file()
    assert "SLO holds at 500 users" in out
    code, out = _invoke("report", "run-a", "--reports-dir", str(tmp_path), "--target-users", "5000")
    assert code == 1 and "SLO fails at 5000 users" in out


def test_report_user_errors_exit_2(tmp_path: Path) -> None:
    assert _invoke("report", "missing", "--reports-dir", str(tmp_path))[0] == 2
    assert _invoke("report", "x", "--headroom", "1.5")[0] == 2  # click range check


def test_bench_collect_reads_back_what_it_wrote(clean_backends: StackInfo) -> None:
    code, out = _invoke("bench-collect", "--n", "5000", "--redis-url", clean_backends.redis_url)
    assert code == 0 and "collect 5,000 samples: read" in out


def test_bench_report_builds_from_a_synthetic_run() -> None:
    code, out = _invoke("bench-report", "--samples", "20000")
    assert code == 0 and re.search(r"report from [\d,]+ samples: built in [\d.]+ s", out)
