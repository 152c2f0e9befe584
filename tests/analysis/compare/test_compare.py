"""``pollcap compare`` on synthetic runs with known differences, and ``pollcap history``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from analysis.cli.compare import COMMANDS
from analysis.compare.figures import run_figures
from analysis.compare.verdict import compare_runs, regressions
from analysis.report.render import build_report
from analysis.runs import RunData, run_dir, save_run_data
from analysis.synthetic import synthetic_capacity_data
from target_service.errors import UserError

USERS = (50, 100, 200, 400, 700, 1000, 1400, 1800)
BASE_LAMBDA = 2.0  # req/s per user of the synthetic service before saturation
SLOWER = 1.7  # a 15% slower service: about 10% less SLO capacity (1,545 -> ~1,394 users)


def _run(run_id: str, *, lambda_: float = BASE_LAMBDA, seed: int = 0, demand_ms: float = 1.0,
         started_at_ms: int = 0) -> RunData:
    """A synthetic run (USL service, delivery = wait + queue) with CPU = polls/s x demand."""
    data = synthetic_capacity_data(run_id=run_id, users=USERS, lambda_=lambda_, seed=seed)
    t = data.samples["poll"]["t_ms"].to_numpy()
    seconds = np.arange(t.min() // 1000, t.max() // 1000 + 1)
    per_s = np.bincount(t // 1000 - seconds[0], minlength=seconds.size)
    rng = np.random.default_rng(seed + 100)
    cpu = per_s * demand_ms / 10.0 * rng.normal(1.0, 0.03, seconds.size)
    data.resources = pd.DataFrame({"t_ms": seconds * 1000 + 999, "cpu_percent": cpu,
                                   "rss_bytes": 1e8})
    data.meta["started_at_ms"] = started_at_ms
    return data


def test_an_unchanged_copy_is_no_significant_change() -> None:
    result = compare_runs(_run("a"), _run("b", seed=1), draws=100)
    assert result.matched_users == list(USERS)
    assert {m.name: m.verdict for m in result.metrics} == {
        "SLO capacity": "no significant change", "requests per user": "no significant change",
        "CPU per request": "no significant change", "p95 delivery": "no significant change"}
    for m in result.metrics:
        assert m.ci_low is not None and m.ci_high is not None and m.ci_low <= m.ci_high
    assert regressions(result, threshold_pct=0) == []


def test_a_slower_service_is_flagged_worse_with_intervals_excluding_zero() -> None:
    a, b = _run("a"), _run("b", lambda_=SLOWER, seed=1, demand_ms=1.2)
    result = compare_runs(a, b, draws=100)
    by = {m.name: m for m in result.metrics}
    cap = by["SLO capacity"]
    assert cap.diff_pct is not None and -12 < cap.diff_pct < -8  # the known ~10% drop
    assert cap.verdict == "worse" and cap.ci_high is not None and cap.ci_high < 0
    assert by["CPU per request"].verdict == "worse"
    assert by["CPU per request"].diff_pct == pytest.approx(20.0, abs=4.0)
    p95 = by["p95 delivery"]
    assert p95.verdict == "worse" and p95.p_value is not None and p95.p_value < 0.05
    assert [m.name for m in regressions(result, threshold_pct=5)] == [
        "SLO capacity", "CPU per request", "p95 delivery"]
    assert regressions(result, threshold_pct=50) == []
    # the other way round the same change is an improvement
    reverse = {m.name: m.verdict for m in compare_runs(b, a, draws=50).metrics}
    assert reverse["SLO capacity"] == "better"


def test_a_step_past_the_slo_in_both_runs_does_not_decide_the_per_user_verdicts() -> None:
    """Two quick runs of the same code differed only in how their last, overloaded step
    broke down (p95 +17%): that is overload noise, not a change of the code."""
    a, b = _run("a"), _run("b", seed=1)
    top = max(USERS)
    steps = b.steps.set_index("users")
    lo_ms, hi_ms = steps.loc[top, "start_ms"], steps.loc[top, "end_ms"]
    messages = b.samples["message"].copy()
    inside = (messages["t_ms"] >= lo_ms) & (messages["t_ms"] < hi_ms)
    messages.loc[inside, "latency_ms"] *= 2.0  # the overloaded step breaks down worse
    b.samples["message"] = messages
    result = compare_runs(a, b, draws=100)
    assert top not in result.compared_users and result.matched_users == list(USERS)
    assert "past it in both" in result.notes[0] and str(top) in result.notes[0]
    verdicts = {m.name: m.verdict for m in result.metrics}
    assert verdicts["p95 delivery"] == "no significant change"
    step = {s.users: s for s in result.steps}[top]
    assert step.p95_b_ms > 1.5 * step.p95_a_ms  # still shown in the per-step table
    # had the step counted, it alone would move the mean p95 past the 5% minimum effect
    fa, fb = (run_figures(d, matched_users=list(USERS), draws=20) for d in (a, b))
    assert fa.p95_delivery_ms.value is not None and fb.p95_delivery_ms.value is not None
    assert fb.p95_delivery_ms.value > 1.05 * fa.p95_delivery_ms.value


def test_runs_without_common_steps_compare_capacity_only() -> None:
    a = _run("a")
    b = synthetic_capacity_data(run_id="b", users=(60, 150, 300, 600, 900, 1300, 1700), seed=1)
    result = compare_runs(a, b, draws=50)
    assert result.matched_users == [] and "share no user count" in result.notes[0]
    verdicts = {m.name: m.verdict for m in result.metrics}
    assert verdicts["SLO capacity"] != "not comparable"
    assert verdicts["p95 delivery"] == "not comparable"


def _app() -> typer.Typer:
    app = typer.Typer()
    # COMMANDS is inferred as list[function]; each is a typer-annotated command function
    for command in cast(list[Callable[..., Any]], COMMANDS):
        app.command(name=command.__name__.replace("_", "-"))(command)
    return app


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), list(args))
    if isinstance(result.exception, UserError):
        assert "\n" not in str(result.exception)
        return 2, str(result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _saved(tmp_path: Path, *, report: bool = False) -> None:
    for data in (_run("base", started_at_ms=1), _run("same", seed=1, started_at_ms=2),
                 _run("slow", lambda_=SLOWER, seed=2, demand_ms=1.2, started_at_ms=3)):
        save_run_data(data, reports_dir=tmp_path)
        if report:
            build_report(data, out_dir=run_dir(data.run_id, reports_dir=tmp_path), bootstrap=0)


def test_cli_gate_page_and_json(tmp_path: Path) -> None:
    _saved(tmp_path)
    code, out = _invoke("compare", "base", "same", "--reports-dir", str(tmp_path),
                        "--fail-on-regression", "5", "--draws", "50")
    assert code == 0, out
    same = json.loads((tmp_path / "compare-base-vs-same" / "compare.json").read_text())
    assert {m["verdict"] for m in same["metrics"]} == {"no significant change"}
    code, out = _invoke("compare", "base", "slow", "--reports-dir", str(tmp_path),
                        "--fail-on-regression", "5", "--draws", "50")
    assert code == 1 and "regression beyond 5%: SLO capacity" in out
    page = tmp_path / "compare-base-vs-slow" / "compare.html"
    assert page.is_file() and page.read_text().count("data:image/png;base64,") == 2
    doc = json.loads(page.with_suffix(".json").read_text())
    assert {m["name"]: m["verdict"] for m in doc["metrics"]}["SLO capacity"] == "worse"
    code, out = _invoke("compare", "base", "slow", "--reports-dir", str(tmp_path),
                        "--draws", "50")
    assert code == 0  # without the gate a regression is reported, not failed
    code, out = _invoke("compare", "base", "absent", "--reports-dir", str(tmp_path))
    assert code == 2 and "no report folder" in out
    code, out = _invoke("compare", "base", "base", "--reports-dir", str(tmp_path))
    assert code == 2 and "two different runs" in out


@pytest.mark.slow
def test_history_lists_reported_runs_in_order_with_a_trend_plot(tmp_path: Path) -> None:
    _saved(tmp_path, report=True)
    code, out = _invoke("history", "--reports-dir", str(tmp_path))
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.strip().startswith(("base", "same",
                                                                           "slow"))]
    assert [line.split()[0] for line in lines] == ["base", "same", "slow"]
    assert (tmp_path / "history.html").read_text().count("data:image/png;base64,") == 1
    code, out = _invoke("history", "--reports-dir", str(tmp_path / "none"))
    assert code == 2 and "no reports folder" in out
    # reported runs: compare adds every headline figure of both reports, A / B / apart
    code, out = _invoke("compare", "base", "slow", "--reports-dir", str(tmp_path),
                        "--draws", "50")
    assert code == 0 and "headline figures of the two reports" in out
    doc = json.loads((tmp_path / "compare-base-vs-slow" / "compare.json").read_text())
    head = {h["figure"]: h for h in doc["headline"]}
    assert head["SLO capacity (users)"]["apart_pct"] < -5  # the slower service holds fewer
    assert "→" in head["instances at 10,000 users"]["shown_a"]


def _error_limited(run_id: str, *, rates: dict[int, float], seed: int = 0) -> RunData:
    """A run whose SLO capacity the error rate sets (p95 breaks only past 1,400 users)."""
    data = _run(run_id, seed=seed)
    steps = data.steps.copy()
    steps["failures"] = [round(r * rates.get(int(u), 0.0))
                         for u, r in zip(steps["users"], steps["requests"], strict=True)]
    data.steps = steps
    return data


ERRORS = {700: 0.004, 1000: 0.016, 1400: 0.05, 1800: 0.1}  # 1% crossed at 850 users
ERRORS_WORSE = {**ERRORS, 700: 0.00834}  # the crossing at ~765 users: 10% less


def test_an_error_limited_capacity_has_an_interval_not_a_single_value() -> None:
    fig = run_figures(_error_limited("a", rates=ERRORS), matched_users=USERS, draws=100)
    assert fig.capacity.value == pytest.approx(850, abs=5)
    assert fig.capacity.value is not None
    lo, hi = np.percentile(fig.capacity.draws, [2.5, 97.5])
    assert lo < fig.capacity.value < hi  # the error counts resampled, not held fixed
    assert hi - lo < 0.1 * fig.capacity.value  # yet a sampling interval, not any value


def test_error_limited_capacity_an_unchanged_copy_no_change_a_10pct_drop_worse() -> None:
    a = _error_limited("a", rates=ERRORS)
    same = compare_runs(a, _error_limited("b", rates=ERRORS, seed=1), draws=100)
    cap = {m.name: m for m in same.metrics}["SLO capacity"]
    assert cap.verdict == "no significant change"
    assert cap.ci_low is not None and cap.ci_high is not None and cap.ci_low < cap.ci_high
    worse = compare_runs(a, _error_limited("b", rates=ERRORS_WORSE, seed=1), draws=100)
    drop = {m.name: m for m in worse.metrics}["SLO capacity"]
    assert drop.diff_pct is not None and -12 < drop.diff_pct < -8
    assert drop.verdict == "worse" and drop.ci_high is not None and drop.ci_high < 0
    assert "SLO capacity" in [m.name for m in regressions(worse, threshold_pct=5)]
