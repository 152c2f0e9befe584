"""``pollcap chaos`` end to end: one real run with every fault kind in turn and a deliberately
lost acknowledged message (a row deleted behind the service's back) that the checker catches;
then a Valkey kill under each push transport.

Real Valkey, PostgreSQL, uvicorn workers and Locust; the all-faults run takes about 90 s here,
each push run about 40 s.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
import redis
from typer.testing import CliRunner

from analysis.chaos.run import ChaosConfig, ChaosResult, run_chaos
from analysis.chaos.schedule import FAULT_KINDS, Fault, default_schedule
from analysis.cli.app import app
from loadtests.clients.providers.factory import PUSH_TRANSPORTS
from loadtests.recording.keys import run_sends_key
from loadtests.swarm.run import ScenarioParams

SCENARIO = ScenarioParams(channels=3, sender_share=0.3, send_rate_per_min=20.0,
                          notification_rate_per_s=1.0)


def _config(tmp_path: Path, fault: Fault) -> ChaosConfig:
    return ChaosConfig(faults=[fault], users=16, spawn_rate=16.0, scenario=SCENARIO, tail_s=10.0,
                       runs_dir=tmp_path / "runs", reports_dir=tmp_path / "reports")


async def _delete_row(database_url: str, ref: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        status = await conn.execute("DELETE FROM messages WHERE content LIKE $1", f"[{ref}]%")
    finally:
        await conn.close()
    return int(status.split()[-1])


@dataclass(frozen=True, slots=True)
class AllFaults:
    """One real run with every fault kind in turn, and one acknowledged message deleted
    behind the service's back after the first healing: the checker must catch exactly it."""

    done: ChaosResult
    events: list[tuple[str, dict[str, Any]]]
    deleted: list[str]


@pytest.fixture(scope="module")
def all_faults(tmp_path_factory: pytest.TempPathFactory) -> AllFaults:
    tmp_path = tmp_path_factory.mktemp("chaos-all")
    events: list[tuple[str, dict[str, Any]]] = []
    urls: dict[str, str] = {}
    deleted: list[str] = []
    run_id = "chaos-all-faults"

    def on_event(name: str, details: dict[str, Any]) -> None:
        events.append((name, details))
        if name == "stack":
            urls.update(details)
        if name == "heal" and not deleted:  # mid-swarm: one acknowledged message disappears
            client = redis.Redis.from_url(urls["metrics"])
            raw = cast(dict[bytes, bytes], client.hgetall(run_sends_key(run_id=run_id)))
            sends = {k.decode(): orjson.loads(v) for k, v in raw.items()}
            client.close()
            ref = next(r for r, s in sorted(sends.items()) if s["outcome"] == "ok")
            assert asyncio.run(_delete_row(urls["database"], ref)) == 1
            deleted.append(ref)

    faults = default_schedule(warmup_s=8.0, fault_s=3.0, steady_s=8.0)
    cfg = replace(_config(tmp_path, faults[0]), faults=faults, run_id=run_id)
    return AllFaults(done=run_chaos(cfg, on_event=on_event), events=events, deleted=deleted)


@pytest.mark.slow
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_is_injected_healed_and_accounted(kind: str, all_faults: AllFaults) -> None:
    result = all_faults.done.result
    assert [name for name, _ in all_faults.events if name in ("inject", "heal")] == (
        ["inject", "heal"] * len(FAULT_KINDS))
    (fault,) = [f for f in result["faults"] if f["kind"] == kind]
    planned_ms = 3000 - 50  # both ends are placed on the swarm clock, within a poll step
    assert fault["ready_ms"] >= fault["injected_ms"] + planned_ms
    if kind == "service:kill-worker":  # healed by uvicorn itself: recovery counts from the kill
        assert fault["healed_ms"] == fault["injected_ms"]
    else:
        assert fault["ready_ms"] >= fault["healed_ms"] >= fault["injected_ms"] + planned_ms
    assert ("SIGCONT" in fault["detail"]) == kind.endswith("pause")
    assert ("started again" in fault["detail"]) == (kind.split(":")[1] in ("kill", "restart")
                                                    and kind.startswith(("valkey", "postgres")))
    assert fault["sends"] > 0  # sends went on during and after the fault
    assert fault["recover_s"] is not None  # back to its pre-fault success share in its phase


@pytest.mark.slow
def test_the_run_accounts_every_send_and_catches_exactly_the_deleted_one(
    all_faults: AllFaults,
) -> None:
    done, result = all_faults.done, all_faults.done.result
    got = result["totals"]
    assert got["sends"] == got["ok"] + got["failed"] + got["unknown"] and got["ok"] > 0
    assert result["unrecorded_stored"] == 0  # every stored message is a send of this run
    assert got["duplicated"] == 0
    assert result["requests_over_deadline"] == 0  # a paused dependency hangs no request
    assert len(all_faults.deleted) == 1
    assert got["acknowledged_lost"] == got["lost_from_store"] == 1  # the deleted one, no other
    assert [row["ref"] for row in result["examples"]["acknowledged_lost"]] == all_faults.deleted
    assert not done.passed
    assert any("acknowledged message(s) lost" in reason for reason in result["failures"])
    assert done.json_path.exists() and "data:image/png;base64," in done.html_path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("transport", PUSH_TRANSPORTS)
def test_push_transports_survive_a_valkey_kill_with_their_accounting(
    transport: str, tmp_path: Path
) -> None:
    """Valkey carries the service's fan-out to push connections: killed and started empty
    again, every acknowledged message must still reach the push receivers."""
    cfg = replace(_config(tmp_path, Fault("valkey:kill", 8.0, 3.0)), realtime=transport)
    done = run_chaos(cfg)
    result = done.result
    got = result["totals"]
    assert got["ok"] > 0 and result["receivers"] > 0  # push receivers, from their deliveries
    assert got["acknowledged_lost"] == 0 and got["duplicated"] == 0, result["examples"]
    assert result["unrecorded_stored"] == 0
    assert orjson.loads(done.json_path.read_bytes())["meta"]["realtime"] == transport


@pytest.mark.parametrize(("argv", "line"), [
    (["--fault", "valkey:nap@10s+5s"],
     "--fault 'valkey:nap@10s+5s': unknown kind 'valkey:nap'; one of " + ", ".join(FAULT_KINDS)),
    (["--realtime", "pigeon"],
     "--realtime must be one of polling, long-poll, sse, websocket, got 'pigeon'"),
])
def test_bad_options_are_one_line_and_exit_2(argv: list[str], line: str) -> None:
    pollcap = Path(sys.executable).parent / "pollcap"
    done = subprocess.run([str(pollcap), "chaos", *argv],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"pollcap: error: {line}"]


def test_help_explains_the_faults() -> None:
    result = CliRunner().invoke(app, ["chaos", "--help"])
    assert result.exit_code == 0
    assert "valkey:pause@30s+10s" in result.stdout and "KIND@START+DURATION" in result.stdout
