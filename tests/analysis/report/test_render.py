"""Report rendering from a synthetic run folder: HTML, summary.json, terminal table."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from analysis.report.console import print_report
from analysis.report.render import analyse, build_report
from analysis.runs import RunData, load_run_data, save_run_data


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, capacity_run_data: Callable[..., RunData]
) -> tuple[Path, dict, str]:
    reports = tmp_path_factory.mktemp("reports")
    folder = save_run_data(capacity_run_data(run_id="r1", cache_ttl_s=5), reports_dir=reports)
    files = build_report(load_run_data("r1", reports_dir=reports), out_dir=folder)
    return folder, json.loads(files.summary.read_text()), files.html.read_text()


def test_html_is_self_contained_with_all_sections(built: tuple[Path, dict, str]) -> None:
    _, _, html = built
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 4
    assert not re.search(r'(src|href)="https?://', html)
    for heading in ("Throughput and the Universal Scalability Law", "Causes: delivery latency",
                    "Scale-out plan", "Steps"):
        assert heading in html
    assert "$0.20 per million" in html and "cache staleness" in html


def test_summary_carries_fit_capacity_plan_and_causes(built: tuple[Path, dict, str]) -> None:
    _, summary, _ = built
    assert summary["run_id"] == "r1" and summary["inputs"]["slo_p95_ms"] == 3000
    assert len(summary["steps"]) == 8
    usl = summary["usl"]
    assert set(usl["ci"]) == {"sigma", "kappa", "lambda"} and 0 < usl["r_squared"] <= 1
    assert summary["validation"]["train_points"] == 4
    assert [r["target_users"] for r in summary["plan"]["rows"]] == [1000, 10000, 100000, 1000000]
    assert {c["cause"] for c in summary["causes"]} >= {"cache staleness"}


def test_seed_and_the_continuous_instance_figure(
        tmp_path: Path, capacity_run_data: Callable[..., RunData]) -> None:
    data = capacity_run_data(run_id="r2")
    data.meta["seed"] = 17  # the users' --seed, as pollcap capacity records it
    files = build_report(data, out_dir=tmp_path, bootstrap=0)
    summary, html = json.loads(files.summary.read_text()), files.html.read_text()
    assert summary["inputs"]["seed"] == 17 and "workload seed <code>17</code>" in html
    for row in summary["plan"]["rows"]:  # the count to deploy is the continuous one rounded up
        assert row["instances"] == math.ceil(row["instances_exact"])
        assert row["instances_exact"] == pytest.approx(
            row["target_users"] / summary["plan"]["users_per_instance"])
    row = summary["plan"]["rows"][1]
    assert f"{row['instances_exact']:.1f} → {row['instances']:,}" in html
    assert "compared on the continuous figure" in html


def test_slo_capacity_of_the_synthetic_service(capacity_run_data: Callable[..., RunData]) -> None:
    # no cache: delivery p95 ~ 0.95 T + response; the service saturates between 1000 and
    # 1400 users (USL peak 1000 users, 667 req/s), errors cross 1% between 1400 and 1800.
    # Past the peak the users' polls thin out (1400 users poll below 95 % of N / T): that
    # step did not carry 1400 users' load, so the SLO breaks there, on the poll schedule
    result = analyse(capacity_run_data(), bootstrap=0)
    cap = result.capacity
    assert cap.status == "interpolated"
    assert (cap.last_pass_users, cap.first_fail_users) == (1000, 1400)
    assert cap.limited_by == "poll schedule"
    assert result.slo_at_target is True  # target 500 users
    assert [c.cause for c in result.causes][:6] == ["at floor"] * 6
    assert result.causes[-1].cause == "overload"


def test_overrides_change_the_verdict(capacity_run_data: Callable[..., RunData]) -> None:
    result = analyse(capacity_run_data(), bootstrap=0, target_users=1700, slo_p95_ms=2500)
    assert result.slo_at_target is False
    assert result.inputs["slo_p95_ms"] == 2500


def test_terminal_table_lists_steps_and_headline(capacity_run_data: Callable[..., RunData]) -> None:
    console = Console(record=True, width=160)
    print_report(analyse(capacity_run_data(), bootstrap=0), console=console)
    text = console.export_text()
    assert "1800" in text and "One instance holds ~" in text and "USL: σ=" in text
    assert "1,000,000 users" in text
    assert re.search(r"10,000 users: \d+\.\d → \d+ instance", text)  # worth → count
