"""Reading a chaos run back: send outcomes and samples from the metrics Redis, the store
from PostgreSQL (the truth every acknowledged message is checked against)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
import pandas as pd
import redis

from analysis.chaos.accounting import Send, Stored
from loadtests.clients.sends import ref_of
from loadtests.recording.keys import run_sends_key
from loadtests.recording.samples import read_samples

STORE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class RunSamples:
    polls: pd.DataFrame
    messages: pd.DataFrame
    errors: pd.DataFrame
    sends: list[Send]


def read_run(metrics_redis_url: str, *, run_id: str) -> RunSamples:
    client = redis.Redis.from_url(metrics_redis_url)
    try:
        raw: dict[bytes, bytes] = client.hgetall(run_sends_key(run_id=run_id))  # type: ignore[assignment]
        sends = [
            Send.from_record(key.decode(), orjson.loads(value)) for key, value in raw.items()
        ]
        return RunSamples(
            polls=read_samples(client, run_id=run_id, sample_type="poll"),
            messages=read_samples(client, run_id=run_id, sample_type="message"),
            errors=read_samples(client, run_id=run_id, sample_type="error"),
            sends=sends,
        )
    finally:
        client.close()


async def _read_store(database_url: str, channels: list[str]) -> list[Stored]:
    import asyncpg

    conn = await asyncpg.connect(database_url, timeout=STORE_TIMEOUT_S)
    try:
        rows = await conn.fetch(
            "SELECT channel_id, seq, content FROM messages WHERE channel_id = ANY($1::text[])"
            " ORDER BY channel_id, seq",
            channels,
            timeout=STORE_TIMEOUT_S,
        )
    finally:
        await conn.close()
    return [Stored(r["channel_id"], int(r["seq"]), ref_of(r["content"])) for r in rows]


def read_store(database_url: str, *, channels: Iterable[str]) -> list[Stored]:
    """Every stored message of ``channels``, in full, with its client reference."""
    return asyncio.run(_read_store(database_url, sorted(set(channels))))


def run_channels(samples: RunSamples) -> set[str]:
    """The channels the run touched: sent to or polled."""
    found = {send.channel for send in samples.sends}
    if not samples.polls.empty:
        found |= set(samples.polls["channel"].astype(str))
    return found
