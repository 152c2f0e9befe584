"""Two small pieces for the routes every client hits every few seconds (the polls).

:class:`HandlerRoute` is FastAPI's documented extension point (a custom ``APIRoute`` whose
``get_route_handler`` is overridden) used to run an endpoint that already is a request
handler, ``async (Request) -> Response``. FastAPI's own handler around an endpoint (the
dependency solve, which parses the query string, the headers and the cookies of every
request; parameter validation; the return-value checks; telemetry spans) costs about as
much as a whole cached poll. The poll reads its three parameters itself
(:mod:`target_service.params`) and builds its answer as bytes, so that layer is dead
weight there. Everything else stays FastAPI's: routing, the middleware, the exception
handlers (401/422 answers are unchanged), the body limit and the OpenAPI entry (which
is built from the route's declared ``openapi_extra`` and response, not from a solve).

:class:`BytesResponse` is a ``Response`` whose raw headers are written directly: no
header mapping to lower-case and encode per request.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import Request, Response
from fastapi.routing import APIRoute

JSON_TYPE = b"application/json"


class HandlerRoute(APIRoute):
    """An ``APIRoute`` whose endpoint is called with the ``Request`` and returns the Response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


class BytesResponse(Response):
    """A JSON body that is already bytes, with extra headers as ``(name, value)`` bytes."""

    media_type = "application/json"

    def __init__(self, body: bytes, *, status_code: int = 200,
                 extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = [(b"content-length", b"%d" % len(body)),
                            (b"content-type", JSON_TYPE), *extra_headers]
