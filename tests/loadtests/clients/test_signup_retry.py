"""The sign-up's retry rules (``loadtests/clients/signup_retry.py``), without Locust."""

from __future__ import annotations

import random

import pytest

from loadtests.clients.signup_retry import (
    FIRST_DELAY_S,
    MAX_DELAY_S,
    SIGN_UP_BUDGET_S,
    SIGN_UP_MAX_ATTEMPTS,
    sign_up_delay_s,
    sign_up_verdict,
)


@pytest.mark.parametrize("status", [0, 429, 502, 503, 504])
def test_overload_is_retried_and_no_error_until_the_last_attempt(status: int) -> None:
    last = SIGN_UP_MAX_ATTEMPTS - 1
    for attempt in range(last):
        verdict = sign_up_verdict(status=status, attempt=attempt, elapsed_s=1.0)
        assert verdict.retry and not verdict.error
    final = sign_up_verdict(status=status, attempt=last, elapsed_s=1.0)
    assert not final.retry and final.error


def test_overload_past_the_time_budget_gives_up_as_an_error() -> None:
    verdict = sign_up_verdict(status=503, attempt=0, elapsed_s=SIGN_UP_BUDGET_S)
    assert not verdict.retry and verdict.error


def test_a_500_is_retried_but_counts_as_an_error() -> None:
    verdict = sign_up_verdict(status=500, attempt=0, elapsed_s=0.0)
    assert verdict.retry and verdict.error


@pytest.mark.parametrize("status", [400, 401, 409, 413, 422])
def test_bad_input_is_not_retried(status: int) -> None:
    verdict = sign_up_verdict(status=status, attempt=0, elapsed_s=0.0)
    assert not verdict.retry and verdict.error


def test_delays_grow_to_their_cap_and_are_spread() -> None:
    rng = random.Random(5)
    for attempt in range(SIGN_UP_MAX_ATTEMPTS):
        backoff_s = min(FIRST_DELAY_S * 2**attempt, MAX_DELAY_S)
        delays = [sign_up_delay_s(attempt=attempt, rng=rng) for _ in range(500)]
        assert backoff_s * 0.5 <= min(delays) and max(delays) <= backoff_s * 1.5
        assert max(delays) - min(delays) > backoff_s * 0.8  # a burst is not sent back as one
    first = [sign_up_delay_s(attempt=0, rng=rng) for _ in range(500)]
    assert sum(first) / len(first) >= FIRST_DELAY_S * 0.9  # ~ the service's Retry-After
