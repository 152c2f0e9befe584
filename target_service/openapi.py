"""The OpenAPI document says what the service really answers, errors included.

FastAPI documents its own validation array for 422; this service answers every error
as ``{"detail": "<one readable line>"}`` (422 adds ``errors``: ``[{loc, msg}]``), so the
document is rewritten once, when first asked for: every operation lists the statuses it
can answer, each with the body schema the handlers produce.

- 401: routes behind the bearer token (security ``bearerAuth``); ``POST
  /api/notifications`` has the admin header instead (401 missing, 403 wrong).
- 400 (a body that cannot be decoded), 413 (over ``max_body_bytes``, JSON like every
  error) and 422: routes with a body; 422 also for any route with parameters.
- 503 with ``Retry-After``: every route may pass its deadline while a backend is paused
  (see ``middleware.DeadlineMiddleware``); the database routes also when PostgreSQL is
  down. ``/healthz`` answers 503 itself when PostgreSQL is down. 503 means nothing
  was done.
- 504 with ``Retry-After`` (writes): sent to PostgreSQL, not confirmed in time; the
  outcome is unknown (``store/db.py``), a retry with the same ``Idempotency-Key`` is safe.
- 404: declared by the routes that raise it (``NOT_FOUND``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Error", "required": ["detail"],
    "properties": {"detail": {"type": "string"}},
}
VALIDATION_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "ValidationFailure", "required": ["detail", "errors"],
    "properties": {
        "detail": {"type": "string", "description": "every problem, in one line"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["loc", "msg"],
            "properties": {"loc": {"type": "string", "description": "e.g. body.content"},
                           "msg": {"type": "string"}},
        }},
    },
}
PUBLIC_PATHS = frozenset({"/api/ping", "/healthz", "/metrics", "/api/users"})
PUBLIC_PREFIXES = ("/api/metrics/",)
ADMIN_OPERATIONS = frozenset({("post", "/api/notifications")})


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {
    "description": "not found", "content": {"application/json": {"schema": ERROR_SCHEMA}}}}


def _needs_token(method: str, path: str) -> bool:
    if (method, path) in ADMIN_OPERATIONS:
        return False
    if method == "post" and path == "/api/users":
        return False
    return path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES)


def _add_errors(method: str, path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    has_body = "requestBody" in operation
    if has_body or operation.get("parameters"):
        responses["422"] = {"description": "invalid request", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ValidationFailure"}}}}
    else:
        responses.pop("422", None)
    if has_body:
        responses.setdefault("400", error_response("a body that cannot be decoded"))
        responses.setdefault("413", error_response("body over the size limit"))
    if _needs_token(method, path):
        operation["security"] = [{"bearerAuth": []}]
        responses.setdefault("401", error_response("missing or unknown bearer token"))
    if (method, path) in ADMIN_OPERATIONS:
        operation["security"] = [{"adminToken": []}]
        responses.setdefault("401", error_response("missing X-Admin-Token header"))
        responses.setdefault("403", error_response("wrong admin token"))
    unavailable = error_response("a backend is unavailable or the deadline passed; retry")
    unavailable["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                              "description": "seconds"}}
    responses.setdefault("503", unavailable)
    if method == "post":
        unknown = error_response("a write went out and was not confirmed in time: it may be"
                                 " committed; retry (with the same Idempotency-Key)")
        unknown["headers"] = unavailable["headers"]
        responses.setdefault("504", unknown)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                         description=app.description)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    schemas["ValidationFailure"] = VALIDATION_SCHEMA
    components["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer",
                       "description": "the token of POST /api/users"},
        "adminToken": {"type": "apiKey", "in": "header", "name": "X-Admin-Token"},
    }
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            _add_errors(method, path, operation)
    return schema


def describe_errors(app: FastAPI) -> None:
    """Serve :func:`build_openapi`'s document (built once) as the app's OpenAPI."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
