"""The polling-vs-push break-even from unit costs: closed forms checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.model.breakeven import (
    PollingUnits,
    PushUnits,
    breakeven_interval_s,
    region_in_words,
    serverless_breakeven_interval_s,
)
from analysis.model.pricing import Usage, default_tables, estimate

# 400 µs per request, 2 requests per 2 s interval (chat + notifications)
POLL = PollingUnits(core_s_per_request=400e-6, requests_per_interval=2.0, interval_s=2.0,
                    response_ms=12.0)
# 20 µcores per user at 0.6 messages/min
PUSH = PushUnits(transport="websocket", cores_per_user=20e-6, deliveries_per_user_min=0.6)


def test_per_connection_split_gives_one_interval_whatever_the_rate() -> None:
    t = breakeven_interval_s(POLL, PUSH, messages_per_user_min=np.array([0.1, 10.0]),
                             split="per_connection")
    # polling spends 400e-6 * 2 / T cores per user: equal to 20e-6 at T = 40 s
    assert t == pytest.approx([40.0, 40.0])


def test_per_message_split_scales_inversely_with_the_rate() -> None:
    t = breakeven_interval_s(POLL, PUSH, messages_per_user_min=np.array([0.6, 6.0, 60.0]),
                             split="per_message")
    assert t == pytest.approx([40.0, 4.0, 0.4])  # at m0 both splits agree
    with pytest.raises(ValueError):
        breakeven_interval_s(POLL, PUSH, messages_per_user_min=1.0, split="guess")


def test_no_push_cost_measured_means_no_breakeven() -> None:
    free = PushUnits(transport="sse", cores_per_user=0.0, deliveries_per_user_min=0.0)
    assert math.isnan(float(breakeven_interval_s(POLL, free, messages_per_user_min=1.0,
                                                 split="per_message")))
    assert region_in_words(POLL, free).startswith("No break-even")


def test_words_name_the_sure_region_and_the_uncertain_band() -> None:
    words = region_in_words(POLL, PUSH, rates_per_user_min=(6.0,))
    # per connection: 40 s; per message at 6/min: 4 s -> polling surely cheaper from 40 s
    assert "at 6 messages/min per user, polling every 40 s or slower" in words
    assert "between 4.0 s and 40 s it depends on it" in words


def test_serverless_breakeven_equates_the_two_bills() -> None:
    tables = {t.model: t for t in default_tables()}
    http, ws = tables["lambda_http"], tables["apigw_websocket"]
    t_star = serverless_breakeven_interval_s(POLL, http=http, websocket=ws,
                                             messages_per_user_min=3.0, sends_per_user_s=0.01)
    poll_bill = estimate(http, Usage(requests_per_user_s=POLL.requests_per_interval / t_star,
                                     response_ms=POLL.response_ms)).per_1000_users_month_usd
    push_bill = estimate(ws, Usage(requests_per_user_s=0.0, response_ms=0.0,
                                   sends_per_user_s=0.01,
                                   deliveries_per_user_s=3.0 / 60)).per_1000_users_month_usd
    assert poll_bill == pytest.approx(push_bill, rel=1e-9)
