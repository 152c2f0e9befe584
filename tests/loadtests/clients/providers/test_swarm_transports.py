"""A short real swarm per transport: Locust, the reference service, Valkey, PostgreSQL.

Each swarm forces reconnects (``--reconnect-every``) and offline spells while
senders post, and must end with nothing lost, repeated or reordered, the push
counters consistent with one another, and one time-to-reconnect sample per resume.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtests.clients.providers.factory import PUSH_TRANSPORTS, TRANSPORTS
from loadtests.swarm.run import ScenarioParams, run_swarm
from target_service.embedded.stack import StackInfo
from target_service.errors import UserError
from target_service.serve import ServiceHandle, run_service


@pytest.fixture
def service(clean_backends: StackInfo) -> Iterator[ServiceHandle]:
    with run_service(
        redis_url=clean_backends.redis_url, database_url=clean_backends.database_url
    ) as handle:
        yield handle


def scenario(transport: str) -> ScenarioParams:
    return ScenarioParams(
        channels=2,
        sender_share=0.5,
        send_rate_per_min=60.0,
        notification_rate_per_s=1.0,
        offline_share=0.1,
        offline_mean_s=2.0,
        realtime=transport,
        reconnect_every_s=2.0,
    )


@pytest.mark.slow
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_swarm_per_transport_loses_nothing(
    clean_backends: StackInfo, service: ServiceHandle, transport: str, tmp_path: Path
) -> None:
    result = run_swarm(
        host=service.url,
        redis_url=clean_backends.redis_url,
        users=20,
        spawn_rate=20,
        duration_s=15,
        runs_dir=tmp_path,
        scenario=scenario(transport),
    )
    s = result.summary
    assert result.returncode == 0 and s["realtime"] == transport
    failures = (result.run_dir / "locust_failures.csv").read_text()
    assert (s["lost"], s["duplicated"], s["reordered"], s["errors"]) == (0, 0, 0, 0), failures
    assert s["messages_sent"] >= 20 and s["messages_delivered"] > s["messages_sent"]
    assert s["samples"]["message"] == s["messages_delivered"]
    assert s["notifications_delivered"] > 0
    assert s["reconnects"] >= 10
    assert s["reconnect_ms"]["p50"] is not None and s["reconnect_ms"]["p50"] > 0
    if transport in PUSH_TRANSPORTS:
        assert s["forced_drops"] >= 10
        assert s["connects"] >= s["reconnects"] + 19  # one first connect per chat tab
        # every connection ended; the last closes (test stop) may land after the final flush
        assert s["connects"] - 19 <= s["disconnects"] <= s["connects"]
        assert 1 <= s["connections_peak"] <= 19
        assert s["delivery_latency_ms"]["p50"] < 1000  # push, not a 2 s poll
    else:
        assert s["polls"] > 0 and s["connections_peak"] == 0


def test_unknown_transport_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--realtime must be one of"):
        run_swarm(
            host="http://127.0.0.1:9",
            redis_url="redis://127.0.0.1:9/0",
            users=1,
            spawn_rate=1,
            duration_s=1,
            runs_dir=tmp_path,
            scenario=ScenarioParams(realtime="smoke-signals"),
        )
    assert not any(tmp_path.iterdir())
