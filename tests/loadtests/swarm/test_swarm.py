"""Short real swarms: the reference service on the session's Valkey + PostgreSQL.

One multi-process swarm checks samples, counters, the run folder and that both
Locust processes reported; one swarm against a deliberately lossy server checks
that gaps and repeats are caught end to end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from loadtests.bench.stub_server import run_bench_target
from loadtests.recording.keys import run_live_key, samples_key
from loadtests.swarm.run import ScenarioParams, run_swarm
from target_service.embedded.stack import StackInfo
from target_service.errors import UserError
from target_service.serve import ServiceHandle, free_port, run_service

MEMBER = {
    "poll": re.compile(r"[^:]+:\d+:-?\d+\.\d{3}:[A-Za-z0-9_-]+"),
    "message": re.compile(r"[^:]+:\d+:-?\d+\.\d{3}:[A-Za-z0-9_-]+:\d+"),
    "notification": re.compile(r"[^:]+:\d+:-?\d+\.\d{3}"),
}
BUSY = ScenarioParams(
    channels=3, sender_share=0.3, send_rate_per_min=30.0, notification_rate_per_s=2.0
)


@pytest.fixture
def service(clean_backends: StackInfo) -> Iterator[ServiceHandle]:
    with run_service(
        redis_url=clean_backends.redis_url, database_url=clean_backends.database_url
    ) as handle:
        yield handle


@pytest.mark.slow
def test_two_process_swarm_records_everything(
    clean_backends: StackInfo, service: ServiceHandle, tmp_path: Path
) -> None:
    result = run_swarm(
        host=service.url,
        redis_url=clean_backends.redis_url,
        users=30,
        spawn_rate=15,
        duration_s=15,
        processes=2,
        runs_dir=tmp_path,
        scenario=BUSY,
    )
    s = result.summary
    assert result.returncode == 0
    assert (s["lost"], s["duplicated"], s["reordered"], s["errors"]) == (0, 0, 0, 0)
    assert s["messages_sent"] > 0 and s["messages_delivered"] > s["messages_sent"]
    assert s["notifications_created"] > 0 and s["notifications_delivered"] > 0
    assert s["samples"]["message"] == s["messages_delivered"]
    assert s["samples"]["notification"] == s["notifications_delivered"]
    assert s["samples"]["poll"] >= s["polls"] > 0
    assert s["poll_rps"] > 0 and s["delivery_latency_ms"]["p50"] is not None

    client = redis.Redis.from_url(clean_backends.redis_url)
    try:
        for kind, pattern in MEMBER.items():
            members: Any = client.zrange(samples_key(run_id=result.run_id, sample_type=kind), 0, -1)
            assert members and all(pattern.fullmatch(m.decode()) for m in members), kind
        live: Any = client.hgetall(run_live_key(run_id=result.run_id))
    finally:
        client.close()
    per_process = [int(v) for k, v in live.items() if k.startswith(b"samples:")]
    assert len(per_process) == 2 and min(per_process) > 0  # both processes reported

    files = {p.name for p in result.run_dir.iterdir()}
    assert {
        "meta.json",
        "counters.json",
        "summary.json",
        "locust_stats.csv",
        "locust_stats_history.csv",
        "locust_failures.csv",
    } <= files
    assert json.loads((result.run_dir / "summary.json").read_text()) == s
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert meta["stages"][0]["users"] == 30 and meta["ended_at_ms"] > meta["started_at_ms"]
    assert "admin_token" not in meta["scenario"]
    assert "DELIVERY,message" in (result.run_dir / "locust_stats.csv").read_text()


@pytest.mark.slow
def test_lossy_server_is_caught(
    clean_backends: StackInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every 4th seq never served (lost), every 5th served twice (duplicated).

    Also run from another directory with a relative runs dir: the CSVs must land
    beside the summary, not under the project (Locust's own cwd).
    """
    monkeypatch.chdir(tmp_path)
    one_channel = ScenarioParams(
        channels=1, sender_share=1.0, send_rate_per_min=60.0, notification_rate_per_s=0.0
    )
    with run_bench_target(port=free_port(), gap_every=4, repeat_every=5) as url:
        result = run_swarm(
            host=url,
            redis_url=clean_backends.redis_url,
            users=8,
            spawn_rate=8,
            duration_s=10,
            runs_dir=Path("runs"),
            scenario=one_channel,
        )
    s = result.summary
    assert result.run_dir == tmp_path / "runs" / result.run_id
    assert (result.run_dir / "locust_stats_history.csv").exists() and s["requests"] > 0
    assert s["messages_sent"] >= 20
    assert s["lost"] > 0 and s["duplicated"] > 0
    assert s["lost"] >= s["duplicated"]  # floor(H/4) vs floor(H/5) - floor(H/20)


def test_bad_parameters_are_user_errors(tmp_path: Path) -> None:
    common = dict(
        redis_url="redis://127.0.0.1:1/0", spawn_rate=1.0, duration_s=5, runs_dir=tmp_path
    )
    with pytest.raises(UserError, match="loopback"):
        run_swarm(host="http://example.com", users=1, **common)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="users"):
        run_swarm(host="http://127.0.0.1:9", users=0, **common)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="client-policy"):
        run_swarm(host="http://127.0.0.1:9", users=1, client_policy="fastest", **common)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="shape"):
        run_swarm(host="http://127.0.0.1:9", users=1, shape="zigzag", **common)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="Redis"):
        run_swarm(host="http://127.0.0.1:9", users=1, **common)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())  # nothing half-written for a refused run


@pytest.mark.slow
def test_hidden_and_offline_spells_catch_up_without_loss(
    clean_backends: StackInfo, tmp_path: Path
) -> None:
    """Tabs away for seconds come back to more than a page of news and page through it."""
    restless = ScenarioParams(
        channels=1,
        sender_share=0.5,
        send_rate_per_min=120.0,
        notification_rate_per_s=0.0,
        hidden_share=0.3,
        hidden_mean_s=3.0,
        offline_share=0.2,
        offline_mean_s=3.0,
        page_limit=3,
    )
    with run_bench_target(port=free_port()) as url:
        result = run_swarm(
            host=url,
            redis_url=clean_backends.redis_url,
            users=12,
            spawn_rate=12,
            duration_s=12,
            runs_dir=tmp_path,
            scenario=restless,
        )
    s = result.summary
    assert s["messages_sent"] >= 12  # news for several 3-message pages (~80 when start-up is quick)
    assert (s["lost"], s["duplicated"], s["errors"]) == (0, 0, 0)
    assert s["samples"]["poll"] > s["polls"]  # catch-up pages beyond the scheduled polls
    assert s["delivery_latency_ms"]["max"] > 2500  # some deliveries waited out a spell


@pytest.mark.slow
def test_step_shape_is_played_by_locust(clean_backends: StackInfo, tmp_path: Path) -> None:
    import pandas as pd

    with run_bench_target(port=free_port()) as url:
        result = run_swarm(
            host=url,
            redis_url=clean_backends.redis_url,
            users=12,
            spawn_rate=20,
            duration_s=30,
            shape="step:start=4,step=4,hold=4s,max=12",
            runs_dir=tmp_path,
            scenario=ScenarioParams(channels=2),
        )
    assert [s.users for s in result.stages] == [4, 8, 12]
    assert result.summary["duration_s"] == 12.0  # the table, not --duration, sets the length
    history = pd.read_csv(result.run_dir / "locust_stats_history.csv")
    seen = history[history["Name"] == "Aggregated"]["User Count"].tolist()
    plateaus = [n for i, n in enumerate(seen) if n and (i == 0 or n != seen[i - 1])]
    assert plateaus == [4, 8, 12]
    meta = json.loads((result.run_dir / "meta.json").read_text())
    assert [s["users"] for s in meta["stages"]] == [4, 8, 12]
    windows = meta["stage_windows"]
    assert meta["started_at_ms"] < meta["test_started_at_ms"] == windows[0]["start_ms"]
    assert windows[-1]["end_ms"] - windows[0]["start_ms"] == 12_000
    assert meta["test_started_at_ms"] + 12_000 <= meta["ended_at_ms"]


def _post_history(url: str, channel: str, count: int) -> None:
    import httpx

    with httpx.Client(base_url=url) as http:
        token = http.post("/api/users", json={"name": "history"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        for i in range(count):
            assert (
                http.post(
                    f"/api/chat/{channel}/messages", json={"content": f"m{i}"}, headers=auth
                ).status_code
                == 201
            )


@pytest.mark.slow
def test_joining_a_channel_with_history_is_not_loss(
    clean_backends: StackInfo, service: ServiceHandle, tmp_path: Path
) -> None:
    """A tab opens on the newest page; the history before it is not counted as lost."""
    run_id = "history-join"
    _post_history(service.url, f"r{run_id.replace('-', '')}-c0", 120)  # > one page of 50
    result = run_swarm(
        host=service.url,
        redis_url=clean_backends.redis_url,
        users=8,
        spawn_rate=8,
        duration_s=8,
        runs_dir=tmp_path,
        run_id=run_id,
        scenario=ScenarioParams(channels=1, sender_share=0.5, send_rate_per_min=30.0),
    )
    s = result.summary
    assert s["messages_delivered"] > 0
    assert (s["lost"], s["duplicated"]) == (0, 0)


@pytest.mark.slow
def test_each_tab_holds_one_connection(clean_backends: StackInfo, tmp_path: Path) -> None:
    """Sign-up, polls, sends and mark-read share one socket: users connections, not twice."""
    import threading

    import psutil

    users = 20
    peak: list[int] = [0]
    stop = threading.Event()
    busy = ScenarioParams(sender_share=1.0, send_rate_per_min=60.0, notification_rate_per_s=5.0)

    with run_bench_target(port=free_port()) as url:
        port = int(url.rsplit(":", 1)[1])

        def watch(pid: int) -> None:
            def count() -> None:
                while not stop.wait(0.5):
                    try:
                        tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
                        held = sum(
                            1
                            for proc in tree
                            for c in proc.net_connections(kind="tcp")
                            if c.raddr and c.raddr.port == port and c.status == "ESTABLISHED"
                        )
                    except psutil.Error:
                        return
                    peak[0] = max(peak[0], held)

            threading.Thread(target=count, daemon=True).start()

        try:
            result = run_swarm(
                host=url,
                redis_url=clean_backends.redis_url,
                users=users,
                spawn_rate=users,
                duration_s=8,
                runs_dir=tmp_path,
                scenario=busy,
                on_start=watch,
            )
        finally:
            stop.set()
    assert result.summary["messages_sent"] > 0 and result.summary["errors"] == 0
    assert users - 2 <= peak[0] <= users  # 19 tabs + the producer, each one socket
