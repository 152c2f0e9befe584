"""Issue 12 in the report: CPU bound, labelled extrapolations, generator marks, costs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import typer
from typer.testing import CliRunner

from analysis.cli.report import COMMANDS
from analysis.report.render import analyse, render_html, summary
from analysis.runs import save_run_data
from analysis.synthetic import synthetic_capacity_data
from target_service.errors import UserError

# a ramp that stops well before the synthetic service's peak (~2,000 users)
EARLY = (50, 100, 200, 400, 600, 800)


def test_headline_figures_are_bounded_or_labelled_and_steps_stay_under_the_bound() -> None:
    data = synthetic_capacity_data(users=EARLY, seed=5)
    data.meta["service_cores"] = 1
    result = analyse(data, bootstrap=0)
    doc = summary(result)
    model = doc["model"]
    bound = model["bound"]["max_requests_per_s"]
    assert bound is not None
    assert all(s["requests_per_s"] <= 1.05 * bound for s in doc["steps"])
    peak = model["usl_peak"]
    assert doc["usl"]["extrapolated"] is True  # the raw fit's N* lies past the ramp
    # the bound cuts the curve: users there by Little's law on measured rates, not the fit
    rate = model["bound"]["requests_per_user_s"]
    assert peak["users"]["bounded"] is True and peak["users"]["extrapolated"] is False
    assert peak["users"]["value"] == pytest.approx(bound / rate)
    assert "Little's law" in peak["users"]["label"]
    assert peak["requests_per_s"]["value"] <= bound + 1e-6
    assert peak["requests_per_s"]["extrapolated"] or peak["requests_per_s"]["bounded"]
    html = render_html(result)
    assert "and is an extrapolation" in html and "max requests/s the CPU allows" in html
    assert "(extrapolated)" not in html  # headline cards: measured or bounded figures only
    assert "Cost per 1,000 users per month" in html and "Backends from measured CPU" in html
    assert {c["table"] for c in model["costs"]} >= {"aws-lambda-http", "self-hosted"}
    json.dumps(doc, allow_nan=False)  # strict JSON
    with_boot = render_html(analyse(data, bootstrap=40))
    assert with_boot.count("95% interval") >= 2  # both USL peak cards show their width


def test_measured_backend_cpu_sizes_the_plan_and_stated_figures_override_it() -> None:
    data = synthetic_capacity_data(users=EARLY, seed=7)
    data.resources["redis_cpu_percent"] = data.resources["cpu_percent"] * 0.1
    plan = analyse(data, bootstrap=0).plan
    assert plan.redis_ops_per_node_s != 100_000.0  # measured, not the stated constant
    assert plan.pg_queries_per_node_s == 10_000.0  # PostgreSQL CPU not sampled: stated
    assert any("measured CPU per user" in a for a in plan.assumptions)
    stated = analyse(data, bootstrap=0, redis_ops_per_node_s=50_000.0).plan
    assert stated.redis_ops_per_node_s == 50_000.0


def test_report_takes_a_users_price_table(tmp_path: Path) -> None:
    data = synthetic_capacity_data(run_id="r-prices", users=EARLY, seed=6)
    save_run_data(data, reports_dir=tmp_path)
    own = tmp_path / "mine.toml"
    own.write_text('name = "self-hosted"\ntitle = "ours"\nmodel = "instances"\n'
                   'sources = ["https://example.test/contract"]\nchecked = "2026-11-30"\n'
                   '[prices]\ninstance_hour_usd = 1.0\nredis_node_hour_usd = 0.0\n'
                   'pg_node_hour_usd = 0.0\n')
    app = typer.Typer()
    # COMMANDS is inferred as list[function]; each is a typer-annotated command function
    for command in cast(list[Callable[..., Any]], COMMANDS):
        app.command(name=command.__name__.replace("_", "-"))(command)
    result = CliRunner().invoke(app, ["report", "r-prices", "--reports-dir", str(tmp_path),
                                      "--prices", str(own)])
    assert result.exit_code in (0, 1), result.output
    doc = json.loads((tmp_path / "r-prices" / "summary.json").read_text())
    costs = {c["table"]: c for c in doc["model"]["costs"]}
    assert costs["self-hosted"]["title"] == "ours"  # replaced the shipped table
    per_instance = doc["plan"]["users_per_instance"]
    assert costs["self-hosted"]["items"]["service instances"] == pytest.approx(
        1000 / per_instance * 720)
    own.write_text('name = "x"\nmodel = "instances"\n')
    bad = CliRunner().invoke(app, ["report", "r-prices", "--reports-dir", str(tmp_path),
                                   "--prices", str(own)])
    assert isinstance(bad.exception, UserError) and "lacks prices, sources" in str(bad.exception)
