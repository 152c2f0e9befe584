"""``pollcap probe``: check a target description against a live service, field by field.

Two tabs sign up, one posts twice, the other polls from an empty cursor and with the
described cursor; every mapping the description states is checked on the real
answers. Each check yields a :class:`Check` row (ok, failed with a one-line cause, or
skipped because the description does not declare it). Plain ``http.client``: the probe
runs outside Locust and gevent.
"""

from __future__ import annotations

import http.client
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from loadtests.targets.compiled import CompiledTarget, Request, Session, getter
from loadtests.targets.markers import Marker, parse_marker
from target_service.errors import UserError

CLOCK_SKEW_MS = 60_000.0  # a trusted created-at further from the probe's clock is wrong
TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool | None  # None: not declared, skipped
    detail: str


@dataclass(slots=True)
class Http:
    """One keep-alive connection to the target (loopback or --allow-remote host)."""

    host: str
    conn: http.client.HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.host)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        if not parts.hostname:
            raise UserError(f"--host {self.host!r} is not a URL such as http://127.0.0.1:8000")
        self.conn = cls(parts.hostname, parts.port, timeout=TIMEOUT_S)

    def send(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        try:
            self.conn.request(request.method, request.path, body=request.body,
                              headers=request.headers)
            resp = self.conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            raise UserError(f"cannot reach {self.host}: {exc}") from None

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return self.send(Request("GET", path, None, headers, (200,)))


@dataclass(slots=True)
class Probe:
    target: CompiledTarget
    http: Http
    run_id: str = field(default_factory=lambda: "probe" + secrets.token_hex(3))
    checks: list[Check] = field(default_factory=list)

    def check(self, name: str, ok: bool | None, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return bool(ok)

    def sign_up(self, label: str) -> Session | None:
        request = self.target.signup_request(name=f"{self.run_id}-{label}")
        if request is None:
            tokens = self.target.ready_tokens()
            if not tokens:
                self.check("auth: tokens file", False, "the tokens file holds no token")
                return None
            return self.target.session(token=tokens[0 if label == "a" else -1])
        status, _, body = self.http.send(request)
        if not self.check(f"sign-up ({label})", status in request.expect_status,
                          _status_detail(status, request, body)):
            return None
        try:
            session = self.target.session(answer=body)
        except (KeyError, ValueError) as exc:
            self.check("auth: token", False, f"{exc}: {_snippet(body)}")
            return None
        self.check("auth: token", True, f"found at '{self.target.description.auth.token_path}'")
        return session

    def poll(self, base: str, cursor: str | None, session: Session, what: str) -> Any:
        status, headers, body = self.http.get(self.target.poll_path(base, cursor), session.headers)
        if not self.check(what, status == 200,
                          "HTTP 200" if status == 200 else f"HTTP {status}: {_snippet(body)}"):
            return None
        header = self.target.interval_header
        hint = headers.get(header.lower()) if header else None
        try:
            return self.target.parse_poll(body, interval_header=None if hint is None
                                          else int(hint)), headers
        except (KeyError, TypeError, ValueError) as exc:
            self.check(f"{what}: answer", False, f"{exc}: {_snippet(body)}")
            return None

    def send(self, channel: str, session: Session, counter: int) -> Marker | None:
        marker = Marker(self.run_id, "a", counter, int(time.time() * 1000))
        request = self.target.send_request(channel=channel, content=f"{marker.text()} probe",
                                           session=session)
        status, _, body = self.http.send(request)
        ok = self.check(f"send #{counter}", status in request.expect_status,
                        _status_detail(status, request, body))
        return marker if ok else None


def run_probe(target: CompiledTarget, *, host: str) -> list[Check]:
    """Every check of the description against ``host`` (see the module docstring)."""
    probe = Probe(target=target, http=Http(host))
    steps: list[Callable[[Probe], bool]] = [_chat_checks, _notification_checks]
    for step in steps:
        step(probe)
    return probe.checks


def _chat_checks(probe: Probe) -> bool:
    target = probe.target
    writer, reader = probe.sign_up("a"), probe.sign_up("b")
    if writer is None or reader is None:
        return False
    channel = f"{probe.run_id}-room"
    base = target.poll_base(channel=channel, limit=50, session=reader)
    first = probe.poll(base, None, reader, "poll (no cursor)")
    if first is None:
        return False
    probe.check("poll: message list", True,
                f"'{target.description.poll.messages_path}': {len(first[0].messages)} message(s)")
    cursor = first[0].next_cursor or target.description.poll.cursor_start
    sent = [m for m in (probe.send(channel, writer, 1), probe.send(channel, writer, 2)) if m]
    if len(sent) < 2:
        return False
    answer = probe.poll(base, cursor, reader, "poll (after sends)")
    if answer is None:
        return False
    _message_checks(probe, answer[0].messages, sent, answer[0])
    _hint_checks(probe, answer[0])
    again = probe.poll(base, answer[0].next_cursor, reader, "poll (next cursor)")
    if again is not None:
        repeats = [m for m in again[0].messages
                   if parse_marker(target.content(m), run_id=probe.run_id)]
        probe.check("cursor: no repeats", not repeats and answer[0].next_cursor is not None,
                    "the next cursor returned nothing already seen" if not repeats else
                    f"{len(repeats)} message(s) came back again after cursor "
                    f"{answer[0].next_cursor!r}: is '{target.description.poll.cursor_from}' "
                    "the right cursor?")
    return True


def _message_checks(probe: Probe, messages: list[Any], sent: list[Marker], answer: Any) -> None:
    target, poll = probe.target, probe.target.description.poll
    ours = [(m, parse_marker(target.content(m), run_id=probe.run_id)) for m in messages]
    found = [(m, k) for m, k in ours if k is not None]
    if not probe.check("messages: both sends found", len(found) == len(sent),
                       f"{len(found)} of {len(sent)} sent messages in the answer "
                       f"(content field '{poll.content_field}')"):
        return
    ids = [m.get(poll.id_field) for m, _ in found]
    probe.check("messages: id field", all(i is not None for i in ids) and len(set(map(str, ids)))
                == len(ids), f"'{poll.id_field}': {ids}")
    probe.check("messages: order", [k.counter for _, k in found] == [1, 2],
                "oldest first" if [k.counter for _, k in found] == [1, 2] else
                "the answer lists messages newest first; pollcap expects oldest first")
    _created_at_check(probe, found)
    if poll.seq_field is None:
        probe.check("messages: seq", None, "not declared: loss is found from send markers")
        return
    seqs = [m.get(poll.seq_field) for m, _ in found]
    probe.check("messages: seq", all(isinstance(s, int) for s in seqs) and
                seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs and
                isinstance(seqs[0], int) else False,
                f"'{poll.seq_field}': {seqs} (must be contiguous integers per channel)")


def _created_at_check(probe: Probe, found: list[Any]) -> None:
    poll = probe.target.description.poll
    try:
        created = [probe.target.created_ms(m) for m, _ in found]
    except (TypeError, ValueError, KeyError) as exc:
        probe.check("messages: created-at", False,
                    f"'{poll.created_at_field}' is not {poll.created_at_format}: {exc}")
        return
    skew = max(abs(c - k.sent_ms) for c, (_, k) in zip(created, found, strict=True))
    if poll.created_at_trusted:
        probe.check("messages: created-at", skew <= CLOCK_SKEW_MS,
                    f"{poll.created_at_format}, {skew:.0f} ms from the send time"
                    + ("" if skew <= CLOCK_SKEW_MS else
                       f": wrong format or unit? (allowed {CLOCK_SKEW_MS:.0f} ms)"))
    else:
        probe.check("messages: created-at", True,
                    f"parses as {poll.created_at_format}; not trusted: latency from markers")


def _hint_checks(probe: Probe, answer: Any) -> None:
    poll = probe.target.description.poll
    for label, where, value in (("active users", poll.active_users, answer.active_users),
                                ("interval hint", poll.interval_hint, answer.interval_ms)):
        if where is None:
            probe.check(f"poll: {label}", None, "not declared")
        else:
            probe.check(f"poll: {label}", value is not None and value >= 0,
                        f"'{where}' = {value}" if value is not None else f"'{where}' missing")


def _notification_checks(probe: Probe) -> bool:
    spec = probe.target.description.notifications
    if spec is None:
        probe.check("notifications", None, "not declared")
        return True
    session = probe.sign_up("n")
    if session is None:
        return False
    request = probe.target.request(spec.unread, {}, session=session)
    status, _, body = probe.http.send(request)
    if not probe.check("notifications: unread", status == 200, f"HTTP {status}: {_snippet(body)}"):
        return False
    try:
        listed = orjson.loads(body)
    except orjson.JSONDecodeError:
        listed = None
    items = getter(spec.list_path)(listed)
    count = len(items) if isinstance(items, list) else "missing"
    return probe.check("notifications: list", isinstance(items, list),
                       f"'{spec.list_path}': {count}")


def _status_detail(status: int, request: Request, body: bytes) -> str:
    if status in request.expect_status:
        return f"HTTP {status}"
    expected = " or ".join(str(s) for s in request.expect_status)
    return f"HTTP {status}, expected {expected}: {_snippet(body)}"


def _snippet(body: bytes, limit: int = 120) -> str:
    text = body.decode("utf-8", "replace").replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
