"""rawsend.py: our frames are byte for byte wsproto's own; the cache frames once per message."""

from __future__ import annotations

import pytest
import wsproto
import wsproto.events as ev
from starlette.types import Message as AsgiMessage

from target_service.realtime.contract import message_frame
from target_service.realtime.rawsend import FrameCache, FrameWriter, text_frame
from target_service.store.messages import Message


def wsproto_server_frame(text: str) -> bytes:
    """What uvicorn's wsproto implementation writes for one ``websocket.send`` of ``text``."""
    server = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    server.receive_data(client.send(ev.Request(host="h", target="/")))
    next(server.events())
    server.send(ev.AcceptConnection())
    return server.send(ev.TextMessage(data=text))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70_000])
def test_text_frame_matches_wsproto_at_each_length_encoding(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)  # multi-byte UTF-8: length is in bytes
    assert text_frame(text.encode()) == wsproto_server_frame(text)


def test_a_client_reads_the_frame_back() -> None:
    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    server = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
    server.receive_data(client.send(ev.Request(host="h", target="/")))
    next(server.events())
    client.receive_data(server.send(ev.AcceptConnection()))
    next(client.events())
    client.receive_data(text_frame(b'{"op":"pong"}') + text_frame(b'{"op":"x"}'))
    got = [e.data if isinstance(e, ev.TextMessage) else e for e in client.events()]
    assert got == ['{"op":"pong"}', '{"op":"x"}']


def test_cache_frames_a_message_once_and_never_confuses_two() -> None:
    cache = FrameCache()
    message = Message(seq=7, created_at_ms=0, json=b'{"seq":7}')
    first = cache.get("c", message)
    assert first == text_frame(message_frame("c", message))
    assert cache.get("c", message) is first
    assert cache.get("d", message) == text_frame(message_frame("d", message))
    reused = Message(seq=7, created_at_ms=0, json=b'{"seq":7,"other":1}')  # a wiped database
    assert cache.get("c", reused) == text_frame(message_frame("c", reused))


async def test_an_unknown_send_takes_the_asgi_path() -> None:
    sent: list[AsgiMessage] = []

    async def send(message: AsgiMessage) -> None:
        sent.append(message)

    writer = FrameWriter(send)
    assert not writer.direct()
    await writer.send_text(b'{"op":"pong"}')
    assert sent == [{"type": "websocket.send", "text": '{"op":"pong"}'}]
