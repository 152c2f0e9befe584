"""Long-polling: at once when newer exists, held until a commit on another worker, or W."""

from __future__ import annotations

import asyncio
import time

import httpx

from target_service.serve import ServiceHandle
from tests.target_service.realtime.conftest import LONGPOLL_MAX_WAIT_S, make_account, post, scrape


async def test_answers_at_once_when_newer_exists(service: ServiceHandle, channel: str) -> None:
    user = make_account(service)
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        await post(http, user, channel, "x")
        started = time.monotonic()
        resp = await http.get(f"/api/chat/{channel}/messages",
                              params={"after": 0, "waitMs": 20000}, headers=user.headers)
        assert time.monotonic() - started < 5
    assert [m["seq"] for m in resp.json()["messages"]] == [1]


async def test_holds_for_wait_ms_then_answers_empty(service: ServiceHandle, channel: str) -> None:
    user = make_account(service)
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        await post(http, user, channel, "x")
        started = time.monotonic()
        resp = await http.get(f"/api/chat/{channel}/messages",
                              params={"after": 1, "waitMs": 800}, headers=user.headers)
        held_s = time.monotonic() - started
    assert resp.status_code == 200 and resp.json()["messages"] == []
    assert "pollIntervalMs" in resp.json()
    assert 0.75 <= held_s < 5, held_s


async def test_service_cap_bounds_the_hold(service: ServiceHandle, channel: str) -> None:
    """``longpoll_max_wait_ms`` answers a poll asking for 30 s after the service's cap."""
    user = make_account(service)
    async with httpx.AsyncClient(base_url=service.url, timeout=40) as http:
        await post(http, user, channel, "x")
        started = time.monotonic()
        resp = await http.get(f"/api/chat/{channel}/messages",
                              params={"after": 1, "waitMs": 30000}, headers=user.headers)
        held_s = time.monotonic() - started
    assert resp.status_code == 200 and resp.json()["messages"] == []
    assert LONGPOLL_MAX_WAIT_S - 0.1 <= held_s < LONGPOLL_MAX_WAIT_S + 4, held_s


async def test_wakes_when_a_message_is_committed(service: ServiceHandle, channel: str) -> None:
    """Several held polls (spread over both workers) wake on one post, well before W.

    The polls one fan-out woke share one answer per worker (longpoll.woken_poll).
    """
    writer, reader = make_account(service), make_account(service)
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        await post(http, writer, channel, "first")

        async def hold() -> tuple[float, list[int]]:
            started = time.monotonic()
            resp = await http.get(f"/api/chat/{channel}/messages",
                                  params={"after": 1, "waitMs": 20000}, headers=reader.headers)
            return time.monotonic() - started, [m["seq"] for m in resp.json()["messages"]]

        shared_before = sum(scrape(service, "realtime_longpoll_shared_total").values())
        polls = [asyncio.create_task(hold()) for _ in range(6)]
        await asyncio.sleep(1.0)
        waiting = scrape(service, "realtime_longpoll_waiting")
        await post(http, writer, channel, "second")
        results = await asyncio.gather(*polls)
        shared = sum(scrape(service, "realtime_longpoll_shared_total").values()) - shared_before
    assert sum(waiting.values()) == 6, waiting
    assert shared >= 6 - len(waiting), (shared, waiting)  # at most one build per worker
    for held_s, seqs in results:
        assert seqs == [2]
        assert held_s < 10, held_s


async def test_bad_wait_ms_is_422(service: ServiceHandle, channel: str) -> None:
    user = make_account(service)
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        for bad in ("0", "30001", "abc", "-5"):
            resp = await http.get(f"/api/chat/{channel}/messages",
                                  params={"after": 0, "waitMs": bad}, headers=user.headers)
            assert resp.status_code == 422 and "waitMs" in resp.json()["detail"], bad
