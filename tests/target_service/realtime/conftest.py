"""A real service (uvicorn, 2 workers) on the session's Valkey and PostgreSQL, per module.

Push transports need a real server: the ASGI test transport has no WebSocket, no frame
limit and no streaming back-pressure. Tests share the module's service and keep apart by
using their own channels and users (``channel`` and ``user`` factories).
"""

from __future__ import annotations

import itertools
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from target_service.embedded.stack import StackInfo
from target_service.serve import ServiceHandle, run_service
from tests.conftest import reset_backends

ADMIN_TOKEN = "test-admin"
SERVICE_ENV = {
    "POLLCAP_ADMIN_TOKEN": ADMIN_TOKEN,
    "POLLCAP_SSE_HEARTBEAT_S": "0.5",
    "POLLCAP_REALTIME_QUEUE_MAX": "4",  # small, so slow consumers really overflow it
    "POLLCAP_PRESENCE_FLUSH_MS": "100",
    "POLLCAP_SSE_STREAM_MAX_S": "8",  # streams end (clients resume); longer than any test's read
    "POLLCAP_LONGPOLL_MAX_WAIT_MS": "4000",  # held polls answer by then whatever waitMs says
}
SSE_STREAM_MAX_S = float(SERVICE_ENV["POLLCAP_SSE_STREAM_MAX_S"])
LONGPOLL_MAX_WAIT_S = int(SERVICE_ENV["POLLCAP_LONGPOLL_MAX_WAIT_MS"]) / 1000
_names = itertools.count()


@dataclass(frozen=True)
class Account:
    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def service(stack: StackInfo) -> Iterator[ServiceHandle]:
    reset_backends(stack)
    with run_service(redis_url=stack.redis_url, database_url=stack.database_url, workers=2,
                     ready_timeout_s=120,
                     env=SERVICE_ENV) as handle:
        yield handle


def ws_url(service: ServiceHandle, token: str | None = None) -> str:
    base = service.url.replace("http://", "ws://") + "/api/realtime/ws"
    return base if token is None else f"{base}?token={token}"


def make_account(service: ServiceHandle) -> Account:
    body = json.dumps({"name": f"u{next(_names)}"}).encode()
    req = urllib.request.Request(f"{service.url}/api/users", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        data = json.loads(resp.read())
    return Account(id=data["id"], token=data["token"])


@pytest.fixture
def account(service: ServiceHandle) -> Account:
    return make_account(service)


@pytest.fixture
def channel(request: pytest.FixtureRequest) -> str:
    return f"rt-{request.node.name[:40]}-{next(_names)}".replace("[", "-").replace("]", "")


async def post(http: httpx.AsyncClient, account: Account, channel: str, content: str) -> int:
    resp = await http.post(f"/api/chat/{channel}/messages", json={"content": content},
                           headers=account.headers)
    assert resp.status_code == 201, resp.text
    seq: int = resp.json()["message"]["seq"]
    return seq


def scrape(service: ServiceHandle, name: str, *, tries: int = 12) -> dict[str, float]:
    """``pollcap_{name}`` per worker pid (several scrapes: each reaches one worker)."""
    found: dict[str, float] = {}
    for _ in range(tries):
        with urllib.request.urlopen(f"{service.url}/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(f"pollcap_{name}{{"):
                    pid = line.split('pid="', 1)[1].split('"', 1)[0]
                    found[pid] = float(line.rsplit(" ", 1)[1])
    return found
