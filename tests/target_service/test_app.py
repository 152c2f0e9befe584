"""``target_service.app``: every 500 is JSON and logged with its traceback; 405 lists the
methods of the whole path; the OpenAPI document carries the handlers' error bodies."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.target_service.fixtures import MakeClient


async def test_a_500_is_json_and_logged_with_its_traceback(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client()
    app = client.app  # type: ignore[attr-defined]

    async def broken() -> None:
        raise RuntimeError("a bug on purpose")

    app.add_api_route("/api/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as raw:
        with caplog.at_level(logging.ERROR, logger="pollcap.service"):
            resp = await raw.get("/api/broken")
    assert resp.status_code == 500
    assert resp.json() == {"detail": "internal server error"}
    logged = [r for r in caplog.records if r.name == "pollcap.service" and r.exc_info]
    assert logged and "GET /api/broken" in logged[0].getMessage()
    assert "a bug on purpose" in caplog.text and "Traceback" in caplog.text


async def test_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    resp = await client.request("DELETE", "/api/chat/room/messages")
    assert resp.status_code == 405
    assert {"GET", "POST"} <= set(resp.headers["Allow"].replace(" ", "").split(","))
    assert resp.json()["detail"]


async def test_openapi_documents_the_error_bodies_the_handlers_send(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    post = doc["paths"]["/api/chat/{channel_id}/messages"]["post"]
    assert {"400", "401", "413", "422", "503", "504"} <= set(post["responses"])
    failure = doc["components"]["schemas"]["ValidationFailure"]
    assert failure["properties"]["detail"]["type"] == "string"
    bad = await client.post("/api/users", json={"name": ""})
    assert set(bad.json()) == set(failure["required"])
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    metrics = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    assert "ids" in str(doc["components"]["schemas"]["ReadIn"]["oneOf"])
