"""Pure parts of the push transports: connection lifetimes, SSE framing, URLs."""

from __future__ import annotations

import math
import random
import socket
import statistics
import threading

import pytest

from loadtests.clients.providers.base import drop_in_s
from loadtests.clients.providers.stream import EventStream, StreamError, parse_event
from loadtests.clients.providers.websocket import ws_url


def test_forced_lifetimes_are_exponential_with_the_given_mean() -> None:
    rng = random.Random(7)
    draws = [drop_in_s(rng=rng, mean_s=4.0) for _ in range(20_000)]
    assert statistics.fmean(draws) == pytest.approx(4.0, rel=0.03)
    assert statistics.median(draws) == pytest.approx(4.0 * math.log(2), rel=0.05)
    assert drop_in_s(rng=rng, mean_s=0.0) == math.inf


def test_parse_event_fields_and_heartbeats() -> None:
    event = parse_event('id: 42\nevent: message\ndata: {"seq":42}')
    assert event is not None and (event.id, event.event, event.data) == (
        "42",
        "message",
        '{"seq":42}',
    )
    assert parse_event(": heartbeat") is None
    multi = parse_event("data: a\ndata: b")
    assert multi is not None and (multi.event, multi.data, multi.id) == ("message", "a\nb", None)


def _serve_once(body: bytes) -> tuple[str, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            conn.recv(65536)
            for i in range(0, len(body), 7):  # odd pieces: chunk and event boundaries split
                conn.sendall(body[i : i + 7])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{port}", thread


def _chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_event_stream_undoes_chunking_split_anywhere() -> None:
    events = ['id: 1\nevent: message\ndata: {"c":"é"}\n\n', ": ping\n\n", "id: 2\ndata: x\n\n"]
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    url, thread = _serve_once(head + _chunked(*(e.encode() for e in events)))
    stream = EventStream(url, "/sse", headers={}, timeout_s=5)
    got = []
    with pytest.raises(StreamError, match="ended"):
        for event in stream.events():
            got.append((event.id, event.data))
    stream.close()
    thread.join(5)
    assert got == [("1", '{"c":"é"}'), ("2", "x")]


def test_event_stream_refuses_a_non_stream_answer() -> None:
    url, thread = _serve_once(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
    with pytest.raises(StreamError, match="401"):
        EventStream(url, "/sse", headers={}, timeout_s=5)
    thread.join(5)


def test_ws_url_from_the_host() -> None:
    assert ws_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/api/realtime/ws"
    assert ws_url("http://h:1/base/") == "ws://h:1/base/api/realtime/ws"
    with pytest.raises(ValueError):
        ws_url("ftp://h")
