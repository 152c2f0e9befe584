"""run_service: real uvicorn in a subprocess, healthy on return, nothing left after."""

from __future__ import annotations

import json
import socket
import urllib.request
from typing import TypedDict

import psutil
import pytest

from target_service.embedded.stack import StackInfo
from target_service.errors import UserError
from target_service.serve import run_service


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_run_service_serves_then_leaves_no_process(clean_backends: StackInfo) -> None:
    with run_service(redis_url=clean_backends.redis_url, database_url=clean_backends.database_url,
                     workers=2, policy="seed-optimal", cache_mode="seed") as service:
        assert get_json(f"{service.url}/healthz")["status"] == "ok"
        pids = service.pids
        assert len(pids) >= 3  # master + two workers
        assert len(service.worker_pids) == 2
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_cpu_affinity_is_applied(clean_backends: StackInfo) -> None:
    with run_service(redis_url=clean_backends.redis_url, database_url=clean_backends.database_url,
                     cpu_affinity=[0]) as service:
        assert psutil.Process(service.pid).cpu_affinity() == [0]


class BackendUrls(TypedDict):
    redis_url: str
    database_url: str


def test_user_mistakes_are_user_errors(clean_backends: StackInfo) -> None:
    urls = BackendUrls(redis_url=clean_backends.redis_url,
                       database_url=clean_backends.database_url)
    with pytest.raises(UserError, match="unknown policy"):
        with run_service(policy="nope", **urls):
            pass
    with pytest.raises(UserError, match="--cache must be one of"):
        with run_service(cache_mode="stale", **urls):
            pass
    with pytest.raises(UserError, match="workers"):
        with run_service(workers=0, **urls):
            pass
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UserError, match="cannot listen"):
            with run_service(port=busy.getsockname()[1], **urls):
                pass


def test_unreachable_database_is_a_user_error(clean_backends: StackInfo) -> None:
    from target_service.embedded.ports import free_port

    with pytest.raises(UserError, match="exited while starting"):
        with run_service(redis_url=clean_backends.redis_url, ready_timeout_s=60,
                         database_url=f"postgresql://x@127.0.0.1:{free_port()}/x"):
            pass
