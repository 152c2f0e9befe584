"""Each shipped price table, on usages whose bills are worked out by hand below."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analysis.model.pricing import (
    Usage,
    default_tables,
    estimate,
    keepalive_rate_s,
    load_price_table,
)
from target_service.errors import UserError

MONTH_S = 2_592_000  # 30 days


def _table(name: str):  # noqa: ANN202
    return {t.name: t for t in default_tables()}[name]


def test_every_shipped_table_names_its_sources_and_date() -> None:
    tables = default_tables()
    assert {t.model for t in tables} == {"lambda_http", "apigw_websocket", "durable_objects",
                                         "instances"}
    for t in tables:
        assert t.sources and all(s.startswith("https://") for s in t.sources)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", t.checked)
        assert "not re-checked live" in t.checked_note.lower()  # honest about provenance


def test_lambda_http_bills_requests_duration_and_gateway() -> None:
    # 1,000 users x 0.5 req/s x 30 days = 1.296e9 requests; 20 ms at 128 MB each
    est = estimate(_table("aws-lambda-http"), Usage(requests_per_user_s=0.5, response_ms=20.0))
    assert est.items["lambda requests"] == pytest.approx(1296 * 0.20)
    assert est.items["lambda duration"] == pytest.approx(1.296e9 * 0.02 * 0.125 * 0.0000166667)
    assert est.items["api gateway http"] == pytest.approx(1296 * 1.00)
    assert est.per_1000_users_month_usd == pytest.approx(259.2 + 54.0 + 1296.0, rel=1e-4)
    big = estimate(_table("aws-lambda-http"),
                   Usage(requests_per_user_s=0.5, response_ms=20.0, request_kb=600))
    assert big.items["api gateway http"] == pytest.approx(2 * 1296.0)  # two 512 KB units


def test_websocket_bills_messages_connection_minutes_reconnects_and_keepalives() -> None:
    table = _table("aws-apigw-websocket")
    busy = estimate(table, Usage(requests_per_user_s=0, response_ms=0, sends_per_user_s=0.01,
                                 deliveries_per_user_s=0.09))
    assert busy.items["messages"] == pytest.approx(1000 * MONTH_S * 0.1 / 1e6)
    assert busy.items["connection minutes"] == pytest.approx(1000 * 43_200 * 0.25 / 1e6)
    assert busy.items["reconnects"] == pytest.approx(1000 * MONTH_S / 7200 / 1e6)
    assert busy.items["keepalives"] < 1e-12  # a message every 10 s: never idle for 9 min
    idle = estimate(table, Usage(requests_per_user_s=0, response_ms=0))
    assert idle.items["messages"] == 0
    assert idle.items["keepalives"] == pytest.approx(1000 * MONTH_S / 540 / 1e6)
    large = estimate(table, Usage(requests_per_user_s=0, response_ms=0, sends_per_user_s=0.1,
                                  message_kb=40))
    assert large.items["messages"] == pytest.approx(2 * 1000 * MONTH_S * 0.1 / 1e6)


def test_keepalive_rate_falls_from_one_per_period_as_traffic_grows() -> None:
    assert keepalive_rate_s(traffic_per_s=0, keepalive_s=540) == pytest.approx(1 / 540)
    rates = [keepalive_rate_s(traffic_per_s=r, keepalive_s=540) for r in (1e-5, 1e-3, 1e-2)]
    assert rates[0] == pytest.approx(1 / 540, rel=0.01)
    assert rates[0] > rates[1] > rates[2] > 0


def test_durable_objects_bill_incoming_messages_twenty_to_one_and_handler_time() -> None:
    est = estimate(_table("cloudflare-durable-objects"),
                   Usage(requests_per_user_s=0, response_ms=0, sends_per_user_s=0.01,
                         deliveries_per_user_s=0.5))
    requests = 1000 * MONTH_S * 0.01 / 20 + 1000 * 4 * 30
    assert est.items["requests"] == pytest.approx(requests * 0.15 / 1e6)
    assert est.items["duration"] == pytest.approx(1000 * MONTH_S * 0.01 * 0.010 * 0.125
                                                  * 12.5 / 1e6)
    assert est.fixed_month_usd == 5.0  # reported apart, not per user


def test_self_hosted_scales_instances_and_nodes_linearly() -> None:
    est = estimate(_table("self-hosted"),
                   Usage(requests_per_user_s=0.5, response_ms=20, users_per_instance=3000,
                         redis_nodes_per_user=1e-5, pg_nodes_per_user=2e-5))
    assert est.items["service instances"] == pytest.approx(1000 / 3000 * 0.0725 * 720)
    assert est.items["redis nodes"] == pytest.approx(0.01 * 0.158 * 720)
    assert est.items["postgresql nodes"] == pytest.approx(0.02 * 0.168 * 720)
    unknown = estimate(_table("self-hosted"), Usage(requests_per_user_s=0.5, response_ms=20))
    assert unknown.per_1000_users_month_usd is None  # no capacity measured: no figure


def test_a_users_own_table_in_json_is_read_and_bad_ones_are_one_line_errors(
        tmp_path: Path) -> None:
    own = tmp_path / "mine.json"
    own.write_text(json.dumps({"name": "mine", "model": "instances", "sources": "https://x.test",
                               "checked": "2026-11-30", "prices": {
                                   "instance_hour_usd": 1.0, "redis_node_hour_usd": 0,
                                   "pg_node_hour_usd": 0}}))
    est = estimate(load_price_table(own), Usage(requests_per_user_s=1, response_ms=1,
                                                users_per_instance=1000))
    assert est.per_1000_users_month_usd == pytest.approx(720.0)
    bad = tmp_path / "bad.toml"
    for text, message in [("name = 'x'", "lacks model, prices, sources, checked"),
                          ("name='x'\nmodel='nope'\nsources=[]\nchecked='d'\n[prices]\n",
                           "unknown model 'nope'"),
                          ("name='x'\nmodel='instances'\nsources=[]\nchecked='d'\n[prices]\n"
                           "instance_hour_usd=-1\n", "lacks prices redis_node_hour_usd"),
                          ("name = [", "not valid TOML/JSON")]:
        bad.write_text(text)
        with pytest.raises(UserError, match=message):
            load_price_table(bad)
    with pytest.raises(UserError, match="does not exist"):
        load_price_table(tmp_path / "absent.toml")
