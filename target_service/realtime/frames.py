"""Validation of client -> server WebSocket frames: pure, one readable error per bad frame."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from target_service.realtime.contract import CHANNEL_RE, MAX_CONTENT_CHARS, MAX_REF_CHARS


class BadFrame(Exception):
    def __init__(self, detail: str, ref: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.ref = ref


@dataclass(frozen=True, slots=True)
class Frame:
    op: str
    ref: str | None = None
    channel: str = ""
    after: int | None = None
    content: str = ""


OPS = ("subscribe", "unsubscribe", "send", "ping")


def parse_frame(text: str) -> Frame:
    """A valid frame, or :class:`BadFrame` with what is wrong (and the ref, if readable)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadFrame("frame is not JSON") from None
    if not isinstance(data, dict):
        raise BadFrame("frame must be a JSON object")
    ref = data.get("ref")
    ref = ref if isinstance(ref, str) and len(ref) <= MAX_REF_CHARS else None
    op = data.get("op")
    if op not in OPS:
        raise BadFrame(f"unknown op {op!r}; expected one of {', '.join(OPS)}", ref)
    if op == "ping":
        return Frame(op="ping", ref=ref)
    channel = data.get("channel")
    if not isinstance(channel, str) or not CHANNEL_RE.match(channel):
        raise BadFrame("channel must match [A-Za-z0-9_-]{1,64}", ref)
    if op == "unsubscribe":
        return Frame(op=op, ref=ref, channel=channel)
    if op == "subscribe":
        return Frame(op=op, ref=ref, channel=channel, after=_after(data.get("after"), ref))
    return _send(data, channel, ref)


def _after(after: object, ref: str | None) -> int | None:
    if after is None:
        return None
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 10**18:
        raise BadFrame("after must be a seq (an integer >= 0) or null", ref)
    return after


def _send(data: dict[str, object], channel: str, ref: str | None) -> Frame:
    raw_ref = data.get("ref")
    if not isinstance(raw_ref, str) or not 1 <= len(raw_ref) <= MAX_REF_CHARS:
        raise BadFrame(f"send needs a ref (a string of 1..{MAX_REF_CHARS} characters)", ref)
    content = data.get("content")
    if not isinstance(content, str) or not content.strip() or len(content) > MAX_CONTENT_CHARS:
        raise BadFrame(f"content must be a non-blank string of at most {MAX_CONTENT_CHARS}"
                       " characters", ref)
    return Frame(op="send", ref=raw_ref, channel=channel, content=content)
