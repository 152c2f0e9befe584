"""Client frames: each bad frame names what is wrong (pure; no server needed)."""

from __future__ import annotations

import pytest

from target_service.realtime.frames import BadFrame, Frame, parse_frame


@pytest.mark.parametrize(("text", "expected"), [
    ('{"op":"ping"}', Frame(op="ping")),
    ('{"op":"subscribe","channel":"c-1","after":null}', Frame(op="subscribe", channel="c-1")),
    ('{"op":"subscribe","channel":"c","after":7,"ref":"s"}',
     Frame(op="subscribe", channel="c", after=7, ref="s")),
    ('{"op":"unsubscribe","channel":"c"}', Frame(op="unsubscribe", channel="c")),
    ('{"op":"send","channel":"c","content":"hi","ref":"r"}',
     Frame(op="send", channel="c", content="hi", ref="r")),
])
def test_good_frames(text: str, expected: Frame) -> None:
    assert parse_frame(text) == expected


@pytest.mark.parametrize(("text", "detail", "ref"), [
    ("{", "not JSON", None),
    ("3", "JSON object", None),
    ('{"op":"x","ref":"r9"}', "unknown op", "r9"),
    ('{"op":"subscribe","channel":"' + "c" * 65 + '"}', "channel", None),
    ('{"op":"subscribe","channel":"c","after":true}', "after", None),
    ('{"op":"subscribe","channel":"c","after":1.5}', "after", None),
    ('{"op":"send","channel":"c","content":"x","ref":""}', "ref", ""),
    ('{"op":"send","channel":"c","content":"' + "x" * 4001 + '","ref":"r"}', "content", "r"),
    ('{"op":"send","channel":"c","content":7,"ref":"r"}', "content", "r"),
])
def test_bad_frames_say_why(text: str, detail: str, ref: str | None) -> None:
    with pytest.raises(BadFrame) as caught:
        parse_frame(text)
    assert detail in caught.value.detail
    assert caught.value.ref == ref
