"""The one duration format: parsing, formatting, and the round trip between them."""

from __future__ import annotations

import pytest

from loadtests.durations import format_duration, parse_duration_s
from target_service.errors import UserError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("1m30s", 90.0), ("2m", 120.0), ("2h", 7200.0), ("0.5s", 0.5)],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "m", "5m3", "1..5s", "-3s"])
def test_bad_durations_are_user_errors_that_show_the_format(text: str) -> None:
    with pytest.raises(UserError, match="duration"):
        parse_duration_s(text)


@pytest.mark.parametrize("seconds", [0.5, 1.0, 30.0, 59.0, 90.0, 120.0, 3600.0, 5400.0])
def test_format_round_trips(seconds: float) -> None:
    assert parse_duration_s(format_duration(seconds)) == seconds
    assert format_duration(120.0) == "2m" and format_duration(90.0) == "90s"
