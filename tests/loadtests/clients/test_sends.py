"""Send outcomes by client reference: ok, failed, unknown; retries only after unknown."""

from __future__ import annotations

import random

import orjson
import pytest
import redis

from loadtests.clients.sends import (
    NO_ANSWER,
    Attempt,
    message_text,
    new_ref,
    ref_of,
    send_outcome,
    send_record,
    send_tracked,
    should_retry,
)
from loadtests.recording.keys import run_sends_key
from loadtests.recording.recorder import Recorder
from loadtests.recording.samples import read_samples
from target_service.embedded.stack import StackInfo


def _attempts(*statuses: int) -> list[Attempt]:
    return [Attempt(status=s, started_ms=1000.0 * i, elapsed_ms=10.0 + i) for i, s in
            enumerate(statuses)]


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        ((201,), "ok"),
        ((422,), "failed"),
        ((503,), "failed"),
        ((NO_ANSWER,), "unknown"),
        ((NO_ANSWER, 201), "ok"),  # the retry was acknowledged: the send is
        ((NO_ANSWER, 503), "unknown"),  # a refusal does not undo the unknown first attempt
        ((NO_ANSWER, NO_ANSWER, NO_ANSWER, NO_ANSWER), "unknown"),
        ((), "unknown"),
    ],
)
def test_outcome_of_attempts(statuses: tuple[int, ...], outcome: str) -> None:
    assert send_outcome(_attempts(*statuses)) == outcome


def test_only_unknown_attempts_are_retried_and_only_three_times() -> None:
    assert should_retry(_attempts(NO_ANSWER))
    assert should_retry(_attempts(NO_ANSWER, NO_ANSWER, NO_ANSWER))
    assert not should_retry(_attempts(NO_ANSWER, NO_ANSWER, NO_ANSWER, NO_ANSWER))
    assert not should_retry(_attempts(201))
    assert not should_retry(_attempts(500))
    assert not should_retry([])


def test_reference_survives_the_round_trip_through_the_text() -> None:
    rng = random.Random(7)
    refs = {new_ref(user="42", n=n, rng=rng) for n in range(1000)}
    assert len(refs) == 1000
    for ref in refs:
        assert ref_of(message_text(ref=ref, body="hello [x] world")) == ref
    assert ref_of("hello from someone else") is None


def test_record_keeps_every_status_and_the_longest_attempt() -> None:
    record = send_record(channel="c1", user="7", attempts=_attempts(NO_ANSWER, 201), seq=5)
    assert record["outcome"] == "ok" and record["seq"] == 5
    assert record["statuses"] == [NO_ANSWER, 201]
    assert record["longest_ms"] == 11.0
    assert record["started_ms"] == 0.0 and record["ended_ms"] == 1011.0


def test_recorder_ships_send_records_and_error_samples(clean_backends: StackInfo) -> None:
    rec = Recorder(redis_url=clean_backends.redis_url, run_id="sends")
    first = send_record(channel="c", user="a", attempts=_attempts(0), seq=None)
    rec.send(ref="a.1.x", record=first)
    acked = send_record(channel="c", user="a", attempts=_attempts(0, 201), seq=3)
    rec.send(ref="a.1.x", record=acked)
    rec.error(t_ms=1500.0, user="a", n=1, latency_ms=30001.5, name="/api/x")
    rec.close()
    client = redis.Redis.from_url(clean_backends.redis_url)
    raw = client.hgetall(run_sends_key(run_id="sends"))
    stored = {k.decode(): orjson.loads(v) for k, v in raw.items()}  # type: ignore[union-attr]
    assert stored["a.1.x"]["outcome"] == "ok" and stored["a.1.x"]["seq"] == 3  # last write wins
    errors = read_samples(client, run_id="sends", sample_type="error")
    assert errors.to_dict("records") == [
        {"t_ms": 1500, "user": "a", "n": 1, "latency_ms": 30001.5, "name": "/api/x"}
    ]


def _driver(statuses: list[int]) -> tuple[str, list[list[int]], list[float]]:
    """Run send_tracked over scripted answers; returns outcome, records, sleeps."""
    answers = iter(statuses)
    records: list[list[int]] = []
    sleeps: list[float] = []
    clock = iter(float(t) for t in range(0, 1000, 10))
    outcome = send_tracked(
        attempt=lambda: (s := next(answers), 7 if s == 201 else None),
        record=lambda attempts, seq: records.append([a.status for a in attempts] + [seq or -1]),
        sleep_s=sleeps.append,
        retry_delay_s=lambda n: float(2**n),
        clock_ms=lambda: next(clock),
    )
    return outcome, records, sleeps


def test_send_tracked_retries_unknown_with_backoff_and_records_every_attempt() -> None:
    outcome, records, sleeps = _driver([NO_ANSWER, NO_ANSWER, 201])
    assert outcome == "ok" and sleeps == [1.0, 2.0]
    # on record before the first answer, then after every attempt; the last has the seq
    assert records == [[0, -1], [0, -1], [0, 0, -1], [0, 0, 201, 7]]


def test_send_tracked_stops_at_a_definite_answer_or_after_three_retries() -> None:
    assert _driver([503]) == ("failed", [[0, -1], [503, -1]], [])
    outcome, records, sleeps = _driver([NO_ANSWER] * 4)
    assert outcome == "unknown" and len(records) == 5 and sleeps == [1.0, 2.0, 4.0]


def test_a_tab_stopped_mid_attempt_leaves_its_send_on_record_as_unknown() -> None:
    records: list[dict[str, object]] = []

    def stopped() -> tuple[int, int | None]:
        raise KeyboardInterrupt  # as Locust's GreenletExit: a BaseException mid-request

    with pytest.raises(KeyboardInterrupt):
        send_tracked(
            attempt=stopped,
            record=lambda attempts, seq: records.append(
                send_record(channel="c", user="u", attempts=attempts, seq=seq)),
            sleep_s=lambda s: None, retry_delay_s=lambda n: 0.0, clock_ms=lambda: 5.0,
        )
    assert [(r["outcome"], r["started_ms"]) for r in records] == [("unknown", 5.0)]
