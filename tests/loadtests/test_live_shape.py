"""The live (knee) shape reads its next count from real Valkey, within its own caps."""

from __future__ import annotations

import redis

from analysis.capacity.knee_loop import KneeSettings
from analysis.capacity.ramp import make_plan
from loadtests.live_shape import LiveTarget, parse_next_users, publish_next_users
from loadtests.recording.keys import run_next_users_key
from loadtests.shapes import live_bounds, parse_shape
from target_service.embedded.stack import StackInfo


def test_the_shape_holds_obeys_and_stops_on_the_runners_key(clean_backends: StackInfo) -> None:
    client = redis.Redis.from_url(clean_backends.redis_url)
    try:
        target = LiveTarget(client=client, run_id="knee-a", start_users=50, max_users=400,
                            max_s=60.0)
        assert target.users(elapsed_s=1.0) == 50  # no key yet: hold the start
        publish_next_users(client, run_id="knee-a", users=300)
        assert target.users(elapsed_s=2.0) == 300
        client.set(run_next_users_key(run_id="knee-a"), "garbage")
        assert target.users(elapsed_s=3.0) == 300  # a bad value: hold what it was told
        publish_next_users(client, run_id="knee-a", users=5000)
        assert target.users(elapsed_s=4.0) == 400  # never above its own max
        other = LiveTarget(client=client, run_id="knee-b", start_users=10, max_users=20,
                           max_s=60.0)
        assert other.users(elapsed_s=4.0) == 10  # keys are scoped by run
        publish_next_users(client, run_id="knee-a", users=None)
        assert target.users(elapsed_s=5.0) is None
        assert 0 < client.ttl(run_next_users_key(run_id="knee-a")) <= 24 * 3600
    finally:
        client.close()


def test_the_time_cap_holds_even_when_the_runner_is_gone(clean_backends: StackInfo) -> None:
    client = redis.Redis.from_url(clean_backends.redis_url)
    try:
        publish_next_users(client, run_id="knee-c", users=200)
        target = LiveTarget(client=client, run_id="knee-c", start_users=50, max_users=400,
                            max_s=30.0)
        assert target.users(elapsed_s=29.0) == 200
        assert target.users(elapsed_s=30.0) is None  # whatever the key still says
    finally:
        client.close()
    # a Redis that is gone: hold the count, the time cap still ends the test
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    held = LiveTarget(client=dead, run_id="knee-d", start_users=70, max_users=400, max_s=10.0)
    assert held.users(elapsed_s=1.0) == 70 and held.users(elapsed_s=10.0) is None


def test_the_capacity_runners_spec_parses_into_one_capped_stage() -> None:
    spec = KneeSettings(max_users=9000).shape_spec(make_plan(quick=False, knee=True))
    assert live_bounds(spec, users=9000) == (500, 9000)
    (stage,) = parse_shape(spec, users=9000, spawn_rate=500.0, duration_s=140.0)
    assert stage.end_s == 140.0 and stage.users == 500
    assert parse_next_users(b" 12 ", current=5, max_users=10) == 10
    assert parse_next_users(b"0", current=5, max_users=10) == 5
