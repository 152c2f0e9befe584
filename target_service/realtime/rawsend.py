"""Server -> client text frames framed once and written straight to uvicorn's transport.

A fan-out sends the same frame to every subscriber of a channel. Through ASGI each one
goes Starlette's ``WebSocket.send`` -> uvicorn's ``WSProtocol.send`` (an await on its
``writable`` event) -> wsproto (text -> UTF-8 -> frame header) -> ``transport.write``,
about 60-120 us of the worker per subscriber. A server's frames are not masked (RFC 6455
5.1), so a message's frame is the same bytes for every connection: :class:`FrameCache`
frames it once per message, and :class:`FrameWriter` hands those bytes to the
connection's transport, all of a connection's pending frames in one write.

Only uvicorn's wsproto implementation (the service's default ``--ws``) is recognised,
and only while its connection is plainly open and writable. Otherwise (back-pressure
has paused the transport, a close is under way, another server or ``--ws``) every frame
goes through ASGI ``send`` exactly as before, which waits or raises as usual, so a slow
consumer still blocks its own writer and nothing else. Data frames carry no state in
wsproto's sender (no compression is negotiated: ``--ws-per-message-deflate false``; a
whole message per frame), so frames written beside it keep its state machine valid.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Send
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol
from wsproto.connection import ConnectionState

from target_service.realtime.contract import message_frame
from target_service.store.messages import Message

FIN_TEXT = 0x81  # FIN + opcode 1 (text)
FRAME_CACHE_MAX = 4096  # messages; cleared whole when full (a fan-out needs one entry)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame carrying ``payload`` (UTF-8 already)."""
    n = len(payload)
    if n < 126:
        return bytes((FIN_TEXT, n)) + payload
    if n < 1 << 16:
        return bytes((FIN_TEXT, 126)) + n.to_bytes(2, "big") + payload
    return bytes((FIN_TEXT, 127)) + n.to_bytes(8, "big") + payload


class FrameCache:
    """A message's frame, built once per (channel, message JSON).

    Keyed by the JSON itself, not the seq: a seq can come back with other content
    (a wiped database), the bytes cannot. A fan-out hands every subscriber the same
    ``Message``, whose bytes object caches its hash, so a hit costs one dict lookup.
    """

    __slots__ = ("_frames",)

    def __init__(self) -> None:
        self._frames: dict[tuple[str, bytes], bytes] = {}

    def get(self, channel: str, message: Message) -> bytes:
        key = (channel, message.json)
        frame = self._frames.get(key)
        if frame is None:
            if len(self._frames) >= FRAME_CACHE_MAX:
                self._frames.clear()
            frame = self._frames[key] = text_frame(message_frame(channel, message))
        return frame


class FrameWriter:
    """Writes one connection's frames: straight to the transport when it may, else ASGI."""

    __slots__ = ("send", "_proto")

    def __init__(self, send: Send, *, raw: bool = True) -> None:
        self.send = send
        proto: Any = getattr(send, "__self__", None)
        self._proto = proto if raw and isinstance(proto, WSProtocol) else None

    def direct(self) -> bool:
        """Whether frames may go to the transport now (open, writable, no close begun)."""
        p = self._proto
        return (p is not None and p.writable.is_set() and not p.disconnected
                and not p.close_sent and p.conn.state is ConnectionState.OPEN
                and not p.transport.is_closing())

    def write_direct(self, frames: list[bytes]) -> None:
        """Only after :meth:`direct` said yes, with no await in between."""
        assert self._proto is not None
        self._proto.transport.write(frames[0] if len(frames) == 1 else b"".join(frames))

    async def send_text(self, payload: bytes) -> None:
        await self.send({"type": "websocket.send", "text": payload.decode()})
