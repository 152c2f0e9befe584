"""Unit costs and the break-even report from analysed runs (synthetic data, no swarm)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.model.pricing import default_tables
from analysis.report.render import analyse
from analysis.synthetic import synthetic_capacity_data
from analysis.transports.report import write_transports_report
from analysis.transports.run import TransportRun, check_transports
from analysis.transports.units import transport_units
from target_service.errors import UserError


def _run(transport: str, *, seed: int, tmp_path: Path) -> TransportRun:
    data = synthetic_capacity_data(users=(200, 600, 1000, 1400, 1800), seed=seed)
    tables = default_tables()
    units = transport_units(analyse(data, bootstrap=0, price_tables=tables),
                            transport=transport, tables=tables)
    return TransportRun(transport=transport, run_id=data.run_id, stop_reason="test",
                        units=units, report_dir=tmp_path / transport)


def test_units_are_marginal_slopes_and_only_applicable_tables(tmp_path: Path) -> None:
    poll = _run("polling", seed=1, tmp_path=tmp_path).units
    ws = _run("websocket", seed=1, tmp_path=tmp_path).units
    assert poll.cores_per_user is not None and poll.cores_per_user > 0
    # the synthetic RSS is 80 MB + 20 KB per user: the slope is the per-user part
    assert poll.rss_bytes_per_user == pytest.approx(20e3, rel=0.1)
    names = {t.name: t.model for t in default_tables()}
    assert {names[n] for n in poll.costs} == {"lambda_http", "instances"}
    assert {names[n] for n in ws.costs} == {"apigw_websocket", "durable_objects", "instances"}
    assert poll.users_per_core is not None and poll.capacity_status in (
        "interpolated", "never_exceeded")


def test_the_report_writes_json_html_and_the_words(tmp_path: Path) -> None:
    runs = [_run(t, seed=i, tmp_path=tmp_path) for i, t in enumerate(("polling", "websocket"))]
    json_path, html_path = write_transports_report(
        runs, out_dir=tmp_path / "out", interval_s=2.0, tables=default_tables(),
        sends_per_user_s=0.01, workload={"channels": 200})
    doc = json.loads(json_path.read_text())
    assert [t["transport"] for t in doc["transports"]] == ["polling", "websocket"]
    bases = {c["basis"].split(",")[0] for c in doc["breakeven"]["curves"]}
    assert bases == {"CPU", "USD"}
    assert any("polling every" in w for w in doc["breakeven"]["words"])
    page = html_path.read_text()
    assert "data:image/png;base64," in page and "Where polling stays the better choice" in page


def test_transport_names_are_checked() -> None:
    assert check_transports(["websocket"]) == ("polling", "websocket")
    with pytest.raises(UserError, match="unknown carrier-pigeon"):
        check_transports(["carrier-pigeon"])
    with pytest.raises(UserError, match="push transport"):
        check_transports(["polling"])
