"""A distributed ``pollcap capacity`` run over loopback: a Locust master, two workers.

The master is ``pollcap capacity --master --expect-workers 2`` (service with
``--workers 2``); the workers are plain ``locust --worker`` processes, started the way
a user starts them on other machines. The step cutting and the stopping rule work
from every worker's samples: each step holds polls of both workers, and their shares
add up to the run's counters in Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis

from loadtests.recording.keys import LIVE_POLLS_PREFIX, run_counters_key, run_live_key
from loadtests.swarm.locust_process import LOCUSTFILE, PROJECT_ROOT
from target_service.embedded.ports import free_port
from target_service.embedded.stack import StackInfo

TINY = ["--start-users", "6", "--step-users", "6", "--max-users", "12", "--hold", "8",
        "--channels", "2", "--sender-share", "0.5", "--send-rate-per-min", "60",
        "--service-cpus", "any", "--generator-cpus", "any"]
WORKERS = 2
RUN_TIMEOUT_S = 300.0


@contextmanager
def locust_workers(*, port: int, log_dir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``locust --worker`` processes connecting to a master on 127.0.0.1:port; stopped after."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    procs = []
    try:
        for i in range(WORKERS):
            with open(log_dir / f"worker-{i}.log", "wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
                     "--master-host", "127.0.0.1", "--master-port", str(port)],
                    stdout=out, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT))
        yield procs
    finally:
        for proc in procs:  # they quit when the master stops; bounded either way
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def metrics_url(stack: StackInfo) -> str:
    """The samples' Redis for these runs: database 1 of the session's Valkey (it outlives
    the run, so the test can read the counters back; the service keeps database 0)."""
    return stack.redis_url.rsplit("/", 1)[0] + "/1"


def _capacity(args: list[str], *, tmp_path: Path, stack: StackInfo) -> subprocess.Popen[str]:
    env = {**os.environ, "POLLCAP_REDIS_URL": stack.redis_url,
           "POLLCAP_DATABASE_URL": stack.database_url,
           "POLLCAP_METRICS_REDIS_URL": metrics_url(stack)}
    return subprocess.Popen(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", "capacity",
         "--reports-dir", str(tmp_path / "reports"), "--runs-dir", str(tmp_path / "runs"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


@pytest.mark.slow
def test_master_with_two_workers_cuts_steps_from_both(
    clean_backends: StackInfo, tmp_path: Path
) -> None:
    port = free_port()
    master = _capacity([*TINY, "--workers", "2", "--master", "--expect-workers", str(WORKERS),
                        "--master-bind-port", str(port), "--workers-wait", "90s"],
                       tmp_path=tmp_path, stack=clean_backends)
    try:
        with locust_workers(port=port, log_dir=tmp_path):
            out, err = master.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if master.poll() is None:
            master.kill()
            master.wait(timeout=10)
    assert master.returncode == 0, err[-3000:]
    assert "generator and service share" in err  # said at the start, on the console
    (folder,) = (tmp_path / "reports").iterdir()
    meta = json.loads((folder / "meta.json").read_text())
    steps = pd.read_csv(folder / "steps.csv")
    assert list(steps["users"]) == [6, 12]
    assert meta["service_workers"] == 2 and meta["locust_workers_elsewhere"] == WORKERS
    assert "2 uvicorn workers" in meta["setup"] and "2 workers started elsewhere" in meta["setup"]
    assert "2 uvicorn workers" in (folder / "report.html").read_text()
    assert "polls/s per Locust process at 12 users" in out

    shares = pd.DataFrame(meta["generator_steps"])
    assert shares["process"].nunique() == WORKERS
    for users, step in shares.groupby("users"):
        assert len(step) == WORKERS and (step["polls"] > 0).all(), step  # both in every step
        polls = float(steps.loc[steps["users"] == users, "polls"].iloc[0])
        # one probe reads the counters and the live shares a moment apart: a flush may fall
        # between the two reads, so a step's sum may differ by what one flush carries
        # (12 users polling every 2 s: 6 polls a second)
        assert polls > 0 and abs(step["polls"].sum() - polls) <= 8, (users, step, polls)
    _assert_counters_add_up(clean_backends, run_id=folder.name)


def _assert_counters_add_up(stack: StackInfo, *, run_id: str) -> None:
    """Over the whole run the workers' shares are exactly the run's polls counter."""
    client = redis.Redis.from_url(metrics_url(stack))
    try:
        live: Any = client.hgetall(run_live_key(run_id=run_id))
        polls = int(client.hget(run_counters_key(run_id=run_id), "polls") or 0)
    finally:
        client.close()
    shares = {k: int(v) for k, v in live.items() if k.startswith(LIVE_POLLS_PREFIX.encode())}
    assert len(shares) == WORKERS and min(shares.values()) > 0
    assert sum(shares.values()) == polls > 0
