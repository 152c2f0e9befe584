"""The fresh cache over a channel whose history has a hole: a row deleted behind the
service's back (moderation, retention, the chaos test's deliberate loss) must cost that
message only, not shift every later answer of a worker that loaded the channel since."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from target_service.embedded.stack import StackInfo
from tests.target_service.fixtures import MakeClient, signup


async def _delete_seq(database_url: str, channel: str, seq: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        status = await conn.execute(
            "DELETE FROM messages WHERE channel_id = $1 AND seq = $2", channel, seq)
    finally:
        await conn.close()
    assert status.split()[-1] == "1"


async def _seqs(client: httpx.AsyncClient, channel: str, headers: dict[str, str],
                **params: str | int) -> list[int]:
    resp = await client.get(f"/api/chat/{channel}/messages", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return [m["seq"] for m in resp.json()["messages"]]


@pytest.mark.parametrize("recent_size", [50, 10])  # all of it in memory; a window of it
async def test_a_deleted_row_costs_only_itself(
    make_client: MakeClient, clean_backends: StackInfo, recent_size: int
) -> None:
    channel = "holey"
    writer = await make_client(cache_mode="fresh", recent_size=recent_size)
    headers = await signup(writer)
    for i in range(30):
        resp = await writer.post(f"/api/chat/{channel}/messages", json={"content": f"m{i}"},
                                 headers=headers)
        assert resp.status_code == 201
    for hole in (3, 24):
        await _delete_seq(clean_backends.database_url, channel, hole)
    everything = [s for s in range(1, 31) if s not in (3, 24)]
    fresh = await make_client(cache_mode="fresh", recent_size=recent_size)  # a new worker
    assert await _seqs(fresh, channel, headers, limit=50) == everything
    assert await _seqs(fresh, channel, headers, limit=5) == everything[-5:]
    for after in (1, 2, 3, 5, 8, 11, 21, 22, 23, 24, 25, 29):
        want = [s for s in everything if s > after][:50]
        assert await _seqs(fresh, channel, headers, after=str(after), limit=50) == want, after
        assert await _seqs(fresh, channel, headers, after=str(after), limit=2) == want[:2], after
    assert await _seqs(fresh, channel, headers, after="30", limit=50) == []
    resp = await writer.post(f"/api/chat/{channel}/messages", json={"content": "after the hole"},
                             headers=headers)
    assert resp.json()["message"]["seq"] == 31
    for client in (fresh, writer):  # the writer never polled: it too loads the channel now
        assert await _seqs(client, channel, headers, after="22", limit=50) == [23, 25, 26, 27,
                                                                            28, 29, 30, 31]
        assert await _seqs(client, channel, headers, after="30", limit=50) == [31]
