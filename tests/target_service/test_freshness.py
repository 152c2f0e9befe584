"""Randomised: two workers (apps) on shared backends, writes and polls interleaved at
random; every poll answers exactly what a model of the committed messages says."""

from __future__ import annotations

import random

import pytest

from tests.target_service.fixtures import MakeClient, signup


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_fresh_polls_always_match_the_committed_history(
    make_client: MakeClient, seed: int
) -> None:
    rng = random.Random(seed)
    apps = [await make_client(cache_mode="fresh", recent_size=10) for _ in range(2)]
    headers = await signup(apps[0])
    channels = ["a", "b"]
    history: dict[str, list[str]] = {c: [] for c in channels}
    for step in range(150):
        app, channel = rng.choice(apps), rng.choice(channels)
        if rng.random() < 0.4:
            text = f"{channel}{step}"
            resp = await app.post(f"/api/chat/{channel}/messages", json={"content": text},
                                  headers=headers)
            assert resp.json()["message"]["seq"] == len(history[channel]) + 1
            history[channel].append(text)
            continue
        latest = len(history[channel])
        after = rng.choice([None, latest, max(0, latest - rng.randint(0, 30))])
        limit = rng.choice([1, 5, 50, 100])
        params: dict[str, str | int] = (
            {"limit": limit} if after is None else {"after": str(after), "limit": limit})
        resp = await app.get(f"/api/chat/{channel}/messages", params=params, headers=headers)
        got = [m["content"] for m in resp.json()["messages"]]
        want = history[channel][-limit:] if after is None else history[channel][
            after : after + limit]
        assert got == want, (step, channel, after, limit)
