"""``GET /api/realtime/ws``: the design's RealtimeProvider over one WebSocket.

One reader (this handler: frames in, processed in order) and one writer task per
connection. Everything the client receives goes through the writer: control frames from
a bounded outbox first, then each subscription's messages (see hub.py for why they are
never lost, repeated or reordered). The reader never blocks on a slow client; the
writer does, and its subscriptions catch up by cursor once it gets going again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque

from fastapi import APIRouter, WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from target_service import chat
from target_service.params import IDEMPOTENCY_KEY_PATTERN
from target_service.realtime import contract as c
from target_service.realtime.auth import authenticate, token_from_scope
from target_service.realtime.frames import BadFrame, Frame, parse_frame
from target_service.realtime.hub import Hub, Subscription
from target_service.realtime.rawsend import FrameWriter, text_frame
from target_service.state import AppState
from target_service.store.messages import Message
from target_service.store.users import User

router = APIRouter(tags=["realtime"])
IDEMPOTENCY_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)
log = logging.getLogger("pollcap.realtime")


class Connection:
    def __init__(self, ws: WebSocket, *, state: AppState, hub: Hub, user: User) -> None:
        self.ws = ws
        self.state = state
        self.hub = hub
        self.user = user
        # the ASGI send under Starlette's WebSocket; raw writes unless turned off (A/B)
        self.frames = FrameWriter(ws._send, raw=state.settings.realtime_raw_send)
        self.outbox: deque[bytes] = deque()
        self.subs: dict[str, Subscription] = {}
        self.closing = False
        self._writer: asyncio.Task[None] | None = None  # only while there is something to send
        self._again = False

    def set(self) -> None:
        """Wake the writer (the subscriptions' waker): an idle connection holds no task."""
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
        else:
            self._again = True

    def push(self, frame: bytes) -> None:
        """Queue a control frame; a client that stopped reading is told to resume."""
        if len(self.outbox) >= c.OUTBOX_MAX_FRAMES:
            if not self.closing:
                self.closing = True
                self.hub.counters.resume_closes += 1
                asyncio.get_running_loop().create_task(self._close(c.CLOSE_RESUME))
            return
        self.outbox.append(frame)
        self.set()

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=code)

    async def run(self) -> None:
        self.hub.notifications.add(self.user.id, self.push)
        try:
            await self._read_loop()
        finally:
            self.hub.notifications.discard(self.user.id, self.push)
            for sub in self.subs.values():
                self.hub.remove(sub)
            self.subs.clear()
            writer = self._writer
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(BaseException):
                    await writer

    async def _read_loop(self) -> None:
        while True:
            event = await self.ws.receive()
            if event["type"] == "websocket.disconnect":
                return
            self.hub.counters.frames_in += 1
            text = event.get("text")
            if text is None:
                self.push(c.error_frame(None, "binary frames are not supported; send JSON text"))
                continue
            if len(text) > c.WS_MAX_FRAME_BYTES // 4 and len(text.encode()) > c.WS_MAX_FRAME_BYTES:
                await self._close(c.CLOSE_TOO_BIG)  # uvicorn's --ws-max-size normally does it
                return
            try:
                await self._handle(parse_frame(text))
            except BadFrame as exc:
                self.push(c.error_frame(exc.ref, exc.detail))

    async def _handle(self, frame: Frame) -> None:
        if frame.op == "ping":
            self.push(c.PONG_FRAME)
        elif frame.op == "subscribe":
            await self._subscribe(frame)
        elif frame.op == "unsubscribe":
            sub = self.subs.pop(frame.channel, None)
            if sub is not None:
                self.hub.remove(sub)
        else:
            assert frame.ref is not None
            try:
                # The ref is the send's idempotency key: a resend after a lost ack
                # (reconnect) gets the first message back, never a duplicate.
                key = frame.ref if IDEMPOTENCY_KEY_RE.fullmatch(frame.ref) else None
                message, _ = await chat.post(self.state, channel_id=frame.channel,
                                             user=self.user, content=frame.content,
                                             idempotency_key=key)
            except Exception:
                log.exception("send failed")
                raise BadFrame("the message could not be stored; retry", frame.ref) from None
            self.push(c.ack_frame(frame.ref, message))

    async def _subscribe(self, frame: Frame) -> None:
        old = self.subs.pop(frame.channel, None)
        if old is not None:
            self.hub.remove(old)
        elif len(self.subs) >= c.MAX_SUBSCRIPTIONS:
            raise BadFrame(f"at most {c.MAX_SUBSCRIPTIONS} channels per connection", frame.ref)
        latest = await self.hub.latest(frame.channel)
        sub = Subscription(channel=frame.channel, user_id=self.user.id,
                           cursor=latest if frame.after is None else frame.after,
                           wake=self, max_queue=self.hub.max_queue)
        self.push(c.subscribed_frame(frame.channel, latest=latest,
                                     active_users=self.state.presence.active_users(frame.channel)))
        await self.hub.add(sub)
        self.subs[frame.channel] = sub  # no await since add: the writer sees it registered

    async def _write(self) -> None:
        """Send until nothing is left: the outbox first, then each subscription's messages."""
        try:
            while True:
                self._again = False
                await self._write_outbox()
                for sub in list(self.subs.values()):
                    batch = await sub.take(self.hub)
                    if batch:
                        await self._write_messages(sub, batch)
                    if sub.busy:
                        self._again = True
                if not (self._again or self.outbox):
                    return  # no await since the checks: a later set() starts a new writer
        finally:
            self._writer = None

    async def _write_outbox(self) -> None:
        counters = self.hub.counters
        while self.outbox:
            if self.frames.direct():  # every queued control frame in one write
                frames = [text_frame(f) for f in self.outbox]
                self.outbox.clear()
                self.frames.write_direct(frames)
                counters.frames_out += len(frames)
                counters.frames_direct += len(frames)
                return
            await self.frames.send_text(self.outbox.popleft())
            counters.frames_out += 1

    async def _write_messages(self, sub: Subscription, batch: list[Message]) -> None:
        """The batch's frames (built once per message for all its subscribers, rawsend.py)."""
        counters = self.hub.counters
        if self.subs.get(sub.channel) is not sub:
            return  # unsubscribed meanwhile
        if self.frames.direct():
            cache, channel = self.hub.frames, sub.channel
            self.frames.write_direct([cache.get(channel, m) for m in batch])
            counters.frames_out += len(batch)
            counters.frames_direct += len(batch)
            return
        for message in batch:
            if self.subs.get(sub.channel) is not sub:
                return
            await self.frames.send_text(c.message_frame(sub.channel, message))
            counters.frames_out += 1


@router.websocket(c.WS_PATH)
async def realtime_ws(ws: WebSocket) -> None:
    state: AppState = ws.app.state.svc
    hub: Hub = ws.app.state.realtime
    await ws.accept()  # a close before accept would be an HTTP 403, not the 4401 clients read
    user = await authenticate(state, token_from_scope(ws.scope))
    if user is None:
        await ws.close(code=c.CLOSE_BAD_TOKEN, reason="missing or invalid token")
        return
    hub.counters.ws_open += 1
    try:
        await Connection(ws, state=state, hub=hub, user=user).run()
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("websocket connection failed")
        with contextlib.suppress(Exception):
            await ws.close(code=1011)
    finally:
        hub.counters.ws_open -= 1


class WebSocketShortcut:
    """Serves :data:`WS_PATH` ahead of FastAPI's routing, dependency and middleware layers.

    Pure ASGI, added outermost: an idle connection otherwise keeps those layers' frames,
    exit stacks and wrapped ``send``/``receive`` alive for its whole life (about a quarter
    of its memory; see the README's measurements). Other scopes pass straight through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == c.WS_PATH:
            await realtime_ws(WebSocket(scope, receive, send))
        else:
            await self.app(scope, receive, send)
