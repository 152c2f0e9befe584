"""A polling chat API in another shape than pollcap's reference service (an example target).

String ids, ISO-8601 times, the token in a query parameter, an offset cursor, no
per-channel sequence and no active-users count: what a team's own Starlette, Django or
Next.js route might look like. ``offset_chat.toml`` beside it is its description;
the tests point probe, swarms and a capacity run at it. State is in-process (run it
with one worker); it stands for *your* service, not for anything pollcap measures.

    uvicorn loadtests.targets.examples.offset_chat:app --port 8100
    uvicorn --factory loadtests.targets.examples.offset_chat:lossy_app --port 8100  # loses
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_PAGE = 100


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_app(*, lose_every: int = 0) -> Starlette:
    """The example app. ``lose_every`` > 0 acknowledges every n-th message and drops it:
    a broken service, to show that pollcap catches lost acknowledged messages."""
    lock = threading.Lock()
    sessions: dict[str, str] = {}
    rooms: dict[str, list[dict[str, str]]] = {}
    said = [0]

    def user_of(request: Request) -> str | None:
        return sessions.get(request.query_params.get("key", ""))

    async def signup(request: Request) -> JSONResponse:
        body = await request.json()
        name = body.get("username") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return JSONResponse({"error": "username required"}, status_code=400)
        key = secrets.token_urlsafe(24)
        sessions[key] = name
        return JSONResponse({"session": {"key": key, "user": name}})

    async def feed(request: Request) -> JSONResponse:
        if user_of(request) is None:
            return JSONResponse({"error": "bad key"}, status_code=401)
        items = rooms.get(request.path_params["room"], [])
        try:
            size = min(int(request.query_params.get("max", "50")), MAX_PAGE)
            start_text = request.query_params.get("from")
            start = max(0, len(items) - size) if start_text is None else int(start_text)
        except ValueError:
            return JSONResponse({"error": "from and max are integers"}, status_code=400)
        page = items[start:start + size]
        return JSONResponse({"items": page, "next": start + len(page)})

    async def say(request: Request) -> JSONResponse:
        user = user_of(request)
        if user is None:
            return JSONResponse({"error": "bad key"}, status_code=401)
        body = await request.json()
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            return JSONResponse({"error": "text required"}, status_code=400)
        item = {"uid": "m-" + secrets.token_hex(8), "text": text, "by": user, "at": _now_iso()}
        with lock:
            said[0] += 1
            if not (lose_every and said[0] % lose_every == 0):
                rooms.setdefault(request.path_params["room"], []).append(item)
        return JSONResponse({"ok": True, "uid": item["uid"]})

    return Starlette(routes=[
        Route("/signup", signup, methods=["POST"]),
        Route("/rooms/{room}/feed", feed, methods=["GET"]),
        Route("/rooms/{room}/say", say, methods=["POST"]),
    ])


def lossy_app() -> Starlette:
    """``uvicorn --factory ...offset_chat:lossy_app``: drops every 4th acknowledged message."""
    return create_app(lose_every=4)


app = create_app()
