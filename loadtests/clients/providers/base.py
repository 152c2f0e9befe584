"""The design's ``RealtimeProvider``: what a chat tab needs from any transport.

``subscribe(channel, callback)``, ``unsubscribe(channel)``, ``send(channel, data)``
exactly as the source design's section 7 plans them. Every transport hands its
callback the same :class:`Delivery` (messages exactly as a poll answer carries
them), so loss, duplicate and reorder checks and delivery latency are measured
the same way for polling, long-polling, SSE and WebSocket.

Two things a Locust tab needs beyond the design's three calls:

* a **clock hook** for polling: :meth:`RealtimeProvider.next_due_s` and
  :meth:`RealtimeProvider.tick` let the tab's one timer loop run the polls (no extra
  greenlet on the hot path); push providers return ``math.inf`` and run their own
  reader greenlets;
* **away hooks**: a hidden tab stops polling, an offline one also drops its push
  connections and resumes them when back (by ``after`` / ``Last-Event-ID``).

Providers never filter what the server sends (no de-duplication, no sorting): the
receiver's :class:`~loadtests.clients.loss.SeqTracker` must see the raw stream.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from loadtests.clients.names import SEND_NAME
from loadtests.clients.sends import IDEMPOTENCY_HEADER
from loadtests.targets.compiled import CompiledTarget, Request, Session, reference_target

Message = dict[str, Any]
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """Messages of one channel as one answer or frame brought them.

    ``start_after`` is set on the first delivery of a subscription: every message with
    a larger ``seq`` must then arrive exactly once (the receiver's loss window). On a
    target without ``seq`` the poller delivers every answer, empty ones too, with
    ``polled_ms`` and ``complete``: the marker path's loss window.
    ``resumed`` counts the messages of this delivery that a reconnect caught up.
    """

    channel: str
    messages: list[Message]
    recv_ms: float
    start_after: int | None = None
    resumed: int = 0
    polled_ms: float = 0.0  # when the request that brought it started (epoch ms)
    complete: bool = True  # not a full page: it held all that was there when polled


Callback = Callable[[Delivery], None]


@dataclass(slots=True)
class ConnectionGauge:
    """Push connections open in this process (shown in the run's live hash)."""

    open_now: int = 0


GAUGE = ConnectionGauge()


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What a provider gets from its tab: where, who, and how to report.

    ``fire(name, elapsed_ms, length, request_type, exception)`` adds a row to Locust's
    stats; ``count(field, n)`` bumps a run counter; ``reconnected(ms)`` records one
    time-to-reconnect sample; ``post(request, name)`` is the tab's own HTTP client for a
    compiled :class:`~loadtests.targets.compiled.Request` (status, body; status 0 when no
    answer came); ``sleep(s)`` is the tab's killable sleep (main greenlet only);
    ``poll_sample(t_ms, latency_ms, channel)`` records one chat poll's request latency.
    ``target``/``session``: the compiled target description and the tab's signed-up
    session (paths, fields, auth); the reference service's description by default.
    ``reconnect_every_s`` > 0 drops each connection after an exponential time with that
    mean, to prove the resume path.
    """

    host: str
    token: str
    rng: random.Random
    fire: Callable[..., None]
    count: Callable[[str, int], None]
    reconnected: Callable[[float], None]
    post: Callable[[Request, str], tuple[int, bytes]]
    sleep: Callable[[float], None]
    poll_sample: Callable[[float, float, str], None]
    reconnect_every_s: float = 0.0
    timeout_s: float = REQUEST_TIMEOUT_S
    target: CompiledTarget = field(default_factory=reference_target)
    session: Session | None = None  # None: a Bearer header with ``token``

    @property
    def auth(self) -> dict[str, str]:
        """Headers that present the tab's token (the description's header or cookie)."""
        if self.session is not None:
            return self.session.headers
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def tab_session(self) -> Session:
        return self.session or self.target.session(token=self.token)

    def drop_in_s(self) -> float:
        """How long the next connection lives before a forced drop (inf when disabled)."""
        return drop_in_s(rng=self.rng, mean_s=self.reconnect_every_s)


def drop_in_s(*, rng: random.Random, mean_s: float) -> float:
    """Exponential lifetime with mean ``mean_s`` seconds; ``inf`` for ``mean_s <= 0``."""
    return rng.expovariate(1.0 / mean_s) if mean_s > 0 else math.inf


class RealtimeProvider(ABC):
    """subscribe / unsubscribe / send, plus the tab's clock and away hooks (module doc)."""

    name: ClassVar[str]

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        self.notify: Callable[[dict[str, Any], float], None] | None = None

    def on_notification(self, callback: Callable[[dict[str, Any], float], None]) -> None:
        """Pushed notifications for the tab's user go to ``callback(notification, recv_ms)``.

        Only WebSocket pushes them; every tab also polls them (useNotifications).
        """
        self.notify = callback

    @abstractmethod
    def subscribe(self, channel: str, callback: Callback) -> None:
        """Start delivering ``channel``'s messages to ``callback``."""

    @abstractmethod
    def unsubscribe(self, channel: str) -> None:
        """Stop delivering ``channel``."""

    def send(self, channel: str, data: str) -> Message | None:
        """Post ``data`` to ``channel``: the committed message, or None on failure."""
        return self.send_attempt(channel, data, ref=None)[1]

    def send_attempt(
        self, channel: str, data: str, *, ref: str | None
    ) -> tuple[int, Message | None]:
        """One attempt of a send: (status, the committed message when accepted).

        Status 0 (:data:`~loadtests.clients.sends.NO_ANSWER`) when nothing came back, so
        the message may or may not be stored. ``ref`` is the send's idempotency key: a
        retry with the same ``ref`` gets the first message back, never a second one.
        Over HTTP (the target description's send request, ``Idempotency-Key``) for every
        transport but WebSocket (the frame's ref). The message is the answer's
        ``message`` (the reference service), else the whole answer; ``{}`` when the
        answer is not a JSON object.
        """
        request = self.ctx.target.send_request(channel=channel, content=data,
                                               session=self.ctx.tab_session)
        if ref is not None:
            request.headers[IDEMPOTENCY_HEADER] = ref
        status, body = self.ctx.post(request, SEND_NAME)
        if status not in request.expect_status:
            return status, None
        try:
            answer = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            answer = {}
        found = answer.get("message", answer) if isinstance(answer, dict) else {}
        return status, found if isinstance(found, dict) else {}

    def next_due_s(self) -> float:
        """When :meth:`tick` is next due (epoch s); ``inf`` for push transports."""
        return math.inf

    def tick(self) -> None:  # noqa: B027 - push transports have nothing to do here
        """One scheduled poll (polling only)."""

    def away(self, *, offline: bool) -> None:  # noqa: B027
        """The tab went hidden (``offline=False``) or offline; push drops only when offline."""

    def back(self, *, offline: bool) -> None:  # noqa: B027
        """The tab is visible / online again (after :meth:`away`)."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection and greenlet (the tab stops)."""
