"""Operations: health, Prometheus metrics, the service's own latency samples, a bare route.

``/api/ping`` is the baseline of the bench: a constant JSON answer through the same app,
middleware and server as the polls, so poll/ping is the cost of the polling logic alone.
It has a router of its own, included before every other (``app.py``): routes are matched
in order and each included router costs a match, so the baseline never pays more routing
than the polls it is compared with.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import PlainTextResponse

from target_service.deps import StateDep
from target_service.store.backends import RedisDown
from target_service.store.metrics import read_summary

router = APIRouter(tags=["ops"])
baseline_router = APIRouter(tags=["ops"])
PING_BODY = b'{"ok":true}'
HEALTH_TIMEOUT_S = 2.0
PROMETHEUS_TYPE = "text/plain; version=0.0.4"


@baseline_router.get("/api/ping")
async def ping() -> Response:
    return Response(PING_BODY, media_type="application/json")


@router.get("/healthz")
async def healthz(state: StateDep) -> Response:
    try:
        await asyncio.wait_for(state.db.fetchval("SELECT 1"), HEALTH_TIMEOUT_S)
        postgres = "up"
    except Exception:
        postgres = "down"
    try:
        await state.redis.call(lambda r: r.ping())
        redis = "up"
    except RedisDown:
        redis = "down"
    status = "down" if postgres == "down" else ("ok" if redis == "up" else "degraded")
    body = f'{{"status":"{status}","redis":"{redis}","postgres":"{postgres}"}}'
    return Response(body, status_code=503 if postgres == "down" else 200,
                    media_type="application/json")


@router.get("/metrics", response_class=PlainTextResponse, responses={200: {
    "description": "Prometheus text exposition format 0.0.4",
    "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(state: StateDep) -> Response:
    return Response(state.prom.render(), media_type=PROMETHEUS_TYPE)


@router.get("/api/metrics/{kind}/latency")
async def latency(
    kind: Annotated[Literal["message", "notification", "presence"], Path()],
    state: StateDep,
    windowS: Annotated[float, Query(gt=0, le=86_400)] = 60,  # noqa: N803 - the API's name
) -> dict[str, object]:
    try:
        summary = await read_summary(state.redis, kind=kind, window_s=windowS)
    except RedisDown:
        raise HTTPException(503, "latency samples live in Redis, which is down") from None
    return summary.to_json()
