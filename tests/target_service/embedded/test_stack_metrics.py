"""The metrics Valkey of the embedded stack, and servers started again after a fault."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import redis

from target_service.embedded import children
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
        record = children.read_pids(tmp_path / "run")
        assert record is not None and info.metrics_redis_pid in {p for p, _ in record[1]}
    finally:
        stack.stop()
    assert not children.pid_is(info.metrics_redis_pid, "valkey")


def test_metrics_redis_url_given_launches_no_third_server(tmp_path: Path) -> None:
    with Stack(run_dir=tmp_path / "a", environ={}) as first:
        stack = Stack(run_dir=tmp_path / "b", environ={}, metrics_redis_url=first.redis_url)
        info = stack.start()
        try:
            assert info.metrics_redis_url == first.redis_url and info.metrics_redis_pid is None
        finally:
            stack.stop()


def test_faults_touch_the_service_servers_only_and_they_come_back(tmp_path: Path) -> None:
    stack = Stack(run_dir=tmp_path / "run", environ={}, metrics_redis=True)
    info = stack.start()
    try:
        assert info.metrics_redis_url is not None
        client = redis.Redis.from_url(info.redis_url)
        metrics = redis.Redis.from_url(info.metrics_redis_url)
        client.set("k", "v")
        metrics.set("sample", "1")
        assert stack.launched("valkey").url == info.redis_url  # not the metrics Valkey
        stack.stop_server("valkey", kill=True)
        again = stack.start_server("valkey")
        assert again.redis_pid != info.redis_pid
        assert client.get("k") is None  # back empty, same URL
        assert metrics.get("sample") == b"1"  # the measurement never noticed
        postgres = stack.launched("postgres")
        family = [psutil.Process(postgres.pid), *psutil.Process(postgres.pid).children(True)]
        assert len(family) > 1  # the postmaster and its children
        stack.pause("postgres")
        deadline = time.monotonic() + 5  # SIGSTOP is delivered asynchronously
        while time.monotonic() < deadline and not _all_stopped(family):
            time.sleep(0.05)
        assert _all_stopped(family)
        stack.resume("postgres")
        stack.stop_server("postgres", kill=True)
        restarted = stack.start_server("postgres")  # crash recovery on the same data folder
        record = children.read_pids(tmp_path / "run")
        assert record is not None and restarted.postgres_pid in {p for p, _ in record[1]}
        stack.restart("postgres")  # fast shutdown, start on the same data
    finally:
        stack.stop()


def _all_stopped(family: list[psutil.Process]) -> bool:
    alive = [p for p in family if p.is_running()]
    return bool(alive) and all(p.status() == psutil.STATUS_STOPPED for p in alive)
