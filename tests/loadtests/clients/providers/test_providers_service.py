"""Every provider against the real service (uvicorn on the session's Valkey + PostgreSQL).

Each test drives providers the way a Locust tab does, on gevent (importing Locust
monkey-patches sockets, as in a swarm): one tab subscribes, another sends through its
own provider, and the receiver must see every ``seq`` exactly once, in order, from
where its loss window starts. Forced reconnects must lose and repeat nothing.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import gevent
import gevent.monkey
import httpx
import pytest

from loadtests.clients.loss import SeqTracker
from loadtests.clients.providers.base import GAUGE, Delivery, ProviderContext, RealtimeProvider
from loadtests.clients.providers.factory import TRANSPORTS, make_provider
from loadtests.targets.compiled import Request
from target_service.embedded.stack import StackInfo
from target_service.policy import load_policy
from target_service.serve import ServiceHandle, run_service


@pytest.fixture(autouse=True, scope="module")
def _cooperative_sockets() -> Iterator[None]:
    """Sockets cooperative, as in a swarm, only once these (slow) tests run.

    Not ``import locust`` at module level: collecting this folder would then patch the
    whole session (and Locust builds an SSL context on an already-imported ssl module:
    RecursionError). The socket module is put back afterwards: cooperative sockets
    without a running hub would make every later test's blocking I/O time out.
    """
    import socket

    before = dict(vars(socket))
    gevent.monkey.patch_socket()
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(socket, name, value)
        gevent.monkey.saved.pop("socket", None)


OPTIONS = type("Options", (), {"page_limit": 50, "jitter": 0.05})()


@pytest.fixture
def service(clean_backends: StackInfo) -> Iterator[ServiceHandle]:
    with run_service(
        redis_url=clean_backends.redis_url, database_url=clean_backends.database_url
    ) as handle:
        yield handle


@dataclass
class Tab:
    """One simulated tab: its provider, what it received, what it counted."""

    provider: RealtimeProvider
    deliveries: list[Delivery] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    reconnect_ms: list[float] = field(default_factory=list)
    ticker: gevent.Greenlet | None = None

    def seqs(self) -> list[int]:
        return [int(m["seq"]) for d in self.deliveries for m in d.messages]

    def start_after(self) -> int | None:
        return next((d.start_after for d in self.deliveries if d.start_after is not None), None)

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.kill()
        self.provider.close()


def sign_up(url: str) -> str:
    answer = httpx.post(f"{url}/api/users", json={"name": f"tab-{random.randrange(10**9)}"})
    assert answer.status_code == 201
    return str(answer.json()["token"])


def open_tab(url: str, transport: str, *, reconnect_every_s: float = 0.0) -> Tab:
    token = sign_up(url)
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    tab: Tab

    def post(request: Request, name: str) -> tuple[int, bytes]:
        answer = http.request(request.method, request.path, content=request.body,
                              headers=request.headers)
        return answer.status_code, answer.content

    def count(name: str, n: int) -> None:
        tab.counts[name] += n

    ctx = ProviderContext(
        host=url,
        token=token,
        rng=random.Random(),
        fire=lambda *a, **k: None,
        count=count,
        reconnected=lambda ms: tab.reconnect_ms.append(ms),
        post=post,
        sleep=gevent.sleep,
        poll_sample=lambda t, lat, c: None,
        reconnect_every_s=reconnect_every_s,
    )
    provider = make_provider(transport, ctx, policy=load_policy("fixed-2s"), options=OPTIONS)
    tab = Tab(provider=provider)
    tab.ticker = gevent.spawn(_tick, provider)  # the tab's own timer loop, for polling
    return tab


def _tick(provider: RealtimeProvider) -> None:
    while True:
        gevent.sleep(max(0.0, min(provider.next_due_s() - time.time(), 0.2)))
        if provider.next_due_s() <= time.time():
            provider.tick()


def wait_for(check: Callable[[], bool], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        gevent.sleep(0.05)


def assert_exactly_once(tab: Tab, sent: list[int]) -> None:
    start = tab.start_after()
    assert start is not None
    tracker = SeqTracker(first_seq=start + 1)
    counts = tracker.observe_all(tab.seqs())
    assert (counts.lost, counts.duplicated, counts.reordered) == (0, 0, 0)
    assert set(sent) <= set(tab.seqs())


@pytest.mark.slow  # ~20 s each: a service start per test (clean backends)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_subscribe_send_unsubscribe(service: ServiceHandle, transport: str) -> None:
    channel = f"prov-{transport.replace('-', '')}"
    receiver, sender = open_tab(service.url, transport), open_tab(service.url, transport)
    try:
        receiver.provider.subscribe(channel, receiver.deliveries.append)
        wait_for(lambda: receiver.start_after() is not None, timeout_s=10)
        sent = []
        for i in range(5):
            message = sender.provider.send(channel, f"hello {i}")
            assert message is not None and message["channelId"] == channel
            sent.append(int(message["seq"]))
        assert sent == sorted(sent) and len(set(sent)) == 5
        # A retry with the send's reference (its idempotency key) gets the first message.
        first = sender.provider.send_attempt(channel, "[k] once", ref=f"k-{transport}")
        again = sender.provider.send_attempt(channel, "[k] once", ref=f"k-{transport}")
        assert first[0] == again[0] == 201 and first[1] is not None and again[1] is not None
        assert again[1]["seq"] == first[1]["seq"]
        sent.append(int(first[1]["seq"]))
        wait_for(lambda: set(sent) <= set(receiver.seqs()), timeout_s=10)
        assert_exactly_once(receiver, sent)
        latencies = [d.recv_ms - m["createdAt"] for d in receiver.deliveries for m in d.messages]
        assert min(latencies) >= -5  # receive time after creation (same clock, ms rounding)

        receiver.provider.unsubscribe(channel)
        gevent.sleep(0.3)
        after_unsubscribe = len(receiver.seqs())
        assert sender.provider.send(channel, "after unsubscribe") is not None
        gevent.sleep(2.5 if transport == "polling" else 1.0)  # > one poll interval
        assert len(receiver.seqs()) == after_unsubscribe
    finally:
        receiver.close()
        sender.close()


@pytest.mark.slow
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_forced_reconnects_resume_without_loss(service: ServiceHandle, transport: str) -> None:
    channel = f"resume-{transport.replace('-', '')}"
    open_before = GAUGE.open_now
    receiver = open_tab(service.url, transport, reconnect_every_s=0.4)
    sender = open_tab(service.url, "polling")
    try:
        receiver.provider.subscribe(channel, receiver.deliveries.append)
        wait_for(lambda: receiver.start_after() is not None, timeout_s=10)
        sent = []
        for i in range(40):
            message = sender.provider.send(channel, f"m{i}")
            assert message is not None
            sent.append(int(message["seq"]))
            gevent.sleep(0.1)
        wait_for(lambda: set(sent) <= set(receiver.seqs()), timeout_s=15)
        assert_exactly_once(receiver, sent)
        if transport == "polling":
            assert receiver.counts["reconnects"] >= 1
        else:
            assert receiver.counts["forced_drops"] >= 3
            assert receiver.counts["reconnects"] >= receiver.counts["forced_drops"] - 1
            assert receiver.counts["connects"] == receiver.counts["reconnects"] + 1
        assert receiver.reconnect_ms and min(receiver.reconnect_ms) > 0
    finally:
        receiver.close()
        sender.close()
    assert GAUGE.open_now == open_before  # every push connection was closed and counted
