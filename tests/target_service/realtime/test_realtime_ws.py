"""The WebSocket contract on a real 2-worker service, real Valkey and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from target_service.realtime.contract import CLOSE_BAD_TOKEN, CLOSE_TOO_BIG, WS_MAX_FRAME_BYTES
from target_service.serve import ServiceHandle
from tests.target_service.realtime.conftest import (
    ADMIN_TOKEN,
    Account,
    make_account,
    post,
    scrape,
    ws_url,
)

TIMEOUT_S = 20.0


async def frame(ws: ClientConnection, *, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
    return data


async def frames_until(ws: ClientConnection, op: str) -> dict[str, Any]:
    while True:
        found = await frame(ws)
        if found["op"] == op:
            return found


async def close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as caught:
        for _ in range(100):
            await frame(ws)
    return caught.value.rcvd.code if caught.value.rcvd else None


async def subscribe(ws: ClientConnection, channel: str, after: int | None) -> dict[str, Any]:
    await ws.send(json.dumps({"op": "subscribe", "channel": channel, "after": after}))
    return await frames_until(ws, "subscribed")


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_missing_or_bad_token_closes_4401(service: ServiceHandle, token: str | None) -> None:
    async with connect(ws_url(service, token)) as ws:
        assert await close_code(ws) == CLOSE_BAD_TOKEN


async def test_bearer_header_authenticates_and_ping_pongs(
    service: ServiceHandle, account: Account
) -> None:
    async with connect(ws_url(service), additional_headers=account.headers) as ws:
        await ws.send(json.dumps({"op": "ping"}))
        assert await frame(ws) == {"op": "pong"}


@pytest.mark.parametrize("bad", [
    "not json", "[1,2]", '{"op":"dance"}', '{"op":"subscribe","channel":"bad channel!"}',
    '{"op":"subscribe","channel":"c","after":-1}', '{"op":"subscribe","channel":"c","after":"5"}',
    '{"op":"send","channel":"c","content":"hi"}', '{"op":"send","channel":"c","ref":"r1"}',
    '{"op":"send","channel":"c","ref":"r1","content":"   "}',
])
async def test_bad_frame_gets_error_and_connection_stays_open(
    service: ServiceHandle, account: Account, bad: str
) -> None:
    async with connect(ws_url(service, account.token)) as ws:
        await ws.send(bad)
        error = await frame(ws)
        assert error["op"] == "error" and error["detail"]
        if '"ref":"r1"' in bad:
            assert error["ref"] == "r1"
        await ws.send(b"\x00binary")
        assert (await frame(ws))["op"] == "error"
        await ws.send(json.dumps({"op": "ping"}))
        assert await frame(ws) == {"op": "pong"}


async def test_oversized_frame_closes_1009(service: ServiceHandle, account: Account) -> None:
    async with connect(ws_url(service, account.token), max_size=None) as ws:
        await ws.send(json.dumps({"op": "ping", "pad": "x" * WS_MAX_FRAME_BYTES}))
        assert await close_code(ws) == CLOSE_TOO_BIG


async def test_send_acks_and_reaches_another_connection_on_either_worker(
    service: ServiceHandle, channel: str
) -> None:
    ann, bob = make_account(service), make_account(service)
    async with connect(ws_url(service, bob.token)) as listen:
        subscribed = await subscribe(listen, channel, None)
        assert subscribed["latest"] == 0 and "activeUsers" in subscribed
        async with connect(ws_url(service, ann.token)) as talk:
            await talk.send(json.dumps({"op": "send", "channel": channel, "content": "hello",
                                        "ref": "m1"}))
            ack = await frames_until(talk, "ack")
        assert ack["ref"] == "m1"
        message = ack["message"]
        assert set(message) == {"id", "seq", "channelId", "content", "author", "createdAt"}
        assert (message["seq"], message["content"], message["channelId"]) == (1, "hello", channel)
        got = await frames_until(listen, "message")
        assert got == {"op": "message", "channel": channel, "message": message}


async def _receive_seqs(ws: ClientConnection, channel: str, until_seq: int) -> list[int]:
    seqs: list[int] = []
    while not seqs or seqs[-1] < until_seq:
        got = await frame(ws)
        if got["op"] == "message":
            assert got["channel"] == channel
            seqs.append(got["message"]["seq"])
    return seqs


async def test_replay_then_live_has_no_gap_and_no_repeat_with_concurrent_writers(
    service: ServiceHandle, channel: str
) -> None:
    """Subscribers join at different cursors while 3 writers post through both workers."""
    writers = [make_account(service) for _ in range(3)]
    reader = make_account(service)
    per_writer, total = 30, 90
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        for i in range(10):
            await post(http, writers[0], channel, f"before {i}")

        async def write(account: Account) -> None:
            for i in range(per_writer):
                await post(http, account, channel, f"live {i}")
                await asyncio.sleep(0.03)  # >= 0.9 s of writes: the last reader joins at 0.6 s

        async def read(after: int | None, delay_s: float) -> tuple[int, list[int]]:
            await asyncio.sleep(delay_s)
            async with connect(ws_url(service, reader.token)) as ws:
                latest = (await subscribe(ws, channel, after))["latest"]
                start = latest if after is None else after
                if start >= 10 + total:  # joined at the newest after the writers were done
                    return start, []
                return start, await _receive_seqs(ws, channel, 10 + total)

        readers = [read(after, delay) for after, delay in
                   [(0, 0.0), (5, 0.05), (None, 0.1), (10, 0.2), (None, 0.4), (3, 0.6)]]
        results = await asyncio.gather(*readers, *(write(w) for w in writers))
    for start, seqs in results[:6]:  # type: ignore[misc]
        assert seqs == list(range(start + 1, 10 + total + 1)), f"from {start}: {seqs}"


@pytest.mark.slow
async def test_slow_consumer_is_caught_up_not_skipped(
    service: ServiceHandle, channel: str
) -> None:
    """A reader that stops reading while 1,500 messages (6 MB) are posted gets each once.

    6 MB outgrow the kernel buffers (tcp_wmem max 4 MB) and the socket's small receive
    window, so the server's sends block, the hub's queue for it overflows and it must be
    caught up by cursor (the metric proves it was).
    """
    writers, reader = [make_account(service) for _ in range(6)], make_account(service)
    count, content = 1500, "z" * 3995
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.connect(("127.0.0.1", service.port))
    async with connect(ws_url(service, reader.token), sock=sock, max_queue=1) as ws:
        await subscribe(ws, channel, None)
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:

            async def write(account: Account) -> None:
                for _ in range(count // len(writers)):
                    await post(http, account, channel, content)

            await asyncio.gather(*(write(w) for w in writers))
        assert await _receive_seqs(ws, channel, count) == list(range(1, count + 1))
    catchups = scrape(service, "realtime_catchups_total")
    assert sum(catchups.values()) >= 1, catchups


async def test_unsubscribe_stops_messages(service: ServiceHandle, channel: str) -> None:
    writer, reader = make_account(service), make_account(service)
    async with connect(ws_url(service, reader.token)) as ws, httpx.AsyncClient(
        base_url=service.url, timeout=30
    ) as http:
        await subscribe(ws, channel, None)
        await post(http, writer, channel, "one")
        assert (await frames_until(ws, "message"))["message"]["seq"] == 1
        await ws.send(json.dumps({"op": "unsubscribe", "channel": channel}))
        await ws.send(json.dumps({"op": "ping"}))
        assert await frame(ws) == {"op": "pong"}  # the unsubscribe was processed first
        await post(http, writer, channel, "two")
        await ws.send(json.dumps({"op": "ping"}))
        await asyncio.sleep(0.5)
        assert await frame(ws) == {"op": "pong"}  # and no message for seq 2 came before it


async def test_notification_is_pushed_to_the_connected_user(service: ServiceHandle) -> None:
    user = make_account(service)
    async with connect(ws_url(service, user.token)) as ws:
        await ws.send(json.dumps({"op": "ping"}))
        await frame(ws)  # connected and registered
        await asyncio.sleep(0.3)  # both workers' listeners subscribed long ago; be safe
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            resp = await http.post("/api/notifications", headers={"X-Admin-Token": ADMIN_TOKEN},
                                   json={"userId": user.id, "type": "mention", "title": "t",
                                         "content": "you were mentioned"})
            assert resp.status_code == 201, resp.text
        pushed = await frames_until(ws, "notification")
        assert pushed["notification"] == resp.json()["notification"]


async def test_metrics_count_connections_and_frames(
    service: ServiceHandle, account: Account
) -> None:
    async with connect(ws_url(service, account.token)) as ws:
        await ws.send(json.dumps({"op": "ping"}))
        await frame(ws)
        open_now = scrape(service, "realtime_ws_connections")
        assert sum(open_now.values()) >= 1
        assert sum(scrape(service, "realtime_frames_in_total").values()) >= 1
        if os.environ.get("POLLCAP_TEST_SERVER", "uvicorn") == "uvicorn":  # rawsend.py
            assert sum(scrape(service, "realtime_frames_direct_total").values()) >= 1
    assert len(scrape(service, "realtime_fanout_lag_ms_last")) >= 1


async def test_reconnects_resuming_by_after_lose_and_repeat_nothing(
    service: ServiceHandle, channel: str
) -> None:
    """A reader drops its connection every few messages and resumes with ``after`` = the
    last seq it got, while two writers post through both workers."""
    writers, reader = [make_account(service) for _ in range(2)], make_account(service)
    total, got = 80, []
    reconnects = 0
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:

        async def write(account: Account) -> None:
            for i in range(total // 2):
                await post(http, account, channel, f"m{i}")
                await asyncio.sleep(0.01)

        async def read() -> None:
            nonlocal reconnects
            last = 0
            while last < total:
                async with connect(ws_url(service, reader.token)) as ws:
                    await subscribe(ws, channel, last)
                    for _ in range(7):  # then drop the connection
                        found = await frames_until(ws, "message")
                        got.append(found["message"]["seq"])
                        last = found["message"]["seq"]
                        if last >= total:
                            break
                reconnects += 1

        await asyncio.gather(read(), *(write(w) for w in writers))
    assert got == list(range(1, total + 1))
    assert reconnects >= total // 7
