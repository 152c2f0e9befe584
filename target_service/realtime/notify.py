"""Notifications pushed to connected users, across workers through Redis pub/sub.

The notification route publishes ``{userId} {json}`` on :data:`CHANNEL` after the row is
committed; every worker's listener hands it to that user's open connections. Delivery is
best effort (a push transport's user still has ``GET /api/notifications/unread``, which
is the truth): a listener that was disconnected from Redis misses what was published
meanwhile, as the design's 10 s notification poll would have picked it up anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import orjson

from target_service.realtime.contract import notification_frame
from target_service.state import AppState
from target_service.store.backends import RedisDown

CHANNEL = "realtime:notifications"
RETRY_S = 1.0
log = logging.getLogger("pollcap.realtime")

Push = Callable[[bytes], None]


async def publish(state: AppState, *, user_id: int, notification: dict[str, Any]) -> None:
    payload = b"%d %b" % (user_id, orjson.dumps(notification))
    try:
        await state.redis.call(lambda r: r.publish(CHANNEL, payload))
    except RedisDown:
        pass  # best effort: the unread poll still has it


class NotificationPushes:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.by_user: dict[int, set[Push]] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, user_id: int, push: Push) -> None:
        self.by_user.setdefault(user_id, set()).add(push)

    def discard(self, user_id: int, push: Push) -> None:
        found = self.by_user.get(user_id)
        if found is not None:
            found.discard(push)
            if not found:
                del self.by_user[user_id]

    def deliver(self, data: bytes) -> None:
        user, _, body = data.partition(b" ")
        for push in list(self.by_user.get(int(user), ())):
            push(notification_frame(body))

    async def _listen(self) -> None:
        while True:
            pubsub = self.state.redis.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                while True:
                    item = await pubsub.get_message(timeout=1.0)
                    if item is not None and item.get("type") == "message":
                        self.deliver(item["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("notification listener: %s; resubscribing", exc)
                await asyncio.sleep(RETRY_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, 2)
