"""A burst of sign-ups on a busy worker: 201 or 503 + Retry-After, never a 500, none lost.

One worker, one PostgreSQL connection, a short acquire timeout, and a loop that stalls
in bursts (as a worker holding 10,000 WebSockets does): many sign-ups cannot get the
connection in time (503, nothing written), and some connections fail their reset at
release (before, a committed sign-up then answered 500). Every 201 must be a row and
every row a 201.
"""

from __future__ import annotations

import asyncio
import collections
import time

import asyncpg

from target_service.embedded.stack import StackInfo
from tests.target_service.fixtures import MakeClient

BURST = 200
ACQUIRE_TIMEOUT_S = 0.02
STALL_S = 0.03  # longer than the acquire timeout: the release's reset budget


async def _stall_loop(stop: asyncio.Event) -> None:
    while not stop.is_set():
        time.sleep(STALL_S)  # the loop is busy elsewhere (frames of other connections)
        await asyncio.sleep(0.002)


async def test_a_signup_burst_answers_201_or_503_and_loses_nothing(
    make_client: MakeClient, clean_backends: StackInfo,
) -> None:
    client = await make_client(pg_min_size=1, pg_max_size=1,
                               pg_acquire_timeout_s=ACQUIRE_TIMEOUT_S, retry_after_s=2)
    stop = asyncio.Event()
    stall = asyncio.create_task(_stall_loop(stop))
    try:
        answers = await asyncio.gather(*(
            client.post("/api/users", json={"name": f"burst-{i}"}) for i in range(BURST)))
    finally:
        stop.set()
        await stall
    by_status = collections.Counter(resp.status_code for resp in answers)
    assert set(by_status) <= {201, 503}, by_status
    assert by_status[201] > 0 and by_status[503] > 0, by_status  # the burst did overload
    for resp in answers:
        if resp.status_code == 503:
            assert resp.headers["Retry-After"] == "2" and resp.json()["detail"]
    conn = await asyncpg.connect(clean_backends.database_url)
    try:
        names = {row["name"] for row in await conn.fetch("SELECT name FROM users")}
    finally:
        await conn.close()
    assert names == {resp.json()["name"] for resp in answers if resp.status_code == 201}
