"""pollcap pointed at a service it did not write (the offset-chat example), end to end.

Real processes throughout: the example under uvicorn, Locust through ``pollcap swarm``
and ``pollcap capacity``, samples in the session's Valkey. The example has no ``seq``
and untrusted times, so every figure here comes from the marker path: loss from the
senders' ledger, duplicates by marker, delivery latency from the markers' send time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from target_service.embedded.stack import StackInfo
from tests.loadtests.targets.conftest import ExampleService

EXAMPLE = str(Path("loadtests/targets/examples/offset_chat.toml").resolve())
SWARM = ["--users", "12", "--spawn-rate", "12", "--duration", "14s", "--channels", "2",
         "--sender-share", "0.5", "--send-rate-per-min", "30", "--json"]


def pollcap(args: list[str], *, stack: StackInfo, cwd: Path,
            timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLLCAP_REDIS_URL": stack.redis_url,
           "POLLCAP_DATABASE_URL": stack.database_url}
    return subprocess.run([sys.executable, "-c", "from analysis.cli.app import main; main()",
                           *args], capture_output=True, text=True, timeout=timeout_s, env=env,
                          cwd=cwd)


@pytest.mark.slow
def test_a_short_swarm_loses_nothing_and_measures_the_service_by_pid(
    example_service: ExampleService, clean_backends: StackInfo, tmp_path: Path
) -> None:
    done = pollcap(["swarm", "--target", EXAMPLE, "--host", example_service.url, *SWARM,
                    "--service-pid", str(example_service.pid), "--runs-dir", str(tmp_path)],
                   stack=clean_backends, cwd=Path.cwd())
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["messages_sent"] > 0 and summary["messages_delivered"] > 0
    assert (summary["lost"], summary["duplicated"], summary["errors"]) == (0, 0, 0)
    delivery = summary["delivery_latency_ms"]
    assert 0 < delivery["p50"] < 2000 + 500  # one 2 s interval plus the request
    assert summary["service"]["measured"] and summary["service"]["rss_mb_peak"] > 0


@pytest.mark.slow
def test_a_lost_acknowledged_message_is_caught_on_the_marker_path(
    lossy_example_host: str, clean_backends: StackInfo, tmp_path: Path
) -> None:
    """The lossy example acknowledges every 4th message and never stores it."""
    done = pollcap(["swarm", "--target", EXAMPLE, "--host", lossy_example_host, *SWARM,
                    "--runs-dir", str(tmp_path)], stack=clean_backends, cwd=Path.cwd())
    assert done.returncode == 1, done.stderr[-2000:]  # the integrity exit code
    summary = json.loads(done.stdout)
    assert summary["messages_sent"] >= 4 and summary["lost"] > 0 and summary["duplicated"] == 0
    assert "not measured" in summary["service"]["why"]


@pytest.mark.slow
def test_a_tiny_capacity_run_reports_on_the_example(
    example_service: ExampleService, clean_backends: StackInfo, tmp_path: Path
) -> None:
    done = pollcap(["capacity", "--target", EXAMPLE, "--host", example_service.url,
                    "--service-pid", str(example_service.pid), "--start-users", "6",
                    "--step-users", "6", "--max-users", "12", "--hold", "6", "--channels", "1",
                    "--sender-share", "0.5", "--send-rate-per-min", "60", "--service-cpus",
                    "any", "--generator-cpus", "any", "--reports-dir", str(tmp_path / "reports"),
                    "--runs-dir", str(tmp_path / "runs")], stack=clean_backends, cwd=Path.cwd(),
                   timeout_s=240)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    (folder,) = (tmp_path / "reports").iterdir()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["target"] == EXAMPLE and meta["swarm_summary"]["lost"] == 0
    assert meta["swarm_summary"]["messages_delivered"] > 0
    assert f"PID {example_service.pid} measured" in meta["setup"]
    assert (folder / "report.html").is_file()
