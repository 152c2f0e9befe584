"""The recorder against a real Redis: member formats, no merging, counters, read-back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from loadtests.recording.keys import (
    LIVE_POLLS_PREFIX,
    live_polls_field,
    run_counters_key,
    run_live_key,
    samples_key,
)
from loadtests.recording.recorder import Recorder
from loadtests.recording.samples import percentiles_ms, read_counters, read_samples
from target_service.embedded.stack import StackInfo

RUN = "t-rec"


@pytest.fixture
def client(clean_backends: StackInfo) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(clean_backends.redis_url)
    yield r
    r.close()


def test_samples_land_in_sorted_sets_with_unique_members(
    clean_backends: StackInfo, client: redis.Redis
) -> None:
    rec = Recorder(redis_url=clean_backends.redis_url, run_id=RUN)
    for n in (1, 2):  # equal latencies of one user must stay two samples
        rec.poll(t_ms=1000.0 + n, user="42", n=n, latency_ms=3.5, channel="c1")
    rec.message(t_ms=2000.0, user="42", n=1, latency_ms=812.25, channel="c1", seq=7)
    rec.notification(t_ms=3000.0, user="42", n=1, latency_ms=4000.0)
    rec.count("polls", 2)
    rec.count("lost", 3)
    rec.count("lost", -1)
    assert rec.flush() == 4

    polls: Any = client.zrange(samples_key(run_id=RUN, sample_type="poll"), 0, -1, withscores=True)
    assert [(m.decode(), s) for m, s in polls] == [
        ("42:1:3.500:c1", 1001.0),
        ("42:2:3.500:c1", 1002.0),
    ]
    messages: Any = client.zrange(samples_key(run_id=RUN, sample_type="message"), 0, -1)
    (message,) = messages
    assert re.fullmatch(rb"42:1:812\.250:c1:7", message)
    assert client.zcard(samples_key(run_id=RUN, sample_type="notification")) == 1
    assert client.hget(run_counters_key(run_id=RUN), "lost") == b"2"

    counters = read_counters(client, run_id=RUN)
    assert counters["polls"] == 2 and counters["duplicated"] == 0
    back = read_samples(client, run_id=RUN, sample_type="message")
    assert back["user"].tolist() == ["42"] and back["channel"].tolist() == ["c1"]
    assert back["seq"].tolist() == [7] and back["latency_ms"].tolist() == [812.25]


def test_flush_with_nothing_is_a_no_op(clean_backends: StackInfo, client: redis.Redis) -> None:
    rec = Recorder(redis_url=clean_backends.redis_url, run_id=RUN)
    assert rec.flush() == 0
    assert client.dbsize() == 0


def test_unreachable_redis_keeps_samples_for_the_next_flush() -> None:
    rec = Recorder(redis_url="redis://127.0.0.1:1/0", run_id=RUN)
    rec.poll(t_ms=1.0, user="u", n=1, latency_ms=1.0, channel="c")
    rec.count("polls")
    assert rec.flush() == 0
    assert len(rec._polls) == 1 and len(rec._unacked) == 1  # the counters' batch, kept


def test_a_batch_redis_applied_but_did_not_answer_counts_once(
    clean_backends: StackInfo, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply of a flush is lost after Redis applied it: the re-sent batch adds nothing."""
    from loadtests.recording import recorder as recorder_module

    real_ship = recorder_module.resp.ship

    def ship_then_lose_the_reply(conn: redis.Redis, commands: list[bytes]) -> None:
        real_ship(conn, commands)
        raise redis.ConnectionError("reply lost")

    rec = Recorder(redis_url=clean_backends.redis_url, run_id=RUN, process="p1")
    rec.poll(t_ms=1.0, user="u", n=1, latency_ms=1.0, channel="c")
    rec.count("polls")
    rec.count("lost", 2)
    monkeypatch.setattr(recorder_module.resp, "ship", ship_then_lose_the_reply)
    assert rec.flush() == 0  # failed, as far as the recorder knows
    monkeypatch.setattr(recorder_module.resp, "ship", real_ship)
    rec.count("polls")  # the next second's count
    rec.flush()
    counters = read_counters(client, run_id=RUN)
    assert counters["polls"] == 2 and counters["lost"] == 2  # not 3 and 4
    live: Any = client.hgetall(run_live_key(run_id=RUN))
    assert int(live[b"polls:p1"]) == 2 and int(live[b"samples:p1"]) == 1
    assert client.zcard(samples_key(run_id=RUN, sample_type="poll")) == 1  # the sample once
    assert rec._unacked == []


def test_a_batch_that_never_landed_is_applied_by_the_next_flush(
    clean_backends: StackInfo, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loadtests.recording import recorder as recorder_module

    real_ship = recorder_module.resp.ship

    def refuse(conn: redis.Redis, commands: list[bytes]) -> None:
        raise redis.ConnectionError("down")

    rec = Recorder(redis_url=clean_backends.redis_url, run_id=RUN, process="p1")
    rec.count("polls", 5)
    monkeypatch.setattr(recorder_module.resp, "ship", refuse)
    rec.flush()
    rec.count("polls", 1)
    rec.flush()  # fails too: two batches wait, in order
    monkeypatch.setattr(recorder_module.resp, "ship", real_ship)
    rec.count("polls", 1)
    rec.flush()
    assert read_counters(client, run_id=RUN)["polls"] == 7


def test_read_samples_pages(clean_backends: StackInfo, client: redis.Redis) -> None:
    rec = Recorder(redis_url=clean_backends.redis_url, run_id=RUN)
    for n in range(1, 31):
        rec.poll(t_ms=float(n), user="u", n=n, latency_ms=float(n), channel="c")
    rec.flush()
    back = read_samples(client, run_id=RUN, sample_type="poll", page_size=7)  # 5 pages
    assert back["n"].tolist() == list(range(1, 31))
    assert percentiles_ms(back["latency_ms"].to_numpy())["p50"] == 15.5


def test_flush_interval_is_at_most_a_second() -> None:
    with pytest.raises(ValueError):
        Recorder(redis_url="redis://127.0.0.1:1/0", run_id=RUN, flush_interval_s=2.0)


def test_each_process_share_of_polls_sums_to_the_counter(
    clean_backends: StackInfo, client: redis.Redis
) -> None:
    """Two Locust processes recording one run: the live ``polls:{process}`` fields add up."""
    recorders = [Recorder(redis_url=clean_backends.redis_url, run_id=RUN, process=name)
                 for name in ("host-1", "host-2")]
    for k, rec in enumerate(recorders):
        for _ in range(3 + k):
            rec.count("polls")
        rec.flush()
    recorders[0].count("polls", 5)
    recorders[0].flush()
    live: Any = client.hgetall(run_live_key(run_id=RUN))
    shares = {k.decode(): int(v) for k, v in live.items()
              if k.startswith(LIVE_POLLS_PREFIX.encode())}
    assert shares == {live_polls_field("host-1"): 8, live_polls_field("host-2"): 4}
    assert read_counters(client, run_id=RUN)["polls"] == sum(shares.values())
    for rec in recorders:
        rec.close()


# Run under gevent's monkey-patching, as in a Locust process (sockets yield to other
# greenlets), in a child process so the test session stays unpatched.
_STOP_MID_FLUSH = """
import sys
from gevent import monkey
monkey.patch_all()
import gevent, redis
from loadtests.recording.recorder import Recorder
from loadtests.recording.keys import run_sends_key
url, run = sys.argv[1], sys.argv[2]
client = redis.Redis.from_url(url)
rec = Recorder(redis_url=url, run_id=run, flush_interval_s=0.05)
refs = [f"u.{n}" for n in range(200)]
for ref in refs[:100]:
    rec.send(ref=ref, record={"outcome": "unknown"})
client.execute_command("CLIENT", "PAUSE", 600, "WRITE")  # the next flush waits on Redis
rec.start()
gevent.sleep(0.2)
assert not rec._sends, "the flusher has taken the first batch"
for ref in refs[100:]:  # the tabs' last sends, after that flush began
    rec.send(ref=ref, record={"outcome": "ok"})
rec.stop()
print(client.hlen(run_sends_key(run_id=run)))
rec.close()
"""


def test_stop_while_a_flush_waits_on_redis_loses_nothing(clean_backends: StackInfo) -> None:
    """The end-of-run race: the flusher is mid-flush (its batch taken from the buffers,
    waiting for Redis) when the test stops. Killing it there dropped that batch (the last
    sends' records of a chaos run); stop() must let it finish, then ship the rest."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _STOP_MID_FLUSH, clean_backends.redis_url, RUN],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200"]


def test_two_recorders_of_one_process_name_both_count(
    clean_backends: StackInfo, client: redis.Redis
) -> None:
    """Flush numbers are per recorder: a reused run id or process name is not a replay."""
    for _ in range(2):
        rec = Recorder(redis_url=clean_backends.redis_url, run_id=RUN, process="p1")
        rec.count("polls", 3)
        rec.flush()
    assert read_counters(client, run_id=RUN)["polls"] == 6
