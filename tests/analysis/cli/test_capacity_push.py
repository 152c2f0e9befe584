"""``pollcap capacity --realtime``: push figures per step in the report (tiny real run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from target_service.embedded.stack import StackInfo
from tests.analysis.cli.test_capacity import TINY, _capacity


def test_an_unknown_transport_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _capacity(["--realtime", "pigeon"], tmp_path=tmp_path, timeout_s=60)
    assert result.returncode == 2
    assert "--realtime must be one of polling, long-poll, sse, websocket" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def _run(clean_backends: StackInfo, tmp_path: Path, transport: str
         ) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = _capacity([*TINY, "--realtime", transport], tmp_path=tmp_path,
                       stack=clean_backends)
    assert result.returncode == 0, result.stderr[-2000:]
    (folder,) = (tmp_path / "reports").iterdir()
    return result, json.loads((folder / "summary.json").read_text())


@pytest.mark.slow
def test_websocket_run_reports_connections_memory_and_cpu_per_step(
    clean_backends: StackInfo, tmp_path: Path
) -> None:
    result, summary = _run(clean_backends, tmp_path, "websocket")
    push = summary["push"]
    assert push["transport"] == "websocket" and summary["inputs"]["realtime"] == "websocket"
    steps = push["steps"]
    assert [s["users"] for s in steps] == [6, 12]
    for step in steps:  # one WebSocket per tab, as the service itself counts them
        assert abs(step["connections"] - step["users"]) <= 1
        assert step["rss_mib"] > 10
        assert step["delivered_per_s"] > 0 and step["cpu_ms_per_message"] > 0
        assert step["cpu_us_per_connection_s"] > 0
        assert step["fanout_lag_ms"] >= 0
    assert push["rss_kib_per_connection"] is not None
    assert len(push["causes"]) == 2 and push["summary"].startswith("Push:")
    assert all(s["lost"] == 0 and s["duplicated"] == 0 for s in summary["steps"])
    assert "push (websocket)" in result.stdout
    html = (tmp_path / "reports" / summary["run_id"] / "report.html").read_text()
    assert "Push (websocket): connections, memory and CPU per step" in html

    # the push columns live in resources.csv: `pollcap report` rebuilds the same figures
    rebuilt = subprocess.run(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", "report",
         summary["run_id"], "--reports-dir", str(tmp_path / "reports")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    again = json.loads((tmp_path / "reports" / summary["run_id"] / "summary.json").read_text())
    assert again["push"]["steps"] == push["steps"]
