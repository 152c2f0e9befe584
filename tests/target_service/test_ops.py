"""Health, Prometheus metrics, the service's own latency samples, OpenAPI."""

from __future__ import annotations

import asyncio
from typing import cast

import httpx
import redis.asyncio as aioredis

from tests.target_service.fixtures import signup


async def test_healthz_reports_both_backends(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "redis": "up", "postgres": "up"}


async def test_ping_is_constant_json(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/ping")
    assert resp.status_code == 200 and resp.json() == {"ok": True}


async def test_prometheus_text_has_requests_latency_cache_and_db(
    client: httpx.AsyncClient,
) -> None:
    headers = await signup(client)
    await client.post("/api/chat/m/messages", json={"content": "x"}, headers=headers)
    for _ in range(3):
        await client.get("/api/chat/m/messages", headers=headers)
    text = (await client.get("/metrics")).text
    assert 'route="/api/chat/{channel_id}/messages",status="200"} 3' in text
    assert "pollcap_http_request_duration_seconds_bucket" in text
    for name in ("cache_hits_total", "cache_misses_total", "db_queries_total", "server_load",
                 "redis_up"):
        assert f"pollcap_{name}" in text
    hits = next(line for line in text.splitlines() if line.startswith("pollcap_cache_hits_total"))
    assert float(hits.rsplit(" ", 1)[1]) >= 2


async def test_latency_samples_land_in_sorted_sets(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    headers = await signup(client)
    for i in range(5):
        await client.post("/api/chat/l/messages", json={"content": f"m{i}"}, headers=headers)
        await client.get("/api/chat/l/messages", headers=headers)
    await asyncio.sleep(0.4)  # metrics_flush_ms = 100 in the test settings
    r = aioredis.from_url(redis_url)
    try:
        members = cast(list[tuple[bytes, float]],  # no decode_responses: (member, score)
                       await r.zrange("metrics:message:latency", 0, -1, withscores=True))
    finally:
        await r.aclose()
    assert len(members) == 10
    for member, score in members:
        worker, n, latency_ms = member.decode().split(":")
        assert float(latency_ms) >= 0 and score > 1.7e12
    assert len({m for m, _ in members}) == 10  # unique per sample
    resp = await client.get("/api/metrics/message/latency", params={"windowS": 60})
    summary = resp.json()
    assert summary["count"] == 10
    assert 0 <= summary["p50Ms"] <= summary["p95Ms"] <= summary["p99Ms"]
    empty = (await client.get("/api/metrics/notification/latency")).json()
    assert empty == {"count": 0, "avgMs": None, "p50Ms": None, "p95Ms": None, "p99Ms": None}


async def test_samples_are_bounded_per_second(make_client, redis_url: str) -> None:
    client = await make_client(metrics_max_per_s=20, metrics_flush_ms=500)
    headers = await signup(client)
    await asyncio.gather(*(client.get("/api/chat/b/messages", headers=headers)
                           for _ in range(100)))
    await asyncio.sleep(0.8)
    r = aioredis.from_url(redis_url)
    try:
        kept = await r.zcard("metrics:message:latency")
    finally:
        await r.aclose()
    assert 1 <= kept <= 40  # capacity 10 per 0.5 s flush, a couple of flushes at most


async def test_openapi_documents_the_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in ("/api/users", "/api/chat/{channel_id}/messages", "/api/chat/{channel_id}",
                 "/api/notifications", "/api/notifications/unread", "/api/notifications/read",
                 "/api/metrics/{kind}/latency", "/healthz"):
        assert path in paths, path
    poll = paths["/api/chat/{channel_id}/messages"]["get"]
    assert {p["name"] for p in poll["parameters"]} == {"channel_id", "after", "limit", "waitMs"}
