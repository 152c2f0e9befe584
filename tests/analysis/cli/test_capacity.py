"""``pollcap capacity`` end to end on a tiny ramp: files written and the exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from target_service.embedded.stack import StackInfo
from tests.conftest import reset_backends

TINY = [
    "--start-users",
    "6",
    "--step-users",
    "6",
    "--max-users",
    "12",
    "--hold",
    "6",
    "--channels",
    "1",
    "--sender-share",
    "0.5",
    "--send-rate-per-min",
    "60",
    "--service-cpus",
    "any",
    "--generator-cpus",
    "any",
]


def _capacity(
    args: list[str], *, tmp_path: Path, stack: StackInfo | None = None, timeout_s: float = 180
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if stack is not None:
        env.update(POLLCAP_REDIS_URL=stack.redis_url, POLLCAP_DATABASE_URL=stack.database_url)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from analysis.cli.app import main; main()",
            "capacity",
            "--reports-dir",
            str(tmp_path / "reports"),
            "--runs-dir",
            str(tmp_path / "runs"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--policy", "bogus"], "--policy: unknown policy"),
        (["--client-policy", "missing.json"], "--client-policy: policy file not found"),
        (["--cache", "stale"], "--cache must be fresh or seed"),
        (["--start-users", "50", "--max-users", "10"], "a ramp needs"),
        (["--hold", "1"], "--hold must be at least 4 s"),
        (["--service-cpus", "zero"], "--service-cpus takes core numbers"),
        (["--master"], "--master needs --expect-workers"),
        (["--expect-workers", "2"], "--expect-workers needs --master"),
        (["--master", "--expect-workers", "2", "--processes", "2"],
         "--master and --processes exclude each other"),
        (["--master", "--expect-workers", "2", "--master-bind-host", "0.0.0.0"],
         "refusing to open the Locust master on 0.0.0.0"),
        (["--master", "--expect-workers", "2", "--workers-wait", "soon"], "--workers-wait"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = _capacity(args, tmp_path=tmp_path, timeout_s=60)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists()


@dataclass(frozen=True)
class TinyRun:
    result: subprocess.CompletedProcess[str]
    folder: Path
    summary: dict


@pytest.fixture(scope="module")
def tiny_run(stack: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """One tiny polling run, shared by the checks of what it wrote (the suite's time)."""
    reset_backends(stack)
    tmp_path = tmp_path_factory.mktemp("tiny")
    result = _capacity([*TINY, "--target-users", "6", "--realtime", "polling"],
                       tmp_path=tmp_path, stack=stack)
    assert result.returncode == 0, result.stderr[-2000:]
    (folder,) = (tmp_path / "reports").iterdir()
    return TinyRun(result=result, folder=folder,
                   summary=json.loads((folder / "summary.json").read_text()))


@pytest.mark.slow
def test_tiny_run_writes_the_report_and_holds_the_slo_at_target(tiny_run: TinyRun) -> None:
    assert {"report.html", "summary.json", "steps.csv", "resources.csv", "meta.json"} <= {
        p.name for p in tiny_run.folder.iterdir()
    }
    summary = tiny_run.summary
    assert [s["users"] for s in summary["steps"]] == [6, 12]
    assert summary["slo_at_target"] is True
    assert all(s["lost"] == 0 and s["duplicated"] == 0 for s in summary["steps"])


@pytest.mark.slow
def test_polling_run_has_no_push_section(tiny_run: TinyRun) -> None:
    assert tiny_run.summary["push"] is None
    assert tiny_run.summary["inputs"]["realtime"] == "polling"


@pytest.mark.slow
def test_the_exit_code_follows_the_slo_at_target(tiny_run: TinyRun) -> None:
    """The same run judged against a 1 ms SLO fails at its target: exit 1.

    ``pollcap report`` re-analyses the stored data (capacity's own exit reads the same
    ``slo_at_target``; its passing exit 0 is the fixture's)."""
    failed = subprocess.run(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", "report",
         tiny_run.summary["run_id"], "--reports-dir", str(tiny_run.folder.parent),
         "--slo-p95-ms", "1"], capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert json.loads((tiny_run.folder / "summary.json").read_text())["slo_at_target"] is False


@pytest.mark.slow
def test_the_knee_ramp_extends_past_its_plan_and_reads_the_reports_figures(
    clean_backends: StackInfo, tmp_path: Path
) -> None:
    # steps big enough that Poisson sends do not fake a bend in throughput
    args = ["--start-users", "20", "--step-users", "20", "--plan-steps", "2", "--max-users",
            "60", "--hold", "5", "--channels", "1", "--sender-share", "0.5",
            "--send-rate-per-min", "6", "--service-cpus", "any", "--generator-cpus", "any"]
    result = _capacity(args, tmp_path=tmp_path, stack=clean_backends)
    assert result.returncode == 0, result.stderr[-2000:]
    (folder,) = (tmp_path / "reports").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    meta = json.loads((folder / "meta.json").read_text())
    # planned 20, 40; then 40 x 1.5 = 60, which is --max-users: the ramp stops there
    assert [s["users"] for s in summary["steps"]] == [20, 40, 60]
    assert [p["phase"] for p in meta["knee_phases"]] == ["planned", "planned", "extend"]
    assert summary["ramp"] == "knee" and summary["stop_reason"] == "reached --max-users (60)"
    assert summary["model"]["knee_next"]["reason"] == summary["stop_reason"]  # the replay
    assert "ramp stopped: reached --max-users (60)" in (folder / "report.html").read_text()
    # one set of numbers: each decision read the figures the report's table shows
    for decided, step in zip(meta["knee_decisions"], summary["steps"], strict=True):
        assert decided["users"] == step["users"]
        assert decided["requests_per_s"] == pytest.approx(step["requests_per_s"], rel=1e-6)
        if decided["delivery_p95_ms"] is not None:
            assert decided["delivery_p95_ms"] == pytest.approx(step["delivery_p95_ms"],
                                                               rel=1e-6)


@pytest.mark.slow
def test_a_second_run_of_the_same_code_compares_as_no_significant_change(
    tiny_run: TinyRun, stack: StackInfo
) -> None:
    """Issue 12: two real runs of the same code come out as "no significant change".

    Two tiny runs, not two ``--quick`` ones (about 100 s each here): the suite's time.
    ``--fail-on-regression 0`` makes any significant regression exit 1 as well."""
    reset_backends(stack)
    reports = tiny_run.folder.parent
    again = _capacity([*TINY, "--target-users", "6", "--realtime", "polling"],
                      tmp_path=reports.parent, stack=stack)
    assert again.returncode == 0, again.stderr[-2000:]
    (b_id,) = {p.name for p in reports.iterdir() if p.is_dir()} - {tiny_run.folder.name,
                                                                   *_compare_dirs(reports)}
    compared = subprocess.run(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", "compare",
         tiny_run.folder.name, b_id, "--reports-dir", str(reports), "--slo-p95-ms", "3000",
         "--fail-on-regression", "0", "--json"], capture_output=True, text=True, timeout=120)
    assert compared.returncode == 0, compared.stderr[-2000:]
    doc = json.loads(compared.stdout)
    verdicts = {m["name"]: m["verdict"] for m in doc["metrics"]}
    assert set(verdicts) == {"SLO capacity", "requests per user", "CPU per request",
                             "p95 delivery"}
    # the SLO never broke in either: capacity is a lower bound on both sides, and the
    # three measured figures at the matched 6 and 12 users show no significant change
    assert {v for k, v in verdicts.items() if k != "SLO capacity"} == {"no significant change"}
    assert verdicts["SLO capacity"] in {"no significant change", "not comparable"}


def _compare_dirs(reports: Path) -> set[str]:
    return {p.name for p in reports.iterdir() if p.name.startswith("compare-")}
