"""Counter snapshots of a capacity run, read from Redis and PostgreSQL.

Counters snapshotted at every step boundary give the per-step counts the report
needs: requests and failures (the users' counters), Redis commands (the service's
Valkey's ``total_commands_processed``; when samples share that server, less pollcap's
own sample writes and these probes) and PostgreSQL transactions (``pg_stat_database``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import redis

from analysis.capacity.steps import PROCESS_POLLS_PREFIX
from loadtests.recording.keys import LIVE_POLLS_PREFIX, run_live_key
from loadtests.recording.samples import read_counters

PROBE_COMMANDS = 3  # HGETALL of the counters and of the live figures + INFO stats, per probe


@dataclass(kw_only=True)
class CountersProbe:
    """Callable: one snapshot of the run's counters (floats, cumulative since the start)."""

    client: redis.Redis  # where the samples and counters are (the metrics Valkey)
    run_id: str
    service_client: redis.Redis | None = None  # the service's Redis, when not ``client``
    database_url: str | None = None  # None: a --host service whose database we do not see
    probes_made: int = 0

    def __call__(self) -> dict[str, float]:
        counts = {k: float(v) for k, v in read_counters(self.client, run_id=self.run_id).items()}
        # Redis commands of the service alone: the service's server's total, less the load
        # generator's recorder and this probe when they share it (the count lags by <= 1 s).
        self.probes_made += 1
        server = self.service_client or self.client
        total = float(server.info("stats").get("total_commands_processed", 0))
        if server is self.client:
            own = counts.get("recorder_commands", 0.0) + PROBE_COMMANDS * self.probes_made
        else:  # only this probe's INFO reaches the service's Valkey
            own = float(self.probes_made)
        out = {
            "requests": counts.get("requests", counts.get("polls", 0.0)),
            "polls": counts.get("polls", 0.0),  # scheduled chat polls, all Locust processes
            "failures": counts.get("errors", 0.0),
            "lost": counts.get("lost", 0.0),
            "duplicated": counts.get("duplicated", 0.0),
            "redis_ops": total - own,
            # schedule lateness of the users' polls (analysis.model.generator)
            "poll_late_ms_sum": counts.get("poll_late_ms_sum", 0.0),
        }
        out.update(process_polls(self.client, run_id=self.run_id))
        if self.database_url:
            out["pg_queries"] = float(asyncio.run(pg_transactions(self.database_url)))
        return out


def process_polls(client: redis.Redis, *, run_id: str) -> dict[str, float]:
    """Each Locust process's polls so far (its ``polls:{process}`` live field).

    Every process (``--processes`` children, or workers on other machines) records into
    the same Redis, so the run's counters are already the sum; these say who sent what.
    """
    live: Any = client.hgetall(run_live_key(run_id=run_id))
    prefix = LIVE_POLLS_PREFIX.encode()
    return {PROCESS_POLLS_PREFIX + k[len(prefix):].decode(): float(v)
            for k, v in live.items() if k.startswith(prefix)}


async def pg_transactions(url: str) -> int:
    """Committed + rolled back transactions of the current database so far."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        return int(
            await conn.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        )
    finally:
        await conn.close()
