"""``pollcap serve`` end to end, and ``pollcap bench-service`` on a tiny budget."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from analysis.cli.service import COMMANDS, serve
from target_service.bench.run import bench_service
from target_service.bench.table import format_result
from target_service.embedded.stack import StackInfo
from target_service.errors import UserError


def test_commands_have_help_lines() -> None:
    assert [c.__name__ for c in COMMANDS] == ["serve", "bench_service"]
    for command in COMMANDS:
        assert command.__doc__ and command.__doc__.splitlines()[0].strip()


def test_serve_rejects_a_bad_cache_mode() -> None:
    with pytest.raises(UserError, match="--cache"):
        serve(cache="stale")


def test_serve_prints_a_working_url_and_stops_on_ctrl_c(clean_backends: StackInfo) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", "serve", "--port", "0",
         "--redis-url", clean_backends.redis_url, "--database-url", clean_backends.database_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("pollcap service: http://127.0.0.1:"), line
        url = line.split()[2]
        children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        req = urllib.request.Request(f"{url}/api/users", data=b'{"name": "ann"}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 201 and json.loads(resp.read())["token"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()  # type: ignore[union-attr]
    time.sleep(0.2)
    for pid in children:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_bench_measures_all_scenarios(clean_backends: StackInfo) -> None:
    result = bench_service(duration_s=1, rounds=1, connections=4,
                           redis_url=clean_backends.redis_url,
                           database_url=clean_backends.database_url)
    figures = result.rounds[0]
    assert set(figures) == {"ping", "poll_empty", "poll_20", "post"}
    for name, run in figures.items():
        assert run["rps"] > 0, name
        assert set(run["statuses"]) <= {"200", "201"}, (name, run["statuses"])
        assert run["cpu_us_per_request"] > 0
    table = format_result(result)
    assert "poll_empty" in table and "x ping" in table
    assert set(result.verdicts()) == {"poll_empty", "poll_20", "post"}
