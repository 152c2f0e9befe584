"""``pollcap bench-push``: bad input, and the hold and long-poll parts on a tiny scale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.cli.app import main
from target_service.embedded.stack import StackInfo


def bench_push(args: list[str], *, tmp_path: Path, stack: StackInfo | None = None,
               timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if stack is not None:
        env.update(POLLCAP_REDIS_URL=stack.redis_url, POLLCAP_DATABASE_URL=stack.database_url)
    return subprocess.run(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", "bench-push",
         "--runs-dir", str(tmp_path / "runs"), *args],
        capture_output=True, text=True, timeout=timeout_s, env=env, cwd=tmp_path)


@pytest.mark.parametrize("args, message", [
    (["--parts", "latency,telepathy"], "--parts takes a comma list of latency, resume"),
    (["--transports", "carrier-pigeon"], "--transports takes a comma list of websocket"),
    (["--duration", "2s"], "--duration must be at least 10 s"),
    (["--service-cpus", "zero"], "--service-cpus takes core numbers"),
])
def test_bad_input_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    args: list[str], message: str,
) -> None:
    """In-process (``main`` as the console script runs it): refused before anything starts."""
    monkeypatch.setattr(sys, "argv", ["pollcap", "bench-push", "--runs-dir",
                                      str(tmp_path / "runs"), *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    stderr = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in stderr and stderr.count("\n") == 1
    assert "Traceback" not in stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_hold_and_longpoll_parts_measure_what_they_hold(
    clean_backends: StackInfo, tmp_path: Path
) -> None:
    result = bench_push(["--parts", "hold,longpoll", "--connections", "60", "--listen", "5s",
                         "--polls", "40", "--service-cpus", "any", "--json"],
                        tmp_path=tmp_path, stack=clean_backends)
    assert result.returncode == 1, result.stderr[-2000:]  # 60 is far from 10,000: missed
    doc = json.loads(result.stdout)
    hold, longpoll = doc["hold"], doc["longpoll"]
    assert hold["held"] == 61  # the service's own count: 60 + the warm-up connection
    assert hold["delivered"] == hold["expected_deliveries"] > 0
    assert hold["p95_ms"] is not None and len(hold["rss_points"]) == 6
    assert longpoll["held"] == 40 and longpoll["woken_with_message"] == 40
    rows = {r["name"]: r for r in doc["targets"]}
    assert rows["WebSockets held by one service worker"]["ratio"] == round(61 / 10_000, 3)
    assert rows["long-polls held by one service worker"]["ok"] is False
    assert doc["nofile"]["soft"] == doc["nofile"]["hard"]
