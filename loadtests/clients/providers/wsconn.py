"""One blocking WebSocket client connection on gevent-cooperative sockets.

``websocket-client``'s ``WebSocket`` behind a three-call interface (``send_text``,
``recv_text``, ``close``). It answers pings inside ``recv_text`` (the service pings
idle connections) and is cooperative under Locust because Locust monkey-patches
``socket``: no asyncio in the users. It was chosen over ``wsproto`` on gevent sockets
by ``python -m loadtests.clients.providers.ws_bench`` (2,000 connections, 2 frames/s
each, both libraries side by side, two runs in either order on a busy 2-core box):
25.9-32.1 vs 34.0-43.3 us of client CPU per received frame and 3.3 vs 5.2-5.4 KiB of
RSS per open connection (7.3-9.8 vs 13.9-14.5 KiB once reading).
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

import websocket


class WSClosed(ConnectionError):
    """The server closed the WebSocket (``code`` as it sent it, 1006 for a dropped TCP)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed: {code} {reason}".strip())
        self.code = code


class WSConnection(Protocol):
    def __init__(self, url: str, *, headers: dict[str, str], timeout_s: float) -> None: ...
    def send_text(self, text: str) -> None: ...
    def recv_text(self) -> str: ...
    def close(self) -> None: ...


def _split(url: str) -> tuple[str, int, str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "http") or not parts.hostname:
        raise ValueError(f"need a ws:// (or http://) URL, got {url!r}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.hostname, parts.port or 80, parts.netloc, target


class WsClientConnection:
    """websocket-client's ``WebSocket`` (see the module docstring)."""

    def __init__(self, url: str, *, headers: dict[str, str], timeout_s: float) -> None:
        _host, _port, netloc, target = _split(url)
        self._ws = websocket.create_connection(
            f"ws://{netloc}{target}",
            header=[f"{k}: {v}" for k, v in headers.items()],
            timeout=timeout_s,
            skip_utf8_validation=True,
            enable_multithread=True,  # pongs (reader greenlet) and sends (tab) share the socket
        )
        self._ws.settimeout(None)

    def send_text(self, text: str) -> None:
        self._ws.send(text)

    def recv_text(self) -> str:
        while True:  # control frames: pings are answered inside recv_data_frame
            try:
                opcode, frame = self._ws.recv_data_frame(True)
            except websocket.WebSocketConnectionClosedException:
                raise WSClosed(1006, "connection lost") from None
            if opcode == websocket.ABNF.OPCODE_TEXT:
                return str(frame.data.decode())
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data
                raise WSClosed(int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005)

    def close(self) -> None:
        self._ws.close(timeout=1)
