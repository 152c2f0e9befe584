"""``pollcap transports`` for real: polling and WebSocket on a tiny workload, the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from target_service.embedded.stack import StackInfo

TINY = ["--transport", "websocket", "--start-users", "6", "--step-users", "6",
        "--plan-steps", "2", "--max-users", "12", "--hold", "4s", "--budget", "20s",
        "--channels", "1", "--sender-share", "0.5", "--send-rate-per-min", "30",
        "--service-cpus", "any", "--generator-cpus", "any"]


def _transports(args: list[str], *, tmp_path: Path, timeout_s: float = 300,
                stack: StackInfo | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if stack is not None:
        env.update(POLLCAP_REDIS_URL=stack.redis_url, POLLCAP_DATABASE_URL=stack.database_url)
    return subprocess.run(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", "transports",
         "--reports-dir", str(tmp_path / "reports"), "--runs-dir", str(tmp_path / "runs"),
         *args], capture_output=True, text=True, timeout=timeout_s, env=env, cwd=tmp_path)


def test_bad_transport_exits_2_with_one_line(tmp_path: Path) -> None:
    result = _transports(["--transport", "pigeon"], tmp_path=tmp_path, timeout_s=60)
    assert result.returncode == 2 and "unknown pigeon" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_a_tiny_run_measures_both_transports_and_writes_the_breakeven(
    clean_backends: StackInfo, tmp_path: Path
) -> None:
    result = _transports(TINY, tmp_path=tmp_path, stack=clean_backends)
    assert result.returncode == 0, result.stderr[-3000:]
    (out,) = (tmp_path / "reports").glob("transports-*")
    doc = json.loads((out / "transports.json").read_text())
    by = {t["transport"]: t for t in doc["transports"]}
    assert set(by) == {"polling", "websocket"}
    for t in by.values():
        assert t["steps"] >= 2 and Path(t["report"]).exists()
        assert t["requests_per_user_s"] > 0 and t["deliveries_per_user_min"] > 0
    # polling makes requests every 2 s; WebSocket users hold one connection instead
    assert by["polling"]["requests_per_user_s"] > by["websocket"]["requests_per_user_s"]
    assert doc["breakeven"]["words"]
    assert "break-even chart" in (out / "transports.html").read_text()
