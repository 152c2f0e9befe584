"""run_service with ``server="granian"``: same service, same contract, nothing left after."""

from __future__ import annotations

import json
import sys
import urllib.request

import psutil
import pytest

from target_service.embedded.stack import StackInfo
from target_service.errors import UserError
from target_service.serve import run_service, server_command


def call(url: str, *, token: str | None = None, body: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_unknown_or_missing_server_is_a_user_error(
    clean_backends: StackInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UserError, match="server must be one of"):
        with run_service(redis_url=clean_backends.redis_url,
                         database_url=clean_backends.database_url, server="gunicorn"):
            pass
    monkeypatch.setitem(sys.modules, "granian", None)  # as if not installed
    with pytest.raises(UserError, match="granian package"):
        server_command(server="granian", host="127.0.0.1", port=1, workers=1)


def test_granian_serves_posts_and_polls_across_two_workers(clean_backends: StackInfo) -> None:
    with run_service(redis_url=clean_backends.redis_url, database_url=clean_backends.database_url,
                     workers=2, server="granian") as service:
        assert call(f"{service.url}/healthz")["status"] == "ok"
        workers = service.worker_pids
        assert len(workers) == 2 and service.pid not in workers
        pids = service.pids
        token = call(f"{service.url}/api/users", body={"name": "gra"})["token"]
        sent = [call(f"{service.url}/api/chat/g/messages", token=token,
                     body={"content": f"m{i}"})["message"]["seq"] for i in range(10)]
        for _ in range(10):  # whichever worker answers, it has every acknowledged write
            polled = call(f"{service.url}/api/chat/g/messages?after=0", token=token)
            assert [m["seq"] for m in polled["messages"]] == sent
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
