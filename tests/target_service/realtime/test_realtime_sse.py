"""The SSE contract: replay then live, Last-Event-ID resume, heartbeats, bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from target_service.serve import ServiceHandle
from tests.target_service.realtime.conftest import (
    SSE_STREAM_MAX_S,
    Account,
    make_account,
    post,
)

TIMEOUT_S = 20.0


async def read_events(
    lines: AsyncIterator[str], *, until_seq: int | None = None, comments: int | None = None
) -> tuple[list[int], list[dict[str, object]], int]:
    """(ids, data objects, heartbeat comments) read until ``until_seq`` or ``comments``."""
    ids: list[int] = []
    data: list[dict[str, object]] = []
    beats = 0
    event: dict[str, str] = {}
    async for line in lines:
        if line.startswith(": heartbeat"):
            beats += 1
        elif line.startswith("id: "):
            event["id"] = line[4:]
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = line[6:]
        elif line == "" and "data" in event:
            assert event["event"] == "message"
            ids.append(int(event["id"]))
            data.append(json.loads(event["data"]))
            event = {}
        if until_seq is not None and ids and ids[-1] >= until_seq:
            break
        if comments is not None and beats >= comments:
            break
    return ids, data, beats


async def until(
    resp: httpx.Response, seq: int
) -> tuple[list[int], list[dict[str, object]], int]:
    return await asyncio.wait_for(read_events(resp.aiter_lines(), until_seq=seq), TIMEOUT_S)


async def test_bad_token_is_401_and_bad_params_422(
    service: ServiceHandle, account: Account
) -> None:
    async with httpx.AsyncClient(base_url=service.url, timeout=TIMEOUT_S) as http:
        resp = await http.get("/api/realtime/sse", params={"channel": "c", "token": "nope"})
        assert resp.status_code == 401 and resp.json()["detail"]
        for params in ({"channel": "bad channel"}, {"channel": "c", "after": "x"}, {}):
            resp = await http.get("/api/realtime/sse", params=params, headers=account.headers)
            assert resp.status_code == 422 and resp.json()["detail"], params
        resp = await http.get("/api/realtime/sse", params={"channel": "c"},
                              headers={**account.headers, "Last-Event-ID": "abc"})
        assert resp.status_code == 422


async def test_after_replays_then_goes_live_and_heartbeats(
    service: ServiceHandle, channel: str
) -> None:
    writer, reader = make_account(service), make_account(service)
    async with httpx.AsyncClient(base_url=service.url, timeout=TIMEOUT_S) as http:
        for i in range(5):
            await post(http, writer, channel, f"old {i}")
        params: dict[str, str | int] = {"channel": channel, "after": 2, "token": reader.token}
        async with http.stream("GET", "/api/realtime/sse", params=params) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")

            async def write_later() -> None:
                await asyncio.sleep(0.3)
                for i in range(5):
                    await post(http, writer, channel, f"new {i}")

            task = asyncio.create_task(write_later())
            lines = resp.aiter_lines()
            ids, data, _ = await asyncio.wait_for(read_events(lines, until_seq=10), TIMEOUT_S)
            await task
            assert ids == list(range(3, 11))
            assert [d["seq"] for d in data] == ids and data[0]["content"] == "old 2"
            _, _, beats = await asyncio.wait_for(read_events(lines, comments=2), 5)
            assert beats == 2  # heartbeat every 0.5 s in this service (<= 15 s by default)


async def test_last_event_id_resumes_without_gap_or_repeat(
    service: ServiceHandle, channel: str
) -> None:
    writer, reader = make_account(service), make_account(service)
    params = {"channel": channel, "token": reader.token}
    async with httpx.AsyncClient(base_url=service.url, timeout=TIMEOUT_S) as http:
        for i in range(3):
            await post(http, writer, channel, f"a {i}")
        async with http.stream("GET", "/api/realtime/sse", params={**params, "after": 0}) as resp:
            first, _, _ = await until(resp, 3)
        for i in range(4):  # posted while disconnected
            await post(http, writer, channel, f"b {i}")
        async with http.stream("GET", "/api/realtime/sse", params={**params, "after": 0},
                               headers={"Last-Event-ID": str(first[-1])}) as resp:
            second, _, _ = await until(resp, 7)
    assert first == [1, 2, 3] and second == [4, 5, 6, 7]


@pytest.mark.parametrize("after", [None, ""])  # an empty after is no cursor (fuzzer: was a 500)
async def test_without_after_starts_live(
    service: ServiceHandle, channel: str, after: str | None
) -> None:
    writer, reader = make_account(service), make_account(service)
    params = {"channel": channel} if after is None else {"channel": channel, "after": after}
    async with httpx.AsyncClient(base_url=service.url, timeout=TIMEOUT_S) as http:
        await post(http, writer, channel, "before")
        async with http.stream("GET", "/api/realtime/sse",
                               params=params, headers=reader.headers) as resp:
            await post(http, writer, channel, "after")
            ids, data, _ = await until(resp, 2)
    assert ids == [2] and data[0]["content"] == "after"


async def test_stream_ends_after_its_max_and_resumes_by_last_event_id(
    service: ServiceHandle, channel: str
) -> None:
    """``sse_stream_max_s`` closes a stream (EventSource reconnects); nothing is lost."""
    writer, reader = make_account(service), make_account(service)
    params: dict[str, str | int] = {"channel": channel, "after": 0}
    async with httpx.AsyncClient(base_url=service.url, timeout=TIMEOUT_S) as http:
        await post(http, writer, channel, "one")
        started = asyncio.get_running_loop().time()
        async with http.stream("GET", "/api/realtime/sse", params=params,
                               headers=reader.headers) as resp:
            first, _, _ = await asyncio.wait_for(read_events(resp.aiter_lines()), TIMEOUT_S)
        lasted_s = asyncio.get_running_loop().time() - started
        await post(http, writer, channel, "two")
        async with http.stream("GET", "/api/realtime/sse", params=params,
                               headers={**reader.headers, "Last-Event-ID": str(first[-1])}) as resp:
            second, _, _ = await until(resp, 2)
    assert first == [1] and second == [2]
    assert SSE_STREAM_MAX_S - 0.5 <= lasted_s < SSE_STREAM_MAX_S + 5, lasted_s
