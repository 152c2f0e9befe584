"""The lean poll connection against small real servers: keep-alive, chunked, close, errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from loadtests.bench.stub_server import run_bench_target
from loadtests.clients.leanhttp import LeanConnection
from target_service.serve import free_port

CHUNKED = (
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    b'4\r\n{"a"\r\n3;ext=1\r\n:1}\r\n0\r\n\r\n'
)


@pytest.fixture
def one_shot_server() -> Iterator[int]:
    """Answers each connection once with CHUNKED, then closes it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(CHUNKED)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    listener.close()


def test_chunked_body_and_connection_close(one_shot_server: int) -> None:
    conn = LeanConnection(f"http://127.0.0.1:{one_shot_server}", timeout_s=5)
    for _ in range(2):  # the second request needs a new connection
        status, body, interval = conn.get("/x", {})
        assert (status, body, interval) == (200, b'{"a":1}', None)
    conn.close()


def test_keep_alive_polls_and_interval_header() -> None:
    with run_bench_target(port=free_port()) as url:
        conn = LeanConnection(url, timeout_s=5)
        status, body, _ = conn.get("/healthz", {})
        assert status == 200 and body == b'{"status":"ok"}'
        first = conn._sock
        status, body, interval = conn.get("/api/chat/c1/messages", {"Authorization": "Bearer x"})
        assert status == 401 and interval == 2000
        assert conn._sock is first  # the same kept-alive socket
        conn.close()


def test_refused_connection_raises() -> None:
    conn = LeanConnection(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(OSError):
        conn.get("/", {})


def test_only_http_urls() -> None:
    with pytest.raises(ValueError):
        LeanConnection("ftp://127.0.0.1", timeout_s=1)


def test_the_hint_header_is_the_descriptions_and_a_bad_value_is_no_hint() -> None:
    from loadtests.clients.leanhttp import _parse_head

    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Next-Poll: 1500\r\nX-Poll-Interval-Ms: 9"
    assert _parse_head(head, b"x-next-poll")[4] == 1500
    assert _parse_head(head)[4] == 9  # the reference service's header by default
    assert _parse_head(head, b"\r\n")[4] is None  # a description without a header hint
    assert _parse_head(b"HTTP/1.1 200 OK\r\nX-Next-Poll: soon", b"x-next-poll")[4] is None


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nx-poll-interval-ms: 2000",
         (200, 12, False, False, 2000)),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length:3\r\nConnection:  Close ",
         (404, 3, False, True, None)),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nX-Content-Length: 5",
         (200, 0, True, False, None)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1", (200, 1, False, True, None)),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive", (200, 0, False, False, None)),
        (b"HTTP/1.1 204 No Content", (204, 0, False, False, None)),
    ],
)
def test_heads_parse_whatever_the_case_and_spacing(
    head: bytes, expected: tuple[int, int, bool, bool, int | None]
) -> None:
    from loadtests.clients.leanhttp import _parse_head

    assert _parse_head(head) == expected


def test_a_bad_status_line_is_a_protocol_error() -> None:
    from loadtests.clients.leanhttp import HTTPProtocolError, _parse_head

    with pytest.raises(HTTPProtocolError):
        _parse_head(b"SSH-2.0-OpenSSH\r\nContent-Length: 1")
