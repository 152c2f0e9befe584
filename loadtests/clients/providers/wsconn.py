"""One blocking WebSocket client connection on gevent-cooperative sockets.

Two implementations behind one small interface (``send_text``, ``recv_text``,
``close``), because the issue asks to measure both and keep the lighter:

* :class:`WsprotoConnection`: the sans-I/O ``wsproto`` state machine on a plain
  socket; one ``recv`` may carry many frames, parsed from one buffer.
* :class:`WsClientConnection`: ``websocket-client``'s ``WebSocket``, which reads
  each frame's header and payload with separate ``recv`` calls.

Both answer pings inside ``recv_text`` (the service pings idle connections) and are
cooperative under Locust because Locust monkey-patches ``socket``: no asyncio.
``python -m loadtests.clients.providers.ws_bench`` compares them; the provider uses
:data:`DEFAULT_CONNECTION` (see that module's docstring for the figures).
"""

from __future__ import annotations

import socket
from collections import deque
from typing import Protocol
from urllib.parse import urlsplit

import wsproto
import wsproto.events as ev
from gevent.lock import Semaphore

RECV_BYTES = 65536
MAX_FRAME_BYTES = 1 << 20


class WSClosed(ConnectionError):
    """The server closed the WebSocket (``code`` as it sent it, 1006 for a dropped TCP)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed: {code} {reason}".strip())
        self.code = code


class WSConnection(Protocol):
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


class WsprotoConnection:
    """wsproto on one socket (see the module docstring)."""

    def __init__(self, url: str, *, headers: dict[str, str], timeout_s: float) -> None:
        host, port, netloc, target = _split(url)
        self._sock = socket.create_connection((host, port), timeout=timeout_s)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self._texts: deque[str] = deque()
        self._parts: list[str] = []
        self._closed: WSClosed | None = None
        self._write = Semaphore()  # pongs (reader greenlet) and sends (tab) share the socket
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        try:
            self._sock.sendall(
                self._ws.send(ev.Request(host=netloc, target=target, extra_headers=extra))
            )
            self._handshake()
            self._sock.settimeout(None)  # idle is normal; the server pings and drops dead ones
        except BaseException:
            self._sock.close()
            raise

    def _handshake(self) -> None:
        while True:
            self._feed()
            for event in self._ws.events():
                if isinstance(event, ev.AcceptConnection):
                    return
                if isinstance(event, ev.RejectConnection):
                    raise WSClosed(event.status_code, "handshake rejected")

    def _sendall(self, data: bytes) -> None:
        with self._write:
            self._sock.sendall(data)

    def _feed(self) -> None:
        data = self._sock.recv(RECV_BYTES)
        self._ws.receive_data(data or None)
        if not data:
            self._closed = self._closed or WSClosed(1006, "connection lost")

    def send_text(self, text: str) -> None:
        if self._closed is not None:
            raise self._closed
        self._sendall(self._ws.send(ev.TextMessage(data=text)))

    def recv_text(self) -> str:
        while not self._texts:
            if self._closed is not None:
                raise self._closed
            self._feed()
            self._events()
        return self._texts.popleft()

    def _events(self) -> None:
        for event in self._ws.events():
            if isinstance(event, ev.TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    self._texts.append("".join(self._parts))
                    self._parts.clear()
            elif isinstance(event, ev.Ping):
                self._sendall(self._ws.send(event.response()))
            elif isinstance(event, ev.CloseConnection):
                self._closed = WSClosed(event.code, event.reason or "")
                try:
                    self._sendall(self._ws.send(event.response()))
                except (OSError, wsproto.utilities.LocalProtocolError):
                    pass

    def close(self) -> None:
        try:
            if self._ws.state == wsproto.connection.ConnectionState.OPEN:
                self._sendall(self._ws.send(ev.CloseConnection(code=1000)))
        except (OSError, wsproto.utilities.LocalProtocolError):
            pass
        self._sock.close()


class WsClientConnection:
    """websocket-client's ``WebSocket`` (see the module docstring)."""

    def __init__(self, url: str, *, headers: dict[str, str], timeout_s: float) -> None:
        import websocket

        host, port, netloc, target = _split(url)
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
        import websocket

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


CONNECTIONS: dict[str, type[WsprotoConnection] | type[WsClientConnection]] = {
    "wsproto": WsprotoConnection,
    "websocket-client": WsClientConnection,
}
DEFAULT_CONNECTION = "wsproto"
