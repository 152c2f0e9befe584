"""The embedded stack's lifecycle: start, use, stop, leftovers, external URLs, bad input."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from target_service.embedded import binaries
from target_service.embedded.children import PIDS_FILE, pid_is, read_pids
from target_service.embedded.ports import free_port
from target_service.embedded.readiness import wait_ready
from target_service.embedded.stack import Stack, StackInfo, reap_leftovers
from target_service.embedded.valkey import start_valkey
from target_service.errors import UserError


def _server_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            for kind in ("valkey", "postgres"):
                if pid_is(int(entry.name), kind):
                    pids.add(int(entry.name))
    return pids


def _recorded_pids(stacks_dir: Path) -> set[int]:
    """Server PIDs recorded by stacks under ``stacks_dir`` (other suites' servers excluded)."""
    found: set[int] = set()
    for run_dir in stacks_dir.iterdir():
        record = read_pids(run_dir)
        if record:
            found |= {pid for pid, _ in record[1]}
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if pid_is(pid, "valkey") or pid_is(pid, "postgres")}


async def _pg_roundtrip(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TEMP TABLE t (x int); INSERT INTO t VALUES (41)")
        return int(await conn.fetchval("SELECT x + 1 FROM t"))
    finally:
        await conn.close()


def test_start_use_stop_leaves_nothing(tmp_path: Path) -> None:
    stack = Stack(run_dir=tmp_path / "run", environ={})
    info = stack.start()
    try:
        assert info.run_dir is not None and info.run_dir.is_dir()
        assert {info.redis_pid, info.postgres_pid} <= _server_pids()
        client = redis.Redis.from_url(info.redis_url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
        assert asyncio.run(_pg_roundtrip(info.database_url)) == 42
        assert read_pids(info.run_dir) is not None
    finally:
        stack.stop()
    assert not _alive({info.redis_pid or 0, info.postgres_pid or 0})
    assert not (tmp_path / "run").exists()


def test_external_urls_launch_nothing(stack: StackInfo) -> None:
    with Stack(redis_url=stack.redis_url, database_url=stack.database_url, environ={}) as info:
        assert info.run_dir is None and info.redis_pid is None and info.postgres_pid is None
        assert info.redis_url == stack.redis_url


def test_environment_urls_are_used(stack: StackInfo) -> None:
    env = {"POLLCAP_REDIS_URL": stack.redis_url, "POLLCAP_DATABASE_URL": stack.database_url}
    with Stack(environ=env) as info:
        assert info.run_dir is None and info.database_url == stack.database_url


def test_leftovers_of_a_dead_owner_are_stopped(tmp_path: Path) -> None:
    stacks_dir = tmp_path / "stacks"
    run_dir = stacks_dir / "stack-crashed"
    run_dir.mkdir(parents=True)
    launched = start_valkey(run_dir=run_dir, port=None)
    wait_ready(launched, deadline=time.monotonic() + 10)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run_dir / PIDS_FILE).write_text(
        f'{{"owner": {dead.pid}, "children": [[{launched.pid}, "valkey"]]}}'
    )
    killed = reap_leftovers(stacks_dir)
    launched.popen.wait(timeout=5)
    assert killed == [launched.pid]
    assert not run_dir.exists()


def test_leftovers_of_a_live_owner_are_kept(tmp_path: Path) -> None:
    run_dir = tmp_path / "stacks" / "stack-live"
    run_dir.mkdir(parents=True)
    (run_dir / PIDS_FILE).write_text(f'{{"owner": {os.getpid()}, "children": []}}')
    assert reap_leftovers(tmp_path / "stacks") == []
    assert run_dir.exists()


def _stack_up(stacks_dir: Path) -> tuple[subprocess.Popen[bytes], str, set[int]]:
    """``pollcap stack up`` in a child with its own stacks folder: (child, redis URL, PIDs)."""
    env = dict(os.environ, POLLCAP_STACKS_DIR=str(stacks_dir))
    env.pop("POLLCAP_REDIS_URL", None)
    env.pop("POLLCAP_DATABASE_URL", None)
    child = subprocess.Popen(
        [sys.executable, "-c", "from analysis.cli.app import main; main()", "stack", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert child.stdout is not None
    redis_line = child.stdout.readline().decode()
    assert redis_line.startswith("redis: redis://127.0.0.1:")
    child.stdout.readline()
    started = _alive(_recorded_pids(stacks_dir))
    assert len(started) == 2
    return child, redis_line.split(" ", 1)[1].strip(), started


def test_sigkilled_parent_leaves_no_servers(tmp_path: Path) -> None:
    child, _, started = _stack_up(tmp_path / "stacks")
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 5
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.05)
    # the parent-death signal stops them; the next start's reaping is the second line of defence
    reap_leftovers(tmp_path / "stacks")
    assert not _alive(started)
    assert not any((tmp_path / "stacks").iterdir())


def test_ctrl_c_stops_stack_up(tmp_path: Path) -> None:
    child, redis_url, started = _stack_up(tmp_path / "stacks")
    client = redis.Redis.from_url(redis_url)
    assert client.ping()
    client.close()
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=30) == 0
    assert not _alive(started)
    assert not any((tmp_path / "stacks").iterdir())


def test_unreachable_redis_url_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not answer"):
        Stack(
            run_dir=tmp_path / "r", redis_url=f"redis://127.0.0.1:{free_port()}/0", environ={}
        ).start()
    assert not (tmp_path / "r").exists()  # nothing was launched


def test_port_in_use_is_a_user_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} .* in use"):
            Stack(run_dir=tmp_path / "r", redis_port=port, environ={}).start()
    assert not (tmp_path / "r").exists()


def test_unwritable_run_folder_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="cannot use run folder"):
        Stack(run_dir=blocker / "run", environ={}).start()


def test_missing_binary_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binaries, "_package_dir", lambda name: tmp_path)
    with pytest.raises(UserError, match="missing or not executable"):
        Stack(run_dir=tmp_path / "r", environ={}).start()
    assert not (tmp_path / "r").exists()


def test_cli_bad_url_exits_2_with_one_line() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from analysis.cli.app import main; main()",
            "stack",
            "up",
            "--redis-url",
            f"redis://127.0.0.1:{free_port()}/0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "does not answer" in result.stderr
    assert "Traceback" not in result.stderr


def test_stack_bench_reports_timings_and_no_leftovers() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from analysis.cli.app import main; main()",
            "stack",
            "bench",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "servers left running: 0" in result.stdout
    assert result.returncode in (0, 1)  # 1 only when this busy machine misses a timing target
