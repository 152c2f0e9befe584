"""The metrics Valkey of the embedded stack, and servers started again after a fault."""

from __future__ import annotations

import signal
from pathlib import Path

import redis

from target_service.embedded import procs, relaunch
from target_service.embedded.stack import Stack


def test_metrics_redis_is_a_second_server(tmp_path: Path) -> None:
    stack = Stack(run_dir=tmp_path / "run", environ={}, metrics_redis=True)
    info = stack.start()
    try:
        assert info.metrics_redis_url is not None and info.metrics_redis_pid is not None
        assert info.metrics_redis_url != info.redis_url
        assert info.samples_redis_url == info.metrics_redis_url
        service = redis.Redis.from_url(info.redis_url)
        metrics = redis.Redis.from_url(info.metrics_redis_url)
        metrics.set("sample", "1")
        assert service.get("sample") is None  # apart: nothing written to one shows in the other
        record = procs.read_pids(tmp_path / "run")
        assert record is not None and info.metrics_redis_pid in {p for p, _ in record[1]}
    finally:
        stack.stop()
    assert not procs.pid_is(info.metrics_redis_pid, "valkey")


def test_metrics_redis_url_given_launches_no_third_server(tmp_path: Path) -> None:
    with Stack(run_dir=tmp_path / "a", environ={}) as first:
        stack = Stack(run_dir=tmp_path / "b", environ={}, metrics_redis_url=first.redis_url)
        info = stack.start()
        try:
            assert info.metrics_redis_url == first.redis_url and info.metrics_redis_pid is None
        finally:
            stack.stop()


def test_killed_servers_come_back_on_their_ports(tmp_path: Path) -> None:
    stack = Stack(run_dir=tmp_path / "run", environ={})
    info = stack.start()
    try:
        client = redis.Redis.from_url(info.redis_url)
        client.set("k", "v")
        valkey = stack.servers["redis"]
        relaunch.kill_all(valkey)
        stack.replace_server("redis", relaunch.relaunch(valkey))
        assert client.get("k") is None  # back empty, same URL
        postgres = stack.servers["postgres"]
        assert len(relaunch.server_processes(postgres)) > 1  # postmaster + its children
        assert relaunch.signal_all(postgres, signal.SIGSTOP) > 1
        relaunch.signal_all(postgres, signal.SIGCONT)
        relaunch.kill_all(postgres)
        again = relaunch.relaunch(postgres)  # crash recovery on the same data folder
        stack.replace_server("postgres", again)
        record = procs.read_pids(tmp_path / "run")
        assert record is not None and again.pid in {p for p, _ in record[1]}
    finally:
        stack.stop()
