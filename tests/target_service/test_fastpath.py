"""The poll's fast path keeps FastAPI's contract: docs, route labels, errors, headers.

``HandlerRoute`` skips FastAPI's per-request handler for the poll; these tests pin down
what must not change with it.
"""

from __future__ import annotations

import httpx

from tests.target_service.fixtures import signup

POLL_PATH = "/api/chat/{channel_id}/messages"


async def test_openapi_documents_the_poll_parameters_and_json_answer(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    get = spec["paths"][POLL_PATH]["get"]
    assert [p["name"] for p in get["parameters"]] == ["channel_id", "after", "limit", "waitMs"]
    assert "application/json" in get["responses"]["200"]["content"]
    assert "post" in spec["paths"][POLL_PATH]  # the message POST shares the path


async def test_poll_answer_headers_are_exact(client: httpx.AsyncClient) -> None:
    headers = await signup(client)
    resp = await client.get("/api/chat/fp/messages", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert int(resp.headers["content-length"]) == len(resp.content)
    assert resp.headers["x-poll-interval-ms"] == str(resp.json()["pollIntervalMs"])


async def test_poll_errors_and_metrics_go_through_the_app(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/api/chat/fp/messages")
    assert anonymous.status_code == 401 and anonymous.json()["detail"]
    assert anonymous.headers["www-authenticate"] == "Bearer"
    headers = await signup(client)
    bad = await client.get("/api/chat/fp/messages", params={"after": "x"}, headers=headers)
    assert bad.status_code == 422 and "after" in bad.json()["detail"]
    wrong_method = await client.put("/api/chat/fp/messages", headers=headers)
    assert wrong_method.status_code == 405
    assert (await client.get("/api/chat/fp/messages", headers=headers)).status_code == 200
    text = (await client.get("/metrics")).text
    for status in ("200", "401", "422"):  # labelled by the route template, as before
        assert f'method="GET",route="{POLL_PATH}",status="{status}"' in text, status


def test_fastapi_telemetry_is_off_unless_asked_for() -> None:
    from target_service.app import create_app
    from target_service.settings import Settings

    off = create_app(Settings())
    assert not off._native_telemetry.enabled()  # no per-request provider/env checks
    on = create_app(Settings(otel_enabled=True))
    assert on._telemetry["tracing"] and on._telemetry["metrics"] and on._telemetry["logs"]
