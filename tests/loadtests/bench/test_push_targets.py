"""The push bench's targets: each measured figure beside its bound, pass/fail and ratio."""

from __future__ import annotations

import pytest

from loadtests.bench.push import reconnect_mean_s
from loadtests.bench.push_hold import post_schedule, slope_kib, zipf_channels
from loadtests.bench.push_targets import PushTargets, polling_floor_ratio, targets_text, verdict


def swarm(p50: float, p99: float, **extra: float) -> dict:
    return {"users": 1000, "delivery_steady_ms": {"p50": p50, "p99": p99},
            "delivery_ms": {"p50": 999.0, "p99": 999.0}, "poll_ms": {"p50": 10.0},
            "lost": 0, "duplicated": 0, "forced_drops": 0, **extra}


def by_name(doc: dict) -> dict[str, dict]:
    return {row["name"]: row for row in doc["targets"]}


def test_latency_targets_read_the_steady_part_per_transport() -> None:
    doc = verdict({"latency": {"websocket": swarm(12.0, 80.0), "sse": swarm(25.0, 60.0),
                               "long-poll": swarm(40.0, 200.0),
                               "polling": swarm(1060.0, 1900.0)}})
    rows = by_name(doc)
    assert rows["websocket delivery p50 ms (1,000 users)"]["ok"]
    assert rows["websocket delivery p50 ms (1,000 users)"]["ratio"] == 0.6
    assert not rows["sse delivery p50 ms (1,000 users)"]["ok"]  # 25 > 20
    assert rows["sse delivery p99 ms (1,000 users)"]["ok"]
    assert rows["long-poll delivery p50 ms (1,000 users)"]["ok"]
    floor = rows["polling p50 / floor T/2+resp (1,000 users)"]
    assert floor["measured"] == round(1060 / (1000 + 10), 3) and floor["ok"]
    assert doc["ok"] is False
    assert "MISSED" in targets_text(doc) and "0.600" in targets_text(doc)


def test_polling_far_above_its_floor_misses() -> None:
    ratio = polling_floor_ratio(swarm(1500.0, 1900.0), interval_ms=2000)
    assert ratio is not None and ratio > 1.2
    doc = verdict({"latency": {"polling": swarm(1500.0, 1900.0)}})
    assert doc["ok"] is False
    assert polling_floor_ratio({"delivery_ms": {}, "poll_ms": {}}, interval_ms=2000) is None


def test_resume_needs_enough_drops_and_no_loss_or_duplicate() -> None:
    good = swarm(10, 20, forced_drops=1800)
    short = swarm(10, 20, forced_drops=400)
    lossy = {**swarm(10, 20, forced_drops=1800), "lost": 1}
    rows = by_name(verdict({"resume": {"websocket": good, "sse": short, "polling": lossy}}))
    assert rows["websocket forced reconnects"]["ok"]
    assert rows["websocket lost + duplicated"]["ok"]
    assert not rows["sse forced reconnects"]["ok"]
    assert not rows["polling lost + duplicated"]["ok"]


def test_hold_longpoll_and_locust_rows_and_unmeasured_is_missed() -> None:
    figures = {"hold": {"held": 10001.0, "p95_ms": 180.0, "kib_per_connection": 22.9},
               "longpoll": {"held": 4999.0}, "locust_ws": {"connections_peak": 10000}}
    rows = by_name(verdict(figures))
    assert rows["WebSockets held by one service worker"]["ok"]
    assert rows["p95 delivery ms at that hold"]["ratio"] == 0.72
    assert rows["service KiB per idle WebSocket (RSS slope)"]["ok"]
    assert not rows["long-polls held by one service worker"]["ok"]
    assert rows["WebSocket users held by one Locust process"]["ok"]
    unmeasured = by_name(verdict({"hold": {"held": None}}))
    assert not unmeasured["WebSockets held by one service worker"]["ok"]
    assert verdict({})["ok"] is False  # nothing measured passes nothing


def test_custom_targets_move_the_verdict() -> None:
    figures = {"hold": {"held": 2000.0, "p95_ms": 100.0, "kib_per_connection": 10.0}}
    assert not verdict(figures)["ok"]
    assert verdict(figures, targets=PushTargets(min_ws_held=2000))["ok"]


def test_helpers_skew_schedule_slope_and_drop_rate() -> None:
    channels = zipf_channels(n=10_000, channels=100, skew=1.0, seed=1)
    counts = [channels.count(c) for c in (0, 1, 99)]
    assert counts[0] > counts[1] > counts[2]  # rank 1 ~ 19%, rank 100 ~ 0.2%
    assert 1700 < counts[0] < 2100
    schedule = post_schedule(channels=100, every_s=60, span_s=60, seed=1)
    assert len(schedule) == 100 and sorted({c for _, c in schedule}) == list(range(100))
    assert slope_kib([(0, 0), (1000, 20 * 1024 * 1000)]) == pytest.approx(20.0)
    assert reconnect_mean_s(users=1000, duration_s=60, min_reconnects=1000) == 30.0


def test_locust_ws_spawns_one_more_user_for_the_producer() -> None:
    """PRODUCERS mirrors the producer's fixed_count (not imported: Locust monkey-patches)."""
    import ast
    from pathlib import Path

    from loadtests.bench import push

    source = Path(push.__file__).parents[1] / "clients" / "producer.py"
    counts = [node.value.value for node in ast.walk(ast.parse(source.read_text()))
              if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
              and any(getattr(t, "id", None) == "fixed_count" for t in node.targets)]
    assert counts == [push.PRODUCERS]
